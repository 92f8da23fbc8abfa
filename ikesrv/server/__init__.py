"""Running ikesrv: sockets, kernel backend, metrics endpoint, control socket, workers.

``main(config, workers)`` is what ``ikesrv serve`` calls.
"""

from __future__ import annotations

import asyncio
import logging
import os

from ..config import Config

log = logging.getLogger("ikesrv.server")


def make_kernel(config: Config):
    if config.kernel.backend == "none":
        from ..kernel.none import NoKernel
        return NoKernel()
    try:
        from ..kernel.xfrm import XfrmKernel
    except ImportError:
        raise SystemExit('ikesrv: the xfrm kernel backend is not available in this build; '
                         'set [kernel] backend = "none"') from None
    return XfrmKernel()


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
    """Serve until SIGTERM. One worker process serves everything for now."""
    from .single import run_single
    setup_logging(config)
    return asyncio.run(run_single(config))
