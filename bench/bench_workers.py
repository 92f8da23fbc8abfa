"""Scaling with workers: IKEv2 set-ups per second with 1 and with 2 worker processes under
the same load, as a ratio (DESIGN §4; the goal is near-linear).

For each worker count a fresh ``ikesrv serve --workers N`` starts in the gateway namespace
of a topology this bench creates (and removes); ``ikesrv load`` runs in the client
namespace with the same options every time (IKEv2 PSK, X25519, ``--processes`` generator
processes). Figures per row:

  setups/s       the generator's SAs up / its set-up phase (first start to last SA up)
  workers ms/SA  utime + stime of the worker processes (/proc/PID/stat; their PIDs from
                 ``ikesrv status``) / SAs: the cost per SA should not grow with N
  worker util    each worker's CPU time / the set-up phase: near 100 % = saturated
  gen ms/SA      the generators' own CPU per SA

then the median setups/s of 2 workers over the median of 1 worker. The generator and the
responder share the machine's CPUs (here 2): when the generator needs a CPU of its own,
two workers cannot each have one, and the ratio says what this machine can show, not
what two free CPUs give. The worker utilisation column tells which case a run was in.

``python -m bench workers [--quick] [--clients=N] [--concurrency=C] [--processes=P]
[--repeat=R] [--json=FILE]``: runs alternate 1 and 2 workers R times (the machine's other
load drifts; medians are compared).
Needs root and iproute2; without them it says so and runs nothing. Traffic stays inside
the namespaces it creates.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .e2e_responders import GW_ID, PSK, ikesrv_config
from .timing import option

REPO = Path(__file__).resolve().parent.parent
PROPOSAL = "aes128-sha256-x25519"
ESP = "aes128-sha256"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def config(workers: int) -> str:
    """The same responder configuration as bench e2e's IKEv2 PSK rows."""
    return ikesrv_config([PROPOSAL], workers=workers)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, fields 14 and 15 of proc(5)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    clients = option(argv, "--clients", int) or (300 if quick else 2000)
    concurrency = option(argv, "--concurrency", int) or 64
    processes = option(argv, "--processes", int) or 2
    repeat = option(argv, "--repeat", int) or (2 if quick else 3)
    print(f"\n== workers: IKEv2 PSK set-ups with 1 and 2 worker processes "
          f"({clients} SAs per run, concurrency {concurrency}, {processes} generator "
          f"processes, {repeat} runs each, interleaved; {os.cpu_count()} CPUs shared by "
          f"generator and responder; load average before: {os.getloadavg()[0]:.2f})")
    missing = _missing()
    if missing:
        print(f"skipped: {missing}")
        return 0
    from tests.harness.cleanup import Cleanup
    from tests.harness.netns import Topology

    rows = []
    with Cleanup() as cleanup:
        topo = Topology.build(cleanup, nat=False)
        work = Path(tempfile.mkdtemp(prefix="ikb-workers-"))
        cleanup.push(f"remove {work}", lambda: shutil.rmtree(work, ignore_errors=True))
        psk_file = work / "psk"
        psk_file.write_text(PSK + "\n")
        psk_file.chmod(0o600)
        for run in range(repeat):
            for workers in (1, 2):
                row = run_one(topo, cleanup, work, psk_file, workers, run, clients,
                              concurrency, processes)
                if row is None:
                    return 1
                rows.append(row)
                print(format_row(row), flush=True)
    ok = all(r["ok"] for r in rows)
    medians = {w: _median([r["setups_per_s"] for r in rows if r["workers"] == w])
               for w in (1, 2)}
    costs = {w: _median([r["workers_ms_per_sa"] for r in rows if r["workers"] == w])
             for w in (1, 2)}
    if ok:
        print(f"median setups/s: 1 worker {medians[1]:.1f}, 2 workers {medians[2]:.1f}; "
              f"ratio 2 workers / 1 worker: {medians[2] / medians[1]:.2f}x  (workers' CPU "
              f"per SA {costs[2] / costs[1]:.2f}x)")
    json_path = option(argv, "--json", str)
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if ok else 1


def run_one(topo, cleanup, work: Path, psk_file: Path, workers: int, run: int, clients: int,
            concurrency: int, processes: int) -> dict | None:
    from tests.harness.ikesrv_server import IkesrvServer
    from tests.harness.netns import GW_ADDR

    server = IkesrvServer(topo.gw, cleanup, config(workers), {"rw.psk": PSK + "\n"})
    server.wait_ready(GW_ADDR)
    pids = [w["pid"] for w in server.status()["workers"]]
    report_path = work / f"load-{workers}-{run}.json"
    cmd = [sys.executable, "-m", "ikesrv", "load", "--target", GW_ADDR,
           "--clients", str(clients), "--concurrency", str(concurrency),
           "--processes", str(processes), "--proposal", PROPOSAL,
           "--esp-proposal", ESP, "--psk-file", str(psk_file), "--remote-id", GW_ID,
           "--local-id", f"r{run}w{workers}c{{n}}@workers.test",
           "--timeout", str(max(60, clients // 20)), "--no-progress",
           "--json", str(report_path)]
    try:
        c0 = [cpu_ticks(p) for p in pids]
        cp = topo.cl.run(cmd, timeout=max(60, clients // 20) + 60, check=False,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=str(REPO))
        c1 = [cpu_ticks(p) for p in pids]
        status = server.status()
    finally:
        server.stop(timeout=15)
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        print(f"ikesrv load gave no report (exit {cp.returncode}):\n{cp.stderr[-2000:]}")
        return None
    est = report["established"]
    established = sum(1 for w in status["workers"] for sa in w["ike_sas"]
                      if sa["state"] == "established")
    cpu = [(b - a) / CLK_TCK for a, b in zip(c0, c1)]
    setup_s = report["setup_s"] or 1e-9
    return {
        "workers": workers, "run": run, "clients": clients, "established": est,
        "responder_established": established,
        "ok": est == clients == established and [w["pid"] for w in status["workers"]] == pids,
        "setups_per_s": report["setups_per_s"],
        "workers_ms_per_sa": round(sum(cpu) * 1e3 / est, 4) if est else None,
        "worker_util": [round(c / setup_s, 3) for c in cpu],
        "generator_ms_per_sa": report["generator_cpu_ms_per_sa"],
        "latency_ms": report["latency_ms"],
        "retransmissions": report["retransmissions"],
        "failures": report["failures"],
    }


def _median(values: list) -> float:
    values = sorted(v for v in values if v)
    if not values:
        return 0.0
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def format_row(r: dict) -> str:
    util = " ".join(f"{100 * u:.0f}%" for u in r["worker_util"])
    flag = "" if r["ok"] else (f"  !! established {r['established']}/{r['clients']}, ikesrv "
                               f"says {r['responder_established']}, failures {r['failures']}")
    return (f"{r['workers']} worker{'s' if r['workers'] > 1 else ' '} {r['established']:>6} SAs "
            f"{r['setups_per_s']:>8.1f}/s  workers {r['workers_ms_per_sa'] or 0:.3f} ms/SA  "
            f"util {util:<9}  gen {r['generator_ms_per_sa'] or 0:.3f} ms/SA  "
            f"p50 {r['latency_ms']['p50']:.1f} ms  p99 {r['latency_ms']['p99']:.1f} ms  "
            f"rtx {r['retransmissions']}{flag}")


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "ip (iproute2) not found"
    return None


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main(sys.argv[1:])
    print(f"({time.monotonic() - t0:.0f} s)")
    raise SystemExit(rc)
