"""Reference PRFs, prf+ and hashes in plain Python (RFC 2104, RFC 3566, RFC 4434, RFC 4615,
RFC 7296 §2.13): the oracle for ikesrv.crypto.prf.

HMAC comes from the standard library's hmac, AES-CMAC from `cryptography`, AES-XCBC is
written out block by block over `cryptography`'s AES. Imports ikesrv.constants only.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from ikesrv.constants import HashAlgorithm, PrfId, V1HashAlgorithm

_HMAC_HASH = {
    PrfId.PRF_HMAC_MD5: "md5",
    PrfId.PRF_HMAC_SHA1: "sha1",
    PrfId.PRF_HMAC_SHA2_256: "sha256",
    PrfId.PRF_HMAC_SHA2_384: "sha384",
    PrfId.PRF_HMAC_SHA2_512: "sha512",
}


def _aes(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def aes_xcbc_mac(key: bytes, message: bytes) -> bytes:
    """AES-XCBC-MAC with a 128-bit key, untruncated (RFC 3566 §4)."""
    k1 = _aes(key, b"\x01" * 16)
    k2 = _aes(key, b"\x02" * 16)
    k3 = _aes(key, b"\x03" * 16)
    blocks = [message[i : i + 16] for i in range(0, len(message), 16)] or [b""]
    e = bytes(16)
    for block in blocks[:-1]:
        e = _aes(k1, _xor(block, e))
    last = blocks[-1]
    if len(last) == 16:
        return _aes(k1, _xor(_xor(last, e), k2))
    padded = last + b"\x80" + bytes(15 - len(last))
    return _aes(k1, _xor(_xor(padded, e), k3))


def aes_xcbc_prf_128(key: bytes, message: bytes) -> bytes:
    """AES-XCBC-PRF-128 (RFC 4434 §2): keys other than 128 bits are padded or reduced."""
    if len(key) < 16:
        key = key + bytes(16 - len(key))
    elif len(key) > 16:
        key = aes_xcbc_mac(bytes(16), key)
    return aes_xcbc_mac(key, message)


def aes_cmac(key: bytes, message: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(message)
    return c.finalize()


def aes_cmac_prf_128(key: bytes, message: bytes) -> bytes:
    """AES-CMAC-PRF-128 (RFC 4615 §3): a key that is not 128 bits becomes AES-CMAC(0, key)."""
    if len(key) != 16:
        key = aes_cmac(bytes(16), key)
    return aes_cmac(key, message)


def output_len(prf_id: int) -> int:
    if prf_id in _HMAC_HASH:
        return hashlib.new(_HMAC_HASH[prf_id]).digest_size
    if prf_id in (PrfId.PRF_AES128_XCBC, PrfId.PRF_AES128_CMAC):
        return 16
    raise ValueError(f"unsupported PRF {prf_id}")


def prf(prf_id: int, key: bytes, data: bytes) -> bytes:
    """prf(key, data) for IKEv2 PRF ``prf_id``."""
    if prf_id in _HMAC_HASH:
        return hmac.new(key, data, _HMAC_HASH[prf_id]).digest()
    if prf_id == PrfId.PRF_AES128_XCBC:
        return aes_xcbc_prf_128(key, data)
    if prf_id == PrfId.PRF_AES128_CMAC:
        return aes_cmac_prf_128(key, data)
    raise ValueError(f"unsupported PRF {prf_id}")


def prf_plus(prf_id: int, key: bytes, seed: bytes, length: int) -> bytes:
    """prf+ (K, S) = T1 | T2 | ..., T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n)."""
    if length > 255 * output_len(prf_id):
        raise ValueError("prf+ output too long")
    out = b""
    t = b""
    n = 1
    while len(out) < length:
        t = prf(prf_id, key, t + seed + bytes([n]))
        out += t
        n += 1
    return out[:length]


_HASH_NAMES = {
    "md5": "md5",
    "sha1": "sha1",
    "sha": "sha1",
    "sha256": "sha256",
    "sha2_256": "sha256",
    "sha384": "sha384",
    "sha2_384": "sha384",
    "sha512": "sha512",
    "sha2_512": "sha512",
}
_V1_HASH = {
    V1HashAlgorithm.MD5: "md5",
    V1HashAlgorithm.SHA: "sha1",
    V1HashAlgorithm.SHA2_256: "sha256",
    V1HashAlgorithm.SHA2_384: "sha384",
    V1HashAlgorithm.SHA2_512: "sha512",
}
_V2_HASH = {
    HashAlgorithm.SHA1: "sha1",
    HashAlgorithm.SHA2_256: "sha256",
    HashAlgorithm.SHA2_384: "sha384",
    HashAlgorithm.SHA2_512: "sha512",
}


def hash_name(hash_name_or_id: str | int) -> str:
    """hashlib's name for a hash given by name, V1HashAlgorithm (or int) or HashAlgorithm."""
    try:
        if isinstance(hash_name_or_id, str):
            return _HASH_NAMES[hash_name_or_id.lower()]
        if isinstance(hash_name_or_id, HashAlgorithm):
            return _V2_HASH[hash_name_or_id]
        return _V1_HASH[hash_name_or_id]
    except KeyError:
        raise ValueError(f"unsupported hash {hash_name_or_id!r}") from None


def hash(hash_name_or_id: str | int, data: bytes) -> bytes:  # noqa: A001 - the RFCs' name
    return hashlib.new(hash_name(hash_name_or_id), data).digest()


def hash_len(hash_name_or_id: str | int) -> int:
    return hashlib.new(hash_name(hash_name_or_id)).digest_size
