"""IKE messages out of a classic pcap file, with no dependency beyond the standard library.

Owns: reading pcap (libpcap, either byte order, micro- or nanosecond stamps; link
types Ethernet, Linux cooked SLL/SLL2 and raw IPv4), reassembling IPv4 fragments (an
IKE_AUTH with certificates may exceed the MTU), and splitting UDP 500/4500 payloads into
IKE messages (the non-ESP marker stripped, RFC 3948 §2.2), NAT keepalives (0xff, RFC 3948
§2.3) and ESP. Frame numbers count from 1 as tshark's do; a reassembled datagram carries
the number of its last fragment, where tshark shows it too.

Imports only the standard library.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path

IKE_PORTS = (500, 4500)
NON_ESP_MARKER = b"\x00\x00\x00\x00"


@dataclass(frozen=True)
class UdpDatagram:
    frame: int
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


@dataclass(frozen=True)
class IkeMessage:
    """One IKE message as sent: ``data`` starts at the IKE header (marker removed)."""

    frame: int
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes
    marker: bool  # came on port 4500 behind the non-ESP marker

    @property
    def version(self) -> int:
        return self.data[17] >> 4 if len(self.data) > 17 else 0


def read_frames(path: str | Path) -> tuple[int, list[tuple[int, float, bytes]]]:
    """(link type, [(frame number, time, bytes)]) of a classic pcap file."""
    raw = Path(path).read_bytes()
    if len(raw) < 24:
        raise ValueError(f"{path}: not a pcap file (too short)")
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file (pcapng? capture with dumpcap -P)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", raw[20:24])[0] & 0x0FFFFFFF
    frames = []
    off, n = 24, 0
    while off + 16 <= len(raw):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", raw[off : off + 16])
        off += 16
        n += 1
        frames.append((n, sec + frac / (1e9 if nano else 1e6), raw[off : off + incl]))
        off += incl
    return linktype, frames


def _ip_packet(linktype: int, frame: bytes) -> bytes | None:
    if linktype == 1:  # Ethernet, possibly 802.1Q tagged
        off, ethertype = 12, None
        while off + 2 <= len(frame):
            ethertype = struct.unpack("!H", frame[off : off + 2])[0]
            if ethertype in (0x8100, 0x88A8):
                off += 4
                continue
            break
        return frame[off + 2 :] if ethertype == 0x0800 else None
    if linktype == 113:  # Linux cooked (SLL)
        return frame[16:] if frame[14:16] == b"\x08\x00" else None
    if linktype == 276:  # Linux cooked v2 (SLL2)
        return frame[20:] if frame[0:2] == b"\x08\x00" else None
    if linktype in (101, 228):  # raw IP / raw IPv4
        return frame
    return None


def udp_datagrams(path: str | Path) -> list[UdpDatagram]:
    """Every IPv4 UDP datagram of the capture, fragments reassembled."""
    linktype, frames = read_frames(path)
    pending: dict[tuple, dict[int, bytes]] = {}
    last_seen: dict[tuple, int] = {}
    out = []
    for number, ts, frame in frames:
        ip = _ip_packet(linktype, frame)
        if ip is None or len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        ident, frag = struct.unpack("!HH", ip[4:8])
        proto = ip[9]
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        body = ip[ihl:total]
        more, offset = bool(frag & 0x2000), (frag & 0x1FFF) * 8
        if more or offset:
            key = (src, dst, proto, ident)
            parts = pending.setdefault(key, {})
            parts[offset] = body
            if not more:
                last_seen[key] = offset + len(body)
            if key in last_seen:
                data, pos = bytearray(), 0
                for o in sorted(parts):
                    if o != pos:
                        break
                    data += parts[o]
                    pos += len(parts[o])
                if pos == last_seen[key]:
                    body = bytes(data)
                    del pending[key], last_seen[key]
                else:
                    continue
            else:
                continue
        if proto != 17 or len(body) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", body[:6])
        out.append(UdpDatagram(number, ts, src, sport, dst, dport, body[8:ulen]))
    return out


def ike_messages(path: str | Path) -> list[IkeMessage]:
    """The IKE messages of the capture, in order (ESP and keepalives left out)."""
    out = []
    for d in udp_datagrams(path):
        ports = (d.sport, d.dport)
        if 4500 in ports:
            if d.payload[:4] != NON_ESP_MARKER:
                continue  # a keepalive (0xff) or ESP in UDP
            out.append(
                IkeMessage(d.frame, d.time, d.src, d.sport, d.dst, d.dport, d.payload[4:], True)
            )
        elif 500 in ports:
            out.append(
                IkeMessage(d.frame, d.time, d.src, d.sport, d.dst, d.dport, d.payload, False)
            )
    return out


def nat_t_kinds(path: str | Path) -> list[tuple[int, str]]:
    """(frame, "ike" | "keepalive" | "esp") of every UDP 4500 datagram."""
    out = []
    for d in udp_datagrams(path):
        if 4500 not in (d.sport, d.dport):
            continue
        if d.payload == b"\xff":
            out.append((d.frame, "keepalive"))
        elif d.payload[:4] == NON_ESP_MARKER:
            out.append((d.frame, "ike"))
        else:
            out.append((d.frame, "esp"))
    return out
