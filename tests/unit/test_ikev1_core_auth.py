"""IKEv1 core with signatures (RFC 2409 §5.1): RSA and ECDSA certificates both ways,
RSA + XAuth (XAUTHInitRSA), certificate requests, the identity in the certificate, and
IKEv1 fragmentation of messages too big for one datagram."""

from __future__ import annotations

import pytest

from ikesrv import events as ev
from ikesrv.crypto.certs import LocalCredential, TrustStore
from ikesrv.wire import ikev1 as w

from .ikev1_pair import BASE, Pair1, header, make_config
from .test_ikev1_core import NET

CERT_CONN = """
[connections.certs]
version = 1
local_id = "gw.example.test"
local_auth = "pubkey"
certificate = "{gw}.crt"
private_key = "{gw}.key"
remote_auth = "{remote}"
remote_id = "*@example.test"
ca_certificates = ["ca.crt"]
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256"]
pools = ["rw"]
local_ts = ["192.0.2.0/25"]
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tests.harness.pki import make_pki
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pki.issue("gw-rsa", "gw.example.test", san_dns=("gw.example.test",), key_type="rsa")
    pki.issue("gw-ec", "gw.example.test", san_dns=("gw.example.test",), key_type="ecdsa-p256")
    pki.issue("alice-rsa", "alice@example.test", san_email=("alice@example.test",),
              key_type="rsa")
    pki.issue("alice-ec", "alice@example.test", san_email=("alice@example.test",),
              key_type="ecdsa-p256")
    pki.issue("mallory", "mallory@evil.test", san_email=("mallory@evil.test",), key_type="rsa")
    # a 3072-bit certificate and signature do not fit one 1280-byte datagram
    pki.issue("gw-big", "gw.example.test", san_dns=("gw.example.test",), key_type="rsa3072")
    pki.issue("alice-big", "alice@example.test", san_email=("alice@example.test",),
              key_type="rsa3072")
    return pki


def cert_pair(tmp_path, pki, gw: str, remote: str = "pubkey") -> Pair1:
    for name in (gw, "ca"):
        (tmp_path / f"{name}.crt").write_bytes(pki[name].cert_pem)
    (tmp_path / f"{gw}.key").write_bytes(pki[gw].key_pem)
    conn = CERT_CONN.replace("{gw}", gw).replace("{remote}", remote)
    return Pair1(make_config(tmp_path, conn, base=BASE))


def cert_client(pair, pki, name, local_id="alice@example.test", **kw):
    kw.setdefault("ts_local", [NET("0.0.0.0/0")])
    kw.setdefault("ts_remote", [NET("192.0.2.0/25")])
    return pair.client(auth="pubkey", credential=LocalCredential(pki[name].cert, pki[name].key),
                       trust=TrustStore([pki["ca"].cert]), local_id=local_id, want_vip=True,
                       **kw)


@pytest.mark.parametrize("gw,client", [("gw-rsa", "alice-rsa"), ("gw-ec", "alice-ec")])
def test_signatures_both_ways(tmp_path, pki, gw, client):
    pair = cert_pair(tmp_path, pki, gw)
    c = cert_client(pair, pki, client)
    pair.connect(c)
    assert c.state == "established", c.failure
    assert str(c.peer_id) == "gw.example.test"
    (sa,) = pair.core.v1.sas.values()
    assert sa.auth_label == "pubkey" and str(sa.peer_id) == "alice@example.test"
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [("pubkey", "success")]
    # MM4 asked for the client's certificate with our CA's name (RFC 2408 §3.10)
    mm4 = w.decode_message(pair.sent_to[c.local][1])
    (cr,) = [p for p in mm4.payloads if isinstance(p, w.CrPayload)]
    assert cr.encoding == 4 and cr.data == pki["ca"].cert.subject.public_bytes()


def test_rsa_with_xauth(tmp_path, pki):
    pair = cert_pair(tmp_path, pki, "gw-rsa", "xauth")
    c = cert_client(pair, pki, "alice-rsa", xauth_user="bob", xauth_password=b"bob-Secret-2")
    pair.connect(c)
    assert c.state == "established", c.failure
    (sa,) = pair.core.v1.sas.values()
    assert sa.auth_method == 65005 and sa.xauth_user == "bob" and sa.auth_label == "xauth"
    assert c.vip is not None


def test_certificate_must_hold_the_identity(tmp_path, pki):
    pair = cert_pair(tmp_path, pki, "gw-rsa")
    c = cert_client(pair, pki, "mallory")  # claims alice, certificate says mallory
    pair.connect(c)
    assert c.state != "established"
    assert pair.core.v1.sas == {}
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [("pubkey", "failure")]


def test_key_type_must_match_the_method(tmp_path, pki):
    # IKEv1 authenticates both sides with one method: an ECDSA client cannot use a
    # connection whose own key is RSA
    pair = cert_pair(tmp_path, pki, "gw-rsa")
    c = cert_client(pair, pki, "alice-ec")
    pair.connect(c)
    assert c.state == "failed" and "NO_PROPOSAL_CHOSEN" in c.failure


def test_fragmentation_both_ways(tmp_path, pki):
    # MM5 and MM6 with 3072-bit RSA certificates and signatures travel in fragments
    # (payload 132) when both sides announced the vendor ID
    pair = cert_pair(tmp_path, pki, "gw-big")
    c = cert_client(pair, pki, "alice-big", fragmentation=True)
    sent_by_client = []
    pair.drop_to_server = lambda d: sent_by_client.append(d) and False
    pair.connect(c)
    assert c.state == "established", c.failure
    for sent in (pair.sent_to[c.local], sent_by_client):
        fragments = [d for d in sent if d[16] == 132]
        assert len(fragments) >= 2 and all(len(d) <= 1252 for d in fragments)
        assert all(header(d)[0] == 2 and header(d)[2] == 0 for d in fragments)


def test_no_fragments_without_the_vendor_id(tmp_path, pki):
    pair = cert_pair(tmp_path, pki, "gw-big")
    c = cert_client(pair, pki, "alice-big")
    pair.connect(c)
    assert c.state == "established"
    assert not [d for d in pair.sent_to[c.local] if d[16] == 132]


def test_aggressive_mode_with_signatures(tmp_path, pki):
    for name in ("gw-rsa", "ca"):
        (tmp_path / f"{name}.crt").write_bytes(pki[name].cert_pem)
    (tmp_path / "gw-rsa.key").write_bytes(pki["gw-rsa"].key_pem)
    conn = CERT_CONN.replace("{gw}", "gw-rsa").replace("{remote}", "pubkey")
    pair = Pair1(make_config(tmp_path, conn + "aggressive = true\n", base=BASE))
    c = cert_client(pair, pki, "alice-rsa", aggressive=True)
    pair.connect(c)
    assert c.state == "established", c.failure
    am2 = w.decode_message(pair.sent_to[c.local][0])
    assert [type(p).__name__ for p in am2.payloads[:6]] == [
        "V1SaPayload", "V1KePayload", "V1NoncePayload", "V1IdPayload", "V1CertPayload",
        "V1SigPayload"]
    (sa,) = pair.core.v1.sas.values()
    assert sa.auth_label == "pubkey" and sa.exchange == 4
