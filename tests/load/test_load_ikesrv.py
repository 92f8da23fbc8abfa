"""``ikesrv load`` against ``ikesrv serve`` in network namespaces: the report's numbers
against the server's own view (``ikesrv status``), failures by reason, held SAs with
rekeys, liveness checks and deletes, several generator processes, bounded time."""

from __future__ import annotations

import pytest

from bench import e2e_responders as resp
from tests.harness.netns import GW_ADDR

pytestmark = pytest.mark.root

X25519 = "aes128-sha256-x25519"


def common(psk: str, n: int, *extra: str) -> list[str]:
    return ["--target", GW_ADDR, "--clients", str(n), "--concurrency", "8",
            "--proposal", X25519, "--esp-proposal", resp.ESP, "--psk-file", psk,
            "--timeout", "30", *extra]


def test_report_matches_ikesrv_status(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519])
    run = load(topology.cl, *common(psk_file(resp.PSK), 20, "--local-id", "c{n}@load.test"))
    r = run.report
    assert run.returncode == 0, run.stderr
    assert (r["clients"], r["started"], r["established"], r["failed"], r["unfinished"]) \
        == (20, 20, 20, 0, 0)
    sas = server.handle.sas()
    assert len(sas) == 20 == server.established()
    assert sorted(sa["identity"] for sa in sas) == sorted(f"c{n}@load.test" for n in range(1, 21))
    assert all(len(sa["child_sas"]) == 1 and sa["virtual_ip"] for sa in sas)
    assert len({sa["virtual_ip"] for sa in sas}) == 20
    # the figures are measured, not defaults
    lat = r["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] < 30_000
    assert r["setups_per_s"] > 0 and r["setup_s"] > 0
    assert r["generator_cpu_s"] > 0
    assert r["generator_cpu_ms_per_sa"] == pytest.approx(r["generator_cpu_s"] * 1e3 / 20, rel=1e-3)
    assert r["failures"] == {}


def test_wrong_psk_fails_every_client_with_authentication_failed(topology, cleanup, load,
                                                                psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519])
    run = load(topology.cl, *common(psk_file("not-the-right-psk-0000"), 20))
    r = run.report
    assert run.returncode == 1
    assert (r["established"], r["failed"], r["unfinished"]) == (0, 20, 0)
    assert r["failures"] == {"AUTHENTICATION_FAILED": 20}
    assert "IKE_AUTH" in r["failure_examples"]["AUTHENTICATION_FAILED"]
    assert server.handle.sas() == []


def test_no_acceptable_proposal_is_its_own_reason(topology, cleanup, load, psk_file):
    resp.start_ikesrv(topology.gw, cleanup, [X25519])
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "5", "--psk-file",
               psk_file(resp.PSK), "--proposal", "aes256-sha384-ecp384", "--timeout", "30")
    assert run.returncode == 1
    assert run.report["failures"] == {"NO_PROPOSAL_CHOSEN": 5}
    assert "IKE_SA_INIT" in run.report["failure_examples"]["NO_PROPOSAL_CHOSEN"]


def test_hold_rekey_liveness_and_delete(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519])
    run = load(topology.cl, *common(psk_file(resp.PSK), 10, "--hold", "2", "--rekey",
                                    "--dpd", "0.5"))
    r = run.report
    assert run.returncode == 0, run.stderr
    assert r["established"] == 10
    assert r["rekeys"] == {"child": {"ok": 10, "failed": 0}, "ike": {"ok": 10, "failed": 0}}
    assert r["liveness"]["answered"] >= 10 * 3 and r["liveness"]["lost"] == 0
    assert r["deleted"] == 10 and r["deleted_by_peer"] == 0
    assert 2.0 <= r["duration_s"] < 20
    # every SA was deleted by its client: the server holds none
    server.handle.wait_sas(lambda sas: sas == [], timeout=10)


def test_several_processes_add_up(topology, cleanup, load, psk_file):
    server = resp.start_ikesrv(topology.gw, cleanup, [X25519])
    run = load(topology.cl, *common(psk_file(resp.PSK), 30, "--processes", "3",
                                    "--local-id", "p{n}@load.test"))
    r = run.report
    assert run.returncode == 0, run.stderr
    assert r["processes"] == 3 and r["established"] == 30
    sas = server.handle.sas()
    assert sorted(sa["identity"] for sa in sas) == sorted(f"p{n}@load.test" for n in range(1, 31))


def test_silent_target_ends_within_the_timeout(topology, load, psk_file):
    # nothing listens in the gateway namespace: every set-up stays unanswered
    run = load(topology.cl, "--target", GW_ADDR, "--clients", "5", "--psk-file",
               psk_file(resp.PSK), "--timeout", "3", timeout=30)
    r = run.report
    assert run.returncode == 1
    assert r["timed_out"] and r["unfinished"] == 5 and r["established"] == 0
    assert r["retransmissions"] == 5  # each IKE_SA_INIT once, 2 s after it was sent
    assert run.seconds < 15
