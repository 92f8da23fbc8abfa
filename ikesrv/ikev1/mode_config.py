"""Mode Config: the client's virtual address and DNS servers (draft-dukes-ike-mode-cfg-02).

    pull (the client asks)                     push (we set)
    <-- HDR*, HASH, ATTR(REQUEST: ADDRESS...)  HDR*, HASH, ATTR(SET: ADDRESS...) -->
    HDR*, HASH, ATTR(REPLY: ADDRESS...) -->    <-- HDR*, HASH, ATTR(ACK)

Owns the attributes of both forms: the address from the connection's pools (sticky per
user through ``ctx.acquire_vip``), the netmask when asked for, DNS and NBNS servers, and
split-include networks, as Cisco Unity attributes (UNITY_SPLIT_INCLUDE) for clients that
announced Unity or ask for them, else as INTERNAL_IP4/6_SUBNET. Most clients pull
(strongSwan, Apple's and Android's built-in clients); those that expect a push (libreswan's
default) get a SET when no request came within ``phase1.CFG_PUSH_WAIT`` of the SA being
established.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import ipaddress
import logging

from ..constants import V1CfgAttribute as A
from ..constants import V1CfgType
from ..constants import V1PayloadType as P
from ..errors import InternalAddressFailure, UnexpectedPayload
from ..wire import ikev1 as w
from .isakmp_sa import IsakmpSa
from .messages import informational_hash
from .transitions import Reply

log = logging.getLogger("ikesrv.ikev1")

_ADDRESS = {4: A.INTERNAL_IP4_ADDRESS, 6: A.INTERNAL_IP6_ADDRESS}


def request(resp, sa: IsakmpSa, msg, view, now, local, remote):
    """A Transaction the client started: REQUEST gets REPLY, SET gets ACK."""
    attr = view.first(P.ATTR)
    hash_of = informational_hash(sa, msg.message_id)
    if attr.cfg_type == V1CfgType.ISAKMP_CFG_REQUEST:
        attrs = attributes(resp, sa, {a.type: a.value for a in attr.attributes})
        answer = w.AttributePayload(cfg_type=V1CfgType.ISAKMP_CFG_REPLY,
                                    identifier=attr.identifier, attributes=attrs)
    elif attr.cfg_type == V1CfgType.ISAKMP_CFG_SET:
        # nothing a client may set on a concentrator: acknowledge with no attributes
        answer = w.AttributePayload(cfg_type=V1CfgType.ISAKMP_CFG_ACK,
                                    identifier=attr.identifier)
    else:
        raise UnexpectedPayload(f"Transaction of attribute type {attr.cfg_type} not expected")
    return Reply([answer], hash_of=hash_of, then=lambda now: resp.cfg_sent(sa, now))


def attributes(resp, sa: IsakmpSa, wants: dict) -> list:
    """Reply attributes for what the client asked (all we have, when pushing)."""
    ctx = resp.ctx
    conn = sa.connection
    if not conn.pools:
        return []
    if sa.vip is None:
        for family, kind in _ADDRESS.items():
            if kind not in wants and wants:
                continue
            requested = _requested(family, wants.get(kind))
            if ctx.acquire_vip(sa, conn.pools_for_family(family), requested) is not None:
                break
    if sa.vip is None:
        e = InternalAddressFailure(f"no free address for '{sa.peer_id}' in pools "
                                   f"{', '.join(conn.pools)}")
        ctx.log_error(e, sa.remote, f"ISAKMP SA {sa.spi_i.hex()} Mode Config")
        return []
    unity = sa.peer_unity or A.UNITY_SPLIT_INCLUDE in wants
    pairs = sa.vip_pool.mode_config_attributes(sa.vip, wants.keys() or None, unity=unity)
    return [w.Attribute(type=t, value=v) for t, v in pairs]


def push(resp, sa: IsakmpSa, now: float) -> None:
    """No request came: set the address ourselves (ISAKMP_CFG_SET, the ACK ends it)."""
    attrs = attributes(resp, sa, {})
    if not attrs:
        return
    sa.cfg_done = True
    log.info("ISAKMP SA %s: pushing virtual IP %s to '%s'", sa.spi_i.hex(), sa.vip, sa.peer_id)

    def acked(attr, now: float) -> None:
        if attr.cfg_type != V1CfgType.ISAKMP_CFG_ACK:
            log.info("ISAKMP SA %s: Mode Config SET answered with type %d", sa.spi_i.hex(),
                     attr.cfg_type)

    def lost(reason: str) -> None:
        resp.peer_dead(sa, f"Mode Config SET: {reason}")

    resp.send_transaction(sa, V1CfgType.ISAKMP_CFG_SET, attrs, now, on_reply=acked,
                          on_failure=lost)


def _requested(family: int, value):
    if not isinstance(value, bytes):
        return None
    try:
        if family == 4 and len(value) == 4 and value != bytes(4):
            return ipaddress.IPv4Address(value)
        if family == 6 and len(value) in (16, 17) and value[:16] != bytes(16):
            return ipaddress.IPv6Address(value[:16])
    except ValueError:
        pass
    return None
