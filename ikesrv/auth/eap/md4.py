"""MD4 and the NT password hash, as the rest of ikesrv uses them.

Owns: ``md4`` (RFC 1320, compiled in ikesrv._fast.md4) and ``nt_hash`` (MD4 of the
password in UTF-16LE: NtPasswordHash, RFC 2759 §8.3; what the users file's ``nt_hash``
and Samba's ``sambaNTPassword`` hold). Nothing else may use MD4.

Imports ikesrv._fast.md4 only; ikesrv.auth.eap.md4_reference is the oracle in tests.
"""

from __future__ import annotations

from ikesrv._fast.md4 import md4


def nt_hash(password: str) -> bytes:
    """NtPasswordHash(password): MD4 over its UTF-16LE encoding, 16 bytes."""
    return md4(password.encode("utf-16-le"))


__all__ = ["md4", "nt_hash"]
