"""IKEv1 key schedules, IVs and HASH payload values (RFC 2409 §5, §5.5, §5.7, App. B).

Owns every formula of RFC 2409 that turns secrets into keys, IVs or HASH payload data:

  §5      SKEYID = prf(Ni_b | Nr_b, g^xy)                 (signatures)
          SKEYID = prf(pre-shared-key, Ni_b | Nr_b)       (pre-shared keys)
          SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
          SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
          SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
          HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
          HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
  App. B  encryption key from SKEYID_e, expanded as Ka = K1 | K2 | ... when too short;
          phase 1 IV = hash(g^xi | g^xr); phase 2 and informational IV =
          hash(last phase 1 CBC block | M-ID); both truncated to the cipher block size
  §5.5    Quick Mode HASH(1), HASH(2), HASH(3) and KEYMAT, with and without PFS
  §5.7    informational HASH(1) = prf(SKEYID_a, M-ID | N/D)

The prf is the HMAC of the negotiated hash (RFC 2409 §4). ``hash_alg`` is a
V1HashAlgorithm (or its int value from the SA attribute) or a name ("sha1", "sha256",
...); MD5 works but is weak and only used when configured. ``*_b`` arguments are payload
bodies without the generic payload header; ``payloads`` arguments are the message's
payloads after the HASH payload, generic headers included, as on the wire. Message IDs
are ints (hashed as 4 octets, network order) or the header's 4 octets.

Imports ikesrv.crypto.prf and ikesrv._fast.prf, .isakmp.
"""

from __future__ import annotations

from ikesrv._fast import isakmp as _isakmp
from ikesrv._fast import prf as _fast
from ikesrv.crypto.prf import hash_alg as _hash_alg

__all__ = [
    "expand_key",
    "hash1_matches",
    "hash3_matches",
    "hash_i",
    "hash_r",
    "informational_hash",
    "initial_iv",
    "phase2_iv",
    "prf",
    "prf_len",
    "quick_mode_hash1",
    "quick_mode_hash2",
    "quick_mode_hash3",
    "quick_mode_keymat",
    "skeyid_a",
    "skeyid_d",
    "skeyid_dae",
    "skeyid_e",
    "skeyid_psk",
    "skeyid_sig",
]

_ZERO = b"\x00"
_ONE = b"\x01"
_TWO = b"\x02"


def _mid(message_id: int | bytes) -> bytes:
    # The header's Message ID as an int, or its 4 octets as received.
    if isinstance(message_id, bytes):
        if len(message_id) != 4:
            raise ValueError("a Message ID is 4 octets")
        return message_id
    return message_id.to_bytes(4, "big")


def prf(hash_alg: str | int, key: bytes, data: bytes) -> bytes:
    """IKEv1's prf: the HMAC of the negotiated hash (RFC 2409 §4)."""
    return _fast.mac(_hash_alg(hash_alg), key, data)


def prf_len(hash_alg: str | int) -> int:
    """Octets of prf output (and of SKEYID, SKEYID_d/a/e)."""
    return _fast.output_size(_hash_alg(hash_alg))


def skeyid_sig(hash_alg: str | int, ni_b: bytes, nr_b: bytes, g_xy: bytes) -> bytes:
    """SKEYID for signature authentication: prf(Ni_b | Nr_b, g^xy) (RFC 2409 §5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), ni_b + nr_b, (g_xy,))


def skeyid_psk(hash_alg: str | int, psk: bytes, ni_b: bytes, nr_b: bytes) -> bytes:
    """SKEYID for pre-shared keys: prf(pre-shared-key, Ni_b | Nr_b) (RFC 2409 §5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), psk, (ni_b, nr_b))


def skeyid_d(hash_alg: str | int, skeyid: bytes, g_xy: bytes, cky_i: bytes, cky_r: bytes) -> bytes:
    """SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0) (RFC 2409 §5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid, (g_xy, cky_i, cky_r, _ZERO))


def skeyid_a(
    hash_alg: str | int, skeyid: bytes, skeyid_d: bytes, g_xy: bytes, cky_i: bytes, cky_r: bytes
) -> bytes:
    """SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1) (RFC 2409 §5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid, (skeyid_d, g_xy, cky_i, cky_r, _ONE))


def skeyid_e(
    hash_alg: str | int, skeyid: bytes, skeyid_a: bytes, g_xy: bytes, cky_i: bytes, cky_r: bytes
) -> bytes:
    """SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2) (RFC 2409 §5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid, (skeyid_a, g_xy, cky_i, cky_r, _TWO))


def skeyid_dae(
    hash_alg: str | int, skeyid: bytes, g_xy: bytes, cky_i: bytes, cky_r: bytes
) -> tuple[bytes, bytes, bytes]:
    """(SKEYID_d, SKEYID_a, SKEYID_e) in one call (RFC 2409 §5)."""
    return _fast.ikev1_skeyid_dae(_hash_alg(hash_alg), skeyid, g_xy, cky_i, cky_r)


def expand_key(hash_alg: str | int, skeyid_e: bytes, length: int) -> bytes:
    """The phase 1 encryption key of ``length`` octets from SKEYID_e (RFC 2409 App. B).

    The first ``length`` octets of SKEYID_e when it is long enough; else of
    Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0) and Kn = prf(SKEYID_e, Kn-1).
    """
    return _fast.ikev1_expand_key(_hash_alg(hash_alg), skeyid_e, length)


def initial_iv(hash_alg: str | int, g_xi: bytes, g_xr: bytes, block_size: int) -> bytes:
    """The phase 1 IV: hash(g^xi | g^xr) truncated to the cipher block (RFC 2409 App. B).

    ``g_xi``/``g_xr`` are the initiator's and responder's KE payload data.
    """
    return _fast.digest_concat(_hash_alg(hash_alg), (g_xi, g_xr))[:block_size]


def phase2_iv(
    hash_alg: str | int, last_phase1_block: bytes, message_id: int, block_size: int
) -> bytes:
    """The first IV of a Quick Mode or informational exchange (RFC 2409 App. B):
    hash(last CBC block of the last phase 1 message | M-ID), truncated to the block size."""
    return _fast.digest_concat(_hash_alg(hash_alg), (last_phase1_block, _mid(message_id)))[
        :block_size
    ]


def hash_i(
    hash_alg: str | int,
    skeyid: bytes,
    g_xi: bytes,
    g_xr: bytes,
    cky_i: bytes,
    cky_r: bytes,
    sai_b: bytes,
    idii_b: bytes,
) -> bytes:
    """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) (RFC 2409 §5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid, (g_xi, g_xr, cky_i, cky_r, sai_b, idii_b))


def hash_r(
    hash_alg: str | int,
    skeyid: bytes,
    g_xi: bytes,
    g_xr: bytes,
    cky_i: bytes,
    cky_r: bytes,
    sai_b: bytes,
    idir_b: bytes,
) -> bytes:
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b) (RFC 2409 §5).

    Takes its arguments in the same order as hash_i (initiator's values first) and swaps
    them as the RFC does; SAi_b is the initiator's SA body in both hashes.
    """
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid, (g_xr, g_xi, cky_r, cky_i, sai_b, idir_b))


def quick_mode_hash1(
    hash_alg: str | int, skeyid_a: bytes, message_id: int, payloads: bytes
) -> bytes:
    """HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ]) (RFC 2409 §5.5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid_a, (_mid(message_id), payloads))


def quick_mode_hash2(
    hash_alg: str | int, skeyid_a: bytes, message_id: int, ni_b: bytes, payloads: bytes
) -> bytes:
    """HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ]) (RFC 2409 §5.5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid_a, (_mid(message_id), ni_b, payloads))


def quick_mode_hash3(
    hash_alg: str | int, skeyid_a: bytes, message_id: int, ni_b: bytes, nr_b: bytes
) -> bytes:
    """HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (RFC 2409 §5.5)."""
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid_a, (_ZERO, _mid(message_id), ni_b, nr_b))


def informational_hash(
    hash_alg: str | int, skeyid_a: bytes, message_id: int, payloads: bytes
) -> bytes:
    """HASH(1) of an informational exchange: prf(SKEYID_a, M-ID | N/D) (RFC 2409 §5.7).

    The same form protects Transaction exchanges (Mode Config, XAuth).
    """
    return _fast.mac_concat(_hash_alg(hash_alg), skeyid_a, (_mid(message_id), payloads))


def hash1_matches(
    hash_alg: str | int, skeyid_a: bytes, message_id: int, plaintext: bytes, first_type: int
) -> bool:
    """Whether a decrypted message begins with HASH(1) = prf(SKEYID_a, M-ID | the payloads
    after it), the form of Quick Mode's first message, Informational and Transaction
    exchanges (RFC 2409 §5.5, §5.7). Constant-time comparison; MalformedMessage when the
    message does not begin with a HASH or its payloads do not fit."""
    return _isakmp.hash_matches(_hash_alg(hash_alg), skeyid_a, plaintext, first_type,
                                _mid(message_id), True)


def hash3_matches(
    hash_alg: str | int, skeyid_a: bytes, message_id: int, ni_b: bytes, nr_b: bytes,
    plaintext: bytes, first_type: int,
) -> bool:
    """Whether a decrypted QM3 begins with HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
    (RFC 2409 §5.5); as hash1_matches otherwise."""
    return _isakmp.hash_matches(_hash_alg(hash_alg), skeyid_a, plaintext, first_type,
                                _ZERO + _mid(message_id) + ni_b + nr_b, False)


def quick_mode_keymat(
    hash_alg: str | int,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    ni_b: bytes,
    nr_b: bytes,
    length: int,
    g_qm_xy: bytes | None = None,
) -> bytes:
    """KEYMAT for one Quick Mode SA, expanded to ``length`` octets (RFC 2409 §5.5).

    KEYMAT = K1 | K2 | ... with K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
    and Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b). ``spi`` is the
    SPI of the SA being keyed (chosen by its receiver), ``protocol`` its protocol ID (ESP 3).
    """
    return _fast.ikev1_quick_mode_keymat(
        _hash_alg(hash_alg), skeyid_d, g_qm_xy, protocol, spi, ni_b, nr_b, length
    )
