"""Running ikesrv: sockets, kernel backend, metrics endpoint, control socket, workers.

``main(config, workers)`` is what ``ikesrv serve`` calls: a supervisor
(ikesrv.server.supervisor) that owns the sockets and forks the worker processes
(ikesrv.server.worker_process, each running ikesrv.server.worker.Worker).
"""

from __future__ import annotations

import asyncio
import logging

from ..config import Config

log = logging.getLogger("ikesrv.server")


def make_kernel(config: Config, worker_index: int | None = None, worker_count: int = 1):
    """The kernel backend of one worker. ``worker_index`` None: this process owns every
    XFRM entry ikesrv made (one process); else only worker ``worker_index``'s (the reqid's
    top byte), plus, for worker 0, those of workers a previous run had and this one lacks."""
    if config.kernel.backend == "none":
        from ..kernel.none import NoKernel
        return NoKernel()
    try:
        from ..kernel.xfrm import XfrmKernel
        from ..kernel.xfrm_codec import Mark
    except ImportError:
        raise SystemExit('ikesrv: the xfrm kernel backend is not available in this build; '
                         'set [kernel] backend = "none"') from None
    return XfrmKernel(natt_port=config.server.natt_port, worker_index=worker_index,
                      worker_count=worker_count, mark=Mark(*config.kernel.mark))


def make_users(config: Config, metrics=None):
    try:
        from ..auth import backend_from_config
    except ImportError:
        return None
    return backend_from_config(config, metrics)


def setup_logging(config: Config) -> None:
    level = getattr(logging, config.server.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(config: Config, workers: int | None = None) -> int:
    """Serve until SIGTERM: the supervisor forks ``workers`` worker processes ([server]
    workers when None; 0 = one per CPU) and restarts any that dies (DESIGN §4)."""
    from .supervisor import Supervisor
    setup_logging(config)
    return asyncio.run(Supervisor(config, workers).run())
