"""Reference IKEv2 key schedules written straight from RFC 7296 §2.14, §2.17 and §2.18.

The oracle for ikesrv.crypto.keys: same functions and signatures, plain concatenation and
the reference prf. Imports ikesrv.crypto.reference.prf and the key containers of
ikesrv.crypto.keys (data holders, no logic of theirs is used but their field order).
"""

from __future__ import annotations

from ikesrv.constants import PrfId
from ikesrv.crypto.keys import ChildSaKeys, IkeSaKeys
from ikesrv.crypto.reference.prf import output_len, prf, prf_plus

_AES_PRFS = (PrfId.PRF_AES128_XCBC, PrfId.PRF_AES128_CMAC)


def _split(keymat: bytes, lengths: list[int]) -> list[bytes]:
    out = []
    for n in lengths:
        out.append(keymat[:n])
        keymat = keymat[n:]
    return out


def skeyseed(prf_id: int, ni: bytes, nr: bytes, shared: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir); the AES PRFs take 64 bits of each nonce (§2.14)."""
    if prf_id in _AES_PRFS:
        return prf(prf_id, ni[:8] + nr[:8], shared)
    return prf(prf_id, ni + nr, shared)


def ike_sa_keys(prf_id, integ_key_len, encr_key_len, ni, nr, shared, spi_i, spi_r) -> IkeSaKeys:
    d = output_len(prf_id)
    lengths = [d, integ_key_len, integ_key_len, encr_key_len, encr_key_len, d, d]
    keymat = prf_plus(
        prf_id, skeyseed(prf_id, ni, nr, shared), ni + nr + spi_i + spi_r, sum(lengths)
    )
    return IkeSaKeys(*_split(keymat, lengths))


def rekey_ike_sa_keys(
    prf_id, old_sk_d, shared, ni, nr, spi_i, spi_r, integ_key_len, encr_key_len, *, old_prf_id=None
) -> IkeSaKeys:
    old = prf_id if old_prf_id is None else old_prf_id
    seed = prf(old, old_sk_d, shared + ni + nr)  # §2.18, with the old SA's PRF
    d = output_len(prf_id)
    lengths = [d, integ_key_len, integ_key_len, encr_key_len, encr_key_len, d, d]
    keymat = prf_plus(prf_id, seed, ni + nr + spi_i + spi_r, sum(lengths))
    return IkeSaKeys(*_split(keymat, lengths))


def child_sa_keymat(prf_id, sk_d, ni, nr, length, shared=None) -> bytes:
    seed = ni + nr if shared is None else shared + ni + nr
    return prf_plus(prf_id, sk_d, seed, length)


def child_sa_keys(prf_id, sk_d, ni, nr, encr_key_len, integ_key_len, shared=None) -> ChildSaKeys:
    keymat = child_sa_keymat(prf_id, sk_d, ni, nr, 2 * (encr_key_len + integ_key_len), shared)
    return ChildSaKeys(*_split(keymat, [encr_key_len, integ_key_len, encr_key_len, integ_key_len]))
