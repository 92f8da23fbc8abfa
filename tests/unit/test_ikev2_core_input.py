"""IKEv2 core: cookies, half-open limits and timeouts, and what it does with bad input."""

from __future__ import annotations

import random

from ikesrv import events as ev
from ikesrv.actions import SendDatagram
from ikesrv.wire import ikev2 as w

from .ikev2_pair import BASE_CONFIG, SERVER, Pair, make_config

COOKIES = BASE_CONFIG.replace("cookie_threshold = 0\ncookie_threshold_per_ip = 0\n",
                              "cookie_threshold = 2\ncookie_threshold_per_ip = 0\n")


def sends(pair) -> list[bytes]:
    out = []
    for a in pair.core.actions():
        if isinstance(a, SendDatagram):
            out.append(a.data)
        else:
            pair.events.append(a)
    return out


def test_cookies_above_the_half_open_threshold(tmp_path):
    pair = Pair(make_config(tmp_path, COOKIES))
    # two half-open SAs (their IKE_AUTH never comes)
    for i in range(2):
        c = pair.client(address=(f"198.51.100.{20 + i}", 500))
        pair.core.datagram_received(c.start(pair.now)[0], SERVER, c.local, pair.now)
        sends(pair)
    assert len(pair.core.v2.half_open) == 2
    # the third must prove its address first: COOKIE, no state, no DH
    late = pair.client(address=("198.51.100.30", 500))
    pair.connect(late)
    assert late.state == "established", late.failure
    assert len(pair.of(ev.CookieSent)) == 1
    first = w.decode_message(pair.sent_to[late.local][0])
    assert [p.type for p in first.payloads] == [16390] and first.spi_r == bytes(8)
    # a forged or stale cookie gets a fresh COOKIE again, still no state
    forged = pair.client(address=("198.51.100.31", 500))
    forged._cookie = bytes(36)
    pair.core.datagram_received(forged.start(pair.now)[0], SERVER, forged.local, pair.now)
    (answer,) = sends(pair)
    assert w.decode_message(answer).payloads[0].type == 16390
    assert len(pair.core.v2.half_open) == 2  # the late client's SA was established


def test_half_open_sa_times_out(tmp_path):
    pair = Pair(make_config(tmp_path))
    c = pair.client()
    pair.core.datagram_received(c.start(pair.now)[0], SERVER, c.local, pair.now)
    sends(pair)
    assert pair.gauge("half_open") == 1
    pair.advance(31)
    assert pair.core.v2.sas == {} and pair.gauge("half_open") == 0
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["timeout"]


def test_ike_sa_init_retransmission_gets_the_same_answer(tmp_path):
    pair = Pair(make_config(tmp_path))
    c = pair.client()
    request = c.start(pair.now)[0]
    pair.core.datagram_received(request, SERVER, c.local, pair.now)
    (first,) = sends(pair)
    pair.core.datagram_received(request, SERVER, c.local, pair.now + 1)
    (again,) = sends(pair)
    assert again == first and len(pair.core.v2.sas) == 1


def test_newer_major_version_gets_invalid_major_version(tmp_path):
    pair = Pair(make_config(tmp_path))
    c = pair.client()
    request = bytearray(c.start(pair.now)[0])
    request[17] = 0x30  # IKEv3
    pair.core.datagram_received(bytes(request), SERVER, c.local, pair.now)
    (answer,) = sends(pair)
    msg = w.decode_message(answer)
    assert msg.payloads[0].type == 5 and answer[17] == 0x20
    assert pair.core.v2.sas == {}


def test_unknown_spi_and_garbage_are_dropped_and_counted(tmp_path):
    pair = Pair(make_config(tmp_path))
    c = pair.client()
    pair.connect(c)
    sends(pair)
    forged = bytearray(c.last_request[0])
    forged[8:16] = bytes(8)[:7] + b"\x01"  # a responder SPI we never gave out
    pair.core.datagram_received(bytes(forged), SERVER, c.local, pair.now)
    assert sends(pair) == []
    reasons = [e.reason for e in pair.events if isinstance(e, ev.InvalidMessage)]
    assert reasons == ["unknown_spi"]


def test_mutated_messages_never_escape_as_exceptions_and_spare_other_sas(tmp_path):
    """Tens of thousands of mutations of real messages into the core: only typed handling."""
    pair = Pair(make_config(tmp_path))
    good = pair.client()
    pair.connect(good)
    victim = pair.client(local_id="v@example.test", address=("198.51.100.77", 500))
    seeds = [victim.start(pair.now)[0]]
    pair.deliver(victim, seeds)
    seeds += list(pair.sent_to[victim.local]) + list(victim.last_request)
    rng = random.Random(7)
    for i in range(20000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.6 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif kind < 0.8 and data:
                del data[rng.randrange(len(data)):]
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        source = ("203.0.113.%d" % (1 + i % 250), 500 + i % 3)
        pair.core.datagram_received(bytes(data), SERVER, source, pair.now)  # must not raise
        pair.core.actions()
    # the established SA still works
    pair.deliver(good, good.liveness(pair.now))
    assert good.alive_at == pair.now


def test_keepalives_when_we_are_behind_a_nat(tmp_path):
    from ikesrv.actions import SendKeepalive
    pair = Pair(make_config(tmp_path))
    c = pair.client()
    # the client saw us at another address than the one we have: we are behind a NAT
    c.remote = ("203.0.113.99", 500)
    pair.connect(c)
    assert c.state == "established"
    (sa,) = pair.core.v2.sas.values()
    assert sa.local_behind_nat
    pair.advance(61, c)
    keepalives = [e for e in pair.events if isinstance(e, SendKeepalive)]
    assert len(keepalives) == 3 and keepalives[0].remote == sa.remote


def test_peer_giving_up_during_ike_auth_ends_the_half_open_sa_at_once(tmp_path):
    from ikesrv.constants import ExchangeType, NotifyType
    from ikesrv.ikev2.messages import notify
    pair = Pair(make_config(tmp_path))
    c = pair.client()
    pair.core.datagram_received(c.start(pair.now)[0], SERVER, c.local, pair.now)
    (answer,) = sends(pair)
    c.receive(answer, pair.now)  # the client now has keys; its IKE_AUTH is not sent
    c.sa.outstanding = None
    c.sa.our_next_id = 1
    abort = c._request(ExchangeType.INFORMATIONAL,
                       [notify(NotifyType.AUTHENTICATION_FAILED)], pair.now, lambda v, n: [])
    pair.core.datagram_received(abort[0], (SERVER[0], c.remote[1]), c.local, pair.now)
    assert len(sends(pair)) == 1  # answered
    assert pair.core.v2.sas == {} and pair.gauge("half_open") == 0


def test_a_client_floating_to_the_natt_port_leaves_no_half_open_sa_behind(tmp_path):
    """RFC 7296 §2.23: behind a NAT the client moves to port 4500 for IKE_AUTH. Its SA
    was half-open under the address of its IKE_SA_INIT: established, it is no longer
    counted as half-open (cookie threshold, half_open_limit), nor once deleted."""
    pair = Pair(make_config(tmp_path))
    clients = []
    for i in range(3):
        c = pair.client(local_id=f"client{i}@example.test", address=(f"198.51.100.{20 + i}", 500))
        c.remote = ("203.0.113.99", 500)  # we are behind a NAT: the client floats
        pair.connect(c)
        assert c.state == "established" and c.local[1] == 4500
        clients.append(c)
    assert pair.core.half_open_counts("198.51.100.20") == (0, 0)
    assert pair.core.v2.half_open == {} and pair.gauge("half_open") == 0
    pair.deliver(clients[0], clients[0].delete(pair.now))
    assert pair.core.half_open_counts(None) == (0, 0) and len(pair.core.v2.sas) == 2
