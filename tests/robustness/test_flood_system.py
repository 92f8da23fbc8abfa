"""``ikesrv serve --workers 2`` under floods, in network namespaces (root), with real
clients connecting meanwhile:

- tens of thousands of mutated IKEv2 and IKEv1 datagrams (seeded from the captures) to
  ports 500 and 4500 from forty source addresses, while strongSwan sets up an IKEv2 SA
  and then an IKEv1 Main Mode SA;
- a half-open flood: IKE_SA_INIT requests from two hundred addresses that never return
  a COOKIE nor go on (what spoofed sources look like), while strongSwan and the load
  generator's clients connect.

Each asserts that the legitimate clients establish, that ikesrv counted what it refused
(and sent COOKIEs), that no worker died or restarted, that the workers' memory stayed
bounded, and that nothing logged a traceback. Floods stay inside the test's namespaces
and are bounded in count and time.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from tests.harness import scenarios
from tests.harness.netns import CL_ADDR, CL_NET, GW_ADDR, PROTECTED_NET, VIP_POOL
from tests.harness.proc import wait_until
from tests.harness.prometheus import scrape, value

from .flood import (
    Flood,
    add_sources,
    cpu_seconds,
    ike_sa_init,
    mutated_datagrams,
    rss_kib,
    worker_pids,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
METRICS = "127.0.0.1:9810"
RSS_GROWTH_LIMIT_KIB = 64 * 1024  # per worker, over the whole flood
X25519 = "aes128-sha256-x25519"

CONFIG = f"""
[server]
addresses = ["{GW_ADDR}"]
cookie_threshold = 20
cookie_threshold_per_ip = 5
half_open_limit = 400
half_open_limit_per_ip = 20
half_open_timeout = "5s"
shutdown_timeout = "3s"
[metrics]
listen = "{METRICS}"
[kernel]
backend = "none"
[pools.rw]
addresses = "{VIP_POOL}"
[connections.rw-psk]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["{X25519}", "aes256gcm16-prfsha384-ecp384"]
esp_proposals = ["aes256gcm16", "aes128-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
[connections.v1-main]
version = 1
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
remote_addrs = ["198.51.100.0/26"]
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256"]
local_ts = ["{PROTECTED_NET}"]
remote_ts = ["{CL_NET}"]
"""


def client_conf():
    """One charon with both: IKEv2 PSK ("gw"/"net") and IKEv1 Main Mode PSK ("gw1"/"net1")."""
    conf = scenarios.psk_client(X25519, "aes256gcm16")
    conf.connection(
        "gw1", version=1, aggressive=False, remote_addrs=GW_ADDR,
        proposals="aes256-sha256-modp2048",
        local={"auth": "psk", "id": scenarios.CLIENT_ID},
        remote={"auth": "psk", "id": scenarios.GW_ID},
        children={"net1": {"local_ts": CL_NET, "remote_ts": PROTECTED_NET, "mode": "tunnel",
                           "esp_proposals": "aes256-sha256"}})
    return conf


def start(topology, ikesrv):
    server = ikesrv(topology.gw, CONFIG, {"rw.psk": scenarios.PSK + "\n"}, address=GW_ADDR,
                    workers=2)
    wait_until(lambda: all(w.get("pid") and "error" not in w
                           for w in server.status()["workers"]), timeout=10,
               what="both workers serving")
    return server


def unchanged_workers(topology, server, pids, rss_before) -> dict:
    """No worker died or restarted, memory bounded; returns the final metrics."""
    status = server.status()
    assert [w["pid"] for w in status["workers"]] == pids
    assert [w["restarts"] for w in status["workers"]] == [0, 0]
    m = scrape(topology.gw, METRICS)
    assert value(m, "ikesrv_worker_restarts_total") == 0
    assert value(m, "ikesrv_workers") == 2
    for pid, before in zip(pids, rss_before):
        grown = rss_kib(pid) - before
        print(f"worker {pid}: RSS {before} KiB -> {before + grown} KiB, "
              f"CPU {cpu_seconds(pid):.1f} s")
        assert grown < RSS_GROWTH_LIMIT_KIB, (pid, before, grown)
    log = server.log_text()
    assert "Traceback" not in log
    return m


def test_mutated_datagrams_on_both_ports_while_clients_connect(topology, ikesrv, strongswan):
    gw, cl = topology.gw, topology.cl
    server = start(topology, ikesrv)
    pids = worker_pids(server)
    rss_before = [rss_kib(p) for p in pids]
    client = strongswan(cl, "cl", client_conf())
    sources = add_sources(cl, gw, "10.66", 40, CL_ADDR)
    flood = Flood(cl, GW_ADDR, mutated_datagrams(30_000, seed=20261123), sources,
                  rate=3000).start()
    wait_until(lambda: flood.sent > 2000, timeout=10, what="the flood under way")

    # IKEv2 then IKEv1, each set up while the flood goes on
    for child, ike in (("net", "gw"), ("net1", "gw1")):
        sent_before = flood.sent
        result = client.initiate(child, ike, timeout=30)
        assert result.ok, result.log_text()[-3000:] + server.log_text()[-3000:]
        assert flood.sent > sent_before, "the flood was over before the handshake ended"
    versions = sorted(sa["version"] for sa in server.sas() if sa["state"] == "established")
    assert versions == [1, 2]
    flood.join()
    assert flood.sent >= 25_000, (flood.sent, flood.errors)
    print(f"flood: {flood.sent} datagrams in {flood.seconds:.1f} s "
          f"({flood.sent / flood.seconds:.0f}/s)")

    m = unchanged_workers(topology, server, pids, rss_before)
    invalid = {reason: value(m, "ikesrv_invalid_messages_total", reason=reason)
               for reason in ("malformed", "unknown_spi", "invalid_major_version",
                              "rate_limited", "unexpected_payload", "protocol_error")}
    print("invalid messages by reason:", invalid)
    assert sum(invalid.values()) >= 10_000
    assert invalid["malformed"] > 0 and invalid["unknown_spi"] > 0
    assert value(m, "ikesrv_ike_sa_established_total", version="2") >= 1
    assert value(m, "ikesrv_ike_sa_established_total", version="1") >= 1
    # both SAs still carry liveness checks after the flood
    for sa in client.list_sas():
        assert sa.established
    assert len([sa for sa in server.sas() if sa["state"] == "established"]) == 2


def run_load(ns, psk_path: Path, clients: int, timeout: float = 60.0) -> dict:
    argv = [sys.executable, "-m", "ikesrv", "load", "--target", GW_ADDR,
            "--clients", str(clients), "--concurrency", "4", "--proposal", X25519,
            "--esp-proposal", "aes128-sha256", "--psk-file", str(psk_path),
            "--remote-id", scenarios.GW_ID, "--local-id", "load{n}@flood.test",
            "--timeout", str(int(timeout - 10)), "--no-progress", "--json", "-"]
    cp = ns.run(argv, timeout=timeout, check=False, cwd=str(REPO))
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    return json.loads(cp.stdout)


def test_half_open_flood_from_many_sources(topology, ikesrv, strongswan, cleanup):
    """RFC 7296 §2.6: past the thresholds every IKE_SA_INIT without a COOKIE gets one and
    costs no state; the flood's sources never answer, so the half-open SAs (and DH
    computations) stay bounded while clients that do answer connect."""
    gw, cl = topology.gw, topology.cl
    server = start(topology, ikesrv)
    pids = worker_pids(server)
    rss_before = [rss_kib(p) for p in pids]
    client = strongswan(cl, "cl", client_conf())
    sources = add_sources(cl, gw, "10.77", 200, CL_ADDR)
    rng = random.Random(7)
    requests = [ike_sa_init(rng) for _ in range(12_000)]
    flood = Flood(cl, GW_ADDR, requests, sources, rate=2000, natt_share=0.0).start()
    wait_until(lambda: flood.sent > 2000, timeout=10, what="the flood under way")

    sent_before = flood.sent
    result = client.initiate("net", "gw", timeout=30)
    assert result.ok, result.log_text()[-3000:] + server.log_text()[-3000:]
    psk = cleanup.mkdtemp("psk") / "psk"
    psk.write_text(scenarios.PSK + "\n")
    psk.chmod(0o600)
    report = run_load(cl, psk, 12)
    assert report["established"] == 12, report.get("failures")
    assert flood.sent > sent_before, "the flood was over before the clients connected"
    m = scrape(gw, METRICS)
    half_open = value(m, "ikesrv_ike_sas", state="half_open")
    assert half_open <= 400
    flood.join()
    print(f"flood: {flood.sent} IKE_SA_INIT in {flood.seconds:.1f} s")

    m = unchanged_workers(topology, server, pids, rss_before)
    cookies = value(m, "ikesrv_cookies_sent_total")
    timed_out = value(m, "ikesrv_ike_sa_failed_total", version="2", reason="timeout")
    print(f"cookies sent: {cookies:.0f}; half-open SAs that timed out: {timed_out:.0f}")
    assert cookies >= flood.sent // 2
    # a DH each, and bounded: the thresholds per 5 s timeout, not one per request
    assert timed_out <= 300, timed_out
    established = value(m, "ikesrv_ike_sa_established_total", version="2")
    assert established >= 13
    # the flood's half-open SAs all time out; the clients' SAs stay
    wait_until(lambda: value(scrape(gw, METRICS), "ikesrv_ike_sas", state="half_open") == 0,
               timeout=15, what="the half-open SAs timed out")
    assert any(sa["state"] == "established" for sa in server.sas())
