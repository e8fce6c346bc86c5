"""The filters that read the producer's log (plugins/filter/batch.py), on logs as the real producer writes them:
rich's console output, the supervisor's masked or an unmasked Redis URL, progress-bar redraws, errors."""

from __future__ import annotations


import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.nl2api.deploy.plugins.filter.batch import (
    FilterModule,
    batch_id_from_log,
    batch_log_summary,
    batch_release_name,
    mask_credentials,
)

BATCH = "3f2b8c1e-9d4a-4e7b-a1c2-5d6e7f8a9b0c"
OTHER = "00000000-1111-4222-8333-444455556666"

PRODUCER_LOG = (
    "Distributed mode enabled\n"
    "  Workers: 0\n"
    "  Redis: rediss://nl2api:S3cr%%2Ft-pass@redis.internal:6379/0?ssl_cert_reqs=required\n"
    "  Mode: resolver\n\n"
    "Found 12 test cases\n"
    "Created batch: %s\n\n"
    "Enqueuing tasks...\n"
    "Enqueued 12 tasks\n\n"
    "Started 0 workers\n\n"
    "\rProcessing... 50%%\rProcessing... 100%%\n"
    "Batch Complete: %s\n"
    "  Total: 12\n  Passed: 10\n  Failed: 2\n  In DLQ: 1\n  Duration: 84.2s\n" % (BATCH, BATCH)
)


def test_the_id_is_read_from_the_announcement():
    assert batch_id_from_log(PRODUCER_LOG) == BATCH


@pytest.mark.parametrize("log", [
    "",
    None,
    "Distributed mode enabled\nFound 3 test cases\n",
    "Batch Complete: %s\n" % BATCH,
    "Created batch: 3f2b8c1e-9d4a-4e7b-a1c2\n",
    "Created batch: %s0\n" % BATCH,
], ids=["empty", "none", "not-yet", "completion-is-not-an-announcement", "truncated", "too-long"])
def test_no_id_without_a_whole_announcement(log):
    assert batch_id_from_log(log) == ""


def test_two_announcements_give_the_first():
    assert batch_id_from_log("Created batch: %s\nCreated batch: %s\n" % (BATCH, OTHER)) == BATCH


def test_terminal_colours_and_redraws_are_ignored():
    coloured = "\x1b[2K\rCreated batch: \x1b[36m%s\x1b[0m\n" % BATCH.upper()
    assert batch_id_from_log(coloured) == BATCH
    hyperlinked = "\x1b]8;;https://example.invalid\x1b\\Created batch: %s\x1b]8;;\x1b\\\n" % BATCH
    assert batch_id_from_log(hyperlinked) == BATCH


def test_a_credential_in_a_url_next_to_the_id_does_not_hide_it_and_is_masked():
    log = "Redis: redis://default:%s@redis:6379 Created batch: %s\n" % (OTHER, BATCH)
    assert batch_id_from_log(log) == BATCH
    assert batch_log_summary(log)["tail"] == ["Redis: redis://default:***@redis:6379 Created batch: %s" % BATCH]


def test_the_summary_reads_the_counts_and_masks_the_tail():
    summary = batch_log_summary(PRODUCER_LOG, tail=30)
    assert summary["batch_id"] == BATCH
    assert (summary["test_cases"], summary["enqueued"], summary["total"], summary["passed"], summary["failed"],
            summary["in_dlq"]) == (12, 12, 12, 10, 2, 1)
    assert summary["no_test_cases"] is False and summary["error"] == ""
    assert "Redis: rediss://nl2api:***@redis.internal:6379/0?ssl_cert_reqs=required" in summary["tail"]
    assert "Processing... 100%" in summary["tail"]
    assert not any("S3cr" in line for line in summary["tail"])


def test_the_tail_is_the_last_non_empty_lines():
    assert batch_log_summary(PRODUCER_LOG, tail=2)["tail"] == ["In DLQ: 1", "Duration: 84.2s"]
    assert batch_log_summary(PRODUCER_LOG, tail=0)["tail"] == []


def test_an_error_is_reported_masked():
    log = ("Found 3 test cases\nError: connection to postgresql://nl2api_app:hunter2@db:5432/nl2api?password=x2 "
           "failed: token=abc123 api_key=sk-live-1\n")
    summary = batch_log_summary(log)
    assert summary["batch_id"] == "" and summary["test_cases"] == 3 and summary["enqueued"] is None
    assert summary["error"] == ("connection to postgresql://nl2api_app:***@db:5432/nl2api?password=*** failed: "
                                "token=*** api_key=***")
    assert not any(secret in " ".join(summary["tail"]) for secret in ("hunter2", "x2 ", "abc123", "sk-live-1"))


def test_no_test_cases_is_recognised():
    summary = batch_log_summary("Distributed mode enabled\nNo test cases found matching filters\n")
    assert summary["no_test_cases"] is True and summary["batch_id"] == ""


def test_masking_leaves_urls_without_a_password_alone():
    text = "http://collector:4317 redis://redis:6379/0 postgresql://user@db/nl2api https://host:8443/path"
    assert mask_credentials(text) == text
    assert mask_credentials("redis://:only-password@redis:6379") == "redis://:***@redis:6379"


@pytest.mark.parametrize("label, release", [
    ("baseline", "nl2api-batch-baseline"),
    ("New embedder v2", "nl2api-batch-new-embedder-v2"),
    ("a__b--c", "nl2api-batch-a-b-c"),
    ("-x-", "nl2api-batch-x"),
    ("!!!", "nl2api-batch-"),
])
def test_release_name_from_label(label, release):
    assert batch_release_name(label, "nl2api") == release


def test_non_text_input_is_an_error_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match="batch_id_from_log expects the log as a string"):
        batch_id_from_log(["Created batch: %s" % BATCH])
    with pytest.raises(AnsibleFilterError, match="tail must be a number"):
        batch_log_summary("", tail="all")


def test_the_filters_are_exported_under_their_names():
    assert set(FilterModule().filters()) == {"batch_id_from_log", "batch_log_summary", "batch_release_name",
                                             "mask_credentials"}
