"""One LDAP connection on the event loop: the I/O edge of the LDAP users backend.

Owns: connecting (plain, LDAPS, or StartTLS, RFC 4511 §4.14, with the server certificate
verified by the given ``ssl.SSLContext``; TCP keepalive on), simple binds, and searches,
several of them in flight at once on the one connection, told apart by message ID (RFC
4511 §4.1.1.1). The encoding and decoding are ``ldap_wire``'s; what to ask and what the
answers mean is ``ldap.py``'s.

Nothing here blocks: a login waits for its answer without holding a thread, so a busy
directory costs the worker nothing but the bytes. A connection that the server closes,
that sends a Notice of Disconnection (§4.4.1) or something that is not LDAP fails every
request in flight on it with ``OSError`` / ``ProtocolError`` and is ``closed`` from then
on; the pool in ``ldap.py`` replaces it. Time limits are the caller's (``asyncio.timeout``
around the call); an answer that comes after its caller gave up is dropped.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

from . import ldap_wire

#: RFC 4511 §4.1.1: message IDs are 1..2^31-1; 0 is the server's unsolicited notices
_MAX_MESSAGE_ID = 2**31 - 1
_MAX_REFERENCES = 16  # continuation references tolerated in one search's answer


class _Search:
    """A search in flight: its entries so far and the future of the whole answer."""

    __slots__ = ("entries", "future", "references", "size_limit")

    def __init__(self, future: asyncio.Future, size_limit: int):
        self.future, self.size_limit = future, size_limit
        self.entries: list[ldap_wire.SearchEntry] = []
        self.references = 0


class LdapConnection(asyncio.Protocol):
    """Open with ``await LdapConnection.open(...)``; then ``bind`` and ``search``."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()  # the start of an answer still arriving
        self._pending: dict[int, _Search | asyncio.Future] = {}
        self._message_id = 0
        self._lost: BaseException | None = None
        self.closed = False
        self.leases = 0  # the pool's count of requests using this connection
        self._outgoing: list[bytes] = []
        self._abandoned: set[int] = set()  # requests whose callers gave up before the end

    # ------------------------------------------------------------------ opening -----

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None, ldaps: bool,
                   server_hostname: str | None) -> LdapConnection:
        """Connect; with ``tls``, LDAPS when ``ldaps`` else StartTLS. The caller bounds
        the time (``asyncio.timeout``) and binds as it needs."""
        loop = asyncio.get_running_loop()
        conn = cls()
        await loop.create_connection(lambda: conn, host, port,
                                     ssl=tls if ldaps else None,
                                     server_hostname=server_hostname if ldaps else None)
        try:
            _keep_alive(conn._transport.get_extra_info("socket"))
            if tls is not None and not ldaps:
                await conn._start_tls(tls, server_hostname)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _start_tls(self, tls: ssl.SSLContext, server_hostname: str | None) -> None:
        answer = await self._request(ldap_wire.encode_start_tls)
        if answer.result_code != 0:
            raise StartTlsRefused(answer.result_code, answer.diagnostic)
        if self._buffer:  # RFC 4511 §4.14.2: nothing may precede the TLS handshake
            raise ldap_wire.ProtocolError("data after the StartTLS answer")
        loop = asyncio.get_running_loop()
        self._transport = await loop.start_tls(self._transport, self, tls,
                                               server_hostname=server_hostname)

    # ------------------------------------------------------------------ requests ----

    async def bind(self, dn: str, password: bytes) -> ldap_wire.OperationDone:
        """A simple bind (RFC 4511 §4.2): its result, whatever the code. The caller never
        sends an empty password with a DN (RFC 4513 §5.1.2, an unauthenticated bind)."""
        return await self._request(lambda mid: ldap_wire.encode_bind(mid, dn, password))

    async def search(self, base: str, scope: int, search_filter: str, attributes,
                     size_limit: int, time_limit: int
                     ) -> tuple[int, str, list[ldap_wire.SearchEntry]]:
        """(resultCode, diagnosticMessage, entries). Referrals are not followed. Raises
        ``FilterError`` for a filter that is not RFC 4515 (before anything is sent)."""
        message_id = self._next_id()
        request = ldap_wire.encode_search(message_id, base, scope, search_filter, attributes,
                                          size_limit=size_limit, time_limit=time_limit)
        self._check_open()
        search = _Search(asyncio.get_running_loop().create_future(), size_limit)
        self._pending[message_id] = search
        try:
            self._send(request)
            return await search.future
        finally:
            self._give_up(message_id)

    async def _request(self, encode) -> ldap_wire.OperationDone:
        message_id = self._next_id()
        request = encode(message_id)
        self._check_open()
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            self._send(request)
            return await future
        finally:
            self._give_up(message_id)

    def _give_up(self, message_id: int) -> None:
        """The caller is done with ``message_id``: if its answer has not ended, what still
        comes for it is late, not wrong (its caller timed out)."""
        if self._pending.pop(message_id, None) is not None and not self.closed:
            self._abandoned.add(message_id)

    def _send(self, request: bytes) -> None:
        """Queue ``request``; what the loop's current round queues goes out in one write.
        A TCP send to a directory on the same host runs the directory's receive path in
        ours; under load, several logins' searches share that cost."""
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(request)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self.closed or self._transport is None:
            return  # their requests have failed already
        self._transport.write(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))

    def close(self) -> None:
        """Unbind (RFC 4511 §4.3) and close; requests in flight fail."""
        if self._transport is not None and not self.closed:
            try:
                self._transport.write(ldap_wire.encode_unbind(self._next_id()))
            except Exception:  # closing anyway
                pass
            self._transport.close()
        self._fail(OSError("connection closed"))

    def _next_id(self) -> int:
        self._message_id = self._message_id % _MAX_MESSAGE_ID + 1
        return self._message_id

    def _check_open(self) -> None:
        if self.closed or self._transport is None:
            raise self._error()

    def _error(self) -> BaseException:
        """A fresh exception saying why the connection is unusable (one per waiter: an
        exception object raised in several places would collect their tracebacks)."""
        lost = self._lost
        if isinstance(lost, ldap_wire.ProtocolError):
            return ldap_wire.ProtocolError(str(lost))
        return OSError(str(lost) if lost is not None else "connection closed")

    # ------------------------------------------------------------------ protocol ----

    def connection_made(self, transport) -> None:
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(OSError(f"connection lost: {exc}") if exc is not None
                   else OSError("the directory closed the connection"))

    def eof_received(self):
        self._fail(OSError("the directory closed the connection"))
        return False  # close our side too

    def data_received(self, data: bytes) -> None:
        # whole messages straight from ``data`` (the usual case: answers arrive whole);
        # a partial one waits in a bytearray that grows in place, so an answer arriving
        # in many small pieces costs its size, not its size squared
        pending = self._buffer
        if pending:
            pending += data
            data = pending
        pos, end = 0, len(data)
        try:
            while True:
                size = ldap_wire.message_size(data[pos:pos + 6])  # tag and length only
                if size == 0 or end - pos < size:
                    break
                message = bytes(data[pos:pos + size])
                pos += size
                self._answer(*ldap_wire.decode_answer(message))
        except (ldap_wire.ProtocolError, OSError) as e:
            self._buffer = bytearray()
            self._fail(e)
            if self._transport is not None:
                self._transport.abort()
            return
        if pending:
            del pending[:pos]
        elif pos < end:
            self._buffer = bytearray(data[pos:])

    def _answer(self, message_id: int, answer) -> None:
        if type(answer) is ldap_wire.Disconnection:
            why = answer.diagnostic or f"result code {answer.result_code}"
            raise OSError(f"the directory disconnects: {why}")
        waiter = self._pending.get(message_id)
        if waiter is None:
            if message_id not in self._abandoned:
                raise ldap_wire.ProtocolError(f"an answer to message {message_id}, which no "
                                              "request in flight carries")
            if type(answer) in (ldap_wire.SearchDone, ldap_wire.OperationDone):
                self._abandoned.discard(message_id)  # its last answer
            return
        if type(waiter) is _Search:
            self._search_answer(message_id, waiter, answer)
        elif type(answer) is ldap_wire.OperationDone:
            del self._pending[message_id]
            if not waiter.done():
                waiter.set_result(answer)
        else:
            raise ldap_wire.ProtocolError(f"a search answer to request {message_id}, "
                                          "which was no search")

    def _search_answer(self, message_id: int, search: _Search, answer) -> None:
        kind = type(answer)
        if kind is ldap_wire.SearchEntry:
            search.entries.append(answer)
            if 0 < search.size_limit < len(search.entries):  # it may never end
                raise ldap_wire.ProtocolError(f"more entries than the search's size limit "
                                              f"of {search.size_limit}")
        elif kind is ldap_wire.SearchDone:
            del self._pending[message_id]
            if not search.future.done():
                search.future.set_result((answer.result_code, answer.diagnostic,
                                          search.entries))
        elif kind is ldap_wire.SearchReference:
            search.references += 1
            if search.references > _MAX_REFERENCES:
                raise ldap_wire.ProtocolError(f"more than {_MAX_REFERENCES} references in "
                                              "answer to one search")
        else:
            raise ldap_wire.ProtocolError(f"a {kind.__name__} in answer to a search")

    def _fail(self, error: BaseException) -> None:
        self.closed = True
        if self._lost is None:
            self._lost = error
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            future = waiter.future if type(waiter) is _Search else waiter
            if not future.done():
                future.set_exception(self._error())


#: TCP keepalive on pooled connections (idle seconds, probe interval, probes): a
#: connection a firewall or a failover silently dropped is found within about two
#: minutes of quiet, rather than by the next login waiting out its timeout on it
KEEPALIVE = (60, 10, 6)


def _keep_alive(sock) -> None:
    if sock is None:
        return
    idle, interval, probes = KEEPALIVE
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, probes)


class StartTlsRefused(OSError):
    """The directory answered the StartTLS request with an error code."""

    def __init__(self, code: int, diagnostic: str):
        super().__init__(f"StartTLS refused: result code {code}"
                         + (f" ({diagnostic})" if diagnostic else ""))


__all__ = ["KEEPALIVE", "LdapConnection", "StartTlsRefused"]
