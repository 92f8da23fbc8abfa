"""The users file backend (ikesrv.auth.users_file) and backend_from_config."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from ikesrv.actions import AuthRequest
from ikesrv.auth import backend_from_config
from ikesrv.auth import users_file as module
from ikesrv.auth.eap.md4 import nt_hash
from ikesrv.auth.users_file import UsersFileBackend
from ikesrv.config import hash_password, load
from ikesrv.errors import ConfigError

USERS = f"""
[alice]
password_hash = "{hash_password("alice-Secret-1", ln=4)}"
nt_hash = "{nt_hash("alice-Secret-1").hex()}"
[bob]
nt_hash = "{nt_hash("bob-Secret-2").hex().upper()}"
[carol]
password = "carol-Secret-3"
["jürgen"]
password = "pässwort"
"""


@pytest.fixture
def backend(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text(USERS)
    return UsersFileBackend(path)


def req(method, user, password=b""):
    return AuthRequest(1, method, "rw", user, password)


@pytest.mark.parametrize("user,password,ok", [
    ("alice", b"alice-Secret-1", True),     # scrypt
    ("alice", b"alice-Secret-2", False),
    ("bob", b"bob-Secret-2", True),         # against the NT hash
    ("bob", b"bob-Secret-3", False),
    ("carol", b"carol-Secret-3", True),     # clear text
    ("carol", b"carol-secret-3", False),
    ("jürgen", "pässwort".encode(), True),
    ("mallory", b"anything-at-all", False),
    ("alice", b"", False),
    ("alice", b"\xff\xfe", False),
    ("alice", b"x" * 5000, False),
])
def test_password(backend, user, password, ok):
    result = backend.check_sync(req("password", user, password))
    assert result.ok is ok
    assert result.secret == b""
    if not ok:
        assert result.reason


def test_reasons_name_the_problem_not_the_secret(backend):
    assert backend.check_sync(req("password", "mallory", b"pw-1")).reason == \
        "unknown user 'mallory'"
    assert backend.check_sync(req("password", "alice", b"pw-1")).reason == \
        "wrong password for 'alice'"
    for r in (req("password", "alice", b"pw-1"), req("nt_hash", "mallory")):
        result = backend.check_sync(r)
        assert "pw-1" not in result.reason and "pw-1" not in repr(result)


def test_unknown_user_costs_a_scrypt_too(backend, monkeypatch):
    calls = []
    real = module.verify_password
    monkeypatch.setattr(module, "verify_password",
                        lambda h, p: calls.append(1) or real(h, p))
    backend.check_sync(req("password", "mallory", b"guess"))
    backend.check_sync(req("password", "alice", b"guess"))
    assert len(calls) == 2


def test_nt_hash(backend):
    assert backend.check_sync(req("nt_hash", "alice")).secret == nt_hash("alice-Secret-1")
    assert backend.check_sync(req("nt_hash", "bob")).secret == nt_hash("bob-Secret-2")
    # computed from the clear-text password
    assert backend.check_sync(req("nt_hash", "carol")).secret == nt_hash("carol-Secret-3")
    assert "nt_hash" in repr(req("nt_hash", "x")) and "secret" not in repr(
        backend.check_sync(req("nt_hash", "alice")))
    assert not backend.check_sync(req("nt_hash", "mallory")).ok


def test_clear_password(backend):
    assert backend.check_sync(req("clear_password", "carol")).secret == b"carol-Secret-3"
    result = backend.check_sync(req("clear_password", "alice"))
    assert not result.ok and "no clear-text password" in result.reason


def test_user_with_only_a_password_hash_has_no_nt_hash(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text(f'[dan]\npassword_hash = "{hash_password("x-1", ln=4)}"\n')
    result = UsersFileBackend(path).check_sync(req("nt_hash", "dan"))
    assert not result.ok and "EAP-MSCHAPv2" in result.reason


@pytest.mark.parametrize("name,why", [
    ("*", "unknown user"),
    ("a*)(uid=*", "unknown user"),
    ("x)(|(uid=*", "unknown user"),
    ("a" * 10000, "10000 bytes"),
    ("alice\x00", "control characters"),
    ("alice\n", "control characters"),
    ("", "empty user name"),
])
@pytest.mark.parametrize("method", ["password", "nt_hash", "clear_password"])
def test_hostile_names(backend, name, why, method):
    result = backend.check_sync(req(method, name, b"alice-Secret-1"))
    assert not result.ok and why in result.reason


def test_file_is_reread_when_it_changes(tmp_path, caplog):
    path = tmp_path / "users.toml"
    path.write_text('[erin]\npassword = "one-1"\n')
    backend = UsersFileBackend(path)
    assert backend.check_sync(req("password", "erin", b"one-1")).ok
    path.write_text('[erin]\npassword = "two-22"\n')
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert backend.check_sync(req("password", "erin", b"two-22")).ok
    assert not backend.check_sync(req("password", "erin", b"one-1")).ok
    # a broken edit: the previous users stay, the error is logged
    path.write_text('[erin]\npasword = "three-333"\n')
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert backend.check_sync(req("password", "erin", b"two-22")).ok
    assert "has errors; keeping the previous 1 users" in caplog.text
    assert "three-333" not in caplog.text


def test_missing_file_at_start(tmp_path):
    with pytest.raises(ConfigError):
        UsersFileBackend(tmp_path / "none.toml")


def test_async_check_runs_scrypt_off_the_loop(tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text(f'[alice]\npassword_hash = "{hash_password("alice-Secret-1", ln=12)}"\n')
    backend = UsersFileBackend(path)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        results = await asyncio.gather(*(backend.check(req("password", "alice",
                                                           b"alice-Secret-1"))
                                         for _ in range(4)))
        task.cancel()
        return results, ticks

    results, ticks = asyncio.run(main())
    backend.close()
    assert all(r.ok for r in results)
    assert ticks > 100  # the loop kept running while the threads hashed (~10 ms each)


def test_backend_from_config_demo():
    config = load(module.__file__.rsplit("/auth/", 1)[0] + "/data/demo.toml")
    backend = backend_from_config(config)
    assert isinstance(backend, UsersFileBackend)
    assert backend.check_sync(req("nt_hash", "alice")).secret.hex().upper() == \
        "5466D191FA54FE490DB575B3B50E18C0"
    assert backend.check_sync(req("clear_password", "carol")).ok


def test_backend_from_config_without_users(tmp_path):
    from tests.unit.ikev2_pair import make_config
    assert backend_from_config(make_config(tmp_path)) is None
