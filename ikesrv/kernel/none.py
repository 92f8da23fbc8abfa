"""The "none" kernel backend: records what would be installed, installs nothing.

For tests and for deployments where another component owns the data plane
(``[kernel] backend = "none"``). Every install succeeds; ``installed`` shows what the
kernel would carry, which the status output and the tests read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..actions import ChildSaSpec, KernelEvent, KernelResult

log = logging.getLogger("ikesrv.kernel")


class NoKernel:
    name = "none"

    def __init__(self) -> None:
        self.installed: dict[tuple[int, int], ChildSaSpec] = {}

    def start(self, on_event: Callable[[KernelEvent], None]) -> str:
        return "kernel backend none: CHILD SAs are negotiated but not installed anywhere"

    def install(self, spec: ChildSaSpec) -> KernelResult:
        self.installed[(spec.spi_in, spec.spi_out)] = spec
        return KernelResult(ok=True)

    def remove(self, spec: ChildSaSpec, remove_policies: bool) -> None:
        self.installed.pop((spec.spi_in, spec.spi_out), None)

    def bypass_socket(self, sock) -> None:
        pass

    def byte_counters(self) -> dict[str, int]:
        return {"in": 0, "out": 0}

    def stop(self, remove_all: bool) -> None:
        self.installed.clear()
