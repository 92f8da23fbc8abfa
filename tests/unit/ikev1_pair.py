"""An ikesrv Core and in-memory IKEv1 initiators wired together, with fixed time and
randomness: the scripted peer the IKEv1 core tests talk to (no sockets, no kernel).

User checks (XAuth) are answered in-process from ``Pair1.users`` unless the test holds
them (``hold_auth``) to answer by hand.
"""

from __future__ import annotations

from pathlib import Path

from ikesrv.actions import (
    AuthRequest,
    AuthResult,
    InstallChildSa,
    KernelResult,
    RemoveChildSa,
    SendDatagram,
    SendKeepalive,
)
from ikesrv.config import load_text
from ikesrv.crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ikesrv.identity import Identity
from ikesrv.load.initiator_v1 import ClientSettingsV1, Ikev1Initiator

from .ikev2_pair import SERVER, Pair

PSK = b"test-v1-psk-0123456789"
GROUP_PSK = b"test-group-psk-0123456789"
USERS = {"alice": b"alice-Secret-1", "bob": b"bob-Secret-2"}

BASE = """
[server]
addresses = ["192.0.2.1"]
[metrics]
listen = "127.0.0.1:9810"
[kernel]
backend = "none"
[pools.rw]
addresses = "198.51.100.0/24"
dns = ["198.51.100.1"]
split_include = ["192.0.2.0/25"]
[users]
backend = "file"
[users.file]
path = "users.toml"
"""

MAIN_PSK = """
[connections.site]
version = 1
local_id = "vpn.example.test"
local_auth = "psk"
remote_auth = "psk"
remote_id = "*@example.test"
psk_file = "site.psk"
remote_addrs = ["198.51.100.200/32", "203.0.113.0/24"]
proposals = ["aes256-sha256-modp2048", "aes128-sha256-ecp256"]
esp_proposals = ["aes256-sha256-modp2048", "aes256-sha256", "aes256gcm16"]
local_ts = ["192.0.2.0/25"]
remote_ts = ["198.51.100.192/26"]
dpd_delay = "30s"
dpd_timeout = "90s"
"""

XAUTH_PSK = """
[connections.rw]
version = 1
local_id = "vpn.example.test"
local_auth = "psk"
remote_auth = "xauth"
remote_id = "group1@example.test"
psk_file = "group.psk"
aggressive = true
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256", "aes128-sha256-modp2048"]
pools = ["rw"]
local_ts = ["192.0.2.0/25"]
xauth_retries = 3
"""

USERS_FILE = """
[alice]
password = "alice-Secret-1"
[bob]
password = "bob-Secret-2"
"""


def make_config(tmp_path: Path, *sections: str, base: str = BASE, **files: bytes):
    (tmp_path / "site.psk").write_bytes(PSK + b"\n")
    (tmp_path / "group.psk").write_bytes(GROUP_PSK + b"\n")
    users = tmp_path / "users.toml"
    users.write_text(USERS_FILE)
    users.chmod(0o600)
    for name, content in files.items():
        (tmp_path / name.replace("_", ".")).write_bytes(content)
    return load_text(base + "".join(sections), tmp_path)


class Pair1(Pair):
    """Pair with IKEv1 clients; XAuth requests answered from ``users``."""

    def __init__(self, config, seed: int = 1, worker_index: int = 0):
        super().__init__(config, seed, worker_index)
        self.users = dict(USERS)
        self.hold_auth = False
        self.pending_auth: list[AuthRequest] = []
        self.keepalives: list = []
        self.held: list = []  # (client, datagram) held back by ``hold_next``
        self.hold_next = 0
        self.drop_to_client = None  # predicate(data) -> True: lose that server datagram
        self.drop_to_server = None  # predicate(data) -> True: lose that client datagram

    def client(self, *, ike="aes256-sha256-modp2048", esp="aes256-sha256", psk=PSK,
               local_id="client1@example.test", address=("198.51.100.200", 500), **kw):
        settings = ClientSettingsV1(
            ike_proposals=[parse_ike_proposal(p, 1) for p in ike.split(",")],
            esp_proposals=[parse_esp_proposal(p, 1) for p in esp.split(",")],
            local_id=Identity.parse(local_id), psk=psk, **kw)
        c = Ikev1Initiator(settings, self.rng.randbytes, address, SERVER)
        self.clients.append(c)
        return c

    def answer_auth(self, request: AuthRequest, ok: bool | None = None) -> None:
        if ok is None:
            ok = self.users.get(request.username) == request.password
        self.core.auth_completed(request.request_id,
                                 AuthResult(ok=ok, reason="" if ok else "wrong password"),
                                 self.now)

    def _drain(self, client) -> list:
        out = []
        for a in self.core.actions():
            if isinstance(a, SendDatagram):
                self.sent_to.setdefault(a.remote, []).append(a.data)
                target = self._client_for(a.remote, a.data)
                if target is None or id(target) in self.gone or client is None:
                    continue
                if self.hold_next:
                    self.hold_next -= 1
                    self.held.append((target, a.data))
                    continue
                if self.drop_to_client is not None and self.drop_to_client(a.data):
                    self.dropped_to_client += 1
                    continue
                if self.drop_next_to_client:
                    self.drop_next_to_client -= 1
                    self.dropped_to_client += 1
                    continue
                for d in target.receive(a.data, self.now):
                    out.append((target, d))
            elif isinstance(a, InstallChildSa):
                self.installed[a.spec.spi_in] = a.spec
                self.core.kernel_completed(a.request_id, KernelResult(
                    self.kernel_ok, "" if self.kernel_ok else "refused by test"))
                out += self._drain(client)
            elif isinstance(a, RemoveChildSa):
                self.removed.append(a)
                self.installed.pop(a.spec.spi_in, None)
            elif isinstance(a, AuthRequest):
                self.auth_requests.append(a)
                if self.hold_auth:
                    self.pending_auth.append(a)
                else:
                    self.answer_auth(a)
                    out += self._drain(client)
            elif isinstance(a, SendKeepalive):
                self.keepalives.append(a)
            else:
                self.events.append(a)
        return out

    def _client_for(self, remote, data: bytes):
        """The client a datagram is for: by address, and by its cookie when several
        clients share the address (a phase 1 rekey from the same port)."""
        at = [c for c in self.clients if c.local == remote]
        if len(at) > 1:
            mine = [c for c in at if c.sa is not None and c.sa.spi_i == data[:8]]
            return mine[0] if mine else None
        return at[0] if at else self._client_at(remote)

    def _client_at(self, remote):
        for c in self.clients:
            if c.local == remote or (c.local[0] == remote[0] and getattr(c, "behind_nat", False)
                                     and remote[1] == c.local[1]):
                return c
        return None

    def deliver(self, client, datagrams: list[bytes]) -> None:
        """Client -> server, then everything that follows, until quiet."""
        self._run([(client, d) for d in datagrams])

    def flush(self, client) -> None:
        """Deliver what the core has to say now (e.g. after answering an auth request)
        and everything that follows."""
        self._run(self._drain(client))

    def _run(self, queue: list) -> None:
        while queue:
            c, d = queue.pop(0)
            if self.drop_to_server is not None and self.drop_to_server(d):
                continue
            self.core.datagram_received(d, (SERVER[0], c.remote[1]), c.local, self.now)
            queue += self._drain(c)

    def advance(self, seconds: float, client=None) -> None:
        """Move time forward, firing the core's timers on the way."""
        end = self.now + seconds
        while True:
            t = self.core.next_timer()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            self.core.timer_fired(self.now)
            self._run(self._drain(client))
        self.now = end

    def release(self, index: int = 0) -> None:
        """Deliver one held server datagram to its client now, and what follows."""
        target, data = self.held.pop(index)
        self.deliver(target, target.receive(data, self.now))

    def send(self, client, datagrams: list[bytes]) -> None:
        """Client -> server of datagrams the client produced on demand (DPD, deletes)."""
        self.deliver(client, datagrams)

    def sa_of(self, client):
        return self.core.v1.sas.get(client.sa.spi_r)


def header(data: bytes) -> tuple[int, int, int]:
    """(exchange, flags, message ID) of an ISAKMP message."""
    return data[18], data[19], int.from_bytes(data[20:24], "big")


def once(predicate):
    """A drop predicate that fires on the first datagram matching ``predicate``."""
    fired = []

    def drop(data: bytes) -> bool:
        if not fired and predicate(data):
            fired.append(data)
            return True
        return False
    drop.fired = fired
    return drop
