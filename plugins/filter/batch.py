# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that read the evaluation batch producer's log, for roles/batch.

The producer (`python -m src.evalkit.cli batch run --distributed`) creates the batch id itself and says it only in
its output (`Created batch: <uuid>`), so the log is the one place the id can be read from. Documentation of each
filter: the YAML file of the same name next to this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

# CSI sequences (colours, cursor moves of a progress bar), OSC sequences (hyperlinks, titles) and lone escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CREATED = re.compile(r"Created batch:\s*(" + _UUID + r")(?![0-9a-fA-F-])")
# scheme://user:password@ -> scheme://user:***@ (the user may be empty: redis://:password@host).
_URL_PASSWORD = re.compile(r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<password>[^@\s/]+)@")
# password=... in a query string or a key=value log line.
_PARAM_SECRET = re.compile(r"(?i)(?P<key>\b(?:password|passwd|pwd|token|secret|api[_-]?key)=)(?P<value>[^&\s\"']+)")

_COUNTS = {
    "test_cases": re.compile(r"^Found\s+(\d+)\s+test cases\b"),
    "enqueued": re.compile(r"^Enqueued\s+(\d+)\s+tasks\b"),
    "total": re.compile(r"^Total:\s*(\d+)\s*$"),
    "passed": re.compile(r"^Passed:\s*(\d+)\s*$"),
    "failed": re.compile(r"^Failed:\s*(\d+)\s*$"),
    "in_dlq": re.compile(r"^In DLQ:\s*(\d+)\s*$"),
}
_NO_TEST_CASES = re.compile(r"^No test cases found matching filters\b")
_ERROR = re.compile(r"^Error:\s*(.+)$")


def _text(value, filter_name):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnsibleFilterError("%s expects the log as a string, got %s" % (filter_name, type(value).__name__))
    return value


def _clean_lines(log):
    """The log's lines without terminal escapes; a carriage return keeps only what was drawn last on the line."""
    lines = []
    for raw in _ANSI.sub("", log).split("\n"):
        lines.append(raw.rstrip("\r").rsplit("\r", 1)[-1].strip())
    return lines


def mask_credentials(text):
    """`text` with the passwords of URLs and of password=/token=/api_key= parameters replaced by ***."""
    masked = _URL_PASSWORD.sub(lambda match: match.group("prefix") + ":***@", text)
    return _PARAM_SECRET.sub(lambda match: match.group("key") + "***", masked)


def batch_id_from_log(log):
    """The first batch id the producer announced (`Created batch: <uuid>`), lower-case; '' when there is none."""
    for line in _clean_lines(_text(log, "batch_id_from_log")):
        match = _CREATED.search(line)
        if match:
            return match.group(1).lower()
    return ""


def batch_log_summary(log, tail=20):
    """What the producer's log says: the batch id, its counts, an error line, and its last lines masked."""
    try:
        tail = int(tail)
    except (TypeError, ValueError):
        raise AnsibleFilterError("batch_log_summary: tail must be a number of lines, got %r" % (tail,))
    lines = _clean_lines(_text(log, "batch_log_summary"))
    summary = {"batch_id": batch_id_from_log(log), "no_test_cases": False, "error": ""}
    summary.update((key, None) for key in _COUNTS)
    for line in lines:
        for key, pattern in _COUNTS.items():
            match = pattern.match(line)
            if match and summary[key] is None:
                summary[key] = int(match.group(1))
        if _NO_TEST_CASES.match(line):
            summary["no_test_cases"] = True
        error = _ERROR.match(line)
        if error:
            summary["error"] = mask_credentials(error.group(1))
    shown = [line for line in lines if line]
    summary["tail"] = [mask_credentials(line) for line in (shown[-tail:] if tail > 0 else [])]
    return summary


def batch_release_name(label, platform_release):
    """`<platform_release>-batch-<label>`, the label lower-cased and every run of other characters made one '-'.

    The caller checks the result is a valid Helm release name: a label without letters or digits, or a long one,
    gives a name that is not, and the error should name the label."""
    label = _text(label, "batch_release_name")
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return "%s-batch-%s" % (platform_release, slug)


class FilterModule(object):
    def filters(self):
        return {
            "batch_id_from_log": batch_id_from_log,
            "batch_log_summary": batch_log_summary,
            "batch_release_name": batch_release_name,
            "mask_credentials": mask_credentials,
        }
