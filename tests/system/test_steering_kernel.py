"""The steering program in the kernel (DESIGN §4): real SO_REUSEPORT groups on the
loopback of a fresh network namespace, datagrams sent to them, the socket that received
each one compared with ikesrv.net.steering.expected_worker."""

from __future__ import annotations

import random
import select
import socket
import struct

import pytest

from ikesrv.net import steering

pytestmark = pytest.mark.root

PORT, NATT_PORT = 500, 4500


@pytest.fixture
def ns(cleanup):
    from tests.harness import policy
    from tests.harness.netns import Namespace, unique_name

    policy.require_root()
    policy.require_binary("ip", "iproute2")
    namespace = Namespace.create(unique_name("steer"), cleanup)
    namespace.ip("link", "set", "lo", "up")
    return namespace


def ike(kind: str, workers: int, rng: random.Random) -> bytes:
    spi_i, spi_r = rng.randbytes(8), rng.randbytes(8)
    ours = bytes([rng.randrange(workers)]) + rng.randbytes(7)
    if kind == "first":
        h = spi_i + bytes(8) + bytes([33, 0x20, 34, 0x08])
    elif kind == "ours":
        h = spi_i + ours + bytes([46, 0x20, 35, 0x08])
    elif kind == "we_rekeyed":  # RFC 7296 §3.1: I flag clear, SPIi is ours
        h = ours + spi_r + bytes([46, 0x20, 37, 0x20])
    else:  # IKEv1: the responder cookie is ours
        h = spi_i + ours + bytes([8, 0x10, 5, 0x01])
    body = rng.randbytes(rng.randrange(0, 400))
    return h + struct.pack("!II", 0, 28 + len(body)) + body


def receiver(group: steering.Group) -> int:
    readable, _, _ = select.select(group.sockets, [], [], 2.0)
    assert len(readable) == 1, "each datagram reaches exactly one socket of the group"
    readable[0].recv(65535)
    return group.sockets.index(readable[0])


def _check_group(address: str, workers: int, natt: bool) -> tuple[int, list[int]]:
    group = steering.bind_group(address, NATT_PORT if natt else PORT, workers, natt=natt)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    rng = random.Random(workers * 10 + natt)
    checked, per_worker = 0, [0] * workers
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as client:
            for i in range(400):
                payload = ike(("first", "ours", "we_rekeyed", "v1")[i % 4], workers, rng)
                if natt:
                    payload = bytes(4) + payload
                client.sendto(payload, (address, group.port))
                got = receiver(group)
                per_worker[got] += 1
                want = steering.expected_worker(payload, workers, natt)
                assert want is not None
                assert got == want, (payload[:28].hex(), got, want)
                checked += 1
    finally:
        for s in group.sockets:
            s.close()
    return checked, per_worker


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("natt", [False, True])
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_every_ike_datagram_reaches_its_worker(ns, address, natt, workers):
    checked, per_worker = ns.call(_check_group, address, workers, natt)
    assert checked == 400
    assert min(per_worker) > 0, per_worker


def _keepalives(workers: int) -> list[int]:
    group = steering.bind_group("127.0.0.1", PORT, workers, natt=False)
    counts = [0] * workers
    try:
        for _ in range(64):  # 64 peers, one keepalive each, from their own port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.sendto(b"\xff", ("127.0.0.1", PORT))
                counts[receiver(group)] += 1
    finally:
        for s in group.sockets:
            s.close()
    return counts


def test_short_datagrams_are_spread_by_the_kernel_hash(ns):
    # a program that loaded past the end would return 0 and pin them all to worker 0
    counts = ns.call(_keepalives, 2)
    assert sum(counts) == 64 and min(counts) > 0, counts


def _fill(rcvbuf: int, n: int) -> int:
    """Datagrams a worker's socket holds while nobody reads it (a worker restarting)."""
    group = steering.bind_group("127.0.0.1", PORT, 2, natt=False, rcvbuf=rcvbuf)
    try:
        rng = random.Random(7)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for _ in range(n):  # 300-byte IKE messages of an SA of worker 0
                client.sendto(ike("ours", 1, rng)[:28] + bytes(272), ("127.0.0.1", PORT))
        held = 0
        while True:
            try:
                group.sockets[0].recv(65535)
            except BlockingIOError:
                return held
            held += 1
    finally:
        for s in group.sockets:
            s.close()


def test_the_receive_buffer_holds_a_restarts_worth(ns):
    # worker 0's socket, unread: the default [server] receive_buffer keeps thousands
    held = ns.call(_fill, 4 * 1024 * 1024, 8000)
    assert held >= 5000, held
    # ...where the kernel's default buffer keeps a couple of hundred (DESIGN §4)
    assert ns.call(_fill, 0, 2000) < 1000
