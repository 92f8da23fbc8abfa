"""The LDAP users backend: users, their NT hashes and group membership in a directory.

Owns: answering ``AuthRequest``s from ``[users.ldap]`` on the worker's event loop,
without a thread per request (``ldap_client`` does the I/O, ``ldap_wire`` the encoding):

* Connections, per worker process, opened on demand, LDAPS or StartTLS with the server
  certificate verified against ``ca_file`` or the system store (and its name against the
  URL's host): up to ``pool_size`` *service* connections, bound as ``bind_dn`` or
  anonymously, shared by the searches of all logins (up to ``PIPELINE_DEPTH`` in flight
  on each, RFC 4511 §4.1.1.1), and up to ``pool_size`` *bind* connections for binds as
  users, one bind at a time on each (a bind changes who the connection is). ``timeout``
  bounds each request as a whole, waiting for a connection included: a slow or dead
  directory fails that request in time and never holds up other clients.
* A request: find the user with ``user_filter``, the name escaped per RFC 4515
  (``escape_filter_value``: ``*``, ``(``, ``)``, ``\\``, NUL), exactly one entry or
  nothing; refuse disabled Samba accounts (``sambaAcctFlags`` with D); check
  ``require_group`` (the group entry's ``member`` DNs, or ``memberUid`` names, per
  ``group_member_attribute``, tested with a filter on the group entry); then
  "password": a simple bind as the user's DN with the password (never with an empty one:
  that would be an unauthenticated bind, RFC 4513 §5.1.2); "nt_hash": ``nt_hash_attribute``
  (32 hex digits); "clear_password": ``password_attribute`` when it holds clear text.
* Failures: a connection the server closed is dropped as soon as the loop sees it; one
  that fails under a request is replaced and the request retried once; one whose request
  timed out takes no new requests. Otherwise the request fails with the reason, and the
  next request connects again, so the directory coming back needs no restart. Up/down
  transitions are logged once each, not per request.
* Metrics: ``metrics.ldap_request(operation, seconds, ok)`` per "bind" and "search"
  (ok=False: no answer, protocol error, timeout; a wrong password is an answer).

Logs name the user and DN, never a password, hash or the bind password.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from urllib.parse import urlsplit

from ..actions import AuthRequest, AuthResult
from ..config import LdapConfig
from . import ldap_wire
from .ldap_client import LdapConnection
from .users import (
    CLEAR_PASSWORD,
    MAX_PASSWORD_BYTES,
    NT_HASH,
    PASSWORD,
    name_problem,
    printable,
    refuse,
)

log = logging.getLogger("ikesrv.auth")

_ERRORS = (OSError, ldap_wire.ProtocolError)  # ssl.SSLError is an OSError
_INVALID_CREDENTIALS = 49  # RFC 4511 §4.1.9
_NO_SUCH_OBJECT = 32
_RESULT_NAMES = {  # RFC 4511 §4.1.9, the ones a search or bind may plausibly get
    1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
    4: "sizeLimitExceeded", 7: "authMethodNotSupported", 8: "strongerAuthRequired",
    10: "referral", 11: "adminLimitExceeded", 32: "noSuchObject", 34: "invalidDNSyntax",
    48: "inappropriateAuthentication", 49: "invalidCredentials",
    50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform",
    80: "other",
}
_HASHED = re.compile(rb"\{[A-Za-z0-9._-]+\}")  # RFC 3112 scheme prefix, e.g. {SSHA}

#: searches in flight at once on one service connection. slapd queues up to 1,000 per
#: authenticated connection (conn_max_pending_auth); a few dozen keep its threads busy
#: without one slow answer holding up many logins.
PIPELINE_DEPTH = 32


class _Unavailable(Exception):
    """The directory did not answer usefully (down, timeout, TLS, refused service bind)."""


def _describe(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, ssl.SSLCertVerificationError) and "Hostname mismatch" in text:
        # OpenSSL: "Hostname mismatch, certificate is not valid for 'ldap.example.com'."
        named = re.search(r"not valid for ('[^']{0,100}')", text)
        return ("the server certificate does not name "
                + (named.group(1) if named else "the directory's host"))
    return text.splitlines()[0][:200]


class _Pool:
    """Open connections of one kind: at most ``size``, each carrying at most ``depth``
    requests at once. A request takes the least busy one, opens another while there are
    fewer than ``size``, or waits for one to free up."""

    def __init__(self, size: int, depth: int, opener):
        self.size, self.depth, self._opener = size, depth, opener
        self.connections: list[LdapConnection] = []
        self._opening = 0
        self._waiters: list[asyncio.Future] = []

    async def take(self) -> tuple[LdapConnection, bool]:
        """(a connection with a lease taken, whether it was open before)."""
        while True:
            best = None
            alive = []
            for conn in self.connections:
                if conn.closed:
                    continue
                alive.append(conn)
                if conn.leases < self.depth and (best is None or conn.leases < best.leases):
                    best = conn
            self.connections = alive
            if best is not None:
                best.leases += 1
                return best, True
            if len(alive) + self._opening < self.size:
                self._opening += 1
                try:
                    conn = await self._opener()
                finally:
                    self._opening -= 1
                    self._wake()
                conn.leases += 1
                self.connections.append(conn)
                return conn, False
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake(1)  # woken, then timed out: the turn passes on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def give_back(self, conn: LdapConnection) -> None:
        conn.leases -= 1
        if conn.leases == 0 and conn not in self.connections:
            conn.close()  # retired: its last request is over
        self._wake(1)  # one lease is free: one waiting request may go on

    def retire(self, conn: LdapConnection, broken: bool) -> None:
        """No new requests on ``conn``; a broken one is closed now (failing what else is
        in flight on it), a slow one once its last request is over."""
        if conn in self.connections:
            self.connections.remove(conn)
        if broken or conn.leases == 0:
            conn.close()

    def close(self) -> None:
        connections, self.connections = self.connections, []
        for conn in connections:
            try:
                conn.close()
            except RuntimeError:  # its event loop is already closed
                pass
        self._wake()

    def _wake(self, count: int | None = None) -> None:
        """Let ``count`` waiting requests (None: all) look again; a connection opened
        (or failed to) changes what every one of them may do, a lease given back only
        what one may."""
        while self._waiters and count != 0:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                if count is not None:
                    count -= 1


class LdapBackend:
    """Users in an LDAP directory; ``check`` answers a request within ``timeout`` on the
    running event loop, ``check_sync`` on a loop of its own (tests, tools)."""

    def __init__(self, cfg: LdapConfig, metrics=None):
        self.cfg = cfg
        self.metrics = metrics
        parts = urlsplit(cfg.url)
        self._ldaps = parts.scheme == "ldaps"
        self._host = parts.hostname or ""
        self._port = parts.port or (636 if self._ldaps else 389)
        self._tls: ssl.SSLContext | None = None
        if self._ldaps or cfg.start_tls:
            # verifies the chain and the certificate's name against the URL's host (an IP
            # address against its IP SANs); with ca_file, only that CA is trusted
            self._tls = ssl.create_default_context(
                cafile=str(cfg.ca_file) if cfg.ca_file else None)
        self._bind_password = cfg.bind_password.reveal() if cfg.bind_password else b""
        self._service = _Pool(cfg.pool_size, PIPELINE_DEPTH, self._open_service)
        self._binds = _Pool(cfg.pool_size, 1, self._connect)  # bound per user, not at open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: asyncio.Runner | None = None
        self._reachable = True
        mode = "LDAPS" if self._ldaps else "StartTLS" if cfg.start_tls else "plain"
        self.where = f"{cfg.url} ({mode})"

    # ------------------------------------------------------------------ entry points -

    async def check(self, request: AuthRequest) -> AuthResult:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._service.close()
            self._binds.close()
            self._loop = loop
        timeout = self.cfg.timeout
        try:
            async with asyncio.timeout(timeout):
                return await self._answer(request)
        except TimeoutError:
            self._unreachable(f"no answer within {timeout:g}s")
            return refuse(f"directory {self.cfg.url} did not answer within {timeout:g}s")

    def check_sync(self, request: AuthRequest) -> AuthResult:
        """``check``, blocking, on this backend's own event loop: for tests and tools,
        never from inside a running loop."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self.check(request))

    def close(self) -> None:
        self._service.close()
        self._binds.close()
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    # ------------------------------------------------------------------ the logic ---

    async def _answer(self, request: AuthRequest) -> AuthResult:
        name = request.username
        problem = name_problem(name)
        if problem is not None:
            return refuse(problem)
        who = printable(name)
        method = request.method
        if method == PASSWORD and not request.password:
            return refuse(f"empty password for {who}")
        if method == PASSWORD and len(request.password) > MAX_PASSWORD_BYTES:
            return refuse(f"password of {len(request.password)} bytes for {who}")
        if method == NT_HASH and not self.cfg.nt_hash_attribute:
            return refuse("users.ldap.nt_hash_attribute is not set: no NT hash for "
                          f"EAP-MSCHAPv2 ({who})")
        if method == CLEAR_PASSWORD and not self.cfg.password_attribute:
            return refuse(f"users.ldap.password_attribute is not set: no clear-text "
                          f"password for EAP-MD5 ({who})")
        if method not in (PASSWORD, NT_HASH, CLEAR_PASSWORD):
            return refuse(f"unknown users backend method {method!r}")
        try:
            result = await self._check(request, who)
        except _Unavailable as e:
            self._unreachable(str(e))
            return refuse(f"directory {self.cfg.url} unavailable: {e}")
        self._reachable_again()
        return result

    async def _check(self, request: AuthRequest, who: str) -> AuthResult:
        cfg = self.cfg
        found = await self._find_user(request.username)
        if len(found) > 1:
            return refuse(f"user_filter matches several entries for {who}: ambiguous, refused")
        if not found:
            return refuse(f"unknown user {who}")
        dn, attrs = found[0]
        flags = attrs.get("sambaacctflags")
        if flags and b"D" in flags[0].strip().strip(b"[]"):
            return refuse(f"account of {who} ({dn}) is disabled (sambaAcctFlags)")
        if cfg.require_group:
            uid = attrs.get("uid")
            member = await self._is_member(dn, uid[0].decode("utf-8", "replace") if uid
                                           else request.username)
            if member is None:
                return refuse(f"required group {cfg.require_group} does not exist")
            if not member:
                return refuse(f"user {who} is not a member of {cfg.require_group}")
        if request.method == NT_HASH:
            values = attrs.get(cfg.nt_hash_attribute.lower())
            if not values:
                return refuse(f"user {who} has no {cfg.nt_hash_attribute}")
            text = values[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]{32}", text):
                return refuse(f"{cfg.nt_hash_attribute} of {who} is not 32 hex digits")
            return AuthResult(True, secret=bytes.fromhex(text.decode("ascii")))
        if request.method == CLEAR_PASSWORD:
            values = attrs.get(cfg.password_attribute.lower())
            if not values or not values[0]:
                return refuse(f"user {who} has no {cfg.password_attribute}")
            if _HASHED.match(values[0]):
                scheme = _HASHED.match(values[0]).group().decode()
                return refuse(f"{cfg.password_attribute} of {who} holds a hashed password "
                              f"({scheme}); EAP-MD5 needs it in clear text")
            return AuthResult(True, secret=bytes(values[0]))
        return await self._bind_as(dn, who, request.password)

    # ------------------------------------------------------------------ operations --

    async def _find_user(self, username: str) -> list[tuple[str, dict]]:
        cfg = self.cfg
        search_filter = cfg.user_filter.replace("{user}",
                                                ldap_wire.escape_filter_value(username))
        attributes = [a for a in (cfg.nt_hash_attribute, cfg.password_attribute,
                                  "sambaAcctFlags", "uid") if a]

        async def search(conn: LdapConnection):
            code, diagnostic, entries = await self._search(
                conn, cfg.user_base, ldap_wire.SCOPE_WHOLE_SUBTREE, search_filter, attributes,
                size_limit=2)
            if code not in (0, 4):  # success, sizeLimitExceeded (two entries: ambiguous)
                raise _Unavailable(f"search under {cfg.user_base} failed: "
                                   f"{_describe_code(code, diagnostic)}")
            return [(e.dn, e.attributes) for e in entries]

        return await self._operation(self._service, "search", search)

    async def _is_member(self, dn: str, uid: str) -> bool | None:
        cfg = self.cfg
        attr = cfg.group_member_attribute
        value = uid if attr.lower() == "memberuid" else dn
        group_filter = f"({attr}={ldap_wire.escape_filter_value(value)})"

        async def search(conn: LdapConnection):
            code, diagnostic, entries = await self._search(
                conn, cfg.require_group, ldap_wire.SCOPE_BASE_OBJECT, group_filter, ("1.1",),
                size_limit=1)
            if code == _NO_SUCH_OBJECT:
                return None
            if code != 0:
                raise _Unavailable(f"group search on {cfg.require_group} failed: "
                                   f"{_describe_code(code, diagnostic)}")
            return bool(entries)

        return await self._operation(self._service, "search", search)

    async def _bind_as(self, dn: str, who: str, password: bytes) -> AuthResult:
        async def bind(conn: LdapConnection):
            answer = await conn.bind(dn, bytes(password))
            code = answer.result_code
            if code == 0:
                return AuthResult(True)
            if code == _INVALID_CREDENTIALS:
                return refuse(f"wrong password for {who}")
            return refuse(f"bind as {dn} refused: {_describe_code(code, answer.diagnostic)}")

        return await self._operation(self._binds, "bind", bind)

    async def _search(self, conn: LdapConnection, base: str, scope: int, search_filter: str,
                      attributes, size_limit: int
                      ) -> tuple[int, str, list[ldap_wire.SearchEntry]]:
        try:
            return await conn.search(base, scope, search_filter, attributes,
                                     size_limit=size_limit,
                                     time_limit=max(1, int(self.cfg.timeout)))
        except ldap_wire.FilterError as e:  # check-config refuses such filters
            raise _Unavailable(f"filter {search_filter!r}: {e}") from None

    async def _operation(self, pool: _Pool, operation: str, fn):
        """``await fn(connection)`` on a pooled connection; when one that was already open
        fails (the server dropped it while idle), once more on a fresh one."""
        attempt = 0
        while True:
            attempt += 1
            conn, reused = await pool.take()
            started = time.perf_counter()
            try:
                value = await fn(conn)
            except _Unavailable:
                self._observe(operation, started, False)
                raise
            except _ERRORS as e:
                self._observe(operation, started, False)
                pool.retire(conn, broken=True)
                if reused and attempt == 1:
                    continue
                raise _Unavailable(f"{operation}: {_describe(e)}") from None
            except asyncio.CancelledError:  # the request's time is up
                self._observe(operation, started, False)
                pool.retire(conn, broken=False)
                raise
            finally:
                pool.give_back(conn)
            self._observe(operation, started, True)
            return value

    # ------------------------------------------------------------------ connections -

    async def _connect(self) -> LdapConnection:
        started = time.perf_counter()
        try:
            return await LdapConnection.open(self._host, self._port, self._tls, self._ldaps,
                                             self._host)
        except _ERRORS as e:
            self._observe("bind", started, False)
            raise _Unavailable(f"connect: {_describe(e)}") from None
        except asyncio.CancelledError:
            self._observe("bind", started, False)
            raise

    async def _open_service(self) -> LdapConnection:
        conn = await self._connect()
        started = time.perf_counter()
        who = self.cfg.bind_dn or "anonymous"
        try:
            # an empty DN and password: the anonymous bind (RFC 4513 §5.1.1)
            answer = await conn.bind(self.cfg.bind_dn or "", self._bind_password)
        except BaseException as e:
            self._observe("bind", started, False)
            conn.close()
            if isinstance(e, _ERRORS):
                raise _Unavailable(f"service bind as {who}: {_describe(e)}") from None
            raise
        if answer.result_code != 0:
            self._observe("bind", started, False)
            conn.close()
            raise _Unavailable(f"service bind as {who} refused: "
                               f"{_describe_code(answer.result_code, answer.diagnostic)}")
        self._observe("bind", started, True)
        return conn

    # ------------------------------------------------------------------ bookkeeping -

    def _observe(self, operation: str, started: float, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.ldap_request(operation, time.perf_counter() - started, ok)

    def _unreachable(self, reason: str) -> None:
        was, self._reachable = self._reachable, False
        if was:
            log.warning("LDAP directory %s unavailable: %s; logins fail until it answers "
                        "again", self.where, reason)

    def _reachable_again(self) -> None:
        if not self._reachable:
            self._reachable = True
            log.info("LDAP directory %s answers again", self.where)


def _describe_code(code: int, diagnostic: str) -> str:
    name = _RESULT_NAMES.get(code, f"result code {code}")
    return f"{name} ({diagnostic})" if diagnostic else name


__all__ = ["PIPELINE_DEPTH", "LdapBackend"]
