"""CREATE_CHILD_SA: new CHILD SAs, CHILD and IKE SA rekeys, both directions (RFC 7296
§1.3, §2.8, §2.17, §2.18).

    HDR, SK {[N(REKEY_SA)], SA, Ni, [KEi], [TSi, TSr]}  -->
                                                    <-- HDR, SK {SA, Nr, [KEr], [TSi, TSr]}

Owns: answering the peer's requests (a new CHILD SA, a CHILD SA rekey with or without
PFS, an IKE SA rekey with new SPIs and keys from the old SK_d), starting our own rekeys
when a lifetime says so, and simultaneous rekeys (§2.8.1 for CHILD SAs, §2.8.2 for the
IKE SA): both exchanges complete, then the SA created with the lowest of the four nonces
is deleted by the side that created it, and the other survives.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .. import events as ev
from ..actions import ChildSaSpec, SaKeys
from ..constants import ExchangeType, NotifyType, PayloadType, ProtocolId
from ..crypto import dh, keys, proposals
from ..errors import (
    ChildSaNotFound,
    IkeError,
    InvalidKePayload,
    InvalidKeyInformation,
    MalformedMessage,
    NoProposalChosen,
    TemporaryFailure,
)
from ..wire import ikev2 as w
from . import child_create, informational
from . import traffic_selectors as ts
from .ike_sa import PENDING, ChildSa, ChildSaState, IkeSa, IkeSaState
from .ike_sa_init import NONCE_LEN, derive_keys
from .messages import Payloads, notify

log = logging.getLogger("ikesrv.ikev2")

REKEYED_GRACE = 30.0  # seconds we wait for the rekey initiator to delete the old SA


@dataclass(slots=True, eq=False)
class OurRekey:
    """A rekey we initiated, kept until its response (and for collision checks)."""

    kind: str  # "ike" | "child"
    nonce: bytes = field(repr=False)
    dh_key: object = field(default=None, repr=False)
    spi: object = None  # our new IKE SPI (bytes) or inbound ESP SPI (int)
    child: ChildSa | None = None  # the CHILD SA being rekeyed
    peer_created: object = None  # what the peer's colliding rekey created meanwhile
    peer_nonces: tuple = ()


def _fail(e: IkeError) -> IkeError:
    """Errors of CREATE_CHILD_SA concern the new SA only (§1.3): the IKE SA lives on."""
    e.fatal = False
    return e


def handle_request(resp, sa: IkeSa, msg, view: Payloads, now: float):
    if sa.state is not IkeSaState.ESTABLISHED:
        raise _fail(TemporaryFailure(f"IKE SA is {sa.state.value}, not taking new SAs"))
    nonce_i = view.first(PayloadType.NONCE).data
    if not 16 <= len(nonce_i) <= 256:
        raise _fail(MalformedMessage(f"nonce of {len(nonce_i)} bytes"))
    offered = view.first(PayloadType.SA).proposals
    if offered and all(p.protocol == ProtocolId.IKE for p in offered):
        return _peer_rekeys_ike(resp, sa, msg, view, nonce_i, now)
    rekey_n = view.notify(NotifyType.REKEY_SA)
    old = None
    if rekey_n is not None:
        old = informational._child_by_outbound(sa, int.from_bytes(rekey_n.spi, "big"))
        if old is None or old.state is ChildSaState.DELETING:
            raise _fail(ChildSaNotFound(f"REKEY_SA for unknown CHILD SA "
                                        f"{rekey_n.spi.hex()}"))
    ke = view.first(PayloadType.KE)
    shared, dh_key, group = None, None, 0
    if ke is not None:
        esp = sa.connection.esp_proposals_for_pfs(ke.group)
        pick = proposals.select_esp(esp, offered, want_dh=ke.group)
        if pick is None:
            any_pick = proposals.select_esp(esp, offered, want_dh=None, pfs_any=True)
            if any_pick is not None and any_pick.dh and any_pick.dh != ke.group:
                raise _fail(InvalidKePayload(f"KE group {ke.group}, we want {any_pick.dh}",
                                             any_pick.dh))
            raise _fail(NoProposalChosen("no acceptable ESP proposal with PFS group "
                                         f"{ke.group}: {proposals.describe_offer(offered)}"))
        group = ke.group
        try:
            dh_key = dh.group(group).generate(resp.ctx.rng)
            shared = dh_key.shared_secret(ke.data)
        except InvalidKeyInformation as e:
            raise _fail(e) from None
    nonce_r = resp.ctx.rng(NONCE_LEN)
    try:
        plan = child_create.negotiate(resp, sa, view, nonce_i, nonce_r, now, shared=shared,
                                      dh_group=group, rekey_of=old,
                                      esp_proposals=esp if ke is not None else None)
    except IkeError as e:
        if old is not None:
            resp.ctx.emit(ev.Rekeyed("child", "failed"))
        raise _fail(e) from None
    out = plan.payloads[:1] + [w.NoncePayload(data=nonce_r)]
    if dh_key is not None:
        out.append(w.KePayload(group=group, data=dh_key.public))
    out += plan.payloads[1:]

    def installed(ok: bool, reason: str, now: float) -> None:
        if not ok:
            if old is not None:
                resp.ctx.emit(ev.Rekeyed("child", "failed"))
            resp.complete(sa, ExchangeType.CREATE_CHILD_SA, msg.message_id,
                          [notify(NotifyType.NO_PROPOSAL_CHOSEN)], now)
            return
        if old is not None:
            _child_replaced(resp, sa, old, plan.child, now, by_peer=True)
        resp.complete(sa, ExchangeType.CREATE_CHILD_SA, msg.message_id, out, now)

    child_create.install(resp, sa, plan, installed)
    return PENDING


def _child_replaced(resp, sa: IkeSa, old: ChildSa, new: ChildSa, now: float, *,
                    by_peer: bool) -> None:
    """``new`` took over from ``old``; resolve a collision with our own rekey of ``old``."""
    ours = sa.rekeying if isinstance(sa.rekeying, OurRekey) and sa.rekeying.child is old else None
    if by_peer and ours is not None:
        # §2.8.1: our rekey of the same SA is in flight; decide when its response comes
        ours.peer_created = new
        ours.peer_nonces = (new.nonce_i, new.nonce_r)
        return
    old.state = ChildSaState.REKEYED
    if by_peer:
        # the rekey initiator deletes the old SA; if it forgets, we do
        old.replaced_at = now + REKEYED_GRACE
    old.rekey_at = None
    old.expire_at = None
    resp.ctx.emit(ev.Rekeyed("child", "ok"))
    log.info("CHILD SA %08x_i rekeyed to %08x_i (%s)", old.spi_in, new.spi_in,
             "by the peer" if by_peer else "by us")


# ---------------------------------------------------------------- IKE SA rekey --------


def _peer_rekeys_ike(resp, sa: IkeSa, msg, view: Payloads, nonce_i: bytes, now: float):
    ctx = resp.ctx
    ke = view.first(PayloadType.KE)
    offered = view.first(PayloadType.SA).proposals
    selected = proposals.select_ike(sa.connection.ike_proposals, offered,
                                    prefer_dh=ke.group if ke else None)
    if selected is None:
        ctx.emit(ev.Rekeyed("ike", "failed"))
        raise _fail(NoProposalChosen(f"IKE rekey: nothing acceptable in "
                                     f"{proposals.describe_offer(offered)}"))
    if ke is None or ke.group != selected.dh:
        raise _fail(InvalidKePayload("IKE rekey needs a KE payload of the selected group "
                                     "(§1.3.2)", selected.dh))
    if len(selected.spi) != 8:
        raise _fail(MalformedMessage(f"IKE rekey proposal with a {len(selected.spi)}-byte SPI"))
    try:
        dh_key = dh.group(selected.dh).generate(ctx.rng)
        shared = dh_key.shared_secret(ke.data)
    except InvalidKeyInformation as e:
        raise _fail(e) from None
    nonce_r = ctx.rng(NONCE_LEN)
    new_spi = ctx.new_ike_spi(lambda spi: spi in resp.sas)
    new = _successor(resp, sa, spi_i=selected.spi, spi_r=new_spi, we_initiated=False,
                     selected=selected, nonce_i=nonce_i, nonce_r=nonce_r, shared=shared, now=now)
    out = [w.SaPayload(proposals=[selected.to_wire(new_spi)]), w.NoncePayload(data=nonce_r),
           w.KePayload(group=selected.dh, data=dh_key.public)]
    ours = sa.rekeying if isinstance(sa.rekeying, OurRekey) and sa.rekeying.kind == "ike" \
        else None
    if ours is not None:
        # §2.8.2: we are rekeying too; both finish, then the lowest nonce decides
        ours.peer_created = new
        ours.peer_nonces = (nonce_i, nonce_r)
    else:
        _hand_over(resp, sa, new, now, by_peer=True)
    return out


def _successor(resp, sa: IkeSa, *, spi_i: bytes, spi_r: bytes, we_initiated: bool, selected,
               nonce_i: bytes, nonce_r: bytes, shared: bytes, now: float) -> IkeSa:
    """The new IKE SA of a rekey: same peer and settings, fresh SPIs and keys (§2.18)."""
    new = IkeSa(spi_i=spi_i, spi_r=spi_r, local=sa.local, remote=sa.remote, created_at=now,
                we_initiated=we_initiated, state=IkeSaState.ESTABLISHED)
    for name in ("candidates", "connection", "peer_id", "peer_identity_key", "local_id",
                 "eap_identity", "auth_method", "natt", "remote_behind_nat",
                 "local_behind_nat", "fragmentation", "peer_hash_algorithms", "suite_label"):
        setattr(new, name, getattr(sa, name))
    new.proposal = selected
    new.suite = selected.describe()
    new.prf_id = selected.prf
    new.nonce_i, new.nonce_r = nonce_i, nonce_r
    derive_keys(new, selected, shared, old_sk_d=sa.keys.sk_d, old_prf=sa.prf_id)
    new.last_heard = now
    new.established_at = now
    conn = sa.connection
    lifetime = conn.ike_lifetime
    jitter = lifetime * 0.05 * (resp.ctx.rng(1)[0] / 255)
    new.rekey_at = now + (lifetime * 0.9 if conn.rekey else lifetime) - jitter
    new.expire_at = now + (lifetime if conn.rekey else lifetime * 1.1)
    new.dpd_at = now + conn.dpd_delay if conn.dpd_delay > 0 else None
    new.keepalive_at = sa.keepalive_at
    return new


def _hand_over(resp, old: IkeSa, new: IkeSa, now: float, *, by_peer: bool) -> None:
    """``new`` replaces ``old``: CHILD SAs, virtual IP and identity move over."""
    ctx = resp.ctx
    resp.add(new)
    ctx.emit(ev.IkeSaStateChanged(2, None, ev.ESTABLISHED))
    new.children = old.children
    old.children = {}
    for child in new.children.values():
        ctx.register_child(new, child)
    new.vip, new.vip_pool = old.vip, old.vip_pool
    old.vip, old.vip_pool = None, None
    resp.index_identity(new)
    old.replaced_by = new
    old.rekey_at = old.expire_at = old.dpd_at = None
    resp.set_state(old, IkeSaState.REKEYED, now)
    # the rekey initiator deletes the old SA (§2.18); if the peer forgets, we drop it
    old.delete_at = now + REKEYED_GRACE if by_peer else None
    ctx.emit(ev.Rekeyed("ike", "ok"))
    log.info("IKE SA %s rekeyed to %s_i %s_r (%s)", old.spi_i.hex(), new.spi_i.hex(),
             new.spi_r.hex(), "by the peer" if by_peer else "by us")
    resp.reschedule(new)
    resp.reschedule(old)


def start_ike_rekey(resp, sa: IkeSa, now: float) -> None:
    ctx = resp.ctx
    group = sa.proposal.dh
    dh_key = dh.group(group).generate(ctx.rng)
    nonce = ctx.rng(NONCE_LEN)
    new_spi = ctx.new_ike_spi(lambda spi: spi in resp.sas)
    rekey = OurRekey(kind="ike", nonce=nonce, dh_key=dh_key, spi=new_spi)
    sa.rekeying = rekey
    offer = [spec.to_wire(n, ProtocolId.IKE, new_spi)
             for n, spec in enumerate(sa.connection.ike_proposals, 1)]
    payloads = [w.SaPayload(proposals=offer), w.NoncePayload(data=nonce),
                w.KePayload(group=group, data=dh_key.public)]

    def answered(view: Payloads, now: float) -> None:
        sa.rekeying = None
        try:
            new = _our_ike_rekey_result(resp, sa, rekey, view, now)
        except IkeError as e:
            log.info("IKE SA %s: our rekey failed: %s", sa.spi_i.hex(), e)
            ctx.emit(ev.Rekeyed("ike", "failed"))
            if rekey.peer_created is not None:
                _hand_over(resp, sa, rekey.peer_created, now, by_peer=True)
            else:
                sa.rekey_at = now + 60.0 if sa.expire_at is None or sa.expire_at > now + 60 \
                    else None
            return
        if rekey.peer_created is not None:
            # §2.8.2: two new IKE SAs; the one holding the lowest nonce goes, deleted by
            # the side that created it
            if min(rekey.nonce, new.nonce_r) < min(rekey.peer_nonces):
                resp.add(new)
                informational.send_delete_ike(resp, new, now, wait=False)
                resp.destroy(new, now, reason="lost a simultaneous IKE rekey (§2.8.2)",
                             keep_children=True)
                ctx.emit(ev.Rekeyed("ike", "collision_lost"))
                _hand_over(resp, sa, rekey.peer_created, now, by_peer=True)
                return
            # ours survives; the peer deletes the one it created
        _hand_over(resp, sa, new, now, by_peer=False)
        informational.send_delete_ike(resp, sa, now, wait=True)

    def failed(reason: str) -> None:
        sa.rekeying = None
        ctx.emit(ev.Rekeyed("ike", "failed"))
        ctx.emit(ev.DpdResult("dead"))
        resp.destroy(sa, ctx.now, reason=f"peer dead during IKE rekey ({reason})")

    resp.request(sa, ExchangeType.CREATE_CHILD_SA, payloads, now, answered, failed)


def _our_ike_rekey_result(resp, sa: IkeSa, rekey: OurRekey, view: Payloads, now: float) -> IkeSa:
    errors = view.error_notifies()
    if errors:
        raise TemporaryFailure(f"peer answered {errors[0].type}")
    sa_p, nonce_p, ke = (view.first(PayloadType.SA), view.first(PayloadType.NONCE),
                         view.first(PayloadType.KE))
    if sa_p is None or nonce_p is None or ke is None or len(sa_p.proposals) != 1:
        raise MalformedMessage("IKE rekey response lacks SA, Nr or KEr")
    selected = proposals.select_ike(sa.connection.ike_proposals, sa_p.proposals,
                                    prefer_dh=ke.group)
    if selected is None or selected.dh != rekey.dh_key.group.id or ke.group != selected.dh \
            or len(selected.spi) != 8:
        raise NoProposalChosen("IKE rekey response does not match what we offered")
    shared = rekey.dh_key.shared_secret(ke.data)
    return _successor(resp, sa, spi_i=rekey.spi, spi_r=selected.spi, we_initiated=True,
                      selected=selected, nonce_i=rekey.nonce, nonce_r=nonce_p.data,
                      shared=shared, now=now)


# ---------------------------------------------------------------- CHILD SA rekey ------


def start_child_rekey(resp, sa: IkeSa, child: ChildSa, now: float) -> None:
    ctx = resp.ctx
    conn = sa.connection
    group = child.dh_group or conn.esp_pfs_group()
    dh_key = dh.group(group).generate(ctx.rng) if group else None
    nonce = ctx.rng(NONCE_LEN)
    spi_in = ctx.new_child_spi()
    rekey = OurRekey(kind="child", nonce=nonce, dh_key=dh_key, spi=spi_in, child=child)
    sa.rekeying = rekey
    spi_bytes = spi_in.to_bytes(4, "big")
    offer = [spec.to_wire(n, ProtocolId.ESP, spi_bytes)
             for n, spec in enumerate(conn.esp_proposals, 1)]
    payloads = [notify(NotifyType.REKEY_SA, protocol=ProtocolId.ESP,
                       spi=child.spi_in.to_bytes(4, "big")),
                w.SaPayload(proposals=offer), w.NoncePayload(data=nonce)]
    if dh_key is not None:
        payloads.append(w.KePayload(group=group, data=dh_key.public))
    # §2.9.2: our TSi is our side now that we initiate
    payloads += [
        w.TsPayload(payload_type=PayloadType.TSi,
                    selectors=[ts.to_wire(t) for t in child.spec.ts_local]),
        w.TsPayload(payload_type=PayloadType.TSr,
                    selectors=[ts.to_wire(t) for t in child.spec.ts_remote]),
    ]
    child.rekey_at = None

    def answered(view: Payloads, now: float) -> None:
        sa.rekeying = None
        try:
            new = _our_child_rekey_result(resp, sa, rekey, view, now)
        except IkeError as e:
            log.info("CHILD SA %08x_i: our rekey failed: %s", child.spi_in, e)
            ctx.emit(ev.Rekeyed("child", "failed"))
            if rekey.peer_created is not None:
                _child_replaced(resp, sa, child, rekey.peer_created, now, by_peer=True)
            return

        def installed(ok: bool, reason: str, now: float) -> None:
            if not ok:
                ctx.emit(ev.Rekeyed("child", "failed"))
                return
            if rekey.peer_created is not None:
                peer_new = rekey.peer_created
                # §2.8.1: the CHILD SA created with the lowest nonce is deleted by its creator
                if min(nonce, new.nonce_r) < min(rekey.peer_nonces):
                    informational.send_delete_child(resp, sa, new, now)
                    ctx.emit(ev.Rekeyed("child", "collision_lost"))
                    _child_replaced(resp, sa, child, peer_new, now, by_peer=True)
                    return
            _child_replaced(resp, sa, child, new, now, by_peer=False)
            informational.send_delete_child(resp, sa, child, now)

        child_create.install(resp, sa, child_create.ChildPlan(child=new, payloads=[]), installed)

    def failed(reason: str) -> None:
        sa.rekeying = None
        ctx.emit(ev.Rekeyed("child", "failed"))
        ctx.emit(ev.DpdResult("dead"))
        resp.destroy(sa, ctx.now, reason=f"peer dead during CHILD rekey ({reason})")

    resp.request(sa, ExchangeType.CREATE_CHILD_SA, payloads, now, answered, failed)


def _our_child_rekey_result(resp, sa: IkeSa, rekey: OurRekey, view: Payloads,
                            now: float) -> ChildSa:
    conn = sa.connection
    old = rekey.child
    errors = view.error_notifies()
    if errors:
        raise TemporaryFailure(f"peer answered {errors[0].type}")
    sa_p, nonce_p = view.first(PayloadType.SA), view.first(PayloadType.NONCE)
    tsi, tsr = view.first(PayloadType.TSi), view.first(PayloadType.TSr)
    if sa_p is None or nonce_p is None or tsi is None or tsr is None or len(sa_p.proposals) != 1:
        raise MalformedMessage("CHILD rekey response lacks SA, Nr or TS")
    ke = view.first(PayloadType.KE)
    group = rekey.dh_key.group.id if rekey.dh_key is not None else None
    selected = proposals.select_esp(conn.esp_proposals, sa_p.proposals, want_dh=group)
    if selected is None or len(selected.spi) != 4:
        raise NoProposalChosen("CHILD rekey response does not match what we offered")
    shared = None
    if group:
        if ke is None or ke.group != group:
            raise MalformedMessage("CHILD rekey response without our PFS group's KE")
        shared = rekey.dh_key.shared_secret(ke.data)
    # the responder's TSi is our side; it may only narrow (§2.9)
    ts_local = ts.narrow([ts.from_wire(t) for t in tsi.selectors], list(old.spec.ts_local))
    ts_remote = ts.narrow([ts.from_wire(t) for t in tsr.selectors], list(old.spec.ts_remote))
    if not ts_local or not ts_remote:
        raise MalformedMessage("CHILD rekey response widened the traffic selectors")
    encr_len = selected.encr_keymat_len
    integ_len = selected.integ_key_len
    k = encr_len + integ_len
    keymat = keys.child_sa_keymat(sa.prf_id, sa.keys.sk_d, rekey.nonce, nonce_p.data, 2 * k,
                                  shared=shared)
    # §2.17: we initiated this exchange: our outbound keys come first
    out_km, in_km = keymat[:k], keymat[k:]
    spec = ChildSaSpec(
        version=2, reqid=old.reqid, local=sa.local, remote=sa.remote, spi_in=rekey.spi,
        spi_out=int.from_bytes(selected.spi, "big"),
        keys_in=SaKeys(selected.encr, in_km[:encr_len], selected.integ or 0, in_km[encr_len:]),
        keys_out=SaKeys(selected.encr, out_km[:encr_len], selected.integ or 0,
                        out_km[encr_len:]),
        ts_local=tuple(ts_local), ts_remote=tuple(ts_remote), mode=old.spec.mode,
        encap=old.spec.encap, esn=selected.use_esn, lifetime_soft=old.spec.lifetime_soft,
        lifetime_hard=old.spec.lifetime_hard, install_policies=False)
    new = ChildSa(reqid=old.reqid, spi_in=rekey.spi, spi_out=spec.spi_out, spec=spec,
                  suite=selected.describe(), nonce_i=rekey.nonce, nonce_r=nonce_p.data,
                  created_at=now, dh_group=group or 0)
    new.expire_at = now + conn.child_lifetime
    if conn.rekey:
        new.rekey_at = now + spec.lifetime_soft
    return new


# ---------------------------------------------------------------- timers --------------


def on_timer(resp, sa: IkeSa, now: float) -> None:
    if sa.state is not IkeSaState.ESTABLISHED or sa.rekeying is not None:
        return
    if sa.rekey_at is not None and sa.rekey_at <= now:
        sa.rekey_at = None
        start_ike_rekey(resp, sa, now)
        return
    for child in list(sa.children.values()):
        if child.rekey_at is not None and child.rekey_at <= now \
                and child.state is ChildSaState.INSTALLED:
            start_child_rekey(resp, sa, child, now)
            return  # one rekey at a time per IKE SA keeps collisions simple


def on_kernel_expire(resp, sa: IkeSa, child: ChildSa, kind: str, now: float) -> None:
    """XFRM soft/hard expiry of a CHILD SA (issue: kernel events drive rekeys)."""
    if sa.state is not IkeSaState.ESTABLISHED or sa.children.get(child.spi_in) is not child:
        return
    if kind == "soft":
        if sa.connection.rekey and child.state is ChildSaState.INSTALLED \
                and sa.rekeying is None:
            start_child_rekey(resp, sa, child, now)
    elif kind == "hard":
        log.info("CHILD SA %08x_i reached its hard lifetime in the kernel", child.spi_in)
        informational.send_delete_child(resp, sa, child, now)
    resp.reschedule(sa)
