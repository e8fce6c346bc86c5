# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""helm_release: history parsing, content digests, helm argv, and the rollback decision.

The decision is checked against ReleaseModel, an independent re-implementation of what helm 3 does to a release's
history (pkg/action/install.go, upgrade.go with and without --atomic, rollback.go, pkg/storage history pruning), so
the properties hold for the histories helm actually produces: deciding again after the rollback a decision chose is
a no-op; a failed rollback is retried towards the same content; the current revision and revisions that never
deployed are never chosen.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.nl2api.deploy.plugins.module_utils.helm_release import (
    ACTION_NOOP,
    ACTION_REFUSE,
    ACTION_ROLLBACK,
    ALL_STATUSES,
    STATUS_DEPLOYED,
    STATUS_FAILED,
    STATUS_PENDING_ROLLBACK,
    STATUS_PENDING_UPGRADE,
    STATUS_SUPERSEDED,
    STATUS_UNINSTALLED,
    HistoryError,
    Revision,
    connection_args,
    current_revision,
    decide,
    history_argv,
    kubeconfig_secrets,
    manifest_argv,
    manifest_objects,
    object_changes,
    object_key,
    parse_history,
    parse_values,
    release_not_found,
    revision_content,
    rollback_argv,
    simulate_rollback,
    split_manifest,
    summarize_history,
    trim_history,
    unreachable_hint,
    valid_duration,
    valid_release_name,
    values_argv,
    values_digest,
)

LABEL = "release nl2api in namespace nl2api"


# --------------------------------------------------------------------------------------------------------------
# An independent model of a Helm release


def manifest_for(content_id: int) -> str:
    """A rendered manifest that differs per content id (like a new image tag)."""
    return (
        "---\n# Source: nl2api/templates/api/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: nl2api-api\n  labels:\n    app.kubernetes.io/name: nl2api\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: api\n          image: nl2api:%d\n"
        "---\n# Source: nl2api/templates/api/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n"
        "  name: nl2api-api\nspec:\n  ports:\n    - port: 8080\n" % content_id
    )


@dataclass
class ReleaseModel:
    """A release's stored revisions as helm 3 writes them, each with the content id it deploys."""

    name: str = "nl2api"
    revisions: List[Revision] = field(default_factory=list)
    content_ids: Dict[int, int] = field(default_factory=dict)

    # -- helpers
    def _next(self) -> int:
        return (self.revisions[-1].number + 1) if self.revisions else 1

    def _set_status(self, number: int, status: str) -> None:
        self.revisions = [Revision(r.number, status, r.chart, r.app_version, r.description, r.updated)
                          if r.number == number else r for r in self.revisions]

    def _supersede_deployed(self, except_number: Optional[int] = None) -> None:
        for revision in list(self.revisions):
            if revision.status == STATUS_DEPLOYED and revision.number != except_number:
                self._set_status(revision.number, STATUS_SUPERSEDED)

    def _store(self, status: str, description: str, content_id: int, history_max: int = 0) -> int:
        number = self._next()  # helm numbers the new revision before pruning (currentRelease.Version + 1)
        if history_max > 0:
            self.prune(history_max - 1)
        self.revisions.append(Revision(number, status, "nl2api-0.1.0", "1.0.%d" % (content_id % 3), description))
        self.content_ids[number] = content_id
        return number

    def prune(self, keep: int) -> None:
        """pkg/storage removeLeastRecent: drop the oldest revisions but the latest deployed one."""
        deployed = [r.number for r in self.revisions if r.status == STATUS_DEPLOYED]
        last_deployed = deployed[-1] if deployed else None
        doomed = []
        for revision in self.revisions:
            if len(self.revisions) - len(doomed) <= keep:
                break
            if revision.number != last_deployed:
                doomed.append(revision.number)
        self.revisions = [r for r in self.revisions if r.number not in doomed]

    def get(self, number: int) -> Optional[Revision]:
        return next((r for r in self.revisions if r.number == number), None)

    # -- what helm does
    def install(self, content_id: int, ok: bool = True) -> None:
        if ok:
            self._store(STATUS_DEPLOYED, "Install complete", content_id)
        else:
            self._store(STATUS_FAILED, 'Release "nl2api" failed: timed out waiting for the condition', content_id)

    def upgrade(self, content_id: int, ok: bool = True, atomic: bool = False, history_max: int = 0) -> None:
        if ok:
            number = self._store(STATUS_DEPLOYED, "Upgrade complete", content_id, history_max)
            self._supersede_deployed(except_number=number)
            return
        self._store(STATUS_FAILED, 'Upgrade "nl2api" failed: context deadline exceeded', content_id, history_max)
        if atomic:
            # upgrade.go failRelease: roll back to the newest revision whose *status* is superseded or deployed.
            good = [r for r in self.revisions if r.status in (STATUS_SUPERSEDED, STATUS_DEPLOYED)]
            if good:
                self.rollback(good[-1].number, ok=True, history_max=history_max)

    def rollback(self, target: int, ok: bool = True, history_max: int = 0, pending: bool = False) -> None:
        source = self.get(target)
        assert source is not None
        content_id = self.content_ids[target]
        if pending:  # helm died between storing the pending revision and the update
            self._store(STATUS_PENDING_ROLLBACK, "Rollback to %d" % target, content_id, history_max)
            return
        if ok:
            number = self._store(STATUS_DEPLOYED, "Rollback to %d" % target, content_id, history_max)
            self._supersede_deployed(except_number=number)
        else:
            self._store(STATUS_FAILED, 'Release "nl2api" failed: timed out waiting for the condition', content_id,
                        history_max)

    def content_of(self, revision: Revision):
        content_id = self.content_ids[revision.number]
        return revision_content(revision.chart, revision.app_version, {"image": {"tag": str(content_id)}},
                                manifest_for(content_id))

    def current_content_id(self) -> int:
        return self.content_ids[self.revisions[-1].number]


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("upgrade"), st.integers(0, 4), st.booleans(), st.booleans()),
        st.tuples(st.just("rollback"), st.integers(1, 12), st.booleans(), st.booleans()),
    ),
    min_size=0, max_size=10,
)


def build_release(install_ok: bool, first_content: int, operations, history_max: int) -> ReleaseModel:
    model = ReleaseModel()
    model.install(first_content, ok=install_ok)
    for kind, number, ok, flag in operations:
        if kind == "upgrade":
            model.upgrade(number, ok=ok, atomic=flag, history_max=history_max)
        else:
            candidates = [r.number for r in model.revisions if r.number != model.revisions[-1].number]
            if candidates:
                model.rollback(candidates[number % len(candidates)], ok=ok, history_max=history_max)
    return model


releases = st.builds(
    build_release,
    install_ok=st.booleans(),
    first_content=st.integers(0, 4),
    operations=OPERATIONS,
    history_max=st.sampled_from([0, 0, 3, 5, 10]),
)


def request_for(model: ReleaseModel, pick: Optional[int]) -> Optional[int]:
    """None (the previous revision) or a revision of the history (or just past it)."""
    if pick is None:
        return None
    numbers = [r.number for r in model.revisions] + [model.revisions[-1].number + 1]
    return numbers[pick % len(numbers)]


# --------------------------------------------------------------------------------------------------------------
# Properties of the decision


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases, pick=st.one_of(st.none(), st.integers(0, 50)), history_max=st.sampled_from([0, 2, 3, 10]))
def test_rolling_back_twice_is_a_no_op(model, pick, history_max):
    requested = request_for(model, pick)
    first = decide(model.revisions, model.content_of, revision=requested, release=LABEL)
    if first.action != ACTION_ROLLBACK:
        return
    model.rollback(first.target.number, ok=True, history_max=history_max)
    second = decide(model.revisions, model.content_of, revision=requested, release=LABEL)
    assert second.action == ACTION_NOOP, (first, second, model.revisions)
    assert second.changed is False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases, pick=st.one_of(st.none(), st.integers(0, 50)), force=st.booleans())
def test_never_the_current_revision_never_one_that_did_not_deploy(model, pick, force):
    requested = request_for(model, pick)
    decision = decide(model.revisions, model.content_of, revision=requested, force=force, release=LABEL)
    current = current_revision(model.revisions)
    assert decision.current == current
    if decision.action != ACTION_ROLLBACK:
        assert decision.reason
        return
    target = decision.target
    assert target in model.revisions
    if requested is None:
        assert target.number < current.number
        assert target.successful
        assert target.status in (STATUS_DEPLOYED, STATUS_SUPERSEDED)
    else:
        assert target.number == requested
        if not force:
            assert target.successful
    if current.status == STATUS_DEPLOYED and not force:
        # a live current revision is never rolled back onto itself or onto the same content
        assert target.number != current.number
        assert not model.content_of(target).same_as(model.content_of(current))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases, pick=st.one_of(st.none(), st.integers(0, 50)))
def test_a_failed_rollback_is_retried_towards_the_same_content(model, pick):
    requested = request_for(model, pick)
    first = decide(model.revisions, model.content_of, revision=requested, release=LABEL)
    if first.action != ACTION_ROLLBACK:
        return
    wanted = model.content_of(first.target)
    model.rollback(first.target.number, ok=False)
    retry = decide(model.revisions, model.content_of, revision=requested, release=LABEL)
    assert retry.action == ACTION_ROLLBACK, (first, retry, model.revisions)
    assert model.content_of(retry.target).same_as(wanted)
    model.rollback(retry.target.number, ok=True)
    assert decide(model.revisions, model.content_of, revision=requested, release=LABEL).action == ACTION_NOOP


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases, pick=st.integers(0, 50))
def test_an_explicit_no_op_means_the_release_already_runs_that_content(model, pick):
    requested = request_for(model, pick)
    decision = decide(model.revisions, model.content_of, revision=requested, release=LABEL)
    if decision.action != ACTION_NOOP:
        return
    current = current_revision(model.revisions)
    assert current.status == STATUS_DEPLOYED
    target = model.get(requested)
    assert (current.number == requested or current.rollback_to == requested
            or model.content_of(current).same_as(model.content_of(target)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases)
def test_previous_is_refused_only_when_nothing_else_deployed(model):
    decision = decide(model.revisions, model.content_of, release=LABEL)
    if decision.action != ACTION_REFUSE:
        return
    current = current_revision(model.revisions)
    assert LABEL in decision.reason
    older = [r for r in model.revisions if r.number < current.number and r.successful]
    if current.status == STATUS_DEPLOYED:
        assert all(model.content_of(r).same_as(model.content_of(current)) for r in older)
    else:
        assert older == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases, pick=st.one_of(st.none(), st.integers(0, 50)))
def test_the_decision_is_deterministic_and_fetches_content_lazily(model, pick):
    requested = request_for(model, pick)
    fetched = []

    def lookup(revision):
        fetched.append(revision.number)
        return model.content_of(revision)

    one = decide(model.revisions, lookup, revision=requested, release=LABEL)
    two = decide(list(reversed(model.revisions)), model.content_of, revision=requested, release=LABEL)
    assert one == two
    assert set(fetched) <= {r.number for r in model.revisions}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=releases, history_max=st.sampled_from([0, 2, 3, 10]))
def test_simulate_rollback_matches_the_model(model, history_max):
    decision = decide(model.revisions, model.content_of, release=LABEL)
    if decision.action != ACTION_ROLLBACK:
        return
    simulated = simulate_rollback(model.revisions, decision.target.number, history_max=history_max)
    model.rollback(decision.target.number, ok=True, history_max=history_max)
    assert [(r.number, r.status, r.description) for r in simulated] == \
        [(r.number, r.status, r.description) for r in model.revisions]


# --------------------------------------------------------------------------------------------------------------
# The decision, case by case


def history_of(*entries):
    """Revisions from (status, description, content id) triples; returns (revisions, content lookup)."""
    model = ReleaseModel()
    for number, (status, description, content_id) in enumerate(entries, start=1):
        model.revisions.append(Revision(number, status, "nl2api-0.1.0", "1.0.0", description))
        model.content_ids[number] = content_id
    return model


@pytest.mark.parametrize(("history", "action", "target", "reason_parts"), [
    pytest.param([(STATUS_SUPERSEDED, "Install complete", 1),
                  (STATUS_FAILED, 'Upgrade "nl2api" failed: timed out', 2),
                  (STATUS_SUPERSEDED, "Upgrade complete", 3),
                  (STATUS_DEPLOYED, "Upgrade complete", 3)],
                 ACTION_ROLLBACK, 1, ["roll back from revision 4 (deployed"],
                 id="skips_failed_revisions_and_identical_redeploys"),
    pytest.param([(STATUS_SUPERSEDED, "Install complete", 1),
                  (STATUS_SUPERSEDED, "Upgrade complete", 2),
                  (STATUS_DEPLOYED, "Rollback to 1", 1)],
                 ACTION_NOOP, 1, ["already rolled back", "revision=N"],
                 id="after_a_rollback_is_a_no_op"),
    pytest.param([(STATUS_SUPERSEDED, "Install complete", 1),
                  (STATUS_UNINSTALLED, "Uninstallation complete", 2)],
                 ACTION_REFUSE, None, ["uninstalled"],
                 id="uninstalled_release_is_refused"),
])
def test_previous_revision_decision(history, action, target, reason_parts):
    model = history_of(*history)
    decision = decide(model.revisions, model.content_of, release=LABEL)
    assert decision.action == action
    if target is not None:
        assert decision.target.number == target
    assert all(part in decision.reason for part in reason_parts), decision.reason


def test_previous_after_an_atomic_upgrade_failure_is_a_no_op():
    model = ReleaseModel()
    model.install(1)
    model.upgrade(2)
    model.upgrade(3, ok=False, atomic=True)
    assert [(r.status, r.description) for r in model.revisions] == [
        (STATUS_SUPERSEDED, "Install complete"),
        (STATUS_SUPERSEDED, "Upgrade complete"),
        (STATUS_FAILED, 'Upgrade "nl2api" failed: context deadline exceeded'),
        (STATUS_DEPLOYED, "Rollback to 2"),
    ]
    assert decide(model.revisions, model.content_of, release=LABEL).action == ACTION_NOOP
    explicit = decide(model.revisions, model.content_of, revision=1, release=LABEL)
    assert explicit.action == ACTION_ROLLBACK and explicit.target.number == 1


def test_previous_after_a_failed_plain_upgrade_goes_to_the_deployed_revision():
    model = ReleaseModel()
    model.install(1)
    model.upgrade(2)
    model.upgrade(3, ok=False)
    decision = decide(model.revisions, model.content_of, release=LABEL)
    assert decision.action == ACTION_ROLLBACK and decision.target.number == 2
    assert decision.target.status == STATUS_DEPLOYED


def test_a_failed_rollback_is_retried_not_reverted():
    model = ReleaseModel()
    model.install(1)
    model.upgrade(2)
    model.rollback(1, ok=False)  # 3: failed, carries content 1; revision 2 is still deployed
    decision = decide(model.revisions, model.content_of, release=LABEL)
    assert decision.action == ACTION_ROLLBACK and decision.target.number == 1
    assert "retrying" in decision.reason


def test_an_interrupted_rollback_needs_force_and_then_goes_on():
    model = ReleaseModel()
    model.install(1)
    model.upgrade(2)
    model.rollback(1, pending=True)
    refused = decide(model.revisions, model.content_of, release=LABEL)
    assert refused.action == ACTION_REFUSE
    assert "pending-rollback" in refused.reason and "force=true" in refused.reason
    forced = decide(model.revisions, model.content_of, force=True, release=LABEL)
    assert forced.action == ACTION_ROLLBACK and forced.target.number == 1
    assert "interrupted" in forced.reason


def test_pending_upgrade_is_refused_unless_forced():
    model = history_of((STATUS_SUPERSEDED, "Install complete", 1), (STATUS_PENDING_UPGRADE, "Preparing upgrade", 2))
    refused = decide(model.revisions, model.content_of, release=LABEL)
    assert refused.action == ACTION_REFUSE and "another Helm operation" in refused.reason
    forced = decide(model.revisions, model.content_of, force=True, release=LABEL)
    assert forced.action == ACTION_ROLLBACK and forced.target.number == 1


def test_nothing_to_roll_back_to():
    first_install = history_of((STATUS_DEPLOYED, "Install complete", 1))
    decision = decide(first_install.revisions, first_install.content_of, release=LABEL)
    assert decision.action == ACTION_REFUSE
    assert decision.reason.startswith(LABEL + " has no earlier successfully deployed revision")
    only_failures = history_of((STATUS_FAILED, 'Release "nl2api" failed: x', 1),
                               (STATUS_FAILED, 'Upgrade "nl2api" failed: y', 2))
    assert decide(only_failures.revisions, only_failures.content_of, release=LABEL).action == ACTION_REFUSE
    same_content = history_of((STATUS_SUPERSEDED, "Install complete", 1), (STATUS_DEPLOYED, "Upgrade complete", 1))
    refused = decide(same_content.revisions, same_content.content_of, release=LABEL)
    assert refused.action == ACTION_REFUSE and "deploy the same chart" in refused.reason


def test_empty_history_means_no_release():
    decision = decide([], lambda revision: None, release=LABEL)
    assert decision.action == ACTION_REFUSE and decision.reason == LABEL + " not found: it has no revision to roll back to"
    assert decision.current is None


def test_explicit_revision_rules():
    model = history_of(
        (STATUS_SUPERSEDED, "Install complete", 1),
        (STATUS_FAILED, 'Upgrade "nl2api" failed: x', 2),
        (STATUS_SUPERSEDED, "Upgrade complete", 3),
        (STATUS_DEPLOYED, "Upgrade complete", 4),
    )
    assert decide(model.revisions, model.content_of, revision=4, release=LABEL).action == ACTION_NOOP
    to_three = decide(model.revisions, model.content_of, revision=3, release=LABEL)
    assert to_three.action == ACTION_ROLLBACK and to_three.target.number == 3
    failed = decide(model.revisions, model.content_of, revision=2, release=LABEL)
    assert failed.action == ACTION_REFUSE
    assert "revision 2 never deployed successfully (failed" in failed.reason and "did (3, 1)" in failed.reason
    forced = decide(model.revisions, model.content_of, revision=2, force=True, release=LABEL)
    assert forced.action == ACTION_ROLLBACK and forced.target.number == 2
    missing = decide(model.revisions, model.content_of, revision=9, release=LABEL)
    assert missing.action == ACTION_REFUSE and "has no revision 9" in missing.reason and "1 to 4" in missing.reason
    assert decide(model.revisions, model.content_of, revision=9, force=True, release=LABEL).action == ACTION_REFUSE
    assert decide(model.revisions, model.content_of, revision=-1, release=LABEL).action == ACTION_REFUSE
    assert decide(model.revisions, model.content_of, revision=0, release=LABEL).target.number == 3


def test_explicit_revision_with_the_current_content_is_a_no_op():
    model = history_of((STATUS_SUPERSEDED, "Install complete", 1), (STATUS_SUPERSEDED, "Upgrade complete", 2),
                       (STATUS_DEPLOYED, "Upgrade complete", 1))
    decision = decide(model.revisions, model.content_of, revision=1, release=LABEL)
    assert decision.action == ACTION_NOOP and "same chart, app version, values and manifest" in decision.reason


def test_explicit_rollback_stays_a_no_op_after_its_target_was_pruned():
    model = ReleaseModel()
    model.install(1)
    model.upgrade(2)
    model.upgrade(3)
    model.rollback(1, history_max=2)
    assert [r.number for r in model.revisions] == [3, 4]
    decision = decide(model.revisions, model.content_of, revision=1, release=LABEL)
    assert decision.action == ACTION_NOOP and decision.target is None


def test_content_is_fetched_only_when_needed():
    model = history_of((STATUS_SUPERSEDED, "Install complete", 1), (STATUS_DEPLOYED, "Rollback to 1", 1))
    calls = []
    decide(model.revisions, lambda r: calls.append(r) or model.content_of(r), release=LABEL)
    decide(model.revisions, lambda r: calls.append(r) or model.content_of(r), revision=1, release=LABEL)
    assert calls == []


def test_superseded_but_described_as_failed_is_not_successful():
    # helm marks the current revision superseded when a rollback from it fails
    revision = Revision(3, STATUS_SUPERSEDED, description='Upgrade "nl2api" failed: timed out')
    assert not revision.successful and revision.failure_described
    assert Revision(3, STATUS_SUPERSEDED, description="Upgrade complete").successful
    assert Revision(5, STATUS_DEPLOYED, description="Rollback to 2").rollback_to == 2
    assert Revision(5, STATUS_DEPLOYED, description="Rolled back to 2").rollback_to is None
    assert Revision(4, STATUS_FAILED, description='Rollback "nl2api" failed: x').failed_rollback
    assert Revision(4, STATUS_FAILED, description='Release "nl2api" failed: x').failed_rollback
    assert not Revision(1, STATUS_FAILED, description='Release "nl2api" failed: x').failed_rollback
    assert not Revision(4, STATUS_FAILED, description='Upgrade "nl2api" failed: x').failed_rollback


# --------------------------------------------------------------------------------------------------------------
# Parsing, digests, argv

HELM_HISTORY = json.dumps([
    {"revision": 1, "updated": "2025-05-01T10:00:00.1+00:00", "status": "superseded", "chart": "nl2api-0.1.0",
     "app_version": "1.0.0", "description": "Install complete"},
    {"revision": 3, "updated": "2025-05-03T10:00:00.1+00:00", "status": "deployed", "chart": "nl2api-0.1.0",
     "app_version": "1.0.0", "description": "Rollback to 1"},
    {"revision": 2, "updated": "2025-05-02T10:00:00.1+00:00", "status": "superseded", "chart": "nl2api-0.1.0",
     "app_version": "1.0.1", "description": "Upgrade complete"},
])


def test_parse_history_sorts_and_reads_helm_fields():
    history = parse_history(HELM_HISTORY)
    assert [r.number for r in history] == [1, 2, 3]
    assert history[2] == Revision(3, "deployed", "nl2api-0.1.0", "1.0.0", "Rollback to 1", "2025-05-03T10:00:00.1+00:00")
    assert parse_history(HELM_HISTORY.encode()) == history
    assert parse_history(json.loads(HELM_HISTORY)) == history
    assert parse_history("") == [] and parse_history("null") == [] and parse_history("[]") == []
    assert trim_history(history, 2) == [history[1].to_dict(), history[2].to_dict()]
    assert trim_history(history, 0)[0]["revision"] == 1
    assert summarize_history(history) == "1 superseded, 2 superseded, 3 deployed"
    assert summarize_history(history, limit=1) == "..., 3 deployed"


@pytest.mark.parametrize("text, message", [
    ("Error: release: not found", "did not print JSON"),
    ('{"revision": 1}', "expected a list"),
    ('[1]', "expected an object"),
    ('[{"status": "deployed"}]', "no positive integer revision"),
    ('[{"revision": true}]', "no positive integer revision"),
    ('[{"revision": 1}, {"revision": 1}]', "revision 1 twice"),
])
def test_parse_history_rejects_what_helm_does_not_print(text, message):
    with pytest.raises(HistoryError, match=message):
        parse_history(text)


@given(st.lists(st.tuples(st.integers(1, 500), st.sampled_from(ALL_STATUSES), st.text(max_size=30)),
                unique_by=lambda entry: entry[0]))
def test_parse_history_round_trips(entries):
    data = [{"revision": n, "status": s, "description": d, "chart": "c-1", "app_version": "1"} for n, s, d in entries]
    history = parse_history(json.dumps(data))
    assert [r.number for r in history] == sorted(entry[0] for entry in entries)
    assert {r.number: r.to_dict()["description"] for r in history} == {entry[0]: entry[2] for entry in entries}


def test_values_digest_is_canonical():
    assert values_digest({"a": 1, "b": {"c": [1, 2]}}) == values_digest({"b": {"c": [1, 2]}, "a": 1})
    assert values_digest(None) == values_digest({}) == values_digest(parse_values("null"))
    assert values_digest({"a": 1}) != values_digest({"a": "1"})
    assert parse_values('{"image": {"tag": "x"}}') == {"image": {"tag": "x"}}
    assert parse_values("") == {}
    with pytest.raises(HistoryError):
        parse_values("image: x")


def test_manifest_objects_and_changes():
    one = revision_content("nl2api-0.1.0", "1.0.0", {}, manifest_for(1))
    two = revision_content("nl2api-0.1.0", "1.0.0", {}, manifest_for(2))
    assert [entry[0] for entry in one.objects] == ["Deployment/nl2api-api", "Service/nl2api-api"]
    assert object_changes(one, two) == {"added": [], "removed": [], "changed": ["Deployment/nl2api-api"]}
    assert not one.same_as(two)
    # blank lines and separators between documents are not content
    spaced = revision_content("nl2api-0.1.0", "1.0.0", {}, "\n\n" + manifest_for(1).replace("---\n", "---\n\n") + "\n---\n")
    assert spaced.same_as(one)
    assert not revision_content("nl2api-0.2.0", "1.0.0", {}, manifest_for(1)).same_as(one)
    assert not revision_content("nl2api-0.1.0", "1.0.0", {"x": 1}, manifest_for(1)).same_as(one)
    assert set(one.summary()) == {"chart", "app_version", "values_sha256", "manifest_sha256", "objects"}
    empty = revision_content("nl2api-0.1.0", "1.0.0", {}, "")
    assert object_changes(empty, one)["added"] == ["Deployment/nl2api-api", "Service/nl2api-api"]
    assert object_changes(one, empty)["removed"] == ["Deployment/nl2api-api", "Service/nl2api-api"]


def test_object_key_reads_kind_and_top_level_name():
    document = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    name: not-this\n  name: nl2api-config\n"
                "  namespace: nl2api\ndata:\n  name: nor-this\n")
    assert object_key(document) == "ConfigMap/nl2api-config"
    assert object_key("# only a comment") == "?/?"
    assert split_manifest("---\n# Source: x\n---\nkind: A\nmetadata:\n  name: a\n") == ["kind: A\nmetadata:\n  name: a"]
    twice = manifest_objects("kind: A\nmetadata:\n  name: a\n---\nkind: A\nmetadata:\n  name: a\nx: 1\n")
    assert [entry[0] for entry in twice] == ["A/a", "A/a#2"]


def test_helm_argv():
    connection = connection_args("nl2api", kubeconfig="/k", context="ctx", host="https://api:6443", ca_cert="/ca",
                                 validate_certs=False)
    assert connection == ["--namespace", "nl2api", "--kubeconfig", "/k", "--kube-context", "ctx", "--kube-apiserver",
                          "https://api:6443", "--kube-ca-file", "/ca", "--kube-insecure-skip-tls-verify"]
    assert connection_args("ns") == ["--namespace", "ns"]
    assert history_argv("helm", "nl2api", ["--namespace", "ns"]) == [
        "helm", "history", "nl2api", "--output", "json", "--namespace", "ns"]
    assert values_argv("helm", "nl2api", 3, []) == ["helm", "get", "values", "nl2api", "--revision", "3", "--output", "json"]
    assert manifest_argv("helm", "nl2api", 3, []) == ["helm", "get", "manifest", "nl2api", "--revision", "3"]
    assert rollback_argv("helm", "nl2api", 3, ["--namespace", "ns"], wait=True, wait_timeout="10m", history_max=5,
                         cleanup_on_fail=True, disable_hook=True) == [
        "helm", "rollback", "nl2api", "3", "--namespace", "ns", "--wait", "--timeout", "10m", "--history-max", "5",
        "--cleanup-on-fail", "--no-hooks"]
    assert rollback_argv("helm", "nl2api", 1, [], wait=False) == ["helm", "rollback", "nl2api", "1"]
    with pytest.raises(ValueError):
        rollback_argv("helm", "nl2api", 0, [])


@pytest.mark.parametrize("value, ok", [
    ("5m", True), ("5m0s", True), ("300s", True), ("1h30m", True), ("1.5h", True), ("250ms", True),
    ("5", False), ("5 m", False), ("", False), ("five minutes", False), ("-5m", False),
])
def test_valid_duration(value, ok):
    assert valid_duration(value) is ok


@pytest.mark.parametrize("name, ok", [
    ("nl2api", True), ("nl2api-staging", True), ("a.b", True), ("a" * 53, True),
    ("a" * 54, False), ("NL2API", False), ("-x", False), ("x-", False), ("", False), ("a_b", False),
])
def test_valid_release_name(name, ok):
    assert valid_release_name(name) is ok


def test_kubeconfig_secrets_and_error_hints():
    kubeconfig = {"users": [{"name": "u", "user": {"token": "t0k", "client-key-data": "a2V5"}},
                            {"name": "v", "user": {"auth-provider": {"config": {"id-token": "idt"}}}}],
                  "clusters": [{"cluster": {"server": "https://x"}}]}
    assert sorted(kubeconfig_secrets(kubeconfig)) == ["a2V5", "idt", "t0k"]
    assert kubeconfig_secrets("/path") == []
    assert "unreachable" in unreachable_hint('Error: Kubernetes cluster unreachable: Get "https://x/version"')
    assert "not allowed" in unreachable_hint("Error: secrets is forbidden: User cannot list")
    assert unreachable_hint("Error: something else") == ""
    assert release_not_found("Error: release: not found")
    assert not release_not_found("Error: Kubernetes cluster unreachable")


def test_simulate_rollback_of_a_missing_revision_raises():
    with pytest.raises(ValueError, match="no 7 version"):
        simulate_rollback([Revision(1, STATUS_DEPLOYED)], 7)
    failed = simulate_rollback([Revision(1, STATUS_SUPERSEDED), Revision(2, STATUS_DEPLOYED)], 1, succeeded=False)
    assert [r.status for r in failed] == [STATUS_SUPERSEDED, STATUS_DEPLOYED, STATUS_FAILED]
