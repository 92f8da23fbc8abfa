"""End-to-end: ikesrv against strongSwan's charon under the same load generator, in one run.

For each variant (IKEv2 PSK with X25519 first: the headline, 5,000 SAs; then ECP-256 and
MODP-2048; IKEv2 EAP-MSCHAPv2; IKEv1 Main Mode PSK; IKEv1 Aggressive Mode + XAuth; every
client gets a virtual IP, by CP or Mode Config) and each responder (``ikesrv serve`` with
1 worker; for the headline also one worker per CPU; charon tuned as LAB.md §10, as
"charon fake" with the load-tester's fake_kernel (installs nothing, like ikesrv's backend
"none": the like-for-like baseline; built by bench/build-charon-fake-kernel.sh, the row
is left out until then) and as "charon" with kernel-libipsec), a fresh
responder starts in the gateway namespace of a topology this bench creates (and removes),
pinned to CPU 1; ``ikesrv load`` runs in the client namespace pinned to CPU 0 with the
same options for every responder of a variant; the figures are:

  setups/s          the generator's count of SAs up / its set-up phase (first start to
                    last SA up)
  resp ms/SA        utime + stime of the responder's processes (/proc/PID/stat, all
                    threads; ikesrv: supervisor and workers) over the run / SAs established
  gen ms/SA         the generator's own CPU (getrusage) / SAs established: it must stay
                    below the responder's, or the responder was not the limit
  (a→b)             resp ms/SA over the first half of the SAs and over the second half
                    (sampled once a second from the generator's progress line): a cost
                    that grows with the SAs held shows here (charon's kernel-libipsec
                    keeps its SAD in a linked list searched on every install)
  resp util         the responder's CPU time / the set-up phase: near 100 % = saturated
  mem KiB/SA        growth of the responder's resident memory (VmRSS of its processes)
                    from before the run to after it, with every SA still held / SAs

and the ratios ikesrv/charon, for the headline also against charon's first-half cost.
Each responder's own count of established SAs must equal the generator's, or the row is
marked. The EAP rows: ikesrv with its users in slapd ("ldap": tests.harness.slapd in the
gateway namespace; its own CPU is not counted, as a directory is another machine's work)
and in the users file ("file"); charon with swanctl EAP secrets (it has no LDAP user
backend). The "all workers" row is not pinned: on a 2-CPU machine its workers share the
generator's CPU, so it shows the cost of running N workers, not their scaling. What each
responder does per SA is stated in bench/e2e_responders.py.

``python -m bench e2e [--quick] [--clients=N] [--concurrency=C] [--only=LABEL,...]
[--baseline=TREE] [--repeat=N] [--json=FILE]`` (``--baseline``: an earlier ikesrv tree,
e.g. from ``git archive``, whose one-worker rows, named "base", run beside today's;
``--repeat``: every row N times, round robin, and the ratios from the median runs: this
machine's speed drifts by tens of percent within minutes). The bench runner hands
modules only the arguments that start with "-": write them with "=". Needs root,
iproute2, taskset and Debian's strongSwan (charon, swanctl); without them it says what
is missing and runs nothing; without slapd the "ldap" row says why it is skipped.
Memory per SA means something only with thousands of SAs (the headline's 5,000).
Traffic stays inside the namespaces it creates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .e2e_responders import Setup
from .timing import option


@dataclass(frozen=True)
class Variant:
    """One group of rows: what the clients do, and how many SAs they set up."""

    label: str
    proposal: str  # IKE proposal
    full_n: int  # SAs in a full run
    quick_n: int  # SAs with --quick
    setup: Setup = Setup()
    all_workers: bool = False  # also an "all workers" ikesrv row


VARIANTS = [
    # the headline: 5,000 SAs, so that the memory per SA is measured with 5,000 held
    Variant("x25519", "aes128-sha256-x25519", 5000, 200, all_workers=True),
    Variant("ecp256", "aes128-sha256-ecp256", 3000, 200),
    Variant("modp2048", "aes128-sha256-modp2048", 1000, 60),
    Variant("eap-mschapv2", "aes128-sha256-x25519", 2000, 100, Setup(auth="eap-mschapv2")),
    Variant("ikev1-mm", "aes128-sha256-x25519", 2000, 100, Setup(version=1)),
    Variant("ikev1-am-xauth", "aes128-sha256-x25519", 1000, 60,
            Setup(version=1, auth="xauth", aggressive=True)),
]
GENERATOR_CPU, RESPONDER_CPU = 0, 1
CONCURRENCY = 64  # like LAB.md §10's init_limit
REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    clients = option(argv, "--clients", int)
    concurrency = option(argv, "--concurrency", int) or CONCURRENCY
    json_path = option(argv, "--json", str)
    only = option(argv, "--only", str)  # comma-separated variant labels
    repeat = max(1, option(argv, "--repeat", int) or 1)
    baseline = option(argv, "--baseline", str)  # an earlier tree: its rows come first
    if baseline and not (Path(baseline) / "ikesrv" / "__main__.py").is_file():
        print(f"--baseline {baseline}: no ikesrv package there")
        return 2
    missing = _missing()
    print("\n== end-to-end: set-ups, ikesrv vs strongSwan's charon "
          f"({'quick' if quick else 'full'})")
    if missing:
        print(f"skipped: {missing}")
        return 0
    from tests.harness.cleanup import Cleanup
    from tests.harness.netns import Topology
    from tests.harness.pki import make_pki
    from tests.harness.strongswan import charon_version

    from . import e2e_responders as resp

    cpus = os.cpu_count() or 1
    gen_cpu, resp_cpu = (GENERATOR_CPU, RESPONDER_CPU) if cpus >= 2 else (0, 0)
    print(f"generator on CPU {gen_cpu}, responder on CPU {resp_cpu}; concurrency "
          f"{concurrency}; charon {charon_version()} (install_routes=no, "
          "ikesa_table 4096/16, dos_protection=no, no logging; 'charon fake': load-tester's "
          "fake_kernel, " + ("built" if os.access(resp.FAKE_KERNEL_CHARON, os.X_OK) else
                             "NOT BUILT: run bench/build-charon-fake-kernel.sh") +
          "; 'charon': kernel-libipsec); ikesrv 1 worker, "
          f"kernel backend none; 'ikesrv {cpus}w' = one worker per CPU, NOT pinned: on "
          f"{cpus} CPUs they share CPU {gen_cpu} with the generator (no scaling shows)")
    variants = [v for v in VARIANTS if not only or v.label in only.split(",")]
    rows, every = [], []
    with Cleanup() as cleanup:
        topo = Topology.build(cleanup, nat=False)
        work = Path(tempfile.mkdtemp(prefix="ikb-e2e-"))
        cleanup.push(f"remove {work}", lambda: shutil.rmtree(work, ignore_errors=True))
        psk_file = work / "psk"
        psk_file.write_text(resp.PSK + "\n")
        password_file = work / "password"
        password_file.write_text(resp.USER_PASSWORD + "\n")
        pki = None
        for v in variants:
            n = clients or (v.quick_n if quick else v.full_n)
            ctx = {"pki": pki, "users": n, "ldap_uri": "", "why_not": {}}
            if v.setup.auth == "eap-mschapv2":
                ctx["pki"] = pki = pki or make_pki(work / "pki")
                directory = resp.start_slapd(topo.gw, cleanup, n)
                if isinstance(directory, str):
                    ctx["why_not"]["ldap"] = directory
                else:
                    ctx["ldap_uri"] = directory.uri
            runs: dict[str, list] = {}
            for _ in range(repeat):  # round robin: a slow spell hits every responder
                for name, start, pinned in responders_for(v, cpus, baseline):
                    if name.endswith("ldap") and "ldap" in ctx["why_not"]:
                        print(f"{v.label:<14} {name:<15} skipped: {ctx['why_not']['ldap']}")
                        continue
                    row = run_one(topo, cleanup, work, psk_file, password_file, resp, name,
                                  start, v, n, concurrency, gen_cpu,
                                  resp_cpu if pinned else None, ctx)
                    runs.setdefault(name, []).append(row)
                    every.append(row)
                    print(format_row(row), flush=True)
            rows += [median(r) for r in runs.values()]
    if repeat > 1:
        print(f"\nmedians of {repeat} runs (the run with the median responder ms/SA)")
        for row in rows:
            print(format_row(row))
    print(summary(rows, variants))
    if json_path:
        Path(json_path).write_text(json.dumps({"medians": rows, "runs": every}, indent=2) + "\n")
    bad = [r for r in every if not r["ok"]]
    return 1 if bad else 0


def median(runs: list[dict]) -> dict:
    """The run whose responder ms/SA is the median of ``runs`` (a run that did not
    complete counts as the most expensive), marked with how many runs there were."""
    ordered = sorted(runs, key=lambda r: (not r["ok"], r["responder_ms_per_sa"] or 0.0))
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["runs"] = len(runs)
    row["responder_ms_per_sa_all"] = [r["responder_ms_per_sa"] for r in runs]
    return row


def responders_for(v: Variant, cpus: int, baseline: str | None = None) -> list:
    """(row name, starter, pinned to the responder CPU) for one variant, charon last;
    with ``baseline`` (a tree of an earlier ikesrv, extensions built) a "base" row before
    each one-worker ikesrv row: before and after measured in the same sitting."""
    def ikesrv(workers: int, backend: str | None = None, tree: str | None = None):
        setup = dataclasses.replace(v.setup, users_backend=backend)

        def start(resp, ns, cleanup, cpu, ctx):
            with _python_tree(tree):
                return resp.start_ikesrv(ns, cleanup, [v.proposal], cpu=cpu,
                                         workers=workers, setup=setup, pki=ctx["pki"],
                                         users=ctx["users"], ldap_uri=ctx["ldap_uri"])
        return start

    def charon(fake_kernel: bool):
        def start(resp, ns, cleanup, cpu, ctx):
            return resp.start_charon(ns, cleanup, [v.proposal], cpu=cpu, setup=v.setup,
                                     pki=ctx["pki"], users=ctx["users"],
                                     fake_kernel=fake_kernel)
        return start

    if v.setup.auth == "eap-mschapv2":
        rows = [("ikesrv 1w ldap", ikesrv(1, "ldap"), True),
                ("ikesrv 1w file", ikesrv(1, "file"), True)]
    elif v.setup.auth == "xauth":
        rows = [("ikesrv 1w file", ikesrv(1, "file"), True)]
    else:
        rows = [("ikesrv 1w", ikesrv(1), True)]
    if baseline:
        rows = [row for name, start, pinned in rows for row in (
            (name.replace("ikesrv", "base", 1), ikesrv(1, name.split()[-1] if name.endswith(
                ("ldap", "file")) else None, baseline), pinned), (name, start, pinned))]
    if v.all_workers:
        rows.append((f"ikesrv {cpus}w", ikesrv(0), False))
    from .e2e_responders import FAKE_KERNEL_CHARON
    if os.access(FAKE_KERNEL_CHARON, os.X_OK):
        rows.append(("charon fake", charon(True), True))
    return rows + [("charon", charon(False), True)]


@contextlib.contextmanager
def _python_tree(tree: str | None):
    """Start ``python -m ikesrv`` from ``tree`` (it runs from the working directory and
    PYTHONPATH the child inherits at its start), or from this repository when None."""
    if tree is None:
        yield
        return
    cwd, path = os.getcwd(), os.environ.get("PYTHONPATH")
    os.chdir(tree)
    os.environ["PYTHONPATH"] = tree
    try:
        yield
    finally:
        os.chdir(cwd)
        if path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path


def generator_options(v: Variant, psk_file: Path, password_file: Path) -> list[str]:
    """The generator's options for the clients of ``v`` (the same for every responder)."""
    from tests.harness.netns import PROTECTED_NET

    from . import e2e_responders as resp
    opts = ["--version", str(v.setup.version), "--proposal", v.proposal,
            "--esp-proposal", resp.ESP, "--psk-file", str(psk_file),
            "--local-id", f"c{{n}}@{v.label}.load.test"]
    if v.setup.auth == "eap-mschapv2":
        opts += ["--auth", "eap-mschapv2", "--user", "user{n}",
                 "--password-file", str(password_file)]
    elif v.setup.auth == "xauth":
        opts += ["--auth", "xauth", "--user", "user{n}", "--password-file", str(password_file)]
    if v.setup.version == 1:
        opts += ["--remote-ts", PROTECTED_NET]
        if v.setup.aggressive:
            opts.append("--aggressive")
    return opts


def settled_rss_kib(responder, *, interval: float = 0.2, within: int = 256,
                    limit: float = 5.0) -> int:
    """The responder's resident memory once its start-up is over: read until two reads
    ``interval`` apart differ by at most ``within`` KiB (or ``limit`` seconds passed).
    Ready is reported before every worker has settled: a users file's decoy scrypt (16 MiB
    for ~50 ms) caught in the first read made 'before' 16 MiB too high in some runs."""
    last = responder.rss_kib()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = responder.rss_kib()
        if abs(now - last) <= within:
            return now
        last = now
    return last


def run_one(topo, cleanup, work: Path, psk_file: Path, password_file: Path, resp, name: str,
            start, v: Variant, n: int, concurrency: int, gen_cpu: int, resp_cpu: int | None,
            ctx: dict) -> dict:
    from tests.harness.netns import GW_ADDR
    from tests.harness.proc import netns_argv

    responder = start(resp, topo.gw, cleanup, resp_cpu, ctx)
    report_path = work / f"{name.replace(' ', '-')}-{v.label}.json"
    argv = ["taskset", "-c", str(gen_cpu), sys.executable, "-m", "ikesrv", "load",
            "--target", GW_ADDR, "--clients", str(n), "--concurrency", str(concurrency),
            *generator_options(v, psk_file, password_file),
            "--timeout", str(max(60, n // 20)), "--progress", "--json", str(report_path)]
    samples = []  # (SAs up by the generator's count, responder CPU ticks) once a second
    try:
        rss0 = settled_rss_kib(responder)
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
        rss1 = responder.rss_kib()
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
        "responder": name, "proposal": v.label, "ike_proposal": v.proposal, "clients": n,
        "version": v.setup.version, "auth": v.setup.auth,
        "pinned_cpu": resp_cpu,
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
        "rss_kib_before": rss0, "rss_kib_after": rss1,
        "kib_per_sa": round((rss1 - rss0) / est, 2) if est else None,
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
    mem = f"{r['kib_per_sa']:.1f}" if r.get("kib_per_sa") is not None else "-"
    flag = "" if r["ok"] else (f"  !! established {r['established']}/{r['clients']}, responder "
                               f"says {r['responder_established']}, failures {r['failures']}")
    if r["ok"] and r["generator_ms_per_sa"] and r["responder_ms_per_sa"] \
            and r["generator_ms_per_sa"] >= r["responder_ms_per_sa"]:
        flag += "  (generator used more CPU per SA than the responder)"
    halves = ""
    if r["responder_ms_per_sa_first_half"] is not None:
        halves = (f" ({r['responder_ms_per_sa_first_half']:.2f}→"
                  f"{r['responder_ms_per_sa_second_half']:.2f})")
    return (f"{r['proposal']:<14} {r['responder']:<15} {r['established']:>5} SAs "
            f"{r['setups_per_s']:>7.1f}/s  resp {ms:>6} ms/SA{halves:<13} util {util:>4}  "
            f"gen {gen:>6} ms/SA  mem {mem:>5} KiB/SA  p50 {r['latency_ms']['p50']:>6.1f} ms  "
            f"p99 {r['latency_ms']['p99']:>7.1f} ms  rtx {r['retransmissions']}{flag}")


BASELINES = {
    "charon fake": "ratios ikesrv/charon fake, the like-for-like baseline: neither installs "
                   "SAs (setups/s: above 1 is faster; CPU and memory per SA: below 1 is "
                   "cheaper)",
    "charon": "ratios ikesrv/charon with kernel-libipsec (charon installs every SA in user "
              "space, ikesrv none; 'first half': against charon's cost over its first n/2 "
              "SAs, before its libipsec SAD list grows)",
}


def summary(rows: list[dict], variants=VARIANTS) -> str:
    by = {(r["proposal"], r["responder"]): r for r in rows}
    lines: list[str] = []
    for baseline, title in BASELINES.items():
        if any(r["responder"] == baseline for r in rows):
            lines += ["", title]
            lines += _ratios(rows, variants, by, baseline)
    before = [(r, by.get((r["proposal"], r["responder"].replace("ikesrv", "base", 1))))
              for r in rows if r["responder"].startswith("ikesrv")]
    before = [(r, b) for r, b in before if b and r["ok"] and b["ok"]]
    if before:
        lines += ["", "ikesrv today / the baseline tree (same sitting; below 1 is cheaper)"]
        for r, b in before:
            lines.append(f"{r['proposal']:<14} {r['responder']:<15} CPU per SA "
                         f"{r['responder_ms_per_sa'] / b['responder_ms_per_sa']:5.2f}x "
                         f"({r['responder_ms_per_sa']:.3f} vs {b['responder_ms_per_sa']:.3f} ms)"
                         f"  setups/s {r['setups_per_s'] / b['setups_per_s']:5.2f}x")
    return "\n".join(lines)


def _ratios(rows: list[dict], variants, by: dict, baseline: str) -> list[str]:
    lines = []
    for v in variants:
        theirs = by.get((v.label, baseline))
        for r in rows:
            if r["proposal"] != v.label or r["responder"].startswith("charon"):
                continue
            name = r["responder"]
            if not theirs or not r["ok"] or not theirs["ok"]:
                lines.append(f"{v.label:<14} {name:<15} n/a (a run did not complete)")
                continue
            rate = r["setups_per_s"] / theirs["setups_per_s"]
            cpu = r["responder_ms_per_sa"] / theirs["responder_ms_per_sa"]
            text = (f"{v.label:<14} {name:<15} setups/s {rate:5.2f}x   CPU per SA {cpu:5.2f}x "
                    f"({r['responder_ms_per_sa']:.3f} vs {theirs['responder_ms_per_sa']:.3f} ms)")
            first = theirs.get("responder_ms_per_sa_first_half")
            if first and baseline == "charon":
                text += (f"  first half {r['responder_ms_per_sa'] / first:5.2f}x "
                         f"(vs {first:.3f} ms)")
            if r.get("kib_per_sa") and theirs.get("kib_per_sa"):
                text += (f"  memory {r['kib_per_sa'] / theirs['kib_per_sa']:5.2f}x "
                         f"({r['kib_per_sa']:.1f} vs {theirs['kib_per_sa']:.1f} KiB/SA)")
            lines.append(text)
    return lines


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
