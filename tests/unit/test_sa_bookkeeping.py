"""What a worker keeps per SA is gone once the SA is: after clients of every kind (plain,
behind a NAT that moves them to port 4500, rekeying, deleting, vanishing, never finishing
phase 1) have come and gone, the tables an operator's worker would otherwise fill up
over weeks are empty: SAs, half-open SAs and their per-address counts (cookie threshold,
half_open_limit), identities, CHILD SA index, virtual IP leases, timers, pending
requests. Each kind also goes alone first, so that a failure names it."""

from __future__ import annotations

import ipaddress

import pytest

from ikesrv.actions import TrafficSelectorSpec

from .ikev1_pair import GROUP_PSK, MAIN_PSK, XAUTH_PSK, Pair1
from .ikev1_pair import make_config as make_v1_config
from .ikev2_pair import Pair, make_config

NET = ipaddress.ip_network


def spec(text: str) -> TrafficSelectorSpec:
    n = NET(text)
    return TrafficSelectorSpec(n.network_address, n.broadcast_address)


def leftovers(core) -> dict:
    """Every per-SA table of the core that is not empty."""
    found = {}
    for version, r in (("v2", core.v2), ("v1", core.v1)):
        for name in ("sas", "half_open", "half_open_per_ip"):
            table = getattr(r, name)
            if table:
                found[f"{version}.{name}"] = dict(table)
        identities = {k: v for k, v in r.by_identity.items() if v}
        if identities:
            found[f"{version}.by_identity"] = identities
    if core.child_index:
        found["child_index"] = dict(core.child_index)
    if core._pending:
        found["pending requests"] = list(core._pending)
    leased = {name: pool.used for name, pool in core.pools.items() if pool.used}
    if leased:
        found["pool leases"] = leased
    owners = len(core.timers) - 1  # the cookie secret's rotation stays
    if owners:
        found["timer owners"] = owners
    assert core.half_open_counts(None) == (0, 0) or "v2.half_open" in found \
        or "v1.half_open" in found
    return found


# ------------------------------------------------------------------ IKEv2 ---------------


def v2_kinds(pair):
    """name -> what a client of that kind does, from IKE_SA_INIT to its end."""
    def plain(i):
        c = pair.client(local_id=f"plain{i}@example.test", address=(f"198.51.100.{10 + i}", 500))
        pair.connect(c)
        assert c.state == "established"
        pair.deliver(c, c.delete(pair.now))

    def natted(i):
        c = pair.client(local_id=f"nat{i}@example.test", address=(f"198.51.100.{40 + i}", 500))
        c.remote = ("203.0.113.99", 500)  # NAT-D says we are behind a NAT: it floats to 4500
        pair.connect(c)
        assert c.state == "established" and c.local[1] == 4500
        pair.deliver(c, c.delete(pair.now))

    def rekeying(i):
        c = pair.client(local_id=f"rekey{i}@example.test", address=(f"198.51.100.{70 + i}", 500))
        pair.connect(c)
        pair.deliver(c, c.rekey_child(pair.now))
        pair.advance(60, c)  # the replaced CHILD SA's grace period
        pair.deliver(c, c.rekey_ike(pair.now))
        assert c.state == "established"
        pair.deliver(c, c.delete(pair.now))

    def vanishing(i):
        c = pair.client(local_id=f"gone{i}@example.test", address=(f"198.51.100.{100 + i}", 500))
        pair.connect(c)
        pair.gone.add(id(c))  # no more answers: DPD gives up on it
        pair.advance(600)

    def half_open(i):
        c = pair.client(local_id=f"half{i}@example.test", address=(f"198.51.100.{130 + i}", 500))
        init = c.start(pair.now)
        pair.core.datagram_received(init[0], ("192.0.2.1", 500), c.local, pair.now)
        pair.core.actions()  # its IKE_SA_INIT answer is lost; no IKE_AUTH comes
        pair.advance(120)

    def refused_by_kernel(i):
        c = pair.client(local_id=f"nokernel{i}@example.test",
                        address=(f"198.51.100.{160 + i}", 500))
        pair.kernel_ok = False  # the first CHILD SA is not installed; the IKE SA stands
        pair.connect(c)
        pair.kernel_ok = True
        assert c.state == "established" and c.child is None
        pair.deliver(c, c.delete(pair.now))

    return {"plain": plain, "natted": natted, "rekeying": rekeying, "vanishing": vanishing,
            "half_open": half_open, "refused_by_kernel": refused_by_kernel}


V2_KINDS = ["plain", "natted", "rekeying", "vanishing", "half_open", "refused_by_kernel"]


@pytest.mark.parametrize("kind", V2_KINDS)
def test_ikev2_client_leaves_nothing_behind(tmp_path, kind):
    pair = Pair(make_config(tmp_path))
    for i in range(3):
        v2_kinds(pair)[kind](i)
    assert leftovers(pair.core) == {}


def test_ikev2_sas_we_rekey_leave_nothing_behind(tmp_path):
    """Without DPD (the deadline that would have cleaned up soonest), ikesrv rekeying the
    CHILD SA and the IKE SA itself, then the client deleting."""
    from .ikev2_pair import BASE_CONFIG
    text = BASE_CONFIG.replace('dpd_delay = "30s"\n', "") + """rekey = true
ike_lifetime = "1000s"
child_lifetime = "100s"
"""
    pair = Pair(make_config(tmp_path, text))
    for i in range(3):
        c = pair.client(local_id=f"rk{i}@example.test", address=(f"198.51.100.{190 + i}", 500))
        pair.connect(c)
        pair.advance(960, c)  # CHILD SA rekeyed (several times), then the IKE SA
        assert c.ike_rekeys_answered == 1 and len(pair.core.v2.sas) == 1
        pair.deliver(c, c.delete(pair.now))
    assert leftovers(pair.core) == {}


def test_ikev2_mixed_clients_leave_nothing_behind(tmp_path):
    pair = Pair(make_config(tmp_path))
    kinds = v2_kinds(pair)
    for i in range(4):
        for run in kinds.values():
            run(i)
    assert leftovers(pair.core) == {}


# ------------------------------------------------------------------ IKEv1 ---------------


def v1_kinds(pair):
    def site(i, **kw):
        return pair.client(local_id=f"site{i}@example.test", ts_local=[spec("198.51.100.192/26")],
                           ts_remote=[spec("192.0.2.0/25")], **kw)

    def main_mode(i):
        c = site(i, address=(f"203.0.113.{10 + i}", 500))
        pair.connect(c)
        assert c.state == "established", c.failure
        pair.deliver(c, c.delete(pair.now))

    def natted(i):
        c = site(i, address=(f"203.0.113.{40 + i}", 500), fake_nat=True)
        pair.connect(c)
        assert c.state == "established" and c.remote[1] == 4500, c.failure
        pair.deliver(c, c.delete(pair.now))

    def xauth(i):
        c = pair.client(local_id="group1@example.test", psk=GROUP_PSK, xauth_user="alice",
                        xauth_password=b"alice-Secret-1", want_vip=True, aggressive=True,
                        ts_local=[spec("0.0.0.0/0")], ts_remote=[spec("192.0.2.0/25")],
                        address=(f"203.0.113.{70 + i}", 500))
        pair.connect(c)
        assert c.state == "established" and c.child is not None, c.failure
        pair.deliver(c, c.rekey_child(pair.now))
        pair.advance(60, c)
        pair.deliver(c, c.delete(pair.now))

    def vanishing(i):
        c = site(i, address=(f"203.0.113.{100 + i}", 500))
        pair.connect(c)
        pair.gone.add(id(c))
        pair.advance(600)

    def half_open(i):
        c = site(i, address=(f"203.0.113.{130 + i}", 500))
        pair.core.datagram_received(c.start(pair.now)[0], ("192.0.2.1", 500), c.local,
                                    pair.now)
        pair.core.actions()  # MM2 lost, nothing more from the client
        pair.advance(120)

    def xauth_refused(i):
        c = pair.client(local_id="group1@example.test", psk=GROUP_PSK, xauth_user="alice",
                        xauth_password=b"wrong", want_vip=True, aggressive=True,
                        ts_local=[spec("0.0.0.0/0")], ts_remote=[spec("192.0.2.0/25")],
                        address=(f"203.0.113.{160 + i}", 500))
        pair.connect(c)  # three tries, then the ISAKMP SA is deleted
        assert c.state != "established"

    def aggressive_half_open(i):
        c = pair.client(local_id="group1@example.test", psk=GROUP_PSK, xauth_user="alice",
                        xauth_password=b"alice-Secret-1", want_vip=True, aggressive=True,
                        ts_local=[spec("0.0.0.0/0")], ts_remote=[spec("192.0.2.0/25")],
                        address=(f"203.0.113.{190 + i}", 500))
        pair.core.datagram_received(c.start(pair.now)[0], ("192.0.2.1", 500), c.local,
                                    pair.now)
        pair.core.actions()  # AM2 lost: we retransmit it, then give up
        pair.advance(120)

    return {"main_mode": main_mode, "natted": natted, "xauth": xauth, "vanishing": vanishing,
            "half_open": half_open, "xauth_refused": xauth_refused,
            "aggressive_half_open": aggressive_half_open}


V1_KINDS = ["main_mode", "natted", "xauth", "vanishing", "half_open", "xauth_refused",
            "aggressive_half_open"]


@pytest.mark.parametrize("kind", V1_KINDS)
def test_ikev1_client_leaves_nothing_behind(tmp_path, kind):
    pair = Pair1(make_v1_config(tmp_path, MAIN_PSK, XAUTH_PSK))
    for i in range(3):
        v1_kinds(pair)[kind](i)
    assert leftovers(pair.core) == {}


def test_ikev1_mixed_clients_leave_nothing_behind(tmp_path):
    pair = Pair1(make_v1_config(tmp_path, MAIN_PSK, XAUTH_PSK))
    kinds = v1_kinds(pair)
    for i in range(4):
        for run in kinds.values():
            run(i)
    assert leftovers(pair.core) == {}


# ------------------------------------------------------------------ IKEv2 with EAP ------


@pytest.fixture(scope="module")
def eap_pki(tmp_path_factory):
    from tests.harness.pki import make_pki
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    pki.issue("gw-ec", "gw.example.test", san_dns=("gw.example.test",), key_type="ecdsa-p256")
    return pki


def test_eap_logins_ending_every_way_leave_nothing_behind(tmp_path, eap_pki):
    """EAP-MSCHAPv2 (users backend asked asynchronously): a login that succeeds and is
    deleted, one whose client vanishes while its password check is still pending (the
    half-open SA times out, the request is dropped), one with a wrong password."""
    from .test_ikev2_eap import USERS, eap_client, eap_pair

    users = f'[alice]\npassword = "{USERS["alice"]}"\n'.encode()
    pair = eap_pair(tmp_path, eap_pki, users)
    for i in range(3):
        ok = eap_client(pair, address=(f"198.51.100.{10 + i}", 500))
        pair.connect(ok)
        assert ok.state == "established", ok.failure
        pair.deliver(ok, ok.delete(pair.now))

        pair.hold = True
        gone = eap_client(pair, address=(f"198.51.100.{40 + i}", 500))
        pair.connect(gone)
        assert pair.auth_requests and gone.state != "established"
        pair.auth_requests.clear()  # never answered: the directory hangs
        pair.gone.add(id(gone))
        pair.hold = False
        pair.advance(120)

        wrong = eap_client(pair, password="not-her-password",
                           address=(f"198.51.100.{70 + i}", 500))
        pair.connect(wrong)
        assert wrong.state != "established"
        pair.advance(120)
    assert leftovers(pair.core) == {}
