"""Capture reader for ``ikesrv decode``: IKE datagrams out of pcap and pcapng files.

Owns: the classic pcap format (both byte orders, microsecond and nanosecond timestamps)
and pcapng (Section Header, Interface Description, Enhanced/Simple/obsolete Packet
blocks, each interface with its own link type and timestamp resolution); the link layers
an operator's capture is likely to have (Ethernet with 802.1Q/802.1ad tags, Linux
"cooked" SLL and SLL2, raw IP, BSD loopback/null); IPv4 and IPv6 (extension headers
skipped), UDP, and reassembly of IP fragments, because an IKE_AUTH carrying certificates
is often fragmented at the IP layer when the peer does not speak RFC 7383.

On the NAT-T port the non-ESP marker is stripped and keepalives and ESP are skipped
(RFC 3948 §2.2, §2.3), through ikesrv.wire.natt. Everything is bounds-checked: a damaged
capture raises ``CaptureError`` (reason and file offset), never IndexError/struct.error;
a damaged or snaplen-truncated packet is reported in ``problems`` and skipped.

Imports ikesrv.wire.natt only; nothing here opens sockets or parses IKE itself.
File formats: https://www.tcpdump.org/manpages/pcap-savefile.5.html, the pcapng draft
(draft-ietf-opsawg-pcapng), link types from https://www.tcpdump.org/linktypes.html.
"""

from __future__ import annotations

import io
import ipaddress
import struct
from collections import OrderedDict
from typing import BinaryIO, Iterator, NamedTuple

__all__ = ["CaptureError", "IkeDatagram", "is_capture", "read_ike"]

IKE_PORT = 500
NATT_PORT = 4500

# Classic pcap magic numbers as read big-endian from the file's first four bytes.
_PCAP_MAGIC = {
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

# pcapng block types
_BT_IDB = 0x00000001
_BT_OPB = 0x00000002  # obsolete Packet Block
_BT_SPB = 0x00000003
_BT_EPB = 0x00000006
_BT_SHB = 0x0A0D0D0A

# Link types (LINKTYPE_* values as written in files)
_LT_NULL = 0
_LT_ETHERNET = 1
_LT_RAW_ALIASES = (12, 14, 101)  # DLT_RAW has had several values on old platforms
_LT_LOOP = 108
_LT_LINUX_SLL = 113
_LT_IPV4 = 228
_LT_IPV6 = 229
_LT_LINUX_SLL2 = 276

# BSD loopback address families: AF_INET is 2 everywhere; AF_INET6 differs per OS
# (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30).
_AF_INET6 = {10, 24, 28, 30}

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_ETH_VLAN = {0x8100, 0x88A8, 0x9100}

_IPPROTO_UDP = 17
_IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_IPV6_AH = 51

# A record larger than this is not a packet but a damaged length field.
_MAX_RECORD = 64 * 1024 * 1024
# Bound the memory spent on datagrams whose fragments never complete.
_MAX_PENDING_REASSEMBLIES = 1024


class CaptureError(ValueError):
    """The capture file itself is damaged or not a capture; ``offset`` is a file offset."""

    def __init__(self, reason: str, offset: int):
        super().__init__(f"{reason} (at byte {offset})")
        self.reason = reason
        self.offset = offset


class IkeDatagram(NamedTuple):
    """One IKE message found in a capture (NAT-T marker already stripped)."""

    timestamp: float
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    sport: int
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    dport: int
    data: bytes


def is_capture(head: bytes) -> bool:
    """True when ``head`` (the file's first bytes) starts like a pcap or pcapng file."""
    return head[:4] in _PCAP_MAGIC or head[:4] == _PCAPNG_SHB


def read_ike(
    source: bytes | BinaryIO,
    *,
    ike_ports: tuple[int, ...] = (IKE_PORT,),
    natt_ports: tuple[int, ...] = (NATT_PORT,),
    problems: list[str] | None = None,
) -> Iterator[IkeDatagram]:
    """Yield the IKE datagrams of a pcap or pcapng capture, in capture order.

    A UDP datagram is IKE when either port is in ``ike_ports`` (plain IKE) or
    ``natt_ports`` (non-ESP marker, RFC 3948). Packets that cannot be used (truncated by
    the snaplen, damaged headers, fragments that never complete) are described in
    ``problems``, if given, one line each. Raises CaptureError for a damaged file.
    """
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    sink = problems if problems is not None else []
    extractor = _Extractor(tuple(ike_ports), tuple(natt_ports), sink)
    for frame, timestamp, linktype, packet in _frames(stream):
        yield from extractor.frame(frame, timestamp, linktype, packet)
    extractor.finish()


# --- file formats -------------------------------------------------------------------


class _Reader:
    """Reads exact byte counts from a stream (buffered) and knows the current file offset."""

    _CHUNK = 1 << 20

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.buffer = b""
        self.pos = 0
        self.offset = 0

    def _fill(self, n: int) -> bool:
        while len(self.buffer) - self.pos < n:
            chunk = self.stream.read(max(n, self._CHUNK))
            if not chunk:
                return False
            self.buffer = self.buffer[self.pos :] + chunk
            self.pos = 0
        return True

    def read(self, n: int, what: str) -> bytes:
        if not self._fill(n):
            have = len(self.buffer) - self.pos
            raise CaptureError(f"file ends inside {what} ({have} of {n} bytes)", self.offset)
        data = self.buffer[self.pos : self.pos + n]
        self.pos += n
        self.offset += n
        return data

    def at_end(self) -> bool:
        return not self._fill(1)


def _frames(stream: BinaryIO) -> Iterator[tuple[int, float, int, bytes]]:
    """Yield (frame number, timestamp, link type, captured bytes) for every packet."""
    reader = _Reader(stream)
    magic = reader.read(4, "the file header")
    if magic in _PCAP_MAGIC:
        yield from _pcap_frames(reader, magic)
    elif magic == _PCAPNG_SHB:
        yield from _pcapng_frames(reader, magic)
    else:
        raise CaptureError(f"not a pcap or pcapng file (magic {magic.hex()})", 0)


def _pcap_frames(reader: _Reader, magic: bytes) -> Iterator[tuple[int, float, int, bytes]]:
    order, resolution = _PCAP_MAGIC[magic]
    header = reader.read(20, "the pcap file header")
    major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack(order + "HHiIII", header)
    if major != 2:
        raise CaptureError(f"unsupported pcap version {major}", 4)
    # The low 16 bits are the link type; the high bits may carry the FCS length.
    linktype = network & 0xFFFF
    frame = 0
    while not reader.at_end():
        start = reader.offset
        record = reader.read(16, "a packet record header")
        ts_sec, ts_frac, incl_len, _orig_len = struct.unpack(order + "IIII", record)
        if incl_len > _MAX_RECORD:
            raise CaptureError(f"packet record length {incl_len} is not plausible", start)
        packet = reader.read(incl_len, f"packet record {frame + 1}")
        frame += 1
        yield frame, ts_sec + ts_frac * resolution, linktype, packet


class _Interface(NamedTuple):
    linktype: int
    resolution: float  # seconds per timestamp unit
    offset: float  # if_tsoffset, seconds


def _pcapng_frames(reader: _Reader, magic: bytes) -> Iterator[tuple[int, float, int, bytes]]:
    order = "<"
    interfaces: list[_Interface] = []
    frame = 0
    block_type_bytes = magic
    while True:
        start = reader.offset - 4
        length_bytes = reader.read(4, "a block header")
        if block_type_bytes == _PCAPNG_SHB:
            # The byte-order magic decides the endianness of this section.
            bom = reader.read(4, "the section header")
            if bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            elif bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            else:
                raise CaptureError(f"bad pcapng byte-order magic {bom.hex()}", start + 8)
            (total,) = struct.unpack(order + "I", length_bytes)
            _check_block_length(total, 28, start)
            body = bom + reader.read(total - 16, "the section header block")
            interfaces = []  # interface ids are per section
        else:
            (block_type,) = struct.unpack(order + "I", block_type_bytes)
            (total,) = struct.unpack(order + "I", length_bytes)
            _check_block_length(total, 12, start)
            body = reader.read(total - 12, f"block of type {block_type:#x}")
        (trailer,) = struct.unpack(order + "I", reader.read(4, "a block trailer"))
        if trailer != total:
            raise CaptureError(
                f"block length {total} does not match its trailing copy {trailer}", start
            )
        if block_type_bytes != _PCAPNG_SHB:
            if block_type == _BT_IDB:
                interfaces.append(_parse_idb(body, order, start))
            elif block_type in (_BT_EPB, _BT_OPB, _BT_SPB):
                frame += 1
                yield _parse_packet_block(block_type, body, order, interfaces, frame, start)
            # Other blocks (name resolution, statistics, custom...) carry no packets.
        if reader.at_end():
            return
        block_type_bytes = reader.read(4, "a block header")


def _check_block_length(total: int, minimum: int, start: int) -> None:
    if total < minimum or total % 4 or total > _MAX_RECORD:
        raise CaptureError(f"implausible pcapng block length {total}", start + 4)


def _parse_idb(body: bytes, order: str, start: int) -> _Interface:
    if len(body) < 8:
        raise CaptureError("interface description block too short", start)
    (linktype,) = struct.unpack_from(order + "H", body, 0)
    resolution = 1e-6
    offset = 0.0
    for code, value in _options(body, 8, order, start):
        if code == 9 and len(value) >= 1:  # if_tsresol
            exponent = value[0] & 0x7F
            resolution = 2.0**-exponent if value[0] & 0x80 else 10.0**-exponent
        elif code == 14 and len(value) >= 8:  # if_tsoffset
            (offset,) = struct.unpack_from(order + "q", value, 0)
    return _Interface(linktype, resolution, float(offset))


def _options(body: bytes, pos: int, order: str, start: int) -> Iterator[tuple[int, bytes]]:
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == 0:  # opt_endofopt
            return
        end = pos + 4 + length
        if end > len(body):
            raise CaptureError(f"option {code} runs past its block", start + 8 + pos)
        yield code, body[pos + 4 : end]
        pos = end + (-length % 4)


def _parse_packet_block(
    block_type: int, body: bytes, order: str, interfaces: list[_Interface], frame: int, start: int
) -> tuple[int, float, int, bytes]:
    if block_type == _BT_SPB:
        if len(body) < 4:
            raise CaptureError("simple packet block too short", start)
        if not interfaces:
            raise CaptureError("simple packet block before any interface description", start)
        (orig_len,) = struct.unpack_from(order + "I", body, 0)
        # The captured length is implied: the smaller of the original length and the body.
        data = body[4 : 4 + min(orig_len, len(body) - 4)]
        # Simple packet blocks carry no timestamp.
        return frame, 0.0, interfaces[0].linktype, data
    if block_type == _BT_EPB:
        if len(body) < 20:
            raise CaptureError("enhanced packet block too short", start)
        if_id, ts_high, ts_low, cap_len, _orig_len = struct.unpack_from(order + "IIIII", body, 0)
        data_start = 20
    else:  # obsolete Packet Block: 16-bit interface id and drops count
        if len(body) < 20:
            raise CaptureError("packet block too short", start)
        if_id, _drops, ts_high, ts_low, cap_len, _orig_len = struct.unpack_from(
            order + "HHIIII", body, 0
        )
        data_start = 20
    if if_id >= len(interfaces):
        raise CaptureError(f"packet names interface {if_id}, which was never described", start)
    if data_start + cap_len > len(body):
        raise CaptureError(f"captured length {cap_len} runs past its block", start)
    interface = interfaces[if_id]
    timestamp = ((ts_high << 32) | ts_low) * interface.resolution + interface.offset
    data = body[data_start : data_start + cap_len]
    return frame, timestamp, interface.linktype, data


# --- link, network and transport layers ----------------------------------------------


class _Fragments:
    """Pieces of one fragmented IP datagram (RFC 791 §3.2, RFC 8200 §4.5)."""

    __slots__ = ("pieces", "total", "protocol", "first_frame")

    def __init__(self, first_frame: int):
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None
        self.protocol: int | None = None
        self.first_frame = first_frame

    def add(self, offset: int, data: bytes, more: bool, protocol: int | None) -> bytes | None:
        self.pieces.setdefault(offset, data)
        if not more:
            self.total = offset + len(data)
        if protocol is not None:
            self.protocol = protocol
        if self.total is None:
            return None
        buffer = bytearray(self.total)
        covered = 0
        for start in sorted(self.pieces):
            if start > covered:
                return None  # a hole remains
            piece = self.pieces[start]
            end = min(start + len(piece), self.total)
            if end > covered:
                buffer[covered:end] = piece[covered - start : end - start]
                covered = end
        return bytes(buffer) if covered >= self.total else None

    def have(self) -> int:
        return sum(len(p) for p in self.pieces.values())


class _Extractor:
    def __init__(
        self, ike_ports: tuple[int, ...], natt_ports: tuple[int, ...], problems: list[str]
    ):
        self.ike_ports = ike_ports
        self.natt_ports = natt_ports
        self.problems = problems
        self.pending: OrderedDict[tuple, _Fragments] = OrderedDict()
        self.unsupported: set[int] = set()  # link types already reported

    def problem(self, frame: int, text: str) -> None:
        self.problems.append(f"frame {frame}: {text}")

    def frame(self, frame: int, ts: float, linktype: int, packet: bytes) -> Iterator[IkeDatagram]:
        ip = self.link_payload(frame, linktype, packet)
        if ip is None:
            return
        version = ip[0] >> 4 if ip else 0
        if version == 4:
            yield from self.ipv4(frame, ts, ip)
        elif version == 6:
            yield from self.ipv6(frame, ts, ip)

    def link_payload(self, frame: int, linktype: int, p: bytes) -> bytes | None:
        """The IP packet inside a link-layer frame, or None when it carries none."""
        if linktype in _LT_RAW_ALIASES or linktype in (_LT_IPV4, _LT_IPV6):
            return p
        if linktype == _LT_ETHERNET:
            pos = 12
            while True:
                if len(p) < pos + 2:
                    return None
                ethertype = int.from_bytes(p[pos : pos + 2], "big")
                if ethertype in _ETH_VLAN:
                    pos += 4
                    continue
                break
            return p[pos + 2 :] if ethertype in (_ETH_IPV4, _ETH_IPV6) else None
        if linktype == _LT_LINUX_SLL:
            if len(p) < 16:
                return None
            ethertype = int.from_bytes(p[14:16], "big")
            return p[16:] if ethertype in (_ETH_IPV4, _ETH_IPV6) else None
        if linktype == _LT_LINUX_SLL2:
            if len(p) < 20:
                return None
            ethertype = int.from_bytes(p[0:2], "big")
            return p[20:] if ethertype in (_ETH_IPV4, _ETH_IPV6) else None
        if linktype in (_LT_NULL, _LT_LOOP):
            if len(p) < 4:
                return None
            # DLT_NULL stores the family in the capturing host's byte order, LOOP in
            # network order: accept either reading.
            families = {int.from_bytes(p[:4], "big"), int.from_bytes(p[:4], "little")}
            if 2 in families or families & _AF_INET6:
                return p[4:]
            return None
        if linktype not in self.unsupported:
            self.unsupported.add(linktype)
            self.problem(frame, f"link type {linktype} is not supported; its packets are skipped")
        return None

    def ipv4(self, frame: int, ts: float, ip: bytes) -> Iterator[IkeDatagram]:
        if len(ip) < 20:
            self.problem(frame, "truncated IPv4 header")
            return
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        if ihl < 20 or total < ihl or len(ip) < ihl:
            self.problem(frame, f"damaged IPv4 header (IHL {ihl}, total length {total})")
            return
        protocol = ip[9]
        src = ipaddress.IPv4Address(ip[12:16])
        dst = ipaddress.IPv4Address(ip[16:20])
        # Slicing at the total length drops Ethernet padding after the datagram.
        payload = ip[ihl:total]
        truncated = len(ip) < total
        flags_frag = int.from_bytes(ip[6:8], "big")
        more = bool(flags_frag & 0x2000)
        offset = (flags_frag & 0x1FFF) * 8
        if more or offset:
            if truncated:
                if protocol == _IPPROTO_UDP:
                    self.problem(frame, "IPv4 fragment truncated by the capture; skipped")
                return
            key = (4, src, dst, protocol, int.from_bytes(ip[4:6], "big"))
            whole = self.reassemble(frame, key, offset, payload, more, protocol)
            if whole is None:
                return
            payload = whole[0]
        if protocol == _IPPROTO_UDP:
            yield from self.udp(frame, ts, src, dst, payload, truncated)

    def ipv6(self, frame: int, ts: float, ip: bytes) -> Iterator[IkeDatagram]:
        if len(ip) < 40:
            self.problem(frame, "truncated IPv6 header")
            return
        length = int.from_bytes(ip[4:6], "big")
        if length == 0:
            return  # a jumbogram (RFC 2675) carries no IKE
        src = ipaddress.IPv6Address(ip[8:24])
        dst = ipaddress.IPv6Address(ip[24:40])
        payload = ip[40 : 40 + length]
        truncated = len(ip) < 40 + length
        next_header = ip[6]
        pos = 0
        while next_header in _IPV6_EXTENSIONS or next_header in (_IPV6_AH, _IPV6_FRAGMENT):
            if len(payload) < pos + 8:
                self.problem(frame, "truncated IPv6 extension header")
                return
            if next_header == _IPV6_FRAGMENT:
                if truncated:
                    self.problem(frame, "IPv6 fragment truncated by the capture; skipped")
                    return
                offset_flags = int.from_bytes(payload[pos + 2 : pos + 4], "big")
                offset = offset_flags & 0xFFF8
                ident = int.from_bytes(payload[pos + 4 : pos + 8], "big")
                # Only the first fragment's Next Header is meaningful (RFC 8200 §4.5).
                inner = payload[pos] if offset == 0 else None
                key = (6, src, dst, None, ident)
                whole = self.reassemble(
                    frame, key, offset, payload[pos + 8 :], bool(offset_flags & 1), inner
                )
                if whole is None:
                    return
                payload, next_header = whole
                pos = 0
                if next_header is None:
                    return
                continue
            if next_header == _IPV6_AH:
                size = (payload[pos + 1] + 2) * 4  # RFC 4302 §2.2
            else:
                size = (payload[pos + 1] + 1) * 8  # RFC 8200 §4.3-4.6
            next_header = payload[pos]
            pos += size
        if next_header == _IPPROTO_UDP:
            yield from self.udp(frame, ts, src, dst, payload[pos:], truncated)

    def reassemble(
        self, frame: int, key: tuple, offset: int, data: bytes, more: bool, protocol: int | None
    ) -> tuple[bytes, int | None] | None:
        """Add a fragment; the whole datagram and its protocol once every piece is in."""
        if offset + len(data) > 65535:
            self.problem(frame, "IP fragment beyond the largest possible datagram")
            return None
        entry = self.pending.get(key)
        if entry is None:
            if len(self.pending) >= _MAX_PENDING_REASSEMBLIES:
                old_key, old = self.pending.popitem(last=False)
                self.problem(old.first_frame, _describe_incomplete(old_key, old))
            entry = self.pending[key] = _Fragments(frame)
        whole = entry.add(offset, data, more, protocol)
        if whole is None:
            return None
        del self.pending[key]
        return whole, entry.protocol

    def udp(
        self, frame: int, ts: float, src, dst, segment: bytes, truncated: bool
    ) -> Iterator[IkeDatagram]:
        if len(segment) < 8:
            if truncated:
                self.problem(frame, "UDP header truncated by the capture")
            else:
                self.problem(frame, "truncated UDP header")
            return
        sport = int.from_bytes(segment[0:2], "big")
        dport = int.from_bytes(segment[2:4], "big")
        length = int.from_bytes(segment[4:6], "big")
        # The destination port decides first: a reply from 500 to 4500 is NAT-T framed.
        if dport in self.ike_ports:
            natt = False
        elif dport in self.natt_ports:
            natt = True
        elif sport in self.ike_ports:
            natt = False
        elif sport in self.natt_ports:
            natt = True
        else:
            return
        if length > len(segment):
            if truncated:
                self.problem(
                    frame,
                    f"UDP {sport}->{dport} datagram truncated by the capture "
                    f"({len(segment) - 8} of {length - 8} payload bytes); skipped",
                )
            else:
                self.problem(frame, f"UDP length {length} exceeds its IP packet; skipped")
            return
        if length < 8:
            self.problem(frame, f"damaged UDP length {length}; skipped")
            return
        data = segment[8:length]
        if natt:
            from ikesrv.errors import MalformedMessage
            from ikesrv.wire import natt as natt_framing

            try:
                kind, data = natt_framing.classify(data)
            except MalformedMessage as exc:
                self.problem(frame, f"UDP {sport}->{dport}: {exc}")
                return
            if kind != "ike":
                return  # NAT-T keepalive or ESP in UDP: the kernel's business
        yield IkeDatagram(ts, src, sport, dst, dport, data)

    def finish(self) -> None:
        for key, entry in self.pending.items():
            self.problem(entry.first_frame, _describe_incomplete(key, entry))
        self.pending.clear()


def _describe_incomplete(key: tuple, entry: _Fragments) -> str:
    version, src, dst, _protocol, ident = key
    total = f"of {entry.total} " if entry.total is not None else ""
    return (
        f"IPv{version} fragments {src} -> {dst} (id {ident:#x}) never completed: "
        f"have {entry.have()} bytes {total}in {len(entry.pieces)} fragment(s); "
        "the datagram is skipped"
    )
