# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credential rotation engine: a resumable state machine that rotates one credential end to end.

    create_pending -> set_secret -> test_secret -> promote -> update_consumers -> refresh_consumers -> revoke -> idle

* :class:`Backend` is the server that checks the credential (PostgreSQL roles, a Redis ACL user, ElastiCache, Azure
  Cache for Redis); :class:`Consumer` is a place the credential is delivered to (a mounted-Secret-like directory, a
  Kubernetes Secret, AWS Secrets Manager, Azure Key Vault); :class:`Refresher` makes the readers pick it up
  (Deployment rollout, KEDA refresh). Implementations live in the sibling modules of
  this package (postgres, redis, aws, azure; consumers and kubernetes).
* :class:`StateStore` keeps ``<state_dir>/<credential>.json`` (directory 0700, file 0600, written atomically). The
  state records the step to run next; it is saved after every step, so a run killed at any point resumes from the
  recorded step. The pending secret lives in the state file only while a rotation is in flight.
* :class:`RotationEngine` runs the steps, honours ``max_age``/``force`` and check mode (nothing written anywhere),
  and calls a fault hook before and after every step (``NL2API_ROTATION_FAULT=<step>:<before|after>`` kills the
  process there: a test hook).

Messages never contain a secret: secrets are masked as ``********``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import calendar
import contextlib
import errno
import json
import os
import re
import secrets
import signal
import string
import tempfile
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from ansible_collections.nl2api.deploy.plugins.module_utils._common import MASK, fsync_dir

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None
    HAS_FCNTL = False

STEPS = ("create_pending", "set_secret", "test_secret", "promote", "update_consumers", "refresh_consumers", "revoke")
IDLE = "idle"
ALL_STEPS = STEPS + (IDLE,)

STATE_VERSION = 1
DEFAULT_ALPHABET = string.ascii_letters + string.digits
MIN_PASSWORD_LENGTH = 16
FAULT_ENV = "NL2API_ROTATION_FAULT"
FAULT_WHEN = ("before", "after")
CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: The fields of a credential that consumers deliver (``keys`` values, ``url_keys`` placeholders): defined here only.
CREDENTIAL_FIELDS = ("username", "password")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)


class RotationError(Exception):
    """A rotation problem; the message never contains a secret. ``result`` holds the partial result when the engine
    raised it (step reached, statements run so far)."""

    def __init__(self, message: str, result: Optional[Dict[str, Any]] = None) -> None:
        super(RotationError, self).__init__(message)
        self.result = result


class Credential(object):
    """A username (or None: password-only servers) and its password. ``public`` holds more public identity fields
    (for example ``slot``). repr and str never show the password."""

    def __init__(self, username: Optional[str] = None, password: Optional[str] = None, **public: Any) -> None:
        self.username = username
        self.password = password
        self.extra = dict((k, v) for k, v in public.items() if v is not None)

    def public(self) -> Dict[str, Any]:
        """The part that may be shown and logged: ``{"username": ...}`` plus public identity fields."""
        data = {"username": self.username}
        data.update(self.extra)
        return data

    def field(self, name: str) -> Optional[str]:
        """``username`` or ``password`` (the fields consumers' ``keys`` map to)."""
        if name not in CREDENTIAL_FIELDS:
            raise RotationError("unknown credential field %r (username or password)" % (name,))
        return self.username if name == "username" else self.password

    def to_state(self) -> Dict[str, Any]:
        data = self.public()
        data["password"] = self.password
        return data

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> "Credential":
        extra = dict((k, v) for k, v in data.items() if k not in CREDENTIAL_FIELDS)
        return cls(data.get("username"), data.get("password"), **extra)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Credential) and (self.username, self.password, self.extra) == (
            other.username, other.password, other.extra)

    def __ne__(self, other: Any) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Credential(username=%r, password=%s%s)" % (
            self.username, MASK if self.password else None,
            "".join(", %s=%r" % item for item in sorted(self.extra.items())))

    __str__ = __repr__


class Backend(object):
    """The server side of a credential. Subclasses implement every method; messages never contain a secret."""

    name = "backend"
    #: True when the server creates the secret (Azure keys): the engine then calls create_server_secret.
    server_generated = False

    def allowed_alphabet(self, alphabet: str, length: int) -> None:
        """Raise RotationError naming password_alphabet/password_symbols/password_length when unusable."""

    def pending_identity(self, current_public: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        raise NotImplementedError

    def create_server_secret(self, pending_identity: Mapping[str, Any], check_mode: bool) -> Credential:
        raise NotImplementedError

    def set_secret(self, pending: Credential, check_mode: bool) -> List[str]:
        raise NotImplementedError

    def test_secret(self, pending: Credential) -> None:
        raise NotImplementedError

    def revoke(self, previous_public: Optional[Mapping[str, Any]], current: Credential, check_mode: bool) -> List[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called once at the end of a run."""


class Consumer(object):
    """A place the credential is delivered to."""

    type = "consumer"

    def describe(self) -> str:
        raise NotImplementedError

    def read_current(self) -> Optional[Dict[str, Any]]:
        """``{"username": .., "password": ..}`` delivered now (only the primary consumer is asked), or None."""
        return None

    def write(self, credential: Credential, check_mode: bool) -> bool:
        raise NotImplementedError


class Refresher(object):
    """Makes readers of the consumers pick the new credential up (rollout, KEDA refresh)."""

    kind = "refresher"

    def describe(self) -> str:
        raise NotImplementedError

    def refresh(self, revision: str, check_mode: bool) -> bool:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------------------- options


def parse_duration(value: Any, option: str) -> int:
    """``90d``, ``12h``, ``30m``, ``3600s``, ``2w`` or plain seconds (int or digits) to seconds; errors name `option`."""
    if isinstance(value, bool):
        raise RotationError("%s must be a duration such as 90d, 12h, 30m, 3600s or seconds, got %r" % (option, value))
    if isinstance(value, int):
        seconds = value
    else:
        match = _AGE_PATTERN.match("%s" % (value,))
        if not match:
            raise RotationError("%s must be a duration such as 90d, 12h, 30m, 3600s or a number of seconds, "
                                "got %r" % (option, value))
        seconds = int(match.group(1)) * _AGE_UNITS[(match.group(2) or "s").lower()]
    if seconds < 0:
        raise RotationError("%s must not be negative, got %r" % (option, value))
    return seconds


def parse_max_age(value: Any) -> int:
    """The max_age option in seconds (see parse_duration)."""
    return parse_duration(value, "max_age")


def build_alphabet(alphabet: Optional[str], symbols: Optional[str] = "") -> str:
    """password_alphabet + password_symbols, each character once, in order; RotationError naming the options."""
    text = (DEFAULT_ALPHABET if alphabet is None else alphabet) + (symbols or "")
    seen = []  # type: List[str]
    for char in text:
        if char not in seen:
            seen.append(char)
    if len(seen) < 2:
        raise RotationError("password_alphabet (with password_symbols) must hold at least 2 different characters")
    for char in seen:
        if not char.isprintable() or char.isspace():
            raise RotationError("password_alphabet/password_symbols must hold printable characters without spaces; "
                                "found %r" % char)
    return "".join(seen)


def generate_password(length: int, alphabet: str = DEFAULT_ALPHABET) -> str:
    """``length`` characters drawn with ``secrets.choice`` from ``alphabet``."""
    if not isinstance(length, int) or isinstance(length, bool) or length < MIN_PASSWORD_LENGTH:
        raise RotationError("password_length must be at least %d, got %r" % (MIN_PASSWORD_LENGTH, length))
    if not alphabet or len(set(alphabet)) < 2:
        raise RotationError("password_alphabet must hold at least 2 different characters")
    return "".join(secrets.choice(alphabet) for dummy in range(length))


def valid_credential_name(name: Any) -> bool:
    return isinstance(name, str) and bool(CREDENTIAL_NAME.match(name))


def format_time(epoch: float) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(int(epoch)))


def parse_time(text: Any) -> Optional[int]:
    if not text:
        return None
    try:
        return calendar.timegm(time.strptime("%s" % text, TIME_FORMAT))
    except ValueError:
        return None


def parse_fault(value: Optional[str]) -> Optional[Tuple[str, str]]:
    """``"<step>:<before|after>"`` to ``(step, when)``; None for an empty value; RotationError when malformed."""
    if not value:
        return None
    step, sep, when = value.strip().partition(":")
    if not sep or step not in STEPS or when not in FAULT_WHEN:
        raise RotationError("%s must be <step>:<before|after> with step one of %s, got %r"
                            % (FAULT_ENV, ", ".join(STEPS), value))
    return step, when


def kill_self() -> None:  # pragma: no cover - the process ends here
    os.kill(os.getpid(), signal.SIGKILL)


def fault_hook_from_env(environ: Optional[Mapping[str, str]] = None,
                        kill: Callable[[], None] = kill_self) -> Callable[[str, str], None]:
    """The fault hook of NL2API_ROTATION_FAULT: calls ``kill`` right before/after the named step."""
    fault = parse_fault((os.environ if environ is None else environ).get(FAULT_ENV))

    def hook(step: str, when: str) -> None:
        if fault is not None and (step, when) == fault:
            kill()

    return hook


# ----------------------------------------------------------------------------------------------------------- state


class StateStore(object):
    """``<state_dir>/<credential>.json``: directory 0700, file 0600, replaced atomically (temp file, fsync,
    os.replace, fsync of the directory), so a reader sees the old or the new state, never a mix."""

    def __init__(self, state_dir: str, credential: str) -> None:
        if not valid_credential_name(credential):
            raise RotationError("credential %r must be 1 to 128 letters, digits, '.', '_' or '-', starting with a "
                                "letter or digit (it names the state file)" % (credential,))
        if not state_dir:
            raise RotationError("state_dir must be set")
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir))
        self.path = os.path.join(self.state_dir, credential + ".json")

    def load(self) -> Optional[Dict[str, Any]]:
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RotationError("cannot read the state file %s (state_dir): %s" % (self.path, exc.strerror))
        try:
            data = json.loads(text)
        except ValueError:
            raise RotationError("the state file %s (state_dir) is not valid JSON; restore it from a backup or "
                                "remove it to start over from the primary consumer" % self.path)
        if not isinstance(data, dict) or data.get("step", IDLE) not in ALL_STEPS:
            raise RotationError("the state file %s (state_dir) is not a rotation state" % self.path)
        return data

    def ensure_dir(self) -> None:
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o700)
        if (os.stat(self.state_dir).st_mode & 0o777) != 0o700:
            os.chmod(self.state_dir, 0o700)

    @contextlib.contextmanager
    def lock(self, create: bool = True) -> Iterator[None]:
        """An exclusive lock on ``<credential>.lock`` for the whole run, so two runs never rotate the same credential
        at once. The kernel drops it when the process dies (even by SIGKILL). Without ``create`` (check mode) no
        directory or file is made: when they do not exist, nothing is locked."""
        lock_path = self.path[:-len(".json")] + ".lock"
        if not HAS_FCNTL or (not create and not os.path.exists(lock_path)):
            yield
            return
        if create:
            self.ensure_dir()
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RotationError("another run is rotating this credential now (lock %s held); try again when "
                                        "it has finished" % lock_path)
                raise
            yield
        finally:
            os.close(fd)

    def save(self, state: Mapping[str, Any]) -> None:
        self.ensure_dir()
        data = json.dumps(state, sort_keys=True, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.path) + ".", suffix=".tmp", dir=self.state_dir)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        fsync_dir(self.state_dir)


# ---------------------------------------------------------------------------------------------------------- engine


def _public_view(state: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The public state for diffs: username/slot, rotated_at, step (never a secret)."""
    state = state or {}
    current = state.get("current") or {}
    view = {"username": current.get("username"), "rotated_at": state.get("rotated_at"), "step": state.get("step", IDLE)}
    if current.get("slot") is not None:
        view["slot"] = current["slot"]
    return view


class RotationEngine(object):
    """Runs one credential's rotation; see the module docstring. ``run()`` returns the result dict."""

    def __init__(
        self,
        credential: str,
        backend: Backend,
        consumers: Sequence[Consumer],
        refreshers: Sequence[Refresher],
        store: StateStore,
        max_age_seconds: int,
        force: bool = False,
        password_generator: Optional[Callable[[], str]] = None,
        check_mode: bool = False,
        now: Callable[[], float] = time.time,
        fault_hook: Optional[Callable[[str, str], None]] = None,
        secret_sink: Optional[Callable[[str], None]] = None,
        revoke_delay_seconds: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not consumers:
            raise RotationError("consumers must list at least one consumer")
        self.credential = credential
        self.backend = backend
        self.consumers = list(consumers)
        self.refreshers = list(refreshers)
        self.store = store
        self.max_age_seconds = int(max_age_seconds)
        self.force = bool(force)
        self.password_generator = password_generator or (lambda: generate_password(40, DEFAULT_ALPHABET))
        self.check_mode = bool(check_mode)
        self.now = now
        self.fault_hook = fault_hook or (lambda step, when: None)
        self.secret_sink = secret_sink or (lambda value: None)
        self.revoke_delay_seconds = max(0, int(revoke_delay_seconds))
        self.sleep = sleep
        self.statements = []  # type: List[str]
        self.consumer_results = []  # type: List[Dict[str, Any]]
        self.refresh_results = []  # type: List[Dict[str, Any]]
        self.steps_run = []  # type: List[str]
        self.state = {}  # type: Dict[str, Any]

    # -- helpers
    def _secret(self, value: Optional[str]) -> None:
        """Hand a secret to the sink (the module masks what it is given), raw and as it appears in a URL."""
        if value:
            self.secret_sink(value)
            encoded = quote(value, safe="")
            if encoded != value:
                self.secret_sink(encoded)

    def _save(self) -> None:
        if not self.check_mode:
            self.store.save(self.state)

    def _pending(self) -> Credential:
        data = self.state.get("pending")
        if not data:
            raise RotationError("the state file %s records step %s but holds no pending credential; remove it to "
                                "start over" % (self.store.path, self.state.get("step")))
        return Credential.from_state(data)

    def _record(self, statements: Optional[Iterable[str]]) -> None:
        self.statements.extend("%s" % s for s in (statements or []))

    def _age(self) -> Optional[int]:
        rotated = parse_time(self.state.get("rotated_at"))
        return None if rotated is None else int(self.now()) - rotated

    def _initial_current(self) -> Optional[Dict[str, Any]]:
        """No state yet: what the primary consumer delivers now (its public part)."""
        found = self.consumers[0].read_current()
        if not found:
            return None
        self._secret(found.get("password"))
        public = dict((k, v) for k, v in found.items() if k != "password" and v is not None)
        return public or None

    # -- steps
    def _create_pending(self) -> None:
        identity = dict(self.backend.pending_identity(self.state.get("current")) or {})
        self.state["pending_identity"] = identity
        if getattr(self.backend, "server_generated", False):
            self.state["pending"] = dict(identity, password=None)
            return
        password = self.password_generator()
        self._secret(password)
        self.state["pending"] = dict(identity, password=password)

    def _set_secret(self) -> None:
        if getattr(self.backend, "server_generated", False):
            identity = self.state.get("pending_identity") or {}
            created = self.backend.create_server_secret(identity, self.check_mode)
            self._secret(created.password)
            data = dict(identity)
            data.update(dict((k, v) for k, v in created.public().items() if v is not None))
            data["password"] = created.password
            self.state["pending"] = data
            self._save()  # the server-made secret is only recoverable from here
            self._record(self.backend.set_secret(Credential.from_state(data), self.check_mode))
            return
        self._record(self.backend.set_secret(self._pending(), self.check_mode))

    def _test_secret(self) -> None:
        if self.check_mode:
            return  # the secret was not set (or rolled back): nothing to test
        try:
            self.backend.test_secret(self._pending())
        except RotationError as exc:
            # Set the secret again on the next run, then test again.
            self.state["step"] = "set_secret"
            self._save()
            raise RotationError("%s; the next run sets the pending secret again and retries" % exc)

    def _promote(self) -> None:
        pending = self._pending()
        at = int(self.now())
        self.state["previous"] = self.state.get("current")
        self.state["current"] = dict((k, v) for k, v in pending.public().items() if v is not None) or None
        self.state["rotated_at"] = format_time(at)
        self.state["revision"] = "%s-%s" % (self.credential, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at)))

    def _update_consumers(self) -> None:
        pending = self._pending()
        self.consumer_results = []
        for consumer in self.consumers:
            changed = bool(consumer.write(pending, self.check_mode))
            kind, sep, target = consumer.describe().partition(":")
            self.consumer_results.append(dict(type=kind if sep else getattr(consumer, "type", None),
                                              target=target if sep else kind, changed=changed))

    def _refresh_consumers(self) -> None:
        revision = self.state.get("revision") or "%s-pending" % self.credential
        self.refresh_results = []
        for refresher in self.refreshers:
            changed = bool(refresher.refresh(revision, self.check_mode))
            self.refresh_results.append(dict(kind=getattr(refresher, "kind", None), target=refresher.describe(),
                                             changed=changed))
        # Readers that fetched the old credential just before the switch (a kubelet syncing a mounted Secret, an
        # app re-reading its file) still need it for a while. The deadline is saved, so a resumed run keeps it.
        self.state["revoke_not_before"] = format_time(self.now() + self.revoke_delay_seconds)

    def _revoke(self) -> None:
        not_before = parse_time(self.state.get("revoke_not_before"))
        if not self.check_mode and not_before is not None:
            remaining = not_before - self.now()
            if remaining > 0:
                self.sleep(remaining)
        self._record(self.backend.revoke(self.state.get("previous"), self._pending(), self.check_mode))

    # -- run
    def _result(self, changed: bool, rotated: bool, resumed_from: Optional[str], before: Dict[str, Any],
                msg: str) -> Dict[str, Any]:
        current = dict(self.state.get("current") or {})
        current["rotated_at"] = self.state.get("rotated_at")
        return dict(
            changed=changed,
            rotated=rotated,
            step=self.state.get("step", IDLE),
            resumed_from=resumed_from,
            credential=current,
            revision=self.state.get("revision"),
            statements=list(self.statements),
            consumers=list(self.consumer_results),
            refreshed=list(self.refresh_results),
            steps_run=list(self.steps_run),
            state_file=self.store.path,
            msg=msg,
            diff=dict(before=before, after=_public_view(self.state)),
        )

    def run(self) -> Dict[str, Any]:
        try:
            with self.store.lock(create=not self.check_mode):
                return self._run()
        finally:
            self.backend.close()

    def _run(self) -> Dict[str, Any]:
        loaded = self.store.load()
        if loaded is not None:
            for name in ("engine", "credential"):
                recorded = loaded.get(name)
                mine = self.backend.name if name == "engine" else self.credential
                if recorded is not None and recorded != mine:
                    raise RotationError("the state file %s was written for %s=%s, not %s=%s"
                                        % (self.store.path, name, recorded, name, mine))
        self.state = dict(loaded or {})
        before = _public_view(loaded)
        step = self.state.get("step", IDLE)
        resumed_from = step if step != IDLE else None
        if resumed_from is None:
            age = self._age()
            if age is not None and age < self.max_age_seconds and not self.force:
                return self._result(False, False, None, before,
                                    "%s was rotated %s, %ds ago, less than max_age (%ds): nothing to do"
                                    % (self.credential, self.state.get("rotated_at"), age, self.max_age_seconds))
            if loaded is None:
                self.state = dict(version=STATE_VERSION, credential=self.credential, engine=self.backend.name,
                                  current=self._initial_current(), rotated_at=None)
            self.state["step"] = STEPS[0]
            self.state["started_at"] = format_time(self.now())
            self._save()
        else:
            pending = self.state.get("pending") or {}
            self._secret(pending.get("password"))
        handlers = {
            "create_pending": self._create_pending,
            "set_secret": self._set_secret,
            "test_secret": self._test_secret,
            "promote": self._promote,
            "update_consumers": self._update_consumers,
            "refresh_consumers": self._refresh_consumers,
            "revoke": self._revoke,
        }
        index = STEPS.index(self.state["step"])
        for position in range(index, len(STEPS)):
            name = STEPS[position]
            self.state["step"] = name
            self.fault_hook(name, "before")
            try:
                handlers[name]()
            except RotationError as exc:
                if self.check_mode:
                    then = "check mode: nothing was written"
                else:
                    then = "run again to resume from step %s" % self.state["step"]
                raise RotationError("%s: step %s failed: %s; %s" % (self.credential, name, ("%s" % exc).rstrip(". "),
                                                                    then),
                                    result=self._result(True, False, resumed_from, before, ""))
            self.steps_run.append(name)
            if position + 1 < len(STEPS):
                self.state["step"] = STEPS[position + 1]
            else:
                self.state["step"] = IDLE
                self.state.pop("pending", None)
                self.state.pop("pending_identity", None)
                self.state.pop("started_at", None)
                self.state.pop("revoke_not_before", None)
            self._save()
            self.fault_hook(name, "after")
        verb = "would rotate" if self.check_mode else "rotated"
        how = " (resumed from step %s)" % resumed_from if resumed_from else ""
        return self._result(True, True, resumed_from, before, "%s %s%s" % (verb, self.credential, how))
