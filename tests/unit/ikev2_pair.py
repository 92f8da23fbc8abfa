"""An ikesrv Core and in-memory IKEv2 initiators wired together, with fixed time and
randomness: the scripted peer the core's tests talk to (no sockets, no kernel)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from ikesrv import events as ev
from ikesrv.actions import (
    AuthRequest,
    InstallChildSa,
    KernelResult,
    RemoveChildSa,
    SendDatagram,
)
from ikesrv.config import load_text
from ikesrv.core import Core
from ikesrv.crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ikesrv.identity import Identity
from ikesrv.load.initiator import ClientSettings, Ikev2Initiator

SERVER = ("192.0.2.1", 500)
PSK = b"test-psk-0123456789abcdef"

BASE_CONFIG = """
[server]
addresses = ["192.0.2.1"]
cookie_threshold = 0
cookie_threshold_per_ip = 0
[metrics]
listen = "127.0.0.1:9810"
[kernel]
backend = "none"
[pools.rw]
addresses = "198.51.100.0/24"
dns = ["198.51.100.1"]
[connections.rw]
version = 2
local_id = "vpn.example.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519", "aes256-sha256-modp2048"]
esp_proposals = ["aes256gcm16", "aes128-sha256"]
pools = ["rw"]
local_ts = ["192.0.2.0/25"]
dpd_delay = "30s"
"""


def make_config(tmp_path: Path, text: str = BASE_CONFIG, **files: bytes):
    (tmp_path / "rw.psk").write_bytes(PSK + b"\n")
    for name, content in files.items():
        (tmp_path / name.replace("_", ".")).write_bytes(content)
    return load_text(text, tmp_path)


class Pair:
    """The core plus any number of clients; ``run`` delivers until nothing moves."""

    def __init__(self, config, seed: int = 1, worker_index: int = 0):
        self.rng = random.Random(seed)
        self.core = Core(config, rng=self.rng.randbytes, worker_index=worker_index)
        self.now = float(int(time.time()))  # certificates are issued relative to today
        self.events: list = []
        self.installed: dict[int, object] = {}
        self.removed: list = []
        self.sent_to: dict[tuple, list[bytes]] = {}  # server datagrams by client address
        self.kernel_ok = True
        self.auth_requests: list[AuthRequest] = []
        self.dropped_to_client = 0
        self.drop_next_to_client = 0
        self.clients: list = []
        self.hold_next = 0  # hold this many server datagrams instead of delivering them
        self.held: list = []  # (client, datagram) held back, for reordering tests
        self.gone: set = set()  # clients that no longer answer

    def client(self, *, ike="aes256gcm16-prfsha384-ecp384", esp="aes256gcm16", psk=PSK,
               local_id="client1@example.test", address=("198.51.100.200", 500), **kw):
        settings = ClientSettings(
            ike_proposals=[parse_ike_proposal(p) for p in ike.split(",")],
            esp_proposals=[parse_esp_proposal(p) for p in esp.split(",")],
            local_id=Identity.parse(local_id), psk=psk, **kw)
        c = Ikev2Initiator(settings, self.rng.randbytes, address, SERVER)
        self.clients.append(c)
        return c

    def _client_at(self, remote):
        for c in self.clients:
            if c.local == remote:
                return c
        return None

    def connect(self, client) -> None:
        self.deliver(client, client.start(self.now))

    def deliver(self, client, datagrams: list[bytes]) -> None:
        """Client -> server, then everything that follows, until quiet."""
        queue = [(client, d) for d in datagrams]
        while queue:
            c, d = queue.pop(0)
            self.core.datagram_received(d, (SERVER[0], c.remote[1]), c.local, self.now)
            queue += self._drain(c)

    def _drain(self, client) -> list:
        out = []
        for a in self.core.actions():
            if isinstance(a, SendDatagram):
                self.sent_to.setdefault(a.remote, []).append(a.data)
                target = self._client_at(a.remote)
                if target is None or id(target) in self.gone or client is None:
                    continue  # nobody answers there
                if self.hold_next:
                    self.hold_next -= 1
                    self.held.append((target, a.data))
                    continue
                if self.drop_next_to_client:
                    self.drop_next_to_client -= 1
                    self.dropped_to_client += 1
                    continue
                for d in target.receive(a.data, self.now):
                    out.append((target, d))
            elif isinstance(a, InstallChildSa):
                self.installed[a.spec.spi_in] = a.spec
                self.core.kernel_completed(a.request_id, KernelResult(self.kernel_ok,
                                           "" if self.kernel_ok else "refused by test"))
                out += self._drain(client)
            elif isinstance(a, RemoveChildSa):
                self.removed.append(a)
                self.installed.pop(a.spec.spi_in, None)
            elif isinstance(a, AuthRequest):
                self.auth_requests.append(a)
            else:
                self.events.append(a)
        return out

    def release(self, index: int = 0) -> None:
        """Deliver one held server datagram to its client now, and what follows."""
        target, data = self.held.pop(index)
        self.deliver(target, target.receive(data, self.now))

    def advance(self, seconds: float, client=None) -> None:
        """Move time forward, firing the core's timers on the way."""
        end = self.now + seconds
        while True:
            t = self.core.next_timer()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            self.core.timer_fired(self.now)
            pending = self._drain(client)
            while pending:
                c, d = pending.pop(0)
                self.core.datagram_received(d, (SERVER[0], c.remote[1]), c.local, self.now)
                pending += self._drain(c)
        self.now = end

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def gauge(self, state: str) -> int:
        n = 0
        for e in self.of(ev.IkeSaStateChanged):
            n += (e.new == state) - (e.old == state)
        return n
