# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consumers of a rotated credential: the ``file`` type, and the dispatcher for every type.

The ``file`` consumer writes a directory laid out the way the kubelet presents a mounted Secret volume, so a process
that watches a real mounted Secret watches this the same way::

    <path>/..data -> ..2026_01_31_12_00_00.123456789     (relative symlink, swapped atomically)
    <path>/..2026_01_31_12_00_00.123456789/<key>         (regular files, 0600, directory 0700)
    <path>/<key> -> ..data/<key>                          (one symlink per key)

A new credential goes into a new timestamped directory; ``..data`` is then replaced with one rename of a fresh
symlink, so a reader sees either every old value or every new one. Files of the old directory that are not among
``keys`` are carried over; the old directory is removed afterwards.

Other types are built by ``rotation_kubernetes`` (kubernetes_secret) and ``rotation_cloud`` (aws_secretsmanager,
azure_keyvault), imported only when such a consumer is asked for.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.nl2api.deploy.plugins.module_utils.credential_rotation import (
    CREDENTIAL_FIELDS,
    Consumer,
    Credential,
    Refresher,
    RotationError,
)

CONSUMER_TYPES = ("file", "kubernetes_secret", "aws_secretsmanager", "azure_keyvault")
#: Type options of each consumer type (besides ``type`` and ``keys``), for "does not apply" errors.
CONSUMER_OPTIONS = {
    "file": ("path",),
    "kubernetes_secret": ("name", "namespace", "kubeconfig", "context"),
    "aws_secretsmanager": ("secret_id", "region", "endpoint_url", "aws_access_key_id", "aws_secret_access_key",
                           "session_token", "profile", "create"),
    "azure_keyvault": ("vault_url", "token"),
}
REFRESHER_KINDS = ("rollout", "keda")
DATA_LINK = "..data"


def validate_keys(keys: Any, where: str) -> Dict[str, str]:
    """``keys`` (output key -> credential field); RotationError naming ``<where>.keys``."""
    if not isinstance(keys, Mapping) or not keys:
        raise RotationError("%s.keys must map at least one output key to a credential field (username or password), "
                            "e.g. {DATABASE_USER: username, DATABASE_PASSWORD: password}" % where)
    out = {}
    for key, field in keys.items():
        if field not in CREDENTIAL_FIELDS:
            raise RotationError("%s.keys.%s must be username or password, got %r" % (where, key, field))
        out["%s" % key] = field
    return out


def check_options(spec: Mapping[str, Any], kind: str, where: str) -> None:
    """RotationError when an option of another consumer type is set."""
    allowed = set(CONSUMER_OPTIONS.get(kind, ())) | {"type", "keys"}
    stray = sorted(name for name, value in spec.items() if value not in (None, [], {}) and name not in allowed)
    # ``create`` defaults to false in the module's spec: only true counts as set.
    stray = [name for name in stray if not (name == "create" and spec.get(name) is False)]
    if stray:
        raise RotationError("%s: option%s %s do%s not apply to type %s" % (
            where, "s" if len(stray) > 1 else "", ", ".join(stray), "" if len(stray) > 1 else "es", kind))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileConsumer(Consumer):
    """A directory laid out like a mounted Secret volume (see the module docstring)."""

    type = "file"

    def __init__(self, path: str, keys: Mapping[str, str], where: str = "consumers[0]") -> None:
        if not path:
            raise RotationError("%s.path is required for type file" % where)
        self.path = os.path.abspath(os.path.expanduser(path))
        self.keys = validate_keys(keys, where)
        for key in self.keys:
            if not key or "/" in key or key.startswith("..") or key in (".",):
                raise RotationError("%s.keys: %r is not a valid file name (no '/', must not start with '..')"
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
        found = {}  # type: Dict[str, Any]
        for key, field in self.keys.items():
            value = self._read(key)
            if value is not None:
                found[field] = value
        return found or None

    def _links_ok(self) -> bool:
        for key in self.keys:
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
        wanted = {}
        for key, field in self.keys.items():
            value = credential.field(field)
            if value is None:
                raise RotationError("%s: the credential has no %s for key %s" % (self.describe(), field, key))
            wanted[key] = value
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
            _fsync_dir(new_dir)
            self._replace_link(DATA_LINK, os.path.basename(new_dir))
        except BaseException:
            shutil.rmtree(new_dir, ignore_errors=True)
            raise
        for key in self.keys:
            link = os.path.join(self.path, key)
            if not (os.path.islink(link) and os.readlink(link) == os.path.join(DATA_LINK, key)):
                self._replace_link(key, os.path.join(DATA_LINK, key))
        _fsync_dir(self.path)
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
        raise RotationError("%s.type: rotation_consumers builds type file only, got %r" % (where, kind))
    check_options(spec, "file", where)
    return FileConsumer(spec.get("path"), spec.get("keys"), where)


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
        validate_keys(spec.get("keys"), where)
        try:
            if kind == "file":
                consumers.append(build_consumer(spec, where))
            elif kind == "kubernetes_secret":
                from ansible_collections.nl2api.deploy.plugins.module_utils import rotation_kubernetes
                consumers.append(rotation_kubernetes.build_consumer(spec))
            else:
                from ansible_collections.nl2api.deploy.plugins.module_utils import rotation_cloud
                consumers.append(rotation_cloud.build_consumer(spec))
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
        from ansible_collections.nl2api.deploy.plugins.module_utils import rotation_kubernetes
    except ImportError as exc:
        raise RotationError("rollouts/keda_refresh are not available: %s" % exc)
    refreshers = []  # type: List[Refresher]
    counters = {"rollouts": 0, "keda_refresh": 0}
    for kind, option, spec in entries:
        where = "%s[%d]" % (option, counters[option])
        counters[option] += 1
        try:
            refreshers.append(rotation_kubernetes.build_refresher(kind, spec))
        except RotationError as exc:
            message = "%s" % exc
            if not message.startswith(where):
                message = "%s: %s" % (where, message)
            raise RotationError(message)
    return refreshers
