# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm release history and the rollback decision of nl2api.deploy.helm_rollback, as pure functions.

* :func:`parse_history` reads ``helm history RELEASE -o json`` into :class:`Revision` objects.
* :func:`revision_content` digests what a revision deploys (chart, app version, user-supplied values, manifest), from
  ``helm get values --revision N -o json`` and ``helm get manifest --revision N``; no value or manifest text is kept.
* :func:`decide` chooses the revision a rollback goes to, or tells why the rollback is a no-op or is refused.
* :func:`simulate_rollback` applies what ``helm rollback`` does to a history (the model the unit tests check the
  decision against: deciding again on its result is a no-op).
* ``*_argv`` build the helm command lines (lists, never a shell string).

The idempotency rule. Helm's own ``helm rollback RELEASE`` goes to revision ``current - 1`` whatever its status,
and ``helm rollback RELEASE N`` always writes a new revision: neither is idempotent. ``helm rollback`` stores a new
revision whose chart, values and manifest are copied from the target and whose description is ``Rollback to N``
(helm's pkg/action/rollback.go). So:

* *current* is the newest revision (helm's ``Releases.Last``), whatever its status.
* A revision is *successful* when its status is ``deployed`` or ``superseded`` and its description is not one of
  helm's failure messages (``Upgrade "x" failed: ...``, ``Release "x" failed: ...``, ``Rollback "x" failed: ...``).
* Without a revision (roll back to the previous one): when current is ``deployed`` and its description is
  ``Rollback to K``, the release has already been rolled back: no-op. Otherwise the target is the newest successful
  revision older than current whose content (chart, app version, values, manifest) differs from current's; when
  current is not ``deployed`` (a failed upgrade, a failed rollback) it is the newest successful older revision, and
  a failed rollback is retried towards the revision whose content it carries.
* With a revision N: no-op when current is ``deployed`` and is N, or is ``Rollback to N``, or has N's content.
  Otherwise N must exist and be successful.
* Refused, with a message naming the release and what is missing: no history (the release does not exist), a
  current revision that is ``pending-*`` (another operation runs or was interrupted) or uninstalled, no earlier
  successful revision with other content, a revision N that does not exist or never deployed successfully. ``force``
  lifts the refusals about statuses, never the ones about missing revisions.

Standard library only; option names in messages are those of the helm_rollback module.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

# --------------------------------------------------------------------------------------------------------------
# Helm release statuses (helm.sh/helm/v3/pkg/release/status.go)

STATUS_UNKNOWN = "unknown"
STATUS_DEPLOYED = "deployed"
STATUS_UNINSTALLED = "uninstalled"
STATUS_SUPERSEDED = "superseded"
STATUS_FAILED = "failed"
STATUS_UNINSTALLING = "uninstalling"
STATUS_PENDING_INSTALL = "pending-install"
STATUS_PENDING_UPGRADE = "pending-upgrade"
STATUS_PENDING_ROLLBACK = "pending-rollback"

SUCCESSFUL_STATUSES = frozenset((STATUS_DEPLOYED, STATUS_SUPERSEDED))
PENDING_STATUSES = frozenset((STATUS_PENDING_INSTALL, STATUS_PENDING_UPGRADE, STATUS_PENDING_ROLLBACK))
UNINSTALLED_STATUSES = frozenset((STATUS_UNINSTALLED, STATUS_UNINSTALLING))
ALL_STATUSES = (
    STATUS_UNKNOWN, STATUS_DEPLOYED, STATUS_UNINSTALLED, STATUS_SUPERSEDED, STATUS_FAILED, STATUS_UNINSTALLING,
    STATUS_PENDING_INSTALL, STATUS_PENDING_UPGRADE, STATUS_PENDING_ROLLBACK,
)

ACTION_ROLLBACK = "rollback"
ACTION_NOOP = "noop"
ACTION_REFUSE = "refuse"

#: What helm writes as the description of the revision a rollback creates.
_ROLLBACK_TO = re.compile(r"^Rollback to (\d+)\s*$")
#: Helm's failure descriptions: upgrade (``Upgrade "x" failed: ...``), install and waits (``Release "x" failed: ...``),
#: rollback (``Rollback "x" failed: ...``).
_FAILURE = re.compile(r'^(?:Upgrade|Release|Rollback|Install) ".*" failed', re.DOTALL)
#: A failed rollback: helm overwrites the ``Rollback to N`` description with one of these.
_FAILED_ROLLBACK = re.compile(r'^(?:Rollback|Release) ".*" failed', re.DOTALL)
#: Go duration as helm's --timeout takes it (``300s``, ``5m``, ``1h30m``, ``1m30.5s``).
_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
#: Release names helm accepts (chartutil.ValidateReleaseName: DNS-1123 subdomain-like, at most 53 characters).
_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_RELEASE_NAME = 53

_KIND = re.compile(r"^kind:\s*[\"']?([A-Za-z0-9]+)[\"']?\s*$", re.MULTILINE)
_METADATA_BLOCK = re.compile(r"^metadata:\s*\n((?:[ \t]+.*\n?|\s*\n)*)", re.MULTILINE)
_NAME = re.compile(r"^(\s+)name:\s*[\"']?([^\"'\s#]+)[\"']?\s*$", re.MULTILINE)
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


class HistoryError(ValueError):
    """``helm history`` output that is not what helm prints."""


# --------------------------------------------------------------------------------------------------------------
# History


@dataclass(frozen=True)
class Revision:
    """One entry of ``helm history -o json``."""

    number: int
    status: str
    chart: str = ""
    app_version: str = ""
    description: str = ""
    updated: str = ""

    @property
    def rollback_to(self) -> Optional[int]:
        """N when helm wrote this revision as ``Rollback to N``, else None."""
        match = _ROLLBACK_TO.match(self.description or "")
        return int(match.group(1)) if match else None

    @property
    def failure_described(self) -> bool:
        """The description is one of helm's failure messages."""
        return bool(_FAILURE.match(self.description or ""))

    @property
    def successful(self) -> bool:
        """Deployed successfully at some point: ``deployed`` or ``superseded``, and not described as a failure.

        Helm marks the current revision ``superseded`` when a rollback from it fails, so a failed upgrade can become
        ``superseded``; its description still tells."""
        return self.status in SUCCESSFUL_STATUSES and not self.failure_described

    @property
    def failed_rollback(self) -> bool:
        """A rollback that did not complete: ``failed`` with helm's rollback failure description (or its wait failure
        description on a revision after the first), or ``pending-rollback``."""
        if self.status == STATUS_PENDING_ROLLBACK:
            return True
        if self.status != STATUS_FAILED:
            return False
        match = _FAILED_ROLLBACK.match(self.description or "")
        return bool(match) and (self.description.startswith("Rollback ") or self.number > 1)

    def label(self) -> str:
        """``revision 7 (deployed, nl2api-0.1.0, app 1.0.0)``."""
        parts = [self.status or STATUS_UNKNOWN]
        if self.chart:
            parts.append(self.chart)
        if self.app_version:
            parts.append("app %s" % self.app_version)
        return "revision %d (%s)" % (self.number, ", ".join(parts))

    def to_dict(self) -> Dict[str, Any]:
        """The entry as the module returns it (helm's JSON field names)."""
        return {
            "revision": self.number,
            "status": self.status,
            "chart": self.chart,
            "app_version": self.app_version,
            "description": self.description,
            "updated": self.updated,
        }


def parse_history(text: Any) -> List[Revision]:
    """Parse ``helm history -o json`` (text, or the already decoded list) into revisions, oldest first.

    ``null`` or an empty list is an empty history. Raises :class:`HistoryError` on anything helm does not print:
    invalid JSON, entries without an integer ``revision``, duplicate revisions."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    if isinstance(text, str):
        stripped = text.strip()
        if not stripped:
            return []
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise HistoryError("helm history did not print JSON: %s" % exc) from exc
    else:
        data = text
    if data is None:
        return []
    if not isinstance(data, list):
        raise HistoryError("helm history printed a %s, expected a list of revisions" % type(data).__name__)
    revisions: Dict[int, Revision] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, Mapping):
            raise HistoryError("helm history entry %d is a %s, expected an object" % (index, type(entry).__name__))
        number = entry.get("revision")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise HistoryError("helm history entry %d has no positive integer revision: %r" % (index, number))
        if number in revisions:
            raise HistoryError("helm history lists revision %d twice" % number)
        revisions[number] = Revision(
            number=number,
            status=str(entry.get("status") or STATUS_UNKNOWN).strip().lower(),
            chart=str(entry.get("chart") or ""),
            app_version=str(entry.get("app_version") or ""),
            description=str(entry.get("description") or ""),
            updated=str(entry.get("updated") or ""),
        )
    return [revisions[number] for number in sorted(revisions)]


def current_revision(history: Sequence[Revision]) -> Optional[Revision]:
    """The newest revision, the one ``helm rollback`` starts from (helm's ``Releases.Last``); None when empty."""
    return max(history, key=lambda revision: revision.number) if history else None


def find_revision(history: Sequence[Revision], number: int) -> Optional[Revision]:
    """The revision with that number, or None."""
    for revision in history:
        if revision.number == number:
            return revision
    return None


def trim_history(history: Sequence[Revision], limit: int) -> List[Dict[str, Any]]:
    """The newest ``limit`` revisions, oldest first, as dicts (all of them when limit is 0)."""
    ordered = sorted(history, key=lambda revision: revision.number)
    if limit > 0:
        ordered = ordered[-limit:]
    return [revision.to_dict() for revision in ordered]


def summarize_history(history: Sequence[Revision], limit: int = 6) -> str:
    """``1 superseded, 2 failed, 3 deployed`` for messages (the newest ``limit`` revisions)."""
    ordered = sorted(history, key=lambda revision: revision.number)
    shown = ["%d %s" % (revision.number, revision.status) for revision in ordered[-limit:]]
    if len(ordered) > limit:
        shown.insert(0, "...")
    return ", ".join(shown) if shown else "empty"


# --------------------------------------------------------------------------------------------------------------
# Content of a revision


@dataclass(frozen=True)
class RevisionContent:
    """What a revision deploys, as digests: never the values or the manifest (both may hold secrets)."""

    chart: str
    app_version: str
    values_sha256: str
    manifest_sha256: str
    #: (``Kind/name``, sha256 of that object's manifest document), sorted.
    objects: Tuple[Tuple[str, str], ...] = ()

    def same_as(self, other: "RevisionContent") -> bool:
        """Same chart, app version, user-supplied values and rendered manifest."""
        return (
            self.chart == other.chart
            and self.app_version == other.app_version
            and self.values_sha256 == other.values_sha256
            and self.manifest_sha256 == other.manifest_sha256
        )

    def summary(self) -> Dict[str, Any]:
        """The digests as a dict (for the module's diff)."""
        return {
            "chart": self.chart,
            "app_version": self.app_version,
            "values_sha256": self.values_sha256,
            "manifest_sha256": self.manifest_sha256,
            "objects": dict(self.objects),
        }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_values(text: Any) -> Any:
    """Decode ``helm get values -o json`` (``null`` when no value was supplied, which is the same as ``{}``)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    if isinstance(text, str):
        stripped = text.strip()
        if not stripped:
            return {}
        try:
            value = json.loads(stripped)
        except ValueError as exc:
            raise HistoryError("helm get values did not print JSON: %s" % exc) from exc
    else:
        value = text
    return {} if value is None else value


def values_digest(values: Any) -> str:
    """sha256 of the values in canonical JSON (sorted keys, no whitespace); ``None`` counts as ``{}``."""
    canonical = json.dumps({} if values is None else values, sort_keys=True, separators=(",", ":"), default=str)
    return _sha256(canonical)


def split_manifest(manifest: str) -> List[str]:
    """The YAML documents of a rendered manifest, stripped, without empty ones and comment-only ones."""
    documents = []
    for document in _DOCUMENT_SEPARATOR.split(manifest or ""):
        stripped = document.strip()
        meaningful = [line for line in stripped.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if meaningful:
            documents.append(stripped)
    return documents


def object_key(document: str) -> str:
    """``Kind/name`` of one manifest document (``?`` for what cannot be read: the digest still counts)."""
    kind_match = _KIND.search(document)
    kind = kind_match.group(1) if kind_match else "?"
    name = "?"
    metadata = _METADATA_BLOCK.search(document + "\n")
    if metadata:
        indents = list(_NAME.finditer(metadata.group(1)))
        if indents:
            shallowest = min(len(match.group(1).expandtabs()) for match in indents)
            for match in indents:
                if len(match.group(1).expandtabs()) == shallowest:
                    name = match.group(2)
                    break
    return "%s/%s" % (kind, name)


def manifest_objects(manifest: str) -> Tuple[Tuple[str, str], ...]:
    """(``Kind/name``, sha256) of every document; a repeated key gets ``#2``, ``#3`` appended."""
    seen: Dict[str, int] = {}
    objects = []
    for document in split_manifest(manifest):
        key = object_key(document)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = "%s#%d" % (key, seen[key])
        objects.append((key, _sha256(document)))
    return tuple(sorted(objects))


def revision_content(chart: str, app_version: str, values: Any, manifest: str) -> RevisionContent:
    """Digest a revision: its chart and app version (from the history), values and manifest (from ``helm get``).

    The manifest digest is over the documents, so blank lines and separators between them do not count."""
    documents = split_manifest(manifest)
    return RevisionContent(
        chart=chart or "",
        app_version=app_version or "",
        values_sha256=values_digest(values),
        manifest_sha256=_sha256("\n---\n".join(documents)),
        objects=manifest_objects(manifest),
    )


def object_changes(before: RevisionContent, after: RevisionContent) -> Dict[str, List[str]]:
    """Objects a rollback from ``before`` to ``after`` adds, removes and changes (``Kind/name``, sorted)."""
    old = dict(before.objects)
    new = dict(after.objects)
    return {
        "added": sorted(key for key in new if key not in old),
        "removed": sorted(key for key in old if key not in new),
        "changed": sorted(key for key in new if key in old and new[key] != old[key]),
    }


# --------------------------------------------------------------------------------------------------------------
# The decision

ContentLookup = Callable[[Revision], RevisionContent]


@dataclass(frozen=True)
class Decision:
    """What the module does: roll back to ``target``, nothing (``noop``), or refuse (``refuse``), and why."""

    action: str
    reason: str
    current: Optional[Revision] = None
    target: Optional[Revision] = None

    @property
    def changed(self) -> bool:
        return self.action == ACTION_ROLLBACK


def _successful_before(history: Sequence[Revision], number: int) -> List[Revision]:
    """Successful revisions older than ``number``, newest first."""
    return sorted((r for r in history if r.number < number and r.successful), key=lambda r: r.number, reverse=True)


def _list_successful(history: Sequence[Revision], below: int) -> str:
    candidates = _successful_before(history, below)
    return ", ".join(str(revision.number) for revision in candidates[:8]) or "none"


def decide(
    history: Sequence[Revision],
    content_of: ContentLookup,
    revision: Optional[int] = None,
    force: bool = False,
    release: str = "the release",
) -> Decision:
    """Choose what a rollback of ``release`` does (see the module docstring for the rule).

    :param history: the release's revisions (any order).
    :param content_of: returns the :class:`RevisionContent` of a revision of the history; called only when content
        must be compared, newest candidates first, so a caller that fetches lazily runs few ``helm get`` commands.
    :param revision: the requested revision, or None (or 0) for "the previous one".
    :param force: roll back even when current is ``pending-*``/uninstalled or the requested revision never deployed
        successfully.
    :param release: how messages name the release, e.g. ``release nl2api in namespace nl2api``.
    """
    current = current_revision(history)
    if current is None:
        return Decision(ACTION_REFUSE, "%s not found: it has no revision to roll back to" % release)
    if revision is not None and revision < 0:
        return Decision(ACTION_REFUSE, "revision must be 1 or more (or unset for the previous revision), got %d" % revision,
                        current=current)
    requested = revision or None

    if current.status in PENDING_STATUSES and not force:
        return Decision(
            ACTION_REFUSE,
            "%s: %s is %s, so another Helm operation is running or was interrupted (%s). Wait for it to end; if none "
            "runs, roll back over it with force=true"
            % (release, current.label(), current.status, current.description or "no description"),
            current=current,
        )
    if current.status in UNINSTALLED_STATUSES and not force:
        return Decision(
            ACTION_REFUSE,
            "%s: %s is %s (helm uninstall --keep-history). Install it again (site.yml), or restore a revision with "
            "revision=N and force=true" % (release, current.label(), current.status),
            current=current,
        )

    live = current.status == STATUS_DEPLOYED and current.successful

    if requested is not None:
        return _decide_explicit(history, content_of, current, requested, force, release, live)
    return _decide_previous(history, content_of, current, release, live)


def _decide_explicit(
    history: Sequence[Revision],
    content_of: ContentLookup,
    current: Revision,
    requested: int,
    force: bool,
    release: str,
    live: bool,
) -> Decision:
    # Intent first: the target may have been pruned (--history-max) by the rollback that reached it.
    if live and current.number == requested:
        return Decision(ACTION_NOOP, "%s is already at revision %d (%s)" % (release, requested, current.status),
                        current=current, target=current)
    if live and current.rollback_to == requested:
        return Decision(
            ACTION_NOOP,
            "%s is already rolled back to revision %d: revision %d is 'Rollback to %d'" % (
                release, requested, current.number, requested),
            current=current, target=find_revision(history, requested),
        )
    target = find_revision(history, requested)
    if target is None:
        numbers = sorted(r.number for r in history)
        return Decision(
            ACTION_REFUSE,
            "%s has no revision %d: its history holds revisions %d to %d (helm keeps at most --history-max "
            "revisions and prunes older ones). Successful revisions: %s" % (
                release, requested, numbers[0], numbers[-1], _list_successful(history, current.number)),
            current=current,
        )
    if not target.successful and not force:
        return Decision(
            ACTION_REFUSE,
            "%s: revision %d never deployed successfully (%s: %s). Roll back to a revision that did (%s), or set "
            "force=true" % (release, requested, target.status, target.description or "no description",
                            _list_successful(history, current.number)),
            current=current,
        )
    if live and content_of(current).same_as(content_of(target)):
        return Decision(
            ACTION_NOOP,
            "%s is already at the content of revision %d: revision %d has the same chart, app version, values and "
            "manifest" % (release, requested, current.number),
            current=current, target=target,
        )
    return Decision(
        ACTION_ROLLBACK,
        "%s: roll back from %s to %s" % (release, current.label(), target.label()),
        current=current, target=target,
    )


def _decide_previous(
    history: Sequence[Revision],
    content_of: ContentLookup,
    current: Revision,
    release: str,
    live: bool,
) -> Decision:
    if live and current.rollback_to is not None:
        return Decision(
            ACTION_NOOP,
            "%s is already rolled back: revision %d is 'Rollback to %d'. Running the rollback again does not roll "
            "back twice; to go further back, name the revision (revision=N)" % (
                release, current.number, current.rollback_to),
            current=current, target=find_revision(history, current.rollback_to),
        )
    candidates = _successful_before(history, current.number)
    if not candidates:
        return Decision(
            ACTION_REFUSE,
            "%s has no earlier successfully deployed revision to roll back to: current is %s (history: %s)" % (
                release, current.label(), summarize_history(history)),
            current=current,
        )
    if not live:
        # A rollback that failed (or was interrupted) goes on towards the revision it was rolling back to: helm
        # copies the target's content into the rollback revision, and keeps the intent in a pending one.
        if current.failed_rollback:
            intended = find_revision(history, current.rollback_to) if current.rollback_to else None
            if intended is not None and intended in candidates:
                return _rollback(release, current, intended, "retrying the interrupted rollback")
            mine = content_of(current)
            for candidate in candidates:
                if content_of(candidate).same_as(mine):
                    return _rollback(release, current, candidate, "retrying the failed rollback")
        return _rollback(release, current, candidates[0], "the newest successful revision before it")
    mine = content_of(current)
    for candidate in candidates:
        if not content_of(candidate).same_as(mine):
            return _rollback(release, current, candidate, "the newest successful revision with other content")
    return Decision(
        ACTION_REFUSE,
        "%s has no earlier successfully deployed revision that differs from %s: revisions %s deploy the same chart, "
        "values and manifest, so there is nothing to roll back to" % (
            release, current.label(), ", ".join(str(c.number) for c in candidates[:8])),
        current=current,
    )


def _rollback(release: str, current: Revision, target: Revision, why: str) -> Decision:
    return Decision(
        ACTION_ROLLBACK,
        "%s: roll back from %s to %s, %s" % (release, current.label(), target.label(), why),
        current=current, target=target,
    )


# --------------------------------------------------------------------------------------------------------------
# What helm rollback does to the history (the model the decision is tested against)


def simulate_rollback(
    history: Sequence[Revision],
    target: int,
    succeeded: bool = True,
    history_max: int = 0,
) -> List[Revision]:
    """The history after ``helm rollback RELEASE target`` (helm 3 pkg/action/rollback.go and pkg/storage).

    A new revision ``current + 1`` with the target's chart and app version, described ``Rollback to target``;
    on success it is ``deployed`` and every ``deployed`` revision becomes ``superseded``; on failure it is
    ``failed`` with helm's failure description. With ``history_max`` > 0, before storing the new revision helm
    deletes the oldest revisions, except the deployed one, until ``history_max - 1`` remain."""
    ordered = sorted(history, key=lambda revision: revision.number)
    current = ordered[-1]
    source = find_revision(ordered, target)
    if source is None:
        raise ValueError("release has no %d version" % target)
    if history_max > 0 and len(ordered) > history_max - 1:
        deployed = [r.number for r in ordered if r.status == STATUS_DEPLOYED]
        keep_deployed = deployed[-1] if deployed else None
        removable = [r for r in ordered if r.number != keep_deployed]
        excess = len(ordered) - (history_max - 1)
        doomed = {r.number for r in removable[:excess]}
        ordered = [r for r in ordered if r.number not in doomed]
    new = Revision(
        number=current.number + 1,
        status=STATUS_DEPLOYED if succeeded else STATUS_FAILED,
        chart=source.chart,
        app_version=source.app_version,
        description=("Rollback to %d" % target) if succeeded else ('Release "nl2api" failed: timed out waiting'),
    )
    if succeeded:
        ordered = [replace(r, status=STATUS_SUPERSEDED) if r.status == STATUS_DEPLOYED else r for r in ordered]
    return ordered + [new]


# --------------------------------------------------------------------------------------------------------------
# Helm command lines


def valid_release_name(name: str) -> bool:
    """Helm's release name rule (lowercase DNS-1123 labels separated by dots, at most 53 characters)."""
    return bool(name) and len(name) <= _MAX_RELEASE_NAME and bool(_RELEASE_NAME.match(name))


def valid_duration(value: str) -> bool:
    """A Go duration as helm's ``--timeout`` parses it (``300s``, ``5m``, ``1h30m``)."""
    return bool(_GO_DURATION.match(value or ""))


def connection_args(
    namespace: str,
    kubeconfig: Optional[str] = None,
    context: Optional[str] = None,
    host: Optional[str] = None,
    ca_cert: Optional[str] = None,
    validate_certs: bool = True,
) -> List[str]:
    """Global helm flags for the cluster and namespace. The API token is not a flag (it would show in ``ps``):
    the module passes it in ``HELM_KUBETOKEN``."""
    args = ["--namespace", namespace]
    if kubeconfig:
        args += ["--kubeconfig", kubeconfig]
    if context:
        args += ["--kube-context", context]
    if host:
        args += ["--kube-apiserver", host]
    if ca_cert:
        args += ["--kube-ca-file", ca_cert]
    if not validate_certs:
        args.append("--kube-insecure-skip-tls-verify")
    return args


def history_argv(helm: str, release: str, connection: Sequence[str]) -> List[str]:
    return [helm, "history", release, "--output", "json"] + list(connection)


def values_argv(helm: str, release: str, revision: int, connection: Sequence[str]) -> List[str]:
    return [helm, "get", "values", release, "--revision", str(revision), "--output", "json"] + list(connection)


def manifest_argv(helm: str, release: str, revision: int, connection: Sequence[str]) -> List[str]:
    return [helm, "get", "manifest", release, "--revision", str(revision)] + list(connection)


def rollback_argv(
    helm: str,
    release: str,
    revision: int,
    connection: Sequence[str],
    wait: bool = True,
    wait_timeout: Optional[str] = None,
    history_max: Optional[int] = None,
    cleanup_on_fail: bool = False,
    disable_hook: bool = False,
) -> List[str]:
    """``helm rollback RELEASE N`` with an explicit revision, always (helm's own default, current - 1, is not what
    the decision chose)."""
    if revision < 1:
        raise ValueError("rollback needs an explicit revision >= 1, got %d" % revision)
    argv = [helm, "rollback", release, str(revision)] + list(connection)
    if wait:
        argv.append("--wait")
    if wait_timeout:
        argv += ["--timeout", wait_timeout]
    if history_max is not None:
        argv += ["--history-max", str(history_max)]
    if cleanup_on_fail:
        argv.append("--cleanup-on-fail")
    if disable_hook:
        argv.append("--no-hooks")
    return argv


#: Fields of a kubeconfig whose values are credentials (kept out of every log and result).
_KUBECONFIG_SECRET_KEYS = frozenset((
    "token", "password", "client-key-data", "client-certificate-data", "id-token", "refresh-token", "access-token",
    "client-secret",
))


def kubeconfig_secrets(kubeconfig: Any) -> List[str]:
    """Every credential value in a kubeconfig given as a dict (tokens, passwords, key data), to add to no_log."""
    found: List[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in _KUBECONFIG_SECRET_KEYS and isinstance(value, str) and value:
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(kubeconfig)
    return found


def unreachable_hint(stderr: str) -> str:
    """A hint for the usual reasons helm cannot reach the cluster, '' when the error is something else."""
    text = stderr or ""
    if "Kubernetes cluster unreachable" in text or "connection refused" in text or "no such host" in text:
        return ("the Kubernetes API server is unreachable: check kubeconfig/context (or K8S_AUTH_KUBECONFIG / "
                "K8S_AUTH_CONTEXT) and that the cluster is running")
    if "Unauthorized" in text or "forbidden" in text.lower():
        return "the credentials of the kubeconfig are not allowed to read the release (Secrets in its namespace)"
    return ""


def release_not_found(stderr: str) -> bool:
    """``helm history`` says the release does not exist."""
    return "release: not found" in (stderr or "")
