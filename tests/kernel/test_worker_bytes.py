"""The worker's byte poll: ikesrv_child_sa_bytes_total follows the kernel backend's
totals, increases only, and takes a last reading at shutdown after the SAs' removal."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest

from ikesrv.metrics import Metrics
from ikesrv.net.transport import Transport
from ikesrv.server import worker as worker_module
from ikesrv.server.worker import Worker
from tests.unit.ikev2_pair import make_config


class ScriptedKernel:
    """A backend whose byte totals follow a script, one entry per read."""

    name = "scripted"

    def __init__(self, readings):
        self.readings = list(readings)
        self.reads = 0
        self.stopped = None

    def start(self, on_event):
        return "scripted kernel"

    def install(self, spec):
        raise AssertionError("no CHILD SA in this test")

    def remove(self, spec, remove_policies):
        pass

    def bypass_socket(self, sock):
        pass

    def byte_counters(self):
        self.reads += 1
        return self.readings[min(self.reads, len(self.readings)) - 1]

    def stop(self, remove_all):
        self.stopped = (remove_all, self.reads)


def sample(metrics: Metrics, direction: str) -> float:
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(f'ikesrv_child_sa_bytes_total{{direction="{direction}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no child_sa_bytes_total for {direction}")


def test_the_byte_poll_adds_increases_and_reads_once_more_at_shutdown(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_module, "BYTES_POLL_INTERVAL", 0.01)
    kernel = ScriptedKernel([
        {"in": 0, "out": 0},          # at start
        {"in": 1000, "out": 400},
        {"in": 900, "out": 500},      # a state vanished unread: no decrease is counted
        {"in": 1500, "out": 500},
    ])
    metrics = Metrics()
    w = Worker(make_config(tmp_path), Transport([]), kernel, metrics)

    async def run():
        task = asyncio.ensure_future(w.run())
        while kernel.reads < 4:
            await asyncio.sleep(0.005)
        kernel.readings.append({"in": 1700, "out": 650})  # the SAs removed at shutdown
        w.stop()
        await task
    asyncio.run(run())
    assert kernel.stopped == (True, kernel.reads)  # the last read came before the removal
    assert sample(metrics, "in") == 1000 + 600 + 200
    assert sample(metrics, "out") == 400 + 100 + 150
