"""IKEv2 codec (RFC 7296 §3, RFC 7383 §2.5): decoding realistic messages field by field,
exact round trips, hand-built objects, and every malformed-input check with its offset.

Every test runs against both builds of the codec (the compiled extension and the same
source uncompiled); test_compiled_codec_is_the_extension fails when the extension did
not build.
"""

from __future__ import annotations

import struct

import pytest

from ikesrv.errors import InvalidMajorVersion, MalformedMessage, UnsupportedCriticalPayload
from tests.unit import codec_samples as S
from tests.unit.codec_samples import chain, header, v2_notify, v2_sa, v2_transform, v2_ts


@pytest.fixture(params=["compiled", "reference"])
def v2(request):
    return S.api(S.builds()[request.param]).v2


def test_compiled_codec_is_the_extension():
    import ikesrv._fast.codec as codec
    from ikesrv.wire import _reference, ikev1, ikev2

    assert codec.__file__.endswith(".so"), (
        f"ikesrv._fast.codec is {codec.__file__}: the Cython extension did not build"
    )
    assert ikev2.Message is codec.Message and ikev1.Message is codec.V1Message
    assert _reference.codec.__file__.endswith("codec.py")
    assert _reference.codec.Message is not codec.Message


def message(body_items, *, first=None, next_payload=None, critical=(), exchange=34, flags=0x08):
    """An IKEv2 message around a payload chain (see codec_samples.chain)."""
    ftype, body = chain(body_items, critical)
    return header(S.SPI_I, S.SPI_R, ftype if next_payload is None else next_payload, 0x20,
                  exchange, flags, 0, body)


def decode_chain(v2, first_and_body):
    first, body = first_and_body
    return v2.decode_payloads(body, first)


# ---- decoding realistic messages ---------------------------------------------------------


def test_ike_sa_init_request_fields(v2):
    msg = v2.decode_message(S.ikev2_sa_init_request())
    assert (msg.spi_i, msg.spi_r, msg.exchange, msg.flags, msg.message_id) == (
        S.SPI_I, S.ZERO_SPI, 34, 0x08, 0)
    assert msg.version == 0x20 and msg.length == 384 and msg.sk_offset is None
    assert msg.is_initiator and not msg.is_response
    sa, ke, nonce, *notifies, vid1, vid2 = msg.payloads
    assert [p.number for p in sa.proposals] == [1, 2]
    first = sa.proposals[0]
    assert (first.protocol, first.spi, len(first.transforms)) == (1, b"", 8)
    assert first.transforms[0] == v2.Transform(1, 12, 128)
    assert first.transforms[2] == v2.Transform(3, 12)
    assert [(t.type, t.id, t.key_length) for t in sa.proposals[1].transforms] == [
        (1, 20, 128), (1, 20, 256), (2, 5, None), (2, 7, None), (4, 31, None), (4, 19, None)]
    assert (ke.group, ke.data) == (31, S.KE_X25519)
    assert nonce.data == S.NONCE_I
    assert [(n.type, n.protocol, n.spi) for n in notifies] == [
        (16388, 0, b""), (16389, 0, b""), (16430, 0, b""), (16431, 0, b""), (16406, 0, b"")]
    assert notifies[0].data == S.NATD_SRC
    assert notifies[3].data == bytes.fromhex("0002000300040005")
    assert (vid1.data, vid2.data) == (S.VID_STRONGSWAN, S.VID_MS_NT5)
    assert [p.payload_type for p in msg.payloads] == [33, 34, 40, 41, 41, 41, 41, 41, 43, 43]


def test_ike_auth_plaintext_fields(v2):
    first, body = S.ikev2_auth_plaintext()
    idi, contact, idr, cp, sa, tsi, tsr, *notifies = v2.decode_payloads(body, first)
    assert (idi.payload_type, idi.id_type, idi.data) == (35, 3, b"alice@example.org")
    assert idi.body == bytes([3, 0, 0, 0]) + b"alice@example.org"  # RFC 7296 §2.15
    assert contact.type == 16384
    assert (idr.payload_type, idr.id_type, idr.data) == (36, 2, b"vpn.example.org")
    assert cp == v2.CpPayload(1, [(1, b""), (3, b""), (8, b""), (10, b"")])
    assert [(p.protocol, p.spi) for p in sa.proposals] == [(3, bytes.fromhex("c3f2a1b0"))] * 2
    assert sa.proposals[0].transforms == [v2.Transform(1, 20, 256), v2.Transform(5, 0)]
    v4 = v2.TrafficSelector(7, 0, 0, 65535, bytes(4), b"\xff" * 4)
    v6 = v2.TrafficSelector(8, 0, 0, 65535, bytes(16), b"\xff" * 16)
    assert tsi == v2.TsPayload(44, [v4, v6]) and tsr == v2.TsPayload(45, [v4, v6])
    assert [n.type for n in notifies] == [16396, 16394, 16395]


def test_ike_auth_response_and_eap(v2):
    first, body = S.ikev2_auth_response_plaintext()
    idr, cert, auth, eap = v2.decode_payloads(body, first)
    assert (cert.encoding, cert.data) == (4, S.CERT_DER)
    assert (auth.method, len(auth.data)) == (14, 80)
    assert eap == v2.EapPayload(1, 1, 1, b"")  # Request/Identity (RFC 3748 §5.1)
    (ident,) = decode_chain(v2, S.ikev2_eap_plaintexts()[0])
    assert ident == v2.EapPayload(2, 1, 1, b"alice")
    (mschap,) = decode_chain(v2, S.ikev2_eap_plaintexts()[1])
    assert (mschap.code, mschap.identifier, mschap.eap_type) == (2, 8, 26)
    assert mschap.data[:4] == bytes([2, 7, 0, 59])
    (success,) = decode_chain(v2, S.ikev2_eap_plaintexts()[2])
    assert success == v2.EapPayload(3, 9)


def test_sk_payload_is_last_and_located(v2):
    data = S.ikev2_auth_request()
    msg = v2.decode_message(data)
    (sk,) = msg.payloads
    assert type(sk) is v2.SkPayload and sk.payload_type == 46
    assert sk.next_payload == 35  # the first inner payload is IDi
    assert msg.sk_offset == 28 and sk.data == data[32:]


def test_skf_payload(v2):
    msg = v2.decode_message(S.ikev2_skf_message())
    (skf,) = msg.payloads
    assert skf == v2.SkfPayload(0, 2, 3, bytes(range(200)))
    assert msg.sk_offset == 28


def test_informational_delete_and_unknown_kept(v2):
    delete, notify, unknown = decode_chain(v2, S.ikev2_informational_delete())
    assert delete == v2.DeletePayload(3, [bytes.fromhex("c3f2a1b0"), bytes.fromhex("0badf00d")])
    assert notify.type == 40960 and notify.data == b"private"
    assert unknown == v2.UnknownPayload(49, False, b"opaque")


def test_delete_of_the_ike_sa(v2):
    (delete,) = decode_chain(v2, chain([(42, struct.pack("!BBH", 1, 0, 0))]))
    assert delete == v2.DeletePayload(1) and delete.effective_spi_size() == 0
    assert v2.encode_payload_body(delete) == bytes([1, 0, 0, 0])


@pytest.mark.parametrize("name", sorted(S.ikev2_messages()))
def test_messages_round_trip_exactly(v2, name):
    data = S.ikev2_messages()[name]
    msg = v2.decode_message(data)
    assert v2.encode_message(msg) == data
    assert v2.decode_message(v2.encode_message(msg)) == msg


@pytest.mark.parametrize("name", sorted(S.ikev2_chains()))
def test_chains_round_trip_exactly(v2, name):
    first, body = S.ikev2_chains()[name]
    payloads = v2.decode_payloads(body, first)
    assert v2.encode_payloads(payloads) == (first, body)


def test_accepts_bytes_like_input(v2):
    data = S.ikev2_sa_init_request()
    assert v2.decode_message(bytearray(data)) == v2.decode_message(memoryview(data))
    with pytest.raises(TypeError):
        v2.decode_message(data.hex())


def test_peek_header(v2):
    assert v2.peek_header(S.ikev2_auth_request()) == (
        S.SPI_I, S.SPI_R, 46, 0x20, 35, 0x08, 1, len(S.ikev2_auth_request()))
    with pytest.raises(MalformedMessage) as err:
        v2.peek_header(bytes(27))
    assert err.value.offset == 0


# ---- malformed input: (bytes, exception, offset, words in the reason) -------------------

NONCE = (40, bytes(16))
NONCE_LEN = 4 + 16


def _bad_sa(proposal_bytes):
    return message([(33, proposal_bytes)])


def _proposal(last=0, length=None, number=1, protocol=1, spi=b"", transforms=b"", ntrans=None):
    ntrans = ntrans if ntrans is not None else 0
    length = length if length is not None else 8 + len(spi) + len(transforms)
    head = struct.pack("!BBHBBBB", last, 0, length, number, protocol, len(spi), ntrans)
    return head + spi + transforms


def _transform_raw(last, length, ttype=1, tid=12, attrs=b""):
    return struct.pack("!BBHBBH", last, 0, length, ttype, 0, tid) + attrs


MALFORMED = [
    ("short header", bytes(27), MalformedMessage, 0, "shorter than the 28-byte"),
    ("major version 1", header(S.SPI_I, S.SPI_R, 0, 0x10, 34, 8, 0, b""),
     InvalidMajorVersion, 17, "major version 1"),
    ("major version 3", header(S.SPI_I, S.SPI_R, 0, 0x30, 34, 8, 0, b""),
     InvalidMajorVersion, 17, "major version 3"),
    ("length beyond datagram", message([NONCE])[:-1], MalformedMessage, 24, "header Length"),
    ("trailing byte", message([NONCE]) + b"\x00", MalformedMessage, 24, "!= datagram length"),
    ("payload announced, none there", message([], next_payload=40),
     MalformedMessage, 28, "NONCE payload announced"),
    ("payload length < 4",
     header(S.SPI_I, S.SPI_R, 40, 0x20, 34, 8, 0, struct.pack("!BBH", 0, 0, 3)),
     MalformedMessage, 30, "Payload Length 3 < 4"),
    ("payload length beyond message",
     header(S.SPI_I, S.SPI_R, 40, 0x20, 34, 8, 0, struct.pack("!BBH", 0, 0, 9) + b"abc"),
     MalformedMessage, 30, "exceeds"),
    ("bytes after the last payload",
     header(S.SPI_I, S.SPI_R, 40, 0x20, 34, 8, 0, chain([NONCE])[1] + bytes(4)),
     MalformedMessage, 28 + NONCE_LEN, "4 bytes after the last payload"),
    ("unknown critical payload", message([(200, b"x")], critical=(200,)),
     UnsupportedCriticalPayload, 28, "critical payload type 200"),
    ("SK not last", message([(46, bytes(32)), NONCE]),
     MalformedMessage, 28 + 36, "not the last"),
    ("65 payloads", message([NONCE] * 65), MalformedMessage, 28 + 64 * NONCE_LEN, "more than 64"),
    ("proposal Last Substruc", _bad_sa(_proposal(last=2)), MalformedMessage, 32, "Last Substruc 2"),
    ("proposal length < 8", _bad_sa(_proposal(length=7)),
     MalformedMessage, 34, "Proposal Length 7"),
    ("proposal longer than SA", _bad_sa(_proposal(length=9)), MalformedMessage, 34, "exceeds"),
    ("IKE SPI of 4 bytes", _bad_sa(_proposal(spi=bytes(4))), MalformedMessage, 38, "SPI Size 4"),
    ("ESP SPI of 8 bytes", _bad_sa(_proposal(protocol=3, spi=bytes(8))),
     MalformedMessage, 38, "SPI Size 8"),
    ("transform Last Substruc",
     _bad_sa(_proposal(transforms=_transform_raw(3, 8), ntrans=1)),
     MalformedMessage, 40, "Last Substruc 3"),
    ("transform length < 8",
     _bad_sa(_proposal(transforms=_transform_raw(0, 7) + b"\x00", ntrans=1)),
     MalformedMessage, 42, "Transform Length 7 < 8"),
    ("fewer transforms than announced",
     _bad_sa(_proposal(transforms=_transform_raw(3, 8), ntrans=2)),
     MalformedMessage, 48, "transform 2 of 2: 0 bytes left"),
    ("more transforms than announced",
     _bad_sa(_proposal(transforms=_transform_raw(0, 8) + _transform_raw(0, 8), ntrans=1)),
     MalformedMessage, 48, "8 bytes after its 1 transforms"),
    ("KEY_LENGTH in TLV form",
     _bad_sa(_proposal(transforms=_transform_raw(0, 14, attrs=struct.pack("!HHH", 14, 2, 128)),
                       ntrans=1)), MalformedMessage, 48, "TLV form"),
    ("KEY_LENGTH twice",
     _bad_sa(_proposal(transforms=_transform_raw(0, 16, attrs=struct.pack("!HHHH", 0x800E, 128,
                                                                          0x800E, 256)),
                       ntrans=1)), MalformedMessage, 52, "twice"),
    ("attribute truncated",
     _bad_sa(_proposal(transforms=_transform_raw(0, 10, attrs=b"\x80\x0e"), ntrans=1)),
     MalformedMessage, 48, "attribute truncated"),
    ("TLV attribute longer than the transform",
     _bad_sa(_proposal(transforms=_transform_raw(0, 14, attrs=struct.pack("!HHH", 17, 5, 0)),
                       ntrans=1)), MalformedMessage, 50, "attribute length 5"),
    ("KE body of 3 bytes", message([(34, b"\x00\x1f\x00")]),
     MalformedMessage, 32, "KE payload body"),
    ("ID body of 2 bytes", message([(35, b"\x02\x00")]), MalformedMessage, 32, "IDi payload body"),
    ("AUTH body of 1 byte", message([(39, b"\x02")]), MalformedMessage, 32, "AUTH payload body"),
    ("empty CERT", message([(37, b"")]), MalformedMessage, 32, "without Encoding"),
    ("notify SPI beyond the payload", message([(41, struct.pack("!BBH", 3, 4, 16391) + b"ab")]),
     MalformedMessage, 33, "SPI Size 4 exceeds"),
    ("delete ESP SPI size 3", message([(42, struct.pack("!BBH", 3, 3, 1) + b"abc")]),
     MalformedMessage, 33, "SPI Size 3"),
    ("delete count does not fill", message([(42, struct.pack("!BBH", 3, 4, 2) + bytes(4))]),
     MalformedMessage, 34, "do not fill"),
    ("TS v4 selector length 15",
     message([(44, struct.pack("!B3x", 1) + struct.pack("!BBHHH", 7, 0, 15, 0, 65535) + bytes(7))]),
     MalformedMessage, 38, "Selector Length 15 != 16"),
    ("TS v6 selector with v4 length",
     message([(44, v2_ts([(8, 0, 0, 65535, bytes(4), bytes(4))]))]),
     MalformedMessage, 38, "!= 40 for type 8"),
    ("TS count beyond the payload",
     message([(45, struct.pack("!B3x", 2) + v2_ts([(7, 6, 0, 0, bytes(4), bytes(4))])[4:])]),
     MalformedMessage, 52, "traffic selector 2 of 2 truncated"),
    ("TS selector length < 4", message([(44, struct.pack("!B3xBBH", 1, 9, 0, 2))]),
     MalformedMessage, 38, "Selector Length 2 < 4"),
    ("CP attribute longer than the payload", message([(47, struct.pack("!B3xHH", 1, 1, 4))]),
     MalformedMessage, 38, "Length 4 exceeds"),
    ("EAP length mismatch", message([(48, struct.pack("!BBHB", 2, 1, 9, 1) + b"bob")]),
     MalformedMessage, 34, "EAP: Length 9 != the 8 bytes"),
    ("EAP success with data", message([(48, struct.pack("!BBH", 3, 1, 6) + b"xx")]),
     MalformedMessage, 36, "Success/Failure with 2 bytes"),
    ("EAP request without type", message([(48, struct.pack("!BBH", 1, 1, 4))]),
     MalformedMessage, 36, "without a Type"),
    ("SKF fragment 0", message([(53, struct.pack("!HH", 0, 3) + bytes(16))]),
     MalformedMessage, 32, "Fragment Number 0"),
    ("SKF fragment beyond total", message([(53, struct.pack("!HH", 4, 3) + bytes(16))]),
     MalformedMessage, 32, "Fragment Number 4"),
    ("SKF body of 2 bytes", message([(53, b"\x00\x01")]), MalformedMessage, 32, "SKF payload body"),
]


@pytest.mark.parametrize("name,data,exc,offset,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_messages(v2, name, data, exc, offset, words):
    with pytest.raises(exc) as err:
        v2.decode_message(data)
    assert type(err.value) is exc
    assert err.value.offset == offset
    assert words in err.value.reason
    assert 0 <= err.value.offset <= len(data)


def test_unsupported_critical_payload_carries_its_type(v2):
    with pytest.raises(UnsupportedCriticalPayload) as err:
        v2.decode_message(message([NONCE, (51, b"gsa")], critical=(51,)))
    assert err.value.payload_type == 51 and err.value.offset == 28 + NONCE_LEN
    assert err.value.notify_data == bytes([51])  # RFC 7296 §3.10.1


def test_unknown_non_critical_payload_is_kept(v2):
    msg = v2.decode_message(message([(200, b"future"), NONCE]))
    assert msg.payloads[0] == v2.UnknownPayload(200, False, b"future")
    assert msg.payloads[1] == v2.NoncePayload(bytes(16))


def test_inner_chain_errors_are_shifted_by_base_offset(v2):
    body = chain([NONCE, (34, b"\x00")])[1]
    with pytest.raises(MalformedMessage) as err:
        v2.decode_payloads(body, 40, base_offset=100)
    assert err.value.offset == 100 + NONCE_LEN + 4
    with pytest.raises(MalformedMessage) as err:
        v2.decode_payloads(chain([(46, bytes(20))])[1], 46, 32)
    assert err.value.offset == 32 and "inside an encrypted payload" in err.value.reason
    with pytest.raises(ValueError):
        v2.decode_payloads(b"", 256)


def test_caps_on_substructures(v2):
    # 65 proposals of 8 bytes each: a small message that would make 65 objects and more
    props = b"".join(_proposal(last=2, protocol=9) for _ in range(64)) + _proposal(protocol=9)
    with pytest.raises(MalformedMessage, match="more than 64 proposals"):
        v2.decode_message(_bad_sa(props))
    ts = struct.pack("!B3x", 129) + b"".join(
        struct.pack("!BBH", 9, 0, 4) for _ in range(129))
    with pytest.raises(MalformedMessage, match="more than 128"):
        v2.decode_message(message([(44, ts)]))
    many = b"".join(struct.pack("!HH", 0x8000 | 17, 1) for _ in range(33))
    with pytest.raises(MalformedMessage, match="more than 32 attributes"):
        v2.decode_message(_bad_sa(_proposal(transforms=_transform_raw(0, 8 + len(many), attrs=many),
                                            ntrans=1)))


def test_unknown_ts_type_is_kept_raw(v2):
    (ts,) = decode_chain(v2, chain([(44, struct.pack("!B3xBBH", 1, 10, 0, 8) + b"labl")]))
    assert ts.selectors == [v2.RawTrafficSelector(10, b"labl")]


def test_unknown_transform_attributes_are_kept(v2):
    tr = v2_transform(1, 12, 128, last=True, extra=struct.pack("!HH", 0x8011, 7)
                      + struct.pack("!HH", 18, 2) + b"xy")
    sa = struct.pack("!BBHBBBB", 0, 0, 8 + len(tr), 1, 1, 0, 1) + tr
    (payload,) = decode_chain(v2, chain([(33, sa)]))
    assert payload.proposals[0].transforms[0] == v2.Transform(1, 12, 128, [(17, 7), (18, b"xy")])


# ---- normalisations (documented in the codec) ---------------------------------------------


def test_reserved_bits_and_critical_bit_of_known_payloads_are_normalised(v2):
    body = struct.pack("!BBH", 0, 0xFF, NONCE_LEN) + bytes(16)  # C=1 and reserved bits set
    data = header(S.SPI_I, S.SPI_R, 40, 0x20, 34, 8, 0, body)
    msg = v2.decode_message(data)
    assert msg.payloads == [v2.NoncePayload(bytes(16))]
    assert v2.encode_message(msg) == message([NONCE])


def test_key_length_is_written_first(v2):
    tr = v2_transform(1, 12, None, last=True,
                      extra=struct.pack("!HH", 0x8011, 7) + struct.pack("!HH", 0x800E, 128))
    sa = struct.pack("!BBHBBBB", 0, 0, 8 + len(tr), 1, 1, 0, 1) + tr
    (payload,) = decode_chain(v2, chain([(33, sa)]))
    assert payload.proposals[0].transforms[0] == v2.Transform(1, 12, 128, [(17, 7)])
    reencoded = v2.encode_payload_body(payload)
    assert reencoded != sa and decode_chain(v2, chain([(33, reencoded)])) == [payload]


# ---- encoding hand-built objects ---------------------------------------------------------


def test_hand_built_sa_init_request_matches_the_wire(v2):
    proposals = [
        v2.Proposal(number, protocol, spi, [v2.Transform(*t) for t in transforms])
        for number, protocol, spi, transforms in S.IKE_PROPOSALS
    ]
    msg = v2.Message(S.SPI_I, S.ZERO_SPI, 34, 0x08, 0, [
        v2.SaPayload(proposals),
        v2.KePayload(31, S.KE_X25519),
        v2.NoncePayload(S.NONCE_I),
        v2.NotifyPayload(16388, S.NATD_SRC),
        v2.NotifyPayload(16389, S.NATD_DST),
        v2.NotifyPayload(16430),
        v2.NotifyPayload(16431, bytes.fromhex("0002000300040005")),
        v2.NotifyPayload(16406),
        v2.VendorIdPayload(S.VID_STRONGSWAN),
        v2.VendorIdPayload(S.VID_MS_NT5),
    ])
    assert msg.length is None and msg.version == 0x20
    assert v2.encode_message(msg) == S.ikev2_sa_init_request()


def test_hand_built_inner_chain_matches_the_wire(v2):
    first, body = S.ikev2_auth_response_plaintext()
    payloads = [
        v2.IdPayload(36, 2, b"vpn.example.org"),
        v2.CertPayload(4, S.CERT_DER),
        v2.AuthPayload(14, bytes(range(80))),
        v2.EapPayload(1, 1, 1),
    ]
    assert v2.encode_payloads(payloads) == (first, body)


def test_sk_payload_next_payload_names_the_inner_chain(v2):
    first, inner = v2.encode_payloads([v2.IdPayload(35, 2, b"a"), v2.AuthPayload(2, bytes(4))])
    assert first == 35
    sk = v2.SkPayload(first, bytes(32))
    _, outer = v2.encode_payloads([v2.NoncePayload(b"n"), sk])
    assert outer[0] == 46 and outer[5] == 35  # nonce -> SK; SK -> IDi
    with pytest.raises(ValueError, match="last"):
        v2.encode_payloads([sk, v2.NoncePayload(b"n")])


def test_encode_header(v2):
    head = v2.encode_header(S.SPI_I, S.SPI_R, 46, 35, 0x08, 7, 300)
    assert head == S.SPI_I + S.SPI_R + bytes([46, 0x20, 35, 0x08]) + struct.pack("!II", 7, 300)


def test_id_body_is_what_auth_signs(v2):
    ident = v2.IdPayload(35, 2, b"client.example.org")
    assert ident.body == v2.encode_payload_body(ident) == b"\x02\x00\x00\x00client.example.org"
    data = message([(35, b"\x02\x00\x00\x07client")])  # nonzero RESERVED is part of the body
    decoded = v2.decode_message(data).payloads[0]
    assert decoded.body == b"\x02\x00\x00\x07client"


def test_unknown_payload_critical_bit_is_encoded(v2):
    first, body = v2.encode_payloads([v2.UnknownPayload(200, True, b"x")])
    assert (first, body[1]) == (200, 0x80)
    with pytest.raises(UnsupportedCriticalPayload):
        v2.decode_payloads(body, first)


@pytest.mark.parametrize("build,error", [
    (lambda v2: v2.NotifyPayload(70000), ValueError),
    (lambda v2: v2.KePayload(-1, b""), ValueError),
    (lambda v2: v2.IdPayload(33, 2, b"x"), ValueError),
    (lambda v2: v2.TsPayload(44, [v2.TrafficSelector(7, 0, 0, 65535, bytes(16), bytes(16))]),
     ValueError),
    (lambda v2: v2.TsPayload(44, [v2.RawTrafficSelector(7, b"")]), ValueError),
    (lambda v2: v2.EapPayload(1, 1), ValueError),
    (lambda v2: v2.EapPayload(3, 1, None, b"x"), ValueError),
    (lambda v2: v2.DeletePayload(3, [bytes(4), bytes(8)]), ValueError),
    (lambda v2: v2.SaPayload([v2.Proposal(1, 3, bytes(8))]), ValueError),
    (lambda v2: v2.SkfPayload(0, 0, 1, b""), ValueError),
    (lambda v2: v2.NoncePayload("text"), TypeError),
    (lambda v2: v2.SaPayload([v2.Transform(1, 12)]), TypeError),
])
def test_unrepresentable_objects_raise(v2, build, error):
    with pytest.raises(error):
        v2.encode_payloads([build(v2)])


def test_encode_message_checks(v2):
    with pytest.raises(ValueError):
        v2.encode_message(v2.Message(bytes(4), S.SPI_R, 34, 8, 0, []))
    with pytest.raises(ValueError):
        v2.encode_message(v2.Message(S.SPI_I, S.SPI_R, 34, 8, 0, [], version=0x10))
    with pytest.raises(TypeError):
        v2.encode_message(object())
    with pytest.raises(TypeError):
        v2.encode_payloads([object()])


def test_payload_too_long_for_its_length_field(v2):
    with pytest.raises(ValueError, match="16-bit"):
        v2.encode_payloads([v2.VendorIdPayload(bytes(65532))])


def test_repr_hides_auth_and_eap_data(v2):
    assert "<32 bytes>" in repr(v2.AuthPayload(2, b"\x01" * 32))
    assert "\\x01" not in repr(v2.AuthPayload(2, b"\x01" * 32))
    assert repr(v2.EapPayload(2, 5, 26, b"password")) == (
        "EapPayload(code=2, identifier=5, eap_type=26, data=<8 bytes>)")
    assert repr(v2.Transform(1, 12, 256)) == (
        "Transform(type=1, id=12, key_length=256, attributes=[])")


def test_equality_is_by_value_and_type(v2):
    assert v2.NoncePayload(b"a") == v2.NoncePayload(b"a")
    assert v2.NoncePayload(b"a") != v2.NoncePayload(b"b")
    assert v2.NoncePayload(b"a") != v2.VendorIdPayload(b"a")
    assert v2.DeletePayload(3, [], spi_size=4) == v2.DeletePayload(3)
    assert v2.Message(S.SPI_I, S.SPI_R, 34, 0x20, 0).is_response


def test_every_payload_class_has_a_payload_type(v2):
    assert [cls.payload_type for cls in (
        v2.SaPayload, v2.KePayload, v2.CertPayload, v2.CertReqPayload, v2.AuthPayload,
        v2.NoncePayload, v2.NotifyPayload, v2.DeletePayload, v2.VendorIdPayload, v2.SkPayload,
        v2.CpPayload, v2.EapPayload, v2.SkfPayload)] == [
        33, 34, 37, 38, 39, 40, 41, 42, 43, 46, 47, 48, 53]
    assert v2.IdPayload(36, 1, b"").payload_type == 36
    assert v2.TsPayload(45).payload_type == 45


def test_sa_helpers_in_samples_agree_with_the_codec(v2):
    # the sample builders are independent of the codec; check one against RFC 7296 §3.3.5
    assert v2_transform(1, 12, 256, last=True) == bytes.fromhex("0000000c0100000c800e0100")
    assert v2_notify(16390, b"c") == bytes.fromhex("0000400663")
    assert v2_sa([(1, 1, b"", [(4, 31)])]) == bytes.fromhex("000000100101000100000008040000" "1f")
