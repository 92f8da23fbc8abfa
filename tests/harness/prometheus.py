"""A Prometheus server (Debian's package) that scrapes targets inside a test namespace,
queried through its HTTP API; and a static /metrics target served from Python.

Owns: ``Prometheus`` (own configuration: scrape and evaluation every 1 s, job ``ikesrv``,
optional rule files checked with ``promtool check rules``; TSDB in a temporary directory;
listens on 127.0.0.1:<port> of the namespace; ``query()`` / ``wait_for()`` over
/api/v1/query) and ``StaticTarget`` (a fixed exposition text on 127.0.0.1:<port>/metrics,
served by a thread whose socket lives in the namespace); ``scrape()`` / ``value()`` read
ikesrv's own /metrics directly. HTTP calls go through ``Namespace.call``, so they reach
the namespace's loopback from the test process.

Imports only the standard library and tests.harness.{proc,cleanup,netns}.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .cleanup import Cleanup
from .netns import Namespace
from .proc import HarnessError, Process, run, spawn, tail, wait_until

DEFAULT_PORT = 9090


def _in_ns(ns: Namespace | None, fn, *args: Any, **kwargs: Any):
    return ns.call(fn, *args, **kwargs) if ns is not None else fn(*args, **kwargs)


def http_get(ns: Namespace | None, url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url`` from inside ``ns`` (or the host); (status, body)."""

    def get() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    return _in_ns(ns, get, timeout=timeout + 5) if ns is not None else get()


_SAMPLE = re.compile(r"^(ikesrv_[a-z_]+)(?:\{(.*)\})? (\S+)$")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(ns: Namespace | None, listen: str, *, settle: float = 0.0) -> Samples:
    """ikesrv's /metrics on ``listen`` ("address:port") as {(name, ((label, value), ...)):
    value}. With ``settle`` (seconds, e.g. twice a worker's metrics flush delay): read
    again ``settle`` apart until two reads agree, so that every event so far is in."""

    def once() -> Samples:
        status, body = http_get(ns, f"http://{listen}/metrics")
        assert status == 200, status
        out: Samples = {}
        for line in body.decode().splitlines():
            m = _SAMPLE.match(line)
            if m:
                labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
                out[(m.group(1), labels)] = float(m.group(3))
        return out

    reads = [once()]
    if settle <= 0:
        return reads[0]

    def settled() -> bool:
        time.sleep(settle)  # the reads compared lie a full flush interval apart
        reads.append(once())
        return reads[-1] == reads[-2]
    wait_until(settled, timeout=10 + 2 * settle, what="/metrics to settle", interval=0.0)
    return reads[-1]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples that carry ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


class Prometheus:
    def __init__(
        self,
        cleanup: Cleanup,
        ns: Namespace | None,
        targets: list[str],
        *,
        port: int = DEFAULT_PORT,
        job: str = "ikesrv",
        rules: list[str | Path] | None = None,
        interval: str = "1s",
    ):
        self.cleanup = cleanup
        self.ns = ns
        self.targets = targets
        self.port = port
        self.job = job
        self.rules = [Path(r) for r in rules or []]
        self.interval = interval
        self.dir = cleanup.mkdtemp("prom")
        self.config_path = self.dir / "prometheus.yml"
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"<Prometheus {self.url} in {self.ns.name if self.ns else 'host'} {self.process!r}>"

    def _config(self) -> str:
        lines = [
            "global:",
            f"  scrape_interval: {self.interval}",
            f"  scrape_timeout: {self.interval}",
            f"  evaluation_interval: {self.interval}",
        ]
        if self.rules:
            copied = []
            for i, r in enumerate(self.rules):
                dst = self.dir / f"rules{i}.yml"
                shutil.copyfile(r, dst)
                copied.append(dst)
            run(["promtool", "check", "rules", *map(str, copied)], timeout=30)
            lines.append("rule_files: [" + ", ".join(json.dumps(str(c)) for c in copied) + "]")
        lines += [
            "scrape_configs:",
            f"  - job_name: {json.dumps(self.job)}",
            "    static_configs:",
            "      - targets: [" + ", ".join(json.dumps(t) for t in self.targets) + "]",
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 20.0) -> Prometheus:
        self.config_path.write_text(self._config())
        run(["promtool", "check", "config", str(self.config_path)], timeout=30)
        argv = [
            "prometheus",
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        log = self.dir / "prometheus.log"
        if self.ns is not None:
            self.process = self.ns.spawn(argv, name="prometheus", log_path=log)
        else:
            self.process = spawn(argv, name="prometheus", log_path=log)
            proc = self.process
            self.cleanup.push(f"stop prometheus (pid {proc.pid})", proc.stop)
            self.cleanup.add_log("prometheus output", log)

        def ready() -> bool:
            if not self.process.alive():
                raise HarnessError(f"prometheus exited: {tail(log, 20)}")
            try:
                return http_get(self.ns, f"{self.url}/-/ready", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(ready, timeout, f"prometheus on {self.url}", interval=0.1)
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        return self.process.stop(timeout) if self.process else None

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the ``data`` member of a successful answer."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(self.ns, url)
        doc = json.loads(body)
        if status != 200 or doc.get("status") != "success":
            raise HarnessError(f"prometheus {path} {params}: {status} {doc.get('error')}")
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector: [{"metric": {...}, "value": [t, "v"]}]."""
        return self.api("query", query=expr)["result"]

    def wait_for(self, expr: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The first non-empty answer to ``expr`` (bounded)."""
        return wait_until(
            lambda: self.query(expr), timeout, f"a sample for {expr!r}", interval=0.25
        )

    def targets_health(self) -> list[dict[str, Any]]:
        return self.api("targets")["activeTargets"]


class StaticTarget:
    """A fixed Prometheus text exposition served at http://127.0.0.1:<port>/metrics of
    ``ns`` (or the host), by a thread of the test process."""

    def __init__(self, cleanup: Cleanup, ns: Namespace | None, text: str, port: int = 9810):
        self.ns = ns
        self.port = port
        self.text = text
        body = text.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        # the listening socket is made inside the namespace; serving can run anywhere
        self.server = _in_ns(ns, http.server.HTTPServer, ("127.0.0.1", port), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name=f"metrics-{port}"
        )
        self.thread.start()
        cleanup.push(f"stop static metrics target :{port}", self.stop)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(5)
        self.server.server_close()
