"""The sans-I/O core of one worker: bytes, addresses and time in; actions out.

Owns: the entry points of DESIGN §1 (datagram_received, timer_fired, auth_completed,
kernel_completed, kernel_event, actions, next_timer), the services every exchange task
shares (injected randomness, SPI and reqid allocation with the worker index inside,
deadlines, pools, pending auth and kernel requests, rate-limited logging of bad input),
and the dispatch by IKE version (RFC 7296 §3.1 / RFC 2408 §3.1: the version byte).

Must not import asyncio, socket, time, random, pyroute2, ldap3 or prometheus_client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import events as ev
from .actions import AuthRequest, IdentityClaimed, InstallChildSa, KernelEvent
from .admission import AGGRESSIVE_UNDER_PRESSURE_RATE, Bucket, SourceLimiter
from .config import Config
from .connections import Connections
from .errors import IkeError, InvalidMajorVersion, ResourceLimit
from .ikev2.cookies import CookieJar, cookie_required
from .ikev1.responder import Ikev1Responder
from .ikev2.responder import Ikev2Responder
from .pool import Pools
from .timers import Timers

log = logging.getLogger("ikesrv.core")

Rng = Callable[[int], bytes]


class RateLimitedLog:
    """At most ``burst`` lines per ``period`` seconds for bad-input logs; the rest are
    counted and summarised, so a flood cannot fill the disk."""

    def __init__(self, burst: int = 20, period: float = 10.0):
        self.burst, self.period = burst, period
        self.window_start = 0.0
        self.count = 0
        self.suppressed = 0

    def log(self, now: float, level: int, msg: str, *args) -> None:
        if now - self.window_start >= self.period:
            if self.suppressed:
                log.warning("%d more invalid-input messages suppressed in the last %.0fs",
                            self.suppressed, self.period)
            self.window_start, self.count, self.suppressed = now, 0, 0
        if self.count < self.burst:
            self.count += 1
            log.log(level, msg, *args)
        else:
            self.suppressed += 1


def _back_off(conn) -> tuple[float, ...]:
    return tuple(conn.retransmit_timeout * conn.retransmit_base ** i
                 for i in range(conn.retransmit_tries + 1))


class Core:
    """One worker's IKE state machine. Every input returns nothing; read actions()."""

    def __init__(self, config: Config, *, rng: Rng, worker_index: int = 0,
                 worker_count: int = 1, pools: Pools | None = None):
        if not 0 <= worker_index < 256:
            raise ValueError("worker index must fit the SPI's top byte")
        self.config = config
        self.rng = rng
        self.worker_index = worker_index
        self.worker_count = worker_count
        self.connections = Connections(config)
        self.pools = pools if pools is not None else Pools.from_config(
            config, slice_index=worker_index, slice_count=worker_count)
        self.timers = Timers()
        self.now = 0.0
        self._actions: list = []
        self._pending: dict[int, Callable] = {}
        self._next_request_id = 1
        self._next_reqid = 1
        self.child_index: dict[int, tuple] = {}  # inbound ESP SPI -> (IkeSa, ChildSa)
        self.cookies = CookieJar(rng)
        self.timers.set(self.cookies, 0.0)  # rotated (and re-armed) at the first timer
        self._bad_input_log = RateLimitedLog()
        self.natt_port = config.server.natt_port
        self.half_open_timeout = config.server.half_open_timeout
        self.sources = SourceLimiter(config.server.rate_limit_per_ip)
        self.unproven_dh = Bucket(AGGRESSIVE_UNDER_PRESSURE_RATE, AGGRESSIVE_UNDER_PRESSURE_RATE)
        self.v2 = Ikev2Responder(self)
        self.v1 = Ikev1Responder(self)
        for pool in self.pools.values():
            self.emit(ev.PoolUsage(pool.name, pool.used, pool.free))

    # ------------------------------------------------------------------ inputs ------

    def datagram_received(self, data: bytes, local, remote, now: float) -> None:
        """An IKE message (NAT-T marker already stripped) arrived on ``local``."""
        self.now = now
        if len(data) < 28:
            self.invalid(IkeError("datagram shorter than an IKE header"), remote)
            return
        if not self._admit(data, remote, now):
            return
        major = data[17] >> 4
        if major == 2:
            self.v2.datagram(data, local, remote, now)
        elif major == 1 and self.v1 is not None:
            self.v1.datagram(data, local, remote, now)
        else:
            e = InvalidMajorVersion(f"IKE major version {major} is not served")
            self.invalid(e, remote)
            if major > 2:  # RFC 7296 §2.5: answer a newer version so it can fall back
                from .ikev2 import ike_sa_init
                ike_sa_init.answer_bad_version(self.v2, e, data, local, remote)

    def timer_fired(self, now: float) -> None:
        self.now = now
        for owner in list(self.timers.due(now)):
            if owner is self.cookies:
                self.cookies.rotate_if_due(now)
                self._arm_cookie_rotation()
            elif hasattr(owner, "on_timer"):
                owner.on_timer(now)
            else:
                self.v2.on_timer(owner, now)

    def auth_completed(self, request_id: int, result, now: float | None = None) -> None:
        if now is not None:
            self.now = now
        callback = self._pending.pop(request_id, None)
        if callback is not None:
            callback(result, self.now)

    def kernel_completed(self, request_id: int, result, now: float | None = None) -> None:
        if now is not None:
            self.now = now
        callback = self._pending.pop(request_id, None)
        if callback is not None:
            callback(result, self.now)

    def kernel_event(self, event: KernelEvent, now: float) -> None:
        self.now = now
        from .ikev2 import create_child_sa
        found = self.child_index.get(event.spi) if event.inbound else None
        if found is None:
            for sa, child in self.child_index.values():
                if child.spi_out == event.spi and child.reqid == event.reqid:
                    found = (sa, child)
                    break
        if found is None:
            return
        sa, child = found
        if getattr(sa, "version", 2) == 1:
            self.v1.on_kernel_expire(sa, child, event.kind, now)
            return
        create_child_sa.on_kernel_expire(self.v2, sa, child, event.kind, now)

    def identity_claimed_elsewhere(self, connection: str, identity: str, mode: str,
                                   claimed_at: float, now: float) -> bool:
        """Another worker sets up an IKE SA of ``identity`` (actions.IdentityClaimed,
        relayed by the supervisor); True when ``mode`` is "keep" and an older SA of it
        lives here, so that the claiming worker ends its new one."""
        self.now = now
        from .ikev2 import cross_worker
        held = cross_worker.identity_claimed(self.v2, connection, identity, mode,
                                             claimed_at, now)
        if self.v1 is not None and hasattr(self.v1, "identity_claimed"):
            held = self.v1.identity_claimed(connection, identity, mode, claimed_at, now) or held
        return held

    def claim_refused(self, spi: bytes, now: float) -> None:
        """Another worker keeps an older SA of the identity our SA ``spi`` claimed."""
        self.now = now
        from .ikev2 import cross_worker
        cross_worker.refused(self.v2, spi, now)
        if self.v1 is not None and hasattr(self.v1, "claim_refused"):
            self.v1.claim_refused(spi, now)

    def actions(self) -> list:
        out, self._actions = self._actions, []
        return out

    def next_timer(self) -> float | None:
        return self.timers.next_deadline()

    def status(self) -> list[dict]:
        return self.v2.status(self.now) + (self.v1.status(self.now) if self.v1 else [])

    def shutdown(self, now: float) -> None:
        self.now = now
        self.v2.shutdown(now)
        if self.v1 is not None:
            self.v1.shutdown(now)

    def reload(self, config: Config) -> None:
        """SIGHUP: new SAs use ``config``; existing SAs keep the connection they have.

        A pool whose network (and exclusions) did not change keeps its object, with its
        leases and remembered owners; DNS, NBNS and split-include follow the new config.
        Leases in a pool that changed or went away stay with the SAs holding them and
        return to that old pool object when released.
        """
        self.config = config
        self.connections = Connections(config)
        fresh = Pools.from_config(config, slice_index=self.worker_index,
                                  slice_count=self.worker_count)
        merged = []
        for name, pool in fresh.items():
            old = self.pools.get(name)
            if old is not None and old.network == pool.network and old.exclude == pool.exclude:
                old.dns, old.nbns, old.split_include = pool.dns, pool.nbns, pool.split_include
                pool = old
            merged.append(pool)
        self.pools = Pools(merged)
        self.natt_port = config.server.natt_port
        self.half_open_timeout = config.server.half_open_timeout
        if config.server.rate_limit_per_ip != self.sources.rate:
            self.sources = SourceLimiter(config.server.rate_limit_per_ip)
        for pool in self.pools.values():
            self.emit(ev.PoolUsage(pool.name, pool.used, pool.free))

    # ------------------------------------------------------------------ services ----

    def emit(self, item) -> None:
        self._actions.append(item)

    def claim_identity(self, sa, initial_contact: bool, now: float) -> None:
        """Uniqueness across workers (DESIGN §4): announce an SA of ``sa``'s identity so
        that the other workers apply INITIAL_CONTACT or the connection's policy to theirs."""
        if self.worker_count < 2:
            return
        mode = "initial_contact" if initial_contact else sa.connection.unique
        if mode == "never":
            return
        self.emit(IdentityClaimed(sa.connection.name, sa.peer_identity_key, mode, now,
                                  sa.our_spi))

    def invalid(self, e: IkeError, remote, what: str = "message") -> None:
        """Count and (rate-limited) log a message we reject or drop."""
        self.emit(ev.InvalidMessage(e.metric_reason))
        self._bad_input_log.log(self.now, logging.INFO, "%s from %s:%d rejected: %s",
                                what, remote[0], remote[1], e)

    def log_error(self, e: IkeError, remote, what: str) -> None:
        if e.metric_reason in ("malformed", "unexpected_payload",
                               "unsupported_critical_payload"):
            self.emit(ev.InvalidMessage(e.metric_reason))
        self._bad_input_log.log(self.now, logging.WARNING, "%s with %s:%d: %s",
                                what, remote[0], remote[1], e)

    def new_ike_spi(self, taken: Callable[[bytes], bool]) -> bytes:
        """8 bytes, the worker index in the top byte (DESIGN §4), never zero or in use."""
        while True:
            spi = bytes([self.worker_index]) + self.rng(7)
            if spi != bytes(8) and not taken(spi):
                return spi

    def new_child_spi(self) -> int:
        """An inbound ESP SPI: the worker index in the top byte, >= 256 (RFC 4303 §2.1)."""
        while True:
            spi = (self.worker_index << 24) | int.from_bytes(self.rng(3), "big")
            if spi >= 256 and spi not in self.child_index:
                return spi

    def new_reqid(self) -> int:
        reqid = (self.worker_index << 24) | self._next_reqid
        self._next_reqid = self._next_reqid % 0xFFFFFF + 1
        return reqid

    def request_auth(self, method: str, connection: str, username: str, password: bytes,
                     callback: Callable) -> int:
        rid = self._new_request(callback)
        self.emit(AuthRequest(rid, method, connection, username, password))
        return rid

    def install_child(self, spec, callback: Callable) -> int:
        rid = self._new_request(callback)
        self.emit(InstallChildSa(rid, spec))
        return rid

    def cancel_request(self, request_id: int) -> None:
        self._pending.pop(request_id, None)

    def _new_request(self, callback: Callable) -> int:
        rid = self._next_request_id
        self._next_request_id += 1
        self._pending[rid] = callback
        return rid

    def register_child(self, sa, child) -> None:
        self.child_index[child.spi_in] = (sa, child)

    def forget_child(self, child) -> None:
        found = self.child_index.get(child.spi_in)
        if found is not None and found[1] is child:
            del self.child_index[child.spi_in]

    def acquire_vip(self, sa, pool_names, requested=None):
        """An address for ``sa`` from the first named pool with room, or None.

        Stickiness follows ``sa.peer_identity_key`` (the EAP/XAuth user name where there
        is one, else the IKE identity): the same user gets the same address back.
        """
        for name in pool_names:
            pool = self.pools.get(name)
            if pool is None:
                continue
            address = pool.acquire(sa.peer_identity_key or f"{sa.remote[0]}", requested)
            if address is not None:
                sa.vip, sa.vip_pool = address, pool
                self.emit(ev.PoolUsage(name, pool.used, pool.free))
                return address
        return None

    def release_vip(self, sa) -> None:
        pool = sa.vip_pool
        if pool is not None and sa.vip is not None:
            pool.release(sa.vip)
            self.emit(ev.PoolUsage(pool.name, pool.used, pool.free))
        sa.vip, sa.vip_pool = None, None

    def retransmit_timing(self, sa) -> tuple[float, ...]:
        """Seconds to wait after each send of one request (RFC 7296 §2.4 back-off)."""
        conn = sa.connection
        if conn is None:
            return _back_off(self.connections.defaults)
        # asked at every request and Quick Mode: once per connection (a reload makes new ones)
        timing = conn.__dict__.get("_retransmit_timing")
        if timing is None:
            timing = conn.__dict__["_retransmit_timing"] = _back_off(conn)
        return timing

    def _admit(self, data: bytes, remote, now: float) -> bool:
        """Before any decoding (ikesrv.admission): too large is dropped unread; what
        costs work for a stranger is charged to its source's token bucket. Messages for
        an SA this worker holds are not charged (their SPI is ours: §3.1 of RFC 7296 and
        RFC 2408 put it at offset 8, or at 0 for IKEv2 requests of our own SAs)."""
        if len(data) > self.config.server.max_message_size:
            self.invalid(ResourceLimit(f"{len(data)}-byte message exceeds [server] "
                                       "max_message_size"), remote)
            return False
        sources = self.sources
        if not sources.rate:
            return True
        held = data[8:16]
        if held in self.v2.sas or data[:8] in self.v2.sas or (
                self.v1 is not None and held in self.v1.sas):
            return True
        if sources.allow(remote[0], now):
            return True
        self.invalid(ResourceLimit("over [server] rate_limit_per_ip: dropped unread"), remote)
        return False

    def half_open_counts(self, ip: str | None) -> tuple[int, int]:
        """Half-open SAs of this worker, IKEv2 and IKEv1 together: (all, from ``ip``)."""
        v2, v1 = self.v2, self.v1
        total = len(v2.half_open) + (len(v1.half_open) if v1 is not None else 0)
        if ip is None:
            return total, 0
        per_ip = v2.half_open_per_ip.get(ip, 0) + (
            v1.half_open_per_ip.get(ip, 0) if v1 is not None else 0)
        return total, per_ip

    def cookies_required(self, ip: str, responder=None) -> bool:
        """RFC 7296 §2.6: under pressure (half-open SAs over a threshold, in all or from
        ``ip``) an IKE_SA_INIT must carry a COOKIE before any state or DH work."""
        s = self.config.server
        total, per_ip = self.half_open_counts(ip)
        return cookie_required(total, per_ip, s.cookie_threshold, s.cookie_threshold_per_ip,
                               workers=self.worker_count)

    def half_open_full(self, responder=None, ip: str | None = None) -> bool:
        """No new half-open SA: this worker's share of [server] half_open_limit is
        reached, or of half_open_limit_per_ip for ``ip``."""
        s = self.config.server
        total, per_ip = self.half_open_counts(ip)
        if s.half_open_limit and total >= -(-s.half_open_limit // self.worker_count):
            return True
        limit = s.half_open_limit_per_ip
        return bool(limit and ip is not None and per_ip >= -(-limit // self.worker_count))

    def unproven_dh_allowed(self, ip: str, now: float) -> bool:
        """Whether to compute a Diffie-Hellman for a first message whose sender has not
        proven its address (IKEv1 Aggressive Mode: no COOKIE to ask for). Always when
        there is no pressure; under pressure at most AGGRESSIVE_UNDER_PRESSURE_RATE per
        second, so that a flood of spoofed first messages costs bounded CPU while the
        retransmissions of real clients still get through."""
        if not self.cookies_required(ip):
            return True
        return self.unproven_dh.take(now)

    def _arm_cookie_rotation(self) -> None:
        self.timers.set(self.cookies, self.cookies.next_rotation(self.now))
