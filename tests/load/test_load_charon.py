"""``ikesrv load`` against strongSwan's charon (Debian's, kernel-libipsec, set up as the
bench sets it up): the report's numbers against charon's own view (VICI stats and
list-sas), and failures by reason."""

from __future__ import annotations

import pytest

from bench import e2e_responders as resp
from tests.harness import policy
from tests.harness.netns import GW_ADDR, PROTECTED_NET

pytestmark = pytest.mark.root


@pytest.fixture
def charon(topology, cleanup):
    from tests.harness.strongswan import DEBIAN_CHARON

    policy.require_binary(DEBIAN_CHARON, "strongswan-charon")
    policy.require_binary("swanctl", "strongswan-swanctl")

    def start(proposals):
        return resp.start_charon(topology.gw, cleanup, proposals)
    return start


@pytest.mark.parametrize("proposal", ["aes128-sha256-x25519", "aes128-sha256-ecp256"])
def test_report_matches_charon_list_sas(topology, charon, load, psk_file, proposal):
    gw = charon([proposal])
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "20", "--concurrency", "8",
               "--proposal", proposal, "--esp-proposal", resp.ESP,
               "--psk-file", psk_file(resp.PSK), "--local-id", "c{n}@load.test",
               "--remote-id", resp.GW_ID, "--timeout", "30")
    r = run.report
    assert run.returncode == 0, run.stderr
    assert (r["established"], r["failed"], r["unfinished"]) == (20, 0, 0)
    assert gw.established() == 20
    sas = gw.handle.list_sas()
    assert len(sas) == 20
    assert sorted(sa.remote_id for sa in sas) == sorted(f"c{n}@load.test" for n in range(1, 21))
    assert all(sa.established and sa.dh_group == ("CURVE_25519" if "x25519" in proposal
                                                  else "ECP_256") for sa in sas)
    # each client's CHILD SA is installed (in libipsec) with its own virtual IP
    children = [c for sa in sas for c in sa.children]
    assert len(children) == 20 and all(c.state == "INSTALLED" for c in children)
    assert all(c.local_ts == [PROTECTED_NET] for c in children)
    assert len({c.remote_ts[0] for c in children}) == 20
    assert r["latency_ms"]["p50"] > 0 and r["generator_cpu_s"] > 0


def test_wrong_psk_against_charon(topology, charon, load, psk_file):
    gw = charon(["aes128-sha256-x25519"])
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "20", "--concurrency", "8",
               "--psk-file", psk_file("not-the-right-psk-0000"), "--timeout", "30")
    assert run.returncode == 1
    assert run.report["failures"] == {"AUTHENTICATION_FAILED": 20}
    assert gw.established() == 0


def test_eap_mschapv2_against_charon(topology, cleanup, test_pki, load, psk_file):
    from tests.harness.strongswan import DEBIAN_CHARON

    policy.require_binary(DEBIAN_CHARON, "strongswan-charon")
    gw = resp.start_charon(topology.gw, cleanup, ["aes128-sha256-x25519"],
                           setup=resp.Setup(auth="eap-mschapv2"), pki=test_pki, users=6)
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "6", "--concurrency", "3",
               "--auth", "eap-mschapv2", "--user", "user{n}",
               "--password-file", psk_file(resp.USER_PASSWORD), "--local-id", "e{n}@load.test",
               "--proposal", "aes128-sha256-x25519", "--esp-proposal", resp.ESP,
               "--timeout", "30")
    r = run.report
    assert run.returncode == 0, (run.stderr, r and r["failure_examples"])
    assert (r["established"], r["failed"]) == (6, 0) and gw.established() == 6
    sas = gw.handle.list_sas()
    assert sorted(sa.remote_eap_id for sa in sas) == sorted(f"user{n}" for n in range(1, 7))
    assert sorted(sa.remote_id for sa in sas) == sorted(f"e{n}@load.test" for n in range(1, 7))
