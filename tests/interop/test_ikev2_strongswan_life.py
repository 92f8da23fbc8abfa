"""strongSwan clients against ``ikesrv serve`` over an SA's whole life: certificates,
NAT-T, traffic selector narrowing, rekeys, liveness checks, deletes, retransmissions."""

from __future__ import annotations

import time

import pytest

from tests.harness import scenarios
from tests.harness.netns import (
    GW_ADDR,
    GW_NAT_SIDE_ADDR,
    NAT_PUBLIC_ADDR,
    PROTECTED_NET,
)
from tests.harness.proc import wait_until
from tests.harness.ikesrv_configs import gateway, psk_road_warrior
from tests.harness.strongswan import SwanctlConf

pytestmark = pytest.mark.root

BASE = gateway()
PSK_CONN = psk_road_warrior()


def psk_server(topology, ikesrv, extra: str = ""):
    return ikesrv(topology.gw, BASE + PSK_CONN + extra, {"rw.psk": scenarios.PSK + "\n"},
                  address=GW_ADDR)


@pytest.mark.parametrize("gw_cert,client_cert", [("gw", "client1"), ("gw-ecdsa", "client1-ecdsa"),
                                                 ("gw", "client1-ecdsa")])
def test_certificates_both_ways(topology, ikesrv, strongswan, test_pki, gw_cert, client_cert):
    config = BASE + f"""
[connections.rw-cert]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "pubkey"
remote_id = "*@example.test"
ca_certificates = ["ca.crt"]
proposals = ["aes256-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"]
esp_proposals = ["aes256-sha256", "aes256gcm16"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""
    files = {"gw.crt": test_pki[gw_cert].cert_pem, "gw.key": test_pki[gw_cert].key_pem,
             "ca.crt": test_pki.ca.cert_pem}
    server = ikesrv(topology.gw, config, files, address=GW_ADDR)
    conf = SwanctlConf("IKEv2 certificate client")
    conf.connection("gw", version=2, remote_addrs=GW_ADDR, vips="0.0.0.0",
                    proposals="aes256-sha256-ecp256",
                    local={"auth": "pubkey", "certs": f"{client_cert}.crt",
                           "id": scenarios.CLIENT_ID},
                    remote={"auth": "pubkey", "id": scenarios.GW_ID},
                    children={"net": {"remote_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}})
    client = strongswan(topology.cl, "cl", conf, cert=client_cert)
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert sa.remote_id == scenarios.GW_ID and sa.local_vips == ["192.0.2.129"]
    (ours,) = server.sas()
    assert ours["identity"] == scenarios.CLIENT_ID and ours["auth"] == "pubkey"


def test_nat_traversal_through_a_nat_namespace(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv)
    conf = scenarios.psk_client("aes256-sha256-modp2048", "aes256-sha256", remote=GW_NAT_SIDE_ADDR)
    # kernel-netlink: this client computes real NAT-D hashes (kernel-libipsec fakes them);
    # its CHILD SA install fails on this kernel without ESP, the IKE SA stays up
    client = strongswan(topology.cl, "cl", conf, kernel="netlink")
    client.initiate("net", "gw", timeout=20)
    (sa,) = client.list_sas()
    assert sa.established, client.log_text() + server.log_text()
    assert sa.nat_local and not sa.nat_remote and not sa.nat_fake  # our NAT-D hashes agree
    assert sa.remote_port == 4500  # it floated to the NAT-T port
    (ours,) = server.sas()
    host, port = ours["remote"].rsplit(":", 1)
    assert host == NAT_PUBLIC_ADDR and 20000 <= int(port) <= 29999
    assert ours["local"] == f"{GW_NAT_SIDE_ADDR}:4500" and ours["nat"] is True


def test_traffic_selectors_are_narrowed_to_policy(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv)
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16")
    conf.connections["gw"]["children"]["net"]["remote_ts"] = "0.0.0.0/0"
    client = strongswan(topology.cl, "cl", conf)
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text()
    (sa,) = client.list_sas()
    assert sa.child("net").remote_ts == [PROTECTED_NET]
    assert sa.child("net").local_ts == ["192.0.2.129/32"]
    (ours,) = server.sas()
    assert ours["child_sas"][0]["local_ts"] == [PROTECTED_NET]
    assert ours["child_sas"][0]["remote_ts"] == ["192.0.2.129/32"]


def test_rekeys_initiated_by_the_client(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv)
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16-ecp384",
                                rekey_time="6s", over_time="60s", rand_time="0s")
    conf.connections["gw"]["children"]["net"].update(rekey_time="3s", life_time="60s",
                                                     rand_time="0s")
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok
    (before,) = server.sas()
    wait_until(lambda: "rekeyed" in server.log_text() and "IKE SA" in server.log_text()
               and server.log_text().count("CHILD SA") >= 3, timeout=20, what="rekeys")
    client.wait_log(r"IKE_SA gw\[\d+\] rekeyed|rekeying IKE_SA", timeout=20)
    time.sleep(1)
    (after,) = server.sas()
    assert after["spi_i"] != before["spi_i"]
    assert after["virtual_ip"] == before["virtual_ip"] == "192.0.2.129"
    assert len(after["child_sas"]) == 1
    assert after["child_sas"][0]["spi_in"] != before["child_sas"][0]["spi_in"]

    seen = []

    def views_agree() -> bool:  # CHILD SAs rekey every 3 s: compare between two rekeys
        (ours,) = server.sas()
        (sa,) = client.list_sas()
        seen[:] = [ours, [(c.name, c.state, c.spi_in, c.spi_out) for c in sa.children],
                   sa.initiator_spi]
        installed = [c for c in sa.children if c.state == "INSTALLED"]
        return (sa.initiator_spi == ours["spi_i"] and len(ours["child_sas"]) == 1
                and len(installed) == 1
                and installed[0].spi_in == ours["child_sas"][0]["spi_out"])
    try:
        wait_until(views_agree, timeout=10, what="both sides to show the same SPIs")
    except TimeoutError:
        raise AssertionError(seen) from None


def test_liveness_checks_of_the_client_are_answered(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv, 'dpd_delay = "0s"\n')  # ours off: only the client's
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16", dpd_delay="2s")
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok
    client.wait_log(r"sending DPD request", timeout=15)
    client.wait_log(r"parsed INFORMATIONAL response \d+ \[ \]", timeout=15)
    (sa,) = client.list_sas()
    assert sa.established and len(server.sas()) == 1


def test_liveness_checks_by_ikesrv_and_a_dead_client(topology, ikesrv, strongswan):
    # a check goes out only after dpd_delay of silence (RFC 7296 §2.4), so the client
    # sends none of its own here: its checks would count as traffic and suppress ours
    server = psk_server(topology, ikesrv, 'dpd_delay = "2s"\nretransmit_timeout = "1s"\n'
                                          'retransmit_tries = 2\nretransmit_base = 1.5\n')
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16")
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok
    client.wait_log(r"parsed INFORMATIONAL request \d+ \[ \]", timeout=15)
    assert len(server.sas()) == 1
    client.process.stop(5, sig=9)  # the client vanishes without a Delete
    wait_until(lambda: server.sas() == [], timeout=30, what="ikesrv to declare the peer dead")
    assert "dead" in server.log_text()


def test_delete_from_the_client_and_from_the_server(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv)
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16")
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok
    assert client.terminate(ike="gw", timeout=10).ok
    wait_until(lambda: server.sas() == [], timeout=10, what="SA gone from ikesrv")
    # again, then the server goes away: SIGTERM sends the Delete
    assert client.initiate("net", "gw", timeout=20).ok
    assert len(server.sas()) == 1
    rc, took = server.stop()
    assert rc == 0 and took < 5
    wait_until(lambda: client.list_sas() == [], timeout=10, what="client SA deleted by ikesrv")
    assert "received DELETE for IKE_SA" in client.log_text()


def test_retransmitted_ike_auth_answered_from_cache(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv)
    # lose our first answer sent from the NAT-T port (the IKE_AUTH response): the client
    # retransmits its request and must get the same answer, processed once
    topology.gw.run(["iptables", "-I", "OUTPUT", "-p", "udp", "--sport", "4500", "-m",
                     "statistic", "--mode", "nth", "--every", "100000", "--packet", "0",
                     "-j", "DROP"])
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16")
    client = strongswan(topology.cl, "cl", conf)
    result = client.initiate("net", "gw", timeout=30)
    assert result.ok, result.log_text()
    assert "retransmit 1 of request with message ID 1" in client.log_text()
    assert server.log_text().count("established with") == 1
    assert len(server.sas()) == 1 and len(server.sas()[0]["child_sas"]) == 1


def test_rekeys_initiated_by_ikesrv(topology, ikesrv, strongswan):
    server = psk_server(topology, ikesrv, 'rekey = true\nchild_lifetime = "5s"\n'
                                          'ike_lifetime = "9s"\n')
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16-ecp384")
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok
    (before,) = server.sas()
    wait_until(lambda: any("IKE SA" in line and "rekeyed to" in line
                           for line in server.log_text().splitlines()),
               timeout=30, what="ikesrv's own IKE rekey")
    log = server.log_text()
    assert "CHILD SA" in log and "rekeyed to" in log
    ike_rekeys = [line for line in log.splitlines() if "IKE SA" in line and "rekeyed to" in line]
    assert ike_rekeys and all("(by us)" in line for line in ike_rekeys)
    client.wait_log(r"IKE_SA gw\[\d+\] rekeyed", timeout=10)
    (after,) = server.sas()
    assert after["spi_r"] != before["spi_r"] and after["virtual_ip"] == before["virtual_ip"]
    (sa,) = client.list_sas()
    assert sa.established and sa.responder_spi == after["spi_r"]
    assert "Traceback" not in log
