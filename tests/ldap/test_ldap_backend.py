"""The LDAP users backend (ikesrv.auth.ldap) against a real slapd (tests/harness/slapd.py):
each method with good and bad credentials, the group, disabled accounts, hostile user
names, a stopped and a stalled directory, recovery, metrics, StartTLS and LDAPS."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import time

import pytest

from ikesrv.actions import AuthRequest
from ikesrv.auth.ldap import LdapBackend
from ikesrv.config import LdapConfig, Secret
from ikesrv.metrics import Metrics
from tests.harness import slapd as S

pytestmark = pytest.mark.root

PASSWORDS = {u.uid: u.password for u in S.USERS}


def backend_for(directory, metrics=None, **overrides) -> LdapBackend:
    cfg = LdapConfig(
        url=f"ldap://127.0.0.1:{directory.port}",
        user_base=S.PEOPLE,
        bind_dn=S.SERVICE_DN,
        bind_password=Secret(S.SERVICE_PASSWORD.encode()),
        user_filter="(&(objectClass=inetOrgPerson)(uid={user}))",
        nt_hash_attribute="sambaNTPassword",
        password_attribute="userPassword",
        require_group=S.GROUP_DN,
        timeout=2.0,
        pool_size=2,
    )
    return LdapBackend(dataclasses.replace(cfg, **overrides), metrics)


def req(method, user, password=b""):
    return AuthRequest(1, method, "rw-eap", user, password)


def set_clear_password(directory, uid: str, password: str) -> None:
    """userPassword in clear text (slapd keeps what it is given), as root."""
    ldif = f"dn: uid={uid},{S.PEOPLE}\nchangetype: modify\nreplace: userPassword\n" \
           f"userPassword: {password}\n"
    subprocess.run(["ldapmodify", "-x", "-H", f"ldap://127.0.0.1:{directory.port}/", "-D",
                    S.ROOT_DN, "-w", S.ROOT_PASSWORD], input=ldif.encode(), check=True,
                   capture_output=True, timeout=10)


def sample(metrics: Metrics, name: str, **labels) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


# --- good and bad credentials --------------------------------------------------------

def test_password_by_binding_as_the_user(directory):
    b = backend_for(directory)
    assert b.check_sync(req("password", "alice", b"alice-Secret-1")).ok
    assert b.check_sync(req("password", "carol", b"carol-Secret-3")).ok  # no samba attributes
    wrong = b.check_sync(req("password", "alice", b"alice-Secret-2"))
    assert not wrong.ok and wrong.reason == "wrong password for 'alice'"
    assert not b.check_sync(req("password", "carol", b"Carol-Secret-3")).ok


def test_nt_hash_from_samba_nt_password(directory):
    b = backend_for(directory)
    result = b.check_sync(req("nt_hash", "alice"))
    assert result.ok and result.secret.hex().upper() == S.NT_HASHES["alice-Secret-1"]
    none = b.check_sync(req("nt_hash", "carol"))
    assert not none.ok and none.reason == "user 'carol' has no sambaNTPassword"


def test_clear_password_only_when_the_directory_holds_clear_text(directory):
    b = backend_for(directory)
    hashed = b.check_sync(req("clear_password", "carol"))
    assert not hashed.ok and "holds a hashed password ({SSHA})" in hashed.reason
    set_clear_password(directory, "carol", "carol-Secret-3")
    result = b.check_sync(req("clear_password", "carol"))
    assert result.ok and result.secret == b"carol-Secret-3"
    unset = backend_for(directory, password_attribute=None)
    result = unset.check_sync(req("clear_password", "carol"))
    assert "password_attribute is not set" in result.reason


@pytest.mark.parametrize("method,password", [
    ("password", b"bob-Secret-2"), ("nt_hash", b""), ("clear_password", b"")])
def test_outside_the_group_is_refused(directory, method, password):
    b = backend_for(directory)
    result = b.check_sync(req(method, "bob", password))
    assert not result.ok
    assert result.reason == f"user 'bob' is not a member of {S.GROUP_DN}"
    # without require_group bob's own credentials are fine
    assert backend_for(directory, require_group=None).check_sync(req("password", "bob",
                                                                     b"bob-Secret-2")).ok


def test_posix_group_by_member_uid(directory):
    b = backend_for(directory, require_group=f"cn={S.POSIX_GROUP},{S.GROUPS}",
                    group_member_attribute="memberUid")
    assert b.check_sync(req("nt_hash", "alice")).ok
    assert "not a member" in b.check_sync(req("nt_hash", "bob")).reason


def test_missing_group_is_named(directory):
    b = backend_for(directory, require_group=f"cn=nope,{S.GROUPS}")
    result = b.check_sync(req("nt_hash", "alice"))
    assert not result.ok and result.reason == f"required group cn=nope,{S.GROUPS} does not exist"


def test_disabled_samba_account(directory):
    b = backend_for(directory)
    for method, password in (("nt_hash", b""), ("password", b"dave-Secret-4")):
        result = b.check_sync(req(method, "dave", password))
        assert not result.ok and "is disabled (sambaAcctFlags)" in result.reason


def test_unknown_user(directory):
    b = backend_for(directory)
    for method in ("password", "nt_hash", "clear_password"):
        result = b.check_sync(req(method, "mallory", b"x-1"))
        assert not result.ok and result.reason == "unknown user 'mallory'"


def test_empty_password_never_reaches_the_directory(directory):
    metrics = Metrics()
    b = backend_for(directory, metrics)
    result = b.check_sync(req("password", "alice", b""))
    assert not result.ok and result.reason == "empty password for 'alice'"
    assert sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="bind") == 0


# --- hostile user names ---------------------------------------------------------------

HOSTILE = ["*", "a*)(uid=*", "x)(|(uid=*", "alice)(uid=*", "*)(objectClass=*", "\\2a",
           "alice*", "a" * 300, "b" * 100_000, "alice\x00", "alice\x00*", "alice\n",
           "alice\r\nuid: bob", ""]


@pytest.mark.parametrize("name", HOSTILE, ids=lambda n: repr(n[:20]))
@pytest.mark.parametrize("method", ["password", "nt_hash", "clear_password"])
def test_hostile_user_names_match_nothing(directory, name, method):
    b = backend_for(directory)
    result = b.check_sync(req(method, name, b"alice-Secret-1"))
    assert not result.ok
    assert result.secret == b""
    assert any(w in result.reason for w in ("unknown user", "bytes", "control characters",
                                            "empty user name")), result.reason


def test_filter_characters_are_escaped_on_the_wire(directory):
    """Unescaped, ``*`` would match every user ("several entries: ambiguous") and
    ``alice)(uid=*`` would find alice; escaped (RFC 4515) they are literal names."""
    b = backend_for(directory, user_filter="(uid={user})", require_group=None)
    assert b.check_sync(req("nt_hash", "*")).reason == "unknown user '*'"
    assert b.check_sync(req("nt_hash", "al*")).reason == "unknown user 'al*'"
    assert b.check_sync(req("nt_hash", "alice)(uid=*")).reason == "unknown user 'alice)(uid=*'"
    # the same search that the escaping prevents, made on purpose, is ambiguous
    loose = backend_for(directory, user_filter="(|(uid={user})(uid=*))", require_group=None)
    assert "several entries" in loose.check_sync(req("nt_hash", "alice")).reason


# --- a directory that is down, slow, then back ----------------------------------------

def test_stopped_directory_fails_fast_and_recovers_without_restart(directory, caplog):
    metrics = Metrics()
    b = backend_for(directory, metrics)
    assert b.check_sync(req("nt_hash", "alice")).ok  # a pooled connection now exists
    directory.stop()
    for _ in range(3):
        started = time.monotonic()
        result = b.check_sync(req("nt_hash", "alice"))
        assert time.monotonic() - started < b.cfg.timeout
        assert not result.ok and "unavailable" in result.reason
    assert caplog.text.count("unavailable") == 1  # logged once, not per request
    # connecting counts as "bind": the connection slapd closed is dropped, no new one opens
    assert sample(metrics, "ikesrv_ldap_errors_total", operation="bind") >= 3
    directory.start()
    result = b.check_sync(req("nt_hash", "alice"))
    assert result.ok, result.reason
    assert b.check_sync(req("password", "alice", b"alice-Secret-1")).ok
    assert "answers again" in caplog.text


def test_stalled_directory_fails_each_request_in_time(directory):
    """slapd frozen (SIGSTOP): connections open, nothing answers. Every request fails
    within the timeout, more requests than pooled threads included, and the event loop
    keeps running meanwhile."""
    b = backend_for(directory, timeout=1.0, pool_size=2)
    pid = directory.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(ticker())
            started = time.monotonic()
            results = await asyncio.gather(*(b.check(req("nt_hash", "alice"))
                                             for _ in range(6)))
            elapsed = time.monotonic() - started
            task.cancel()
            return results, elapsed, ticks

        results, elapsed, ticks = asyncio.run(main())
    finally:
        os.kill(pid, signal.SIGCONT)
    assert all(not r.ok for r in results)
    assert all(any(why in r.reason for why in ("did not answer within 1s", "unavailable",
                                               "busy: no connection free within 1s"))
               for r in results), [r.reason for r in results]
    assert elapsed < 1.9, elapsed  # not 3 x 1 s for 6 requests on 2 threads
    assert ticks > 20  # the loop was never blocked (a tick per 10 ms)
    # thawed: the next request succeeds with the same backend
    deadline = time.monotonic() + 5
    while True:
        result = b.check_sync(req("nt_hash", "alice"))
        if result.ok or time.monotonic() > deadline:
            break
    assert result.ok, result.reason
    b.close()


def test_wrong_service_password_is_a_directory_problem(directory):
    b = backend_for(directory, bind_password=Secret(b"not-it"))
    result = b.check_sync(req("nt_hash", "alice"))
    assert not result.ok and "service bind as cn=ikesrv" in result.reason
    assert "not-it" not in result.reason


def test_metrics_per_operation(directory):
    metrics = Metrics()
    b = backend_for(directory, metrics)
    assert b.check_sync(req("password", "alice", b"alice-Secret-1")).ok
    assert not b.check_sync(req("password", "alice", b"wrong-1")).ok
    searches = sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="search")
    binds = sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="bind")
    assert searches == 4  # user + group, twice
    assert binds == 3  # service bind once, two user binds
    # a wrong password is an answer, not a directory error
    assert sample(metrics, "ikesrv_ldap_errors_total", operation="bind") == 0


def test_many_logins_at_once_share_the_pooled_connections(directory):
    """60 logins at once with pool_size 2: slapd answers every one, right or wrong, over
    at most two service connections (a service bind each) and two for users' binds."""
    metrics = Metrics()
    b = backend_for(directory, metrics, pool_size=2)
    logins = [req("nt_hash", "alice"), req("password", "alice", b"alice-Secret-1"),
              req("password", "alice", b"wrong-1"), req("nt_hash", "bob")] * 15

    async def main():
        return await asyncio.gather(*(b.check(r) for r in logins))

    results = asyncio.run(main())
    assert [r.ok for r in results] == [True, True, False, False] * 15
    assert {r.reason for r in results[2::4]} == {"wrong password for 'alice'"}
    assert {r.reason for r in results[3::4]} == {f"user 'bob' is not a member of {S.GROUP_DN}"}
    searches = sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="search")
    binds = sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="bind")
    assert searches == 2 * 60  # user and group for each
    assert 30 + 1 <= binds <= 30 + 2  # the users' binds and one or two service binds
    assert sample(metrics, "ikesrv_ldap_errors_total", operation="search") == 0
    b.close()


def test_pooled_connections_probe_a_quiet_directory(directory):
    """Idle pooled connections carry TCP keepalive, as ss shows it: one a firewall
    dropped silently is found without a login waiting out its timeout on it."""
    b = backend_for(directory)
    assert b.check_sync(req("password", "alice", b"alice-Secret-1")).ok  # search + bind
    shown = subprocess.run(["ss", "-tnoH", "state", "established", "dport", "=",
                            f":{directory.port}"], capture_output=True, text=True,
                           timeout=10, check=True).stdout.splitlines()
    assert len(shown) == 2, shown  # the service connection and the one for users' binds
    assert all("timer:(keepalive," in line for line in shown), shown
    b.close()


def test_logs_carry_reasons_never_passwords(directory, caplog):
    caplog.set_level("DEBUG")
    b = backend_for(directory)
    b.check_sync(req("password", "alice", b"Secret-In-Log-1"))
    directory.stop()
    b.check_sync(req("password", "alice", b"Secret-In-Log-2"))
    text = caplog.text
    assert "unavailable" in text
    assert "Secret-In-Log" not in text and S.SERVICE_PASSWORD not in text


# --- TLS ------------------------------------------------------------------------------

def test_start_tls_with_the_directory_ca(tls_directory, ldap_pki):
    b = backend_for(tls_directory, start_tls=True, ca_file=ldap_pki.ca.cert_path)
    assert b.check_sync(req("nt_hash", "alice")).ok
    assert b.check_sync(req("password", "alice", b"alice-Secret-1")).ok
    assert not b.check_sync(req("password", "alice", b"nope-1")).ok


def test_ldaps_with_the_directory_ca(tls_directory, ldap_pki):
    b = backend_for(tls_directory, url=f"ldaps://127.0.0.1:{tls_directory.ldaps_port}",
                    ca_file=ldap_pki.ca.cert_path)
    assert b.check_sync(req("password", "alice", b"alice-Secret-1")).ok


def test_start_tls_refused_by_the_directory_stops_before_any_bind(directory):
    """A directory without TLS answers StartTLS with an error: the login fails with the
    directory's words, and nothing (no service or user password) goes out in clear."""
    metrics = Metrics()
    b = backend_for(directory, metrics, start_tls=True)
    result = b.check_sync(req("password", "alice", b"alice-Secret-1"))
    assert not result.ok and "StartTLS refused" in result.reason, result.reason
    assert "unsupported extended operation" in result.reason
    assert sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="search") == 0
    # one "bind" observation, the failed connect: no service bind was tried after it
    assert sample(metrics, "ikesrv_ldap_request_duration_seconds_count", operation="bind") == 1
    assert sample(metrics, "ikesrv_ldap_errors_total", operation="bind") == 1
    b.close()


@pytest.mark.parametrize("how", ["other CA", "system store", "wrong name"])
@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_tls_certificate_is_verified(tls_directory, ldap_pki, how, mode):
    ca = {"other CA": ldap_pki.other_ca.cert_path, "system store": None,
          "wrong name": ldap_pki.ca.cert_path}[how]
    host = "localhost" if how == "wrong name" else "127.0.0.1"  # SANs: 127.0.0.1, ldap.example.test
    if mode == "ldaps":
        b = backend_for(tls_directory, url=f"ldaps://{host}:{tls_directory.ldaps_port}",
                        ca_file=ca)
    else:
        b = backend_for(tls_directory, url=f"ldap://{host}:{tls_directory.port}",
                        start_tls=True, ca_file=ca)
    result = b.check_sync(req("password", "alice", b"alice-Secret-1"))
    assert not result.ok and "unavailable" in result.reason
    assert ("the server certificate does not name 'localhost'" if how == "wrong name"
            else "CERTIFICATE_VERIFY_FAILED") in result.reason, result.reason
