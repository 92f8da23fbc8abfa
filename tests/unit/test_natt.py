"""NAT-T framing on UDP 4500 (RFC 3948 §2.2 non-ESP marker, §2.3 keepalive)."""

from __future__ import annotations

import pytest

from ikesrv.errors import MalformedMessage
from ikesrv.wire import ikev2, natt
from tests.unit import codec_samples as S

CASES = [
    # (datagram, kind, payload)                            RFC 3948
    (b"\xff", natt.KEEPALIVE, b""),  # §2.3: a single 0xFF octet
    (b"\x00\x00\x00\x00" + S.ikev2_auth_request(), natt.IKE, S.ikev2_auth_request()),  # §2.2
    (b"\x00\x00\x00\x00", natt.IKE, b""),  # a marker with nothing after it: the decoder says why
    (bytes.fromhex("c3f2a1b000000001") + bytes(40), natt.ESP,
     bytes.fromhex("c3f2a1b000000001") + bytes(40)),  # §2.1: ESP SPI is never zero
    (b"\x00\x00\x00\x01" + bytes(8), natt.ESP, b"\x00\x00\x00\x01" + bytes(8)),
]


@pytest.mark.parametrize("data,kind,payload", CASES)
def test_classify(data, kind, payload):
    assert natt.classify(data) == (kind, payload)
    assert natt.classify(bytearray(data)) == (kind, payload)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xff", b"\x00\x00\x00"])
def test_too_short_to_tell(data):
    with pytest.raises(MalformedMessage) as err:
        natt.classify(data)
    assert err.value.offset == 0 and "port 4500" in err.value.reason


def test_add_marker_round_trips():
    message = S.ikev2_sa_init_request()
    framed = natt.add_marker(message)
    assert framed[:4] == b"\x00\x00\x00\x00" and framed[4:] == message
    kind, ike = natt.classify(framed)
    assert kind == natt.IKE and ikev2.decode_message(ike) == ikev2.decode_message(message)
