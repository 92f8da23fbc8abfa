"""Informational exchanges: notifies, deletes and liveness (RFC 2408 §4.8, RFC 2409 §5.7,
RFC 3706).

    HDR*, HASH(1), N | D  -->          (one message, no answer; DPD is a pair of them:
                                        R-U-THERE answered by R-U-THERE-ACK)

Owns: the peer's notifies (R-U-THERE gets R-U-THERE-ACK with the same sequence number,
RFC 3706 §5; R-U-THERE-ACK ends our liveness check; INITIAL-CONTACT drops the peer's
older SAs; errors are logged) and deletes (of this ISAKMP SA, of another of the same
peer, of IPsec SAs by the peer's inbound SPI, which is our outbound one); our own
notifies, deletes and liveness checks: R-U-THERE after ``dpd_delay`` of silence when
the peer announced DPD, repeated with a new sequence number every ``dpd_delay``, the
peer dead once ``dpd_timeout`` passed with no answer (RFC 3706 §5.5); and the SA's timer
work (lifetimes, replaced SAs, NAT keepalives).

Errors are answered with notifies only after phase 1 authenticated the peer, so a
forged message never makes us send anything (the only exceptions are the first
messages of Main and Aggressive Mode, answered statelessly as RFC 2408 §5.6 asks).

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging

from .. import events as ev
from ..actions import SendKeepalive
from ..constants import V1ExchangeType, V1NotifyType, V1ProtocolId, enum_name
from ..constants import V1PayloadType as P
from ..wire import ikev1 as w
from . import messages
from .isakmp_sa import IsakmpSa, V1State
from .transitions import Reply

log = logging.getLogger("ikesrv.ikev1")

KEEPALIVE_INTERVAL = 20.0  # NAT keepalives when we are the side behind a NAT (RFC 3948 §2.3)
N = V1NotifyType
_ISAKMP, _ESP = V1ProtocolId.PROTO_ISAKMP, V1ProtocolId.PROTO_IPSEC_ESP


def handle(resp, sa: IsakmpSa, msg, view, now, local, remote):
    sa.cipher.forget(msg.message_id)
    for n in view.all(P.N):
        if n.type == N.R_U_THERE:
            if len(n.data) == 4:
                send_notify(resp, sa, N.R_U_THERE_ACK, n.data, spi=sa.cookies)
        elif n.type == N.R_U_THERE_ACK:
            _dpd_ack(resp, sa, n.data, now)
        elif n.type == N.INITIAL_CONTACT:
            resp.initial_contact(sa, now)
        elif n.type < 16384:
            log.info("ISAKMP SA %s: '%s' reports %s", sa.spi_i.hex(), sa.peer_id,
                     enum_name(N, n.type))
        else:
            log.debug("ISAKMP SA %s: '%s' sends %s", sa.spi_i.hex(), sa.peer_id,
                      enum_name(N, n.type))
    for d in view.all(P.D):
        if d.protocol == _ISAKMP:
            for spi in d.spis:
                _delete_isakmp(resp, sa, spi, now)
        elif d.protocol == _ESP:
            for spi in d.spis:
                child = next((c for c in sa.children.values()
                              if c.spi_out == int.from_bytes(spi, "big")), None)
                if child is not None:
                    log.info("IPsec SA %08x_i %08x_o deleted by '%s'", child.spi_in,
                             child.spi_out, sa.peer_id)
                    resp.remove_child(sa, child)
    return Reply(None)


def _delete_isakmp(resp, sa: IsakmpSa, spi: bytes, now: float) -> None:
    if spi == sa.cookies:
        resp.destroy(sa, now, reason=f"deleted by '{sa.peer_id}'")
        return
    # an authenticated peer may delete another of its ISAKMP SAs (e.g. the one it rekeyed)
    other = resp.sas.get(spi[8:16])
    if other is not None and other.spi_i == spi[:8] and other.connection is sa.connection \
            and other.peer_identity_key == sa.peer_identity_key and other is not sa:
        resp.destroy(other, now, reason=f"deleted by '{sa.peer_id}'")


def _dpd_ack(resp, sa: IsakmpSa, data: bytes, now: float) -> None:
    if len(data) != 4 or sa.dpd_first_unanswered is None:
        return
    seq = int.from_bytes(data, "big")
    if (seq - sa.dpd_first_unanswered) & 0xFFFFFFFF <= (sa.dpd_seq - sa.dpd_first_unanswered) \
            & 0xFFFFFFFF:
        resp.ctx.emit(ev.DpdResult("alive"))
        sa.dpd_first_unanswered = sa.dpd_pending_since = None


# ------------------------------------------------------------------ ours ----------------


def send_notify(resp, sa: IsakmpSa, notify_type: int, data: bytes = b"", *,
                protocol: int = _ISAKMP, spi: bytes = b"") -> None:
    send(resp, sa, [messages.notify(notify_type, data, protocol=protocol,
                                    spi=spi or sa.cookies)])


def send_delete_isakmp(resp, sa: IsakmpSa) -> None:
    send(resp, sa, [w.DeletePayload(doi=1, protocol=_ISAKMP, spis=[sa.cookies], spi_size=16)])


def send_delete_esp(resp, sa: IsakmpSa, spis: list[int]) -> None:
    if spis:
        send(resp, sa, [w.DeletePayload(doi=1, protocol=_ESP, spi_size=4,
                                        spis=[s.to_bytes(4, "big") for s in spis])])


def send(resp, sa: IsakmpSa, payloads: list) -> None:
    """One protected Informational message (RFC 2409 §5.7); nothing answers it."""
    if sa.cipher is None or not sa.skeyid_a:
        return
    mid = resp.new_message_id(sa)
    data = messages.seal_hashed(sa, V1ExchangeType.INFORMATIONAL, mid, payloads,
                                messages.informational_hash(sa, mid))
    sa.cipher.forget(mid)
    resp.send(sa, [data], V1ExchangeType.INFORMATIONAL)


# ------------------------------------------------------------------ timers ---------------


def on_timer(resp, sa: IsakmpSa, now: float) -> None:
    if sa.state is V1State.ESTABLISHED and sa.dpd_at is not None and sa.dpd_at <= now:
        _liveness(resp, sa, now)
        if sa.state is V1State.DEAD:
            return
    if sa.keepalive_at is not None and sa.keepalive_at <= now:
        resp.ctx.emit(SendKeepalive(sa.local, sa.remote))
        sa.keepalive_at = now + KEEPALIVE_INTERVAL
    if sa.expire_at is not None and sa.expire_at <= now:
        log.info("ISAKMP SA %s with '%s': lifetime over, deleting", sa.spi_i.hex(), sa.peer_id)
        resp.delete_all(sa, now, reason="lifetime over")
        return
    expired = []
    for child in list(sa.children.values()):
        for attr in ("expire_at", "replaced_at"):
            t = getattr(child, attr)
            if t is not None and t <= now:
                setattr(child, attr, None)
                if child not in expired:
                    expired.append(child)
    if expired:
        send_delete_esp(resp, sa, [c.spi_in for c in expired])
        for child in expired:
            log.info("IPsec SA %08x_i with '%s': %s, deleted", child.spi_in, sa.peer_id,
                     "replaced" if child.state.value == "rekeyed" else "lifetime over")
            resp.remove_child(sa, child)


def _liveness(resp, sa: IsakmpSa, now: float) -> None:
    conn = sa.connection
    if sa.dpd_pending_since is not None and now - sa.dpd_pending_since >= conn.dpd_timeout:
        resp.ctx.emit(ev.DpdResult("dead"))
        resp.peer_dead(sa, f"no R-U-THERE-ACK for {conn.dpd_timeout:g}s")
        return
    idle = now - sa.last_heard
    if idle < conn.dpd_delay and sa.dpd_pending_since is None:
        sa.dpd_at = sa.last_heard + conn.dpd_delay
        return
    sa.dpd_seq = (sa.dpd_seq + 1) & 0xFFFFFFFF or 1
    if sa.dpd_pending_since is None:
        sa.dpd_pending_since = now
        sa.dpd_first_unanswered = sa.dpd_seq
    send_notify(resp, sa, N.R_U_THERE, sa.dpd_seq.to_bytes(4, "big"), spi=sa.cookies)
    sa.dpd_at = min(now + conn.dpd_delay, sa.dpd_pending_since + conn.dpd_timeout)
