"""Builds pcap and pcapng captures for the tests of ikesrv.pcap and ``ikesrv decode``.

Formats as in https://www.tcpdump.org/manpages/pcap-savefile.5.html and the pcapng draft
(draft-ietf-opsawg-pcapng); the tests check with tshark that what this writes is read
the same way by Wireshark's own code. Checksums are left zero: nothing reads them.
"""

from __future__ import annotations

import ipaddress
import struct


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv4(src: str, dst: str, payload: bytes, *, protocol: int = 17, ident: int = 1,
         offset: int = 0, more: bool = False, total: int | None = None) -> bytes:
    flags = (0x2000 if more else 0) | (offset // 8)
    length = 20 + len(payload) if total is None else total
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, ident, flags, 64, protocol, 0,
                         ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return header + payload


def ipv4_fragments(src: str, dst: str, payload: bytes, size: int, ident: int = 7) -> list[bytes]:
    """``payload`` (a UDP segment) split into IPv4 fragments of ``size`` bytes (multiple of 8)."""
    pieces = []
    for start in range(0, len(payload), size):
        chunk = payload[start:start + size]
        more = start + size < len(payload)
        pieces.append(ipv4(src, dst, chunk, ident=ident, offset=start, more=more))
    return pieces


def ipv6(src: str, dst: str, payload: bytes, *, next_header: int = 17) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), next_header, 64,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
                       ) + payload


def ipv6_hop_by_hop(next_header: int, payload: bytes) -> bytes:
    """A Hop-by-Hop Options header (8 bytes: PadN) in front of ``payload``."""
    return bytes([next_header, 0, 1, 4, 0, 0, 0, 0]) + payload


def ipv6_fragments(src: str, dst: str, segment: bytes, size: int, ident: int = 9) -> list[bytes]:
    """``segment`` (a UDP segment) in IPv6 packets with Fragment headers (RFC 8200 §4.5)."""
    packets = []
    for start in range(0, len(segment), size):
        chunk = segment[start:start + size]
        more = 1 if start + size < len(segment) else 0
        header = struct.pack("!BBHI", 17, 0, start | more, ident)
        packets.append(ipv6(src, dst, header + chunk, next_header=44))
    return packets


def ethernet(ip_packet: bytes, *, vlans: tuple[int, ...] = ()) -> bytes:
    ethertype = 0x0800 if ip_packet[0] >> 4 == 4 else 0x86DD
    tags = b"".join(struct.pack("!HH", 0x8100 if i else 0x88A8, vid)
                    for i, vid in enumerate(vlans))
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + tags + struct.pack(
        "!H", ethertype) + ip_packet


def linux_sll(ip_packet: bytes) -> bytes:
    ethertype = 0x0800 if ip_packet[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00",
                       ethertype) + ip_packet


def linux_sll2(ip_packet: bytes) -> bytes:
    ethertype = 0x0800 if ip_packet[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHIHBB8s", ethertype, 0, 1, 1, 0, 6,
                       b"\x02\x00\x00\x00\x00\x01\x00\x00") + ip_packet


def bsd_null(ip_packet: bytes, *, byteorder: str = "little") -> bytes:
    family = 2 if ip_packet[0] >> 4 == 4 else 30  # Darwin's AF_INET6
    return family.to_bytes(4, byteorder) + ip_packet


def pcap(frames: list[tuple[float, bytes]], linktype: int, *, big_endian: bool = False,
         nanoseconds: bool = False, snaplen: int = 262144) -> bytes:
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    scale = 10**9 if nanoseconds else 10**6
    for ts, data in frames:
        captured = data[:snaplen]
        seconds = int(ts)
        fraction = round((ts - seconds) * scale)
        out.append(struct.pack(order + "IIII", seconds, fraction, len(captured), len(data)))
        out.append(captured)
    return b"".join(out)


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def pcapng(interfaces: list[tuple[int, int | None]], packets: list[tuple[int, float, bytes]], *,
           big_endian: bool = False, simple: bool = False) -> bytes:
    """interfaces: (linktype, if_tsresol byte or None); packets: (interface, time, data).

    ``simple`` writes Simple Packet Blocks (no interface id, no time) instead of EPBs.
    """
    order = ">" if big_endian else "<"
    out = [_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    resolutions = []
    for linktype, tsresol in interfaces:
        options = b""
        if tsresol is not None:
            options = _option(order, 9, bytes([tsresol])) + _option(order, 0, b"")
        out.append(_block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + options))
        exponent = 6 if tsresol is None else tsresol & 0x7F
        resolutions.append(2**exponent if tsresol is not None and tsresol & 0x80
                           else 10**exponent)
    for interface, ts, data in packets:
        if simple:
            out.append(_block(order, 3, struct.pack(order + "I", len(data)) + data))
            continue
        scale = resolutions[interface] if interface < len(resolutions) else 10**6
        units = round(ts * scale)
        out.append(_block(order, 6, struct.pack(order + "IIIII", interface, units >> 32,
                                                units & 0xFFFFFFFF, len(data), len(data)) + data))
    return b"".join(out)
