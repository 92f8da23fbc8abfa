"""A strongSwan client configured only from `ikesrv client-profile --platform linux-swanctl`
connects to `ikesrv serve` (network namespaces, tests/harness/netns.py).

The client's charon gets nothing but the profile: its swanctl.conf is the generated file
as written, its x509ca/ holds only the CA files the command wrote beside it (no test CA
installed by the harness). Where the profile by design leaves something out, the test
adds exactly that and says so: a user's password (the command never writes one) and a
client certificate with its key (the user's own credential).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import policy
from tests.harness.netns import FIRST_VIP, GW_ADDR, PROTECTED_NET
from tests.harness.scenarios import CLIENT_ID, GW_ID, PSK, V1_PSK

from .conftest import PROFILE_CONFIG
from .placeholders import PASSWORD, USER

pytestmark = pytest.mark.root


def server_files(test_pki) -> dict:
    from ikesrv.auth.eap.md4 import nt_hash
    from ikesrv.config import hash_password

    files = {"rw.psk": PSK + "\n", "v1.psk": V1_PSK + "\n",
             "users.toml": f'[{USER}]\npassword_hash = "{hash_password(PASSWORD, ln=10)}"\n'
                           f'nt_hash = "{nt_hash(PASSWORD).hex()}"\n'}
    for name in ("gw", "gw-ecdsa", "ca"):
        files[f"{name}.crt"] = test_pki[name].cert_pem
        files[f"{name}.key"] = test_pki[name].key_pem
    return files


def generate(server, out: Path, connection: str, *options: str) -> str:
    """`ikesrv client-profile` as an operator runs it; the profile's text."""
    result = subprocess.run(
        [sys.executable, "-m", "ikesrv", "client-profile", "-c", str(server.config_path),
         "--connection", connection, "--platform", "linux-swanctl", "--server", GW_ADDR,
         "-o", str(out), *options], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    return out.read_text()


def fill_password(profile: str, password: str) -> str:
    """Uncomment the user's secret the profile leaves for the user, with the password."""
    return re.sub(r"^(\s+)# (.*)$", lambda m: m.group(1) + m.group(2), profile,
                  flags=re.MULTILINE).replace("PASSWORD", password)


def client_from(cleanup, topology, profile: str, out: Path, extra_files=()):
    """charon in the client namespace holding only the profile and its CA files."""
    from tests.harness.strongswan import DEBIAN_CHARON, Charon

    policy.require_binary(DEBIAN_CHARON, "strongswan-charon")
    policy.require_binary("swanctl", "strongswan-swanctl")
    charon = Charon(topology.cl, "cl", cleanup)
    for companion in out.parent.glob(out.stem + "-ca*.crt"):
        charon.add_file("x509ca", companion)
    for subdir, src, name in extra_files:
        charon.add_file(subdir, src, name)
    charon.start(profile)
    charon.load()
    return charon


def connect(charon, stem: str, server):
    result = charon.initiate(child=stem, ike=stem, timeout=25)
    assert result.ok, result.log_text() + "\n" + server.log_text()
    (sa,) = charon.list_sas()
    return sa


def test_psk_client_from_profile(topology, ikesrv, test_pki, cleanup, tmp_path):
    server = ikesrv(topology.gw, PROFILE_CONFIG, server_files(test_pki), address=GW_ADDR)
    out = tmp_path / "ikesrv-rw-psk.conf"
    profile = generate(server, out, "rw-psk", "--include-psk")
    charon = client_from(cleanup, topology, profile, out)
    sa = connect(charon, "ikesrv-rw-psk", server)
    assert sa.remote_id == GW_ID and sa.local_vips == [FIRST_VIP]
    assert sa.child("ikesrv-rw-psk").remote_ts == [PROTECTED_NET]
    (ours,) = server.sas()
    assert ours["state"] == "established" and ours["connection"] == "rw-psk"
    assert ours["spi_i"] == sa.initiator_spi


def test_eap_client_from_profile_trusts_only_the_written_ca(topology, ikesrv, test_pki,
                                                            cleanup, tmp_path):
    server = ikesrv(topology.gw, PROFILE_CONFIG, server_files(test_pki), address=GW_ADDR)
    out = tmp_path / "ikesrv-rw-eap.conf"
    profile = generate(server, out, "rw-eap", "--user", USER, "--ca",
                       str(server.dir / "ca.crt"))
    assert (tmp_path / "ikesrv-rw-eap-ca.crt").exists()
    # the one thing the user adds: the password (never written by client-profile)
    charon = client_from(cleanup, topology, fill_password(profile, PASSWORD), out)
    sa = connect(charon, "ikesrv-rw-eap", server)
    assert sa.remote_id == GW_ID and sa.remote_eap_id == "" and sa.local_vips == [FIRST_VIP]
    (ours,) = server.sas()
    assert ours["eap_identity"] == USER and ours["connection"] == "rw-eap"


def test_eap_client_without_the_ca_file_refuses_the_server(topology, ikesrv, test_pki,
                                                           cleanup, tmp_path):
    """The CA file the command writes is what makes the client trust ikesrv: with another
    CA's certificate in its place, the same profile fails (the test above is not passing
    by accident)."""
    from tests.harness.pki import TestPki

    server = ikesrv(topology.gw, PROFILE_CONFIG, server_files(test_pki), address=GW_ADDR)
    out = tmp_path / "ikesrv-rw-eap.conf"
    profile = generate(server, out, "rw-eap", "--user", USER, "--ca",
                       str(server.dir / "ca.crt"))
    other = TestPki(tmp_path / "other", ca_name="Some Other CA")
    (tmp_path / "ikesrv-rw-eap-ca.crt").write_bytes(other.ca.cert_pem)
    charon = client_from(cleanup, topology, fill_password(profile, PASSWORD), out)
    result = charon.initiate(child="ikesrv-rw-eap", ike="ikesrv-rw-eap", timeout=25)
    assert not result.ok
    assert "no trusted" in result.log_text() or "constraint" in result.log_text(), \
        result.log_text()
    assert all(sa["state"] != "established" for sa in server.sas())


def test_certificate_client_from_profile(topology, ikesrv, test_pki, cleanup, tmp_path):
    server = ikesrv(topology.gw, PROFILE_CONFIG, server_files(test_pki), address=GW_ADDR)
    out = tmp_path / "ikesrv-rw-cert.conf"
    profile = generate(server, out, "rw-cert", "--client-id", CLIENT_ID)
    # the user's own credential, where the profile says it goes
    client = test_pki["client1"]
    extra = [("x509", client.cert_path, "ikesrv-rw-cert-client.crt"),
             ("private", client.key_path, "ikesrv-rw-cert-client.key")]
    charon = client_from(cleanup, topology, profile, out, extra)
    sa = connect(charon, "ikesrv-rw-cert", server)
    assert sa.local_id == CLIENT_ID and sa.remote_id == GW_ID
    (ours,) = server.sas()
    assert ours["identity"] == CLIENT_ID and ours["connection"] == "rw-cert"


def test_ikev1_xauth_client_from_profile(topology, ikesrv, test_pki, cleanup, tmp_path):
    server = ikesrv(topology.gw, PROFILE_CONFIG, server_files(test_pki), address=GW_ADDR)
    out = tmp_path / "ikesrv-v1-xauth.conf"
    profile = generate(server, out, "v1-xauth", "--user", USER, "--include-psk")
    charon = client_from(cleanup, topology, fill_password(profile, PASSWORD), out)
    sa = connect(charon, "ikesrv-v1-xauth", server)
    assert sa.version == 1 and sa.local_vips == [FIRST_VIP]
    (ours,) = server.sas()
    assert ours["version"] == 1 and ours["state"] == "established"
