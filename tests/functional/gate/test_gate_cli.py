"""bin/nl2api-gate as a subprocess: exit status, finding lines, summary, stdin, helm rendering."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.ansible_cli import find_helm

REPO_ROOT = Path(__file__).resolve().parents[3]
GATE = REPO_ROOT / "bin" / "nl2api-gate"

GOOD = """\
# Source: nl2api/templates/api/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nl2api-api
  namespace: nl2api
  labels: {app.kubernetes.io/name: nl2api, app.kubernetes.io/component: api}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: nl2api, app.kubernetes.io/component: api}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  template:
    metadata:
      labels: {app.kubernetes.io/name: nl2api, app.kubernetes.io/component: api}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: api
          image: registry.example.com/nl2api/api:1.4.2
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe: {httpGet: {path: /healthz/ready, port: http}}
          livenessProbe: {httpGet: {path: /healthz/live, port: http}}
          lifecycle:
            preStop: {sleep: {seconds: 10}}
          resources:
            requests: {cpu: 250m, memory: 256Mi}
            limits: {cpu: "1", memory: 512Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: nl2api-api, namespace: nl2api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: nl2api-api}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: nl2api-api, namespace: nl2api}
spec:
  minAvailable: 1
  selector:
    matchLabels: {app.kubernetes.io/name: nl2api, app.kubernetes.io/component: api}
---
apiVersion: v1
kind: Service
metadata: {name: nl2api-api, namespace: nl2api}
spec:
  selector: {app.kubernetes.io/name: nl2api, app.kubernetes.io/component: api}
  ports:
    - {name: http, port: 80, targetPort: http}
"""

WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nl2api-worker
  namespace: nl2api
  labels: {app.kubernetes.io/name: nl2api, app.kubernetes.io/component: worker}
spec:
  selector:
    matchLabels: {app.kubernetes.io/component: worker}
  template:
    metadata:
      labels: {app.kubernetes.io/component: worker}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        # nl2api's worker serves nothing and writes no file: no probe at all.
        - name: worker
          image: registry.example.com/nl2api/worker:1.4.2
          command: [nl2api-run, --, python, -m, src.evalkit.distributed]
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: nl2api-worker, namespace: nl2api}
spec:
  scaleTargetRef: {name: nl2api-worker}
  minReplicaCount: 1
  maxReplicaCount: 10
  triggers:
    - type: redis-streams
      metadata: {address: "nl2api-redis:6379", stream: "eval:tasks:0b7e3c1e-1111-4222-8333-444455556666",
                 consumerGroup: eval-workers, lagCount: "5"}
      authenticationRef: {name: nl2api-redis}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: nl2api-redis, namespace: nl2api}
spec:
  secretTargetRef:
    - {parameter: password, name: nl2api-redis, key: password}
"""

RUN_AS_ROOT_LINE = ("FAIL Deployment/nl2api/nl2api-api spec.template.spec.containers[api].securityContext.runAsNonRoot:"
                    " must be true (restricted pod security)")


def gate(*args: str, stdin: str | None = None, executable: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(GATE), *args] if executable else [sys.executable, str(GATE), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, check=False)


@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    (tmp_path / "api.yaml").write_text(GOOD)
    (tmp_path / "worker.yml").write_text(WORKER)
    return tmp_path


def test_good_manifests_pass(good_dir: Path) -> None:
    result = gate("--env", "prod", str(good_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "gate: 7 objects, 0 failures (env=prod, kubernetes 1.31,1.35)\n"


def test_a_serving_container_without_probes_fails(good_dir: Path) -> None:
    """The worker passes without probes because it has no ports; a container with ports still needs both."""
    worker = WORKER.replace("          command: [nl2api-run, --, python, -m, src.evalkit.distributed]\n",
                            "          command: [nl2api-run, --, python, -m, src.evalkit.distributed]\n"
                            "          ports: [{name: http, containerPort: 8080}]\n")
    (good_dir / "worker.yml").write_text(worker)
    result = gate("--env", "prod", str(good_dir))
    assert result.returncode == 1
    assert [line.split(": ", 1)[0] for line in result.stdout.splitlines()[:-1]] == [
        "FAIL Deployment/nl2api/nl2api-worker spec.template.spec.containers[worker].livenessProbe",
        "FAIL Deployment/nl2api/nl2api-worker spec.template.spec.containers[worker].readinessProbe"]


def test_script_runs_directly_through_its_shebang(good_dir: Path) -> None:
    result = gate("--env", "prod", str(good_dir / "api.yaml"), str(good_dir / "worker.yml"), executable=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_failures_are_printed_one_per_line_and_exit_1(tmp_path: Path) -> None:
    bad = GOOD.replace("        runAsNonRoot: true\n", "")
    (tmp_path / "bad.yaml").write_text(bad)
    result = gate("--env", "prod", str(tmp_path / "bad.yaml"))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [RUN_AS_ROOT_LINE, "gate: 4 objects, 1 failures (env=prod, kubernetes 1.31,1.35)"]


def test_stdin_is_read_with_a_dash() -> None:
    bad = GOOD.replace("api:1.4.2", "api:latest")
    result = gate("--env", "staging", "--kube-version", "1.33", "-", stdin=bad)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "FAIL Deployment/nl2api/nl2api-api spec.template.spec.containers[api].image: image registry.example.com/nl2api/api:latest"
        " uses the latest tag: pin a version tag or a digest in staging",
        "gate: 4 objects, 1 failures (env=staging, kubernetes 1.33)",
    ]
    assert gate("--env", "dev", "-", stdin=bad).returncode == 0


def test_schema_failures_name_the_versions(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(GOOD.replace("  minReplicas: 2", "  minReplicas: 2\n  minReplica: 2"))
    result = gate("--env", "dev", str(tmp_path))
    assert result.returncode == 1
    assert ('FAIL HorizontalPodAutoscaler/nl2api/nl2api-api spec.minReplica: unknown field "minReplica"'
            " (strict schema, kubernetes 1.31, 1.35)") in result.stdout.splitlines()


def test_warnings_do_not_fail_and_quiet_hides_them(good_dir: Path) -> None:
    (good_dir / "worker.yml").unlink()
    (good_dir / "orphan.yaml").write_text(WORKER.split("---\n", 1)[1])
    result = gate("--env", "prod", str(good_dir))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("WARN ScaledObject/nl2api/nl2api-worker spec.scaleTargetRef.name: target")
    assert result.stdout.splitlines()[-1] == "gate: 6 objects, 0 failures, 1 warnings (env=prod, kubernetes 1.31,1.35)"
    assert gate("--env", "prod", "--quiet", str(good_dir)).stdout.splitlines() == [result.stdout.splitlines()[-1]]


@pytest.mark.parametrize("args,message", [
    (["--env", "prod", "/nonexistent/manifests.yaml"], "nl2api-gate: /nonexistent/manifests.yaml: no such file or directory"),
    (["--env", "prod", "--kube-version", "1.99", "-"], "no schemas for Kubernetes 1.99"),
    (["--env", "prod", "--crd-dir", "/nonexistent/crds", "-"], "/nonexistent/crds: CRD directory not found"),
    (["--env", "production", "-"], "invalid choice: 'production'"),
    (["--env", "prod"], "give at least one PATH"),
    (["--env", "prod", "--values", "v.yaml", "-"], "--values and --set need --helm-chart"),
])
def test_usage_and_input_errors_exit_2(args: list[str], message: str) -> None:
    result = gate(*args, stdin="")
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_invalid_yaml_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [Deployment\n")
    result = gate("--env", "prod", str(tmp_path))
    assert result.returncode == 2 and "broken.yaml: invalid YAML" in result.stderr


CHART_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-worker
  namespace: {{ .Release.Namespace }}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/component: worker}
  template:
    metadata:
      labels: {app.kubernetes.io/component: worker}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: worker
          image: "registry.example.com/nl2api/worker:{{ .Values.tag }}"
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    find_helm()  # bin/nl2api-gate runs helm itself: fail here, with what to install, when there is none
    root = tmp_path / "chart"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: mini\nversion: 0.1.0\n")
    (root / "values.yaml").write_text("tag: 1.4.2\n")
    (root / "templates" / "deployment.yaml").write_text(CHART_DEPLOYMENT)
    return root


def test_helm_chart_is_rendered_then_checked(chart: Path, tmp_path: Path) -> None:
    result = gate("--env", "prod", "--helm-chart", str(chart), "--namespace", "nl2api")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "gate: 1 objects, 0 failures (env=prod, kubernetes 1.31,1.35)\n"
    (tmp_path / "prod.yaml").write_text("tag: latest\n")
    result = gate("--env", "prod", "--helm-chart", str(chart), "--values", str(tmp_path / "prod.yaml"), "--release-name", "r")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("FAIL Deployment/nl2api/r-worker spec.template.spec.containers[worker].image: ")
    result = gate("--env", "prod", "--helm-chart", str(chart), "--set", "tag=latest")
    assert result.returncode == 1


def test_helm_render_errors_exit_2(chart: Path) -> None:
    (chart / "templates" / "broken.yaml").write_text("{{ .Values.missing.deeper }}\n")
    result = gate("--env", "prod", "--helm-chart", str(chart))
    assert result.returncode == 2 and "helm template failed" in result.stderr


def test_missing_python_libraries_exit_2_with_advice(tmp_path: Path) -> None:
    (tmp_path / "yaml.py").write_text("raise ImportError('PyYAML hidden for this test')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), NL2API_GATE_REEXEC="1")
    result = subprocess.run([sys.executable, str(GATE), "--env", "prod", "-"], input="", capture_output=True, text=True,
                            timeout=60, env=env, check=False)
    assert result.returncode == 2
    assert "missing Python libraries: PyYAML" in result.stderr
