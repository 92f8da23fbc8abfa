"""strongSwan fixture: charon to charon, IKEv2 PSK with a virtual IP (scenario a1), both
sides' views parsed, traffic through the tunnel (kernel-libipsec), and the capture."""

from __future__ import annotations

import pytest

from tests.harness import netns, pcap, tshark
from tests.harness.proc import wait_until
from tests.harness.scenarios import CLIENT_ID, GW_ID, SCENARIOS

pytestmark = pytest.mark.root


def test_charon_to_charon_ikev2_psk(topology, strongswan, capture):
    scenario = SCENARIOS["a1-ikev2-psk-gcm"]
    gw = strongswan(topology.gw, "gw", scenario.gateway())
    cl = strongswan(topology.cl, "cl", scenario.client())
    cap = capture(topology.gw, "gw-cl")

    result = cl.initiate("net", "gw", timeout=15)
    assert result.ok, result.log_text()

    (gw_sa,) = gw.list_sas()
    (cl_sa,) = cl.list_sas()
    assert gw_sa.established and cl_sa.established
    assert (gw_sa.version, gw_sa.initiator, cl_sa.initiator) == (2, False, True)
    assert gw_sa.initiator_spi == cl_sa.initiator_spi
    assert gw_sa.responder_spi == cl_sa.responder_spi
    for sa in (gw_sa, cl_sa):
        assert (sa.encr_alg, sa.encr_keysize, sa.prf_alg, sa.dh_group) == (
            "AES_GCM_16",
            256,
            "PRF_HMAC_SHA2_384",
            "ECP_384",
        )
    assert (gw_sa.local_id, gw_sa.remote_id) == (GW_ID, CLIENT_ID)
    assert gw_sa.remote_vips == [netns.FIRST_VIP] == cl_sa.local_vips
    gw_child, cl_child = gw_sa.child("net"), cl_sa.child("net")
    assert gw_child.state == cl_child.state == "INSTALLED"
    assert gw_child.encap  # libipsec always UDP-encapsulates
    assert gw_child.spi_in == cl_child.spi_out and gw_child.spi_out == cl_child.spi_in
    assert cl_child.local_ts == [f"{netns.FIRST_VIP}/32"]
    assert cl_child.remote_ts == [netns.PROTECTED_NET]

    assert topology.cl.ping(netns.PROTECTED_HOST, count=2)
    (cl_sa,) = cl.list_sas()
    assert cl_sa.child("net").packets_out >= 2 and cl_sa.child("net").packets_in >= 2

    assert cl.terminate(ike="gw", timeout=10).ok
    wait_until(lambda: not gw.list_sas(), 5, "the gateway to delete its IKE_SA")
    path = cap.stop()

    # what went over the wire, read by tshark and by our reader: the same messages
    rows = tshark.fields(path, ["frame.number", "isakmp.exchangetype", "isakmp.ispi"], "isakmp")
    ours = pcap.ike_messages(path)
    assert [int(r["frame.number"][0]) for r in rows] == [m.frame for m in ours]
    exchanges = [int(r["isakmp.exchangetype"][0]) for r in rows]
    assert exchanges[:4] == [34, 34, 35, 35]  # IKE_SA_INIT, IKE_AUTH (request, response)
    assert 37 in exchanges  # the INFORMATIONAL Delete of terminate
    assert {r["isakmp.ispi"][0].replace(":", "") for r in rows} == {cl_sa.initiator_spi}
    kinds = {k for _, k in pcap.nat_t_kinds(path)}
    assert {"ike", "esp"} <= kinds  # IKE_AUTH on 4500 behind the marker, ESP in UDP
