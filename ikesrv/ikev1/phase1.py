"""What Main Mode and Aggressive Mode share: proposals, keys, NAT-D, vendor IDs, the
authentication of both sides, and what happens once phase 1 is done.

Owns:
  - the Authentication Methods a connection accepts (RFC 2409 App. A; XAuth methods from
    draft-beaulieu-ike-xauth: 65001 XAUTHInitPreShared, 65005 XAUTHInitRSA) and the
    choice of connection and transform among the peer's proposals, in our order;
  - the Diffie-Hellman exchange and the key schedule (RFC 2409 §5: SKEYID for PSK or
    signatures, SKEYID_d/a/e, the encryption key and first IV of App. B);
  - HASH_I/HASH_R and SIG_I/SIG_R (RFC 2409 §5, §5.1), certificates and CR payloads;
  - vendor IDs recognised and sent (XAuth, DPD RFC 3706 §6, NAT-T RFC 3947 and its
    draft-02/02n/03 forms, Cisco Unity, Cisco/strongSwan fragmentation);
  - NAT-D (RFC 3947 §3.2) with payload type 20, or 130 for the drafts;
  - completing phase 1: XAuth next, or the SA is established, with uniqueness:
    INITIAL_CONTACT drops stale SAs of the same peer, a new SA from the very same
    address and port takes the IPsec SAs and virtual IP of the old one over (phase 1
    rekey by the client, as strongSwan does: the old SA is deleted 10 s later), others
    follow the connection's ``unique`` policy.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .. import events as ev
from ..auth.users import printable
from ..constants import TransformType, V1AuthMethod, V1Phase1Attribute, VendorId
from ..constants import V1NotifyType as N
from ..constants import V1PayloadType as P
from ..crypto import auth as ikeauth
from ..crypto import dh, ikev1_keys, proposals_v1
from ..crypto import transforms as T
from ..crypto.certs import certificate_matches_identity
from ..crypto.ikev1_cipher import Ikev1Cipher
from ..errors import (
    AuthenticationFailed,
    IntegrityCheckFailed,
    MalformedMessage,
    NoProposalChosen,
)
from ..identity import Identity
from ..nat_detection import v1_detect, v1_payloads
from ..wire import ikev1 as w
from .isakmp_sa import IsakmpSa, V1State
from .messages import V1Payloads, check_hash, lifetime_attributes, notify

log = logging.getLogger("ikesrv.ikev1")

NONCE_LEN = 32
#: RFC 2409 §5: nonces of 8 to 256 octets.
NONCE_MIN, NONCE_MAX = 8, 256
#: RFC 2407 §4.5 / RFC 2409 App. A: the lifetime when a proposal names none.
DEFAULT_LIFETIME = 28800.0
#: Seconds a replaced SA lives on after a phase 1 rekey (strongSwan waits as long).
REAUTH_DELETE_DELAY = 10.0
#: Seconds to wait for a client's Mode Config request before pushing the address.
CFG_PUSH_WAIT = 2.0
CERT_X509_SIGNATURE = 4  # RFC 2408 §3.9

#: NAT-T vendor IDs, most preferred first, with the flavour they announce.
NATT_VIDS = (
    (VendorId.NAT_T_RFC3947, "rfc"),
    (VendorId.NAT_T_DRAFT_03, "draft-03"),
    (VendorId.NAT_T_DRAFT_02N, "draft-02n"),
    (VendorId.NAT_T_DRAFT_02, "draft-02"),
)
_NATT_DATA = {name: vid for vid, name in NATT_VIDS}
# strongSwan sends the fragmentation VID with capability flags appended (0x80000000)
FRAGMENTATION_VID = VendorId.FRAGMENTATION + bytes.fromhex("80000000")

_ECDSA_METHODS = {"secp256r1": V1AuthMethod.ECDSA_SHA256_P256,
                  "secp384r1": V1AuthMethod.ECDSA_SHA384_P384,
                  "secp521r1": V1AuthMethod.ECDSA_SHA512_P521}


# ------------------------------------------------------------------ negotiation ---------


def auth_methods(conn) -> frozenset[int]:
    """The Authentication Method values a connection accepts in phase 1 proposals."""
    xauth = conn.remote_auth == "xauth"
    if conn.local_auth == "psk":
        return frozenset({V1AuthMethod.XAUTH_INIT_PRESHARED if xauth
                          else V1AuthMethod.PRE_SHARED_KEY})
    key = conn.credential.private_key if conn.credential is not None else None
    if isinstance(key, rsa.RSAPrivateKey):
        return frozenset({V1AuthMethod.XAUTH_INIT_RSA if xauth else V1AuthMethod.RSA_SIGNATURES})
    if isinstance(key, ec.EllipticCurvePrivateKey) and not xauth:
        method = _ECDSA_METHODS.get(key.curve.name)
        return frozenset({method}) if method else frozenset()
    return frozenset()  # XAuth has no code point for ECDSA signatures


def select(candidates, offered, *, aggressive: bool = False):
    """[(connection, V1Phase1Selection)] for each candidate accepting one of the
    peer's proposals, in configuration order (RFC 2409 §5: one transform back)."""
    found = []
    for conn in candidates:
        if aggressive and not conn.aggressive:
            continue
        chosen = proposals_v1.select_v1_phase1(conn.ike_proposals, offered, auth_methods(conn))
        if chosen is not None:
            found.append((conn, chosen))
    return found


def check_situation(sa_payload) -> None:
    """RFC 2407 §4.2, §4.6.1: the IPsec DOI with SIT_IDENTITY_ONLY is all we speak."""
    if sa_payload.doi != 1 or sa_payload.situation != 1:
        raise NoProposalChosen(f"SA with DOI {sa_payload.doi} and situation "
                               f"{sa_payload.situation:#x} (only IPsec, identity only)")


def describe_offer(offered, limit: int = 8) -> str:
    """A short text of the peer's phase 1 transforms for logs: encr-hash-auth-group."""
    names = []
    for p in offered:
        for t in p.transforms:
            a = {}
            for attr in t.attributes:
                if isinstance(attr.value, int):
                    a[attr.type] = attr.value
            encr = T.encr_from_v1_phase1(a.get(V1Phase1Attribute.ENCRYPTION_ALGORITHM, 0))
            bits = a.get(V1Phase1Attribute.KEY_LENGTH)
            e = T.token_name(TransformType.ENCR, encr, bits) if encr else \
                f"encr{a.get(V1Phase1Attribute.ENCRYPTION_ALGORITHM)}"
            h = T.V1_HASH_NAMES.get(a.get(V1Phase1Attribute.HASH_ALGORITHM), "hash?")
            g = a.get(V1Phase1Attribute.GROUP_DESCRIPTION)
            m = a.get(V1Phase1Attribute.AUTHENTICATION_METHOD)
            names.append(f"{e}-{h}-group{g}-auth{m}")
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "nothing"


def suite_name(sel) -> str:
    """strongSwan-style name of a phase 1 suite, e.g. ``aes256-sha256-modp2048``."""
    parts = [T.token_name(TransformType.ENCR, sel.encr, sel.encr_key_len)]
    integ = T.integ_from_v1_hash(sel.hash)
    parts.append(T.token_name(TransformType.INTEG, integ) if integ else T.V1_HASH_NAMES.get(
        sel.hash, f"hash{sel.hash}"))
    parts.append(T.token_name(TransformType.DH, sel.dh))
    return "-".join(parts)


SUITE_LABELS_KEPT = 64  # per connection: the answers remembered (the key holds peer values)


def suite_label(conn, sel) -> str:
    """The configured proposal string that accepted the suite (a bounded metric label);
    asked once per SA, so remembered per connection and suite."""
    key = (sel.encr, sel.encr_key_len, sel.hash, sel.dh, sel.auth_method, sel.life_seconds,
           sel.life_kilobytes)
    cache = conn.__dict__.setdefault("_v1_suite_labels", {})
    label = cache.get(key)
    if label is None:
        wire = [sel.to_wire()]
        label = "other"
        for text, spec in zip(conn.proposal_strings, conn.ike_proposals):
            if proposals_v1.select_v1_phase1([spec], wire) is not None:
                label = text
                break
        if len(cache) < SUITE_LABELS_KEPT:
            cache[key] = label
    return label


def adopt(sa: IsakmpSa, conn, sel) -> None:
    sa.connection = conn
    sa.selection = sel
    sa.suite = suite_name(sel)
    sa.suite_label = suite_label(conn, sel)
    sa.auth_method = sel.auth_method
    sa.signatures = conn.local_auth == "pubkey"
    sa.xauth = conn.remote_auth == "xauth"


# ------------------------------------------------------------------ vendor IDs ----------


def read_vendor_ids(sa: IsakmpSa, view: V1Payloads, conn) -> None:
    """The peer's capabilities from its vendor IDs (first phase 1 message)."""
    seen = [v.data for v in view.all(P.VID)]
    for vid, name in NATT_VIDS:
        if vid in seen:
            sa.natt = name
            break
    sa.peer_dpd = VendorId.DPD in seen
    sa.peer_unity = VendorId.CISCO_UNITY in seen
    sa.fragmentation = bool(conn is not None and conn.fragmentation) and any(
        v[:16] == VendorId.FRAGMENTATION for v in seen)


def our_vendor_ids(sa: IsakmpSa) -> list:
    out = []
    if sa.xauth:
        out.append(w.VendorIdPayload(data=VendorId.XAUTH))
    out.append(w.VendorIdPayload(data=VendorId.DPD))
    if sa.natt:
        out.append(w.VendorIdPayload(data=_NATT_DATA[sa.natt]))
    if sa.fragmentation:
        out.append(w.VendorIdPayload(data=FRAGMENTATION_VID))
    if sa.peer_unity:
        out.append(w.VendorIdPayload(data=VendorId.CISCO_UNITY))
    return out


# ------------------------------------------------------------------ DH and keys ---------


def nonce(view: V1Payloads) -> bytes:
    data = view.first(P.NONCE).data
    if not NONCE_MIN <= len(data) <= NONCE_MAX:
        raise MalformedMessage(f"nonce of {len(data)} bytes (RFC 2409 §5: 8 to 256)")
    return data


def key_exchange(ctx, sa: IsakmpSa, peer_public: bytes) -> None:
    """Our DH half and g^xy; InvalidKeyInformation for a bad peer value (RFC 6989)."""
    group = dh.group(sa.selection.dh)
    sa.dh_key = group.generate(ctx.rng)
    sa.g_xi, sa.g_xr = peer_public, sa.dh_key.public
    sa.shared = sa.dh_key.shared_secret(peer_public)


def derive_keys(sa: IsakmpSa) -> None:
    """SKEYID and its descendants, the encryption key and the first IV (RFC 2409 §5,
    App. B). PSK SKEYID needs the connection's key: the caller has chosen it."""
    sel = sa.selection
    h = sel.hash
    if sa.signatures:
        sa.skeyid = ikev1_keys.skeyid_sig(h, sa.nonce_i, sa.nonce_r, sa.shared)
    else:
        sa.skeyid = ikev1_keys.skeyid_psk(h, sa.connection.psk.reveal(), sa.nonce_i, sa.nonce_r)
    sa.skeyid_d, sa.skeyid_a, skeyid_e = ikev1_keys.skeyid_dae(h, sa.skeyid, sa.shared,
                                                              sa.spi_i, sa.spi_r)
    key = ikev1_keys.expand_key(h, skeyid_e, sel.encr_key_bytes)
    block = T.ENCR[sel.encr].block_size
    sa.cipher = Ikev1Cipher(sel.encr, key, h, ikev1_keys.initial_iv(h, sa.g_xi, sa.g_xr, block))
    sa.dh_key = None  # the private value is no longer needed


# ------------------------------------------------------------------ NAT-D ---------------


def nat_d_type(sa: IsakmpSa) -> int:
    return P.NAT_D if sa.natt == "rfc" else P.NAT_D_DRAFT


def our_nat_d(sa: IsakmpSa) -> list:
    if not sa.natt:
        return []
    t = nat_d_type(sa)
    return [w.NatDPayload(data=d, payload_type=t)
            for d in v1_payloads(sa.hash_alg, sa.spi_i, sa.spi_r, sa.local, sa.remote)]


def read_nat_d(sa: IsakmpSa, view: V1Payloads, local, remote) -> None:
    """RFC 3947 §3.2: the peer's NAT-D payloads against the addresses this message used."""
    found = [p.data for p in view.all(P.NAT_D)]
    if not sa.natt or not found:
        return
    sa.local_behind_nat, sa.remote_behind_nat = v1_detect(sa.hash_alg, sa.spi_i, sa.spi_r,
                                                          found, local, remote)


# ------------------------------------------------------------------ authentication ------


def our_id_payload(sa: IsakmpSa) -> w.IdPayload:
    """IDir: the connection's identity, else our address (RFC 2407 §4.6.2: phase 1 IDs
    carry protocol and port 0)."""
    ident = sa.connection.local_identity(sa.local[0])
    try:
        id_type, data = ident.to_v1()
    except ValueError:  # an IKEv2-only type (ID_NULL): IKEv1 peers get our address
        ident = Identity.parse(sa.local[0])
        id_type, data = ident.to_v1()
    sa.local_id = ident
    return w.IdPayload(id_type=id_type, protocol_id=0, port=0, data=data)


def cr_payloads(conn) -> list:
    """Certificate requests naming our trust anchors (RFC 2408 §3.10: the CA's DN)."""
    if conn.trust is None:
        return []
    return [w.CrPayload(encoding=CERT_X509_SIGNATURE, data=a.subject.public_bytes(Encoding.DER))
            for a in conn.trust.anchors] or [w.CrPayload(encoding=CERT_X509_SIGNATURE)]


def hash_i(sa: IsakmpSa, idii_b: bytes) -> bytes:
    return ikev1_keys.hash_i(sa.hash_alg, sa.skeyid, sa.g_xi, sa.g_xr, sa.spi_i, sa.spi_r,
                             sa.sai_b, idii_b)


def our_auth_payloads(sa: IsakmpSa, idir: w.IdPayload) -> list:
    """IDir, then HASH_R, or [CERT...] and SIG_R (RFC 2409 §5, §5.1)."""
    h = ikev1_keys.hash_r(sa.hash_alg, sa.skeyid, sa.g_xi, sa.g_xr, sa.spi_i, sa.spi_r,
                          sa.sai_b, idir.body)
    conn = sa.connection
    if not sa.signatures:
        return [idir, w.HashPayload(data=h)]
    out = [idir]
    if conn.send_cert == "always" or sa.peer_wants_cert:
        out += [w.CertPayload(encoding=CERT_X509_SIGNATURE, data=der)
                for der in conn.credential.chain_der()]
    out.append(w.SigPayload(data=ikeauth.sign_v1(conn.credential, h)))
    return out


def peer_identity(id_payload) -> Identity:
    return Identity.from_v1(id_payload.id_type, id_payload.data)


def choose_by_identity(sa: IsakmpSa, peer_id: Identity) -> None:
    """Main Mode: the peer's ID arrives encrypted, after the keys were made with the
    tentative connection. Keep it if it accepts the ID, else another candidate that was
    acceptable with the same proposal and the same key (the same SKEYID)."""
    conn = sa.connection
    if conn.remote_id.matches(peer_id):
        return
    wire = [sa.selection.to_wire()]
    for other in sa.candidates:
        if other is conn or not other.remote_id.matches(peer_id):
            continue
        if (other.local_auth, other.remote_auth) != (conn.local_auth, conn.remote_auth):
            continue
        if not sa.signatures and (other.psk is None or other.psk != conn.psk):  # constant time
            continue
        if proposals_v1.select_v1_phase1(other.ike_proposals, wire, auth_methods(other)) is None:
            continue
        adopt(sa, other, sa.selection)
        return
    raise AuthenticationFailed(f"no IKEv1 connection accepts identity '{peer_id}'")


def verify_peer(ctx, sa: IsakmpSa, view: V1Payloads, idii_b: bytes, now: float) -> None:
    """HASH_I, or the certificate chain and SIG_I (RFC 2409 §5). AuthenticationFailed."""
    expected = hash_i(sa, idii_b)
    method = "pubkey" if sa.signatures else "psk"
    try:
        if not sa.signatures:
            got = view.first(P.HASH)
            if got is None:
                raise AuthenticationFailed("no HASH_I")
            try:
                check_hash(got.data, expected, "HASH_I")
            except IntegrityCheckFailed:
                raise AuthenticationFailed(f"HASH_I of '{sa.peer_id}' does not verify "
                                           "(wrong pre-shared key?)") from None
        else:
            sig = view.first(P.SIG)
            certs = [c.data for c in view.all(P.CERT) if c.encoding == CERT_X509_SIGNATURE]
            if sig is None or not certs:
                raise AuthenticationFailed(f"'{sa.peer_id}' sent no signature or certificate")
            when = datetime.fromtimestamp(now, UTC)
            cert = sa.connection.trust.verify(certs[0], certs[1:], when)
            if not certificate_matches_identity(cert, sa.peer_id):
                raise AuthenticationFailed(f"certificate '{cert.subject.rfc4514_string()}' "
                                           f"does not contain the identity '{sa.peer_id}'")
            ikeauth.verify_v1(cert.public_key(), sig.data, expected)
    except AuthenticationFailed:
        ctx.emit(ev.AuthAttempt(method, "failure"))
        raise
    if not sa.xauth:  # with XAuth, the user's login is the authentication that counts
        ctx.emit(ev.AuthAttempt(method, "success"))
    sa.auth_label = method


def phase1_lifetime(sa: IsakmpSa) -> tuple[float, list]:
    """Our ISAKMP SA lifetime, and a RESPONDER-LIFETIME notify when it is shorter than
    what the peer proposed (RFC 2407 §4.6.3.1)."""
    proposed = sa.selection.life_seconds or DEFAULT_LIFETIME
    ours = sa.connection.ike_lifetime
    if ours >= proposed:
        return proposed, []
    data = lifetime_attributes(V1Phase1Attribute.LIFE_TYPE, V1Phase1Attribute.LIFE_DURATION,
                               int(ours))
    return ours, [notify(N.RESPONDER_LIFETIME, data, spi=sa.cookies)]


# ------------------------------------------------------------------ completion ----------


def complete(resp, sa: IsakmpSa, now: float) -> None:
    """Phase 1 authenticated: XAuth next, or the SA is established now."""
    if sa.xauth:
        resp.set_state(sa, V1State.XAUTH, now)
    else:
        sa.peer_identity_key = sa.peer_id.key()
        establish(resp, sa, now)


def establish(resp, sa: IsakmpSa, now: float) -> None:
    """The peer is fully authenticated (phase 1, and XAuth when configured)."""
    ctx = resp.ctx
    conn = sa.connection
    apply_uniqueness(resp, sa, now)
    resp.set_state(sa, V1State.ESTABLISHED, now)
    sa.established_at = now
    resp.index_identity(sa)
    lifetime, _ = phase1_lifetime(sa)
    sa.expire_at = now + lifetime
    if sa.peer_dpd and conn.dpd_delay > 0:
        sa.dpd_at = now + conn.dpd_delay
    if sa.local_behind_nat:
        from .informational import KEEPALIVE_INTERVAL
        sa.keepalive_at = now + KEEPALIVE_INTERVAL
    sa.dpd_seq = int.from_bytes(ctx.rng(4), "big") & 0x7FFFFFFF  # RFC 3706 §5.5: random start
    if conn.pools and sa.vip is None and not sa.cfg_done:
        sa.cfg_push_at = now + CFG_PUSH_WAIT
    ctx.emit(ev.IkeSaEstablished(1, sa.auth_label, sa.suite_label, now - sa.created_at))
    if log.isEnabledFor(logging.INFO):
        log.info("ISAKMP SA %s established with '%s'%s at %s:%d (%s, %s)%s", sa.spi_i.hex(),
                 sa.peer_id, f" (XAuth user {printable(sa.xauth_user)})" if sa.xauth_user else "",
                 *sa.remote, conn.name, sa.suite,
                 f", virtual IP {sa.vip}" if sa.vip is not None else "")
    resp.reschedule(sa)


def uniqueness_refuses(resp, sa: IsakmpSa) -> bool:
    """``unique = keep`` and another SA of the peer exists from elsewhere."""
    if sa.initial_contact or sa.connection.unique != "keep":
        return False
    return any(o.remote != sa.remote for o in resp.others_of_identity(sa))


def apply_uniqueness(resp, sa: IsakmpSa, now: float) -> None:
    if uniqueness_refuses(resp, sa):
        raise AuthenticationFailed(f"'{sa.peer_id}' already has an ISAKMP SA and the "
                                   "connection keeps the existing one (unique = keep)")
    from . import informational
    # the same identity may hold SAs on other workers: they get told (DESIGN §4)
    resp.ctx.claim_identity(sa, sa.initial_contact, now)
    for other in resp.others_of_identity(sa):
        if sa.initial_contact:
            # the peer says it has no other SA with us: the old ones are stale
            resp.destroy(other, now, reason=f"INITIAL_CONTACT from '{sa.peer_id}'")
        elif other.remote == sa.remote:
            take_over(resp, other, sa, now)
        elif sa.connection.unique == "replace":
            informational.send_delete_isakmp(resp, other)
            resp.destroy(other, now, reason=f"replaced by a new ISAKMP SA of '{sa.peer_id}'")


def take_over(resp, old: IsakmpSa, new: IsakmpSa, now: float) -> None:
    """Phase 1 rekey by the client: IKEv1 IPsec SAs outlive their ISAKMP SA, so the new
    one adopts them and the virtual IP; the old SA goes after a delay."""
    ctx = resp.ctx
    for child in list(old.children.values()):
        new.children[child.spi_in] = child
        ctx.register_child(new, child)
    moved = len(old.children)
    old.children = {}
    if old.vip is not None and new.vip is None:
        new.vip, new.vip_pool = old.vip, old.vip_pool
        new.cfg_done = new.cfg_done or old.cfg_done
        old.vip, old.vip_pool = None, None
    old.replaced_by = new
    resp.set_state(old, V1State.REKEYED, now)
    old.delete_at = now + REAUTH_DELETE_DELAY
    old.dpd_at = old.expire_at = old.keepalive_at = old.cfg_push_at = None
    ctx.emit(ev.Rekeyed("ike", "ok"))
    log.info("ISAKMP SA %s of '%s' rekeyed to %s: %d IPsec SA(s)%s taken over", old.spi_i.hex(),
             old.peer_id, new.spi_i.hex(), moved,
             f" and virtual IP {new.vip}" if new.vip is not None else "")
    resp.reschedule(old)


__all__ = ["auth_methods", "complete", "establish", "select"]
