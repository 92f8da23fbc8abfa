"""ikesrv.pcap: IKE datagrams out of pcap and pcapng captures.

Captures come from three sources: text2pcap (Wireshark's writer wraps payloads in real
Ethernet/IP/UDP headers and writes real pcap and pcapng files), dumpcap capturing on the
loopback interface (root only), and tests/unit/capture_builder.py for what those tools
cannot produce (big-endian files, Linux cooked headers, BSD loopback, VLAN tags, IP
fragments, damaged files); the builder's output is checked against tshark's reading.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv import pcap
from tests.harness import policy
from tests.unit import capture_builder as B

# Not parsed by the reader: any bytes stand for an IKE message. A real IKE header start
# (SPIi, zero SPIr) so that tshark's dissector has something sensible to show.
IKE = bytes.fromhex("0102030405060708" "0000000000000000") + b"\x21\x20\x22\x08" + bytes(4) \
    + (28).to_bytes(4, "big")
BIG_IKE = IKE + bytes(range(256)) * 12  # 3100 bytes: fragmented on a 1500-byte path
MARKER = b"\0\0\0\0"


def read(data: bytes, **kwargs) -> tuple[list[pcap.IkeDatagram], list[str]]:
    problems: list[str] = []
    return list(pcap.read_ike(data, problems=problems, **kwargs)), problems


def text2pcap(tmp_path: Path, payloads: list[bytes], *options: str) -> bytes:
    """Run text2pcap on a hexdump of ``payloads`` and return the capture it wrote."""
    exe = shutil.which("text2pcap")
    if exe is None:
        policy.unavailable("text2pcap not found (Debian package wireshark-common)")
    lines = []
    for payload in payloads:
        for offset in range(0, len(payload), 16):
            chunk = payload[offset:offset + 16]
            lines.append(f"{offset:06x} " + " ".join(f"{b:02x}" for b in chunk))
        lines.append("")
    src, out = tmp_path / "dump.txt", tmp_path / "capture"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([exe, "-q", *options, str(src), str(out)], check=True, capture_output=True)
    return out.read_bytes()


def tshark_fields(tmp_path: Path, data: bytes, *fields: str) -> list[list[str]]:
    exe = shutil.which("tshark")
    if exe is None:
        policy.unavailable("tshark not found (Debian package tshark)")
    path = tmp_path / "check.pcap"
    path.write_bytes(data)
    args = [exe, "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for field in fields:
        args += ["-e", field]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines()]


# --- captures written by Wireshark's tools --------------------------------------------


def test_text2pcap_classic_ethernet_ipv4(tmp_path: Path) -> None:
    data = text2pcap(tmp_path, [IKE, IKE + b"x"], "-F", "pcap", "-4", "192.0.2.10,192.0.2.1",
                     "-u", "500,500")
    assert data[:4] == bytes.fromhex("d4c3b2a1")  # little-endian microseconds
    (first, second), problems = read(data)
    assert problems == []
    assert first.data == IKE and second.data == IKE + b"x"
    assert (first.src, first.sport, first.dst, first.dport) == (
        ipaddress.ip_address("192.0.2.10"), 500, ipaddress.ip_address("192.0.2.1"), 500)


def test_text2pcap_pcapng_ipv6_natt(tmp_path: Path) -> None:
    data = text2pcap(tmp_path, [MARKER + IKE, b"\xff"], "-6", "2001:db8::10,2001:db8::1",
                     "-u", "4500,4500")
    assert data[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng is text2pcap's default
    (only,), problems = read(data)
    assert problems == []  # the keepalive is skipped silently
    assert only.data == IKE and only.src == ipaddress.ip_address("2001:db8::10")


def test_text2pcap_raw_ip(tmp_path: Path) -> None:
    data = text2pcap(tmp_path, [IKE], "-l", "101", "-4", "10.0.0.2,10.0.0.1", "-u", "1234,500")
    ((only,), problems) = read(data)
    assert only.data == IKE and only.sport == 1234 and problems == []


@pytest.mark.root
def test_dumpcap_on_loopback(tmp_path: Path) -> None:
    """A pcapng file written by dumpcap while real datagrams cross the loopback."""
    exe = policy.require_binary("dumpcap", "wireshark-common")
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    path = tmp_path / "lo.pcapng"
    proc = subprocess.Popen([exe, "-i", "lo", "-f", f"udp dst port {port}", "-c", "2",
                             "-w", str(path)], stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # capturing starts once dumpcap says so
            if line.startswith("Capturing on"):
                break
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _attempt in range(5):
            sender.sendto(IKE, ("127.0.0.1", port))
            sender.sendto(MARKER + IKE, ("127.0.0.1", port))
            try:
                proc.wait(timeout=2)
                break
            except subprocess.TimeoutExpired:
                continue
        sender.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        receiver.close()
    assert proc.returncode == 0
    datagrams, problems = read(path.read_bytes(), ike_ports=(port,), natt_ports=())
    assert problems == []
    assert [d.data for d in datagrams[:2]] == [IKE, MARKER + IKE]
    assert datagrams[0].dst == ipaddress.ip_address("127.0.0.1") and datagrams[0].dport == port
    # Read as NAT-T: the marker comes off, and the datagram without one is ESP to skip.
    nat, _ = read(path.read_bytes(), ike_ports=(), natt_ports=(port,))
    assert [d.data for d in nat] == [IKE]


# --- link types, byte orders, resolutions ---------------------------------------------

PACKET_V4 = B.ipv4("198.51.100.2", "198.51.100.1", B.udp(500, 500, IKE))
PACKET_V6 = B.ipv6("2001:db8::2", "2001:db8::1", B.udp(4500, 4500, MARKER + IKE))

LINKS = [
    ("ethernet", 1, B.ethernet(PACKET_V4)),
    ("ethernet 802.1ad+802.1Q", 1, B.ethernet(PACKET_V6, vlans=(100, 200))),
    ("linux sll", 113, B.linux_sll(PACKET_V4)),
    ("linux sll2", 276, B.linux_sll2(PACKET_V6)),
    ("raw ip", 101, PACKET_V6),
    ("raw ipv4", 228, PACKET_V4),
    ("raw ipv6", 229, PACKET_V6),
    ("bsd null, little-endian family", 0, B.bsd_null(PACKET_V4)),
    ("bsd null, big-endian family", 0, B.bsd_null(PACKET_V6, byteorder="big")),
]


@pytest.mark.parametrize("linktype, frame", [c[1:] for c in LINKS], ids=[c[0] for c in LINKS])
@pytest.mark.parametrize("fmt", ["pcap-le-us", "pcap-be-ns", "pcapng-le", "pcapng-be"])
def test_link_types(linktype: int, frame: bytes, fmt: str) -> None:
    ts = 1700000000.123456
    if fmt.startswith("pcap-"):
        data = B.pcap([(ts, frame)], linktype, big_endian="be" in fmt, nanoseconds="ns" in fmt)
    else:
        data = B.pcapng([(linktype, None)], [(0, ts, frame)], big_endian=fmt.endswith("be"))
    ((only,), problems) = read(data)
    assert problems == []
    assert only.data == IKE
    assert only.timestamp == pytest.approx(ts, abs=1e-6)
    expected = ("198.51.100.2", 500) if frame.endswith(B.udp(500, 500, IKE)) else (
        "2001:db8::2", 4500)
    assert (str(only.src), only.sport) == expected


@pytest.mark.parametrize("linktype, frame", [c[1:] for c in LINKS], ids=[c[0] for c in LINKS])
def test_builder_agrees_with_tshark(tmp_path: Path, linktype: int, frame: bytes) -> None:
    data = B.pcap([(1.5, frame)], linktype, big_endian=True, nanoseconds=True)
    ((src, sport, ispi),) = tshark_fields(tmp_path, data, "ip.src", "udp.srcport", "isakmp.ispi") \
        if frame.endswith(B.udp(500, 500, IKE)) else \
        tshark_fields(tmp_path, data, "ipv6.src", "udp.srcport", "isakmp.ispi")
    ((mine,), _) = read(data)
    assert (src, int(sport)) == (str(mine.src), mine.sport)
    assert ispi == "0102030405060708"


def test_pcapng_interfaces_with_their_own_link_type_and_resolution() -> None:
    data = B.pcapng(
        [(1, None), (113, 9), (276, 0x80 | 20)],  # µs default, ns, 2^-20 s
        [(0, 10.25, B.ethernet(PACKET_V4)), (1, 20.000000001, B.linux_sll(PACKET_V4)),
         (2, 30.5, B.linux_sll2(PACKET_V6))],
    )
    datagrams, problems = read(data)
    assert problems == [] and [d.data for d in datagrams] == [IKE] * 3
    assert [d.timestamp for d in datagrams] == pytest.approx([10.25, 20.000000001, 30.5],
                                                             abs=1e-9)


def test_pcapng_simple_packet_blocks() -> None:
    data = B.pcapng([(1, None)], [(0, 0.0, B.ethernet(PACKET_V4))] * 2, simple=True)
    datagrams, problems = read(data)
    assert [d.data for d in datagrams] == [IKE, IKE] and problems == []


def test_two_sections_restart_interfaces() -> None:
    first = B.pcapng([(1, None)], [(0, 1.0, B.ethernet(PACKET_V4))])
    second = B.pcapng([(229, None)], [(0, 2.0, PACKET_V6)], big_endian=True)
    datagrams, problems = read(first + second)
    assert [str(d.src) for d in datagrams] == ["198.51.100.2", "2001:db8::2"] and not problems


# --- network and transport ------------------------------------------------------------


def test_ipv6_extension_headers_are_skipped() -> None:
    packet = B.ipv6("2001:db8::2", "2001:db8::1",
                    B.ipv6_hop_by_hop(17, B.udp(500, 500, IKE)), next_header=0)
    ((only,), problems) = read(B.pcap([(0, packet)], 101))
    assert only.data == IKE and problems == []


def test_ipv4_fragments_are_reassembled_in_any_order() -> None:
    fragments = B.ipv4_fragments("198.51.100.2", "198.51.100.1", B.udp(4500, 4500,
                                 MARKER + BIG_IKE), 1480)
    assert len(fragments) == 3
    order = [fragments[2], fragments[0], fragments[1]]
    frames = [(float(i), B.ethernet(f)) for i, f in enumerate(order)]
    ((only,), problems) = read(B.pcap(frames, 1))
    assert only.data == BIG_IKE and only.timestamp == 2.0 and problems == []


def test_ipv6_fragments_are_reassembled() -> None:
    packets = B.ipv6_fragments("2001:db8::2", "2001:db8::1", B.udp(500, 500, BIG_IKE), 1232)
    ((only,), problems) = read(B.pcapng([(229, None)], [(0, 1.0, p) for p in packets]))
    assert only.data == BIG_IKE and problems == []


def test_missing_fragment_is_reported() -> None:
    fragments = B.ipv4_fragments("198.51.100.2", "198.51.100.1", B.udp(500, 500, BIG_IKE), 1480)
    datagrams, problems = read(B.pcap([(0, f) for f in fragments[:2]], 101))
    assert datagrams == []
    (problem,) = problems
    assert problem.startswith("frame 1: IPv4 fragments 198.51.100.2 -> 198.51.100.1 (id 0x7)")
    assert "never completed" in problem and "2960 bytes" in problem


def test_natt_port_keepalive_and_esp_are_skipped() -> None:
    frames = [
        (0, B.ipv4("203.0.113.2", "198.51.100.1", B.udp(4500, 4500, b"\xff"))),
        (1, B.ipv4("203.0.113.2", "198.51.100.1", B.udp(4500, 4500, b"\x00\x00\x10\x01"
                                                         + bytes(40)))),  # ESP, SPI 0x1001
        (2, B.ipv4("198.51.100.1", "203.0.113.2", B.udp(4500, 31337, MARKER + IKE))),
        (3, B.ipv4("203.0.113.2", "198.51.100.1", B.udp(53, 53, IKE))),  # not IKE
    ]
    ((only,), problems) = read(B.pcap(frames, 101))
    assert only.data == IKE and (only.sport, only.dport) == (4500, 31337) and not problems


def test_configured_ports() -> None:
    frames = [(0, B.ipv4("127.0.0.1", "127.0.0.1", B.udp(40000, 50500, IKE))),
              (1, B.ipv4("127.0.0.1", "127.0.0.1", B.udp(40000, 54500, MARKER + IKE)))]
    datagrams, _ = read(B.pcap(frames, 101), ike_ports=(50500,), natt_ports=(54500,))
    assert [d.data for d in datagrams] == [IKE, IKE]
    assert read(B.pcap(frames, 101))[0] == []


def test_ethernet_padding_is_not_payload() -> None:
    tiny = B.ipv4("198.51.100.2", "198.51.100.1", B.udp(500, 500, b"\x01"))
    ((only,), _) = read(B.pcap([(0, B.ethernet(tiny) + bytes(17))], 1))
    assert only.data == b"\x01"


def test_snaplen_truncation_is_reported() -> None:
    data = B.pcap([(0, B.ethernet(PACKET_V4))], 1, snaplen=60)
    datagrams, problems = read(data)
    assert datagrams == []
    (problem,) = problems
    assert problem == ("frame 1: UDP 500->500 datagram truncated by the capture "
                       "(18 of 28 payload bytes); skipped")


def test_unsupported_link_type_is_reported_once() -> None:
    datagrams, problems = read(B.pcap([(0, PACKET_V4), (1, PACKET_V4)], 147))
    assert datagrams == [] and problems == [
        "frame 1: link type 147 is not supported; its packets are skipped"]


# --- damaged files --------------------------------------------------------------------


def _error(data: bytes) -> pcap.CaptureError:
    with pytest.raises(pcap.CaptureError) as caught:
        list(pcap.read_ike(data))
    return caught.value


def test_not_a_capture() -> None:
    err = _error(IKE)
    assert "not a pcap or pcapng file" in err.reason and err.offset == 0
    assert not pcap.is_capture(IKE)
    assert pcap.is_capture(B.pcap([], 1)) and pcap.is_capture(B.pcapng([(1, None)], []))


def test_truncated_pcap_record() -> None:
    data = B.pcap([(0, B.ethernet(PACKET_V4))], 1)
    err = _error(data[:-10])
    assert err.offset == 24 + 16 and "file ends inside packet record 1" in err.reason


def test_implausible_record_length() -> None:
    data = bytearray(B.pcap([(0, PACKET_V4)], 101))
    data[24 + 8:24 + 12] = (0x7FFFFFFF).to_bytes(4, "little")
    assert "not plausible" in _error(bytes(data)).reason


def test_pcapng_length_mismatch() -> None:
    data = bytearray(B.pcapng([(101, None)], [(0, 0.0, PACKET_V4)]))
    data[-4:] = (8).to_bytes(4, "little")
    assert "does not match its trailing copy" in _error(bytes(data)).reason


def test_pcapng_unknown_interface() -> None:
    data = B.pcapng([(101, None)], [(3, 0.0, PACKET_V4)])
    assert "interface 3, which was never described" in _error(data).reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 400))
def test_damaged_captures_raise_only_capture_error(noise: bytes, cut: int) -> None:
    """Random tails and truncations: a result or CaptureError, nothing else."""
    for base in (B.pcap([(0, B.ethernet(PACKET_V4))], 1),
                 B.pcapng([(1, None)], [(0, 1.0, B.ethernet(PACKET_V6))])):
        for data in (base[:cut] + noise, base[:24] + noise, base[:cut]):
            try:
                list(pcap.read_ike(data, problems=[]))
            except pcap.CaptureError:
                pass


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=120), st.sampled_from([0, 1, 101, 113, 276]))
def test_damaged_packets_never_raise(frame: bytes, linktype: int) -> None:
    """Packet contents are untrusted: any bytes give datagrams or problems, never errors."""
    list(pcap.read_ike(B.pcap([(0, frame)], linktype), problems=[]))
    list(pcap.read_ike(B.pcap([(0, PACKET_V4[:20] + frame)], 101), problems=[]))


def test_reads_from_a_file_object(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(B.pcap([(0, PACKET_V4)] * 3, 101))
    with open(path, "rb") as handle:
        assert len(list(pcap.read_ike(handle))) == 3
