"""``ikesrv load`` with certificates (one issued per client by a CA the generator holds)
and with EAP-MSCHAPv2 against ``ikesrv serve``: every client's identity reaches the
server, and the counts agree."""

from __future__ import annotations

import pytest

from tests.harness.ikesrv_server import IkesrvServer
from tests.harness.netns import GW_ADDR, PROTECTED_NET
from tests.harness.pki import GW_ID

pytestmark = pytest.mark.root

PASSWORD = "load-Secret-0"


def config(test_pki, remote_auth: str) -> str:
    gw = test_pki["gw-ecdsa"]
    extra = (f'ca_certificates = ["{test_pki.ca.cert_path}"]' if remote_auth == "pubkey"
             else 'send_cert = "always"')
    return f"""
[server]
addresses = ["{GW_ADDR}"]
cookie_threshold = 0
cookie_threshold_per_ip = 0
[metrics]
enabled = false
[kernel]
backend = "none"
[pools.rw]
addresses = "198.18.0.0/16"
[users]
backend = "file"
[users.file]
path = "users.toml"
[connections.rw]
version = 2
local_id = "{GW_ID}"
local_auth = "pubkey"
certificate = "{gw.cert_path}"
private_key = "{gw.key_path}"
remote_auth = "{remote_auth}"
{extra}
proposals = ["aes128-sha256-ecp256"]
esp_proposals = ["aes128-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


def users(n: int) -> str:
    # clear-text passwords serve every EAP method (see ikesrv/data/demo-users.toml)
    return "".join(f'[user{i}]\npassword = "{PASSWORD}"\n' for i in range(1, n + 1))


def test_issued_client_certificates(topology, cleanup, test_pki, load):
    server = IkesrvServer(topology.gw, cleanup, config(test_pki, "pubkey"),
                          {"users.toml": ""}).wait_ready(GW_ADDR)
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "10", "--concurrency", "4",
               "--auth", "pubkey", "--ca-cert", str(test_pki.ca.cert_path),
               "--ca-key", str(test_pki.ca.key_path), "--local-id", "c{n}@load.test",
               "--remote-id", GW_ID, "--proposal", "aes128-sha256-ecp256", "--timeout", "60")
    assert run.returncode == 0, (run.stderr, run.report and run.report["failure_examples"])
    assert run.report["established"] == 10
    sas = server.sas()
    assert sorted(sa["identity"] for sa in sas) == sorted(f"c{n}@load.test" for n in range(1, 11))


def test_eap_mschapv2_users(topology, cleanup, test_pki, load, psk_file):
    server = IkesrvServer(topology.gw, cleanup, config(test_pki, "eap-mschapv2"),
                          {"users.toml": users(10)}).wait_ready(GW_ADDR)
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "10", "--concurrency", "4",
               "--auth", "eap-mschapv2", "--user", "user{n}",
               "--password-file", psk_file(PASSWORD), "--local-id", "c{n}@load.test",
               "--proposal", "aes128-sha256-ecp256", "--timeout", "60")
    assert run.returncode == 0, (run.stderr, run.report and run.report["failure_examples"])
    assert run.report["established"] == 10
    sas = server.sas()
    assert len(sas) == 10
    assert sorted(sa.get("eap_identity") for sa in sas) == sorted(f"user{n}" for n in range(1, 11))


def test_eap_wrong_password(topology, cleanup, test_pki, load, psk_file):
    server = IkesrvServer(topology.gw, cleanup, config(test_pki, "eap-mschapv2"),
                          {"users.toml": users(5)}).wait_ready(GW_ADDR)
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "5", "--auth", "eap-mschapv2",
               "--password-file", psk_file("not-the-password"),
               "--proposal", "aes128-sha256-ecp256", "--timeout", "60")
    assert run.returncode == 1
    assert run.report["failed"] == 5
    assert list(run.report["failures"]) == ["AUTHENTICATION_FAILED"]
    assert server.sas() == []
