"""ikesrv.crypto.certs: loading, the local credential, path validation, identity binding.

Certificates are made here with cryptography. Independent checks: strongSwan's `pki`
(`--verify` for trust decisions, `--keyid` for the SubjectPublicKeyInfo hash CERTREQ
carries, RFC 7296 §3.7).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ikesrv.constants import CertEncoding, IdType
from ikesrv.crypto import certs
from ikesrv.errors import AuthenticationFailed
from ikesrv.identity import Identity

UTC = dt.UTC
# Every certificate below is valid 2020..2040 unless a test says otherwise; NOW lies within,
# and so does the real clock `pki --verify` uses.
NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2040, 1, 1, tzinfo=UTC)
NOW = dt.datetime(2030, 6, 1, tzinfo=UTC)
IPSEC_IKE = ObjectIdentifier("1.3.6.1.5.5.7.3.17")

_KEYS: dict[str, object] = {}


def key(kind: str, slot: int = 0):
    """Cached test keys: generating RSA keys is the slow part of these tests."""
    name = f"{kind}/{slot}"
    if name not in _KEYS:
        if kind == "rsa":
            _KEYS[name] = rsa.generate_private_key(65537, 2048)
        elif kind == "rsa1024":
            _KEYS[name] = rsa.generate_private_key(65537, 1024)
        elif kind == "p256":
            _KEYS[name] = ec.generate_private_key(ec.SECP256R1())
        elif kind == "p384":
            _KEYS[name] = ec.generate_private_key(ec.SECP384R1())
        elif kind == "p521":
            _KEYS[name] = ec.generate_private_key(ec.SECP521R1())
        elif kind == "ed25519":
            _KEYS[name] = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(kind)
    return _KEYS[name]


def name(cn: str, o: str = "ikelab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Issued:
    cert: x509.Certificate
    key: object

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def issue(
    subject: str | x509.Name,
    subject_key,
    issuer: Issued | None = None,
    *,
    ca: bool | None = False,
    path_length: int | None = None,
    key_usage: dict | None = None,
    eku: list | None = None,
    san: list | None = None,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    hash_alg: hashes.HashAlgorithm | None = None,
    extra: list | None = None,
    ski: bool = True,
    issuer_name: x509.Name | None = None,
) -> Issued:
    """A certificate; self-signed when ``issuer`` is None. ``ca=None`` omits basicConstraints."""
    subject_name = name(subject) if isinstance(subject, str) else subject
    signer_key = issuer.key if issuer else subject_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name or (issuer.cert.subject if issuer else subject_name))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length), critical=True
        )
    if key_usage is not None:
        flags = dict(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        flags.update(key_usage)
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
        )
    for ext, critical in extra or ():
        builder = builder.add_extension(ext, critical=critical)
    eddsa = isinstance(signer_key, ed25519.Ed25519PrivateKey)
    algorithm = None if eddsa else (hash_alg or hashes.SHA256())
    return Issued(builder.sign(signer_key, algorithm), subject_key)


CA_USAGE = {"key_cert_sign": True, "crl_sign": True}

_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")  # RFC 4055 §5
_SHA1_WITH_RSA = bytes.fromhex("300d06092a864886f70d0101050500")  # RFC 3279 §2.2.1


def resign_sha1(cert: Issued, rsa_issuer_key) -> bytes:
    """The certificate re-signed with sha1WithRSAEncryption (cryptography no longer signs
    with SHA-1): swap the equally long AlgorithmIdentifiers and the signature value."""
    der = cert.der
    assert der.count(_SHA256_WITH_RSA) == 2  # in tbsCertificate and in signatureAlgorithm
    tbs = cert.cert.tbs_certificate_bytes.replace(_SHA256_WITH_RSA, _SHA1_WITH_RSA)
    signature = rsa_issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    assert len(signature) == len(cert.cert.signature)
    return der.replace(_SHA256_WITH_RSA, _SHA1_WITH_RSA).replace(cert.cert.signature, signature)


@pytest.fixture(scope="module")
def pki_set():
    """Root CA -> intermediate CA -> client; root -> gateway; plus a second, untrusted root."""
    root = issue("ikelab Root CA", key("rsa", 1), ca=True, key_usage=CA_USAGE)
    inter = issue(
        "ikelab Users CA", key("p384", 1), root, ca=True, path_length=0, key_usage=CA_USAGE
    )
    client = issue(
        "carol",
        key("p256", 1),
        inter,
        key_usage={"digital_signature": True},
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        san=[x509.RFC822Name("carol@example.org")],
    )
    gw = issue(
        "gw.example.test",
        key("rsa", 2),
        root,
        key_usage={"digital_signature": True, "key_encipherment": True},
        eku=[ExtendedKeyUsageOID.SERVER_AUTH, ObjectIdentifier("1.3.6.1.5.5.8.2.2")],
        san=[x509.DNSName("gw.example.test"), x509.IPAddress(ipaddress.ip_address("198.51.100.1"))],
    )
    # Same name as the root, other keys: one RSA like the root, one ECDSA.
    other_root = issue("ikelab Root CA", key("rsa", 3), ca=True, key_usage=CA_USAGE)
    other_root_ec = issue("ikelab Root CA", key("p256", 9), ca=True, key_usage=CA_USAGE)
    return {
        "root": root,
        "inter": inter,
        "client": client,
        "gw": gw,
        "other_root": other_root,
        "other_root_ec": other_root_ec,
    }


def store(*anchors: Issued, **options) -> certs.TrustStore:
    return certs.TrustStore([a.cert for a in anchors], **options)


# ------------------------------------------------------------------------------ loading


def test_load_pem_der_and_bundles(tmp_path, pki_set):
    pem = tmp_path / "c.pem"
    pem.write_bytes(pki_set["gw"].pem)
    der = tmp_path / "c.der"
    der.write_bytes(pki_set["gw"].der)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki_set["root"].pem + pki_set["inter"].pem)
    assert certs.load_certificate(str(pem)) == pki_set["gw"].cert
    assert certs.load_certificate(str(der)) == pki_set["gw"].cert
    assert certs.load_certificates(str(bundle)) == [pki_set["root"].cert, pki_set["inter"].cert]
    with pytest.raises(certs.CredentialError, match="expected one certificate, found 2"):
        certs.load_certificate(str(bundle))


def _write_key(
    path,
    private_key,
    password: bytes | None = None,
    fmt=serialization.PrivateFormat.PKCS8,
    encoding=serialization.Encoding.PEM,
):
    enc = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(private_key.private_bytes(encoding, fmt, enc))
    return str(path)


@pytest.mark.parametrize(
    "kind,fmt,encoding",
    [
        ("rsa", serialization.PrivateFormat.PKCS8, serialization.Encoding.PEM),
        (
            "rsa",
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.Encoding.PEM,
        ),  # "RSA PRIVATE KEY"
        (
            "p256",
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.Encoding.PEM,
        ),  # SEC1 "EC PRIVATE KEY"
        ("p384", serialization.PrivateFormat.PKCS8, serialization.Encoding.DER),
        ("p521", serialization.PrivateFormat.PKCS8, serialization.Encoding.PEM),
        ("ed25519", serialization.PrivateFormat.PKCS8, serialization.Encoding.PEM),
    ],
)
def test_load_private_key_formats(tmp_path, kind, fmt, encoding):
    path = _write_key(tmp_path / "k", key(kind), fmt=fmt, encoding=encoding)
    loaded = certs.load_private_key(path)
    assert loaded.public_key() == key(kind).public_key()


def test_load_encrypted_private_key(tmp_path):
    path = _write_key(tmp_path / "k.pem", key("p256"), password=b"s3cret")
    assert certs.load_private_key(path, b"s3cret").public_key() == key("p256").public_key()
    with pytest.raises(certs.CredentialError, match="encrypted and needs a password"):
        certs.load_private_key(path)
    with pytest.raises(certs.CredentialError, match="password is wrong"):
        certs.load_private_key(path, b"nope")


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda: dsa.generate_private_key(2048), "not supported"),
        (lambda: ec.generate_private_key(ec.BrainpoolP256R1()), "brainpoolP256r1 is not supported"),
        (lambda: key("rsa1024"), "below the minimum of 2048"),
    ],
)
def test_load_private_key_refuses_unusable_keys(tmp_path, make, reason):
    path = _write_key(tmp_path / "k.pem", make())
    with pytest.raises(certs.CredentialError, match=reason):
        certs.load_private_key(path)


@pytest.mark.parametrize(
    "content,reason",
    [
        (None, "cannot read"),
        (b"garbage", "not an X.509 certificate"),
        (b"-----BEGIN CERTIFICATE-----\nxx\n", "not an X.509"),
    ],
)
def test_load_certificate_errors_name_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.crt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(certs.CredentialError, match=reason) as info:
        certs.load_certificate(str(path))
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


# -------------------------------------------------------------------- local credential


def test_local_credential(tmp_path, pki_set):
    gw = pki_set["gw"]
    cred = certs.LocalCredential(gw.cert, gw.key, (pki_set["root"].cert,))
    assert cred.chain_der() == (gw.der,)  # the self-signed root is never sent
    assert cred.ca_key_hashes() == {certs.spki_sha1(pki_set["root"].cert)}
    assert cred.key_description == "RSA-2048"
    assert "private_key" not in repr(cred) and "RSAPrivateKey" not in repr(cred)
    client = pki_set["client"]
    chained = certs.LocalCredential(
        client.cert, client.key, (pki_set["inter"].cert, pki_set["root"].cert)
    )
    assert chained.chain_der() == (client.der, pki_set["inter"].der)
    with pytest.raises(ValueError, match="does not match the certificate"):
        certs.LocalCredential(gw.cert, key("p256", 1))

    cert_path = tmp_path / "gw.crt"
    cert_path.write_bytes(gw.pem)
    key_path = _write_key(tmp_path / "gw.key", gw.key)
    loaded = certs.LocalCredential.load(str(cert_path), key_path)
    assert loaded.certificate == gw.cert
    wrong_key = _write_key(tmp_path / "other.key", key("rsa", 1))
    with pytest.raises(certs.CredentialError, match="does not match"):
        certs.LocalCredential.load(str(cert_path), wrong_key)


def test_local_credential_warnings(pki_set):
    gw = certs.LocalCredential(pki_set["gw"].cert, pki_set["gw"].key)
    warnings = gw.warnings(Identity.parse("gw.example.test"))
    assert not any("serverAuth" in w or "local_id" in w for w in warnings)
    assert any("ECDSA" in w for w in warnings)  # an RSA key costs more per SA
    client = certs.LocalCredential(pki_set["client"].cert, pki_set["client"].key)
    warnings = client.warnings(Identity.parse("vpn.example.org"))
    assert any("serverAuth" in w for w in warnings)
    assert any("local_id 'vpn.example.org' is not in the certificate" in w for w in warnings)


def test_describe_key():
    assert certs.describe_key(key("p384")) == "ECDSA P-384"
    assert certs.describe_key(key("p521").public_key()) == "ECDSA P-521"
    assert certs.describe_key(key("ed25519")) == "Ed25519"


# -------------------------------------------------------------------------- CERTREQ

pki = shutil.which("pki")


def _pki(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["pki", *args], input=stdin, capture_output=True)


@pytest.mark.skipif(pki is None, reason="strongSwan's pki tool is not installed")
@pytest.mark.parametrize("which", ["root", "inter", "gw"])
def test_spki_sha1_equals_strongswan_keyid(pki_set, which):
    """RFC 7296 §3.7: CERTREQ names a CA by the SHA-1 of its SubjectPublicKeyInfo, which
    strongSwan calls the keyid; the subjectPublicKey hash is its "subjkey"."""
    out = _pki("--keyid", "--type", "x509", stdin=pki_set[which].der).stdout.decode()
    hexes = {
        m.group(1): bytes.fromhex(m.group(2).replace(":", ""))
        for m in re.finditer(r"(subjkey|keyid) \(.*?\):\s+([0-9a-f:]+)", out)
    }
    assert hexes["keyid"] == certs.spki_sha1(pki_set[which].cert)
    assert Identity(IdType.ID_KEY_ID, hexes["subjkey"]) != Identity(
        IdType.ID_KEY_ID, hexes["keyid"]
    )
    assert certs.certificate_matches_identity(
        pki_set[which].cert, Identity(IdType.ID_KEY_ID, hexes["subjkey"])
    )
    assert certs.certificate_matches_identity(
        pki_set[which].cert, Identity(IdType.ID_KEY_ID, hexes["keyid"])
    )


def test_certreq_data_and_hashes(pki_set):
    root, inter = pki_set["root"].cert, pki_set["inter"].cert
    data = certs.certreq_data([root, inter])
    spki = root.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert data[:20] == hashlib.sha1(spki).digest() and len(data) == 40
    assert store(pki_set["root"], pki_set["inter"]).certreq_data() == data

    @dataclass
    class P:
        encoding: int
        data: bytes

    payloads = [
        P(
            CertEncoding.X509_CERTIFICATE_SIGNATURE, data + b"\x01\x02\x03"
        ),  # trailing fragment ignored
        P(CertEncoding.PGP, b"\xaa" * 20),  # other encodings ignored
    ]
    assert certs.certreq_hashes(payloads) == {data[:20], data[20:]}
    assert certs.certreq_hashes([]) == frozenset()


def test_select_by_certreq(pki_set):
    rsa_cred = certs.LocalCredential(pki_set["gw"].cert, pki_set["gw"].key, (pki_set["root"].cert,))
    ec_cred = certs.LocalCredential(
        pki_set["client"].cert, pki_set["client"].key, (pki_set["inter"].cert,)
    )
    creds = [rsa_cred, ec_cred]
    assert certs.select_by_certreq(creds, {certs.spki_sha1(pki_set["inter"].cert)}) is ec_cred
    assert certs.select_by_certreq(creds, {certs.spki_sha1(pki_set["root"].cert)}) is rsa_cred
    assert certs.select_by_certreq(creds, {b"\x00" * 20}) is None


def test_peer_certificates():
    @dataclass
    class P:
        encoding: int
        data: bytes

    x509_sig = CertEncoding.X509_CERTIFICATE_SIGNATURE
    assert certs.peer_certificates(
        [P(x509_sig, b"ee"), P(CertEncoding.CRL, b"crl"), P(x509_sig, b"ca")]
    ) == (b"ee", [b"ca"])
    with pytest.raises(AuthenticationFailed, match="no CERT payload"):
        certs.peer_certificates([])
    with pytest.raises(AuthenticationFailed, match="HASH_AND_URL_X509_CERT"):
        certs.peer_certificates([P(CertEncoding.HASH_AND_URL_X509_CERT, b"x")])


# --------------------------------------------------------------------- path validation


def test_valid_two_level_chain_any_order_with_junk(pki_set):
    trust = store(pki_set["root"])
    junk = issue("unrelated", key("p256", 3)).der
    leaf = trust.verify(
        pki_set["client"].der, [junk, pki_set["root"].der, pki_set["inter"].der], NOW
    )
    assert leaf == pki_set["client"].cert


def test_valid_direct_chain_and_naive_now(pki_set):
    trust = store(pki_set["root"])
    assert trust.verify(pki_set["gw"].der, [], NOW.replace(tzinfo=None)) == pki_set["gw"].cert


def test_intermediate_as_anchor(pki_set):
    # Trusting only the users CA suffices: the path may stop at any configured CA.
    assert store(pki_set["inter"]).verify(pki_set["client"].der, [], NOW) == pki_set["client"].cert


def test_configured_end_entity_is_trusted(pki_set):
    selfsigned = issue("pinned", key("p256", 4))
    assert store(selfsigned).verify(selfsigned.der, [], NOW) == selfsigned.cert


def _chain_case(pki_set, case: str):
    """(trust store, end entity DER, intermediates, expected reason or None) for one case."""
    root, inter = pki_set["root"], pki_set["inter"]
    ee_usage = {"digital_signature": True}
    if case == "ecdsa-p384-chain":
        r = issue("P-384 Root", key("p384", 5), ca=True, key_usage=CA_USAGE)
        return store(r), issue("c", key("p384", 6), r, key_usage=ee_usage).der, [], None
    if case == "ed25519-chain":
        r = issue("Ed Root", key("ed25519", 5), ca=True, key_usage=CA_USAGE)
        return store(r), issue("c", key("ed25519", 6), r).der, [], None
    if case == "p521-chain":
        r = issue(
            "P-521 Root", key("p521", 5), ca=True, key_usage=CA_USAGE, hash_alg=hashes.SHA512()
        )
        return store(r), issue("c", key("p521", 6), r, hash_alg=hashes.SHA512()).der, [], None
    if case == "expired":
        ee = issue("old", key("p256", 2), root, not_after=dt.datetime(2021, 1, 1, tzinfo=UTC))
        return store(root), ee.der, [], "expired 2021-01-01 00:00:00Z"
    if case == "not-yet-valid":
        ee = issue("future", key("p256", 2), root, not_before=dt.datetime(2035, 1, 1, tzinfo=UTC))
        return store(root), ee.der, [], "not valid before 2035-01-01"
    if case == "expired-intermediate":
        old_inter = issue(
            "ikelab Users CA",
            key("p384", 1),
            root,
            ca=True,
            key_usage=CA_USAGE,
            not_after=dt.datetime(2021, 1, 1, tzinfo=UTC),
        )
        return (
            store(root),
            pki_set["client"].der,
            [old_inter.der],
            "intermediate CA 'C=XX, O=ikelab, CN=ikelab Users CA' expired",
        )
    if case == "expired-anchor":
        old_root = issue(
            "Old Root",
            key("rsa", 1),
            ca=True,
            key_usage=CA_USAGE,
            not_after=dt.datetime(2021, 1, 1, tzinfo=UTC),
        )
        ee = issue("x", key("p256", 2), old_root)
        return store(old_root), ee.der, [], "CA certificate 'C=XX, O=ikelab, CN=Old Root' expired"
    if case == "unknown-issuer":
        return (
            store(pki_set["root"]),
            issue("x", key("p256", 2), issue("Stranger CA", key("p256", 7), ca=True)).der,
            [],
            "unknown issuer 'C=XX, O=ikelab, CN=Stranger CA'",
        )
    if case == "missing-intermediate":
        return (
            store(root),
            pki_set["client"].der,
            [],
            "unknown issuer 'C=XX, O=ikelab, CN=ikelab Users CA'",
        )
    if case == "wrong-issuer-key":
        # Issued by a CA with the configured CA's name but another key.
        return (
            store(pki_set["root"]),
            issue("x", key("p256", 2), pki_set["other_root"]).der,
            [],
            "bad signature on 'C=XX, O=ikelab, CN=x' by 'C=XX, O=ikelab, CN=ikelab Root CA'",
        )
    if case == "wrong-issuer-key-type":
        return (
            store(pki_set["root"]),
            issue("x", key("p256", 2), pki_set["other_root_ec"]).der,
            [],
            "cannot verify 'C=XX, O=ikelab, CN=x' with 'C=XX, O=ikelab, CN=ikelab Root CA'",
        )
    if case == "issuer-not-ca":
        fake = issue(
            "Fake CA", key("p256", 8), root, ca=False, key_usage={"digital_signature": True}
        )
        return (
            store(root),
            issue("x", key("p256", 2), fake).der,
            [fake.der],
            "issuer 'C=XX, O=ikelab, CN=Fake CA' is not a CA (basicConstraints cA is false)",
        )
    if case == "issuer-without-basic-constraints":
        fake = issue("Fake CA", key("p256", 8), root, ca=None)
        return (
            store(root),
            issue("x", key("p256", 2), fake).der,
            [fake.der],
            "is not a CA (no basicConstraints)",
        )
    if case == "issuer-without-keycertsign":
        weak = issue(
            "Weak CA", key("p256", 8), root, ca=True, key_usage={"digital_signature": True}
        )
        return (
            store(root),
            issue("x", key("p256", 2), weak).der,
            [weak.der],
            "key usage lacks keyCertSign",
        )
    if case == "path-length-exceeded":
        sub = issue(
            "Sub CA", key("p256", 8), inter, ca=True, key_usage=CA_USAGE
        )  # inter has pathlen 0
        return (
            store(root),
            issue("x", key("p256", 2), sub).der,
            [sub.der, inter.der],
            "path length constraint 0 of 'C=XX, O=ikelab, CN=ikelab Users CA' exceeded",
        )
    if case == "ee-key-usage":
        return (
            store(root),
            issue("x", key("p256", 2), root, key_usage={"key_encipherment": True}).der,
            [],
            "neither digitalSignature nor nonRepudiation",
        )
    if case == "ee-nonrepudiation-only":
        return (
            store(root),
            issue("x", key("p256", 2), root, key_usage={"content_commitment": True}).der,
            [],
            None,
        )
    if case == "ee-eku-codesigning":
        return (
            store(root),
            issue(
                "x",
                key("p256", 2),
                root,
                eku=[ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION],
            ).der,
            [],
            "extended key usage (codeSigning, emailProtection) allows no use for IKE",
        )
    if case == "ee-eku-ipsecike":
        return store(root), issue("x", key("p256", 2), root, eku=[IPSEC_IKE]).der, [], None
    if case == "ee-eku-mixed":
        return (
            store(root),
            issue(
                "x",
                key("p256", 2),
                root,
                eku=[ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.CLIENT_AUTH],
            ).der,
            [],
            None,
        )
    if case == "ee-no-eku":
        return store(root), issue("x", key("p256", 2), root, eku=None).der, [], None
    if case == "critical-name-constraints":
        nc = x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("example.org")], excluded_subtrees=None
        )
        sub = issue(
            "Constrained CA", key("p256", 8), root, ca=True, key_usage=CA_USAGE, extra=[(nc, True)]
        )
        return (
            store(root),
            issue("x", key("p256", 2), sub).der,
            [sub.der],
            "unsupported critical extension nameConstraints",
        )
    if case == "self-signed-unknown":
        s = issue("Self", key("p256", 2), ca=False)
        return store(root), s.der, [], "self-signed and not a configured CA"
    if case == "sha1-signed":
        return (
            store(root),
            resign_sha1(issue("x", key("p256", 2), root), root.key),
            [],
            "signed with SHA-1",
        )
    if case == "rsa1024-ee":
        return (
            store(root),
            issue("x", key("rsa1024"), root).der,
            [],
            "RSA key of 1024 bits is below the minimum of 2048",
        )
    raise ValueError(case)


CHAIN_CASES = [
    "ecdsa-p384-chain",
    "ed25519-chain",
    "p521-chain",
    "expired",
    "not-yet-valid",
    "expired-intermediate",
    "expired-anchor",
    "unknown-issuer",
    "missing-intermediate",
    "wrong-issuer-key",
    "wrong-issuer-key-type",
    "issuer-not-ca",
    "issuer-without-basic-constraints",
    "issuer-without-keycertsign",
    "path-length-exceeded",
    "ee-key-usage",
    "ee-nonrepudiation-only",
    "ee-eku-codesigning",
    "ee-eku-ipsecike",
    "ee-eku-mixed",
    "ee-no-eku",
    "critical-name-constraints",
    "self-signed-unknown",
    "sha1-signed",
    "rsa1024-ee",
]


@pytest.mark.parametrize("case", CHAIN_CASES)
def test_chain_cases(pki_set, case):
    trust, ee, intermediates, reason = _chain_case(pki_set, case)
    if reason is None:
        assert trust.verify(ee, intermediates, NOW) == x509.load_der_x509_certificate(ee)
    else:
        with pytest.raises(AuthenticationFailed) as info:
            trust.verify(ee, intermediates, NOW)
        assert reason in info.value.reason


def test_sha1_signatures_allowed_when_configured(pki_set):
    trust, ee, _, _ = _chain_case(pki_set, "sha1-signed")
    relaxed = certs.TrustStore(trust.anchors, allow_sha1_signatures=True)
    assert relaxed.verify(ee, [], NOW)


def test_min_rsa_bits_configurable(pki_set):
    trust, ee, _, _ = _chain_case(pki_set, "rsa1024-ee")
    assert certs.TrustStore(trust.anchors, min_rsa_bits=1024).verify(ee, [], NOW)


@pytest.mark.parametrize(
    "ee,intermediates,reason",
    [
        (b"garbage", [], "end-entity certificate is not a DER X.509 certificate"),
        (b"\x30\x03\x02\x01\x01", [], "not a DER X.509"),
        (b"\x00" * 40000, [], "exceeds"),
        (None, [b"junk"], "certificate 2 is not a DER X.509 certificate"),
        (None, [b"x"] * 9, "exceed the limit of 8"),
    ],
)
def test_garbage_peer_certificates(pki_set, ee, intermediates, reason):
    with pytest.raises(AuthenticationFailed, match=reason):
        store(pki_set["root"]).verify(
            ee if ee is not None else pki_set["gw"].der, intermediates, NOW
        )


def test_many_same_name_issuers_are_bounded(pki_set):
    # Eight bogus intermediates all named like the users CA: the search stays bounded and
    # reports the signature failure.
    bogus = [
        issue(
            "ikelab Users CA", key("p256", 20 + i), pki_set["root"], ca=True, key_usage=CA_USAGE
        ).der
        for i in range(8)
    ]
    with pytest.raises(AuthenticationFailed, match="bad signature"):
        store(pki_set["root"]).verify(pki_set["client"].der, bogus, NOW)


@pytest.mark.skipif(pki is None, reason="strongSwan's pki tool is not installed")
@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "unknown-issuer",
        "wrong-issuer-key",
        "issuer-not-ca",
        "ecdsa-p384-chain",
        "ee-no-eku",
        "expired-intermediate",
    ],
)
def test_trust_decision_agrees_with_strongswan_pki(tmp_path, pki_set, case):
    """`pki --verify` (strongSwan's own trust chain code) decides like we do."""
    trust, ee, intermediates, reason = _chain_case(pki_set, case)
    (tmp_path / "ee.der").write_bytes(ee)
    args = ["--verify", "--in", str(tmp_path / "ee.der")]
    # pki trusts every --cacert; give it the anchors plus the intermediates to chain through.
    for i, ca in enumerate(
        [a.public_bytes(serialization.Encoding.DER) for a in trust.anchors] + list(intermediates)
    ):
        (tmp_path / f"ca{i}.der").write_bytes(ca)
        args += ["--cacert", str(tmp_path / f"ca{i}.der")]
    ours_ok = reason is None
    theirs_ok = _pki(*args).returncode == 0
    assert theirs_ok is ours_ok


# ---------------------------------------------------------------------- identity binding


@pytest.fixture(scope="module")
def subject_cert():
    utf8_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ikelab"),
            x509.NameAttribute(NameOID.COMMON_NAME, "gw.example.test"),  # cryptography: UTF8String
        ]
    )
    return issue(
        utf8_subject,
        key("p256", 10),
        ca=False,
        san=[
            x509.DNSName("GW.example.test"),
            x509.RFC822Name("admin@Example.test"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::7")),
            x509.DirectoryName(name("alt")),
            x509.UniformResourceIdentifier("https://example.test/"),
        ],
    ).cert


IDENTITY_TABLE = [
    ("gw.example.test", True),  # SAN dNSName, case-insensitive
    ("other.example.test", False),
    ("admin@example.test", True),  # rfc822Name: domain case-insensitive
    ("Admin@example.test", False),  # local part exact
    ("192.0.2.7", True),
    ("192.0.2.8", False),
    ("2001:db8::7", True),
    ("C=XX, O=ikelab, CN=gw.example.test", True),  # subject; PrintableString vs UTF8String
    ("C=XX, O=IKELAB, CN=GW.example.test", True),
    ("C=XX, O=ikelab, CN=alt", True),  # SAN directoryName
    ("C=XX, CN=gw.example.test", False),
    ("fqdn:https://example.test/", False),  # URIs vouch for nothing
]


@pytest.mark.parametrize("text,expected", IDENTITY_TABLE)
def test_certificate_matches_identity(subject_cert, text, expected):
    assert certs.certificate_matches_identity(subject_cert, Identity.parse(text)) is expected


def test_common_name_is_not_matched_against_fqdn():
    # strongSwan does not match CN=vpn.example.org for ID_FQDN vpn.example.org: nor do we.
    cert = issue("vpn.example.org", key("p256", 11)).cert
    assert not certs.certificate_matches_identity(cert, Identity.parse("vpn.example.org"))
    assert certs.certificate_matches_identity(
        cert, Identity.parse("C=XX, O=ikelab, CN=vpn.example.org")
    )


def test_key_id_identity(subject_cert):
    ski = subject_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert certs.certificate_matches_identity(subject_cert, Identity(IdType.ID_KEY_ID, ski))
    assert certs.certificate_matches_identity(
        subject_cert, Identity(IdType.ID_KEY_ID, certs.spki_sha1(subject_cert))
    )
    assert not certs.certificate_matches_identity(
        subject_cert, Identity(IdType.ID_KEY_ID, b"\x00" * 20)
    )


def test_certificate_identities_and_subject(subject_cert):
    found = [str(i) for i in certs.certificate_identities(subject_cert)]
    assert found == [
        "C=XX, O=ikelab, CN=gw.example.test",
        "GW.example.test",
        "admin@Example.test",
        "192.0.2.7",
        "2001:db8::7",
        "C=XX, O=ikelab, CN=alt",
    ]
    assert certs.subject_identity(subject_cert).data == subject_cert.subject.public_bytes()
    empty = issue(x509.Name([]), key("p256", 12), san=[x509.DNSName("only.san")]).cert
    assert certs.subject_identity(empty) is None
    assert [str(i) for i in certs.certificate_identities(empty)] == ["only.san"]
