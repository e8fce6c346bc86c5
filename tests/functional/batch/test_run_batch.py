"""playbooks/run_batch.yml end to end against the stand-ins: the fake helm records what the role asks of helm, the
Kubernetes stand-in plays the producer Job (kube_standin.ProducerScript). What a real cluster adds - helm applying
the chart, the Job controller, KEDA scaling the workers on the stream - is not exercised here."""

from __future__ import annotations

import json
import re

from .conftest import NAMESPACE, PINNED_TAG, PLATFORM_RELEASE
from .kube_standin import ProducerScript

BATCH_ID = "3f2b8c1e-9d4a-4e7b-a1c2-5d6e7f8a9b0c"
RELEASE = "nl2api-batch-baseline"
LABEL = ["-e", "batch_label=Baseline", "-e", '{"batch_tags": ["smoke", "lookup"]}', "-e", "batch_mode=routing"]
REDIS_PASSWORD = "S3cret-redis-pw"
DATABASE_PASSWORD = "hunter2-db-pw"
REDIS_LINE = "Distributed mode enabled\n  Workers: 0\n  Redis: redis://nl2api:%s@nl2api-redis:6379/0\n\n" % REDIS_PASSWORD
ANNOUNCEMENT = "Created batch: \x1b[36m%s\x1b[0m\n\nEnqueuing tasks...\nEnqueued 3 tasks\n\nStarted 0 workers\n" % BATCH_ID


def final_log(passed: int, failed: int) -> str:
    return "Batch Complete: %s\n  Total: 3\n  Passed: %d\n  Failed: %d\n  Duration: 4.2s\n" % (BATCH_ID, passed, failed)


def one_line(text: str) -> str:
    return " ".join(text.replace("'", "").split())


def summary(run) -> str:
    match = re.search(r"TASK \[nl2api\.deploy\.batch : Summarize the batch\].*?msg: (.*?)\n\n", run.stdout, re.S)
    assert match, run.output[-4000:]
    return one_line(match.group(1))


def test_a_passing_batch_gets_workers_for_its_id_and_is_removed(batch_cluster):
    # The producer is Pending once, names the batch on the second read of its log, and finishes once the workers for
    # that batch were started: each wait of the role has to wait.
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [REDIS_LINE + "Found 3 test cases\n", ANNOUNCEMENT],
                                         final_log(3, 0), exit_code=0, pending_reads=1, reads_until_done=1))
    run = batch.run(*LABEL)
    assert run.rc == 0, run.output[-5000:]
    assert batch.helm.changes() == [("upgrade", RELEASE, NAMESPACE), ("upgrade", RELEASE, NAMESPACE),
                                    ("uninstall", RELEASE, NAMESPACE)]
    producer, workers = batch.helm.upgrade_values()
    assert producer["batch"] == {"enabled": True, "platformRelease": PLATFORM_RELEASE, "producer": {
        "pack": "nl2api", "label": "Baseline", "tags": ["smoke", "lookup"], "mode": "routing", "timeoutSeconds": 3600}}
    assert "batchId" not in producer["worker"], "no worker may start before the batch exists"
    # The platform's image values (roles/app) reach the batch release.
    assert producer["image"]["tag"] == workers["image"]["tag"] == PINNED_TAG
    assert workers["worker"] == {**producer["worker"], "batchId": BATCH_ID} and workers["batch"] == producer["batch"]
    # What the chart made of them (real `helm template`): the producer alone, then the same Job plus the workers.
    first, second = batch.helm.upgrade_manifests()
    job = "Job/%s-producer" % RELEASE
    assert not [name for name in first if name.startswith(("Deployment/", "ScaledObject/"))], sorted(first)
    assert first[job] == second[job], "the running producer Job must not change when the workers are added"
    producer_args = first[job]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert " ".join(producer_args).startswith("batch run --pack nl2api --label Baseline --tag smoke --tag lookup "
                                              "--mode routing --distributed --workers 0 --redis-url")
    worker_env = {env["name"]: env.get("value") for env in
                  second["Deployment/%s-worker" % RELEASE]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert worker_env["EVAL_BATCH_ID"] == BATCH_ID and worker_env["EVAL_MODE"] == "routing"
    assert RELEASE not in batch.helm.state()["releases"] and PLATFORM_RELEASE in batch.helm.state()["releases"]
    assert "--wait" in batch.helm.calls("uninstall")[0], "a rerun must not find the release still going"
    assert summary(run) == ("batch %s (Baseline, tags smoke, lookup, mode routing): 3 tasks; passed 3, failed 0, "
                            "in the dead-letter queue 0; exit 0: every test case passed" % BATCH_ID)
    assert REDIS_PASSWORD not in run.output
    assert not [r for r in batch.cluster.requests if not r.startswith("GET ")], "the role only reads the API"


def test_a_producer_that_fails_first_is_reported_masked_and_removed(batch_cluster):
    error = "Error: connection to postgresql://nl2api_app:%s@db:5432/nl2api failed\n" % DATABASE_PASSWORD
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [REDIS_LINE + "Found 3 test cases\n" + error], exit_code=2,
                                         ends_on_its_own=True, pending_reads=0))
    run = batch.run(*LABEL)
    assert run.rc == 2, run.output[-5000:]
    assert ("the producer ended before it created a batch: connection to postgresql://nl2api_app:***@db:5432/nl2api "
            "failed") in one_line(run.output)
    assert "redis://nl2api:***@nl2api-redis:6379/0" in run.output
    assert DATABASE_PASSWORD not in run.output and REDIS_PASSWORD not in run.output
    # No workers for a batch that does not exist; the producer's release removed all the same.
    assert batch.helm.changes() == [("upgrade", RELEASE, NAMESPACE), ("uninstall", RELEASE, NAMESPACE)]
    assert summary(run).startswith("batch not created (Baseline, tags smoke, lookup, mode routing)")


def test_a_failed_batch_is_kept_when_asked_and_says_how_it_ended(batch_cluster):
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [ANNOUNCEMENT], final_log(2, 1), exit_code=1,
                                         pending_reads=0, reads_until_done=1))
    run = batch.run(*LABEL, "-e", "batch_keep_on_failure=true")
    assert run.rc == 2, run.output[-5000:]
    output = one_line(run.output)
    assert ("batch %s (Baseline): some test cases failed, or the batch timed out (exit 1)" % BATCH_ID) in output
    assert summary(run).endswith("3 tasks; passed 2, failed 1, in the dead-letter queue 0; exit 1: some test cases "
                                 "failed, or the batch timed out")
    assert batch.helm.changes() == [("upgrade", RELEASE, NAMESPACE), ("upgrade", RELEASE, NAMESPACE)]
    assert RELEASE in batch.helm.state()["releases"]
    assert "helm uninstall %s --namespace %s" % (RELEASE, NAMESPACE) in output


def test_a_second_batch_of_the_same_label_is_refused(batch_cluster):
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [ANNOUNCEMENT], final_log(3, 0)))
    batch.helm.install(RELEASE, status="deployed", values={"worker": {"batchId": BATCH_ID}})
    run = batch.run(*LABEL)
    assert run.rc == 2, run.output[-5000:]
    assert ("a batch release for batch_label=\"Baseline\" already exists: %s in namespace %s (status deployed"
            % (RELEASE, NAMESPACE)) in one_line(run.output).replace("'", "")
    assert batch.helm.changes() == [], "the running batch must be left alone and no second producer started"
    assert batch.cluster.requests == []


def test_a_batch_needs_the_platform_release(batch_cluster):
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [ANNOUNCEMENT], final_log(3, 0)))
    state = batch.helm.state()
    del state["releases"][PLATFORM_RELEASE]
    batch.helm.state_path.write_text(json.dumps(state), encoding="utf-8")
    run = batch.run(*LABEL)
    assert run.rc == 2, run.output[-5000:]
    assert ("the batch uses the Secret, Redis and collector of the platform release nl2api, which is not installed "
            "in namespace nl2api") in one_line(run.output)
    assert batch.helm.changes() == []


def test_check_mode_reads_and_says_what_it_would_do(batch_cluster):
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [ANNOUNCEMENT], final_log(3, 0)))
    run = batch.run(*LABEL, "--check")
    assert run.rc == 0, run.output[-5000:]
    assert ("would install %s in %s (producer Job %s-producer: --label Baseline --tag smoke --tag lookup --mode "
            "routing)" % (RELEASE, NAMESPACE, RELEASE)) in one_line(run.output)
    assert batch.helm.changes() == [] and batch.cluster.requests == []
    assert run.recap()["changed"] == 0


def test_a_producer_that_never_starts_is_reported_and_removed(batch_cluster):
    batch = batch_cluster(ProducerScript(RELEASE, BATCH_ID, [ANNOUNCEMENT], pending_reads=1000))
    run = batch.run(*LABEL, "-e", "batch_start_timeout_seconds=2")
    assert run.rc == 2, run.output[-5000:]
    assert ("the producer pod of Job %s-producer has not started within 2 s (batch_start_timeout_seconds): container "
            "ContainerCreating" % RELEASE) in one_line(run.output)
    assert batch.helm.changes() == [("upgrade", RELEASE, NAMESPACE), ("uninstall", RELEASE, NAMESPACE)]
