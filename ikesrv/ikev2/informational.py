"""INFORMATIONAL exchanges: Delete, liveness checks, notifications (RFC 7296 §1.4, §2.4).

    HDR, SK {[N,] [D,] [CP,] ...}  -->
                                   <-- HDR, SK {[N,] [D,] [CP], ...}

Owns: answering the peer's deletes (a Delete of ESP SAs is answered with ours for the
paired SPIs, §1.4.1; a Delete of the IKE SA closes it and its CHILD SAs) and its
liveness checks (an empty request gets an empty response), our own liveness checks
after ``dpd_delay`` of silence (the peer is dead when the retransmission schedule runs
out, §2.4), our Deletes (IKE SA at the end of its lifetime, CHILD SAs that expired or
were replaced), and the per-SA timer work that belongs to these.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging

from .. import events as ev
from ..actions import SendKeepalive
from ..constants import ExchangeType, NotifyType, PayloadType, ProtocolId
from ..wire import ikev2 as w
from .ike_sa import ChildSaState, IkeSa, IkeSaState
from .messages import Payloads, seal

log = logging.getLogger("ikesrv.ikev2")


def handle_request(resp, sa: IkeSa, msg, view: Payloads, now: float) -> list:
    out: list = []
    close_ike = False
    for d in view.all(PayloadType.DELETE):
        if d.protocol == ProtocolId.IKE:
            close_ike = True
        elif d.protocol in (ProtocolId.ESP, ProtocolId.AH):
            ours = []
            for spi in d.spis:
                child = _child_by_outbound(sa, int.from_bytes(spi, "big"))
                if child is None:
                    continue  # §1.4.1: already gone (e.g. both sides deleted at once)
                ours.append(child.spi_in.to_bytes(4, "big"))
                log.info("CHILD SA %08x_i %08x_o deleted by '%s'", child.spi_in, child.spi_out,
                         sa.peer_id)
                resp.remove_child(sa, child)
            if ours:
                out.append(w.DeletePayload(protocol=d.protocol, spis=ours))
    for n in view.error_notifies():
        log.info("IKE SA %s: '%s' reports %s", sa.spi_i.hex(), sa.peer_id, _notify_name(n.type))
    if sa.state in (IkeSaState.HALF_OPEN, IkeSaState.AUTHENTICATING) and view.has_notify(
            NotifyType.AUTHENTICATION_FAILED):
        # the peer gave up on our authentication (RFC 7296 §2.21.2): no reason to wait
        # for the half-open timeout
        resp.ctx.emit(ev.IkeSaFailed(2, "authentication_failed"))
        resp.close_after_response(sa, "the peer refused our authentication")
        return []
    if close_ike:
        # §1.4.1: answer with an empty INFORMATIONAL, then the SA and its children go
        resp.close_after_response(sa, f"deleted by '{sa.peer_id}'")
        return []
    return out


KEEPALIVE_INTERVAL = 20.0  # RFC 3948 §4: the default interval is 20 seconds


def on_timer(resp, sa: IkeSa, now: float) -> None:
    conn = sa.connection
    if sa.keepalive_at is not None and sa.keepalive_at <= now:
        # RFC 3948 §2.3: the side behind the NAT keeps the mapping alive
        resp.ctx.emit(SendKeepalive(sa.local, sa.remote))
        sa.keepalive_at = now + KEEPALIVE_INTERVAL
    if sa.state is IkeSaState.ESTABLISHED and sa.dpd_at is not None and sa.dpd_at <= now:
        due = sa.last_heard + conn.dpd_delay
        if now < due:
            sa.dpd_at = due
        elif sa.outstanding is not None or sa.queued:
            sa.dpd_at = now + conn.dpd_delay  # our own request proves liveness anyway
        else:
            sa.dpd_at = None
            _send_liveness_check(resp, sa, now)
    if sa.expire_at is not None and sa.expire_at <= now and sa.state is IkeSaState.ESTABLISHED:
        sa.expire_at = None
        log.info("IKE SA %s with '%s': lifetime over, deleting", sa.spi_i.hex(), sa.peer_id)
        send_delete_ike(resp, sa, now, wait=True)
        return
    for child in list(sa.children.values()):
        if child.expire_at is not None and child.expire_at <= now:
            child.expire_at = None
            log.info("CHILD SA %08x_i with '%s': lifetime over, deleting", child.spi_in,
                     sa.peer_id)
            send_delete_child(resp, sa, child, now)
        elif child.replaced_at is not None and child.replaced_at <= now:
            child.replaced_at = None
            send_delete_child(resp, sa, child, now)


def _send_liveness_check(resp, sa: IkeSa, now: float) -> None:
    def alive(view: Payloads, now: float) -> None:
        resp.ctx.emit(ev.DpdResult("alive"))
        if sa.connection.dpd_delay > 0:
            sa.dpd_at = now + sa.connection.dpd_delay

    def dead(reason: str) -> None:
        resp.ctx.emit(ev.DpdResult("dead"))
        log.info("IKE SA %s: '%s' at %s:%d is dead (%s)", sa.spi_i.hex(), sa.peer_id,
                 *sa.remote, reason)
        resp.destroy(sa, resp.ctx.now, reason="peer dead")

    resp.request(sa, ExchangeType.INFORMATIONAL, [], now, alive, dead)


def send_delete_ike(resp, sa: IkeSa, now: float, *, wait: bool) -> None:
    """Tell the peer the IKE SA goes (§1.4.1). With ``wait``, keep it until answered."""
    payloads = [w.DeletePayload(protocol=ProtocolId.IKE, spis=[])]
    if not wait:
        if sa.cipher_out is None:
            return
        mid = sa.our_next_id
        sa.our_next_id += 1
        resp._send(sa, seal(sa, ExchangeType.INFORMATIONAL, False, mid, payloads,
                            resp.ctx.rng), "INFORMATIONAL", sa.local, sa.remote)
        return
    resp.set_state(sa, IkeSaState.DELETING, now)

    def done(view: Payloads, now: float) -> None:
        resp.destroy(sa, now, reason="deleted by us")

    def failed(reason: str) -> None:
        resp.destroy(sa, resp.ctx.now, reason=f"deleted by us ({reason})")

    sa.queued.clear()
    resp.request(sa, ExchangeType.INFORMATIONAL, payloads, now, done, failed)


def send_delete_child(resp, sa: IkeSa, child, now: float) -> None:
    """Delete one CHILD SA of ours (§1.4.1); the peer answers with its half."""
    child.state = ChildSaState.DELETING
    payloads = [w.DeletePayload(protocol=ProtocolId.ESP, spis=[child.spi_in.to_bytes(4, "big")])]

    def done(view: Payloads, now: float) -> None:
        if sa.children.get(child.spi_in) is child:
            resp.remove_child(sa, child)

    def failed(reason: str) -> None:
        resp.ctx.emit(ev.DpdResult("dead"))
        resp.destroy(sa, resp.ctx.now, reason=f"peer dead ({reason})")

    resp.request(sa, ExchangeType.INFORMATIONAL, payloads, now, done, failed)


def _child_by_outbound(sa: IkeSa, spi_out: int):
    for child in sa.children.values():
        if child.spi_out == spi_out:
            return child
    return None


def _notify_name(t: int) -> str:
    try:
        return NotifyType(t).name
    except ValueError:
        return f"notify {t}"
