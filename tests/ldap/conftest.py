"""Fixtures for the LDAP backend tests: a real slapd on a free port of the host (so
that parallel runs never collide), optionally with TLS (StartTLS on ldap://, and LDAPS on
a second port) from a certificate of the test PKI."""

from __future__ import annotations

import socket

import pytest

from tests.harness import policy
from tests.harness import slapd as slapd_mod


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TlsSlapd(slapd_mod.Slapd):
    """The harness slapd with a server certificate: StartTLS on its ldap:// port and
    LDAPS on ``ldaps_port``."""

    def __init__(self, *args, cert, ca_path, ldaps_port: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.cert, self.ca_path, self.ldaps_port = cert, ca_path, ldaps_port

    @property
    def uri(self) -> str:
        # slapd -h and ldapsearch -H both take a list; the readiness check uses the first
        return f"ldap://{self.host}:{self.port}/ ldaps://{self.host}:{self.ldaps_port}/"

    def _prepare(self) -> None:
        super()._prepare()
        tls = (f"TLSCACertificateFile {self.ca_path}\n"
               f"TLSCertificateFile {self.cert.cert_path}\n"
               f"TLSCertificateKeyFile {self.cert.key_path}\n\n")
        text = self.conf_path.read_text()
        self.conf_path.write_text(text.replace("database mdb\n", tls + "database mdb\n", 1))


def _require():
    policy.require_root()
    policy.require_binary("slapd", "slapd")
    policy.require_binary("slapadd", "slapd")
    policy.require_binary("ldapsearch", "ldap-utils")
    schema = slapd_mod.samba_schema()
    if schema is None:
        policy.unavailable("samba.schema unavailable (apt-get download samba failed)")
    return schema


@pytest.fixture
def directory(cleanup):
    """A started slapd on 127.0.0.1:<free port> with the harness's test directory."""
    schema = _require()
    return slapd_mod.Slapd(cleanup, port=free_port(), samba_schema=schema).start()


@pytest.fixture(scope="module")
def ldap_pki(tmp_path_factory):
    from tests.harness.pki import TestPki
    pki = TestPki(tmp_path_factory.mktemp("ldap-pki"), ca_name="ikesrv LDAP Test CA")
    pki.issue("ldap", "127.0.0.1", san_ip=("127.0.0.1",), san_dns=("ldap.example.test",))
    other = TestPki(tmp_path_factory.mktemp("other-pki"), ca_name="Some Other CA")
    pki.other_ca = other.ca
    return pki


@pytest.fixture
def tls_directory(cleanup, ldap_pki):
    schema = _require()
    return TlsSlapd(cleanup, port=free_port(), samba_schema=schema, cert=ldap_pki["ldap"],
                    ca_path=ldap_pki.ca.cert_path, ldaps_port=free_port()).start()
