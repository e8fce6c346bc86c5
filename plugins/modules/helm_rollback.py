#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: helm_rollback
short_description: Roll a Helm release back to its previous good revision, or to a given one, idempotently
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - Rolls a Helm release back with C(helm rollback), choosing the target from C(helm history) itself, and does
    nothing when the release is already there. Running it twice never rolls back twice.
  - "Without O(revision), the target is the newest earlier revision that deployed successfully (status
    C(deployed) or C(superseded), not described as a failure by helm) and whose content differs from the current
    revision's. Content is the chart, the app version, the user-supplied values (C(helm get values)) and the
    rendered manifest (C(helm get manifest)), compared by sha256."
  - "Without O(revision), the module does nothing when the current revision is C(deployed) and helm describes it as
    C(Rollback to K): the release has already been rolled back (by this module, by hand, or by an atomic upgrade that
    failed). To go further back, name the revision."
  - "With O(revision=N), the module does nothing when the current revision is C(deployed) and is N, is C(Rollback to
    N), or has the same content as N."
  - When the current revision is a rollback that failed or timed out, running the module again retries the same
    target (the revision whose content the failed rollback carries), not the revision before the failed attempt.
  - "The module refuses (fails without changing anything) with a message naming the release and what is missing
    when: the release does not exist; the current revision is C(pending-install), C(pending-upgrade) or
    C(pending-rollback) (another operation is running or was interrupted) or the release was uninstalled; there is
    no earlier successful revision with other content; revision N does not exist (never created, or pruned by
    C(--history-max)) or never deployed successfully (C(failed), C(pending-*)). O(force=true) lifts the refusals
    about statuses."
  - helm always gets an explicit revision (C(helm rollback RELEASE N)); helm's own default, the revision just before
    the current one whatever its status, is never used.
  - helm is run without a shell, with the arguments as a list; the API token is passed in the environment, never on
    the command line.
  - Neither values nor manifests are returned or logged (they hold secrets); only their digests are.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nl2api.deploy.helm
attributes:
  action_group:
    description: Use C(group/nl2api.deploy.k8s) in C(module_defaults) to set the connection options once for the
      collection's Kubernetes-facing modules.
    support: full
    membership:
      - nl2api.deploy.k8s
  check_mode:
    support: full
    details: Reads the history and the revisions' content, reports the revision it would roll back to and the diff,
      and runs no C(helm rollback).
  diff_mode:
    support: full
    details: The diff shows the chart, app version, values and manifest digests and the per-object manifest digests of
      the current revision and of the target.
  platform:
    platforms: posix
options:
  release_name:
    description:
      - Name of the Helm release.
    type: str
    required: true
    aliases: [name, release]
  release_namespace:
    description:
      - Namespace of the release (where helm stores its history).
    type: str
    required: true
    aliases: [namespace]
  revision:
    description:
      - The revision to roll back to. Must exist in C(helm history) and have deployed successfully, unless
        O(force=true).
      - When not set, the previous good revision, as described above. V(0) and negative numbers are refused.
    type: int
  force:
    description:
      - Roll back even when the current revision is C(pending-*) or uninstalled, or O(revision) never deployed
        successfully. This is not helm's C(--force) (delete and re-create resources), which the module never passes.
    type: bool
    default: false
  wait:
    description:
      - Pass C(--wait) to helm, so the rollback succeeds only once every Pod, PVC, Service and the minimum number of
        Pods of each Deployment, StatefulSet and ReplicaSet of the target revision are ready, within O(wait_timeout).
      - When the wait times out, helm records the new revision as C(failed) and the module fails; running it again
        retries the same target.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long helm waits for each Kubernetes operation and, with O(wait=true), for readiness (C(--timeout)), as a
        Go duration such as V(5m), V(300s) or V(1h30m).
    type: str
    default: 5m0s
  history_max:
    description:
      - Most revisions helm keeps for the release after the rollback (C(--history-max)); older ones are deleted, the
        deployed one is always kept. V(0) keeps all. When not set, helm's default applies (10).
    type: int
  cleanup_on_fail:
    description:
      - Let helm delete resources the rollback created when it fails (C(--cleanup-on-fail)).
    type: bool
    default: false
  disable_hook:
    description:
      - Do not run the chart's rollback hooks (C(--no-hooks)).
    type: bool
    default: false
notes:
  - Each content comparison runs C(helm get values) and C(helm get manifest) for one revision; the module fetches a
    revision's content at most once per run, and only when the decision needs it.
  - Helm hooks (for example C(helm test) pods) are not part of the compared content.
  - Works with the release history that Helm 3 stores (Secrets, the default driver, or ConfigMaps through
    C(HELM_DRIVER)); the credentials need to read them in O(release_namespace), and to apply the release's objects
    when rolling back.
seealso:
  - name: helm rollback
    description: The command the module runs.
    link: https://helm.sh/docs/helm/helm_rollback/
  - name: helm history
    description: The history the decision is based on.
    link: https://helm.sh/docs/helm/helm_history/
  - module: kubernetes.core.helm
  - module: kubernetes.core.k8s_rollback
    description: Rolls a Deployment or DaemonSet back one step, by its ReplicaSet history; not idempotent.
"""

EXAMPLES = r"""
- name: Roll nl2api back to its previous good revision (a second run changes nothing)
  nl2api.deploy.helm_rollback:
    release_name: nl2api
    release_namespace: nl2api
    wait_timeout: 10m
  register: rollback

- name: Say what happened
  ansible.builtin.debug:
    msg: "{{ rollback.msg }} (from {{ rollback.from_revision }} to {{ rollback.to_revision }}, new {{ rollback.new_revision }})"

- name: Roll back to revision 12, with a kubeconfig and context of its own
  nl2api.deploy.helm_rollback:
    release_name: nl2api
    release_namespace: nl2api
    revision: 12
    kubeconfig: /etc/nl2api/kubeconfig-prod
    context: prod-eu-west-1
    history_max: 20

- name: What would a rollback do? (check mode, with the diff)
  nl2api.deploy.helm_rollback:
    release_name: nl2api
    release_namespace: nl2api
  check_mode: true
  diff: true
  register: plan

- name: Roll back over an interrupted upgrade (status pending-upgrade)
  nl2api.deploy.helm_rollback:
    release_name: nl2api
    release_namespace: nl2api
    force: true

- name: Same cluster settings for every Kubernetes-facing module of the collection
  module_defaults:
    group/nl2api.deploy.k8s:
      kubeconfig: "{{ app_kubeconfig }}"
  block:
    - name: Roll back
      nl2api.deploy.helm_rollback:
        release_name: nl2api
        release_namespace: nl2api
"""

RETURN = r"""
changed:
  description: Whether a C(helm rollback) ran (or, in check mode, would run).
  returned: always
  type: bool
msg:
  description: What the module did or would do, and why; the refusal reason when it fails.
  returned: always
  type: str
  sample: "release nl2api in namespace nl2api: roll back from revision 5 (deployed, nl2api-0.1.0, app 1.0.1) to
    revision 4 (superseded, nl2api-0.1.0, app 1.0.0), the newest successful revision with other content"
release_name:
  description: The release.
  returned: always
  type: str
  sample: nl2api
release_namespace:
  description: Its namespace.
  returned: always
  type: str
  sample: nl2api
from_revision:
  description: The current revision before the module ran (the newest one in the history).
  returned: when the release exists
  type: int
  sample: 5
to_revision:
  description:
    - The revision rolled back to. For a no-op, the revision whose content the release already runs, when known.
  returned: when the release exists
  type: int
  sample: 4
new_revision:
  description:
    - The revision C(helm rollback) created (C(from_revision + 1) unless something else ran at the same time).
    - V(null) when nothing ran (no-op, check mode, refusal).
  returned: always
  type: int
  sample: 6
status:
  description: Status of the newest revision after the module ran.
  returned: when the release exists
  type: str
  sample: deployed
history:
  description: The newest 10 revisions of C(helm history) after the module ran, oldest first.
  returned: when the release exists
  type: list
  elements: dict
  contains:
    revision:
      description: Revision number.
      type: int
    status:
      description: Helm status (C(deployed), C(superseded), C(failed), C(pending-upgrade), ...).
      type: str
    chart:
      description: Chart name and version.
      type: str
    app_version:
      description: The chart's appVersion.
      type: str
    description:
      description: Helm's description (C(Install complete), C(Upgrade complete), C(Rollback to 3), failure messages).
      type: str
    updated:
      description: When the revision was written.
      type: str
  sample:
    - {revision: 4, status: superseded, chart: nl2api-0.1.0, app_version: 1.0.0, description: Upgrade complete,
       updated: "2025-01-01T10:00:00Z"}
    - {revision: 5, status: superseded, chart: nl2api-0.1.0, app_version: 1.0.1, description: Upgrade complete,
       updated: "2025-01-02T10:00:00Z"}
    - {revision: 6, status: deployed, chart: nl2api-0.1.0, app_version: 1.0.0, description: Rollback to 4,
       updated: "2025-01-03T10:00:00Z"}
changes:
  description:
    - The manifest objects (C(Kind/name)) the rollback adds, removes and changes, compared by digest.
  returned: in check mode or diff mode, when the module rolls back
  type: dict
  contains:
    added:
      description: Objects in the target revision only.
      type: list
      elements: str
    removed:
      description: Objects in the current revision only.
      type: list
      elements: str
    changed:
      description: Objects in both whose manifest differs.
      type: list
      elements: str
  sample: {added: [], removed: [], changed: [Deployment/nl2api-api, Deployment/nl2api-worker]}
commands:
  description: Every helm command the module ran, in order, as shell-quoted strings (no credential is ever on them).
  returned: always
  type: list
  elements: str
  sample:
    - helm history nl2api --output json --namespace nl2api
    - helm get values nl2api --revision 5 --output json --namespace nl2api
    - helm rollback nl2api 4 --namespace nl2api --wait --timeout 10m
stderr:
  description: helm's standard error when a helm command failed.
  returned: on failure of a helm command
  type: str
"""

import os
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.common.validation import check_type_path

from ansible_collections.nl2api.deploy.plugins.module_utils._common import fail_on_problems
from ansible_collections.nl2api.deploy.plugins.module_utils.helm_release import (
    ACTION_NOOP,
    ACTION_REFUSE,
    HistoryError,
    connection_args,
    current_revision,
    decide,
    history_argv,
    kubeconfig_secrets,
    manifest_argv,
    object_changes,
    parse_history,
    parse_values,
    release_not_found,
    revision_content,
    rollback_argv,
    trim_history,
    unreachable_hint,
    valid_duration,
    valid_release_name,
    values_argv,
)

HISTORY_RETURNED = 10

ARGUMENT_SPEC = dict(
    release_name=dict(type="str", required=True, aliases=["name", "release"]),
    release_namespace=dict(type="str", required=True, aliases=["namespace"]),
    revision=dict(type="int"),
    force=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="str", default="5m0s"),
    history_max=dict(type="int"),
    cleanup_on_fail=dict(type="bool", default=False),
    disable_hook=dict(type="bool", default=False),
    # The helm connection options of kubernetes.core (module_utils/helm_args_common.py): same names, aliases and
    # environment fallbacks.
    binary_path=dict(type="path"),
    kubeconfig=dict(type="raw", aliases=["kubeconfig_path"], fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", aliases=["kube_context"], fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    validate_certs=dict(type="bool", default=True, aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
)


class HelmRunner(object):
    """Runs helm for one release: list argv, no shell, connection flags and token environment applied, every command
    recorded. Content of revisions is fetched at most once."""

    def __init__(self, module, helm, release, namespace, connection, environ):
        self.module = module
        self.helm = helm
        self.release = release
        self.namespace = namespace
        self.connection = connection
        self.environ = environ
        self.commands = []
        self._content = {}

    def run(self, argv):
        self.commands.append(" ".join(shlex.quote(arg) for arg in argv))
        rc, out, err = self.module.run_command(argv, environ_update=self.environ, check_rc=False)
        return rc, out, err

    def fail(self, msg, **extra):
        result = dict(changed=False, release_name=self.release, release_namespace=self.namespace, new_revision=None,
                      commands=self.commands)
        result.update(extra)
        self.module.fail_json(msg=msg, **result)

    def command_failed(self, what, rc, err, **extra):
        hint = unreachable_hint(err)
        message = "%s failed (exit %d): %s" % (what, rc, (err or "").strip() or "no error output")
        if hint:
            message += " -- %s" % hint
        self.fail(message, stderr=err, **extra)

    def history(self):
        rc, out, err = self.run(history_argv(self.helm, self.release, self.connection))
        if rc != 0:
            if release_not_found(err):
                self.fail("release %s not found in namespace %s: nothing to roll back (helm history: %s). Install it "
                          "first, or check release_name, release_namespace and the cluster (kubeconfig/context)"
                          % (self.release, self.namespace, err.strip()), stderr=err)
            self.command_failed("helm history %s (namespace %s)" % (self.release, self.namespace), rc, err)
        try:
            return parse_history(out)
        except HistoryError as exc:
            self.fail("release %s in namespace %s: %s" % (self.release, self.namespace, to_native(exc)))
        return []  # not reached: fail_json exits

    def content(self, revision):
        """RevisionContent of a revision (values and manifest are digested here and never kept)."""
        if revision.number not in self._content:
            rc, values_out, err = self.run(values_argv(self.helm, self.release, revision.number, self.connection))
            if rc != 0:
                self.command_failed("helm get values %s --revision %d" % (self.release, revision.number), rc, err)
            rc, manifest_out, err = self.run(manifest_argv(self.helm, self.release, revision.number, self.connection))
            if rc != 0:
                self.command_failed("helm get manifest %s --revision %d" % (self.release, revision.number), rc, err)
            try:
                values = parse_values(values_out)
            except HistoryError as exc:
                self.fail("release %s revision %d: %s" % (self.release, revision.number, to_native(exc)))
            self._content[revision.number] = revision_content(revision.chart, revision.app_version, values, manifest_out)
        return self._content[revision.number]


def _diff_text(revision, content):
    lines = [
        "revision: %d (%s)" % (revision.number, revision.status),
        "chart: %s" % content.chart,
        "app_version: %s" % content.app_version,
        "values_sha256: %s" % content.values_sha256,
        "manifest_sha256: %s" % content.manifest_sha256,
        "objects:",
    ]
    lines += ["  %s: %s" % (key, digest[:16]) for key, digest in content.objects]
    return "\n".join(lines) + "\n"


def _connection(module):
    """Connection flags and environment; a kubeconfig given as a dict goes to a private temporary file."""
    params = module.params
    kubeconfig = params.get("kubeconfig")
    kubeconfig_path = None
    if isinstance(kubeconfig, dict):
        for secret in kubeconfig_secrets(kubeconfig):
            module.no_log_values.add(secret)
        fd, kubeconfig_path = tempfile.mkstemp(prefix="helm-rollback-kubeconfig-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            handle.write(module.jsonify(kubeconfig))
        module.add_cleanup_file(kubeconfig_path)
    elif kubeconfig not in (None, ""):
        if not isinstance(kubeconfig, str):
            module.fail_json(msg="kubeconfig must be a path or a dictionary, got %s" % type(kubeconfig).__name__)
        kubeconfig_path = check_type_path(kubeconfig)
        if not os.path.isfile(kubeconfig_path):
            module.fail_json(msg="kubeconfig %s does not exist (option kubeconfig, or K8S_AUTH_KUBECONFIG)" % kubeconfig)
    connection = connection_args(
        params["release_namespace"],
        kubeconfig=kubeconfig_path,
        context=params.get("context"),
        host=params.get("host"),
        ca_cert=params.get("ca_cert"),
        validate_certs=params.get("validate_certs", True),
    )
    environ = {}
    if params.get("api_key"):
        environ["HELM_KUBETOKEN"] = params["api_key"]
    return connection, environ


def validate(params):
    """Every problem of the options, each naming the option (empty when they are usable)."""
    problems = []
    if not valid_release_name(params["release_name"]):
        problems.append("release_name %r is not a valid Helm release name (lowercase letters, digits, '-' and '.', at "
                        "most 53 characters)" % params["release_name"])
    if not params["release_namespace"]:
        problems.append("release_namespace must not be empty")
    # Helm numbers revisions from 1; a 0 would read as "the previous one" to some and as a typo to others.
    if params.get("revision") is not None and params["revision"] < 1:
        problems.append("revision must be 1 or more, or unset for the previous good revision; got %d"
                        % params["revision"])
    if not valid_duration(params["wait_timeout"]):
        problems.append("wait_timeout %r is not a Go duration such as 5m, 300s or 1h30m" % params["wait_timeout"])
    if params.get("history_max") is not None and params["history_max"] < 0:
        problems.append("history_max must be 0 (keep all) or more; got %d" % params["history_max"])
    return problems


def run_rollback(module):
    """Read the history, decide, and roll back (or not); exits the module."""
    fail_on_problems(module, validate(module.params))
    params = module.params
    release = params["release_name"]
    namespace = params["release_namespace"]
    helm = params.get("binary_path") or module.get_bin_path("helm", required=True)
    if not (os.path.isfile(helm) and os.access(helm, os.X_OK)):
        module.fail_json(msg="binary_path %s is not an executable file" % helm)
    connection, environ = _connection(module)
    runner = HelmRunner(module, helm, release, namespace, connection, environ)

    history = runner.history()
    label = "release %s in namespace %s" % (release, namespace)
    decision = decide(history, runner.content, revision=params.get("revision"), force=params["force"], release=label)
    current = decision.current
    result = dict(
        changed=False,
        msg=decision.reason,
        release_name=release,
        release_namespace=namespace,
        from_revision=current.number if current else None,
        to_revision=decision.target.number if decision.target else None,
        new_revision=None,
        status=current.status if current else None,
        history=trim_history(history, HISTORY_RETURNED),
    )

    if decision.action == ACTION_REFUSE:
        runner.fail(decision.reason, **{k: v for k, v in result.items() if k not in ("changed", "msg", "new_revision")})
    if decision.action == ACTION_NOOP:
        module.exit_json(commands=runner.commands, **result)

    target = decision.target
    if module.check_mode or module._diff:  # pylint: disable=protected-access
        before = runner.content(current)
        after = runner.content(target)
        result["changes"] = object_changes(before, after)
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = dict(
                before_header="%s %s" % (label, current.label()),
                after_header="%s as %s (a new revision)" % (label, target.label()),
                before=_diff_text(current, before),
                after=_diff_text(target, after),
            )
    result["changed"] = True
    if module.check_mode:
        result["msg"] = "would %s" % decision.reason
        module.exit_json(commands=runner.commands, **result)

    argv = rollback_argv(
        helm, release, target.number, connection,
        wait=params["wait"],
        wait_timeout=params["wait_timeout"],
        history_max=params.get("history_max"),
        cleanup_on_fail=params["cleanup_on_fail"],
        disable_hook=params["disable_hook"],
    )
    rc, dummy, err = runner.run(argv)
    after_history = runner.history()
    newest = current_revision(after_history)
    result["history"] = trim_history(after_history, HISTORY_RETURNED)
    result["status"] = newest.status if newest else None
    if newest is not None and newest.number > current.number:
        result["new_revision"] = newest.number
    if rc != 0:
        hint = unreachable_hint(err)
        message = ("helm rollback of %s to revision %d failed (exit %d): %s%s. Run the module again to retry the same "
                   "target" % (label, target.number, rc, (err or "").strip() or "no error output",
                               " -- %s" % hint if hint else ""))
        runner.fail(message, stderr=err, **{k: v for k, v in result.items() if k not in ("changed", "msg")})
    if newest is None or newest.rollback_to != target.number:
        module.warn("the newest revision of %s is %s, not the 'Rollback to %d' helm should have written: another "
                    "operation may have run at the same time" % (label, newest.label() if newest else "missing",
                                                                 target.number))
    result["msg"] = "rolled back: %s" % decision.reason
    module.exit_json(commands=runner.commands, **result)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_rollback(module)


if __name__ == "__main__":
    main()
