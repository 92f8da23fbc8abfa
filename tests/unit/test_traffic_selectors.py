"""Traffic selectors: parsing, wire and IKEv1 ID conversions, narrowing (RFC 7296 §2.9)."""

from __future__ import annotations

import ipaddress
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.actions import TrafficSelectorSpec as Spec
from ikesrv.constants import PayloadType, TsType, V1IdType
from ikesrv.errors import MalformedMessage, TsUnacceptable
from ikesrv.ikev2 import traffic_selectors as ts
from ikesrv.wire import ikev2 as w

ip = ipaddress.ip_address
P = ts.parse_spec


def S(start, end=None, proto=0, ports=(0, 65535)):
    return Spec(ip(start), ip(end or start), proto, *ports)


# ------------------------------------------------------------------ parsing -----------

PARSE = [
    ("10.0.0.0/8", S("10.0.0.0", "10.255.255.255")),
    ("10.1.2.3", S("10.1.2.3")),
    ("10.1.2.3/24", S("10.1.2.0", "10.1.2.255")),
    ("192.0.2.1-192.0.2.9", S("192.0.2.1", "192.0.2.9")),
    ("0.0.0.0/0[tcp/443]", S("0.0.0.0", "255.255.255.255", 6, (443, 443))),
    ("0.0.0.0/0[udp/500-4500]", S("0.0.0.0", "255.255.255.255", 17, (500, 4500))),
    ("::/0[ipv6-icmp]", S("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 58)),
    ("2001:db8::/32[47]", S("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 47)),
    ("10.0.0.0/8[udp/%any]", S("10.0.0.0", "10.255.255.255", 17)),
    ("10.0.0.0/8[udp/%opaque]", S("10.0.0.0", "10.255.255.255", 17, (65535, 0))),
    (" 10.0.0.0/8 [ tcp ] ", S("10.0.0.0", "10.255.255.255", 6)),
]


@pytest.mark.parametrize("text,spec", PARSE)
def test_parse_spec(text, spec):
    assert P(text) == spec


@pytest.mark.parametrize("text", [
    "", "[tcp/80]", "10.0.0.0/8[foo]", "10.0.0.0/8[tcp/x]", "10.0.0.0/8[tcp/9-1]",
    "10.0.0.0/8[tcp/70000]", "10.0.0.9-10.0.0.1", "10.0.0.1-::1", "10.0.0.0/33",
    "10.0.0.0/8[tcp/80", "10.0.0.0/8[256]",
])
def test_parse_spec_rejects(text):
    with pytest.raises(ValueError):
        P(text)


def test_network_and_host_specs():
    assert ts.network_spec(ipaddress.ip_network("192.0.2.0/24")) == P("192.0.2.0/24")
    assert ts.host_spec("2001:db8::1", 6, 80, 80) == P("2001:db8::1[tcp/80]")


# ------------------------------------------------------------------ set operations ----

INTERSECT = [
    # a, b, a ∩ b
    ("10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16"),
    ("10.0.0.0/24", "10.0.1.0/24", None),
    ("10.0.0.0-10.0.0.9", "10.0.0.5-10.0.0.20", "10.0.0.5-10.0.0.9"),
    ("10.0.0.0/8", "::/0", None),  # families never meet
    ("0.0.0.0/0", "10.0.0.0/8[tcp/80]", "10.0.0.0/8[tcp/80]"),  # protocol 0 = any
    ("0.0.0.0/0[udp]", "0.0.0.0/0[tcp]", None),
    ("0.0.0.0/0[tcp/1-100]", "0.0.0.0/0[tcp/50-200]", "0.0.0.0/0[tcp/50-100]"),
    ("0.0.0.0/0[tcp/1-100]", "0.0.0.0/0[tcp/101-200]", None),
    # OPAQUE (RFC 4301 §4.4.1.1): within ANY, disjoint from real port ranges
    ("0.0.0.0/0[tcp/%opaque]", "0.0.0.0/0[tcp]", "0.0.0.0/0[tcp/%opaque]"),
    ("0.0.0.0/0[tcp/%opaque]", "0.0.0.0/0[tcp/%opaque]", "0.0.0.0/0[tcp/%opaque]"),
    ("0.0.0.0/0[tcp/%opaque]", "0.0.0.0/0[tcp/0-65534]", None),
    ("0.0.0.0/0[tcp/%opaque]", "0.0.0.0/0[tcp/65535]", None),
]


@pytest.mark.parametrize("a,b,expected", INTERSECT)
def test_intersect(a, b, expected):
    want = None if expected is None else P(expected)
    assert ts.intersect(P(a), P(b)) == want
    assert ts.intersect(P(b), P(a)) == want
    if want is not None:
        assert ts.contains(P(a), want) and ts.contains(P(b), want)


CONTAINS = [
    ("0.0.0.0/0", "10.0.0.0/8[udp/53]", True),
    ("10.0.0.0/8[udp/53]", "10.0.0.0/8", False),
    ("0.0.0.0/0", "0.0.0.0/0[tcp/%opaque]", True),
    ("0.0.0.0/0[tcp/%opaque]", "0.0.0.0/0[tcp/80]", False),
    ("0.0.0.0/0[tcp/0-65534]", "0.0.0.0/0[tcp/%opaque]", False),
    ("::/0", "0.0.0.0/0", False),
]


@pytest.mark.parametrize("outer,inner,expected", CONTAINS)
def test_contains(outer, inner, expected):
    assert ts.contains(P(outer), P(inner)) is expected


# ------------------------------------------------------------------ narrowing ---------

NARROW = [
    # proposed, allowed, answer
    # a road warrior's 0.0.0.0/0 narrowed to what the gateway protects
    (["0.0.0.0/0"], ["10.0.0.0/8", "192.168.0.0/16"], ["10.0.0.0/8", "192.168.0.0/16"]),
    # the initiator's order is kept, not the policy's
    (["192.168.0.0/16", "10.0.0.0/8"], ["10.0.0.0/8", "192.168.0.0/16"],
     ["192.168.0.0/16", "10.0.0.0/8"]),
    # nothing in common: TS_UNACCEPTABLE for the caller
    (["172.16.0.0/12"], ["10.0.0.0/8"], []),
    # duplicates and selectors inside another result are dropped
    (["10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/8"], ["0.0.0.0/0"], ["10.0.0.0/8"]),
    (["10.1.0.0/16[tcp/80]", "10.0.0.0/8"], ["0.0.0.0/0"], ["10.0.0.0/8"]),
    # protocol and port narrowing
    (["0.0.0.0/0"], ["10.0.0.0/8[tcp/443]", "10.0.0.0/8[udp/53]"],
     ["10.0.0.0/8[tcp/443]", "10.0.0.0/8[udp/53]"]),
    # dual stack: each family narrows on its own
    (["0.0.0.0/0", "::/0"], ["10.0.0.0/8", "2001:db8::/32"], ["10.0.0.0/8", "2001:db8::/32"]),
    # RFC 7296 §2.9 example: the first selector is the packet that triggered the SA;
    # a policy allowing the packet's subnet answers with a subset including it
    (["198.51.100.66[udp/100]", "198.51.100.0/24"], ["198.51.100.64/26"],
     ["198.51.100.64/26"]),
    (["198.51.100.66[udp/100]", "198.51.100.0/24"], ["198.51.100.66[udp]"],
     ["198.51.100.66[udp]"]),
    (["198.51.100.66[udp/100]", "198.51.100.0/24"], ["198.51.100.66[udp/100-200]"],
     ["198.51.100.66[udp/100-200]"]),
    # ... and of two policies, the one carrying the packet is chosen (§2.9)
    (["198.51.100.66[udp/100]", "198.51.100.0/24"], ["198.51.100.0/26", "198.51.100.64/26"],
     ["198.51.100.64/26"]),
    # a packet selector no policy carries does not restrict the choice
    (["198.51.100.66[udp/100]", "198.51.100.0/24"], ["198.51.100.0/26"],
     ["198.51.100.0/26"]),
]


@pytest.mark.parametrize("proposed,allowed,expected", NARROW)
def test_narrow(proposed, allowed, expected):
    assert ts.narrow([P(p) for p in proposed], [P(a) for a in allowed]) == [
        P(e) for e in expected]


def test_narrow_refuses_hostile_lists():
    many = [S(f"10.0.0.{i}") for i in range(ts.MAX_SELECTORS + 1)]
    with pytest.raises(TsUnacceptable):
        ts.narrow(many, [P("0.0.0.0/0")])
    assert len(ts.narrow(many[:-1], [P("0.0.0.0/0")])) == ts.MAX_SELECTORS


# Random selectors over a small space so that they overlap often.
ADDRS4 = [ip(f"10.0.0.{i}") for i in range(8)]
ADDRS6 = [ip(f"2001:db8::{i}") for i in range(4)]
PORTS = [(0, 65535), (65535, 0), (80, 80), (0, 100), (50, 443), (443, 443), (1000, 65535)]


@st.composite
def specs(draw):
    addrs = draw(st.sampled_from([ADDRS4, ADDRS4, ADDRS6]))
    a, b = sorted(draw(st.lists(st.sampled_from(addrs), min_size=2, max_size=2)))
    return Spec(a, b, draw(st.sampled_from([0, 0, 6, 17])), *draw(st.sampled_from(PORTS)))


spec_lists = st.lists(specs(), min_size=1, max_size=6)


def matches(spec, addr, proto, port):
    """Whether a packet (port None: not available, RFC 4301 OPAQUE) matches."""
    if addr.version != spec.start.version or not spec.start <= addr <= spec.end:
        return False
    if spec.ip_protocol not in (0, proto):
        return False
    if (spec.start_port, spec.end_port) == (0, 65535):
        return True
    if port is None:
        return ts.is_opaque(spec)
    return not ts.is_opaque(spec) and spec.start_port <= port <= spec.end_port


PACKETS = [(a, proto, port) for a in ADDRS4[:6] + ADDRS6[:2] for proto in (6, 17)
           for port in (None, 0, 80, 99, 443, 1000, 65535)]


@settings(max_examples=300, deadline=None)
@given(spec_lists, spec_lists)
def test_narrowing_is_a_subset_of_both(proposed, allowed):
    result = ts.narrow(proposed, allowed)
    assert ts.is_subset(result, proposed) and ts.is_subset(result, allowed)
    assert len(result) == len(set(result))
    assert ts.narrow(result, allowed) == result  # idempotent
    assert ts.narrow(result, result) == result


@settings(max_examples=300, deadline=None)
@given(spec_lists, spec_lists)
def test_narrowing_loses_no_common_packet(proposed, allowed):
    # Without a packet selector first (§2.9) every packet that both sides allow is
    # still allowed by the answer, and nothing else is.
    while ts.is_packet_selector(proposed):
        proposed = proposed[1:]
    result = ts.narrow(proposed, allowed)
    for packet in PACKETS:
        both = any(matches(p, *packet) for p in proposed) and any(
            matches(a, *packet) for a in allowed)
        assert any(matches(r, *packet) for r in result) == both, packet


@settings(max_examples=300, deadline=None)
@given(specs(), spec_lists, spec_lists)
def test_packet_selector_is_kept_when_policy_allows_it(packet, wider, allowed):
    # RFC 7296 §2.9: if policy allows the first (packet) selector, the answer includes it
    packet = Spec(packet.start, packet.start, packet.ip_protocol, packet.start_port,
                  packet.end_port)
    proposed = [packet, *wider]
    result = ts.narrow(proposed, allowed)
    if ts.is_packet_selector(proposed) and any(ts.contains(a, packet) for a in allowed):
        assert any(ts.contains(r, packet) for r in result)


# ------------------------------------------------------------------ road warriors -----

ANY4, ANY6 = P("0.0.0.0/0"), P("::/0")


def test_road_warrior_gets_its_virtual_ip():
    # Windows and strongSwan clients propose TSi = 0.0.0.0/0 (and ::/0): they learn
    # their address in the same IKE_AUTH (RFC 7296 §3.15)
    ts_i, ts_r = ts.road_warrior_selectors([ANY4, ANY6], [ANY4, ANY6], ip("10.99.0.5"),
                                           [P("10.0.0.0/8"), P("2001:db8::/32")])
    assert ts_i == [S("10.99.0.5")]
    assert ts_r == [P("10.0.0.0/8")]  # ::/0 would have no IPv4 counterpart


def test_road_warrior_dual_stack():
    vips = [ip("10.99.0.5"), ip("fd00:99::5")]
    ts_i, ts_r = ts.road_warrior_selectors([ANY4, ANY6], [ANY4, ANY6], vips, [ANY4, ANY6])
    assert ts_i == [S("10.99.0.5"), S("fd00:99::5")]
    assert ts_r == [ANY4, ANY6]


def test_road_warrior_keeps_its_protocol_and_asked_address():
    assert ts.responder_ts_i([P("10.99.0.5[udp/4500]")], ip("10.99.0.5")) == [
        P("10.99.0.5[udp/4500]")]
    assert ts.responder_ts_i([P("10.99.0.7")], ip("10.99.0.5")) == []
    with pytest.raises(TsUnacceptable):
        ts.road_warrior_selectors([P("10.99.0.7")], [ANY4], ip("10.99.0.5"), [ANY4])


def test_without_virtual_ip_the_remote_policy_applies():
    assert ts.responder_ts_i([ANY4], None, [P("192.0.2.10")]) == [P("192.0.2.10")]
    assert ts.responder_ts_r([ANY4, ANY6], [P("10.0.0.0/8")]) == [P("10.0.0.0/8")]


# ------------------------------------------------------------------ rekeying ----------


def test_rekey_never_widens():
    current = [P("10.0.0.0/16")]
    policy = [P("10.0.0.0/8")]
    assert ts.rekey_narrow(current, current, policy) == current
    assert ts.rekey_narrow([ANY4], current, policy) == current
    # the policy shrank on reload: the rekeyed SA shrinks with it
    assert ts.rekey_narrow(current, current, [P("10.0.1.0/24")]) == [P("10.0.1.0/24")]
    assert ts.rekey_narrow([P("10.5.0.0/16")], current, policy) == []


@settings(max_examples=200, deadline=None)
@given(spec_lists, spec_lists, spec_lists)
def test_rekey_result_within_current_and_policy(proposed, current, allowed):
    result = ts.rekey_narrow(proposed, current, allowed)
    assert ts.is_subset(result, current) and ts.is_subset(result, allowed)
    assert ts.is_subset(result, proposed)


def test_rekey_proposal_swaps_roles():
    local, remote = [P("10.0.0.0/8")], [S("10.99.0.5")]
    assert ts.rekey_proposal(local, remote) == (local, remote)


# ------------------------------------------------------------------ IKEv2 wire --------

V4, V6 = TsType.TS_IPV4_ADDR_RANGE, TsType.TS_IPV6_ADDR_RANGE
FROM_WIRE = [
    (w.TrafficSelector(V4, 0, 0, 65535, bytes(4), b"\xff" * 4), P("0.0.0.0/0")),
    (w.TrafficSelector(V4, 6, 443, 443, bytes([10, 0, 0, 0]), bytes([10, 255, 255, 255])),
     P("10.0.0.0/8[tcp/443]")),
    (w.TrafficSelector(V6, 17, 65535, 0, ip("2001:db8::").packed, ip("2001:db8::ff").packed),
     P("2001:db8::/120[udp/%opaque]")),
    (w.TrafficSelector(V4, 0, 0, 65535, bytes([10, 0, 0, 9]), bytes([10, 0, 0, 1])),
     None),  # inverted address range
    (w.TrafficSelector(V4, 6, 500, 100, bytes(4), b"\xff" * 4), None),  # inverted, not OPAQUE
    (w.RawTrafficSelector(TsType.TS_SECLABEL, b"\x00\x00system_u"), None),  # RFC 9478
    (w.RawTrafficSelector(TsType.TS_FC_ADDR_RANGE, bytes(12)), None),
]


@pytest.mark.parametrize("entry,expected", FROM_WIRE)
def test_from_wire(entry, expected):
    assert ts.from_wire(entry) == expected


def test_from_wire_list_skips_unusable():
    entries = [row[0] for row in FROM_WIRE]
    assert ts.from_wire_list(entries) == [row[1] for row in FROM_WIRE if row[1] is not None]


def test_narrow_skips_unusable_wire_selectors():
    proposed = [ts.from_wire(entry) for entry, _ in FROM_WIRE]
    assert ts.narrow(proposed, [P("10.0.0.0/8"), P("::/0")]) == [
        P("10.0.0.0/8"), P("2001:db8::/120[udp/%opaque]")]


def test_from_wire_bad_address_length():
    with pytest.raises(MalformedMessage):
        ts.from_wire(w.TrafficSelector(V4, 0, 0, 65535, bytes(16), bytes(16)))


def test_ts_payload_bytes():
    # RFC 7296 §3.13.1: TS Type 7, IP Protocol ID 6, Selector Length 16, Start Port 443,
    # End Port 443, Starting Address 10.0.0.0, Ending Address 10.255.255.255
    body = bytes.fromhex("01000000" "07" "06" "0010" "01bb" "01bb" "0a000000" "0affffff")
    (tsi,) = w.decode_payloads(bytes([0, 0, 0, 4 + len(body)]) + body, PayloadType.TSi)
    assert ts.from_wire_list(tsi.selectors) == [P("10.0.0.0/8[tcp/443]")]


@given(st.lists(specs(), max_size=4))
def test_wire_round_trip(selectors):
    payload = w.TsPayload(payload_type=PayloadType.TSr, selectors=ts.to_wire_list(selectors))
    first, chain = w.encode_payloads([payload])
    (decoded,) = w.decode_payloads(chain, first)
    assert ts.from_wire_list(decoded.selectors) == selectors


# ------------------------------------------------------------------ IKEv1 IDs ---------

V1 = V1IdType
FROM_V1 = [
    # RFC 2407 §4.6.2.2-4.6.2.10; port 0 = any port
    ((V1.ID_IPV4_ADDR, 17, 500, bytes([192, 0, 2, 1])), P("192.0.2.1[udp/500]")),
    ((V1.ID_IPV4_ADDR_SUBNET, 0, 0, bytes([10, 1, 0, 0, 255, 255, 0, 0])), P("10.1.0.0/16")),
    ((V1.ID_IPV4_ADDR_SUBNET, 0, 0, bytes([10, 1, 2, 3, 255, 255, 0, 0])), P("10.1.0.0/16")),
    ((V1.ID_IPV4_ADDR_SUBNET, 0, 0, bytes(8)), P("0.0.0.0/0")),
    ((V1.ID_IPV4_ADDR_RANGE, 6, 0, bytes([10, 0, 0, 1, 10, 0, 0, 9])),
     P("10.0.0.1-10.0.0.9[tcp]")),
    ((V1.ID_IPV6_ADDR, 0, 0, ip("2001:db8::1").packed), P("2001:db8::1")),
    ((V1.ID_IPV6_ADDR_SUBNET, 0, 0,
      ip("2001:db8::").packed + ip("ffff:ffff::").packed), P("2001:db8::/32")),
    ((V1.ID_IPV6_ADDR_RANGE, 0, 0, ip("2001:db8::1").packed + ip("2001:db8::9").packed),
     P("2001:db8::1-2001:db8::9")),
]


@pytest.mark.parametrize("fields,expected", FROM_V1)
def test_from_v1_id(fields, expected):
    assert ts.from_v1_id(*fields) == expected


@pytest.mark.parametrize("fields,error", [
    ((V1.ID_IPV4_ADDR, 0, 0, bytes(5)), MalformedMessage),
    ((V1.ID_IPV4_ADDR_SUBNET, 0, 0, bytes(4)), MalformedMessage),
    ((V1.ID_IPV6_ADDR_RANGE, 0, 0, bytes(16)), MalformedMessage),
    ((V1.ID_FQDN, 0, 0, b"vpn.example.org"), TsUnacceptable),
    ((V1.ID_IPV4_ADDR_SUBNET, 0, 0, bytes([10, 0, 0, 0, 255, 0, 255, 0])), TsUnacceptable),
    ((V1.ID_IPV4_ADDR_RANGE, 0, 0, bytes([10, 0, 0, 9, 10, 0, 0, 1])), TsUnacceptable),
])
def test_from_v1_id_rejects(fields, error):
    with pytest.raises(error):
        ts.from_v1_id(*fields)


TO_V1 = [
    ("192.0.2.1[udp/500]", (V1.ID_IPV4_ADDR, 17, 500, bytes([192, 0, 2, 1]))),
    ("10.1.0.0/16", (V1.ID_IPV4_ADDR_SUBNET, 0, 0, bytes([10, 1, 0, 0, 255, 255, 0, 0]))),
    ("0.0.0.0/0[tcp]", (V1.ID_IPV4_ADDR_SUBNET, 6, 0, bytes(8))),
    ("10.0.0.1-10.0.0.9", (V1.ID_IPV4_ADDR_RANGE, 0, 0, bytes([10, 0, 0, 1, 10, 0, 0, 9]))),
    ("2001:db8::/32", (V1.ID_IPV6_ADDR_SUBNET, 0, 0,
                       ip("2001:db8::").packed + ip("ffff:ffff::").packed)),
    ("2001:db8::7", (V1.ID_IPV6_ADDR, 0, 0, ip("2001:db8::7").packed)),
]


@pytest.mark.parametrize("text,fields", TO_V1)
def test_to_v1_id(text, fields):
    assert ts.to_v1_id(P(text)) == fields
    assert ts.from_v1_id(*fields) == P(text)


@pytest.mark.parametrize("text", ["10.0.0.0/8[tcp/1-100]", "10.0.0.0/8[tcp/%opaque]"])
def test_to_v1_id_cannot_express_port_ranges(text):
    with pytest.raises(TsUnacceptable):
        ts.to_v1_id(P(text))


@given(specs())
def test_v1_round_trip(spec):
    expressible = (spec.start_port, spec.end_port) == (0, 65535) or (
        spec.start_port == spec.end_port)  # one port or any: IKEv1 has no ranges
    if expressible:
        assert ts.from_v1_id(*ts.to_v1_id(spec)) == spec
    else:
        with pytest.raises(TsUnacceptable):
            ts.to_v1_id(spec)


# -- the road warrior's whole-space TSi, answered from a remembered narrowing ---------

_V4_ALL = (ipaddress.IPv4Address(0), ipaddress.IPv4Address(2**32 - 1))
_V6_ALL = (ipaddress.IPv6Address(0), ipaddress.IPv6Address(2**128 - 1))
_protocols = st.sampled_from([0, 1, 6, 17, 58])
_ports = st.sampled_from([(0, 65535), (500, 500), (1024, 65535), (65535, 0), (80, 443)])


@st.composite
def _proposed(draw):
    """TSi as a road warrior proposes it: whole address spaces, with protocols and ports,
    now and then a part of the space or the packet selector of RFC 7296 §2.9 first."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        whole = draw(st.sampled_from([_V4_ALL, _V6_ALL]))
        if draw(st.integers(0, 5)) == 0:  # a part of the space
            whole = (whole[0], whole[0] + draw(st.integers(0, 2**20)))
        out.append(Spec(whole[0], whole[1], draw(_protocols), *draw(_ports)))
    if out and draw(st.booleans()):
        out.insert(0, ts.host_spec(draw(st.sampled_from(
            ["198.51.100.7", "203.0.113.9", "2001:db8::9"]))))
    return out


@given(_proposed(), st.sampled_from(["198.18.0.1", "198.18.255.254", "10.0.0.1",
                                     "2001:db8:1::5", "fd00::1"]))
@settings(max_examples=400, deadline=None)
def test_road_warrior_tsi_shortcut_answers_as_narrowing_does(proposed, vip):
    vip = ipaddress.ip_address(vip)
    expected = ts.narrow(proposed, [ts.host_spec(vip)])
    assert ts.responder_ts_i(proposed, vip) == expected
    assert ts.responder_ts_i(proposed, vip) == expected  # remembered, same answer


def test_road_warrior_tsi_shortcut_keeps_the_limit():
    many = [Spec(*_V4_ALL, p, 0, 65535) for p in range(ts.MAX_SELECTORS + 1)]
    with pytest.raises(TsUnacceptable):
        ts.responder_ts_i(many, ipaddress.IPv4Address("198.18.0.1"))


@given(_protocols, _ports, st.sampled_from(["198.18.0.1", "2001:db8:1::5"]),
       st.sampled_from(["198.18.0.1", "198.18.0.2", "2001:db8:1::5"]))
def test_road_warrior_tsi_of_a_client_that_knows_its_address(protocol, ports, asked, vip):
    proposed = [Spec(ipaddress.ip_address(asked), ipaddress.ip_address(asked), protocol, *ports)]
    vip = ipaddress.ip_address(vip)
    assert ts.responder_ts_i(proposed, vip) == ts.narrow(proposed, [ts.host_spec(vip)])
