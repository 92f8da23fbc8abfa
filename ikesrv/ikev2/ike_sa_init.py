"""IKE_SA_INIT as the responder (RFC 7296 §1.2, §2.6, §2.10, §2.23; RFC 7383; RFC 7427).

    Initiator                          Responder
    HDR, [N(COOKIE),] SAi1, KEi, Ni -->
                                   <-- HDR, SAr1, KEr, Nr, [CERTREQ,]
                                           N(NAT_DETECTION_*), [N(...)]

Owns: the stateless answers given before any state exists (COOKIE above the half-open
thresholds, INVALID_KE_PAYLOAD with the group we want, NO_PROPOSAL_CHOSEN, and
INVALID_MAJOR_VERSION), proposal selection in our order across the connections that
may serve the peer, the Diffie-Hellman exchange and the key schedule, NAT detection, and
the capabilities announced (fragmentation, signature hash algorithms). Creates the
half-open IkeSa; retransmitted requests are answered from the cached response.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging

from .. import events as ev
from ..constants import (
    ExchangeType,
    HeaderFlag,
    NotifyType,
    PayloadType,
)
from ..crypto import dh, keys, proposals, sk
from ..crypto.auth import parse_signature_hash_algorithms, signature_hash_algorithms_data
from ..errors import IkeError, InvalidKeyInformation, MalformedMessage, ResourceLimit
from ..nat_detection import v2_nat_hash
from ..wire import ikev2 as w
from . import payload_rules
from .ike_sa import IkeSa, IkeSaState
from .messages import Payloads, notify

log = logging.getLogger("ikesrv.ikev2")

ZERO_SPI = bytes(8)
NONCE_LEN = 32  # RFC 7296 §2.10: at least half the PRF key size, at least 128 bits
_OUR_HASH_ALGORITHMS = signature_hash_algorithms_data()  # what we verify (RFC 7427): fixed


def handle_request(resp, msg, data: bytes, local, remote, now: float) -> None:
    ctx = resp.ctx
    existing = resp.half_open.get((msg.spi_i, remote))
    if existing is not None:
        if existing.init_request == data:
            # §2.1: the same request again: the same answer
            resp.send_unprotected(existing.init_response, existing.local, existing.remote,
                                  "IKE_SA_INIT")
        else:
            ctx.invalid(MalformedMessage("second, different IKE_SA_INIT with the SPI of a "
                                         "half-open SA"), remote)
        return
    try:
        payload_rules.check(ExchangeType.IKE_SA_INIT, False, msg.payloads)
        p = Payloads(msg.payloads)
        nonce = p.first(PayloadType.NONCE).data
        if not 16 <= len(nonce) <= 256:
            raise MalformedMessage(f"nonce of {len(nonce)} bytes (§3.9: 16 to 256)")
    except IkeError as e:
        # §2.21.1: an unauthenticated broken IKE_SA_INIT gets no answer (no reflection)
        ctx.invalid(e, remote, "IKE_SA_INIT")
        return

    # §2.6: under load, no state and no DH before the initiator proves its address
    if ctx.cookies_required(remote[0], resp):
        cookie = p.notify(NotifyType.COOKIE)
        if cookie is None or msg.payloads[0] is not cookie or not ctx.cookies.verify(
                cookie.data, nonce, msg.spi_i, remote[0], now):
            _stateless(resp, msg, local, remote,
                       [notify(NotifyType.COOKIE, ctx.cookies.cookie(nonce, msg.spi_i,
                                                                     remote[0], now))])
            ctx.emit(ev.CookieSent())
            return

    if ctx.half_open_full(resp, remote[0]):
        ctx.invalid(ResourceLimit("half-open SA limit reached, request dropped"), remote,
                    "IKE_SA_INIT")
        return

    candidates = ctx.connections.for_ikev2(remote[0])
    ke = p.first(PayloadType.KE)
    offered = p.first(PayloadType.SA).proposals
    selected, conn, index = None, None, 0
    for index, conn in enumerate(candidates):
        selected = proposals.select_ike(conn.ike_proposals, offered, prefer_dh=ke.group)
        if selected is not None:
            break
    if selected is None:
        log.info("IKE_SA_INIT from %s:%d: no acceptable proposal among %s", *remote,
                 proposals.describe_offer(offered) if candidates else "(no IKEv2 connection "
                 "for this address)")
        ctx.emit(ev.IkeSaFailed(2, "no_proposal_chosen"))
        _stateless(resp, msg, local, remote, [notify(NotifyType.NO_PROPOSAL_CHOSEN)])
        return
    if ke.group != selected.dh:
        # §1.2: tell the initiator which group to use; it retries with the same SPI
        log.debug("IKE_SA_INIT from %s:%d: KE group %d, asking for %d", *remote, ke.group,
                  selected.dh)
        _stateless(resp, msg, local, remote,
                   [notify(NotifyType.INVALID_KE_PAYLOAD, selected.dh.to_bytes(2, "big"))])
        return

    try:
        group = dh.group(selected.dh)
        dh_key = group.generate(ctx.rng)
        shared = dh_key.shared_secret(ke.data)
    except InvalidKeyInformation as e:
        ctx.invalid(e, remote, "IKE_SA_INIT KE payload")
        ctx.emit(ev.IkeSaFailed(2, e.metric_reason))
        _stateless(resp, msg, local, remote, [notify(NotifyType.INVALID_SYNTAX)])
        return

    spi_r = ctx.new_ike_spi(lambda spi: spi in resp.sas)
    sa = IkeSa(spi_i=msg.spi_i, spi_r=spi_r, local=local, remote=remote, created_at=now)
    sa.natt = local[1] == ctx.natt_port
    # the connections that accept the suite chosen: ``conn``, and among those after it
    # the ones that do (those before it accept nothing of the offer, so not this part)
    later = candidates[index + 1:]
    if later:  # usually none: one connection accepts what a client offers
        chosen = [selected.to_wire()]
        later = tuple(c for c in later if proposals.select_ike(
            c.ike_proposals, chosen, prefer_dh=selected.dh) is not None)
    sa.candidates = (conn, *later)
    sa.proposal = selected
    sa.suite = selected.describe()
    sa.suite_label = conn.suite_label(selected)
    sa.prf_id = selected.prf
    sa.nonce_i = nonce
    sa.nonce_r = ctx.rng(NONCE_LEN)
    sa.peer_hash_algorithms = _peer_hash_algorithms(p)
    sa.fragmentation = p.has_notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) and any(
        c.fragmentation for c in sa.candidates)
    derive_keys(sa, selected, shared)

    out = [
        w.SaPayload(proposals=[selected.to_wire()]),
        w.KePayload(group=selected.dh, data=dh_key.public),
        w.NoncePayload(data=sa.nonce_r),
    ]
    src = p.notifies(NotifyType.NAT_DETECTION_SOURCE_IP)
    dst = p.notify(NotifyType.NAT_DETECTION_DESTINATION_IP)
    if src or dst:
        # §2.23: compare what the peer saw with what we see
        expect_src = v2_nat_hash(msg.spi_i, ZERO_SPI, remote)
        expect_dst = v2_nat_hash(msg.spi_i, ZERO_SPI, local)
        sa.remote_behind_nat = bool(src) and all(n.data != expect_src for n in src)
        sa.local_behind_nat = dst is not None and dst.data != expect_dst
        out.append(notify(NotifyType.NAT_DETECTION_SOURCE_IP, v2_nat_hash(msg.spi_i, spi_r, local)))
        out.append(notify(NotifyType.NAT_DETECTION_DESTINATION_IP,
                          v2_nat_hash(msg.spi_i, spi_r, remote)))
    certreq = ctx.connections.certreq_data(sa.candidates)
    if certreq:
        out.append(w.CertReqPayload(encoding=4, data=certreq))  # X.509 signature (§3.7)
    if sa.fragmentation:
        out.append(notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED))
    if p.has_notify(NotifyType.SIGNATURE_HASH_ALGORITHMS):
        out.append(notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, _OUR_HASH_ALGORITHMS))

    response = w.encode_message(w.Message(
        spi_i=msg.spi_i, spi_r=spi_r, exchange=ExchangeType.IKE_SA_INIT,
        flags=HeaderFlag.RESPONSE, message_id=0, payloads=out))
    sa.init_request = data
    sa.init_response = response
    sa.peer_next_id = 1
    sa.last_heard = now
    sa.half_open_expire = now + ctx.half_open_timeout
    resp.add(sa)
    sa.half_open_key = (msg.spi_i, remote)
    resp.half_open[sa.half_open_key] = sa
    resp.half_open_per_ip[remote[0]] += 1
    ctx.emit(ev.IkeSaStateChanged(2, None, ev.HALF_OPEN))
    resp.send_unprotected(response, local, remote, "IKE_SA_INIT")
    resp.reschedule(sa)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("IKE_SA_INIT from %s:%d: %s, SPIs %s_i %s_r%s", *remote, sa.suite,
                  msg.spi_i.hex(), spi_r.hex(), " (NAT)" if sa.remote_behind_nat else "")


def derive_keys(sa: IkeSa, selected, shared: bytes, *, old_sk_d: bytes | None = None,
                old_prf: int | None = None) -> None:
    """SKEYSEED and the seven keys (§2.14), or from the old SK_d on a rekey (§2.18)."""
    encr_len = selected.encr_keymat_len
    integ_len = selected.integ_key_len
    if old_sk_d is None:
        k = keys.ike_sa_keys(selected.prf, integ_len, encr_len, sa.nonce_i, sa.nonce_r, shared,
                             sa.spi_i, sa.spi_r)
    else:
        k = keys.rekey_ike_sa_keys(selected.prf, old_sk_d, shared, sa.nonce_i, sa.nonce_r,
                                   sa.spi_i, sa.spi_r, integ_len, encr_len, old_prf_id=old_prf)
    sa.keys = k
    integ = selected.integ or 0
    initiator = sk.SkCipher(selected.encr, k.sk_ei, integ, k.sk_ai)
    responder = sk.SkCipher(selected.encr, k.sk_er, integ, k.sk_ar)
    if sa.we_initiated:
        sa.cipher_out, sa.cipher_in = initiator, responder
    else:
        sa.cipher_in, sa.cipher_out = initiator, responder


def _peer_hash_algorithms(p: Payloads) -> frozenset:
    n = p.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS)
    return frozenset() if n is None else parse_signature_hash_algorithms(n.data)


def _stateless(resp, msg, local, remote, payloads: list) -> None:
    """An IKE_SA_INIT answer that creates no state (§2.6, §1.2): responder SPI zero."""
    data = w.encode_message(w.Message(
        spi_i=msg.spi_i, spi_r=ZERO_SPI, exchange=ExchangeType.IKE_SA_INIT,
        flags=HeaderFlag.RESPONSE, message_id=0, payloads=payloads))
    resp.send_unprotected(data, local, remote, "IKE_SA_INIT")


def answer_bad_version(resp, e: IkeError, data: bytes, local, remote) -> None:
    """§2.5: an IKE_SA_INIT of a newer major version gets INVALID_MAJOR_VERSION with our
    version in the header, so the initiator can fall back; nothing else is answered."""
    if e.notify != NotifyType.INVALID_MAJOR_VERSION or len(data) < 28:
        return
    if data[18] != ExchangeType.IKE_SA_INIT or data[19] & HeaderFlag.RESPONSE:
        return
    answer = w.encode_message(w.Message(
        spi_i=data[:8], spi_r=ZERO_SPI, exchange=ExchangeType.IKE_SA_INIT,
        flags=HeaderFlag.RESPONSE, message_id=int.from_bytes(data[20:24], "big"),
        payloads=[notify(NotifyType.INVALID_MAJOR_VERSION)]))
    resp.send_unprotected(answer, local, remote, "IKE_SA_INIT")


__all__ = ["handle_request", "derive_keys", "answer_bad_version", "IkeSaState"]
