"""strongSwan's charon (swanctl) as an IKEv2 PSK client of ``ikesrv serve``, in network
namespaces; both sides' views are compared."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.harness import scenarios
from tests.harness.ikesrv_configs import gateway, psk_road_warrior
from tests.harness.netns import GW_ADDR, PROTECTED_NET

pytestmark = pytest.mark.root

CONFIG = gateway() + psk_road_warrior(
    proposals=("aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048", "aes128-sha256-x25519"),
    esp_proposals=("aes256gcm16-ecp384", "aes256-sha256-modp2048", "aes256gcm16", "aes256-sha256"))


def start(topology, ikesrv, config=CONFIG):
    return ikesrv(topology.gw, config, {"rw.psk": scenarios.PSK + "\n"}, address=GW_ADDR)


@pytest.mark.parametrize("ike,esp,encr,prf,group", [
    ("aes256gcm16-prfsha384-ecp384", "aes256gcm16-ecp384", "AES_GCM_16", "PRF_HMAC_SHA2_384",
     "ECP_384"),
    ("aes256-sha256-modp2048", "aes256-sha256-modp2048", "AES_CBC", "PRF_HMAC_SHA2_256",
     "MODP_2048"),
    ("aes128-sha256-x25519", "aes256gcm16", "AES_CBC", "PRF_HMAC_SHA2_256", "CURVE_25519"),
])
def test_psk_client_connects(topology, ikesrv, strongswan, ike, esp, encr, prf, group):
    server = start(topology, ikesrv)
    client = strongswan(topology.cl, "cl", scenarios.psk_client(ike, esp))
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert (sa.encr_alg, sa.prf_alg, sa.dh_group) == (encr, prf, group)
    assert sa.local_vips == ["192.0.2.129"]
    assert sa.remote_id == scenarios.GW_ID
    child = sa.child("net")
    assert child.local_ts == ["192.0.2.129/32"] and child.remote_ts == [PROTECTED_NET]
    # ikesrv's view of the same SA
    (ours,) = server.sas()
    assert ours["state"] == "established"
    assert ours["identity"] == scenarios.CLIENT_ID
    assert ours["virtual_ip"] == "192.0.2.129"
    assert ours["spi_i"] == sa.initiator_spi and ours["spi_r"] == sa.responder_spi
    assert len(ours["child_sas"]) == 1
    theirs = ours["child_sas"][0]
    assert theirs["spi_in"] == child.spi_out and theirs["spi_out"] == child.spi_in
    assert theirs["local_ts"] == [PROTECTED_NET] and theirs["remote_ts"] == ["192.0.2.129/32"]
    # what an operator types shows the same
    out = subprocess.run([sys.executable, "-m", "ikesrv", "status", "--json", "-c",
                          str(server.config_path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    (listed,) = [sa for w in json.loads(out.stdout)["workers"] for sa in w["ike_sas"]]
    assert listed["spi_i"] == sa.initiator_spi and listed["virtual_ip"] == "192.0.2.129"
    text = subprocess.run([sys.executable, "-m", "ikesrv", "status", "-c",
                           str(server.config_path)], capture_output=True, text=True, timeout=30)
    assert scenarios.CLIENT_ID in text.stdout and "192.0.2.129" in text.stdout


def test_wrong_psk_is_refused(topology, ikesrv, strongswan):
    server = start(topology, ikesrv)
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16",
                                psk="not-the-right-psk-0000")
    client = strongswan(topology.cl, "cl", conf)
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    assert "AUTHENTICATION_FAILED" in result.log_text()
    assert server.sas() == []
    assert "does not verify" in server.log_text()


def test_weak_proposal_refused_by_default(topology, ikesrv, strongswan):
    server = start(topology, ikesrv)
    client = strongswan(topology.cl, "cl", scenarios.psk_client("aes128-sha1-modp1024", "aes128-sha1"))
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    assert "NO_PROPOSAL_CHOSEN" in result.log_text()
    assert server.sas() == []
