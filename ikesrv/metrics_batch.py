"""Core events gathered in a worker and handed to the metrics a few times a second.

Owns: ``MetricsBatch``: counts of equal events (the events are frozen dataclasses, so
equal events are one key; an established SA counts under its version, method and suite,
its handshake duration is kept one by one for the histogram), the last usage of each
pool (a gauge set: only the latest value matters), and ``flush``, which hands all of it
to ikesrv.metrics.Metrics.

Why (DESIGN §9): in prometheus-client's multiprocess mode every ``inc``/``set`` checks the
PID and writes the value into an mmap'ed file under a lock; with some fifteen updates per
SA (messages in and out, state changes, auth, CHILD SA, pool usage, handshake) that was
about 10 % of a worker's CPU under load (~50 µs per IKEv2 PSK SA, py-spy under
bench/bench_e2e.py); counted here, one update per distinct series per flush remains
(~3 %, most of it the handshake histogram). The price: /metrics lags the core by at
most the worker's flush delay (ikesrv.server.worker.METRICS_FLUSH_DELAY), far below any
scrape interval.

Imports ikesrv.events only; knows nothing of prometheus-client.
"""

from __future__ import annotations

from . import events as ev


class MetricsBatch:
    """Events waiting for the next flush."""

    __slots__ = ("counts", "established", "durations", "pools")

    def __init__(self) -> None:
        self.counts: dict = {}
        self.established: dict[tuple, int] = {}  # (version, auth, suite) -> SAs
        self.durations: dict[int, list[float]] = {}  # version -> handshake durations
        self.pools: dict[str, ev.PoolUsage] = {}

    def __len__(self) -> int:
        return len(self.counts) + len(self.established) + len(self.pools)

    def add(self, e) -> None:
        t = type(e)
        if t is ev.IkeSaEstablished:
            key = (e.version, e.auth, e.suite)
            self.established[key] = self.established.get(key, 0) + 1
            self.durations.setdefault(e.version, []).append(e.duration)
        elif t is ev.PoolUsage:
            self.pools[e.pool] = e
        else:
            counts = self.counts
            counts[e] = counts.get(e, 0) + 1

    def flush(self, metrics) -> None:
        """Hand everything gathered to ``metrics`` (an ikesrv.metrics.Metrics) and start over."""
        counts, established, durations, pools = (self.counts, self.established,
                                                 self.durations, self.pools)
        self.counts, self.established, self.durations, self.pools = {}, {}, {}, {}
        for e, n in counts.items():
            metrics.observe(e, n)
        for (version, auth, suite), n in established.items():
            metrics.established_sas(version, auth, suite, n)
        for version, seconds in durations.items():
            metrics.handshakes(version, seconds)
        for e in pools.values():
            metrics.observe(e)
