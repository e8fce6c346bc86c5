# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consumers of a rotated credential: what every type delivers, the ``file`` type, and the dispatcher.

Every consumer type delivers the same outputs, computed here once (:func:`delivered_values`):

* ``keys``: output key -> credential field (``username`` or ``password``), the raw values;
* ``url_keys``: output key -> URL template, filled with the percent-encoded credential (see ``urls.py``).

At least one of them is set; an output key is in only one of them. The primary consumer's credential in use is
read back (:func:`read_back`) from its raw keys, or from the user info of one of its URLs.

The ``file`` consumer writes a directory laid out the way the kubelet presents a mounted Secret volume, so a process
that watches a real mounted Secret watches this the same way::

    <path>/..data -> ..2026_01_31_12_00_00.123456789     (relative symlink, swapped atomically)
    <path>/..2026_01_31_12_00_00.123456789/<key>         (regular files, 0600, directory 0700)
    <path>/<key> -> ..data/<key>                          (one symlink per key)

A new credential goes into a new timestamped directory; ``..data`` is then replaced with one rename of a fresh
symlink, so a reader sees either every old value or every new one. Files of the old directory that are not among
the outputs are carried over; the old directory is removed afterwards.

Other types are built by ``kubernetes`` (kubernetes_secret), ``aws`` (aws_secretsmanager) and ``azure``
(azure_keyvault), imported only when such a consumer is asked for.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.nl2api.deploy.plugins.module_utils._common import fsync_dir
from ansible_collections.nl2api.deploy.plugins.module_utils.aws_client import aws_suboptions
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    CREDENTIAL_FIELDS,
    Consumer,
    Credential,
    Refresher,
    RotationError,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.urls import (
    build_url,
    credential_of_url,
    validate_template,
)

CONSUMER_TYPES = ("file", "kubernetes_secret", "aws_secretsmanager", "azure_keyvault")
#: Type options of each consumer type (besides ``type``, ``keys`` and ``url_keys``), for "does not apply" errors.
CONSUMER_OPTIONS = {
    "file": ("path",),
    "kubernetes_secret": ("name", "namespace", "kubeconfig", "context"),
    "aws_secretsmanager": ("secret_id", "create") + tuple(aws_suboptions()),
    "azure_keyvault": ("vault_url", "token"),
}
#: alias -> option, for the options with aliases (the AWS connection options): an entry holds both names.
OPTION_OF_ALIAS = dict((alias, name) for name, option in aws_suboptions().items()
                       for alias in option.get("aliases", ()))
DELIVERY_OPTIONS = ("keys", "url_keys")
REFRESHER_KINDS = ("rollout", "keda")
DATA_LINK = "..data"


# ------------------------------------------------------------------------------------------------ what is delivered


def validate_keys(keys: Any, where: str) -> Dict[str, str]:
    """``keys`` (output key -> credential field), possibly empty; RotationError naming ``<where>.keys``."""
    if keys in (None, {}):
        return {}
    if not isinstance(keys, Mapping):
        raise RotationError("%s.keys must map output keys to a credential field (%s), e.g. "
                            "{redis-username: username, redis-password: password}"
                            % (where, " or ".join(CREDENTIAL_FIELDS)))
    out = {}
    for key, field in keys.items():
        if field not in CREDENTIAL_FIELDS:
            raise RotationError("%s.keys.%s must be %s, got %r" % (where, key, " or ".join(CREDENTIAL_FIELDS), field))
        out["%s" % key] = field
    return out


def validate_url_keys(url_keys: Any, where: str) -> Dict[str, str]:
    """``url_keys`` (output key -> URL template), possibly empty; RotationError naming ``<where>.url_keys.<key>``."""
    if url_keys in (None, {}):
        return {}
    if not isinstance(url_keys, Mapping):
        raise RotationError("%s.url_keys must map output keys to URL templates, e.g. "
                            "{redis-url: 'rediss://{username}:{password}@host:6379/0'}" % where)
    return dict(("%s" % key, validate_template(template, "%s.url_keys.%s" % (where, key)))
                for key, template in url_keys.items())


def validate_delivery(spec: Mapping[str, Any], where: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """``(keys, url_keys)`` of one consumer entry: at least one output, each output key in one of them only."""
    keys = validate_keys(spec.get("keys"), where)
    url_keys = validate_url_keys(spec.get("url_keys"), where)
    if not keys and not url_keys:
        raise RotationError("%s needs keys (output key -> username or password) or url_keys (output key -> URL "
                            "template), at least one output" % where)
    both = sorted(set(keys) & set(url_keys))
    if both:
        raise RotationError("%s: %s in both keys and url_keys; an output key has one value" % (where, ", ".join(both)))
    return keys, url_keys


def output_keys(keys: Mapping[str, str], url_keys: Mapping[str, str]) -> List[str]:
    return list(keys) + list(url_keys)


def delivered_values(keys: Mapping[str, str], url_keys: Mapping[str, str], credential: Credential,
                     where: str) -> Dict[str, str]:
    """Output key -> value for ``credential``: the raw fields of ``keys``, the URLs of ``url_keys``."""
    values = {}
    for key, field in keys.items():
        value = credential.field(field)
        if value is None:
            raise RotationError("%s.keys.%s maps to the credential's %s, which this engine does not have"
                                % (where, key, field))
        values[key] = value
    for key, template in url_keys.items():
        try:
            values[key] = build_url(template, credential.username, credential.password)
        except RotationError as exc:
            raise RotationError("%s.url_keys.%s: %s" % (where, key, exc))
    return values


def read_back(keys: Mapping[str, str], url_keys: Mapping[str, str],
              data: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """``{username, password}`` delivered in ``data`` (output key -> value): from the raw keys, else from the first
    URL found; None when none of the outputs is there."""
    found = {}  # type: Dict[str, Any]
    for key, field in keys.items():
        if data.get(key) is not None:
            found[field] = data[key]
    for key in url_keys:
        if data.get(key) is not None:
            for field, value in credential_of_url("%s" % data[key]).items():
                if value is not None:
                    found.setdefault(field, value)
            break
    if not found:
        return None
    return {"username": found.get("username"), "password": found.get("password")}


def check_options(spec: Mapping[str, Any], kind: str, where: str) -> None:
    """RotationError when an option of another consumer type is set."""
    allowed = set(CONSUMER_OPTIONS.get(kind, ())) | {"type"} | set(DELIVERY_OPTIONS)
    given = set(name for name, value in spec.items() if value not in (None, [], {}))
    # An option given by an alias is also there under its own name: name it only as it was written.
    given -= set(OPTION_OF_ALIAS[alias] for alias in given if alias in OPTION_OF_ALIAS)
    stray = sorted(name for name in given if OPTION_OF_ALIAS.get(name, name) not in allowed)
    # ``create`` defaults to false in the module's spec: only true counts as set.
    stray = [name for name in stray if not (name == "create" and spec.get(name) is False)]
    if stray:
        raise RotationError("%s: option%s %s do%s not apply to type %s" % (
            where, "s" if len(stray) > 1 else "", ", ".join(stray), "" if len(stray) > 1 else "es", kind))


class FileConsumer(Consumer):
    """A directory laid out like a mounted Secret volume (see the module docstring)."""

    type = "file"

    def __init__(self, path: str, keys: Mapping[str, str], where: str = "consumers[0]",
                 url_keys: Optional[Mapping[str, str]] = None) -> None:
        if not path:
            raise RotationError("%s.path is required for type file" % where)
        self.path = os.path.abspath(os.path.expanduser(path))
        self.where = where
        self.keys, self.url_keys = validate_delivery(dict(keys=keys, url_keys=url_keys), where)
        for key in output_keys(self.keys, self.url_keys):
            if not key or "/" in key or key.startswith("..") or key in (".",):
                raise RotationError("%s: output key %r is not a valid file name (no '/', must not start with '..')"
                                    % (where, key))

    def describe(self) -> str:
        return "file:%s" % self.path

    def _data_dir(self) -> Optional[str]:
        link = os.path.join(self.path, DATA_LINK)
        if not os.path.islink(link):
            return None
        return os.path.join(self.path, os.readlink(link))

    def _read(self, key: str) -> Optional[str]:
        data_dir = self._data_dir()
        if data_dir is None:
            return None
        try:
            with open(os.path.join(data_dir, key), "r", encoding="utf-8") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_current(self) -> Optional[Dict[str, Any]]:
        data = dict((key, self._read(key)) for key in output_keys(self.keys, self.url_keys))
        return read_back(self.keys, self.url_keys, data)

    def _links_ok(self) -> bool:
        for key in output_keys(self.keys, self.url_keys):
            link = os.path.join(self.path, key)
            if not os.path.islink(link) or os.readlink(link) != os.path.join(DATA_LINK, key):
                return False
        return True

    def _up_to_date(self, wanted: Mapping[str, str]) -> bool:
        data_dir = self._data_dir()
        if data_dir is None or not os.path.isdir(data_dir):
            return False
        for key, value in wanted.items():
            target = os.path.join(data_dir, key)
            if self._read(key) != value or (os.stat(target).st_mode & 0o777) != 0o600:
                return False
        return self._links_ok()

    def _replace_link(self, name: str, target: str) -> None:
        tmp = os.path.join(self.path, ".%s.tmp-%d" % (name.lstrip("."), os.getpid()))
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, os.path.join(self.path, name))

    def write(self, credential: Credential, check_mode: bool) -> bool:
        wanted = delivered_values(self.keys, self.url_keys, credential, self.where)
        if os.path.isdir(self.path) and self._up_to_date(wanted):
            return False
        if check_mode:
            return True
        if not os.path.isdir(self.path):
            os.makedirs(self.path, 0o700)
        old_dir = self._data_dir()
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
        new_dir = tempfile.mkdtemp(prefix="..%s." % stamp, dir=self.path)  # mode 0700
        try:
            if old_dir is not None and os.path.isdir(old_dir):
                for name in os.listdir(old_dir):  # carry over keys this consumer does not manage
                    source = os.path.join(old_dir, name)
                    if name not in wanted and os.path.isfile(source) and not os.path.islink(source):
                        shutil.copy2(source, os.path.join(new_dir, name))
            for key, value in wanted.items():
                fd = os.open(os.path.join(new_dir, key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(value)
                    handle.flush()
                    os.fsync(handle.fileno())
            fsync_dir(new_dir)
            self._replace_link(DATA_LINK, os.path.basename(new_dir))
        except BaseException:
            shutil.rmtree(new_dir, ignore_errors=True)
            raise
        for key in wanted:
            link = os.path.join(self.path, key)
            if not (os.path.islink(link) and os.readlink(link) == os.path.join(DATA_LINK, key)):
                self._replace_link(key, os.path.join(DATA_LINK, key))
        fsync_dir(self.path)
        self._remove_stale(os.path.basename(new_dir))
        return True

    def _remove_stale(self, keep: str) -> None:
        """Remove the old data directories (``..<timestamp>.*``), including one left by a write that was killed
        before its swap, and temporary links; never ``..data`` or the directory it points to."""
        for name in os.listdir(self.path):
            full = os.path.join(self.path, name)
            if name == keep or name == DATA_LINK:
                continue
            if name.startswith("..") and name[2:3].isdigit() and os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            elif name.startswith(".") and ".tmp-" in name and os.path.islink(full):
                os.unlink(full)


def build_consumer(spec: Mapping[str, Any], where: str = "consumers[0]") -> FileConsumer:
    """The ``file`` consumer from one entry of the module's ``consumers``."""
    kind = spec.get("type")
    if kind != "file":
        raise RotationError("%s.type: consumers.build_consumer builds type file only, got %r" % (where, kind))
    check_options(spec, "file", where)
    return FileConsumer(spec.get("path"), spec.get("keys"), where, spec.get("url_keys"))


def build_consumers(specs: Sequence[Mapping[str, Any]]) -> List[Consumer]:
    """Every consumer of the module's ``consumers`` option, in order (the first is the primary one)."""
    if not specs:
        raise RotationError("consumers must list at least one consumer")
    consumers = []  # type: List[Consumer]
    for index, spec in enumerate(specs):
        where = "consumers[%d]" % index
        kind = spec.get("type")
        if kind not in CONSUMER_TYPES:
            raise RotationError("%s.type must be one of %s, got %r" % (where, ", ".join(CONSUMER_TYPES), kind))
        check_options(spec, kind, where)
        validate_delivery(spec, where)
        try:
            if kind == "file":
                consumers.append(build_consumer(spec, where))
            elif kind == "kubernetes_secret":
                from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import kubernetes
                consumers.append(kubernetes.build_consumer(spec, where=where))
            elif kind == "aws_secretsmanager":
                from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import aws
                consumers.append(aws.build_consumer(spec, where=where))
            else:
                from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import azure
                consumers.append(azure.build_consumer(spec, where=where))
        except ImportError as exc:
            raise RotationError("%s: type %s is not available: %s" % (where, kind, exc))
        except RotationError as exc:
            message = "%s" % exc
            if not message.startswith(where):
                message = "%s (type %s): %s" % (where, kind, message)
            raise RotationError(message)
    return consumers


def build_refreshers(rollouts: Optional[Sequence[Mapping[str, Any]]],
                     keda_refresh: Optional[Sequence[Mapping[str, Any]]]) -> List[Refresher]:
    """The refreshers of the module's ``rollouts`` then ``keda_refresh`` options, in that order."""
    entries = [("rollout", "rollouts", spec) for spec in (rollouts or [])]
    entries += [("keda", "keda_refresh", spec) for spec in (keda_refresh or [])]
    if not entries:
        return []
    try:
        from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import kubernetes
    except ImportError as exc:
        raise RotationError("rollouts/keda_refresh are not available: %s" % exc)
    refreshers = []  # type: List[Refresher]
    counters = {"rollouts": 0, "keda_refresh": 0}
    for kind, option, spec in entries:
        where = "%s[%d]" % (option, counters[option])
        counters[option] += 1
        try:
            refreshers.append(kubernetes.build_refresher(kind, spec))
        except RotationError as exc:
            message = "%s" % exc
            if not message.startswith(where):
                message = "%s: %s" % (where, message)
            raise RotationError(message)
    return refreshers
