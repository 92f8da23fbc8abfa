"""Quick Mode as the responder: one IPsec ESP SA pair per exchange (RFC 2409 §5.5).

    Initiator                                  Responder
    QM1  HDR*, HASH(1), SA, Ni, [KE,] [IDci, IDcr] -->
                                        <--    HDR*, HASH(2), SA, Nr, [KE,] [IDci, IDcr]
                                               [, N(RESPONDER-LIFETIME)]                QM2
    QM3  HDR*, HASH(3)                  -->

Owns: ESP transform selection with and without PFS (the group is the transforms'
GROUP_DESCRIPTION, the KE payload its value; RFC 2409 §5.5), the ID payloads as traffic
selectors narrowed to policy as in IKEv2 (the client's virtual IP, else the connection's
remote_ts, else its own address; local_ts on our side; without IDs the two hosts, RFC
2409 §5.5), the encapsulation modes NAT-T allows (RFC 3947 §5.2: UDP-encapsulated tunnel
3, or 61443 for the drafts, once a NAT was detected), the lifetime (the shorter of the
peer's and ours; ours travels in RESPONDER-LIFETIME, RFC 2407 §4.6.3.1), our inbound SPI,
KEYMAT for both directions (each keyed by its receiver's SPI), and the kernel install
once QM3 proves the initiator has the keys. A new Quick Mode with the selectors of an
existing SA is the initiator's rekey: same reqid, policies kept, the old SA deleted a
little later. The Commit bit (RFC 2408 §3.1) is accepted; its CONNECTED notify, which
the initiator would send, is only logged.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import ipaddress
import logging

from .. import events as ev
from ..actions import ChildSaSpec, SaKeys, TrafficSelectorSpec
from ..constants import (
    TransformType,
    V1EncapsulationMode,
    V1IpsecAttribute,
    V1NotifyType,
    V1ProtocolId,
)
from ..constants import V1PayloadType as P
from ..crypto import dh, ikev1_keys, proposals_v1
from ..crypto import transforms as T
from ..errors import InvalidSpi, MalformedMessage, NoProposalChosen, TsUnacceptable
from ..ikev2 import traffic_selectors as ts
from ..ikev2.ike_sa import ChildSa, ChildSaState
from ..wire import ikev1 as w
from . import messages
from .isakmp_sa import IsakmpSa, PendingQuickMode
from .transitions import Reply

log = logging.getLogger("ikesrv.ikev1")

DEFAULT_LIFETIME = 28800.0  # RFC 2407 §4.5
#: Seconds an IPsec SA lives on after the initiator rekeyed it, for packets in flight.
REKEYED_GRACE = 30.0
_ESP = V1ProtocolId.PROTO_IPSEC_ESP
_M = V1EncapsulationMode
_UDP_MODES = {_M.UDP_ENCAPSULATED_TUNNEL, _M.UDP_ENCAPSULATED_TRANSPORT,
              _M.UDP_ENCAPSULATED_TUNNEL_DRAFT, _M.UDP_ENCAPSULATED_TRANSPORT_DRAFT}
_TRANSPORT_MODES = {_M.TRANSPORT, _M.UDP_ENCAPSULATED_TRANSPORT,
                    _M.UDP_ENCAPSULATED_TRANSPORT_DRAFT}


def qm1(resp, sa: IsakmpSa, msg, view, now, local, remote):
    """QM1 -> QM2 (HASH(1) already verified by the driver)."""
    ctx = resp.ctx
    conn = sa.connection
    ni = view.first(P.NONCE).data
    if not 8 <= len(ni) <= 256:
        raise MalformedMessage(f"Quick Mode nonce of {len(ni)} bytes")
    ke = view.first(P.KE)
    selection = _select(sa, view.first(P.SA).proposals, ke is not None)
    if len(selection.spi) != 4:
        raise InvalidSpi(f"ESP SPI of {len(selection.spi)} bytes")
    ts_remote, ts_local, echo_ids = _selectors(sa, view)
    rekey_of = next((c for c in sa.children.values() if c.state is ChildSaState.INSTALLED
                     and list(c.spec.ts_local) == ts_local
                     and list(c.spec.ts_remote) == ts_remote), None)
    g_qm = None
    out_ke = []
    if selection.dh:
        key = dh.group(selection.dh).generate(ctx.rng)
        g_qm = key.shared_secret(ke.data)
        out_ke = [w.KePayload(data=key.public)]
    nr = ctx.rng(32)
    spi_in = ctx.new_child_spi()
    spi_out = int.from_bytes(selection.spi, "big")
    ekey, ikey = selection.encr_keymat_len, selection.integ_key_len

    def keys(spi: int) -> SaKeys:  # RFC 2409 §5.5: KEYMAT of the SA whose receiver chose spi
        km = ikev1_keys.quick_mode_keymat(sa.hash_alg, sa.skeyid_d, _ESP, spi.to_bytes(4, "big"),
                                          ni, nr, ekey + ikey, g_qm)
        return SaKeys(selection.encr, km[:ekey], selection.integ or 0, km[ekey:])

    proposed = float(selection.life_seconds or DEFAULT_LIFETIME)
    lifetime = min(proposed, conn.child_lifetime)
    mode = selection.encapsulation_mode or _M.TUNNEL
    spec = ChildSaSpec(
        version=1,
        reqid=rekey_of.reqid if rekey_of is not None else ctx.new_reqid(),
        local=sa.local, remote=sa.remote, spi_in=spi_in, spi_out=spi_out,
        keys_in=keys(spi_in), keys_out=keys(spi_out),
        ts_local=tuple(ts_local), ts_remote=tuple(ts_remote),
        mode="transport" if mode in _TRANSPORT_MODES else "tunnel",
        encap=mode in _UDP_MODES or sa.remote_behind_nat or sa.local_behind_nat,
        esn=selection.esn,
        lifetime_soft=lifetime * 0.9, lifetime_hard=lifetime,
        lifetime_hard_bytes=(selection.life_kilobytes or 0) * 1024,
        lifetime_soft_bytes=(selection.life_kilobytes or 0) * 1024 * 9 // 10,
        install_policies=rekey_of is None,
    )
    child = ChildSa(reqid=spec.reqid, spi_in=spi_in, spi_out=spi_out, spec=spec,
                    suite=_suite(selection), nonce_i=ni, nonce_r=nr, created_at=now,
                    dh_group=selection.dh or 0)
    child.expire_at = None  # set once installed
    out = [w.SaPayload(proposals=[selection.to_wire(spi_in.to_bytes(4, "big"))]),
           w.NoncePayload(data=nr)] + out_ke
    if echo_ids:
        out += [_id_payload(ts_remote[0]), _id_payload(ts_local[0])]
    if conn.child_lifetime < proposed:
        out.append(messages.notify(
            V1NotifyType.RESPONDER_LIFETIME,
            messages.lifetime_attributes(V1IpsecAttribute.SA_LIFE_TYPE,
                                         V1IpsecAttribute.SA_LIFE_DURATION, int(lifetime)),
            protocol=_ESP, spi=spi_in.to_bytes(4, "big")))
    timing = ctx.retransmit_timing(sa)
    pending = PendingQuickMode(message_id=msg.message_id, child=child, response=[],
                               sent_at=now, next_retransmit=now + timing[0],
                               commit=bool(msg.flags & 0x02), rekey_of=rekey_of)
    sa.quick_modes[msg.message_id] = pending

    def hash2(rest: bytes) -> bytes:
        return ikev1_keys.quick_mode_hash2(sa.hash_alg, sa.skeyid_a, msg.message_id, ni, rest)

    def sent(now: float) -> None:
        cached = sa.replies.get(msg.message_id)
        pending.response = cached.response if cached is not None else []

    return Reply(out, hash_of=hash2, then=sent)


def qm3(resp, sa: IsakmpSa, msg, view, now, local, remote):
    """QM3: HASH(3) (checked by the driver) proves the initiator has the keys; install
    the SA pair."""
    pending = sa.quick_modes.pop(msg.message_id)
    sa.cipher.forget(msg.message_id)
    install(resp, sa, pending.child, pending.rekey_of, now)
    return Reply(None)


def install(resp, sa: IsakmpSa, child: ChildSa, rekey_of: ChildSa | None, now: float) -> None:
    ctx = resp.ctx
    sa.children[child.spi_in] = child
    ctx.register_child(sa, child)

    def answered(result, now: float) -> None:
        if sa.children.get(child.spi_in) is not child:
            return  # the ISAKMP SA went away meanwhile
        if result.ok:
            child.state = ChildSaState.INSTALLED
            child.expire_at = now + child.spec.lifetime_hard
            ctx.emit(ev.ChildSaChanged(1, +1))
            if rekey_of is not None and rekey_of.state is ChildSaState.INSTALLED:
                rekey_of.state = ChildSaState.REKEYED
                rekey_of.replaced_at = now + REKEYED_GRACE
                ctx.emit(ev.Rekeyed("child", "ok"))
                log.info("IPsec SA %08x_i with '%s' rekeyed to %08x_i", rekey_of.spi_in,
                         sa.peer_id, child.spi_in)
            if log.isEnabledFor(logging.INFO):  # the selectors' text costs: only if shown
                log.info("IPsec SA %08x_i %08x_o with '%s' installed: %s === %s (%s)",
                         child.spi_in, child.spi_out, sa.peer_id, _text(child.spec.ts_local),
                         _text(child.spec.ts_remote), child.suite)
        else:
            log.warning("IPsec SA %08x_i with '%s' could not be installed: %s",
                        child.spi_in, sa.peer_id, result.reason)
            sa.children.pop(child.spi_in, None)
            ctx.forget_child(child)
            if rekey_of is not None:
                ctx.emit(ev.Rekeyed("child", "failed"))
            # the initiator already uses the SA: tell it that it is gone (RFC 2408 §4.8)
            from . import informational
            informational.send_delete_esp(resp, sa, [child.spi_in])
        resp.reschedule(sa)

    sa.pending_requests.append(ctx.install_child(child.spec, answered))


def _select(sa: IsakmpSa, offered, with_ke: bool):
    """The ESP transform: PFS with the group the transforms name when a KE came along."""
    conn = sa.connection
    nat = sa.remote_behind_nat or sa.local_behind_nat
    modes = {_M.TUNNEL}
    if nat:
        modes |= {_M.UDP_ENCAPSULATED_TUNNEL, _M.UDP_ENCAPSULATED_TUNNEL_DRAFT}
    if conn.transport_mode:
        modes |= {_M.TRANSPORT} | ({_M.UDP_ENCAPSULATED_TRANSPORT,
                                    _M.UDP_ENCAPSULATED_TRANSPORT_DRAFT} if nat else set())
    if not with_ke:
        chosen = proposals_v1.select_v1_phase2(conn.esp_proposals, offered, None, modes=modes)
    else:
        chosen = None
        groups = []
        for p in offered:
            for t in p.transforms:
                for a in t.attributes:
                    if a.type == V1IpsecAttribute.GROUP_DESCRIPTION and isinstance(a.value, int) \
                            and a.value not in groups:
                        groups.append(a.value)
        for group in groups:
            chosen = proposals_v1.select_v1_phase2(conn.esp_proposals_for_pfs(group), offered,
                                                group, modes=modes)
            if chosen is not None:
                break
    if chosen is None:
        raise NoProposalChosen(f"no ESP proposal of '{sa.peer_id}' is acceptable "
                               f"({'with' if with_ke else 'without'} PFS)")
    if chosen.dh and not with_ke:
        raise MalformedMessage("PFS group chosen but no KE payload")
    return chosen


def _selectors(sa: IsakmpSa, view):
    """(remote side, local side, whether IDs are echoed) narrowed to policy."""
    ids = view.all(P.ID)
    if len(ids) not in (0, 2):
        raise MalformedMessage(f"Quick Mode with {len(ids)} ID payloads (0 or 2)")
    if ids:
        proposed_i = [ts.from_v1_id(i.id_type, i.protocol_id, i.port, i.data) for i in ids[:1]]
        proposed_r = [ts.from_v1_id(i.id_type, i.protocol_id, i.port, i.data) for i in ids[1:]]
    else:  # RFC 2409 §5.5: the ISAKMP peers themselves
        proposed_i = [ts.host_spec(sa.remote[0])]
        proposed_r = [ts.host_spec(sa.local[0])]
    conn = sa.connection
    if sa.vip is not None:
        policy = [TrafficSelectorSpec(sa.vip, sa.vip)]
    elif conn.remote_ts:
        policy = list(conn.remote_ts)
    else:
        address = ipaddress.ip_address(sa.remote[0])
        policy = [TrafficSelectorSpec(address, address)]
    narrowed_i, narrowed_r = ts.road_warrior_selectors(proposed_i, proposed_r, sa.vip,
                                                       conn.local_ts, remote_ts=policy)
    # IKEv1 carries one selector per side: the first of each
    narrowed_i, narrowed_r = narrowed_i[:1], narrowed_r[:1]
    if not ids and (narrowed_i != proposed_i or narrowed_r != proposed_r):
        raise TsUnacceptable("Quick Mode without IDs for hosts outside policy")
    return narrowed_i, narrowed_r, bool(ids)


def _id_payload(spec) -> w.IdPayload:
    id_type, protocol, port, data = ts.to_v1_id(spec)
    return w.IdPayload(id_type=id_type, protocol_id=protocol, port=port, data=data)


_suite_names: dict[tuple, str] = {}


def _suite(selection) -> str:
    # per Quick Mode, from the few suites our proposals accept: named once each
    key = (selection.encr, selection.encr_key_len, selection.integ, selection.dh)
    name = _suite_names.get(key)
    if name is None:
        parts = [T.token_name(TransformType.ENCR, selection.encr, selection.encr_key_len)]
        if selection.integ:
            parts.append(T.token_name(TransformType.INTEG, selection.integ))
        if selection.dh:
            parts.append(T.token_name(TransformType.DH, selection.dh))
        name = _suite_names[key] = "-".join(parts)
    return name


def _text(specs) -> str:
    return ", ".join(str(s) for s in specs) or "nothing"


__all__ = ["install", "qm1", "qm3"]
