"""EAP-GTC (RFC 3748 §5.6): the peer answers a displayed prompt with its password.

Owns: both sides of the Generic Token Card method as ikesrv uses it: ``Server`` sends the
prompt and has the users backend verify the answer as a clear-text password (method
"password": an LDAP bind as the user, or the users file's hash); ``Peer`` answers with
its password. GTC derives no key: after it the final IKE AUTH uses SK_pi/SK_pr (RFC 7296
§2.16). The password crosses only inside the IKE SA's encryption, after the responder
proved itself with its certificate.

Must not import asyncio, socket, ldap3 or the clock.
"""

from __future__ import annotations

from ...actions import AuthResult
from ...constants import EapType
from ..users import MAX_PASSWORD_BYTES, PASSWORD, strip_domain
from .framing import Done, EapError, Lookup, Step

PROMPT = b"Password: "


class Server:
    eap_type = EapType.GTC
    label = "eap-gtc"

    def __init__(self, username: str, rng=None):
        self.username = strip_domain(username)
        self.state = "new"

    def start(self, identifier: int) -> bytes:
        self.state = "prompted"
        return PROMPT

    def receive(self, data: bytes) -> Step:
        if self.state != "prompted":
            raise EapError(f"EAP-GTC message in state {self.state}")
        if len(data) > MAX_PASSWORD_BYTES:
            raise EapError(f"EAP-GTC response of {len(data)} bytes")
        self.state = "lookup"
        if not data:
            # an empty password must never reach a directory: an LDAP simple bind with
            # one is an unauthenticated bind that "succeeds" (RFC 4513 §5.1.2)
            self.state = "done"
            return Done(False, "empty EAP-GTC password")
        return Lookup(PASSWORD, self.username, bytes(data))

    def answer(self, result: AuthResult) -> Step:
        if self.state != "lookup":
            raise EapError("EAP-GTC: a backend answer nobody asked for")
        self.state = "done"
        return Done(result.ok, result.reason or ("" if result.ok else "refused"))


class Peer:
    eap_type = EapType.GTC

    def __init__(self, identity: str, password: str, rng=None):
        self.password = password.encode("utf-8")
        self.msk = None
        self.failed = None

    def receive(self, data: bytes, identifier: int = 0) -> bytes:
        return self.password


__all__ = ["Server", "Peer", "PROMPT"]
