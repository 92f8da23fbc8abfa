"""Main Mode (identity protection) as the responder (RFC 2409 §5, §5.1, §5.4; RFC 3947).

    Initiator                                  Responder
    MM1  HDR, SA, VID...                -->
                                        <--    HDR, SA, VID...                    MM2
    MM3  HDR, KE, Ni, [CR,] [NAT-D, NAT-D] -->
                                        <--    HDR, KE, Nr, [CR,] [NAT-D, NAT-D]  MM4
    MM5  HDR*, IDii, [CERT,] HASH_I | SIG_I, [N(INITIAL-CONTACT)] -->
                                        <--    HDR*, IDir, [CERT,] HASH_R | SIG_R MM6

Owns the three steps. The connection is chosen from the proposal at MM1 among those
serving the peer's address; with a pre-shared key that choice also picks the key, since
the peer's ID arrives only in MM5, encrypted with keys derived from it (config check
``check_main_mode_psk`` warns about overlapping addresses with different keys). MM5
may then move to another candidate that has the same key and accepts the ID. NAT-T:
NAT-D travels in MM3/MM4; a peer behind a NAT sends MM5 from port 4500 (RFC 3947 §4).

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging

from ..constants import V1ExchangeType, V1NotifyType
from ..constants import V1PayloadType as P
from ..errors import NoProposalChosen
from ..wire import ikev1 as w
from . import phase1
from .isakmp_sa import V1State
from .transitions import Reply

log = logging.getLogger("ikesrv.ikev1")


def mm1(resp, msg, view, data, local, remote, now):
    """MM1 -> MM2: choose the connection and transform; the SA is created."""
    ctx = resp.ctx
    sa_payload = view.first(P.SA)
    phase1.check_situation(sa_payload)
    candidates = ctx.connections.for_ikev1(remote[0])
    found = phase1.select(candidates, sa_payload.proposals)
    if not found:
        raise NoProposalChosen("Main Mode: " + (
            f"no acceptable proposal among {phase1.describe_offer(sa_payload.proposals)}"
            if candidates else "no IKEv1 connection for this address"))
    conn, selection = found[0]
    sa = resp.new_sa(msg, local, remote, now, V1ExchangeType.IDENTITY_PROTECTION)
    sa.candidates = tuple(c for c, _ in found)
    phase1.adopt(sa, conn, selection)
    sa.sai_b = sa_payload.body
    phase1.read_vendor_ids(sa, view, conn)
    sa.state = V1State.MM_SA
    answer = w.SaPayload(doi=sa_payload.doi, situation=sa_payload.situation,
                         proposals=[selection.to_wire()])
    return sa, Reply([answer] + phase1.our_vendor_ids(sa))


def mm3(resp, sa, msg, view, now, local, remote):
    """MM3 -> MM4: Diffie-Hellman, nonces, NAT-D; the keys exist afterwards."""
    ctx = resp.ctx
    sa.nonce_i = phase1.nonce(view)
    phase1.key_exchange(ctx, sa, view.first(P.KE).data)
    sa.nonce_r = ctx.rng(phase1.NONCE_LEN)
    phase1.read_nat_d(sa, view, local, remote)
    sa.peer_wants_cert = bool(view.all(P.CR))
    phase1.derive_keys(sa)
    out = [w.KePayload(data=sa.g_xr), w.NoncePayload(data=sa.nonce_r)]
    if sa.signatures:
        out += phase1.cr_payloads(sa.connection)
    out += phase1.our_nat_d(sa)
    sa.state = V1State.MM_KE
    return Reply(out)


def mm5(resp, sa, msg, view, now, local, remote):
    """MM5 -> MM6: the peer's identity and proof; ours back. XAuth follows MM6."""
    idii = view.first(P.ID)
    sa.peer_id = phase1.peer_identity(idii)
    phase1.choose_by_identity(sa, sa.peer_id)
    if view.all(P.CR):
        sa.peer_wants_cert = True
    phase1.verify_peer(resp.ctx, sa, view, idii.body, now)
    sa.initial_contact = view.has_notify(V1NotifyType.INITIAL_CONTACT)
    sa.local, sa.remote = local, remote  # RFC 3947 §4: it may have floated to 4500
    out = phase1.our_auth_payloads(sa, phase1.our_id_payload(sa))
    out += phase1.phase1_lifetime(sa)[1]
    phase1.complete(resp, sa, now)
    if sa.xauth:
        from . import xauth
        return Reply(out, then=lambda now: xauth.start(resp, sa, now))
    return Reply(out)
