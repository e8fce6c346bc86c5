"""Bad input to playbooks/run_batch.yml fails with the variable named as the operator wrote it, before helm or the
Kubernetes API is asked anything (both stand-ins record every call, and must have none)."""

from __future__ import annotations

import pytest

GOOD_TAGS = '{"batch_tags": ["smoke"]}'

BAD_INPUTS = [
    pytest.param(["-e", GOOD_TAGS], "missing required arguments: batch_label", id="no-label"),
    pytest.param(["-e", "batch_label=baseline", "-e", "batch_tags=smoke,lookup"],
                 "batch_tags must be a non-empty list", id="tags-as-a-string"),
    pytest.param(["-e", "batch_label=baseline", "-e", '{"batch_tags": []}'], "batch_tags must be a non-empty list",
                 id="empty-tags"),
    # The producer refuses simulated: only the workers take it, for tests.
    pytest.param(["-e", "batch_label=baseline", "-e", GOOD_TAGS, "-e", "batch_mode=simulated"],
                 "value of batch_mode must be one of: resolver, orchestrator, routing, tool_only, got: simulated",
                 id="simulated-mode"),
    pytest.param(["-e", "batch_label=" + "x" * 41, "-e", GOOD_TAGS], "shorten\nbatch_label", id="label-too-long"),
    pytest.param(["-e", "batch_label=!!!", "-e", GOOD_TAGS], 'batch_label="!!!" gives the batch release name',
                 id="label-without-letters"),
    pytest.param(["-e", "batch_label=baseline", "-e", GOOD_TAGS, "-e", "batch_timeout_seconds=0"],
                 "batch_timeout_seconds must be a number of seconds greater than 0", id="zero-timeout"),
    pytest.param(["-e", "batch_label=baseline", "-e", GOOD_TAGS, "-e", "batch_helm_timeout=0m"],
                 "batch_helm_timeout must be a duration", id="zero-helm-timeout"),
]


@pytest.mark.parametrize("arguments, message", BAD_INPUTS)
def test_bad_input_is_refused_before_any_call(idle_cluster, arguments, message):
    run = idle_cluster.run(*arguments)
    assert run.rc == 2, run.output[-3000:]
    # Messages are folded at the YAML callback's line width; compare with single spaces.
    assert " ".join(message.split()) in " ".join(run.output.split()), run.output[-3000:]
    assert run.recap()["changed"] == 0
    assert idle_cluster.helm.calls() == [], "helm was run before the input was valid"
    assert idle_cluster.cluster.requests == [], "the Kubernetes API was asked before the input was valid"
