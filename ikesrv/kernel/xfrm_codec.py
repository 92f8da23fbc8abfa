"""XFRM message bodies for a CHILD SA, and the lean reading of what the kernel sends.

Owns: turning an ``actions.ChildSaSpec`` into the bodies of XFRM_MSG_ALLOCSPI,
NEWSA/UPDSA (algorithms, UDP encapsulation, replay window, lifetimes, ikesrv's mark),
NEWPOLICY/DELPOLICY (selectors from the traffic selectors, one ESP template, priority)
and DELSA/GETSA; the per-socket bypass policy; and decoding dump entries, EXPIRE and
ACQUIRE messages into small tuples. Bodies are packed through ``netlink.Layout`` from
the pyroute2 classes of ``xfrm_msg`` (the tests check both give the same bytes).

RFC 4303 (ESP, replay window, ESN), RFC 3948 (UDP encapsulation), RFC 4106 / RFC 7634
(AEAD keys carry the salt), RFC 4868 §2.3 (HMAC-SHA-256/384/512 truncated to 128/192/256
bits), RFC 7296 §2.9 (traffic selectors).

No I/O here. Must not import asyncio or the core.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import NamedTuple

from ..actions import ChildSaSpec, SaKeys, TrafficSelectorSpec
from ..crypto.transforms import ENCR, INTEG, XFRM_TRUNC_BITS
from . import xfrm_msg as m
from .netlink import Layout, attr, walk_attrs

SA = Layout(m.xfrm_usersa_info.fields)
SPI_INFO = Layout(m.xfrm_userspi_info.fields)
SA_ID = Layout(m.xfrm_usersa_id.fields)
POLICY = Layout(m.xfrm_userpolicy_info.fields)
POLICY_ID = Layout(m.xfrm_userpolicy_id.fields)
EXPIRE = Layout(m.xfrm_user_expire.fields)
ACQUIRE = Layout(m.xfrm_user_acquire.fields)
ALGO = Layout(m.xfrm_attrs.xfrm_algo.fields[:-1])
ALGO_AUTH = Layout(m.xfrm_attrs.xfrm_algo_auth.fields[:-1])
ALGO_AEAD = Layout(m.xfrm_attrs.xfrm_algo_aead.fields[:-1])
ENCAP = Layout(m.xfrm_attrs.xfrm_encap_tmpl.fields)
TMPL = Layout(m.xfrm_attrs.xfrm_user_tmpl.fields)
MARK = Layout(m.xfrm_attrs.xfrm_mark.fields)
REPLAY_ESN = Layout(m.xfrm_attrs.xfrm_replay_state_esn.fields[:-1])

INF = m.XFRM_INF
NO_ADDR = bytes(16)
LEGACY_REPLAY_MAX = 32  # the kernel's legacy replay bitmap is one __u32
PRIORITY_BASE = 100_000  # policies: lower wins; more specific selectors get lower values

# positions of the values the lean decoders read (Layout order, pads skipped)
_SA_DADDR, _SA_SPI, _SA_PROTO = SA.index("id_daddr"), SA.index("id_spi"), SA.index("id_proto")
_SA_SADDR, _SA_FAMILY, _SA_REQID = SA.index("saddr"), SA.index("family"), SA.index("reqid")
_SA_BYTES, _SA_PACKETS = SA.index("curlft_bytes"), SA.index("curlft_packets")
_P_INDEX, _P_DIR, _P_PRIORITY = POLICY.index("index"), POLICY.index("dir"), POLICY.index("priority")
_T_REQID = TMPL.index("reqid")
_E_HARD = EXPIRE.index("hard")


class Mark(NamedTuple):
    """struct xfrm_mark: a packet matches when (packet mark & m) == v."""

    v: int
    m: int

    def attr(self) -> bytes:
        return attr(m.XFRMA_MARK, MARK.pack(self))

    def __str__(self) -> str:  # as iproute2 prints it
        return f"mark {self.v:#x}/{self.m:#x}".replace("mark 0x0/", "mark 0/")


class StateEntry(NamedTuple):
    """One SA as a dump, an EXPIRE or an ALLOCSPI answer shows it."""

    daddr: bytes  # 16 octets
    spi: int
    proto: int
    saddr: bytes
    family: int
    reqid: int
    bytes: int
    packets: int
    mark: Mark | None


class PolicyEntry(NamedTuple):
    """One policy as a dump shows it; ``selector`` is the packed xfrm_selector."""

    selector: bytes
    index: int
    dir: int
    priority: int
    reqid: int  # of the first template; 0 without one
    mark: Mark | None


# ------------------------------------------------------------------ addresses ---------


def family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def packed(host: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """xfrm_address_t: the address in network order, zero-padded to 16 octets."""
    if isinstance(host, str):  # inet_pton: ipaddress's parser costs ~10 µs per address
        if ":" in host:
            return socket.inet_pton(socket.AF_INET6, host)
        return socket.inet_pton(socket.AF_INET, host) + bytes(12)
    raw = host.packed
    return raw + bytes(16 - len(raw))


# ------------------------------------------------------------------ selectors ---------


def aligned_blocks(start: int, end: int, bits: int) -> list[tuple[int, int]]:
    """An inclusive range of ``bits``-bit values as the fewest aligned blocks, each
    (first value, prefix length): CIDR networks for addresses, masked ports for ports."""
    out = []
    while start <= end:
        size = start & -start if start else 1 << bits
        while start + size - 1 > end:
            size >>= 1
        out.append((start, bits - (size.bit_length() - 1)))
        start += size
    return out


def port_blocks(start: int, end: int) -> list[tuple[int, int]]:
    """An inclusive port range as (port, mask) pairs that XFRM selectors can match
    ((port & mask) == value): any port is (0, 0), one port (p, 0xffff)."""
    return [(port, (0xFFFF << (16 - plen)) & 0xFFFF)
            for port, plen in aligned_blocks(start, end, 16)]


def address_blocks(ts: TrafficSelectorSpec) -> list[tuple[int, bytes, int]]:
    """A traffic selector's address range as (family, xfrm_address_t, prefix length)."""
    v6 = ts.start.version == 6
    bits = 128 if v6 else 32
    family = socket.AF_INET6 if v6 else socket.AF_INET
    return [(family, value.to_bytes(bits // 8, "big") + bytes(16 - bits // 8), plen)
            for value, plen in aligned_blocks(int(ts.start), int(ts.end), bits)]


def selector(src: ipaddress._BaseNetwork, dst: ipaddress._BaseNetwork, proto: int,
             sport: tuple[int, int] = (0, 0), dport: tuple[int, int] = (0, 0)) -> tuple:
    """struct xfrm_selector values in Layout order (pads skipped), from two networks."""
    family = socket.AF_INET6 if dst.version == 6 else socket.AF_INET
    return (packed(dst.network_address), packed(src.network_address), dport[0], dport[1],
            sport[0], sport[1], family, dst.prefixlen, src.prefixlen, proto, 0, 0)


ANY_SELECTOR = (NO_ADDR, NO_ADDR, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def policy_selectors(local: tuple[TrafficSelectorSpec, ...],
                     remote: tuple[TrafficSelectorSpec, ...]) -> list[tuple[tuple, tuple]]:
    """(outbound selector, inbound selector) for every pair of local and remote
    traffic selectors that the kernel can carry (same family, compatible protocol)."""
    out = []
    for lts in local:
        for rts in remote:
            if lts.ip_protocol and rts.ip_protocol and lts.ip_protocol != rts.ip_protocol:
                continue  # no packet can match both (RFC 7296 §2.9)
            proto = lts.ip_protocol or rts.ip_protocol
            lports = port_blocks(lts.start_port, lts.end_port)
            rports = port_blocks(rts.start_port, rts.end_port)
            for family, laddr, lplen in address_blocks(lts):
                for rfamily, raddr, rplen in address_blocks(rts):
                    if family != rfamily:
                        continue
                    for lp, lmask in lports:
                        for rp, rmask in rports:
                            out.append(((raddr, laddr, rp, rmask, lp, lmask, family, rplen,
                                         lplen, proto, 0, 0),
                                        (laddr, raddr, lp, lmask, rp, rmask, family, lplen,
                                         rplen, proto, 0, 0)))
    return out


def priority(sel: tuple) -> int:
    """Lower is preferred by the kernel: longer prefixes, then a protocol, then ports."""
    dport_mask, sport_mask, plen_d, plen_s, proto = sel[3], sel[5], sel[7], sel[8], sel[9]
    specificity = (plen_d + plen_s) * 4 + (2 if (dport_mask or sport_mask) else 0) \
        + (1 if proto else 0)
    return PRIORITY_BASE + (256 * 4 + 3) - specificity


# ------------------------------------------------------------------ SAs ---------------


def algorithm_attrs(keys: SaKeys) -> bytes:
    """XFRMA_ALG_AEAD, or XFRMA_ALG_CRYPT + XFRMA_ALG_AUTH_TRUNC, for one direction.

    AEAD keys include their salt (RFC 4106 §8.1, RFC 7634 §2), so alg_key_len counts it;
    HMAC-SHA2 is truncated per RFC 4868 §2.3 (the transform table's ICV length)."""
    encr = ENCR[keys.encr_id]
    if not encr.esp or encr.xfrm is None:
        raise ValueError(f"{encr.name} is not an ESP algorithm the kernel has")
    name = encr.xfrm.encode()
    if encr.aead:
        return attr(m.XFRMA_ALG_AEAD, ALGO_AEAD.pack(
            (name, len(keys.encr_key) * 8, encr.icv_size * 8)) + keys.encr_key)
    out = attr(m.XFRMA_ALG_CRYPT, ALGO.pack((name, len(keys.encr_key) * 8)) + keys.encr_key)
    if keys.integ_id:
        integ = INTEG[keys.integ_id]
        out += attr(m.XFRMA_ALG_AUTH_TRUNC, ALGO_AUTH.pack(
            (integ.xfrm.encode(), len(keys.integ_key) * 8, XFRM_TRUNC_BITS[keys.integ_id]))
            + keys.integ_key)
    return out


def describe_algorithms(keys: SaKeys) -> str:
    encr = ENCR[keys.encr_id]
    if encr.aead or not keys.integ_id:
        return f"{encr.xfrm}"
    return f"{encr.xfrm}+{INTEG[keys.integ_id].xfrm}"


def lifetime_cfg(spec: ChildSaSpec) -> tuple:
    """struct xfrm_lifetime_cfg: bytes (0 = none -> XFRM_INF), packets (none), seconds
    since the SA was added (the core already jittered the soft one), no use-time limit."""
    def seconds(s: float) -> int:
        return max(1, round(s)) if s > 0 else 0
    return (spec.lifetime_soft_bytes or INF, spec.lifetime_hard_bytes or INF, INF, INF,
            seconds(spec.lifetime_soft), seconds(spec.lifetime_hard), 0, 0)


def sa_body(spec: ChildSaSpec, inbound: bool, mark: Mark) -> bytes:
    """XFRM_MSG_NEWSA / UPDSA body for one direction of a CHILD SA."""
    local, remote = spec.local, spec.remote
    src, dst = (remote, local) if inbound else (local, remote)
    keys = spec.keys_in if inbound else spec.keys_out
    spi = spec.spi_in if inbound else spec.spi_out
    family = family_of(local[0])
    mode = m.XFRM_MODE_TUNNEL if spec.mode == "tunnel" else m.XFRM_MODE_TRANSPORT
    sel = ANY_SELECTOR
    if mode == m.XFRM_MODE_TRANSPORT:
        # transport mode: the SA carries the hosts' own traffic, and the kernel checks
        # inbound packets against the SA's selector
        host_bits = 128 if family == socket.AF_INET6 else 32
        sel = (packed(dst[0]), packed(src[0]), 0, 0, 0, 0, family, host_bits, host_bits, 0,
               0, 0)
    window = spec.replay_window
    flags = 0
    attrs = algorithm_attrs(keys)
    if spec.esn or window > LEGACY_REPLAY_MAX:
        # RFC 4303 §2.2.1 / §3.4.3: ESN and windows over 32 need the ESN replay state;
        # the legacy replay_window field must then be 0
        if spec.esn:
            flags |= m.XFRM_STATE_ESN
        words = max(1, (window + 31) // 32)
        attrs += attr(m.XFRMA_REPLAY_ESN_VAL,
                      REPLAY_ESN.pack((words, 0, 0, 0, 0, window)) + bytes(4 * words))
        window = 0
    if spec.encap:
        # RFC 3948: ESP in UDP between the IKE ports (4500 on our side)
        sport, dport = (remote[1], local[1]) if inbound else (local[1], remote[1])
        attrs += attr(m.XFRMA_ENCAP, ENCAP.pack((m.UDP_ENCAP_ESPINUDP, sport, dport, NO_ADDR)))
    attrs += mark.attr()
    values = (*sel, packed(dst[0]), spi, m.IPPROTO_ESP, packed(src[0]), *lifetime_cfg(spec),
              0, 0, 0, 0,  # curlft
              0, 0, 0,  # stats
              0, spec.reqid, family, mode, window, flags)
    return SA.pack(values) + attrs


def allocspi_body(spec: ChildSaSpec, mark: Mark) -> bytes:
    """XFRM_MSG_ALLOCSPI for our inbound SPI: min = max = the SPI the core chose (its top
    byte is the worker index, DESIGN §4), so the kernel reserves exactly that value in
    a larval SA that UPDSA later completes."""
    family = family_of(spec.local[0])
    mode = m.XFRM_MODE_TUNNEL if spec.mode == "tunnel" else m.XFRM_MODE_TRANSPORT
    values = (*ANY_SELECTOR, packed(spec.local[0]), 0, m.IPPROTO_ESP, packed(spec.remote[0]),
              INF, INF, INF, INF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
              0, spec.reqid, family, mode, 0, 0, spec.spi_in, spec.spi_in)
    return SPI_INFO.pack(values) + mark.attr()


def sa_id_body(daddr: bytes, spi: int, family: int, mark: Mark | None) -> bytes:
    """XFRM_MSG_DELSA / GETSA body."""
    body = SA_ID.pack((daddr, spi, family, m.IPPROTO_ESP))
    return body + mark.attr() if mark is not None else body


def sa_ids(spec: ChildSaSpec) -> list[tuple[str, bytes, int, int]]:
    """("in"|"out", daddr, spi, family) of a CHILD SA's two states."""
    family = family_of(spec.local[0])
    return [("in", packed(spec.local[0]), spec.spi_in, family),
            ("out", packed(spec.remote[0]), spec.spi_out, family)]


# ------------------------------------------------------------------ policies ----------


def template(spec: ChildSaSpec, inbound: bool) -> bytes:
    """XFRMA_TMPL with one xfrm_user_tmpl: ESP for this reqid, any algorithm."""
    family = family_of(spec.local[0])
    src, dst = (spec.remote, spec.local) if inbound else (spec.local, spec.remote)
    mode = m.XFRM_MODE_TUNNEL if spec.mode == "tunnel" else m.XFRM_MODE_TRANSPORT
    values = (packed(dst[0]), 0, m.IPPROTO_ESP, family, packed(src[0]), spec.reqid, mode,
              m.XFRM_SHARE_ANY, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    return attr(m.XFRMA_TMPL, TMPL.pack(values))


NO_LIMITS = (INF, INF, INF, INF, 0, 0, 0, 0)


def policy_body(sel: tuple, direction: int, tmpl: bytes, mark: Mark) -> bytes:
    """XFRM_MSG_NEWPOLICY body."""
    values = (*sel, *NO_LIMITS, 0, 0, 0, 0, priority(sel), 0, direction,
              m.XFRM_POLICY_ALLOW, 0, m.XFRM_SHARE_ANY)
    return POLICY.pack(values) + tmpl + mark.attr()


def policy_id_body(sel: tuple, direction: int, mark: Mark | None, index: int = 0) -> bytes:
    """XFRM_MSG_DELPOLICY body: by index when given, else by selector and direction."""
    body = POLICY_ID.pack((*sel, index, direction))
    return body + mark.attr() if mark is not None else body


def policies(spec: ChildSaSpec) -> list[tuple[str, tuple, int, bool]]:
    """(label, selector, direction, inbound) of every policy of a CHILD SA: for each
    selector pair, out (local -> remote) and in + fwd (remote -> local)."""
    out = []
    for sel_out, sel_in in policy_selectors(spec.ts_local, spec.ts_remote):
        out.append(("out", sel_out, m.XFRM_POLICY_OUT, False))
        out.append(("in", sel_in, m.XFRM_POLICY_IN, True))
        out.append(("fwd", sel_in, m.XFRM_POLICY_FWD, True))
    return out


def bypass_policy(direction: int, family: int) -> bytes:
    """The option value of IP_XFRM_POLICY / IPV6_XFRM_POLICY that lets a socket's own
    traffic (IKE) pass outside every IPsec policy: an empty selector of the socket's
    family (the kernel refuses one without a family), action allow, no template."""
    sel = (NO_ADDR, NO_ADDR, 0, 0, 0, 0, family, 0, 0, 0, 0, 0)
    return POLICY.pack((*sel, *NO_LIMITS, 0, 0, 0, 0, 0, 0, direction,
                        m.XFRM_POLICY_ALLOW, 0, m.XFRM_SHARE_ANY))


def selector_text(sel: tuple) -> str:
    family = socket.AF_INET6 if sel[6] == socket.AF_INET6 else socket.AF_INET
    n = 16 if family == socket.AF_INET6 else 4
    src = socket.inet_ntop(family, sel[1][:n])
    dst = socket.inet_ntop(family, sel[0][:n])
    text = f"{src}/{sel[8]} -> {dst}/{sel[7]}"
    if sel[9]:
        text += f" proto {sel[9]}"
    if sel[3] or sel[5]:
        text += f" ports {sel[4]}/{sel[5]:#x} -> {sel[2]}/{sel[3]:#x}"
    return text


# ------------------------------------------------------------------ decoding ----------


def _mark(buf, start: int, end: int) -> Mark | None:
    for t, a, _b in walk_attrs(buf, start, end):
        if t == m.XFRMA_MARK:
            return Mark(*MARK.unpack_from(buf, a))
    return None


def decode_state(buf, start: int, end: int) -> StateEntry:
    """An xfrm_usersa_info body (NEWSA dump entry, ALLOCSPI answer)."""
    v = SA.unpack_from(buf, start)
    return StateEntry(v[_SA_DADDR], v[_SA_SPI], v[_SA_PROTO], v[_SA_SADDR], v[_SA_FAMILY],
                      v[_SA_REQID], v[_SA_BYTES], v[_SA_PACKETS],
                      _mark(buf, start + SA.size, end))


def decode_policy(buf, start: int, end: int) -> PolicyEntry:
    """An xfrm_userpolicy_info body (NEWPOLICY dump entry)."""
    v = POLICY.unpack_from(buf, start)
    reqid = 0
    mark = None
    for t, a, _b in walk_attrs(buf, start + POLICY.size, end):
        if t == m.XFRMA_TMPL and reqid == 0:
            reqid = TMPL.unpack_from(buf, a)[_T_REQID]
        elif t == m.XFRMA_MARK:
            mark = Mark(*MARK.unpack_from(buf, a))
    return PolicyEntry(bytes(buf[start:start + 56]), v[_P_INDEX], v[_P_DIR], v[_P_PRIORITY],
                       reqid, mark)


def decode_expire(buf, start: int, end: int) -> tuple[StateEntry, bool]:
    """XFRM_MSG_EXPIRE: the SA (counters included) and whether the limit was hard."""
    hard = EXPIRE.unpack_from(buf, start)[_E_HARD]
    v = SA.unpack_from(buf, start)
    state = StateEntry(v[_SA_DADDR], v[_SA_SPI], v[_SA_PROTO], v[_SA_SADDR], v[_SA_FAMILY],
                       v[_SA_REQID], v[_SA_BYTES], v[_SA_PACKETS],
                       _mark(buf, start + EXPIRE.size, end))
    return state, bool(hard)


def decode_acquire(buf, start: int, end: int) -> tuple[int, Mark | None]:
    """XFRM_MSG_ACQUIRE: the reqid of the policy's template, and the policy's mark."""
    reqid = 0
    mark = None
    for t, a, _b in walk_attrs(buf, start + ACQUIRE.size, end):
        if t == m.XFRMA_TMPL and reqid == 0:
            reqid = TMPL.unpack_from(buf, a)[_T_REQID]
        elif t == m.XFRMA_MARK:
            mark = Mark(*MARK.unpack_from(buf, a))
    return reqid, mark
