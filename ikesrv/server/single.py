"""A single-process server: one worker with its own sockets, metrics and control socket."""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import start_http_server

from ..config import Config
from ..metrics import Metrics
from ..net.transport import Transport
from . import control, make_kernel, make_users
from .worker import Worker

log = logging.getLogger("ikesrv.server")


async def run_single(config: Config) -> int:
    s = config.server
    transport = Transport.bind(s.addresses, s.port, s.natt_port, rcvbuf=s.receive_buffer)
    metrics = Metrics(pools=tuple(config.pools))
    if config.metrics.enabled:
        start_http_server(config.metrics.port, str(config.metrics.address),
                          registry=metrics.registry)
    worker = Worker(config, transport, make_kernel(config), metrics, make_users(config, metrics))
    started = time.time()

    def status() -> dict:
        return {"workers": [{"index": 0, "pid": os.getpid(),
                             "uptime": round(time.time() - started, 1),
                             "ike_sas": worker.core.status()}]}

    server = await control.serve(s.control_socket, status)
    log.info("ikesrv serving on %s, UDP %d and %d; metrics on %s:%d; control %s",
             ", ".join(str(a) for a in s.addresses), s.port, s.natt_port,
             config.metrics.address, config.metrics.port, s.control_socket)
    try:
        await worker.run()
    finally:
        server.close()
        transport.close()
        try:
            s.control_socket.unlink()
        except OSError:
            pass
    return 0
