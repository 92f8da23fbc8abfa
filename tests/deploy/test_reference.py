"""The generated reference pages (tools/gen_reference.py) are current and complete.

docs/config-reference.md and docs/metrics-reference.md are generated from
ikesrv/config.py and ikesrv/metrics.py, deploy/nftables/ikesrv-input.nft from
`ikesrv firewall --nft`; a change to those without regenerating fails here. The keys the
generator documents are compared with the ones the configuration loader itself names
when it meets an unknown key, so that the generator cannot silently miss one.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ikesrv import config as config_module
from ikesrv.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "gen_reference.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_reference", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_current():
    result = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, (
        "regenerate with `python tools/gen_reference.py`:\n" + result.stderr)


def test_every_key_is_described(gen):
    _, keys = gen.config_reference()
    bare = [f"{k.section}.{k.name}" for k in keys if not k.description.strip()]
    assert not bare, ("keys without a description: add a comment beside the field in "
                      f"ikesrv/config.py or an entry in NOTES of {TOOL.name}: {bare}")


def test_notes_name_only_real_keys(gen):
    _, keys = gen.config_reference()
    real = {f"{k.section}.{k.name}" for k in keys}
    stale = set(gen.NOTES) - real - {"users.file", "users.ldap"}
    assert not stale, f"NOTES for keys that no longer exist: {sorted(stale)}"


def loader_known_keys() -> dict[str, set[str]]:
    """What the loader accepts in each section, from its own "unknown key" answer."""
    bogus = "zz_not_a_key_zz"
    text = f"""
[server]
{bogus} = 1
[metrics]
{bogus} = 1
[kernel]
{bogus} = 1
[pools.p]
addresses = "10.0.0.0/24"
{bogus} = 1
[users]
{bogus} = 1
[users.file]
{bogus} = 1
[users.ldap]
{bogus} = 1
[connections.c]
{bogus} = 1
"""
    with pytest.raises(ConfigError) as info:
        config_module.load_text(text, ROOT)
    sections = {"server": "server", "metrics": "metrics", "kernel": "kernel",
                "pools.p": "pools.NAME", "users": "users", "users.file": "users.file",
                "users.ldap": "users.ldap", "connections.c": "connections.NAME"}
    known = {}
    for path, message in info.value.errors:
        if path.endswith("." + bogus):
            section = sections[path[: -len(bogus) - 1]]
            m = re.search(r"known keys: ([^)]*)\)", message)
            assert m, f"{path}: {message}"
            known[section] = {k.strip() for k in m.group(1).split(",")}
    assert set(known) == set(sections.values())
    return known


def test_documented_keys_are_the_loaders_keys(gen):
    _, keys = gen.config_reference()
    documented: dict[str, set[str]] = {}
    for key in keys:
        documented.setdefault(key.section, set()).add(key.name)
    known = loader_known_keys()
    # subtables appear as keys of their parent table in the loader's answer
    known["users"] -= {"file", "ldap"}
    for section, names in known.items():
        assert documented.get(section, set()) == names, section


def test_metrics_reference_names_every_series():
    from prometheus_client import CollectorRegistry

    from ikesrv import metrics

    text = (ROOT / "docs" / "metrics-reference.md").read_text()
    registry = CollectorRegistry()
    metrics.Metrics(registry)
    metrics.SupervisorMetrics(registry)
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"## `{name}`" in text, name
