"""deploy/: the systemd unit, the sysusers and sysctl files, the nftables rules.

systemd-analyze verify checks the unit as systemd would load it (it runs without systemd
as PID 1); the unit names /opt/ikesrv/bin/ikesrv, which verify insists exists, so a copy
pointing at this build's ikesrv is verified, nothing else changed. The sysctl file is
applied inside a fresh network namespace (every key in it is per namespace), the
sysusers file to a scratch root, the nftables files checked with `nft -c` (which asks the
kernel to validate the ruleset without loading it).
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import policy

from .placeholders import materialize

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "ikesrv.service"
INSTALLED_BINARY = "/opt/ikesrv/bin/ikesrv"
EXAMPLES = sorted((DEPLOY / "examples").glob("*.toml"))


def this_build_ikesrv() -> str:
    return str(Path(sys.executable).parent / "ikesrv")


def verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    policy.require_binary("systemd-analyze", "systemd")
    path = tmp_path / "ikesrv.service"
    path.write_text(unit_text)
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                          capture_output=True, text=True, check=False, timeout=60)


def unit_settings() -> dict[str, list[str]]:
    """[Service] setting -> every value it is given (systemd allows repeats)."""
    settings: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_passes_systemd_analyze_verify(tmp_path):
    assert INSTALLED_BINARY in UNIT.read_text()
    result = verify(UNIT.read_text().replace(INSTALLED_BINARY, this_build_ikesrv()), tmp_path)
    # verify exits 0 on mere warnings (unknown keys, bad values): none may be printed
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_verify_does_report_a_bad_setting(tmp_path):
    """The check above can fail: a misspelt and a wrong setting are reported."""
    text = UNIT.read_text().replace(INSTALLED_BINARY, this_build_ikesrv())
    broken = text.replace("ProtectSystem=strict", "ProtectSystem=sometimes\nProtectSytem=yes")
    result = verify(broken, tmp_path)
    assert "ProtectSytem" in result.stderr and "protect system value" in result.stderr


def test_unit_hardening():
    s = unit_settings()
    caps = {"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}
    assert set(s["CapabilityBoundingSet"][0].split()) == caps
    assert set(s["AmbientCapabilities"][0].split()) == caps
    assert s["User"] == ["ikesrv"] and s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["yes"]
    assert s["PrivateTmp"] == ["yes"] and s["PrivateDevices"] == ["yes"]
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX",
                                                            "AF_NETLINK"}
    assert s["RuntimeDirectory"] == ["ikesrv"]  # where [server] control_socket lives
    from ikesrv.config import ServerConfig
    assert str(ServerConfig().control_socket).startswith("/run/ikesrv/")
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert any(v.startswith("@system-service") for v in s["SystemCallFilter"])
    assert s["KillMode"] == ["mixed"]  # SIGTERM to the supervisor, which stops its workers
    timeout = float(s["TimeoutStopSec"][0].rstrip("s"))
    assert timeout > ServerConfig().shutdown_timeout + 2  # the Deletes, then the kill grace
    # the start checks the configuration first, with the same file
    assert s["ExecStartPre"][0].split()[1:] == ["check-config", "-c", "/etc/ikesrv/ikesrv.toml"]
    assert s["ExecStart"][0].split()[1:] == ["serve", "-c", "/etc/ikesrv/ikesrv.toml"]


def test_sysusers_creates_the_service_user(tmp_path):
    policy.require_binary("systemd-sysusers", "systemd")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(["systemd-sysusers", f"--root={tmp_path}",
                             str(DEPLOY / "sysusers.d" / "ikesrv.conf")],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert any(line.startswith("ikesrv:") and line.endswith(":/usr/sbin/nologin")
               for line in passwd.splitlines())
    assert "ikesrv:" in (tmp_path / "etc" / "group").read_text()


@pytest.mark.root
def test_sysctl_settings_apply(cleanup):
    """Every setting exists and takes its value (in a namespace of its own: all of them
    are per network namespace, so the host is untouched)."""
    from tests.harness.netns import Namespace, unique_name

    policy.require_binary("sysctl", "procps")
    ns = Namespace.create(unique_name("sysctl"), cleanup)
    path = DEPLOY / "sysctl.d" / "60-ikesrv.conf"
    result = ns.run(["sysctl", "-p", str(path)], check=False, timeout=30)
    assert result.returncode == 0, result.stderr
    wanted = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            wanted[key.strip()] = value.strip()
    assert wanted["net.ipv4.ip_forward"] == "1"
    assert wanted["net.ipv4.conf.all.rp_filter"] == "2"
    for key, value in wanted.items():
        now = ns.run(["sysctl", "-n", key], timeout=10).stdout.strip()
        assert now == value, key


def nft_check(path: Path) -> subprocess.CompletedProcess:
    policy.require_binary("nft", "nftables")
    return subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True,
                          check=False, timeout=60)


@pytest.mark.root
@pytest.mark.parametrize("name", ["ikesrv.nft", "ikesrv-input.nft"])
def test_nftables_files_check(name):
    result = nft_check(DEPLOY / "nftables" / name)
    assert result.returncode == 0, result.stderr


@pytest.mark.root
def test_nft_check_rejects_a_broken_ruleset(tmp_path):
    """`nft -c` does validate: a rule it cannot parse fails the check."""
    text = (DEPLOY / "nftables" / "ikesrv.nft").read_text()
    broken = tmp_path / "broken.nft"
    broken.write_text(text.replace("meta l4proto esp accept", "meta l4proto esp acept"))
    assert nft_check(broken).returncode != 0


@pytest.mark.root
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_firewall_command_output_checks(example, tmp_path):
    """What `ikesrv firewall --nft` prints for each example configuration."""
    config = materialize(example, tmp_path)
    out = subprocess.run([sys.executable, "-m", "ikesrv", "firewall", "--nft", "-c",
                          str(config)], capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    rules = tmp_path / "ikesrv-firewall.nft"
    rules.write_text(out.stdout)
    result = nft_check(rules)
    assert result.returncode == 0, result.stderr
    assert "udp dport { 500, 4500 } accept" in out.stdout and "esp accept" in out.stdout


def test_units_ini_parses():
    """The unit is valid ini for tools other than systemd (configparser, packagers)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    assert parser["Install"]["WantedBy"] == "multi-user.target"
