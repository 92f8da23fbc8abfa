"""The cleanup registry: whatever a test creates is undone in reverse order at teardown.

Owns: ``Cleanup``, a last-in first-out list of undo actions (stop this PID, delete that
namespace, remove that directory) and of log files worth showing when the test failed.
Daemons are registered after the namespaces they run in, so they stop first: a network
namespace lives on while a process is inside it.

Imports only the standard library and tests.harness.proc.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .proc import tail


class Cleanup:
    """Undo actions run last-in first-out by ``close()``; every action runs even when an
    earlier one failed, and the failures are reported together."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], object]]] = []
        self._logs: list[tuple[str, Path]] = []
        self.closed = False

    def push(self, what: str, action: Callable[[], object]) -> None:
        """Register ``action`` (described by ``what``) to run at teardown."""
        self._actions.append((what, action))

    def mkdtemp(self, prefix: str) -> Path:
        """A fresh directory under /tmp (short paths: unix socket paths are limited to
        108 bytes), removed at teardown unless IKESRV_KEEP_TEST_FILES=1."""
        path = Path(tempfile.mkdtemp(prefix=f"ikt-{prefix}-", dir="/tmp"))
        path.chmod(0o755)

        def remove() -> None:
            if os.environ.get("IKESRV_KEEP_TEST_FILES") != "1":
                shutil.rmtree(path, ignore_errors=True)

        self.push(f"remove {path}", remove)
        return path

    def add_log(self, name: str, path: str | os.PathLike) -> None:
        """A log shown (its tail) in the report of a failed test."""
        self._logs.append((name, Path(path)))

    def logs_report(self, lines: int = 60) -> str:
        parts = []
        for name, path in self._logs:
            text = tail(path, lines)
            if text:
                parts.append(f"----- {name} ({path}), last {lines} lines\n{text}")
        return "\n".join(parts)

    def close(self) -> None:
        """Run every registered action, newest first; raise one error listing failures."""
        failures = []
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as e:  # keep undoing the rest; report all at the end
                failures.append(f"{what}: {e!r}")
        self.closed = True
        if failures:
            raise RuntimeError("cleanup failed:\n  " + "\n  ".join(failures))

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
