"""The other peers on their own: pluto answers whack and reaches a charon responder,
ike-scan probes a charon responder, slapd answers searches and binds, Prometheus scrapes
a static target in the namespace."""

from __future__ import annotations

import pytest

from tests.harness import ike_scan as ike_scan_mod
from tests.harness import netns, scenarios
from tests.harness import slapd as slapd_mod
from tests.harness.prometheus import StaticTarget

pytestmark = pytest.mark.root


def test_pluto_starts_and_initiates_ikev2(topology, strongswan, pluto):
    gw = strongswan(topology.gw, "gw", scenarios.pluto_gateway())
    p = pluto(topology.cl)
    status = p.status()
    assert "v2-psk" in status and "v1-main-psk" in status
    p.up("v2-psk", timeout=15)
    # pluto cannot install ESP on a kernel without it; the responder's view is the proof
    sa = gw.wait_sa(lambda sa: sa.name == "pluto-v2" and sa.established, timeout=10)
    assert sa.remote_id == scenarios.CLIENT_ID and sa.version == 2
    assert sa.child("net").remote_ts == [netns.CL_NET]


def test_ike_scan_against_charon(topology, strongswan, ike_scan):
    strongswan(topology.gw, "gw", scenarios.ike_scan_gateway())
    scan = ike_scan(topology.cl)
    weak = scan.probe(netns.GW_ADDR, "-M")  # ike-scan's default, weak transforms
    assert weak.kind == "notify" and weak.notify == 14, weak.text  # NO-PROPOSAL-CHOSEN
    main = scan.probe(netns.GW_ADDR, "-M", f"--trans={ike_scan_mod.AES256_SHA256_PSK_MODP2048}")
    assert main.handshake, main.text
    assert (main.field("Enc"), main.field("Hash"), main.field("Auth")) == ("AES", "SHA2-256", "PSK")


def test_slapd_search_and_bind(topology, slapd):
    d = slapd(topology.gw)
    # the service DN reads the NT hash; it is MD4(UTF-16LE(password))
    assert d.attribute("alice", "sambaNTPassword") == [slapd_mod.NT_HASHES["alice-Secret-1"]]
    assert d.attribute("carol", "sambaNTPassword") == []
    anon = d.ldapsearch("(uid=alice)", "sambaNTPassword", "uid", bind=False).stdout
    assert "uid: alice" in anon and "sambaNTPassword" not in anon
    assert d.bind_ok("uid=alice,ou=people,dc=example,dc=test", "alice-Secret-1")
    assert not d.bind_ok("uid=alice,ou=people,dc=example,dc=test", "wrong")
    members = d.ldapsearch("(cn=vpn-users)", "member", base=slapd_mod.GROUPS).stdout
    assert "uid=alice," in members and "uid=bob," not in members
    # down and back with the same data
    d.stop()
    assert not d.bind_ok("uid=alice,ou=people,dc=example,dc=test", "alice-Secret-1")
    d.start()
    assert d.bind_ok("uid=bob,ou=people,dc=example,dc=test", "bob-Secret-2")


METRICS = """\
# HELP ikesrv_ike_sas IKE SAs by version and state.
# TYPE ikesrv_ike_sas gauge
ikesrv_ike_sas{version="2",state="established"} 3
ikesrv_ike_sas{version="2",state="half_open"} 0
"""


def test_prometheus_scrapes_static_target(topology, cleanup, prometheus):
    target = StaticTarget(cleanup, topology.gw, METRICS, port=9810)
    prom = prometheus(topology.gw, [target.address])
    result = prom.wait_for('ikesrv_ike_sas{state="established"}', timeout=20)
    assert [r["value"][1] for r in result] == ["3"]
    assert result[0]["metric"]["job"] == "ikesrv"
