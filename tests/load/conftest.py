"""Fixtures for the load generator's tests: ``load`` runs ``ikesrv load`` in a namespace
and returns its exit status and JSON report."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LoadRun:
    returncode: int
    report: dict | None
    stderr: str
    seconds: float


@pytest.fixture
def load(cleanup):
    """Factory: load(ns, *options, timeout=60) -> LoadRun (``--json -`` is added)."""
    import time

    def run(ns, *options: str, timeout: float = 60.0) -> LoadRun:
        argv = [sys.executable, "-m", "ikesrv", "load", *options, "--json", "-"]
        t0 = time.monotonic()
        cp = ns.run(argv, timeout=timeout, check=False, cwd=str(REPO))
        seconds = time.monotonic() - t0
        try:
            report = json.loads(cp.stdout)
        except ValueError:
            report = None
        return LoadRun(cp.returncode, report, cp.stderr, seconds)

    return run


@pytest.fixture
def psk_file(tmp_path):
    """Factory: psk_file(text) -> the path of a file holding that pre-shared key."""
    def make(text: str) -> str:
        path = tmp_path / f"psk-{abs(hash(text))}"
        path.write_text(text + "\n")
        return str(path)
    return make
