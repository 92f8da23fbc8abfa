"""IKEv1 core over an SA's life: retransmissions (phase 1 has no message IDs: the same
bytes get the same answer), DPD both ways (RFC 3706), deletes, lifetimes, kernel
events, NAT-T (RFC 3947 and the drafts), keepalives, uniqueness and phase 1 rekeys,
Quick Mode rekeys."""

from __future__ import annotations

import pytest

from ikesrv import events as ev
from ikesrv.actions import KernelEvent, RemoveChildSa
from ikesrv.constants import V1EncapsulationMode, V1ExchangeType, V1NotifyType
from ikesrv.wire import ikev1 as w

from .ikev1_pair import MAIN_PSK, XAUTH_PSK, Pair1, header, make_config, once
from .test_ikev1_core import road_warrior, site

X = V1ExchangeType


@pytest.fixture
def pair(tmp_path):
    return Pair1(make_config(tmp_path, MAIN_PSK, XAUTH_PSK))


def encrypted(exchange: int):
    return lambda data: header(data)[0] == exchange and header(data)[1] & 1


def sent_to(pair, client) -> list[bytes]:
    return pair.sent_to.get(client.local, [])


# ------------------------------------------------------------------ retransmissions ----


def test_retransmitted_first_message_gets_the_same_answer(pair):
    c = site(pair)
    pair.drop_next_to_client = 1  # MM2 is lost
    pair.connect(c)
    assert c.state == "mm_sa" and len(pair.core.v1.sas) == 1
    pair.deliver(c, c.retransmit())
    assert c.state == "established", c.failure
    first, second = sent_to(pair, c)[:2]
    assert first == second and len(pair.core.v1.sas) == 1


def test_retransmitted_mm5_answered_from_the_cache(pair):
    c = site(pair)
    pair.drop_to_client = once(encrypted(X.IDENTITY_PROTECTION))  # MM6 is lost
    pair.connect(c)
    assert c.state == "mm_auth"
    lost = pair.drop_to_client.fired[0]
    pair.deliver(c, c.retransmit())
    assert c.state == "established", c.failure
    assert lost in sent_to(pair, c)  # the very same bytes again
    assert len(pair.of(ev.IkeSaEstablished)) == 1 and len(pair.installed) == 1


def test_lost_am3_responder_resends_am2(pair):
    c = road_warrior(pair)
    pair.drop_to_server = once(lambda d: header(d)[0] == X.AGGRESSIVE and d[8:16] != bytes(8))
    pair.connect(c)
    assert c.state == "xauth" and pair.core.v1.sas[c.sa.spi_r].state.value == "am_sent"
    pair.advance(5.0, c)  # AM2 again; the client answers with AM3 again
    assert c.state == "established", c.failure


def test_lost_qm2_and_lost_qm3(pair):
    c = site(pair)
    pair.drop_to_client = once(lambda d: header(d)[0] == X.QUICK_MODE)
    pair.connect(c)
    assert c.children == []
    pair.deliver(c, c.retransmit())  # QM1 again: the same QM2
    assert len(c.children) == 1
    assert len(pair.installed) == 1
    # a lost QM3: we resend QM2 until the initiator repeats QM3 (RFC 2409 §5.5)
    pair.drop_to_server = once(lambda d: header(d)[0] == X.QUICK_MODE and len(d) < 100)
    pair.deliver(c, c.rekey_child(pair.now))
    assert len(pair.installed) == 1
    pair.advance(5.0, c)
    assert len(pair.installed) == 2


def test_quick_mode_never_completed_is_dropped(pair):
    c = site(pair, dpd=False)
    pair.connect(c)
    pair.gone.add(id(c))
    pair.deliver(c, c.rekey_child(pair.now))
    (sa,) = pair.core.v1.sas.values()
    assert len(sa.quick_modes) == 1
    pair.advance(200.0)
    assert sa.quick_modes == {} and len(sa.children) == 1 and sa.state.value == "established"


# ------------------------------------------------------------------ DPD ----------------


def test_r_u_there_answered(pair):
    c = site(pair)
    pair.connect(c)
    pair.deliver(c, c.dpd(pair.now))
    assert c.dpd_acks == [c._dpd_seq]


def test_our_liveness_checks_alive_then_dead(pair):
    c = site(pair)
    pair.connect(c)
    pair.advance(31.0, c)  # dpd_delay of silence
    assert c.peer_dpd_requests == 1
    assert [e.result for e in pair.of(ev.DpdResult)] == ["alive"]
    pair.gone.add(id(c))
    pair.advance(200.0, c)
    assert [e.result for e in pair.of(ev.DpdResult)] == ["alive", "dead"]
    assert pair.core.v1.sas == {} and pair.installed == {}
    assert pair.gauge("established") == 0


def test_no_liveness_checks_without_the_dpd_vendor_id(pair):
    c = site(pair, dpd=False)
    pair.connect(c)
    pair.advance(100.0, c)
    assert c.peer_dpd_requests == 0 and len(pair.core.v1.sas) == 1


# ------------------------------------------------------------------ deletes, lifetimes --


def test_client_deletes_its_ipsec_sa_then_everything(pair):
    c = road_warrior(pair)
    pair.connect(c)
    c.s.want_vip = False
    pair.deliver(c, c.rekey_child(pair.now))
    assert len(pair.installed) == 2
    pair.deliver(c, c.delete_child(c.children[0], pair.now))
    assert len(pair.installed) == 1
    assert [e.delta for e in pair.of(ev.ChildSaChanged)] == [1, 1, -1]
    pair.deliver(c, c.delete(pair.now))
    assert pair.core.v1.sas == {} and pair.installed == {}
    assert pair.core.pools["rw"].used == 0


def test_ipsec_sa_lifetime_ends_with_a_delete(pair):
    c = site(pair, child_life_seconds=600)
    pair.connect(c)
    spi_in = c.child.spi_out
    pair.advance(601.0, c)
    assert c.deleted_spis == [spi_in] and c.children == []
    assert pair.installed == {} and len(pair.core.v1.sas) == 1


def test_isakmp_lifetime_ends_with_deletes(pair):
    c = site(pair, life_seconds=300, dpd=False)
    pair.connect(c)
    pair.advance(301.0, c)
    assert c.deleted_isakmp and pair.core.v1.sas == {}


def test_shutdown_sends_deletes(pair):
    c = site(pair)
    pair.connect(c)
    spi = c.child.spi_out
    pair.core.shutdown(pair.now)
    pair.flush(c)
    assert c.deleted_spis == [spi] and c.deleted_isakmp


def test_kernel_hard_expiry(pair):
    c = site(pair)
    pair.connect(c)
    (spec,) = pair.installed.values()
    pair.core.kernel_event(KernelEvent("soft", spec.reqid, spec.spi_in), pair.now)
    pair.flush(c)
    assert len(pair.installed) == 1  # the initiator rekeys in IKEv1
    pair.core.kernel_event(KernelEvent("hard", spec.reqid, spec.spi_in), pair.now)
    pair.flush(c)
    assert pair.installed == {} and c.deleted_spis == [spec.spi_in]


def test_kernel_refuses_the_sa(pair):
    pair.kernel_ok = False
    c = site(pair)
    pair.connect(c)
    (spec,) = pair.installed.values()  # asked for, refused
    assert c.deleted_spis == [spec.spi_in]  # the initiator is told (RFC 2408 §4.8)
    (sa,) = pair.core.v1.sas.values()
    assert sa.children == {} and sa.state.value == "established"
    assert pair.of(ev.ChildSaChanged) == []


def test_half_open_timeout(pair):
    c = site(pair)
    pair.gone.add(id(c))
    pair.connect(c)
    assert len(pair.core.v1.sas) == 1 and pair.gauge("half_open") == 1
    pair.advance(31.0)
    assert pair.core.v1.sas == {} and pair.gauge("half_open") == 0
    assert [e.reason for e in pair.of(ev.IkeSaFailed)] == ["timeout"]


# ------------------------------------------------------------------ NAT-T --------------


@pytest.mark.parametrize("natt,natd_type,mode", [
    ("rfc", 20, V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL),
    ("draft-03", 130, V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT),
    ("draft-02", 130, V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT),
])
def test_client_behind_nat(pair, natt, natd_type, mode):
    c = site(pair, natt=natt, fake_nat=True)
    pair.connect(c)
    assert c.state == "established", c.failure
    assert c.remote[1] == 4500 and c.child.mode == mode
    (sa,) = pair.core.v1.sas.values()
    assert sa.remote_behind_nat and not sa.local_behind_nat and sa.local[1] == 4500
    (spec,) = pair.installed.values()
    assert spec.encap and spec.local[1] == 4500
    mm4 = w.decode_message(pair.sent_to[(c.local[0], 500)][1])
    assert [p.payload_type for p in mm4.payloads[2:]] == [natd_type, natd_type]
    assert pair.core.status()[0]["nat"] is True
    # half-open under the address of its MM1, established after moving to port 4500
    assert pair.core.v1.half_open == {} and pair.core.half_open_counts(c.local[0]) == (0, 0)


def test_no_nat(pair):
    c = site(pair)
    pair.connect(c)
    (spec,) = pair.installed.values()
    assert not spec.encap and c.child.mode == V1EncapsulationMode.TUNNEL and c.remote[1] == 500


def test_no_nat_t_no_nat_d(pair):
    c = site(pair, natt=None)
    pair.connect(c)
    mm4 = w.decode_message(sent_to(pair, c)[1])
    assert [p.payload_type for p in mm4.payloads] == [4, 10]  # KE, Nr
    assert c.state == "established"


def test_keepalives_when_we_are_behind_nat(pair):
    c = site(pair, fake_nat_responder=True, dpd=False)
    pair.connect(c)
    assert pair.core.v1.sas[c.sa.spi_r].local_behind_nat
    pair.advance(45.0, c)
    assert len(pair.keepalives) == 2 and pair.keepalives[0].remote == c.local


# ------------------------------------------------------------------ uniqueness ---------


def test_initial_contact_drops_stale_sas(pair):
    old = site(pair)
    pair.connect(old)
    new = site(pair, address=("203.0.113.9", 500))
    pair.connect(new)
    assert [sa.spi_i for sa in pair.core.v1.sas.values()] == [new.sa.spi_i]
    assert not old.deleted_isakmp  # stale: no Delete to a peer that forgot it


def test_replace_sends_a_delete_to_the_old_sa(pair):
    old = site(pair)
    pair.connect(old)
    new = site(pair, address=("203.0.113.9", 500), initial_contact=False)
    pair.connect(new)
    assert [sa.spi_i for sa in pair.core.v1.sas.values()] == [new.sa.spi_i]
    assert old.deleted_isakmp


def test_keep_refuses_the_second(tmp_path):
    pair = Pair1(make_config(tmp_path, MAIN_PSK + 'unique = "keep"\n'))
    old = site(pair)
    pair.connect(old)
    new = site(pair, address=("203.0.113.9", 500), initial_contact=False)
    pair.connect(new)
    assert new.state == "failed"
    assert [sa.spi_i for sa in pair.core.v1.sas.values()] == [old.sa.spi_i]


def test_phase1_rekey_takes_the_ipsec_sas_and_address_over(pair):
    old = road_warrior(pair, initial_contact=False)
    pair.connect(old)
    vip = old.vip
    new = road_warrior(pair, initial_contact=False)  # same address and port
    pair.connect(new)
    assert new.state == "established" and new.vip == vip
    sas = {sa.spi_i: sa for sa in pair.core.v1.sas.values()}
    assert sas[old.sa.spi_i].state.value == "rekeyed"
    # the adopted IPsec SA, replaced by the new client's Quick Mode for the same selectors
    states = sorted(ch.state.value for ch in sas[new.sa.spi_i].children.values())
    assert states == ["installed", "rekeyed"]
    assert pair.core.pools["rw"].used == 1
    assert [e.kind for e in pair.of(ev.Rekeyed)] == ["ike", "child"]
    pair.advance(11.0, old)
    assert old.deleted_isakmp and list(pair.core.v1.sas) == [new.sa.spi_r]
    assert len(pair.installed) == 2 and not [r for r in pair.removed]


def test_initial_contact_after_phase1(tmp_path):
    pair = Pair1(make_config(tmp_path, MAIN_PSK + 'unique = "never"\n'))
    first = site(pair, initial_contact=False)
    pair.connect(first)
    second = site(pair, initial_contact=False, address=("203.0.113.9", 500))
    pair.connect(second)
    assert len(pair.core.v1.sas) == 2
    pair.deliver(second, second.notify(V1NotifyType.INITIAL_CONTACT))
    assert [sa.spi_i for sa in pair.core.v1.sas.values()] == [second.sa.spi_i]


# ------------------------------------------------------------------ Quick Mode rekey ---


def test_quick_mode_rekey_by_the_initiator(pair):
    c = site(pair)
    pair.connect(c)
    (old,) = pair.installed.values()
    pair.deliver(c, c.rekey_child(pair.now))
    new = pair.installed[c.child.spi_out]
    assert new.reqid == old.reqid and not new.install_policies and old.install_policies
    assert [(e.kind, e.result) for e in pair.of(ev.Rekeyed)] == [("child", "ok")]
    states = {ch.spi_in: ch.state.value for ch in pair.core.v1.sas[c.sa.spi_r].children.values()}
    assert states == {old.spi_in: "rekeyed", new.spi_in: "installed"}
    pair.advance(31.0, c)  # the replaced SA goes, with a Delete; the policies stay
    assert c.deleted_spis == [old.spi_in]
    (removed,) = [r for r in pair.removed if isinstance(r, RemoveChildSa)]
    assert removed.spec.spi_in == old.spi_in and not removed.remove_policies
    assert list(pair.installed) == [new.spi_in]


def test_forged_informational_is_dropped(pair):
    c = site(pair)
    pair.connect(c)
    data = bytearray(c.dpd(pair.now)[0])
    data[-1] ^= 1  # the HASH no longer verifies (or the padding broke)
    pair.deliver(c, [bytes(data)])
    assert c.dpd_acks == []
    assert any(e.reason in ("integrity", "malformed") for e in pair.of(ev.InvalidMessage))
    pair.deliver(c, c.dpd(pair.now))
    assert c.dpd_acks == [c._dpd_seq]


def test_initiator_tells_the_load_generator_what_it_waits_for(pair):
    c = site(pair)
    assert c.outstanding() is None
    first = c.start(pair.now)
    key, datagrams = c.outstanding()
    assert datagrams == first
    pair.deliver(c, first)
    assert c.state == "established" and c.outstanding() is None
    probe = c.liveness(pair.now)
    key2, again = c.outstanding()
    assert again == probe and key2 != key
    pair.deliver(c, probe)
    assert c.outstanding() is None and c.alive_at == pair.now


def test_unprotected_notify_is_logged_not_acted_upon(pair):
    from ikesrv.ikev1 import messages
    c = site(pair)
    pair.connect(c)
    forged = messages.plain(c.sa.spi_i, c.sa.spi_r, X.INFORMATIONAL, 0, [
        messages.notify(V1NotifyType.INVALID_SPI, spi=c.sa.cookies),
        w.DeletePayload(doi=1, protocol=1, spis=[c.sa.cookies], spi_size=16)])
    pair.deliver(c, [forged])
    assert len(pair.core.v1.sas) == 1 and len(pair.installed) == 1
    assert pair.of(ev.InvalidMessage)[-1].reason == "unexpected_payload"


def test_garbled_copy_does_not_break_the_exchange_in_progress(pair):
    # a garbled message with the message ID of our XAuth request must leave that
    # exchange's IV alone: the client's real answer still decrypts
    pair.hold_auth = True
    c = road_warrior(pair)
    pair.drop_to_client = once(lambda d: header(d)[0] == X.TRANSACTION)
    pair.connect(c)
    (request,) = pair.drop_to_client.fired  # our XAuth REQUEST, kept aside
    garbage = bytearray(request)
    garbage[-5] ^= 0xFF
    pair.deliver(c, [bytes(garbage)])  # as if from the client: same cookies and ID
    pair.deliver(c, c.receive(request, pair.now))  # the real REPLY
    assert len(pair.pending_auth) == 1
    pair.answer_auth(pair.pending_auth.pop(), ok=True)
    pair.flush(c)
    assert c.state == "established", c.failure


def test_unauthenticated_garbage_does_not_end_phase1(pair):
    # a plaintext AM3 look-alike with the cookies (anyone on the path has them) is
    # dropped; the SA waits for the real AM3
    c = road_warrior(pair)
    pair.hold_next = 1
    pair.connect(c)
    (_, am2) = pair.held.pop()
    pair.deliver(c, [am2])  # AM2 sent back as if it were AM3: SA, KE... not allowed
    assert len(pair.core.v1.sas) == 1
    pair.deliver(c, c.receive(am2, pair.now))
    assert c.state == "established", c.failure
