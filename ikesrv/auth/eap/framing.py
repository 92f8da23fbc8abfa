"""EAP packets and the contract between an EAP method and the conversation that runs it.

Owns: building EAP Request/Success/Failure packets (RFC 3748 §4) as the IKEv2 EAP payload
carries them (``wire.ikev2.EapPayload``: Code, Identifier, Type, Type-Data), reading the
Identity response (§5.1) with the user-name rules of ``auth.users``, and the steps a
method's server side returns, so that each method is a small sans-I/O state machine:

  ``Request(data)``          send an EAP Request of the method's type with this Type-Data
  ``Lookup(method, ...)``    ask the users backend (an ``AuthRequest``), then call
                             ``answer(AuthResult)``
  ``FailureRequest(data, reason)``  the login has failed; tell the peer inside the method
                             (MS-CHAPv2 Failure, draft-kamath-pppext-eap-mschapv2 §2) and
                             end with EAP Failure once it answers
  ``Done(ok, reason, msk)``  the method is over: EAP Success (with the MSK, RFC 3748 §7.10,
                             when the method derives one) or EAP Failure

Methods raise ``EapError`` for Type-Data they cannot use; the conversation turns it into
EAP Failure. Must not import asyncio, socket, ldap3 or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...constants import EapCode, EapType
from ...wire import ikev2 as w
from ..users import name_problem

#: Longest Type-Data we parse from a peer (a user name, a response, a token).
MAX_TYPE_DATA = 1024


class EapError(Exception):
    """The peer's EAP data cannot be used (the reason goes to the log, never to the peer)."""


@dataclass(frozen=True, slots=True)
class Request:
    data: bytes


@dataclass(frozen=True, slots=True)
class Lookup:
    method: str  # users.PASSWORD | NT_HASH | CLEAR_PASSWORD
    username: str
    password: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class FailureRequest:
    data: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class Done:
    ok: bool
    reason: str = ""
    msk: bytes | None = field(default=None, repr=False)


Step = Request | Lookup | FailureRequest | Done


def request(identifier: int, eap_type: int, data: bytes = b"") -> w.EapPayload:
    return w.EapPayload(EapCode.REQUEST, identifier & 0xFF, eap_type, data)


def success(identifier: int) -> w.EapPayload:
    """EAP Success; its Identifier is the one of the Response it answers (§4.2)."""
    return w.EapPayload(EapCode.SUCCESS, identifier & 0xFF)


def failure(identifier: int) -> w.EapPayload:
    return w.EapPayload(EapCode.FAILURE, identifier & 0xFF)


def parse_identity(data: bytes) -> str:
    """The user name of an EAP Identity Response (RFC 3748 §5.1), or EapError.

    UTF-8 (RFC 4282 §2.4), not NUL-terminated (§5.1 says it MUST NOT be), and within the
    limits of ``users.name_problem``: empty, very long, control characters are refused
    before any backend sees them.
    """
    try:
        name = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EapError(f"EAP identity of {len(data)} bytes is not UTF-8") from None
    problem = name_problem(name)
    if problem is not None:
        raise EapError(f"EAP identity refused: {problem}")
    return name


def nak_types(data: bytes) -> list[int]:
    """The methods a Nak Response (§5.3.1) asks for instead (at most 8, for the log)."""
    return list(data[:8])


def type_name(eap_type: int) -> str:
    try:
        return EapType(eap_type).name
    except ValueError:
        return str(eap_type)


__all__ = ["EapError", "Request", "Lookup", "FailureRequest", "Done", "Step", "request",
           "success", "failure", "parse_identity", "nak_types", "type_name", "MAX_TYPE_DATA"]
