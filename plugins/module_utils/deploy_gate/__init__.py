# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy gate: strict schemas (schema), policies (policy), their shared types (common), and the entry points
the module, bin/nl2api-gate and the tests call (gate)."""
