# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rotation engine with an in-memory backend and consumers: step order, resume from every step, max_age/force,
check mode, the fault hook, the password generator, the state file; and the file consumer on a temporary directory."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

import hashlib
import json
import os
import stat
import string

import pytest

from ansible_collections.nl2api.deploy.plugins.module_utils._common import mask
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    DEFAULT_ALPHABET,
    MASK,
    STEPS,
    Backend,
    Consumer,
    Credential,
    Refresher,
    RotationEngine,
    RotationError,
    StateStore,
    build_alphabet,
    fault_hook_from_env,
    generate_password,
    parse_fault,
    parse_max_age,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.consumers import (
    FileConsumer,
    build_consumers,
    build_refreshers,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.redis import RedisAclBackend

DAY = 86400


class Killed(Exception):
    """The fault hook fired (instead of SIGKILL)."""


class Clock(object):
    def __init__(self, start=1_800_000_000):
        self.value = start

    def __call__(self):
        return self.value


class FakeBackend(Backend):
    """Alternating users a/b; records every call in a shared journal."""

    name = "fake"

    def __init__(self, journal, fail_test=False):
        self.journal = journal
        self.fail_test = fail_test
        self.valid = {}  # username -> set of valid passwords (what the server would accept)
        self.closed = 0

    def pending_identity(self, current_public):
        return {"username": "b" if (current_public or {}).get("username") == "a" else "a"}

    def set_secret(self, pending, check_mode):
        self.journal.append(("set_secret", pending.username, check_mode))
        if not check_mode:
            self.valid.setdefault(pending.username, set()).add(pending.password)
        return ["SET %s %s" % (pending.username, MASK)]

    def test_secret(self, pending):
        self.journal.append(("test_secret", pending.username))
        if self.fail_test or pending.password not in self.valid.get(pending.username, ()):
            raise RotationError("login as %s failed" % pending.username)

    def revoke(self, previous_public, current, check_mode):
        previous = (previous_public or {}).get("username")
        self.journal.append(("revoke", previous, current.username, check_mode))
        if not check_mode and previous:
            self.valid.pop(previous, None)
        return ["REVOKE %s" % previous]

    def close(self):
        self.closed += 1


class FakeConsumer(Consumer):
    def __init__(self, journal, name="primary", current=None):
        self.journal = journal
        self.name = name
        self.value = current

    def describe(self):
        return "fake:%s" % self.name

    def read_current(self):
        return dict(self.value) if self.value else None

    def write(self, credential, check_mode):
        self.journal.append(("write", self.name, credential.username, check_mode))
        wanted = {"username": credential.username, "password": credential.password}
        if wanted == self.value:
            return False
        if not check_mode:
            self.value = wanted
        return True


class FakeRefresher(Refresher):
    def __init__(self, journal, name="deploy"):
        self.journal = journal
        self.name = name
        self.revision = None

    def describe(self):
        return "deployment:%s" % self.name

    def refresh(self, revision, check_mode):
        self.journal.append(("refresh", self.name, revision, check_mode))
        if self.revision == revision:
            return False
        if not check_mode:
            self.revision = revision
        return True


class World(object):
    """A backend, one primary consumer, one refresher, a state dir and a clock, shared across runs."""

    def __init__(self, tmp_path, current=None):
        self.journal = []
        self.backend = FakeBackend(self.journal)
        self.consumer = FakeConsumer(self.journal, current=current)
        self.refresher = FakeRefresher(self.journal)
        self.store = StateStore(str(tmp_path / "state"), "app")
        self.clock = Clock()
        self.counter = 0

    def password(self):
        self.counter += 1
        return "secret-%02d-%s" % (self.counter, "x" * 20)

    def engine(self, max_age=30 * DAY, force=False, check_mode=False, fault=None, sink=None, revoke_delay=0,
               sleep=None):
        def hook(step, when):
            if fault == (step, when):
                raise Killed("%s:%s" % fault)

        return RotationEngine("app", self.backend, [self.consumer], [self.refresher], self.store, max_age,
                              force=force, password_generator=self.password, check_mode=check_mode, now=self.clock,
                              fault_hook=hook, secret_sink=sink, revoke_delay_seconds=revoke_delay,
                              sleep=sleep or self.advance)

    def advance(self, seconds):
        """The engine's sleep: moves the clock and records the wait."""
        self.journal.append(("sleep", seconds))
        self.clock.value += seconds

    def ops(self):
        return [entry[0] for entry in self.journal]


# ------------------------------------------------------------------------------------------------- full rotation


def test_first_rotation_runs_every_step_in_order(tmp_path):
    world = World(tmp_path)
    result = world.engine().run()
    assert result["changed"] is True and result["rotated"] is True
    assert result["steps_run"] == list(STEPS)
    assert result["step"] == "idle" and result["resumed_from"] is None
    assert world.ops() == ["set_secret", "test_secret", "write", "refresh", "revoke"]
    assert result["credential"] == {"username": "a", "rotated_at": "2027-01-15T08:00:00Z"}
    assert result["revision"] == "app-20270115T080000Z"
    assert world.refresher.revision == result["revision"]
    assert world.consumer.value == {"username": "a", "password": "secret-01-" + "x" * 20}
    assert result["consumers"] == [{"type": "fake", "target": "primary", "changed": True}]
    assert result["refreshed"][0]["changed"] is True
    assert result["statements"] == ["SET a ********", "REVOKE None"]
    state = world.store.load()
    assert state["step"] == "idle" and "pending" not in state
    assert state["current"] == {"username": "a"} and state["previous"] is None
    assert world.backend.closed == 1
    assert result["diff"]["before"]["step"] == "idle" and result["diff"]["after"]["username"] == "a"


def test_alternates_users_and_revokes_the_previous_one(tmp_path):
    world = World(tmp_path)
    world.engine().run()
    world.clock.value += 31 * DAY
    result = world.engine().run()
    assert result["credential"]["username"] == "b"
    assert ("revoke", "a", "b", False) in world.journal
    assert world.backend.valid == {"b": {"secret-02-" + "x" * 20}}
    world.clock.value += 31 * DAY
    assert world.engine().run()["credential"]["username"] == "a"


def test_primary_consumer_tells_the_current_user_without_state(tmp_path):
    world = World(tmp_path, current={"username": "a", "password": "old-password"})
    sink = set()
    result = world.engine(sink=sink.add).run()
    assert result["credential"]["username"] == "b"
    assert "old-password" in sink  # registered as a secret so Ansible masks it
    assert world.store.load()["previous"] == {"username": "a"}


def test_both_secrets_valid_until_revoke(tmp_path):
    world = World(tmp_path)
    world.engine().run()
    old = world.consumer.value["password"]
    world.clock.value += 31 * DAY
    with pytest.raises(Killed):
        world.engine(fault=("revoke", "before")).run()
    assert world.backend.valid["a"] == {old}
    assert world.consumer.value["username"] == "b"  # consumers already switched
    world.engine().run()
    assert "a" not in world.backend.valid


# ------------------------------------------------------------------------------------------------- max_age, force


def test_within_max_age_nothing_happens(tmp_path):
    world = World(tmp_path)
    world.engine().run()
    world.journal[:] = []
    world.clock.value += 29 * DAY
    result = world.engine().run()
    assert result["changed"] is False and result["rotated"] is False and result["step"] == "idle"
    assert world.journal == [] and result["statements"] == []
    assert "less than max_age" in result["msg"]


def test_after_max_age_rotates(tmp_path):
    world = World(tmp_path)
    world.engine().run()
    world.clock.value += 30 * DAY
    assert world.engine().run()["rotated"] is True


def test_force_rotates_within_max_age(tmp_path):
    world = World(tmp_path)
    first = world.engine().run()
    second = world.engine(force=True).run()
    assert second["rotated"] is True and second["credential"]["username"] == "b"
    assert first["credential"]["username"] == "a"


# ----------------------------------------------------------------------------------------------------- resume


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", STEPS)
def test_resume_from_every_step(tmp_path, step, when):
    world = World(tmp_path)
    world.engine().run()
    world.clock.value += 31 * DAY
    with pytest.raises(Killed):
        world.engine(fault=(step, when)).run()
    state = world.store.load()
    index = STEPS.index(step)
    expected = step if when == "before" else (STEPS[index + 1] if index + 1 < len(STEPS) else "idle")
    assert state["step"] == expected
    if expected not in ("idle", "create_pending"):
        assert state["pending"]["username"] == "b"  # the pending secret survives in the state file
    world.journal[:] = []
    # a rotation in flight is resumed whatever max_age says
    result = world.engine(max_age=365 * DAY).run()
    if expected == "idle":
        assert result["changed"] is False
    else:
        assert result["resumed_from"] == expected and result["rotated"] is True
        assert result["steps_run"] == list(STEPS[STEPS.index(expected):])
    assert result["step"] == "idle" and result["credential"]["username"] == "b"
    assert world.consumer.value["username"] == "b"
    assert world.backend.valid.keys() == {"b"}
    assert "pending" not in world.store.load()
    # the password that reaches the consumer is the one set on the server, even across the kill
    assert world.consumer.value["password"] in world.backend.valid["b"]


def test_revoke_waits_for_revoke_delay_after_the_consumers_were_refreshed(tmp_path):
    world = World(tmp_path)
    world.engine(revoke_delay=90).run()
    ops = world.ops()
    assert ops[ops.index("refresh"):] == ["refresh", "sleep", "revoke"]
    assert ("sleep", 90) in world.journal
    assert "revoke_not_before" not in world.store.load()


def test_revoke_delay_survives_a_crash_and_counts_from_the_refresh(tmp_path):
    world = World(tmp_path)
    with pytest.raises(Killed):
        world.engine(revoke_delay=90, fault=("revoke", "before")).run()
    assert world.store.load()["revoke_not_before"]
    world.clock.value += 60  # the crash and the rerun took a minute: 30 s of the delay are left
    world.journal[:] = []
    world.engine(revoke_delay=0).run()
    assert world.ops() == ["sleep", "revoke"] and world.journal[0] == ("sleep", 30)
    world.clock.value += 31 * DAY
    world.journal[:] = []
    world.engine(revoke_delay=0).run()
    assert "sleep" not in world.ops()


def test_check_mode_does_not_wait_for_revoke_delay(tmp_path):
    world = World(tmp_path)
    world.engine(revoke_delay=90, check_mode=True).run()
    assert "sleep" not in world.ops()


def test_failed_test_secret_rewinds_to_set_secret(tmp_path):
    world = World(tmp_path)
    world.backend.fail_test = True
    with pytest.raises(RotationError) as raised:
        world.engine().run()
    assert "step test_secret failed" in str(raised.value) and "resume from step set_secret" in str(raised.value)
    assert raised.value.result["step"] == "set_secret"
    assert world.store.load()["step"] == "set_secret"
    world.backend.fail_test = False
    world.journal[:] = []
    result = world.engine().run()
    assert result["resumed_from"] == "set_secret" and world.ops()[:2] == ["set_secret", "test_secret"]


def test_state_of_another_engine_is_refused(tmp_path):
    world = World(tmp_path)
    world.store.save({"engine": "postgres", "credential": "app", "step": "idle"})
    with pytest.raises(RotationError, match="engine=postgres"):
        world.engine().run()


def test_pending_secret_missing_in_state_is_reported(tmp_path):
    world = World(tmp_path)
    world.store.save({"engine": "fake", "credential": "app", "step": "set_secret"})
    with pytest.raises(RotationError, match="holds no pending credential"):
        world.engine().run()


# ------------------------------------------------------------------------------------------------- check mode


def test_check_mode_writes_nothing(tmp_path):
    world = World(tmp_path)
    result = world.engine(check_mode=True).run()
    assert result["changed"] is True and result["rotated"] is True and "would rotate" in result["msg"]
    assert not os.path.exists(world.store.path) and not os.path.exists(world.store.state_dir)
    assert world.consumer.value is None and world.refresher.revision is None
    assert world.backend.valid == {}
    assert all(entry[-1] is True for entry in world.journal)  # every call got check_mode=True
    assert "test_secret" not in world.ops()


def test_check_mode_within_max_age_reports_no_change(tmp_path):
    world = World(tmp_path)
    world.engine().run()
    before = open(world.store.path).read()
    result = world.engine(check_mode=True).run()
    assert result["changed"] is False
    assert open(world.store.path).read() == before


def test_check_mode_of_an_interrupted_rotation_keeps_the_state(tmp_path):
    world = World(tmp_path)
    with pytest.raises(Killed):
        world.engine(fault=("update_consumers", "before")).run()
    before = open(world.store.path).read()
    result = world.engine(check_mode=True).run()
    assert result["resumed_from"] == "update_consumers" and result["changed"] is True
    assert open(world.store.path).read() == before
    assert world.consumer.value is None


# ------------------------------------------------------------------------------------------------ fault hook


def test_parse_fault():
    assert parse_fault(None) is None and parse_fault("") is None
    assert parse_fault("revoke:before") == ("revoke", "before")
    assert parse_fault("set_secret:after") == ("set_secret", "after")
    for bad in ("revoke", "revoke:during", "idle:before", "nope:after"):
        with pytest.raises(RotationError, match="NL2API_ROTATION_FAULT"):
            parse_fault(bad)


def test_fault_hook_from_env_kills_at_the_named_point():
    kills = []
    hook = fault_hook_from_env({"NL2API_ROTATION_FAULT": "promote:after"}, kill=lambda: kills.append(1))
    hook("promote", "before")
    hook("revoke", "after")
    assert kills == []
    hook("promote", "after")
    assert kills == [1]
    quiet = fault_hook_from_env({}, kill=lambda: kills.append(2))
    for step in STEPS:
        quiet(step, "before")
        quiet(step, "after")
    assert kills == [1]


# --------------------------------------------------------------------------------------------- options, helpers


@pytest.mark.parametrize("value,seconds", [
    ("90d", 90 * DAY), ("12h", 43200), ("30m", 1800), ("3600s", 3600), ("2w", 14 * DAY), ("45", 45), (7, 7),
    ("0", 0), (" 3D ", 3 * DAY),
])
def test_parse_max_age(value, seconds):
    assert parse_max_age(value) == seconds


@pytest.mark.parametrize("value", ["", "d", "1.5d", "-1d", "10y", "ten", True, -3])
def test_parse_max_age_rejects(value):
    with pytest.raises(RotationError, match="max_age"):
        parse_max_age(value)


def test_generate_password_length_and_alphabet():
    for length in (16, 40, 128):
        password = generate_password(length, DEFAULT_ALPHABET)
        assert len(password) == length and set(password) <= set(DEFAULT_ALPHABET)
    assert len({generate_password(40) for dummy in range(50)}) == 50
    assert set(generate_password(200, "ab")) == {"a", "b"}
    # every character of the alphabet shows up eventually (secrets.choice, no bias to a subset)
    assert set("".join(generate_password(64, DEFAULT_ALPHABET) for dummy in range(40))) == set(DEFAULT_ALPHABET)


def test_generate_password_rejects():
    with pytest.raises(RotationError, match="password_length"):
        generate_password(15)
    with pytest.raises(RotationError, match="password_alphabet"):
        generate_password(20, "aaaa")


def test_build_alphabet():
    assert build_alphabet(None) == string.ascii_letters + string.digits
    assert build_alphabet("abc", "-_a") == "abc-_"
    with pytest.raises(RotationError, match="password_alphabet"):
        build_alphabet("a", "")
    with pytest.raises(RotationError, match="password_alphabet/password_symbols"):
        build_alphabet("ab c")


def test_credential_repr_masks_password():
    credential = Credential("user", "hunter2-secret", slot="primary")
    assert "hunter2" not in repr(credential) and "hunter2" not in str(credential)
    assert credential.public() == {"username": "user", "slot": "primary"}
    assert Credential.from_state(credential.to_state()) == credential


def test_mask():
    assert mask("login a:pw1 and pw12", ["pw1", "pw12", None, ""]) == "login a:%s and %s" % (MASK, MASK)


def test_error_messages_carry_no_secret(tmp_path):
    world = World(tmp_path)
    world.backend.fail_test = True
    with pytest.raises(RotationError) as raised:
        world.engine().run()
    assert "secret-01" not in str(raised.value)
    assert "secret-01" not in json.dumps(raised.value.result)


# ----------------------------------------------------------------------------------------------------- state file


def test_state_file_mode_and_atomic_replace(tmp_path, monkeypatch):
    store = StateStore(str(tmp_path / "deep" / "state"), "redis-app")
    store.save({"step": "idle", "n": 1})
    assert stat.S_IMODE(os.stat(store.state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.load() == {"step": "idle", "n": 1}
    inode = os.stat(store.path).st_ino

    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((src, dst))
        # the new content is complete and private before it takes the name
        assert json.load(open(src)) == {"step": "set_secret", "n": 2}
        assert stat.S_IMODE(os.stat(src).st_mode) == 0o600
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.save({"step": "set_secret", "n": 2})
    assert len(replaced) == 1 and replaced[0][1] == store.path
    assert os.stat(store.path).st_ino != inode
    assert os.listdir(store.state_dir) == ["redis-app.json"]  # no temp file left


def test_state_write_failure_keeps_the_old_state(tmp_path, monkeypatch):
    store = StateStore(str(tmp_path), "app")
    store.save({"step": "idle"})

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.save({"step": "revoke"})
    assert store.load() == {"step": "idle"}
    assert os.listdir(str(tmp_path)) == ["app.json"]


def test_state_dir_is_tightened_to_0700(tmp_path):
    state_dir = tmp_path / "open"
    state_dir.mkdir(mode=0o755)
    StateStore(str(state_dir), "app").save({"step": "idle"})
    assert stat.S_IMODE(os.stat(str(state_dir)).st_mode) == 0o700


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "a b"])
def test_bad_credential_names(tmp_path, name):
    with pytest.raises(RotationError, match="credential"):
        StateStore(str(tmp_path), name)


def test_corrupt_state_file(tmp_path):
    store = StateStore(str(tmp_path), "app")
    with open(store.path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(RotationError, match="not valid JSON"):
        store.load()


# ---------------------------------------------------------------------------------------------- file consumer


def test_file_consumer_layout_and_swap(tmp_path):
    path = tmp_path / "secret"
    consumer = FileConsumer(str(path), {"DB_USER": "username", "DB_PASSWORD": "password"})
    assert consumer.read_current() is None
    assert consumer.write(Credential("a", "pw-one"), check_mode=True) is True
    assert not path.exists()
    assert consumer.write(Credential("a", "pw-one"), check_mode=False) is True
    assert os.readlink(str(path / "DB_USER")) == "..data/DB_USER"
    data = os.readlink(str(path / "..data"))
    assert data.startswith("..") and "/" not in data
    assert (path / "DB_PASSWORD").read_text() == "pw-one"
    assert stat.S_IMODE(os.stat(str(path / data / "DB_PASSWORD")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(path / data)).st_mode) == 0o700
    assert consumer.read_current() == {"username": "a", "password": "pw-one"}
    assert consumer.write(Credential("a", "pw-one"), check_mode=False) is False
    (path / data / "EXTRA").write_text("kept")
    assert consumer.write(Credential("b", "pw-two"), check_mode=False) is True
    new_data = os.readlink(str(path / "..data"))
    assert new_data != data and not (path / data).exists()
    assert (path / new_data / "EXTRA").read_text() == "kept"
    assert consumer.read_current() == {"username": "b", "password": "pw-two"}
    assert sorted(os.listdir(str(path))) == sorted(["..data", new_data, "DB_USER", "DB_PASSWORD"])


def test_file_consumer_rejects_bad_keys(tmp_path):
    with pytest.raises(RotationError, match=r"consumers\[0\]: output key '\.\./evil' is not a valid file name"):
        FileConsumer(str(tmp_path), {"../evil": "password"})
    with pytest.raises(RotationError, match=r"consumers\[0\].keys.X must be username or password"):
        FileConsumer(str(tmp_path), {"X": "token"})


def test_build_consumers_names_the_entry(tmp_path):
    consumers = build_consumers([{"type": "file", "path": str(tmp_path), "keys": {"P": "password"}}])
    assert consumers[0].describe() == "file:%s" % tmp_path
    with pytest.raises(RotationError, match=r"consumers\[1\]: option secret_id does not apply to type file"):
        build_consumers([{"type": "file", "path": str(tmp_path), "keys": {"P": "password"}},
                         {"type": "file", "path": str(tmp_path), "keys": {"P": "password"}, "secret_id": "x"}])
    with pytest.raises(RotationError, match=r"consumers\[0\].path is required"):
        build_consumers([{"type": "file", "keys": {"P": "password"}}])
    with pytest.raises(RotationError, match=r"consumers\[0\].type must be one of"):
        build_consumers([{"type": "ftp", "keys": {"P": "password"}}])
    with pytest.raises(RotationError, match="at least one"):
        build_consumers([])
    assert build_refreshers([], []) == []


def test_engine_with_file_consumer(tmp_path):
    world = World(tmp_path)
    consumer = FileConsumer(str(tmp_path / "vol"), {"USER": "username", "PASSWORD": "password"})
    engine = RotationEngine("app", world.backend, [consumer], [], world.store, DAY, password_generator=world.password,
                            now=world.clock)
    result = engine.run()
    assert result["consumers"] == [{"type": "file", "target": str(tmp_path / "vol"), "changed": True}]
    assert consumer.read_current()["username"] == "a"


def test_file_consumer_removes_a_directory_left_by_a_killed_write(tmp_path):
    path = tmp_path / "vol"
    consumer = FileConsumer(str(path), {"P": "password"})
    consumer.write(Credential("a", "one"), check_mode=False)
    (path / "..2026_01_01_00_00_00.half").mkdir()  # a write killed before its swap
    consumer.write(Credential("a", "two"), check_mode=False)
    data = os.readlink(str(path / "..data"))
    assert sorted(os.listdir(str(path))) == sorted(["..data", data, "P"])
    assert consumer.read_current() == {"username": None, "password": "two"}


# ------------------------------------------------------------------------------ redis ACL backend, fake admin


class FakeRedis(object):
    """Records the commands an admin client sends; answers like Redis 7 with an aclfile."""

    def __init__(self, log, user_exists=True, aclfile="/etc/redis/users.acl", auth_ok=True):
        self.log = log
        self.user_exists = user_exists
        self.aclfile = aclfile
        self.auth_ok = auth_ok

    def execute_command(self, *args):
        self.log.append(args)
        if args[:2] == ("ACL", "GETUSER"):
            return ["flags", ["on"], "passwords", []] if self.user_exists else None
        if args[:2] == ("CONFIG", "GET"):
            return ["aclfile", self.aclfile]
        if args[:2] == ("ACL", "WHOAMI"):
            return "admin"
        return "OK"

    def ping(self):
        if not self.auth_ok:
            raise RuntimeError("WRONGPASS invalid username-password pair or user is disabled.")
        return True

    def close(self):
        self.log.append(("close",))


def redis_backend(log, **fake):
    params = dict(login_host="127.0.0.1", login_port=6379, login_user="admin", login_password="admin-pw",
                  acl_user="app", persist="auto", connect_timeout=5.0, validate_certs=True)
    return RedisAclBackend(params, client_factory=lambda connection: FakeRedis(log, **fake))


def test_redis_sends_only_hashes_and_saves_the_aclfile():
    log = []
    backend = redis_backend(log)
    new = Credential("app", "new-password-123456")
    statements = backend.set_secret(new, check_mode=False)
    statements += backend.revoke({"username": "app"}, new, check_mode=False)
    digest = hashlib.sha256(b"new-password-123456").hexdigest()
    assert ("ACL", "SETUSER", "app", "on", "#" + digest) in log
    assert ("ACL", "SETUSER", "app", "resetpass", "#" + digest) in log
    assert log.count(("ACL", "SAVE")) == 2
    assert "new-password-123456" not in repr(log) + repr(statements)
    assert statements == ["ACL SETUSER app on #********", "ACL SAVE", "ACL SETUSER app resetpass #********",
                          "ACL SAVE"]


def test_redis_check_mode_only_reads_and_dry_runs():
    log = []
    backend = redis_backend(log)
    backend.set_secret(Credential("app", "x" * 20), check_mode=True)
    backend.revoke(None, Credential("app", "x" * 20), check_mode=True)
    assert all(args[:2] in (("ACL", "GETUSER"), ("ACL", "WHOAMI"), ("ACL", "DRYRUN"), ("CONFIG", "GET"))
               for args in log)


def test_redis_without_aclfile_persists_nothing_and_missing_user_fails():
    log = []
    assert redis_backend(log, aclfile="").set_secret(Credential("app", "y" * 20), False) == [
        "ACL SETUSER app on #********"]
    with pytest.raises(RotationError, match="redis.acl_user app does not exist"):
        redis_backend([], user_exists=False).set_secret(Credential("app", "y" * 20), False)


def test_redis_test_secret_failure_is_masked():
    backend = redis_backend([], auth_ok=False)
    with pytest.raises(RotationError) as raised:
        backend.test_secret(Credential("app", "z" * 20))
    assert "WRONGPASS" in str(raised.value) and "z" * 20 not in str(raised.value)


def test_redis_option_errors():
    with pytest.raises(RotationError, match="redis.acl_user is required"):
        RedisAclBackend(dict(login_user="admin", login_password="pw"))
    with pytest.raises(RotationError, match="redis.login_user must be an admin user"):
        RedisAclBackend(dict(login_user="app", login_password="pw", acl_user="app"))


def test_concurrent_runs_are_refused(tmp_path):
    world = World(tmp_path)
    with world.store.lock():
        with pytest.raises(RotationError, match="another run is rotating"):
            world.engine().run()
    assert world.journal == []
    assert world.engine().run()["rotated"] is True  # released
    lock = world.store.path[:-len(".json")] + ".lock"
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
