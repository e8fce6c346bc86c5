# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.nl2api.deploy.plugins.module_utils.image_refs import reference_problems


def _image_reference_problems(environment, registry="", tag="", digest=""):
    return reference_problems(str(registry or ""), str(tag or ""), str(digest or ""), str(environment))


class FilterModule(object):
    def filters(self):
        return {"image_reference_problems": _image_reference_problems}
