"""IKEv2 core: certificate authentication, identities, uniqueness, configuration payload."""

from __future__ import annotations


import pytest

from ikesrv import events as ev
from ikesrv.crypto.certs import LocalCredential

from .ikev2_pair import BASE_CONFIG, Pair, make_config

CERT_CONFIG = """
[server]
addresses = ["192.0.2.1"]
cookie_threshold = 0
cookie_threshold_per_ip = 0
[kernel]
backend = "none"
[pools.rw]
addresses = "198.51.100.0/24"
[connections.certs]
version = 2
local_id = "gw.example.test"
local_auth = "pubkey"
certificate = "{gw}.crt"
private_key = "{gw}.key"
remote_auth = "pubkey"
remote_id = "*@example.test"
ca_certificates = ["ca.crt"]
proposals = ["aes256gcm16-prfsha384-ecp384"]
esp_proposals = ["aes256gcm16"]
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
    pki.issue("mallory", "mallory@evil.test", san_email=("mallory@evil.test",),
              key_type="ecdsa-p256")
    pki.issue("expired", "old@example.test", san_email=("old@example.test",), key_type="ecdsa-p256",
              valid_days=2, not_before_days=-10)
    return pki


def cert_pair(tmp_path, pki, gw: str) -> Pair:
    for name in (gw, "ca"):
        (tmp_path / f"{name}.crt").write_bytes(pki[name].cert_pem)
    (tmp_path / f"{gw}.key").write_bytes(pki[gw].key_pem)
    return Pair(make_config(tmp_path, CERT_CONFIG.replace("{gw}", gw)))


def client_(pair, pki, name, **kw):
    return pair.client(auth="pubkey", credential=LocalCredential(pki[name].cert, pki[name].key),
                       ca_certificates=[pki["ca"].cert], **kw)


def credential(pki, name: str) -> LocalCredential:
    return LocalCredential(pki[name].cert, pki[name].key)


@pytest.mark.parametrize("gw,client", [("gw-rsa", "alice-rsa"), ("gw-ec", "alice-ec"),
                                       ("gw-rsa", "alice-ec"), ("gw-ec", "alice-rsa")])
def test_certificates_both_ways(tmp_path, pki, gw, client):
    pair = cert_pair(tmp_path, pki, gw)
    c = client_(pair, pki, client, local_id="alice@example.test")
    pair.connect(c)
    assert c.state == "established", c.failure
    assert str(c.sa.peer_id) == "gw.example.test"
    (sa,) = pair.core.v2.sas.values()
    assert str(sa.peer_id) == "alice@example.test" and sa.auth_method == "pubkey"


@pytest.mark.parametrize("who,local_id,reason", [
    ("mallory", "mallory@evil.test", "remote_id"),  # a valid cert, identity not allowed
    ("expired", "old@example.test", "expired"),
    ("alice-ec", "bob@example.test", "identity not in certificate"),
])
def test_certificate_refusals(tmp_path, pki, who, local_id, reason):
    pair = cert_pair(tmp_path, pki, "gw-ec")
    c = client_(pair, pki, who, local_id=local_id)
    pair.connect(c)
    assert c.state == "failed" and "AUTHENTICATION_FAILED" in c.failure
    assert pair.core.v2.sas == {}
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]


def test_psk_client_cannot_use_a_certificate_connection(tmp_path, pki):
    pair = cert_pair(tmp_path, pki, "gw-ec")
    c = pair.client(local_id="alice@example.test")
    pair.connect(c)
    assert c.state == "failed" and "AUTHENTICATION_FAILED" in c.failure


def test_fragmented_ike_auth_both_ways(tmp_path, pki):
    pair = cert_pair(tmp_path, pki, "gw-rsa")
    c = client_(pair, pki, "alice-rsa", local_id="alice@example.test")
    out = c.start(pair.now)
    pair.deliver(c, out)
    assert c.state == "established", c.failure
    from ikesrv.wire import ikev2 as w
    answers = [w.decode_message(d) for d in pair.sent_to[c.local]]
    skf = [m for m in answers if m.payloads and m.payloads[-1].payload_type == 53]
    assert len(skf) >= 2  # our certificate + RSA AUTH did not fit one 1280-byte datagram
    assert all(len(d) <= 1280 - 28 for d in pair.sent_to[c.local])


def test_without_fragmentation_support_one_big_message(tmp_path, pki):
    pair = cert_pair(tmp_path, pki, "gw-rsa")
    c = client_(pair, pki, "alice-rsa", local_id="alice@example.test", fragmentation=False)
    pair.connect(c)
    assert c.state == "established", c.failure
    assert max(len(d) for d in pair.sent_to[c.local]) > 1252


def test_same_identity_replaces_old_sa_and_keeps_its_address(tmp_path):
    pair = Pair(make_config(tmp_path))
    first = pair.client(initial_contact=False)
    pair.connect(first)
    second = pair.client(initial_contact=False, address=("198.51.100.201", 500))
    pair.connect(second)
    assert second.state == "established"
    (sa,) = pair.core.v2.sas.values()
    assert sa.remote == ("198.51.100.201", 500)
    assert second.vip == first.vip  # released by the old SA, same identity gets it back
    assert first.state == "deleted"  # we told the old one it was replaced


def test_initial_contact_drops_stale_sas_silently(tmp_path):
    pair = Pair(make_config(tmp_path))
    first = pair.client()
    pair.connect(first)
    second = pair.client(address=("198.51.100.201", 4500))
    pair.connect(second)
    assert len(pair.core.v2.sas) == 1 and first.state == "established"  # nobody told it
    assert second.vip == first.vip


def test_unique_keep_refuses_the_newcomer(tmp_path):
    pair = Pair(make_config(tmp_path, BASE_CONFIG + 'unique = "keep"\n'))
    first = pair.client(initial_contact=False)
    pair.connect(first)
    second = pair.client(initial_contact=False, address=("198.51.100.201", 500))
    pair.connect(second)
    assert second.state == "failed" and first.state == "established"


def test_different_identities_get_different_addresses_and_come_back_to_theirs(tmp_path):
    pair = Pair(make_config(tmp_path))
    a = pair.client(local_id="a@example.test")
    b = pair.client(local_id="b@example.test", address=("198.51.100.201", 500))
    pair.connect(a)
    pair.connect(b)
    assert a.vip != b.vip
    vip_a = a.vip
    pair.deliver(a, a.delete(pair.now))
    pair.deliver(b, b.delete(pair.now))
    c = pair.client(local_id="c@example.test", address=("198.51.100.202", 500))
    pair.connect(c)
    again = pair.client(local_id="a@example.test", address=("198.51.100.203", 500))
    pair.connect(again)
    assert again.vip == vip_a and c.vip not in (vip_a, b.vip)


def test_pool_exhausted_gives_internal_address_failure_but_ike_sa_lives(tmp_path):
    text = BASE_CONFIG.replace('addresses = "198.51.100.0/24"', 'addresses = "198.51.100.0/30"')
    pair = Pair(make_config(tmp_path, text))
    clients = [pair.client(local_id=f"u{i}@example.test", address=(f"198.51.100.{10 + i}", 500))
               for i in range(3)]
    for c in clients:
        pair.connect(c)
    assert [c.vip is not None for c in clients] == [True, False, False]
    # RFC 7296 §3.15.4: the IKE SA is up, without a CHILD SA, the notify says why
    assert all(c.state == "established" for c in clients)
    assert clients[2].child is None and 36 in clients[2].auth_notifies


def test_ts_outside_policy_refused_for_child_only(tmp_path):
    from ikesrv.ikev2.traffic_selectors import parse_spec
    pair = Pair(make_config(tmp_path))
    c = pair.client(ts_r=[parse_spec("203.0.113.0/24")])
    pair.connect(c)
    assert c.state == "established" and c.child is None and 38 in c.auth_notifies
    assert pair.installed == {}


def test_kernel_refusal_fails_the_child_cleanly(tmp_path):
    pair = Pair(make_config(tmp_path))
    pair.kernel_ok = False
    c = pair.client()
    pair.connect(c)
    assert c.state == "established" and c.child is None and 14 in c.auth_notifies
    (sa,) = pair.core.v2.sas.values()
    assert sa.children == {}
    assert sum(e.delta for e in pair.of(ev.ChildSaChanged)) == 0
    # the IKE SA still works
    pair.deliver(c, c.liveness(pair.now))
    assert c.alive_at == pair.now
