"""A throw-away test PKI written with ``cryptography``: a root CA and the certificates
the interop tests need, with the extensions strongSwan checks.

Owns: ``TestPki`` (the CA, and ``issue()`` for more certificates: other key types, an
expired one, a wrong EKU, another CA ...) and ``make_pki(dir)`` which writes the standard
set as PEM files::

    ca.crt ca.key                RSA-2048 root "ikesrv Test Root CA"
    gw.crt gw.key                RSA-2048, CN/SAN gw.example.test + SAN IPs 198.51.100.1
                                 and 198.51.100.65, EKU serverAuth + ikeIntermediate
    gw-ecdsa.crt gw-ecdsa.key    the same for an ECDSA P-256 key
    client1.crt client1.key      RSA-2048, CN/SAN(email) client1@example.test, EKU clientAuth
    client1-ecdsa.crt/.key       the same for ECDSA P-256
    client1.p12                  client1 key + cert + CA, password "test" (for NSS / pluto)

strongSwan accepts a gateway certificate for an IKE peer only with a SAN matching the ID
it expects; serverAuth and ikeIntermediate (1.3.6.1.5.5.8.2.2) are what Windows and macOS
clients look for. Keys are unencrypted PKCS#8 PEM (swanctl loads them from private/).

Imports only the standard library and ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .netns import GW_ADDR, GW_NAT_SIDE_ADDR

IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.8.2.2")  # RFC 4945 §5.1.3.12
GW_ID = "gw.example.test"
CLIENT_ID = "client1@example.test"
P12_PASSWORD = "test"

KEY_TYPES = ("rsa", "rsa3072", "ecdsa-p256", "ecdsa-p384")


def generate_key(key_type: str):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(f"key type {key_type!r}: one of {KEY_TYPES}")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ikesrv-test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Issued:
    """A certificate and its private key, with the PEM files they were written to."""

    name: str
    cert: x509.Certificate
    key: object
    cert_path: Path | None = None
    key_path: Path | None = None

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def subject_dn(self) -> str:
        """The subject as strongSwan prints and matches it: ``C=XX, O=..., CN=...``."""
        return ", ".join(
            f"{a.rfc4514_attribute_name}={a.value}" for rdn in self.cert.subject.rdns for a in rdn
        )


class TestPki:
    """A root CA in ``directory`` that issues certificates on demand."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, directory: str | Path, ca_name: str = "ikesrv Test Root CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.now = datetime.datetime.now(datetime.UTC)
        key = generate_key("rsa")
        subject = _name(ca_name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(days=1))
            .not_valid_after(self.now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        self.ca = self._write(Issued("ca", cert, key))
        self.issued: dict[str, Issued] = {"ca": self.ca}

    def _write(self, item: Issued) -> Issued:
        item.cert_path = self.dir / f"{item.name}.crt"
        item.key_path = self.dir / f"{item.name}.key"
        item.cert_path.write_bytes(item.cert_pem)
        item.key_path.write_bytes(item.key_pem)
        item.key_path.chmod(0o600)
        return item

    def issue(
        self,
        name: str,
        cn: str,
        *,
        key_type: str = "rsa",
        san_dns: tuple[str, ...] = (),
        san_ip: tuple[str, ...] = (),
        san_email: tuple[str, ...] = (),
        eku: tuple[ObjectIdentifier, ...] = (ExtendedKeyUsageOID.SERVER_AUTH,),
        issuer: Issued | None = None,
        valid_days: int = 1825,
        not_before_days: int = -1,
        ca: bool = False,
    ) -> Issued:
        """Issue ``<name>.crt``/``<name>.key`` signed by ``issuer`` (default: the root).
        A negative ``valid_days`` with ``not_before_days`` makes an expired certificate."""
        issuer = issuer or self.ca
        key = generate_key(key_type)
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in san_dns]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in san_ip]
        sans += [x509.RFC822Name(e) for e in san_email]
        start = self.now + datetime.timedelta(days=not_before_days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        cert = builder.sign(issuer.key, hashes.SHA256())
        item = self._write(Issued(name, cert, key))
        self.issued[name] = item
        return item

    def write_p12(self, item: Issued, password: str = P12_PASSWORD) -> Path:
        """``<name>.p12`` with the key, the certificate and the root CA (for NSS/pluto)."""
        data = pkcs12.serialize_key_and_certificates(
            item.name.encode(),
            item.key,
            item.cert,
            [self.ca.cert],
            serialization.BestAvailableEncryption(password.encode()),
        )
        path = self.dir / f"{item.name}.p12"
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def __getitem__(self, name: str) -> Issued:
        return self.issued[name]


def make_pki(directory: str | Path) -> TestPki:
    """The standard set of the module docstring, written into ``directory``."""
    pki = TestPki(directory)
    gw_eku = (ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE)
    for name, key_type in (("gw", "rsa"), ("gw-ecdsa", "ecdsa-p256")):
        pki.issue(
            name,
            GW_ID,
            key_type=key_type,
            san_dns=(GW_ID,),
            san_ip=(GW_ADDR, GW_NAT_SIDE_ADDR),
            eku=gw_eku,
        )
    for name, key_type in (("client1", "rsa"), ("client1-ecdsa", "ecdsa-p256")):
        pki.issue(
            name,
            CLIENT_ID,
            key_type=key_type,
            san_email=(CLIENT_ID,),
            eku=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        )
    pki.write_p12(pki["client1"])
    return pki
