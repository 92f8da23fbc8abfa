"""``ikesrv serve`` as a test peer: a config written to a temp dir, the daemon started in
a namespace, its control socket and log at hand, stopped by PID.

Imports only tests.harness.{cleanup,netns,proc}; ikesrv itself runs as a subprocess, the
way an operator starts it.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

from .cleanup import Cleanup
from .netns import Namespace
from .proc import wait_until


class IkesrvServer:
    """One ``ikesrv serve`` in ``ns``."""

    def __init__(self, ns: Namespace, cleanup: Cleanup, config: str, files: dict | None = None,
                 *, workers: int | None = None, log_path: str | Path | None = None):
        self.ns = ns
        self.dir = cleanup.mkdtemp("ikesrv")
        self.control = self.dir / "control.sock"
        text = config.replace("@CONTROL@", str(self.control)).replace("@DIR@", str(self.dir))
        if "control_socket" not in text:
            text = text.replace("[server]\n", f'[server]\ncontrol_socket = "{self.control}"\n', 1)
        self.config_path = self.dir / "ikesrv.toml"
        self.config_path.write_text(text)
        for name, content in (files or {}).items():
            path = self.dir / name
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            path.chmod(0o600)
        # elsewhere when a test wants the daemon's output on a filesystem of its own
        self.log_path = Path(log_path) if log_path is not None else self.dir / "ikesrv.log"
        argv = [sys.executable, "-m", "ikesrv", "serve", "-c", str(self.config_path)]
        if workers is not None:
            argv += ["--workers", str(workers)]
        self.proc = ns.spawn(argv, name="ikesrv", log_path=self.log_path)
        self.cleanup = cleanup

    def wait_ready(self, address: str, port: int = 500, natt_port: int = 4500,
                   timeout: float = 20.0) -> IkesrvServer:
        def ready() -> bool:
            if not self.proc.alive():
                raise RuntimeError(f"ikesrv exited:\n{self.log_text()}")
            return self.control.exists()
        wait_until(ready, timeout=timeout, what="ikesrv control socket")
        self.ns.wait_udp(port, address, timeout)
        self.ns.wait_udp(natt_port, address, timeout)
        return self

    def status(self) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.control))
            s.sendall(b'{"command": "status"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def sas(self) -> list[dict]:
        return [sa for w in self.status()["workers"] for sa in w["ike_sas"]]

    def wait_sas(self, predicate, timeout: float = 20.0) -> list[dict]:
        found: list = []

        def check() -> bool:
            found[:] = [self.sas()]
            return predicate(found[0])
        wait_until(check, timeout=timeout, what="ikesrv SAs")
        return found[0]

    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, needle: str, timeout: float = 20.0) -> None:
        wait_until(lambda: needle in self.log_text(), timeout=timeout, what=f"log {needle!r}")

    def stop(self, timeout: float = 10.0):
        t0 = time.monotonic()
        rc = self.proc.stop(timeout)
        return rc, time.monotonic() - t0
