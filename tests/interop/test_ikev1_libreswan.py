"""libreswan's pluto as an IKEv1 initiator of ``ikesrv serve`` (IKE side only: pluto
completes Main Mode and answers QM2, but installs nothing on this kernel without ESP, so
QM3 never comes; ikesrv's view is the proof, LAB.md §5)."""

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
[connections.site-v1]
version = 1
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
remote_id = "client2@example.test"
psk_file = "site.psk"
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256-modp2048"]
local_ts = ["{PROTECTED_NET}"]
remote_ts = ["{CL_NET}"]
"""


def test_pluto_ikev1_main_mode_psk(topology, ikesrv, pluto):
    server = ikesrv(topology.gw, CONFIG, {"site.psk": scenarios.PLUTO_PSK + "\n"},
                    address=GW_ADDR, workers=1)
    p = pluto(topology.cl)
    p.up("v1-main-psk", timeout=20)  # whack's status says little here: ikesrv's view decides
    wait_until(lambda: "established with 'client2@example.test'" in server.log_text(),
               timeout=20, what="ISAKMP SA established in ikesrv")
    log = server.log_text()
    assert "(site-v1, aes256-sha256-modp2048)" in log
    (ours,) = server.sas()
    assert ours["version"] == 1 and ours["state"] == "established" and ours["auth"] == "psk"
    # pluto's side: Main Mode done (its ISAKMP SA is in STATE_MAIN_I4), Quick Mode sent
    states = p.states()
    assert "STATE_MAIN_I4" in states, states + p.log_text()[-3000:]
    # it accepted our QM2 (HASH(2), SA, KE, IDs) and then failed to put the SA into
    # this kernel: the outbound SPI it tried is our inbound one
    wait_until(lambda: "Add SA esp." in p.log_text(), timeout=10, what="pluto to accept QM2")
    assert "Traceback" not in log
