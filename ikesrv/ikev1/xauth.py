"""XAuth as the server: user name and password after phase 1 (draft-ietf-ipsec-isakmp-xauth-06).

    Responder (XAuth server)                   Initiator (XAuth client)
    HDR*, HASH, ATTR(REQUEST: TYPE, USER_NAME, USER_PASSWORD)   -->
                                        <--    HDR*, HASH, ATTR(REPLY: USER_NAME, USER_PASSWORD)
    HDR*, HASH, ATTR(SET: STATUS 1|0)   -->
                                        <--    HDR*, HASH, ATTR(ACK: STATUS)

Each pair is one Transaction exchange with its own message ID (§6.1). Owns: the
requests, checking the reply against the users backend (file or LDAP, through
``ctx.request_auth("password", ...)``), a bounded number of attempts (the connection's
``xauth_retries``: after a failure a new REQUEST carries XAUTH_MESSAGE, after the last
one the SET says STATUS 0), and what follows: a successful ACK establishes the SA, a
failed one deletes it. The peer learns nothing about why it failed: an unknown user and
a wrong password get the same answer, as with EAP.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging

from .. import events as ev
from ..auth.users import MAX_PASSWORD_BYTES, name_problem, printable
from ..constants import V1CfgAttribute as A
from ..constants import V1CfgType, V1XauthType
from ..errors import AuthenticationFailed, IkeError
from ..wire import ikev1 as w
from . import phase1
from .isakmp_sa import IsakmpSa, V1State

log = logging.getLogger("ikesrv.ikev1")

def start(resp, sa: IsakmpSa, now: float) -> None:
    if sa.state is not V1State.XAUTH:
        return
    sa.xauth_attempts = 0
    _request(resp, sa, now, None)


def _request(resp, sa: IsakmpSa, now: float, message: str | None) -> None:
    attrs = [w.Attribute(type=A.XAUTH_TYPE, value=V1XauthType.GENERIC),
             w.Attribute(type=A.XAUTH_USER_NAME, value=b""),
             w.Attribute(type=A.XAUTH_USER_PASSWORD, value=b"")]
    if message:
        attrs.append(w.Attribute(type=A.XAUTH_MESSAGE, value=message.encode()))
    resp.send_transaction(sa, V1CfgType.ISAKMP_CFG_REQUEST, attrs, now,
                          on_reply=lambda attr, now: _reply(resp, sa, attr, now),
                          on_failure=lambda reason: _gone(resp, sa, reason))


def _reply(resp, sa: IsakmpSa, attr, now: float) -> None:
    ctx = resp.ctx
    if sa.state is not V1State.XAUTH:
        return
    values = {a.type: a.value for a in attr.attributes if isinstance(a.value, bytes)}
    user, password = values.get(A.XAUTH_USER_NAME), values.get(A.XAUTH_USER_PASSWORD)
    if attr.cfg_type != V1CfgType.ISAKMP_CFG_REPLY or user is None or password is None:
        log.info("ISAKMP SA %s: XAuth reply of '%s' without user name and password",
                 sa.spi_i.hex(), sa.peer_id)
        _failed(resp, sa, now)
        return
    # some clients (Android) terminate with NUL; strongSwan strips it too
    user, password = user.rstrip(b"\x00"), password[:-1] if password.endswith(b"\x00") \
        else password
    name = user.decode("utf-8", errors="replace")
    problem = name_problem(name) or ("password too long" if len(password) > MAX_PASSWORD_BYTES
                                     else None)
    if problem is not None:
        _refused(resp, sa, name, problem)
        _failed(resp, sa, now)
        return

    def checked(result, now: float) -> None:
        if rid in sa.pending_requests:
            sa.pending_requests.remove(rid)
        if sa.state is not V1State.XAUTH:
            return
        if not result.ok:
            _refused(resp, sa, name, result.reason or "refused")
            _failed(resp, sa, now)
            return
        ctx.emit(ev.AuthAttempt("xauth", "success"))
        if log.isEnabledFor(logging.INFO):
            log.info("ISAKMP SA %s: XAuth login of %s succeeded", sa.spi_i.hex(),
                     printable(name))
        sa.xauth_user = name
        sa.peer_identity_key = name.lower()
        sa.auth_label = "xauth"
        if phase1.uniqueness_refuses(resp, sa):
            log.info("ISAKMP SA %s: %s already logged in elsewhere and the connection keeps "
                     "the existing SA (unique = keep)", sa.spi_i.hex(), printable(name))
            _status(resp, sa, False, now)
            return
        _status(resp, sa, True, now)

    rid = ctx.request_auth("password", sa.connection.name, name, password, checked)
    sa.pending_requests.append(rid)


def _refused(resp, sa: IsakmpSa, name: str, reason: str) -> None:
    """Logged (rate-limited) with the reason; the peer hears the same whatever it is."""
    resp.ctx.log_error(AuthenticationFailed(f"XAuth login of {printable(name)} refused: "
                                            f"{reason}"), sa.remote,
                       f"ISAKMP SA {sa.spi_i.hex()} XAuth")


def _failed(resp, sa: IsakmpSa, now: float) -> None:
    resp.ctx.emit(ev.AuthAttempt("xauth", "failure"))
    sa.xauth_attempts += 1
    if sa.xauth_attempts < sa.connection.xauth_retries:
        _request(resp, sa, now, "Authentication failed, try again")
    else:
        _status(resp, sa, False, now)


def _status(resp, sa: IsakmpSa, ok: bool, now: float) -> None:
    attrs = [w.Attribute(type=A.XAUTH_STATUS, value=1 if ok else 0)]

    def acked(attr, now: float) -> None:
        if sa.state is not V1State.XAUTH:
            return
        if ok:
            try:
                phase1.establish(resp, sa, now)
            except IkeError as e:  # a uniqueness conflict that arose meanwhile
                resp.ctx.log_error(e, sa.remote, f"ISAKMP SA {sa.spi_i.hex()}")
                _fail_sa(resp, sa, now, e.reason)
        else:
            _fail_sa(resp, sa, now, "XAuth failed")

    def lost(reason: str) -> None:
        _gone(resp, sa, reason)

    resp.send_transaction(sa, V1CfgType.ISAKMP_CFG_SET, attrs, now, on_reply=acked,
                          on_failure=lost)


def _fail_sa(resp, sa: IsakmpSa, now: float, reason: str) -> None:
    from . import informational
    resp.ctx.emit(ev.IkeSaFailed(1, "authentication_failed"))
    informational.send_delete_isakmp(resp, sa)
    resp.destroy(sa, now, reason=reason)


def _gone(resp, sa: IsakmpSa, reason: str) -> None:
    if sa.state is V1State.DEAD:
        return
    resp.ctx.emit(ev.IkeSaFailed(1, "timeout"))
    resp.destroy(sa, resp.ctx.now, reason=f"XAuth: {reason}")
