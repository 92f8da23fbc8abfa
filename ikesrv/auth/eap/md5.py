"""EAP-MD5 (RFC 3748 §5.4): CHAP over EAP, MD5(Identifier | secret | Challenge).

Owns: both sides of the MD5-Challenge method: ``Server`` sends a random challenge, asks
the users backend for the user's clear-text password (method "clear_password": only the
users file's ``password``, or an LDAP ``password_attribute`` holding clear text, can
answer) and compares the peer's value (RFC 1994 §4.1) in constant time; ``Peer``
computes it. EAP-MD5 neither authenticates the server nor derives a key: the responder's
certificate does the former and the final IKE AUTH uses SK_pi/SK_pr (RFC 7296 §2.16).

Must not import asyncio, socket, ldap3 or the clock.
"""

from __future__ import annotations

import hashlib
import hmac

from ...actions import AuthResult
from ...constants import EapType
from ..users import CLEAR_PASSWORD, strip_domain
from .framing import Done, EapError, Lookup, Step

CHALLENGE_LEN = 16


def response_value(identifier: int, secret: bytes, challenge: bytes) -> bytes:
    """RFC 1994 §4.1: MD5 over the Identifier octet, the secret and the challenge."""
    return hashlib.md5(bytes([identifier & 0xFF]) + secret + challenge).digest()


class Server:
    eap_type = EapType.MD5_CHALLENGE
    label = "eap-md5"

    def __init__(self, username: str, rng):
        self.username = strip_domain(username)
        self.rng = rng
        self.state = "new"
        self.identifier = 0
        self.challenge = b""
        self._value = b""

    def start(self, identifier: int) -> bytes:
        self.identifier = identifier
        self.challenge = self.rng(CHALLENGE_LEN)
        self.state = "challenged"
        return bytes([CHALLENGE_LEN]) + self.challenge  # Value-Size, Value (no Name)

    def receive(self, data: bytes) -> Step:
        if self.state != "challenged":
            raise EapError(f"EAP-MD5 message in state {self.state}")
        if len(data) < 17 or data[0] != 16:
            raise EapError(f"EAP-MD5 response of {len(data)} bytes (Value-Size 16 expected)")
        self._value = bytes(data[1:17])
        self.state = "lookup"
        return Lookup(CLEAR_PASSWORD, self.username)

    def answer(self, result: AuthResult) -> Step:
        if self.state != "lookup":
            raise EapError("EAP-MD5: a backend answer nobody asked for")
        self.state = "done"
        if not result.ok:
            return Done(False, result.reason or "refused")
        if not result.secret:
            return Done(False, "no clear-text password for EAP-MD5")
        expected = response_value(self.identifier, result.secret, self.challenge)
        if not hmac.compare_digest(expected, self._value):
            return Done(False, "wrong password (EAP-MD5 response does not verify)")
        return Done(True)


class Peer:
    eap_type = EapType.MD5_CHALLENGE

    def __init__(self, identity: str, password: str, rng=None):
        self.secret = password.encode("utf-8")
        self.msk = None
        self.failed = None

    def receive(self, data: bytes, identifier: int = 0) -> bytes:
        """The Response to a Request of ``identifier`` carrying ``data``."""
        if len(data) < 1 + CHALLENGE_LEN or data[0] < 1 or len(data) < 1 + data[0]:
            raise EapError("malformed EAP-MD5 challenge")
        challenge = bytes(data[1:1 + data[0]])
        return bytes([16]) + response_value(identifier, self.secret, challenge)


__all__ = ["Server", "Peer", "response_value"]
