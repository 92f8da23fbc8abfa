"""The users backend contract: how EAP and XAuth ask whether a user may log in.

Owns: the ``UsersBackend`` protocol the worker calls (``await check(AuthRequest)`` ->
``AuthResult``), the three request methods, and what every backend and the EAP layer
share about user names: the length cap, the characters refused, how a Windows
``DOMAIN\\user`` login maps onto the directory's ``user``, and how a name is shown in a
log line (never a password or a hash: those live in ``AuthRequest.password`` and
``AuthResult.secret``, whose reprs hide them).

Methods (``AuthRequest.method``):

  "password"        verify a clear-text password (XAuth, EAP-GTC); ``ok`` is the verdict
  "nt_hash"         the user's NT hash, MD4(UTF-16LE(password)), in ``secret`` (EAP-MSCHAPv2
                    verifies the response itself, RFC 2759 §8)
  "clear_password"  the user's clear-text password in ``secret`` (EAP-MD5, RFC 1994 §4.1)

Every refusal (unknown user, wrong password, not in the required group, account disabled,
directory down) is ``ok=False`` with a ``reason`` for the log; the peer only ever learns
AUTHENTICATION_FAILED, the same for all of them, so nobody can probe for user names.

Must not import asyncio or ldap3: the sans-I/O core imports this module for the name rules.
"""

from __future__ import annotations

import unicodedata
from typing import Protocol

from ..actions import AuthRequest, AuthResult

PASSWORD = "password"
NT_HASH = "nt_hash"
CLEAR_PASSWORD = "clear_password"
METHODS = (PASSWORD, NT_HASH, CLEAR_PASSWORD)

#: Longest user name accepted, in bytes of UTF-8 (RFC 4282 caps a NAI at 253 octets;
#: a little slack for Windows' DOMAIN\ prefix). Longer names are refused unread.
MAX_NAME_BYTES = 256
#: Longest password accepted from a peer (a GTC response, an XAuth attribute).
MAX_PASSWORD_BYTES = 1024


class UsersBackend(Protocol):
    """What the worker needs from a users backend (file or LDAP)."""

    async def check(self, request: AuthRequest) -> AuthResult:
        """Answer one request; never raises for anything a peer or the directory did."""
        ...

    def close(self) -> None:
        """Release threads and connections (the process is stopping)."""
        ...


def refuse(reason: str) -> AuthResult:
    return AuthResult(ok=False, reason=reason)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user name, or None when it can.

    Refused: empty, longer than MAX_NAME_BYTES, control characters (NUL, newline, DEL:
    they would cut or forge log lines and C strings further down), unpaired surrogates.
    """
    if not name:
        return "empty user name"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "user name is not valid Unicode"
    if size > MAX_NAME_BYTES:
        return f"user name of {size} bytes (at most {MAX_NAME_BYTES})"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        return "user name contains control characters"
    return None


def strip_domain(name: str) -> str:
    """The user part of a Windows ``DOMAIN\\user`` login (RFC 2759 §4: the domain is not
    part of the user name); other names unchanged. ``user@realm`` stays whole: realms
    are part of the name in directories that use them."""
    _, sep, user = name.rpartition("\\")
    return user if sep else name


def printable(name: str, limit: int = 64) -> str:
    """``name`` as it may appear in a log line: quoted, non-printable characters escaped,
    cut at ``limit`` characters."""
    shown = name[:limit]
    if shown.isprintable():
        text = f"'{shown}'"
    else:
        text = ascii(shown)
    return text + ("..." if len(name) > limit else "")


__all__ = ["UsersBackend", "METHODS", "PASSWORD", "NT_HASH", "CLEAR_PASSWORD",
           "MAX_NAME_BYTES", "MAX_PASSWORD_BYTES", "refuse", "name_problem", "strip_domain",
           "printable", "AuthRequest", "AuthResult"]
