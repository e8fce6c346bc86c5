#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: deploy_gate
short_description: Check rendered Kubernetes manifests against schemas and deployment policy before a deploy
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - Reads rendered manifests (for example the output of C(helm template)) and reports every problem that would make
    the deploy fail or unsafe. Nothing is sent to a cluster and nothing is changed.
  - Every built-in object is validated against the strict Kubernetes OpenAPI schemas of kubernetes-validate, for each
    version in O(kubernetes_versions). Unknown fields are failures, and an API that one version does not serve is
    reported for that version.
  - Every custom resource (KEDA ScaledObject, TriggerAuthentication and ScaledJob; External Secrets ExternalSecret,
    SecretStore and ClusterSecretStore; Prometheus Operator ServiceMonitor and PodMonitor) is validated against the
    C(openAPIV3Schema) of the served version of its CRD, with unknown fields rejected (the API server would silently
    prune them). CustomResourceDefinitions among the manifests are used as well. A kind with no schema is a failure.
  - "Policy: Pod Security Standards C(restricted) on every container (runAsNonRoot, allowPrivilegeEscalation false,
    capabilities drop ALL, seccompProfile RuntimeDefault or Localhost, no privileged, host namespaces, hostPath
    or host ports) plus C(readOnlyRootFilesystem: true); cpu and memory requests and limits on every container; a
    liveness and a readiness probe on containers that expose ports (Deployments, StatefulSets, DaemonSets and
    ReplicaSets only); none on port-less containers such as the queue worker, which no probe can tell idle from hung."
  - "Availability: a PodDisruptionBudget must allow at least one eviction at the workload's minimum scale (fixed
    replicas, HPA minReplicas or ScaledObject minReplicaCount); C(maxUnavailable: 0) fails; HPA and ScaledObject
    minimum must not exceed the maximum; one autoscaler per workload (never an HPA and a ScaledObject together); an
    autoscaled workload must not set C(spec.replicas) (a failure in staging and prod, a warning elsewhere)."
  - "The API Deployment (label C(app.kubernetes.io/component: api)) must roll out with C(maxUnavailable: 0) and have
    a preStop hook on its serving containers."
  - In C(staging) and C(prod), images must be pinned (no C(latest), no missing tag; a digest is fine) and no Secret
    may carry literal C(data) or C(stringData). Findings name the keys of such Secrets, never their values.
  - "Runs on the controller: use C(delegate_to: localhost)."
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads files, so check mode runs every check.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  src:
    description:
      - Files or directories of rendered manifests (multi-document YAML or JSON).
      - Directories are read recursively; only C(*.yaml), C(*.yml) and C(*.json) files are read.
      - At least one of O(src) and O(manifests) is required; when both are given, both are checked together.
    type: list
    elements: path
  manifests:
    description:
      - Manifests as a list of dictionaries, for example the result of a C(from_yaml_all) filter.
      - Module arguments are shown in verbose output, so prefer O(src) when the manifests contain Secrets.
    type: list
    elements: dict
  environment:
    description:
      - The environment the manifests are meant for.
      - Image pinning and the ban on literal Secret data apply to C(staging) and C(prod).
    type: str
    required: true
    choices: [local, dev, staging, prod]
  kubernetes_versions:
    description:
      - Kubernetes versions (C(major.minor)) whose schemas every built-in object must satisfy, typically the oldest
        and the newest version the project supports.
      - Each must be a version the installed kubernetes-validate has schemas for.
    type: list
    elements: str
    default: ["1.31", "1.35"]
  crd_dir:
    description:
      - Directory of CustomResourceDefinition manifests to validate custom resources with.
      - When not set, the C(deploy/crds) directory of this collection is used. The module runs from a temporary
        copy, so it looks for the collection under E(ANSIBLE_COLLECTIONS_PATH), then under C(collections/) in the
        playbook directory or any of its parents, then in C(~/.ansible/collections) and
        C(/usr/share/ansible/collections).
      - From a role of this collection, V({{ role_path }}/../../deploy/crds) always works.
    type: path
  fail_on_findings:
    description:
      - Fail the task when there is at least one failure (warnings never fail it).
      - With V(false), the task succeeds and RV(passed) tells the result.
    type: bool
    default: true
requirements:
  - python >= 3.9
  - kubernetes-validate
  - jsonschema
  - PyYAML
notes:
  - The checks are the same as those of C(bin/nl2api-gate) in the collection, which renders a chart with
    C(helm template) and prints one line per finding.
seealso:
  - name: Pod Security Standards
    description: The C(restricted) profile that the pod-security check follows.
    link: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
  - name: kubernetes-validate
    description: The offline strict Kubernetes schemas used for built-in kinds.
    link: https://github.com/willthames/kubernetes-validate
"""

EXAMPLES = r"""
- name: Render the chart
  ansible.builtin.command:
    cmd: >-
      helm template nl2api {{ role_path }}/../../deploy/helm/nl2api
      --namespace nl2api --values {{ nl2api_values_file }}
      --output-dir {{ nl2api_render_dir }}
  delegate_to: localhost
  changed_when: false

- name: Gate the rendered manifests before deploying to prod
  nl2api.deploy.deploy_gate:
    src:
      - "{{ nl2api_render_dir }}"
    environment: prod
    kubernetes_versions: ["1.31", "1.35"]
    crd_dir: "{{ role_path }}/../../deploy/crds"
  delegate_to: localhost

- name: Gate manifests held in a variable, and decide later
  nl2api.deploy.deploy_gate:
    manifests: "{{ lookup('ansible.builtin.file', 'rendered.yaml') | from_yaml_all | list }}"
    environment: dev
    fail_on_findings: false
  delegate_to: localhost
  register: gate

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ gate.findings | map(attribute='field') | list }}"
  when: not gate.passed
"""

RETURN = r"""
findings:
  description:
    - Every problem found, grouped by object in input order. Secret values never appear.
  returned: always
  type: list
  elements: dict
  contains:
    severity:
      description: V(error) fails the gate, V(warning) does not.
      type: str
      sample: error
    kind:
      description: Kind of the object.
      type: str
      sample: Deployment
    namespace:
      description: Namespace of the object, empty when the manifest sets none.
      type: str
      sample: nl2api
    name:
      description: Name of the object.
      type: str
      sample: nl2api-api
    field:
      description: Path of the field inside the object; list items are named by their C(name) when they have one.
      type: str
      sample: spec.template.spec.containers[api].securityContext.runAsNonRoot
    reason:
      description: What is wrong, and which rule says so.
      type: str
      sample: must be true (restricted pod security)
    check:
      description:
        - Name of the check. One of V(input), V(unknown-kind), V(k8s-schema), V(crd-schema), V(pod-security),
          V(resources), V(probes), V(zero-downtime), V(image-tag), V(secret-literal-data), V(pdb), V(autoscaling).
      type: str
      sample: pod-security
  sample:
    - severity: error
      kind: Deployment
      namespace: nl2api
      name: nl2api-api
      field: spec.replicass
      reason: unknown field "replicass" (strict schema, kubernetes 1.31, 1.35)
      check: k8s-schema
objects_checked:
  description: Number of Kubernetes objects read.
  returned: always
  type: int
  sample: 31
passed:
  description: V(true) when no finding is an error.
  returned: always
  type: bool
  sample: true
summary:
  description: One-line summary, as printed by C(bin/nl2api-gate).
  returned: always
  type: str
  sample: "gate: 31 objects, 0 failures (env=prod, kubernetes 1.31,1.35)"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate.gate import (
    DEFAULT_KUBERNETES_VERSIONS,
    ENVIRONMENTS,
    GateError,
    GateOptions,
    check_manifests,
    find_crd_dir,
    format_summary,
    gate_passed,
    load_crds,
    load_manifests,
    missing_libraries,
    validate_options,
)

ARGUMENT_SPEC = dict(
    src=dict(type="list", elements="path"),
    manifests=dict(type="list", elements="dict"),
    environment=dict(type="str", required=True, choices=list(ENVIRONMENTS)),
    kubernetes_versions=dict(type="list", elements="str", default=list(DEFAULT_KUBERNETES_VERSIONS)),
    crd_dir=dict(type="path"),
    fail_on_findings=dict(type="bool", default=True),
)


def run_gate(module):
    """Read the manifests, run every check and exit; nothing is changed, in check mode or not."""
    for library, error in missing_libraries():
        module.fail_json(msg=missing_required_lib(library), exception=error)
    params = module.params
    crd_dir = params["crd_dir"] or find_crd_dir()
    if crd_dir is None:
        module.fail_json(msg="cannot find the deploy/crds directory of the nl2api.deploy collection; set crd_dir")
    try:
        options = validate_options(GateOptions(params["environment"], tuple(params["kubernetes_versions"]), crd_dir))
        manifests = load_manifests(params["src"] or [])
        manifests.extend(params["manifests"] or [])
        findings = check_manifests(manifests, options, load_crds(crd_dir))
    except GateError as exc:
        module.fail_json(msg="deploy gate could not run: %s" % exc)
    result = dict(
        changed=False,
        findings=[f.to_dict() for f in findings],
        objects_checked=len(manifests),
        passed=gate_passed(findings),
        summary=format_summary(len(manifests), findings, options),
    )
    if params["fail_on_findings"] and not result["passed"]:
        failures = [f.format() for f in findings if f.is_failure]
        module.fail_json(msg="%s: %s" % (result["summary"], "; ".join(failures[:20])), **result)
    module.exit_json(**result)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_one_of=[("src", "manifests")], supports_check_mode=True)
    run_gate(module)


if __name__ == "__main__":
    main()
