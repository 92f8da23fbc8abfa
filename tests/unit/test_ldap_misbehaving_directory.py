"""The LDAP backend (ikesrv.auth.ldap and its connection, ldap_client) against
directories that break the protocol in ways slapd never does, or not on cue: answers past
the size limit without end, garbage, a disconnect mid-answer, a Notice of Disconnection,
an answer to a request never sent, an answer after its login gave up, answers split
across segments. A scripted server on 127.0.0.1 plays the directory (it answers binds,
then each search as the test says); a login must fail promptly with a reason, and the
next one get a fresh connection. Last, logins queued for the pool's connection. The
well-behaved directory is tests/ldap's real slapd."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from ikesrv.actions import AuthRequest
from ikesrv.auth import ldap_wire
from ikesrv.auth.ldap import LdapBackend
from ikesrv.config import LdapConfig, Secret
from tests.unit.test_ldap_wire import done, entry

BASE = "ou=people,dc=example,dc=test"
HASH = b"5466D191FA54FE490DB575B3B50E18C0"
NOTICE = (b"\x30\x2a\x02\x01\x00\x78\x25\x0a\x01\x34\x04\x00\x04\x0dshutting down"
          b"\x8a\x161.3.6.1.4.1.1466.20036")


def bind_ok(message_id: int) -> bytes:
    return b"\x30\x0c\x02\x01" + bytes([message_id]) + b"\x61\x07\x0a\x01\x00\x04\x00\x04\x00"


def user_answer(message_id: int, name: str = "alice") -> bytes:
    return (entry(message_id, f"uid={name},{BASE}", {"sambaNTPassword": [HASH],
                                                     "uid": [name.encode()]})
            + done(message_id, 0))


class ScriptedDirectory:
    """Answers binds with success and each search with ``answer(message_id, n)``, where n
    counts searches from 1, after ``delay.get(n, 0)`` seconds (reading nothing more
    meanwhile); the bytes go out in pieces of ``chunk`` bytes. An answer (bytes, True)
    closes the connection after the bytes."""

    def __init__(self, answer, chunk: int = 0, delay: dict[int, float] | None = None):
        self.answer, self.chunk, self.delay = answer, chunk, delay or {}
        self.searches = self.connections = 0

    async def serve(self, reader, writer):
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                message = await reader.readexactly(2)
                if message[1] >= 0x80:  # long form: the length's own octets first
                    message += await reader.readexactly(message[1] & 0x7F)
                size = ldap_wire.message_size(message)
                message += await reader.readexactly(size - len(message))
                message_id = message[4]  # the harness's ids stay below 128
                op = message[5]
                if op == 0x60:
                    out = bind_ok(message_id)
                elif op == 0x63:
                    self.searches += 1
                    await asyncio.sleep(self.delay.get(self.searches, 0))
                    out = self.answer(message_id, self.searches)
                else:
                    break  # unbind
                out, hang_up = out if isinstance(out, tuple) else (out, False)
                if self.chunk:
                    for i in range(0, len(out), self.chunk):
                        writer.write(out[i:i + self.chunk])
                        await writer.drain()
                        await asyncio.sleep(0)
                else:
                    writer.write(out)
                if hang_up or out == NOTICE:
                    break
        writer.close()


def run_logins(directory: ScriptedDirectory, names, timeout: float = 2.0,
               stagger: float = 0.0):
    """Log each batch of ``names`` in at once (the i-th ``stagger`` seconds after the
    first), batch after batch; the results in order."""
    async def main():
        server = await asyncio.start_server(directory.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        backend = LdapBackend(LdapConfig(
            url=f"ldap://127.0.0.1:{port}", user_base=BASE, bind_dn="cn=svc,dc=example,dc=test",
            bind_password=Secret(b"svc-password-1"), nt_hash_attribute="sambaNTPassword",
            timeout=timeout, pool_size=1))

        async def one(i, name):
            await asyncio.sleep(i * stagger)
            return await backend.check(AuthRequest(1, "nt_hash", "rw", name))

        try:
            results = []
            for batch in names:
                results += await asyncio.gather(*(one(i, n) for i, n in enumerate(batch)))
            return results
        finally:
            backend.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


@pytest.mark.parametrize("chunk", [1, 7])
def test_answers_in_pieces_and_a_late_answer(chunk):
    """Answers in segments of 1 or 7 bytes. The first login's answer comes after it timed
    out and just before the answer to a second login on the same connection: the late one
    is dropped, the second login gets its own."""
    directory = ScriptedDirectory(lambda message_id, n: user_answer(message_id), chunk=chunk,
                                  delay={1: 1.4})
    first, second = run_logins(directory, [["alice", "alice"]], timeout=1.0, stagger=0.5)
    assert not first.ok and "did not answer within 1s" in first.reason
    assert second.ok and second.secret == bytes.fromhex(HASH.decode()), second.reason
    assert directory.connections == 1


def test_searches_of_concurrent_logins_share_one_connection():
    directory = ScriptedDirectory(lambda message_id, n: user_answer(message_id))
    results = run_logins(directory, [["alice"] * 20])
    assert all(r.ok for r in results)
    assert directory.connections == 1 and directory.searches == 20


@pytest.mark.parametrize("bad,why", [
    (b"\x31\x03abc", "an answer starting with 0x31, not a SEQUENCE"),
    (NOTICE, "the directory disconnects: shutting down"),
    (b"\x30\x05\x02\x01\x07\x42\x00", "is no answer ikesrv asks for"),  # an unbind, as an answer
])
def test_a_broken_answer_fails_the_logins_on_that_connection_not_the_next(bad, why):
    """The first search gets nonsense: the logins in flight on that connection fail with
    the reason (the connection was open before, so each retries once on a new one, which
    works); nothing raises, and later logins are answered."""
    directory = ScriptedDirectory(lambda message_id, n: bad if n == 2 else
                                  user_answer(message_id))
    results = run_logins(directory, [["alice"], ["alice"], ["alice"]])
    assert all(r.ok for r in results), [r.reason for r in results]
    assert directory.connections == 2  # the broken one was replaced, once

    fresh = ScriptedDirectory(lambda message_id, n: bad)
    results = run_logins(fresh, [["alice"]])
    assert not results[0].ok and why in results[0].reason, results[0].reason
    assert "unavailable" in results[0].reason


def endless_entries(message_id, n):
    # as good as endless: the client must give up at the third entry of a search limited
    # to two, not wait for the end
    return b"".join(entry(message_id, f"uid=u{i},{BASE}", {"uid": [b"u%d" % i]})
                    for i in range(200))


def hang_up_mid_answer(message_id, n):
    return user_answer(message_id)[:9], True


@pytest.mark.parametrize("answer,reason", [
    (endless_entries, "more entries than the search's size limit of 2"),
    (lambda message_id, n: b"\x04\x05hello", "not a SEQUENCE"),
    (hang_up_mid_answer, "closed the connection"),
    (lambda message_id, n: user_answer(message_id + 7), "an answer to message"),
])
def test_a_misbehaving_directory_fails_the_login_with_a_reason(answer, reason):
    directory = ScriptedDirectory(answer)
    started = time.monotonic()
    results = run_logins(directory, [["alice"], ["alice"]])
    assert time.monotonic() - started < 2  # an answer, not a timeout
    for result in results:
        assert not result.ok and reason in result.reason, result.reason
        assert "unavailable" in result.reason
    # the broken connection is not reused: the next login connected again
    assert directory.connections == 2


def test_a_directory_that_never_answers_times_out_and_frees_the_connection():
    directory = ScriptedDirectory(lambda message_id, n: b"" if n == 1 else
                                  user_answer(message_id))
    results = run_logins(directory, [["alice"], ["alice"]], timeout=0.5)
    assert not results[0].ok and "did not answer within 0.5s" in results[0].reason
    assert results[1].ok, results[1].reason


def test_a_turn_given_to_a_login_that_timed_out_passes_on():
    """Logins queued for a pool's only connection: the one whose turn comes just as its
    time runs out must hand the turn on, or the next would wait for nothing."""
    from ikesrv.auth.ldap import _Pool
    from ikesrv.auth.ldap_client import LdapConnection

    async def main():
        async def opener():
            return LdapConnection()  # never connected: only the pool's bookkeeping runs

        pool = _Pool(1, 1, opener)
        first, _ = await pool.take()
        second = asyncio.ensure_future(pool.take())
        third = asyncio.ensure_future(pool.take())
        await asyncio.sleep(0)  # both wait for the connection
        pool.give_back(first)  # the turn goes to the second ...
        second.cancel()  # ... whose time is up before it runs
        conn, reused = await asyncio.wait_for(third, 1)
        return conn is first and reused and second.cancelled()

    assert asyncio.run(main())
