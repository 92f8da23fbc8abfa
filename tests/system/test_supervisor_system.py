"""``ikesrv serve --workers 2`` end to end (DESIGN §4, §6, §8 tests/system): the load
generator's IKEv2 clients from the client namespace, steering checked from ikesrv's own
view (every SA listed under the worker whose index is the top byte of its responder SPI)
and from the per-worker message counters (each SA's messages counted by its worker
only), both workers carrying SAs, a worker killed with SIGKILL and restarted on the same
sockets while the other keeps its SAs, the same identity moving between workers, SIGHUP
passed on to the workers, a real
Prometheus scraping the supervisor's /metrics and answering every query of the Grafana
dashboard, the alert rules loaded, and a bounded SIGTERM shutdown."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.harness.netns import GW_ADDR, PROTECTED_NET
from tests.harness.proc import wait_until
from tests.harness.prometheus import Samples, value
from tests.harness.prometheus import scrape as scrape_metrics

pytestmark = [pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PSK = "system-test-psk-0123456789abcdef"
GW_ID = "vpn.system.test"
X25519 = "aes128-sha256-x25519"
METRICS = "127.0.0.1:9810"

CONFIG = f"""
[server]
addresses = ["{GW_ADDR}"]
cookie_threshold = 0
cookie_threshold_per_ip = 0
shutdown_timeout = "3s"
[metrics]
listen = "{METRICS}"
[kernel]
backend = "none"
[pools.rw]
addresses = "198.18.0.0/16"
[connections.rw]
version = 2
local_id = "{GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["{X25519}"]
esp_proposals = ["aes128-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
dpd_delay = "5m"
"""



def scrape(ns) -> Samples:
    """/metrics once it has settled: workers hand their counts to the metrics files at
    most METRICS_FLUSH_DELAY after the events."""
    from ikesrv.server.worker import METRICS_FLUSH_DELAY
    return scrape_metrics(ns, METRICS, settle=2 * METRICS_FLUSH_DELAY)


def run_load(ns, psk_path: Path, clients: int, local_id: str, *extra: str,
             timeout: float = 60.0) -> dict:
    argv = [sys.executable, "-m", "ikesrv", "load", "--target", GW_ADDR,
            "--clients", str(clients), "--concurrency", "8", "--proposal", X25519,
            "--esp-proposal", "aes128-sha256", "--psk-file", str(psk_path),
            "--remote-id", GW_ID, "--local-id", local_id, "--timeout", str(int(timeout - 10)),
            "--no-progress", "--json", "-", *extra]
    cp = ns.run(argv, timeout=timeout, check=False, cwd=str(REPO))
    report = json.loads(cp.stdout)
    assert cp.returncode == 0, f"{report.get('failures')} {cp.stderr[-2000:]}"
    return report


def owners(status: dict) -> dict[str, int]:
    """spi_r -> index of the worker that lists the SA; each listed under its SPI's worker."""
    found = {}
    for w in status["workers"]:
        assert "error" not in w, w
        for sa in w["ike_sas"]:
            assert int(sa["spi_r"][:2], 16) == w["index"], (sa["spi_r"], w["index"])
            found[sa["spi_r"]] = w["index"]
    return found


def test_two_workers(topology, ikesrv, prometheus, cleanup):
    gw, cl = topology.gw, topology.cl
    server = ikesrv(gw, CONFIG, {"rw.psk": PSK + "\n"}, address=GW_ADDR, workers=2)
    psk = cleanup.mkdtemp("psk") / "psk"
    psk.write_text(PSK + "\n")
    psk.chmod(0o600)
    prom = prometheus(gw, [METRICS], rules=[REPO / "grafana" / "alerts" / "ikesrv.rules.yml"])
    started = time.monotonic()

    # --- forty clients: both workers carry SAs, each SA under its SPI's worker --------
    report = run_load(cl, psk, 40, "a{n}@system.test")
    assert report["established"] == 40 and report["retransmissions"] == 0
    status = server.status()
    assert [w["index"] for w in status["workers"]] == [0, 1]
    first = owners(status)
    per_worker = [sum(1 for i in first.values() if i == w) for w in (0, 1)]
    assert sum(per_worker) == 40 and min(per_worker) > 0, per_worker

    # every message of an SA was counted by the worker that owns it: one IKE_SA_INIT
    # and one IKE_AUTH each way per SA (no cookies, no retransmissions), nothing unknown
    m = scrape(gw)
    for w in (0, 1):
        for exchange in ("IKE_SA_INIT", "IKE_AUTH"):
            for direction in ("in", "out"):
                assert value(m, "ikesrv_messages_total", worker=str(w), exchange=exchange,
                             direction=direction) == per_worker[w], (w, exchange, direction)
        assert value(m, "ikesrv_ike_sas", worker=str(w), state="established") == per_worker[w]
        assert value(m, "ikesrv_child_sas", worker=str(w)) == per_worker[w]
    assert value(m, "ikesrv_invalid_messages_total") == 0
    assert value(m, "ikesrv_workers") == 2
    assert value(m, "ikesrv_pool_addresses", pool="rw", state="used") == 40
    # each worker hands out addresses from its own half of the pool, and says so
    wait_until(lambda: [w["pools"].get("rw", [0])[0] for w in server.status()["workers"]]
               == per_worker, timeout=5, what="the workers' pool slices in ikesrv status")
    assert [w["pools"]["rw"][1] for w in server.status()["workers"]] == [32767, 32767]
    vips = {w["index"]: {sa["virtual_ip"] for sa in w["ike_sas"]} for w in status["workers"]}
    assert all(v.startswith("198.18.") and int(v.split(".")[2]) < 128 for v in vips[0])
    assert all(int(v.split(".")[2]) >= 128 for v in vips[1])

    # --- held SAs with CHILD and IKE rekeys, liveness checks, deletes ------------------
    # an IKE rekey chooses the new SPI with the same worker index, so the later messages
    # still reach the worker that holds the SA (else: unknown SPI, failed deletes)
    before = m
    report = run_load(cl, psk, 16, "b{n}@system.test", "--hold", "4", "--rekey",
                      "--dpd", "1")
    assert report["rekeys"] == {"child": {"ok": 16, "failed": 0}, "ike": {"ok": 16, "failed": 0}}
    assert report["deleted"] == 16 and report["liveness"]["lost"] == 0
    m = scrape(gw)

    def delta(**labels):
        return value(m, "ikesrv_messages_total", **labels) - value(
            before, "ikesrv_messages_total", **labels)
    auths = [delta(worker=str(w), exchange="IKE_AUTH", direction="in") for w in (0, 1)]
    assert sum(auths) == 16
    for w in (0, 1):
        # two CREATE_CHILD_SA per SA (CHILD rekey, IKE rekey), on the SA's own worker
        assert delta(worker=str(w), exchange="CREATE_CHILD_SA", direction="in") \
            == 2 * auths[w]
        # liveness checks and the Delete: at least two INFORMATIONAL per SA, answered
        assert delta(worker=str(w), exchange="INFORMATIONAL", direction="in") >= 2 * auths[w]
        assert delta(worker=str(w), exchange="INFORMATIONAL", direction="out") \
            == delta(worker=str(w), exchange="INFORMATIONAL", direction="in")
    assert value(m, "ikesrv_invalid_messages_total") == 0
    assert value(m, "ikesrv_rekeys_total", kind="ike", result="ok") == 16
    assert owners(server.status()) == first  # the held SAs are gone, the others stay

    # --- SIGKILL worker 1: restarted on the same sockets, worker 0 untouched -----------
    survivor, victim = status["workers"][0]["pid"], status["workers"][1]["pid"]
    os.kill(victim, signal.SIGKILL)

    def restarted() -> bool:
        w1 = server.status()["workers"][1]
        return w1["pid"] not in (None, victim) and "error" not in w1
    wait_until(restarted, timeout=15, what="worker 1 restarted")
    status = server.status()
    assert status["workers"][0]["pid"] == survivor
    assert owners(status) == {spi: w for spi, w in first.items() if w == 0}
    assert status["workers"][1]["restarts"] == 1
    m = scrape(gw)
    assert value(m, "ikesrv_worker_restarts_total") == 1
    assert value(m, "ikesrv_workers") == 2
    # the dead worker's live gauges went with it; its counters stayed
    assert value(m, "ikesrv_ike_sas", worker="1", state="established") == 0
    assert value(m, "ikesrv_ike_sas", worker="0", state="established") == per_worker[0]
    assert value(m, "ikesrv_messages_total", worker="1", exchange="IKE_AUTH",
                 direction="in") >= per_worker[1]
    assert "worker 1 (pid" in server.log_text() and "was killed by SIGKILL" in server.log_text()

    # new clients are served by both workers, the restarted one included
    report = run_load(cl, psk, 20, "c{n}@system.test")
    assert report["established"] == 20
    after = owners(server.status())
    new = {spi: w for spi, w in after.items() if spi not in first}
    assert len(new) == 20 and set(new.values()) == {0, 1}

    # --- the same identity on the other worker: the older SA goes (INITIAL_CONTACT) ----
    run_load(cl, psk, 1, "roamer@system.test")

    def roamer() -> list[tuple[str, int]]:
        return [(sa["spi_r"], w["index"]) for w in server.status()["workers"]
                for sa in w["ike_sas"] if sa["identity"] == "roamer@system.test"]
    (old_spi, old_worker), = roamer()
    for _ in range(12):  # each set-up lands on a worker by the hash of a random SPIi
        run_load(cl, psk, 1, "roamer@system.test")
        wait_until(lambda: len(roamer()) == 1, timeout=5, what="one SA of roamer")
        (spi, worker), = roamer()
        if worker != old_worker:
            break
    assert worker != old_worker, "twelve set-ups all landed on one worker"
    assert spi != old_spi

    # --- Prometheus: scrapes, rules loaded, every dashboard query answers --------------
    prom.wait_for('up{job="ikesrv"} == 1')
    prom.wait_for("ikesrv_worker_restarts_total == 1")
    prom.wait_for("sum(ikesrv_ike_sas) > 0")
    wait_until(lambda: time.monotonic() - started > 12, timeout=20, what="a few scrapes")
    groups = prom.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == 7 and all(r["health"] == "ok" for r in rules), rules
    dashboard = json.loads((REPO / "grafana" / "dashboards" / "ikesrv.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) > 25
    empty = []
    for expr in exprs:
        concrete = (expr.replace("$__rate_interval", "30s").replace("$job", ".*")
                    .replace("$worker", ".*"))
        if not prom.query(concrete):
            empty.append(expr)
    assert not empty, f"no data for: {empty}"
    workers = prom.query('sum by (worker) (ikesrv_ike_sas{state="established"})')
    assert {r["metric"]["worker"] for r in workers} == {"0", "1"}

    # --- SIGHUP: passed on, each worker reloads; nobody restarts ----------------------
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_until(lambda: server.log_text().count("reloaded; new SAs use it") == 2, timeout=10,
               what="both workers reloaded")
    assert [w["restarts"] for w in server.status()["workers"]] == [0, 1]

    # --- SIGTERM: Deletes, workers gone, exit within shutdown_timeout ------------------
    pids = [w["pid"] for w in server.status()["workers"]]
    rc, seconds = server.stop(timeout=10)
    assert rc == 0 and seconds < 3 + 2, (rc, seconds)
    assert "shutting down" in server.log_text()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert not server.control.exists()
