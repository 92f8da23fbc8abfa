"""Inside a forked worker process: the Worker over its steered sockets, and its end of
the supervisor channel.

Owns: turning socket i of every steering group into this worker's Transport, building
its Worker (core with worker index i of N, kernel backend, users backend, metrics with
``worker="i"``), and the worker side of the channel protocol (ikesrv.server.channel):
status answers, relaying IdentityClaimed actions, acting on other workers' claims, and
reporting its pool slices so that the supervisor can tell an operator that one slice ran
dry while others have room. When the supervisor goes away (EOF on the channel) the worker
stops as on SIGTERM: Deletes to its peers, then exit.

Must not fork, bind or close steered sockets: the supervisor owns them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from .. import gc_policy
from ..config import Config
from ..net.transport import IkeSocket, Transport
from .channel import Channel
from .worker import Worker

log = logging.getLogger("ikesrv.worker")

POOL_REPORT_INTERVAL = 2.0
# Claims wait this long to leave in one message: every message wakes the supervisor and
# every other worker, which under load costs more than the claim (measured: sending one
# per SA halved the set-up rate of two workers on two CPUs). A replaced SA lingers on
# another worker for at most this long more.
CLAIM_BATCH_DELAY = 0.05


class WorkerLink:
    """The worker's end of the channel."""

    def __init__(self, worker: Worker, channel: Channel):
        self.worker = worker
        self.channel = channel
        self._pools_sent: dict | None = None
        self._claims: list[dict] = []
        self._claims_timer: asyncio.TimerHandle | None = None
        worker.on_identity_claimed = self.claim

    # ------------------------------------------------------------------ to supervisor -

    def claim(self, a) -> None:
        self._claims.append({"connection": a.connection, "identity": a.identity,
                             "mode": a.mode, "at": a.claimed_at, "spi": a.spi.hex()})
        if self._claims_timer is None:
            self._claims_timer = asyncio.get_running_loop().call_later(
                CLAIM_BATCH_DELAY, self._send_claims)

    def _send_claims(self) -> None:
        self._claims_timer = None
        claims, self._claims = self._claims, []
        if claims:
            self.channel.send({"op": "claims", "claims": claims})

    def report_pools(self) -> None:
        pools = {name: [p.used, p.size] for name, p in self.worker.core.pools.items()}
        if pools != self._pools_sent:
            self._pools_sent = pools
            self.channel.send({"op": "pools", "pools": pools})

    async def report_pools_forever(self) -> None:
        while True:
            self.report_pools()
            await asyncio.sleep(POOL_REPORT_INTERVAL)

    # ------------------------------------------------------------------ from supervisor

    def handle(self, m: dict) -> None:
        op = m.get("op")
        worker = self.worker
        now = time.time()
        if op == "status":
            self.channel.send({"op": "status", "id": m.get("id"),
                               "ike_sas": worker.core.status(),
                               "pools": self._pools_sent or {}})
        elif op == "claims":
            for c in m.get("claims", ()):
                try:
                    held = worker.core.identity_claimed_elsewhere(
                        str(c["connection"]), str(c["identity"]), str(c["mode"]),
                        float(c["at"]), now)
                except (KeyError, TypeError, ValueError) as e:
                    log.warning("malformed claim from the supervisor: %s", e)
                    continue
                if held and c.get("mode") == "keep":
                    self.channel.send({"op": "held", "to": m.get("from"), "spi": c.get("spi")})
            worker._flush()
        elif op == "refused":
            try:
                spi = bytes.fromhex(str(m["spi"]))
            except (KeyError, ValueError):
                return
            worker.core.claim_refused(spi, now)
            worker._flush()


def transport_for(groups, index: int) -> Transport:
    """Socket ``index`` of every group: what the steering program sends to this worker."""
    return Transport([IkeSocket(g.sockets[index], g.natt) for g in groups])


async def serve(config: Config, groups, index: int, count: int, channel_sock,
                with_metrics: bool) -> int:
    """Run worker ``index`` of ``count`` until SIGTERM (or the supervisor's exit)."""
    from . import make_kernel, make_users
    metrics = None
    if with_metrics:
        from ..metrics import Metrics
        metrics = Metrics(pools=tuple(config.pools), worker=str(index))
    transport = transport_for(groups, index)
    worker = Worker(config, transport, make_kernel(config, index, count), metrics,
                    make_users(config, metrics),
                    worker_index=index, worker_count=count)
    channel = await Channel.open(channel_sock)
    link = WorkerLink(worker, channel)
    gc_policy.tune()  # config, credentials and modules are loaded: see ikesrv.gc_policy
    run = asyncio.create_task(worker.run())
    await asyncio.sleep(0)  # run() has registered the sockets and signal handlers
    if run.done():
        run.result()  # the start failed (kernel backend, ...): raise it here
    channel.send({"op": "ready", "pid": os.getpid()})
    reporter = asyncio.create_task(link.report_pools_forever())
    listener = asyncio.create_task(channel.serve(link.handle))
    done, _ = await asyncio.wait({run, listener}, return_when=asyncio.FIRST_COMPLETED)
    if listener in done and not run.done():
        log.warning("the supervisor is gone: stopping")
        worker.stop()
        await run
    reporter.cancel()
    listener.cancel()
    channel.close()
    run.result()
    return 0
