"""The algorithm tables: every transform ikesrv knows, its sizes, its strength and its names.

Owns: for each IKEv2 transform (ENCR, INTEG, PRF, DH, ESN) the IANA number, key, IV,
ICV and salt sizes, whether ikesrv can protect IKE messages with it (``ike``), whether
the Linux kernel's ESP implements it (``esp``, with its XFRM algorithm name), whether
it is ``weak``; the strongSwan proposal keywords (``aes256gcm16``, ``sha256``,
``prfsha384``, ``modp2048``, ``x25519``, ``esn``, ...) that name them; and the IKEv1
equivalents (phase 1 Encryption/Hash attribute values, IPsec DOI ESP transform IDs
and Authentication Algorithm values) with mappings both ways.

Weak (accepted only when a configuration opts in, see config.py):
  - DES (56-bit key) and 3DES (64-bit block: Sweet32), RFC 8221 §5, RFC 8247 §2.1;
  - anything built on MD5: HMAC-MD5-96 integrity, PRF_HMAC_MD5, the IKEv1 MD5 hash;
  - SHA-1 integrity (HMAC-SHA1-96) and PRF_HMAC_SHA1 and the IKEv1 SHA hash: still
    unbroken as HMAC, but RFC 8247 §2.3 demotes them and every client ikesrv serves
    offers SHA-2;
  - every DH group below 112 bits of security (NIST SP 800-57 Part 1, Table 2): MODP
    768, 1024 *and 1536* (RFC 3526 §8 estimates 90-120 bits for MODP 1536, under the
    112-bit floor; RFC 8247 §2.4 says SHOULD NOT for groups 2 and 5 and MUST NOT for 1),
    and the RFC 5114 groups 22-24, whose generation cannot be verified (RFC 8247 §2.4).
Known algorithms that ikesrv does not implement (DES, ECP 192/224, Brainpool, ...) resolve
to an entry whose ``ike``/``esp`` flags are False, so that a configuration naming one
gets "not supported" instead of "unknown".

The IKE SK payload implements AES-CBC, AES-GCM (8/12/16-octet ICV), ChaCha20-Poly1305
and 3DES; AES-CTR (RFC 5930) and AES-CCM are offered to ESP only: RFC 5930 §1 itself
notes that CTR's gain in IKE is nil and its implementation risk real.

Must not import: anything of ikesrv but ikesrv.constants (the crypto modules, the wire
codec and the config all import this table).

RFC 7296 §3.3.2 (transform IDs), §3.3.5 (KEY_LENGTH); RFC 4868 (HMAC-SHA2 truncations);
RFC 5282 (AES-GCM/CCM in IKEv2), RFC 7634 (ChaCha20-Poly1305); RFC 3566 (AES-XCBC-96),
RFC 4494 (AES-CMAC-96); RFC 3526, RFC 5903, RFC 8031 (DH groups); RFC 2409 App. A and
RFC 2407 §4.4.4, §4.5 (IKEv1 values); RFC 4304 (ESN in IKEv1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..constants import (
    DhId,
    EncrId,
    EsnId,
    IntegId,
    PrfId,
    TransformType,
    V1AuthenticationAlgorithm,
    V1EncryptionAlgorithm,
    V1EspTransformId,
    V1HashAlgorithm,
)

AES_KEY_BITS = (128, 192, 256)


# --------------------------------------------------------------------------------------
# Transform descriptions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncrTransform:
    """An encryption algorithm (IKEv2 Transform Type 1)."""

    id: int
    name: str  # IANA name
    key_bits: tuple[int, ...]  # acceptable key lengths in bits
    key_attr: bool  # variable key length: KEY_LENGTH attribute required (RFC 7296 §3.3.5)
    block_size: int  # SK payload padding alignment in octets (1: none needed)
    iv_size: int
    icv_size: int  # AEAD tag length; 0 for a classic cipher that needs an INTEG transform
    salt_size: int  # octets of KEYMAT after the key (RFC 5282 §7.1, RFC 7634 §2)
    weak: bool
    ike: bool  # ikesrv protects IKE messages with it (IKEv2 SK, IKEv1 phase 1)
    esp: bool  # Linux ESP implements it
    xfrm: str | None  # Linux XFRM algorithm name
    v1_ike: int | None  # IKEv1 phase 1 Encryption Algorithm (RFC 2409 App. A)
    v1_esp: int | None  # IPsec DOI ESP transform ID (RFC 2407 §4.4.4)

    @property
    def aead(self) -> bool:
        return self.icv_size > 0

    def keymat_len(self, key_bits: int | None) -> int:
        """Octets of key material for one direction: the key plus the salt, if any."""
        bits = key_bits if key_bits else self.key_bits[0]
        return bits // 8 + self.salt_size


@dataclass(frozen=True, slots=True)
class IntegTransform:
    """An integrity algorithm (IKEv2 Transform Type 3)."""

    id: int
    name: str
    kind: str  # "hmac", "xcbc" (RFC 3566), "cmac" (RFC 4494)
    hash: str | None  # hashlib name for HMAC
    key_len: int  # octets (RFC 7296 §2.13: the integrity key length is the algorithm's)
    icv_len: int  # octets on the wire after truncation (RFC 4868 §2.3 for SHA-2)
    prf: int | None  # the PRF of the same family (strongSwan derives it when no prf token)
    weak: bool
    ike: bool
    esp: bool
    xfrm: str | None
    v1_hash: int | None  # IKEv1 phase 1 Hash Algorithm of the same hash
    v1_auth: int | None  # IPsec DOI Authentication Algorithm


@dataclass(frozen=True, slots=True)
class PrfTransform:
    """A pseudorandom function (IKEv2 Transform Type 2)."""

    id: int
    name: str
    kind: str  # "hmac", "xcbc" (RFC 4434), "cmac" (RFC 4615)
    hash: str | None
    key_len: int  # preferred key length in octets (RFC 7296 §2.13)
    out_len: int  # output length in octets
    weak: bool
    ike: bool


@dataclass(frozen=True, slots=True)
class DhTransform:
    """A Diffie-Hellman group (IKEv2 Transform Type 4; also the IKEv1 Group Description)."""

    id: int
    name: str
    kind: str  # "modp", "ecp", "curve", "none"
    public_len: int  # octets of the KE payload's Key Exchange Data
    strength: int  # estimated security in bits (NIST SP 800-57 Part 1, RFC 3526 §8)
    weak: bool
    ike: bool  # ikesrv computes it (ikesrv/crypto/dh.py); the same for PFS in ESP


def _encr(id, key_bits, key_attr, block, iv, icv, salt, *, weak=False, ike=True, esp=True,
          xfrm=None, v1_ike=None, v1_esp=None) -> EncrTransform:
    return EncrTransform(id, EncrId(id).name, key_bits, key_attr, block, iv, icv, salt, weak,
                         ike, esp, xfrm, v1_ike, v1_esp)


#: Encryption algorithms by IKEv2 transform ID.
ENCR: dict[int, EncrTransform] = {
    t.id: t
    for t in (
        _encr(EncrId.ENCR_AES_CBC, AES_KEY_BITS, True, 16, 16, 0, 0, xfrm="cbc(aes)",
              v1_ike=V1EncryptionAlgorithm.AES_CBC, v1_esp=V1EspTransformId.ESP_AES),
        _encr(EncrId.ENCR_AES_CTR, AES_KEY_BITS, True, 1, 8, 0, 4, ike=False,
              xfrm="rfc3686(ctr(aes))", v1_esp=V1EspTransformId.ESP_AES_CTR),
        _encr(EncrId.ENCR_AES_GCM_8, AES_KEY_BITS, True, 1, 8, 8, 4, xfrm="rfc4106(gcm(aes))",
              v1_esp=V1EspTransformId.ESP_AES_GCM_8),
        _encr(EncrId.ENCR_AES_GCM_12, AES_KEY_BITS, True, 1, 8, 12, 4, xfrm="rfc4106(gcm(aes))",
              v1_esp=V1EspTransformId.ESP_AES_GCM_12),
        _encr(EncrId.ENCR_AES_GCM_16, AES_KEY_BITS, True, 1, 8, 16, 4, xfrm="rfc4106(gcm(aes))",
              v1_esp=V1EspTransformId.ESP_AES_GCM_16),
        _encr(EncrId.ENCR_AES_CCM_8, AES_KEY_BITS, True, 1, 8, 8, 3, ike=False,
              xfrm="rfc4309(ccm(aes))", v1_esp=V1EspTransformId.ESP_AES_CCM_8),
        _encr(EncrId.ENCR_AES_CCM_12, AES_KEY_BITS, True, 1, 8, 12, 3, ike=False,
              xfrm="rfc4309(ccm(aes))", v1_esp=V1EspTransformId.ESP_AES_CCM_12),
        _encr(EncrId.ENCR_AES_CCM_16, AES_KEY_BITS, True, 1, 8, 16, 3, ike=False,
              xfrm="rfc4309(ccm(aes))", v1_esp=V1EspTransformId.ESP_AES_CCM_16),
        # RFC 7634 §2: fixed 256-bit key, no KEY_LENGTH attribute, 4-octet salt. No IPsec
        # DOI ESP transform ID exists for it, so IKEv1 cannot negotiate it.
        _encr(EncrId.ENCR_CHACHA20_POLY1305, (256,), False, 1, 8, 16, 4,
              xfrm="rfc7539esp(chacha20,poly1305)"),
        _encr(EncrId.ENCR_3DES, (192,), False, 8, 8, 0, 0, weak=True, xfrm="cbc(des3_ede)",
              v1_ike=V1EncryptionAlgorithm.TRIPLEDES_CBC, v1_esp=V1EspTransformId.ESP_3DES),
        # Known so that "des" in a configuration reads "not supported", never negotiated.
        _encr(EncrId.ENCR_DES, (64,), False, 8, 8, 0, 0, weak=True, ike=False, esp=False,
              v1_ike=V1EncryptionAlgorithm.DES_CBC, v1_esp=V1EspTransformId.ESP_DES),
    )
}


def _integ(id, kind, hash, key_len, icv_len, prf, *, weak=False, ike=True, esp=True, xfrm=None,
           v1_hash=None, v1_auth=None) -> IntegTransform:
    return IntegTransform(id, IntegId(id).name, kind, hash, key_len, icv_len, prf, weak, ike,
                          esp, xfrm, v1_hash, v1_auth)


#: Integrity algorithms by IKEv2 transform ID.
INTEG: dict[int, IntegTransform] = {
    t.id: t
    for t in (
        _integ(IntegId.AUTH_HMAC_SHA2_256_128, "hmac", "sha256", 32, 16, PrfId.PRF_HMAC_SHA2_256,
               xfrm="hmac(sha256)", v1_hash=V1HashAlgorithm.SHA2_256,
               v1_auth=V1AuthenticationAlgorithm.HMAC_SHA2_256),
        _integ(IntegId.AUTH_HMAC_SHA2_384_192, "hmac", "sha384", 48, 24, PrfId.PRF_HMAC_SHA2_384,
               xfrm="hmac(sha384)", v1_hash=V1HashAlgorithm.SHA2_384,
               v1_auth=V1AuthenticationAlgorithm.HMAC_SHA2_384),
        _integ(IntegId.AUTH_HMAC_SHA2_512_256, "hmac", "sha512", 64, 32, PrfId.PRF_HMAC_SHA2_512,
               xfrm="hmac(sha512)", v1_hash=V1HashAlgorithm.SHA2_512,
               v1_auth=V1AuthenticationAlgorithm.HMAC_SHA2_512),
        _integ(IntegId.AUTH_AES_XCBC_96, "xcbc", None, 16, 12, PrfId.PRF_AES128_XCBC,
               xfrm="xcbc(aes)", v1_auth=V1AuthenticationAlgorithm.AES_XCBC_MAC),
        _integ(IntegId.AUTH_AES_CMAC_96, "cmac", None, 16, 12, PrfId.PRF_AES128_CMAC,
               xfrm="cmac(aes)"),
        _integ(IntegId.AUTH_HMAC_SHA1_96, "hmac", "sha1", 20, 12, PrfId.PRF_HMAC_SHA1, weak=True,
               xfrm="hmac(sha1)", v1_hash=V1HashAlgorithm.SHA,
               v1_auth=V1AuthenticationAlgorithm.HMAC_SHA),
        _integ(IntegId.AUTH_HMAC_MD5_96, "hmac", "md5", 16, 12, PrfId.PRF_HMAC_MD5, weak=True,
               xfrm="hmac(md5)", v1_hash=V1HashAlgorithm.MD5,
               v1_auth=V1AuthenticationAlgorithm.HMAC_MD5),
    )
}

#: Linux XFRM truncation length in bits for each integrity algorithm (= ICV length).
XFRM_TRUNC_BITS = {i.id: i.icv_len * 8 for i in INTEG.values()}


def _prf(id, kind, hash, key_len, out_len, *, weak=False, ike=True) -> PrfTransform:
    return PrfTransform(id, PrfId(id).name, kind, hash, key_len, out_len, weak, ike)


#: Pseudorandom functions by IKEv2 transform ID.
PRF: dict[int, PrfTransform] = {
    t.id: t
    for t in (
        _prf(PrfId.PRF_HMAC_SHA2_256, "hmac", "sha256", 32, 32),
        _prf(PrfId.PRF_HMAC_SHA2_384, "hmac", "sha384", 48, 48),
        _prf(PrfId.PRF_HMAC_SHA2_512, "hmac", "sha512", 64, 64),
        # RFC 4434 / RFC 4615: 128-bit key; longer or shorter keys are mapped by the PRF.
        _prf(PrfId.PRF_AES128_XCBC, "xcbc", None, 16, 16),
        _prf(PrfId.PRF_AES128_CMAC, "cmac", None, 16, 16),
        _prf(PrfId.PRF_HMAC_SHA1, "hmac", "sha1", 20, 20, weak=True),
        _prf(PrfId.PRF_HMAC_MD5, "hmac", "md5", 16, 16, weak=True),
    )
}


def _dh(id, kind, public_len, strength, *, ike=True, weak=None) -> DhTransform:
    weak = strength < 112 if weak is None else weak
    return DhTransform(id, DhId(id).name, kind, public_len, strength, weak, ike)


#: Diffie-Hellman groups by IKEv2 transform ID (= IKEv1 Group Description).
#: ``ike`` marks the groups ikesrv/crypto/dh.py computes (its SUPPORTED set).
DH: dict[int, DhTransform] = {
    t.id: t
    for t in (
        _dh(DhId.CURVE25519, "curve", 32, 128),  # RFC 8031
        _dh(DhId.CURVE448, "curve", 56, 224),
        _dh(DhId.ECP_256, "ecp", 64, 128),  # RFC 5903 §7: x || y
        _dh(DhId.ECP_384, "ecp", 96, 192),
        _dh(DhId.ECP_521, "ecp", 132, 256),
        _dh(DhId.MODP_2048, "modp", 256, 112),  # RFC 3526
        _dh(DhId.MODP_3072, "modp", 384, 128),
        _dh(DhId.MODP_4096, "modp", 512, 152),
        _dh(DhId.MODP_6144, "modp", 768, 176),
        _dh(DhId.MODP_8192, "modp", 1024, 200),
        _dh(DhId.MODP_1536, "modp", 192, 96),  # RFC 3526 §8: 90-120 bits; below 112: weak
        _dh(DhId.MODP_1024, "modp", 128, 80),  # RFC 2409 §6.2
        _dh(DhId.MODP_768, "modp", 96, 64),
        _dh(DhId.MODP_1024_160, "modp", 128, 80, ike=False),  # RFC 5114
        # RFC 5114 primes: their generation cannot be verified (RFC 8247 §2.4)
        _dh(DhId.MODP_2048_224, "modp", 256, 112, ike=False, weak=True),
        _dh(DhId.MODP_2048_256, "modp", 256, 112, ike=False, weak=True),
        _dh(DhId.ECP_192, "ecp", 48, 96, ike=False),
        _dh(DhId.ECP_224, "ecp", 56, 112, ike=False),
        _dh(DhId.BRAINPOOL_P224, "ecp", 56, 112, ike=False),
        _dh(DhId.BRAINPOOL_P256, "ecp", 64, 128, ike=False),
        _dh(DhId.BRAINPOOL_P384, "ecp", 96, 192, ike=False),
        _dh(DhId.BRAINPOOL_P512, "ecp", 128, 256, ike=False),
    )
}

#: The NONE value of the DH transform type (RFC 7296 §3.3.2): "no PFS" in ESP proposals.
DH_NONE = DhId.NONE


# --------------------------------------------------------------------------------------
# strongSwan proposal keywords
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """What one proposal keyword means: a transform type, an ID and a key length."""

    name: str
    type: TransformType
    id: int
    key_bits: int | None = None


def _build_tokens() -> dict[str, Token]:
    tokens: dict[str, Token] = {}

    def add(name: str, type: TransformType, id: int, key_bits: int | None = None) -> None:
        tokens.setdefault(name, Token(name, type, int(id), key_bits))

    E, I, P, D, S = (TransformType.ENCR, TransformType.INTEG, TransformType.PRF,
                     TransformType.DH, TransformType.ESN)
    # The first keyword registered for a (type, id, key length) is its canonical name.
    for bits in AES_KEY_BITS:
        add(f"aes{bits}", E, EncrId.ENCR_AES_CBC, bits)
    add("aes", E, EncrId.ENCR_AES_CBC, 128)
    icv_ids = {8: EncrId.ENCR_AES_GCM_8, 12: EncrId.ENCR_AES_GCM_12, 16: EncrId.ENCR_AES_GCM_16}
    ccm_ids = {8: EncrId.ENCR_AES_CCM_8, 12: EncrId.ENCR_AES_CCM_12, 16: EncrId.ENCR_AES_CCM_16}
    for mode, ids in (("gcm", icv_ids), ("ccm", ccm_ids)):
        for bits in AES_KEY_BITS:
            for icv in (16, 12, 8):  # ICV in octets, then in bits, as strongSwan accepts both
                add(f"aes{bits}{mode}{icv}", E, ids[icv], bits)
                add(f"aes{bits}{mode}{icv * 8}", E, ids[icv], bits)
            add(f"aes{bits}{mode}", E, ids[16], bits)  # no ICV length: 16 octets
    for bits in AES_KEY_BITS:
        add(f"aes{bits}ctr", E, EncrId.ENCR_AES_CTR, bits)
    add("chacha20poly1305", E, EncrId.ENCR_CHACHA20_POLY1305)
    add("3des", E, EncrId.ENCR_3DES)
    add("des", E, EncrId.ENCR_DES)

    add("sha256", I, IntegId.AUTH_HMAC_SHA2_256_128)
    add("sha2_256", I, IntegId.AUTH_HMAC_SHA2_256_128)
    add("sha384", I, IntegId.AUTH_HMAC_SHA2_384_192)
    add("sha2_384", I, IntegId.AUTH_HMAC_SHA2_384_192)
    add("sha512", I, IntegId.AUTH_HMAC_SHA2_512_256)
    add("sha2_512", I, IntegId.AUTH_HMAC_SHA2_512_256)
    add("sha1", I, IntegId.AUTH_HMAC_SHA1_96)
    add("sha", I, IntegId.AUTH_HMAC_SHA1_96)
    add("md5", I, IntegId.AUTH_HMAC_MD5_96)
    add("aesxcbc", I, IntegId.AUTH_AES_XCBC_96)
    add("aescmac", I, IntegId.AUTH_AES_CMAC_96)

    add("prfsha256", P, PrfId.PRF_HMAC_SHA2_256)
    add("prfsha384", P, PrfId.PRF_HMAC_SHA2_384)
    add("prfsha512", P, PrfId.PRF_HMAC_SHA2_512)
    add("prfsha1", P, PrfId.PRF_HMAC_SHA1)
    add("prfmd5", P, PrfId.PRF_HMAC_MD5)
    add("prfaesxcbc", P, PrfId.PRF_AES128_XCBC)
    add("prfaescmac", P, PrfId.PRF_AES128_CMAC)

    for name, gid in (
        ("curve25519", DhId.CURVE25519), ("x25519", DhId.CURVE25519),
        ("curve448", DhId.CURVE448), ("x448", DhId.CURVE448),
        ("ecp256", DhId.ECP_256), ("ecp384", DhId.ECP_384), ("ecp521", DhId.ECP_521),
        ("modp2048", DhId.MODP_2048), ("modp3072", DhId.MODP_3072),
        ("modp4096", DhId.MODP_4096), ("modp6144", DhId.MODP_6144),
        ("modp8192", DhId.MODP_8192), ("modp1536", DhId.MODP_1536),
        ("modp1024", DhId.MODP_1024), ("modp768", DhId.MODP_768),
        ("modp1024s160", DhId.MODP_1024_160), ("modp2048s224", DhId.MODP_2048_224),
        ("modp2048s256", DhId.MODP_2048_256), ("ecp192", DhId.ECP_192),
        ("ecp224", DhId.ECP_224), ("ecp224bp", DhId.BRAINPOOL_P224),
        ("ecp256bp", DhId.BRAINPOOL_P256), ("ecp384bp", DhId.BRAINPOOL_P384),
        ("ecp512bp", DhId.BRAINPOOL_P512),
        ("none", DhId.NONE), ("modpnone", DhId.NONE),
    ):
        add(name, D, gid)

    add("esn", S, EsnId.ESN)
    add("noesn", S, EsnId.NO_ESN)
    return tokens


#: Every proposal keyword ikesrv understands, by name (lower case).
TOKENS: dict[str, Token] = _build_tokens()

#: Keyword families of strongSwan's table that ikesrv knowingly does not implement:
#: named so that a configuration using one gets "not supported", not "unknown".
UNSUPPORTED_PREFIXES = (
    "camellia", "blowfish", "serpent", "twofish", "cast", "null", "prfcamellia",
    "ntru", "kyber", "saber", "bike", "frodo", "hqc", "sike", "mlkem", "modpnull",
)
UNSUPPORTED_NAMES = frozenset({
    "aes128gmac", "aes192gmac", "aes256gmac", "sha1_160", "sha256_96", "sha2_256_96",
    "md5_128", "chacha20poly1305compat",
})

_CANONICAL: dict[tuple[int, int, int | None], str] = {}
for _t in TOKENS.values():
    _CANONICAL.setdefault((int(_t.type), _t.id, _t.key_bits), _t.name)


def lookup_token(name: str) -> Token | None:
    """The meaning of a proposal keyword (case-insensitive), or None if unknown."""
    return TOKENS.get(name.lower())


def is_known_unsupported(name: str) -> bool:
    """True for strongSwan keywords of algorithms ikesrv deliberately leaves out."""
    name = name.lower()
    return name in UNSUPPORTED_NAMES or name.startswith(UNSUPPORTED_PREFIXES)


def token_name(type: int, id: int, key_bits: int | None = None) -> str:
    """The canonical keyword for a transform, or ``"<TYPE>_<id>[_<bits>]"`` if it has none."""
    name = _CANONICAL.get((int(type), int(id), key_bits))
    if name is None and key_bits is not None:
        name = _CANONICAL.get((int(type), int(id), None))
    if name is not None:
        return name
    suffix = f"_{key_bits}" if key_bits else ""
    try:
        type_name = TransformType(type).name
    except ValueError:
        type_name = f"TYPE{type}"
    return f"{type_name}_{id}{suffix}"


def encr_key_bytes(encr_id: int, key_bits: int | None) -> int:
    """Octets of key material per direction for a cipher: key plus salt (RFC 5282 §7.1)."""
    return ENCR[encr_id].keymat_len(key_bits)


def integ_key_bytes(integ_id: int | None) -> int:
    """Octets of integrity key per direction; 0 for none (AEAD)."""
    return INTEG[integ_id].key_len if integ_id else 0


def is_weak(type: int, id: int) -> bool:
    """Whether a transform is on the weak list (see the module docstring)."""
    table = _TABLES.get(int(type))
    entry = table.get(int(id)) if table is not None else None
    return bool(entry is not None and getattr(entry, "weak", False))


_TABLES: dict[int, dict] = {
    TransformType.ENCR: ENCR,
    TransformType.INTEG: INTEG,
    TransformType.PRF: PRF,
    TransformType.DH: DH,
}


# --------------------------------------------------------------------------------------
# IKEv1 mappings (RFC 2409 App. A; RFC 2407 §4.4.4, §4.5)
# --------------------------------------------------------------------------------------

#: IKEv1 hash algorithm -> hashlib name.
V1_HASH_NAMES: dict[int, str] = {
    V1HashAlgorithm.MD5: "md5",
    V1HashAlgorithm.SHA: "sha1",
    V1HashAlgorithm.SHA2_256: "sha256",
    V1HashAlgorithm.SHA2_384: "sha384",
    V1HashAlgorithm.SHA2_512: "sha512",
}

#: IKEv1 hashes that are weak (the same rule as for IKEv2 integrity and PRF).
V1_WEAK_HASHES = frozenset({V1HashAlgorithm.MD5, V1HashAlgorithm.SHA})

_V1_IKE_TO_ENCR = {e.v1_ike: e.id for e in ENCR.values() if e.v1_ike is not None}
_V1_ESP_TO_ENCR = {e.v1_esp: e.id for e in ENCR.values() if e.v1_esp is not None}
_V1_HASH_TO_INTEG = {i.v1_hash: i.id for i in INTEG.values() if i.v1_hash is not None}
_V1_AUTH_TO_INTEG = {i.v1_auth: i.id for i in INTEG.values() if i.v1_auth is not None}
_HASH_TO_PRF = {p.hash: p.id for p in PRF.values() if p.kind == "hmac"}


def encr_from_v1_phase1(v1_encr: int) -> int | None:
    """IKEv2 ENCR ID for an IKEv1 phase 1 Encryption Algorithm value."""
    return _V1_IKE_TO_ENCR.get(v1_encr)


def v1_phase1_from_encr(encr_id: int) -> int | None:
    """IKEv1 phase 1 Encryption Algorithm value for an IKEv2 ENCR ID."""
    e = ENCR.get(encr_id)
    return e.v1_ike if e else None


def encr_from_v1_esp(transform_id: int) -> int | None:
    """IKEv2 ENCR ID for an IPsec DOI ESP transform ID (the values coincide where both exist)."""
    return _V1_ESP_TO_ENCR.get(transform_id)


def v1_esp_from_encr(encr_id: int) -> int | None:
    e = ENCR.get(encr_id)
    return e.v1_esp if e else None


def integ_from_v1_hash(v1_hash: int) -> int | None:
    """The IKEv2 integrity algorithm built on the same hash as an IKEv1 Hash Algorithm."""
    return _V1_HASH_TO_INTEG.get(v1_hash)


def v1_hash_from_integ(integ_id: int) -> int | None:
    """The IKEv1 phase 1 Hash Algorithm of an integrity algorithm's hash (strongSwan
    encodes a proposal's integrity algorithm as the IKEv1 hash)."""
    i = INTEG.get(integ_id)
    return i.v1_hash if i else None


def prf_from_v1_hash(v1_hash: int) -> int | None:
    """The PRF of IKEv1: HMAC with the negotiated hash (RFC 2409 §4), as an IKEv2 PRF ID."""
    name = V1_HASH_NAMES.get(v1_hash)
    return _HASH_TO_PRF.get(name) if name else None


def integ_from_v1_auth(v1_auth: int) -> int | None:
    """IKEv2 INTEG ID for an IPsec DOI Authentication Algorithm (RFC 2407 §4.5, RFC 4868)."""
    return _V1_AUTH_TO_INTEG.get(v1_auth)


def v1_auth_from_integ(integ_id: int) -> int | None:
    i = INTEG.get(integ_id)
    return i.v1_auth if i else None
