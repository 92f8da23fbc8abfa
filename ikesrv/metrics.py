"""Prometheus metrics (DESIGN §6), fed from the core's events.

Owns: every ``ikesrv_*`` series and the mapping from ikesrv.events to them. The core
imports no prometheus code; the worker hands each event to ``Metrics.observe``.
Label values known in advance (versions, states, auth methods, results, reasons,
exchanges, pools) are published at zero from the start, so that dashboards and alerts
see 0 rather than "no data". Labels stay bounded: never a peer, identity or address.

Several processes (DESIGN §4): the supervisor switches prometheus-client to its
multiprocess mode (``enable_multiprocess``) before it forks; each worker's ``Metrics``
then writes its values to files of its own in that directory, the supervisor's
``SupervisorMetrics`` (``ikesrv_workers``, ``ikesrv_worker_restarts_total``) too, and
``/metrics`` is the sum the supervisor's ``multiprocess_registry`` reads from them:
counters and histograms add up over every process that ever ran (a dead worker's counts
stay, so totals never go back), gauges are "live" sums that ``process_dead`` drops when
a worker dies (its replacement publishes its own). The ``worker`` label (worker index,
not PID) keeps the per-worker views that show the balance: SAs and messages.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from . import events as ev
from .constants import ExchangeType, V1ExchangeType

VERSIONS = ("1", "2")
AUTH_METHODS = ("psk", "pubkey", "eap-mschapv2", "eap-gtc", "eap-md5", "xauth")
FAILURE_REASONS = (
    "no_proposal_chosen", "invalid_ke_payload", "invalid_ke_value", "authentication_failed",
    "authorization_failed", "timeout", "malformed", "unexpected_payload",
    "internal_address_failure", "ts_unacceptable", "temporary_failure",
)
INVALID_REASONS = (
    "malformed", "unexpected_payload", "unsupported_critical_payload",
    "invalid_major_version", "unknown_spi", "invalid_message_id", "integrity",
    "invalid_ke_value", "cookie", "rate_limited", "protocol_error",
    "internal_error",  # a datagram made the core raise: a bug (ikesrv.server.worker)
)
EXCHANGES_V2 = tuple(x.name for x in (ExchangeType.IKE_SA_INIT, ExchangeType.IKE_AUTH,
                                      ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL))
EXCHANGES_V1 = tuple(x.name for x in (V1ExchangeType.IDENTITY_PROTECTION,
                                      V1ExchangeType.AGGRESSIVE, V1ExchangeType.INFORMATIONAL,
                                      V1ExchangeType.TRANSACTION, V1ExchangeType.QUICK_MODE))
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The series of one process; ``worker`` labels the per-worker views."""

    def __init__(self, registry: CollectorRegistry | None = None, *, worker: str = "0",
                 pools: tuple[str, ...] = (), ldap_operations: tuple[str, ...] = ("bind", "search")):
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.worker = worker
        self.ike_sas = Gauge("ikesrv_ike_sas", "IKE SAs by state", ["version", "state", "worker"],
                             registry=r, multiprocess_mode="livesum")
        self.child_sas = Gauge("ikesrv_child_sas", "CHILD SAs", ["version", "worker"],
                               registry=r, multiprocess_mode="livesum")
        self.established = Counter("ikesrv_ike_sa_established_total", "IKE SAs established",
                                   ["version", "auth"], registry=r)
        self.suites = Counter("ikesrv_ike_sa_suite_total",
                              "IKE SAs established by the configured proposal that matched",
                              ["version", "suite"], registry=r)
        self.failed = Counter("ikesrv_ike_sa_failed_total", "IKE SA setups that failed",
                              ["version", "reason"], registry=r)
        self.handshake = Histogram("ikesrv_handshake_duration_seconds",
                                   "First request to established", ["version"],
                                   buckets=LATENCY_BUCKETS, registry=r)
        self.rekeys = Counter("ikesrv_rekeys_total", "Rekeys", ["kind", "result"], registry=r)
        self.dpd = Counter("ikesrv_dpd_total", "Liveness checks", ["result"], registry=r)
        self.auth = Counter("ikesrv_auth_total", "Peer authentications", ["method", "result"],
                            registry=r)
        self.ldap = Histogram("ikesrv_ldap_request_duration_seconds", "LDAP requests",
                              ["operation"], buckets=LATENCY_BUCKETS, registry=r)
        self.ldap_errors = Counter("ikesrv_ldap_errors_total", "LDAP requests that failed "
                                   "(directory down, timeout, protocol error)", ["operation"],
                                   registry=r)
        self.messages = Counter("ikesrv_messages_total", "IKE messages",
                                ["direction", "version", "exchange", "worker"], registry=r)
        self.invalid = Counter("ikesrv_invalid_messages_total", "Rejected or dropped messages",
                               ["reason"], registry=r)
        self.cookies = Counter("ikesrv_cookies_sent_total", "COOKIE notifies sent", registry=r)
        self.pool = Gauge("ikesrv_pool_addresses", "Virtual IP pool addresses",
                          ["pool", "state"], registry=r, multiprocess_mode="livesum")
        self.child_bytes = Counter("ikesrv_child_sa_bytes_total", "Bytes carried by CHILD SAs",
                                   ["direction"], registry=r)
        self._publish_zeros(pools, ldap_operations)
        self._pool_seen: dict[str, tuple[int, int]] = {}

    def _publish_zeros(self, pools, ldap_operations) -> None:
        w = self.worker
        for v in VERSIONS:
            for state in (ev.HALF_OPEN, ev.ESTABLISHED):
                self.ike_sas.labels(v, state, w)
            self.child_sas.labels(v, w)
            for a in AUTH_METHODS:
                self.established.labels(v, a)
            for reason in FAILURE_REASONS:
                self.failed.labels(v, reason)
            self.handshake.labels(v)
            for x in EXCHANGES_V2 if v == "2" else EXCHANGES_V1:
                for d in ("in", "out"):
                    self.messages.labels(d, v, x, w)
        for kind in ("ike", "child"):
            for result in ("ok", "failed", "collision_lost"):
                self.rekeys.labels(kind, result)
        for result in ("alive", "dead"):
            self.dpd.labels(result)
        for a in AUTH_METHODS:
            for result in ("success", "failure"):
                self.auth.labels(a, result)
        # per operation, the labelled children (a login observes two or three)
        self._ldap_series = {op: (self.ldap.labels(op), self.ldap_errors.labels(op))
                             for op in ldap_operations}
        for reason in INVALID_REASONS:
            self.invalid.labels(reason)
        for name in pools:
            for state in ("used", "free"):
                self.pool.labels(name, state)
        for d in ("in", "out"):
            self.child_bytes.labels(d)

    def observe(self, e, n: int = 1) -> None:
        """Account one core event, or ``n`` equal ones (ikesrv.metrics_batch)."""
        t = type(e)
        if t is ev.MessageCounted:
            self.messages.labels(e.direction, str(e.version), e.exchange, self.worker).inc(n)
        elif t is ev.IkeSaStateChanged:
            v = str(e.version)
            if e.old is not None:
                self.ike_sas.labels(v, e.old, self.worker).dec(n)
            if e.new is not None:
                self.ike_sas.labels(v, e.new, self.worker).inc(n)
        elif t is ev.IkeSaEstablished:
            v = str(e.version)
            self.established.labels(v, e.auth).inc(n)
            self.suites.labels(v, e.suite).inc(n)
            for _ in range(n):
                self.handshake.labels(v).observe(e.duration)
        elif t is ev.IkeSaFailed:
            self.failed.labels(str(e.version), e.reason).inc(n)
        elif t is ev.ChildSaChanged:
            self.child_sas.labels(str(e.version), self.worker).inc(e.delta * n)
        elif t is ev.Rekeyed:
            self.rekeys.labels(e.kind, e.result).inc(n)
        elif t is ev.DpdResult:
            self.dpd.labels(e.result).inc(n)
        elif t is ev.AuthAttempt:
            self.auth.labels(e.method, e.result).inc(n)
        elif t is ev.InvalidMessage:
            self.invalid.labels(e.reason).inc(n)
        elif t is ev.CookieSent:
            self.cookies.inc(n)
        elif t is ev.PoolUsage:
            self.pool.labels(e.pool, "used").set(e.used)
            self.pool.labels(e.pool, "free").set(e.free)

    def established_sas(self, version: int, auth: str, suite: str, n: int) -> None:
        """``n`` IKE SAs established (ikesrv.metrics_batch; their durations go to
        ``handshakes``)."""
        v = str(version)
        self.established.labels(v, auth).inc(n)
        self.suites.labels(v, suite).inc(n)

    def handshakes(self, version: int, durations: list[float]) -> None:
        child = self.handshake.labels(str(version))
        for seconds in durations:
            child.observe(seconds)

    def ldap_request(self, operation: str, seconds: float, ok: bool) -> None:
        series = self._ldap_series.get(operation)
        if series is None:
            series = self._ldap_series[operation] = (self.ldap.labels(operation),
                                                     self.ldap_errors.labels(operation))
        series[0].observe(seconds)
        if not ok:
            series[1].inc()

    def add_child_bytes(self, direction: str, n: int) -> None:
        if n > 0:
            self.child_bytes.labels(direction).inc(n)


class SupervisorMetrics:
    """The supervisor's own series: workers running, workers restarted."""

    def __init__(self, registry: CollectorRegistry | None = None):
        # not registered anywhere by default: in multiprocess mode the values reach
        # /metrics through the files, and registering them too would count them twice
        self.workers = Gauge("ikesrv_workers", "Worker processes running", registry=registry,
                             multiprocess_mode="livemax")
        self.restarts = Counter("ikesrv_worker_restarts_total",
                                "Worker processes restarted after they died", registry=registry)
        self.workers.set(0)


def enable_multiprocess(directory: str) -> None:
    """Make every metric created from now on, in this process and in its forks, write to
    ``directory`` (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR)."""
    from prometheus_client import values
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    # prometheus-client chose its value class when first imported; choose again
    values.ValueClass = values.get_value_class()


def multiprocess_registry(directory: str) -> CollectorRegistry:
    """A registry whose collection is the sum over every process's files in ``directory``."""
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def process_dead(pid: int, directory: str) -> None:
    """A worker died: drop its live gauges (SAs, pool usage); its counters stay."""
    from prometheus_client.multiprocess import mark_process_dead
    mark_process_dead(pid, directory)
