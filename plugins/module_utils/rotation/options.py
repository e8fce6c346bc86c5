# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of nl2api.deploy.credential_rotation and every check of them that needs no connection: one set of
rules for the module (before it rotates anything, and with ``validate_only``) and for the rotation role, which runs
:func:`problems_of` on the controller for every selected credential through the ``rotation_problems`` filter.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

from typing import Any, Dict, List, Mapping, Optional

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nl2api.deploy.plugins.module_utils._common import mask
from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import aws_rules, aws_suboptions
from ansible_collections.nl2api.deploy.plugins.module_utils.redis_connection import (
    REDIS_REQUIRED_TOGETHER,
    redis_argument_spec,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.consumers import (
    CONSUMER_TYPES,
    check_options,
    validate_delivery,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    DEFAULT_ALPHABET,
    MIN_PASSWORD_LENGTH,
    RotationError,
    StateStore,
    build_alphabet,
    parse_duration,
    parse_max_age,
)

ENGINES = ("postgres", "redis_acl", "elasticache", "azure_redis")
#: engine -> the option holding its settings
ENGINE_OPTIONS = {"postgres": "postgres", "redis_acl": "redis", "elasticache": "elasticache",
                  "azure_redis": "azure_redis"}


def _redis_options() -> dict:
    spec = redis_argument_spec()
    spec.update(acl_user=dict(type="str", required=True),
                persist=dict(type="str", default="auto", choices=["auto", "aclfile", "config_rewrite", "none"]))
    return spec


def _test_connection_options(port: int) -> dict:
    """The options of the Redis connection test_secret makes to a cloud cache (elasticache, azure_redis)."""
    return dict(
        port=dict(type="int", default=port),
        tls=dict(type="bool", default=True),
        ca_file=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        connect_timeout=dict(type="float", default=5.0),
    )


def redis_test_connection(settings: Mapping[str, Any], host: str, default_port: int) -> Dict[str, Any]:
    """The connection test_secret makes to ``host`` from those options (redis.py's password_login_params keys);
    unset options take the spec's defaults, so a backend built without the module gets the same."""
    return {
        "host": host,
        "port": settings.get("port") or default_port,
        "tls": True if settings.get("tls") is None else settings.get("tls"),
        "ca_file": settings.get("ca_file"),
        "validate_certs": settings.get("validate_certs", True),
        "connect_timeout": settings.get("connect_timeout"),
    }


#: The together/exclusive rules of the engine options: the engine's own option is required, the others' excluded.
ENGINE_RULES = dict(
    required_if=[["engine", engine, [option]] for engine, option in ENGINE_OPTIONS.items()],
    mutually_exclusive=[list(ENGINE_OPTIONS.values())],
)

ARGUMENT_SPEC = dict(
    credential=dict(type="str", required=True),
    engine=dict(type="str", required=True, choices=list(ENGINES)),
    state_dir=dict(type="path", required=True),
    max_age=dict(type="str", default="30d"),
    revoke_delay=dict(type="str", default="0s"),
    force=dict(type="bool", default=False),
    validate_only=dict(type="bool", default=False),
    password_length=dict(type="int", default=40, no_log=False),
    password_alphabet=dict(type="str", default=DEFAULT_ALPHABET, no_log=False),
    password_symbols=dict(type="str", default="", no_log=False),
    postgres=dict(type="dict", options=dict(
        host=dict(type="str"),
        port=dict(type="int", default=5432),
        admin_user=dict(type="str"),
        admin_password=dict(type="str", no_log=True),
        database=dict(type="str", default="postgres"),
        sslmode=dict(type="str", default="verify-full",
                     choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        ca_file=dict(type="path"),
        connect_timeout=dict(type="int", default=10),
        group_role=dict(type="str", required=True),
        login_roles=dict(type="list", elements="str", required=True),
        owner_role=dict(type="str"),
    )),
    redis=dict(type="dict", options=_redis_options(), required_together=REDIS_REQUIRED_TOGETHER),
    # The AWS connection options are aws_client's (aliases included) without its validate_certs: the block's own
    # validate_certs is the Redis test connection's.
    elasticache=dict(type="dict", options=dict(
        replication_group_id=dict(type="str", required=True),
        **aws_suboptions(),
        wait_timeout=dict(type="int", default=1800),
        host=dict(type="str", required=True),
        **_test_connection_options(6379),
    ), **aws_rules()),
    azure_redis=dict(type="dict", options=dict(
        subscription_id=dict(type="str", required=True),
        resource_group=dict(type="str", required=True),
        name=dict(type="str", required=True),
        api_version=dict(type="str", default="2024-11-01"),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_ACCESS_TOKEN"])),
        arm_endpoint=dict(type="str", default="https://management.azure.com"),
        host=dict(type="str"),
        **_test_connection_options(6380),
    )),
    consumers=dict(type="list", elements="dict", required=True, options=dict(
        type=dict(type="str", required=True, choices=list(CONSUMER_TYPES)),
        keys=dict(type="dict", no_log=False),
        url_keys=dict(type="dict", no_log=False),
        path=dict(type="path"),
        name=dict(type="str"),
        namespace=dict(type="str"),
        kubeconfig=dict(type="path"),
        context=dict(type="str"),
        secret_id=dict(type="str", no_log=False),
        **aws_suboptions(),
        create=dict(type="bool", default=False),
        vault_url=dict(type="str"),
        token=dict(type="str", no_log=True),
    ), **aws_rules()),
    rollouts=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        kubeconfig=dict(type="path"),
        context=dict(type="str"),
        timeout=dict(type="int", default=600),
    )),
    keda_refresh=dict(type="list", elements="dict", default=[], options=dict(
        kind=dict(type="str", required=True,
                  choices=["ScaledObject", "TriggerAuthentication", "ClusterTriggerAuthentication"]),
        name=dict(type="str", required=True),
        namespace=dict(type="str"),
        kubeconfig=dict(type="path"),
        context=dict(type="str"),
    )),
)


def _problem(check: Any, *args: Any) -> Optional[str]:
    """The message of the RotationError ``check(*args)`` raises, or None; the value it returns is dropped."""
    try:
        check(*args)
    except RotationError as exc:
        return "%s" % exc
    return None


def check_password_length(length: int) -> None:
    if length < MIN_PASSWORD_LENGTH:
        raise RotationError("password_length must be at least %d, got %d" % (MIN_PASSWORD_LENGTH, length))


def check_engine_settings(engine: str, settings: Optional[Mapping[str, Any]]) -> None:
    """The checks of the engine's own option that need no connection (roles, ACL user)."""
    if settings is None:
        return  # ENGINE_RULES (required_if) names the missing option
    if engine == "postgres":
        from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import postgres
        postgres.validate_params(settings)
    elif engine == "redis_acl":
        from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import redis
        redis.RedisAclBackend(settings)  # validates; connects only when used


def option_problems(params: Mapping[str, Any]) -> List[str]:
    """Every problem of the options that can be found without connecting, each message naming its option."""
    checks = [
        (check_engine_settings, params["engine"], params.get(ENGINE_OPTIONS[params["engine"]])),
        (check_password_length, params["password_length"]),
        (build_alphabet, params["password_alphabet"], params["password_symbols"]),
        (parse_max_age, params["max_age"]),
        (parse_duration, params["revoke_delay"], "revoke_delay"),
        (StateStore, params["state_dir"], params["credential"]),
    ]
    for index, spec in enumerate(params["consumers"] or []):
        where = "consumers[%d]" % index
        if spec.get("type") in CONSUMER_TYPES:
            checks.append((check_options, spec, spec["type"], where))
        checks.append((validate_delivery, spec, where))
    problems = [_problem(check[0], *check[1:]) for check in checks]
    return [problem for problem in problems if problem]


def problems_of(arguments: Mapping[str, Any]) -> List[str]:
    """Every problem of a credential's module arguments, as the module would report them, without running it: the
    argument spec first (types, choices, required options), then :func:`option_problems`. Values of no_log options
    are masked in the messages."""
    result = ArgumentSpecValidator(ARGUMENT_SPEC, **ENGINE_RULES).validate(dict(arguments))
    secrets = list(getattr(result, "_no_log_values", ()) or ())
    if result.error_messages:
        return [mask(message, secrets) for message in result.error_messages]
    return [mask(problem, secrets) for problem in option_problems(result.validated_parameters)]
