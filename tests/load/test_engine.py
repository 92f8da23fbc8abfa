"""The generator's loop without root: retransmission and giving up, against a UDP
socket on the loopback that never answers."""

from __future__ import annotations

import socket

from ikesrv.load.clients import V2Options, Ikev2Kind
from ikesrv.load.engine import Engine


def silent_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def kind():
    return Ikev2Kind(V2Options(target="127.0.0.1", port=0, auth="psk",
                               ike_proposals=["aes128-sha256-x25519"],
                               esp_proposals=["aes128-sha256"], local_id="c{n}@load.test",
                               psk=b"secret-0123456789"))


def test_unanswered_set_ups_back_off_then_fail_as_timeouts():
    sink = silent_port()
    try:
        port = sink.getsockname()[1]
        engine = Engine(kind(), range(1, 4), target="127.0.0.1", port=port, concurrency=2,
                        timeout=10, retransmit_timeout=0.05, retransmit_tries=3)
        r = engine.run()
        assert (r.started, r.established, r.failed, r.unfinished) == (3, 0, 3, 0)
        assert r.failures == {"IKE_SA_INIT timeout": 3}
        assert r.retransmissions == 9  # 3 clients x 3 tries
        assert not r.timed_out
        # every request reached the sink: 3 first sends + 9 retransmissions, all IKE_SA_INIT
        sink.setblocking(False)
        got = []
        while True:
            try:
                got.append(sink.recv(65536))
            except BlockingIOError:
                break
        assert len(got) == 12
        assert all(d[18] == 34 and d[19] == 0x08 for d in got)  # IKE_SA_INIT, I flag
        assert len({d[:8] for d in got}) == 3  # one initiator SPI per client
        # back-off: 0.05 + 0.1 + 0.2 + 0.4 s, two clients at a time
        assert 0.75 * 2 <= r.t_end - r.t_start < 5
    finally:
        sink.close()


def test_global_timeout_bounds_the_run_and_counts_the_unfinished():
    sink = silent_port()
    try:
        engine = Engine(kind(), range(1, 101), target="127.0.0.1",
                        port=sink.getsockname()[1], concurrency=10, timeout=0.3)
        r = engine.run()
        assert r.timed_out
        assert (r.started, r.unfinished, r.failed) == (10, 10, 0)
        assert r.t_end - r.t_start < 1.5
    finally:
        sink.close()


def test_rate_paces_the_starts():
    sink = silent_port()
    try:
        engine = Engine(kind(), range(1, 1001), target="127.0.0.1",
                        port=sink.getsockname()[1], concurrency=1000, rate=20, timeout=0.5)
        r = engine.run()
        # 20/s for 0.5 s: about 11 starts (one at once, then one each 50 ms)
        assert 8 <= r.started <= 13
    finally:
        sink.close()
