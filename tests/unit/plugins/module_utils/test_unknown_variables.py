# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/unknown_variables.py: which variables of an inventory are typos, and the closest declared name;
against the collection's real argument specs too, so that every role default is declared and a typo of any
declared variable is caught with its own name as the suggestion."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from pathlib import Path

import pytest
import yaml

from ansible_collections.nl2api.deploy.plugins.module_utils.unknown_variables import (
    declared_names,
    prefixes_of,
    referenced_names,
    unknown_variable_problems,
)

ROLES = Path(__file__).resolve().parents[4] / "roles"
SPECS = {path.parent.parent.name: yaml.safe_load(path.read_text(encoding="utf-8"))
         for path in sorted(ROLES.glob("*/meta/argument_specs.yml"))}
DECLARED = declared_names(SPECS.values())
PREFIXES = prefixes_of(SPECS)


def problems(*names, **kwargs):
    return unknown_variable_problems(names, DECLARED, PREFIXES, **kwargs)


def test_declared_names_are_every_option_of_every_entry_point():
    specs = [{"argument_specs": {"main": {"options": {"app_a": {}}}, "render": {"options": {"app_b": {}}},
                                 "empty": {}}},
             {"argument_specs": {"main": {"options": {"batch_c": {}}}}}, {}]
    assert declared_names(specs) == {"app_a", "app_b", "batch_c"}


def test_prefixes_are_the_collections_and_each_roles():
    assert prefixes_of(["app", "cluster", "cluster_addons"]) == ("cluster_addons_", "cluster_", "nl2api_", "app_")


def test_a_typo_names_the_variable_and_the_closest_declared_name():
    assert problems("app_namepsace") == [
        "app_namepsace: no role of nl2api.deploy declares it (did you mean app_namespace?)"]
    assert "did you mean network_az_count?" in problems("network_az_cout")[0]


def test_every_unknown_variable_is_reported_sorted_and_others_pass():
    assert [problem.split(":")[0] for problem in problems(
        "redis_multiaz", "app_namepsace", "app_namespace", "vault_redis_auth_token", "ansible_connection",
        "inventory_hostname")] == ["app_namepsace", "redis_multiaz"]


def test_a_name_far_from_any_declared_one_gets_no_guess():
    assert problems("app_zzzzzzzzzzzzzzzzzzzzzzzzzzzz") == [
        "app_zzzzzzzzzzzzzzzzzzzzzzzzzzzz: no role of nl2api.deploy declares it (no role declares a variable of a "
        "similar name)"]


def test_the_allow_list_takes_names_and_patterns():
    assert problems("app_site_owner", "nl2api_team", "app_namepsace",
                    allowed=["app_site_*", "nl2api_team"]) == [problems("app_namepsace")[0]]


def test_an_inventory_helper_another_variable_refers_to_is_known():
    values = {"nl2api_postgres_image": "postgres:17",
              "app_values": {"postgres": {"image": "{{ nl2api_postgres_image.rsplit(':', 1)[0] }}"}},
              "app_selfish": "{{ app_selfish_base | default(app_selfish) }}",
              "app_plain": "nl2api_mentioned_without_template"}
    referenced = referenced_names(values)
    assert "nl2api_postgres_image" in referenced and "app_selfish_base" in referenced
    assert "app_selfish" not in referenced, "a variable referring only to itself is read by nothing"
    assert "nl2api_mentioned_without_template" not in referenced
    assert [problem.split(":")[0] for problem in problems(*values, referenced=referenced)] == [
        "app_plain", "app_selfish"]


def test_a_vaulted_value_is_not_read():
    class EncryptedString:  # pylint: disable=too-few-public-methods
        def __str__(self):
            raise AssertionError("the vaulted value was read")

    assert referenced_names({"app_x": EncryptedString(), "app_y": ["{{ app_z }}", EncryptedString()]}) == {"app_z"}


@pytest.mark.parametrize("role", sorted(SPECS))
def test_every_role_default_is_declared(role):
    """The defaults are what an inventory overrides; one missing from the argument spec would be refused."""
    defaults = ROLES / role / "defaults" / "main.yml"
    names = set(yaml.safe_load(defaults.read_text(encoding="utf-8")) or {}) if defaults.is_file() else set()
    assert sorted(names - DECLARED) == []


def test_every_declared_name_suggests_itself_when_misspelled():
    """A typo of any declared variable (its last two letters swapped) is refused with that variable suggested,
    unless the typo is itself declared or another name is as close."""
    wrong = []
    for name in sorted(DECLARED):
        if not name.startswith(PREFIXES) or len(name) < 8:
            continue
        typo = name[:-2] + name[-1] + name[-2]
        if typo in DECLARED or typo == name:
            continue
        found = problems(typo)
        if not found or "did you mean" not in found[0]:
            wrong.append((typo, found))
    assert wrong == []
