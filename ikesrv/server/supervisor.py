"""The supervisor (DESIGN §1, §4): owns the sockets, forks the workers, restarts them.

Owns, for the whole run:
- the steered sockets: one SO_REUSEPORT group per address and port (IKE and NAT-T), N
  sockets each, bound in worker order before any fork, with the steering program
  attached once per group (ikesrv.net.steering). Socket i of every group is worker i's.
  The supervisor never closes, connects or replaces one while serving: the kernel would
  move the group's last socket into the hole and renumber the workers behind it. A dead
  worker is re-forked onto the same sockets; meanwhile its datagrams wait in its socket's
  receive buffer ([server] receive_buffer, 4 MiB by default: measured to hold about
  6500 IKE datagrams of 300 bytes, against about 170 at the kernel's default buffer;
  a restart takes the 0.1 s back-off plus about 20 ms to fork and start serving).
- the workers: ``workers`` processes (0 = one per CPU this process may run on), each a
  fork running ikesrv.server.worker_process. A worker that dies is restarted after a
  back-off: 0.1 s, doubling while it keeps dying within 30 s of its start, at most 10 s.
- the channels (ikesrv.server.channel), one socket pair per worker: status requests,
  and the rare questions that cross workers (DESIGN §4):
  * the same identity on another worker: a worker that sets up an IKE SA announces it
    (actions.IdentityClaimed) and the supervisor relays the claim to every other
    worker, which applies INITIAL_CONTACT or the connection's uniqueness policy to the
    SAs it holds (ikesrv.ikev2.cross_worker); for "keep", a worker holding an older SA
    answers and the supervisor tells the claimant to end its new one. Nothing waits.
  * a worker's pool slice exhausted: slices are fixed (each worker hands out addresses
    from its own contiguous block, DESIGN §4), so the worker answers the client with
    INTERNAL_ADDRESS_FAILURE at once, as a single process with a full pool would. Lending
    addresses across slices would need a lease protocol between processes on the
    IKE_AUTH path, for a case that an operator fixes by sizing the pool: with SPIs
    hashed uniformly, slices fill evenly and one runs dry only a few dozen addresses
    before the whole pool would (about the square root of the pool size). Workers report
    their slices' usage; the supervisor warns when one slice is full while others still
    have room, and ``ikesrv status`` shows every slice.
- the control socket (``ikesrv status``: every worker's SAs, gathered over the channels)
  and the /metrics endpoint (prometheus-client multiprocess mode over a private
  directory made here and removed at exit; a dead worker's live gauges are dropped).
- signals: SIGTERM/SIGINT stop the workers (each sends Deletes to its peers) within
  [server] shutdown_timeout, then kill what is left; SIGHUP reloads the config for
  workers started later and passes the signal on, each worker reloading its own.

One code path for every worker count: a single worker is supervised too, so that it is
restarted when it dies and the metrics are the same series.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field

from .. import metrics as metrics_mod
from ..config import Config, load
from ..errors import ConfigError
from ..net import steering
from . import control, metrics_http, worker_process
from .channel import Channel

log = logging.getLogger("ikesrv.supervisor")

RESTART_DELAY_MIN = 0.1
RESTART_DELAY_MAX = 10.0
STABLE_AFTER = 30.0  # a worker that ran this long starts its back-off afresh
STATUS_TIMEOUT = 3.0
KILL_GRACE = 2.0  # after shutdown_timeout, SIGKILL and wait this long
POOL_WARN_INTERVAL = 60.0
# a full slice is judged again after every worker has reported its slices once more
POOL_CONFIRM_DELAY = 1.5 * worker_process.POOL_REPORT_INTERVAL
SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}


def worker_count(requested: int | None) -> int:
    """``requested`` workers, or one per usable CPU for 0 / None."""
    n = requested or len(os.sched_getaffinity(0)) or 1
    if not 1 <= n <= steering.MAX_WORKERS:
        raise SystemExit(f"ikesrv: {n} workers: between 1 and {steering.MAX_WORKERS} "
                         "(the worker index is the top byte of our SPIs)")
    return n


@dataclass
class Slot:
    """Worker ``index`` across its successive processes."""

    index: int
    pid: int | None = None
    channel: Channel | None = None
    channel_fd: int = -1
    ready: bool = False
    ever_ready: bool = False
    started: float = 0.0  # monotonic
    died_at: float | None = None
    quick_deaths: int = 0
    restarts: int = 0
    restart_timer: asyncio.TimerHandle | None = None
    pools: dict = field(default_factory=dict)  # name -> [used, size]
    pending: dict = field(default_factory=dict)  # status request id -> Future


class Supervisor:
    def __init__(self, config: Config, workers: int | None = None):
        self.config = config
        self.count = worker_count(workers if workers is not None else config.server.workers)
        self.groups: list[steering.Group] = []
        self.slots = [Slot(i) for i in range(self.count)]
        self._by_pid: dict[int, Slot] = {}
        self.stopping = False
        self.metrics_dir: str | None = None
        self.smetrics: metrics_mod.SupervisorMetrics | None = None
        self.control_server: asyncio.AbstractServer | None = None
        self.metrics_server: asyncio.AbstractServer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)
        self._done: asyncio.Event | None = None
        self._all_exited: asyncio.Event | None = None
        self._pool_warned: dict[tuple[str, int], float] = {}
        self._pool_pending: set[tuple[str, int]] = set()
        self.exit_code = 0

    # ------------------------------------------------------------------ life --------

    def bind(self) -> None:
        s = self.config.server
        try:
            for address in s.addresses:
                for port, natt in ((s.port, False), (s.natt_port, True)):
                    self.groups.append(steering.bind_group(
                        str(address), port, self.count, natt=natt, rcvbuf=s.receive_buffer))
        except OSError as e:
            self._close_groups()
            raise SystemExit(f"ikesrv: cannot listen on UDP {e.strerror or e} "
                             f"({', '.join(str(a) for a in s.addresses)}, "
                             f"ports {s.port} and {s.natt_port})") from None
        got = steering.receive_buffer(self.groups[0].sockets[0]) // 2
        if s.receive_buffer and got < s.receive_buffer:
            log.warning("receive buffers are %d bytes, not the %d configured (raise "
                        "net.core.rmem_max, or run with CAP_NET_ADMIN): a restarting "
                        "worker's datagrams may be dropped", got, s.receive_buffer)

    async def run(self) -> int:
        self.loop = loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        self._all_exited = asyncio.Event()
        self.bind()
        c = self.config
        try:
            if c.metrics.enabled:
                self.metrics_dir = tempfile.mkdtemp(prefix="ikesrv-metrics-")
                metrics_mod.enable_multiprocess(self.metrics_dir)
                self.smetrics = metrics_mod.SupervisorMetrics()
                registry = metrics_mod.multiprocess_registry(self.metrics_dir)
                self.metrics_server = await metrics_http.serve(str(c.metrics.address),
                                                               c.metrics.port, registry)
            self.control_server = await control.serve(c.server.control_socket, self.status)
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            loop.add_signal_handler(signal.SIGCHLD, self._reap)
            for slot in self.slots:
                self._spawn(slot)
            log.info("ikesrv serving on %s with %d worker%s; metrics %s; control %s",
                     ", ".join(g.describe() for g in self.groups), self.count,
                     "s" if self.count != 1 else "",
                     f"on {c.metrics.address}:{c.metrics.port}" if c.metrics.enabled
                     else "disabled", c.server.control_socket)
            if c.is_demo:
                from .demo import demo_hint
                try:
                    print(demo_hint(c), file=sys.stderr, flush=True)
                except OSError:
                    pass  # stderr on a full disk must not stop the daemon
            await self._done.wait()
        except OSError as e:
            raise SystemExit(f"ikesrv: {e}") from None
        finally:
            self._cleanup()
        return self.exit_code

    def stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self.loop.create_task(self._shutdown())

    async def _shutdown(self) -> None:
        timeout = self.config.server.shutdown_timeout
        log.info("shutting down: each worker deletes its SAs (at most %.1fs)", timeout)
        for slot in self.slots:
            if slot.restart_timer is not None:
                slot.restart_timer.cancel()
                slot.restart_timer = None
            self._signal(slot, signal.SIGTERM)
        self._check_all_exited()
        try:
            await asyncio.wait_for(self._all_exited.wait(), timeout)
        except asyncio.TimeoutError:
            late = [s for s in self.slots if s.pid is not None]
            log.warning("worker%s %s still running after %.1fs: killed",
                        "s" if len(late) > 1 else "", ", ".join(str(s.index) for s in late),
                        timeout)
            for slot in late:
                self._signal(slot, signal.SIGKILL)
            try:
                await asyncio.wait_for(self._all_exited.wait(), KILL_GRACE)
            except asyncio.TimeoutError:
                pass
        self._done.set()

    def _cleanup(self) -> None:
        for server in (self.control_server, self.metrics_server):
            if server is not None:
                server.close()
        try:
            self.config.server.control_socket.unlink()
        except OSError:
            pass
        for slot in self.slots:
            if slot.channel is not None:
                slot.channel.close()
        self._close_groups()
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
        log.info("ikesrv stopped")

    def _close_groups(self) -> None:
        # only at exit: while serving, closing a group socket renumbers the group
        for group in self.groups:
            for sock in group.sockets:
                sock.close()
        self.groups = []

    def reload(self) -> None:
        path = self.config.source
        if path is not None:
            try:
                new = load(path)
            except (ConfigError, OSError) as e:
                log.error("SIGHUP: %s cannot be loaded, workers keep the running config:\n%s",
                          path, e)
                return
            old = self.config
            if (new.server.addresses, new.server.port, new.server.natt_port,
                    new.server.workers, new.metrics) != (
                    old.server.addresses, old.server.port, old.server.natt_port,
                    old.server.workers, old.metrics):
                log.warning("SIGHUP: listen addresses, ports, workers and [metrics] take "
                            "effect at the next start only")
            self.config = new
        for slot in self.slots:
            self._signal(slot, signal.SIGHUP)

    def _signal(self, slot: Slot, sig: int) -> None:
        if slot.pid is not None:
            try:
                os.kill(slot.pid, sig)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------------ workers -----

    def _spawn(self, slot: Slot) -> None:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # no signal may run the supervisor's handlers in the child before it resets them
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            pid = os.fork()
        except OSError as e:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            parent_sock.close()
            child_sock.close()
            log.error("cannot fork worker %d: %s", slot.index, e)
            self._schedule_restart(slot, RESTART_DELAY_MAX)
            return
        if pid == 0:
            self._child(slot, child_sock, parent_sock)  # never returns
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        child_sock.close()
        slot.pid, slot.ready, slot.started = pid, False, time.monotonic()
        slot.channel_fd = parent_sock.fileno()
        self._by_pid[pid] = slot
        self._update_gauge()
        self.loop.create_task(self._attach(slot, pid, parent_sock))

    async def _attach(self, slot: Slot, pid: int, sock: socket.socket) -> None:
        channel = await Channel.open(sock)
        if slot.pid != pid:  # died before we got here
            channel.close()
            return
        slot.channel = channel
        await channel.serve(lambda m: self._from_worker(slot, pid, m))

    def _child(self, slot: Slot, child_sock: socket.socket, parent_sock: socket.socket):
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            parent_sock.close()
            # the supervisor's listening sockets and the other workers' channel ends:
            # a worker holding them would keep ports busy and hide the supervisor's exit
            for fd in self._supervisor_fds():
                try:
                    os.close(fd)
                except OSError:
                    pass
            _worker_logging(slot.index)
            code = asyncio.run(worker_process.serve(
                self.config, self.groups, slot.index, self.count, child_sock,
                self.metrics_dir is not None))
        except SystemExit as e:
            if isinstance(e.code, str):
                log.error("%s", e.code)
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", slot.index)
        finally:
            for handler in logging.getLogger().handlers:
                try:
                    handler.flush()
                except Exception:  # noqa: BLE001, S110 - e.g. a full disk: exit all the same
                    pass
            os._exit(code)

    def _supervisor_fds(self) -> list[int]:
        fds = [s.channel_fd for s in self.slots if s.channel_fd >= 0]
        for server in (self.control_server, self.metrics_server):
            if server is not None:
                fds += [s.fileno() for s in server.sockets]
        return fds

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self._by_pid.pop(pid, None)
            if slot is not None:
                self._exited(slot, pid, status)

    def _exited(self, slot: Slot, pid: int, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
        lived = time.monotonic() - slot.started
        slot.pid, slot.ready, slot.channel_fd = None, False, -1
        if slot.channel is not None:
            slot.channel.close()
            slot.channel = None
        for future in slot.pending.values():
            if not future.done():
                future.set_result(None)
        slot.pending.clear()
        slot.pools = {}
        if self.metrics_dir is not None:
            metrics_mod.process_dead(pid, self.metrics_dir)
        self._update_gauge()
        if self.stopping:
            log.info("worker %d (pid %d) %s", slot.index, pid, how)
            self._check_all_exited()
            return
        if not slot.ever_ready:
            # it never served: a broken set-up (kernel backend, users backend), not a
            # crash that a restart cures
            log.error("worker %d (pid %d) %s before it could serve: stopping", slot.index,
                      pid, how)
            self.exit_code = 1
            self.stop()
            return
        slot.quick_deaths = slot.quick_deaths + 1 if lived < STABLE_AFTER else 1
        delay = min(RESTART_DELAY_MIN * 2 ** (slot.quick_deaths - 1), RESTART_DELAY_MAX)
        log.error("worker %d (pid %d) %s after %.1fs; restarting it in %.1fs on the same "
                  "sockets", slot.index, pid, how, lived, delay)
        slot.died_at = time.monotonic()
        self._schedule_restart(slot, delay)

    def _schedule_restart(self, slot: Slot, delay: float) -> None:
        def restart() -> None:
            slot.restart_timer = None
            if self.stopping:
                return
            slot.restarts += 1
            if self.smetrics is not None:
                self.smetrics.restarts.inc()
            self._spawn(slot)
        slot.restart_timer = self.loop.call_later(delay, restart)

    def _check_all_exited(self) -> None:
        if all(s.pid is None for s in self.slots):
            self._all_exited.set()

    def _update_gauge(self) -> None:
        if self.smetrics is not None:
            self.smetrics.workers.set(sum(1 for s in self.slots if s.pid is not None))

    # ------------------------------------------------------------------ messages ----

    def _from_worker(self, slot: Slot, pid: int, m: dict) -> None:
        if slot.pid != pid:
            return  # a late message of a process that is gone
        op = m.get("op")
        if op == "ready":
            slot.ready = slot.ever_ready = True
            if slot.died_at is not None:
                log.info("worker %d serving again (pid %d), %.2fs after the previous one died",
                         slot.index, pid, time.monotonic() - slot.died_at)
                slot.died_at = None
        elif op == "status":
            future = slot.pending.pop(m.get("id"), None)
            if future is not None and not future.done():
                future.set_result(m)
        elif op == "claims":
            m["from"] = slot.index
            for other in self.slots:
                if other is not slot and other.channel is not None and other.ready:
                    other.channel.send(m)
        elif op == "held":
            to = m.get("to")
            target = self.slots[to] if isinstance(to, int) and 0 <= to < self.count else None
            if target is not None and target.channel is not None:
                target.channel.send({"op": "refused", "spi": m.get("spi")})
        elif op == "pools":
            pools = m.get("pools")
            if isinstance(pools, dict):
                slot.pools = pools
                self._check_pools(slot)

    def _check_pools(self, slot: Slot) -> None:
        """A slice reported full: look again once every worker has reported since (the
        others' figures may be up to a report interval old), and warn then if it is
        still full while other slices have room."""
        for name, (used, size) in slot.pools.items():
            key = (name, slot.index)
            if size and used >= size and key not in self._pool_pending:
                self._pool_pending.add(key)
                self.loop.call_later(POOL_CONFIRM_DELAY, self._confirm_full, slot.index, name)

    def _confirm_full(self, index: int, name: str) -> None:
        self._pool_pending.discard((name, index))
        message = self.slice_full_warning(index, name)
        now = time.monotonic()
        last = self._pool_warned.get((name, index))
        if message and (last is None or now - last >= POOL_WARN_INTERVAL):
            self._pool_warned[(name, index)] = now
            log.warning("%s", message)

    def slice_full_warning(self, index: int, name: str) -> str | None:
        """What to tell the operator when worker ``index``'s slice of pool ``name`` is
        full while the other slices have room (by the workers' latest reports)."""
        used, size = self.slots[index].pools.get(name, (0, 0))
        if not size or used < size:
            return None
        room = sum(max(s.pools[name][1] - s.pools[name][0], 0) for s in self.slots
                   if name in s.pools)
        if not room:
            return None  # the whole pool is full: ikesrv_pool_addresses and its alert say so
        return (f"pool {name}: worker {index}'s slice is full ({size} addresses) while the "
                f"other slices have {room} free; clients steered to worker {index} get "
                "INTERNAL_ADDRESS_FAILURE until an address is released (slices are fixed per "
                "worker: enlarge the pool)")

    async def status(self) -> dict:
        """DESIGN §6: {"workers": [{"index", "pid", "ike_sas": [...]}, ...]}."""
        asked: dict[int, asyncio.Future] = {}
        for slot in self.slots:
            if slot.channel is None or not slot.ready:
                continue
            rid = next(self._ids)
            future = self.loop.create_future()
            slot.pending[rid] = future
            if slot.channel.send({"op": "status", "id": rid}):
                asked[slot.index] = future
            else:
                del slot.pending[rid]
        if asked:
            await asyncio.wait(asked.values(), timeout=STATUS_TIMEOUT)
        workers = []
        for slot in self.slots:
            entry = {"index": slot.index, "pid": slot.pid, "restarts": slot.restarts,
                     "ike_sas": [], "pools": slot.pools}
            future = asked.get(slot.index)
            answer = future.result() if future is not None and future.done() else None
            if answer is not None:
                entry["ike_sas"] = answer.get("ike_sas", [])
            else:
                entry["error"] = ("not running (restarting)" if slot.pid is None
                                  else "starting" if not slot.ready else "no answer")
            workers.append(entry)
        for slot in self.slots:  # requests that timed out
            for rid in [r for r, f in slot.pending.items() if f in asked.values()]:
                slot.pending.pop(rid, None)
        return {"workers": workers}


def _worker_logging(index: int) -> None:
    """Worker log lines carry the worker index."""
    for handler in logging.getLogger().handlers:
        fmt = handler.formatter._fmt if handler.formatter is not None else "%(message)s"
        handler.setFormatter(logging.Formatter(fmt.replace("%(name)s", f"%(name)s[{index}]")))
