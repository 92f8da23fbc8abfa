"""The protocol every kernel backend implements (DESIGN §5).

Owns: the interface between the worker's event loop and whatever carries ESP: probing
at start-up, installing and removing CHILD SAs (answers come back as
``actions.KernelResult``), events about expiring SAs, byte counters, cleanup of what a
previous run left, and the per-socket bypass for the IKE sockets. Backends are edges:
the core never calls them directly; the worker turns InstallChildSa / RemoveChildSa
actions into these calls and feeds the results back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..actions import ChildSaSpec, KernelEvent, KernelResult


class KernelBackend(Protocol):
    name: str

    def start(self, on_event: Callable[[KernelEvent], None]) -> str:
        """Prepare (remove stale entries, subscribe to events); return one line that
        says what the backend can do on this kernel."""

    def install(self, spec: ChildSaSpec) -> KernelResult:
        """Install both directions (and the policies when ``spec.install_policies``)."""

    def remove(self, spec: ChildSaSpec, remove_policies: bool) -> None:
        """Remove both directions; errors are logged, never raised."""

    def bypass_socket(self, sock) -> None:
        """Let IKE traffic of ``sock`` pass outside any IPsec policy."""

    def byte_counters(self) -> dict[str, int]:
        """Bytes carried by our SAs since start, removed ones included: {"in": n,
        "out": n}. The worker adds the increase to ikesrv_child_sa_bytes_total."""

    def stop(self, remove_all: bool) -> None:
        """Shut down; with ``remove_all``, remove every state and policy we installed."""
