"""The LDAP backend against directories that break the protocol in ways slapd never does:
answers past the size limit without end, garbage, a disconnect mid-search. A small TCP
server on loopback plays the directory (it answers the service bind, then misbehaves);
the login must fail promptly with a reason, and the next one connect afresh.
The well-behaved directory is tests/ldap's real slapd."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ikesrv.actions import AuthRequest
from ikesrv.auth.ldap import LdapBackend
from ikesrv.config import LdapConfig
from tests.unit.test_ldap_wire import entry


def _message_id(request: bytes) -> int:
    """The messageID of a request (30 LL 02 NN id...), short or long outer length."""
    at = 2 if request[1] < 0x80 else 2 + (request[1] & 0x7F)
    length = request[at + 1]
    return int.from_bytes(request[at + 2:at + 2 + length], "big")


def _bind_response(message_id: int) -> bytes:
    body = b"\x0a\x01\x00\x04\x00\x04\x00"  # success, no matchedDN, no message
    op = b"\x61" + bytes([len(body)]) + body
    number = message_id.to_bytes(message_id.bit_length() // 8 + 1, "big")  # X.690 §8.3
    inner = b"\x02" + bytes([len(number)]) + number + op
    return b"\x30" + bytes([len(inner)]) + inner


class Directory:
    """Answers the first request (the service bind) with success, then calls ``behave``
    with the connection and the search request's messageID."""

    def __init__(self, behave):
        self.behave = behave
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.settimeout(5)
                bind = conn.recv(4096)
                conn.sendall(_bind_response(_message_id(bind)))
                search = conn.recv(4096)
                if search:
                    self.behave(conn, _message_id(search))
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.server.close()


def backend(directory: Directory) -> LdapBackend:
    return LdapBackend(LdapConfig(url=f"ldap://127.0.0.1:{directory.port}",
                                  user_base="ou=people,dc=example,dc=test",
                                  nt_hash_attribute="sambaNTPassword", timeout=2.0))


def login(b: LdapBackend):
    request = AuthRequest(request_id=1, method="nt_hash", connection="rw", username="alice")
    started = time.monotonic()
    result = b.check_sync(request)
    return result, time.monotonic() - started


def endless_entries(conn, message_id):
    for n in range(100_000):  # bounded: the client must give up long before
        conn.sendall(entry(message_id, f"uid=u{n},ou=people,dc=example,dc=test",
                           {"uid": [b"u%d" % n]}))


def garbage(conn, message_id):
    conn.sendall(b"\x04\x05hello")


def hang_up(conn, message_id):
    conn.sendall(entry(message_id, "uid=alice,ou=people,dc=example,dc=test", {"uid": [b"a"]})[:9])


def wrong_message(conn, message_id):
    conn.sendall(entry(message_id + 7, "uid=alice,ou=people,dc=example,dc=test",
                       {"uid": [b"a"]}))


@pytest.mark.parametrize("behave,reason", [
    (endless_entries, "more entries than the search's size limit of 2"),
    (garbage, "not a SEQUENCE"),
    (hang_up, "closed the connection"),
    (wrong_message, "an answer to message"),
])
def test_a_misbehaving_directory_fails_the_login_with_a_reason(behave, reason):
    directory = Directory(behave)
    b = backend(directory)
    try:
        result, took = login(b)
        assert not result.ok and reason in result.reason, result.reason
        assert "unavailable" in result.reason and took < 2
        # the broken connection is not reused: the next login connects again
        result, _ = login(b)
        assert not result.ok and reason in result.reason
        assert directory.connections >= 2
    finally:
        b.close()
        directory.close()
