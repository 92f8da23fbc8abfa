"""Bounded mutation fuzz of the IKEv1 core: valid messages of real exchanges (Main Mode,
Aggressive Mode, XAuth, Mode Config, Quick Mode, informational), mutated, fed to a core
that holds established SAs. Nothing may escape the core but its actions (any exception
fails the test: the core catches only IkeError, so anything else is a bug), and the
established SAs keep working afterwards."""

from __future__ import annotations

import random

from ikesrv import events as ev

from .ikev1_pair import MAIN_PSK, XAUTH_PSK, Pair1, make_config
from .test_ikev1_core import road_warrior, site

ITERATIONS = 3000


def _record(pair) -> list:
    seen: list = []
    pair.drop_to_server = lambda d: seen.append(d) and False
    return seen


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(9)
    if kind == 0 and b:  # flip a few bytes anywhere
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        del b[rng.randrange(len(b) + 1):]
    elif kind == 2:  # append junk
        b += rng.randbytes(rng.randint(1, 64))
    elif kind == 3 and len(b) >= 28:  # header fields: next payload, version, exchange, flags
        b[rng.choice((16, 17, 18, 19))] = rng.randrange(256)
    elif kind == 4 and len(b) >= 28:  # message ID
        b[20:24] = rng.randbytes(4)
    elif kind == 5 and len(b) >= 28:  # the header's length
        b[24:28] = rng.randrange(1 << 16).to_bytes(4, "big")
    elif kind == 6 and len(b) >= 32:  # a payload length inside the plaintext chain
        at = rng.randrange(28, len(b) - 3)
        b[at + 2:at + 4] = rng.randrange(1 << 16).to_bytes(2, "big")
    elif kind == 7 and len(b) >= 28:  # cookies: another SA's, or none
        b[8:16] = bytes(8) if rng.random() < 0.5 else rng.randbytes(8)
    else:  # splice two halves of the message
        cut = rng.randrange(len(b) + 1)
        b = b[cut:] + b[:cut]
    return bytes(b)


def test_mutated_messages_are_handled_and_other_sas_unaffected(tmp_path):
    pair = Pair1(make_config(tmp_path, MAIN_PSK, XAUTH_PSK))
    seen = _record(pair)
    # material: every message of complete exchanges, PSK and XAuth, with and without PFS
    for c in (site(pair, esp="aes256-sha256-modp2048", pfs=True, address=("198.51.100.200", 7)),
              road_warrior(pair, address=("203.0.113.77", 500)),
              road_warrior(pair, aggressive=False, address=("198.51.100.200", 8), unity=True)):
        pair.connect(c)
        assert c.state == "established", c.failure
        pair.deliver(c, c.rekey_child(pair.now))
        pair.deliver(c, c.dpd(pair.now))
    pair.deliver(pair.clients[0], pair.clients[0].delete(pair.now))
    material = list(seen)
    pair.drop_to_server = None
    # the SAs that must survive
    a = site(pair)
    b = road_warrior(pair)
    for c in (a, b):
        pair.connect(c)
        assert c.state == "established", c.failure
    rng = random.Random(20261123)
    sources = [a.local, b.local, ("198.51.100.200", 7), ("192.0.2.77", 500)]
    for i in range(ITERATIONS):
        data = mutate(rng, rng.choice(material))
        pair.core.datagram_received(data, ("192.0.2.1", rng.choice((500, 4500))),
                                    rng.choice(sources), pair.now)
        pair._drain(None)  # answers go nowhere
        if i % 500 == 499:
            pair.now += 1.0
            pair.core.timer_fired(pair.now)
            pair._drain(None)
    assert any(isinstance(e, ev.InvalidMessage) for e in pair.events)
    # the established SAs still work: liveness checks, a new Quick Mode, a Mode Config
    for c in (a, b):
        acks = len(c.dpd_acks)
        pair.deliver(c, c.dpd(pair.now))
        assert len(c.dpd_acks) == acks + 1
        before = len(c.children)
        pair.deliver(c, c.rekey_child(pair.now))
        assert len(c.children) == before + 1, c.failure
    assert b.vip is not None and pair.core.v1.sas[b.sa.spi_r].vip == b.vip


def test_random_bytes_never_escape(tmp_path):
    pair = Pair1(make_config(tmp_path, MAIN_PSK, XAUTH_PSK))
    rng = random.Random(7)
    for _ in range(2000):
        n = rng.choice((0, 1, 27, 28, 29, 60, 200, 1500))
        data = bytearray(rng.randbytes(n))
        if n >= 28:
            data[17] = 0x10  # IKEv1, so that the IKEv1 code sees it
            data[24:28] = n.to_bytes(4, "big") if rng.random() < 0.5 else data[24:28]
        pair.core.datagram_received(bytes(data), ("192.0.2.1", 500), ("198.51.100.9", 500),
                                    pair.now)
        pair._drain(None)
    assert len(pair.core.v1.half_open) == len(pair.core.v1.sas)


def random_payload(rng: random.Random):
    """A payload object with random, often nonsensical, contents."""
    from ikesrv.constants import V1CfgAttribute, V1NotifyType
    from ikesrv.wire import ikev1 as w

    def blob(*sizes):
        return rng.randbytes(rng.choice(sizes))

    def attrs(types):
        return [w.Attribute(type=rng.choice(types),
                            value=rng.randrange(65536) if rng.random() < 0.5 else blob(0, 2, 4, 9))
                for _ in range(rng.randint(0, 6))]
    kind = rng.randrange(8)
    if kind == 0:
        props = [w.Proposal(number=rng.randint(0, 3), protocol=rng.choice((1, 2, 3, 4, 9)),
                            spi=blob(0, 4, 4, 4, 16) if rng.random() < 0.9 else b"",
                            transforms=[w.Transform(number=n, transform_id=rng.choice(
                                (3, 12, 20, 11, 1, 200)), attributes=attrs(list(range(13))))
                                for n in range(rng.randint(0, 3))])
                 for _ in range(rng.randint(0, 3))]
        try:
            sa = w.SaPayload(doi=rng.choice((1, 1, 0, 2)), situation=1, proposals=props)
            w.encode_payload_body(sa)
            return sa
        except (ValueError, TypeError):
            return w.VendorIdPayload(data=blob(8))
    if kind == 1:
        return w.KePayload(data=blob(0, 32, 256, 300))
    if kind == 2:
        return w.NoncePayload(data=blob(0, 4, 8, 32, 300))
    if kind == 3:
        return w.IdPayload(id_type=rng.randrange(14), protocol_id=rng.choice((0, 6, 17)),
                           port=rng.choice((0, 500, 65535)), data=blob(0, 4, 8, 16, 32, 40))
    if kind == 4:
        return w.NotifyPayload(doi=1, protocol=rng.choice((1, 3, 0)), spi=blob(0, 4, 16),
                               type=rng.choice((V1NotifyType.R_U_THERE,
                                                V1NotifyType.R_U_THERE_ACK,
                                                V1NotifyType.RESPONDER_LIFETIME, 14,
                                                V1NotifyType.CONNECTED, rng.randrange(65536))),
                               data=blob(0, 4, 4, 12))
    if kind == 5:
        size = rng.choice((4, 16, 8))
        return w.DeletePayload(doi=1, protocol=rng.choice((1, 3, 2)), spi_size=size,
                               spis=[rng.randbytes(size) for _ in range(rng.randint(0, 3))])
    if kind == 6:
        types = [int(t) for t in V1CfgAttribute] + [0, 999]
        return w.AttributePayload(cfg_type=rng.randrange(6), identifier=rng.randrange(65536),
                                  attributes=attrs(types))
    return w.VendorIdPayload(data=blob(0, 16, 20))


def shaped(rng: random.Random, exchange: int) -> list:
    """Random contents in the shape the exchange's transition wants, so that the
    payload rules pass and the handlers see them."""
    def pick(kind: int):
        while True:
            p = random_payload(rng)
            if p.payload_type == kind:
                return p
    if exchange == 32:
        out = [pick(1), pick(10)]
        if rng.random() < 0.5:
            out.append(pick(4))
        if rng.random() < 0.7:
            out += [pick(5), pick(5)]
        return out
    if exchange == 6:
        return [pick(14)]
    return [pick(rng.choice((11, 12))) for _ in range(rng.randint(1, 3))]


def test_authenticated_garbage(tmp_path):
    """Messages that pass the HASH check (sealed with a live SA's keys) but carry random
    payloads: the handlers themselves must cope."""
    from ikesrv.ikev1 import messages
    pair = Pair1(make_config(tmp_path, MAIN_PSK, XAUTH_PSK))
    a, b = site(pair), road_warrior(pair)
    for c in (a, b):
        pair.connect(c)
        assert c.state == "established", c.failure
    rng = random.Random(11)
    exchanges = (32, 32, 6, 6, 5, 5, 2, 4, 99)
    for _ in range(1500):
        c = rng.choice((a, b))
        mid = int.from_bytes(rng.randbytes(4), "big") or 1
        exchange = rng.choice(exchanges)
        payloads = shaped(rng, exchange) if rng.random() < 0.7 else [
            random_payload(rng) for _ in range(rng.randint(0, 6))]
        data = messages.seal_hashed(c.sa, exchange, mid, payloads,
                                    messages.informational_hash(c.sa, mid))
        pair.core.datagram_received(data, ("192.0.2.1", c.remote[1]), c.local, pair.now)
        pair._drain(None)
    pair.now += 300.0  # let pending Quick Modes and transactions time out
    pair.core.timer_fired(pair.now)
    pair._drain(None)
    for c in (a, b):
        assert c.sa.spi_r in pair.core.v1.sas, "an established SA was lost"
        acks = len(c.dpd_acks)
        pair.deliver(c, c.dpd(pair.now))
        assert len(c.dpd_acks) == acks + 1
