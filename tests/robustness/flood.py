"""Bounded floods for the system robustness tests, sent only inside the test's own
network namespaces: mutated IKE datagrams (both versions, seeded from the real captures)
and half-open IKE_SA_INIT floods from many source addresses; plus the readings the tests
assert on (the supervisor's /metrics, the workers' RSS from /proc).

Imports ikesrv's codec to build messages, and tests.harness; runs its senders through
Namespace.call (a thread that joined the client namespace)."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from pathlib import Path

from bench.fuzz_codec import default_seeds, mutate

NON_ESP_MARKER = bytes(4)  # RFC 3948 §2.2: IKE on the NAT-T port


# ------------------------------------------------------------------ source addresses --


def add_sources(client_ns, gateway_ns, prefix: str, count: int, via: str) -> list[str]:
    """``count`` addresses ``prefix.N`` on the client namespace's lo, and the gateway's
    route back to them through ``via``: real sources that never finish a handshake."""
    addresses = [f"{prefix}.{i // 250}.{i % 250 + 1}" for i in range(count)]
    batch = "".join(f"addr add {a}/32 dev lo\n" for a in addresses)
    client_ns.run(["ip", "-batch", "-"], input=batch, timeout=60)
    gateway_ns.ip("route", "add", f"{prefix}.0.0/16", "via", via)
    return addresses


# ------------------------------------------------------------------ datagrams ---------


def mutated_datagrams(count: int, seed: int) -> list[bytes]:
    """``count`` mutations (bench.fuzz_codec.mutate) of every IKE message of the captures
    and the codec samples, IKEv2 and IKEv1; a few unmutated."""
    seeds = default_seeds()
    rng = random.Random(seed)
    return [mutate(rng, s, seeds) if rng.random() < 0.95 else s
            for s in (rng.choice(seeds) for _ in range(count))]


def ike_sa_init(rng: random.Random) -> bytes:
    """An IKEv2 IKE_SA_INIT offering aes128-sha256-x25519 with a fresh SPI, nonce and
    a random X25519 public value (any 32 octets is one, RFC 7748 §5): what a client
    sends, or a flood of spoofed ones."""
    from ikesrv.constants import ExchangeType, HeaderFlag, ProtocolId
    from ikesrv.crypto.proposals import parse_ike_proposal
    from ikesrv.wire import ikev2 as w
    offer = parse_ike_proposal("aes128-sha256-x25519").to_wire(1, ProtocolId.IKE)
    return w.encode_message(w.Message(
        rng.randbytes(8), bytes(8), ExchangeType.IKE_SA_INIT, HeaderFlag.INITIATOR, 0,
        [w.SaPayload([offer]), w.KePayload(31, rng.randbytes(32)),
         w.NoncePayload(rng.randbytes(32))]))


# ------------------------------------------------------------------ sending -----------


class Flood:
    """Sends ``datagrams`` from ``sources`` to ``target`` ports 500 and 4500 at about
    ``rate`` per second, in a thread inside ``ns``; ``start()``, then ``join()``."""

    def __init__(self, ns, target: str, datagrams: list[bytes], sources: list[str], *,
                 rate: float, natt_share: float = 0.4, seed: int = 1):
        self.ns, self.target, self.datagrams = ns, target, datagrams
        self.sources, self.rate, self.natt_share = sources, rate, natt_share
        self.seed = seed
        self.sent = 0
        self.errors = 0
        self.seconds = 0.0
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def _run(self) -> None:
        rng = random.Random(self.seed)
        socks = []
        try:
            for address in self.sources:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((address, 0))
                s.setblocking(False)
                socks.append(s)
            started = time.monotonic()
            batch = max(1, int(self.rate / 100))  # every 10 ms
            for i, data in enumerate(self.datagrams):
                s = socks[i % len(socks)]
                if rng.random() < self.natt_share:
                    dest, payload = (self.target, 4500), NON_ESP_MARKER + data
                    if rng.random() < 0.1:
                        payload = data  # no marker: ESP to the kernel, never to ikesrv
                else:
                    dest, payload = (self.target, 500), data
                try:
                    s.sendto(payload, dest)
                    self.sent += 1
                except OSError:
                    self.errors += 1  # a full socket buffer: part of flooding
                if i % batch == batch - 1:
                    ahead = started + (i + 1) / self.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            self.seconds = time.monotonic() - started
        finally:
            for s in socks:
                s.close()

    def start(self) -> Flood:
        budget = len(self.datagrams) / self.rate * 3 + 30

        def body() -> None:
            try:
                self.ns.call(self._run, timeout=budget)
            except BaseException as e:  # noqa: BLE001 - handed to join()
                self._failure = e
        self._thread = threading.Thread(target=body, name="flood", daemon=True)
        self._thread.start()
        return self

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self) -> Flood:
        assert self._thread is not None
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self


# ------------------------------------------------------------------ readings ----------


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS, KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def worker_pids(server) -> list[int]:
    return [w["pid"] for w in server.status()["workers"]]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
