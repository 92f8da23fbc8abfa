"""The control socket: ``ikesrv status`` asks a running server what it holds.

Owns: a Unix stream socket speaking one JSON request per line ({"command": "status"})
and answering with one JSON document per line. DESIGN §6 fixes the status format:
{"workers": [{"index": i, "pid": p, "ike_sas": [...]}]}. The socket is created 0600: SA
listings name users and addresses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger("ikesrv.control")
MAX_REQUEST = 4096


async def serve(path: Path, status: Callable[[], dict | Awaitable[dict]]
                ) -> asyncio.AbstractServer:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_socket() or path.exists():
        path.unlink()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            try:
                request = json.loads(line[:MAX_REQUEST] or b"{}")
                command = request.get("command") if isinstance(request, dict) else None
            except ValueError:
                command = None
            if command == "status":
                answer = status()
                if asyncio.iscoroutine(answer):  # the supervisor asks its workers first
                    answer = await answer
            else:
                answer = {"error": "unknown command; try {\"command\": \"status\"}"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(handle, path=str(path))
    finally:
        os.umask(old_umask)
    return server


def request(path: Path, command: str = "status", timeout: float = 5.0) -> dict:
    """Ask a running server (used by ``ikesrv status``)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps({"command": command}).encode() + b"\n")
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return json.loads(b"".join(chunks))
