"""The supervisor-worker channel: one JSON object per line over a Unix socket pair.

Owns: framing, bounded non-blocking sends and the message vocabulary. The supervisor
makes one socket pair per worker process before forking it (a new pair for a restarted
worker: this is not a steered socket, replacing it is harmless).

Messages (``op`` names the kind; SPIs are hex strings):

  worker -> supervisor
    ready    {pid}                                    the worker serves
    status   {id, ike_sas}                            answer to a status request
    claims   {claims: [{connection, identity, mode,   actions.IdentityClaimed, batched
                            at, spi}, ...]}           (worker_process.CLAIM_BATCH_DELAY):
                                                      relay them
    held     {to, spi}                                unique = keep: worker ``to`` must
                                                      end its SA ``spi``
    pools    {pools: {name: [used, size]}}            this worker's slices, on change
  supervisor -> worker
    status   {id}
    claims   {claims: [...], from}
    refused  {spi}                                    our claim lost to an older SA

Every exchange is fire-and-forget except status, which the supervisor bounds with a
timeout. A send never blocks an event loop: it is buffered by asyncio, and dropped (and
counted) when the peer has stopped reading and the buffer passed ``MAX_BUFFERED``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

log = logging.getLogger("ikesrv.channel")

MAX_LINE = 64 * 1024 * 1024  # a status answer of a very busy worker fits
MAX_BUFFERED = 8 * 1024 * 1024


class Channel:
    """One end of a supervisor-worker socket pair, on the running event loop."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.dropped = 0

    @classmethod
    async def open(cls, sock) -> Channel:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_LINE)
        return cls(reader, writer)

    def send(self, message: dict) -> bool:
        """Queue ``message``; False when it was dropped (peer gone or not reading)."""
        if self.writer.is_closing():
            return False
        transport = self.writer.transport
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("channel peer is not reading: %d messages dropped", self.dropped)
            return False
        self.writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        return True

    async def serve(self, handle: Callable[[dict], None]) -> None:
        """Hand each received message to ``handle`` until the peer closes its end."""
        while True:
            try:
                line = await self.reader.readline()
            except (ConnectionError, asyncio.LimitOverrunError, ValueError) as e:
                log.warning("channel closed: %s", e)
                return
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("channel: unreadable message dropped")
                continue
            if isinstance(message, dict):
                handle(message)

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
