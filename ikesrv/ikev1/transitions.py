"""The IKEv1 responder's transitions as data: one row per message we accept.

Owns: for each (exchange, state) the message it must be, its required and allowed
payloads, whether it arrives encrypted, whether our answer is encrypted, whether a
retransmission of it gets our previous answer again, and the handler that runs once
the row's checks have passed (the handlers do not re-check). The responder looks a row
up before any handler runs; a message that fits no row is dropped and counted.

Exchange diagrams (RFC 2409 §5, §5.4, §5.5; draft-ietf-ipsec-isakmp-xauth-06 §6.1;
draft-dukes-ike-mode-cfg-02 §3; RFC 3706 §5; RFC 3947 §3-§4):

    Main Mode (PSK)                       Main Mode (signatures)
    MM1  HDR, SA                 -->      HDR, SA                          -->
    MM2            <-- HDR, SA            <-- HDR, SA
    MM3  HDR, KE, Ni [, NAT-D]   -->      HDR, KE, Ni [, CR] [, NAT-D]     -->
    MM4  <-- HDR, KE, Nr [, NAT-D]        <-- HDR, KE, Nr [, CR] [, NAT-D]
    MM5  HDR*, IDii, HASH_I      -->      HDR*, IDii, [CERT,] SIG_I        -->
    MM6  <-- HDR*, IDir, HASH_R           <-- HDR*, IDir, [CERT,] SIG_R

    Aggressive Mode
    AM1  HDR, SA, KE, Ni, IDii   -->
    AM2  <-- HDR, SA, KE, Nr, IDir, [CERT,] HASH_R | SIG_R [, NAT-D]
    AM3  HDR[*], HASH_I | [CERT,] SIG_I [, NAT-D] -->

    Quick Mode
    QM1  HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] -->
    QM2  <-- HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
    QM3  HDR*, HASH(3)           -->

    Transaction (XAuth, Mode Config)      Informational
    HDR*, HASH, ATTR             <-->     HDR*, HASH(1), N/D  -->

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..constants import V1ExchangeType as X
from ..constants import V1PayloadType as P
from ..errors import UnexpectedPayload
from .isakmp_sa import V1State as S

#: Payload types that may occur more than once in one message.
REPEATABLE = frozenset({P.VID, P.CERT, P.CR, P.N, P.D, P.NAT_D, P.NAT_OA, P.ID})


_FITTING: set[tuple] = set()
FITTING_MAX = 1024


@dataclass(frozen=True, slots=True)
class Transition:
    story: str  # for logs
    exchange: int
    states: tuple  # SA states it applies in; None = before any SA exists
    required: frozenset
    optional: frozenset
    encrypted: bool | None  # None: either (Aggressive Mode's third message)
    reply_encrypted: bool
    resend_on_duplicate: bool
    handler: str  # "module.function" under ikesrv.ikev1
    # begins with a HASH the driver checks before the handler runs: HASH(1) =
    # prf(SKEYID_a, M-ID | rest) (RFC 2409 §5.5, §5.7), or HASH(3) for QM3
    hashed: bool = False

    def check_view(self, view) -> None:
        """``check`` for a message's V1Payloads, remembering the payload type sequences
        that passed (clients send the same few in every message: a set lookup instead of
        counting). Shapes come from peers: at most FITTING_MAX are remembered."""
        key = (self.story, view.shape)
        if key in _FITTING:
            return
        self.check(view.counts())
        if len(_FITTING) < FITTING_MAX:
            _FITTING.add(key)

    def check(self, types_seen: dict[int, int]) -> None:
        """Required payloads present, nothing foreign (RFC 2408 §5.1), no repeats of a
        payload that must be unique. Private-use types (>= 128) are ignored."""
        for t in self.required:
            if not types_seen.get(t):
                raise UnexpectedPayload(f"{self.story}: {_name(t)} payload missing")
        for t, n in types_seen.items():
            if t >= 128 and t not in self.required and t not in self.optional:
                continue
            if t not in self.required and t not in self.optional:
                raise UnexpectedPayload(f"{self.story}: {_name(t)} payload not allowed")
            if n > 1 and t not in REPEATABLE:
                raise UnexpectedPayload(f"{self.story}: {n} {_name(t)} payloads")


@dataclass(slots=True)
class Reply:
    """What a handler answers: the payloads (sealed by the driver as the row says; with
    ``hash_of`` a HASH payload over the rest leads them), and work to do once the
    answer is sent (``then(now)``), e.g. starting XAuth after MM6."""

    payloads: list | None = None
    hash_of: Callable[[bytes], bytes] | None = None
    then: Callable[[float], None] | None = None


def _name(t: int) -> str:
    try:
        return P(t).name
    except ValueError:
        return f"type {t}"


def _set(*types) -> frozenset:
    return frozenset(types)


_V = _set(P.VID)

MM1 = Transition("Main Mode MM1", X.IDENTITY_PROTECTION, (None,), _set(P.SA), _V,
                 False, False, True, "main_mode.mm1")
MM3 = Transition("Main Mode MM3", X.IDENTITY_PROTECTION, (S.MM_SA,), _set(P.KE, P.NONCE),
                 _set(P.NAT_D, P.CR, P.VID, P.N), False, False, True, "main_mode.mm3")
MM5 = Transition("Main Mode MM5", X.IDENTITY_PROTECTION, (S.MM_KE,), _set(P.ID),
                 _set(P.HASH, P.SIG, P.CERT, P.CR, P.N, P.VID), True, True, True,
                 "main_mode.mm5")
AM1 = Transition("Aggressive Mode AM1", X.AGGRESSIVE, (None,), _set(P.SA, P.KE, P.NONCE, P.ID),
                 _set(P.VID, P.CR), False, False, True, "aggressive_mode.am1")
AM3 = Transition("Aggressive Mode AM3", X.AGGRESSIVE, (S.AM_SENT,), _set(),
                 _set(P.HASH, P.SIG, P.CERT, P.NAT_D, P.N, P.VID), None, False, False,
                 "aggressive_mode.am3")
QM1 = Transition("Quick Mode QM1", X.QUICK_MODE, (S.ESTABLISHED,), _set(P.HASH, P.SA, P.NONCE),
                 _set(P.KE, P.ID, P.NAT_OA, P.N), True, True, True, "quick_mode.qm1",
                 hashed=True)
QM3 = Transition("Quick Mode QM3", X.QUICK_MODE, (S.ESTABLISHED, S.REKEYED), _set(P.HASH),
                 _set(), True, False, False, "quick_mode.qm3", hashed=True)
# a client's own Transaction (Mode Config) only once the user is logged in: one that
# arrives earlier is dropped untouched and processed when the client repeats it
CFG_REQUEST = Transition("Transaction request", X.TRANSACTION, (S.ESTABLISHED,),
                         _set(P.HASH, P.ATTR), _set(), True, True, True,
                         "mode_config.request", hashed=True)
CFG_REPLY = Transition("Transaction reply", X.TRANSACTION, (S.XAUTH, S.ESTABLISHED),
                       _set(P.HASH, P.ATTR), _set(), True, False, False,
                       "responder.transaction_reply", hashed=True)
INFO = Transition("Informational", X.INFORMATIONAL, (S.XAUTH, S.ESTABLISHED, S.REKEYED),
                  _set(P.HASH), _set(P.N, P.D), True, False, False,
                  "informational.handle", hashed=True)

#: Phase 1 rows by (exchange, state); None = the message creating the SA.
PHASE1 = {
    (X.IDENTITY_PROTECTION, None): MM1,
    (X.IDENTITY_PROTECTION, S.MM_SA): MM3,
    (X.IDENTITY_PROTECTION, S.MM_KE): MM5,
    (X.AGGRESSIVE, None): AM1,
    (X.AGGRESSIVE, S.AM_SENT): AM3,
}

ALL = (MM1, MM3, MM5, AM1, AM3, QM1, QM3, CFG_REQUEST, CFG_REPLY, INFO)
