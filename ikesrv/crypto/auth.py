"""IKE authentication: the AUTH payload's contents, computed and checked.

Owns (IKEv2, RFC 7296 §2.15, §2.16, §3.8):
  - ``signed_octets``: InitiatorSignedOctets / ResponderSignedOctets =
    RealMessage | NonceData of the peer | prf(SK_p, RestOfIDPayload).
  - Shared key MIC (method 2): ``psk_auth`` = prf(prf(Shared Secret, "Key Pad for IKEv2"),
    SignedOctets), also what EAP methods use with the MSK (§2.16); ``verify_psk_auth``
    compares in constant time.
  - Signatures: ``sign`` chooses the method: 14, Digital Signature (RFC 7427 §3: a
    length byte, the DER AlgorithmIdentifier, the signature) when the peer sent
    SIGNATURE_HASH_ALGORITHMS with a hash in common; otherwise the classic method of the
    key: 1 (RSA PKCS#1 v1.5 with SHA-1, as RFC 7296 §3.8 says classic peers expect) or
    9/10/11 (ECDSA with the curve's hash, signature r||s, RFC 4754 §3, §7). Ed25519 and
    Ed448 exist only in method 14 (RFC 8420). ``verify`` checks any of them and raises
    AuthenticationFailed with the reason, for any garbled input.
  - SIGNATURE_HASH_ALGORITHMS notification data (RFC 7427 §4): build and parse.
  - IKEv1 signatures over HASH_I / HASH_R (RFC 2409 §5.1): ``sign_v1`` / ``verify_v1``.

Policy:
  - RSA in method 14 signs with PKCS#1 v1.5 by default (what Android's native client and
    strongSwan's default verify; RFC 8247 §3.2 makes RSASSA-PSS a MUST to verify, so it
    is always accepted) and with RSASSA-PSS (salt = hash length, RFC 7427 App. A.4.3)
    when ``rsa_pss=True``.
  - Method 14 never signs with SHA-1, and accepts SHA-1 only when the caller puts
    HashAlgorithm.SHA1 in ``accepted_hash_algorithms`` (configuration). Method 1 uses
    SHA-1 by definition; it is accepted unless ``classic_rsa=False``, because the
    classic clients that speak it have nothing else.
  - Everything parsed from a peer is bounded: AUTH data size, AlgorithmIdentifier DER,
    RSA-PSS salt length, key sizes.

Must not import: ikesrv.wire, anything doing I/O. Uses ikesrv.crypto.prf for prf().
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils

from ikesrv.constants import AuthMethod, HashAlgorithm
from ikesrv.crypto.certs import LocalCredential, PrivateKey, PublicKey, describe_key
from ikesrv.crypto.prf import prf as _prf
from ikesrv.errors import AuthenticationFailed

__all__ = [
    "KEY_PAD",
    "DEFAULT_HASH_ALGORITHMS",
    "supported_hash_algorithms",
    "signature_hash_algorithms_data",
    "parse_signature_hash_algorithms",
    "signed_octets",
    "psk_auth",
    "verify_psk_auth",
    "sign",
    "verify",
    "algorithm_identifier",
    "sign_v1",
    "verify_v1",
]

#: RFC 7296 §2.15: the 17 ASCII characters, no terminator.
KEY_PAD = b"Key Pad for IKEv2"

#: Largest AUTH data we look at: an RSA-16384 signature plus a maximal AlgorithmIdentifier.
MAX_AUTH_DATA = 2048 + 1 + 255
#: Bound on an RSASSA-PSS salt we accept (RFC 8017 allows up to emLen - hLen - 2).
_MAX_PSS_SALT = 512
_MAX_HASH_IDS = 64

# ------------------------------------------------------------------------------- prf

# ------------------------------------------------------------------------ hash registry

_HASHES: dict[HashAlgorithm, type[hashes.HashAlgorithm]] = {
    HashAlgorithm.SHA1: hashes.SHA1,
    HashAlgorithm.SHA2_256: hashes.SHA256,
    HashAlgorithm.SHA2_384: hashes.SHA384,
    HashAlgorithm.SHA2_512: hashes.SHA512,
}
_HASH_NAMES = {
    HashAlgorithm.SHA1: "SHA-1",
    HashAlgorithm.SHA2_256: "SHA-256",
    HashAlgorithm.SHA2_384: "SHA-384",
    HashAlgorithm.SHA2_512: "SHA-512",
    HashAlgorithm.IDENTITY: "Identity",
}

#: What we accept and announce by default: SHA-2 and Identity (RFC 8247 §3.2, RFC 8420).
DEFAULT_HASH_ALGORITHMS = frozenset(
    {HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY}
)


def supported_hash_algorithms(allow_sha1: bool = False) -> tuple[HashAlgorithm, ...]:
    """The hash algorithms we verify in method 14, in announcement order."""
    base = (
        HashAlgorithm.SHA2_256,
        HashAlgorithm.SHA2_384,
        HashAlgorithm.SHA2_512,
        HashAlgorithm.IDENTITY,
    )
    return ((HashAlgorithm.SHA1,) if allow_sha1 else ()) + base


def signature_hash_algorithms_data(algorithms: Iterable[HashAlgorithm] | None = None) -> bytes:
    """Notification Data of SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4): 16-bit identifiers."""
    chosen = supported_hash_algorithms() if algorithms is None else algorithms
    return b"".join(int(a).to_bytes(2, "big") for a in chosen)


# notify data -> parsed: peers of one kind all send the same few (bounded: peers choose)
_PARSED_HASH_ALGORITHMS: dict[bytes, frozenset] = {}
_PARSED_HASH_ALGORITHMS_KEPT = 32


def parse_signature_hash_algorithms(data: bytes) -> frozenset[HashAlgorithm]:
    """The hash algorithms a peer announced. Unknown identifiers are ignored (RFC 7427 §4
    expects new ones), as is an odd trailing byte: the notification is a hint, not worth
    failing IKE_SA_INIT over. Only the first 64 identifiers are read."""
    found = _PARSED_HASH_ALGORITHMS.get(data)
    if found is None:
        found = _parse_signature_hash_algorithms(data)
        if len(_PARSED_HASH_ALGORITHMS) < _PARSED_HASH_ALGORITHMS_KEPT:
            _PARSED_HASH_ALGORITHMS[bytes(data)] = found
    return found


def _parse_signature_hash_algorithms(data: bytes) -> frozenset[HashAlgorithm]:
    found = set()
    for i in range(0, min(len(data), 2 * _MAX_HASH_IDS) - 1, 2):
        try:
            found.add(HashAlgorithm(int.from_bytes(data[i : i + 2], "big")))
        except ValueError:
            continue
    return frozenset(found)


# ------------------------------------------------------------------- DER (X.690), tiny


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(body))) + body + content


def _oid(dotted: str) -> bytes:
    """DER OBJECT IDENTIFIER (tag and length included) of a dotted OID."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _der(0x06, bytes(out))


_NULL = b"\x05\x00"


def _tlv(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``; ValueError if bad."""
    if end - pos < 2:
        raise ValueError(f"{what}: truncated")
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    elif first == 0x81 and pos < end and buf[pos] >= 0x80:  # AUTH's AlgorithmIdentifier < 256
        length = buf[pos]
        pos += 1
    else:
        raise ValueError(f"{what}: unsupported length encoding")
    if end - pos < length:
        raise ValueError(f"{what}: length exceeds its container")
    return tag, pos, pos + length


# ------------------------------------------------------------- signature schemes (7427)


@dataclass(frozen=True)
class _Scheme:
    """One signature scheme of method 14: the key it needs and how to check with it."""

    key: str  # "rsa" | "ec" | "ed25519" | "ed448"
    hash_id: HashAlgorithm
    pss: bool = False
    mgf_hash: HashAlgorithm | None = None
    salt_length: int = 0

    @property
    def name(self) -> str:
        if self.key == "rsa":
            if self.pss:
                mgf = _HASH_NAMES[self.mgf_hash] if self.mgf_hash else "?"
                return (
                    f"RSASSA-PSS {_HASH_NAMES[self.hash_id]} (MGF1 {mgf}, salt {self.salt_length})"
                )
            return f"RSA PKCS#1 v1.5 {_HASH_NAMES[self.hash_id]}"
        if self.key == "ec":
            return f"ECDSA {_HASH_NAMES[self.hash_id]}"
        return "Ed25519" if self.key == "ed25519" else "Ed448"


# Hash OIDs (RFC 3279 §2.2.1, RFC 4055 §2.1) and their IKEv2 identifiers.
_HASH_OIDS = {
    _oid("1.3.14.3.2.26"): HashAlgorithm.SHA1,
    _oid("2.16.840.1.101.3.4.2.1"): HashAlgorithm.SHA2_256,
    _oid("2.16.840.1.101.3.4.2.2"): HashAlgorithm.SHA2_384,
    _oid("2.16.840.1.101.3.4.2.3"): HashAlgorithm.SHA2_512,
}
_OID_OF_HASH = {h: o for o, h in _HASH_OIDS.items()}
_RSASSA_PSS = _oid("1.2.840.113549.1.1.10")
_MGF1 = _oid("1.2.840.113549.1.1.8")
# Signature algorithm OIDs whose parameters are NULL or absent (RFC 7427 App. A.1, A.3;
# RFC 8420 §2 for EdDSA).
_SIMPLE_SCHEMES = {
    _oid("1.2.840.113549.1.1.5"): _Scheme("rsa", HashAlgorithm.SHA1),  # sha1WithRSAEncryption
    _oid("1.2.840.113549.1.1.11"): _Scheme("rsa", HashAlgorithm.SHA2_256),
    _oid("1.2.840.113549.1.1.12"): _Scheme("rsa", HashAlgorithm.SHA2_384),
    _oid("1.2.840.113549.1.1.13"): _Scheme("rsa", HashAlgorithm.SHA2_512),
    _oid("1.2.840.10045.4.1"): _Scheme("ec", HashAlgorithm.SHA1),  # ecdsa-with-SHA1
    _oid("1.2.840.10045.4.3.2"): _Scheme("ec", HashAlgorithm.SHA2_256),
    _oid("1.2.840.10045.4.3.3"): _Scheme("ec", HashAlgorithm.SHA2_384),
    _oid("1.2.840.10045.4.3.4"): _Scheme("ec", HashAlgorithm.SHA2_512),
    _oid("1.3.101.112"): _Scheme("ed25519", HashAlgorithm.IDENTITY),
    _oid("1.3.101.113"): _Scheme("ed448", HashAlgorithm.IDENTITY),
}
_SIMPLE_OID_OF = {(s.key, s.hash_id): o for o, s in _SIMPLE_SCHEMES.items()}


def _hash_algorithm_identifier(h: HashAlgorithm) -> bytes:
    return _der(0x30, _OID_OF_HASH[h] + _NULL)


def algorithm_identifier(key: str, hash_id: HashAlgorithm, *, pss: bool = False) -> bytes:
    """The DER AlgorithmIdentifier we send in method 14 (RFC 7427 App. A).

    ``key`` is "rsa", "ec", "ed25519" or "ed448". PKCS#1 v1.5 carries an explicit NULL
    parameter (RFC 4055 §5; Android compares these bytes exactly); ECDSA and EdDSA carry
    none (RFC 5758 §3.2, RFC 8410 §3); RSASSA-PSS names its hash, MGF1 with the same hash
    and a salt as long as the hash, leaving the trailer field at its default (App. A.4.3).
    """
    if pss:
        if key != "rsa":
            raise ValueError("RSASSA-PSS needs an RSA key")
        params = _der(
            0x30,
            _der(0xA0, _hash_algorithm_identifier(hash_id))
            + _der(0xA1, _der(0x30, _MGF1 + _hash_algorithm_identifier(hash_id)))
            + _der(0xA2, _der(0x02, bytes([_HASHES[hash_id].digest_size]))),
        )
        return _der(0x30, _RSASSA_PSS + params)
    oid = _SIMPLE_OID_OF[(key, hash_id)]
    return _der(0x30, oid + (_NULL if key == "rsa" else b""))


def _parse_hash_identifier(buf: bytes, pos: int, end: int) -> HashAlgorithm:
    tag, p, e = _tlv(buf, pos, end, "hash AlgorithmIdentifier")
    if tag != 0x30 or e != end:
        raise ValueError("hash AlgorithmIdentifier is not one SEQUENCE")
    tag, _, oe = _tlv(buf, p, e, "hash OID")
    hash_id = _HASH_OIDS.get(buf[p:oe]) if tag == 0x06 else None
    if hash_id is None:
        raise ValueError("unsupported hash algorithm")
    if buf[oe:e] not in (b"", _NULL):
        raise ValueError("unexpected hash parameters")
    return hash_id


def _parse_small_int(buf: bytes, pos: int, end: int, what: str) -> int:
    tag, p, e = _tlv(buf, pos, end, what)
    if tag != 0x02 or e != end or not 1 <= e - p <= 2 or buf[p] & 0x80:
        raise ValueError(f"{what} is not a small non-negative INTEGER")
    return int.from_bytes(buf[p:e], "big")


def _parse_pss_params(buf: bytes, pos: int, end: int) -> _Scheme:
    """RSASSA-PSS-params (RFC 4055 §3.1), defaults SHA-1 / MGF1-SHA-1 / salt 20 / trailer 1."""
    hash_id, mgf_hash, salt = HashAlgorithm.SHA1, HashAlgorithm.SHA1, 20
    if pos < end:
        tag, p, e = _tlv(buf, pos, end, "RSASSA-PSS parameters")
        if tag != 0x30 or e != end:
            raise ValueError("RSASSA-PSS parameters are not one SEQUENCE")
        last = -1
        while p < e:
            tag, cp, ce = _tlv(buf, p, e, "RSASSA-PSS parameter")
            field_no = tag - 0xA0
            if not 0 <= field_no <= 3 or field_no <= last:
                raise ValueError("unexpected RSASSA-PSS parameter")
            last = field_no
            if field_no == 0:
                hash_id = _parse_hash_identifier(buf, cp, ce)
            elif field_no == 1:
                tag, mp, me = _tlv(buf, cp, ce, "maskGenAlgorithm")
                if tag != 0x30 or me != ce:
                    raise ValueError("maskGenAlgorithm is not one SEQUENCE")
                tag, _, oe = _tlv(buf, mp, me, "MGF OID")
                if buf[mp:oe] != _MGF1:
                    raise ValueError("mask generation function is not MGF1")
                mgf_hash = _parse_hash_identifier(buf, oe, me)
            elif field_no == 2:
                salt = _parse_small_int(buf, cp, ce, "saltLength")
            elif _parse_small_int(buf, cp, ce, "trailerField") != 1:
                raise ValueError("trailerField is not 1")
            p = ce
    if salt > _MAX_PSS_SALT:
        raise ValueError(f"RSASSA-PSS salt length {salt} exceeds {_MAX_PSS_SALT}")
    return _Scheme("rsa", hash_id, pss=True, mgf_hash=mgf_hash, salt_length=salt)


def _parse_algorithm_identifier(blob: bytes) -> _Scheme:
    tag, p, e = _tlv(blob, 0, len(blob), "AlgorithmIdentifier")
    if tag != 0x30 or e != len(blob):
        raise ValueError("AlgorithmIdentifier is not one SEQUENCE")
    tag, _, oe = _tlv(blob, p, e, "algorithm OID")
    if tag != 0x06:
        raise ValueError("algorithm is not an OID")
    oid = blob[p:oe]  # the whole OID element, compared with the DER of known OIDs
    if oid == _RSASSA_PSS:
        return _parse_pss_params(blob, oe, e)
    scheme = _SIMPLE_SCHEMES.get(oid)
    if scheme is None:
        raise ValueError("unsupported signature algorithm")
    if blob[oe:e] not in (b"", _NULL):
        raise ValueError("unexpected signature algorithm parameters")
    return scheme


# ------------------------------------------------------------------ signed octets, PSK


def signed_octets(
    message: bytes, peer_nonce: bytes, prf_id: int, sk_p: bytes, id_body: bytes
) -> bytes:
    """RFC 7296 §2.15: RealMessage | NonceData | prf(SK_p, RestOfIDPayload).

    For the initiator's AUTH: its IKE_SA_INIT request, the responder's nonce (Nr's data,
    no payload header), SK_pi and IDi's body; for ours: our IKE_SA_INIT response, Ni,
    SK_pr and IDr's body (``Identity.payload_body()`` or ``IdPayload.body``).
    """
    return message + peer_nonce + _prf(prf_id, sk_p, id_body)


def psk_auth(prf_id: int, secret: bytes, octets: bytes) -> bytes:
    """Shared Key Message Integrity Code (method 2; RFC 7296 §2.15); ``secret`` is the PSK
    or, for EAP, the MSK (§2.16)."""
    return _prf(prf_id, _prf(prf_id, secret, KEY_PAD), octets)


def verify_psk_auth(prf_id: int, secret: bytes, octets: bytes, auth_data: bytes) -> bool:
    """Whether a peer's method-2 AUTH data is right, compared in constant time.

    A bool rather than an exception: the caller names the peer in its reason.
    """
    return hmac.compare_digest(psk_auth(prf_id, secret, octets), bytes(auth_data))


# ------------------------------------------------------------------------ signing


_CURVE_CLASSIC = {
    "secp256r1": (AuthMethod.ECDSA_SHA256_P256, HashAlgorithm.SHA2_256, 32),
    "secp384r1": (AuthMethod.ECDSA_SHA384_P384, HashAlgorithm.SHA2_384, 48),
    "secp521r1": (AuthMethod.ECDSA_SHA512_P521, HashAlgorithm.SHA2_512, 66),
}
_METHOD_CURVE = {method: (curve, h, n) for curve, (method, h, n) in _CURVE_CLASSIC.items()}


def _hash(hash_id: HashAlgorithm) -> hashes.HashAlgorithm:
    return _HASHES[hash_id]()


def _rsa_hash_preference(key_size: int) -> tuple[HashAlgorithm, ...]:
    # A hash at least as strong as the key (NIST SP 800-57 Part 1, Table 2), then others.
    if key_size <= 3072:
        return (HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512)
    if key_size <= 7680:
        return (HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.SHA2_256)
    return (HashAlgorithm.SHA2_512, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_256)


def _ec_hash_preference(curve: str) -> tuple[HashAlgorithm, ...]:
    own = _CURVE_CLASSIC[curve][1]
    rest = [
        h
        for h in (HashAlgorithm.SHA2_512, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_256)
        if h != own
    ]
    return (own, *rest)


def _raw_ecdsa(der_signature: bytes, coordinate_len: int) -> bytes:
    r, s = utils.decode_dss_signature(der_signature)
    return r.to_bytes(coordinate_len, "big") + s.to_bytes(coordinate_len, "big")


def sign(
    credential: LocalCredential | PrivateKey,
    octets: bytes,
    peer_hash_algorithms: Iterable[HashAlgorithm] | None,
    *,
    rsa_pss: bool = False,
) -> tuple[AuthMethod, bytes]:
    """Sign our SignedOctets; returns the AUTH payload's method and data.

    ``peer_hash_algorithms`` is what the peer's SIGNATURE_HASH_ALGORITHMS listed (None or
    empty when it sent none). Method 14 is used when a SHA-2 hash (or Identity, for
    EdDSA) is in common; otherwise the classic method. An EdDSA key with a peer that
    cannot take Identity raises AuthenticationFailed: there is no classic EdDSA method.
    """
    key = credential.private_key if isinstance(credential, LocalCredential) else credential
    offered = frozenset(peer_hash_algorithms or ())
    if isinstance(key, rsa.RSAPrivateKey):
        for h in _rsa_hash_preference(key.key_size):
            if h in offered:
                if rsa_pss:
                    pad: padding.AsymmetricPadding = padding.PSS(
                        mgf=padding.MGF1(_hash(h)), salt_length=_HASHES[h].digest_size
                    )
                else:
                    pad = padding.PKCS1v15()
                signature = key.sign(octets, pad, _hash(h))
                return AuthMethod.DIGITAL_SIGNATURE, _method14(
                    algorithm_identifier("rsa", h, pss=rsa_pss), signature
                )
        # RFC 7296 §3.8: classic RSA signatures use SHA-1 for interoperability.
        return AuthMethod.RSA_DIGITAL_SIGNATURE, key.sign(octets, padding.PKCS1v15(), hashes.SHA1())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = key.curve.name
        if curve not in _CURVE_CLASSIC:
            raise ValueError(f"ECDSA curve {curve} is not supported")
        for h in _ec_hash_preference(curve):
            if h in offered:
                # RFC 7427 §3: in method 14 an ECDSA signature is the DER Ecdsa-Sig-Value.
                signature = key.sign(octets, ec.ECDSA(_hash(h)))
                return AuthMethod.DIGITAL_SIGNATURE, _method14(
                    algorithm_identifier("ec", h), signature
                )
        method, h, n = _CURVE_CLASSIC[curve]
        return method, _raw_ecdsa(key.sign(octets, ec.ECDSA(_hash(h))), n)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        if HashAlgorithm.IDENTITY not in offered:
            raise AuthenticationFailed(
                f"our {describe_key(key)} key needs RFC 8420 (Identity hash), "
                "which the peer did not announce"
            )
        kind = "ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "ed448"
        identifier = algorithm_identifier(kind, HashAlgorithm.IDENTITY)
        return AuthMethod.DIGITAL_SIGNATURE, _method14(identifier, key.sign(octets))
    raise ValueError(f"unsupported private key type {type(key).__name__}")


def _method14(identifier: bytes, signature: bytes) -> bytes:
    # RFC 7427 §3: ASN.1 Length (1 octet) | AlgorithmIdentifier | Signature Value.
    return bytes([len(identifier)]) + identifier + signature


# ----------------------------------------------------------------------- verifying


def _key_kind(public_key: object) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ec"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "ed448"
    return "unsupported"


def verify(
    public_key: PublicKey,
    method: int,
    auth_data: bytes,
    octets: bytes,
    accepted_hash_algorithms: Iterable[HashAlgorithm] | None = None,
    *,
    classic_rsa: bool = True,
) -> str:
    """Check a signature AUTH payload against the peer's public key.

    Returns the scheme's name for logs ("RSASSA-PSS SHA-256 (...)", "ECDSA SHA-384",
    "RSA PKCS#1 v1.5 SHA-1 (method 1)", ...). Raises AuthenticationFailed, and no other
    exception, whatever ``method`` and ``auth_data`` hold. ``accepted_hash_algorithms``
    bounds method 14 (default DEFAULT_HASH_ALGORITHMS, without SHA-1).
    """
    accepted = (
        DEFAULT_HASH_ALGORITHMS
        if accepted_hash_algorithms is None
        else frozenset(accepted_hash_algorithms)
    )
    data = bytes(auth_data)
    if len(data) > MAX_AUTH_DATA:
        raise AuthenticationFailed(f"AUTH data of {len(data)} bytes exceeds {MAX_AUTH_DATA}")
    if not data:
        raise AuthenticationFailed("empty AUTH data")
    kind = _key_kind(public_key)
    try:
        if method == AuthMethod.DIGITAL_SIGNATURE:
            return _verify_method14(public_key, kind, data, octets, accepted)
        if method == AuthMethod.RSA_DIGITAL_SIGNATURE:
            if not classic_rsa:
                raise AuthenticationFailed(
                    "AUTH method 1 (RSA with SHA-1) is not allowed by configuration"
                )
            if kind != "rsa":
                raise AuthenticationFailed(
                    f"AUTH method 1 needs an RSA key, the certificate holds {_describe(public_key)}"
                )
            return _verify_classic_rsa(public_key, data, octets)  # type: ignore[arg-type]
        if method in _METHOD_CURVE:
            return _verify_classic_ecdsa(public_key, kind, AuthMethod(method), data, octets)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise AuthenticationFailed(
            f"signature does not verify ({_method_name(method)}): {e or 'invalid'}"
        ) from None
    raise AuthenticationFailed(
        f"AUTH method {_method_name(method)} is not a supported signature method"
    )


def _method_name(method: int) -> str:
    try:
        return AuthMethod(method).name
    except ValueError:
        return str(method)


def _describe(public_key: object) -> str:
    try:
        return describe_key(public_key)  # type: ignore[arg-type]
    except Exception:  # describing must never turn a rejection into a crash
        return type(public_key).__name__


def _verify_method14(
    public_key: PublicKey, kind: str, data: bytes, octets: bytes, accepted: frozenset[HashAlgorithm]
) -> str:
    length = data[0]
    if length == 0 or 1 + length > len(data):
        raise AuthenticationFailed(
            f"AUTH method 14: ASN.1 length {length} does not fit {len(data)} bytes"
        )
    blob, signature = data[1 : 1 + length], data[1 + length :]
    try:
        scheme = _parse_algorithm_identifier(blob)
    except ValueError as e:
        raise AuthenticationFailed(
            f"AUTH method 14: AlgorithmIdentifier {blob.hex()}: {e}"
        ) from None
    if scheme.hash_id not in accepted or (
        scheme.mgf_hash is not None and scheme.mgf_hash not in accepted
    ):
        raise AuthenticationFailed(
            f"AUTH method 14: {scheme.name} uses a hash algorithm we do not accept"
        )
    if scheme.key != kind:
        raise AuthenticationFailed(
            f"AUTH method 14: {scheme.name} does not fit the certificate's "
            f"{_describe(public_key)} key"
        )
    if not signature:
        raise AuthenticationFailed("AUTH method 14: no signature value")
    # scheme.key == kind was checked above, so each branch sees the key type it expects.
    if isinstance(public_key, rsa.RSAPublicKey):
        if scheme.pss:
            mgf_hash = scheme.mgf_hash or scheme.hash_id
            pad: padding.AsymmetricPadding = padding.PSS(
                mgf=padding.MGF1(_hash(mgf_hash)), salt_length=scheme.salt_length
            )
        else:
            pad = padding.PKCS1v15()
        public_key.verify(signature, octets, pad, _hash(scheme.hash_id))
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, octets, ec.ECDSA(_hash(scheme.hash_id)))
    else:
        public_key.verify(signature, octets)
    return scheme.name


def _digest_info(hash_id: HashAlgorithm, digest: bytes) -> bytes:
    # RFC 8017 §9.2: DigestInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING digest }
    return _der(0x30, _hash_algorithm_identifier(hash_id) + _der(0x04, digest))


def _verify_classic_rsa(public_key: rsa.RSAPublicKey, signature: bytes, octets: bytes) -> str:
    # RFC 7296 §3.8 asks for SHA-1 but the DigestInfo names the hash, and some peers use
    # SHA-2 in method 1: recover it, then compare with what each allowed hash gives.
    recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    for hash_id in (
        HashAlgorithm.SHA1,
        HashAlgorithm.SHA2_256,
        HashAlgorithm.SHA2_384,
        HashAlgorithm.SHA2_512,
    ):
        digest = hashlib.new(_HASHES[hash_id].name, octets).digest()
        if hmac.compare_digest(recovered, _digest_info(hash_id, digest)):
            return f"RSA PKCS#1 v1.5 {_HASH_NAMES[hash_id]} (method 1)"
    raise InvalidSignature("DigestInfo does not match the signed octets")


def _verify_classic_ecdsa(
    public_key: PublicKey, kind: str, method: AuthMethod, data: bytes, octets: bytes
) -> str:
    curve, hash_id, n = _METHOD_CURVE[method]
    if kind != "ec" or public_key.curve.name != curve:  # type: ignore[union-attr]
        raise AuthenticationFailed(
            f"AUTH method {method.name} does not fit the certificate's {_describe(public_key)} key"
        )
    # RFC 4754 §7: the signature is r and s, each as long as the curve's field, concatenated.
    if len(data) != 2 * n:
        raise AuthenticationFailed(
            f"AUTH method {method.name}: signature of {len(data)} bytes, expected {2 * n}"
        )
    der = utils.encode_dss_signature(
        int.from_bytes(data[:n], "big"), int.from_bytes(data[n:], "big")
    )
    public_key.verify(der, octets, ec.ECDSA(_hash(hash_id)))  # type: ignore[union-attr,call-arg]
    return f"ECDSA {_HASH_NAMES[hash_id]} (method {int(method)})"


# ------------------------------------------------------------------------------ IKEv1

_PREHASHED_BY_LEN = {20: hashes.SHA1, 32: hashes.SHA256, 48: hashes.SHA384, 64: hashes.SHA512}


def sign_v1(credential: LocalCredential | PrivateKey, hash_value: bytes) -> bytes:
    """SIG_I / SIG_R of IKEv1 (RFC 2409 §5.1) over HASH_I / HASH_R.

    RSA: PKCS#1 v1.5 type 1 padding of the hash itself, with no DigestInfo, as IKEv1
    implementations have always done. ECDSA: the hash signed as a precomputed digest,
    signature r||s (RFC 4754 §7).
    """
    key = credential.private_key if isinstance(credential, LocalCredential) else credential
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(hash_value, padding.PKCS1v15(), utils.NoDigestInfo())
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVE_CLASSIC:
        prehashed = _PREHASHED_BY_LEN.get(len(hash_value))
        if prehashed is None:
            raise ValueError(f"cannot sign a {len(hash_value)}-byte hash with ECDSA")
        der = key.sign(hash_value, ec.ECDSA(utils.Prehashed(prehashed())))
        return _raw_ecdsa(der, _CURVE_CLASSIC[key.curve.name][2])
    raise ValueError(f"{describe_key(key)} keys cannot sign IKEv1 messages")


def verify_v1(public_key: PublicKey, signature: bytes, hash_value: bytes) -> None:
    """Check an IKEv1 SIG payload against HASH_I / HASH_R; AuthenticationFailed if not."""
    signature = bytes(signature)
    if len(signature) > MAX_AUTH_DATA:
        raise AuthenticationFailed(f"SIG data of {len(signature)} bytes exceeds {MAX_AUTH_DATA}")
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, hash_value, padding.PKCS1v15(), utils.NoDigestInfo())
            return
        if (
            isinstance(public_key, ec.EllipticCurvePublicKey)
            and public_key.curve.name in _CURVE_CLASSIC
        ):
            n = _CURVE_CLASSIC[public_key.curve.name][2]
            prehashed = _PREHASHED_BY_LEN.get(len(hash_value))
            if prehashed is None or len(signature) != 2 * n:
                raise AuthenticationFailed(
                    f"IKEv1 ECDSA signature of {len(signature)} bytes does not fit"
                )
            der = utils.encode_dss_signature(
                int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
            )
            public_key.verify(der, hash_value, ec.ECDSA(utils.Prehashed(prehashed())))
            return
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise AuthenticationFailed(f"IKEv1 signature does not verify: {e or 'invalid'}") from None
    raise AuthenticationFailed(f"{_describe(public_key)} keys cannot verify IKEv1 signatures")
