# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A compliant nl2api manifest set, built in Python, for the deploy gate tests (no tests here).

Every builder returns a fresh dict, so a test mutates its own copy. Importing this module warms the gate's caches
(CRDs, schema validators): ansible-test units runs each test in a forked process, so what a test caches is lost.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import copy
import os
from typing import Any, Dict, List

from ansible_collections.nl2api.deploy.plugins.module_utils.deploy_gate import gate

NS = "nl2api"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CRD_DIR = os.path.join(REPO_ROOT, "deploy", "crds")


def labels(component: str) -> Dict[str, str]:
    return {
        "app.kubernetes.io/name": "nl2api",
        "app.kubernetes.io/instance": "nl2api",
        "app.kubernetes.io/component": component,
    }


def metadata(name: str, component: str = "api", namespace: str = NS) -> Dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(component)}


def container_security_context() -> Dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security_context() -> Dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources() -> Dict[str, Any]:
    return {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def api_deployment() -> Dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata("nl2api-api"),
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels("api")},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels("api"), "annotations": {"checksum/config": "0" * 64}},
                "spec": {
                    "serviceAccountName": "nl2api",
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 40,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": "api",
                            "image": "registry.example.com/nl2api/api:1.4.2",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "envFrom": [{"configMapRef": {"name": "nl2api-config"}}],
                            "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "nl2api-db", "key": "url"}}}],
                            "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": "http"}, "periodSeconds": 5},
                            "livenessProbe": {"httpGet": {"path": "/healthz/live", "port": "http"}, "periodSeconds": 10},
                            "lifecycle": {"preStop": {"sleep": {"seconds": 10}}},
                            "resources": resources(),
                            "securityContext": container_security_context(),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def worker_deployment() -> Dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata("nl2api-worker", "worker"),
        "spec": {
            "selector": {"matchLabels": labels("worker")},
            "template": {
                "metadata": {"labels": labels("worker")},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": "worker",
                            "image": "registry.example.com/nl2api/worker:1.4.2",
                            "args": ["worker", "--queue", "evaluations"],
                            "livenessProbe": {"exec": {"command": ["nl2api", "worker-healthcheck"]}, "periodSeconds": 30},
                            "resources": resources(),
                            "securityContext": container_security_context(),
                        }
                    ],
                },
            },
        },
    }


def api_service() -> Dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata("nl2api-api"),
        "spec": {"type": "ClusterIP", "selector": labels("api"), "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def config_map() -> Dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("nl2api-config"), "data": {"LOG_LEVEL": "info"}}


def service_account() -> Dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata("nl2api"), "automountServiceAccountToken": False}


def api_pdb() -> Dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata("nl2api-api"),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels("api")}},
    }


def worker_pdb() -> Dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata("nl2api-worker", "worker"),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels("worker")}},
    }


def api_hpa() -> Dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata("nl2api-api"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nl2api-api"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }


def worker_scaled_object() -> Dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata("nl2api-worker", "worker"),
        "spec": {
            "scaleTargetRef": {"name": "nl2api-worker"},
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": 1,
            "maxReplicaCount": 20,
            "triggers": [
                {
                    "type": "redis",
                    "metadata": {"address": "nl2api-redis:6379", "listName": "evaluations", "listLength": "10"},
                    "authenticationRef": {"name": "nl2api-redis"},
                }
            ],
        },
    }


def trigger_authentication() -> Dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": metadata("nl2api-redis", "worker"),
        "spec": {"secretTargetRef": [{"parameter": "password", "name": "nl2api-redis", "key": "password"}]},
    }


def secret_store() -> Dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": metadata("nl2api", "secrets"),
        "spec": {
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": "eu-west-1",
                    "auth": {"jwt": {"serviceAccountRef": {"name": "nl2api"}}},
                }
            }
        },
    }


def external_secret() -> Dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata("nl2api-db", "secrets"),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "SecretStore", "name": "nl2api"},
            "target": {"name": "nl2api-db", "creationPolicy": "Owner"},
            "data": [{"secretKey": "url", "remoteRef": {"key": "nl2api/prod/db", "property": "url"}}],
        },
    }


def service_monitor() -> Dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata("nl2api-api"),
        "spec": {
            "selector": {"matchLabels": labels("api")},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
        },
    }


def good_set() -> List[Dict[str, Any]]:
    """A compliant set: 14 objects, every check has something to look at."""
    return [
        service_account(),
        config_map(),
        api_deployment(),
        api_service(),
        api_pdb(),
        api_hpa(),
        worker_deployment(),
        worker_pdb(),
        worker_scaled_object(),
        trigger_authentication(),
        secret_store(),
        external_secret(),
        service_monitor(),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata("nl2api-api"),
            "spec": {"podSelector": {"matchLabels": labels("api")}, "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]},
        },
    ]


def find(manifests: List[Dict[str, Any]], kind: str, name: str) -> Dict[str, Any]:
    for obj in manifests:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError("%s/%s" % (kind, name))


def deepcopy(value: Any) -> Any:
    return copy.deepcopy(value)


def warm_gate_caches() -> None:
    """Load the vendored CRDs and build the validators the tests use, once per process, before any test forks."""
    manifests = good_set() + [{"apiVersion": "v1", "kind": "Secret", "metadata": metadata("warm"), "data": {"k": "dg=="}}]
    gate.check_manifests(manifests, gate.GateOptions("prod", ("1.31", "1.33", "1.35")), gate.load_crds(CRD_DIR))


warm_gate_caches()
