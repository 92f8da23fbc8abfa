"""strongSwan IKEv1 clients against ``ikesrv serve`` over an SA's whole life: liveness
checks both ways (RFC 3706), Quick Mode rekeys and phase 1 rekeys by the client,
deletes both ways, retransmissions answered from the cache."""

from __future__ import annotations

import pytest

from tests.harness import scenarios
from tests.harness.proc import wait_until

from .test_ikev1_strongswan import BASE, MAIN_PSK, start

pytestmark = pytest.mark.root


def test_liveness_checks_both_ways_and_dead_client(topology, ikesrv, strongswan):
    # RFC 3706 §5.5: each side asks only after a silence of its own dpd_delay, so the
    # side with the shorter delay does all the asking: client A (1 s) asks us, we (2 s)
    # ask client B, which never asks (no dpd_delay)
    server = start(topology, ikesrv, BASE + MAIN_PSK + 'dpd_delay = "2s"\ndpd_timeout = "6s"\n')
    conf_a = scenarios.v1_main_client()
    conf_a.connections["gw"]["dpd_delay"] = "1s"
    a = strongswan(topology.cl, "a", conf_a)
    conf_b = scenarios.v1_main_client()
    conf_b.connections["gw"]["local"]["id"] = "client3@example.test"
    b = strongswan(topology.cl, "b", conf_b, charon_settings={"port": 1500, "port_nat_t": 14500})
    assert a.initiate("net", "gw", timeout=20).ok
    assert b.initiate("net", "gw", timeout=20).ok
    a.wait_log(r"generating INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]", timeout=15)
    a.wait_log(r"parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]", timeout=15)
    b.wait_log(r"parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]", timeout=15)
    b.wait_log(r"generating INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]", timeout=15)
    assert len(server.sas()) == 2
    b.process.stop(5, sig=9)  # client B vanishes without a Delete
    wait_until(lambda: [sa["identity"] for sa in server.sas()] == [scenarios.CLIENT_ID],
               timeout=30, what="ikesrv to declare client B dead")
    assert "is dead (no R-U-THERE-ACK for 6s)" in server.log_text()
    assert a.list_sas()[0].established


def test_quick_mode_and_phase1_rekeys_by_the_client(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    conf = scenarios.v1_main_client()
    # IKEv1 has no IKE SA rekey: strongSwan reauthenticates with a new Main Mode
    conf.connections["gw"].update(rekey_time="8s", over_time="60s", rand_time="0s")
    conf.connections["gw"]["children"]["net"].update(rekey_time="3s", life_time="60s",
                                                     rand_time="0s")
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok
    wait_until(lambda: "rekeyed to" in server.log_text(), timeout=20, what="Quick Mode rekey")
    client.wait_log(r"detected rekeying of CHILD_SA|CHILD_SA net\{\d+\} established", timeout=5)
    first_ike = server.sas()[0]["spi_i"]
    wait_until(lambda: any(sa["spi_i"] != first_ike for sa in server.sas()), timeout=20,
               what="phase 1 rekey (a new Main Mode)")
    seen = []

    def views_agree() -> bool:  # one ISAKMP SA each, the same cookies, the same IPsec SAs
        ours = [sa for sa in server.sas() if sa["state"] == "established"]
        theirs = [sa for sa in client.list_sas() if sa.established]
        seen[:] = [ours, theirs]
        if len(ours) != 1 or len(theirs) != 1:
            return False
        if (ours[0]["spi_i"], ours[0]["spi_r"]) != (theirs[0].initiator_spi,
                                                    theirs[0].responder_spi):
            return False
        our_spis = {c["spi_out"] for c in ours[0]["child_sas"] if c["state"] == "installed"}
        their_spis = {c.spi_in for c in theirs[0].children if c.state == "INSTALLED"}
        return bool(their_spis) and their_spis <= our_spis
    try:
        wait_until(views_agree, timeout=30, what="both sides to show the same SAs")
    except TimeoutError:
        raise AssertionError(seen) from None
    assert "Traceback" not in server.log_text()


def test_delete_from_the_client_and_from_the_server(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    client = strongswan(topology.cl, "cl", scenarios.v1_main_client())
    assert client.initiate("net", "gw", timeout=20).ok
    assert client.terminate(ike="gw", timeout=10).ok
    wait_until(lambda: server.sas() == [], timeout=10, what="SA gone from ikesrv")
    assert "deleted by 'client1@example.test'" in server.log_text()
    # again, then the server goes away: SIGTERM sends the Deletes
    assert client.initiate("net", "gw", timeout=20).ok
    assert len(server.sas()) == 1
    rc, took = server.stop()
    assert rc == 0 and took < 5
    wait_until(lambda: client.list_sas() == [], timeout=10, what="client SA deleted by ikesrv")
    log = client.log_text()
    assert "received DELETE for ESP CHILD_SA" in log and "received DELETE for IKE_SA" in log


def test_retransmitted_main_mode_answered_from_cache(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    # lose our first answer sent from the NAT-T port (MM6): the client retransmits MM5
    # and must get the same MM6, processed once
    topology.gw.run(["iptables", "-I", "OUTPUT", "-p", "udp", "--sport", "4500", "-m",
                     "statistic", "--mode", "nth", "--every", "100000", "--packet", "0",
                     "-j", "DROP"])
    client = strongswan(topology.cl, "cl", scenarios.v1_main_client())
    result = client.initiate("net", "gw", timeout=30)
    assert result.ok, result.log_text()
    assert "sending retransmit 1 of request message ID 0" in client.log_text()
    assert server.log_text().count("established with") == 1
    (ours,) = server.sas()
    assert len(ours["child_sas"]) == 1
