# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credential rotation for nl2api.deploy.credential_rotation.

engine (the resumable state machine, Credential, CREDENTIAL_FIELDS), consumers (what is delivered; the file type),
urls (URL templates of url_keys), kubernetes (Secret consumer, rollouts, KEDA refresh), postgres and redis
(backends), aws (ElastiCache, Secrets Manager), azure (Azure Cache for Redis, Key Vault) and azure_rest (their
REST client).
"""
