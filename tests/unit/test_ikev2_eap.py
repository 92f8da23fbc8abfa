"""IKEv2 core: EAP in IKE_AUTH (RFC 7296 §2.16) against the in-memory initiator.

The responder authenticates with its certificate, asks for the EAP identity, runs the
connection's method (MS-CHAPv2, GTC, MD5) with the users file backend answering its
requests synchronously, and both sides finish with AUTH keyed by the MSK (or SK_p).
"""

from __future__ import annotations

import pytest

from ikesrv import events as ev
from ikesrv.actions import AuthResult
from ikesrv.auth.users_file import UsersFileBackend
from ikesrv.config import hash_password
from ikesrv.constants import EapCode, EapType, NotifyType
from ikesrv.ikev2 import eap as ike_eap
from ikesrv.wire import ikev2 as w

from .ikev2_pair import Pair, make_config

EAP_CONFIG = """
[server]
addresses = ["192.0.2.1"]
cookie_threshold = 0
cookie_threshold_per_ip = 0
[kernel]
backend = "none"
[pools.rw]
addresses = "198.51.100.0/24"
[users]
backend = "file"
[users.file]
path = "users.toml"
[connections.rw-eap]
version = 2
local_id = "gw.example.test"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "{method}"
proposals = ["aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519"]
esp_proposals = ["aes256gcm16"]
pools = ["rw"]
local_ts = ["192.0.2.0/25"]
"""

# the lab's users (tests/harness/scenarios.USERS); hashes made once per session below
USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2", "carol": "carol-Secret-3"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tests.harness.pki import make_pki
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pki.issue("gw-ec", "gw.example.test", san_dns=("gw.example.test",), key_type="ecdsa-p256")
    return pki


@pytest.fixture(scope="module")
def users_toml():
    # alice: hash + NT hash; bob: NT hash only; carol: clear text (EAP-MD5)
    from ikesrv.auth.eap.md4 import nt_hash
    return (f'[alice]\npassword_hash = "{hash_password(USERS["alice"], ln=4)}"\n'
            f'nt_hash = "{nt_hash(USERS["alice"]).hex()}"\n'
            f'[bob]\nnt_hash = "{nt_hash(USERS["bob"]).hex()}"\n'
            f'[carol]\npassword = "{USERS["carol"]}"\n').encode()


class EapPair(Pair):
    """A Pair whose users backend answers AuthRequests at once (unless ``hold``)."""

    def __init__(self, config, backend, **kw):
        super().__init__(config, **kw)
        self.backend = backend
        self.hold = False

    def _drain(self, client):
        out = super()._drain(client)
        while self.auth_requests and not self.hold:
            request = self.auth_requests.pop(0)
            self.core.auth_completed(request.request_id, self.backend(request), self.now)
            out += super()._drain(client)
        return out

    def answer_held(self, client, result=None):
        """Release held AuthRequests (with ``result``, or the backend's answer)."""
        self.hold = False
        pending = []
        while self.auth_requests:
            request = self.auth_requests.pop(0)
            self.core.auth_completed(request.request_id,
                                     result if result is not None else self.backend(request),
                                     self.now)
            pending += self._drain(client)
        while pending:
            c, d = pending.pop(0)
            self.core.datagram_received(d, ("192.0.2.1", c.remote[1]), c.local, self.now)
            pending += self._drain(c)


def eap_pair(tmp_path, pki, users_toml, method="eap-mschapv2") -> EapPair:
    (tmp_path / "gw.crt").write_bytes(pki["gw-ec"].cert_pem)
    (tmp_path / "gw.key").write_bytes(pki["gw-ec"].key_pem)
    (tmp_path / "users.toml").write_bytes(users_toml)
    (tmp_path / "users.toml").chmod(0o600)
    config = make_config(tmp_path, EAP_CONFIG.replace("{method}", method))
    backend = UsersFileBackend(tmp_path / "users.toml")
    pair = EapPair(config, backend.check_sync)
    pair.ca = pki["ca"].cert
    return pair


def eap_client(pair, method="eap-mschapv2", user="alice", password=None, **kw):
    # CERTREQ for the test CA: the responder sends its certificate (send_cert = ifasked)
    return pair.client(auth=method, eap_identity=user,
                       eap_password=USERS.get(user, "x") if password is None else password,
                       local_id="198.51.100.200", ca_certificates=[pair.ca], **kw)


def server_sa(pair):
    (sa,) = pair.core.v2.sas.values()
    return sa


@pytest.mark.parametrize("method,user,msk", [
    ("eap-mschapv2", "alice", True),
    ("eap-mschapv2", "bob", True),      # NT hash only
    ("eap-mschapv2", "carol", True),    # NT hash computed from the clear password
    ("eap-gtc", "alice", False),        # scrypt hash
    ("eap-gtc", "bob", False),          # checked against the NT hash
    ("eap-gtc", "carol", False),
    ("eap-md5", "carol", False),
])
def test_eap_login_establishes(tmp_path, pki, users_toml, method, user, msk):
    pair = eap_pair(tmp_path, pki, users_toml, method)
    c = eap_client(pair, method, user)
    pair.connect(c)
    assert c.state == "established", c.failure
    assert str(c.vip).startswith("198.51.100.") and c.child is not None
    assert (c._eap.msk is not None) == msk
    if msk:
        assert len(c._eap.msk) == 64 and c._eap.msk[32:] == bytes(32)
    sa = server_sa(pair)
    assert sa.eap_identity == user and sa.auth_method == method
    assert sa.peer_identity_key == user
    assert str(sa.peer_id) == "198.51.100.200"  # the IKE identity stays what IDi said
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [(method, "success")]
    assert [e.auth for e in pair.of(ev.IkeSaEstablished)] == [method]
    assert sa.describe(pair.now)["eap_identity"] == user
    # Identity, method round(s), and the final AUTH
    types = c._eap.requests
    assert types[0] == EapType.IDENTITY and set(types[1:]) == {
        {"eap-mschapv2": EapType.MSCHAPV2, "eap-gtc": EapType.GTC,
         "eap-md5": EapType.MD5_CHALLENGE}[method]}


@pytest.mark.parametrize("method,user,password,why", [
    ("eap-mschapv2", "alice", "wrong-password", "wrong password"),
    ("eap-mschapv2", "mallory", "whatever-1", "unknown user 'mallory'"),
    ("eap-gtc", "alice", "wrong-password", "wrong password"),
    ("eap-gtc", "mallory", "whatever-1", "unknown user 'mallory'"),
    ("eap-md5", "carol", "wrong-password", "wrong password"),
    ("eap-md5", "alice", "alice-Secret-1", "no clear-text password"),
    ("eap-md5", "mallory", "whatever-1", "unknown user 'mallory'"),
])
def test_refusals_look_the_same_to_the_peer(tmp_path, pki, users_toml, caplog, method, user,
                                            password, why):
    pair = eap_pair(tmp_path, pki, users_toml, method)
    c = eap_client(pair, method, user, password)
    caplog.set_level("INFO")
    pair.connect(c)
    assert c.state == "failed"
    assert c.failure == "IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert pair.core.v2.sas == {}
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [(method, "failure")]
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]
    assert why in caplog.text
    assert password not in caplog.text
    # the last answer: EAP Failure and AUTHENTICATION_FAILED
    last = _last_plain(pair, c)
    assert [type(p).__name__ for p in last] == ["EapPayload", "NotifyPayload"]
    assert last[0].code == EapCode.FAILURE
    assert last[1].type == NotifyType.AUTHENTICATION_FAILED


def _last_plain(pair, c):
    from ikesrv.ikev2.messages import open_sk
    data = pair.sent_to[c.local][-1]
    msg = w.decode_message(data)
    sa = c.sa
    from ikesrv.ikev2.ike_sa import IkeSa
    # decrypt as the client would (its SA holds the keys for this direction)
    return open_sk(sa, data, msg) if isinstance(sa, IkeSa) else []


def test_mschapv2_failure_packet_then_eap_failure(tmp_path, pki, users_toml):
    """draft-kamath §2: Failure Request E=691 R=0 (no retry), the peer's Failure Response,
    then EAP Failure."""
    pair = eap_pair(tmp_path, pki, users_toml)
    c = eap_client(pair, password="nope-nope")
    pair.connect(c)
    assert c._eap.peer.failed.startswith("E=691 R=0 C=")
    assert " V=3 " in c._eap.peer.failed
    assert c.failure == "IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert c._eap.requests == [EapType.IDENTITY, EapType.MSCHAPV2, EapType.MSCHAPV2]


def test_silent_peer_after_mschapv2_failure_is_dropped(tmp_path, pki, users_toml):
    """strongSwan clients give up on the MS-CHAPv2 Failure without answering it."""
    pair = eap_pair(tmp_path, pki, users_toml)
    c = eap_client(pair, password="nope-nope")
    receive = c.receive

    def receive_then_go_silent(data, now):
        out = receive(data, now)
        if c._eap is not None and c._eap.peer.failed:
            pair.gone.add(id(c))
            return []
        return out

    c.receive = receive_then_go_silent
    pair.connect(c)
    sa = server_sa(pair)
    assert sa.delete_at == pytest.approx(pair.now + ike_eap.FAILURE_GRACE)
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [
        ("eap-mschapv2", "failure")]
    pair.advance(ike_eap.FAILURE_GRACE + 1)
    assert pair.core.v2.sas == {}
    assert len(pair.of(ev.IkeSaFailed)) == 1  # counted once


def test_backend_answer_waits_and_retransmission_is_absorbed(tmp_path, pki, users_toml):
    pair = eap_pair(tmp_path, pki, users_toml)
    pair.hold = True
    c = eap_client(pair)
    pair.connect(c)
    assert c.state == "auth" and len(pair.auth_requests) == 1
    request = pair.auth_requests[0]
    assert (request.method, request.connection, request.username) == (
        "nt_hash", "rw-eap", "alice")
    sent = len(pair.sent_to[c.local])
    pair.deliver(c, c.last_request)  # the client retransmits while LDAP works
    assert len(pair.sent_to[c.local]) == sent  # nothing: the answer is on its way
    pair.answer_held(c)
    assert c.state == "established", c.failure


def test_backend_answer_after_the_sa_died_is_ignored(tmp_path, pki, users_toml):
    pair = eap_pair(tmp_path, pki, users_toml)
    pair.hold = True
    c = eap_client(pair)
    pair.connect(c)
    pair.advance(31)  # half-open timeout
    assert pair.core.v2.sas == {}
    pair.answer_held(c)
    assert c.state == "auth" and not pair.of(ev.IkeSaEstablished)


def test_directory_down_is_a_refusal(tmp_path, pki, users_toml, caplog):
    pair = eap_pair(tmp_path, pki, users_toml, "eap-gtc")
    pair.hold = True
    c = eap_client(pair, "eap-gtc")
    pair.connect(c)
    pair.answer_held(c, AuthResult(False, "directory ldap://x unavailable: connect: refused"))
    assert c.failure == "IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert "unavailable" in caplog.text


@pytest.mark.parametrize("identity,why", [
    ("", "empty user name"),
    ("a" * 300, "user name of 300 bytes"),
    ("alice\x00", "control characters"),
    ("alice\nforged log line", "control characters"),
])
def test_hostile_identities_are_refused_before_the_backend(tmp_path, pki, users_toml, caplog,
                                                           identity, why):
    pair = eap_pair(tmp_path, pki, users_toml)
    c = eap_client(pair, user=identity, password="x")
    pair.connect(c)
    assert c.failure == "IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert pair.auth_requests == [] and pair.core.v2.sas == {}
    assert why in caplog.text
    assert "forged log line" not in caplog.text  # never echoed into the log


def test_windows_domain_prefix_is_not_part_of_the_user(tmp_path, pki, users_toml):
    pair = eap_pair(tmp_path, pki, users_toml)
    c = eap_client(pair, user="EXAMPLE\\alice", password=USERS["alice"])
    pair.connect(c)
    assert c.state == "established", c.failure
    assert server_sa(pair).eap_identity == "EXAMPLE\\alice"


def test_nak_ends_the_conversation(tmp_path, pki, users_toml, caplog):
    pair = eap_pair(tmp_path, pki, users_toml, "eap-md5")
    c = eap_client(pair, "eap-gtc", "carol")  # the client only does GTC: it sends Nak
    pair.connect(c)
    assert c.failure == "IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert "declined EAP-MD5 (Nak; it proposes GTC)" in caplog.text


def test_wrong_final_auth_is_refused(tmp_path, pki, users_toml, monkeypatch):
    import types

    from ikesrv.crypto import auth as real
    from ikesrv.load import eap_client as module
    pair = eap_pair(tmp_path, pki, users_toml)
    c = eap_client(pair)
    # the client keys its final AUTH wrongly (as with another MSK); the server is untouched
    fake = types.SimpleNamespace(**{n: getattr(real, n) for n in dir(real)
                                    if not n.startswith("_")})
    fake.psk_auth = lambda prf_id, secret, octets: bytes(len(real.psk_auth(prf_id, secret, octets)))
    monkeypatch.setattr(module, "ikeauth", fake)
    pair.connect(c)
    assert c.failure == "final IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert pair.core.v2.sas == {}
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [
        ("eap-mschapv2", "failure")]
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]


def test_rounds_are_bounded(tmp_path, pki, users_toml, caplog):
    pair = eap_pair(tmp_path, pki, users_toml)
    pair.hold = True
    c = eap_client(pair)
    pair.connect(c)  # Identity, then the MS-CHAPv2 Response waits for the backend
    conv = server_sa(pair).auth_state.eap
    assert conv.rounds == 2
    conv.rounds = ike_eap.MAX_ROUNDS  # as if the peer had dragged the conversation on
    pair.answer_held(c)  # Success Request; the client's Success Response is one too many
    assert c.failure == "IKE_AUTH refused: AUTHENTICATION_FAILED"
    assert f"more than {ike_eap.MAX_ROUNDS} IKE_AUTH rounds" in caplog.text
    assert pair.core.v2.sas == {}


def test_eap_only_offer_is_declined_with_our_certificate(tmp_path, pki, users_toml):
    """RFC 5998 §4: not for MS-CHAPv2/GTC/MD5; the responder signs as usual (§3 allows)."""
    from ikesrv.constants import ExchangeType
    from ikesrv.ikev2.messages import notify
    pair = eap_pair(tmp_path, pki, users_toml)
    c = eap_client(pair)
    request = c._request

    def with_eap_only(exchange, payloads, now, on_response):
        if exchange == ExchangeType.IKE_AUTH and c.sa.our_next_id == 1:
            payloads = payloads + [notify(NotifyType.EAP_ONLY_AUTHENTICATION)]
        return request(exchange, payloads, now, on_response)

    c._request = with_eap_only
    pair.connect(c)
    assert c.state == "established", c.failure
    assert c._eap.idr_body is not None  # IDr, CERT and a signature AUTH came first
    assert str(c.sa.peer_id) == "gw.example.test"


def test_psk_client_cannot_reach_an_eap_connection(tmp_path, pki, users_toml):
    pair = eap_pair(tmp_path, pki, users_toml)
    c = pair.client(local_id="client1@example.test")
    pair.connect(c)
    assert c.state == "failed" and "AUTHENTICATION_FAILED" in c.failure


def test_remote_id_on_an_eap_connection_is_flagged(tmp_path, pki, users_toml):
    """An EAP client's IKE identity proves nothing: check-config says remote_id is unused."""
    pair = eap_pair(tmp_path, pki, users_toml)
    assert not [w for w in pair.core.config.warnings if w[0].endswith("remote_id")]
    text = EAP_CONFIG.replace("{method}", "eap-gtc").replace(
        'remote_auth = "eap-gtc"', 'remote_auth = "eap-gtc"\nremote_id = "*@example.test"')
    config = make_config(tmp_path, text)
    (warning,) = [w for w in config.warnings if w[0] == "connections.rw-eap.remote_id"]
    assert "not used with EAP" in warning[1]
