"""IKEv2 key schedules: SKEYSEED and the seven SK_* keys, IKE SA rekey, CHILD SA KEYMAT.

Owns the layout of the keying material (which octets become which key) on top of the
compiled prf+ in ikesrv._fast.prf:

  RFC 7296 §2.14  SKEYSEED = prf(Ni | Nr, g^ir)
                  {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
                      = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
                  (AES-XCBC/CMAC PRFs key SKEYSEED with the first 64 bits of each nonce)
  RFC 7296 §2.18  SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), old SA's PRF;
                  keys from prf+ of the new SA's PRF with the new SPIs
  RFC 7296 §2.17  KEYMAT = prf+ (SK_d, Ni | Nr), or prf+ (SK_d, g^ir (new) | Ni | Nr)
                  with PFS; initiator-to-responder keys first, encryption before integrity

SK_d, SK_pi and SK_pr have the PRF's preferred key length; SK_e* includes any salt (e.g.
4 octets for AES-GCM, RFC 5282 §7.1; ChaCha20-Poly1305, RFC 7634 §4); SK_a* is empty for
AEAD ciphers. Key objects repr as lengths only. Imports ikesrv.crypto.prf and
ikesrv._fast.prf.
"""

from __future__ import annotations

from ikesrv._fast import prf as _fast
from ikesrv.crypto.prf import fast_alg
from ikesrv.crypto.prf import info as prf_info

__all__ = [
    "ChildSaKeys",
    "IkeSaKeys",
    "child_sa_keymat",
    "child_sa_keys",
    "ike_sa_keys",
    "rekey_ike_sa_keys",
    "split_child_keymat",
]


class IkeSaKeys:
    """The seven keys of an IKE SA (RFC 7296 §2.14). Immutable; repr shows lengths only."""

    __slots__ = ("sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr")

    sk_d: bytes
    sk_ai: bytes
    sk_ar: bytes
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes

    def __init__(
        self,
        sk_d: bytes,
        sk_ai: bytes,
        sk_ar: bytes,
        sk_ei: bytes,
        sk_er: bytes,
        sk_pi: bytes,
        sk_pr: bytes,
    ):
        setattr_ = object.__setattr__
        setattr_(self, "sk_d", sk_d)
        setattr_(self, "sk_ai", sk_ai)
        setattr_(self, "sk_ar", sk_ar)
        setattr_(self, "sk_ei", sk_ei)
        setattr_(self, "sk_er", sk_er)
        setattr_(self, "sk_pi", sk_pi)
        setattr_(self, "sk_pr", sk_pr)

    @classmethod
    def split(
        cls, keymat: bytes, prf_key_len: int, integ_key_len: int, encr_key_len: int
    ) -> IkeSaKeys:
        """Cut prf+ output into the seven keys, in the order of RFC 7296 §2.14."""
        d, a, e = prf_key_len, integ_key_len, encr_key_len
        if len(keymat) != 3 * d + 2 * a + 2 * e:
            raise ValueError("keying material length does not match the key lengths")
        o1 = d
        o2 = o1 + a
        o3 = o2 + a
        o4 = o3 + e
        o5 = o4 + e
        o6 = o5 + d
        return cls(
            keymat[:o1],
            keymat[o1:o2],
            keymat[o2:o3],
            keymat[o3:o4],
            keymat[o4:o5],
            keymat[o5:o6],
            keymat[o6:],
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("IkeSaKeys is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IkeSaKeys):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # keys are not for dict keys or logs

    def __repr__(self) -> str:
        lengths = ", ".join(f"{f}={len(getattr(self, f))}" for f in self.__slots__)
        return f"IkeSaKeys({lengths} octets)"


class ChildSaKeys:
    """A CHILD SA's keys by direction (RFC 7296 §2.17); repr shows lengths only.

    ``encr_i``/``integ_i`` protect traffic from the initiator to the responder of the
    exchange that creates the SA (IKE_AUTH or CREATE_CHILD_SA: for a CHILD SA rekeyed by
    the original responder, that is the original responder), ``encr_r``/``integ_r`` the
    other direction.
    """

    __slots__ = ("encr_i", "integ_i", "encr_r", "integ_r")

    encr_i: bytes
    integ_i: bytes
    encr_r: bytes
    integ_r: bytes

    def __init__(self, encr_i: bytes, integ_i: bytes, encr_r: bytes, integ_r: bytes):
        object.__setattr__(self, "encr_i", encr_i)
        object.__setattr__(self, "integ_i", integ_i)
        object.__setattr__(self, "encr_r", encr_r)
        object.__setattr__(self, "integ_r", integ_r)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ChildSaKeys is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChildSaKeys):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        lengths = ", ".join(f"{f}={len(getattr(self, f))}" for f in self.__slots__)
        return f"ChildSaKeys({lengths} octets)"


def _alg_and_key_len(prf_id: int) -> tuple[int, int]:
    # ValueError for an unsupported PRF
    return fast_alg(prf_id), prf_info(prf_id).key_len


def _check_lengths(integ_key_len: int, encr_key_len: int) -> None:
    if integ_key_len < 0 or encr_key_len < 0:
        raise ValueError("key lengths cannot be negative")


def ike_sa_keys(
    prf_id: int,
    integ_key_len: int,
    encr_key_len: int,
    ni: bytes,
    nr: bytes,
    shared: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> IkeSaKeys:
    """The keys of a new IKE SA from IKE_SA_INIT (RFC 7296 §2.14).

    ``encr_key_len`` includes the salt of AEAD/counter modes; ``integ_key_len`` is 0 for
    AEAD ciphers; ``spi_i``/``spi_r`` are the 8-octet SPIs as in the header.
    """
    _check_lengths(integ_key_len, encr_key_len)
    alg, d = _alg_and_key_len(prf_id)
    keymat = _fast.ikev2_ike_sa_keymat(
        alg, ni, nr, shared, spi_i, spi_r, 3 * d + 2 * integ_key_len + 2 * encr_key_len
    )
    return IkeSaKeys.split(keymat, d, integ_key_len, encr_key_len)


def rekey_ike_sa_keys(
    prf_id: int,
    old_sk_d: bytes,
    shared: bytes,
    ni: bytes,
    nr: bytes,
    spi_i: bytes,
    spi_r: bytes,
    integ_key_len: int,
    encr_key_len: int,
    *,
    old_prf_id: int | None = None,
) -> IkeSaKeys:
    """The keys of the IKE SA created by rekeying with CREATE_CHILD_SA (RFC 7296 §2.18).

    ``prf_id`` is the new SA's PRF, ``old_prf_id`` the rekeyed SA's (default: the same),
    which alone computes SKEYSEED from ``old_sk_d``. ``shared`` is the exchange's new g^ir,
    ``ni``/``nr`` its nonces, ``spi_i``/``spi_r`` the new SA's SPIs.
    """
    _check_lengths(integ_key_len, encr_key_len)
    alg, d = _alg_and_key_len(prf_id)
    old_alg = alg if old_prf_id is None else _alg_and_key_len(old_prf_id)[0]
    keymat = _fast.ikev2_rekey_ike_sa_keymat(
        old_alg,
        alg,
        old_sk_d,
        shared,
        ni,
        nr,
        spi_i,
        spi_r,
        3 * d + 2 * integ_key_len + 2 * encr_key_len,
    )
    return IkeSaKeys.split(keymat, d, integ_key_len, encr_key_len)


def child_sa_keymat(
    prf_id: int, sk_d: bytes, ni: bytes, nr: bytes, length: int, shared: bytes | None = None
) -> bytes:
    """KEYMAT for a CHILD SA, ``length`` octets (RFC 7296 §2.17).

    ``shared`` is the CREATE_CHILD_SA g^ir (new) when PFS is used, else None; ``ni``/``nr``
    are the nonces of the exchange that creates the SA (IKE_SA_INIT's for the first one).
    """
    return _fast.ikev2_child_sa_keymat(fast_alg(prf_id), sk_d, shared, ni, nr, length)


def split_child_keymat(keymat: bytes, encr_key_len: int, integ_key_len: int) -> ChildSaKeys:
    """Cut KEYMAT into directional keys (RFC 7296 §2.17): all initiator-to-responder keys
    first, and within a direction the encryption key before the integrity key."""
    e, a = encr_key_len, integ_key_len
    if len(keymat) != 2 * (e + a):
        raise ValueError("KEYMAT length does not match the key lengths")
    return ChildSaKeys(
        keymat[:e], keymat[e : e + a], keymat[e + a : 2 * e + a], keymat[2 * e + a :]
    )


def child_sa_keys(
    prf_id: int,
    sk_d: bytes,
    ni: bytes,
    nr: bytes,
    encr_key_len: int,
    integ_key_len: int,
    shared: bytes | None = None,
) -> ChildSaKeys:
    """child_sa_keymat() for one ESP/AH SA pair, split by direction (RFC 7296 §2.17)."""
    _check_lengths(integ_key_len, encr_key_len)
    keymat = child_sa_keymat(prf_id, sk_d, ni, nr, 2 * (encr_key_len + integ_key_len), shared)
    return split_child_keymat(keymat, encr_key_len, integ_key_len)
