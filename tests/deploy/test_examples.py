"""deploy/examples/: every example configuration passes `ikesrv check-config`, as an
operator runs it, with placeholder credentials written where it expects them
(tests/deploy/placeholders.py), and yields the client profiles it is meant for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ikesrv import config as config_module
from ikesrv.client_profiles import ProfileError, build

from .placeholders import materialize

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples"

# warnings an example shows on purpose, each explained in the example itself
INTENDED_WARNINGS = {
    "ikev1-xauth.toml": {"connections.cisco-xauth.aggressive"},
}
# connection -> platforms whose profiles it must produce
PROFILES = {
    "ikev2-eap-ldap.toml": {"rw-eap": ["windows", "apple", "android", "linux-swanctl",
                                       "linux-nm"]},
    "ikev2-site.toml": {"branch1": ["linux-swanctl"], "branches": ["linux-swanctl"]},
    "ikev1-xauth.toml": {"cisco-xauth": ["apple", "linux-swanctl"]},
    "ikev1-ikev2.toml": {"rw-eap": ["windows", "apple", "android", "linux-nm"],
                         "rw-cert": ["windows", "android", "linux-swanctl"],
                         "legacy-xauth": ["linux-swanctl"]},
}


def all_examples():
    found = sorted(EXAMPLES.glob("*.toml"))
    assert {p.name for p in found} == set(PROFILES), "an example without its checks here"
    return found


@pytest.mark.parametrize("example", all_examples(), ids=lambda p: p.stem)
def test_example_passes_check_config(example, tmp_path):
    config = materialize(example, tmp_path)
    result = subprocess.run([sys.executable, "-m", "ikesrv", "check-config", "-c", str(config)],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    warned = {line.split(": ", 2)[1] for line in result.stdout.splitlines()
              if line.startswith("warning: ")}
    assert warned == INTENDED_WARNINGS.get(example.name, set()), result.stdout


@pytest.mark.parametrize("example", all_examples(), ids=lambda p: p.stem)
def test_example_makes_its_client_profiles(example, tmp_path):
    config = config_module.load(materialize(example, tmp_path))
    for connection, platforms in PROFILES[example.name].items():
        for platform in platforms:
            options = {"user": "alice", "ca_file": tmp_path / "pki" / "ca.crt"}
            if connection == "rw-cert":
                options["client_id"] = "alice@example.org"
            if connection == "branch1":
                options["server"] = "203.0.113.10"
            made = build(config, connection, platform, **options)
            assert made.content


def test_example_refuses_profiles_it_cannot_serve(tmp_path):
    """The IKEv1 example has no IKEv2 connection: Windows and Android get an error."""
    config = config_module.load(materialize(EXAMPLES / "ikev1-xauth.toml", tmp_path))
    for platform in ("windows", "android", "linux-nm"):
        with pytest.raises(ProfileError):
            build(config, "cisco-xauth", platform)
