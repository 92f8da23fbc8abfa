"""Machine instructions per SA set-up, counted by valgrind (callgrind), not timed.

The set-ups of bench core (IKEv2 PSK IKE_SA_INIT + IKE_AUTH with a virtual IP and the
first CHILD SA; IKEv1 Main Mode + Mode Config + Quick Mode), responder and initiator in
one process with no I/O, run under callgrind twice: N1 and N2 set-ups. The difference of
the two totals over N2 - N1 is the count per SA, startup and imports cancelled out.

Why counts: CPU time on these shared machines drifts by ±30 % between sittings (see the
e2e figures), so a change of a few per cent shows only as an instruction count, which
is the same in any sitting to within ±0.1 % (the hash seed is fixed, and one uncounted
set-up first caches every module's byte code). ``--baseline=TREE`` (an earlier ikesrv
tree with its extensions built, e.g. from ``git archive``) is counted the same way and
the ratio printed. The counts are not times: valgrind's simulated CPU lacks SHA-NI and
ADX, so SHA-256 and X25519 take more instructions than on the real processor (about half
of the count here); the same holds for both trees, and the Python-level work, which
changes with ikesrv's code, is counted as it runs. The cyclic garbage collector is off
during the runs: with a worker's settings (ikesrv.gc_policy) it collects once per ~1,500
SAs, millions of instructions at a time, so whether a collection falls into one run or
the other would decide the figure; bench core's timings include it.

``python -m bench instructions [--quick] [--baseline=TREE]`` (needs valgrind)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .timing import option

REPO = Path(__file__).resolve().parent.parent
CASES = [("IKEv2 PSK x25519", 2), ("IKEv1 Main Mode PSK x25519", 1)]
PROPOSAL = "aes128-sha256-x25519"
COUNTS = (100, 300)  # N1, N2 set-ups
QUICK_COUNTS = (50, 100)

CHILD = """
import sys
tree, version, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, tree)
import ikesrv
assert ikesrv.__file__.startswith(tree), ikesrv.__file__
from bench import bench_core
import gc
from ikesrv import gc_policy
gc_policy.tune()
gc.disable()  # its collections come in quanta of ~50,000 objects: see the module doc
bench_core.run({proposal!r}, n, version=version)
"""


def count(tree: Path, version: int, n: int, *, valgrind: bool = True) -> subprocess.Popen:
    """A callgrind run of ``n`` set-ups with ``tree``'s ikesrv (started, not awaited)."""
    tool = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] if valgrind else []
    return subprocess.Popen(
        [*tool, sys.executable, "-c", CHILD.format(proposal=PROPOSAL), str(tree), str(version),
         str(n)],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def compile_first(tree: Path, version: int) -> None:
    """One set-up without valgrind, so that every module's byte code is cached before
    the counted runs: the two run at once, and compiling a source changed since the
    last run (in one of them only) would otherwise count millions of instructions."""
    run = count(tree, version, 1, valgrind=False)
    _, err = run.communicate()
    if run.returncode != 0:
        raise RuntimeError(f"set-up with {tree} failed: {err[-2000:]}")


def collected(run: subprocess.Popen) -> int:
    _, err = run.communicate()
    found = re.search(r"Collected : (\d+)", err)
    if run.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed ({run.returncode}): {err[-2000:]}")
    return int(found.group(1))


def per_sa(tree: Path, version: int, counts: tuple[int, int]) -> float:
    """Instructions per set-up: both runs at once (one per CPU), then the difference."""
    n1, n2 = counts
    compile_first(tree, version)
    first, second = count(tree, version, n1), count(tree, version, n2)
    return (collected(second) - collected(first)) / (n2 - n1)


def main(argv: list[str]) -> int:
    counts = QUICK_COUNTS if "--quick" in argv else COUNTS
    baseline = option(argv, "--baseline", str)
    print(f"\n== instructions: per SA set-up, both sides, no I/O (callgrind, {counts[1]} - "
          f"{counts[0]} set-ups)")
    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed (Debian: apt install valgrind)")
        return 0
    trees = [("ikesrv", REPO)]
    if baseline:
        base = Path(baseline).resolve()
        if not (base / "ikesrv" / "__main__.py").is_file():
            print(f"--baseline {baseline}: no ikesrv package there")
            return 1
        trees.append(("base", base))
    print(f"{'set-up':<30} " + " ".join(f"{name:>14}" for name, _ in trees)
          + ("   ikesrv/base" if baseline else ""))
    for label, version in CASES:
        figures = [per_sa(tree, version, counts) for _, tree in trees]
        line = f"{label:<30} " + " ".join(f"{f / 1e6:>12.3f} M" for f in figures)
        if baseline:
            line += f"   {figures[0] / figures[1]:>10.3f}x"
        print(line)
    return 0
