"""The IKEv2 exchange driver: routes each datagram to its SA and task, answers errors.

Owns: the SA tables of one worker (by our SPI; half-open SAs also by the initiator's SPI
and address so that IKE_SA_INIT retransmissions find them), message-ID handling with a
window of one (RFC 7296 §2.3), the retransmission cache (§2.1: a retransmitted request
gets the cached response, never a second processing), our own requests with exponential
back-off (§2.4) and the per-SA deadline. It is the only place that catches IkeError:
it logs the reason once, answers with the error's notify when the RFC asks for one,
counts it, and tears the SA down when the error is fatal.

The tasks (ike_sa_init, ike_auth, create_child_sa, informational) return the payloads of
a response, or PENDING when the response waits for an auth or kernel result; they finish
later through ``complete``.

Must not import asyncio, socket, pyroute2, ldap3, prometheus_client or the clock.
"""

from __future__ import annotations

import logging
from collections import Counter

from .. import events as ev
from ..actions import RemoveChildSa, SendDatagram
from ..admission import REASSEMBLY_BUDGET, forget_half_open
from ..constants import ExchangeType, HeaderFlag
from ..errors import IkeError, InvalidIkeSpi, InvalidMessageId, MalformedMessage, ResourceLimit
from ..wire import ikev2 as w
from . import create_child_sa, ike_auth, ike_sa_init, informational, payload_rules
from .ike_sa import PENDING, ChildSaState, IkeSa, IkeSaState, OutstandingRequest
from .messages import Payloads, notify, open_sk, seal

log = logging.getLogger("ikesrv.ikev2")

ZERO_SPI = bytes(8)
# plain ints: a test on an IntFlag member goes through enum's __and__ (~1 µs each)
_RESPONSE, _INITIATOR = int(HeaderFlag.RESPONSE), int(HeaderFlag.INITIATOR)
_EXCHANGE_NAMES = {int(x): x.name for x in ExchangeType}


def exchange_name(exchange: int) -> str:
    return _EXCHANGE_NAMES.get(exchange, "other")


class Ikev2Responder:
    """All IKEv2 SAs of one worker and the logic that drives them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sas: dict[bytes, IkeSa] = {}
        self.half_open: dict[tuple, IkeSa] = {}  # (spi_i, remote) -> SA
        self.half_open_per_ip: Counter = Counter()
        self.by_identity: dict[tuple, set[IkeSa]] = {}
        self.reassembly_bytes = 0  # held in partly reassembled messages of all SAs

    # ------------------------------------------------------------------ input -------

    def datagram(self, data: bytes, local, remote, now: float) -> None:
        try:
            msg = w.decode_message(data)
        except IkeError as e:
            self.ctx.invalid(e, remote, "IKEv2 message")
            ike_sa_init.answer_bad_version(self, e, data, local, remote)
            return
        self.ctx.emit(ev.counted("in", 2, exchange_name(msg.exchange)))
        flags = msg.flags
        if msg.exchange == ExchangeType.IKE_SA_INIT:
            if flags & _RESPONSE or not flags & _INITIATOR:
                self.ctx.invalid(MalformedMessage("IKE_SA_INIT response or without the "
                                                  "Initiator flag: we never initiate"), remote)
                return
            if msg.spi_r != ZERO_SPI:
                self.ctx.invalid(MalformedMessage("IKE_SA_INIT request with a responder SPI"),
                                 remote)
                return
            ike_sa_init.handle_request(self, msg, data, local, remote, now)
            return
        # §3.1: the I flag tells which SPI field is ours
        sender_is_initiator = bool(flags & _INITIATOR)
        our_spi = msg.spi_r if sender_is_initiator else msg.spi_i
        sa = self.sas.get(our_spi)
        if sa is None or sa.peer_spi != (msg.spi_i if sender_is_initiator else msg.spi_r) \
                or sa.we_initiated == sender_is_initiator:
            self.ctx.invalid(InvalidIkeSpi(f"no IKE SA {msg.spi_i.hex()}_i {msg.spi_r.hex()}_r"),
                             remote)
            return
        if sa.state is IkeSaState.DEAD:
            return
        if flags & _RESPONSE:
            self._response(sa, msg, data, local, remote, now)
        else:
            self._request(sa, msg, data, local, remote, now)

    def _request(self, sa: IkeSa, msg, data, local, remote, now) -> None:
        mid = msg.message_id
        if mid == sa.last_response_id and sa.last_response:
            # §2.1: a retransmission; answer from the cache. RFC 7383 §2.6.1: for a
            # fragmented request only the first fragment triggers it (no amplification)
            last = msg.payloads[-1] if msg.payloads else None
            if last is None or getattr(last, "fragment_number", 1) == 1:
                self._send(sa, sa.last_response, exchange_name(msg.exchange), local, remote)
            return
        if mid != sa.peer_next_id:
            self.ctx.invalid(InvalidMessageId(f"request ID {mid}, expected {sa.peer_next_id}"),
                             remote)
            return
        if sa.busy_id == mid:
            return  # still working on it (LDAP, kernel): the answer will come
        try:
            payloads = self._open(sa, data, msg)
        except IkeError as e:
            self.ctx.invalid(e, remote, f"IKE SA {sa.spi_i.hex()}")
            if e.reply and e.notify and not isinstance(e, MalformedMessage):
                self.respond(sa, msg.exchange, mid, [notify(e.notify, e.notify_data)])
            return
        if payloads is None:
            return  # more fragments to come
        self._heard(sa, local, remote, now)
        try:
            payload_rules.check(msg.exchange, False, payloads)
            view = Payloads(payloads)
            if msg.exchange == ExchangeType.IKE_AUTH:
                result = ike_auth.handle_request(self, sa, msg, view, now)
            elif msg.exchange == ExchangeType.CREATE_CHILD_SA:
                result = create_child_sa.handle_request(self, sa, msg, view, now)
            else:
                result = informational.handle_request(self, sa, msg, view, now)
        except IkeError as e:
            self.fail_request(sa, msg.exchange, mid, e, now)
            return
        if result is PENDING:
            sa.busy_id = mid
        else:
            self.respond(sa, msg.exchange, mid, result)
        self.reschedule(sa)

    def fail_request(self, sa: IkeSa, exchange: int, mid: int, e: IkeError, now: float,
                     extra: list | None = None) -> None:
        """Answer a request with the error's notify; tear the SA down if fatal."""
        self.ctx.log_error(e, sa.remote, f"IKE SA {sa.spi_i.hex()} {exchange_name(exchange)}")
        payloads = list(extra or [])
        if e.reply and e.notify is not None:
            payloads.append(notify(e.notify, e.notify_data))
        self.respond(sa, exchange, mid, payloads)
        if e.fatal:
            if not sa.established:
                self.ctx.emit(ev.IkeSaFailed(2, e.metric_reason))
            self.destroy(sa, now, reason=e.reason)
        else:
            self.reschedule(sa)

    def _response(self, sa: IkeSa, msg, data, local, remote, now) -> None:
        out = sa.outstanding
        if out is None or msg.message_id != out.message_id:
            self.ctx.invalid(InvalidMessageId(f"unexpected response ID {msg.message_id}"), remote)
            return
        try:
            payloads = self._open(sa, data, msg)
            if payloads is None:
                return
            payload_rules.check(msg.exchange, True, payloads)
        except IkeError as e:
            self.ctx.invalid(e, remote, f"IKE SA {sa.spi_i.hex()}")
            return
        self._heard(sa, local, remote, now)
        sa.outstanding = None
        try:
            out.on_response(Payloads(payloads), now)
        except IkeError as e:
            self.ctx.log_error(e, sa.remote, f"IKE SA {sa.spi_i.hex()} response")
            if e.fatal:
                self.destroy(sa, now, reason=e.reason)
                return
        self._send_queued(sa, now)
        self.reschedule(sa)

    def _open(self, sa: IkeSa, data: bytes, msg) -> list | None:
        """open_sk, keeping the bytes held in reassembly by all SAs within
        REASSEMBLY_BUDGET (RFC 7383 §2.6.1 bounds each message; this bounds their sum,
        which a peer with many half-open SAs could otherwise multiply)."""
        before = sa.reassembly.size if sa.reassembly is not None else 0
        try:
            payloads = open_sk(sa, data, msg)
        finally:
            after = sa.reassembly.size if sa.reassembly is not None else 0
            self.reassembly_bytes += after - before
        if after > before and self.reassembly_bytes > REASSEMBLY_BUDGET:
            self.reassembly_bytes -= after
            sa.reassembly = None  # this message starts over; the peer retransmits
            raise ResourceLimit(f"fragments held by all IKE SAs exceed {REASSEMBLY_BUDGET} "
                                "bytes: this message's fragments dropped")
        return payloads

    def _heard(self, sa: IkeSa, local, remote, now: float) -> None:
        """An authenticated message arrived: liveness, and NAT-T address updates."""
        sa.last_heard = now
        if (local, remote) != (sa.local, sa.remote):
            # §2.23: behind a NAT, follow the peer's latest authenticated address/port
            if sa.remote_behind_nat or sa.local_behind_nat or remote[0] == sa.remote[0]:
                log.info("IKE SA %s: peer moved %s:%d -> %s:%d", sa.spi_i.hex(),
                         *sa.remote, *remote)
                sa.local, sa.remote = local, remote
                sa.natt = local[1] == self.ctx.natt_port

    # ------------------------------------------------------------------ output ------

    def respond(self, sa: IkeSa, exchange: int, mid: int, payloads: list) -> None:
        datagrams = seal(sa, exchange, True, mid, payloads, self.ctx.rng)
        sa.last_response = datagrams
        sa.last_response_id = mid
        sa.peer_next_id = mid + 1
        sa.busy_id = None
        self._send(sa, datagrams, exchange_name(exchange), sa.local, sa.remote)
        if sa.close_reason is not None:
            self.destroy(sa, self.ctx.now, reason=sa.close_reason)

    def close_after_response(self, sa: IkeSa, reason: str) -> None:
        sa.close_reason = reason

    def complete(self, sa: IkeSa, exchange: int, mid: int, payloads: list, now: float) -> None:
        """A suspended request's response is ready."""
        if sa.state is IkeSaState.DEAD or sa.busy_id != mid:
            return
        self.respond(sa, exchange, mid, payloads)
        self.reschedule(sa)

    def _send(self, sa: IkeSa, datagrams: list[bytes], exchange: str, local, remote) -> None:
        for d in datagrams:
            self.ctx.emit(SendDatagram(local, remote, d))
            self.ctx.emit(ev.counted("out", 2, exchange))

    def send_unprotected(self, data: bytes, local, remote, exchange: str) -> None:
        self.ctx.emit(SendDatagram(local, remote, data))
        self.ctx.emit(ev.counted("out", 2, exchange))

    def request(self, sa: IkeSa, exchange: int, payloads: list, now: float, on_response,
                on_failure, context=None) -> None:
        """Send a request of ours on ``sa`` (queued while another is outstanding)."""
        sa.queued.append((exchange, payloads, on_response, on_failure, context))
        if sa.outstanding is None:
            self._send_queued(sa, now)
        self.reschedule(sa)

    def _send_queued(self, sa: IkeSa, now: float) -> None:
        if sa.outstanding is not None or not sa.queued or sa.state is IkeSaState.DEAD:
            return
        exchange, payloads, on_response, on_failure, context = sa.queued.popleft()
        if callable(payloads):  # built at send time (e.g. nonces of a queued rekey)
            payloads = payloads()
        mid = sa.our_next_id
        sa.our_next_id += 1
        datagrams = seal(sa, exchange, False, mid, payloads, self.ctx.rng)
        timing = self.ctx.retransmit_timing(sa)
        sa.outstanding = OutstandingRequest(
            message_id=mid, exchange=exchange, datagrams=datagrams, on_response=on_response,
            on_failure=on_failure, sent_at=now, next_retransmit=now + timing[0],
            context=context)
        self._send(sa, datagrams, exchange_name(exchange), sa.local, sa.remote)

    # ------------------------------------------------------------------ timers ------

    def reschedule(self, sa: IkeSa) -> None:
        # an SA that ended while its message was handled (a Delete, a failed IKE_AUTH)
        # must not come back into the timers: they would keep it, keys and all, until
        # its next deadline, hours away without DPD
        self.ctx.timers.set(sa, sa.next_deadline() if sa.state is not IkeSaState.DEAD else None)

    def on_timer(self, sa: IkeSa, now: float) -> None:
        if sa.state is IkeSaState.DEAD:
            return
        if sa.delete_at is not None and sa.delete_at <= now:
            self.destroy(sa, now, reason="no longer needed")
            return
        if sa.half_open_expire is not None and sa.half_open_expire <= now:
            log.info("IKE SA %s from %s:%d: not established within %ss, dropped",
                     sa.spi_i.hex(), *sa.remote, self.ctx.half_open_timeout)
            self.ctx.emit(ev.IkeSaFailed(2, "timeout"))
            self.destroy(sa, now, reason="half-open timeout")
            return
        out = sa.outstanding
        if out is not None and out.next_retransmit <= now:
            timing = self.ctx.retransmit_timing(sa)
            if out.retransmits < len(timing) - 1:
                out.retransmits += 1
                out.next_retransmit = now + timing[out.retransmits]
                self._send(sa, out.datagrams, exchange_name(out.exchange), sa.local, sa.remote)
            else:
                sa.outstanding = None
                out.on_failure("no answer to our request after "
                               f"{out.retransmits} retransmissions")
                if sa.state is IkeSaState.DEAD:
                    return
        informational.on_timer(self, sa, now)
        if sa.state is not IkeSaState.DEAD:
            create_child_sa.on_timer(self, sa, now)
        if sa.state is not IkeSaState.DEAD:
            self.reschedule(sa)

    # ------------------------------------------------------------------ SA life -----

    def add(self, sa: IkeSa) -> None:
        self.sas[sa.our_spi] = sa

    def set_state(self, sa: IkeSa, state: IkeSaState, now: float) -> None:
        old, new = _metric_state(sa.state), _metric_state(state)
        was_half_open = sa.state in (IkeSaState.HALF_OPEN, IkeSaState.AUTHENTICATING)
        sa.state = state
        if was_half_open and state not in (IkeSaState.HALF_OPEN, IkeSaState.AUTHENTICATING):
            self._leave_half_open(sa)
        if old != new:
            self.ctx.emit(ev.IkeSaStateChanged(2, old, new))

    def _leave_half_open(self, sa: IkeSa) -> None:
        forget_half_open(self.half_open, self.half_open_per_ip, sa)
        sa.half_open_expire = None

    def index_identity(self, sa: IkeSa) -> None:
        key = (sa.connection.name, sa.peer_identity_key)
        self.by_identity.setdefault(key, set()).add(sa)

    def others_of_identity(self, sa: IkeSa) -> list[IkeSa]:
        key = (sa.connection.name, sa.peer_identity_key)
        return [o for o in self.by_identity.get(key, ()) if o is not sa
                and o.state is not IkeSaState.DEAD and o.replaced_by is None]

    def destroy(self, sa: IkeSa, now: float, reason: str, *, keep_children: bool = False) -> None:
        """Forget an IKE SA locally: its CHILD SAs leave the kernel, its address the pool."""
        if sa.state is IkeSaState.DEAD:
            return
        log.info("IKE SA %s (%s) with %s:%d deleted: %s", sa.spi_i.hex(),
                 sa.peer_id if sa.peer_id is not None else "unauthenticated", *sa.remote, reason)
        self.set_state(sa, IkeSaState.DEAD, now)
        self.ctx.timers.cancel(sa)
        if self.sas.get(sa.our_spi) is sa:
            del self.sas[sa.our_spi]
        if sa.connection is not None and getattr(sa, "peer_identity_key", None) is not None:
            key = (sa.connection.name, sa.peer_identity_key)
            group = self.by_identity.get(key)
            if group is not None:
                group.discard(sa)
                if not group:
                    del self.by_identity[key]
        if not keep_children:
            for child in list(sa.children.values()):
                self.remove_child(sa, child)
            if sa.vip is not None:
                self.ctx.release_vip(sa)
        sa.children = {}
        sa.outstanding = None
        sa.queued.clear()
        if sa.reassembly is not None:
            self.reassembly_bytes -= sa.reassembly.size
            sa.reassembly = None
        ike_auth.abandon(self, sa)

    def remove_child(self, sa: IkeSa, child) -> None:
        sa.children.pop(child.spi_in, None)
        if child.state is not ChildSaState.INSTALLING:
            others_share_policies = any(c.reqid == child.reqid for c in sa.children.values())
            self.ctx.emit(RemoveChildSa(child.spec, remove_policies=not others_share_policies))
            self.ctx.emit(ev.ChildSaChanged(2, -1))
        self.ctx.forget_child(child)

    def status(self, now: float) -> list[dict]:
        return [sa.describe(now) for sa in self.sas.values()]

    def shutdown(self, now: float) -> None:
        """SIGTERM: tell every established peer that its SA goes (best effort, one try)."""
        for sa in list(self.sas.values()):
            if sa.state in (IkeSaState.ESTABLISHED, IkeSaState.REKEYED):
                informational.send_delete_ike(self, sa, now, wait=False)
            self.destroy(sa, now, reason="shutting down")


def _metric_state(state: IkeSaState) -> str | None:
    if state in (IkeSaState.HALF_OPEN, IkeSaState.AUTHENTICATING):
        return ev.HALF_OPEN
    if state in (IkeSaState.ESTABLISHED, IkeSaState.DELETING):
        return ev.ESTABLISHED  # a REKEYED SA is counted by its successor
    return None
