"""Denial-of-service bounds of one worker's core (in memory): COOKIEs above the half-open
thresholds with no Diffie-Hellman before the cookie is verified, half-open limits per
source and in total, the per-source token bucket in front of everything (and the SAs it
never charges), the bound on IKEv1 Aggressive Mode DH work under pressure, and the
memory a half-open SA costs. Figures are printed for the issue notes (pytest -s)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from ikesrv import events as ev
from ikesrv.admission import AGGRESSIVE_UNDER_PRESSURE_RATE, SourceLimiter
from ikesrv.constants import NotifyType
from ikesrv.ikev1 import phase1
from ikesrv.ikev2 import ike_sa_init
from ikesrv.wire import ikev2 as w
from tests.unit import ikev1_pair as v1

from .inmemory import SERVER, Pair, config_with, reasons, sends


class DhCounter:
    """Stands in for ikesrv.crypto.dh inside ike_sa_init: counts key generations."""

    def __init__(self, real):
        self.real, self.generated = real, 0

    def group(self, group_id):
        real_group = self.real.group(group_id)
        counter = self

        class Counted:
            def generate(self, rng):
                counter.generated += 1
                return real_group.generate(rng)
        return Counted()


@pytest.fixture
def dh_count(monkeypatch):
    counter = DhCounter(ike_sa_init.dh)
    monkeypatch.setattr(ike_sa_init, "dh", counter)
    return counter


def init_from(pair, address, **kw):
    c = pair.client(address=address, **kw)
    return c, c.start(pair.now)[0]


def notify_types(data: bytes) -> list[int]:
    return [p.type for p in w.decode_message(data).payloads if p.payload_type == 41]


def test_under_pressure_no_dh_and_no_state_before_the_cookie(tmp_path, dh_count):
    """RFC 7296 §2.6: past the threshold every IKE_SA_INIT without a valid COOKIE gets one
    back, statelessly; neither a flood of fresh sources nor forged cookies cost a DH."""
    pair = Pair(config_with(tmp_path, cookie_threshold=2, cookie_threshold_per_ip=0,
                            rate_limit_per_ip=0))
    for i in range(2):  # two half-open SAs reach the threshold
        _, request = init_from(pair, (f"198.51.100.{20 + i}", 500))
        pair.core.datagram_received(request, SERVER, (f"198.51.100.{20 + i}", 500), pair.now)
        sends(pair)
    assert dh_count.generated == 2
    flood = [init_from(pair, (f"10.1.{i // 250}.{i % 250 + 1}", 500)) for i in range(500)]
    for c, request in flood:
        pair.core.datagram_received(request, SERVER, c.local, pair.now)
    answers = sends(pair)
    assert len(answers) == 500
    assert all(notify_types(a.data) == [NotifyType.COOKIE] for a in answers)
    assert all(w.decode_message(a.data).spi_r == bytes(8) for a in answers)
    assert len(pair.of(ev.CookieSent)) == 500
    # forged and misplaced cookies: again only a COOKIE
    c, _ = flood[0]
    c._cookie = bytes(36)
    pair.core.datagram_received(c._send_init(new_key=False)[0], SERVER, c.local, pair.now)
    (again,) = sends(pair)
    assert notify_types(again.data) == [NotifyType.COOKIE]
    assert dh_count.generated == 2 and len(pair.core.v2.sas) == 2
    # a client that returns its cookie is served (one DH), the flood still is not
    legit = pair.client(address=("198.51.100.99", 500))
    pair.connect(legit)
    assert legit.state == "established", legit.failure
    assert dh_count.generated == 3


def test_half_open_limit_per_source(tmp_path):
    pair = Pair(config_with(tmp_path, half_open_limit_per_ip=5, rate_limit_per_ip=0))
    source = ("203.0.113.9", 500)
    for _ in range(8):
        _, request = init_from(pair, source)
        pair.core.datagram_received(request, SERVER, source, pair.now)
    assert len(sends(pair)) == 5
    assert pair.core.v2.half_open_per_ip[source[0]] == 5
    assert reasons(pair) == ["rate_limited"] * 3
    other = pair.client(address=("203.0.113.10", 500))  # another source is not affected
    pair.connect(other)
    assert other.state == "established", other.failure
    pair.advance(31)  # the five time out: the source may try again
    _, request = init_from(pair, source)
    pair.core.datagram_received(request, SERVER, source, pair.now)
    assert len(sends(pair)) == 1


def test_half_open_limit_in_total(tmp_path):
    pair = Pair(config_with(tmp_path, half_open_limit=10, half_open_limit_per_ip=0,
                            rate_limit_per_ip=0))
    for i in range(15):
        c, request = init_from(pair, (f"10.2.0.{i + 1}", 500))
        pair.core.datagram_received(request, SERVER, c.local, pair.now)
    assert len(sends(pair)) == 10 and len(pair.core.v2.half_open) == 10
    assert reasons(pair) == ["rate_limited"] * 5
    pair.advance(31)
    late = pair.client(address=("10.2.1.1", 500))
    pair.connect(late)
    assert late.state == "established", late.failure


def test_per_source_token_bucket_spares_established_sas(tmp_path):
    """[server] rate_limit_per_ip: what costs work for a stranger is charged to its source
    (a burst of two seconds' worth, then the rate); messages of SAs we hold are not, so an
    established client behind the same address keeps working through the flood."""
    pair = Pair(config_with(tmp_path, rate_limit_per_ip=10))
    home = ("203.0.113.50", 500)
    good = pair.client(address=home)
    pair.connect(good)
    assert good.state == "established"
    sends(pair)
    pair.events.clear()
    junk = bytes(8) + bytes(8) + b"\x21\x20\x22\x08" + bytes(4) + (40).to_bytes(4, "big") \
        + bytes(12)
    for _ in range(50):
        pair.core.datagram_received(junk, SERVER, (home[0], 4500), pair.now)
    sends(pair)
    limited = reasons(pair).count("rate_limited")
    assert limited == 50 - (20 - 1)  # the burst (20) less the client's IKE_SA_INIT
    for _ in range(5):  # the established client: never charged, always answered
        pair.deliver(good, good.liveness(pair.now))
        assert good.alive_at == pair.now
    other = pair.client(address=("203.0.113.51", 500))  # another source: its own bucket
    pair.connect(other)
    assert other.state == "established", other.failure
    pair.now += 1.0  # ten more tokens a second
    before = reasons(pair).count("rate_limited")
    for _ in range(15):
        pair.core.datagram_received(junk, SERVER, (home[0], 4500), pair.now)
    sends(pair)
    assert reasons(pair).count("rate_limited") - before == 5


def test_source_table_is_bounded():
    limiter = SourceLimiter(rate=5, max_sources=1000)
    for i in range(50_000):  # a spoofed flood: every datagram from a fresh source
        assert limiter.allow(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", float(i) / 1e4)
    assert len(limiter) <= 1000
    for _ in range(10):  # a source that keeps sending is still limited
        limiter.allow("192.0.2.7", 10.0)
    assert not limiter.allow("192.0.2.7", 10.0)
    # sources idle long enough to have refilled are pruned as new ones arrive
    for i in range(100):
        limiter.allow(f"172.16.0.{i}", 1000.0)
    assert len(limiter) <= 1000


def test_ikev1_aggressive_mode_dh_is_bounded_under_pressure(tmp_path, monkeypatch):
    """IKEv1 has no COOKIE: under pressure, Aggressive Mode first messages (each a DH
    before the sender proved its address) are admitted at a bounded rate; Main Mode,
    whose DH waits for MM3 (after the responder cookie round trip), is unaffected."""
    base = v1.BASE.replace("[server]\n", "[server]\ncookie_threshold = 4\n"
                           "cookie_threshold_per_ip = 0\nrate_limit_per_ip = 0\n"
                           "half_open_limit_per_ip = 0\n")
    pair = v1.Pair1(v1.make_config(tmp_path, v1.MAIN_PSK, v1.XAUTH_PSK, base=base))
    calls = []
    real = phase1.key_exchange
    monkeypatch.setattr(phase1, "key_exchange",
                        lambda ctx, sa, peer: (calls.append(1), real(ctx, sa, peer))[1])
    clients = [pair.client(local_id="group1@example.test", psk=v1.GROUP_PSK, aggressive=True,
                           xauth_user="alice", xauth_password=b"alice-Secret-1",
                           address=(f"10.3.{i // 250}.{i % 250 + 1}", 500))
               for i in range(200)]
    first = [c.start(pair.now)[0] for c in clients]
    for c, d in zip(clients, first):
        pair.core.datagram_received(d, SERVER, c.local, pair.now)
        pair.core.actions()
    admitted = len(calls)
    # four before the pressure starts, then the bucket's burst; nothing more this instant
    assert admitted == 4 + int(AGGRESSIVE_UNDER_PRESSURE_RATE), admitted
    assert len(pair.core.v1.half_open) == admitted
    pair.now += 1.0
    for c, d in zip(clients, first):
        pair.core.datagram_received(d, SERVER, c.local, pair.now)
        pair.core.actions()
    assert len(calls) - admitted <= AGGRESSIVE_UNDER_PRESSURE_RATE
    # Main Mode first messages cost no DH and are not rate-bounded
    site = pair.client(ts_local=None, address=("198.51.100.200", 500))
    pair.core.datagram_received(site.start(pair.now)[0], SERVER, site.local, pair.now)
    assert any(type(a).__name__ == "SendDatagram" for a in pair.core.actions())


HALF_OPEN_SAMPLE = 400


def _half_open_bytes(tmp_path, pad: int) -> tuple[float, int]:
    pair = Pair(config_with(tmp_path, half_open_limit_per_ip=0, rate_limit_per_ip=0))
    requests = []
    for i in range(HALF_OPEN_SAMPLE):
        c, request = init_from(pair, (f"10.4.{i // 250}.{i % 250 + 1}", 500))
        if pad:
            msg = w.decode_message(request)
            extra = w.VendorIdPayload(b"v" * pad)
            request = w.encode_message(w.Message(msg.spi_i, msg.spi_r, msg.exchange, msg.flags,
                                                 msg.message_id, msg.payloads + [extra]))
        requests.append((c, request))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for c, request in requests:
            # a fresh copy, as the transport makes one per datagram read
            pair.core.datagram_received(bytes(memoryview(request)), SERVER, c.local, pair.now)
            pair.core.actions()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert len(pair.core.v2.half_open) == HALF_OPEN_SAMPLE
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return grown / HALF_OPEN_SAMPLE, len(requests[0][1])


def test_memory_per_half_open_sa(tmp_path):
    """A half-open SA keeps its IKE_SA_INIT request (RFC 7296 §2.15: signed by AUTH) and
    our response, keys and bookkeeping: about 5 KB plus the request. The total is
    bounded by [server] half_open_limit x (that + max_message_size)."""
    small, small_len = _half_open_bytes(tmp_path, 0)
    big, big_len = _half_open_bytes(tmp_path, 9000)
    print(f"\nbytes per half-open IKEv2 SA: {small:.0f} ({small_len}-byte request), "
          f"{big:.0f} ({big_len}-byte request)")
    assert small < 6000 + small_len
    # the request once, not a multiple of it
    assert (big_len - small_len) * 0.9 < big - small < (big_len - small_len) * 1.3 + 1000


def test_the_response_cache_holds_one_answer_per_sa(tmp_path):
    """RFC 7296 §2.1: a retransmitted request gets the cached answer, so the responder
    keeps the last response of each SA, and only the last: thousands of exchanges on an
    SA leave its memory where it was."""
    pair = Pair(config_with(tmp_path))
    c = pair.client(address=("198.51.100.90", 500))
    pair.connect(c)
    assert c.state == "established"

    def exchanges(n: int) -> None:
        for _ in range(n):
            pair.deliver(c, c.liveness(pair.now))
            pair.sent_to.clear()  # the test harness's own record, not the core's
            pair.events.clear()
            pair.now += 0.01

    exchanges(200)  # warm up (allocator pools, caches)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        exchanges(2000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    (sa,) = pair.core.v2.sas.values()
    assert len(sa.last_response) == 1 and sa.last_response_id == c.sa.our_next_id - 1
    assert grown < 64 * 1024, grown  # not ~2000 cached answers
