"""End-to-end: ikesrv against strongSwan's charon under the same load generator, in one run.

For each IKE proposal (IKEv2 PSK, X25519 first: the headline; then ECP-256, MODP-2048)
and each responder (``ikesrv serve`` with 1 worker; charon tuned as LAB.md §10), a fresh
responder starts in the gateway namespace of a topology this bench creates (and removes),
pinned to CPU 1; ``ikesrv load`` runs in the client namespace pinned to CPU 0 with the
same options for both; the figures are:

  setups/s          the generator's count of SAs up / its set-up phase (first start to
                    last SA up)
  resp ms/SA        utime + stime of the responder process (/proc/PID/stat, all threads)
                    over the run / SAs established
  gen ms/SA         the generator's own CPU (getrusage) / SAs established: it must stay
                    below the responder's, or the responder was not the limit
  (a→b)             resp ms/SA over the first half of the SAs and over the second half
                    (sampled once a second from the generator's progress line): a cost
                    that grows with the SAs held shows here (charon's kernel-libipsec
                    keeps its SAD in a linked list searched on every install)
  resp util         the responder's CPU time / the set-up phase: near 100 % = saturated

and the ratios ikesrv/charon. Each responder's own count of established SAs must equal
the generator's, or the row is marked. What each responder does per SA is stated in
bench/e2e_responders.py.

``python -m bench e2e [--quick] [--clients=N] [--concurrency=C] [--json=FILE]`` (the
bench runner hands modules only the arguments that start with "-": write them with "=")
Needs root, iproute2, taskset and Debian's strongSwan (charon, swanctl); without them it
says what is missing and runs nothing. Traffic stays inside the namespaces it creates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROPOSALS = [  # (label, IKE proposal, SAs in a full run, SAs with --quick)
    ("x25519", "aes128-sha256-x25519", 3000, 200),
    ("ecp256", "aes128-sha256-ecp256", 3000, 200),
    ("modp2048", "aes128-sha256-modp2048", 1000, 60),
]
GENERATOR_CPU, RESPONDER_CPU = 0, 1
CONCURRENCY = 64  # like LAB.md §10's init_limit
REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    clients = _opt(argv, "--clients", int)
    concurrency = _opt(argv, "--concurrency", int) or CONCURRENCY
    json_path = _opt(argv, "--json", str)
    missing = _missing()
    print("\n== end-to-end: IKEv2 PSK set-ups, ikesrv vs strongSwan's charon "
          f"({'quick' if quick else 'full'})")
    if missing:
        print(f"skipped: {missing}")
        return 0
    from tests.harness.cleanup import Cleanup
    from tests.harness.netns import Topology
    from tests.harness.strongswan import charon_version

    from . import e2e_responders as resp

    cpus = os.cpu_count() or 1
    gen_cpu, resp_cpu = (GENERATOR_CPU, RESPONDER_CPU) if cpus >= 2 else (0, 0)
    print(f"generator on CPU {gen_cpu}, responder on CPU {resp_cpu}; concurrency "
          f"{concurrency}; charon {charon_version()} (kernel-libipsec, install_routes=no, "
          "ikesa_table 4096/16, dos_protection=no, no logging); ikesrv 1 worker, "
          "kernel backend none")
    rows = []
    with Cleanup() as cleanup:
        topo = Topology.build(cleanup, nat=False)
        work = Path(tempfile.mkdtemp(prefix="ikb-e2e-"))
        cleanup.push(f"remove {work}", lambda: shutil.rmtree(work, ignore_errors=True))
        psk_file = work / "psk"
        psk_file.write_text(resp.PSK + "\n")
        for label, proposal, full_n, quick_n in PROPOSALS:
            n = clients or (quick_n if quick else full_n)
            for name, start in RESPONDERS:
                row = run_one(topo, cleanup, work, psk_file, resp, name, start, label,
                              proposal, n, concurrency, gen_cpu, resp_cpu)
                rows.append(row)
                print(format_row(row), flush=True)
    print(summary(rows))
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=2) + "\n")
    bad = [r for r in rows if not r["ok"]]
    return 1 if bad else 0


def _start_ikesrv(resp, ns, cleanup, proposal, cpu):
    return resp.start_ikesrv(ns, cleanup, [proposal], cpu=cpu, workers=1)


def _start_charon(resp, ns, cleanup, proposal, cpu):
    return resp.start_charon(ns, cleanup, [proposal], cpu=cpu)


#: (row name, starter). "ikesrv (all workers)" joins here with the multi-process server.
RESPONDERS = [("ikesrv 1w", _start_ikesrv), ("charon", _start_charon)]


def run_one(topo, cleanup, work: Path, psk_file: Path, resp, name: str, start, label: str,
            proposal: str, n: int, concurrency: int, gen_cpu: int, resp_cpu: int) -> dict:
    from tests.harness.netns import GW_ADDR
    from tests.harness.proc import netns_argv

    responder = start(resp, topo.gw, cleanup, proposal, resp_cpu)
    report_path = work / f"{name.split()[0]}-{label}.json"
    argv = ["taskset", "-c", str(gen_cpu), sys.executable, "-m", "ikesrv", "load",
            "--target", GW_ADDR, "--clients", str(n), "--concurrency", str(concurrency),
            "--proposal", proposal, "--esp-proposal", resp.ESP, "--psk-file", str(psk_file),
            "--local-id", f"c{{n}}@{label}.load.test", "--timeout", str(max(60, n // 20)),
            "--no-progress", "--json", str(report_path)]
    argv[argv.index("--no-progress")] = "--progress"  # one line a second on the pipe
    samples = []  # (SAs up by the generator's count, responder CPU ticks) once a second
    try:
        c0 = responder.cpu_ticks()
        t0 = time.monotonic()
        proc = subprocess.Popen(netns_argv(topo.cl.name, argv), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=str(REPO),
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            for line in proc.stderr:  # ends when the generator exits (bounded by --timeout)
                up = line.split("/", 1)[0].strip()
                if up.isdigit():
                    samples.append((int(up), responder.cpu_ticks()))
            out = proc.stdout.read()
            proc.wait(timeout=max(60, n // 20) + 60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        wall = time.monotonic() - t0
        c1 = responder.cpu_ticks()
        try:
            report = json.loads(report_path.read_text())
        except (OSError, ValueError):
            raise RuntimeError(f"ikesrv load gave no report (exit {proc.returncode}):\n"
                               f"{out[-2000:]}") from None
        seen = responder.established()
    finally:
        responder.stop()
    early, late = growth(samples, c0, n, resp.CLK_TCK)
    est = report["established"]
    cpu_s = (c1 - c0) / resp.CLK_TCK
    setup_s = report["setup_s"] or wall
    return {
        "responder": name, "proposal": label, "ike_proposal": proposal, "clients": n,
        "established": est, "failed": report["failed"], "unfinished": report["unfinished"],
        "responder_established": seen,
        "ok": est == n and seen == est,
        "setups_per_s": report["setups_per_s"],
        "latency_ms": report["latency_ms"],
        "responder_cpu_s": round(cpu_s, 3),
        "responder_ms_per_sa": round(cpu_s * 1e3 / est, 4) if est else None,
        "responder_util": round(cpu_s / setup_s, 3) if setup_s else None,
        "generator_ms_per_sa": report["generator_cpu_ms_per_sa"],
        "responder_ms_per_sa_first_half": early,
        "responder_ms_per_sa_second_half": late,
        "retransmissions": report["retransmissions"],
        "failures": report["failures"],
    }


def growth(samples: list, c0: int, n: int, clk_tck: int) -> tuple:
    """Responder ms/SA over the first and the second half of the SAs, from the samples
    nearest to n/2: whether the cost per SA grows with the SAs already held."""
    if len(samples) < 3:
        return None, None
    mid = min(samples, key=lambda s: abs(s[0] - n / 2))
    last = samples[-1]
    if not 0 < mid[0] < last[0]:
        return None, None
    first = (mid[1] - c0) / clk_tck * 1e3 / mid[0]
    second = (last[1] - mid[1]) / clk_tck * 1e3 / (last[0] - mid[0])
    return round(first, 4), round(second, 4)


def format_row(r: dict) -> str:
    ms = f"{r['responder_ms_per_sa']:.3f}" if r["responder_ms_per_sa"] else "-"
    gen = f"{r['generator_ms_per_sa']:.3f}" if r["generator_ms_per_sa"] else "-"
    util = f"{100 * r['responder_util']:.0f}%" if r["responder_util"] else "-"
    flag = "" if r["ok"] else (f"  !! established {r['established']}/{r['clients']}, responder "
                               f"says {r['responder_established']}, failures {r['failures']}")
    if r["ok"] and r["generator_ms_per_sa"] and r["responder_ms_per_sa"] \
            and r["generator_ms_per_sa"] >= r["responder_ms_per_sa"]:
        flag += "  (generator used more CPU per SA than the responder)"
    halves = ""
    if r["responder_ms_per_sa_first_half"] is not None:
        halves = (f" ({r['responder_ms_per_sa_first_half']:.2f}→"
                  f"{r['responder_ms_per_sa_second_half']:.2f})")
    return (f"{r['proposal']:<9} {r['responder']:<10} {r['established']:>6} SAs "
            f"{r['setups_per_s']:>7.1f}/s  resp {ms:>6} ms/SA{halves:<13} util {util:>4}  "
            f"gen {gen:>6} ms/SA  p50 {r['latency_ms']['p50']:>7.1f} ms  "
            f"p99 {r['latency_ms']['p99']:>7.1f} ms  rtx {r['retransmissions']}{flag}")


def summary(rows: list[dict]) -> str:
    lines = ["", "ratios ikesrv/charon (setups/s: above 1 is faster; ms/SA: below 1 is "
             "cheaper)"]
    by = {(r["proposal"], r["responder"]): r for r in rows}
    for label, *_ in PROPOSALS:
        theirs = by.get((label, "charon"))
        for name, _ in RESPONDERS:
            if name == "charon":
                continue
            ours = by.get((label, name))
            if not ours or not theirs or not ours["ok"] or not theirs["ok"]:
                lines.append(f"{label:<9} {name:<10} n/a (a run did not complete)")
                continue
            rate = ours["setups_per_s"] / theirs["setups_per_s"]
            cpu = ours["responder_ms_per_sa"] / theirs["responder_ms_per_sa"]
            lines.append(f"{label:<9} {name:<10} setups/s {rate:5.2f}x   CPU per SA "
                         f"{cpu:5.2f}x  ({ours['responder_ms_per_sa']:.3f} vs "
                         f"{theirs['responder_ms_per_sa']:.3f} ms)")
    return "\n".join(lines)


def _opt(argv: list[str], name: str, kind):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return kind(argv[i + 1])
        if a.startswith(name + "="):
            return kind(a.split("=", 1)[1])
    return None


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, CPU pinning of daemons)"
    from tests.harness.strongswan import DEBIAN_CHARON
    for tool, package in (("ip", "iproute2"), ("taskset", "util-linux"),
                          (DEBIAN_CHARON, "strongswan-charon"),
                          ("swanctl", "strongswan-swanctl")):
        found = os.access(tool, os.X_OK) if os.path.isabs(tool) else shutil.which(
            tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if not found:
            return f"{tool} not found (Debian package {package}; `make lab` installs it)"
    plugin = "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"
    if not os.path.exists(plugin):
        return f"{plugin} not found (libcharon-extra-plugins; `make lab` installs it)"
    return None
