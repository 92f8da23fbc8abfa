"""The EAP part of the in-memory IKEv2 initiator: a road warrior logging in with EAP.

Owns: the client side of RFC 7296 §2.16 for ``Ikev2Initiator`` when its settings say
``auth = "eap-mschapv2" | "eap-gtc" | "eap-md5"``: check the responder's certificate
AUTH in the first IKE_AUTH response, answer EAP-Identity with ``eap_identity``, answer
the method's requests with ikesrv.auth.eap's ``Peer`` (Nak for another method), then send
AUTH keyed with the MSK (SK_pi when the method has none) and check the responder's AUTH
the same way before the initiator takes the CP and the first CHILD SA.

Bytes in, datagrams out, like the initiator; no sockets, no clock.
"""

from __future__ import annotations

from ..auth.eap import PEERS
from ..auth.eap.framing import EapError
from ..constants import AuthMethod, EapCode, EapType, ExchangeType, PayloadType
from ..crypto import auth as ikeauth
from ..errors import IkeError
from ..identity import Identity
from ..ikev2.messages import Payloads
from ..wire import ikev2 as w


class EapClient:
    """One initiator's EAP conversation."""

    def __init__(self, initiator):
        self.ini = initiator
        s = initiator.s
        self.identity = s.eap_identity
        self.peer = PEERS[s.auth](s.eap_identity, s.eap_password, initiator.rng)
        self.idr_body: bytes | None = None
        self.msk: bytes | None = None
        self.rounds = 0
        self.requests: list[int] = []  # EAP types the server asked for, in order

    def on_response(self, view: Payloads, now: float) -> list[bytes]:
        ini = self.ini
        errors = view.error_notifies()
        if errors:
            return ini._fail("IKE_AUTH refused: " + _notify_name(errors[0].type))
        if self.idr_body is None:
            problem = self._verify_responder_signature(view)
            if problem:
                return ini._fail(problem)
        eap = view.first(PayloadType.EAP)
        if eap is None:
            return ini._fail("IKE_AUTH response without EAP")
        self.rounds += 1
        if eap.code == EapCode.REQUEST:
            self.requests.append(eap.eap_type)
            if eap.eap_type == EapType.IDENTITY:
                reply = w.EapPayload(EapCode.RESPONSE, eap.identifier, EapType.IDENTITY,
                                     self.identity.encode("utf-8"))
            elif eap.eap_type == self.peer.eap_type:
                try:
                    data = self.peer.receive(bytes(eap.data), eap.identifier)
                except EapError as e:
                    return ini._fail(f"EAP request not answerable: {e}")
                reply = w.EapPayload(EapCode.RESPONSE, eap.identifier, eap.eap_type, data)
            else:  # RFC 3748 §5.3.1: Nak, naming the method we want
                reply = w.EapPayload(EapCode.RESPONSE, eap.identifier, EapType.NAK,
                                     bytes([self.peer.eap_type]))
            return ini._request(ExchangeType.IKE_AUTH, [reply], now, self.on_response)
        if eap.code == EapCode.SUCCESS:
            sa = ini.sa
            self.msk = self.peer.msk
            auth = ikeauth.psk_auth(sa.prf_id, self.msk or sa.keys.sk_pi, ini._auth_octets)
            return ini._request(ExchangeType.IKE_AUTH, [
                w.AuthPayload(method=AuthMethod.SHARED_KEY_MESSAGE_INTEGRITY_CODE, data=auth)],
                now, self.on_final)
        reason = "EAP Failure" + (f" ({self.peer.failed})" if self.peer.failed else "")
        return ini._fail(reason)

    def on_final(self, view: Payloads, now: float) -> list[bytes]:
        ini = self.ini
        sa = ini.sa
        errors = view.error_notifies()
        if errors:
            return ini._fail("final IKE_AUTH refused: " + _notify_name(errors[0].type))
        auth = view.first(PayloadType.AUTH)
        if auth is None:
            return ini._fail("final IKE_AUTH response without AUTH")
        octets = ikeauth.signed_octets(sa.init_response, sa.nonce_i, sa.prf_id, sa.keys.sk_pr,
                                       self.idr_body)
        if not ikeauth.verify_psk_auth(sa.prf_id, self.msk or sa.keys.sk_pr, octets, auth.data):
            return ini._fail("responder's AUTH with the EAP key does not verify")
        return ini._finish_auth(view, now)

    def _verify_responder_signature(self, view: Payloads) -> str | None:
        """§2.16: the responder authenticates with its certificate before EAP starts."""
        sa = self.ini.sa
        idr, auth = view.first(PayloadType.IDr), view.first(PayloadType.AUTH)
        certs = view.all(PayloadType.CERT)
        if idr is None or auth is None:
            return "first IKE_AUTH response lacks IDr or AUTH"
        if not certs:
            return ("responder sent no certificate (send_cert = ifasked needs a CERTREQ: "
                    "set ClientSettings.ca_certificates)")
        idr_body = w.encode_payload_body(idr)
        octets = ikeauth.signed_octets(sa.init_response, sa.nonce_i, sa.prf_id, sa.keys.sk_pr,
                                       idr_body)
        from cryptography import x509
        try:
            cert = x509.load_der_x509_certificate(certs[0].data)
            ikeauth.verify(cert.public_key(), auth.method, auth.data, octets)
        except (IkeError, ValueError) as e:
            return f"responder's signature: {e}"
        self.idr_body = idr_body
        sa.peer_id = Identity.from_payload(idr.id_type, idr.data)
        return None


def _notify_name(t: int) -> str:
    from ..constants import NotifyType
    try:
        return NotifyType(t).name
    except ValueError:
        return f"notify {t}"


__all__ = ["EapClient"]
