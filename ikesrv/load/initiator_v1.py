"""A sans-I/O IKEv1 initiator: one simulated road-warrior client of a concentrator.

Owns the client side of Main Mode and Aggressive Mode (PSK or RSA/ECDSA signatures,
NAT-T with the RFC 3947 or draft vendor IDs, DPD and fragmentation vendor IDs), XAuth as
the client, Mode Config (pull, and answering a push), Quick Mode with or without PFS,
and then on demand: Quick Mode rekeys, R-U-THERE, deletes, and answers to the
responder's own messages (R-U-THERE, deletes, retransmissions). It is what the core's
tests talk to and what the load generator drives for IKEv1, built from the same codec
and crypto as the responder (RFC 2409 §5, §5.4, §5.5; draft-ietf-ipsec-isakmp-xauth-06;
draft-dukes-ike-mode-cfg-02; RFC 3947; RFC 3706).

Bytes and time in, datagrams out: ``start(now)`` and ``receive(data, now)`` return the
datagrams to send. No sockets, no clock, randomness injected. Knobs for misbehaving on
purpose (``fake_nat``, ``encrypt_am3``, ``commit``) serve the tests.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..actions import TrafficSelectorSpec
from ..constants import (
    V1AuthMethod,
    V1CfgAttribute,
    V1CfgType,
    V1EncapsulationMode,
    V1ExchangeType,
    V1HeaderFlag,
    V1NotifyType,
    V1PayloadType,
    V1ProtocolId,
    VendorId,
)
from ..crypto import auth as ikeauth
from ..crypto import dh, ikev1_keys, proposals_v1
from ..crypto import transforms as T
from ..crypto.ikev1_cipher import Ikev1Cipher
from ..errors import IkeError
from ..identity import Identity
from ..ikev1 import messages
from ..ikev1.isakmp_sa import IsakmpSa
from ..ikev2 import traffic_selectors as ts
from ..nat_detection import v1_detect, v1_nat_hash
from ..wire import ikev1 as w
from .initiator import dh_key_for

P = V1PayloadType
X = V1ExchangeType
N = V1NotifyType
A = V1CfgAttribute
_ESP = V1ProtocolId.PROTO_IPSEC_ESP
NATT_VIDS = {"rfc": VendorId.NAT_T_RFC3947, "draft-03": VendorId.NAT_T_DRAFT_03,
             "draft-02n": VendorId.NAT_T_DRAFT_02N, "draft-02": VendorId.NAT_T_DRAFT_02}


@dataclass
class ClientChildV1:
    spi_in: int
    spi_out: int
    ts_local: list
    ts_remote: list
    suite: str
    mode: int = V1EncapsulationMode.TUNNEL
    lifetime: float | None = None  # from RESPONDER-LIFETIME, if the responder sent one
    keys_in: bytes = field(default=b"", repr=False)
    keys_out: bytes = field(default=b"", repr=False)


@dataclass
class ClientSettingsV1:
    ike_proposals: list  # ProposalSpec (IKEv1 phase 1)
    esp_proposals: list
    local_id: Identity
    auth: str = "psk"  # psk | pubkey
    psk: bytes = field(default=b"", repr=False)
    credential: object = None  # certs.LocalCredential for pubkey
    trust: object = None  # certs.TrustStore to check the responder's certificate
    aggressive: bool = False
    xauth_user: str | None = None  # XAuth with this user (auth method XAUTHInit*)
    xauth_password: bytes = field(default=b"", repr=False)
    want_vip: bool = False  # Mode Config pull
    ts_local: list | None = None  # None: no ID payloads in Quick Mode (host to host)
    ts_remote: list | None = None
    pfs: bool = False
    natt: str | None = "rfc"  # NAT-T vendor ID to announce, or None
    fake_nat: bool = False  # garble our NAT-D: look behind a NAT (as kernel-libipsec does)
    fake_nat_responder: bool = False  # garble the responder's: it looks behind a NAT
    dpd: bool = True
    fragmentation: bool = False
    unity: bool = False
    initial_contact: bool = True
    encrypt_am3: bool = True  # strongSwan and Cisco encrypt AM3; RFC 2409 draws it plain
    commit: bool = False  # set the Commit bit in QM1
    life_seconds: int | None = None  # proposed lifetimes (phase 1 and Quick Mode)
    child_life_seconds: int | None = None
    # group -> DH key shared by the clients of one load generator process (phase 1 only;
    # the responder still makes a fresh key of its own per SA). None: a fresh key each.
    dh_keys: dict | None = field(default=None, repr=False)


class Ikev1Initiator:
    """One client's ISAKMP SA and its Quick Modes, from the client's side."""

    def __init__(self, settings: ClientSettingsV1, rng, local, remote, *, natt_port: int = 4500):
        self.s = settings
        self.rng = rng
        self.local, self.remote = local, remote
        self.natt_port = natt_port
        self.state = "new"
        self.failure: str | None = None
        self.sa: IsakmpSa | None = None
        self.vip = None
        self.cfg_attributes: dict = {}
        self.xauth_status: int | None = None
        self.xauth_requests = 0
        self.children: list[ClientChildV1] = []
        self.deleted_spis: list[int] = []
        self.deleted_isakmp = False
        self.peer_vendor_ids: list[bytes] = []
        self.dpd_acks: list[int] = []
        self.peer_dpd_requests = 0
        self.notifies: list[int] = []
        self.responder_lifetime: bytes | None = None
        self.started_at = 0.0
        self.established_at: float | None = None
        self._sent: list[bytes] = []
        self._sent_no = 0  # counts our requests (the load generator's retransmission key)
        self._dpd_waiting: int | None = None
        self.alive_at: float | None = None  # when the last R-U-THERE-ACK came
        self._received: dict[int, tuple[bytes, list[bytes]]] = {}  # mid -> (msg, our answer)
        self._qm: dict | None = None  # Quick Mode in flight
        self._cfg_mid: int | None = None
        self._dpd_seq = 1000
        self.behind_nat = False

    @property
    def child(self) -> ClientChildV1 | None:
        return self.children[-1] if self.children else None

    @property
    def _last_sent(self) -> list[bytes]:
        return self._sent

    @_last_sent.setter
    def _last_sent(self, datagrams: list[bytes]) -> None:
        self._sent = datagrams
        self._sent_no += 1

    @property
    def peer_requests(self) -> int:
        """Requests the responder made of us (R-U-THERE, XAuth)."""
        return self.peer_dpd_requests + self.xauth_requests

    def outstanding(self):
        """(key, datagrams) of what we wait an answer for, or None (the load generator
        retransmits them; the key changes with every new request)."""
        waiting = (self.state in ("mm_sa", "mm_ke", "mm_auth", "am_sent")
                   or self._cfg_mid is not None or self._qm is not None
                   or self._dpd_waiting is not None)
        if not waiting or self.state in ("failed", "deleted"):
            return None
        return ("v1", self._sent_no), self._sent

    # ------------------------------------------------------------------ phase 1 ------

    def _method(self) -> int:
        xauth = self.s.xauth_user is not None
        if self.s.auth == "psk":
            return V1AuthMethod.XAUTH_INIT_PRESHARED if xauth else V1AuthMethod.PRE_SHARED_KEY
        return V1AuthMethod.XAUTH_INIT_RSA if xauth else ikeauth_method(self.s.credential)

    def _offer(self) -> w.SaPayload:
        transforms = []
        for spec in self.s.ike_proposals:
            p = spec.to_v1_phase1(auth_method=self._method(), life_seconds=self.s.life_seconds)
            transforms += p.transforms
        for n, t in enumerate(transforms, 1):
            t.number = n
        prop = w.Proposal(number=1, protocol=V1ProtocolId.PROTO_ISAKMP, spi=b"",
                          transforms=transforms)
        return w.SaPayload(doi=1, situation=1, proposals=[prop])

    def _vendor_ids(self) -> list:
        out = [w.VendorIdPayload(data=VendorId.XAUTH)] if self.s.xauth_user else []
        if self.s.dpd:
            out.append(w.VendorIdPayload(data=VendorId.DPD))
        if self.s.natt:
            out.append(w.VendorIdPayload(data=NATT_VIDS[self.s.natt]))
        if self.s.fragmentation:
            out.append(w.VendorIdPayload(data=VendorId.FRAGMENTATION + bytes.fromhex("80000000")))
        if self.s.unity:
            out.append(w.VendorIdPayload(data=VendorId.CISCO_UNITY))
        return out

    def _id_payload(self) -> w.IdPayload:
        id_type, data = self.s.local_id.to_v1()
        return w.IdPayload(id_type=id_type, protocol_id=0, port=0, data=data)

    def start(self, now: float) -> list[bytes]:
        self.started_at = now
        spi_i = self.rng(8)
        self.sa = sa = IsakmpSa(spi_i=spi_i, spi_r=bytes(8), local=self.local, remote=self.remote,
                                created_at=now, exchange=X.AGGRESSIVE if self.s.aggressive
                                else X.IDENTITY_PROTECTION)
        self._sa_payload = self._offer()
        sa.sai_b = self._sa_payload.body
        if not self.s.aggressive:
            self.state = "mm_sa"
            return self._send_plain(X.IDENTITY_PROTECTION, [self._sa_payload] + self._vendor_ids())
        self.state = "am_sent"
        self._dh = dh_key_for(self.s.dh_keys, self.s.ike_proposals[0].dh_groups[0], self.rng)
        sa.nonce_i = self.rng(32)
        idii = self._id_payload()
        sa.idii_b = idii.body
        payloads = [self._sa_payload, w.KePayload(data=self._dh.public),
                    w.NoncePayload(data=sa.nonce_i), idii] + self._vendor_ids()
        if self.s.auth == "pubkey":
            payloads.append(w.CrPayload(encoding=4))
        return self._send_plain(X.AGGRESSIVE, payloads)

    def _send_plain(self, exchange: int, payloads: list) -> list[bytes]:
        sa = self.sa
        self._last_sent = [messages.plain(sa.spi_i, sa.spi_r, exchange, 0, payloads)]
        return self._last_sent

    def retransmit(self) -> list[bytes]:
        """Our last message again (a lost answer)."""
        return list(self._last_sent)

    def receive(self, data: bytes, now: float) -> list[bytes]:
        try:
            return self._receive(data, now)
        except IkeError as e:
            return self._fail(f"{type(e).__name__}: {e}")

    def _receive(self, data: bytes, now: float) -> list[bytes]:
        msg = w.decode_message(data)
        sa = self.sa
        if sa is None or msg.spi_i != sa.spi_i:
            return []
        if msg.exchange == X.INFORMATIONAL and not msg.is_encrypted:
            for p in msg.payloads or []:
                if isinstance(p, w.NotifyPayload):
                    self.notifies.append(p.type)
                    if p.type < 16384 and self.state not in ("established",):
                        return self._fail(f"refused: {_notify_name(p.type)}")
            return []
        if msg.payloads and isinstance(msg.payloads[-1], w.FragmentPayload):
            whole = messages.add_fragment(sa, msg.payloads[0])
            return self._receive(whole, now) if whole is not None else []
        seen = self._received.get(msg.message_id)
        if seen is not None and seen[0] == data:
            return list(seen[1])  # the responder repeats itself: so do we
        if self.state == "mm_sa" and msg.exchange == X.IDENTITY_PROTECTION:
            return self._mm2(msg, data)
        if self.state == "mm_ke" and msg.exchange == X.IDENTITY_PROTECTION:
            return self._mm4(msg, data)
        if self.state == "mm_auth" and msg.exchange == X.IDENTITY_PROTECTION:
            return self._remember(msg, data, self._mm6(msg, now))
        if self.state == "am_sent" and msg.exchange == X.AGGRESSIVE:
            return self._remember(msg, data, self._am2(msg, data, now))
        if msg.spi_r != sa.spi_r or not msg.is_encrypted or sa.cipher is None:
            return []
        if msg.exchange == X.TRANSACTION:
            return self._remember(msg, data, self._transaction(msg, now))
        if msg.exchange == X.QUICK_MODE and self._qm is not None \
                and msg.message_id == self._qm["mid"]:
            return self._remember(msg, data, self._qm2(msg, now))
        if msg.exchange == X.INFORMATIONAL:
            return self._informational(msg, now)
        return []

    def _remember(self, msg, data: bytes, answer: list[bytes]) -> list[bytes]:
        self._received[msg.message_id] = (data, list(answer))
        return answer

    def _mm2(self, msg, data: bytes) -> list[bytes]:
        sa = self.sa
        view = messages.V1Payloads(msg.payloads)
        sa_p = view.first(P.SA)
        if sa_p is None:
            return self._fail("MM2 without SA")
        sa.spi_r = msg.spi_r
        if not self._chosen(sa_p, view):
            return []
        self._dh = dh_key_for(self.s.dh_keys, sa.selection.dh, self.rng)
        sa.nonce_i = self.rng(32)
        payloads = [w.KePayload(data=self._dh.public), w.NoncePayload(data=sa.nonce_i)]
        if self.s.auth == "pubkey":
            payloads.append(w.CrPayload(encoding=4))
        payloads += self._nat_d()
        self.state = "mm_ke"
        return self._remember(msg, data, self._send_plain(X.IDENTITY_PROTECTION, payloads))

    def _chosen(self, sa_p, view) -> bool:
        sa = self.sa
        chosen = proposals_v1.select_v1_phase1(self.s.ike_proposals, sa_p.proposals, {self._method()})
        if chosen is None:
            self._fail("the responder chose something we did not offer")
            return False
        sa.selection = chosen
        self.peer_vendor_ids = [v.data for v in view.all(P.VID)]
        natt = next((name for name, vid in NATT_VIDS.items() if vid in self.peer_vendor_ids),
                    None)
        sa.natt = natt if self.s.natt else None
        sa.fragmentation = self.s.fragmentation and any(
            v[:16] == VendorId.FRAGMENTATION for v in self.peer_vendor_ids)
        return True

    def _nat_d(self) -> list:
        sa = self.sa
        if not sa.natt:
            return []
        t = P.NAT_D if sa.natt == "rfc" else P.NAT_D_DRAFT
        mine = v1_nat_hash(sa.hash_alg, sa.spi_i, sa.spi_r, self.local)
        theirs = v1_nat_hash(sa.hash_alg, sa.spi_i, sa.spi_r, self.remote)
        if self.s.fake_nat:
            mine = bytes(len(mine))
        if self.s.fake_nat_responder:
            theirs = bytes(len(theirs))
        return [w.NatDPayload(data=theirs, payload_type=t), w.NatDPayload(data=mine, payload_type=t)]

    def _derive(self, shared: bytes, nonce_r: bytes, g_xr: bytes) -> None:
        sa = self.sa
        sel = sa.selection
        sa.nonce_r, sa.g_xi, sa.g_xr, sa.shared = nonce_r, self._dh.public, g_xr, shared
        if self.s.auth == "psk":
            sa.skeyid = ikev1_keys.skeyid_psk(sel.hash, self.s.psk, sa.nonce_i, nonce_r)
        else:
            sa.skeyid = ikev1_keys.skeyid_sig(sel.hash, sa.nonce_i, nonce_r, shared)
        sa.skeyid_d, sa.skeyid_a, e = ikev1_keys.skeyid_dae(sel.hash, sa.skeyid, shared,
                                                            sa.spi_i, sa.spi_r)
        key = ikev1_keys.expand_key(sel.hash, e, sel.encr_key_bytes)
        block = T.ENCR[sel.encr].block_size
        sa.cipher = Ikev1Cipher(sel.encr, key, sel.hash,
                                ikev1_keys.initial_iv(sel.hash, sa.g_xi, g_xr, block))

    def _detect_nat(self, view) -> None:
        sa = self.sa
        found = [p.data for p in view.all(P.NAT_D)]
        if sa.natt and found:
            local_behind, remote_behind = v1_detect(sa.hash_alg, sa.spi_i, sa.spi_r, found,
                                                    self.local, self.remote)
            self.behind_nat = (local_behind or remote_behind or self.s.fake_nat
                               or self.s.fake_nat_responder)
            if self.behind_nat:  # RFC 3947 §4: float to the NAT-T port
                self.remote = (self.remote[0], self.natt_port)
                if self.local[1] == 500:
                    self.local = (self.local[0], self.natt_port)
                sa.local, sa.remote = self.local, self.remote

    def _mm4(self, msg, data: bytes) -> list[bytes]:
        view = messages.V1Payloads(msg.payloads)
        ke, nr = view.first(P.KE), view.first(P.NONCE)
        if ke is None or nr is None:
            return self._fail("MM4 without KE or Nr")
        self._derive(self._dh.shared_secret(ke.data), nr.data, ke.data)
        self._detect_nat(view)
        self._peer_cr = bool(view.all(P.CR))
        idii = self._id_payload()
        payloads = [idii] + self._auth_payloads(idii.body)
        if self.s.initial_contact:
            payloads.append(messages.notify(N.INITIAL_CONTACT, spi=self.sa.cookies))
        self.state = "mm_auth"
        sa = self.sa
        body = messages.seal(sa, X.IDENTITY_PROTECTION, 0, payloads)
        self._last_sent = messages.datagrams(sa, body, self.natt_port)
        return self._remember(msg, data, self._last_sent)

    def _auth_payloads(self, idii_b: bytes) -> list:
        sa = self.sa
        h = ikev1_keys.hash_i(sa.hash_alg, sa.skeyid, sa.g_xi, sa.g_xr, sa.spi_i, sa.spi_r,
                              sa.sai_b, idii_b)
        if self.s.auth == "psk":
            return [w.HashPayload(data=h)]
        out = [w.CertPayload(encoding=4, data=der) for der in self.s.credential.chain_der()]
        return out + [w.SigPayload(data=ikeauth.sign_v1(self.s.credential, h))]

    def _verify_responder(self, view, now: float) -> bool:
        sa = self.sa
        idr = view.first(P.ID)
        if idr is None:
            self._fail("no IDir")
            return False
        self.peer_id = Identity.from_v1(idr.id_type, idr.data)
        h = ikev1_keys.hash_r(sa.hash_alg, sa.skeyid, sa.g_xi, sa.g_xr, sa.spi_i, sa.spi_r,
                              sa.sai_b, idr.body)
        if self.s.auth == "psk":
            got = view.first(P.HASH)
            if got is None or got.data != h:
                self._fail("HASH_R does not verify")
                return False
            return True
        sig = view.first(P.SIG)
        certs = [c.data for c in view.all(P.CERT)]
        if sig is None or not certs:
            self._fail("no SIG_R or certificate")
            return False
        if self.s.trust is not None:
            cert = self.s.trust.verify(certs[0], certs[1:],
                                       datetime.fromtimestamp(now, UTC))
        else:
            from cryptography import x509
            cert = x509.load_der_x509_certificate(certs[0])
        ikeauth.verify_v1(cert.public_key(), sig.data, h)
        return True

    def _mm6(self, msg, now: float) -> list[bytes]:
        sa = self.sa
        _, payloads = messages.decrypt(sa, msg)
        sa.cipher.advance(0, msg.encrypted_body)
        view = messages.V1Payloads(payloads)
        n = view.notify(N.RESPONDER_LIFETIME)
        if n is not None:
            self.responder_lifetime = n.data
        if not self._verify_responder(view, now):
            return []
        return self._phase1_done(now)

    def _am2(self, msg, data: bytes, now: float) -> list[bytes]:
        sa = self.sa
        view = messages.V1Payloads(msg.payloads)
        sa_p, ke, nr = view.first(P.SA), view.first(P.KE), view.first(P.NONCE)
        if sa_p is None or ke is None or nr is None:
            return self._fail("AM2 without SA, KE or Nr")
        sa.spi_r = msg.spi_r
        if not self._chosen(sa_p, view):
            return []
        self._derive(self._dh.shared_secret(ke.data), nr.data, ke.data)
        if not self._verify_responder(view, now):
            return []
        self._detect_nat(view)
        payloads = self._auth_payloads(sa.idii_b) + self._nat_d()
        if self.s.initial_contact:
            payloads.append(messages.notify(N.INITIAL_CONTACT, spi=sa.cookies))
        if self.s.encrypt_am3:
            body = messages.seal(sa, X.AGGRESSIVE, 0, payloads)
        else:
            body = messages.plain(sa.spi_i, sa.spi_r, X.AGGRESSIVE, 0, payloads)
        self._last_sent = messages.datagrams(sa, body, self.natt_port)
        return self._last_sent + self._phase1_done(now)

    def _phase1_done(self, now: float) -> list[bytes]:
        if self.s.xauth_user is not None:
            self.state = "xauth"
            return []
        return self._after_auth(now)

    def _after_auth(self, now: float) -> list[bytes]:
        if self.s.want_vip and self.vip is None:
            self.state = "config"
            return self._cfg_request()
        return self._quick_mode(now)

    # ------------------------------------------------------------------ Transactions ---

    def _open_hashed(self, msg) -> tuple[list, bytes]:
        sa = self.sa
        plaintext, payloads = messages.decrypt(sa, msg)
        got, rest = messages.split_hash(plaintext, msg.next_payload)
        messages.check_hash(got, messages.informational_hash(sa, msg.message_id)(rest),
                            "responder message")
        sa.cipher.advance(msg.message_id, msg.encrypted_body)
        return payloads, rest

    def _seal_hashed(self, exchange: int, mid: int, payloads: list) -> list[bytes]:
        sa = self.sa
        data = messages.seal_hashed(sa, exchange, mid, payloads,
                                    messages.informational_hash(sa, mid))
        return messages.datagrams(sa, data, self.natt_port)

    def _transaction(self, msg, now: float) -> list[bytes]:
        payloads, _ = self._open_hashed(msg)
        attr = messages.V1Payloads(payloads).first(P.ATTR)
        if attr is None:
            return []
        values = {a.type: a.value for a in attr.attributes}
        if msg.message_id == self._cfg_mid:  # the answer to our Mode Config request
            self._cfg_mid = None
            self.sa.cipher.forget(msg.message_id)
            self._apply_cfg(values)
            return self._quick_mode(now)
        if attr.cfg_type == V1CfgType.ISAKMP_CFG_REQUEST and A.XAUTH_USER_NAME in values:
            self.xauth_requests += 1
            reply = [w.Attribute(type=A.XAUTH_USER_NAME,
                                 value=(self.s.xauth_user or "").encode()),
                     w.Attribute(type=A.XAUTH_USER_PASSWORD, value=self.s.xauth_password)]
            out = self._seal_hashed(X.TRANSACTION, msg.message_id, [w.AttributePayload(
                cfg_type=V1CfgType.ISAKMP_CFG_REPLY, identifier=attr.identifier,
                attributes=reply)])
            self.sa.cipher.forget(msg.message_id)
            self._last_sent = out
            return out
        if attr.cfg_type == V1CfgType.ISAKMP_CFG_SET:
            ack_attrs = []
            if A.XAUTH_STATUS in values:
                self.xauth_status = values[A.XAUTH_STATUS]
                ack_attrs = [w.Attribute(type=A.XAUTH_STATUS, value=b"")]
            else:
                self._apply_cfg(values)
            out = self._seal_hashed(X.TRANSACTION, msg.message_id, [w.AttributePayload(
                cfg_type=V1CfgType.ISAKMP_CFG_ACK, identifier=attr.identifier,
                attributes=ack_attrs)])
            self.sa.cipher.forget(msg.message_id)
            if A.XAUTH_STATUS in values:
                if values[A.XAUTH_STATUS] != 1:
                    self._fail("XAuth failed")
                    return out
                return out + self._after_auth(now)
            if self.state == "config":
                return out + self._quick_mode(now)
            return out
        return []

    def _cfg_request(self) -> list[bytes]:
        mid = self._new_mid()
        self._cfg_mid = mid
        attrs = [w.Attribute(type=A.INTERNAL_IP4_ADDRESS, value=b""),
                 w.Attribute(type=A.INTERNAL_IP4_NETMASK, value=b""),
                 w.Attribute(type=A.INTERNAL_IP4_DNS, value=b"")]
        if self.s.unity:
            attrs.append(w.Attribute(type=A.UNITY_SPLIT_INCLUDE, value=b""))
        self._last_sent = self._seal_hashed(X.TRANSACTION, mid, [w.AttributePayload(
            cfg_type=V1CfgType.ISAKMP_CFG_REQUEST, identifier=int.from_bytes(self.rng(2), "big"),
            attributes=attrs)])
        return self._last_sent

    def _apply_cfg(self, values: dict) -> None:
        self.cfg_attributes = values
        address = values.get(A.INTERNAL_IP4_ADDRESS)
        if isinstance(address, bytes) and len(address) == 4:
            self.vip = ipaddress.IPv4Address(address)

    def _new_mid(self) -> int:
        while True:
            mid = int.from_bytes(self.rng(4), "big")
            if mid:
                return mid

    # ------------------------------------------------------------------ Quick Mode -----

    def _quick_mode(self, now: float) -> list[bytes]:
        self.state = "quick" if not self.children else self.state
        return self._qm1(now)

    def rekey_child(self, now: float) -> list[bytes]:
        """A new Quick Mode with the same selectors (the initiator's rekey)."""
        return self._qm1(now)

    def _selectors(self) -> tuple[list, list]:
        if self.s.ts_local is None:
            return [], []
        local = list(self.s.ts_local)
        if self.vip is not None and self.s.want_vip:
            local = [TrafficSelectorSpec(self.vip, self.vip)]
        return local, list(self.s.ts_remote)

    def _qm1(self, now: float) -> list[bytes]:
        sa = self.sa
        mid = self._new_mid()
        spi_in = int.from_bytes(self.rng(4), "big") | 0x100
        mode = V1EncapsulationMode.TUNNEL
        if self.behind_nat:
            mode = (V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL if sa.natt == "rfc"
                    else V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT)
        props = [spec.to_v1_esp(n, spi_in.to_bytes(4, "big"), mode=mode, pfs=self.s.pfs,
                                life_seconds=self.s.child_life_seconds)
                 for n, spec in enumerate(self.s.esp_proposals, 1)]
        ni = self.rng(32)
        payloads = [w.SaPayload(proposals=props), w.NoncePayload(data=ni)]
        key = None
        if self.s.pfs:
            group = next(g for spec in self.s.esp_proposals for g in spec.dh_groups)
            key = dh.group(group).generate(self.rng)
            payloads.append(w.KePayload(data=key.public))
        local, remote = self._selectors()
        if local:
            payloads += [_id(local[0]), _id(remote[0])]
        self._qm = {"mid": mid, "spi_in": spi_in, "ni": ni, "key": key, "ts": (local, remote)}
        data = messages.seal_hashed(sa, X.QUICK_MODE, mid, payloads,
                                    messages.informational_hash(sa, mid))
        if self.s.commit:
            data = data[:19] + bytes((data[19] | V1HeaderFlag.COMMIT,)) + data[20:]
        self._last_sent = messages.datagrams(sa, data, self.natt_port)
        return self._last_sent

    def _qm2(self, msg, now: float) -> list[bytes]:
        sa = self.sa
        qm = self._qm
        mid = msg.message_id
        plaintext, payloads = messages.decrypt(sa, msg)
        got, rest = messages.split_hash(plaintext, msg.next_payload)
        messages.check_hash(got, ikev1_keys.quick_mode_hash2(sa.hash_alg, sa.skeyid_a, mid,
                                                             qm["ni"], rest), "HASH(2)")
        sa.cipher.advance(mid, msg.encrypted_body)
        view = messages.V1Payloads(payloads)
        nr = view.first(P.NONCE).data
        group = qm["key"] and next(g for spec in self.s.esp_proposals for g in spec.dh_groups)
        modes = (V1EncapsulationMode.TUNNEL, V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL,
                 V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT)
        chosen = proposals_v1.select_v1_phase2(self.s.esp_proposals, view.first(P.SA).proposals,
                                            group or None, modes=modes)
        if chosen is None:
            return self._fail("QM2 chose something we did not offer")
        g_qm = qm["key"].shared_secret(view.first(P.KE).data) if qm["key"] else None
        spi_out = int.from_bytes(chosen.spi, "big")
        length = chosen.encr_keymat_len + chosen.integ_key_len
        keys = {spi: ikev1_keys.quick_mode_keymat(sa.hash_alg, sa.skeyid_d, _ESP,
                                                  spi.to_bytes(4, "big"), qm["ni"], nr, length,
                                                  g_qm) for spi in (qm["spi_in"], spi_out)}
        ids = view.all(P.ID)
        local, remote = qm["ts"]
        if len(ids) == 2:
            remote = [ts.from_v1_id(i.id_type, i.protocol_id, i.port, i.data) for i in ids[1:]]
            local = [ts.from_v1_id(i.id_type, i.protocol_id, i.port, i.data) for i in ids[:1]]
        life = view.notify(N.RESPONDER_LIFETIME)
        child = ClientChildV1(spi_in=qm["spi_in"], spi_out=spi_out, ts_local=local,
                              ts_remote=remote, suite=f"{chosen.encr}/{chosen.integ}",
                              mode=chosen.encapsulation_mode or V1EncapsulationMode.TUNNEL,
                              lifetime=_life(life.data) if life is not None else None,
                              keys_in=keys[qm["spi_in"]], keys_out=keys[spi_out])
        self.children.append(child)
        self._qm = None
        qm3 = messages.seal_hashed(sa, X.QUICK_MODE, mid, [], lambda rest: ikev1_keys.
                                   quick_mode_hash3(sa.hash_alg, sa.skeyid_a, mid, qm["ni"], nr))
        self._last_sent = messages.datagrams(sa, qm3, self.natt_port)
        if self.state != "established":
            self.state = "established"
            self.established_at = now
        return self._last_sent

    # ------------------------------------------------------------------ Informational --

    def _informational(self, msg, now: float) -> list[bytes]:
        payloads, _ = self._open_hashed(msg)
        self.sa.cipher.forget(msg.message_id)
        out: list[bytes] = []
        for p in payloads:
            if isinstance(p, w.NotifyPayload):
                self.notifies.append(p.type)
                if p.type == N.R_U_THERE:
                    self.peer_dpd_requests += 1
                    out += self._informational_send([messages.notify(
                        N.R_U_THERE_ACK, p.data, spi=self.sa.cookies)])
                elif p.type == N.R_U_THERE_ACK:
                    self.dpd_acks.append(int.from_bytes(p.data, "big"))
                    if self.dpd_acks[-1] == self._dpd_waiting:
                        self._dpd_waiting, self.alive_at = None, now
                elif p.type < 16384 and self.state != "established":
                    self._fail(f"responder reports {_notify_name(p.type)}")
            elif isinstance(p, w.DeletePayload):
                if p.protocol == V1ProtocolId.PROTO_ISAKMP:
                    self.deleted_isakmp = True
                    self.state = "deleted"
                else:
                    for spi in p.spis:
                        self.deleted_spis.append(int.from_bytes(spi, "big"))
                    self.children = [c for c in self.children
                                     if c.spi_out.to_bytes(4, "big") not in p.spis]
        return out

    def _informational_send(self, payloads: list) -> list[bytes]:
        mid = self._new_mid()
        out = self._seal_hashed(X.INFORMATIONAL, mid, payloads)
        self.sa.cipher.forget(mid)
        return out

    def dpd(self, now: float) -> list[bytes]:
        """R-U-THERE to the responder (RFC 3706 §5)."""
        self._dpd_seq += 1
        self._dpd_waiting = self._dpd_seq
        self._last_sent = self._informational_send([messages.notify(
            N.R_U_THERE, self._dpd_seq.to_bytes(4, "big"), spi=self.sa.cookies)])
        return self._last_sent

    liveness = dpd  # the name the load generator's client kinds use

    def delete_child(self, child: ClientChildV1, now: float) -> list[bytes]:
        self.children.remove(child)
        return self._informational_send([w.DeletePayload(
            doi=1, protocol=_ESP, spis=[child.spi_in.to_bytes(4, "big")], spi_size=4)])

    def delete(self, now: float) -> list[bytes]:
        """Delete every IPsec SA, then the ISAKMP SA (what strongSwan sends on terminate)."""
        out = []
        if self.children:
            out += self._informational_send([w.DeletePayload(
                doi=1, protocol=_ESP, spi_size=4,
                spis=[c.spi_in.to_bytes(4, "big") for c in self.children])])
        out += self._informational_send([w.DeletePayload(
            doi=1, protocol=V1ProtocolId.PROTO_ISAKMP, spis=[self.sa.cookies], spi_size=16)])
        self.children = []
        self.state = "deleted"
        return out

    def notify(self, notify_type: int, data: bytes = b"") -> list[bytes]:
        """Any protected notify (e.g. INITIAL-CONTACT after phase 1)."""
        return self._informational_send([messages.notify(notify_type, data,
                                                         spi=self.sa.cookies)])

    def _fail(self, reason: str) -> list[bytes]:
        if self.failure is None:
            self.failure = reason
        self.state = "failed"
        return []


def ikeauth_method(credential) -> int:
    """The IKEv1 signature method for our key (RFC 2409 App. A, RFC 4754)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    key = credential.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": V1AuthMethod.ECDSA_SHA256_P256,
                "secp384r1": V1AuthMethod.ECDSA_SHA384_P384}.get(
            key.curve.name, V1AuthMethod.ECDSA_SHA512_P521)
    return V1AuthMethod.RSA_SIGNATURES


def _id(spec) -> w.IdPayload:
    id_type, protocol, port, data = ts.to_v1_id(spec)
    return w.IdPayload(id_type=id_type, protocol_id=protocol, port=port, data=data)


def _life(data: bytes) -> float | None:
    """The duration in a RESPONDER-LIFETIME's attributes (RFC 2407 §4.6.3.1)."""
    off, found = 0, None
    while off + 4 <= len(data):
        t = int.from_bytes(data[off:off + 2], "big")
        if t & 0x8000:
            value, off = int.from_bytes(data[off + 2:off + 4], "big"), off + 4
        else:
            n = int.from_bytes(data[off + 2:off + 4], "big")
            value, off = int.from_bytes(data[off + 4:off + 4 + n], "big"), off + 4 + n
        if t & 0x7FFF == 2:  # SA Life Duration
            found = float(value)
    return found


def _notify_name(t: int) -> str:
    try:
        return N(t).name
    except ValueError:
        return f"notify {t}"
