"""The supervisor's /metrics endpoint, served on its own event loop.

Owns: a minimal HTTP/1.0 GET responder for Prometheus scrapes (``[metrics] listen``):
``/metrics`` answers the registry's text exposition, anything else 404. It runs on the
supervisor's asyncio loop rather than prometheus-client's server thread because the
supervisor forks workers at any time (restarts), and a process should not fork while
another thread may hold a lock.
"""

from __future__ import annotations

import asyncio
import gzip
import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger("ikesrv.metrics")

MAX_HEADER = 16 * 1024
READ_TIMEOUT = 5.0


async def serve(host: str, port: int, registry) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            writer.close()
            return
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"", "text/plain"
            elif target.split("?")[0] != "/metrics":
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            else:
                status, body, ctype = "200 OK", generate_latest(registry), CONTENT_TYPE_LATEST
            extra = ""
            if len(body) > 1024 and "gzip" in headers.get("accept-encoding", ""):
                body, extra = gzip.compress(body, 1), "Content-Encoding: gzip\r\n"
            writer.write((f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\n{extra}"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode())
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        except (ValueError, ConnectionError) as e:
            log.debug("metrics request failed: %s", e)
        except Exception:  # a collection bug must not take the supervisor down
            log.exception("metrics collection failed")
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_HEADER)
