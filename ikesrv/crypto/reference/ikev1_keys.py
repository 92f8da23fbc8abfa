"""Reference IKEv1 key schedules written straight from RFC 2409 §5, §5.5, §5.7 and App. B.

The oracle for ikesrv.crypto.ikev1_keys: same functions and signatures, spelled out with
the standard library's hmac and hashlib. Imports ikesrv.crypto.reference.prf.
"""

from __future__ import annotations

import hashlib
import hmac

from ikesrv.crypto.reference.prf import hash_name


def _mid(message_id) -> bytes:
    return message_id if isinstance(message_id, bytes) else message_id.to_bytes(4, "big")


def prf(hash_alg, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hash_name(hash_alg)).digest()


def prf_len(hash_alg) -> int:
    return hashlib.new(hash_name(hash_alg)).digest_size


def skeyid_sig(hash_alg, ni_b, nr_b, g_xy):
    return prf(hash_alg, ni_b + nr_b, g_xy)


def skeyid_psk(hash_alg, psk, ni_b, nr_b):
    return prf(hash_alg, psk, ni_b + nr_b)


def skeyid_d(hash_alg, skeyid, g_xy, cky_i, cky_r):
    return prf(hash_alg, skeyid, g_xy + cky_i + cky_r + b"\x00")


def skeyid_a(hash_alg, skeyid, skeyid_d_, g_xy, cky_i, cky_r):
    return prf(hash_alg, skeyid, skeyid_d_ + g_xy + cky_i + cky_r + b"\x01")


def skeyid_e(hash_alg, skeyid, skeyid_a_, g_xy, cky_i, cky_r):
    return prf(hash_alg, skeyid, skeyid_a_ + g_xy + cky_i + cky_r + b"\x02")


def skeyid_dae(hash_alg, skeyid, g_xy, cky_i, cky_r):
    d = skeyid_d(hash_alg, skeyid, g_xy, cky_i, cky_r)
    a = skeyid_a(hash_alg, skeyid, d, g_xy, cky_i, cky_r)
    e = skeyid_e(hash_alg, skeyid, a, g_xy, cky_i, cky_r)
    return d, a, e


def expand_key(hash_alg, skeyid_e_, length):
    if len(skeyid_e_) >= length:
        return skeyid_e_[:length]
    ka = b""
    k = b"\x00"
    while len(ka) < length:
        k = prf(hash_alg, skeyid_e_, k)
        ka += k
    return ka[:length]


def initial_iv(hash_alg, g_xi, g_xr, block_size):
    return hashlib.new(hash_name(hash_alg), g_xi + g_xr).digest()[:block_size]


def phase2_iv(hash_alg, last_phase1_block, message_id, block_size):
    return hashlib.new(hash_name(hash_alg), last_phase1_block + _mid(message_id)).digest()[
        :block_size
    ]


def hash_i(hash_alg, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idii_b):
    return prf(hash_alg, skeyid, g_xi + g_xr + cky_i + cky_r + sai_b + idii_b)


def hash_r(hash_alg, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idir_b):
    return prf(hash_alg, skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b)


def quick_mode_hash1(hash_alg, skeyid_a_, message_id, payloads):
    return prf(hash_alg, skeyid_a_, _mid(message_id) + payloads)


def quick_mode_hash2(hash_alg, skeyid_a_, message_id, ni_b, payloads):
    return prf(hash_alg, skeyid_a_, _mid(message_id) + ni_b + payloads)


def quick_mode_hash3(hash_alg, skeyid_a_, message_id, ni_b, nr_b):
    return prf(hash_alg, skeyid_a_, b"\x00" + _mid(message_id) + ni_b + nr_b)


def informational_hash(hash_alg, skeyid_a_, message_id, payloads):
    return prf(hash_alg, skeyid_a_, _mid(message_id) + payloads)


def quick_mode_keymat(hash_alg, skeyid_d_, protocol, spi, ni_b, nr_b, length, g_qm_xy=None):
    tail = (g_qm_xy or b"") + bytes([protocol]) + spi + ni_b + nr_b
    keymat = b""
    k = b""
    while len(keymat) < length:
        k = prf(hash_alg, skeyid_d_, k + tail)
        keymat += k
    return keymat[:length]
