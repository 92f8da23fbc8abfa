"""Hostile input through the core's datagram entry (in memory, fixed time and
randomness): invalid Diffie-Hellman values, replayed and reordered messages, unknown
SPIs, wrong message IDs, IKE_AUTH with bad integrity, oversized fragments and fragment
floods. Each case checks the answer the RFC asks for (or silence), the
ikesrv_invalid_messages_total reason, that no state is kept where none may be, that
nothing logs a traceback, and that the legitimate SA next to it still works."""

from __future__ import annotations

import logging
import os

import pytest

from ikesrv import events as ev
from ikesrv.admission import REASSEMBLY_BUDGET
from ikesrv.constants import ExchangeType, HeaderFlag, NotifyType
from ikesrv.ikev2 import messages
from ikesrv.wire import ikev2 as w

from .inmemory import (
    SERVER,
    Pair,
    config_with,
    fragment,
    half_open_client,
    make_config,
    no_traceback,
    reasons,
    sends,
    with_ke,
)

X25519 = "aes128-sha256-x25519"
ECP384 = "aes256gcm16-prfsha384-ecp384"
MODP2048 = "aes256-sha256-modp2048"


def _modp2048_prime() -> int:
    # RFC 3526 §3: 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 )
    text = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
    514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
    F44C42E9 A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B E39E772C 180E8603
    9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AACAA68 FFFFFFFF FFFFFFFF"""
    return int("".join(text.split()), 16)


P = _modp2048_prime()
X25519_SMALL_ORDER = [  # RFC 7748 §6.1: every one makes the shared secret all zero
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    b"\xec" + b"\xff" * 30 + b"\x7f",  # p - 1
    b"\xed" + b"\xff" * 30 + b"\x7f",  # p (non-canonical 0)
    b"\xee" + b"\xff" * 30 + b"\x7f",  # p + 1 (non-canonical 1)
    bytes(31) + b"\x80",  # 0 with the top bit set (RFC 7748 §5: the bit is masked)
]
ECP384_P = 2**384 - 2**128 - 2**96 + 2**32 - 1  # RFC 5903 §3.2

INVALID_KE = [
    (MODP2048, "zero", bytes(256)),
    (MODP2048, "one", (1).to_bytes(256, "big")),
    (MODP2048, "p-1", (P - 1).to_bytes(256, "big")),
    (MODP2048, "p", P.to_bytes(256, "big")),
    (MODP2048, "above p", b"\xff" * 256),
    (MODP2048, "short", (5).to_bytes(255, "big")),
    (ECP384, "origin", bytes(96)),
    (ECP384, "off the curve", (1).to_bytes(48, "big") + (1).to_bytes(48, "big")),
    (ECP384, "x = p", ECP384_P.to_bytes(48, "big") + (2).to_bytes(48, "big")),
    (ECP384, "long", bytes(97)),
    (X25519, "short", bytes(31)),
] + [(X25519, f"small order #{i}", v) for i, v in enumerate(X25519_SMALL_ORDER)]


@pytest.fixture
def pair(tmp_path):
    return Pair(make_config(tmp_path))


def established(pair, address=("198.51.100.10", 500), **kw):
    c = pair.client(address=address, **kw)
    pair.connect(c)
    assert c.state == "established", c.failure
    sends(pair)
    return c


def still_works(pair, c) -> None:
    pair.deliver(c, c.liveness(pair.now))
    assert c.alive_at == pair.now


# ------------------------------------------------------------------ KE values ---------


@pytest.mark.parametrize("ike, what, value", INVALID_KE,
                         ids=[f"{i.split('-')[-1]}-{w_}" for i, w_, _ in INVALID_KE])
def test_invalid_ke_value_is_refused_statelessly(pair, caplog, ike, what, value):
    """RFC 6989 §2 / RFC 7748 §6: the value is checked before it is used; the answer is
    INVALID_SYNTAX (IKEv2 has no notify of its own for it) from no state at all: zero
    responder SPI, no half-open SA, no keys."""
    caplog.set_level(logging.DEBUG)
    good = established(pair)
    c = pair.client(ike=ike, address=("198.51.100.66", 500))
    request = with_ke(c.start(pair.now)[0], value)
    pair.core.datagram_received(request, SERVER, c.local, pair.now)
    (answer,) = sends(pair)
    msg = w.decode_message(answer.data)
    assert msg.spi_r == bytes(8) and msg.flags & HeaderFlag.RESPONSE
    assert [(p.payload_type, p.type) for p in msg.payloads] == [(41, NotifyType.INVALID_SYNTAX)]
    assert reasons(pair) == ["invalid_ke_value"]
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["invalid_ke_value"]
    assert list(pair.core.v2.sas.values()) == [pair.core.v2.sas[good.sa.spi_r]]
    assert pair.core.v2.half_open == {} and not pair.core.v2.half_open_per_ip
    # the same request again: the same stateless answer, still nothing kept
    pair.core.datagram_received(request, SERVER, c.local, pair.now)
    assert len(sends(pair)) == 1 and len(pair.core.v2.sas) == 1
    no_traceback(caplog)
    still_works(pair, good)


def test_a_valid_ke_after_an_invalid_one_connects(pair):
    c = pair.client(ike=X25519, address=("198.51.100.67", 500))
    request = c.start(pair.now)[0]
    pair.core.datagram_received(with_ke(request, bytes(32)), SERVER, c.local, pair.now)
    sends(pair)
    pair.deliver(c, [request])
    assert c.state == "established", c.failure


# ------------------------------------------------------------------ replays -----------


def test_replayed_ike_auth_is_answered_from_the_cache_not_processed_again(pair):
    c = established(pair)
    installs = len(pair.installed)
    answer = pair.sent_to[c.local][-1]
    auth_request = c.last_request
    for _ in range(3):  # RFC 7296 §2.1: the same request gets the same answer, once built
        for d in auth_request:
            pair.core.datagram_received(d, SERVER, c.local, pair.now)
        assert [a.data for a in sends(pair)] == [answer]
    assert len(pair.installed) == installs and len(pair.core.v2.sas) == 1
    assert pair.of(ev.IkeSaEstablished) and len(pair.of(ev.IkeSaEstablished)) == 1
    still_works(pair, c)


def test_replayed_ike_sa_init_of_an_established_sa_leaves_it_alone(pair):
    c = established(pair)
    init = c.init_request
    pair.core.datagram_received(init, SERVER, c.local, pair.now)
    sends(pair)
    # a replay is a new request to the responder: at most one more half-open SA, which
    # times out; the established SA is untouched
    assert len(pair.core.v2.half_open) <= 1
    pair.advance(31, c)
    assert len(pair.core.v2.sas) == 1 and pair.core.v2.half_open == {}
    still_works(pair, c)


def test_reordered_and_stale_requests(pair, caplog):
    """RFC 7296 §2.3 (window of one): a request ahead of the window is dropped (it will be
    retransmitted in order), an old one without a cached answer too; both counted."""
    caplog.set_level(logging.DEBUG)
    c = established(pair)
    sa = c.sa
    ahead = messages.seal(sa, ExchangeType.INFORMATIONAL, False, sa.our_next_id + 1, [],
                          pair.rng.randbytes)
    for d in ahead:
        pair.core.datagram_received(d, SERVER, c.local, pair.now)
    assert sends(pair) == [] and reasons(pair) == ["invalid_message_id"]
    stale = messages.seal(sa, ExchangeType.INFORMATIONAL, False, 0, [], pair.rng.randbytes)
    for d in stale:
        pair.core.datagram_received(d, SERVER, c.local, pair.now)
    assert sends(pair) == [] and reasons(pair)[-1] == "invalid_message_id"
    # a response to a request we never sent
    bogus = messages.seal(sa, ExchangeType.INFORMATIONAL, True, 7, [], pair.rng.randbytes)
    for d in bogus:
        pair.core.datagram_received(d, SERVER, c.local, pair.now)
    assert sends(pair) == [] and reasons(pair)[-1] == "invalid_message_id"
    no_traceback(caplog)
    still_works(pair, c)  # in-order requests are served as before


# ------------------------------------------------------------------ unknown SPIs -----


def test_messages_for_unknown_spis_are_dropped_silently(pair, caplog):
    """RFC 7296 §2.21.4: INVALID_IKE_SPI MAY be sent; we do not (no reflection), we count."""
    caplog.set_level(logging.DEBUG)
    c = established(pair)
    (request,) = messages.seal(c.sa, ExchangeType.INFORMATIONAL, False, c.sa.our_next_id, [],
                               pair.rng.randbytes)
    variants = []
    for start in (0, 8):  # the initiator's SPI, then ours
        forged = bytearray(request)
        forged[start:start + 8] = os.urandom(8)
        variants.append(bytes(forged))
    as_response = bytearray(request)
    as_response[19] |= HeaderFlag.RESPONSE
    as_response[19] &= ~HeaderFlag.INITIATOR & 0xFF  # claims we initiated: we did not
    variants.append(bytes(as_response))
    for d in variants:
        pair.core.datagram_received(d, SERVER, c.local, pair.now)
        assert sends(pair) == []
    assert reasons(pair) == ["unknown_spi"] * 3
    no_traceback(caplog)
    still_works(pair, c)


# ------------------------------------------------------------------ integrity ---------


@pytest.mark.parametrize("where", ["icv", "ciphertext", "header"])
def test_ike_auth_with_bad_integrity_is_dropped_and_the_good_one_still_counts(pair, caplog,
                                                                                where):
    """RFC 7296 §2.21.2: a message that fails its integrity check is dropped without a
    word; the half-open SA waits for the genuine IKE_AUTH, which then succeeds."""
    caplog.set_level(logging.DEBUG)
    c, auth = half_open_client(pair, ("198.51.100.70", 500))
    (good,) = auth
    bad = bytearray(good)
    index = {"icv": len(bad) - 1, "ciphertext": len(bad) // 2, "header": 20}[where]
    bad[index] ^= 0x01  # the header's message ID: covered by the ICV too (§3.14)
    pair.core.datagram_received(bytes(bad), SERVER, c.local, pair.now)
    assert sends(pair) == []
    expected = "invalid_message_id" if where == "header" else "integrity"
    assert reasons(pair) == [expected]
    assert len(pair.core.v2.half_open) == 1
    pair.deliver(c, [good])
    assert c.state == "established", c.failure
    no_traceback(caplog)


# ------------------------------------------------------------------ fragments ---------


def test_fragment_bounds(pair, caplog):
    """RFC 7383 §2.6: numbers out of range and too many fragments are refused before
    anything is kept; duplicates are ignored; a message over MAX_REASSEMBLED is dropped
    and its fragments freed; the SA then completes with its genuine IKE_AUTH."""
    caplog.set_level(logging.DEBUG)
    c, auth = half_open_client(pair, ("198.51.100.71", 500))
    resp = pair.core.v2
    sa = next(iter(resp.half_open.values()))
    for number, total in ((0, 3), (4, 3), (1, messages.MAX_FRAGMENTS + 1)):
        pair.core.datagram_received(fragment(c, number, total, b"x" * 100), SERVER, c.local,
                                    pair.now)
        assert sends(pair) == [] and sa.reassembly is None
    assert reasons(pair) == ["malformed"] * 3
    one = fragment(c, 2, 3, b"y" * 500)
    for _ in range(5):
        pair.core.datagram_received(one, SERVER, c.local, pair.now)
    assert sa.reassembly is not None and sa.reassembly.size == 500
    assert resp.reassembly_bytes == 500
    # over the per-message bound: dropped, the partial message freed
    chunk = b"z" * 3000
    total = messages.MAX_FRAGMENTS
    for number in range(1, total):
        pair.core.datagram_received(fragment(c, number, total, chunk), SERVER, c.local,
                                    pair.now)
        if sa.reassembly is None:
            break
    assert sa.reassembly is None and resp.reassembly_bytes == 0
    assert reasons(pair)[-1] == "malformed"
    assert number * len(chunk) > messages.MAX_REASSEMBLED
    pair.deliver(c, auth)
    assert c.state == "established", c.failure
    no_traceback(caplog)


def test_fragment_flood_over_many_sas_stays_within_the_budget(tmp_path, caplog):
    """Each SA may hold up to MAX_REASSEMBLED of fragments; all SAs together at most
    REASSEMBLY_BUDGET: beyond it a message's fragments are dropped (and freed), counted as
    rate_limited. Memory comes back when the half-open SAs time out."""
    caplog.set_level(logging.INFO)
    pair = Pair(config_with(tmp_path, half_open_limit_per_ip=0, rate_limit_per_ip=0))
    resp = pair.core.v2
    per_sa = messages.MAX_REASSEMBLED - 4096
    chunk = b"f" * 2048
    fragments_per_sa = per_sa // len(chunk)
    count = REASSEMBLY_BUDGET // (fragments_per_sa * len(chunk)) + 8
    clients = [half_open_client(pair, (f"10.9.{i // 200}.{i % 200 + 1}", 500))[0]
               for i in range(count)]
    peak = 0
    for c in clients:
        for number in range(1, fragments_per_sa + 1):
            pair.core.datagram_received(fragment(c, number, messages.MAX_FRAGMENTS, chunk),
                                        SERVER, c.local, pair.now)
            peak = max(peak, resp.reassembly_bytes)
        assert sends(pair) == []
    assert peak <= REASSEMBLY_BUDGET
    held = sum(sa.reassembly.size for sa in resp.sas.values() if sa.reassembly is not None)
    assert held == resp.reassembly_bytes
    assert reasons(pair).count("rate_limited") >= 8
    assert not [e for e in caplog.records if e.levelno >= logging.ERROR]
    pair.advance(31)
    assert resp.sas == {} and resp.reassembly_bytes == 0


def test_oversized_datagram_is_dropped_unread(tmp_path):
    pair = Pair(config_with(tmp_path, max_message_size=2000))
    c, _ = half_open_client(pair, ("198.51.100.72", 500))
    pair.core.datagram_received(fragment(c, 1, 2, b"q" * 2100), SERVER, c.local, pair.now)
    assert sends(pair) == [] and reasons(pair) == ["rate_limited"]
    assert next(iter(pair.core.v2.half_open.values())).reassembly is None


def test_ikev1_fragment_flood_stays_within_the_budget(tmp_path, caplog):
    """IKEv1 fragments (payload 132) are not authenticated: anyone who got a responder
    cookie can send them. Each SA holds at most MAX_REASSEMBLED, all SAs together at most
    REASSEMBLY_BUDGET; the rest is dropped as rate_limited, and freed with the SAs."""
    from ikesrv.constants import V1ExchangeType
    from ikesrv.ikev1 import messages as m1
    from ikesrv.wire import ikev1 as w1
    from tests.unit import ikev1_pair as v1

    caplog.set_level(logging.INFO)
    base = v1.BASE.replace("[server]\n", "[server]\nrate_limit_per_ip = 0\n")
    pair = v1.Pair1(v1.make_config(tmp_path, v1.MAIN_PSK, base=base))
    resp = pair.core.v1
    chunk = b"g" * 4000
    per_sa = m1.MAX_FRAGMENTS - 1  # never the last: the message is never complete
    count = REASSEMBLY_BUDGET // (per_sa * len(chunk)) + 6
    peak, cookies = 0, []
    for i in range(count):
        c = pair.client(fragmentation=True, address=(f"203.0.113.{i + 1}", 500))
        pair.core.datagram_received(c.start(pair.now)[0], SERVER, c.local, pair.now)
        (answer,) = sends(pair)
        cookies.append((c, answer.data[:8], answer.data[8:16]))
    for c, spi_i, spi_r in cookies:
        for n in range(1, per_sa + 1):
            frag = w1.FragmentPayload(fragment_id=1, fragment_number=n, last=False, data=chunk)
            data = m1.plain(spi_i, spi_r, V1ExchangeType.IDENTITY_PROTECTION, 0, [frag])
            pair.core.datagram_received(data, SERVER, c.local, pair.now)
            peak = max(peak, resp.reassembly_bytes)
        assert sends(pair) == []
    assert m1.MAX_REASSEMBLED >= per_sa * len(chunk)  # each SA alone stays within its bound
    assert peak <= REASSEMBLY_BUDGET
    held = sum(sa.reassembly.size for sa in resp.sas.values() if sa.reassembly is not None)
    assert held == resp.reassembly_bytes > REASSEMBLY_BUDGET - per_sa * len(chunk)
    assert reasons(pair).count("rate_limited") >= 6
    no_traceback(caplog)
    pair.advance(31)  # the half-open SAs time out: their fragments go with them
    assert resp.sas == {} and resp.reassembly_bytes == 0


@pytest.mark.parametrize("what, value", [("zero", bytes(256)), ("one", (1).to_bytes(256, "big")),
                                         ("p-1", (P - 1).to_bytes(256, "big")),
                                         ("short", bytes(200))])
def test_ikev1_aggressive_mode_invalid_ke_is_refused_statelessly(tmp_path, caplog, what, value):
    """RFC 2408 §5.6 / RFC 6989: an Aggressive Mode first message whose KE fails the
    check gets INVALID-KEY-INFORMATION in one unencrypted Informational, and no state."""
    from ikesrv.constants import V1ExchangeType, V1NotifyType
    from ikesrv.ikev1 import messages as m1
    from ikesrv.wire import ikev1 as w1
    from tests.unit import ikev1_pair as v1

    caplog.set_level(logging.DEBUG)
    pair = v1.Pair1(v1.make_config(tmp_path, v1.XAUTH_PSK))
    c = pair.client(local_id="group1@example.test", psk=v1.GROUP_PSK, aggressive=True,
                    xauth_user="alice", xauth_password=b"alice-Secret-1",
                    address=("203.0.113.40", 500))
    am1 = w1.decode_message(c.start(pair.now)[0])
    payloads = [w1.KePayload(value) if type(p).__name__ == "V1KePayload" else p
                for p in am1.payloads]
    data = m1.plain(am1.spi_i, am1.spi_r, V1ExchangeType.AGGRESSIVE, 0, payloads)
    pair.core.datagram_received(data, SERVER, c.local, pair.now)
    (answer,) = sends(pair)
    msg = w1.decode_message(answer.data)
    assert msg.exchange == V1ExchangeType.INFORMATIONAL and msg.spi_r == bytes(8)
    assert [p.type for p in msg.payloads] == [V1NotifyType.INVALID_KEY_INFORMATION]
    assert reasons(pair) == ["invalid_ke_value"]
    assert pair.core.v1.sas == {} and pair.core.v1.half_open == {}
    no_traceback(caplog)
