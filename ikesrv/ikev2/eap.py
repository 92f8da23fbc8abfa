"""EAP inside IKE_AUTH, as the responder (RFC 7296 §2.16).

    Initiator                              Responder
    HDR, SK {IDi, [CERTREQ,] [IDr,] [CP(CFG_REQUEST),] SAi2, TSi, TSr}   (no AUTH)  -->
                                       <-- HDR, SK {IDr, [CERT,] AUTH, EAP(Request/Identity)}
    HDR, SK {EAP(Response/Identity)}  -->
                                       <-- HDR, SK {EAP(Request/method)}
    HDR, SK {EAP(Response)}           -->   the users backend is asked (the response waits)
                                       <-- HDR, SK {EAP(Request or Success or Failure)}
    ...
    HDR, SK {AUTH}                    -->   prf(prf(MSK or SK_pi, "Key Pad..."), IDi octets)
                                       <-- HDR, SK {AUTH, [CP(CFG_REPLY),] SAr2, TSi, TSr}

Owns: one EAP conversation per IKE SA (``Conversation`` in ``auth_state.eap``): the
Identity round, the connection's method (ikesrv.auth.eap: MS-CHAPv2, GTC, MD5, each a
sans-I/O state machine), the users backend requests it needs (``ctx.request_auth``; the
IKE_AUTH response waits and ``responder.complete`` sends it), EAP Success/Failure, and the
final AUTH exchange keyed with the MSK, or with SK_pi/SK_pr when the method derives none
(GTC, MD5; §2.16). Then ``ike_auth.finish`` does uniqueness, CP and the first CHILD SA.

Decisions:
* The responder always authenticates with its certificate first. EAP_ONLY_AUTHENTICATION
  (RFC 5998) is read and declined by carrying on as usual, which §3 allows: §4 permits
  EAP-only only with methods that authenticate both ends and derive keys; GTC and MD5 do
  neither, and MS-CHAPv2 is not among the methods §4 lists (strongSwan's eap-mschapv2
  says it is not mutual, and its clients then refuse an EAP-only responder).
* Who may log in is the users backend's answer for the EAP identity (users file entry,
  LDAP user_filter and require_group). The IKE identity (IDi) of an EAP client proves
  nothing and is free-form (Windows sends its IP address): a connection's ``remote_id``
  is not matched for EAP connections. ``sa.eap_identity`` (pools, uniqueness, status) is
  the Identity response, accepted only within ``auth.users.name_problem``'s limits.
* Every refusal (unknown user, wrong password, outside the group, account disabled,
  directory down, malformed EAP) ends the same way for the peer: EAP Failure and
  AUTHENTICATION_FAILED, the SA deleted; the reason goes to the log. MS-CHAPv2 first
  sends its Failure packet (E=691 R=0: no retry); a peer that does not answer it is
  dropped after FAILURE_GRACE seconds.
* At most MAX_ROUNDS IKE_AUTH requests per conversation.

Must not import asyncio, socket, ldap3 or the clock.
"""

from __future__ import annotations

import logging

from .. import events as ev
from ..auth.eap import SERVERS, framing
from ..auth.eap.framing import EapError, FailureRequest, Lookup, Request
from ..auth.users import printable
from ..constants import AuthMethod, EapCode, EapType, ExchangeType, NotifyType, PayloadType
from ..crypto import auth as ikeauth
from ..errors import AuthenticationFailed
from ..wire import ikev2 as w
from . import ike_auth
from .ike_sa import PENDING, IkeSa, IkeSaState
from .messages import Payloads, notify

log = logging.getLogger("ikesrv.ikev2")

#: IKE_AUTH requests one EAP conversation may take (Identity, a method's two or three
#: rounds and the final AUTH need five).
MAX_ROUNDS = 10
#: Seconds a peer has to answer an MS-CHAPv2 Failure before its SA is dropped.
FAILURE_GRACE = 10.0


class Conversation:
    """One IKE SA's EAP state, kept in ``AuthProgress.eap``."""

    __slots__ = ("label", "method", "identifier", "rounds", "identity", "msk", "succeeded",
                 "idr_body", "failed")

    def __init__(self, label: str, identifier: int, idr_body: bytes):
        self.label = label  # the connection's remote_auth: eap-mschapv2 | eap-gtc | eap-md5
        self.method = None  # the method's Server once the identity is known
        self.identifier = identifier  # of our outstanding EAP Request (RFC 3748 §4.1)
        self.rounds = 0
        self.identity: str | None = None
        self.msk: bytes | None = None
        self.succeeded = False  # EAP Success sent: the final AUTH is due
        self.idr_body = idr_body  # our IDr's body, for our final AUTH (§2.15)
        self.failed = False  # the refusal was counted and logged already

    @property
    def name(self) -> str:
        """The method as logs write it: EAP-MSCHAPv2, EAP-GTC, EAP-MD5."""
        return self.label.upper().replace("V2", "v2")


def start(resp, sa: IkeSa, view: Payloads, now: float):
    """The first IKE_AUTH request had no AUTH: authenticate ourselves, ask for the identity."""
    conn = sa.connection
    progress = sa.auth_state
    ours = ike_auth.our_auth_payloads(sa, conn, view)
    conv = Conversation(conn.remote_auth, resp.ctx.rng(1)[0],
                        w.encode_payload_body(ours[0]))
    progress.eap = conv
    progress.stage = "eap"
    progress.our_auth = []
    if view.has_notify(NotifyType.EAP_ONLY_AUTHENTICATION):
        log.debug("IKE SA %s: EAP-only authentication offered; declined (RFC 5998 §4: not "
                  "for %s), our certificate authenticates us", sa.spi_i.hex(), conv.label)
    return ours + [framing.request(conv.identifier, EapType.IDENTITY)]


def handle_round(resp, sa: IkeSa, msg, view: Payloads, now: float):
    """A later IKE_AUTH request of the conversation: an EAP Response or the final AUTH."""
    conv: Conversation = sa.auth_state.eap
    conv.rounds += 1
    if conv.succeeded:
        return _final_auth(resp, sa, msg, view, now)
    eap = view.first(PayloadType.EAP)
    identifier = eap.identifier if eap is not None else conv.identifier
    try:
        if conv.rounds > MAX_ROUNDS:
            raise EapError(f"more than {MAX_ROUNDS} IKE_AUTH rounds")
        if eap is None:
            raise EapError("IKE_AUTH request without the EAP payload the conversation needs")
        if eap.code != EapCode.RESPONSE:
            raise EapError(f"EAP Code {eap.code} from the client (only Responses may come)")
        if eap.identifier != conv.identifier:
            raise EapError(f"EAP Identifier {eap.identifier}, expected {conv.identifier}")
        if len(eap.data) > framing.MAX_TYPE_DATA:
            raise EapError(f"EAP Type-Data of {len(eap.data)} bytes")
        if eap.eap_type == EapType.NAK:
            raise EapError(f"the client declined {conv.name} (Nak; it proposes "
                           f"{', '.join(map(framing.type_name, framing.nak_types(eap.data)))})")
        if conv.method is None:
            if eap.eap_type != EapType.IDENTITY:
                raise EapError(f"EAP {framing.type_name(eap.eap_type)} where the Identity "
                               "response was due")
            conv.identity = framing.parse_identity(bytes(eap.data))
            sa.eap_identity = conv.identity
            conv.method = SERVERS[conv.label](conv.identity, resp.ctx.rng)
            return _next_request(conv, conv.method.start)
        if eap.eap_type != conv.method.eap_type:
            raise EapError(f"EAP {framing.type_name(eap.eap_type)} response to a "
                           f"{conv.name} request")
        step = conv.method.receive(bytes(eap.data))
    except EapError as e:
        return _refuse(resp, sa, conv, str(e), identifier, now)
    return _step(resp, sa, msg.message_id, conv, step, identifier, now)


def _next_request(conv: Conversation, data) -> list:
    conv.identifier = (conv.identifier + 1) & 0xFF
    body = data(conv.identifier) if callable(data) else data
    return [framing.request(conv.identifier, conv.method.eap_type, body)]


def _step(resp, sa: IkeSa, mid: int, conv: Conversation, step, identifier: int, now: float):
    """Carry out what the method asked for; the response payloads, or PENDING."""
    if type(step) is Request:
        return _next_request(conv, step.data)
    if type(step) is FailureRequest:
        _count_failure(resp, sa, conv, step.reason)
        sa.delete_at = now + FAILURE_GRACE  # gone even if the peer never answers
        return _next_request(conv, step.data)
    if type(step) is Lookup:
        return _lookup(resp, sa, mid, conv, step)
    if step.ok:
        conv.succeeded = True
        conv.msk = step.msk
        return [framing.success(identifier)]
    return _refuse(resp, sa, conv, step.reason, identifier, now)


def _lookup(resp, sa: IkeSa, mid: int, conv: Conversation, step: Lookup):
    """Ask the users backend; the IKE_AUTH response is sent when it answers."""
    progress = sa.auth_state
    identifier = conv.identifier

    def answered(result, now: float) -> None:
        if sa.state is IkeSaState.DEAD or sa.auth_state is not progress:
            return
        if rid in progress.request_ids:
            progress.request_ids.remove(rid)
        try:
            payloads = _step(resp, sa, mid, conv, conv.method.answer(result), identifier, now)
        except EapError as e:
            payloads = _refuse(resp, sa, conv, str(e), identifier, now)
        if payloads is not PENDING:
            resp.complete(sa, ExchangeType.IKE_AUTH, mid, payloads, now)

    rid = resp.ctx.request_auth(step.method, sa.connection.name, step.username, step.password,
                                answered)
    progress.request_ids.append(rid)
    return PENDING


def _final_auth(resp, sa: IkeSa, msg, view: Payloads, now: float):
    """§2.16: the peer's AUTH keyed with the MSK (SK_pi without one); then ours."""
    conv: Conversation = sa.auth_state.eap
    auth = view.first(PayloadType.AUTH)
    keys = sa.keys
    key_i = conv.msk or keys.sk_pi
    key_r = conv.msk or keys.sk_pr
    who = printable(conv.identity or "")
    problem = None
    if auth is None:
        problem = "final IKE_AUTH request after EAP Success without AUTH"
    elif auth.method != AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE:
        problem = f"final AUTH with method {auth.method}, not the shared key MIC (§2.16)"
    else:
        octets = ikeauth.signed_octets(sa.init_request, sa.nonce_r, sa.prf_id, keys.sk_pi,
                                       sa.auth_state.first_idi_body)
        if not ikeauth.verify_psk_auth(sa.prf_id, key_i, octets, auth.data):
            problem = (f"final AUTH of {who} does not verify with the "
                       + ("EAP MSK" if conv.msk else "SK_pi (no MSK)"))
    if problem is not None:
        resp.ctx.emit(ev.AuthAttempt(conv.label, "failure"))
        conv.failed = True
        raise AuthenticationFailed(f"{conv.name} login of {who}: {problem}")
    octets = ikeauth.signed_octets(sa.init_response, sa.nonce_i, sa.prf_id, keys.sk_pr,
                                   conv.idr_body)
    sa.auth_state.our_auth = [w.AuthPayload(method=AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                                            data=ikeauth.psk_auth(sa.prf_id, key_r, octets))]
    sa.auth_method = conv.label
    resp.ctx.emit(ev.AuthAttempt(conv.label, "success"))
    log.info("IKE SA %s: %s login of %s succeeded", sa.spi_i.hex(), conv.name, who)
    return ike_auth.finish(resp, sa, msg.message_id, now)


def _count_failure(resp, sa: IkeSa, conv: Conversation, reason: str) -> None:
    """Log and count a refused login once (the peer hears the same whatever the reason)."""
    if conv.failed:
        return
    conv.failed = True
    ctx = resp.ctx
    ctx.emit(ev.AuthAttempt(conv.label, "failure"))
    ctx.emit(ev.IkeSaFailed(2, AuthenticationFailed.metric_reason))
    who = printable(conv.identity) if conv.identity is not None else "(no identity yet)"
    ctx.log_error(AuthenticationFailed(f"{conv.name} login of {who} refused: {reason}"),
                  sa.remote, f"IKE SA {sa.spi_i.hex()} IKE_AUTH")


def _refuse(resp, sa: IkeSa, conv: Conversation, reason: str, identifier: int, now: float):
    """EAP Failure with AUTHENTICATION_FAILED; the SA goes once the response is sent."""
    _count_failure(resp, sa, conv, reason)
    sa.delete_at = None
    resp.close_after_response(sa, "EAP authentication failed")
    return [framing.failure(identifier), notify(NotifyType.AUTHENTICATION_FAILED)]


__all__ = ["start", "handle_round", "Conversation", "MAX_ROUNDS", "FAILURE_GRACE"]
