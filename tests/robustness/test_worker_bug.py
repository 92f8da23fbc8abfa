"""Defence in depth at the edge: if a datagram ever made the core raise (a bug: the
fuzzers hunt them), the worker keeps serving, logs the traceback a bounded number of
times and counts it, so that a datagram sent over and over cannot flood the log."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import generate_latest

from ikesrv.kernel.none import NoKernel
from ikesrv.metrics import Metrics
from ikesrv.net.transport import Transport
from ikesrv.server import worker as worker_module
from ikesrv.server.worker import Worker

from .inmemory import SERVER, make_config


def test_a_failing_datagram_is_logged_a_bounded_number_of_times(tmp_path, caplog,
                                                                 monkeypatch):
    caplog.set_level(logging.INFO)
    metrics = Metrics()
    worker = Worker(make_config(tmp_path), Transport([]), NoKernel(), metrics)
    calls = []

    def broken(data, local, remote, now):
        calls.append(data)
        raise KeyError("a bug")
    monkeypatch.setattr(worker.core, "datagram_received", broken)

    async def main():
        worker.loop = asyncio.get_running_loop()
        for _ in range(100):
            worker._datagram(b"\0" * 40, SERVER, ("203.0.113.1", 500))

    asyncio.run(main())
    assert len(calls) == 100
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == worker_module.CORE_BUG_LINES
    assert "203.0.113.1:500" in tracebacks[0].getMessage()
    text = generate_latest(metrics.registry).decode()
    assert 'ikesrv_invalid_messages_total{reason="internal_error"} 100.0' in text
