"""Processes started by tests: bounded runs, daemons stopped by PID, bounded waits.

Owns: ``run`` (a command with a timeout), ``Process`` (a daemon the test started, stopped
by its own PID: SIGTERM, a bounded wait, then SIGKILL), ``pid_alive`` (zombie-aware) and
``wait_until`` (every wait in the harness is bounded and says what it waited for).
Nothing here ever signals a process by name.

Imports only the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class HarnessError(RuntimeError):
    """A peer or fixture did not do what the test needed (with what to look at)."""


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie counts as gone: it holds no socket or namespace,
    and an orphan may stay a zombie for a second or two before PID 1 reaps it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # the state letter follows the parenthesised command name, which may contain ") "
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"")


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run inside network namespace ``netns`` (``ip netns exec`` execs it, so
    the PID Popen returns is the command's own)."""
    argv = [str(a) for a in argv]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    timeout: float = 30.0,
    check: bool = True,
    input: bytes | str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess:
    """Run a command (in ``netns`` if given) to completion within ``timeout`` seconds;
    text output captured. ``check`` raises HarnessError with its output on failure."""
    full = netns_argv(netns, argv)
    try:
        cp = subprocess.run(
            full,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
            errors="replace",
        )
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{' '.join(full)}: no exit within {timeout:g}s") from e
    if check and cp.returncode != 0:
        raise HarnessError(
            f"{' '.join(full)} exited {cp.returncode}\n--- stdout\n{cp.stdout[-3000:]}"
            f"\n--- stderr\n{cp.stderr[-3000:]}"
        )
    return cp


class Process:
    """A daemon started by a test. ``stop()`` signals its PID only, waits a bounded time,
    and escalates to SIGKILL; it is idempotent."""

    def __init__(self, name: str, popen: subprocess.Popen, log_path: Path, argv: list[str]):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.log_path = log_path
        self.argv = argv
        self.returncode: int | None = None

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"exited {self.returncode}"
        return f"<Process {self.name} pid={self.pid} {state}>"

    def alive(self) -> bool:
        if self.returncode is not None:
            return False
        rc = self.popen.poll()  # reaps our own child, so it never lingers as a zombie
        if rc is not None:
            self.returncode = rc
            return False
        return pid_alive(self.pid)

    def output(self) -> str:
        """What the process wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def send_signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for the process to exit; its exit code or None."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.returncode = self.popen.wait(timeout=timeout)
        return self.returncode

    def stop(self, timeout: float = 5.0, sig: int = signal.SIGTERM) -> int | None:
        """Stop by PID: ``sig``, up to ``timeout`` s, then SIGKILL (and 5 s more)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            if self.wait(timeout) is None and self.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.wait(5.0)
        elif self.returncode is None:
            self.wait(0.5)
        return self.returncode


def spawn(
    argv: Sequence[str],
    *,
    name: str,
    log_path: str | os.PathLike,
    netns: str | None = None,
    setup_shell: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
) -> Process:
    """Start a daemon (in ``netns`` if given) with stdout+stderr to ``log_path``.

    ``setup_shell`` runs first in the process's own mount namespace (the one
    ``ip netns exec`` makes), e.g. ``mount -t tmpfs x /run``, then execs ``argv`` so the
    PID stays the daemon's."""
    argv = [str(a) for a in argv]
    if setup_shell:
        argv = ["/bin/sh", "-c", f'{setup_shell} && exec "$@"', "sh", *argv]
    full = netns_argv(netns, argv)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    return Process(name, popen, log_path, full)


def tail(path: str | os.PathLike, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
