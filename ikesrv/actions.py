"""What the sans-I/O core asks the edges to do, and the results the edges feed back.

Owns: the action types returned by ``Core.actions()`` and the input types passed to
``Core.auth_completed`` / ``Core.kernel_completed`` / ``Core.kernel_event``. They are
frozen, slotted dataclasses: plain data, no behaviour, nothing that touches I/O.

Addresses are ``(host, port)`` tuples as the socket API uses them. Keys are ``bytes``
inside types whose repr never shows them.

Must not import asyncio, socket, pyroute2, ldap3 or prometheus_client.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field

Addr = tuple[str, int]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ------------------------------------------------------------------ network -----------


@dataclass(frozen=True, slots=True)
class SendDatagram:
    """Send ``data`` (an IKE message) from ``local`` to ``remote``.

    On the NAT-T port the edge prepends the non-ESP marker (RFC 3948 §2.2).
    """

    local: Addr
    remote: Addr
    data: bytes


@dataclass(frozen=True, slots=True)
class SendKeepalive:
    """Send a NAT-T keepalive (the single 0xFF byte, RFC 3948 §2.3) on the NAT-T port."""

    local: Addr
    remote: Addr


# ------------------------------------------------------------------ users -------------


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """Check a user's credentials against the users backend (file or LDAP).

    ``method`` is "password" (XAuth, EAP-GTC: a clear-text password to verify),
    "nt_hash" (EAP-MSCHAPv2: fetch the user's NT hash), or "clear_password" (EAP-MD5).
    The answer comes back through ``Core.auth_completed(request_id, AuthResult)``.
    """

    request_id: int
    method: str
    connection: str
    username: str
    password: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The backend's answer to an AuthRequest.

    ``ok`` says whether the user exists, may use the VPN (group) and, for "password",
    whether the password is right. ``secret`` carries the NT hash or clear password the
    method asked for. ``reason`` is for the log only (never sent to the peer).
    """

    ok: bool
    reason: str = ""
    secret: bytes = field(default=b"", repr=False)


# ------------------------------------------------------------------ kernel ------------


@functools.lru_cache(maxsize=4096)
def _networks(start, end) -> tuple:
    """summarize_address_range costs tens of µs; SAs repeat the same few ranges (local
    policy) and single addresses (virtual IPs), so the answers are cached."""
    if start == end:
        return (ipaddress.ip_network(start),)
    return tuple(ipaddress.summarize_address_range(start, end))


@functools.lru_cache(maxsize=4096)
def _text(start, end, ip_protocol: int, start_port: int, end_port: int) -> str:
    nets = ",".join(str(n) for n in _networks(start, end))
    if ip_protocol == 0 and start_port == 0 and end_port == 65535:
        return nets
    ports = str(start_port) if start_port == end_port else f"{start_port}-{end_port}"
    return f"{nets}[{ip_protocol}/{ports}]"


@dataclass(frozen=True, slots=True)
class TrafficSelectorSpec:
    """One traffic selector as the kernel wants it: an address range, protocol, ports."""

    start: ipaddress.IPv4Address | ipaddress.IPv6Address
    end: ipaddress.IPv4Address | ipaddress.IPv6Address
    ip_protocol: int = 0  # 0 = any
    start_port: int = 0
    end_port: int = 65535

    def __hash__(self) -> int:
        # the generated hash would call ipaddress's __hash__ (hex(int(address)) in Python,
        # ~0.2 µs each); selectors key the narrowing memos of every CHILD SA. Equal specs
        # have equal integers and types, so this agrees with __eq__.
        return hash((self.start._ip, self.end._ip, self.ip_protocol, self.start_port,
                     self.end_port))

    def networks(self) -> list[IpNetwork]:
        """The range as the smallest list of CIDR networks (what XFRM selectors take)."""
        return list(_networks(self.start, self.end))

    def __str__(self) -> str:
        return _text(self.start, self.end, self.ip_protocol, self.start_port, self.end_port)


@dataclass(frozen=True, slots=True)
class SaKeys:
    """ESP algorithms and keys for one direction (keys hidden from repr)."""

    encr_id: int
    encr_key: bytes = field(repr=False)  # includes the salt for AEAD algorithms
    integ_id: int = 0
    integ_key: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class ChildSaSpec:
    """Everything the kernel needs to carry one CHILD SA (both directions).

    ``reqid`` is stable across rekeys of the same CHILD SA: the policies are keyed by it
    and are installed only when ``install_policies`` is set (a new CHILD SA, not a rekey).
    ``defer_outbound`` (a rekey the peer initiated): the new outbound state waits until
    the old CHILD SA is removed (the peer's Delete), because the peer installs its new
    inbound state only when our response arrives (RFC 7296 §2.8).
    """

    version: int
    reqid: int
    local: Addr
    remote: Addr
    spi_in: int
    spi_out: int
    keys_in: SaKeys
    keys_out: SaKeys
    ts_local: tuple[TrafficSelectorSpec, ...]
    ts_remote: tuple[TrafficSelectorSpec, ...]
    mode: str = "tunnel"  # or "transport"
    encap: bool = False  # UDP encapsulation (RFC 3948) on local/remote ports
    esn: bool = False
    lifetime_soft: float = 0.0  # seconds; 0 = none
    lifetime_hard: float = 0.0
    lifetime_soft_bytes: int = 0
    lifetime_hard_bytes: int = 0
    replay_window: int = 32
    install_policies: bool = True
    defer_outbound: bool = False


@dataclass(frozen=True, slots=True)
class InstallChildSa:
    """Install a CHILD SA; the answer comes back via ``Core.kernel_completed``."""

    request_id: int
    spec: ChildSaSpec


@dataclass(frozen=True, slots=True)
class RemoveChildSa:
    """Remove a CHILD SA's states (and its policies when ``remove_policies``)."""

    spec: ChildSaSpec
    remove_policies: bool = True


@dataclass(frozen=True, slots=True)
class KernelResult:
    """The kernel's answer to an InstallChildSa."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class KernelEvent:
    """An XFRM event about one of our SAs: "soft" or "hard" expiry of the SA with
    ``spi`` (inbound or outbound) and ``reqid``."""

    kind: str
    reqid: int
    spi: int
    inbound: bool = True


# ------------------------------------------------------------------ other workers ------


@dataclass(frozen=True, slots=True)
class IdentityClaimed:
    """An IKE SA of ``identity`` (a peer identity key) on ``connection`` is being set up
    here; the edge tells the other workers (DESIGN §4), which hand the claim to
    ``Core.identity_claimed_elsewhere``. ``mode``: "replace" (they delete their older
    SAs of that identity), "initial_contact" (they forget them, RFC 7296 §2.4) or "keep"
    (one that holds an older SA answers, and ``Core.claim_refused(spi)`` ends ours)."""

    connection: str
    identity: str
    mode: str
    claimed_at: float
    spi: bytes  # our SPI of the claiming IKE SA


Action = (SendDatagram | SendKeepalive | AuthRequest | InstallChildSa | RemoveChildSa
          | IdentityClaimed)
