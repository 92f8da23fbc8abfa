"""Placeholder credentials for the example configurations of deploy/examples/.

The examples name files relative to their own directory (vpn.crt, group.psk, ...), as
an installed /etc/ikesrv/ikesrv.toml would. ``materialize()`` copies an example into a
temporary directory and writes, for every file it names, something of the right kind:
a certificate and its key issued by a throw-away CA (with the connection's local_id in
subjectAltName, the EKUs clients look for), CA certificates, random pre-shared keys and
passwords, a users file. Secret files are 0600, as check-config wants them.

Imports tests.harness.pki and the standard library.
"""

from __future__ import annotations

import secrets
import shutil
import tomllib
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.harness.pki import IKE_INTERMEDIATE, TestPki

USER = "alice"
PASSWORD = "alice-Secret-1"


def _secret(path: Path, text: str) -> None:
    path.write_text(text + "\n")
    path.chmod(0o600)


def users_file(path: Path) -> None:
    from ikesrv.auth.eap.md4 import nt_hash
    from ikesrv.config import hash_password

    _secret(path, f'[{USER}]\npassword_hash = "{hash_password(PASSWORD, ln=10)}"\n'
            f'nt_hash = "{nt_hash(PASSWORD).hex()}"')


def materialize(example: Path, dest: Path, pki: TestPki | None = None) -> Path:
    """``dest/<example name>`` with every file it refers to; returns the config's path."""
    dest.mkdir(parents=True, exist_ok=True)
    pki = pki or TestPki(dest / "pki")
    config = dest / example.name
    shutil.copyfile(example, config)
    data = tomllib.loads(example.read_text())
    ca_pem = pki.ca.cert_pem

    def ca(name: str) -> None:
        (dest / name).write_bytes(ca_pem)

    for conn in data.get("connections", {}).values():
        if "certificate" in conn:
            local = conn.get("local_id", "vpn.example.org")
            issued = pki.issue(f"srv-{secrets.token_hex(4)}", local, key_type="ecdsa-p256",
                               san_dns=(local,),
                               eku=(ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE))
            (dest / conn["certificate"]).write_bytes(issued.cert_pem)
            key = dest / conn["private_key"]
            key.write_bytes(issued.key_pem)
            key.chmod(0o600)
        for name in conn.get("ca_certificates", []):
            ca(name)
        if "psk_file" in conn:
            _secret(dest / conn["psk_file"], secrets.token_urlsafe(32))
    users = data.get("users", {})
    if "file" in users:
        users_file(dest / users["file"]["path"])
    ldap = users.get("ldap", {})
    if "ca_file" in ldap:
        ca(ldap["ca_file"])
    if "bind_password_file" in ldap:
        _secret(dest / ldap["bind_password_file"], secrets.token_urlsafe(24))
    return config
