"""Traffic selectors: wire forms to ``TrafficSelectorSpec`` and back, and narrowing.

Owns: the conversion of IKEv2 TS payload entries (RFC 7296 §3.13.1) and of IKEv1 Quick
Mode ID payloads used as selectors (RFC 2407 §4.6.2, RFC 2409 §5.5) to and from
``actions.TrafficSelectorSpec``; the narrowing a responder does (RFC 7296 §2.9); the
selectors of a road warrior's CHILD SA (its virtual IP on one side, ``local_ts`` on the
other) and of a CHILD SA rekey (§2.9.2: never wider than the SA being rekeyed); parsing
of strongSwan-style selector strings ("10.0.0.0/8[tcp/443]") for the config.

Must not import asyncio, socket, time or any I/O module; of the rest of ikesrv only
actions, constants, errors and the wire types.

A spec's port range is start_port..end_port; 0..65535 is "any"; 65535..0 is OPAQUE
(RFC 4301 §4.4.1.1: the ports are not available, e.g. a non-initial fragment), which
RFC 7296 §3.13.1 encodes as Start Port 65535, End Port 0. For ICMP the "ports" carry
type and code (RFC 4301 §4.4.1.1, RFC 7296 §3.13.1); ranges intersect the same way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..actions import TrafficSelectorSpec as Spec
from ..constants import TsType, V1IdType
from ..errors import MalformedMessage, TsUnacceptable
from ..wire.ikev2 import TrafficSelector

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ANY_PORTS = (0, 65535)
OPAQUE_PORTS = (65535, 0)  # RFC 4301 §4.4.1.1 OPAQUE, RFC 7296 §3.13.1

#: Selectors a peer may propose per TS payload. Narrowing is quadratic in the result
#: (redundant selectors are removed), so a hostile list is refused, not processed;
#: real clients send one or two per family.
MAX_SELECTORS = 16

#: Results remembered per process for the conversions and the narrowing that every road
#: warrior repeats with the same inputs (its TS or ID payloads, the connection's
#: local_ts): each costs some ipaddress objects and comparisons, ~5-15 µs, per SA. The
#: inputs come from peers, so each memo stops growing at this size (what is in it stays
#: right; what is not is computed as before).
MEMO_SIZE = 512
_from_wire_memo: dict[tuple, Spec | None] = {}
_from_v1_id_memo: dict[tuple, Spec] = {}
_narrow_memo: dict[tuple, tuple] = {}

#: Protocol names accepted by ``parse_spec`` (as strongSwan and /etc/protocols name them).
PROTOCOLS = {
    "any": 0,
    "icmp": 1,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "sctp": 132,
}


# ------------------------------------------------------------------ building ----------


def host_spec(address: str | IpAddress, ip_protocol: int = 0,
              start_port: int = 0, end_port: int = 65535) -> Spec:
    """A selector for one address (a virtual IP, a peer without Quick Mode IDs)."""
    # ip_address() of an address object would format and parse it again
    addr = address if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)) \
        else ipaddress.ip_address(address)
    return Spec(addr, addr, ip_protocol, start_port, end_port)


def network_spec(network: str | IpNetwork, ip_protocol: int = 0,
                 start_port: int = 0, end_port: int = 65535) -> Spec:
    """A selector for a CIDR network (``local_ts`` entries)."""
    net = ipaddress.ip_network(network, strict=False)
    return Spec(net.network_address, net.broadcast_address, ip_protocol, start_port, end_port)


_SPEC_RE = re.compile(r"^\s*([^\[\]\s]*)\s*(?:\[\s*([^/\]\s]*)\s*(?:/\s*([^\]\s]*)\s*)?\])?\s*$")


def parse_spec(text: str) -> Spec:
    """Parse "NET[PROTO/PORT]" as strongSwan writes selectors.

    NET is a CIDR network, a single address or a range "A-B"; PROTO a name of
    ``PROTOCOLS`` or a number; PORT a number, a range "A-B", "%any" or "%opaque".
    Examples: "10.0.0.0/8", "192.0.2.1-192.0.2.9", "0.0.0.0/0[tcp/443]",
    "::/0[ipv6-icmp]". Raises ValueError with a reason a config error can show.
    """
    m = _SPEC_RE.match(text)
    if m is None or not m.group(1):
        raise ValueError(f"'{text}' is not a traffic selector (NET[PROTO/PORT])")
    net_text, proto_text, port_text = m.groups()
    if "-" in net_text:
        start_text, _, end_text = net_text.partition("-")
        start, end = ipaddress.ip_address(start_text), ipaddress.ip_address(end_text)
        if start.version != end.version or start > end:
            raise ValueError(f"'{net_text}' is not an address range (start-end, one family)")
    else:
        net = ipaddress.ip_network(net_text, strict=False)
        start, end = net.network_address, net.broadcast_address
    protocol = 0
    if proto_text:
        if proto_text.lower() in PROTOCOLS:
            protocol = PROTOCOLS[proto_text.lower()]
        elif proto_text.isdigit() and int(proto_text) <= 255:
            protocol = int(proto_text)
        else:
            raise ValueError(f"unknown protocol '{proto_text}' in '{text}'")
    start_port, end_port = ANY_PORTS
    if port_text and port_text != "%any":
        if port_text == "%opaque":
            start_port, end_port = OPAQUE_PORTS
        else:
            lo, _, hi = port_text.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise ValueError(f"'{port_text}' is not a port or port range in '{text}'")
            start_port, end_port = int(lo), int(hi or lo)
            if end_port > 65535 or start_port > end_port:
                raise ValueError(f"'{port_text}' is not a port range in '{text}'")
    return Spec(start, end, protocol, start_port, end_port)


# ------------------------------------------------------------------ set operations ----


def is_opaque(spec: Spec) -> bool:
    """Whether the selector matches only packets whose ports are unavailable."""
    return (spec.start_port, spec.end_port) == OPAQUE_PORTS


def _any_ports(spec: Spec) -> bool:
    return spec.start_port == 0 and spec.end_port == 65535


def contains(outer: Spec, inner: Spec) -> bool:
    """Whether every packet ``inner`` matches is matched by ``outer``."""
    if outer.start.version != inner.start.version:
        return False
    if not (outer.start <= inner.start and inner.end <= outer.end):
        return False
    if outer.ip_protocol not in (0, inner.ip_protocol):
        return False
    if _any_ports(outer):
        return True  # ANY includes OPAQUE (RFC 4301 §4.4.1.1)
    if is_opaque(outer) or is_opaque(inner):
        return is_opaque(outer) and is_opaque(inner)
    return outer.start_port <= inner.start_port and inner.end_port <= outer.end_port


def intersect(a: Spec, b: Spec) -> Spec | None:
    """The selector matching exactly what both match, or None when nothing is."""
    if a.start.version != b.start.version:
        return None
    start, end = max(a.start, b.start), min(a.end, b.end)
    if start > end:
        return None
    if a.ip_protocol == 0 or a.ip_protocol == b.ip_protocol:
        protocol = b.ip_protocol
    elif b.ip_protocol == 0:
        protocol = a.ip_protocol
    else:
        return None
    if _any_ports(a):
        ports = (b.start_port, b.end_port)
    elif _any_ports(b):
        ports = (a.start_port, a.end_port)
    elif is_opaque(a) or is_opaque(b):
        if not (is_opaque(a) and is_opaque(b)):
            return None
        ports = OPAQUE_PORTS
    else:
        ports = (max(a.start_port, b.start_port), min(a.end_port, b.end_port))
        if ports[0] > ports[1]:
            return None
    return Spec(start, end, protocol, *ports)


def remove_redundant(specs: Iterable[Spec]) -> list[Spec]:
    """``specs`` without duplicates and without selectors another one contains,
    first occurrences kept, order kept (a kernel policy per redundant selector would
    only shadow another)."""
    unique = list(dict.fromkeys(specs))
    return [
        s for i, s in enumerate(unique)
        if not any(j != i and contains(o, s) for j, o in enumerate(unique))
    ]


def is_packet_selector(proposed: Sequence[Spec]) -> bool:
    """Whether ``proposed`` starts with the triggering packet's selector (RFC 7296 §2.9):
    a single address, contained in one of the selectors after it."""
    first = proposed[0] if proposed else None
    return (first is not None and first.start == first.end
            and any(contains(later, first) for later in proposed[1:]))


def narrow(proposed: Sequence[Spec], allowed: Sequence[Spec]) -> list[Spec]:
    """What the responder answers for one TS payload (RFC 7296 §2.9).

    The intersections of every proposed selector with every allowed one, in the
    initiator's order, without duplicates or selectors contained in another result.
    An empty list means TS_UNACCEPTABLE for the caller.

    §2.9 lets an initiator put the packet that triggered the SA first: a selector for a
    single address, followed by the wider range it wants. When the first selector has
    that shape (one address, inside a later selector) and some allowed selectors
    contain it, only those are used, so that the answer "includes the initiator's
    first choices" (§2.9). No answer has that shape (it holds no selector inside
    another), which keeps narrowing idempotent. Raises TsUnacceptable when more than
    MAX_SELECTORS are proposed. None entries in ``proposed`` (what ``from_wire`` gives
    for a selector we cannot use) are skipped.
    """
    if None in proposed:
        proposed = [p for p in proposed if p is not None]
    if len(proposed) > MAX_SELECTORS:
        raise TsUnacceptable(f"{len(proposed)} traffic selectors proposed, at most "
                             f"{MAX_SELECTORS} are accepted")
    if is_packet_selector(proposed):
        carrying = [a for a in allowed if contains(a, proposed[0])]
        if carrying:
            allowed = carrying
    results = []
    for p in proposed:
        for a in allowed:
            common = intersect(p, a)
            if common is not None:
                results.append(common)
    return remove_redundant(results)


def is_subset(specs: Sequence[Spec], of: Sequence[Spec]) -> bool:
    """Whether every selector of ``specs`` lies within one of ``of``."""
    return all(any(contains(o, s) for o in of) for s in specs)


# ------------------------------------------------------------------ road warriors -----


def responder_ts_i(proposed_ts_i: Sequence[Spec],
                   vips: IpAddress | Iterable[IpAddress] | None,
                   remote_ts: Sequence[Spec] = ()) -> list[Spec]:
    """TSi of our answer for a road warrior (RFC 7296 §2.9, §3.15).

    With virtual IPs (one address, or one per family) the client's selectors (typically
    0.0.0.0/0 and ::/0, as it did not know its address yet, or the address it asked
    for) narrow to each address as a /32 or /128, keeping the protocol and ports it
    asked for. A client that proposed only some other address gets nothing back
    (TS_UNACCEPTABLE): the answer must stay within what the initiator proposed.
    Without a virtual IP (None) the caller passes the policy's ``remote_ts`` instead.
    """
    if vips is None:
        allowed = list(remote_ts)
    elif isinstance(vips, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        if len(proposed_ts_i) == 1:
            only = proposed_ts_i[0]
            if only is not None and only.start == vips and only.end == vips:
                # the client knows its address (an IKEv1 Quick Mode after Mode Config, an
                # IKEv2 rekey): that selector lies within host_spec(vips), so narrowing
                # gives it back unchanged
                return [only]
        found = _whole_space_narrowed(proposed_ts_i, vips)
        if found is not None:
            return found
        allowed = [host_spec(vips)]
    else:
        allowed = [host_spec(v) for v in vips]
    return narrow(proposed_ts_i, allowed)


# A stand-in address per family for _whole_space_narrowed
_STAND_IN = {4: ipaddress.IPv4Address("192.0.2.1"), 6: ipaddress.IPv6Address("2001:db8::1")}
_WHOLE_SPACE = {v: (ipaddress.ip_address(a), ipaddress.ip_address(b)) for v, a, b in (
    (4, "0.0.0.0", "255.255.255.255"), (6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))}
_whole_space_memo: dict[tuple, tuple | None] = {}


def _whole_space_narrowed(proposed: Sequence[Spec], vip: IpAddress) -> list[Spec] | None:
    """narrow(proposed, [host_spec(vip)]) the quick way, or None if it does not apply.

    Road warriors propose TSi = the whole address space (0.0.0.0/0, ::/0: they did not
    know their address yet), perhaps per protocol or port range. Every such selector
    contains any virtual IP, so the answer is the same for all of them but for the
    address: narrowed once against a stand-in of the family, remembered per proposal
    (MEMO_SIZE), then given each client's address. Anything else (a selector for a
    part of the space, the packet selector of §2.9) goes the general way.
    """
    key = (tuple(proposed), vip.version)
    found = _whole_space_memo.get(key, False)
    if found is False:
        whole = all(p is None or (p.start, p.end) == _WHOLE_SPACE[p.start.version]
                    for p in proposed)
        found = None
        if whole:  # TsUnacceptable (too many selectors) propagates, not remembered
            stand_in = _STAND_IN[vip.version]
            found = tuple((s.ip_protocol, s.start_port, s.end_port)
                          for s in narrow(proposed, [host_spec(stand_in)]))
        if len(_whole_space_memo) < MEMO_SIZE:
            _whole_space_memo[key] = found
    if found is None:
        return None
    return [Spec(vip, vip, *rest) for rest in found]


def responder_ts_r(proposed_ts_r: Sequence[Spec], local_ts: Sequence[Spec]) -> list[Spec]:
    """TSr of our answer: the client's destinations narrowed to ``local_ts`` (the same
    question for every client of a connection: remembered, see MEMO_SIZE)."""
    key = (tuple(proposed_ts_r), tuple(local_ts))
    found = _narrow_memo.get(key)
    if found is None:
        found = tuple(narrow(proposed_ts_r, local_ts))  # TsUnacceptable: not remembered
        if len(_narrow_memo) < MEMO_SIZE:
            _narrow_memo[key] = found
    return list(found)


def matching_families(ts_i: Sequence[Spec],
                      ts_r: Sequence[Spec]) -> tuple[list[Spec], list[Spec]]:
    """Both lists without the selectors of an address family the other lacks.

    A dual-stack client proposes 0.0.0.0/0 and ::/0 on both sides; given only an IPv4
    address, its TSi narrows to IPv4 while TSr would still carry ::/0, which no kernel
    policy can pair with anything: leave it out of the answer.
    """
    if len(ts_i) == 1 and len(ts_r) == 1 and type(ts_i[0].start) is type(ts_r[0].start):
        return list(ts_i), list(ts_r)  # one selector each, one family: the usual answer
    both = {s.start.version for s in ts_i} & {s.start.version for s in ts_r}
    return ([s for s in ts_i if s.start.version in both],
            [s for s in ts_r if s.start.version in both])


def road_warrior_selectors(
    proposed_ts_i: Sequence[Spec],
    proposed_ts_r: Sequence[Spec],
    vips: IpAddress | Iterable[IpAddress] | None,
    local_ts: Sequence[Spec],
    remote_ts: Sequence[Spec] = (),
) -> tuple[list[Spec], list[Spec]]:
    """(TSi, TSr) of our answer for a CHILD SA of a road warrior (RFC 7296 §2.9).

    ``responder_ts_i`` and ``responder_ts_r``, then ``matching_families``. Raises
    TsUnacceptable when either side ends up empty.
    """
    ts_i = responder_ts_i(proposed_ts_i, vips, remote_ts)
    ts_r = responder_ts_r(proposed_ts_r, local_ts)
    ts_i, ts_r = matching_families(ts_i, ts_r)
    if not ts_i or not ts_r:
        raise TsUnacceptable(
            "no traffic selector within policy: TSi "
            f"{_show(proposed_ts_i)} -> {_show(ts_i)}, TSr {_show(proposed_ts_r)} -> {_show(ts_r)}"
        )
    return ts_i, ts_r


def _show(specs: Sequence[Spec]) -> str:
    return "(" + " ".join(str(s) for s in specs) + ")"


# ------------------------------------------------------------------ rekeying ----------


def rekey_narrow(proposed: Sequence[Spec], current: Sequence[Spec],
                 allowed: Sequence[Spec]) -> list[Spec]:
    """Our answer's selectors when the peer rekeys a CHILD SA (CREATE_CHILD_SA with
    REKEY_SA, RFC 7296 §2.8, §2.9.2).

    The new SA may not be wider than the one it replaces, nor than the policy now in
    force (a config reload may have narrowed ``allowed``): the proposal is narrowed to
    ``current`` within ``allowed``. A peer proposing exactly the old selectors gets
    them back.
    """
    return narrow(proposed, narrow(current, allowed))


def rekey_proposal(ts_local: Sequence[Spec],
                   ts_remote: Sequence[Spec]) -> tuple[list[Spec], list[Spec]]:
    """(TSi, TSr) when WE rekey a CHILD SA: its current selectors, unchanged (§2.9.2).

    The roles flip: in the CREATE_CHILD_SA we initiate, TSi describes our side (the
    SA's ``ts_local``) and TSr the client's (``ts_remote``), whatever they were called
    in the exchange that created the SA.
    """
    return list(ts_local), list(ts_remote)


# ------------------------------------------------------------------ IKEv2 wire --------


def from_wire(ts: Any) -> Spec | None:
    """A wire TrafficSelector as a spec; None for one we cannot use (see _from_wire)."""
    if ts.ts_type != TsType.TS_IPV4_ADDR_RANGE and ts.ts_type != TsType.TS_IPV6_ADDR_RANGE:
        return None
    key = (ts.ts_type, ts.ip_protocol, ts.start_port, ts.end_port, ts.start_addr, ts.end_addr)
    try:
        return _from_wire_memo[key]
    except KeyError:
        pass
    spec = _from_wire(ts)  # MalformedMessage: not remembered
    if len(_from_wire_memo) < MEMO_SIZE:
        _from_wire_memo[key] = spec
    return spec


def _from_wire(ts: Any) -> Spec | None:
    """A wire TrafficSelector as a spec; None for one we cannot use.

    Unusable (skipped, not an error: §2.9 lets the responder narrow them away): types
    other than TS_IPV4_ADDR_RANGE / TS_IPV6_ADDR_RANGE (the codec's RawTrafficSelector,
    e.g. TS_SECLABEL of RFC 9478),
    an address range whose start is above its end, and an inverted port range other
    than OPAQUE. An address of the wrong length raises MalformedMessage (the codec
    already checks it).
    """
    if ts.ts_type == TsType.TS_IPV4_ADDR_RANGE:
        cls, length = ipaddress.IPv4Address, 4
    elif ts.ts_type == TsType.TS_IPV6_ADDR_RANGE:
        cls, length = ipaddress.IPv6Address, 16
    else:
        return None
    if len(ts.start_addr) != length or len(ts.end_addr) != length:
        raise MalformedMessage(f"traffic selector type {ts.ts_type}: address length "
                               f"{len(ts.start_addr)}/{len(ts.end_addr)} != {length}")
    start, end = cls(ts.start_addr), cls(ts.end_addr)
    if start > end:
        return None
    ports = (ts.start_port, ts.end_port)
    if ports[0] > ports[1] and ports != OPAQUE_PORTS:
        return None
    return Spec(start, end, ts.ip_protocol, *ports)


def from_wire_list(selectors: Iterable[Any]) -> list[Spec]:
    """The usable selectors of a TS payload, in order."""
    specs = []
    for ts in selectors:
        spec = from_wire(ts)
        if spec is not None:
            specs.append(spec)
    return specs


def to_wire(spec: Spec) -> TrafficSelector:
    """A spec as the codec's TrafficSelector (RFC 7296 §3.13.1)."""
    start, end = spec.start, spec.end
    # the addresses' integers packed here: ``.packed`` is a property and a function call
    # each, for two selectors of every CHILD SA
    if type(start) is ipaddress.IPv4Address:
        ts_type, length = TsType.TS_IPV4_ADDR_RANGE, 4
    else:
        ts_type, length = TsType.TS_IPV6_ADDR_RANGE, 16
    return TrafficSelector(ts_type, spec.ip_protocol, spec.start_port, spec.end_port,
                           int(start).to_bytes(length, "big"), int(end).to_bytes(length, "big"))


def to_wire_list(specs: Iterable[Spec]) -> list[TrafficSelector]:
    return [to_wire(s) for s in specs]


# ------------------------------------------------------------------ IKEv1 IDs ---------

_V1_ADDR_LEN = {
    V1IdType.ID_IPV4_ADDR: (4, 4),
    V1IdType.ID_IPV4_ADDR_SUBNET: (4, 8),
    V1IdType.ID_IPV4_ADDR_RANGE: (4, 8),
    V1IdType.ID_IPV6_ADDR: (6, 16),
    V1IdType.ID_IPV6_ADDR_SUBNET: (6, 32),
    V1IdType.ID_IPV6_ADDR_RANGE: (6, 32),
}


def from_v1_id(id_type: int, protocol_id: int, port: int, data: bytes) -> Spec:
    """A Quick Mode ID payload as a selector (see _from_v1_id), remembered (MEMO_SIZE)."""
    key = (id_type, protocol_id, port, data)
    found = _from_v1_id_memo.get(key)
    if found is None:
        found = _from_v1_id(id_type, protocol_id, port, data)  # errors: not remembered
        if len(_from_v1_id_memo) < MEMO_SIZE:
            _from_v1_id_memo[key] = found
    return found


def _from_v1_id(id_type: int, protocol_id: int, port: int, data: bytes) -> Spec:
    """A Quick Mode ID payload (IDci/IDcr) as a selector (RFC 2407 §4.6.2, RFC 2409 §5.5).

    ID_IPV4/IPV6_ADDR, _ADDR_SUBNET (address, mask; host bits are cleared) and
    _ADDR_RANGE (start, end). Port 0 means any port (RFC 2407 §4.6.2); IKEv1 has no
    port ranges. Raises MalformedMessage for a length that does not fit the type and
    TsUnacceptable (INVALID_ID_INFORMATION) for other ID types, a non-contiguous mask
    or an inverted range.
    """
    shape = _V1_ADDR_LEN.get(id_type)
    if shape is None:
        raise TsUnacceptable(f"ID type {id_type} cannot be a Quick Mode selector")
    version, length = shape
    if len(data) != length:
        raise MalformedMessage(f"ID type {id_type}: {len(data)} octets, expected {length}")
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    half = length // 2
    if id_type in (V1IdType.ID_IPV4_ADDR, V1IdType.ID_IPV6_ADDR):
        start = end = cls(data)
    elif id_type in (V1IdType.ID_IPV4_ADDR_SUBNET, V1IdType.ID_IPV6_ADDR_SUBNET):
        mask = int.from_bytes(data[half:], "big")
        bits = half * 8
        prefix = bits - (((1 << bits) - 1) ^ mask).bit_length()
        if mask != ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1):
            raise TsUnacceptable(f"ID type {id_type}: mask {data[half:].hex()} is not "
                                 "contiguous")
        net = ipaddress.ip_network((cls(data[:half]), prefix), strict=False)
        start, end = net.network_address, net.broadcast_address
    else:
        start, end = cls(data[:half]), cls(data[half:])
        if start > end:
            raise TsUnacceptable(f"ID type {id_type}: range {start}-{end} is inverted")
    if port:
        return Spec(start, end, protocol_id, port, port)
    return Spec(start, end, protocol_id, 0, 65535)


def to_v1_id(spec: Spec) -> tuple[int, int, int, bytes]:
    """(id_type, protocol_id, port, data) of a Quick Mode ID payload for ``spec``.

    A single address becomes ID_IPVx_ADDR, a CIDR block ID_IPVx_ADDR_SUBNET, any other
    range ID_IPVx_ADDR_RANGE. Raises TsUnacceptable (INVALID_ID_INFORMATION) for a port
    range other than one port or all of them, which IKEv1 cannot express.
    """
    if _any_ports(spec):
        port = 0
    elif spec.start_port == spec.end_port and not is_opaque(spec):
        port = spec.start_port
    else:
        raise TsUnacceptable(f"ports {spec.start_port}-{spec.end_port} cannot be expressed "
                             "in an IKEv1 ID payload")
    v4 = spec.start.version == 4
    if spec.start == spec.end:
        id_type = V1IdType.ID_IPV4_ADDR if v4 else V1IdType.ID_IPV6_ADDR
        return id_type, spec.ip_protocol, port, spec.start.packed
    networks = spec.networks()
    if len(networks) == 1:
        id_type = V1IdType.ID_IPV4_ADDR_SUBNET if v4 else V1IdType.ID_IPV6_ADDR_SUBNET
        net = networks[0]
        return id_type, spec.ip_protocol, port, net.network_address.packed + net.netmask.packed
    id_type = V1IdType.ID_IPV4_ADDR_RANGE if v4 else V1IdType.ID_IPV6_ADDR_RANGE
    return id_type, spec.ip_protocol, port, spec.start.packed + spec.end.packed
