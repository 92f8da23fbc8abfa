"""The ``ikesrv`` command: subcommands, exit statuses and output (DESIGN §6).

Most cases call ikesrv.cli.main(argv) in-process; the entry point itself
(``python -m ikesrv``) is run as a subprocess once per behaviour that depends on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ikesrv import cli
from ikesrv import config as C
from ikesrv.constants import DhId, ExchangeType, PayloadType, TransformType
from tests.harness import policy
from tests.unit import capture_builder as B

SUBCOMMANDS = ("serve", "check-config", "load", "status", "firewall", "decode")


def run_module(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ikesrv", *args], capture_output=True,
                          input=stdin, timeout=120)


def sa_init_request() -> bytes:
    """An IKE_SA_INIT request: SA (one proposal), KE, Nonce (RFC 7296 §1.2)."""
    from ikesrv.wire import ikev2

    proposal = ikev2.Proposal(number=1, protocol=1, spi=b"", transforms=[
        ikev2.Transform(type=TransformType.ENCR, id=20, key_length=256),
        ikev2.Transform(type=TransformType.PRF, id=5),
        ikev2.Transform(type=TransformType.DH, id=DhId.CURVE25519),
    ])
    message = ikev2.Message(bytes.fromhex("1122334455667788"), bytes(8),
                            ExchangeType.IKE_SA_INIT, 0x08, 0, [
                                ikev2.SaPayload(proposals=[proposal]),
                                ikev2.KePayload(group=DhId.CURVE25519, data=bytes(range(32))),
                                ikev2.NoncePayload(data=bytes(32)),
                            ])
    return ikev2.encode_message(message)


def write_config(tmp_path: Path, extra_server: str = "") -> Path:
    (tmp_path / "rw.psk").write_bytes(b"test-psk-0123456789-abcdef\n")
    (tmp_path / "rw.psk").chmod(0o600)
    path = tmp_path / "ikesrv.toml"
    path.write_text(f"""
[server]
addresses = ["127.0.0.1", "::1"]
port = 50500
natt_port = 54500
{extra_server}
[kernel]
backend = "none"
[connections.psk]
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
""")
    return path


# --- help and entry points ------------------------------------------------------------


def test_help_lists_every_subcommand() -> None:
    result = run_module("--help")
    assert result.returncode == 0
    out = result.stdout.decode()
    for name in SUBCOMMANDS:
        assert f"    {name}" in out, name


def test_no_subcommand_is_a_usage_error(capsys) -> None:
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["serve"], ["status"], ["load", "--target", "127.0.0.1"]])
def test_parts_not_built_say_so(monkeypatch, capsys, argv: list[str]) -> None:
    monkeypatch.setitem(cli.ENTRY_POINTS, argv[0], ("ikesrv._not_in_this_build", "main"))
    assert cli.main(argv + (["-c", str(C.DEMO_PATH)] if argv[0] != "load" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("is not built yet"), err


calls: list[tuple] = []


def recording_server_main(config, workers):
    calls.append((config, workers))
    return 0


STATUS = {"workers": [{"index": 0, "pid": 4242, "ike_sas": [{
    "version": 2, "spi_i": "1122334455667788", "spi_r": "8877665544332211",
    "state": "established", "remote": "192.0.2.2:4500", "identity": "alice@example.org",
    "virtual_ip": "10.99.0.2", "algorithms": "aes256gcm16-prfsha384-ecp384", "age": 75.0,
    "child_sas": [{"spi_in": "c1a2b3c4", "spi_out": "0a0b0c0d", "state": "installed",
                   "local_ts": ["0.0.0.0/0"], "remote_ts": ["10.99.0.2/32"],
                   "algorithms": "aes256gcm16"}],
}]}]}


def recording_status_request(socket_path, command):
    calls.append((socket_path, command))
    return STATUS


def unreachable_status_request(socket_path, command):
    raise FileNotFoundError(2, "No such file or directory")


def test_serve_hands_the_config_to_the_server(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(cli.ENTRY_POINTS, "serve", (__name__, "recording_server_main"))
    path = write_config(tmp_path, "workers = 3")
    calls.clear()
    assert cli.main(["serve", "-c", str(path)]) == 0
    assert cli.main(["serve", "-c", str(path), "--workers", "1"]) == 0
    (config, workers), (_, override) = calls
    assert isinstance(config, C.Config) and config.server.port == 50500
    assert (workers, override) == (3, 1)


def test_serve_refuses_a_bad_config(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(cli.ENTRY_POINTS, "serve", (__name__, "recording_server_main"))
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 0\n")
    calls.clear()
    assert cli.main(["serve", "-c", str(path)]) == 1
    assert calls == [] and "server.port: 0 is out of range" in capsys.readouterr().err


def test_status_uses_the_configured_socket(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(cli.ENTRY_POINTS, "status", (__name__, "recording_status_request"))
    path = write_config(tmp_path, f'control_socket = "{tmp_path}/ctl.sock"')
    calls.clear()
    assert cli.main(["status", "-c", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS
    assert cli.main(["status", "--socket", "/tmp/other.sock"]) == 0
    assert calls == [(tmp_path / "ctl.sock", "status"), (Path("/tmp/other.sock"), "status")]
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "worker 0 (pid 4242): 1 IKE SA"
    assert text[1].startswith("  IKEv2  established  192.0.2.2:4500  id alice@example.org  "
                              "vip 10.99.0.2")
    assert text[1].endswith("age 1m15s")
    assert text[2] == ("    CHILD installed in c1a2b3c4 out 0a0b0c0d  0.0.0.0/0 === "
                       "10.99.0.2/32  aes256gcm16")


def test_status_without_a_server(monkeypatch, capsys) -> None:
    monkeypatch.setitem(cli.ENTRY_POINTS, "status", (__name__, "unreachable_status_request"))
    assert cli.main(["status", "--socket", "/nonexistent/ctl.sock"]) == 1
    err = capsys.readouterr().err
    assert "no answer on /nonexistent/ctl.sock: No such file or directory" in err


# --- check-config ---------------------------------------------------------------------


def test_check_config_demo() -> None:
    result = run_module("check-config", "-c", str(C.DEMO_PATH))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "connection ikev2-psk: IKEv2" in out and "kernel: none" in out
    assert b"Secret-" not in result.stdout and b"psk-0123456789" not in result.stdout


def test_check_config_errors_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nprot = 500\n[pools.rw]\naddresses = "10.0.0.1/8"\n'
                    '[connections.x]\nlocal_auth = "psk"\nremote_auth = "psk"\n'
                    'proposals = ["aes999-sha256-modp2048"]\n')
    result = run_module("check-config", "-c", str(path))
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert "server.prot: unknown key: did you mean 'port'?" in lines
    assert 'pools.rw.addresses: "10.0.0.1/8" has host bits set: the network is "10.0.0.0/8"' \
        in lines
    assert any(line.startswith("connections.x.proposals[0]: ") and "aes999" in line
               for line in lines)
    assert any(line.startswith("connections.x.psk_file: missing") for line in lines)
    assert lines[-1] == "4 configuration errors"
    assert result.stdout == b""


def test_check_config_prints_warnings(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    (tmp_path / "rw.psk").chmod(0o644)
    result = run_module("check-config", "-c", str(path))
    assert result.returncode == 0
    assert "warning: connections.psk.psk_file: " in result.stdout.decode()


def test_check_config_missing_file(tmp_path: Path, capsys) -> None:
    assert cli.main(["check-config", "-c", str(tmp_path / "none.toml")]) == 1
    assert "cannot read the configuration" in capsys.readouterr().err


# --- firewall -------------------------------------------------------------------------


def test_firewall_nft(tmp_path: Path, capsys) -> None:
    path = write_config(tmp_path)
    assert cli.main(["firewall", "-c", str(path)]) == 0  # nft is the default
    script = capsys.readouterr().out
    assert "ip daddr { 127.0.0.1 } udp dport { 50500, 54500 } accept" in script
    assert "ip6 daddr { ::1 } meta l4proto esp accept" in script
    check_nft(tmp_path, script)


def test_firewall_nft_wildcard(tmp_path: Path, capsys) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('["127.0.0.1", "::1"]', '["0.0.0.0", "::"]'))
    assert cli.main(["firewall", "--nft", "-c", str(path)]) == 0
    script = capsys.readouterr().out
    assert "meta nfproto ipv4 udp dport { 50500, 54500 } accept" in script
    assert "meta nfproto ipv6 meta l4proto esp accept" in script
    check_nft(tmp_path, script)


def check_nft(tmp_path: Path, script: str) -> None:
    """`nft -c -f` parses and checks the script against the kernel without applying it."""
    if os.geteuid() != 0:
        policy.unavailable("nft -c needs root")
    nft = policy.require_binary("nft", "nftables")
    path = tmp_path / "rules.nft"
    path.write_text(script)
    result = subprocess.run([nft, "-c", "-f", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("style, tool, wanted", [
    ("--iptables", "iptables-restore",
     "-I INPUT 1 -d 127.0.0.1/32 -p udp -m multiport --dports 50500,54500 -j ACCEPT"),
    ("--ip6tables", "ip6tables-restore", "-I INPUT 1 -d ::1/128 -p esp -j ACCEPT"),
])
def test_firewall_iptables(tmp_path: Path, capsys, style: str, tool: str, wanted: str) -> None:
    path = write_config(tmp_path)
    assert cli.main(["firewall", style, "-c", str(path)]) == 0
    rules = capsys.readouterr().out
    assert wanted in rules and rules.splitlines()[-1] == "COMMIT"
    if os.geteuid() != 0:
        policy.unavailable(f"{tool} --test needs root")
    exe = policy.require_binary(tool, "iptables")
    result = subprocess.run([exe, "--test", "--noflush"], input=rules, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


# --- decode ---------------------------------------------------------------------------


def decode_lines(capsys, *argv: str) -> tuple[int, list[dict], str]:
    status = cli.main(["decode", *argv])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_decode_raw_message(tmp_path: Path, capsys) -> None:
    path = tmp_path / "init.bin"
    path.write_bytes(sa_init_request())
    status, (record,), _ = decode_lines(capsys, str(path))
    assert status == 0
    assert (record["ispi"], record["rspi"]) == ("1122334455667788", "0000000000000000")
    assert (record["version"], record["exchange"], record["exchange_name"]) == (
        "2.0", 34, "IKE_SA_INIT")
    assert record["message_id"] == 0 and record["length"] == len(path.read_bytes())
    assert [p["type"] for p in record["payloads"]] == [PayloadType.SA, PayloadType.KE,
                                                       PayloadType.NONCE]
    assert record["source"] == {"file": str(path)}


def test_decode_raw_message_with_non_esp_marker(tmp_path: Path, capsys) -> None:
    plain, marked = tmp_path / "plain.bin", tmp_path / "marked.bin"
    plain.write_bytes(sa_init_request())
    marked.write_bytes(b"\0\0\0\0" + sa_init_request())
    status, (first, second), _ = decode_lines(capsys, str(plain), str(marked))
    assert status == 0
    del first["source"], second["source"]
    assert first == second


def test_decode_malformed_message(tmp_path: Path, capsys) -> None:
    good, bad = tmp_path / "good.bin", tmp_path / "bad.bin"
    good.write_bytes(sa_init_request())
    bad.write_bytes(sa_init_request()[:40])  # the header promises more than there is
    status, (ok, broken), _ = decode_lines(capsys, str(good), str(bad))
    assert status == 1
    assert "error" not in ok
    assert isinstance(broken["error"], str) and isinstance(broken["offset"], int)


def test_decode_pcap(tmp_path: Path, capsys) -> None:
    request = sa_init_request()
    frames = [
        (1.0, B.ethernet(B.ipv4("192.0.2.2", "192.0.2.1", B.udp(500, 500, request)))),
        (2.0, B.ethernet(B.ipv4("192.0.2.2", "192.0.2.1", B.udp(4500, 4500, b"\xff")))),
        (3.0, B.ethernet(B.ipv6("2001:db8::2", "2001:db8::1",
                                B.udp(4500, 4500, b"\0\0\0\0" + request)))),
        (4.0, B.ethernet(B.ipv4("192.0.2.2", "192.0.2.1", B.udp(500, 500, request[:30])))),
    ]
    path = tmp_path / "capture.pcap"
    path.write_bytes(B.pcap(frames, 1))
    status, records, _ = decode_lines(capsys, "--pcap", str(path))
    assert status == 1  # the last message is malformed
    first, second, third = records
    assert first["exchange_name"] == "IKE_SA_INIT" and second["exchange_name"] == "IKE_SA_INIT"
    assert first["source"] == {"file": str(path), "time": 1.0, "src": "192.0.2.2", "sport": 500,
                               "dst": "192.0.2.1", "dport": 500}
    assert second["source"]["src"] == "2001:db8::2" and second["source"]["dport"] == 4500
    assert "error" in third and third["source"]["time"] == 4.0


def test_decode_recognizes_captures_and_custom_ports(tmp_path: Path, capsys) -> None:
    frames = [(0.0, B.ipv4("127.0.0.1", "127.0.0.1", B.udp(40000, 50500, sa_init_request())))]
    path = tmp_path / "capture.pcapng"
    path.write_bytes(B.pcapng([(101, None)], [(0, t, f) for t, f in frames]))
    status, records, _ = decode_lines(capsys, str(path))  # no --pcap: recognized by magic
    assert (status, records) == (0, [])
    status, (record,), _ = decode_lines(capsys, str(path), "--port", "50500")
    assert status == 0 and record["exchange"] == 34


def test_decode_damaged_capture(tmp_path: Path, capsys) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(B.pcap([(0.0, B.ipv4("192.0.2.2", "192.0.2.1",
                                          B.udp(500, 500, sa_init_request())))], 101)[:-7])
    status, records, err = decode_lines(capsys, "--pcap", str(path))
    assert status == 1 and records == []
    assert err.startswith(f"ikesrv decode: {path}: file ends inside packet record 1")
    assert "Traceback" not in err


def test_decode_reports_capture_problems(tmp_path: Path, capsys) -> None:
    big = B.udp(500, 500, sa_init_request() + bytes(3000))
    fragments = B.ipv4_fragments("192.0.2.2", "192.0.2.1", big, 1480)[:-1]
    path = tmp_path / "frag.pcap"
    path.write_bytes(B.pcap([(0.0, f) for f in fragments], 101))
    status, records, err = decode_lines(capsys, str(path))
    assert status == 1 and records == []
    assert "never completed" in err


def test_decode_missing_file(tmp_path: Path, capsys) -> None:
    status, records, err = decode_lines(capsys, str(tmp_path / "none.bin"))
    assert status == 1 and records == [] and "No such file" in err


def test_decode_via_module_and_stdin() -> None:
    result = run_module("decode", "-", stdin=sa_init_request())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["exchange"] == 34


def test_decode_agrees_with_tshark(tmp_path: Path, capsys) -> None:
    """Header fields as Wireshark's isakmp dissector reads them from the same capture."""
    tshark = policy.require_binary("tshark", "tshark")
    path = tmp_path / "c.pcap"
    path.write_bytes(B.pcap([(0.0, B.ethernet(B.ipv4("192.0.2.2", "192.0.2.1",
                                                     B.udp(500, 500, sa_init_request()))))], 1))
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-E", "separator=|",
                          "-e", "isakmp.ispi", "-e", "isakmp.exchangetype", "-e", "isakmp.length"],
                         check=True, capture_output=True, text=True).stdout.strip()
    ispi, exchange, length = out.split("|")
    _, (record,), _ = decode_lines(capsys, str(path))
    assert (record["ispi"], record["exchange"], record["length"]) == (
        ispi, int(exchange), int(length))
