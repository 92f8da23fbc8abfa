"""IKEv1 core against the scripted initiator: Main Mode and Aggressive Mode with PSK,
XAuth, Mode Config, Quick Mode with and without PFS, lifetimes, events and status.

Steps in RFC 2409 notation; fixed time and randomness (tests/unit/ikev1_pair.py)."""

from __future__ import annotations

import ipaddress

import pytest

from ikesrv import events as ev
from ikesrv.constants import V1CfgAttribute as A
from ikesrv.constants import V1ExchangeType, V1NotifyType
from ikesrv.ikev1.responder import EXCHANGE_NAMES
from ikesrv.ikev2 import traffic_selectors as ts
from ikesrv.metrics import EXCHANGES_V1

from .ikev1_pair import GROUP_PSK, MAIN_PSK, XAUTH_PSK, Pair1, make_config

NET = ts.network_spec


@pytest.fixture
def pair(tmp_path):
    return Pair1(make_config(tmp_path, MAIN_PSK, XAUTH_PSK))


def site(pair, **kw):
    """A net-to-net client of connection "site" (Main Mode, PSK)."""
    kw.setdefault("ts_local", [NET("198.51.100.192/26")])
    kw.setdefault("ts_remote", [NET("192.0.2.0/25")])
    return pair.client(**kw)


def road_warrior(pair, user="alice", password=b"alice-Secret-1", **kw):
    """A client of connection "rw": Aggressive Mode, group PSK, XAuth, Mode Config."""
    kw.setdefault("ts_local", [NET("0.0.0.0/0")])
    kw.setdefault("ts_remote", [NET("192.0.2.0/25")])
    kw.setdefault("address", ("203.0.113.5", 500))
    kw.setdefault("aggressive", True)
    return pair.client(local_id="group1@example.test", psk=GROUP_PSK, xauth_user=user,
                       xauth_password=password, want_vip=True, **kw)


# ------------------------------------------------------------------ Main Mode ---------


def test_main_mode_psk_quick_mode_with_pfs(pair):
    # MM1..MM6, then QM [HASH SA Ni KE IDci IDcr] -> [HASH SA Nr KE IDci IDcr] -> [HASH]
    c = site(pair, esp="aes256-sha256-modp2048", pfs=True)
    pair.connect(c)
    assert c.state == "established", c.failure
    assert str(c.peer_id) == "vpn.example.test"
    (sa,) = pair.core.v1.sas.values()
    assert sa.state.value == "established" and sa.auth_label == "psk"
    assert sa.suite == "aes256-sha256-modp2048"
    (spec,) = pair.installed.values()
    assert spec.version == 1 and spec.mode == "tunnel" and not spec.encap
    assert spec.spi_out == c.child.spi_in and spec.spi_in == c.child.spi_out
    # KEYMAT of RFC 2409 §5.5: each direction keyed by its receiver's SPI, the same on
    # both sides (encryption key first, then the integrity key)
    assert spec.keys_in.encr_key + spec.keys_in.integ_key == c.child.keys_out
    assert spec.keys_out.encr_key + spec.keys_out.integ_key == c.child.keys_in
    assert len(spec.keys_in.encr_key) == 32 and len(spec.keys_in.integ_key) == 32
    assert [str(t) for t in spec.ts_local] == ["192.0.2.0/25"]
    assert [str(t) for t in spec.ts_remote] == ["198.51.100.192/26"]
    child = next(iter(sa.children.values()))
    assert child.dh_group == 14 and child.suite == "aes256-sha256-modp2048"
    # events: one SA half-open, then established; a CHILD SA; the names counted
    assert pair.gauge("established") == 1 and pair.gauge("half_open") == 0
    (est,) = pair.of(ev.IkeSaEstablished)
    assert (est.version, est.auth, est.suite) == (1, "psk", "aes256-sha256-modp2048")
    assert [e.delta for e in pair.of(ev.ChildSaChanged)] == [1]
    names = {(e.direction, e.exchange) for e in pair.of(ev.MessageCounted) if e.version == 1}
    assert names == {("in", "IDENTITY_PROTECTION"), ("out", "IDENTITY_PROTECTION"),
                     ("in", "QUICK_MODE"), ("out", "QUICK_MODE")}


def test_quick_mode_without_pfs_and_narrowing(pair):
    # the client asks for more than the policy allows: narrowed like IKEv2 (RFC 2409
    # §5.5 carries one selector per side)
    c = site(pair, ts_local=[NET("198.51.100.0/24")], ts_remote=[NET("0.0.0.0/0")])
    pair.connect(c)
    assert c.state == "established", c.failure
    assert [str(t) for t in c.child.ts_local] == ["198.51.100.192/26"]
    assert [str(t) for t in c.child.ts_remote] == ["192.0.2.0/25"]
    (spec,) = pair.installed.values()
    assert next(iter(pair.core.v1.sas.values())).children[spec.spi_in].dh_group == 0


def test_pfs_required_but_not_offered(tmp_path):
    pair = Pair1(make_config(tmp_path, MAIN_PSK.replace(
        '"aes256-sha256-modp2048", "aes256-sha256", "aes256gcm16"', '"aes256-sha256-modp2048"')))
    c = site(pair)  # no PFS
    pair.connect(c)
    assert c.state == "failed" and "NO_PROPOSAL_CHOSEN" in c.failure and c.children == []
    assert V1NotifyType.NO_PROPOSAL_CHOSEN in c.notifies  # told, encrypted
    assert pair.installed == {}
    assert len(pair.core.v1.sas) == 1  # the ISAKMP SA lives on


def test_main_mode_picks_psk_by_address_and_connection_by_id(tmp_path):
    # two connections, one key: Main Mode uses the first for the keys (the ID is still
    # encrypted), MM5's ID then moves the SA to the connection that accepts it
    other = MAIN_PSK.replace("[connections.site]", "[connections.other]").replace(
        'remote_id = "*@example.test"', 'remote_id = "*@other.test"')
    pair = Pair1(make_config(tmp_path, other, MAIN_PSK))
    c = site(pair)
    pair.connect(c)
    assert c.state == "established", c.failure
    (sa,) = pair.core.v1.sas.values()
    assert sa.connection.name == "site"


def test_unknown_identity_refused(pair):
    c = site(pair, local_id="mallory@evil.test")
    pair.connect(c)
    assert c.state != "established"
    assert pair.core.v1.sas == {}
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]


def test_wrong_psk(pair):
    # MM5 encrypted with other keys decrypts to garbage: the PSK differs
    c = site(pair, psk=b"not-the-right-key-000")
    pair.connect(c)
    assert c.state != "established"
    assert pair.core.v1.sas == {} and pair.gauge("half_open") == 0
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [("psk", "failure")]
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]


def test_weak_proposal_gets_no_proposal_chosen_and_no_state(pair):
    c = site(pair, ike="aes128-sha1-modp1024")
    pair.connect(c)
    assert c.state == "failed" and "NO_PROPOSAL_CHOSEN" in c.failure
    assert pair.core.v1.sas == {} and pair.core.v1.half_open == {}
    assert pair.gauge("half_open") == 0


def test_responder_lifetime(pair):
    # RFC 2407 §4.6.3.1: we keep IPsec SAs at most an hour (child_lifetime): a longer
    # proposal is answered with RESPONDER-LIFETIME, a shorter one is taken as it is
    c = site(pair, child_life_seconds=28800)
    pair.connect(c)
    assert c.child.lifetime == 3600.0
    (spec,) = pair.installed.values()
    assert spec.lifetime_hard == 3600.0
    c2 = site(pair, child_life_seconds=600, address=("198.51.100.200", 1500))
    pair.connect(c2)
    assert c2.child.lifetime is None
    assert pair.installed[c2.child.spi_out].lifetime_hard == 600.0


def test_commit_bit_tolerated(pair):
    c = site(pair, commit=True)
    pair.connect(c)
    assert c.state == "established" and len(pair.installed) == 1


# ------------------------------------------------------------------ Aggressive + XAuth --


def test_aggressive_mode_xauth_mode_config(pair):
    # AM1 -> AM2 -> AM3, TRANSACTION X_USER/X_PWD, X_STATUS, CPRQ(ADDR) -> CPRP, QM
    c = road_warrior(pair)
    pair.connect(c)
    assert c.state == "established", c.failure
    assert c.xauth_status == 1 and c.xauth_requests == 1
    assert c.vip == ipaddress.IPv4Address("198.51.100.2")
    # netmask only because it was asked for; DNS; the split-include network
    assert c.cfg_attributes[A.INTERNAL_IP4_NETMASK] == bytes([255, 255, 255, 0])
    assert c.cfg_attributes[A.INTERNAL_IP4_DNS] == bytes([198, 51, 100, 1])
    assert c.cfg_attributes[A.INTERNAL_IP4_SUBNET] == bytes([192, 0, 2, 0, 255, 255, 255, 128])
    (sa,) = pair.core.v1.sas.values()
    assert (sa.xauth_user, sa.auth_label, str(sa.peer_id)) == ("alice", "xauth",
                                                               "group1@example.test")
    (spec,) = pair.installed.values()
    assert [str(t) for t in spec.ts_remote] == ["198.51.100.2/32"]
    (request,) = pair.auth_requests
    assert (request.method, request.connection, request.username,
            request.password) == ("password", "rw", "alice", b"alice-Secret-1")
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [("xauth", "success")]
    (est,) = pair.of(ev.IkeSaEstablished)
    assert (est.version, est.auth) == (1, "xauth")
    desc = pair.core.status()[0]
    assert desc["eap_identity"] == "alice" and desc["virtual_ip"] == "198.51.100.2"


def test_aggressive_mode_third_message_in_the_clear(pair):
    c = road_warrior(pair, encrypt_am3=False)
    pair.connect(c)
    assert c.state == "established", c.failure


def test_unity_client_gets_unity_split_include(pair):
    c = road_warrior(pair, unity=True)
    pair.connect(c)
    assert c.cfg_attributes[A.UNITY_SPLIT_INCLUDE] == bytes([192, 0, 2, 0, 255, 255, 255, 128]
                                                           ) + bytes(6)
    assert A.INTERNAL_IP4_SUBNET not in c.cfg_attributes


def test_xauth_wrong_password_bounded_retries(pair):
    c = road_warrior(pair, password=b"guess")
    pair.connect(c)
    assert c.failure == "XAuth failed" and c.xauth_status == 0
    assert c.xauth_requests == 3  # xauth_retries
    assert [e.result for e in pair.of(ev.AuthAttempt)] == ["failure"] * 3
    assert pair.core.v1.sas == {} and c.deleted_isakmp
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]
    assert pair.gauge("half_open") == 0 and pair.gauge("established") == 0


def test_xauth_unknown_user_gets_the_same_answer(pair):
    c = road_warrior(pair, user="mallory", password=b"guess")
    pair.connect(c)
    assert c.failure == "XAuth failed" and c.xauth_status == 0 and c.xauth_requests == 3


def test_xauth_second_attempt_succeeds(pair):
    pair.hold_auth = True
    c = road_warrior(pair)
    pair.connect(c)
    pair.answer_auth(pair.pending_auth.pop(), ok=False)
    pair.flush(c)
    assert c.xauth_requests == 2
    pair.answer_auth(pair.pending_auth.pop(), ok=True)
    pair.flush(c)
    assert c.state == "established", c.failure
    assert [e.result for e in pair.of(ev.AuthAttempt)] == ["failure", "success"]


def test_xauth_answer_after_the_sa_is_gone(pair):
    pair.hold_auth = True
    c = road_warrior(pair)
    pair.connect(c)
    (request,) = pair.pending_auth
    pair.core.shutdown(pair.now)
    pair.answer_auth(request, ok=True)  # cancelled: nothing happens, nothing raises
    assert pair.core.v1.sas == {}


def test_mode_config_push_when_the_client_does_not_ask(pair):
    c = road_warrior(pair)
    c.s.want_vip = False
    pair.connect(c)
    assert c.vip is None and c.state == "established"
    pair.advance(3.0, c)  # phase1.CFG_PUSH_WAIT
    assert c.vip == ipaddress.IPv4Address("198.51.100.2")
    assert pair.core.status()[0]["virtual_ip"] == "198.51.100.2"


def test_mode_config_request_before_xauth_is_ignored(pair):
    pair.hold_auth = True
    c = road_warrior(pair)
    pair.connect(c)
    c.state = "config"
    early = c._cfg_request()
    pair.deliver(c, early)  # still in XAuth: dropped untouched
    assert c.vip is None and pair.core.status()[0]["virtual_ip"] is None
    pair.answer_auth(pair.pending_auth.pop(), ok=True)
    pair.flush(c)
    assert c.state == "established" and c.vip is not None
    # the early request repeated now gets its answer (it was not remembered as seen)
    answers = len(pair.sent_to[c.local])
    pair.deliver(c, early)
    assert len(pair.sent_to[c.local]) == answers + 1


def test_aggressive_mode_refused_unless_enabled(tmp_path):
    pair = Pair1(make_config(tmp_path, XAUTH_PSK.replace("aggressive = true\n", "")))
    c = road_warrior(pair)
    pair.connect(c)
    assert c.state == "failed" and "AUTHENTICATION_FAILED" in c.failure
    assert pair.core.v1.sas == {}
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]


def test_aggressive_mode_unknown_identity(pair):
    c = road_warrior(pair)
    c.s.local_id = type(c.s.local_id).parse("group2@example.test")
    pair.connect(c)
    assert c.state == "failed" and "AUTHENTICATION_FAILED" in c.failure


def test_main_mode_xauth(pair):
    c = road_warrior(pair, aggressive=False, address=("198.51.100.200", 500))
    pair.connect(c)
    assert c.state == "established", c.failure
    assert c.vip is not None


# ------------------------------------------------------------------ status, metrics ----


def test_status_has_the_keys_of_ikev2(pair, tmp_path):
    from .ikev2_pair import BASE_CONFIG, Pair
    from .ikev2_pair import make_config as make_v2
    c = site(pair)
    pair.connect(c)
    (tmp_path / "v2").mkdir()
    v2 = Pair(make_v2(tmp_path / "v2", BASE_CONFIG))
    c2 = v2.client()
    v2.connect(c2)
    ours, theirs = pair.core.status()[0], v2.core.status()[0]
    assert set(ours) == set(theirs) and ours["version"] == 1
    assert set(ours["child_sas"][0]) == set(theirs["child_sas"][0])


def test_exchange_names_are_the_metric_labels():
    assert sorted(EXCHANGE_NAMES.values()) == sorted(EXCHANGES_V1)
    assert EXCHANGE_NAMES[V1ExchangeType.QUICK_MODE] == "QUICK_MODE"


def test_cookie_carries_the_worker_index(tmp_path):
    from ikesrv.core import Core
    config = make_config(tmp_path, MAIN_PSK, XAUTH_PSK)
    pair = Pair1(config)
    pair.core = Core(config, rng=pair.rng.randbytes, worker_index=3, worker_count=4)
    c = site(pair)
    pair.connect(c)
    assert c.state == "established" and c.sa.spi_r[0] == 3
    assert all((spi >> 24) == 3 for spi in pair.installed)


def test_events_feed_the_metrics(pair):
    from ikesrv.metrics import Metrics
    c = road_warrior(pair)
    pair.connect(c)
    bad = road_warrior(pair, password=b"guess", address=("203.0.113.6", 500))
    pair.connect(bad)
    m = Metrics()
    for e in pair.events:
        m.observe(e)
    value = m.registry.get_sample_value
    assert value("ikesrv_ike_sas", {"version": "1", "state": "established", "worker": "0"}) == 1
    assert value("ikesrv_ike_sas", {"version": "1", "state": "half_open", "worker": "0"}) == 0
    assert value("ikesrv_ike_sa_established_total", {"version": "1", "auth": "xauth"}) == 1
    assert value("ikesrv_ike_sa_failed_total",
                 {"version": "1", "reason": "authentication_failed"}) == 1
    assert value("ikesrv_auth_total", {"method": "xauth", "result": "failure"}) == 3
    assert value("ikesrv_child_sas", {"version": "1", "worker": "0"}) == 1
    assert value("ikesrv_messages_total", {"direction": "in", "version": "1",
                                           "exchange": "TRANSACTION", "worker": "0"}) >= 4


def test_the_demo_configuration_serves_ikev1_clients():
    from ikesrv.config import DEMO_PATH, load
    config = load(DEMO_PATH)
    psk = (DEMO_PATH.parent / "demo-ikev1.psk").read_bytes().strip()
    pair = Pair1(config)
    c = pair.client(psk=psk, local_id="laptop@demo.test", address=("127.0.0.2", 500),
                    xauth_user="alice", xauth_password=b"alice-Secret-1", want_vip=True,
                    ts_local=[NET("0.0.0.0/0")], ts_remote=[NET("0.0.0.0/0")])
    pair.connect(c)
    assert c.state == "established", c.failure
    assert c.vip in ipaddress.ip_network("10.99.0.0/24")
    (sa,) = pair.core.v1.sas.values()
    assert sa.connection.name == "ikev1-xauth" and sa.xauth_user == "alice"
