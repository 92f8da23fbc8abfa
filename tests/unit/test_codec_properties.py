"""Hypothesis properties of the codec, for both builds:

- any valid object tree round-trips: decode(encode(x)) == x and encode(decode(b)) == b
  for b = encode(x) (RFC 7296 §3, RFC 2408 §3);
- whatever decodes re-encodes to something that decodes to the same objects (the
  normalisations listed in the codec's docstring are the only changes);
- on random bytes, structured random messages and mutated valid messages the compiled
  and reference builds give the same objects, or the same exception type, offset and
  reason; and nothing but the typed errors escapes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_codec import ALLOWED, mutate
from tests.unit import codec_samples as S

BUILDS = ["compiled", "reference"]
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# object trees are costly to generate: fewer, smaller examples for the round trips
ROUND_TRIP = settings(SETTINGS, max_examples=120)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
blob = st.binary(max_size=24)


def exactly(n):
    return st.binary(min_size=n, max_size=n)


KNOWN_V2 = set(range(33, 49)) | {53}
UNKNOWN_V2 = [t for t in range(1, 256) if t not in KNOWN_V2]
KNOWN_V1 = set(range(1, 15)) | {20, 21, 130, 131, 132}
UNKNOWN_V1 = [t for t in range(1, 256) if t not in KNOWN_V1]


def v2_payloads(v2):
    attribute = st.tuples(st.integers(0, 0x7FFF).filter(lambda t: t != 14), u16 | blob)
    transform = st.builds(v2.Transform, u8, u16, st.none() | u16, st.lists(attribute, max_size=2))
    transforms = st.lists(transform, max_size=4)
    proposal = st.one_of(
        st.builds(v2.Proposal, u8, st.just(1), st.sampled_from([b"", bytes(range(8))]), transforms),
        st.builds(v2.Proposal, u8, st.sampled_from([2, 3]), exactly(4), transforms),
        st.builds(v2.Proposal, u8, st.integers(4, 255) | st.just(0), st.binary(max_size=8),
                  transforms),
    )
    selector = st.one_of(
        st.builds(v2.TrafficSelector, st.just(7), u8, u16, u16, exactly(4), exactly(4)),
        st.builds(v2.TrafficSelector, st.just(8), u8, u16, u16, exactly(16), exactly(16)),
        st.builds(v2.RawTrafficSelector, u8.filter(lambda t: t not in (7, 8)), blob),
    )
    return st.one_of(
        st.builds(v2.SaPayload, st.lists(proposal, max_size=2)),
        st.builds(v2.KePayload, u16, blob),
        st.builds(v2.IdPayload, st.sampled_from([35, 36]), u8, blob),
        st.builds(v2.CertPayload, u8, blob),
        st.builds(v2.CertReqPayload, u8, blob),
        st.builds(v2.AuthPayload, u8, blob),
        st.builds(v2.NoncePayload, blob),
        st.builds(v2.NotifyPayload, u16, blob, u8, st.binary(max_size=8)),
        st.builds(v2.DeletePayload, st.just(1)),
        st.builds(v2.DeletePayload, st.just(1), st.lists(exactly(8), min_size=1, max_size=3)),
        st.builds(v2.DeletePayload, st.sampled_from([2, 3]), st.lists(exactly(4), max_size=4)),
        st.builds(v2.VendorIdPayload, blob),
        st.builds(v2.TsPayload, st.sampled_from([44, 45]), st.lists(selector, max_size=4)),
        st.builds(v2.CpPayload, u8, st.lists(st.tuples(st.integers(0, 0x7FFF), blob), max_size=4)),
        st.builds(v2.EapPayload, st.sampled_from([1, 2]), u8, u8, blob),
        st.builds(v2.EapPayload, st.sampled_from([3, 4]), u8),
        st.builds(v2.EapPayload, st.integers(5, 255) | st.just(0), u8, st.none(), blob),
        st.builds(v2.UnknownPayload, st.sampled_from(UNKNOWN_V2), st.just(False), blob),
    )


def v2_encrypted(v2):
    skf = u16.filter(bool).flatmap(
        lambda total: st.builds(v2.SkfPayload, u8, st.integers(1, total), st.just(total), blob))
    return st.builds(v2.SkPayload, u8, blob) | skf


def v2_messages(v2):
    payloads = st.tuples(st.lists(v2_payloads(v2), max_size=5), st.none() | v2_encrypted(v2)).map(
        lambda t: t[0] + ([t[1]] if t[1] is not None else []))
    return st.builds(v2.Message, exactly(8), exactly(8), u8, u8, u32, payloads,
                     st.integers(0x20, 0x2F))


def v1_payloads(v1):
    attribute = st.builds(v1.Attribute, st.integers(0, 0x7FFF), u16 | blob)
    transforms = st.lists(st.builds(v1.Transform, u8, u8, st.lists(attribute, max_size=4)),
                          max_size=4)
    proposal = st.one_of(
        st.builds(v1.Proposal, u8, st.just(1), st.sampled_from([b"", bytes(range(16))]),
                  transforms),
        st.builds(v1.Proposal, u8, st.sampled_from([2, 3]), exactly(4), transforms),
        st.builds(v1.Proposal, u8, st.just(4), exactly(2) | exactly(4), transforms),
        st.builds(v1.Proposal, u8, st.integers(5, 255) | st.just(0), st.binary(max_size=8),
                  transforms),
    )
    sa = st.builds(v1.SaPayload, u32, u32, st.lists(proposal, max_size=2)).filter(
        lambda sa: not (sa.doi == 1 and sa.situation & 6))
    delete = st.integers(0, 16).flatmap(lambda size: st.builds(
        v1.DeletePayload, u32, u8,
        st.lists(exactly(size), max_size=4) if size else st.just([]), st.just(size)))
    return st.one_of(
        sa,
        st.builds(v1.KePayload, blob),
        st.builds(v1.IdPayload, u8, u8, u16, blob),
        st.builds(v1.CertPayload, u8, blob),
        st.builds(v1.CrPayload, u8, blob),
        st.builds(v1.HashPayload, blob),
        st.builds(v1.SigPayload, blob),
        st.builds(v1.NoncePayload, blob),
        st.builds(v1.NotifyPayload, u32, u8, st.binary(max_size=16), u16, blob),
        delete,
        st.builds(v1.VendorIdPayload, blob),
        st.builds(v1.AttributePayload, u8, u16, st.lists(attribute, max_size=5)),
        st.builds(v1.NatDPayload, blob, st.sampled_from([20, 130])),
        st.builds(v1.NatOaPayload, st.just(1), exactly(4), st.sampled_from([21, 131])),
        st.builds(v1.NatOaPayload, st.just(5), exactly(16), st.sampled_from([21, 131])),
        st.builds(v1.FragmentPayload, u16, u8, st.booleans(), blob),
        st.builds(v1.UnknownPayload, st.sampled_from(UNKNOWN_V1), blob),
    )


def v1_messages(v1):
    plain = st.builds(v1.Message, exactly(8), exactly(8), u8, u8.map(lambda f: f & 0xFE), u32,
                      st.lists(v1_payloads(v1), max_size=5), version=st.integers(0x10, 0x1F))
    encrypted = st.builds(v1.Message, exactly(8), exactly(8), u8, u8.map(lambda f: f | 1), u32,
                          encrypted_body=blob, next_payload=u8, version=st.integers(0x10, 0x1F))
    return plain | encrypted


# ---- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDS)
@ROUND_TRIP
@given(data=st.data())
def test_ikev2_messages_round_trip(build, data):
    v2 = S.api(S.builds()[build]).v2
    msg = data.draw(v2_messages(v2))
    wire = v2.encode_message(msg)
    decoded = v2.decode_message(wire)
    assert decoded == msg
    assert decoded.length == len(wire)
    assert v2.encode_message(decoded) == wire


@pytest.mark.parametrize("build", BUILDS)
@ROUND_TRIP
@given(data=st.data())
def test_ikev2_payload_chains_round_trip(build, data):
    v2 = S.api(S.builds()[build]).v2
    payloads = data.draw(st.lists(v2_payloads(v2), max_size=6))
    first, chain = v2.encode_payloads(payloads)
    assert v2.decode_payloads(chain, first) == payloads
    assert v2.encode_payloads(v2.decode_payloads(chain, first)) == (first, chain)
    for p in payloads:  # the body is the payload without its generic header
        assert v2.encode_payload_body(p) == v2.encode_payloads([p])[1][4:]


@pytest.mark.parametrize("build", BUILDS)
@ROUND_TRIP
@given(data=st.data())
def test_ikev1_messages_round_trip(build, data):
    v1 = S.api(S.builds()[build]).v1
    msg = data.draw(v1_messages(v1))
    wire = v1.encode_message(msg)
    decoded = v1.decode_message(wire)
    assert decoded == msg
    assert v1.encode_message(decoded) == wire


@pytest.mark.parametrize("build", BUILDS)
@ROUND_TRIP
@given(data=st.data())
def test_ikev1_payload_chains_round_trip(build, data):
    v1 = S.api(S.builds()[build]).v1
    payloads = data.draw(st.lists(v1_payloads(v1), max_size=6))
    first, chain = v1.encode_payloads(payloads)
    assert v1.decode_payloads(chain, first) == payloads
    assert v1.encode_payloads(payloads) == v1.encode_payloads(v1.decode_payloads(chain, first))


# ---- compiled == reference on hostile input -------------------------------------------------


def _same_everywhere(data: bytes) -> None:
    compiled, reference = S.compiled_codec(), S.reference_codec()
    calls = [("v2_decode_message", (data,)), ("v1_decode_message", (data,))]
    if len(data) >= 28:
        calls += [("v2_decode_payloads", (data[28:], data[16], 28)),
                  ("v1_decode_payloads", (data[28:], data[16], 28))]
    for name, args in calls:
        ours = S.outcome(getattr(compiled, name), *args)
        assert ours == S.outcome(getattr(reference, name), *args)
        if ours[0] == "error":
            low = 28 if name.endswith("payloads") else 0
            assert low <= ours[2] <= len(data)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_same_outcome(data):
    _same_everywhere(data)


@st.composite
def structured_messages(draw):
    """A consistent header (either version) before a random or half-valid payload chain."""
    version = draw(st.sampled_from([0x20, 0x10]))
    first = draw(st.sampled_from(sorted(KNOWN_V2 | KNOWN_V1)) | u8)
    items = draw(st.lists(st.tuples(st.sampled_from(sorted(KNOWN_V2 | KNOWN_V1)) | u8,
                                    st.binary(max_size=48)), max_size=5))
    _, chain = S.chain(items)
    body = draw(st.sampled_from([chain, chain[:-1], chain + b"\x00"])) if chain else b""
    flags = draw(u8)
    return S.header(S.SPI_I, S.SPI_R, items[0][0] if items else first, version, 34, flags, 0, body)


@SETTINGS
@given(structured_messages())
def test_structured_random_messages_same_outcome(data):
    _same_everywhere(data)


@SETTINGS
@given(st.sampled_from(sorted(S.all_messages())), st.randoms(use_true_random=False))
def test_mutated_messages_same_outcome(name, rng):
    seeds = list(S.all_messages().values())
    _same_everywhere(mutate(rng, S.all_messages()[name], seeds))


@pytest.mark.parametrize("build", BUILDS)
@SETTINGS
@given(st.sampled_from(sorted(S.all_messages())), st.randoms(use_true_random=False))
def test_whatever_decodes_re_encodes_stably(build, name, rng):
    """Normalisation is idempotent: decode -> encode -> decode gives the same objects and
    encoding twice gives the same bytes."""
    codec = S.builds()[build]
    seeds = list(S.all_messages().values())
    data = mutate(rng, S.all_messages()[name], seeds)
    for decode, encode in ((codec.v2_decode_message, codec.v2_encode_message),
                           (codec.v1_decode_message, codec.v1_encode_message)):
        try:
            msg = decode(data)
        except ALLOWED as exc:
            assert exc.offset is not None
            continue
        wire = encode(msg)
        assert decode(wire) == msg
        assert encode(decode(wire)) == wire
