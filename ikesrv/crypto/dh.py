"""Diffie-Hellman groups for IKE by IANA number, over the compiled ikesrv._fast.dh.

Owns: the group registry ikesrv uses (IKEv2 Transform Type 4, RFC 7296 §3.3.2; the same
numbers in IKEv1's Group Description attribute, RFC 2409 App. A).

    g = group(14)                    # DhGroup: id, name, kind, public_len, shared_len, weak
    key = g.generate(rng)            # rng(n) -> bytes is the only source of randomness
    key.public                       # KE payload data: MODP big-endian padded to len(p);
                                     # ECP x | y (RFC 5903 §7); X25519/X448 u (RFC 8031 §2)
    key.shared_secret(peer_ke_data)  # g^ir, after validating the peer's value (RFC 6989,
                                     # RFC 7748 §6); InvalidKeyInformation(reason) if bad

Groups 1, 2 and 5 exist but are ``weak``: the configuration refuses them unless a
connection names them. Imports ikesrv._fast.dh only.
"""

from __future__ import annotations

from ikesrv._fast.dh import GROUPS as _GROUPS
from ikesrv._fast.dh import DhGroup, DhKey, LibcryptoError

__all__ = ["SUPPORTED", "WEAK", "DhGroup", "DhKey", "LibcryptoError", "by_name", "group"]

#: Every group ikesrv implements (weak ones included), by IANA number.
SUPPORTED: frozenset[int] = frozenset(_GROUPS)
#: The groups that must be named explicitly to be used (RFC 8247 §2.4: MODP-768/1024/1536).
WEAK: frozenset[int] = frozenset(gid for gid, g in _GROUPS.items() if g.weak)

_BY_NAME: dict[str, DhGroup] = {g.name: g for g in _GROUPS.values()}
_BY_NAME["x25519"] = _GROUPS[31]  # strongSwan accepts both spellings
_BY_NAME["x448"] = _GROUPS[32]


def group(group_id: int) -> DhGroup:
    """The DhGroup numbered ``group_id``; ValueError if ikesrv does not implement it."""
    try:
        return _GROUPS[group_id]
    except KeyError:
        raise ValueError(f"unsupported Diffie-Hellman group {group_id}") from None


def by_name(name: str) -> DhGroup:
    """The DhGroup of a proposal keyword (modp2048, ecp256, curve25519/x25519, ...)."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise ValueError(f"unknown Diffie-Hellman group {name!r}") from None
