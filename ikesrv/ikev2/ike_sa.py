"""The state of one IKEv2 SA and of its CHILD SAs: plain data, owned by the responder.

Owns: IkeSa and ChildSa, their states, message-ID bookkeeping (RFC 7296 §2.1-2.3: window
size one, the cached last response, our outstanding request), and the deadlines an SA
waits for. Exchange logic lives in the task modules; this module decides nothing about
the protocol beyond what its fields mean.

Must not import asyncio, socket, pyroute2, ldap3, prometheus_client or the clock.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..sa_status import describe_sa

if TYPE_CHECKING:
    from ..actions import Addr, ChildSaSpec


#: What a task returns when its response waits for an auth or kernel result.
PENDING = object()


class IkeSaState(enum.Enum):
    HALF_OPEN = "half_open"  # IKE_SA_INIT answered, waiting for IKE_AUTH
    AUTHENTICATING = "authenticating"  # IKE_AUTH in progress (EAP rounds, LDAP, kernel)
    ESTABLISHED = "established"
    REKEYED = "rekeyed"  # replaced by a new IKE SA; only its Delete is still expected
    DELETING = "deleting"  # we sent a Delete and wait for the answer
    DEAD = "dead"


class ChildSaState(enum.Enum):
    INSTALLING = "installing"  # kernel install requested, response not yet sent
    INSTALLED = "installed"
    REKEYED = "rekeyed"  # a newer SA replaces it; waiting for its Delete
    DELETING = "deleting"


@dataclass(slots=True, eq=False)
class ChildSa:
    """One ESP CHILD SA pair (inbound and outbound)."""

    reqid: int
    spi_in: int
    spi_out: int
    spec: ChildSaSpec
    suite: str  # human-readable algorithms, for status and logs
    nonce_i: bytes = field(default=b"", repr=False)  # §2.8.1 collision resolution
    nonce_r: bytes = field(default=b"", repr=False)
    state: ChildSaState = ChildSaState.INSTALLING
    created_at: float = 0.0
    rekey_at: float | None = None  # when we rekey it ourselves (connection option)
    expire_at: float | None = None  # hard lifetime: delete
    replaced_at: float | None = None  # REKEYED: delete ourselves if the peer does not
    dh_group: int = 0  # the PFS group used when it was created (reused for our rekeys)


@dataclass(slots=True, eq=False)
class OutstandingRequest:
    """A request we sent and whose response we wait for (RFC 7296 §2.1, §2.4)."""

    message_id: int
    exchange: int
    datagrams: list[bytes]
    on_response: Callable[..., None]
    on_failure: Callable[[str], None]
    sent_at: float
    retransmits: int = 0
    next_retransmit: float = 0.0
    context: Any = None


@dataclass(slots=True, eq=False)
class Reassembly:
    """Fragments of one message being reassembled (RFC 7383 §2.6)."""

    message_id: int
    total: int
    first_payload: int = 0
    chunks: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


@dataclass(slots=True, eq=False)
class IkeSa:
    """One IKEv2 SA from our side."""

    spi_i: bytes
    spi_r: bytes
    local: Addr
    remote: Addr
    created_at: float
    # True when we are the initiator of this SA (only after we rekeyed it, §2.18)
    we_initiated: bool = False
    state: IkeSaState = IkeSaState.HALF_OPEN
    # negotiation results
    proposal: Any = None  # crypto.proposals SelectedProposal
    suite: str = ""
    suite_label: str = "other"
    prf_id: int = 0
    keys: Any = None  # crypto.keys IkeSaKeys
    cipher_in: Any = None  # crypto.sk SkCipher for messages we receive
    cipher_out: Any = None
    nonce_i: bytes = field(default=b"", repr=False)
    nonce_r: bytes = field(default=b"", repr=False)
    # (SPIi, address of its IKE_SA_INIT): its entry among the responder's half-open SAs,
    # kept here because a client behind a NAT moves to port 4500 before it is established
    half_open_key: tuple | None = None
    init_request: bytes = field(default=b"", repr=False)  # RealMessage1 for AUTH (§2.15)
    init_response: bytes = field(default=b"", repr=False)  # RealMessage2
    # connection choice: candidates after IKE_SA_INIT, the chosen one after IKE_AUTH
    candidates: tuple = ()
    connection: Any = None
    peer_id: Any = None  # identity.Identity
    peer_identity_key: str | None = None  # uniqueness / INITIAL_CONTACT / pool stickiness
    local_id: Any = None
    eap_identity: str | None = None
    auth_method: str = ""  # metric label of how the peer authenticated
    vip: Any = None  # assigned virtual address
    vip_pool: Any = None  # the pool.AddressPool the address came from
    # NAT-T (RFC 7296 §2.23)
    natt: bool = False  # messages travel on the NAT-T port (non-ESP marker)
    remote_behind_nat: bool = False
    local_behind_nat: bool = False
    # peer capabilities announced in IKE_SA_INIT
    fragmentation: bool = False  # RFC 7383
    peer_hash_algorithms: frozenset = frozenset()  # RFC 7427
    # message IDs, window size 1 (§2.3)
    peer_next_id: int = 0  # the next request ID we expect from the peer
    last_response_id: int = -1
    last_response: list[bytes] = field(default_factory=list, repr=False)
    busy_id: int | None = None  # a request being processed (waiting on LDAP/kernel)
    our_next_id: int = 0
    outstanding: OutstandingRequest | None = None
    queued: deque = field(default_factory=deque)  # our requests waiting for the window
    reassembly: Reassembly | None = None
    # CHILD SAs by inbound SPI
    children: dict[int, ChildSa] = field(default_factory=dict)
    # liveness and lifetime (absolute times)
    last_heard: float = 0.0
    established_at: float | None = None
    half_open_expire: float | None = None
    dpd_at: float | None = None
    keepalive_at: float | None = None  # NAT-T keepalives when WE are behind a NAT
    rekey_at: float | None = None
    expire_at: float | None = None
    delete_at: float | None = None  # REKEYED / failed SAs: when to drop state
    close_reason: str | None = None  # set: destroy once the current response is sent
    # a CREATE_CHILD_SA rekey of this IKE SA that we initiated (§2.8.2 collisions)
    rekeying: Any = None
    replaced_by: IkeSa | None = None
    auth_state: Any = None  # ike_auth's per-SA progress (EAP rounds, suspended work)

    @property
    def our_spi(self) -> bytes:
        return self.spi_i if self.we_initiated else self.spi_r

    @property
    def peer_spi(self) -> bytes:
        return self.spi_r if self.we_initiated else self.spi_i

    @property
    def established(self) -> bool:
        return self.state is IkeSaState.ESTABLISHED

    def next_deadline(self) -> float | None:
        """The earliest time this SA needs attention (one deadline per SA)."""
        # called after every message: the earliest of the set times, without a list
        best = None
        out = self.outstanding
        for t in (self.half_open_expire, out.next_retransmit if out else None, self.dpd_at,
                  self.keepalive_at, self.rekey_at, self.expire_at, self.delete_at):
            if t is not None and (best is None or t < best):
                best = t
        for child in self.children.values():
            for t in (child.rekey_at, child.expire_at, child.replaced_at):
                if t is not None and (best is None or t < best):
                    best = t
        return best

    def describe(self, now: float) -> dict:
        """What ``ikesrv status`` shows of this SA (no secrets)."""
        return describe_sa(self, version=2, state=self.state.value,
                           second_identity=self.eap_identity, auth=self.auth_method, now=now)
