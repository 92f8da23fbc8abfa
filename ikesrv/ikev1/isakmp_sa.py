"""The state of one ISAKMP SA (IKEv1 phase 1) and of the exchanges running on it.

Owns: IsakmpSa (cookies, addresses, the negotiated suite and keying material, the
peer's identity and capabilities, NAT-T and DPD state, the IPsec SAs it created), the
Quick Modes waiting for their third message, our own outstanding Transaction request,
the retransmission cache (RFC 2408 has no message IDs in phase 1: a retransmitted
message is recognised by its bytes and answered with the same bytes), and the one
deadline each SA waits for. Plain data: the protocol logic lives in the exchange
modules and ``responder``.

The IPsec SAs are ``ikev2.ike_sa.ChildSa`` objects: the kernel, ``ikesrv status`` and
the core's SPI index treat both versions alike.

Must not import asyncio, socket, pyroute2, ldap3, prometheus_client or the clock.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ikev2.ike_sa import ChildSa
from ..sa_status import describe_sa

if TYPE_CHECKING:
    from ..actions import Addr

#: Received messages remembered per SA for retransmission detection (by message ID).
REPLY_CACHE = 8


class V1State(enum.Enum):
    MM_SA = "mm_sa"  # Main Mode: MM2 sent, waiting for MM3
    MM_KE = "mm_ke"  # Main Mode: MM4 sent, waiting for MM5
    AM_SENT = "am_sent"  # Aggressive Mode: AM2 sent, waiting for AM3
    XAUTH = "xauth"  # phase 1 done, the user still has to log in
    ESTABLISHED = "established"
    REKEYED = "rekeyed"  # a newer ISAKMP SA of the same peer took its IPsec SAs over
    DEAD = "dead"


PHASE1_STATES = (V1State.MM_SA, V1State.MM_KE, V1State.AM_SENT)

#: ``ikesrv status`` speaks IKEv2's state names for both versions.
STATUS_NAMES = {
    V1State.MM_SA: "half_open",
    V1State.MM_KE: "half_open",
    V1State.AM_SENT: "half_open",
    V1State.XAUTH: "authenticating",
    V1State.ESTABLISHED: "established",
    V1State.REKEYED: "rekeyed",
    V1State.DEAD: "dead",
}


@dataclass(slots=True, eq=False)
class CachedExchange:
    """The last message received with one message ID and what we answered."""

    request: bytes
    response: list[bytes]  # empty: nothing to resend (the peer's last message)


@dataclass(slots=True, eq=False)
class PendingQuickMode:
    """A Quick Mode answered with QM2, waiting for QM3 (RFC 2409 §5.5)."""

    message_id: int
    child: ChildSa
    response: list[bytes]
    sent_at: float
    next_retransmit: float
    commit: bool = False
    retransmits: int = 0
    rekey_of: ChildSa | None = None


@dataclass(slots=True, eq=False)
class OutstandingTransaction:
    """A Transaction request of ours (XAuth REQUEST/SET, Mode Config SET) in flight."""

    message_id: int
    identifier: int
    datagrams: list[bytes]
    on_reply: Callable[..., None]  # (attribute payload, now)
    on_failure: Callable[[str], None]
    next_retransmit: float
    retransmits: int = 0


@dataclass(slots=True, eq=False)
class Reassembly:
    """Fragments of one message (Cisco/strongSwan IKEv1 fragmentation, payload 132)."""

    fragment_id: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    last: int = 0  # the number of the fragment flagged last, once seen
    size: int = 0


@dataclass(slots=True, eq=False)
class IsakmpSa:
    """One ISAKMP SA from the responder's side."""

    spi_i: bytes  # CKY-I
    spi_r: bytes  # CKY-R, ours (the worker index in its top byte)
    local: Addr
    remote: Addr
    created_at: float
    exchange: int  # IDENTITY_PROTECTION or AGGRESSIVE
    owner: Any = field(default=None, repr=False)  # the Ikev1Responder (timer callbacks)
    state: V1State = V1State.MM_SA
    # negotiation
    selection: Any = None  # crypto.proposals_v1.V1Phase1Selection
    suite: str = ""
    suite_label: str = "other"
    auth_method: int = 0  # V1AuthMethod as negotiated
    signatures: bool = False  # phase 1 authenticated by signatures, not a PSK
    xauth: bool = False  # the user logs in with XAuth after phase 1
    candidates: tuple = ()
    connection: Any = None
    # keying material (RFC 2409 §5)
    dh_key: Any = field(default=None, repr=False)
    g_xi: bytes = field(default=b"", repr=False)
    g_xr: bytes = field(default=b"", repr=False)
    shared: bytes = field(default=b"", repr=False)
    nonce_i: bytes = field(default=b"", repr=False)
    nonce_r: bytes = field(default=b"", repr=False)
    sai_b: bytes = field(default=b"", repr=False)  # the initiator's SA body
    idii_b: bytes = field(default=b"", repr=False)  # Aggressive Mode: IDii_b from AM1
    skeyid: bytes = field(default=b"", repr=False)
    skeyid_d: bytes = field(default=b"", repr=False)
    skeyid_a: bytes = field(default=b"", repr=False)
    cipher: Any = field(default=None, repr=False)  # crypto.ikev1_cipher.Ikev1Cipher
    # identities
    peer_id: Any = None  # identity.Identity
    local_id: Any = None
    peer_identity_key: str | None = None  # uniqueness / pool stickiness (XAuth user if any)
    xauth_user: str | None = None
    auth_label: str = ""  # metric label: psk | pubkey | xauth
    initial_contact: bool = False
    peer_wants_cert: bool = False  # the peer sent CR
    vip: Any = None
    vip_pool: Any = None
    # peer capabilities (vendor IDs)
    peer_dpd: bool = False
    peer_unity: bool = False
    fragmentation: bool = False  # both sides do IKEv1 fragmentation
    natt: str | None = None  # negotiated NAT-T flavour: "rfc", "draft-03", "draft-02n", ...
    # NAT-T (RFC 3947)
    remote_behind_nat: bool = False
    local_behind_nat: bool = False
    # message handling
    replies: OrderedDict = field(default_factory=OrderedDict)  # mid -> CachedExchange
    first_request: bytes = field(default=b"", repr=False)  # MM1/AM1 as received
    first_response: list = field(default_factory=list, repr=False)
    phase1_response: list = field(default_factory=list, repr=False)  # AM2 (resent until AM3)
    phase1_retransmits: int = 0
    phase1_retransmit_at: float | None = None
    quick_modes: dict[int, PendingQuickMode] = field(default_factory=dict)
    outstanding: OutstandingTransaction | None = None
    queued: list = field(default_factory=list)  # transactions waiting for the outstanding one
    reassembly: Reassembly | None = None
    next_fragment_id: int = 1
    # XAuth and Mode Config
    xauth_attempts: int = 0
    pending_requests: list = field(default_factory=list)  # auth / kernel request ids
    cfg_done: bool = False  # a Mode Config reply or set went out
    cfg_push_at: float | None = None
    # IPsec SAs by inbound SPI
    children: dict[int, ChildSa] = field(default_factory=dict)
    # liveness, lifetime (absolute times)
    last_heard: float = 0.0
    established_at: float | None = None
    half_open_expire: float | None = None
    # (CKY-I, address of its first message): its entry among the half-open SAs, kept
    # because a client behind a NAT moves to port 4500 in phase 1 (RFC 3947 §4)
    half_open_key: tuple | None = None
    expire_at: float | None = None
    delete_at: float | None = None  # REKEYED or failed: when to drop the state
    dpd_at: float | None = None
    dpd_seq: int = 0  # our last R-U-THERE sequence number
    dpd_first_unanswered: int | None = None  # oldest sequence number not yet acknowledged
    dpd_pending_since: float | None = None
    keepalive_at: float | None = None
    replaced_by: IsakmpSa | None = None

    version = 1

    @property
    def our_spi(self) -> bytes:
        return self.spi_r

    @property
    def cookies(self) -> bytes:
        """CKY-I | CKY-R: the SPI of ISAKMP SA notifies and deletes (RFC 2408 §3.14)."""
        return self.spi_i + self.spi_r

    @property
    def established(self) -> bool:
        return self.state is V1State.ESTABLISHED

    @property
    def hash_alg(self) -> int:
        return self.selection.hash

    def on_timer(self, now: float) -> None:
        """Core.timer_fired calls this when the SA's deadline passed."""
        self.owner.on_timer(self, now)

    def remember(self, message_id: int, request: bytes, response: list[bytes]) -> None:
        self.replies[message_id] = CachedExchange(request, response)
        self.replies.move_to_end(message_id)
        while len(self.replies) > REPLY_CACHE:
            self.replies.popitem(last=False)

    def next_deadline(self) -> float | None:
        """The earliest time this SA needs attention (one deadline per SA)."""
        # called after every message: the earliest of the set times, without a list
        best = None
        out = self.outstanding
        for t in (self.half_open_expire, self.phase1_retransmit_at, self.expire_at,
                  self.delete_at, self.dpd_at, self.keepalive_at, self.cfg_push_at,
                  out.next_retransmit if out is not None else None):
            if t is not None and (best is None or t < best):
                best = t
        for qm in self.quick_modes.values():
            t = qm.next_retransmit
            if best is None or t < best:
                best = t
        for child in self.children.values():
            for t in (child.expire_at, child.replaced_at):
                if t is not None and (best is None or t < best):
                    best = t
        return best

    def describe(self, now: float) -> dict:
        """What ``ikesrv status`` shows: the keys of IKEv2's, ``version`` 1.

        ``eap_identity`` holds the user name of the second authentication (XAuth here).
        """
        return describe_sa(self, version=1, state=STATUS_NAMES[self.state],
                           second_identity=self.xauth_user, auth=self.auth_label, now=now)
