"""IKE pseudo-random functions, prf+ and plain hashes, by IANA number.

Owns: the table of supported PRFs (IKEv2 Transform Type 2, RFC 7296 §3.3.2) with their
output and preferred key lengths, prf() and prf+ (RFC 7296 §2.13), and the plain hashes
IKEv1 needs for its IVs (RFC 2409 App. B). The work is done by ikesrv._fast.prf.

  PRF_HMAC_MD5 (weak: RFC 8247 §3.3 says MUST NOT), PRF_HMAC_SHA1, PRF_HMAC_SHA2_256/384/512
  (RFC 2104, RFC 4868), PRF_AES128_XCBC (RFC 4434: any key length, reduced to 128 bits),
  PRF_AES128_CMAC (RFC 4615: likewise).

Imports ikesrv.constants and ikesrv._fast.prf only. Keys never reach repr or logs here:
these functions take and return bytes and log nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikesrv._fast import prf as _fast
from ikesrv.constants import HashAlgorithm, PrfId, V1HashAlgorithm

__all__ = [
    "HASHES",
    "PRFS",
    "SUPPORTED",
    "PrfInfo",
    "hash",
    "hash_alg",
    "hash_len",
    "fast_alg",
    "info",
    "prf",
    "prf_plus",
]


@dataclass(frozen=True)
class PrfInfo:
    """One supported PRF: ``output_len`` octets out; ``key_len`` is its preferred key length,
    the length of SK_d, SK_pi and SK_pr (RFC 7296 §2.13)."""

    id: PrfId
    name: str  # proposal keyword (strongSwan syntax)
    output_len: int
    key_len: int
    weak: bool


_ALG: dict[int, int] = {
    PrfId.PRF_HMAC_MD5: _fast.MD5,
    PrfId.PRF_HMAC_SHA1: _fast.SHA1,
    PrfId.PRF_HMAC_SHA2_256: _fast.SHA256,
    PrfId.PRF_HMAC_SHA2_384: _fast.SHA384,
    PrfId.PRF_HMAC_SHA2_512: _fast.SHA512,
    PrfId.PRF_AES128_XCBC: _fast.AES128_XCBC,
    PrfId.PRF_AES128_CMAC: _fast.AES128_CMAC,
}

_NAMES = {
    PrfId.PRF_HMAC_MD5: "prfmd5",
    PrfId.PRF_HMAC_SHA1: "prfsha1",
    PrfId.PRF_HMAC_SHA2_256: "prfsha256",
    PrfId.PRF_HMAC_SHA2_384: "prfsha384",
    PrfId.PRF_HMAC_SHA2_512: "prfsha512",
    PrfId.PRF_AES128_XCBC: "prfaesxcbc",
    PrfId.PRF_AES128_CMAC: "prfaescmac",
}

#: Every PRF ikesrv implements, by IANA number.
PRFS: dict[PrfId, PrfInfo] = {
    pid: PrfInfo(
        id=pid,
        name=_NAMES[pid],
        output_len=_fast.output_size(alg),
        # RFC 4434 §2 / RFC 4615 §3: the AES PRFs' preferred key size is 128 bits; for the
        # HMACs it is the output size (RFC 7296 §2.13).
        key_len=_fast.output_size(alg),
        weak=pid == PrfId.PRF_HMAC_MD5,
    )
    for pid, alg in _ALG.items()
}
SUPPORTED: frozenset[PrfId] = frozenset(PRFS)


def info(prf_id: int) -> PrfInfo:
    """The PrfInfo of ``prf_id``; ValueError if ikesrv does not implement it."""
    try:
        return PRFS[prf_id]
    except KeyError:
        raise ValueError(f"unsupported PRF {prf_id}") from None


def fast_alg(prf_id: int) -> int:
    """The ikesrv._fast.prf algorithm number of IKEv2 PRF ``prf_id`` (for the key schedules)."""
    try:
        return _ALG[prf_id]
    except KeyError:
        raise ValueError(f"unsupported PRF {prf_id}") from None


def prf(prf_id: int, key: bytes, data: bytes) -> bytes:
    """prf(key, data) for IKEv2 PRF ``prf_id`` (RFC 7296 §2.13)."""
    try:
        alg = _ALG[prf_id]
    except KeyError:
        raise ValueError(f"unsupported PRF {prf_id}") from None
    return _fast.mac(alg, key, data)


def prf_plus(prf_id: int, key: bytes, seed: bytes, length: int) -> bytes:
    """prf+ (key, seed), the first ``length`` octets (RFC 7296 §2.13).

    ValueError if ``length`` exceeds 255 blocks of output (the counter is one octet).
    """
    return _fast.prf_plus(fast_alg(prf_id), key, seed, length)


# --- plain hashes (IKEv1) -------------------------------------------------------------

_HASH_BY_NAME = {
    "md5": _fast.MD5,
    "sha1": _fast.SHA1,
    "sha": _fast.SHA1,
    "sha256": _fast.SHA256,
    "sha2_256": _fast.SHA256,
    "sha384": _fast.SHA384,
    "sha2_384": _fast.SHA384,
    "sha512": _fast.SHA512,
    "sha2_512": _fast.SHA512,
}
_HASH_BY_V1 = {
    V1HashAlgorithm.MD5: _fast.MD5,
    V1HashAlgorithm.SHA: _fast.SHA1,
    V1HashAlgorithm.SHA2_256: _fast.SHA256,
    V1HashAlgorithm.SHA2_384: _fast.SHA384,
    V1HashAlgorithm.SHA2_512: _fast.SHA512,
}
_HASH_BY_V2 = {
    HashAlgorithm.SHA1: _fast.SHA1,
    HashAlgorithm.SHA2_256: _fast.SHA256,
    HashAlgorithm.SHA2_384: _fast.SHA384,
    HashAlgorithm.SHA2_512: _fast.SHA512,
}

#: Hash names accepted by hash(); the weak one is only used when a configuration names it.
HASHES: dict[str, bool] = {
    "md5": True,
    "sha1": False,
    "sha256": False,
    "sha384": False,
    "sha512": False,
}


def hash_alg(hash_name_or_id: str | int) -> int:
    """This module's internal digest number for a hash named by string or registry value.

    Accepts a name ("md5", "sha1", "sha256", "sha384", "sha512"), a V1HashAlgorithm (or a
    plain int, read as an IKEv1 Hash Algorithm attribute value, RFC 2409 App. A), or an
    IKEv2 HashAlgorithm (RFC 7427). The two registries number differently (2 is SHA-1 in
    IKEv1 and SHA2-256 in IKEv2), so the enum's class decides.
    """
    try:
        if isinstance(hash_name_or_id, str):
            return _HASH_BY_NAME[hash_name_or_id.lower()]
        if isinstance(hash_name_or_id, HashAlgorithm):
            return _HASH_BY_V2[hash_name_or_id]
        return _HASH_BY_V1[hash_name_or_id]
    except KeyError:
        raise ValueError(f"unsupported hash {hash_name_or_id!r}") from None


def hash(hash_name_or_id: str | int, data: bytes) -> bytes:  # noqa: A001 - the RFCs' name
    """The plain hash of ``data`` (see hash_alg for the accepted names and numbers)."""
    return _fast.digest(hash_alg(hash_name_or_id), data)


def hash_len(hash_name_or_id: str | int) -> int:
    """Output octets of the named hash (also the output of its HMAC, IKEv1's prf)."""
    return _fast.output_size(hash_alg(hash_name_or_id))
