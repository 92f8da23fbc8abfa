"""``make run`` as the README gives it: it serves the embedded demo configuration, and a
strongSwan client configured from the demo's comments connects.

Everything happens inside the gateway namespace of the test's topology (the demo
listens on 127.0.0.1, that namespace's own loopback) with a private /run, so that the
demo's control socket does not land on the host. charon runs in the same namespace on
ports 5000/5001, leaving 500 and 4500 to ikesrv. ``make run`` is stopped by its PID;
make passes SIGTERM on to ``ikesrv serve``, which shuts down cleanly.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.harness.proc import wait_until
from tests.harness.prometheus import http_get
from tests.harness.strongswan import SwanctlConf

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ikesrv" / "data"


def test_make_run_serves_the_demo_to_a_strongswan_client(topology, strongswan, cleanup):
    gw = topology.gw
    log = cleanup.mkdtemp("make-run") / "make-run.log"
    make = gw.spawn(["make", "-C", str(REPO), "run"], name="make-run", log_path=log,
                    setup_shell="mount -t tmpfs -o size=8m,mode=0755 ikt-run /run",
                    stop_timeout=10)
    gw.wait_udp(500, "127.0.0.1", timeout=60)
    gw.wait_udp(4500, "127.0.0.1", timeout=10)
    assert make.alive(), log.read_text(errors="replace")

    # the client the demo's comments describe: PSK, remote id vpn-psk.ikesrv.test, a VIP
    conf = SwanctlConf("the demo's IKEv2 PSK client")
    conf.connection("demo", version=2, remote_addrs="127.0.0.1", vips="0.0.0.0",
                    proposals="aes256gcm16-prfsha384-ecp384",
                    local={"auth": "psk", "id": "laptop@demo.ikesrv.test"},
                    remote={"auth": "psk", "id": "vpn-psk.ikesrv.test"},
                    children={"net": {"remote_ts": "198.51.100.128/25",
                                      "esp_proposals": "aes256gcm16"}})
    conf.secret("ike-demo", secret=(DEMO / "demo-ikev2.psk").read_text().strip())
    client = strongswan(gw, "demo-client", conf,
                        charon_settings={"port": 5000, "port_nat_t": 5001})
    result = client.initiate("net", "demo", timeout=20)
    assert result.ok, client.log_text()
    (sa,) = client.list_sas()
    assert sa.established and [c.name for c in sa.children] == ["net"]
    (vip,) = sa.local_vips
    assert ipaddress.ip_address(vip) in ipaddress.ip_network("10.99.0.0/24")

    # the demo's metrics endpoint counts it (workers publish their gauges in batches)
    def counted() -> bool:
        status, body = http_get(gw, "http://127.0.0.1:9810/metrics")
        return status == 200 and any(
            line.startswith("ikesrv_ike_sas{") and 'state="established"' in line
            and 'version="2"' in line and line.rstrip().endswith(" 1.0")
            for line in body.decode().splitlines())
    wait_until(counted, 10, "ikesrv_ike_sas{state=established,version=2} 1 on /metrics")

    assert make.stop(10) is not None
    wait_until(lambda: not gw.udp_bound(500, "127.0.0.1"), 10, "the demo's sockets closed")
    text = log.read_text(errors="replace")
    assert "serving the embedded DEMO configuration" in text and "ikesrv stopped" in text
    assert "Traceback" not in text, text
