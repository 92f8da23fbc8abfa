"""libreswan's pluto as an IKEv2 initiator of ``ikesrv serve`` (IKE side: pluto can only
put CHILD SAs into a kernel with ESP, which this one lacks; it then drops its IKE SA
without a Delete, so ikesrv's view is the proof)."""

from __future__ import annotations

import pytest

from tests.harness import scenarios
from tests.harness.netns import CL_NET, GW_ADDR, PROTECTED_NET
from tests.harness.proc import wait_until

pytestmark = pytest.mark.root

CONFIG = f"""
[server]
addresses = ["{GW_ADDR}"]
[metrics]
enabled = false
[kernel]
backend = "none"
[connections.site]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
remote_id = "{scenarios.CLIENT_ID}"
psk_file = "site.psk"
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256"]
local_ts = ["{PROTECTED_NET}"]
remote_ts = ["{CL_NET}"]
"""


def test_pluto_ikev2_psk_net_to_net(topology, ikesrv, pluto):
    server = ikesrv(topology.gw, CONFIG, {"site.psk": scenarios.PLUTO_PSK + "\n"}, address=GW_ADDR)
    p = pluto(topology.cl)
    try:
        p.up("v2-psk", timeout=20)
    except Exception:
        pass  # pluto reports the failed kernel install; ikesrv's view decides
    wait_until(lambda: "established with 'client1@example.test'" in server.log_text(),
               timeout=20, what="IKE SA established in ikesrv")
    assert f"installed: {PROTECTED_NET} === {CL_NET}" in server.log_text()
    assert "(site, aes256-sha256-prfsha256-modp2048)" in server.log_text()
    assert "Traceback" not in server.log_text()
