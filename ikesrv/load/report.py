"""The load generator's results: what one process measured, merged over processes, and
the report printed at the end (text, or JSON with a fixed schema).

Owns: ``ProcessResult`` (counts, latencies, failures by reason, rekey/liveness/delete
outcomes, CPU used, times of the first start and the last set-up), its JSON form for the
pipe between generator processes, ``Report`` (the merge and the derived figures: set-ups
per second, latency percentiles, CPU per SA), ``reason_key`` (a failure text reduced to a
stable reason: the notify's name when the responder sent one), and the progress line.

Imports only the standard library; nothing here knows IKE beyond notify names in text.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field

SCHEMA = "ikesrv-load/1"

#: an IANA notify name inside a failure text, e.g. "IKE_AUTH refused: AUTHENTICATION_FAILED"
_NOTIFY_NAME = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")
#: the exchange names that are not reasons in themselves
_EXCHANGES = {"IKE_SA_INIT", "IKE_AUTH", "CREATE_CHILD_SA", "CHILD_SA"}


def reason_key(text: str) -> str:
    """A failure text reduced to the reason counted in the report.

    The responder's error notify when the text names one (``AUTHENTICATION_FAILED``,
    ``NO_PROPOSAL_CHOSEN``, ...); the text up to its first colon otherwise, so that
    variable details (an offset, an address) do not split one reason into many.
    """
    for name in _NOTIFY_NAME.findall(text):
        if name not in _EXCHANGES:
            return name
    return text.split(":", 1)[0].strip() or "unknown"


@dataclass
class ProcessResult:
    """What one generator process did. Times are the generator's monotonic clock."""

    clients: int = 0  # client numbers given to this process
    started: int = 0  # set-ups begun
    established: int = 0  # IKE SA with its first CHILD SA
    failed: int = 0
    unfinished: int = 0  # begun, neither established nor failed when the run ended
    retransmissions: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, one per established SA
    failures: dict[str, int] = field(default_factory=dict)  # reason_key -> count
    failure_examples: dict[str, str] = field(default_factory=dict)  # reason_key -> one text
    rekeys_child: list[int] = field(default_factory=lambda: [0, 0])  # [ok, failed]
    rekeys_ike: list[int] = field(default_factory=lambda: [0, 0])
    liveness: list[int] = field(default_factory=lambda: [0, 0])  # our DPD: [answered, lost]
    deleted: int = 0  # SAs we deleted at the end of --hold, answered
    deleted_by_peer: int = 0  # SAs the responder deleted while we held them
    peer_requests: int = 0  # requests from the responder that we answered
    t_start: float = 0.0  # when the first set-up began
    t_last: float = 0.0  # when the last SA was established
    t_end: float = 0.0  # when this process stopped
    cpu_s: float = 0.0  # user + system CPU of this process during the run
    timed_out: bool = False  # the global --timeout ended the run

    def fail(self, text: str) -> None:
        key = reason_key(text)
        self.failed += 1
        self.failures[key] = self.failures.get(key, 0) + 1
        self.failure_examples.setdefault(key, text)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ProcessResult:
        return cls(**json.loads(text))


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0..100) of already sorted values; 0 if none."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Report:
    """The run's report: the options that shaped it and the merged process results."""

    options: dict
    parts: list[ProcessResult]
    cpu_parent_s: float = 0.0  # the coordinating process, when there were several

    def merged(self) -> ProcessResult:
        total = ProcessResult()
        starts = [p.t_start for p in self.parts if p.started]
        total.t_start = min(starts) if starts else 0.0
        total.t_last = max((p.t_last for p in self.parts), default=0.0)
        total.t_end = max((p.t_end for p in self.parts), default=0.0)
        for p in self.parts:
            for name in ("clients", "started", "established", "failed", "unfinished",
                         "retransmissions", "deleted", "deleted_by_peer", "peer_requests"):
                setattr(total, name, getattr(total, name) + getattr(p, name))
            total.latencies += p.latencies
            for k, v in p.failures.items():
                total.failures[k] = total.failures.get(k, 0) + v
            for k, v in p.failure_examples.items():
                total.failure_examples.setdefault(k, v)
            for name in ("rekeys_child", "rekeys_ike", "liveness"):
                a, b = getattr(total, name), getattr(p, name)
                setattr(total, name, [a[0] + b[0], a[1] + b[1]])
            total.cpu_s += p.cpu_s
            total.timed_out |= p.timed_out
        total.cpu_s += self.cpu_parent_s
        return total

    def to_dict(self) -> dict:
        m = self.merged()
        lat = sorted(m.latencies)
        # set-ups per second over the set-up phase: first start to last establishment
        span = m.t_last - m.t_start if m.established else 0.0
        return {
            "schema": SCHEMA,
            "options": self.options,
            "processes": len(self.parts),
            "clients": m.clients,
            "started": m.started,
            "established": m.established,
            "failed": m.failed,
            "unfinished": m.unfinished,
            "timed_out": m.timed_out,
            "duration_s": round(max(0.0, m.t_end - m.t_start), 6),
            "setup_s": round(span, 6),
            "setups_per_s": round(m.established / span, 3) if span > 0 else 0.0,
            "latency_ms": {
                "p50": round(percentile(lat, 50) * 1e3, 3),
                "p95": round(percentile(lat, 95) * 1e3, 3),
                "p99": round(percentile(lat, 99) * 1e3, 3),
                "max": round(lat[-1] * 1e3, 3) if lat else 0.0,
                "mean": round(sum(lat) / len(lat) * 1e3, 3) if lat else 0.0,
            },
            "failures": dict(sorted(m.failures.items(), key=lambda kv: -kv[1])),
            "failure_examples": m.failure_examples,
            "retransmissions": m.retransmissions,
            "rekeys": {"child": {"ok": m.rekeys_child[0], "failed": m.rekeys_child[1]},
                       "ike": {"ok": m.rekeys_ike[0], "failed": m.rekeys_ike[1]}},
            "liveness": {"answered": m.liveness[0], "lost": m.liveness[1]},
            "deleted": m.deleted,
            "deleted_by_peer": m.deleted_by_peer,
            "peer_requests": m.peer_requests,
            "generator_cpu_s": round(m.cpu_s, 6),
            "generator_cpu_ms_per_sa": round(m.cpu_s * 1e3 / m.established, 4)
            if m.established else None,
        }


def format_text(d: dict) -> str:
    """The report of ``Report.to_dict()`` for a terminal."""
    o = d["options"]
    lat = d["latency_ms"]
    lines = [
        f"target {o['target']}:{o['port']}  IKEv{o['version']} {o['auth']}  "
        f"{','.join(o['proposals'])} / {','.join(o['esp_proposals'])}",
        f"clients {d['clients']}  started {d['started']}  established {d['established']}  "
        f"failed {d['failed']}  unfinished {d['unfinished']}"
        + ("  (stopped by --timeout)" if d["timed_out"] else ""),
        f"set-ups/s {d['setups_per_s']:.1f}  (set-up phase {d['setup_s']:.2f} s, "
        f"whole run {d['duration_s']:.2f} s, {d['processes']} process"
        f"{'es' if d['processes'] != 1 else ''})",
        f"latency ms  p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}  "
        f"max {lat['max']:.1f}",
        f"retransmissions {d['retransmissions']}",
    ]
    rk = d["rekeys"]
    if rk["child"]["ok"] or rk["child"]["failed"] or rk["ike"]["ok"] or rk["ike"]["failed"]:
        lines.append(f"rekeys  CHILD ok {rk['child']['ok']} failed {rk['child']['failed']}  "
                     f"IKE ok {rk['ike']['ok']} failed {rk['ike']['failed']}")
    lv = d["liveness"]
    if lv["answered"] or lv["lost"]:
        lines.append(f"liveness checks answered {lv['answered']} lost {lv['lost']}")
    if d["deleted"] or d["deleted_by_peer"]:
        lines.append(f"deleted {d['deleted']}  deleted by the responder {d['deleted_by_peer']}")
    cpu = d["generator_cpu_ms_per_sa"]
    lines.append(f"generator CPU {d['generator_cpu_s']:.2f} s"
                 + (f" = {cpu:.3f} ms per established SA" if cpu is not None else ""))
    if d["failures"]:
        lines.append("failures by reason:")
        for reason, count in d["failures"].items():
            example = d["failure_examples"].get(reason, "")
            extra = f"  (e.g. {example})" if example and example != reason else ""
            lines.append(f"  {count:>8}  {reason}{extra}")
    return "\n".join(lines) + "\n"


def progress_line(counts: dict, elapsed: float, total: int) -> str:
    """One progress line; ``counts``: started, established, failed, in_flight, retransmissions."""
    rate = counts["established"] / elapsed if elapsed > 0 else 0.0
    return (f"{counts['established']:>7}/{total} up  {counts['in_flight']:>5} in flight  "
            f"{counts['failed']:>6} failed  {counts['retransmissions']:>6} retransmitted  "
            f"{rate:8.1f}/s  {elapsed:6.1f}s")
