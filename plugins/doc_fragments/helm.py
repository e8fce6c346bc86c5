# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods
    """How the collection's helm-running modules find helm and reach the cluster.

    The option names, aliases and environment fallbacks are those of kubernetes.core's helm modules, so one
    module_defaults entry can serve both."""

    DOCUMENTATION = r"""
options:
  binary_path:
    description:
      - Path of the helm executable. When not set, C(helm) is looked up on C(PATH).
    type: path
  kubeconfig:
    description:
      - Path of the kubeconfig file helm uses (C(--kubeconfig)), or the kubeconfig itself as a dictionary (written to
        a private temporary file for the run and removed afterwards; its credentials are kept out of the output).
      - When not set, the value of the environment variable C(K8S_AUTH_KUBECONFIG) is used, else helm's own default
        (C(KUBECONFIG), then C(~/.kube/config)).
    type: raw
    aliases: [kubeconfig_path]
  context:
    description:
      - The kubeconfig context helm uses (C(--kube-context)).
      - When not set, the value of the environment variable C(K8S_AUTH_CONTEXT) is used, else the kubeconfig's
        current context.
    type: str
    aliases: [kube_context]
  host:
    description:
      - URL of the Kubernetes API server (C(--kube-apiserver)). Can also be set with C(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. Passed to helm in the environment (C(HELM_KUBETOKEN)), never on its command
        line. Can also be set with C(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - CA certificate file to verify the API server with (C(--kube-ca-file)). Can also be set with
        C(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Verify the API server's certificate. V(false) passes C(--kube-insecure-skip-tls-verify); only for test
        clusters. Can also be set with C(K8S_AUTH_VERIFY_SSL).
    type: bool
    default: true
    aliases: [verify_ssl]
requirements:
  - helm >= 3.10 (the C(helm) executable, on the host that runs the module)
"""
