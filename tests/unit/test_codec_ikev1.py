"""ISAKMP/IKEv1 codec (RFC 2408 §3, RFC 2407 §4.6, RFC 2409, RFC 3947, Mode Config and
XAuth drafts): realistic messages field by field, exact round trips, the padding that
real peers add, hand-built objects, and every malformed-input check with its offset.

Every test runs against both builds of the codec (compiled and uncompiled source).
"""

from __future__ import annotations

import struct

import pytest

from ikesrv.errors import InvalidMajorVersion, MalformedMessage
from tests.unit import codec_samples as S
from tests.unit.codec_samples import chain, header, phase1_attrs, tlv, tv, v1_sa


@pytest.fixture(params=["compiled", "reference"])
def v1(request):
    return S.api(S.builds()[request.param]).v1


def decode_chain(v1, first_and_body):
    first, body = first_and_body
    return v1.decode_payloads(body, first)


def message(items, *, next_payload=None, exchange=2, flags=0):
    first, body = chain(items)
    return header(S.SPI_I, S.SPI_R, first if next_payload is None else next_payload, 0x10,
                  exchange, flags, 0, body)


# ---- decoding realistic messages ---------------------------------------------------------


def test_main_mode_first_message(v1):
    msg = v1.decode_message(S.ikev1_main_mode_1())
    assert (msg.spi_i, msg.spi_r, msg.exchange, msg.flags, msg.message_id) == (
        S.SPI_I, S.ZERO_SPI, 2, 0, 0)
    assert (msg.version, msg.next_payload, msg.encrypted_body) == (0x10, 1, None)
    assert not msg.is_encrypted
    sa, *vids = msg.payloads
    assert (sa.doi, sa.situation) == (1, 1)  # IPsec DOI, SIT_IDENTITY_ONLY (RFC 2407 §4.2)
    (prop,) = sa.proposals
    assert (prop.number, prop.protocol, prop.spi) == (1, 1, b"")
    assert [(t.number, t.transform_id) for t in prop.transforms] == [(1, 1), (2, 1), (3, 1), (4, 1)]
    A = v1.Attribute
    assert prop.transforms[0].attributes == [
        A(1, 7), A(14, 256), A(2, 4), A(3, 65001), A(4, 14), A(11, 1),
        A(12, (28800).to_bytes(4, "big")),  # TLV form kept as bytes (RFC 2408 §3.3)
    ]
    assert prop.transforms[0].attributes[-1].as_int() == 28800
    assert [v.data for v in vids] == [S.VID_XAUTH, S.VID_DPD, S.VID_RFC3947, S.VID_DRAFT_02N,
                                      S.VID_FRAG, S.VID_UNITY]
    assert sa.body == S.ikev1_main_mode_1()[32:32 + len(sa.body)]  # HASH_I covers SAi_b
    assert sa.body[:8] == struct.pack("!II", 1, 1)


def test_main_mode_third_message(v1):
    ke, nonce, natd1, natd2 = v1.decode_message(S.ikev1_main_mode_3()).payloads
    assert ke == v1.KePayload(bytes(range(256)))
    assert nonce == v1.NoncePayload(S.NONCE_I[:20])
    assert natd1 == v1.NatDPayload(S.NATD_SRC, 20) and natd2.data == S.NATD_DST


def test_aggressive_mode_identity(v1):
    msg = v1.decode_message(S.ikev1_aggressive_1())
    ident = msg.payloads[3]
    assert ident == v1.IdPayload(2, 17, 500, b"client.example.org")  # RFC 2407 §4.6.2
    assert ident.body == struct.pack("!BBH", 2, 17, 500) + b"client.example.org"
    assert msg.exchange == 4


def test_encrypted_message_keeps_its_body(v1):
    data = S.ikev1_encrypted()
    msg = v1.decode_message(data)
    assert msg.is_encrypted and msg.payloads is None
    assert (msg.next_payload, msg.encrypted_body, msg.length) == (5, bytes(range(48)), 76)
    assert v1.encode_message(msg) == data


def test_fragment_payload(v1):
    (frag,) = v1.decode_message(S.ikev1_fragment()).payloads
    assert frag == v1.FragmentPayload(0x1234, 1, False, bytes(range(100)))
    assert frag.payload_type == 132


def test_quick_mode_plaintext(v1):
    hsh, sa, nonce, idci, idcr, natoa = decode_chain(v1, S.ikev1_quick_mode_plaintext())
    assert len(hsh.data) == 32
    (prop,) = sa.proposals
    assert (prop.protocol, prop.spi) == (3, bytes.fromhex("c3f2a1b0"))
    esp = prop.transforms[0]
    assert (esp.number, esp.transform_id) == (1, 12)
    assert [(a.type, a.value) for a in esp.attributes] == [
        (1, 1), (2, (3600).to_bytes(4, "big")), (4, 3), (5, 5), (6, 256)]
    assert nonce.data == S.NONCE_I
    assert (idci.id_type, idci.data) == (4, bytes([10, 99, 0, 7, 255, 255, 255, 255]))
    assert idcr.data == bytes(8)
    assert natoa == v1.NatOaPayload(1, bytes([192, 168, 1, 20]), 21)


def test_informational_plaintext(v1):
    hsh, contact, delete, dpd = decode_chain(v1, S.ikev1_informational_plaintext())
    assert contact == v1.NotifyPayload(1, 1, S.SPI_I + S.SPI_R, 24578)  # INITIAL-CONTACT
    spis = [bytes.fromhex("c3f2a1b0"), bytes.fromhex("0badf00d")]
    assert delete == v1.DeletePayload(1, 3, spis, 4)
    assert (dpd.type, dpd.data) == (36136, struct.pack("!I", 7))  # R-U-THERE (RFC 3706 §5)


def test_mode_config_with_libreswan_padding(v1):
    first, body = S.ikev1_mode_config_plaintext()
    hsh, attr = v1.decode_payloads(body, first)
    assert (attr.cfg_type, attr.identifier) == (2, 0x1D2E)
    assert attr.attributes == [v1.Attribute(16520, 0), v1.Attribute(16521, b"bob"),
                               v1.Attribute(16522, b"s3cret!")]
    assert "s3cret" not in repr(attr) and "<7 bytes>" in repr(attr)
    # the padding inside the payload is not kept (documented normalisation)
    reencoded_first, reencoded = v1.encode_payloads([hsh, attr])
    assert reencoded_first == first and len(reencoded) == len(body) - 2
    assert v1.decode_payloads(reencoded, first) == [hsh, attr]


def test_libreswan_message_padding_is_accepted_and_dropped(v1):
    data = S.ikev1_libreswan_padded()
    msg = v1.decode_message(data)
    assert msg.length == len(data) and msg.payloads[1] == v1.IdPayload(2, 0, 0, b"west1")
    reencoded = v1.encode_message(msg)
    assert reencoded[28:] == data[28:-3] and v1.decode_message(reencoded) == msg


def test_bytes_after_the_header_length_are_ignored(v1):
    data = S.ikev1_main_mode_1()
    msg = v1.decode_message(data + bytes(16))  # old Cisco clients append 16 zero bytes
    assert msg == v1.decode_message(data) and msg.length == len(data)
    assert v1.encode_message(msg) == data


def test_decrypted_body_padding_is_ignored(v1):
    first, body = S.ikev1_informational_plaintext()
    padded = body + bytes(11) + b"\x0b"  # RFC 2409 §5.3 style padding
    assert v1.decode_payloads(padded, first) == v1.decode_payloads(body, first)


@pytest.mark.parametrize("name", sorted(S.ikev1_messages()))
def test_messages_round_trip_exactly(v1, name):
    data = S.ikev1_messages()[name]
    msg = v1.decode_message(data)
    assert v1.encode_message(msg) == data
    assert v1.decode_message(data) == msg


@pytest.mark.parametrize("name", sorted(S.ikev1_chains()))
def test_chains_round_trip_exactly(v1, name):
    first, body = S.ikev1_chains()[name]
    assert v1.encode_payloads(v1.decode_payloads(body, first)) == (first, body)


def test_draft_nat_t_payload_types_are_kept(v1):
    items = [(130, bytes(16)), (131, struct.pack("!B3x", 5) + bytes(16))]
    natd, natoa = decode_chain(v1, chain(items))
    assert natd == v1.NatDPayload(bytes(16), 130)
    assert natoa == v1.NatOaPayload(5, bytes(16), 131)
    assert v1.encode_payloads([natd, natoa])[0] == 130


def test_unknown_payload_is_kept(v1):
    (unknown,) = decode_chain(v1, chain([(200, b"vendor-private")]))
    assert unknown == v1.UnknownPayload(200, b"vendor-private")


# ---- malformed input ---------------------------------------------------------------------


def _sa(proposals_bytes, doi=1, situation=1):
    return message([(1, struct.pack("!II", doi, situation) + proposals_bytes)])


def _proposal(nxt=0, length=None, protocol=1, spi=b"", transforms=b"", ntrans=0):
    length = length if length is not None else 8 + len(spi) + len(transforms)
    return struct.pack("!BBHBBBB", nxt, 0, length, 1, protocol, len(spi), ntrans) + spi + transforms


def _transform(nxt=0, length=None, attrs=b""):
    length = length if length is not None else 8 + len(attrs)
    return struct.pack("!BBHBBH", nxt, 0, length, 1, 1, 0) + attrs


VID = (13, S.VID_DPD)
VID_LEN = 20
SA_BODY = 32 + 8  # first proposal of an SA that is the first payload

MALFORMED = [
    ("short header", bytes(20), MalformedMessage, 0, "shorter than the 28-byte"),
    ("major version 2", header(S.SPI_I, S.SPI_R, 0, 0x20, 2, 0, 0, b""),
     InvalidMajorVersion, 17, "major version 2"),
    ("length < 28", S.ikev1_main_mode_1()[:24] + struct.pack("!I", 27) + S.ikev1_main_mode_1()[28:],
     MalformedMessage, 24, "header Length 27 < 28"),
    ("length beyond datagram", message([VID])[:-1], MalformedMessage, 24, "exceeds the datagram"),
    ("payload announced, none there", message([], next_payload=10),
     MalformedMessage, 28, "NONCE payload announced"),
    ("payload length beyond message",
     header(S.SPI_I, S.SPI_R, 10, 0x10, 2, 0, 0, struct.pack("!BBH", 0, 0, 30) + bytes(8)),
     MalformedMessage, 30, "exceeds"),
    ("four bytes after the last payload",
     header(S.SPI_I, S.SPI_R, 13, 0x10, 2, 0, 0, chain([VID])[1] + bytes(4)),
     MalformedMessage, 28 + VID_LEN, "4 bytes after the last payload"),
    ("nonzero padding", header(S.SPI_I, S.SPI_R, 13, 0x10, 2, 0, 0, chain([VID])[1] + b"\x00\x01"),
     MalformedMessage, 28 + VID_LEN, "2 bytes after the last payload"),
    ("proposal outside an SA", message([(2, bytes(8))]), MalformedMessage, 28, "outside an SA"),
    ("transform outside an SA", message([VID, (3, bytes(8))]),
     MalformedMessage, 28 + VID_LEN, "TRANSFORM payload outside"),
    ("65 payloads", message([VID] * 65), MalformedMessage, 28 + 64 * VID_LEN, "more than 64"),
    ("SA body of 4 bytes", message([(1, bytes(4))]), MalformedMessage, 32, "SA payload body of 4"),
    ("secrecy situation", _sa(_proposal(), situation=3), MalformedMessage, 36, "secrecy"),
    ("last proposal says more follow", _sa(_proposal(nxt=2)),
     MalformedMessage, SA_BODY, "Next Payload 2"),
    ("proposal says last but more follow", _sa(_proposal(nxt=0) + _proposal(nxt=0)),
     MalformedMessage, SA_BODY, "more proposals follow"),
    ("proposal length < 8", _sa(_proposal(length=6)),
     MalformedMessage, SA_BODY + 2, "Payload Length 6 < 8"),
    ("ISAKMP SPI of 4 bytes", _sa(_proposal(spi=bytes(4))),
     MalformedMessage, SA_BODY + 6, "SPI Size 4"),
    ("ESP SPI of 2 bytes", _sa(_proposal(protocol=3, spi=bytes(2))),
     MalformedMessage, SA_BODY + 6, "SPI Size 2"),
    ("transform next payload", _sa(_proposal(transforms=_transform(nxt=3), ntrans=1)),
     MalformedMessage, SA_BODY + 8, "Next Payload 3"),
    ("transform length < 8", _sa(_proposal(transforms=_transform(length=4) + bytes(4), ntrans=1)),
     MalformedMessage, SA_BODY + 10, "Payload Length 4 < 8"),
    ("fewer transforms than announced", _sa(_proposal(transforms=_transform(nxt=3), ntrans=2)),
     MalformedMessage, SA_BODY + 16, "transform 2 of 2"),
    ("more transforms than announced", _sa(_proposal(transforms=_transform() * 2, ntrans=1)),
     MalformedMessage, SA_BODY + 16, "8 bytes after its 1 transforms"),
    ("attribute truncated", _sa(_proposal(transforms=_transform(attrs=b"\x80\x01"), ntrans=1)),
     MalformedMessage, SA_BODY + 16, "attribute 1 truncated"),
    ("TLV attribute beyond the transform",
     _sa(_proposal(transforms=_transform(attrs=struct.pack("!HH", 12, 4) + b"\x00\x00"), ntrans=1)),
     MalformedMessage, SA_BODY + 18, "Length 4 exceeds"),
    ("ID body of 3 bytes", message([(5, bytes(3))]), MalformedMessage, 32, "ID payload body"),
    ("N body of 6 bytes", message([(11, bytes(6))]), MalformedMessage, 32, "N payload body"),
    ("N SPI beyond the payload", message([(11, struct.pack("!IBBH", 1, 1, 16, 24578) + bytes(8))]),
     MalformedMessage, 37, "SPI Size 16 exceeds"),
    ("D SPIs do not fill", message([(12, struct.pack("!IBBH", 1, 3, 4, 3) + bytes(8))]),
     MalformedMessage, 38, "do not fill"),
    ("D SPI size 0 with SPIs", message([(12, struct.pack("!IBBH", 1, 3, 0, 3))]),
     MalformedMessage, 38, "SPIs of size 0"),
    ("NAT-OA IPv4 with 16 bytes", message([(21, struct.pack("!B3x", 1) + bytes(16))]),
     MalformedMessage, 32, "NAT-OA: ID Type 1 with 16"),
    ("NAT-OA FQDN", message([(21, struct.pack("!B3x", 2) + b"host")]),
     MalformedMessage, 32, "ID Type 2"),
    ("FRAGMENT body of 2 bytes", message([(132, bytes(2))]), MalformedMessage, 32, "FRAGMENT"),
    ("ATTR body of 2 bytes", message([(14, bytes(2))], exchange=6),
     MalformedMessage, 32, "ATTR payload body"),
    ("ATTR trailing nonzero bytes",
     message([(14, struct.pack("!BBH", 1, 0, 1) + tv(16520, 0) + b"\x01")], exchange=6),
     MalformedMessage, 40, "ATTR: attribute 2 truncated"),
]


@pytest.mark.parametrize("name,data,exc,offset,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_messages(v1, name, data, exc, offset, words):
    with pytest.raises(exc) as err:
        v1.decode_message(data)
    assert type(err.value) is exc
    assert err.value.offset == offset
    assert words in err.value.reason
    assert 0 <= err.value.offset <= len(data)


def test_inner_chain_errors_are_shifted_by_base_offset(v1):
    with pytest.raises(MalformedMessage) as err:
        v1.decode_payloads(chain([(8, bytes(20)), (5, b"\x01")])[1], 8, base_offset=28)
    assert err.value.offset == 28 + 24 + 4


def test_caps(v1):
    attrs = b"".join(tv(16520, 0) for _ in range(257))
    with pytest.raises(MalformedMessage, match="more than 256 attributes"):
        v1.decode_message(message([(14, struct.pack("!BBH", 1, 0, 1) + attrs)], exchange=6))
    with pytest.raises(MalformedMessage, match="more than 1024"):
        v1.decode_message(message([(12, struct.pack("!IBBH", 1, 3, 4, 1025) + bytes(4100))]))
    transforms = _transform(nxt=3) * 127 + _transform()
    many = _proposal(nxt=2, transforms=transforms, ntrans=128) * 2 + _proposal(
        transforms=_transform(), ntrans=1)
    with pytest.raises(MalformedMessage, match="more than 256 transforms"):
        v1.decode_message(_sa(many))


# ---- encoding ----------------------------------------------------------------------------


def test_hand_built_main_mode_first_message_matches_the_wire(v1):
    def transform(number, encr, keylen, hash_alg, auth, group):
        attrs = [v1.Attribute(1, encr)]
        if keylen:
            attrs.append(v1.Attribute(14, keylen))
        attrs += [v1.Attribute(2, hash_alg), v1.Attribute(3, auth), v1.Attribute(4, group),
                  v1.Attribute(11, 1), v1.Attribute(12, (28800).to_bytes(4, "big"))]
        return v1.Transform(number, 1, attrs)

    sa = v1.SaPayload(1, 1, [v1.Proposal(1, 1, b"", [
        transform(1, 7, 256, 4, 65001, 14), transform(2, 7, 128, 2, 65001, 14),
        transform(3, 7, 256, 4, 1, 19), transform(4, 5, 0, 2, 1, 2)])])
    vids = [v1.VendorIdPayload(v) for v in (S.VID_XAUTH, S.VID_DPD, S.VID_RFC3947,
                                            S.VID_DRAFT_02N, S.VID_FRAG, S.VID_UNITY)]
    msg = v1.Message(S.SPI_I, S.ZERO_SPI, 2, 0, 0, [sa, *vids])
    assert msg.next_payload == 1 and msg.length is None
    assert v1.encode_message(msg) == S.ikev1_main_mode_1()
    assert sa.body == S.ikev1_main_mode_1()[32:32 + len(sa.body)]


def test_phase1_attribute_helper_is_rfc_2409_form():
    # TV: AF bit set and the value in place of the length (RFC 2408 §3.3)
    assert tv(1, 7) == bytes.fromhex("80010007")
    assert tlv(12, b"\x00\x00\x70\x80") == bytes.fromhex("000c000400007080")
    assert phase1_attrs(5, 0, 2, 1, 2).startswith(bytes.fromhex("800100058002000280030001"))
    assert v1_sa([])[:8] == bytes.fromhex("0000000100000001")


def test_encrypted_message_encoding(v1):
    msg = v1.Message(S.SPI_I, S.SPI_R, 5, 0x01, 0x1234, encrypted_body=bytes(32), next_payload=8)
    data = v1.encode_message(msg)
    assert data[16:20] == bytes([8, 0x10, 5, 1]) and len(data) == 60
    assert v1.decode_message(data) == msg
    with pytest.raises(ValueError):
        v1.encode_message(v1.Message(S.SPI_I, S.SPI_R, 5, 0x01, 0, payloads=[]))
    with pytest.raises(ValueError):
        v1.encode_message(
            v1.Message(S.SPI_I, S.SPI_R, 5, 0, 0, encrypted_body=b"x", next_payload=8))
    with pytest.raises(ValueError):
        v1.encode_message(v1.Message(S.SPI_I, S.SPI_R, 5, 0x01, 0, encrypted_body=b"x"))


def test_encode_header(v1):
    head = v1.encode_header(S.SPI_I, S.SPI_R, 8, 32, 0x01, 0xDEADBEEF, 92)
    assert head == S.SPI_I + S.SPI_R + bytes([8, 0x10, 32, 1]) + struct.pack("!II", 0xDEADBEEF, 92)


def test_tv_and_tlv_forms_round_trip(v1):
    attrs = [v1.Attribute(11, 1), v1.Attribute(12, b"\x00\x00\x0e\x10"), v1.Attribute(12, 3600)]
    tr = v1.Transform(1, 12, attrs)
    sa = v1.SaPayload(1, 1, [v1.Proposal(1, 3, bytes(4), [tr])])
    (decoded,) = v1.decode_payloads(*reversed(v1.encode_payloads([sa])))
    assert decoded == sa
    kinds = [type(a.value) for a in decoded.proposals[0].transforms[0].attributes]
    assert kinds == [int, bytes, int]


@pytest.mark.parametrize("build,error", [
    (lambda v1: v1.SaPayload(1, 1, [v1.Proposal(1, 1, bytes(4))]), ValueError),
    (lambda v1: v1.SaPayload(1, 2, []), ValueError),
    (lambda v1: v1.SaPayload(1, 1, [v1.Proposal(1, 3, bytes(4), [v1.Transform(1, 3, [
        v1.Attribute(1, 70000)])])]), ValueError),
    (lambda v1: v1.DeletePayload(1, 3, [bytes(4), bytes(3)], 4), ValueError),
    (lambda v1: v1.NatOaPayload(1, bytes(16)), ValueError),
    (lambda v1: v1.NatDPayload(bytes(16), 21), ValueError),
    (lambda v1: v1.UnknownPayload(2, b""), ValueError),
    (lambda v1: v1.AttributePayload(1, 0, [(16521, b"bob")]), TypeError),
    (lambda v1: v1.SaPayload(1, 1, [v1.Transform(1, 1)]), TypeError),
    (lambda v1: v1.HashPayload(None), TypeError),
])
def test_unrepresentable_objects_raise(v1, build, error):
    with pytest.raises(error):
        v1.encode_payloads([build(v1)])


def test_repr_hides_hash_and_signature(v1):
    assert repr(v1.HashPayload(b"\x07" * 20)) == "V1HashPayload(data=<20 bytes>)"
    assert repr(v1.SigPayload(b"\x07" * 64)) == "V1SigPayload(data=<64 bytes>)"
    assert repr(v1.Attribute(16521, b"bob")) == "V1Attribute(type=16521, value=b'bob')"
