"""Fixtures for the robustness tests: ``ikesrv serve`` in the gateway namespace (as in
tests/interop and tests/system); the in-memory tests use tests/unit's scripted peers."""

from __future__ import annotations

import pytest

from tests.harness.ikesrv_server import IkesrvServer


@pytest.fixture
def ikesrv(cleanup):
    """Factory: ikesrv(ns, config_text, files={name: content}, address=..., workers=N,
    log_path=None) -> a started IkesrvServer (its output to ``log_path`` when given)."""
    def start(ns, config: str, files: dict | None = None, *, address: str, workers=1,
              log_path=None):
        server = IkesrvServer(ns, cleanup, config, files, workers=workers, log_path=log_path)
        return server.wait_ready(address)
    return start
