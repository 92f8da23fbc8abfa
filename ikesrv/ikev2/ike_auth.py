"""IKE_AUTH as the responder (RFC 7296 §1.2, §2.15, §2.16, §3.15; RFC 7427).

    Initiator                          Responder
    HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, [CP(CFG_REQUEST),]
             SAi2, TSi, TSr}       -->
                                   <-- HDR, SK {IDr, [CERT,] AUTH, [CP(CFG_REPLY),]
                                                SAr2, TSi, TSr}

Owns: choosing the connection from the peer's identity and authentication method,
verifying the peer (PSK MAC, or certificate chain + signature), authenticating ourselves,
uniqueness and INITIAL_CONTACT (§2.4), the configuration payload (virtual IP, DNS) and
the first CHILD SA, whose kernel install the response waits for. Without an AUTH payload
the peer asks for EAP (§2.16): those rounds run in ``eap.py`` through ``auth_state``;
this module starts them and finishes the SA once the EAP method has produced its key.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime, timezone

from .. import events as ev
from ..constants import (
    AuthMethod,
    CertEncoding,
    CfgAttribute,
    CfgType,
    ExchangeType,
    NotifyType,
    PayloadType,
)
from ..crypto import auth as ikeauth
from ..crypto.certs import certificate_matches_identity
from ..errors import (
    AuthenticationFailed,
    FailedCpRequired,
    IkeError,
    InternalAddressFailure,
    MalformedMessage,
    UnexpectedPayload,
)
from ..identity import Identity
from ..wire import ikev2 as w
from . import child_create
from .ike_sa import PENDING, IkeSa, IkeSaState
from .messages import Payloads, notify

log = logging.getLogger("ikesrv.ikev2")


class AuthProgress:
    """Where an SA's IKE_AUTH stands across rounds and suspensions."""

    __slots__ = ("first", "first_idi_body", "our_auth", "request_ids", "eap", "stage")

    def __init__(self, first: Payloads, first_idi_body: bytes):
        self.first = first  # the first IKE_AUTH request (CP, SA, TS come from it)
        self.first_idi_body = first_idi_body
        self.our_auth: list = []  # IDr, CERT, AUTH we sent
        self.request_ids: list[int] = []  # pending auth/kernel requests to cancel
        self.eap = None  # the EAP method's state
        self.stage = "start"


def handle_request(resp, sa: IkeSa, msg, view: Payloads, now: float):
    if sa.state not in (IkeSaState.HALF_OPEN, IkeSaState.AUTHENTICATING):
        raise UnexpectedPayload("IKE_AUTH on an IKE SA that is already established")
    progress = sa.auth_state
    if progress is not None and progress.stage == "eap":
        from . import eap
        return eap.handle_round(resp, sa, msg, view, now)
    return _first_request(resp, sa, msg, view, now)


def _first_request(resp, sa: IkeSa, msg, view: Payloads, now: float):
    ctx = resp.ctx
    idi = view.first(PayloadType.IDi)
    if idi is None:
        raise MalformedMessage("first IKE_AUTH request without IDi")
    peer_id = Identity.from_payload(idi.id_type, idi.data)
    idr = view.first(PayloadType.IDr)
    wanted_local = _requested_identity(idr)
    auth = view.first(PayloadType.AUTH)
    kind = "eap" if auth is None else (
        "psk" if auth.method == AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE else "pubkey")
    conn = ctx.connections.select_v2(sa.candidates, peer_id, wanted_local, kind)
    if conn is None:
        if kind != "eap":  # an EAP method is not chosen yet: no bounded label to count under
            ctx.emit(ev.AuthAttempt(kind, "failure"))
        raise AuthenticationFailed(
            f"no connection accepts identity '{peer_id}' with {kind} authentication"
            + (f" for our identity '{wanted_local}'" if wanted_local else ""))
    sa.connection = conn
    sa.peer_id = peer_id
    sa.local_id = conn.local_id
    sa.auth_state = progress = AuthProgress(view, idi.body)
    resp.set_state(sa, IkeSaState.AUTHENTICATING, now)

    if auth is None:
        from . import eap
        return eap.start(resp, sa, view, now)

    octets = ikeauth.signed_octets(sa.init_request, sa.nonce_r, sa.prf_id, sa.keys.sk_pi,
                                   idi.body)
    try:
        if conn.remote_auth == "psk":
            if not ikeauth.verify_psk_auth(sa.prf_id, conn.psk.reveal(), octets, auth.data):
                raise AuthenticationFailed(f"PSK AUTH of '{peer_id}' does not verify "
                                           "(wrong pre-shared key?)")
        else:
            _verify_certificate_auth(sa, conn, peer_id, auth, view, octets, now)
    except AuthenticationFailed:
        ctx.emit(ev.AuthAttempt(conn.remote_auth, "failure"))
        raise
    ctx.emit(ev.AuthAttempt(conn.remote_auth, "success"))
    sa.auth_method = conn.remote_auth
    progress.our_auth = our_auth_payloads(sa, conn, view)
    return finish(resp, sa, msg.message_id, now)


def _verify_certificate_auth(sa, conn, peer_id, auth, view, octets, now) -> None:
    certs = [c.data for c in view.all(PayloadType.CERT)
             if c.encoding == CertEncoding.X509_CERTIFICATE_SIGNATURE]
    if not certs:
        raise AuthenticationFailed(f"'{peer_id}' sent no X.509 certificate")
    when = datetime.fromtimestamp(now, timezone.utc)
    cert = conn.trust.verify(certs[0], certs[1:], when)
    if not certificate_matches_identity(cert, peer_id):
        raise AuthenticationFailed(f"certificate '{cert.subject.rfc4514_string()}' does not "
                                   f"contain the identity '{peer_id}'")
    ikeauth.verify(cert.public_key(), auth.method, auth.data, octets,
                   conn.signature_hash_algorithms)


def our_auth_payloads(sa: IkeSa, conn, request: Payloads, *, msk: bytes | None = None) -> list:
    """IDr, [CERT...], AUTH of ours (§2.15: ResponderSignedOctets)."""
    idr = w.IdPayload(payload_type=PayloadType.IDr, id_type=conn.local_id.id_type,
                      data=conn.local_id.data)
    idr_body = w.encode_payload_body(idr)
    octets = ikeauth.signed_octets(sa.init_response, sa.nonce_i, sa.prf_id, sa.keys.sk_pr,
                                   idr_body)
    out = [idr]
    if conn.local_auth == "psk":
        out.append(w.AuthPayload(method=AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                                 data=ikeauth.psk_auth(sa.prf_id, conn.psk.reveal(), octets)))
        return out
    cred = conn.credential
    if conn.send_cert == "always" or request.all(PayloadType.CERTREQ):
        for der in cred.chain_der():
            out.append(w.CertPayload(encoding=CertEncoding.X509_CERTIFICATE_SIGNATURE, data=der))
    method, signature = ikeauth.sign(cred, octets, sa.peer_hash_algorithms or None)
    out.append(w.AuthPayload(method=method, data=signature))
    return out


def finish(resp, sa: IkeSa, mid: int, now: float):
    """Peer authenticated: uniqueness, CP, CHILD SA; respond now or after the install."""
    ctx = resp.ctx
    progress: AuthProgress = sa.auth_state
    conn = sa.connection
    first = progress.first
    sa.peer_identity_key = sa.eap_identity.lower() if sa.eap_identity else sa.peer_id.key()
    _apply_uniqueness(resp, sa, first, now)
    out = list(progress.our_auth)
    child_errors: list = []
    cp_reply = None
    try:
        cp_reply = _configuration(ctx, sa, conn, first)
    except IkeError as e:
        ctx.log_error(e, sa.remote, f"IKE SA {sa.spi_i.hex()} configuration payload")
        child_errors.append(notify(e.notify, e.notify_data))
    if cp_reply is not None:
        out.append(cp_reply)

    plan = None
    if first.first(PayloadType.SA) is not None and not child_errors:
        try:
            plan = child_create.negotiate(resp, sa, first, sa.nonce_i, sa.nonce_r, now,
                                          in_ike_auth=True)
        except IkeError as e:
            ctx.log_error(e, sa.remote, f"IKE SA {sa.spi_i.hex()} first CHILD SA")
            child_errors.append(notify(e.notify, e.notify_data))

    if plan is None:
        _establish(resp, sa, now)
        return out + child_errors

    def installed(ok: bool, reason: str, now: float) -> None:
        if sa.state is IkeSaState.DEAD:
            return
        _establish(resp, sa, now)
        if ok:
            resp.complete(sa, ExchangeType.IKE_AUTH, mid, out + plan.payloads, now)
        else:
            resp.complete(sa, ExchangeType.IKE_AUTH, mid,
                          out + [notify(NotifyType.NO_PROPOSAL_CHOSEN)], now)

    rid = child_create.install(resp, sa, plan, installed)
    progress.request_ids.append(rid)
    return PENDING


def _establish(resp, sa: IkeSa, now: float) -> None:
    ctx = resp.ctx
    conn = sa.connection
    sa.auth_state = None
    sa.established_at = now
    resp.set_state(sa, IkeSaState.ESTABLISHED, now)
    resp.index_identity(sa)
    sa.dpd_at = now + conn.dpd_delay if conn.dpd_delay > 0 else None
    if sa.local_behind_nat:
        from .informational import KEEPALIVE_INTERVAL
        sa.keepalive_at = now + KEEPALIVE_INTERVAL
    jitter = conn.ike_lifetime * 0.05 * (ctx.rng(1)[0] / 255)
    if conn.rekey:
        sa.rekey_at = now + conn.ike_lifetime * 0.9 - jitter
        sa.expire_at = now + conn.ike_lifetime
    else:
        # the client is expected to rekey; if it has not by the end of the lifetime, we
        # do (RFC 7296 §2.8: either end may), and give up 10 % later
        sa.rekey_at = now + conn.ike_lifetime - jitter
        sa.expire_at = now + conn.ike_lifetime * 1.1
    ctx.emit(ev.IkeSaEstablished(2, sa.auth_method, sa.suite_label, now - sa.created_at))
    if log.isEnabledFor(logging.INFO):
        log.info("IKE SA %s established with '%s' at %s:%d (%s, %s)%s", sa.spi_i.hex(),
                 sa.peer_id, *sa.remote, sa.connection.name, sa.suite,
                 f", virtual IP {sa.vip}" if sa.vip is not None else "")


def _apply_uniqueness(resp, sa: IkeSa, first: Payloads, now: float) -> None:
    """§2.4 INITIAL_CONTACT, and the connection's uniqueness policy."""
    # the same identity may hold SAs on other workers: they get told (DESIGN §4)
    initial_contact = first.has_notify(NotifyType.INITIAL_CONTACT)
    resp.ctx.claim_identity(sa, initial_contact, now)
    if not initial_contact and sa.connection.unique == "never":
        return  # nothing to do with the others: not worth a look at thousands sharing an ID
    others = resp.others_of_identity(sa)
    if not others:
        return
    from . import informational
    if initial_contact:
        # the peer says it has no other SA with us: the old ones are stale, drop them
        for other in others:
            resp.destroy(other, now, reason=f"INITIAL_CONTACT from '{sa.peer_id}'")
        return
    policy = sa.connection.unique
    if policy == "replace":
        for other in others:
            informational.send_delete_ike(resp, other, now, wait=False)
            resp.destroy(other, now, reason=f"replaced by a new IKE SA of '{sa.peer_id}'")
    elif policy == "keep":
        raise AuthenticationFailed(f"'{sa.peer_id}' already has an IKE SA and the connection "
                                   "keeps the existing one (unique = keep)")


def _configuration(ctx, sa: IkeSa, conn, first: Payloads):
    """§3.15: the virtual IP and DNS of a CFG_REQUEST, or None."""
    cp = first.first(PayloadType.CP)
    if not conn.pools:
        return None
    if cp is None or cp.cfg_type != CfgType.CFG_REQUEST:
        raise FailedCpRequired(f"connection {conn.name} assigns addresses but "
                               f"'{sa.peer_id}' sent no configuration request")
    wants = {t: v for t, v in cp.attributes}
    attrs: list = []
    for family, attr in ((4, CfgAttribute.INTERNAL_IP4_ADDRESS),
                         (6, CfgAttribute.INTERNAL_IP6_ADDRESS)):
        # one virtual IP per SA: IPv4 when asked for, else IPv6
        if attr not in wants or sa.vip is not None:
            continue
        requested = _requested_address(family, wants[attr])
        address = ctx.acquire_vip(sa, conn.pools_for_family(family), requested)
        if address is not None:
            attrs.extend(sa.vip_pool.cp_attributes(address, wants.keys()))
    if sa.vip is None:
        raise InternalAddressFailure(f"no free address for '{sa.peer_id}' in pools "
                                     f"{', '.join(conn.pools)}")
    return w.CpPayload(cfg_type=CfgType.CFG_REPLY, attributes=attrs)


def _requested_address(family: int, value: bytes):
    try:
        if family == 4 and len(value) == 4 and value != bytes(4):
            return ipaddress.IPv4Address(value)
        if family == 6 and len(value) == 17 and value[:16] != bytes(16):
            return ipaddress.IPv6Address(value[:16])
    except ValueError:
        pass
    return None


def abandon(resp, sa: IkeSa) -> None:
    """The SA died during IKE_AUTH: forget its pending LDAP/kernel requests."""
    progress = sa.auth_state
    if progress is None:
        return
    for rid in progress.request_ids:
        resp.ctx.cancel_request(rid)
    sa.auth_state = None


__all__ = ["handle_request", "finish", "our_auth_payloads", "abandon"]


def _requested_identity(idr):
    """The identity the peer wants us to be (IDr), or None when absent or unusable."""
    if idr is None:
        return None
    try:
        return Identity.from_payload(idr.id_type, idr.data)
    except AuthenticationFailed:
        return None  # a garbled IDr does not stop us from answering with our own
