# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared AWS plumbing for the collection's AWS modules (options documented in ``doc_fragments/aws_client.py``).

    from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import (
        AwsResource, aws_argument_spec, run_resource_module, wait_until)

    def main():
        run_resource_module(argument_spec(), validate, ReplicationGroup, "elasticache", "replication_group")

What lives here: the connection options (and their together/exclusive rules) and client creation (boto3's own
resolution of credentials, region and endpoint applies to every option left unset; :func:`aws_client` takes the
options as a mapping and raises :class:`AwsClientError`, so a module and the credential rotation use the same
code), botocore errors turned into one clear line with secrets masked, the resource module's main() shape
(:func:`run_resource_module`), a bounded poller and tag helpers (maintenance windows:
module_utils/maintenance_windows.py). Pure functions are unit-tested in
tests/unit/plugins/module_utils/test_aws_client.py.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import time
import traceback
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.nl2api.deploy.plugins.module_utils._common import fail_on_problems, mask, require_lib

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    boto3 = None
    Config = None
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = traceback.format_exc()

    class BotoCoreError(Exception):  # type: ignore[no-redef]
        """Stand-in so ``except BotoCoreError`` still parses without botocore."""

    class ClientError(Exception):  # type: ignore[no-redef]
        """Stand-in so ``except ClientError`` still parses without botocore."""

USER_AGENT = "nl2api.deploy"


def aws_argument_spec() -> Dict[str, Dict[str, Any]]:
    """Argument spec of the shared connection options; aliases follow amazon.aws's. Options left unset are ``None``
    and boto3 resolves them itself (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL, ~/.aws/config ...)."""
    return dict(
        region=dict(type="str", aliases=["aws_region", "ec2_region"],
                    fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
        endpoint_url=dict(type="str", aliases=["aws_endpoint_url", "ec2_url"]),
        profile=dict(type="str", aliases=["aws_profile"]),
        access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=False),
        secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True),
        session_token=dict(type="str", aliases=["aws_session_token", "security_token"], no_log=True),
        validate_certs=dict(type="bool", default=True),
    )


def aws_tags_spec() -> Dict[str, Dict[str, Any]]:
    """Argument spec of ``tags`` and ``purge_tags`` (doc fragment nl2api.deploy.aws_client.tags; see tag_changes)."""
    return dict(tags=dict(type="dict"), purge_tags=dict(type="bool", default=True))


def aws_suboptions() -> Dict[str, Dict[str, Any]]:
    """The connection options as the suboptions of an option of type dict, a block of a module that is not only
    AWS's (credential_rotation's ``elasticache`` and ``consumers[]``): :func:`aws_argument_spec` without
    ``validate_certs`` (the block may have its own, for another connection; the AWS API's certificate is then
    always verified) and without the environment fallback of ``region`` (boto3 reads AWS_REGION itself, and a list
    of blocks must not get a region in its entries that are not AWS's)."""
    spec = aws_argument_spec()
    del spec["validate_certs"]
    del spec["region"]["fallback"]
    return spec


#: For AnsibleModule(required_together=...) and suboption specs.
AWS_REQUIRED_TOGETHER = [("access_key", "secret_key")]
#: For AnsibleModule(mutually_exclusive=...) and suboption specs.
AWS_MUTUALLY_EXCLUSIVE = [("profile", "access_key"), ("profile", "session_token")]
#: For AnsibleModule(required_by=...) and suboption specs: temporary credentials are a key pair plus a token.
AWS_REQUIRED_BY = {"session_token": ("access_key", "secret_key")}


def aws_rules() -> Dict[str, Any]:
    """The together/exclusive rules of the connection options, as keyword arguments of AnsibleModule or of an
    option of type dict (``dict(type="dict", options=aws_argument_spec(), **aws_rules())``)."""
    return dict(required_together=[list(pair) for pair in AWS_REQUIRED_TOGETHER],
                mutually_exclusive=[list(pair) for pair in AWS_MUTUALLY_EXCLUSIVE],
                required_by={key: list(value) for key, value in AWS_REQUIRED_BY.items()})


class AwsClientError(Exception):
    """No AWS client could be made (boto3 missing, no region, bad options); str() is one line, secrets masked."""


def require_boto3(module: Any) -> None:
    """Fail the module with Ansible's standard message when boto3/botocore are missing."""
    try:
        require_lib(HAS_BOTO3, "boto3 and botocore", AwsClientError)
    except AwsClientError as exc:
        module.fail_json(msg=str(exc), exception=BOTO3_IMPORT_ERROR)


def aws_session(params: Mapping[str, Any]) -> Any:
    """A boto3 session from the connection options; options left unset fall back on boto3's own resolution."""
    kwargs = {}
    for option, name in (("access_key", "aws_access_key_id"), ("secret_key", "aws_secret_access_key"),
                         ("session_token", "aws_session_token"), ("profile", "profile_name"),
                         ("region", "region_name")):
        if params.get(option):
            kwargs[name] = params[option]
    return boto3.session.Session(**kwargs)


def aws_client(params: Mapping[str, Any], service: str) -> Any:
    """A boto3 client for ``service`` from the connection options ``params`` (those of :func:`aws_argument_spec`;
    ``validate_certs`` left out means true). AwsClientError (one line, no secret) when it cannot be made."""
    require_lib(HAS_BOTO3, "boto3 and botocore", AwsClientError)
    try:
        session = aws_session(params)
        if not session.region_name:
            raise AwsClientError("No AWS region: set the region option (or AWS_REGION / AWS_DEFAULT_REGION).")
        config = Config(user_agent_extra=USER_AGENT, retries={"mode": "standard", "max_attempts": 5})
        kwargs = dict(config=config, verify=params.get("validate_certs", True))
        if params.get("endpoint_url"):
            kwargs["endpoint_url"] = params["endpoint_url"]
        return session.client(service, **kwargs)
    except (BotoCoreError, ClientError, ValueError) as exc:
        raise AwsClientError("Cannot create the AWS %s client: %s"
                             % (service, mask(exc, secrets_of(params)))) from None


def module_client(module: Any, service: str) -> Any:
    """:func:`aws_client` from the module's options; AwsClientError fails the module with its message (no
    traceback). The one place the AWS modules turn a client error into a failure."""
    try:
        return aws_client(module.params, service)
    except AwsClientError as exc:
        module.fail_json(msg=str(exc))
    return None  # not reached: fail_json exits


def region_of(client: Any) -> str:
    """The region a client was made for."""
    return str(client.meta.region_name)


def secrets_of(params: Mapping[str, Any], extra: Iterable[Optional[str]] = ()) -> List[str]:
    """The secret values of the connection options plus ``extra``, to mask in messages."""
    values = [params.get("secret_key"), params.get("session_token")] + list(extra)
    return [value for value in values if value]


def error_code(exc: BaseException) -> Optional[str]:
    """The AWS error code of a ClientError (``ReplicationGroupNotFoundFault`` ...), else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


class AwsCallError(Exception):
    """An AWS call failed; str() is one line naming the operation, the AWS error code and message."""

    def __init__(self, action: str, exc: BaseException, secrets: Iterable[str] = ()) -> None:
        self.action = action
        self.code = error_code(exc)
        response = getattr(exc, "response", None) or {}
        message = response.get("Error", {}).get("Message") if isinstance(response, dict) else None
        request_id = response.get("ResponseMetadata", {}).get("RequestId") if isinstance(response, dict) else None
        text = "%s: %s" % (self.code, message) if self.code else str(exc)
        if request_id:
            text += " (request id %s)" % request_id
        super().__init__(mask("%s failed: %s" % (action, text), secrets))


def call(client: Any, operation: str, secrets: Iterable[str] = (), **kwargs: Any) -> Dict[str, Any]:
    """``client.<operation>(**kwargs)``; botocore errors become AwsCallError with secrets masked."""
    try:
        return getattr(client, operation)(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise AwsCallError(operation, exc, secrets) from None


class AwsResource(object):
    """One AWS resource a module converges. Reads go through call(); changing calls through mutate(), which records
    them in actions (so changed is exactly "a changing call was made") and skips them in check mode. Subclasses
    implement present() and absent(), each returning (before, after)."""

    def __init__(self, module: Any, client: Any, extra_secrets: Iterable[Optional[str]] = ()) -> None:
        self.module = module
        self.params = module.params
        self.client = client
        self.secrets = secrets_of(module.params, extra_secrets)
        self.actions = []  # type: List[str]

    def call(self, operation: str, **kwargs: Any) -> Dict[str, Any]:
        return call(self.client, operation, self.secrets, **kwargs)

    def mutate(self, operation: str, **kwargs: Any) -> Dict[str, Any]:
        """A changing call: recorded in actions; skipped in check mode."""
        self.actions.append(operation)
        if self.module.check_mode:
            return {}
        return self.call(operation, **kwargs)

    def fail(self, msg: str, **extra: Any) -> None:
        self.module.fail_json(msg=msg, actions=self.actions, changed=bool(self.actions), **extra)

    def extra_result(self) -> Dict[str, Any]:
        """Return values of the module beyond changed, the resource, actions and diff (none by default)."""
        return {}


def aws_resource_module(argument_spec: Mapping[str, Any], validate: Callable[[Mapping[str, Any]], List[str]],
                        required_together: Sequence[Sequence[str]] = (),
                        required_if: Sequence[Sequence[Any]] = ()) -> Any:
    """The AnsibleModule of an AWS resource module: check mode, the shared credential rules and the module's own
    ``required_together`` / ``required_if``, the module's input checks (every problem listed, before any client
    exists) and boto3 present."""
    rules = aws_rules()
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_together=rules["required_together"] + [list(group) for group in required_together],
        mutually_exclusive=rules["mutually_exclusive"],
        required_by=rules["required_by"],
        required_if=[list(rule) for rule in required_if],
    )
    fail_on_problems(module, validate(module.params))
    require_boto3(module)
    return module


def run_resource_module(argument_spec: Mapping[str, Any], validate: Callable[[Mapping[str, Any]], List[str]],
                        resource_class: Callable[[Any, Any], AwsResource], service: str, result_key: str,
                        hidden: Iterable[str] = (), required_if: Sequence[Sequence[Any]] = ()) -> None:
    """The whole main() of an AWS resource module: the module (:func:`aws_resource_module`), the ``service``
    client, ``resource_class(module, client)`` converged (:func:`converge`); exits the module."""
    module = aws_resource_module(argument_spec, validate, required_if=required_if)
    resource = resource_class(module, module_client(module, service))
    result = converge(module, resource, result_key, hidden)
    result.update(resource.extra_result())
    module.exit_json(**result)


def diff_view(state: Optional[Mapping[str, Any]], hidden: Iterable[str] = ()) -> Dict[str, Any]:
    """What a diff shows of a resource state: sorted keys, without those that churn or only identify it."""
    if not state:
        return {}
    hidden = set(hidden)
    return {key: value for key, value in sorted(state.items()) if key not in hidden}


def converge(module: Any, resource: AwsResource, result_key: str, hidden: Iterable[str] = ()) -> Dict[str, Any]:
    """Run resource.present() or .absent() by the state option and build the module result (changed, the resource
    under result_key, actions, diff). An AWS error fails the module with the changing calls made so far."""
    try:
        before, after = resource.present() if module.params["state"] == "present" else resource.absent()
    except AwsCallError as exc:
        resource.fail(str(exc), error_code=exc.code)
    result = {"changed": bool(resource.actions), result_key: after, "actions": resource.actions}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = dict(before=diff_view(before, hidden), after=diff_view(after, hidden))
    return result


class WaitTimeout(Exception):
    """wait_until gave up; str() names what was awaited, the timeout and the last state seen."""


def wait_until(check: Callable[[], Tuple[bool, Any]], what: str, timeout: float, delay: float = 15.0,
               sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> Any:
    """Call ``check`` (-> (done, state)) every ``delay`` seconds until done or ``timeout`` seconds have passed
    (WaitTimeout). The first check is immediate; the last one happens at the deadline at the latest."""
    deadline = clock() + max(float(timeout), 0.0)
    while True:
        done, state = check()
        if done:
            return state
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout("timed out after %ss waiting for %s (last state: %s)" % (int(timeout), what, state))
        sleep(min(delay, remaining))


def tags_to_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> List[Dict[str, str]]:
    """{"a": "b"} -> [{"Key": "a", "Value": "b"}], sorted by key."""
    return [{key: str(k), value: str(v)} for k, v in sorted(tags.items())]


def tags_from_list(tags: Optional[Sequence[Mapping[str, str]]], key: str = "Key",
                   value: str = "Value") -> Dict[str, str]:
    """[{"Key": "a", "Value": "b"}] -> {"a": "b"}."""
    return {item[key]: item.get(value, "") for item in tags or []}


def tag_changes(current: Mapping[str, str], desired: Optional[Mapping[str, str]],
                purge: bool) -> Tuple[Dict[str, str], List[str]]:
    """(tags to set, tag keys to remove) to go from ``current`` to ``desired``; desired None manages no tag.
    Keys starting with ``aws:`` belong to AWS and are never removed."""
    if desired is None:
        return {}, []
    to_set = {k: str(v) for k, v in desired.items() if current.get(k) != str(v)}
    to_remove = sorted(k for k in current if k not in desired and not k.startswith("aws:")) if purge else []
    return to_set, to_remove


def merged_tags(current: Mapping[str, str], desired: Optional[Mapping[str, str]], purge: bool) -> Dict[str, str]:
    """The tags after applying tag_changes (for diffs and check mode)."""
    to_set, to_remove = tag_changes(current, desired, purge)
    result = {k: v for k, v in current.items() if k not in to_remove}
    result.update(to_set)
    return dict(sorted(result.items()))
