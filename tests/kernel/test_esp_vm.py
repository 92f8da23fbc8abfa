"""The kernel tests that need real ESP, run inside a kernel that has it.

This machine's kernel has XFRM netlink but no ESP, so tests/kernel/in_vm/esp_*.py run
under User-Mode Linux (tests/harness/esp-vm.sh: Debian's user-mode-linux kernel, with
this machine's files visible). The guest boots once per run of this module; inside it
pytest runs those modules and writes a JUnit report, and each test function there
becomes one test here that passes only if every case of it passed in the guest.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import policy
from tests.harness.strongswan import DEBIAN_CHARON

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "harness" / "esp-vm.sh"
IN_VM = ("tests/kernel/in_vm/esp_backend.py", "tests/kernel/in_vm/esp_strongswan.py")
VM_TIMEOUT = 540  # seconds for boot, every test inside and power-off (about 2-3 min)


def inner_tests() -> list[str]:
    """``module::function`` of every test function in the guest's modules."""
    found = []
    for rel in IN_VM:
        tree = ast.parse((ROOT / rel).read_text())
        module = rel[:-3].replace("/", ".")
        found += [f"{module}::{node.name}" for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    return found


@dataclass
class Case:
    module: str
    name: str  # with its parameters, e.g. test_x[gcm]
    outcome: str  # passed, failed, error, skipped
    detail: str

    @property
    def function(self) -> str:
        return self.name.split("[", 1)[0]


@dataclass
class VmRun:
    returncode: int
    output: str
    cases: list[Case]

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def _cases(junit: Path) -> list[Case]:
    cases = []
    for tc in ET.parse(junit).getroot().iter("testcase"):
        outcome, detail = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = "failed" if tag == "failure" else tag
                detail = (el.get("message") or "") + "\n" + (el.text or "")
        cases.append(Case(tc.get("classname", ""), tc.get("name", ""), outcome, detail))
    return cases


@pytest.fixture(scope="module")
def vm_run(tmp_path_factory) -> VmRun:
    policy.require_root()
    if subprocess.run([str(RUNNER), "available"], capture_output=True).returncode != 0:
        policy.unavailable("no User-Mode Linux kernel (Debian package user-mode-linux; "
                           "`make lab` installs it)")
    policy.require_binary(DEBIAN_CHARON, "strongswan-charon")
    policy.require_binary("swanctl", "strongswan-swanctl")
    policy.require_binary("tcpdump", "tcpdump")
    out = tmp_path_factory.mktemp("esp-vm")
    junit = out / "junit.xml"
    argv = [str(RUNNER), "run", "--timeout", str(VM_TIMEOUT), "--rw", str(out), "--",
            "env", "IKESRV_IN_ESP_VM=1", "PYTHONDONTWRITEBYTECODE=1",
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no",
            "-o", "junit_family=xunit2", f"--junitxml={junit}", *IN_VM]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          timeout=VM_TIMEOUT + 60, env={**os.environ})
    output = proc.stdout + proc.stderr
    cases = _cases(junit) if junit.exists() else []
    return VmRun(proc.returncode, output, cases)


@pytest.mark.parametrize("test", inner_tests())
def test_in_esp_vm(vm_run: VmRun, test: str):
    module, function = test.split("::")
    cases = [c for c in vm_run.cases if c.module == module and c.function == function]
    assert cases, f"{test} did not run in the guest (exit {vm_run.returncode}):\n{vm_run.tail()}"
    bad = [c for c in cases if c.outcome != "passed"]
    assert not bad, "\n\n".join(f"{c.name}: {c.outcome}\n{c.detail}" for c in bad) \
        + f"\n----- guest output (tail)\n{vm_run.tail()}"
