"""NAT detection hashes (RFC 7296 §2.23, RFC 3947 §3.2) and what they reveal.

Known answers from real traffic, two sources:
  - the tables below: strongSwan 5.9.8 (Debian 12 packages), one charon as initiator in
    a network namespace at 198.51.100.2, one as responder at 198.51.100.1 in another,
    joined by a veth pair (no NAT), with kernel-netlink so that charon does not fake its
    NAT detection; swanctl configs as in tests/data/captures/README.md (IKEv2 PSK
    aes256gcm16-prfsha384-ecp384; IKEv1 Main Mode PSK aes256-sha256-modp2048);
    tcpdump on the responder's veth, values read from the UDP payloads;
  - the captures of tests/data/captures (strongSwan with kernel-libipsec, libreswan,
    a real NAT), at the end of this file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ikesrv.constants import V1HashAlgorithm
from ikesrv.nat_detection import (
    detect,
    v1_detect,
    v1_nat_hash,
    v1_payloads,
    v2_nat_hash,
    v2_notify_data,
)

INITIATOR = ("198.51.100.2", 500)
RESPONDER = ("198.51.100.1", 500)
ZERO = bytes(8)

# IKEv2 IKE_SA_INIT, SPIi 47814968637bfc1d, SPIr 44eca2608eaac3ee
V2_SPI_I = bytes.fromhex("47814968637bfc1d")
V2_SPI_R = bytes.fromhex("44eca2608eaac3ee")
V2_CAPTURE = [
    # message, SPIr in its header, address hashed, notify data on the wire
    ("request N(NAT_DETECTION_SOURCE_IP)", ZERO, INITIATOR,
     "b87fd8261f356ff0ccbbe74151f1808af68d4793"),
    ("request N(NAT_DETECTION_DESTINATION_IP)", ZERO, RESPONDER,
     "999be19a5a5e1c82533e1763c6c2b08deddb0598"),
    ("response N(NAT_DETECTION_SOURCE_IP)", V2_SPI_R, RESPONDER,
     "0e55f74ca349d761e722ad9395f0ee2742d76cea"),
    ("response N(NAT_DETECTION_DESTINATION_IP)", V2_SPI_R, INITIATOR,
     "a43ebb9230465a0079b5cc7bb04e15f6f6478217"),
]


@pytest.mark.parametrize("message,spi_r,addr,data", V2_CAPTURE,
                         ids=[row[0] for row in V2_CAPTURE])
def test_v2_hash_matches_strongswan(message, spi_r, addr, data):
    assert v2_nat_hash(V2_SPI_I, spi_r, addr) == bytes.fromhex(data)


def test_v2_strongswan_request_detects_no_nat():
    (_, _, _, src), (_, _, _, dst) = V2_CAPTURE[:2]
    # we are the responder: the packet came from INITIATOR to RESPONDER
    assert detect(V2_SPI_I, ZERO, [bytes.fromhex(src)], [bytes.fromhex(dst)],
                  local=RESPONDER, remote=INITIATOR) == (False, False)
    # the same packet having crossed a NAT that rewrote the source
    assert detect(V2_SPI_I, ZERO, [bytes.fromhex(src)], [bytes.fromhex(dst)],
                  local=RESPONDER, remote=("203.0.113.5", 4500)) == (False, True)
    # ... or our own address rewritten (port forwarding to a private address)
    assert detect(V2_SPI_I, ZERO, [bytes.fromhex(src)], [bytes.fromhex(dst)],
                  local=("10.0.0.1", 500), remote=INITIATOR) == (True, False)


def test_v2_response_data_matches_strongswan():
    source, destination = v2_notify_data(V2_SPI_I, V2_SPI_R, RESPONDER, INITIATOR)
    assert (source.hex(), destination.hex()) == (V2_CAPTURE[2][3], V2_CAPTURE[3][3])


def test_strongswan_libipsec_fakes_its_source():
    # Same setup with SW_KERNEL=libipsec: charon forces UDP encapsulation by sending a
    # NAT_DETECTION_SOURCE_IP that matches nothing (SPIi e63ba8def445266f), so the
    # responder must see the initiator as behind a NAT on a direct link.
    spi_i = bytes.fromhex("e63ba8def445266f")
    src = bytes.fromhex("2d41c0678c2ea6c1a2f32c114bf167e6b87b0449")
    dst = bytes.fromhex("6ef918b62a67faaa75c27b6f1e06bfed177075f5")
    assert v2_nat_hash(spi_i, ZERO, RESPONDER) == dst
    assert detect(spi_i, ZERO, [src], [dst], RESPONDER, INITIATOR) == (False, True)


# IKEv1 Main Mode messages 3 and 4, CKY-I 9f99155a662acf98, CKY-R 7a41f48e115304f7,
# negotiated hash SHA2-256: RFC 3947 §3.2 puts the destination's hash first.
V1_CKY_I = bytes.fromhex("9f99155a662acf98")
V1_CKY_R = bytes.fromhex("7a41f48e115304f7")
V1_MM3 = [bytes.fromhex(h) for h in (
    "a87cc6381642e35c871b67036eb1071a2fc1d8eced1601ee19245eaa4f11198f",  # responder
    "e26d4ee6f8839243de285515c2553bfb9224604609700b71245d49ac0169cf30",  # initiator
)]
V1_MM4 = V1_MM3[::-1]


def test_v1_hash_matches_strongswan():
    sha256 = V1HashAlgorithm.SHA2_256
    assert v1_nat_hash(sha256, V1_CKY_I, V1_CKY_R, RESPONDER) == V1_MM3[0]
    assert v1_nat_hash(sha256, V1_CKY_I, V1_CKY_R, INITIATOR) == V1_MM3[1]


def test_v1_our_payloads_match_strongswans_message_4():
    assert v1_payloads(V1HashAlgorithm.SHA2_256, V1_CKY_I, V1_CKY_R,
                       local=RESPONDER, remote=INITIATOR) == V1_MM4


def test_v1_strongswan_message_3_detects_no_nat():
    sha256 = V1HashAlgorithm.SHA2_256
    assert v1_detect(sha256, V1_CKY_I, V1_CKY_R, V1_MM3, RESPONDER, INITIATOR) == (False, False)
    assert v1_detect(sha256, V1_CKY_I, V1_CKY_R, V1_MM3, RESPONDER,
                     ("203.0.113.5", 4500)) == (False, True)
    assert v1_detect(sha256, V1_CKY_I, V1_CKY_R, V1_MM3, ("10.0.0.1", 500),
                     INITIATOR) == (True, False)
    # the order matters: the first payload is always the receiver's address
    assert v1_detect(sha256, V1_CKY_I, V1_CKY_R, V1_MM4, RESPONDER, INITIATOR) == (True, True)


# ------------------------------------------------------------------ computed ----------

SPI_I = bytes.fromhex("0123456789abcdef")
SPI_R = bytes.fromhex("fedcba9876543210")

V2_COMPUTED = [
    # address, IP | Port as RFC 7296 §2.23 lays them out
    (("192.0.2.1", 500), "c0000201" "01f4"),
    (("192.0.2.1", 4500), "c0000201" "1194"),
    (("203.0.113.200", 65535), "cb0071c8" "ffff"),
    (("2001:db8::1", 500), "20010db8000000000000000000000001" "01f4"),
    (("::ffff:192.0.2.1", 500), "c0000201" "01f4"),  # dual-stack socket: on the wire IPv4
    (("0.0.0.0", 1), "00000000" "0001"),
    (("255.255.255.255", 500), "ffffffff" "01f4"),
    (("::1", 4500), "00000000000000000000000000000001" "1194"),
    (("::ffff:203.0.113.5", 4500), "cb007105" "1194"),
    (("::192.0.2.1", 500), "000000000000000000000000c0000201" "01f4"),  # not mapped
]


@pytest.mark.parametrize("addr,ip_port", V2_COMPUTED)
def test_v2_field_order(addr, ip_port):
    expected = hashlib.sha1(SPI_I + SPI_R + bytes.fromhex(ip_port)).digest()
    assert v2_nat_hash(SPI_I, SPI_R, addr) == expected


V1_ALGORITHMS = [
    (V1HashAlgorithm.MD5, "md5"),
    (V1HashAlgorithm.SHA, "sha1"),
    (V1HashAlgorithm.SHA2_256, "sha256"),
    (V1HashAlgorithm.SHA2_384, "sha384"),
    (V1HashAlgorithm.SHA2_512, "sha512"),
]


@pytest.mark.parametrize("algorithm,name", V1_ALGORITHMS)
def test_v1_negotiated_hash(algorithm, name):
    # RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port), the negotiated hash, not the prf
    expected = hashlib.new(name, SPI_I + SPI_R + bytes.fromhex("20010db8" + "0" * 23 + "1")
                           + (4500).to_bytes(2, "big")).digest()
    assert v1_nat_hash(algorithm, SPI_I, SPI_R, ("2001:db8::1", 4500)) == expected


def test_v1_unknown_hash():
    with pytest.raises(ValueError):
        v1_nat_hash(V1HashAlgorithm.TIGER, SPI_I, SPI_R, ("192.0.2.1", 500))


LOCAL = ("192.0.2.1", 500)
REMOTE = ("198.51.100.7", 500)
NATTED = ("203.0.113.9", 31337)


def v2_data(addr):
    return v2_nat_hash(SPI_I, SPI_R, addr)


DETECT = [
    # SOURCE_IP data, DESTINATION_IP data, packet source, (local, remote behind NAT)
    ([v2_data(REMOTE)], [v2_data(LOCAL)], REMOTE, (False, False)),
    ([v2_data(REMOTE)], [v2_data(LOCAL)], NATTED, (False, True)),
    ([v2_data(REMOTE)], [v2_data(("10.1.1.1", 500))], REMOTE, (True, False)),
    ([v2_data(REMOTE)], [v2_data(("10.1.1.1", 500))], NATTED, (True, True)),
    # a multihomed initiator sends one SOURCE_IP per address: any may match (§2.23)
    ([v2_data(("10.9.9.9", 500)), v2_data(REMOTE)], [v2_data(LOCAL)], REMOTE, (False, False)),
    ([v2_data(("10.9.9.9", 500)), v2_data(("10.9.9.8", 500))], [v2_data(LOCAL)], REMOTE,
     (False, True)),
    # only the port changed: a NAPT keeping the address still counts
    ([v2_data(REMOTE)], [v2_data(LOCAL)], ("198.51.100.7", 501), (False, True)),
    # notifies absent: nothing is concluded
    ([], [], NATTED, (False, False)),
    ([], [v2_data(("10.1.1.1", 500))], REMOTE, (True, False)),
    ([b"garbage"], [], REMOTE, (False, True)),
]


@pytest.mark.parametrize("source,destination,packet_source,expected", DETECT)
def test_detect(source, destination, packet_source, expected):
    assert detect(SPI_I, SPI_R, source, destination, LOCAL, packet_source) == expected


def test_v1_detect_edge_cases():
    sha1 = V1HashAlgorithm.SHA

    def h(addr):
        return v1_nat_hash(sha1, SPI_I, SPI_R, addr)

    # a peer at REMOTE with two addresses, to us at LOCAL: our address first, then its
    # own; any of its own may match the packet's source
    assert v1_detect(sha1, SPI_I, SPI_R, [h(LOCAL), h(("10.9.9.9", 500)), h(REMOTE)],
                     LOCAL, REMOTE) == (False, False)
    assert v1_detect(sha1, SPI_I, SPI_R, [h(LOCAL), h(("10.9.9.9", 500))],
                     LOCAL, REMOTE) == (False, True)
    assert v1_detect(sha1, SPI_I, SPI_R, [], LOCAL, REMOTE) == (False, False)
    # a lone payload names no sender address: the peer is taken as behind a NAT
    assert v1_detect(sha1, SPI_I, SPI_R, [h(LOCAL)], LOCAL, REMOTE) == (False, True)


addresses = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str)
).flatmap(lambda host: st.tuples(st.just(host), st.integers(0, 65535)))


@given(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8), addresses,
       addresses)
def test_own_data_never_signals_nat(spi_i, spi_r, local, remote):
    # what we send, checked by the peer with the addresses it sees unchanged
    source, destination = v2_notify_data(spi_i, spi_r, local, remote)
    assert detect(spi_i, spi_r, [source], [destination], remote, local) == (False, False)
    nat_d = v1_payloads(V1HashAlgorithm.SHA2_256, spi_i, spi_r, local, remote)
    assert v1_detect(V1HashAlgorithm.SHA2_256, spi_i, spi_r, nat_d, remote, local) == (
        False, False)


# ------------------------------------------------------------------ captures ----------
# The captures of tests/data/captures (see its README.md): strongSwan runs there with
# kernel-libipsec, which forces UDP encapsulation by sending a NAT_DETECTION_SOURCE_IP
# / source NAT-D that matches nothing, while its destination hashes are genuine;
# libreswan's pluto sends genuine hashes on both sides. The "natt" captures went
# through a real NAT (the client appears as 198.51.100.66 with a remapped port).

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"

V2_MESSAGES = [
    # capture, sent by the initiator (else the responder), sender's SOURCE_IP genuine
    ("ikev2-psk-aes256gcm16-prfsha384-ecp384", True, False),
    ("ikev2-psk-aes256gcm16-prfsha384-ecp384", False, False),
    ("ikev2-invalid-ke-retry", True, False),
    ("ikev2-natt", True, False),
    ("ikev2-natt", False, False),
    ("libreswan-ikev2-psk", True, True),
    ("libreswan-ikev2-psk", False, False),
]

V1_MESSAGES = [
    # capture, sent by the initiator, sender's own NAT-D genuine; every connection
    # there negotiated SHA2-256
    ("ikev1-main-psk-qm-pfs", True, False),
    ("ikev1-main-psk-qm-pfs", False, False),
    ("ikev1-natt-main-psk", True, False),
    ("ikev1-natt-main-psk", False, False),
    ("ikev1-aggressive-psk-xauth-modecfg", False, False),
    ("libreswan-ikev1-main-psk", True, True),
    ("libreswan-ikev1-main-psk", False, False),
]


def captured(name: str, from_initiator: bool, nat_payloads):
    """The last message of ``name`` from that side carrying NAT detection payloads, its
    decoded payloads' NAT detection data, its receiver's and its sender's address."""
    from tests.harness import pcap

    path = CAPTURES / f"{name}.pcap"
    if not path.exists():
        pytest.fail(f"capture {path} is missing")
    messages = pcap.ike_messages(path)
    initiator = (messages[0].src, messages[0].sport)
    found = None
    for m in messages:
        if ((m.src, m.sport) == initiator) == from_initiator:
            data = nat_payloads(m.data)
            if data is not None:
                found = (m, data)
    assert found is not None, f"{name}: no NAT detection payloads"
    m, data = found
    return data, (m.dst, m.dport), (m.src, m.sport)


def v2_nat_payloads(data: bytes):
    from ikesrv.wire import ikev2

    msg = ikev2.decode_message(data)
    if msg.exchange != 34:  # IKE_SA_INIT
        return None
    notifies = [p for p in msg.payloads if p.payload_type == 41]
    source = [n.data for n in notifies if n.type == 16388]
    destination = [n.data for n in notifies if n.type == 16389]
    return (msg.spi_i, msg.spi_r, source, destination) if source or destination else None


def v1_nat_payloads(data: bytes):
    from ikesrv.wire import ikev1

    msg = ikev1.decode_message(data)
    if msg.payloads is None:  # encrypted
        return None
    nat_d = [p.data for p in msg.payloads if p.payload_type in (20, 130)]
    return (msg.spi_i, msg.spi_r, nat_d) if nat_d else None


@pytest.mark.parametrize("name,from_initiator,genuine", V2_MESSAGES)
def test_v2_captures(name, from_initiator, genuine):
    (spi_i, spi_r, source, destination), receiver, sender = captured(
        name, from_initiator, v2_nat_payloads)
    assert destination == [v2_nat_hash(spi_i, spi_r, receiver)]
    assert (v2_nat_hash(spi_i, spi_r, sender) in source) is genuine
    assert detect(spi_i, spi_r, source, destination, receiver, sender) == (False, not genuine)


@pytest.mark.parametrize("name,from_initiator,genuine", V1_MESSAGES)
def test_v1_captures(name, from_initiator, genuine):
    (cky_i, cky_r, nat_d), receiver, sender = captured(name, from_initiator, v1_nat_payloads)
    sha256 = V1HashAlgorithm.SHA2_256
    assert nat_d[0] == v1_nat_hash(sha256, cky_i, cky_r, receiver)
    assert (v1_nat_hash(sha256, cky_i, cky_r, sender) in nat_d[1:]) is genuine
    assert v1_detect(sha256, cky_i, cky_r, nat_d, receiver, sender) == (False, not genuine)
