"""X.509 for IKE: credentials from files, the responder's own credential, trust in peer chains.

Owns:
  - ``load_certificates`` / ``load_certificate`` / ``load_private_key``: PEM or DER from the
    paths in the config; failures raise ``CredentialError`` (a ValueError) naming the file.
  - ``LocalCredential``: the certificate, private key and intermediates the responder
    authenticates with (CERT payloads, RFC 7296 §3.6).
  - ``TrustStore``: the configured CA certificates; ``verify`` builds and checks a path
    from a peer's end-entity certificate to one of them, and ``certreq_data`` gives the
    CERTREQ contents naming them (RFC 7296 §3.7).
  - ``certificate_identities`` / ``certificate_matches_identity``: whether a certificate
    vouches for the identity in IDi/IDr (RFC 4945 §3.1).

Path validation policy (RFC 5280 §6.1, profiled by RFC 4945 §5 for road-warrior CAs of
one to a few levels; no revocation checking here):
  - Every certificate in the path must be within its validity period at ``now``, the
    configured CA included (an expired anchor is a configuration problem worth naming).
  - Issuers other than the end entity must have basicConstraints cA=TRUE (a configured
    CA without the extension, an X.509 v1 root, is accepted), keyUsage keyCertSign when
    keyUsage is present, and their pathLenConstraint must not be exceeded.
  - Signatures are checked with cryptography (RSA PKCS#1 v1.5 and PSS, ECDSA, EdDSA).
    Certificates signed with SHA-1 are refused unless ``allow_sha1_signatures``; MD5
    never. RSA keys below ``min_rsa_bits`` (2048) or above 16384 bits, and curves other
    than P-256/384/521, are refused.
  - Critical extensions we do not process (name constraints, policy constraints, ...)
    make the certificate unacceptable, as RFC 5280 §4.2 requires.
  - End entity: keyUsage, when present, must include digitalSignature or nonRepudiation
    (RFC 4945 §5.1.3.2). ExtendedKeyUsage: absent is accepted (strongSwan requires no EKU
    of a client, and RFC 4809 says its absence must not fail IKE). When present it must
    list a purpose usable for IKE: ipsecIKE (1.3.6.1.5.5.7.3.17), anyExtendedKeyUsage,
    clientAuth, serverAuth, ikeIntermediate (1.3.6.1.5.5.8.2.2) or one of the deprecated
    ipsecEndSystem/ipsecTunnel/ipsecUser that older CAs still issue. RFC 4945 §5.1.3.12
    would accept only ipsecIKE or anyExtendedKeyUsage, which would refuse the clientAuth
    certificates Windows, macOS and Android enrolment profiles issue; refusing a list of
    only unrelated purposes (codeSigning, emailProtection, OCSPSigning, ...) follows RFC
    5280 §4.2.1.12: "the certificate MUST only be used for one of the purposes indicated".
    EKUs of CA certificates are not checked (RFC 5280 defines no EKU chaining).

Identity binding (as strongSwan's x509 has_subject does): ID_FQDN must equal a
subjectAltName dNSName, ID_RFC822_ADDR an rfc822Name, ID_IPV4/6_ADDR an iPAddress,
ID_DER_ASN1_DN the subject DN (or a directoryName), ID_KEY_ID the subjectKeyIdentifier
or the SHA-1 of the public key (SubjectPublicKeyInfo or the subjectPublicKey bits). The
subject's CN is never matched against an FQDN or e-mail identity: strongSwan does not,
and the SAN is where RFC 4945 §3.1 puts those names.

Must not import: ikesrv.wire (payloads are duck-typed: ``.encoding``, ``.data``), sockets,
clocks (``now`` is passed in). File I/O happens only in the ``load*`` functions.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, ObjectIdentifier

from ikesrv.constants import CertEncoding, IdType
from ikesrv.errors import AuthenticationFailed
from ikesrv.identity import Identity, format_dn

__all__ = [
    "PrivateKey",
    "PublicKey",
    "CredentialError",
    "load_certificates",
    "load_certificate",
    "load_private_key",
    "LocalCredential",
    "TrustStore",
    "spki_sha1",
    "certreq_data",
    "certreq_hashes",
    "select_by_certreq",
    "peer_certificates",
    "certificate_identities",
    "certificate_matches_identity",
    "subject_identity",
    "describe_key",
]

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384
#: Largest certificate we parse from a peer, and most certificates in one chain.
MAX_CERT_SIZE = 32 * 1024
MAX_INTERMEDIATES = 8
#: Most CA hashes we take from a peer's CERTREQ payloads.
MAX_CERTREQ_HASHES = 256
_SHA1_LEN = 20
_SUPPORTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
# Signature checks one path search may spend: bounds the work a peer's CERT list can cause.
_MAX_SIGNATURE_CHECKS = 24

_EKU_IPSEC_IKE = ObjectIdentifier("1.3.6.1.5.5.7.3.17")  # RFC 4945 §5.1.3.12
_EKU_IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.8.2.2")  # Microsoft's IKE intermediate
_EKU_USABLE_FOR_IKE = frozenset(
    {
        _EKU_IPSEC_IKE,
        _EKU_IKE_INTERMEDIATE,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.SERVER_AUTH,
        ObjectIdentifier("1.3.6.1.5.5.7.3.5"),  # ipsecEndSystem (deprecated, RFC 4945)
        ObjectIdentifier("1.3.6.1.5.5.7.3.6"),  # ipsecTunnel (deprecated)
        ObjectIdentifier("1.3.6.1.5.5.7.3.7"),  # ipsecUser (deprecated)
    }
)
# Extensions whose criticality we honour because we process (or they carry no constraint).
_PROCESSED_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        # Policies do not restrict a path unless a relying party asks for one (RFC 5280
        # §6.1.1: initial-explicit-policy false), which IKE does not.
        ExtensionOID.CERTIFICATE_POLICIES,
    }
)
# Names for reasons in logs.
_EXTENSION_NAMES = {
    ExtensionOID.NAME_CONSTRAINTS: "nameConstraints",
    ExtensionOID.POLICY_CONSTRAINTS: "policyConstraints",
    ExtensionOID.INHIBIT_ANY_POLICY: "inhibitAnyPolicy",
    ExtensionOID.POLICY_MAPPINGS: "policyMappings",
}
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


class CredentialError(ValueError):
    """A certificate or key file that cannot be used; the message names the file and why."""


# ------------------------------------------------------------------------------ loading


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CredentialError(f"{path}: cannot read: {e.strerror or e}") from None


def load_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate in a PEM file (a bundle is fine), or the one in a DER file."""
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise CredentialError(f"{path}: not an X.509 certificate in PEM or DER: {e}") from None
    return certs


def load_certificate(path: str) -> x509.Certificate:
    """The single certificate in a PEM or DER file."""
    certs = load_certificates(path)
    if len(certs) != 1:
        raise CredentialError(f"{path}: expected one certificate, found {len(certs)}")
    return certs[0]


def _key_problem(key: object, *, min_rsa_bits: int = MIN_RSA_BITS) -> str | None:
    """Why a public or private key is unusable for IKE authentication, or None."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < min_rsa_bits:
            return f"RSA key of {key.key_size} bits is below the minimum of {min_rsa_bits}"
        if key.key_size > MAX_RSA_BITS:
            return f"RSA key of {key.key_size} bits exceeds {MAX_RSA_BITS}"
        return None
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, _SUPPORTED_CURVES):
            return f"elliptic curve {key.curve.name} is not supported (P-256, P-384, P-521 are)"
        return None
    if isinstance(
        key,
        (
            ed25519.Ed25519PrivateKey,
            ed25519.Ed25519PublicKey,
            ed448.Ed448PrivateKey,
            ed448.Ed448PublicKey,
        ),
    ):
        return None
    return f"{type(key).__name__.lstrip('_')} keys are not supported"


def describe_key(key: PrivateKey | PublicKey) -> str:
    """A short name for logs and status: ``RSA-2048``, ``ECDSA P-256``, ``Ed25519``."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA-{key.key_size}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ECDSA P-" + {"secp256r1": "256", "secp384r1": "384", "secp521r1": "521"}.get(
            key.curve.name, key.curve.name
        )
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "Ed25519"
    if isinstance(key, (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
        return "Ed448"
    return type(key).__name__


def load_private_key(path: str, password: bytes | None = None) -> PrivateKey:
    """A private key (PKCS#8, PKCS#1 RSA or SEC1 EC; PEM or DER), checked usable for IKE."""
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError:
        # cryptography: TypeError when a password is missing for an encrypted key, or
        # given for a plain one.
        need = "is encrypted and needs a password" if password is None else "is not encrypted"
        raise CredentialError(f"{path}: the private key {need}") from None
    except UnsupportedAlgorithm as e:
        raise CredentialError(f"{path}: unsupported key type: {e}") from None
    except ValueError:
        raise CredentialError(
            f"{path}: not a private key (PEM/DER), or the password is wrong"
        ) from None
    problem = _key_problem(key)
    if problem:
        raise CredentialError(f"{path}: {problem}")
    return key  # type: ignore[return-value]


# ------------------------------------------------------------------ names and identities


def _dn(name: x509.Name) -> str:
    return format_dn(name.public_bytes())


def _subject(cert: x509.Certificate) -> str:
    try:
        return format_dn(cert.subject.public_bytes()) or "(empty subject)"
    except ValueError:
        return "(unparsable subject)"


def subject_identity(cert: x509.Certificate) -> Identity | None:
    """The subject DN as an ID_DER_ASN1_DN identity with the certificate's exact DER.

    What to send as IDr when ``local_id`` is a DN or unset: a peer that compares DER
    byte for byte then sees exactly the certificate's subject. None for an empty subject.
    """
    try:
        return Identity(IdType.ID_DER_ASN1_DN, cert.subject.public_bytes())
    except ValueError:
        return None


def spki_sha1(cert: x509.Certificate) -> bytes:
    """SHA-1 of the DER SubjectPublicKeyInfo: a CA's name in CERTREQ (RFC 7296 §3.7)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(spki).digest()


def _subject_public_key_sha1(cert: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2 method 1)."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        raw = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha1(raw).digest()


def certificate_identities(cert: x509.Certificate) -> list[Identity]:
    """The identities a certificate vouches for: subject DN, then each usable SAN entry."""
    found: list[Identity] = []
    subject = subject_identity(cert)
    if subject is not None:
        found.append(subject)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return found
    except ValueError:
        return found  # malformed extensions: chain validation reports it
    for name in san:
        try:
            if isinstance(name, x509.DNSName):
                found.append(Identity(IdType.ID_FQDN, name.value.encode("utf-8")))
            elif isinstance(name, x509.RFC822Name):
                found.append(Identity(IdType.ID_RFC822_ADDR, name.value.encode("utf-8")))
            elif isinstance(name, x509.IPAddress) and isinstance(
                name.value, (ipaddress.IPv4Address, ipaddress.IPv6Address)
            ):
                id_type = IdType.ID_IPV4_ADDR if name.value.version == 4 else IdType.ID_IPV6_ADDR
                found.append(Identity(id_type, name.value.packed))
            elif isinstance(name, x509.DirectoryName):
                found.append(Identity(IdType.ID_DER_ASN1_DN, name.value.public_bytes()))
        except ValueError:
            continue  # an entry that is no valid identity vouches for nothing
    return found


def certificate_matches_identity(cert: x509.Certificate, identity: Identity) -> bool:
    """Whether ``cert`` binds ``identity`` (see the module doc for the rules)."""
    if identity.id_type is IdType.ID_KEY_ID:
        data = identity.data
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            if ski == data:
                return True
        except (x509.ExtensionNotFound, ValueError):
            pass
        return data in (spki_sha1(cert), _subject_public_key_sha1(cert))
    return identity in certificate_identities(cert)


# --------------------------------------------------------------------- local credential


@dataclass(frozen=True)
class LocalCredential:
    """What the responder authenticates with: its certificate, private key, intermediates.

    ``chain`` lists the CA certificates between ``certificate`` and the root; it may end
    with the root itself, which is then used to answer CERTREQs but never sent. The key
    must match the certificate (ValueError otherwise). ``repr`` never shows the key.
    """

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    _chain_der: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    _ca_hashes: frozenset[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chain = tuple(self.chain)
        object.__setattr__(self, "chain", chain)
        problem = _key_problem(self.private_key)
        if problem:
            raise ValueError(problem)
        der = serialization.Encoding.DER
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if self.private_key.public_key().public_bytes(
            der, spki
        ) != self.certificate.public_key().public_bytes(der, spki):
            raise ValueError(
                f"the private key does not match the certificate '{_subject(self.certificate)}'"
            )
        sent = [self.certificate] + [c for c in chain if c.subject != c.issuer]
        object.__setattr__(self, "_chain_der", tuple(c.public_bytes(der) for c in sent))
        object.__setattr__(self, "_ca_hashes", frozenset(spki_sha1(c) for c in chain))

    @classmethod
    def load(
        cls,
        certificate_path: str,
        private_key_path: str,
        chain_paths: Iterable[str] = (),
        password: bytes | None = None,
    ) -> LocalCredential:
        """Load from files; CredentialError (a ValueError) names the file at fault."""
        certificate = load_certificate(certificate_path)
        key = load_private_key(private_key_path, password)
        chain = [c for path in chain_paths for c in load_certificates(path)]
        try:
            return cls(certificate, key, tuple(chain))
        except ValueError as e:
            raise CredentialError(f"{certificate_path}: {e}") from None

    @property
    def public_key(self) -> PublicKey:
        return self.certificate.public_key()  # type: ignore[return-value]

    @property
    def key_description(self) -> str:
        return describe_key(self.private_key)

    def chain_der(self) -> tuple[bytes, ...]:
        """DER of each CERT payload to send, end entity first (RFC 7296 §3.6), roots left out."""
        return self._chain_der

    def ca_key_hashes(self) -> frozenset[bytes]:
        """SHA-1 SPKI hashes of the chain's CAs: what a peer's CERTREQ may name."""
        return self._ca_hashes

    def identities(self) -> list[Identity]:
        return certificate_identities(self.certificate)

    def warnings(self, local_id: Identity | None = None) -> list[str]:
        """Deployment problems worth telling the operator (check-config), none fatal."""
        found = []
        cert = self.certificate
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if ExtendedKeyUsageOID.SERVER_AUTH not in eku:
                found.append(
                    "the certificate's ExtendedKeyUsage lacks serverAuth, which Windows and "
                    "Apple IKEv2 clients require of a gateway certificate"
                )
        except x509.ExtensionNotFound:
            found.append(
                "the certificate has no ExtendedKeyUsage; Windows and Apple clients want serverAuth"
            )
        except ValueError:
            found.append("the certificate's extensions are malformed")
        if local_id is not None and not certificate_matches_identity(cert, local_id):
            found.append(
                f"local_id '{local_id}' is not in the certificate (subjectAltName or subject); "
                "peers will refuse the certificate"
            )
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            found.append(
                f"{self.key_description} signing costs ~10x ECDSA P-256 per IKE SA; "
                "an ECDSA certificate is cheaper (but some Android builds accept only RSA)"
            )
        return found


# ------------------------------------------------------------------------ CERT / CERTREQ


def certreq_data(ca_certs: Iterable[x509.Certificate]) -> bytes:
    """Certification Authority field of a CERTREQ payload (RFC 7296 §3.7): the SHA-1 hash
    of each trust anchor's SubjectPublicKeyInfo, concatenated."""
    return b"".join(spki_sha1(c) for c in ca_certs)


def certreq_hashes(certreq_payloads: Iterable[object]) -> frozenset[bytes]:
    """The CA hashes named by a peer's CERTREQ payloads (objects with .encoding and .data).

    A CERTREQ is a hint (RFC 7296 §3.7), so what we cannot use is ignored rather than
    failing the exchange: other encodings, and a trailing fragment shorter than 20 bytes.
    """
    hashes: set[bytes] = set()
    for payload in certreq_payloads:
        if getattr(payload, "encoding", None) != CertEncoding.X509_CERTIFICATE_SIGNATURE:
            continue
        data = bytes(getattr(payload, "data", b""))
        for i in range(0, len(data) - _SHA1_LEN + 1, _SHA1_LEN):
            if len(hashes) >= MAX_CERTREQ_HASHES:
                return frozenset(hashes)
            hashes.add(data[i : i + _SHA1_LEN])
    return frozenset(hashes)


def select_by_certreq(
    credentials: Sequence[LocalCredential], requested: Iterable[bytes]
) -> LocalCredential | None:
    """The first credential whose chain holds a CA the peer asked for, else None.

    With several credentials (say an RSA and an ECDSA chain), this picks the one the
    peer can verify; None means the caller uses its default.
    """
    wanted = frozenset(requested)
    for credential in credentials:
        if credential.ca_key_hashes() & wanted:
            return credential
    return None


def peer_certificates(cert_payloads: Sequence[object]) -> tuple[bytes, list[bytes]]:
    """Split a peer's CERT payloads (objects with .encoding, .data) into (end entity, others).

    RFC 7296 §3.6: the first certificate holds the key that verifies AUTH. Only
    "X.509 Certificate - Signature" (4) is supported; other encodings of later payloads
    are skipped, of the first one refused.
    """
    if not cert_payloads:
        raise AuthenticationFailed("no CERT payload: the peer sent no certificate")
    first = cert_payloads[0]
    encoding = getattr(first, "encoding", None)
    if encoding != CertEncoding.X509_CERTIFICATE_SIGNATURE:
        try:
            name = CertEncoding(encoding).name  # type: ignore[arg-type]
        except ValueError:
            name = str(encoding)
        raise AuthenticationFailed(
            f"unsupported certificate encoding {name} in the first CERT payload"
        )
    others = [
        bytes(p.data)  # type: ignore[attr-defined]
        for p in cert_payloads[1:]
        if getattr(p, "encoding", None) == CertEncoding.X509_CERTIFICATE_SIGNATURE
    ]
    return bytes(first.data), others  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- trust


class _PathError(Exception):
    """A failed path candidate; ``depth`` ranks how far the search got before failing."""

    def __init__(self, reason: str, depth: int):
        super().__init__(reason)
        self.reason = reason
        self.depth = depth


def _parse_peer_cert(der: bytes, what: str) -> x509.Certificate:
    if len(der) > MAX_CERT_SIZE:
        raise AuthenticationFailed(f"{what} of {len(der)} bytes exceeds {MAX_CERT_SIZE}")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as e:
        raise AuthenticationFailed(f"{what} is not a DER X.509 certificate: {e}") from None


def _what(label: str, cert: x509.Certificate) -> str:
    return f"{label} '{_subject(cert)}'" if label else "certificate"


def _utc(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _verify_legacy_signature(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Check a SHA-1 signature, which cryptography's verify_directly_issued_by refuses.

    Same contract: ValueError if the names or key types do not fit, InvalidSignature.
    """
    if cert.issuer != issuer.subject:
        raise ValueError("issuer name does not match")
    key = issuer.public_key()
    params = cert.signature_algorithm_parameters
    if isinstance(key, rsa.RSAPublicKey) and isinstance(params, (padding.PKCS1v15, padding.PSS)):
        key.verify(
            cert.signature, cert.tbs_certificate_bytes, params, cert.signature_hash_algorithm
        )
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
        key.verify(cert.signature, cert.tbs_certificate_bytes, params)
    else:
        raise ValueError("signature algorithm does not match the issuer's key type")


class TrustStore:
    """The CA certificates trusted to vouch for peers (``ca_certificates`` in the config)."""

    def __init__(
        self,
        ca_certificates: Iterable[x509.Certificate],
        *,
        min_rsa_bits: int = MIN_RSA_BITS,
        allow_sha1_signatures: bool = False,
        max_intermediates: int = MAX_INTERMEDIATES,
    ):
        self.anchors: tuple[x509.Certificate, ...] = tuple(ca_certificates)
        self.min_rsa_bits = min_rsa_bits
        self.allow_sha1_signatures = allow_sha1_signatures
        self.max_intermediates = max_intermediates
        self._by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for anchor in self.anchors:
            self._by_subject.setdefault(anchor.subject, []).append(anchor)
        self._anchor_ders = frozenset(
            a.public_bytes(serialization.Encoding.DER) for a in self.anchors
        )
        self._certreq = certreq_data(self.anchors)

    @classmethod
    def load(cls, paths: Iterable[str], **options: object) -> TrustStore:
        """From PEM/DER files (bundles allowed); CredentialError names a bad file."""
        anchors = [c for p in paths for c in load_certificates(p)]
        return cls(anchors, **options)  # type: ignore[arg-type]

    def certreq_data(self) -> bytes:
        """CERTREQ contents naming every configured CA (RFC 7296 §3.7)."""
        return self._certreq

    def __repr__(self) -> str:
        return f"TrustStore({[_subject(a) for a in self.anchors]!r})"

    def verify(
        self, end_entity_der: bytes, intermediates: Sequence[bytes], now: datetime
    ) -> x509.Certificate:
        """Check a path from the peer's certificate to a configured CA; return the former.

        ``intermediates`` may come in any order and may contain unrelated or root
        certificates. Raises AuthenticationFailed naming the reason: expired or not yet
        valid, unknown issuer, bad signature, issuer not a CA, path length exceeded,
        unusable key usage / extended key usage, unsupported critical extension, weak key.
        """
        if len(intermediates) > self.max_intermediates:
            raise AuthenticationFailed(
                f"{len(intermediates)} intermediate certificates exceed the limit of "
                f"{self.max_intermediates}"
            )
        now = _utc(now)
        leaf = _parse_peer_cert(end_entity_der, "end-entity certificate")
        pool = [
            _parse_peer_cert(der, f"certificate {i + 2}") for i, der in enumerate(intermediates)
        ]
        try:
            self._check_validity(leaf, now, "", 0)
            self._check_key(leaf, "", 0)
            self._check_critical(leaf, "", 0)
            self._check_end_entity_usage(leaf)
            if leaf.public_bytes(serialization.Encoding.DER) in self._anchor_ders:
                return leaf  # the peer's own certificate is configured as trusted
            self._extend(leaf, [leaf], pool, now, [_MAX_SIGNATURE_CHECKS])
        except _PathError as e:
            raise AuthenticationFailed(f"certificate '{_subject(leaf)}': {e.reason}") from None
        return leaf

    # ---- path search

    def _extend(
        self,
        cert: x509.Certificate,
        path: list[x509.Certificate],
        pool: list[x509.Certificate],
        now: datetime,
        budget: list[int],
    ) -> list[x509.Certificate]:
        """Depth-first search for an issuer of ``cert``; ``budget`` caps signature checks."""
        depth = len(path)
        errors: list[_PathError] = []
        for anchor in self._by_subject.get(cert.issuer, ()):
            try:
                self._check_issuer(cert, anchor, path, now, budget, anchor=True)
                return path + [anchor]
            except _PathError as e:
                errors.append(e)
        if len(path) <= self.max_intermediates:
            for candidate in pool:
                if candidate.subject != cert.issuer or candidate in path:
                    continue
                try:
                    self._check_issuer(cert, candidate, path, now, budget, anchor=False)
                    return self._extend(candidate, path + [candidate], pool, now, budget)
                except _PathError as e:
                    errors.append(e)
        if errors:
            raise max(errors, key=lambda e: e.depth)
        if cert.issuer == cert.subject:
            if depth == 1:
                raise _PathError("self-signed and not a configured CA", depth)
            raise _PathError(f"root '{_subject(cert)}' is not a configured CA", depth)
        raise _PathError(f"unknown issuer '{_dn(cert.issuer)}' of '{_subject(cert)}'", depth)

    def _check_issuer(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        path: list[x509.Certificate],
        now: datetime,
        budget: list[int],
        *,
        anchor: bool,
    ) -> None:
        depth = len(path)
        what = "CA certificate" if anchor else "intermediate CA"
        self._check_signature(cert, issuer, depth, budget)
        self._check_validity(issuer, now, what, depth)
        if not anchor:
            self._check_key(issuer, what, depth)
        self._check_critical(issuer, what, depth)
        try:
            bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        except ValueError as e:
            raise _PathError(
                f"{what} '{_subject(issuer)}' has malformed extensions: {e}", depth
            ) from None
        if bc is None and not anchor:
            raise _PathError(
                f"issuer '{_subject(issuer)}' is not a CA (no basicConstraints)", depth
            )
        if bc is not None and not bc.ca:
            raise _PathError(
                f"issuer '{_subject(issuer)}' is not a CA (basicConstraints cA is false)", depth
            )
        # RFC 5280 §4.2.1.9: pathLenConstraint counts the non-self-issued intermediate
        # CA certificates that may follow this one; path[0] is the end entity.
        if bc is not None and bc.path_length is not None:
            below = sum(1 for c in path[1:] if c.subject != c.issuer)
            if below > bc.path_length:
                raise _PathError(
                    f"path length constraint {bc.path_length} of '{_subject(issuer)}' exceeded",
                    depth,
                )
        try:
            ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
            if not ku.key_cert_sign:
                raise _PathError(f"issuer '{_subject(issuer)}' key usage lacks keyCertSign", depth)
        except x509.ExtensionNotFound:
            pass

    def _check_signature(
        self, cert: x509.Certificate, issuer: x509.Certificate, depth: int, budget: list[int]
    ) -> None:
        if budget[0] <= 0:
            raise _PathError("too many candidate issuers to check", depth)
        budget[0] -= 1
        try:
            algorithm = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            raise _PathError(
                f"'{_subject(cert)}' uses an unsupported signature algorithm", depth
            ) from None
        if algorithm is not None and algorithm.name == "md5":
            raise _PathError(f"'{_subject(cert)}' is signed with MD5", depth)
        if algorithm is not None and algorithm.name == "sha1" and not self.allow_sha1_signatures:
            raise _PathError(
                f"'{_subject(cert)}' is signed with SHA-1, which is not allowed", depth
            )
        try:
            if algorithm is not None and algorithm.name == "sha1":
                _verify_legacy_signature(cert, issuer)
            else:
                cert.verify_directly_issued_by(issuer)
        except InvalidSignature:
            raise _PathError(
                f"bad signature on '{_subject(cert)}' by '{_subject(issuer)}'", depth + 1
            ) from None
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise _PathError(
                f"cannot verify '{_subject(cert)}' with '{_subject(issuer)}': {e}", depth
            ) from None

    # ---- single-certificate checks

    # The single-certificate checks name the certificate only when they fail (formatting a
    # DN costs more than the checks): ``label`` is "" for the end entity, which the caller's
    # message names already, else "intermediate CA" or "CA certificate".

    @staticmethod
    def _check_validity(cert: x509.Certificate, now: datetime, label: str, depth: int) -> None:
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        if now < not_before:
            raise _PathError(
                f"{_what(label, cert)} is not valid before {not_before:%Y-%m-%d %H:%M:%S}Z",
                depth + 1,
            )
        if now > not_after:
            raise _PathError(
                f"{_what(label, cert)} expired {not_after:%Y-%m-%d %H:%M:%S}Z", depth + 1
            )

    def _check_key(self, cert: x509.Certificate, label: str, depth: int) -> None:
        try:
            key = cert.public_key()
        except (ValueError, UnsupportedAlgorithm) as e:
            raise _PathError(
                f"{_what(label, cert)} has an unusable public key: {e}", depth
            ) from None
        problem = _key_problem(key, min_rsa_bits=self.min_rsa_bits)
        if problem:
            raise _PathError(f"{_what(label, cert)}: {problem}", depth)

    @staticmethod
    def _check_critical(cert: x509.Certificate, label: str, depth: int) -> None:
        try:
            extensions = cert.extensions
        except ValueError as e:
            raise _PathError(f"{_what(label, cert)} has malformed extensions: {e}", depth) from None
        for ext in extensions:
            if ext.critical and ext.oid not in _PROCESSED_EXTENSIONS:
                oid_name = _EXTENSION_NAMES.get(ext.oid, ext.oid.dotted_string)
                raise _PathError(
                    f"{_what(label, cert)} has an unsupported critical extension {oid_name}", depth
                )

    @staticmethod
    def _check_end_entity_usage(cert: x509.Certificate) -> None:
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not (ku.digital_signature or ku.content_commitment):
                raise _PathError("key usage allows neither digitalSignature nor nonRepudiation", 1)
        except x509.ExtensionNotFound:
            pass
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return
        if not set(eku) & _EKU_USABLE_FOR_IKE:
            names = ", ".join(_EKU_NAMES.get(o, o.dotted_string) for o in eku)
            raise _PathError(f"extended key usage ({names}) allows no use for IKE", 1)
