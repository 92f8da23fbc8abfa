"""A sans-I/O IKEv2 initiator: one simulated road-warrior client.

Owns: the client side of IKE_SA_INIT (with the COOKIE and INVALID_KE_PAYLOAD retries),
IKE_AUTH with a PSK or a certificate, the configuration request for a virtual IP and the
first CHILD SA; then, on demand, CREATE_CHILD_SA rekeys (CHILD, IKE), liveness checks and
deletes; and answers to the responder's own requests (liveness checks, deletes).
It is what the load generator drives by the thousand and what the core's tests talk to,
built from the same codec, crypto and SA bookkeeping as the responder.

Bytes and time in, datagrams out: ``start(now)`` and ``receive(data, now)`` return the
datagrams to send. No sockets, no clock, randomness injected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..actions import TrafficSelectorSpec
from ..constants import (
    AuthMethod,
    CertEncoding,
    CfgAttribute,
    CfgType,
    ExchangeType,
    HeaderFlag,
    NotifyType,
    PayloadType,
    ProtocolId,
)
from ..crypto import auth as ikeauth
from ..crypto import dh, keys, proposals
from ..errors import IkeError
from ..identity import Identity
from ..ikev2 import traffic_selectors as ts
from ..ikev2.ike_sa import IkeSa, IkeSaState
from ..ikev2.messages import Payloads, notify, open_sk, seal
from ..nat_detection import v2_nat_hash
from ..wire import ikev2 as w

ANY4 = TrafficSelectorSpec(ipaddress.IPv4Address("0.0.0.0"),
                           ipaddress.IPv4Address("255.255.255.255"))


@dataclass
class ClientChild:
    spi_in: int
    spi_out: int
    ts_local: list
    ts_remote: list
    suite: str
    keys: object = field(default=None, repr=False)
    created_by_peer: bool = False  # the server initiated the exchange (keys: encr_i is its)
    nonces: tuple = field(default=(), repr=False)  # (Ni, Nr) of the creating exchange


@dataclass
class ClientSettings:
    ike_proposals: list  # ProposalSpec
    esp_proposals: list
    local_id: Identity
    auth: str = "psk"  # psk | pubkey | eap-mschapv2 | eap-gtc | eap-md5
    psk: bytes = field(default=b"", repr=False)
    credential: object = None  # certs.LocalCredential for pubkey
    remote_id: Identity | None = None
    want_vip: bool = True
    ts_i: list = field(default_factory=lambda: [ANY4])
    ts_r: list = field(default_factory=lambda: [ANY4])
    fragmentation: bool = True
    initial_contact: bool = True
    hash_algorithms: bool = True  # send SIGNATURE_HASH_ALGORITHMS
    ca_certificates: list = field(default_factory=list)  # CERTREQ for these CAs
    # auth = "eap-*": the EAP identity and password (load.eap_client; RFC 7296 §2.16)
    eap_identity: str = ""
    eap_password: str = field(default="", repr=False)
    # the load generator: IKE_SA_INIT keys shared, one per group, by the clients holding
    # the same dict (RFC 7296 §2.12 allows reusing DH exponentials; the responder's work
    # is unchanged). None: a fresh key for every IKE_SA_INIT.
    dh_keys: dict | None = field(default=None, repr=False)


_OUR_HASH_ALGORITHMS = ikeauth.signature_hash_algorithms_data()  # RFC 7427: fixed
# The IKE_SA_INIT offer of each proposal list (every client of a run sends the same):
# id of the list -> (the list, its wire proposals). The list is kept so its id stays its.
_IKE_OFFERS: dict[int, tuple] = {}


def _ike_offer(specs) -> list:
    """The SA payload's proposals for ``specs``, numbered from 1 (built once per list;
    the codec's proposal objects are only read when encoded)."""
    found = _IKE_OFFERS.get(id(specs))
    if found is None or found[0] is not specs:
        if len(_IKE_OFFERS) >= 64:
            _IKE_OFFERS.clear()
        found = _IKE_OFFERS[id(specs)] = (specs, [spec.to_wire(n, ProtocolId.IKE)
                                                  for n, spec in enumerate(specs, 1)])
    return found[1]


def dh_key_for(shared: dict | None, group: int, rng):
    """A DH key of ``group``: fresh when ``shared`` is None, else the one ``shared`` (the
    settings' dh_keys, one per group and process) holds, made at its first use."""
    if shared is None:
        return dh.group(group).generate(rng)
    key = shared.get(group)
    if key is None:
        key = shared[group] = dh.group(group).generate(rng)
    return key


class Ikev2Initiator:
    """One client's IKE SA from its own side."""

    def __init__(self, settings: ClientSettings, rng, local, remote, *, natt_port: int = 4500):
        self.s = settings
        self.rng = rng
        self.local, self.remote = local, remote
        self.natt_port = natt_port
        self.sa: IkeSa | None = None
        self.state = "new"
        self.failure: str | None = None
        self.vip = None
        self.dns: list = []
        self.child: ClientChild | None = None
        self.children: list[ClientChild] = []
        self.last_request: list[bytes] = []
        self._cookie: bytes | None = None
        self._group = settings.ike_proposals[0].dh_groups[0]
        self._pending = None  # callback for the response to our outstanding request
        self._child_group = None
        self.started_at = 0.0
        self.established_at: float | None = None
        self.peer_requests = 0
        self._eap = None  # load.eap_client.EapClient when auth is EAP

    # ------------------------------------------------------------------ IKE_SA_INIT --

    def start(self, now: float) -> list[bytes]:
        self.started_at = now
        self.spi_i = self.rng(8)
        return self._send_init()

    def _send_init(self, *, new_key: bool = True) -> list[bytes]:
        self.state = "sa_init"
        self._init_tries = getattr(self, "_init_tries", 0) + 1
        if self._init_tries > 5:  # a responder that keeps asking is broken: give up
            return self._fail("IKE_SA_INIT: too many COOKIE/INVALID_KE rounds")
        if new_key:
            self.dh_key = dh_key_for(self.s.dh_keys, self._group, self.rng)
        if not hasattr(self, "nonce_i"):
            # §2.6: a retry after COOKIE carries the same Ni, which the cookie covers
            self.nonce_i = self.rng(32)
        offer = _ike_offer(self.s.ike_proposals)
        payloads = []
        if self._cookie is not None:
            payloads.append(notify(NotifyType.COOKIE, self._cookie))  # §2.6: first
        payloads += [
            w.SaPayload(proposals=offer),
            w.KePayload(group=self._group, data=self.dh_key.public),
            w.NoncePayload(data=self.nonce_i),
            notify(NotifyType.NAT_DETECTION_SOURCE_IP, v2_nat_hash(self.spi_i, bytes(8), self.local)),
            notify(NotifyType.NAT_DETECTION_DESTINATION_IP,
                   v2_nat_hash(self.spi_i, bytes(8), self.remote)),
        ]
        if self.s.fragmentation:
            payloads.append(notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED))
        if self.s.hash_algorithms:
            payloads.append(notify(NotifyType.SIGNATURE_HASH_ALGORITHMS,
                                   _OUR_HASH_ALGORITHMS))
        data = w.encode_message(w.Message(spi_i=self.spi_i, spi_r=bytes(8),
                                          exchange=ExchangeType.IKE_SA_INIT,
                                          flags=HeaderFlag.INITIATOR, message_id=0,
                                          payloads=payloads))
        self.init_request = data
        self.last_request = [data]
        return [data]

    def receive(self, data: bytes, now: float) -> list[bytes]:
        """Process one datagram from the responder; return what to send next."""
        try:
            msg = w.decode_message(data)
        except IkeError as e:
            self._fail(f"undecodable message: {e}")
            return []
        if self.state == "sa_init" and msg.exchange == ExchangeType.IKE_SA_INIT:
            if msg.spi_i != self.spi_i:
                return []
            return self._init_response(msg, data, now)
        if self.sa is None:
            return []
        if (msg.spi_i, msg.spi_r) != (self.sa.spi_i, self.sa.spi_r):
            old = getattr(self, "old_sa", None)
            if old is not None and (msg.spi_i, msg.spi_r) == (old.spi_i, old.spi_r) \
                    and not msg.flags & HeaderFlag.RESPONSE:
                return self._peer_request(msg, data, now, sa=old)
            return []
        if not msg.flags & HeaderFlag.RESPONSE:
            return self._peer_request(msg, data, now)
        if self.sa.outstanding is None or msg.message_id != self.sa.outstanding.message_id:
            return []
        try:
            inner = open_sk(self.sa, data, msg)
        except IkeError as e:
            self._fail(f"cannot open response: {e}")
            return []
        if inner is None:
            return []
        out = self.sa.outstanding
        self.sa.outstanding = None
        return out.on_response(Payloads(inner), now) or []

    def _init_response(self, msg, data: bytes, now: float) -> list[bytes]:
        p = Payloads(msg.payloads)
        cookie = p.notify(NotifyType.COOKIE)
        if cookie is not None:
            self._cookie = cookie.data
            return self._send_init(new_key=False)
        invalid_ke = p.notify(NotifyType.INVALID_KE_PAYLOAD)
        if invalid_ke is not None:
            self._group = int.from_bytes(invalid_ke.data[:2], "big")
            return self._send_init()
        errors = p.error_notifies()
        if errors:
            return self._fail(f"IKE_SA_INIT refused: {_name(errors[0].type)}")
        sa_p, ke, nonce = p.first(PayloadType.SA), p.first(PayloadType.KE), p.first(PayloadType.NONCE)
        if sa_p is None or ke is None or nonce is None:
            return self._fail("IKE_SA_INIT response lacks SA, KE or Nr")
        selected = proposals.select_ike(self.s.ike_proposals, sa_p.proposals, prefer_dh=ke.group)
        if selected is None or selected.dh != self._group:
            return self._fail("IKE_SA_INIT response selected something we did not offer")
        shared = self.dh_key.shared_secret(ke.data)
        sa = self.sa = IkeSa(spi_i=self.spi_i, spi_r=msg.spi_r, local=self.local,
                             remote=self.remote, created_at=now, we_initiated=True)
        sa.proposal, sa.suite, sa.prf_id = selected, selected.describe(), selected.prf
        sa.nonce_i, sa.nonce_r = self.nonce_i, nonce.data
        sa.fragmentation = self.s.fragmentation and p.has_notify(
            NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
        sa.peer_hash_algorithms = ikeauth.parse_signature_hash_algorithms(
            p.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS).data) if p.has_notify(
            NotifyType.SIGNATURE_HASH_ALGORITHMS) else frozenset()
        src = p.notifies(NotifyType.NAT_DETECTION_SOURCE_IP)
        sa.remote_behind_nat = bool(src) and all(
            n.data != v2_nat_hash(self.spi_i, msg.spi_r, self.remote) for n in src)
        dst = p.notify(NotifyType.NAT_DETECTION_DESTINATION_IP)
        sa.local_behind_nat = dst is not None and dst.data != v2_nat_hash(
            self.spi_i, msg.spi_r, self.local)
        from ..ikev2.ike_sa_init import derive_keys
        derive_keys(sa, selected, shared)
        sa.init_request, sa.init_response = self.init_request, data
        sa.our_next_id = 1
        if sa.remote_behind_nat or sa.local_behind_nat:
            # RFC 7296 §2.23: float to the NAT-T port once NAT is detected
            self.remote = (self.remote[0], self.natt_port)
            self.local = (self.local[0], self.natt_port) if self.local[1] == 500 else self.local
            sa.remote, sa.local, sa.natt = self.remote, self.local, True
        return self._send_auth(now)

    # ------------------------------------------------------------------ IKE_AUTH -----

    def _send_auth(self, now: float) -> list[bytes]:
        self.state = "auth"
        sa = self.sa
        idi = w.IdPayload(payload_type=PayloadType.IDi, id_type=self.s.local_id.id_type,
                          data=self.s.local_id.data)
        octets = ikeauth.signed_octets(sa.init_request, sa.nonce_r, sa.prf_id, sa.keys.sk_pi,
                                       w.encode_payload_body(idi))
        payloads: list = [idi]
        if self.s.auth == "pubkey":
            for der in self.s.credential.chain_der():
                payloads.append(w.CertPayload(encoding=CertEncoding.X509_CERTIFICATE_SIGNATURE,
                                              data=der))
        if self.s.initial_contact:
            payloads.append(notify(NotifyType.INITIAL_CONTACT))
        if self.s.ca_certificates:
            from ..crypto.certs import certreq_data
            payloads.append(w.CertReqPayload(encoding=CertEncoding.X509_CERTIFICATE_SIGNATURE,
                                             data=certreq_data(self.s.ca_certificates)))
        if self.s.remote_id is not None:
            payloads.append(w.IdPayload(payload_type=PayloadType.IDr,
                                        id_type=self.s.remote_id.id_type,
                                        data=self.s.remote_id.data))
        self._auth_octets = octets  # EAP signs them with the MSK in a later round
        if self.s.auth == "psk":
            payloads.append(w.AuthPayload(method=AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                                          data=ikeauth.psk_auth(sa.prf_id, self.s.psk, octets)))
        elif self.s.auth.startswith("eap-"):
            from .eap_client import EapClient
            self._eap = EapClient(self)  # no AUTH: the responder runs EAP (§2.16)
        else:
            method, signature = ikeauth.sign(self.s.credential, octets,
                                             sa.peer_hash_algorithms or None)
            payloads.append(w.AuthPayload(method=method, data=signature))
        if self.s.want_vip:
            payloads.append(w.CpPayload(cfg_type=CfgType.CFG_REQUEST, attributes=[
                (CfgAttribute.INTERNAL_IP4_ADDRESS, b""), (CfgAttribute.INTERNAL_IP4_DNS, b"")]))
        self._child_spi = int.from_bytes(self.rng(4), "big") | 0x100
        offer = [spec.to_wire(n, ProtocolId.ESP, self._child_spi.to_bytes(4, "big"),
                              include_dh=False)
                 for n, spec in enumerate(self.s.esp_proposals, 1)]
        payloads += [w.SaPayload(proposals=offer),
                     w.TsPayload(payload_type=PayloadType.TSi, selectors=ts.to_wire_list(self.s.ts_i)),
                     w.TsPayload(payload_type=PayloadType.TSr, selectors=ts.to_wire_list(self.s.ts_r))]
        return self._request(ExchangeType.IKE_AUTH, payloads, now,
                             self._eap.on_response if self._eap else self._auth_response)

    def _auth_response(self, view: Payloads, now: float) -> list[bytes]:
        sa = self.sa
        errors = [n for n in view.error_notifies()
                  if n.type == NotifyType.AUTHENTICATION_FAILED]
        if errors or view.first(PayloadType.AUTH) is None:
            return self._fail("IKE_AUTH refused: "
                              + (_name(view.error_notifies()[0].type) if view.error_notifies()
                                 else "no AUTH payload"))
        idr = view.first(PayloadType.IDr)
        auth = view.first(PayloadType.AUTH)
        octets = ikeauth.signed_octets(sa.init_response, sa.nonce_i, sa.prf_id, sa.keys.sk_pr,
                                       w.encode_payload_body(idr))
        if auth.method == AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE:
            if not ikeauth.verify_psk_auth(sa.prf_id, self.s.psk, octets, auth.data):
                return self._fail("responder's PSK AUTH does not verify")
        else:
            from cryptography import x509
            certs = view.all(PayloadType.CERT)
            if not certs:
                return self._fail("responder sent no certificate")
            cert = x509.load_der_x509_certificate(certs[0].data)
            try:
                ikeauth.verify(cert.public_key(), auth.method, auth.data, octets)
            except IkeError as e:
                return self._fail(f"responder's signature: {e}")
        sa.peer_id = Identity.from_payload(idr.id_type, idr.data)
        return self._finish_auth(view, now)

    def _finish_auth(self, view: Payloads, now: float) -> list[bytes]:
        """The responder is authenticated: virtual IP, DNS and the first CHILD SA."""
        sa = self.sa
        cp = view.first(PayloadType.CP)
        if cp is not None:
            for t, v in cp.attributes:
                if t == CfgAttribute.INTERNAL_IP4_ADDRESS and len(v) == 4:
                    self.vip = ipaddress.IPv4Address(v)
                elif t == CfgAttribute.INTERNAL_IP4_DNS and len(v) == 4:
                    self.dns.append(ipaddress.IPv4Address(v))
        self.state = "established"
        sa.state = IkeSaState.ESTABLISHED
        self.established_at = now
        self.auth_notifies = [n.type for n in view.error_notifies()]
        if view.first(PayloadType.SA) is not None:
            self.child = self._child_from(view, self._child_spi, sa.nonce_i, sa.nonce_r, None)
            self.children.append(self.child)
        return []

    def _child_from(self, view: Payloads, spi_in: int, ni: bytes, nr: bytes, shared) -> ClientChild:
        sa = self.sa
        prop = view.first(PayloadType.SA).proposals[0]
        selected = proposals.select_esp(self.s.esp_proposals, [prop],
                                        want_dh=shared and self._child_group, ignore_dh=shared is None)
        encr, integ = selected.encr_keymat_len, selected.integ_key_len
        keymat = keys.child_sa_keys(sa.prf_id, sa.keys.sk_d, ni, nr, encr, integ, shared)
        return ClientChild(spi_in=spi_in, spi_out=int.from_bytes(prop.spi, "big"),
                           ts_local=ts.from_wire_list(view.first(PayloadType.TSi).selectors),
                           ts_remote=ts.from_wire_list(view.first(PayloadType.TSr).selectors),
                           suite=selected.describe(), keys=keymat, nonces=(ni, nr))

    # ------------------------------------------------------------------ afterwards ---

    def rekey_child(self, now: float, *, pfs_group: int | None = None) -> list[bytes]:
        """CREATE_CHILD_SA rekeying ``self.child`` (§1.3.3), with PFS when a group is given."""
        old = self.child
        nonce = self.rng(32)
        spi = int.from_bytes(self.rng(4), "big") | 0x100
        self._child_group = pfs_group
        key = dh.group(pfs_group).generate(self.rng) if pfs_group else None
        offer = [spec.to_wire(n, ProtocolId.ESP, spi.to_bytes(4, "big"), include_dh=bool(pfs_group))
                 for n, spec in enumerate(self.s.esp_proposals, 1)]
        payloads = [notify(NotifyType.REKEY_SA, protocol=ProtocolId.ESP,
                           spi=old.spi_in.to_bytes(4, "big")),
                    w.SaPayload(proposals=offer), w.NoncePayload(data=nonce)]
        if key is not None:
            payloads.append(w.KePayload(group=pfs_group, data=key.public))
        payloads += [w.TsPayload(payload_type=PayloadType.TSi, selectors=ts.to_wire_list(old.ts_local)),
                     w.TsPayload(payload_type=PayloadType.TSr, selectors=ts.to_wire_list(old.ts_remote))]

        def answered(view: Payloads, now: float) -> list[bytes]:
            errors = view.error_notifies()
            if errors:
                self.last_error = _name(errors[0].type)
                return []
            shared = key.shared_secret(view.first(PayloadType.KE).data) if key else None
            new = self._child_from(view, spi, nonce, view.first(PayloadType.NONCE).data, shared)
            self.children.append(new)
            self.child = new
            # §2.8: the rekey initiator deletes the old CHILD SA
            return self.delete_child(old, now)

        return self._request(ExchangeType.CREATE_CHILD_SA, payloads, now, answered)

    def rekey_ike(self, now: float) -> list[bytes]:
        """CREATE_CHILD_SA rekeying the IKE SA (§1.3.2); the old one is deleted after."""
        sa = self.sa
        nonce = self.rng(32)
        new_spi = self.rng(8)
        group = sa.proposal.dh
        key = dh.group(group).generate(self.rng)
        offer = [spec.to_wire(n, ProtocolId.IKE, new_spi)
                 for n, spec in enumerate(self.s.ike_proposals, 1)]
        payloads = [w.SaPayload(proposals=offer), w.NoncePayload(data=nonce),
                    w.KePayload(group=group, data=key.public)]

        def answered(view: Payloads, now: float) -> list[bytes]:
            errors = view.error_notifies()
            if errors:
                self.last_error = _name(errors[0].type)
                return []
            prop = view.first(PayloadType.SA).proposals[0]
            selected = proposals.select_ike(self.s.ike_proposals, [prop], prefer_dh=group)
            shared = key.shared_secret(view.first(PayloadType.KE).data)
            old = self.sa
            new = IkeSa(spi_i=new_spi, spi_r=prop.spi, local=old.local, remote=old.remote,
                        created_at=now, we_initiated=True, state=IkeSaState.ESTABLISHED)
            for name in ("natt", "fragmentation", "peer_hash_algorithms", "peer_id",
                         "remote_behind_nat", "local_behind_nat"):
                setattr(new, name, getattr(old, name))
            new.proposal, new.prf_id, new.suite = selected, selected.prf, selected.describe()
            new.nonce_i, new.nonce_r = nonce, view.first(PayloadType.NONCE).data
            from ..ikev2.ike_sa_init import derive_keys
            derive_keys(new, selected, shared, old_sk_d=old.keys.sk_d, old_prf=old.prf_id)
            out = self._request(ExchangeType.INFORMATIONAL,
                                [w.DeletePayload(protocol=ProtocolId.IKE, spis=[])], now,
                                lambda view, now: [])
            self.sa = new
            self.spi_i = new_spi
            self.old_sa = old
            return out

        return self._request(ExchangeType.CREATE_CHILD_SA, payloads, now, answered)

    def delete_child(self, child: ClientChild, now: float) -> list[bytes]:
        def answered(view: Payloads, now: float) -> list[bytes]:
            if child in self.children:
                self.children.remove(child)
            self.deleted_child_answer = view.all(PayloadType.DELETE)
            return []

        return self._request(ExchangeType.INFORMATIONAL,
                             [w.DeletePayload(protocol=ProtocolId.ESP,
                                              spis=[child.spi_in.to_bytes(4, "big")])],
                             now, answered)

    def delete(self, now: float) -> list[bytes]:
        def answered(view: Payloads, now: float) -> list[bytes]:
            self.state = "deleted"
            return []

        return self._request(ExchangeType.INFORMATIONAL,
                             [w.DeletePayload(protocol=ProtocolId.IKE, spis=[])], now, answered)

    def liveness(self, now: float) -> list[bytes]:
        def answered(view: Payloads, now: float) -> list[bytes]:
            self.alive_at = now
            return []

        return self._request(ExchangeType.INFORMATIONAL, [], now, answered)

    # ------------------------------------------------------------------ plumbing -----

    def _request(self, exchange: int, payloads: list, now: float, on_response) -> list[bytes]:
        from ..ikev2.ike_sa import OutstandingRequest
        sa = self.sa
        mid = sa.our_next_id
        sa.our_next_id += 1
        datagrams = seal(sa, exchange, False, mid, payloads, self.rng)
        sa.outstanding = OutstandingRequest(message_id=mid, exchange=exchange,
                                            datagrams=datagrams, on_response=on_response,
                                            on_failure=lambda reason: None, sent_at=now)
        self.last_request = datagrams
        return datagrams

    def _peer_request(self, msg, data: bytes, now: float, sa: IkeSa | None = None) -> list[bytes]:
        """The responder asks: liveness check, delete (RFC 7296 §1.4), rekeys (§1.3)."""
        sa = sa or self.sa
        if msg.message_id == sa.last_response_id:
            return list(sa.last_response)
        if msg.message_id != sa.peer_next_id:
            return []
        try:
            inner = open_sk(sa, data, msg)
        except IkeError:
            return []
        if inner is None:
            return []
        self.peer_requests += 1
        view = Payloads(inner)
        out: list = []
        for d in view.all(PayloadType.DELETE):
            if d.protocol == ProtocolId.IKE:
                self.state = "deleted"
            else:
                gone = [c for c in self.children
                        if c.spi_out.to_bytes(4, "big") in d.spis]
                for c in gone:
                    self.children.remove(c)
                if gone:
                    out.append(w.DeletePayload(protocol=ProtocolId.ESP,
                                               spis=[c.spi_in.to_bytes(4, "big") for c in gone]))
        successor = None
        if msg.exchange == ExchangeType.CREATE_CHILD_SA:
            out, successor = self._answer_create_child(view, now)
        datagrams = seal(sa, msg.exchange, True, msg.message_id, out, self.rng)
        sa.last_response, sa.last_response_id = datagrams, msg.message_id
        sa.peer_next_id = msg.message_id + 1
        if successor is not None:
            # §2.18: the responder's IKE SA moves to the new SPIs and keys; the rekey
            # initiator (the server) deletes the old one over the old SA
            self.old_sa, self.sa = self.sa, successor
        return datagrams

    def _answer_create_child(self, view: Payloads, now: float):
        """Answer the server's CHILD or IKE SA rekey as a responder would (§1.3.2, §1.3.3).

        Returns (payloads, new IKE SA or None)."""
        sa = self.sa
        offered = view.first(PayloadType.SA).proposals
        nonce_i = view.first(PayloadType.NONCE).data
        ke = view.first(PayloadType.KE)
        nonce_r = self.rng(32)
        if offered and all(p.protocol == ProtocolId.IKE for p in offered):
            selected = proposals.select_ike(self.s.ike_proposals, offered,
                                            prefer_dh=ke.group if ke else None)
            if selected is None or ke is None or selected.dh != ke.group:
                return [notify(NotifyType.NO_PROPOSAL_CHOSEN)], None
            key = dh.group(ke.group).generate(self.rng)
            shared = key.shared_secret(ke.data)
            new_spi = self.rng(8)
            new = IkeSa(spi_i=selected.spi, spi_r=new_spi, local=sa.local, remote=sa.remote,
                        created_at=now, we_initiated=False, state=IkeSaState.ESTABLISHED)
            for name in ("natt", "fragmentation", "peer_hash_algorithms", "peer_id",
                         "remote_behind_nat", "local_behind_nat"):
                setattr(new, name, getattr(sa, name))
            new.proposal, new.prf_id, new.suite = selected, selected.prf, selected.describe()
            new.nonce_i, new.nonce_r = nonce_i, nonce_r
            from ..ikev2.ike_sa_init import derive_keys
            derive_keys(new, selected, shared, old_sk_d=sa.keys.sk_d, old_prf=sa.prf_id)
            self.ike_rekeys_answered = getattr(self, "ike_rekeys_answered", 0) + 1
            return [w.SaPayload(proposals=[selected.to_wire(new_spi)]),
                    w.NoncePayload(data=nonce_r),
                    w.KePayload(group=ke.group, data=key.public)], new
        rekey = view.notify(NotifyType.REKEY_SA)
        old = None
        if rekey is not None:
            old = next((c for c in self.children
                        if c.spi_out == int.from_bytes(rekey.spi, "big")), None)
            if old is None:
                return [notify(NotifyType.CHILD_SA_NOT_FOUND)], None
        selected = proposals.select_esp(self.s.esp_proposals, offered,
                                        want_dh=ke.group if ke else None)
        if selected is None:
            return [notify(NotifyType.NO_PROPOSAL_CHOSEN)], None
        shared = None
        key = None
        if ke is not None:
            key = dh.group(ke.group).generate(self.rng)
            shared = key.shared_secret(ke.data)
        spi_in = int.from_bytes(self.rng(4), "big") | 0x100
        # the server initiated this exchange: its outbound keys come first (§2.17)
        keymat = keys.child_sa_keys(sa.prf_id, sa.keys.sk_d, nonce_i, nonce_r,
                                    selected.encr_keymat_len, selected.integ_key_len, shared)
        tsi, tsr = view.first(PayloadType.TSi), view.first(PayloadType.TSr)
        child = ClientChild(spi_in=spi_in, spi_out=int.from_bytes(selected.spi, "big"),
                            ts_local=ts.from_wire_list(tsr.selectors),
                            ts_remote=ts.from_wire_list(tsi.selectors),
                            suite=selected.describe(), keys=keymat, created_by_peer=True,
                            nonces=(nonce_i, nonce_r))
        self.children.append(child)
        self.child = child
        out = [w.SaPayload(proposals=[selected.to_wire(spi_in.to_bytes(4, "big"))]),
               w.NoncePayload(data=nonce_r)]
        if key is not None:
            out.append(w.KePayload(group=ke.group, data=key.public))
        return out + [tsi, tsr], None

    def _fail(self, reason: str) -> list[bytes]:
        self.state = "failed"
        self.failure = reason
        return []


def _name(t: int) -> str:
    try:
        return NotifyType(t).name
    except ValueError:
        return f"notify {t}"
