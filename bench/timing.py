"""Timing and option helpers shared by the benchmarks: ns per call, best of several repeats.

Best-of-N per-call time is the figure least disturbed by the other core's load; every
benchmark measures ours and the baseline in the same run so that ratios are comparable.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def ns_per_call(fn: Callable[[], object], *, min_time: float = 0.2, repeats: int = 5) -> float:
    """Nanoseconds per call of ``fn()``: calibrated loop count, best of ``repeats``."""
    n = 1
    while True:  # calibrate: enough calls to last min_time / repeats
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter_ns() - t0
        if elapsed >= min_time * 1e9 / repeats or n >= 1 << 24:
            break
        n *= 2
    best = elapsed / n
    for _ in range(repeats - 1):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def row(name: str, ours_ns: float, ref_ns: float) -> str:
    """One line of a comparison table: µs/op for ours and the reference, and the speed-up."""
    return f"{name:<40} {ours_ns / 1000:>10.2f} µs {ref_ns / 1000:>10.2f} µs {ref_ns / ours_ns:>7.2f}x"


def header(title: str) -> str:
    return f"\n== {title}\n{'operation':<40} {'ikesrv':>13} {'reference':>13} {'speed-up':>8}"


def option(argv: list[str], name: str, kind):
    """The value of ``--name=VALUE`` (or ``--name VALUE``) in ``argv`` as ``kind``, or None."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return kind(argv[i + 1])
        if a.startswith(name + "="):
            return kind(a.split("=", 1)[1])
    return None
