"""IKE authentication (ikesrv/crypto/auth.py): µs per AUTH payload signed and verified.

auth.py is Python over `cryptography` (no Cython module to compare with), so this prints
absolute figures per key type and scheme, the cost of checking a client's certificate
against the configured CA (parse + path checks + one signature), and the ratio DESIGN §9
asks operators to weigh: signing with an RSA-2048 gateway certificate against an ECDSA
P-256 one, which the responder pays once per IKE SA. SignedOctets stand in for a typical
IKE_SA_INIT response (~450 octets) plus nonce and MACed ID.

``python -m bench auth [--quick]``
"""

from __future__ import annotations

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from bench.timing import ns_per_call
from ikesrv.constants import HashAlgorithm, PrfId
from ikesrv.crypto import auth
from ikesrv.crypto.certs import TrustStore

OCTETS = os.urandom(450) + os.urandom(32) + os.urandom(32)
SHA2 = {HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512}


def _line(name: str, first_ns: float | None, second_ns: float | None) -> None:
    cells = [
        f"{ns / 1000:>8.1f} µs" if ns is not None else " " * 11 for ns in (first_ns, second_ns)
    ]
    print(f"{name:<44} {cells[0]} {cells[1]}")


def _chain_ns(ca_key, client_key, min_time: float) -> float:
    """TrustStore.verify of a client certificate issued directly by the configured CA."""
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)

    def cert(subject: str, public_key, signer, issuer: str, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signer, hashes.SHA256())
        )

    root = cert("CA", ca_key.public_key(), ca_key, "CA", True)
    client = cert("client", client_key.public_key(), ca_key, "CA", False).public_bytes(
        serialization.Encoding.DER
    )
    trust = TrustStore([root])
    return ns_per_call(lambda: trust.verify(client, [], now), min_time=min_time)


def main(argv: list[str]) -> int:
    min_time = 0.05 if "--quick" in argv else 0.3
    rsa_key = rsa.generate_private_key(65537, 2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    cases = [
        # name, key, peer's SIGNATURE_HASH_ALGORITHMS, RSASSA-PSS
        ("RSA-2048 PKCS#1 v1.5 SHA-256 (method 14)", rsa_key, SHA2, False),
        ("RSA-2048 PKCS#1 v1.5 SHA-1 (method 1)", rsa_key, None, False),
        ("RSA-2048 RSASSA-PSS SHA-256 (method 14)", rsa_key, SHA2, True),
        ("ECDSA P-256 SHA-256 (method 14)", p256, SHA2, False),
        ("ECDSA P-256 SHA-256 (method 9)", p256, None, False),
        ("ECDSA P-384 SHA-384 (method 14)", p384, SHA2, False),
    ]
    print("\n== AUTH payload signatures (µs per operation, best of 5)")
    print(f"{'scheme':<44} {'sign':>11} {'verify':>11}")
    signing: dict[str, float] = {}
    for name, private_key, peer, pss in cases:
        method, data = auth.sign(private_key, OCTETS, peer, rsa_pss=pss)

        def sign(k=private_key, p=peer, pss=pss) -> object:
            return auth.sign(k, OCTETS, p, rsa_pss=pss)

        public_key = private_key.public_key()

        def verify(k=public_key, m=method, d=data) -> object:
            return auth.verify(k, m, d, OCTETS)

        signing[name] = ns_per_call(sign, min_time=min_time)
        _line(name, signing[name], ns_per_call(verify, min_time=min_time))

    prf_id = PrfId.PRF_HMAC_SHA2_256
    secret = os.urandom(32)
    psk = auth.psk_auth(prf_id, secret, OCTETS)
    sk_p = os.urandom(32)
    id_body = b"\x02\x00\x00\x00vpn.example.org"
    _line(
        "PSK AUTH, PRF-HMAC-SHA2-256 (method 2)",
        ns_per_call(lambda: auth.psk_auth(prf_id, secret, OCTETS), min_time=min_time),
        ns_per_call(lambda: auth.verify_psk_auth(prf_id, secret, OCTETS, psk), min_time=min_time),
    )
    message, nonce = OCTETS[:450], OCTETS[450:482]
    _line(
        "SignedOctets (prf of the ID body)",
        ns_per_call(
            lambda: auth.signed_octets(message, nonce, prf_id, sk_p, id_body), min_time=min_time
        ),
        None,
    )
    _line("chain check, RSA-2048 CA -> P-256 client", None, _chain_ns(rsa_key, p256, min_time))
    _line("chain check, P-256 CA -> P-256 client", None, _chain_ns(p256, p256, min_time))

    rsa_ns = signing["RSA-2048 PKCS#1 v1.5 SHA-256 (method 14)"]
    ecdsa_ns = signing["ECDSA P-256 SHA-256 (method 14)"]
    print(
        f"\nsigning per IKE SA: RSA-2048 {rsa_ns / 1000:.1f} µs / ECDSA P-256 "
        f"{ecdsa_ns / 1000:.1f} µs = {rsa_ns / ecdsa_ns:.1f}x "
        "(DESIGN §9: prefer ECDSA gateway certificates)"
    )
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
