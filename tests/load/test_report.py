"""The report: reasons, percentiles, the merge over processes, the JSON schema, the text,
and the options refused before anything runs."""

from __future__ import annotations

import argparse
import json

import pytest

from ikesrv import cli
from ikesrv.load import report as rp
from ikesrv.load.clients import UsageError
from ikesrv.load.runner import prepare

SCHEMA_KEYS = {
    "schema", "options", "processes", "clients", "started", "established", "failed",
    "unfinished", "timed_out", "duration_s", "setup_s", "setups_per_s", "latency_ms",
    "failures", "failure_examples", "retransmissions", "rekeys", "liveness", "deleted",
    "deleted_by_peer", "peer_requests", "generator_cpu_s", "generator_cpu_ms_per_sa",
}


@pytest.mark.parametrize("text,key", [
    ("IKE_AUTH refused: AUTHENTICATION_FAILED", "AUTHENTICATION_FAILED"),
    ("IKE_SA_INIT refused: NO_PROPOSAL_CHOSEN", "NO_PROPOSAL_CHOSEN"),
    ("CHILD SA refused: TS_UNACCEPTABLE", "TS_UNACCEPTABLE"),
    ("IKE_AUTH timeout: no answer, retransmissions exhausted", "IKE_AUTH timeout"),
    ("undecodable message: truncated payload at offset 44", "undecodable message"),
    ("responder's PSK AUTH does not verify", "responder's PSK AUTH does not verify"),
])
def test_reason_key(text, key):
    assert rp.reason_key(text) == key


def test_percentiles_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert [rp.percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert rp.percentile([], 50) == 0.0
    assert rp.percentile([7.0], 99) == 7.0


def part(established: int, t0: float, t_last: float, cpu: float, lat: float) -> rp.ProcessResult:
    p = rp.ProcessResult(clients=established + 1, started=established + 1,
                         established=established, t_start=t0, t_last=t_last,
                         t_end=t_last + 0.5, cpu_s=cpu, latencies=[lat] * established)
    p.fail("IKE_AUTH refused: AUTHENTICATION_FAILED")
    return p


def test_merge_and_schema():
    a, b = part(10, 100.0, 102.0, 0.2, 0.010), part(30, 100.5, 104.0, 0.4, 0.030)
    b = rp.ProcessResult.from_json(b.to_json())  # the pipe between processes
    d = rp.Report(options={"target": "x"}, parts=[a, b], cpu_parent_s=0.1).to_dict()
    assert set(d) == SCHEMA_KEYS and d["schema"] == "ikesrv-load/1"
    assert (d["clients"], d["established"], d["failed"]) == (42, 40, 2)
    assert d["failures"] == {"AUTHENTICATION_FAILED": 2}
    assert d["setup_s"] == 4.0 and d["setups_per_s"] == 10.0  # first start to last SA up
    assert d["duration_s"] == 4.5
    assert d["latency_ms"] == {"p50": 30.0, "p95": 30.0, "p99": 30.0, "max": 30.0,
                               "mean": 25.0}
    assert d["generator_cpu_s"] == pytest.approx(0.7)
    assert d["generator_cpu_ms_per_sa"] == pytest.approx(17.5)
    json.dumps(d)  # plain JSON


def test_text_report_names_reasons():
    opts = {"target": "192.0.2.1", "port": 500, "version": 2, "auth": "psk",
            "proposals": ["aes128-sha256-x25519"], "esp_proposals": ["aes128-sha256"]}
    d = rp.Report(options=opts, parts=[part(3, 0.0, 1.0, 0.01, 0.005)]).to_dict()
    text = rp.format_text(d)
    assert "established 3" in text and "failed 1" in text
    assert "AUTHENTICATION_FAILED  (e.g. IKE_AUTH refused: AUTHENTICATION_FAILED)" in text
    assert "set-ups/s 3.0" in text


def args(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(["load", "--target", "127.0.0.1", *argv])


@pytest.mark.parametrize("argv,needle", [
    (["--version", "1", "--auth", "pubkey", "--psk-file", "x"],
     "IKEv1 with --auth pubkey is not built"),
    (["--version", "1"], "IKEv1 --auth psk needs --psk-file"),
    (["--version", "1", "--proposal", "aes128gcm16-prfsha256-x25519", "--psk-file", "x"],
     "IKEv1 proposal 'aes128gcm16-prfsha256-x25519'"),
    (["--aggressive", "--psk-file", "x"], "--aggressive is an IKEv1 mode"),
    (["--auth", "xauth"], "IKEv2 with --auth xauth is not built"),
    (["--auth", "eap-mschapv2"], "--auth eap-mschapv2 needs --password-file"),
    ([], "--auth psk needs --psk-file"),
    (["--auth", "pubkey"], "--auth pubkey needs --cert and --key"),
    (["--rekey", "--psk-file", "x"], "--rekey happens while an SA is held"),
    (["--clients", "0"], "--clients must be at least 1"),
    (["--proposal", "aes128-nonsense", "--psk-file", "x"], "proposal 'aes128-nonsense'"),
])
def test_options_refused_plainly(argv, needle):
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        prepare(args(*argv))


def test_cli_exit_status_2_for_unsupported(capsys):
    assert cli.main(["load", "--target", "127.0.0.1", "--version", "1", "--auth", "pubkey"]) == 2
    assert "not built into the load generator yet" in capsys.readouterr().err


def test_ikev1_options(tmp_path):
    psk, password = tmp_path / "psk", tmp_path / "password"
    psk.write_bytes(b"group-secret\n")
    password.write_bytes(b"user-secret\n")
    kind, opts = prepare(args("--version", "1", "--auth", "xauth", "--aggressive",
                              "--psk-file", str(psk), "--password-file", str(password),
                              "--user", "u{n}", "--remote-ts", "192.0.2.0/25"))
    assert (opts["version"], opts["auth"]) == (1, "xauth")
    assert opts["proposals"] == ["aes128-sha256-modp2048"]  # the IKEv1 default
    assert (kind.opts.psk, kind.opts.password, kind.opts.aggressive) == (
        b"group-secret", b"user-secret", True)
    client = kind.make(3, lambda n: bytes(n), ("198.51.100.2", 500), ("192.0.2.1", 500))
    s = client.ini.s
    assert (s.xauth_user, s.want_vip, str(s.ts_remote[0])) == ("u3", True, "192.0.2.0/25")
    assert client.OPERATIONS == {"rekey_child", "liveness", "delete"}
    with pytest.raises(UsageError, match="--auth xauth needs --password-file"):
        prepare(args("--version", "1", "--auth", "xauth", "--psk-file", str(psk)))
    with pytest.raises(UsageError, match="--remote-ts '192.0.2.0/33'"):
        prepare(args("--version", "1", "--psk-file", str(psk), "--remote-ts", "192.0.2.0/33"))


def test_psk_file_trailing_newline_is_not_part_of_the_key(tmp_path):
    path = tmp_path / "psk"
    path.write_bytes(b"secret-value\n")
    kind, opts = prepare(args("--psk-file", str(path)))
    assert kind.opts.psk == b"secret-value"
    assert opts["hold"] is None and opts["processes"] == 1
