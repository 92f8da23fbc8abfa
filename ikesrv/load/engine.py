"""One load generator process: a UDP socket, thousands of clients, one loop.

Owns: pacing (at most ``concurrency`` set-ups in flight, at most ``rate`` set-ups begun
per second), demultiplexing the responder's datagrams to clients by the initiator's SPI,
NAT-T framing (RFC 3948 §2.2: the non-ESP marker on the NAT-T port; keepalives and ESP
dropped), retransmission with exponential back-off (RFC 7296 §2.1: the initiator
retransmits, the responder only answers), the life of an SA after set-up (--hold with
--rekey and --dpd, then a Delete), the global time limit, and the counts and timings of
ikesrv.load.report.ProcessResult.

The clients of one process share its socket (one source address and port): ikesrv and
charon both tell IKE SAs apart by SPI, NAT detection still sees the real address and
port (the clients hash exactly what they send from), and uniqueness works by identity
(--local-id with {n}).

A plain epoll loop reading into one preallocated buffer, rather than asyncio: one socket
and one deadline queue need nothing more. Measured here (client-side CPU per UDP
request/response, 300 octets, 64 in flight, echo on the other CPU): this loop 6.5 µs,
stock asyncio with add_reader 6.7 µs, uvloop with add_reader 6.6 µs, stock asyncio's
DatagramProtocol 8.6 µs (DESIGN §9's 256 KiB buffer per read), uvloop's 6.6 µs. Once
the datagram transport is avoided, uvloop gains nothing here: two round trips per SA
against some 250-500 µs of IKE work. Imports the standard library and
ikesrv.load.{clients,report}; the IKE work happens in the client objects.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import os
import resource
import select
import socket
import time
from collections.abc import Callable, Iterable

from .clients import DONE, FAILED, SETUP, UP
from .report import ProcessResult

NON_ESP_MARKER = b"\0\0\0\0"
RECV_BUFFER = 4 * 1024 * 1024
READS_PER_WAKEUP = 256
MAX_WAIT = 0.05  # seconds the loop sleeps at most: pacing and progress stay smooth


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def source_address(target: str, port: int) -> str:
    """The address this host sends from towards ``target`` (the route's source): what
    the clients bind to, so that their NAT detection hashes hold the real address."""
    family = socket.AF_INET6 if ":" in target else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((target, port))  # no datagram is sent: this only asks the routing table
        return s.getsockname()[0]


def open_socket(source: str, port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for opt, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):  # *BUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, RECV_BUFFER)
        except OSError:  # not root: as much as the sysctl limit allows
            sock.setsockopt(socket.SOL_SOCKET, opt, RECV_BUFFER)
    sock.bind((source, port))
    sock.setblocking(False)
    return sock


class Engine:
    """Runs the clients numbered ``numbers`` of ``kind`` against ``target``; ``run()``
    returns the ProcessResult. Every wait is bounded by ``timeout`` seconds in all."""

    def __init__(self, kind, numbers: Iterable[int], *, target: str, port: int = 500,
                 natt_port: int = 4500, source: str | None = None, concurrency: int = 100,
                 rate: float | None = None, hold: float | None = None, rekey: bool = False,
                 dpd: float | None = None, timeout: float = 60.0,
                 retransmit_timeout: float = 2.0, retransmit_tries: int = 4,
                 rng: Callable[[int], bytes] = os.urandom,
                 progress: Callable[[dict], None] | None = None,
                 progress_interval: float = 0.5):
        self.kind = kind
        self.numbers = list(numbers)
        self.target, self.port, self.natt_port = target, port, natt_port
        self.source = source or source_address(target, port)
        self.concurrency = max(1, concurrency)
        self.rate = rate
        self.hold, self.rekey, self.dpd = hold, rekey, dpd
        self.timeout = timeout
        self.rto, self.tries = retransmit_timeout, retransmit_tries
        self.rng = rng
        self.progress = progress
        self.progress_interval = progress_interval
        self.result = ProcessResult(clients=len(self.numbers))
        self.by_spi: dict[bytes, object] = {}
        self.waiting: dict[object, list] = {}  # client -> [request key, retransmissions]
        self.retransmit_q: list = []  # (deadline, seq, client, key)
        self.ops_q: list = []  # (when, seq, client, operation)
        self.seq = itertools.count()
        self.in_flight = 0
        self.held = 0  # SAs up and waiting for their scheduled operations
        self.up: list = []  # every client that got its SA up (they answer the responder)
        self.sock: socket.socket | None = None

    # ------------------------------------------------------------------ the loop -----

    def run(self) -> ProcessResult:
        r = self.result
        self.kind.prepare(self.numbers)
        self.sock = sock = open_socket(self.source)
        self.local = sock.getsockname()[:2]
        remote = (self.target, self.port)
        poller = select.epoll()
        poller.register(sock.fileno(), select.EPOLLIN)
        buf = bytearray(65536)
        view = memoryview(buf)
        todo = iter(self.numbers)
        pending = len(self.numbers)
        cpu0 = cpu_seconds()
        t0 = time.monotonic()
        r.t_start = t0
        deadline = t0 + self.timeout
        next_progress = t0
        try:
            while True:
                now = time.monotonic()
                # begin set-ups as the concurrency and the rate allow
                while pending and self.in_flight < self.concurrency:
                    if self.rate and r.started >= (now - t0) * self.rate + 1:
                        break
                    n = next(todo)
                    pending -= 1
                    client = self.kind.make(n, self.rng, self.local, remote)
                    r.started += 1
                    self.in_flight += 1
                    self._after(client, client.start(now), now, SETUP)
                if not pending and not self.in_flight and not self.held:
                    break
                if now >= deadline:
                    r.timed_out = True
                    break
                self._expire(now)
                if self.progress is not None and now >= next_progress:
                    self.progress(self.counts())
                    next_progress = now + self.progress_interval
                wait = min(MAX_WAIT, deadline - now)
                if self.retransmit_q:
                    wait = min(wait, self.retransmit_q[0][0] - now)
                if self.ops_q:
                    wait = min(wait, self.ops_q[0][0] - now)
                if self.rate and pending and self.in_flight < self.concurrency:
                    wait = min(wait, t0 + r.started / self.rate - now)
                if poller.poll(max(0.0, wait)):
                    self._read(sock, buf, view)
        finally:
            poller.close()
            sock.close()
        r.unfinished = self.in_flight
        r.peer_requests = sum(c.peer_requests for c in self.up)
        r.t_end = time.monotonic()
        r.cpu_s = cpu_seconds() - cpu0
        if self.progress is not None:
            self.progress(self.counts())
        return r

    def counts(self) -> dict:
        r = self.result
        return {"started": r.started, "established": r.established, "failed": r.failed,
                "in_flight": self.in_flight, "retransmissions": r.retransmissions}

    def _read(self, sock: socket.socket, buf: bytearray, view: memoryview) -> None:
        natt_port, by_spi = self.natt_port, self.by_spi
        for _ in range(READS_PER_WAKEUP):
            try:
                n, src = sock.recvfrom_into(buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # ICMP errors reported on the socket: the peer is gone
                if e.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    continue
                raise
            if src[1] == natt_port and natt_port != self.port:
                # RFC 3948 §2.2: IKE after four zero octets; 0xff is a keepalive; else ESP
                if n < 4 + 28 or view[:4] != NON_ESP_MARKER:
                    continue
                data = bytes(view[4:n])
            elif n < 28:
                continue
            else:
                data = bytes(view[:n])
            client = by_spi.get(data[:8])
            if client is None:
                continue
            now = time.monotonic()
            phase = client.phase
            self._after(client, client.receive(data, now), now, phase)

    # ------------------------------------------------------------------ bookkeeping --

    def _send(self, client, data: bytes) -> None:
        remote = client.remote
        if remote[1] == self.natt_port and self.natt_port != self.port:
            data = NON_ESP_MARKER + data
        try:
            self.sock.sendto(data, remote)
        except (BlockingIOError, InterruptedError):
            pass  # a full send buffer is a lost datagram: retransmission covers it
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                               errno.ENETUNREACH, errno.EPERM):
                raise

    def _after(self, client, out: list[bytes], now: float, phase_before: str) -> None:
        """Send what a client produced, follow its requests and its phase changes."""
        for d in out:
            self._send(client, d)
        self.by_spi[client.spi] = client
        outstanding = client.outstanding()
        if outstanding is None:
            self.waiting.pop(client, None)
        else:
            key = outstanding[0]
            w = self.waiting.get(client)
            if w is None or w[0] != key:
                self.waiting[client] = [key, 0]
                heapq.heappush(self.retransmit_q, (now + self.rto, next(self.seq), client, key))
        phase = client.phase
        r = self.result
        if phase_before == SETUP and phase != SETUP:
            self.in_flight -= 1
            if phase == UP:
                r.established += 1
                r.t_last = now
                r.latencies.append(client.established_at - client.started_at)
                self.up.append(client)
                self._schedule(client, now)
            else:
                r.fail(client.failure or "failed")
                self._forget(client)
        elif phase_before == UP:
            if client.op is not None:
                result = client.op_result()
                if result is not None:
                    self._op_done(client, client.op, result)
                    client.op = None
            if phase == DONE and client.peer_deleted:
                r.deleted_by_peer += 1
                self._release(client)

    def _schedule(self, client, now: float) -> None:
        if self.hold is None:
            return  # left up: the responder keeps it after we are gone
        self.held += 1
        hold = self.hold
        push = heapq.heappush
        if self.rekey:
            push(self.ops_q, (now + hold / 3, next(self.seq), client, "rekey_child"))
            if "rekey_ike" in client.OPERATIONS:  # IKEv1 has no rekey of phase 1 itself
                push(self.ops_q, (now + 2 * hold / 3, next(self.seq), client, "rekey_ike"))
        if self.dpd:
            t = now + self.dpd
            while t < now + hold:
                push(self.ops_q, (t, next(self.seq), client, "liveness"))
                t += self.dpd
        push(self.ops_q, (now + hold, next(self.seq), client, "delete"))

    def _expire(self, now: float) -> None:
        q = self.retransmit_q
        while q and q[0][0] <= now:
            _, _, client, key = heapq.heappop(q)
            w = self.waiting.get(client)
            if w is None or w[0] != key:
                continue  # answered since
            outstanding = client.outstanding()
            if outstanding is None or outstanding[0] != key:
                self.waiting.pop(client, None)
                continue
            if w[1] >= self.tries:
                self._give_up(client, now)
                continue
            w[1] += 1
            self.result.retransmissions += 1
            for d in outstanding[1]:
                self._send(client, d)
            # RFC 7296 §2.1: back off exponentially between retransmissions
            heapq.heappush(q, (now + self.rto * (2 ** w[1]), next(self.seq), client, key))
        q = self.ops_q
        while q and q[0][0] <= now:
            _, _, client, op = heapq.heappop(q)
            if client.phase != UP:
                continue
            if client.op is not None or client.outstanding() is not None:
                # one request at a time (the window of §2.3): try again shortly
                heapq.heappush(q, (now + 0.05, next(self.seq), client, op))
                continue
            self._after(client, getattr(client, op)(now), now, UP)

    def _give_up(self, client, now: float) -> None:
        self.waiting.pop(client, None)
        r = self.result
        if client.phase == SETUP:
            r.fail(client.timed_out())
            client.phase = FAILED
            self.in_flight -= 1
            self._forget(client)
        elif client.phase == UP:
            op = client.op or "request"
            self._op_done(client, op, False)
            client.op = None
            client.phase = DONE
            if op != "delete":
                self._release(client)

    def _op_done(self, client, op: str, ok: bool) -> None:
        r = self.result
        if op == "rekey_child":
            r.rekeys_child[0 if ok else 1] += 1
        elif op == "rekey_ike":
            r.rekeys_ike[0 if ok else 1] += 1
        elif op == "liveness":
            r.liveness[0 if ok else 1] += 1
        elif op == "delete":
            if ok:
                r.deleted += 1
            client.phase = DONE
            self._release(client)

    def _release(self, client) -> None:
        if self.hold is not None:
            self.held -= 1
        self._forget(client)

    def _forget(self, client) -> None:
        self.waiting.pop(client, None)
        if self.by_spi.get(client.spi) is client:
            del self.by_spi[client.spi]
