"""Fixtures for interop tests: ``ikesrv serve`` in the gateway namespace."""

from __future__ import annotations

import pytest

from tests.harness.ikesrv_server import IkesrvServer


@pytest.fixture
def ikesrv(cleanup):
    """Factory: ikesrv(ns, config_text, files={name: content}) -> a started IkesrvServer.

    One worker unless ``workers`` says otherwise: these tests compare ikesrv's protocol
    behaviour with a peer's (the first virtual IP of the pool, and so on); the virtual IP
    a client gets depends on the worker its SPI hashes to, whose slice of the pool it is
    (DESIGN §4). Several workers are tested in tests/system."""
    def start(ns, config: str, files: dict | None = None, *, address: str, workers=1):
        server = IkesrvServer(ns, cleanup, config, files, workers=workers)
        return server.wait_ready(address)
    return start
