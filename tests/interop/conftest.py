"""Fixtures for interop tests: ``ikesrv serve`` in the gateway namespace."""

from __future__ import annotations

import pytest

from tests.harness.ikesrv_server import IkesrvServer


@pytest.fixture
def ikesrv(cleanup):
    """Factory: ikesrv(ns, config_text, files={name: content}) -> a started IkesrvServer."""
    def start(ns, config: str, files: dict | None = None, *, address: str, workers=None):
        server = IkesrvServer(ns, cleanup, config, files, workers=workers)
        return server.wait_ready(address)
    return start
