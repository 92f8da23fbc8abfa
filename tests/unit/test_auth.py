"""ikesrv.crypto.auth: AUTH payloads (RFC 7296 §2.15, §3.8; RFC 7427; RFC 4754; RFC 8420).

Independent checks:
  - AlgorithmIdentifier DER against the bytes printed in RFC 7427 App. A (transcribed
    below), against the signatureAlgorithm field of certificates signed by cryptography
    and by strongSwan's `pki` (which charon's RFC 7427 code shares);
  - every signature we make is also verified with cryptography directly (ECDSA r||s
    re-encoded to DER first), and PSK AUTH is recomputed with hmac / CMAC here.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, padding, utils
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikesrv.constants import AuthMethod, HashAlgorithm, PrfId
from ikesrv.crypto import auth
from ikesrv.crypto.certs import LocalCredential
from ikesrv.errors import AuthenticationFailed
from tests.unit.test_certs import NOT_AFTER, NOT_BEFORE, key

H = HashAlgorithm
ALL_SHA2 = {H.SHA2_256, H.SHA2_384, H.SHA2_512}
OCTETS = b"IKE_SA_INIT request" + b"\x5a" * 32 + b"\x00" * 32  # stands in for SignedOctets

# ------------------------------------------------------------- AlgorithmIdentifier DER

# RFC 7427 Appendix A, the "Length / hex" dumps: A.1 (PKCS#1 1.5 RSA), A.3 (ECDSA),
# A.4.3 (RSASSA-PSS with SHA-256); EdDSA from RFC 8420 §2 / RFC 8410 §3 (no parameters).
RFC7427_APPENDIX_A = [
    ("rsa", H.SHA1, False, "300d06092a864886f70d0101050500"),  # A.1 sha1WithRSAEncryption
    ("rsa", H.SHA2_256, False, "300d06092a864886f70d01010b0500"),  # A.1 sha256WithRSAEncryption
    ("rsa", H.SHA2_384, False, "300d06092a864886f70d01010c0500"),  # A.1 sha384WithRSAEncryption
    ("rsa", H.SHA2_512, False, "300d06092a864886f70d01010d0500"),  # A.1 sha512WithRSAEncryption
    ("ec", H.SHA1, False, "300906072a8648ce3d0401"),  # A.3 ecdsa-with-sha1
    ("ec", H.SHA2_256, False, "300a06082a8648ce3d040302"),  # A.3 ecdsa-with-sha256
    ("ec", H.SHA2_384, False, "300a06082a8648ce3d040303"),  # A.3 ecdsa-with-sha384
    ("ec", H.SHA2_512, False, "300a06082a8648ce3d040304"),  # A.3 ecdsa-with-sha512
    (  # A.4.3 RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt 32, trailer default)
        "rsa",
        H.SHA2_256,
        True,
        "3041 0609 2a86 4886 f70d 0101 0a30 34a0 0f30 0d06 0960 8648 0165 0304 0201 0500"
        "a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203 0201 20",
    ),
    ("ed25519", H.IDENTITY, False, "300506032b6570"),  # RFC 8420: id-Ed25519
    ("ed448", H.IDENTITY, False, "300506032b6571"),  # RFC 8420: id-Ed448
]


@pytest.mark.parametrize("kind,hash_id,pss,hexdump", RFC7427_APPENDIX_A)
def test_algorithm_identifier_matches_rfc7427_appendix_a(kind, hash_id, pss, hexdump):
    assert auth.algorithm_identifier(kind, hash_id, pss=pss) == bytes.fromhex(
        hexdump.replace(" ", "")
    )


def _signature_algorithm_der(cert_der: bytes) -> bytes:
    """The raw signatureAlgorithm element of a DER certificate (RFC 5280 §4.1.1.2)."""

    def header(pos: int) -> tuple[int, int]:  # (content start, content length)
        first = cert_der[pos + 1]
        if first < 0x80:
            return pos + 2, first
        n = first & 0x7F
        return pos + 2 + n, int.from_bytes(cert_der[pos + 2 : pos + 2 + n], "big")

    start, _ = header(0)  # Certificate SEQUENCE
    tbs_start, tbs_len = header(start)
    alg_pos = tbs_start + tbs_len
    content, length = header(alg_pos)
    return cert_der[alg_pos : content + length]


def _self_signed(private_key, hash_alg, rsa_padding=None) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alg")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(private_key, hash_alg, rsa_padding=rsa_padding)
    )
    return cert.public_bytes(serialization.Encoding.DER)


CRYPTOGRAPHY_CASES = [
    ("rsa", H.SHA2_256, False),
    ("rsa", H.SHA2_384, False),
    ("rsa", H.SHA2_512, False),
    ("rsa", H.SHA2_256, True),
    ("rsa", H.SHA2_384, True),
    ("rsa", H.SHA2_512, True),
    ("p256", H.SHA2_256, False),
    ("p384", H.SHA2_384, False),
    ("p521", H.SHA2_512, False),
    ("ed25519", H.IDENTITY, False),
    ("ed448", H.IDENTITY, False),
]
_HASH_CLS = {
    H.SHA2_256: hashes.SHA256,
    H.SHA2_384: hashes.SHA384,
    H.SHA2_512: hashes.SHA512,
    H.SHA1: hashes.SHA1,
}


def _test_key(kind: str):
    if kind == "ed448":
        return _ED448
    return key(kind)


_ED448 = ed448.Ed448PrivateKey.generate()


@pytest.mark.parametrize("kind,hash_id,pss", CRYPTOGRAPHY_CASES)
def test_algorithm_identifier_matches_cryptography_certificates(kind, hash_id, pss):
    private_key = _test_key(kind)
    if hash_id is H.IDENTITY:
        der = _self_signed(private_key, None)
    elif pss:
        h = _HASH_CLS[hash_id]()
        der = _self_signed(
            private_key, h, padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)
        )
    else:
        der = _self_signed(private_key, _HASH_CLS[hash_id]())
    family = {"p256": "ec", "p384": "ec", "p521": "ec"}.get(kind, kind)
    assert auth.algorithm_identifier(family, hash_id, pss=pss) == _signature_algorithm_der(der)


pki = shutil.which("pki")


@pytest.mark.skipif(pki is None, reason="strongSwan's pki tool is not installed")
@pytest.mark.parametrize(
    "key_type,size,digest,rsa_padding,expected",
    [
        ("rsa", "2048", "sha256", "pss", ("rsa", H.SHA2_256, True)),
        ("rsa", "2048", "sha512", "pss", ("rsa", H.SHA2_512, True)),
        ("rsa", "2048", "sha384", "pkcs1", ("rsa", H.SHA2_384, False)),
        ("ecdsa", "384", "sha384", None, ("ec", H.SHA2_384, False)),
        ("ed25519", None, None, None, ("ed25519", H.IDENTITY, False)),
    ],
)
def test_algorithm_identifier_matches_strongswan_pki(
    tmp_path, key_type, size, digest, rsa_padding, expected
):
    gen = ["pki", "--gen", "--type", key_type] + (["--size", size] if size else [])
    (tmp_path / "k.der").write_bytes(subprocess.run(gen, capture_output=True, check=True).stdout)
    self_args = [
        "pki",
        "--self",
        "--in",
        str(tmp_path / "k.der"),
        "--type",
        key_type,
        "--dn",
        "CN=alg",
    ]
    if digest:
        self_args += ["--digest", digest]
    if rsa_padding:
        self_args += ["--rsa-padding", rsa_padding]
    cert = subprocess.run(self_args, capture_output=True, check=True).stdout
    kind, hash_id, pss = expected
    assert auth.algorithm_identifier(kind, hash_id, pss=pss) == _signature_algorithm_der(cert)


# --------------------------------------------------------------------- sign and verify

SIGN_TABLE = [
    # key, peer's SIGNATURE_HASH_ALGORITHMS, rsa_pss, expected method, expected scheme name
    ("rsa", None, False, AuthMethod.RSA_DIGITAL_SIGNATURE, "RSA PKCS#1 v1.5 SHA-1 (method 1)"),
    ("rsa", set(), False, AuthMethod.RSA_DIGITAL_SIGNATURE, "RSA PKCS#1 v1.5 SHA-1 (method 1)"),
    ("rsa", {H.SHA1}, False, AuthMethod.RSA_DIGITAL_SIGNATURE, "RSA PKCS#1 v1.5 SHA-1 (method 1)"),
    ("rsa", ALL_SHA2, False, AuthMethod.DIGITAL_SIGNATURE, "RSA PKCS#1 v1.5 SHA-256"),
    ("rsa", {H.SHA2_512}, False, AuthMethod.DIGITAL_SIGNATURE, "RSA PKCS#1 v1.5 SHA-512"),
    (
        "rsa",
        ALL_SHA2,
        True,
        AuthMethod.DIGITAL_SIGNATURE,
        "RSASSA-PSS SHA-256 (MGF1 SHA-256, salt 32)",
    ),
    (
        "rsa",
        {H.SHA2_384, H.SHA1},
        True,
        AuthMethod.DIGITAL_SIGNATURE,
        "RSASSA-PSS SHA-384 (MGF1 SHA-384, salt 48)",
    ),
    ("p256", None, False, AuthMethod.ECDSA_SHA256_P256, "ECDSA SHA-256 (method 9)"),
    ("p384", None, False, AuthMethod.ECDSA_SHA384_P384, "ECDSA SHA-384 (method 10)"),
    ("p521", None, False, AuthMethod.ECDSA_SHA512_P521, "ECDSA SHA-512 (method 11)"),
    ("p256", ALL_SHA2, False, AuthMethod.DIGITAL_SIGNATURE, "ECDSA SHA-256"),
    (
        "p384",
        ALL_SHA2,
        False,
        AuthMethod.DIGITAL_SIGNATURE,
        "ECDSA SHA-384",
    ),  # the curve's hash first
    ("p521", {H.SHA2_256}, False, AuthMethod.DIGITAL_SIGNATURE, "ECDSA SHA-256"),
    ("p256", {H.SHA1, H.IDENTITY}, False, AuthMethod.ECDSA_SHA256_P256, "ECDSA SHA-256 (method 9)"),
    ("ed25519", {H.IDENTITY}, False, AuthMethod.DIGITAL_SIGNATURE, "Ed25519"),
    ("ed448", {H.IDENTITY, H.SHA2_256}, False, AuthMethod.DIGITAL_SIGNATURE, "Ed448"),
]


@pytest.mark.parametrize("kind,peer,pss,method,scheme", SIGN_TABLE)
def test_sign_and_verify(kind, peer, pss, method, scheme):
    private_key = _test_key(kind)
    got_method, data = auth.sign(private_key, OCTETS, peer, rsa_pss=pss)
    assert got_method is method
    assert auth.verify(private_key.public_key(), got_method, data, OCTETS) == scheme
    with pytest.raises(AuthenticationFailed):
        auth.verify(private_key.public_key(), got_method, data, OCTETS + b"x")
    _verify_independently(private_key.public_key(), got_method, data, OCTETS)


def _verify_independently(public_key, method, data: bytes, octets: bytes) -> None:
    """The same check done with cryptography alone, from the RFCs' formats."""
    if method == AuthMethod.RSA_DIGITAL_SIGNATURE:  # RFC 7296 §3.8: PKCS#1 v1.5, SHA-1
        public_key.verify(data, octets, padding.PKCS1v15(), hashes.SHA1())
        return
    if method in (
        AuthMethod.ECDSA_SHA256_P256,
        AuthMethod.ECDSA_SHA384_P384,
        AuthMethod.ECDSA_SHA512_P521,
    ):
        # RFC 4754 §7: r || s, fixed width; re-encode as DER Ecdsa-Sig-Value for cryptography.
        n, h = {9: (32, hashes.SHA256()), 10: (48, hashes.SHA384()), 11: (66, hashes.SHA512())}[
            int(method)
        ]
        assert len(data) == 2 * n
        der = utils.encode_dss_signature(
            int.from_bytes(data[:n], "big"), int.from_bytes(data[n:], "big")
        )
        public_key.verify(der, octets, ec.ECDSA(h))
        return
    assert method == AuthMethod.DIGITAL_SIGNATURE
    length = data[0]  # RFC 7427 §3: ASN.1 length | AlgorithmIdentifier | signature
    identifier, signature = data[1 : 1 + length], data[1 + length :]
    matches = [
        (k, h, p)
        for k, h, p, hexdump in RFC7427_APPENDIX_A
        if bytes.fromhex(hexdump.replace(" ", "")) == identifier
    ]
    matches += [
        ("rsa", h, True)
        for h in (H.SHA2_384, H.SHA2_512)
        if auth.algorithm_identifier("rsa", h, pss=True) == identifier
    ]
    ((kind, hash_id, pss),) = matches
    if kind == "rsa":
        h = _HASH_CLS[hash_id]()
        pad = (
            padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
            if pss
            else padding.PKCS1v15()
        )
        public_key.verify(signature, octets, pad, h)
    elif kind == "ec":
        public_key.verify(signature, octets, ec.ECDSA(_HASH_CLS[hash_id]()))  # DER in method 14
    else:
        public_key.verify(signature, octets)


def test_sign_with_local_credential():
    from tests.unit.test_certs import issue

    issued = issue("gw", key("p256", 30))
    credential = LocalCredential(issued.cert, issued.key)
    method, data = auth.sign(credential, OCTETS, {H.SHA2_256})
    assert auth.verify(issued.cert.public_key(), method, data, OCTETS) == "ECDSA SHA-256"


def test_eddsa_needs_identity_hash():
    with pytest.raises(AuthenticationFailed, match="RFC 8420"):
        auth.sign(_test_key("ed25519"), OCTETS, ALL_SHA2)
    with pytest.raises(AuthenticationFailed, match="RFC 8420"):
        auth.sign(_test_key("ed25519"), OCTETS, None)


def _method14(identifier: bytes, signature: bytes) -> bytes:
    return bytes([len(identifier)]) + identifier + signature


def _pss_identifier(
    hash_der_oid: str, mgf_hash_der_oid: str, salt: int | None, trailer: int | None = None
) -> bytes:
    """A hand-built RSASSA-PSS AlgorithmIdentifier (RFC 4055 §3.1) with explicit fields."""

    def der(tag, content):
        return bytes([tag, len(content)]) + content

    def hash_alg(oid_hex):
        return der(0x30, bytes.fromhex(oid_hex) + b"\x05\x00")

    fields = der(0xA0, hash_alg(hash_der_oid)) + der(
        0xA1, der(0x30, bytes.fromhex("06092a864886f70d010108") + hash_alg(mgf_hash_der_oid))
    )
    if salt is not None:
        fields += der(0xA2, der(0x02, bytes([salt])))
    if trailer is not None:
        fields += der(0xA3, der(0x02, bytes([trailer])))
    return der(0x30, bytes.fromhex("06092a864886f70d01010a") + der(0x30, fields))


SHA256_OID = "0609608648016503040201"
SHA512_OID = "0609608648016503040203"
SHA1_OID = "06052b0e03021a"


def test_pss_parameters_are_honoured():
    private_key = key("rsa")
    public_key = private_key.public_key()
    # Salt 20 instead of 32, MGF1 with SHA-512: unusual but valid, and verified as stated.
    odd = _pss_identifier(SHA256_OID, SHA512_OID, 20, trailer=1)
    signature = private_key.sign(
        OCTETS, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=20), hashes.SHA256()
    )
    assert auth.verify(
        public_key, AuthMethod.DIGITAL_SIGNATURE, _method14(odd, signature), OCTETS
    ) == ("RSASSA-PSS SHA-256 (MGF1 SHA-512, salt 20)")
    # Claiming salt 32 for that signature fails.
    claimed = _pss_identifier(SHA256_OID, SHA512_OID, 32)
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        auth.verify(public_key, AuthMethod.DIGITAL_SIGNATURE, _method14(claimed, signature), OCTETS)
    # trailerField other than 1 is refused (RFC 4055 §3.1).
    with pytest.raises(AuthenticationFailed, match="trailerField"):
        auth.verify(
            public_key,
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(_pss_identifier(SHA256_OID, SHA256_OID, 32, trailer=2), signature),
            OCTETS,
        )


def test_pss_default_parameters_mean_sha1():
    # RFC 7427 App. A.4.1/A.4.2 (and erratum 4295): absent or empty parameters are
    # SHA-1, MGF1-SHA-1, salt 20. Refused by default, accepted when SHA-1 is allowed.
    private_key = key("rsa")
    signature = private_key.sign(
        OCTETS, padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA1()
    )
    for identifier in (
        bytes.fromhex("300b06092a864886f70d01010a"),
        bytes.fromhex("300d06092a864886f70d01010a3000"),
    ):
        data = _method14(identifier, signature)
        with pytest.raises(AuthenticationFailed, match="hash algorithm we do not accept"):
            auth.verify(private_key.public_key(), AuthMethod.DIGITAL_SIGNATURE, data, OCTETS)
        accepted = auth.DEFAULT_HASH_ALGORITHMS | {H.SHA1}
        assert "RSASSA-PSS SHA-1" in auth.verify(
            private_key.public_key(), AuthMethod.DIGITAL_SIGNATURE, data, OCTETS, accepted
        )


def test_sha1_in_method_14_only_when_accepted():
    private_key = key("p256")
    signature = private_key.sign(OCTETS, ec.ECDSA(hashes.SHA1()))
    data = _method14(auth.algorithm_identifier("ec", H.SHA1), signature)
    with pytest.raises(
        AuthenticationFailed, match="ECDSA SHA-1 uses a hash algorithm we do not accept"
    ):
        auth.verify(private_key.public_key(), AuthMethod.DIGITAL_SIGNATURE, data, OCTETS)
    assert (
        auth.verify(private_key.public_key(), AuthMethod.DIGITAL_SIGNATURE, data, OCTETS, {H.SHA1})
        == "ECDSA SHA-1"
    )
    # And our announcement includes SHA-1 only when asked to.
    assert H.SHA1 not in auth.supported_hash_algorithms()
    assert auth.supported_hash_algorithms(allow_sha1=True)[0] is H.SHA1


def test_pkcs1_without_null_parameters_is_accepted():
    # RFC 4055 §5: NULL parameters SHOULD be present, but receivers accept them absent.
    private_key = key("rsa")
    signature = private_key.sign(OCTETS, padding.PKCS1v15(), hashes.SHA256())
    data = _method14(bytes.fromhex("300b06092a864886f70d01010b"), signature)
    assert (
        auth.verify(private_key.public_key(), AuthMethod.DIGITAL_SIGNATURE, data, OCTETS)
        == "RSA PKCS#1 v1.5 SHA-256"
    )


def test_classic_rsa_with_sha256_digest_info_is_accepted():
    # Some peers put SHA-2 in method 1; the DigestInfo names the hash.
    private_key = key("rsa")
    data = private_key.sign(OCTETS, padding.PKCS1v15(), hashes.SHA256())
    assert auth.verify(
        private_key.public_key(), AuthMethod.RSA_DIGITAL_SIGNATURE, data, OCTETS
    ) == ("RSA PKCS#1 v1.5 SHA-256 (method 1)")


def test_classic_rsa_can_be_refused():
    private_key = key("rsa")
    method, data = auth.sign(private_key, OCTETS, None)
    with pytest.raises(AuthenticationFailed, match="not allowed by configuration"):
        auth.verify(private_key.public_key(), method, data, OCTETS, classic_rsa=False)


_VALID: dict = {}


def _valid(kind: str, peer=ALL_SHA2):
    """(public key, method, data) of a good signature; cached, as ECDSA ones are randomized."""
    cache_key = (kind, frozenset(peer) if peer is not None else None)
    if cache_key not in _VALID:
        private_key = _test_key(kind)
        _VALID[cache_key] = (private_key.public_key(), *auth.sign(private_key, OCTETS, peer))
    return _VALID[cache_key]


REJECT_TABLE = [
    # description, builder of (public_key, method, data), reason
    ("other key", lambda: (key("rsa", 1).public_key(), *_valid("rsa")[1:]), "does not verify"),
    (
        "RSA scheme, EC key",
        lambda: (key("p256").public_key(), *_valid("rsa")[1:]),
        "does not fit the certificate's ECDSA P-256 key",
    ),
    (
        "EC scheme, RSA key",
        lambda: (key("rsa").public_key(), *_valid("p256")[1:]),
        "does not fit the certificate's RSA-2048 key",
    ),
    (
        "method 9, P-384 key",
        lambda: (key("p384").public_key(), AuthMethod.ECDSA_SHA256_P256, _valid("p256", None)[2]),
        "does not fit",
    ),
    (
        "method 10, short",
        lambda: (key("p384").public_key(), AuthMethod.ECDSA_SHA384_P384, b"\x01" * 95),
        "expected 96",
    ),
    (
        "method 1, EC key",
        lambda: (key("p256").public_key(), AuthMethod.RSA_DIGITAL_SIGNATURE, b"\x01" * 256),
        "needs an RSA key",
    ),
    (
        "method 2",
        lambda: (
            key("p256").public_key(),
            AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE,
            b"\x01" * 32,
        ),
        "not a supported signature method",
    ),
    (
        "method 3 (DSS)",
        lambda: (key("p256").public_key(), 3, b"\x01" * 40),
        "DSS_DIGITAL_SIGNATURE is not a supported",
    ),
    ("method 200", lambda: (key("p256").public_key(), 200, b"\x01"), "AUTH method 200 is not"),
    (
        "empty",
        lambda: (key("p256").public_key(), AuthMethod.DIGITAL_SIGNATURE, b""),
        "empty AUTH data",
    ),
    (
        "ASN.1 length 0",
        lambda: (key("p256").public_key(), AuthMethod.DIGITAL_SIGNATURE, b"\x00\x30\x00"),
        "ASN.1 length 0",
    ),
    (
        "ASN.1 length too long",
        lambda: (key("p256").public_key(), AuthMethod.DIGITAL_SIGNATURE, b"\x40\x30\x00"),
        "does not fit",
    ),
    (
        "no signature",
        lambda: (
            key("p256").public_key(),
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(auth.algorithm_identifier("ec", H.SHA2_256), b""),
        ),
        "no signature value",
    ),
    (
        "unknown OID",
        lambda: (
            key("p256").public_key(),
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(bytes.fromhex("300a06082a8648ce3d040301"), b"\x30"),
        ),
        "unsupported signature algorithm",
    ),
    (
        "DSA OID",
        lambda: (
            key("p256").public_key(),
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(bytes.fromhex("300d06096086480165030403020500"), b"\x30"),
        ),
        "unsupported signature algorithm",
    ),
    (
        "params on ECDSA",
        lambda: (
            key("p256").public_key(),
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(bytes.fromhex("300c06082a8648ce3d0403020101"), b"\x30"),
        ),
        "unexpected signature algorithm parameters",
    ),
    (
        "trailing DER",
        lambda: (
            key("p256").public_key(),
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(bytes.fromhex("300a06082a8648ce3d040302") + b"\x00", b"\x30"),
        ),
        "AlgorithmIdentifier",
    ),
    (
        "huge",
        lambda: (key("p256").public_key(), AuthMethod.DIGITAL_SIGNATURE, b"\x0c" + b"\x00" * 5000),
        "exceeds",
    ),
    (
        "garbage DER ECDSA",
        lambda: (
            key("p256").public_key(),
            AuthMethod.DIGITAL_SIGNATURE,
            _method14(
                auth.algorithm_identifier("ec", H.SHA2_256), b"\x30\x06\x02\x01\x00\x02\x01\x00"
            ),
        ),
        "does not verify",
    ),
    (
        "zero r||s",
        lambda: (key("p256").public_key(), AuthMethod.ECDSA_SHA256_P256, b"\x00" * 64),
        "does not verify",
    ),
]


@pytest.mark.parametrize("description,build,reason", REJECT_TABLE, ids=[r[0] for r in REJECT_TABLE])
def test_verify_rejects(description, build, reason):
    public_key, method, data = build()
    with pytest.raises(AuthenticationFailed, match=reason):
        auth.verify(public_key, method, data, OCTETS)


_FUZZ_KEYS = ["rsa", "p256", "p384", "p521", "ed25519"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_FUZZ_KEYS),
    st.sampled_from([1, 2, 9, 10, 11, 14, 14, 14, 0, 255]),
    st.binary(max_size=600),
)
def test_fuzz_verify_raises_only_authentication_failed(kind, method, data):
    with pytest.raises(AuthenticationFailed):
        auth.verify(_test_key(kind).public_key(), method, data, OCTETS)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_FUZZ_KEYS), st.data())
def test_fuzz_mutated_method14(kind, data):
    peer = {H.IDENTITY} if kind == "ed25519" else ALL_SHA2
    public_key, method, valid = _valid(kind, peer)
    blob = bytearray(valid)
    # Mutate within the length byte and AlgorithmIdentifier most of the time, else anywhere.
    limit = blob[0] + 1 if data.draw(st.booleans()) else len(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, limit - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    mutated = bytes(blob[:cut]) if data.draw(st.booleans()) else bytes(blob)
    if mutated == valid:
        return
    try:
        auth.verify(public_key, method, mutated, OCTETS)
    except AuthenticationFailed:
        return
    # Only a mutation that left an equivalent encoding may still verify: the signature
    # bytes themselves must be intact.
    assert mutated.endswith(valid[valid[0] + 1 :])


# ------------------------------------------------------------ SIGNATURE_HASH_ALGORITHMS


def test_signature_hash_algorithms_notify_data():
    # RFC 7427 §4: a list of 16-bit Hash Algorithm Identifiers (RFC 7427 §7 / RFC 8420 §2).
    assert auth.signature_hash_algorithms_data() == bytes.fromhex("0002000300040005")
    assert auth.signature_hash_algorithms_data([H.SHA1, H.SHA2_256]) == bytes.fromhex("00010002")
    assert (
        auth.parse_signature_hash_algorithms(bytes.fromhex("0002000300040005"))
        == auth.DEFAULT_HASH_ALGORITHMS
    )
    # Unknown identifiers and an odd trailing byte are ignored.
    assert auth.parse_signature_hash_algorithms(
        bytes.fromhex("0001 0007 ffff 0004 00".replace(" ", ""))
    ) == {H.SHA1, H.SHA2_512}
    assert auth.parse_signature_hash_algorithms(b"") == frozenset()
    assert auth.parse_signature_hash_algorithms(b"\x00\x02" * 1000) == {H.SHA2_256}


# ------------------------------------------------------------------- octets and PSK


def _hmac_prf(prf_id: int):
    name = {
        PrfId.PRF_HMAC_SHA1: "sha1",
        PrfId.PRF_HMAC_SHA2_256: "sha256",
        PrfId.PRF_HMAC_SHA2_384: "sha384",
        PrfId.PRF_HMAC_SHA2_512: "sha512",
    }[prf_id]
    return lambda k, d: hmac.new(k, d, name).digest()


def _aes_cmac_prf_128(k: bytes, d: bytes) -> bytes:
    # RFC 4615 §3: a key that is not 16 bytes is first reduced with AES-CMAC(0^128, key).
    if len(k) != 16:
        c = cmac.CMAC(algorithms.AES(b"\x00" * 16))
        c.update(k)
        k = c.finalize()
    c = cmac.CMAC(algorithms.AES(k))
    c.update(d)
    return c.finalize()


PRF_CASES = [
    (PrfId.PRF_HMAC_SHA1, _hmac_prf(PrfId.PRF_HMAC_SHA1)),
    (PrfId.PRF_HMAC_SHA2_256, _hmac_prf(PrfId.PRF_HMAC_SHA2_256)),
    (PrfId.PRF_HMAC_SHA2_384, _hmac_prf(PrfId.PRF_HMAC_SHA2_384)),
    (PrfId.PRF_HMAC_SHA2_512, _hmac_prf(PrfId.PRF_HMAC_SHA2_512)),
    (PrfId.PRF_AES128_CMAC, _aes_cmac_prf_128),
]


@pytest.mark.parametrize("prf_id,reference", PRF_CASES, ids=[c[0].name for c in PRF_CASES])
def test_signed_octets_and_psk_auth_against_independent_prf(prf_id, reference):
    message = bytes(range(256)) * 2  # RealMessage1
    nonce_r = hashlib.sha256(b"Nr").digest()
    sk_pi = hashlib.sha512(b"SK_pi").digest()[:32]
    id_body = b"\x02\x00\x00\x00client.example.org"  # RFC 7296 §2.15: RestOfInitIDPayload
    octets = auth.signed_octets(message, nonce_r, prf_id, sk_pi, id_body)
    assert octets == message + nonce_r + reference(sk_pi, id_body)
    secret = b"a pre-shared key of some length"
    # RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
    expected = reference(reference(secret, b"Key Pad for IKEv2"), octets)
    assert auth.psk_auth(prf_id, secret, octets) == expected
    assert auth.verify_psk_auth(prf_id, secret, octets, expected) is True
    assert (
        auth.verify_psk_auth(prf_id, secret, octets, expected[:-1] + bytes([expected[-1] ^ 1]))
        is False
    )
    assert auth.verify_psk_auth(prf_id, secret, octets, expected[:-1]) is False
    assert auth.verify_psk_auth(prf_id, b"other", octets, expected) is False


def test_key_pad_is_17_octets_without_terminator():
    assert auth.KEY_PAD == b"Key Pad for IKEv2" and len(auth.KEY_PAD) == 17


# --------------------------------------------------------------------------- IKEv1


@pytest.mark.parametrize("kind", ["rsa", "p256", "p384", "p521"])
@pytest.mark.parametrize("hash_len", [20, 32, 48, 64])
def test_ikev1_signatures(kind, hash_len):
    private_key = key(kind)
    hash_i = hashlib.sha512(b"HASH_I").digest()[:hash_len]
    signature = auth.sign_v1(private_key, hash_i)
    auth.verify_v1(private_key.public_key(), signature, hash_i)
    with pytest.raises(AuthenticationFailed):
        auth.verify_v1(
            private_key.public_key(), signature, bytes([hash_i[0] ^ 1]) + hash_i[1:]
        )  # ECDSA truncates long hashes: change the front
    if kind == "rsa":
        # PKCS#1 v1.5 type 1 padding of HASH_I itself: no DigestInfo.
        assert (
            private_key.public_key().recover_data_from_signature(
                signature, padding.PKCS1v15(), None
            )
            == hash_i
        )
    else:
        n = len(signature) // 2
        der = utils.encode_dss_signature(
            int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
        )
        prehashed = {
            20: hashes.SHA1(),
            32: hashes.SHA256(),
            48: hashes.SHA384(),
            64: hashes.SHA512(),
        }[hash_len]
        private_key.public_key().verify(der, hash_i, ec.ECDSA(utils.Prehashed(prehashed)))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["rsa", "p256", "ed25519"]), st.binary(max_size=300))
def test_fuzz_verify_v1(kind, signature):
    with pytest.raises(AuthenticationFailed):
        auth.verify_v1(_test_key(kind).public_key(), signature, b"\x11" * 20)
