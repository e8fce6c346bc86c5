# -*- coding: utf-8 -*-
"""module_utils/image_refs.py: the image settings an inventory may deploy, per environment, each problem naming
the variable."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils.image_refs import reference_problems, tag_problem

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize("registry, tag, digest, environment", [
    (ECR, "4dfd549", "", "prod"),
    (ECR, "4dfd549-1.4.2", "", "prod"),
    (ECR, "1.4.2", "", "prod"),
    (ECR, "main", DIGEST, "prod"),
    ("localhost:5000", "main", "", "staging"),
    ("registry.dev.example.invalid/team/nl2api", "feature-x", "", "dev"),
    ("", "", "", "local"),
])
def test_usable_settings(registry, tag, digest, environment) -> None:
    assert reference_problems(registry, tag, digest, environment) == []


@pytest.mark.parametrize("registry, tag, digest, environment, expected", [
    (ECR, "main", "", "prod", "app_image_tag: the image uses the branch-like tag main, which moves"),
    (ECR, "Latest", "", "staging", "app_image_tag: the image uses the latest tag"),
    (ECR, "", "", "staging", "app_image_tag: the image has no tag"),
    ("", "1.4.2", "", "prod", "app_image_registry is required in prod"),
    ("https://ecr.example", "1.4.2", "", "dev", "app_image_registry=https://ecr.example is not a registry host"),
    ("ecr.example/Upper", "1.4.2", "", "dev", "app_image_registry=ecr.example/Upper is not a registry host"),
    (ECR, "bad tag!", "", "dev", "app_image_tag=bad tag! is not a valid tag"),
    (ECR, "", "sha256:xyz", "prod", "app_image_digest=sha256:xyz is not a sha256 digest"),
])
def test_each_problem_names_its_variable(registry, tag, digest, environment, expected) -> None:
    problems = reference_problems(registry, tag, digest, environment)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_the_policy_alone_ignores_local_and_dev() -> None:
    assert tag_problem("latest", None, "dev") is None
    assert tag_problem(None, None, "local") is None
    assert tag_problem("main", None, "staging") is None
    assert "branch-like" in tag_problem("main", None, "prod")
