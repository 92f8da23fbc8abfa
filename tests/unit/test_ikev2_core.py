"""The IKEv2 core against the in-memory initiator: exchanges as a client sees them."""

from __future__ import annotations

import ipaddress

import pytest

from ikesrv import events as ev

from .ikev2_pair import Pair, make_config


@pytest.fixture
def pair(tmp_path):
    return Pair(make_config(tmp_path))


def test_psk_client_establishes_with_vip_dns_and_narrowed_ts(pair):
    client = pair.client()
    pair.connect(client)
    assert client.state == "established", client.failure
    assert client.vip == ipaddress.IPv4Address("198.51.100.2")
    assert client.dns == [ipaddress.IPv4Address("198.51.100.1")]
    assert [str(t) for t in client.child.ts_local] == ["198.51.100.2/32"]
    assert [str(t) for t in client.child.ts_remote] == ["192.0.2.0/25"]
    assert client.child.suite.startswith("aes256gcm16")
    (spec,) = pair.installed.values()
    assert spec.spi_out == client.child.spi_in and spec.spi_in == client.child.spi_out
    # both sides derived the same ESP keys
    assert spec.keys_in.encr_key == client.child.keys.encr_i
    assert spec.keys_out.encr_key == client.child.keys.encr_r
    assert pair.gauge("established") == 1 and pair.gauge("half_open") == 0
    (done,) = pair.of(ev.IkeSaEstablished)
    assert done.auth == "psk" and done.suite == "aes256gcm16-prfsha384-ecp384"


def test_wrong_psk_gets_authentication_failed_and_no_state(pair):
    client = pair.client(psk=b"not-the-right-key-0123")
    pair.connect(client)
    assert client.state == "failed" and "AUTHENTICATION_FAILED" in client.failure
    assert pair.core.v2.sas == {}
    assert pair.gauge("established") == 0 and pair.gauge("half_open") == 0
    assert [(e.method, e.result) for e in pair.of(ev.AuthAttempt)] == [("psk", "failure")]
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["authentication_failed"]
    assert pair.installed == {}


def test_ke_group_acceptable_in_the_selected_proposal_is_taken_without_a_round_trip(tmp_path):
    from .ikev2_pair import BASE_CONFIG
    text = BASE_CONFIG.replace(
        'proposals = ["aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519", '
        '"aes256-sha256-modp2048"]', 'proposals = ["aes256-sha256-x25519-modp2048"]')
    pair = Pair(make_config(tmp_path, text))
    client = pair.client(ike="aes256-sha256-modp2048-x25519", esp="aes128-sha256")
    pair.connect(client)
    assert client.state == "established", client.failure
    # our order says x25519, but the client's KE is MODP-2048, which is acceptable too
    assert client.sa.proposal.dh == 14
    assert len(pair.sent_to[client.local]) == 2  # IKE_SA_INIT and IKE_AUTH answers only


def test_invalid_ke_round_trip_when_ke_group_is_not_acceptable(pair):
    client = pair.client(ike="aes256-sha256-ecp256-modp2048", esp="aes128-sha256")
    client._group = 19  # ecp256 is not in any of our proposals: we ask for modp2048
    pair.connect(client)
    assert client.state == "established", client.failure
    assert client.sa.proposal.dh == 14
    first_answer = pair.sent_to[client.local][0]
    from ikesrv.wire import ikev2 as w
    msg = w.decode_message(first_answer)
    (n,) = msg.payloads
    assert n.type == 17 and n.data == (14).to_bytes(2, "big") and msg.spi_r == bytes(8)


def test_no_proposal_chosen_for_weak_offer(pair):
    client = pair.client(ike="3des-sha1-modp1024", esp="3des-sha1")
    pair.connect(client)
    assert client.state == "failed" and "NO_PROPOSAL_CHOSEN" in client.failure
    assert pair.core.v2.sas == {}
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["no_proposal_chosen"]


def test_retransmitted_ike_auth_gets_the_cached_answer(pair):
    client = pair.client()
    out = client.start(pair.now)
    pair.drop_next_to_client = 0
    pair.deliver(client, out)
    assert client.state == "established"
    sa = next(iter(pair.core.v2.sas.values()))
    answers = list(pair.sent_to[client.local])
    # the client retransmits IKE_AUTH (its answer was "lost"): the same bytes come back,
    # nothing is processed twice
    pair.core.datagram_received(client.last_request[0], ("192.0.2.1", 500), client.local,
                                pair.now)
    again = [a.data for a in pair.core.actions() if hasattr(a, "data")]
    assert again == [answers[-1]]
    assert len(pair.installed) == 1 and len(sa.children) == 1


def test_liveness_check_from_client_and_delete_from_client(pair):
    client = pair.client()
    pair.connect(client)
    pair.deliver(client, client.liveness(pair.now))
    assert getattr(client, "alive_at", None) == pair.now
    pair.deliver(client, client.delete(pair.now))
    assert client.state == "deleted"
    assert pair.core.v2.sas == {}
    assert pair.installed == {}
    assert pair.gauge("established") == 0
    assert sum(e.delta for e in pair.of(ev.ChildSaChanged)) == 0
    pool = pair.core.pools["rw"]
    assert pool.used == 0


def test_responder_dpd_after_silence_and_peer_declared_dead(pair):
    client = pair.client()
    pair.connect(client)
    pair.advance(31, client)  # dpd_delay 30 s: one liveness check, answered
    assert client.peer_requests == 1
    assert [e.result for e in pair.of(ev.DpdResult)] == ["alive"]
    # now the client vanishes: checks go unanswered until the schedule runs out
    pair.advance(31 + 4 + 7.2 + 13 + 23.4 + 42 + 76 + 1)
    assert [e.result for e in pair.of(ev.DpdResult)] == ["alive", "dead"]
    assert pair.core.v2.sas == {} and pair.installed == {}


def test_child_rekey_without_and_with_pfs(pair):
    client = pair.client(esp="aes256gcm16,aes256gcm16-ecp384")
    pair.connect(client)
    first = client.child
    pair.deliver(client, client.rekey_child(pair.now))
    assert client.child is not first and client.child.spi_in != first.spi_in
    assert first not in client.children
    assert set(pair.installed) == {client.child.spi_out}
    pair.deliver(client, client.rekey_child(pair.now, pfs_group=20))
    assert "ecp384" in client.child.suite
    spec = pair.installed[client.child.spi_out]
    assert spec.keys_in.encr_key == client.child.keys.encr_i
    assert [e.result for e in pair.of(ev.Rekeyed)] == ["ok", "ok"]
    assert sum(e.delta for e in pair.of(ev.ChildSaChanged)) == 1


def test_child_rekeys_adding_pfs_that_we_did_not_configure(pair):
    """Our ESP proposals name no group; a peer that adds PFS on its rekeys (Windows does)
    gets it with a group our IKE proposals trust, every time: the offer matched against
    the same proposal list each time, so the decision is taken once and remembered."""
    client = pair.client(esp="aes256gcm16-ecp384")
    pair.connect(client)
    conn = next(iter(pair.core.v2.sas.values())).connection
    for _ in range(2):
        pair.deliver(client, client.rekey_child(pair.now, pfs_group=20))
        assert client.child.suite.startswith("aes256gcm16-ecp384"), client.failure
    assert [e.result for e in pair.of(ev.Rekeyed)] == ["ok", "ok"]
    assert conn.esp_proposals_for_pfs(20) is conn.esp_proposals_for_pfs(20)
    assert all(spec.dh_groups == (20,) for spec in conn.esp_proposals_for_pfs(20))


def test_ike_rekey_moves_children_and_keeps_vip(pair):
    client = pair.client()
    pair.connect(client)
    vip = client.vip
    pair.deliver(client, client.rekey_ike(pair.now))
    assert client.sa.spi_i != client.old_sa.spi_i
    sas = list(pair.core.v2.sas.values())
    assert len(sas) == 1 and sas[0].spi_i == client.sa.spi_i
    assert len(sas[0].children) == 1 and sas[0].vip == vip
    # the new SA works: a liveness check over it
    pair.deliver(client, client.liveness(pair.now))
    assert client.alive_at == pair.now
    assert pair.gauge("established") == 1
    assert [e.kind for e in pair.of(ev.Rekeyed)] == ["ike"]


REKEYING = 'rekey = true\nchild_lifetime = "100s"\nike_lifetime = "1000s"\ndpd_delay = "0s"\n'


def rekeying_pair(tmp_path, seed=1):
    from .ikev2_pair import BASE_CONFIG
    text = BASE_CONFIG.replace('dpd_delay = "30s"\n', "") + REKEYING
    return Pair(make_config(tmp_path, text), seed=seed)


def test_ikesrv_rekeys_the_child_sa_and_deletes_the_old_one(tmp_path):
    pair = rekeying_pair(tmp_path)
    client = pair.client()
    pair.connect(client)
    first = client.child
    pair.advance(96, client)  # soft lifetime at 90 s minus up to 5 % jitter
    assert len(client.children) == 1 and client.child is not first
    new = client.child
    assert new.created_by_peer
    assert set(pair.installed) == {new.spi_out}
    spec = pair.installed[new.spi_out]
    # §2.17: we initiated, so the first keys are ours outbound = the client's inbound
    assert spec.keys_out.encr_key == new.keys.encr_i and spec.keys_in.encr_key == new.keys.encr_r
    assert spec.reqid == pair.removed[0].spec.reqid and not spec.install_policies
    assert [(e.kind, e.result) for e in pair.of(ev.Rekeyed)] == [("child", "ok")]


def test_ikesrv_rekeys_the_ike_sa(tmp_path):
    pair = rekeying_pair(tmp_path)
    client = pair.client()
    pair.connect(client)
    old_spis = (client.sa.spi_i, client.sa.spi_r)
    pair.advance(951, client)  # 90 % of 1000 s minus jitter
    assert client.ike_rekeys_answered == 1
    (sa,) = pair.core.v2.sas.values()
    assert (sa.spi_i, sa.spi_r) == (client.sa.spi_i, client.sa.spi_r) != old_spis
    assert sa.we_initiated and len(sa.children) == 1 and sa.vip == client.vip
    pair.deliver(client, client.liveness(pair.now))  # the client uses the new SA
    assert client.alive_at == pair.now
    assert pair.gauge("established") == 1
    assert [(e.kind, e.result) for e in pair.of(ev.Rekeyed) if e.kind == "ike"] == [("ike", "ok")]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_simultaneous_child_rekey_lowest_nonce_loses(tmp_path, seed):
    """§2.8.1: both ends rekey the same CHILD SA at once; both exchanges complete and the
    new SA created with the lowest of the four nonces is deleted by its creator."""
    pair = rekeying_pair(tmp_path, seed=seed)
    client = pair.client()
    pair.connect(client)
    old = client.child
    pair.hold_next = 1
    while not pair.held:  # until our rekey request R1 is on its way (held)
        pair.advance(0.5, client)
    (r1,) = pair.held
    pair.hold_next = 1
    pair.deliver(client, client.rekey_child(pair.now))  # the client's R2; our answer held
    ours_answer = pair.held[1]
    pair.held.pop(1)
    pair.hold_next = 0
    target, data = pair.held.pop(0)
    answer = target.receive(data, pair.now)  # R1 reaches the client, which answers it
    server_created = next(c for c in client.children if c.created_by_peer)
    pair.deliver(target, answer)  # our R1 completes: both exchanges are now done
    target, data = ours_answer
    pair.deliver(target, target.receive(data, pair.now))  # R2's answer reaches the client
    client_created = client.child
    (sa,) = pair.core.v2.sas.values()
    server_lowest = min(server_created.nonces)
    client_lowest = min(client_created.nonces)
    survivors = {c.spi_out for c in sa.children.values()}
    if server_lowest < client_lowest:
        # ours holds the lowest nonce: we delete what we created, keep the client's
        assert server_created.spi_in not in survivors
        assert ("child", "collision_lost") in [(e.kind, e.result) for e in pair.of(ev.Rekeyed)]
    else:
        # ours survives; deleting the client's SA is the client's job
        assert server_created.spi_in in survivors
    assert old.spi_in not in survivors  # the rekeyed SA itself is gone either way
    assert client_created.spi_in in survivors or server_lowest >= client_lowest
