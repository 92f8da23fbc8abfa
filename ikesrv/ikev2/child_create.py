"""Negotiating one CHILD SA as the responder (RFC 7296 §1.3, §2.9, §2.17, §3.3).

Owns: ESP proposal selection (with PFS when a KE payload comes along), traffic selector
narrowing against the connection's policy (the peer's virtual IP or its own address on
its side, local_ts on ours), transport mode only when the connection allows it (§1.3.1),
our inbound SPI, KEYMAT and its split into the two directions (§2.17), the lifetimes,
and the kernel install request the response waits for. Shared by IKE_AUTH (the first
CHILD SA) and CREATE_CHILD_SA (new CHILD SAs and rekeys).

Raises IkeError subclasses whose notify answers for the CHILD SA; the caller decides
whether the IKE SA lives on (it does for every CHILD SA problem).

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from .. import events as ev
from ..actions import ChildSaSpec, SaKeys, TrafficSelectorSpec
from ..constants import NotifyType, PayloadType
from ..crypto import keys, proposals
from ..errors import MalformedMessage, NoProposalChosen, TsUnacceptable
from ..wire import ikev2 as w
from . import traffic_selectors as ts
from .ike_sa import ChildSa, ChildSaState, IkeSa
from .messages import Payloads, notify

log = logging.getLogger("ikesrv.ikev2")


@dataclass(slots=True)
class ChildPlan:
    """A negotiated CHILD SA waiting for its kernel install, and the payloads answering it."""

    child: ChildSa
    payloads: list


def negotiate(resp, sa: IkeSa, request: Payloads, nonce_i: bytes, nonce_r: bytes, now: float,
              *, in_ike_auth: bool = False, shared: bytes | None = None, dh_group: int = 0,
              rekey_of: ChildSa | None = None, esp_proposals=None) -> ChildPlan:
    ctx = resp.ctx
    conn = sa.connection
    sa_payload = request.first(PayloadType.SA)
    tsi, tsr = request.first(PayloadType.TSi), request.first(PayloadType.TSr)
    if tsi is None or tsr is None:
        raise MalformedMessage("CHILD SA request without TSi/TSr")
    # §1.2: IKE_AUTH's CHILD SA takes its keys from the IKE SA: any DH group offered there
    # is ignored; in CREATE_CHILD_SA the KE payload's group is the PFS group
    selected = proposals.select_esp(esp_proposals or conn.esp_proposals, sa_payload.proposals,
                                    want_dh=None if in_ike_auth else (dh_group or None),
                                    ignore_dh=in_ike_auth)
    if selected is None:
        raise NoProposalChosen(f"no ESP proposal of '{sa.peer_id}' is acceptable: "
                               f"{proposals.describe_offer(sa_payload.proposals)}")
    if len(selected.spi) != 4:
        raise MalformedMessage(f"ESP SPI of {len(selected.spi)} bytes")

    proposed_i = ts.from_wire_list(tsi.selectors)
    proposed_r = ts.from_wire_list(tsr.selectors)
    if rekey_of is not None:
        # §2.9.2: a rekey keeps (at most) the selectors of the SA it replaces, within the
        # policy now in force (a reload may have narrowed it)
        narrowed_i = ts.rekey_narrow(proposed_i, rekey_of.spec.ts_remote, _remote_policy(sa, conn))
        narrowed_r = ts.rekey_narrow(proposed_r, rekey_of.spec.ts_local, conn.local_ts)
        if not narrowed_i or not narrowed_r:
            raise TsUnacceptable(f"rekey of CHILD SA {rekey_of.spi_in:08x} proposes "
                                 f"{_ts_text(proposed_i)} === {_ts_text(proposed_r)}, outside "
                                 f"{_ts_text(rekey_of.spec.ts_remote)} === "
                                 f"{_ts_text(rekey_of.spec.ts_local)}")
    else:
        narrowed_i, narrowed_r = ts.road_warrior_selectors(
            proposed_i, proposed_r, sa.vip, conn.local_ts,
            remote_ts=_remote_policy(sa, conn))

    transport = request.has_notify(NotifyType.USE_TRANSPORT_MODE) and conn.transport_mode
    spi_in = ctx.new_child_spi()
    spi_out = int.from_bytes(selected.spi, "big")
    encr_len = selected.encr_keymat_len
    integ_len = selected.integ_key_len
    keymat = keys.child_sa_keymat(sa.prf_id, sa.keys.sk_d, nonce_i, nonce_r,
                                  2 * (encr_len + integ_len), shared=shared)
    # §2.17: the keys of the exchange initiator's outbound direction come first
    # (encryption, then integrity); here the peer initiated the exchange
    k = encr_len + integ_len
    i2r, r2i = keymat[:k], keymat[k:]
    key_i2r = SaKeys(selected.encr, i2r[:encr_len], selected.integ or 0, i2r[encr_len:])
    key_r2i = SaKeys(selected.encr, r2i[:encr_len], selected.integ or 0, r2i[encr_len:])
    lifetime = conn.child_lifetime
    jitter = lifetime * 0.05 * (ctx.rng(1)[0] / 255)
    spec = ChildSaSpec(
        version=2,
        reqid=rekey_of.reqid if rekey_of is not None else ctx.new_reqid(),
        local=sa.local,
        remote=sa.remote,
        spi_in=spi_in,
        spi_out=spi_out,
        keys_in=key_i2r,
        keys_out=key_r2i,
        ts_local=tuple(narrowed_r),
        ts_remote=tuple(narrowed_i),
        mode="transport" if transport else "tunnel",
        encap=sa.remote_behind_nat or sa.local_behind_nat,
        esn=selected.use_esn,
        lifetime_soft=lifetime * 0.9 - jitter,
        lifetime_hard=lifetime,
        install_policies=rekey_of is None,
        defer_outbound=rekey_of is not None,  # the peer rekeys: see ChildSaSpec
    )
    child = ChildSa(reqid=spec.reqid, spi_in=spi_in, spi_out=spi_out, spec=spec,
                    suite=selected.describe(), nonce_i=nonce_i, nonce_r=nonce_r,
                    created_at=now, dh_group=dh_group)
    child.expire_at = now + lifetime
    if conn.rekey:
        child.rekey_at = now + spec.lifetime_soft
    out = [
        w.SaPayload(proposals=[selected.to_wire(spi_in.to_bytes(4, "big"))]),
        w.TsPayload(payload_type=PayloadType.TSi, selectors=[ts.to_wire(t) for t in narrowed_i]),
        w.TsPayload(payload_type=PayloadType.TSr, selectors=[ts.to_wire(t) for t in narrowed_r]),
    ]
    if transport:
        out.append(notify(NotifyType.USE_TRANSPORT_MODE))
    return ChildPlan(child=child, payloads=out)


def install(resp, sa: IkeSa, plan: ChildPlan, done) -> int:
    """Ask the kernel for the CHILD SA; ``done(ok, reason, now)`` runs with the answer."""
    ctx = resp.ctx
    child = plan.child
    sa.children[child.spi_in] = child
    ctx.register_child(sa, child)

    def answered(result, now: float) -> None:
        if sa.children.get(child.spi_in) is not child:
            return  # the IKE SA went away meanwhile
        if result.ok:
            child.state = ChildSaState.INSTALLED
            ctx.emit(ev.ChildSaChanged(2, +1))
            if log.isEnabledFor(logging.INFO):  # the selectors' text costs: only if shown
                log.info("CHILD SA %08x_i %08x_o with '%s' installed: %s === %s (%s)",
                         child.spi_in, child.spi_out, sa.peer_id, _ts_text(child.spec.ts_local),
                         _ts_text(child.spec.ts_remote), child.suite)
        else:
            log.warning("CHILD SA %08x_i with '%s' could not be installed: %s",
                        child.spi_in, sa.peer_id, result.reason)
            sa.children.pop(child.spi_in, None)
            ctx.forget_child(child)
        done(result.ok, result.reason, now)
        resp.reschedule(sa)

    return ctx.install_child(child.spec, answered)


def _remote_policy(sa: IkeSa, conn) -> list[TrafficSelectorSpec]:
    """What the peer may claim on its side: its virtual IP, else the configured
    remote_ts, else its own address (a client that is its own network)."""
    if sa.vip is not None:
        return [TrafficSelectorSpec(sa.vip, sa.vip)]
    if conn.remote_ts:
        return list(conn.remote_ts)
    address = ipaddress.ip_address(sa.remote[0])
    return [TrafficSelectorSpec(address, address)]


def _ts_text(specs) -> str:
    return ", ".join(str(s) for s in specs) or "nothing"


__all__ = ["negotiate", "install", "ChildPlan"]
