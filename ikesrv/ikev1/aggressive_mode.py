"""Aggressive Mode as the responder (RFC 2409 §5, §5.4; RFC 3947 §3-§4).

    Initiator                                  Responder
    AM1  HDR, SA, KE, Ni, IDii, VID...  -->
                                        <--    HDR, SA, KE, Nr, IDir, [CERT,]
                                               HASH_R | SIG_R, VID..., [NAT-D, NAT-D]  AM2
    AM3  HDR[*], [CERT,] HASH_I | SIG_I, [NAT-D, NAT-D] -->

Owns the two steps. The peer names itself in the clear in AM1, so the connection is
chosen by that ID, and only among connections with ``aggressive = true``: with a
pre-shared key, AM2's HASH_R lets anyone who sees it test PSK guesses offline, which is
why it is off unless a connection opts in. A refusal is the same AUTHENTICATION-FAILED
whether Aggressive Mode is off or the ID unknown, as strongSwan answers. AM3 may come
encrypted (several implementations encrypt it) or not (as RFC 2409 draws it), and
from port 4500 when NAT-D found a NAT. AM2 is resent until AM3 arrives, since the
initiator has nothing to retransmit once it sent AM3.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

from ..constants import V1ExchangeType, V1NotifyType
from ..constants import V1PayloadType as P
from ..errors import AuthenticationFailed, NoProposalChosen
from ..wire import ikev1 as w
from . import phase1
from .isakmp_sa import V1State
from .transitions import Reply


def am1(resp, msg, view, data, local, remote, now):
    """AM1 -> AM2: connection by ID, DH, keys, and our authentication at once."""
    ctx = resp.ctx
    candidates = ctx.connections.for_ikev1(remote[0])
    allowed = [c for c in candidates if c.aggressive]
    if not allowed:
        raise AuthenticationFailed("Aggressive Mode refused: no IKEv1 connection for this "
                                   "address allows it (aggressive = true)")
    sa_payload = view.first(P.SA)
    phase1.check_situation(sa_payload)
    found = phase1.select(allowed, sa_payload.proposals, aggressive=True)
    if not found:
        raise NoProposalChosen("Aggressive Mode: no acceptable proposal among "
                               f"{phase1.describe_offer(sa_payload.proposals)}")
    idii = view.first(P.ID)
    peer_id = phase1.peer_identity(idii)
    fitting = [(c, s) for c, s in found if c.remote_id.matches(peer_id)]
    if not fitting:
        raise AuthenticationFailed(f"Aggressive Mode: no connection accepts identity "
                                   f"'{peer_id}'")
    conn, selection = fitting[0]
    nonce_i = phase1.nonce(view)
    sa = resp.new_sa(msg, local, remote, now, V1ExchangeType.AGGRESSIVE)
    sa.candidates = (conn,)
    phase1.adopt(sa, conn, selection)
    sa.sai_b, sa.idii_b = sa_payload.body, idii.body
    sa.peer_id, sa.nonce_i = peer_id, nonce_i
    sa.peer_wants_cert = bool(view.all(P.CR))
    phase1.read_vendor_ids(sa, view, conn)
    phase1.key_exchange(ctx, sa, view.first(P.KE).data)
    sa.nonce_r = ctx.rng(phase1.NONCE_LEN)
    phase1.derive_keys(sa)
    answer = w.SaPayload(doi=sa_payload.doi, situation=sa_payload.situation,
                         proposals=[selection.to_wire()])
    out = [answer, w.KePayload(data=sa.g_xr), w.NoncePayload(data=sa.nonce_r)]
    out += phase1.our_auth_payloads(sa, phase1.our_id_payload(sa))
    out += phase1.our_vendor_ids(sa)
    out += phase1.our_nat_d(sa)
    if sa.signatures:
        out += phase1.cr_payloads(conn)
    out += phase1.phase1_lifetime(sa)[1]
    sa.state = V1State.AM_SENT
    return sa, Reply(out)


def am3(resp, sa, msg, view, now, local, remote):
    """AM3: the initiator's proof; then XAuth, or the SA is established."""
    phase1.read_nat_d(sa, view, local, remote)
    phase1.verify_peer(resp.ctx, sa, view, sa.idii_b, now)
    sa.initial_contact = view.has_notify(V1NotifyType.INITIAL_CONTACT)
    sa.local, sa.remote = local, remote
    sa.phase1_response, sa.phase1_retransmit_at = [], None
    phase1.complete(resp, sa, now)
    if sa.xauth:
        from . import xauth
        return Reply(None, then=lambda now: xauth.start(resp, sa, now))
    return Reply(None)
