"""The IKEv1 exchange driver: routes each datagram to its ISAKMP SA and transition.

Owns: the SA tables of one worker (by our cookie CKY-R; half-open SAs also by the
initiator's cookie and address, so that a retransmitted first message finds its SA),
retransmission handling (phase 1 has no message IDs: a message equal to the last one
received with its message ID gets the same answer, never a second processing; AM2 and
QM2 are resent by us until the initiator's last message arrives, RFC 2409 §5.4, §5.5),
fragment reassembly, our Transaction requests with back-off, the per-SA deadline, and
the life of an SA (states and their metrics, half-open limits, destroy). It is the only
place that catches IkeError: the message is dropped and counted; a phase 1 that cannot
go on ends; notifies answer only what RFC 2408 §5 asks (NO-PROPOSAL-CHOSEN and
AUTHENTICATION-FAILED to a first message, statelessly) and, encrypted, what an
authenticated peer did wrong.

Plugs into the core as ``ctx.v1``: ``datagram``, ``status``, ``shutdown``, and
``on_kernel_expire``; each IsakmpSa is a timer owner (``IsakmpSa.on_timer``).

Must not import asyncio, socket, pyroute2, ldap3, prometheus_client or the clock.
"""

from __future__ import annotations

import logging
from collections import Counter

from .. import events as ev
from ..actions import RemoveChildSa, SendDatagram
from ..admission import REASSEMBLY_BUDGET, forget_half_open
from ..constants import V1ExchangeType as X
from ..constants import V1NotifyType, enum_name
from ..constants import V1PayloadType as P
from ..errors import (
    AuthenticationFailed,
    IkeError,
    IntegrityCheckFailed,
    InvalidIkeSpi,
    InvalidKeyInformation,
    MalformedMessage,
    NoProposalChosen,
    ResourceLimit,
    UnexpectedPayload,
)
from ..ikev2.ike_sa import ChildSaState
from ..wire import ikev1 as w
from . import aggressive_mode, informational, main_mode, messages, mode_config, quick_mode
from . import transitions as tr
from .isakmp_sa import PHASE1_STATES, IsakmpSa, OutstandingTransaction, V1State
from .messages import V1Payloads, payload_type

log = logging.getLogger("ikesrv.ikev1")

ZERO = bytes(8)
_FIRST = (X.IDENTITY_PROTECTION, X.AGGRESSIVE)
#: The exchanges counted by name (metrics.EXCHANGES_V1 publishes the same at zero; the
#: core must not import the metrics module); anything else counts as "other".
EXCHANGE_NAMES = {int(x): x.name for x in (X.IDENTITY_PROTECTION, X.AGGRESSIVE,
                                           X.INFORMATIONAL, X.TRANSACTION, X.QUICK_MODE)}


def exchange_name(exchange: int) -> str:
    return EXCHANGE_NAMES.get(exchange, "other")


def transaction_reply(resp, sa: IsakmpSa, msg, view, now, local, remote):
    """The peer's answer (REPLY, ACK) to our outstanding Transaction request."""
    out = sa.outstanding
    sa.outstanding = None
    sa.cipher.forget(out.message_id)
    out.on_reply(view.first(P.ATTR), now)
    if sa.state is not V1State.DEAD and sa.outstanding is None and sa.queued:
        resp._start_transaction(sa, sa.queued.pop(0), now)
    return tr.Reply(None)


_MODULES = {"main_mode": main_mode, "aggressive_mode": aggressive_mode,
            "quick_mode": quick_mode, "mode_config": mode_config,
            "informational": informational}


def _resolve(name: str):
    module, function = name.split(".")
    if module == "responder":
        return globals()[function]
    return getattr(_MODULES[module], function)


HANDLERS = {t.handler: _resolve(t.handler) for t in tr.ALL}


def _metric_state(state: V1State) -> str | None:
    if state in PHASE1_STATES or state is V1State.XAUTH:
        return ev.HALF_OPEN
    if state is V1State.ESTABLISHED:
        return ev.ESTABLISHED
    return None  # a REKEYED SA is counted by its successor


class Ikev1Responder:
    """All ISAKMP SAs of one worker and the logic that drives them."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sas: dict[bytes, IsakmpSa] = {}
        self.half_open: dict[tuple, IsakmpSa] = {}  # (CKY-I, remote) -> SA in phase 1
        self.half_open_per_ip: Counter = Counter()
        self.by_identity: dict[tuple, set[IsakmpSa]] = {}
        self.reassembly_bytes = 0  # held in partly reassembled messages of all SAs

    # ------------------------------------------------------------------ input -------

    def datagram(self, data: bytes, local, remote, now: float, *,
                 reassembled: bool = False) -> None:
        ctx = self.ctx
        try:
            msg = w.decode_message(data)
        except IkeError as e:
            ctx.invalid(e, remote, "IKEv1 message")
            return
        if not reassembled:
            ctx.emit(ev.counted("in", 1, exchange_name(msg.exchange)))
        if msg.spi_r == ZERO:
            self._first_message(msg, data, local, remote, now)
            return
        sa = self.sas.get(msg.spi_r)
        if sa is None or sa.spi_i != msg.spi_i:
            ctx.invalid(InvalidIkeSpi(f"no ISAKMP SA {msg.spi_i.hex()}_i {msg.spi_r.hex()}_r"),
                        remote)
            return
        if sa.state is V1State.DEAD:
            return
        if msg.payloads and payload_type(msg.payloads[-1]) == P.FRAGMENT:
            self._fragment(sa, msg, local, remote, now, reassembled)
            return
        cached = sa.replies.get(msg.message_id)
        if cached is not None and cached.request == data:
            if cached.response:  # the same message again: the same answer (RFC 2408 §5)
                self.send(sa, cached.response, exchange_name(msg.exchange))
            return
        if msg.exchange == X.INFORMATIONAL and not msg.is_encrypted:
            # anyone can send one: its notifies are logged, never acted upon
            names = ", ".join(enum_name(V1NotifyType, p.type) for p in msg.payloads
                              if payload_type(p) == P.N)
            ctx.invalid(UnexpectedPayload(f"unprotected Informational ({names or 'no notify'})"
                                          " ignored"), remote, f"ISAKMP SA {sa.spi_i.hex()}")
            return
        row = self._row(sa, msg)
        if row is None or sa.state not in row.states or (
                row.encrypted is not None and row.encrypted != msg.is_encrypted):
            what = row.story if row is not None else exchange_name(msg.exchange)
            ctx.invalid(UnexpectedPayload(f"{what} (encrypted: {msg.is_encrypted}) not "
                                          f"expected in state {sa.state.value}"), remote,
                        f"ISAKMP SA {sa.spi_i.hex()}")
            return
        self._run(sa, row, msg, data, local, remote, now)

    def _row(self, sa: IsakmpSa, msg):
        x, mid = msg.exchange, msg.message_id
        if x in _FIRST:
            return tr.PHASE1.get((x, sa.state)) if x == sa.exchange and mid == 0 else None
        if mid == 0:
            return None
        if x == X.QUICK_MODE:
            return tr.QM3 if mid in sa.quick_modes else tr.QM1
        if x == X.TRANSACTION:
            out = sa.outstanding
            return tr.CFG_REPLY if out is not None and out.message_id == mid else tr.CFG_REQUEST
        if x == X.INFORMATIONAL:
            return tr.INFO
        return None

    def _run(self, sa: IsakmpSa, row, msg, data: bytes, local, remote, now: float) -> None:
        mid = msg.message_id
        try:
            try:
                if msg.is_encrypted:
                    if sa.cipher is None:
                        raise MalformedMessage("encrypted message before the keys exist", 19)
                    plaintext, payloads = messages.decrypt(sa, msg)
                else:
                    plaintext, payloads = b"", msg.payloads
                view = V1Payloads(payloads)
                row.check_view(view)
                if row is tr.QM3:
                    qm = sa.quick_modes[mid].child
                    messages.verify_hash3(sa, plaintext, msg.next_payload, mid, qm.nonce_i,
                                          qm.nonce_r, row.story)
                elif row.hashed:
                    messages.verify_hash1(sa, plaintext, msg.next_payload, mid, row.story)
            except MalformedMessage as e:
                if row is tr.MM5 or (row is tr.AM3 and msg.is_encrypted):
                    # garbage after decryption: the keys differ, i.e. the pre-shared key
                    if not sa.signatures:
                        self.ctx.emit(ev.AuthAttempt("psk", "failure"))
                    raise AuthenticationFailed(f"{row.story} does not decrypt to valid "
                                               f"payloads (wrong pre-shared key?): {e}") from None
                raise
            if msg.is_encrypted:
                sa.cipher.advance(mid, msg.encrypted_body)
            reply = HANDLERS[row.handler](self, sa, msg, view, now, local, remote)
        except IkeError as e:
            self._rejected(sa, row, msg, data, e, now)
            return
        if row is not tr.MM3:  # every other row is authenticated by now
            self._heard(sa, local, remote, now)
        self._reply(sa, row, msg, data, reply, now)
        if sa.state is not V1State.DEAD:
            self.reschedule(sa)

    def _reply(self, sa: IsakmpSa, row, msg, data: bytes, reply, now: float) -> None:
        mid = msg.message_id
        datagrams: list[bytes] = []
        if reply is not None and reply.payloads is not None and sa.state is not V1State.DEAD:
            if not row.reply_encrypted:
                body = messages.plain(sa.spi_i, sa.spi_r, msg.exchange, mid, reply.payloads)
            elif reply.hash_of is not None:
                body = messages.seal_hashed(sa, msg.exchange, mid, reply.payloads,
                                            reply.hash_of)
            else:
                body = messages.seal(sa, msg.exchange, mid, reply.payloads)
            datagrams = messages.datagrams(sa, body, self.ctx.natt_port)
            self.send(sa, datagrams, exchange_name(msg.exchange))
        sa.remember(mid, data, datagrams if row.resend_on_duplicate else [])
        if row is tr.CFG_REQUEST:
            sa.cipher.forget(mid)
        if reply is not None and reply.then is not None and sa.state is not V1State.DEAD:
            reply.then(now)

    def _rejected(self, sa: IsakmpSa, row, msg, data: bytes, e: IkeError, now: float) -> None:
        ctx = self.ctx
        what = f"ISAKMP SA {sa.spi_i.hex()} {row.story}"
        if isinstance(e, IntegrityCheckFailed):
            ctx.invalid(e, sa.remote, what)  # forged or garbled: nothing changes
            return
        ctx.log_error(e, sa.remote, what)
        if row is tr.AM3 and isinstance(e, MalformedMessage):
            return  # unauthenticated junk: the SA waits for a valid AM3 or times out
        if row in (tr.MM5, tr.AM3):
            # the peer proved its address with two round trips; its message decrypted or
            # at least reached the keys: say why, encrypted, then the SA ends
            if e.reply and e.notify_v1 is not None and sa.skeyid_a:
                informational.send_notify(self, sa, e.notify_v1)
            ctx.emit(ev.IkeSaFailed(1, e.metric_reason))
            self.destroy(sa, now, reason=e.reason)
            return
        if row is tr.MM3:
            return  # unauthenticated: dropped, the SA waits for a valid MM3 or times out
        # not remembered: a retransmission is looked at again (its IV starts afresh)
        if row is tr.QM1 and e.reply and e.notify_v1 is not None:
            # RFC 2408 §5.6: the authenticated initiator learns why its proposal failed
            informational.send_notify(self, sa, e.notify_v1)
        if msg.is_encrypted and row in (tr.QM1, tr.CFG_REQUEST, tr.INFO):
            # a new exchange that failed: its IV goes; never that of an exchange in
            # progress (QM3, the answer to our request), which a garbled copy must not break
            sa.cipher.forget(msg.message_id)

    def _first_message(self, msg, data: bytes, local, remote, now: float) -> None:
        ctx = self.ctx
        if msg.exchange not in _FIRST or msg.is_encrypted or msg.message_id != 0:
            ctx.invalid(InvalidIkeSpi(f"{exchange_name(msg.exchange)} without a responder "
                                      "cookie"), remote)
            return
        existing = self.half_open.get((msg.spi_i, remote))
        if existing is not None:
            if existing.first_request != data:
                ctx.invalid(UnexpectedPayload("a different first message with the cookie of a "
                                              "half-open ISAKMP SA"), remote)
            elif existing.state in (V1State.MM_SA, V1State.AM_SENT):
                self.send(existing, existing.first_response, exchange_name(msg.exchange))
            return
        if ctx.half_open_full(self, remote[0]):
            ctx.invalid(ResourceLimit("half-open SA limit reached, request dropped"), remote)
            return
        if msg.exchange == X.AGGRESSIVE and not ctx.unproven_dh_allowed(remote[0], now):
            # AM1 costs a DH (and a signature) before the sender proved its address, and
            # IKEv1 has no COOKIE to ask for: under pressure only a bounded rate of them
            ctx.invalid(ResourceLimit("Aggressive Mode under pressure: over the bound on "
                                      "unproven Diffie-Hellman work, dropped"), remote)
            return
        row = tr.PHASE1[(msg.exchange, None)]
        try:
            view = V1Payloads(msg.payloads)
            row.check_view(view)
            sa, reply = HANDLERS[row.handler](self, msg, view, data, local, remote, now)
        except IkeError as e:
            ctx.invalid(e, remote, row.story)
            if isinstance(e, (NoProposalChosen, AuthenticationFailed, InvalidKeyInformation)):
                # RFC 2408 §5.6: the initiator learns that nothing fits, in one small
                # unencrypted message and without any state on our side
                ctx.emit(ev.IkeSaFailed(1, e.metric_reason))
                answer = messages.plain(msg.spi_i, ZERO, X.INFORMATIONAL, 0, [
                    messages.notify(e.notify_v1, spi=msg.spi_i + ZERO)])
                ctx.emit(SendDatagram(local, remote, answer))
                ctx.emit(ev.counted("out", 1, "INFORMATIONAL"))
            return
        self._register(sa, now)
        datagrams = [messages.plain(sa.spi_i, sa.spi_r, msg.exchange, 0, reply.payloads)]
        sa.first_request, sa.first_response = data, datagrams
        self.send(sa, datagrams, exchange_name(msg.exchange))
        if sa.state is V1State.AM_SENT:
            sa.phase1_response = datagrams
            sa.phase1_retransmit_at = now + self.ctx.retransmit_timing(sa)[0]
        self.reschedule(sa)
        log.debug("%s from %s:%d: %s, cookies %s_i %s_r", row.story, *remote, sa.suite,
                  sa.spi_i.hex(), sa.spi_r.hex())

    def _fragment(self, sa: IsakmpSa, msg, local, remote, now: float, reassembled: bool) -> None:
        try:
            if reassembled or len(msg.payloads) != 1 or msg.is_encrypted:
                raise MalformedMessage("fragment payload in a reassembled or mixed message")
            before = sa.reassembly.size if sa.reassembly is not None else 0
            try:
                whole = messages.add_fragment(sa, msg.payloads[0])
            finally:
                after = sa.reassembly.size if sa.reassembly is not None else 0
                self.reassembly_bytes += after - before
            if after > before and self.reassembly_bytes > REASSEMBLY_BUDGET:
                # IKEv1 fragments are not authenticated: each SA's bound (messages.py)
                # times the half-open SAs a flood can open needs a bound of its own
                self.reassembly_bytes -= after
                sa.reassembly = None
                raise ResourceLimit(f"fragments held by all ISAKMP SAs exceed "
                                    f"{REASSEMBLY_BUDGET} bytes: this message's dropped")
        except IkeError as e:
            self.ctx.invalid(e, remote, f"ISAKMP SA {sa.spi_i.hex()} fragment")
            return
        if whole is not None:
            self.datagram(whole, local, remote, now, reassembled=True)

    def _heard(self, sa: IsakmpSa, local, remote, now: float) -> None:
        """An authenticated message arrived: liveness, and NAT-T address updates."""
        sa.last_heard = now
        if sa.dpd_pending_since is not None:
            sa.dpd_pending_since = sa.dpd_first_unanswered = None
        moved = (local, remote) != (sa.local, sa.remote)
        # RFC 3947 §4: behind a NAT, follow the peer's latest authenticated address/port
        if moved and (sa.remote_behind_nat or sa.local_behind_nat or remote[0] == sa.remote[0]):
            log.info("ISAKMP SA %s: peer moved %s:%d -> %s:%d", sa.spi_i.hex(),
                     *sa.remote, *remote)
            sa.local, sa.remote = local, remote

    # ------------------------------------------------------------------ output ------

    def send(self, sa: IsakmpSa, datagrams: list[bytes], exchange: str) -> None:
        for d in datagrams:
            self.ctx.emit(SendDatagram(sa.local, sa.remote, d))
            self.ctx.emit(ev.counted("out", 1, exchange))

    def new_message_id(self, sa: IsakmpSa) -> int:
        """A fresh random Message ID (RFC 2408 §3.1: unique within the SA)."""
        while True:
            mid = int.from_bytes(self.ctx.rng(4), "big")
            busy = sa.outstanding is not None and sa.outstanding.message_id == mid
            if mid and mid not in sa.replies and mid not in sa.quick_modes and not busy:
                return mid

    def send_transaction(self, sa: IsakmpSa, cfg_type: int, attributes: list, now: float, *,
                         on_reply, on_failure) -> None:
        """A Transaction request of ours; queued while another is outstanding."""
        item = (cfg_type, attributes, on_reply, on_failure)
        if sa.outstanding is not None:
            sa.queued.append(item)
            return
        self._start_transaction(sa, item, now)

    def _start_transaction(self, sa: IsakmpSa, item, now: float) -> None:
        cfg_type, attributes, on_reply, on_failure = item
        mid = self.new_message_id(sa)
        identifier = int.from_bytes(self.ctx.rng(2), "big")
        payload = w.AttributePayload(cfg_type=cfg_type, identifier=identifier,
                                     attributes=attributes)
        data = messages.seal_hashed(sa, X.TRANSACTION, mid, [payload],
                                    messages.informational_hash(sa, mid))
        datagrams = messages.datagrams(sa, data, self.ctx.natt_port)
        sa.outstanding = OutstandingTransaction(
            message_id=mid, identifier=identifier, datagrams=datagrams, on_reply=on_reply,
            on_failure=on_failure, next_retransmit=now + self.ctx.retransmit_timing(sa)[0])
        self.send(sa, datagrams, "TRANSACTION")
        self.reschedule(sa)

    def cfg_sent(self, sa: IsakmpSa, now: float) -> None:
        sa.cfg_done = True
        sa.cfg_push_at = None

    # ------------------------------------------------------------------ timers ------

    def reschedule(self, sa: IsakmpSa) -> None:
        # a destroyed SA never comes back into the timers (they would keep it alive)
        self.ctx.timers.set(sa, sa.next_deadline() if sa.state is not V1State.DEAD else None)

    def on_timer(self, sa: IsakmpSa, now: float) -> None:
        if sa.state is V1State.DEAD:
            return
        if sa.delete_at is not None and sa.delete_at <= now:
            if sa.state is V1State.REKEYED:
                informational.send_delete_isakmp(self, sa)
            self.destroy(sa, now, reason="replaced" if sa.state is V1State.REKEYED
                         else "no longer needed")
            return
        if sa.half_open_expire is not None and sa.half_open_expire <= now:
            log.info("ISAKMP SA %s from %s:%d: phase 1 not finished within %ss, dropped",
                     sa.spi_i.hex(), *sa.remote, self.ctx.half_open_timeout)
            self.ctx.emit(ev.IkeSaFailed(1, "timeout"))
            self.destroy(sa, now, reason="half-open timeout")
            return
        timing = self.ctx.retransmit_timing(sa)
        if sa.phase1_retransmit_at is not None and sa.phase1_retransmit_at <= now:
            if sa.phase1_retransmits < len(timing) - 1:
                sa.phase1_retransmits += 1
                sa.phase1_retransmit_at = now + timing[sa.phase1_retransmits]
                self.send(sa, sa.phase1_response, exchange_name(sa.exchange))
            else:
                sa.phase1_retransmit_at = None
        out = sa.outstanding
        if out is not None and out.next_retransmit <= now:
            if out.retransmits < len(timing) - 1:
                out.retransmits += 1
                out.next_retransmit = now + timing[out.retransmits]
                self.send(sa, out.datagrams, "TRANSACTION")
            else:
                sa.outstanding = None
                out.on_failure(f"no answer after {out.retransmits} retransmissions")
                if sa.state is V1State.DEAD:
                    return
        for qm in list(sa.quick_modes.values()):
            if qm.next_retransmit > now:
                continue
            if qm.retransmits < len(timing) - 1 and qm.response:
                qm.retransmits += 1
                qm.next_retransmit = now + timing[qm.retransmits]
                self.send(sa, qm.response, "QUICK_MODE")
            else:
                del sa.quick_modes[qm.message_id]
                sa.cipher.forget(qm.message_id)
                log.info("ISAKMP SA %s: Quick Mode %08x of '%s' never completed (no QM3)",
                         sa.spi_i.hex(), qm.message_id, sa.peer_id)
        if sa.cfg_push_at is not None and sa.cfg_push_at <= now:
            sa.cfg_push_at = None
            if sa.state is V1State.ESTABLISHED and sa.vip is None and not sa.cfg_done:
                mode_config.push(self, sa, now)
        informational.on_timer(self, sa, now)
        if sa.state is not V1State.DEAD:
            self.reschedule(sa)

    # ------------------------------------------------------------------ SA life -----

    def new_sa(self, msg, local, remote, now: float, exchange: int) -> IsakmpSa:
        """A new SA for a first message; registered only once its answer is ready."""
        spi_r = self.ctx.new_ike_spi(lambda spi: spi in self.sas)
        return IsakmpSa(spi_i=msg.spi_i, spi_r=spi_r, local=local, remote=remote,
                        created_at=now, exchange=exchange, owner=self, last_heard=now)

    def _register(self, sa: IsakmpSa, now: float) -> None:
        self.sas[sa.spi_r] = sa
        sa.half_open_key = (sa.spi_i, sa.remote)
        self.half_open[sa.half_open_key] = sa
        self.half_open_per_ip[sa.remote[0]] += 1
        sa.half_open_expire = now + self.ctx.half_open_timeout
        self.ctx.emit(ev.IkeSaStateChanged(1, None, ev.HALF_OPEN))

    def set_state(self, sa: IsakmpSa, state: V1State, now: float) -> None:
        old, new = _metric_state(sa.state), _metric_state(state)
        was_phase1 = sa.state in PHASE1_STATES
        sa.state = state
        if was_phase1 and state not in PHASE1_STATES:
            self._leave_half_open(sa)
        if old != new:
            self.ctx.emit(ev.IkeSaStateChanged(1, old, new))

    def _leave_half_open(self, sa: IsakmpSa) -> None:
        forget_half_open(self.half_open, self.half_open_per_ip, sa)
        sa.half_open_expire = None
        sa.first_request, sa.first_response = b"", []

    def index_identity(self, sa: IsakmpSa) -> None:
        key = (sa.connection.name, sa.peer_identity_key)
        self.by_identity.setdefault(key, set()).add(sa)

    def others_of_identity(self, sa: IsakmpSa) -> list[IsakmpSa]:
        key = (sa.connection.name, sa.peer_identity_key)
        return [o for o in self.by_identity.get(key, ()) if o is not sa
                and o.state is V1State.ESTABLISHED]

    def initial_contact(self, sa: IsakmpSa, now: float) -> None:
        """INITIAL-CONTACT after phase 1: the peer's older SAs are stale."""
        if sa.state is not V1State.ESTABLISHED:
            sa.initial_contact = True
            return
        for other in self.others_of_identity(sa):
            self.destroy(other, now, reason=f"INITIAL_CONTACT from '{sa.peer_id}'")

    def peer_dead(self, sa: IsakmpSa, reason: str) -> None:
        log.info("ISAKMP SA %s: '%s' at %s:%d is dead (%s)", sa.spi_i.hex(), sa.peer_id,
                 *sa.remote, reason)
        if sa.state is not V1State.ESTABLISHED and sa.state is not V1State.REKEYED:
            self.ctx.emit(ev.IkeSaFailed(1, "timeout"))
        self.destroy(sa, self.ctx.now, reason="peer dead")

    def delete_all(self, sa: IsakmpSa, now: float, reason: str) -> None:
        """Tell the peer its IPsec SAs and the ISAKMP SA go (one message each), then go."""
        informational.send_delete_esp(self, sa, [c.spi_in for c in sa.children.values()
                                                 if c.state is not ChildSaState.INSTALLING])
        informational.send_delete_isakmp(self, sa)
        self.destroy(sa, now, reason=reason)

    def destroy(self, sa: IsakmpSa, now: float, reason: str) -> None:
        """Forget an ISAKMP SA: its IPsec SAs leave the kernel, its address the pool."""
        if sa.state is V1State.DEAD:
            return
        log.info("ISAKMP SA %s (%s) with %s:%d deleted: %s", sa.spi_i.hex(),
                 sa.peer_id if sa.peer_id is not None else "unauthenticated", *sa.remote, reason)
        self.set_state(sa, V1State.DEAD, now)
        self._leave_half_open(sa)
        self.ctx.timers.cancel(sa)
        if self.sas.get(sa.spi_r) is sa:
            del self.sas[sa.spi_r]
        if sa.connection is not None and sa.peer_identity_key is not None:
            key = (sa.connection.name, sa.peer_identity_key)
            group = self.by_identity.get(key)
            if group is not None:
                group.discard(sa)
                if not group:
                    del self.by_identity[key]
        for child in list(sa.children.values()):
            self.remove_child(sa, child)
        if sa.vip is not None:
            self.ctx.release_vip(sa)
        for rid in sa.pending_requests:
            self.ctx.cancel_request(rid)
        sa.pending_requests = []
        sa.outstanding = None
        sa.queued.clear()
        sa.quick_modes.clear()
        if sa.reassembly is not None:
            self.reassembly_bytes -= sa.reassembly.size
        sa.reassembly = None

    def remove_child(self, sa: IsakmpSa, child) -> None:
        sa.children.pop(child.spi_in, None)
        if child.state is not ChildSaState.INSTALLING:
            shared = any(c.reqid == child.reqid for c in sa.children.values())
            self.ctx.emit(RemoveChildSa(child.spec, remove_policies=not shared))
            self.ctx.emit(ev.ChildSaChanged(1, -1))
        self.ctx.forget_child(child)

    def on_kernel_expire(self, sa: IsakmpSa, child, kind: str, now: float) -> None:
        """XFRM expiry: the initiator rekeys before the soft limit in IKEv1; at the hard
        limit the SA is gone and the peer is told."""
        if sa.state is V1State.DEAD or sa.children.get(child.spi_in) is not child:
            return
        if kind == "hard":
            log.info("IPsec SA %08x_i reached its hard lifetime in the kernel", child.spi_in)
            informational.send_delete_esp(self, sa, [child.spi_in])
            self.remove_child(sa, child)
            self.reschedule(sa)

    def identity_claimed(self, connection: str, identity: str, mode: str, claimed_at: float,
                         now: float) -> bool:
        """Another worker sets up an SA of this identity (DESIGN §4; cf. ikev2.cross_worker):
        True when ``mode`` is "keep" and we hold an older SA of it."""
        older = [sa for sa in self.by_identity.get((connection, identity), ())
                 if sa.state is V1State.ESTABLISHED and sa.established_at is not None
                 and sa.established_at <= claimed_at]
        if not older:
            return False
        if mode == "keep":
            return True
        for sa in older:
            if mode == "replace":
                self.delete_all(sa, now, reason=f"replaced by a new ISAKMP SA of "
                                                f"'{sa.peer_id}' on another worker")
            else:
                self.destroy(sa, now, reason=f"INITIAL_CONTACT from '{sa.peer_id}' on "
                                             "another worker")
        return True

    def claim_refused(self, spi: bytes, now: float) -> None:
        """Another worker keeps an older SA of this SA's identity (unique = keep)."""
        sa = self.sas.get(spi)
        if sa is None or sa.state is V1State.DEAD:
            return
        log.info("ISAKMP SA %s of '%s': unique = keep, an older SA of this identity lives on "
                 "another worker", sa.spi_i.hex(), sa.peer_id)
        self.delete_all(sa, now, reason="unique = keep")

    def status(self, now: float) -> list[dict]:
        return [sa.describe(now) for sa in self.sas.values()]

    def shutdown(self, now: float) -> None:
        """SIGTERM: Deletes to every authenticated peer (best effort, one try)."""
        for sa in list(self.sas.values()):
            if sa.state in (V1State.ESTABLISHED, V1State.XAUTH, V1State.REKEYED):
                self.delete_all(sa, now, reason="shutting down")
            else:
                self.destroy(sa, now, reason="shutting down")
