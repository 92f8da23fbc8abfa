"""The secure-defaults audit, kept true by tests: weak algorithms and Aggressive Mode off
unless a connection names them; files holding secrets (private keys, PSK files, the LDAP
bind password, the users file) warned about at startup when other users can read them;
secrets compared in constant time (a scan of the source for == / != on them) and never
in logs or reprs."""

from __future__ import annotations

import ast
import logging
import re
import shutil
from pathlib import Path

import pytest

from ikesrv import cli
from ikesrv.config import DEMO_PATH, ConfigError, load_text
from ikesrv.crypto import dh

from .inmemory import Pair, make_config

ROOT = Path(__file__).resolve().parents[2]
PSK = b"psk-audit-0123456789abcdef"
LDAP_PASSWORD = b"bind-Secret-42"

CONFIG = """
[server]
addresses = ["127.0.0.1"]
[kernel]
backend = "none"
[pools.rw]
addresses = "10.99.0.0/24"
[users]
backend = "ldap"
[users.file]
path = "users.toml"
[users.ldap]
url = "ldaps://127.0.0.1:636"
bind_dn = "cn=ikesrv,dc=example,dc=org"
bind_password_file = "ldap.secret"
user_base = "ou=people,dc=example,dc=org"
nt_hash_attribute = "sambaNTPassword"
[connections.cert]
version = 2
local_auth = "pubkey"
certificate = "vpn.crt"
private_key = "vpn.key"
remote_auth = "eap-mschapv2"
pools = ["rw"]
[connections.psk]
version = 2
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
pools = ["rw"]
"""
SECRET_FILES = {  # file -> the key path its warning names
    "vpn.key": "connections.cert.private_key",
    "rw.psk": "connections.psk.psk_file",
    "ldap.secret": "users.ldap.bind_password_file",
    "users.toml": "users.file.path",
}


@pytest.fixture
def config_dir(tmp_path):
    shutil.copy(DEMO_PATH.parent / "demo-server.crt", tmp_path / "vpn.crt")
    shutil.copy(DEMO_PATH.parent / "demo-server.key", tmp_path / "vpn.key")
    (tmp_path / "rw.psk").write_bytes(PSK + b"\n")
    (tmp_path / "ldap.secret").write_bytes(LDAP_PASSWORD + b"\n")
    (tmp_path / "users.toml").write_text('[alice]\nnt_hash = "5466D191FA54FE490DB575B3B50E18C0"\n')
    (tmp_path / "ikesrv.toml").write_text(CONFIG)
    return tmp_path


def permission_warnings(config) -> dict[str, str]:
    return {path: message for path, message in config.warnings
            if "accessible to other users" in message}


@pytest.mark.parametrize("mode, warned", [(0o644, True), (0o604, True), (0o600, False),
                                          (0o640, False)])
def test_every_secret_file_is_checked_at_startup(config_dir, mode, warned):
    for name in SECRET_FILES:
        (config_dir / name).chmod(mode)
    found = permission_warnings(load_text(CONFIG, config_dir))
    if warned:
        assert set(found) == set(SECRET_FILES.values()), found
        assert all("chmod o-rwx" in m for m in found.values())
    else:
        assert found == {}  # group-readable (an ikesrv group) is a deliberate choice


def test_check_config_prints_the_warnings(config_dir, capsys):
    (config_dir / "vpn.key").chmod(0o644)
    for name in ("rw.psk", "ldap.secret", "users.toml"):
        (config_dir / name).chmod(0o600)
    assert cli.main(["check-config", "-c", str(config_dir / "ikesrv.toml")]) == 0
    out = capsys.readouterr().out  # the summary ends with the warnings
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("warning: connections.cert.private_key:")
    assert "vpn.key" in warnings[0]


def test_weak_algorithms_only_when_named(config_dir):
    config = load_text(CONFIG, config_dir)
    for conn in config.connections.values():
        for spec in (*conn.proposals, *conn.esp_proposals):
            assert not spec.weak_algorithms, spec
    weak = CONFIG.replace('psk_file = "rw.psk"\n',
                          'psk_file = "rw.psk"\nproposals = ["aes128-sha1-modp1024"]\n')
    with pytest.raises(ConfigError) as e:
        load_text(weak, config_dir)
    assert "weak algorithms" in str(e.value) and "weak_algorithms" in str(e.value)
    named = weak.replace('proposals = ["aes128', 'weak_algorithms = ["sha1", "modp1024"]\n'
                         'proposals = ["aes128')
    assert load_text(named, config_dir).connections["psk"].proposals[0].weak_algorithms
    assert dh.WEAK >= {1, 2, 5}


def test_aggressive_mode_only_when_named(config_dir):
    v1 = CONFIG + ('[connections.v1]\nversion = 1\nlocal_auth = "psk"\nremote_auth = "xauth"\n'
                   'psk_file = "rw.psk"\npools = ["rw"]\n')
    config = load_text(v1, config_dir)
    assert config.connections["v1"].aggressive is False
    named = load_text(v1 + "aggressive = true\n", config_dir)
    assert named.connections["v1"].aggressive is True
    assert any(p == "connections.v1.aggressive" and "psk-crack" in m for p, m in named.warnings)


def test_secrets_are_not_in_reprs(config_dir):
    config = load_text(CONFIG, config_dir)
    text = repr(config)
    assert PSK.decode() not in text and LDAP_PASSWORD.decode() not in text


def test_secrets_never_reach_the_logs(tmp_path, caplog):
    """A full IKEv2 PSK exchange, a wrong PSK and a CHILD rekey at DEBUG: neither the key,
    nor the derived keys, nor the AUTH payloads appear in any log line."""
    caplog.set_level(logging.DEBUG)
    pair = Pair(make_config(tmp_path))
    good = pair.client()
    pair.connect(good)
    assert good.state == "established"
    pair.deliver(good, good.rekey_child(pair.now))
    bad = pair.client(psk=b"wrong-psk-9876543210fedcba", address=("198.51.100.201", 500))
    pair.connect(bad)
    assert bad.state != "established"
    text = caplog.text
    assert text, "nothing was logged: the check would prove nothing"
    sa = good.sa
    secrets = [b"test-psk-0123456789abcdef", b"wrong-psk-9876543210fedcba"]
    secrets += [getattr(sa.keys, k) for k in ("sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er",
                                              "sk_pi", "sk_pr")]
    for secret in secrets:
        if not secret:
            continue
        for form in (secret.hex(), secret.decode("latin-1")):
            assert form not in text


# ------------------------------------------------------------------ constant time -----

SECRETISH = re.compile(r"(^|_)(psk|password|passwd|secret|mac|icv|digest|cookie|nt_hash|"
                       r"auth_data|hash_i|hash_r|msk|skeyid|expected|reveal|token)($|_)",
                       re.IGNORECASE)
# comparisons of values that look secret by name but are not (each with the reason)
NOT_SECRET = {
    ("ikesrv/ikev1/informational.py", "spi == sa.cookies"): "ISAKMP cookies are on the wire",
}


def _identifiers(node) -> list[str]:
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, ast.Attribute):
            out.append(n.attr)
    return out


def _plain_comparisons_of_secrets(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / "ikesrv").rglob("*.py")):
        rel = str(path.relative_to(root))
        if "/reference/" in rel or rel.endswith("_reference.py"):
            continue  # the test oracles, never on the serving path
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare) or not any(
                    isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands):
                continue
            if any(isinstance(o, ast.Call) and isinstance(o.func, ast.Name)
                   and o.func.id == "len" for o in operands):
                continue  # lengths are public
            names = [n for o in operands for n in _identifiers(o)
                     if SECRETISH.search(n) and not n.isupper()]
            source = ast.unparse(node)
            if names and (rel, source) not in NOT_SECRET:
                # a Secret compares in constant time itself (config.Secret.__eq__)
                if all(n == "psk" for n in names) and ".reveal()" not in source:
                    continue
                found.append(f"{rel}:{node.lineno}: {source}")
    return found


def test_secrets_are_compared_in_constant_time():
    """MACs, ICVs, AUTH data, cookies, hashes, PSKs and passwords are compared with
    hmac.compare_digest (or CRYPTO_memcmp in Cython), never with == or !=."""
    assert _plain_comparisons_of_secrets() == []


def test_the_scan_finds_a_plain_comparison(tmp_path):
    """The scan above is not vacuous: a plain comparison of a MAC is reported, one of
    lengths is not."""
    (tmp_path / "ikesrv").mkdir()
    (tmp_path / "ikesrv" / "bad.py").write_text(
        "def check(expected_mac, received):\n    return received == expected_mac\n"
        "def fine(a, b):\n    return len(a) == len(b)\n"
        "def psk(a, conn):\n    return a.psk.reveal() != conn.psk.reveal()\n")
    assert _plain_comparisons_of_secrets(tmp_path) == [
        "ikesrv/bad.py:2: received == expected_mac",
        "ikesrv/bad.py:6: a.psk.reveal() != conn.psk.reveal()"]
