"""One worker process: an asyncio loop around one Core.

Owns: feeding the core (datagrams from the transport, timers, auth and kernel results)
with the wall-clock time, and carrying out its actions: sends, keepalives, kernel
installs and removals, user checks (``await`` the users backend), and metrics events.
Also SIGHUP (reload the config for new SAs; a broken config is logged and the old one
keeps serving) and SIGTERM (Deletes to every peer, kernel cleanup, exit in bounded time).

This is an edge: the protocol lives in the core.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from .. import events as ev
from ..actions import (
    AuthRequest,
    AuthResult,
    IdentityClaimed,
    InstallChildSa,
    RemoveChildSa,
    SendDatagram,
    SendKeepalive,
)
from ..config import Config, load
from ..core import Core
from ..errors import ConfigError
from ..metrics_batch import MetricsBatch
from ..net.transport import Transport

log = logging.getLogger("ikesrv.worker")

EVENT_TYPES = (
    ev.IkeSaStateChanged, ev.IkeSaEstablished, ev.IkeSaFailed, ev.ChildSaChanged, ev.Rekeyed,
    ev.DpdResult, ev.AuthAttempt, ev.MessageCounted, ev.InvalidMessage, ev.CookieSent,
    ev.PoolUsage,
)
BYTES_POLL_INTERVAL = 10.0  # seconds between reads of the kernel's SA byte counters
CORE_BUG_LINES, CORE_BUG_PERIOD = 5, 60.0  # tracebacks logged per period, at most
# Events wait this long to reach the metrics in one batch (ikesrv.metrics_batch): one
# update per series instead of one per event; /metrics lags by at most this much.
METRICS_FLUSH_DELAY = 0.05


class Worker:
    """Runs one Core on an event loop."""

    def __init__(self, config: Config, transport: Transport, kernel, metrics=None, users=None,
                 *, worker_index: int = 0, worker_count: int = 1, rng=os.urandom,
                 on_status=None):
        self.config = config
        self.transport = transport
        self.kernel = kernel
        self.metrics = metrics
        self.users = users
        self.core = Core(config, rng=rng, worker_index=worker_index, worker_count=worker_count)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.stopped = asyncio.Event()
        self._events = set(EVENT_TYPES)
        # set by the supervised worker process: relays IdentityClaimed to the other workers
        self.on_identity_claimed = None
        self._bytes_seen: dict[str, int] = {}
        self._bugs_since, self._bugs_logged, self._bugs_hidden = 0.0, 0, 0
        self._bytes_timer: asyncio.TimerHandle | None = None
        self._batch = MetricsBatch()
        self._metrics_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ life --------

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        line = self.kernel.start(self._kernel_event)
        log.info("%s", line)
        for s in self.transport.sockets:
            self.kernel.bypass_socket(s.sock)
            self.loop.add_reader(s.fileno(), s.read, self._datagram)
        self.loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.loop.add_signal_handler(signal.SIGTERM, self.stop)
        self.loop.add_signal_handler(signal.SIGINT, self.stop)
        self._flush()
        self._poll_child_bytes()
        await self.stopped.wait()

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        log.info("shutting down: deleting SAs")
        self.core.shutdown(time.time())
        self._flush()
        for s in self.transport.sockets:
            self.loop.remove_reader(s.fileno())
        if self._bytes_timer is not None:
            self._bytes_timer.cancel()
        self._poll_child_bytes(again=False)  # the removed SAs' last bytes count too
        self.flush_metrics()
        self.kernel.stop(remove_all=True)
        if self.users is not None:
            self.users.close()  # its threads or directory connections
        if self._timer is not None:
            self._timer.cancel()
        self.stopped.set()

    def flush_metrics(self) -> None:
        """Hand the events gathered since the last flush to the metrics."""
        if self._metrics_timer is not None:
            self._metrics_timer.cancel()
            self._metrics_timer = None
        if self.metrics is not None and self._batch:
            self._batch.flush(self.metrics)

    def _poll_child_bytes(self, again: bool = True) -> None:
        """ikesrv_child_sa_bytes_total follows the kernel backend's byte counters (totals
        since start: the increase since the last read is added)."""
        self._bytes_timer = None
        totals = self.kernel.byte_counters()
        if self.metrics is not None:
            for direction, n in totals.items():
                self.metrics.add_child_bytes(direction, n - self._bytes_seen.get(direction, 0))
        self._bytes_seen = dict(totals)
        if again:
            self._bytes_timer = self.loop.call_later(BYTES_POLL_INTERVAL, self._poll_child_bytes)

    def reload(self) -> None:
        path = self.config.source
        if path is None:
            log.info("SIGHUP: the embedded config cannot change; nothing to reload")
            return
        try:
            config = load(path)
        except ConfigError as e:
            log.error("SIGHUP: %s has errors, keeping the running config:\n%s", path, e)
            return
        except OSError as e:
            log.error("SIGHUP: cannot read %s (%s), keeping the running config", path, e)
            return
        self.core.reload(config)
        self.config = config
        log.info("SIGHUP: %s reloaded; new SAs use it", path)
        self._flush()

    # ------------------------------------------------------------------ inputs ------

    def _datagram(self, data: bytes, local, remote) -> None:
        try:
            self.core.datagram_received(data, local, remote, time.time())
        except Exception:  # noqa: BLE001 - a bug in the core (the fuzzers hunt them)
            self._core_failed(remote)
        self._flush()

    def _core_failed(self, remote) -> None:
        """A datagram made the core raise: the worker serves on, the bug is logged with
        its traceback, but a datagram that keeps doing it cannot flood the log."""
        now = time.monotonic()
        if now - self._bugs_since >= CORE_BUG_PERIOD:
            if self._bugs_hidden:
                log.error("%d more datagrams made the core fail in the last %.0fs",
                          self._bugs_hidden, CORE_BUG_PERIOD)
            self._bugs_since, self._bugs_logged, self._bugs_hidden = now, 0, 0
        if self._bugs_logged < CORE_BUG_LINES:
            self._bugs_logged += 1
            log.exception("bug: a datagram from %s:%d made the core fail", *remote[:2])
        else:
            self._bugs_hidden += 1
        if self.metrics is not None:
            self.metrics.observe(ev.InvalidMessage("internal_error"))

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_at = None
        self.core.timer_fired(time.time())
        self._flush()

    def _kernel_event(self, event) -> None:
        self.core.kernel_event(event, time.time())
        self._flush()

    def _auth_done(self, request_id: int, future: asyncio.Future) -> None:
        try:
            result = future.result()
        except Exception as e:  # the backend's own failure: the peer gets a clean refusal
            log.error("users backend failed: %s", e)
            result = AuthResult(ok=False, reason=f"backend error: {e}")
        self.core.auth_completed(request_id, result, time.time())
        self._flush()

    # ------------------------------------------------------------------ actions -----

    def _flush(self) -> None:
        core = self.core
        transport = self.transport
        batch = self._batch if self.metrics is not None else None
        events = self._events
        while True:
            actions = core.actions()
            if not actions:
                break
            for a in actions:
                t = type(a)
                if t is SendDatagram:
                    transport.send(a.local, a.remote, a.data)
                elif t in events:
                    if batch is not None:
                        batch.add(a)
                elif t is InstallChildSa:
                    result = self.kernel.install(a.spec)
                    core.kernel_completed(a.request_id, result, time.time())
                elif t is RemoveChildSa:
                    self.kernel.remove(a.spec, a.remove_policies)
                elif t is SendKeepalive:
                    transport.send_keepalive(a.local, a.remote)
                elif t is AuthRequest:
                    self._start_auth(a)
                elif t is IdentityClaimed:
                    if self.on_identity_claimed is not None:
                        self.on_identity_claimed(a)
        if batch and self._metrics_timer is None and self.loop is not None:
            self._metrics_timer = self.loop.call_later(METRICS_FLUSH_DELAY, self.flush_metrics)
        self._arm_timer()

    def _start_auth(self, request: AuthRequest) -> None:
        if self.users is None:
            self.core.auth_completed(request.request_id,
                                     AuthResult(ok=False, reason="no users backend configured"),
                                     time.time())
            return
        future = asyncio.ensure_future(self.users.check(request))
        future.add_done_callback(lambda f, rid=request.request_id: self._auth_done(rid, f))

    def _arm_timer(self) -> None:
        deadline = self.core.next_timer()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = self._timer_at = None
            return
        if self._timer is not None and self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_later(max(0.0, deadline - time.time()), self._timer_fired)
