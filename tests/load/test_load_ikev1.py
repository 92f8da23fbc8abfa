"""``ikesrv load --version 1``: IKEv1 road warriors (Main Mode or Aggressive Mode with a
PSK, XAuth, Mode Config, one Quick Mode) against ``ikesrv serve`` and against
strongSwan's charon, both set up as the bench sets them up (bench/e2e_responders.py);
the report's numbers against each server's own view (``ikesrv status``, VICI list-sas),
held SAs with Quick Mode rekeys, R-U-THERE and deletes, failures by reason."""

from __future__ import annotations

import pytest

from bench import e2e_responders as resp
from tests.harness import policy
from tests.harness.netns import GW_ADDR, PROTECTED_NET

pytestmark = pytest.mark.root

X25519 = "aes128-sha256-x25519"
MAIN = resp.Setup(version=1)
AGGRESSIVE_XAUTH = resp.Setup(version=1, auth="xauth", aggressive=True, users_backend="file")


def v1_options(psk: str, n: int, *extra: str) -> list[str]:
    return ["--target", GW_ADDR, "--version", "1", "--clients", str(n), "--concurrency", "6",
            "--proposal", X25519, "--esp-proposal", resp.ESP, "--psk-file", psk,
            "--remote-ts", PROTECTED_NET, "--local-id", "v{n}@load.test", "--timeout", "30",
            *extra]


def xauth_options(password_file: str) -> list[str]:
    return ["--auth", "xauth", "--aggressive", "--user", "user{n}",
            "--password-file", password_file]


@pytest.fixture
def charon(topology, cleanup):
    from tests.harness.strongswan import DEBIAN_CHARON

    policy.require_binary(DEBIAN_CHARON, "strongswan-charon")
    policy.require_binary("swanctl", "strongswan-swanctl")

    def start(setup, users: int = 0):
        return resp.start_charon(topology.gw, cleanup, [X25519], setup=setup, users=users)
    return start


def test_main_mode_report_matches_ikesrv_status(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519], setup=MAIN)
    run = load(topology.cl, *v1_options(psk_file(resp.PSK), 12))
    r = run.report
    assert run.returncode == 0, (run.stderr, r and r["failure_examples"])
    assert r["options"]["version"] == 1
    assert (r["established"], r["failed"], r["unfinished"]) == (12, 0, 0)
    sas = server.handle.sas()
    assert len(sas) == 12 == server.established()
    assert all(sa["version"] == 1 and sa["auth"] == "psk" for sa in sas)
    assert sorted(sa["identity"] for sa in sas) == sorted(f"v{n}@load.test" for n in range(1, 13))
    # Mode Config gave each its own address; its Quick Mode SA is installed for it
    assert len({sa["virtual_ip"] for sa in sas}) == 12
    assert all(len(sa["child_sas"]) == 1 and sa["child_sas"][0]["local_ts"] == [PROTECTED_NET]
               and sa["child_sas"][0]["remote_ts"] == [sa["virtual_ip"] + "/32"] for sa in sas)
    assert r["generator_cpu_s"] > 0 and r["latency_ms"]["p50"] > 0


def test_aggressive_mode_with_xauth_users(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519], setup=AGGRESSIVE_XAUTH, users=8)
    run = load(topology.cl, *v1_options(psk_file(resp.PSK), 8,
                                        *xauth_options(psk_file(resp.USER_PASSWORD))))
    r = run.report
    assert run.returncode == 0, (run.stderr, r and r["failure_examples"])
    assert r["established"] == 8
    assert r["peer_requests"] >= 8  # the responder asked each client for its XAuth login
    sas = server.handle.sas()
    assert sorted(sa["eap_identity"] for sa in sas) == sorted(f"user{n}" for n in range(1, 9))
    assert all(sa["auth"] == "xauth" and sa["virtual_ip"] for sa in sas)


def test_wrong_xauth_password_is_a_failure_by_reason(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519], setup=AGGRESSIVE_XAUTH, users=4)
    run = load(topology.cl, *v1_options(psk_file(resp.PSK), 4,
                                        *xauth_options(psk_file("not-the-password"))))
    r = run.report
    assert run.returncode == 1
    assert (r["established"], r["failed"]) == (0, 4)
    assert r["failures"] == {"XAuth failed": 4}
    assert server.established() == 0


def test_hold_quick_mode_rekey_dpd_and_delete(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519], setup=MAIN)
    run = load(topology.cl, *v1_options(psk_file(resp.PSK), 6, "--hold", "2", "--rekey",
                                        "--dpd", "0.5"))
    r = run.report
    assert run.returncode == 0, (run.stderr, r and r["failure_examples"])
    assert r["established"] == 6
    # IKEv1 has no rekey of the ISAKMP SA itself: only the Quick Mode ones are made
    assert r["rekeys"] == {"child": {"ok": 6, "failed": 0}, "ike": {"ok": 0, "failed": 0}}
    assert r["liveness"]["answered"] >= 6 * 3 and r["liveness"]["lost"] == 0
    assert r["deleted"] == 6
    server.handle.wait_sas(lambda sas: sas == [], timeout=10)


def test_main_mode_against_charon(topology, charon, load, psk_file):
    gw = charon(MAIN)
    run = load(topology.cl, *v1_options(psk_file(resp.PSK), 10))
    r = run.report
    assert run.returncode == 0, (run.stderr, r and r["failure_examples"])
    assert (r["established"], r["failed"], r["unfinished"]) == (10, 0, 0)
    assert gw.established() == 10
    sas = gw.handle.list_sas()
    assert len(sas) == 10 and all(sa.version == 1 and sa.established for sa in sas)
    assert sorted(sa.remote_id for sa in sas) == sorted(f"v{n}@load.test" for n in range(1, 11))
    assert all(sa.dh_group == "CURVE_25519" for sa in sas)
    children = [c for sa in sas for c in sa.children]
    assert len(children) == 10 and all(c.state == "INSTALLED" for c in children)
    assert len({vip for sa in sas for vip in sa.remote_vips}) == 10


def test_aggressive_mode_xauth_against_charon(topology, charon, load, psk_file):
    gw = charon(AGGRESSIVE_XAUTH, users=6)
    run = load(topology.cl, *v1_options(psk_file(resp.PSK), 6,
                                        *xauth_options(psk_file(resp.USER_PASSWORD))))
    r = run.report
    assert run.returncode == 0, (run.stderr, r and r["failure_examples"])
    assert r["established"] == 6 == gw.established()
    sas = gw.handle.list_sas()
    assert sorted(sa.remote_xauth_id for sa in sas) == sorted(f"user{n}" for n in range(1, 7))
