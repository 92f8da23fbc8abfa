"""Fixtures for system tests: ``ikesrv serve`` (supervisor and workers) in the gateway
namespace, as in tests/interop."""

from __future__ import annotations

import pytest

from tests.harness.ikesrv_server import IkesrvServer


@pytest.fixture
def ikesrv(cleanup):
    """Factory: ikesrv(ns, config_text, files={name: content}, address=..., workers=N)."""
    def start(ns, config: str, files: dict | None = None, *, address: str, workers=None):
        server = IkesrvServer(ns, cleanup, config, files, workers=workers)
        return server.wait_ready(address)
    return start
