"""The LDAP users backend: users, their NT hashes and group membership in a directory.

Owns: answering ``AuthRequest``s from ``[users.ldap]`` with ldap3, off the event loop:

* Connections: a bounded pool per worker process (``pool_size`` threads, each using at
  most one *service* connection, bound as ``bind_dn`` or anonymously, for searches, and
  one *bind* connection for binds as users), opened on demand, LDAPS or StartTLS with the
  server certificate verified against ``ca_file`` or the system store (and its name
  against the URL's host). ``timeout`` bounds each connect and each answer, and each
  request as a whole: a slow or dead directory fails that request in time and never holds
  up the event loop or other clients; queued requests whose time is up are dropped.
* Searches: encoded and their answers read by ``ldap_wire`` over the socket ldap3
  opened (ldap3's pyasn1 encoding cost four times the CPU of the rest of a login);
  connecting, TLS and binds stay with ldap3.
* A request: find the user with ``user_filter``, the name escaped per RFC 4515
  (ldap3.utils.conv.escape_filter_chars: ``*``, ``(``, ``)``, ``\\``, NUL), exactly one
  entry or nothing; refuse disabled Samba accounts (``sambaAcctFlags`` with D); check
  ``require_group`` (the group entry's ``member`` DNs, or ``memberUid`` names, per
  ``group_member_attribute``, tested with a filter on the group entry); then
  "password": a simple bind as the user's DN with the password (never with an empty one:
  that would be an unauthenticated bind, RFC 4513 §5.1.2); "nt_hash": ``nt_hash_attribute``
  (32 hex digits); "clear_password": ``password_attribute`` when it holds clear text.
* Failures: a dropped or stale pooled connection is replaced and the operation retried
  once; otherwise the request fails with the reason, and the next request connects
  again, so the directory coming back needs no restart. Up/down transitions are logged
  once each, not per request.
* Metrics: ``metrics.ldap_request(operation, seconds, ok)`` per "bind" and "search"
  (ok=False: no answer, protocol error; a wrong password is an answer).

Logs name the user and DN, never a password, hash or the bind password.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from ..actions import AuthRequest, AuthResult
from ..config import LdapConfig
from . import ldap_wire
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

_ERRORS = (LDAPException, OSError, ldap_wire.ProtocolError)
_INVALID_CREDENTIALS = 49  # RFC 4511 §4.1.9
_NO_SUCH_OBJECT = 32
_MAX_REFERENCES = 16  # continuation references tolerated in one search's answer
_RESULT_NAMES = {  # RFC 4511 §4.1.9, the ones a search may plausibly get
    1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
    4: "sizeLimitExceeded", 8: "strongerAuthRequired", 10: "referral",
    11: "adminLimitExceeded", 32: "noSuchObject", 34: "invalidDNSyntax",
    50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform",
    80: "other",
}
_HASHED = re.compile(rb"\{[A-Za-z0-9._-]+\}")  # RFC 3112 scheme prefix, e.g. {SSHA}


class _Unavailable(Exception):
    """The directory did not answer usefully (down, timeout, TLS, refused service bind)."""


def _describe(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if "doesn't match any name in" in text:  # ldap3's host name check (a long dict before)
        return "the server certificate does not name " + text.rsplit(" in ", 1)[-1][:100]
    return text.splitlines()[0][:200]


class LdapBackend:
    """Users in an LDAP directory; ``check_sync`` is the blocking logic, ``check`` runs it
    in this process's thread pool within ``timeout``."""

    def __init__(self, cfg: LdapConfig, metrics=None):
        self.cfg = cfg
        self.metrics = metrics
        parts = urlsplit(cfg.url)
        self._ldaps = parts.scheme == "ldaps"
        self._host = parts.hostname or ""
        self._port = parts.port or (636 if self._ldaps else 389)
        self._tls = None
        if self._ldaps or cfg.start_tls:
            try:
                ipaddress.ip_address(self._host)
                sni = None
            except ValueError:
                sni = self._host
            self._tls = ldap3.Tls(validate=ssl.CERT_REQUIRED,
                                  ca_certs_file=str(cfg.ca_file) if cfg.ca_file else None,
                                  sni=sni)
        self._bind_password = cfg.bind_password.reveal() if cfg.bind_password else None
        self._service_idle: list = []
        self._bind_idle: list = []
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None  # made in the worker process
        self._reachable = True
        mode = "LDAPS" if self._ldaps else "StartTLS" if cfg.start_tls else "plain"
        self.where = f"{cfg.url} ({mode})"

    # ------------------------------------------------------------------ async side --

    async def check(self, request: AuthRequest) -> AuthResult:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.cfg.pool_size,
                                                thread_name_prefix="ikesrv-ldap")
        timeout = self.cfg.timeout
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self.check_sync, request, deadline)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            # the thread may still be waiting on a socket; its answer is thrown away
            self._unreachable(f"no answer within {timeout:g}s")
            return refuse(f"directory {self.cfg.url} did not answer within {timeout:g}s")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        with self._lock:
            idle, self._service_idle, self._bind_idle = (
                self._service_idle + self._bind_idle, [], [])
        for conn in idle:
            self._discard(conn)

    # ------------------------------------------------------------------ the logic ---

    def check_sync(self, request: AuthRequest, deadline: float | None = None) -> AuthResult:
        """Answer one request, blocking (a thread of the pool, or a test)."""
        if deadline is None:
            deadline = time.monotonic() + self.cfg.timeout
        if time.monotonic() >= deadline:
            return refuse(f"directory {self.cfg.url} busy: no connection free within "
                          f"{self.cfg.timeout:g}s")
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
            result = self._check(request, who, deadline)
        except _Unavailable as e:
            self._unreachable(str(e))
            return refuse(f"directory {self.cfg.url} unavailable: {e}")
        self._reachable_again()
        return result

    def _check(self, request: AuthRequest, who: str, deadline: float) -> AuthResult:
        cfg = self.cfg
        found = self._find_user(request.username, deadline)
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
            member = self._is_member(dn, uid[0].decode("utf-8", "replace") if uid
                                     else request.username, deadline)
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
        return self._bind_as(dn, who, request.password, deadline)

    # ------------------------------------------------------------------ operations --

    def _find_user(self, username: str, deadline: float) -> list[tuple[str, dict]]:
        cfg = self.cfg
        search_filter = cfg.user_filter.replace("{user}", escape_filter_chars(username))
        attributes = [a for a in (cfg.nt_hash_attribute, cfg.password_attribute,
                                  "sambaAcctFlags", "uid") if a]

        def search(conn):
            code, diagnostic, entries = self._search(
                conn, cfg.user_base, ldap_wire.SCOPE_WHOLE_SUBTREE, search_filter, attributes,
                size_limit=2)
            if code not in (0, 4):  # success, sizeLimitExceeded (two entries: ambiguous)
                raise _Unavailable(f"search under {cfg.user_base} failed: "
                                   f"{_describe_code(code, diagnostic)}")
            return [(e.dn, e.attributes) for e in entries]

        return self._operation(self._service_idle, True, "search", search, deadline)

    def _is_member(self, dn: str, uid: str, deadline: float) -> bool | None:
        cfg = self.cfg
        attr = cfg.group_member_attribute
        value = uid if attr.lower() == "memberuid" else dn
        group_filter = f"({attr}={escape_filter_chars(value)})"

        def search(conn):
            code, diagnostic, entries = self._search(
                conn, cfg.require_group, ldap_wire.SCOPE_BASE_OBJECT, group_filter, ("1.1",),
                size_limit=1)
            if code == _NO_SUCH_OBJECT:
                return None
            if code != 0:
                raise _Unavailable(f"group search on {cfg.require_group} failed: "
                                   f"{_describe_code(code, diagnostic)}")
            return bool(entries)

        return self._operation(self._service_idle, True, "search", search, deadline)

    def _bind_as(self, dn: str, who: str, password: bytes, deadline: float) -> AuthResult:
        def bind(conn):
            if conn.closed or (self.cfg.start_tls and not conn.tls_started):
                # ldap3 would silently reopen it without StartTLS: never send a password so
                raise OSError("connection closed")
            conn.user, conn.password, conn.authentication = dn, bytes(password), ldap3.SIMPLE
            try:
                ok = conn.bind(read_server_info=False)
            finally:
                conn.password = None  # keep no user's password around
            result = conn.result or {}
            code = result.get("result")
            if ok:
                return AuthResult(True)
            if code == _INVALID_CREDENTIALS:
                return refuse(f"wrong password for {who}")
            if code is None:
                raise _Unavailable("no answer to the bind")
            return refuse(f"bind as {dn} refused: {result.get('description', code)}")

        return self._operation(self._bind_idle, False, "bind", bind, deadline)

    def _search(self, conn, base: str, scope: int, search_filter: str, attributes,
                size_limit: int) -> tuple[int, str, list[ldap_wire.SearchEntry]]:
        """One search on ``conn``'s socket: (resultCode, diagnosticMessage, entries).
        Referrals are not followed (as auto_referrals=False). OSError/ProtocolError when
        the connection is unusable."""
        if conn.closed or conn.socket is None:
            raise OSError("connection closed")
        message_id = conn.server.next_message_id()
        try:
            request = ldap_wire.encode_search(
                message_id, base, scope, search_filter, attributes, size_limit=size_limit,
                time_limit=max(1, int(self.cfg.timeout)))
        except ldap_wire.FilterError as e:  # check-config refuses such filters
            raise _Unavailable(f"filter {search_filter!r}: {e}") from None
        conn.socket.sendall(request)
        entries: list[ldap_wire.SearchEntry] = []
        references = 0
        buffer = b""
        while True:
            size = ldap_wire.message_size(buffer)
            if size == 0 or len(buffer) < size:
                # the socket's receive timeout (ldap3's receive_timeout) bounds each wait
                data = conn.socket.recv(65536)
                if not data:
                    raise OSError("the directory closed the connection")
                buffer += data
                continue
            answer_id, answer = ldap_wire.decode_answer(buffer[:size])
            buffer = buffer[size:]
            if isinstance(answer, ldap_wire.Disconnection):
                why = answer.diagnostic or _describe_code(answer.result_code, "")
                raise OSError(f"the directory disconnects: {why}")
            if answer_id != message_id:
                raise ldap_wire.ProtocolError(f"an answer to message {answer_id}, "
                                              f"expected {message_id}")
            if isinstance(answer, ldap_wire.SearchEntry):
                entries.append(answer)
                if 0 < size_limit < len(entries):  # sizeLimit ignored: it may never end
                    raise ldap_wire.ProtocolError(f"more entries than the search's size "
                                                  f"limit of {size_limit}")
            elif isinstance(answer, ldap_wire.SearchReference):
                references += 1
                if references > _MAX_REFERENCES:
                    raise ldap_wire.ProtocolError(f"more than {_MAX_REFERENCES} references "
                                                  "in answer to one search")
            elif isinstance(answer, ldap_wire.SearchDone):
                if buffer:
                    raise ldap_wire.ProtocolError("data after the end of the search")
                return answer.result_code, answer.diagnostic, entries

    def _operation(self, pool: list, service: bool, operation: str, fn, deadline: float):
        """Run ``fn(connection)`` on a pooled connection; a stale one is replaced once."""
        attempt = 0
        while True:
            attempt += 1
            conn, reused = self._take(pool, service)
            started = time.perf_counter()
            try:
                value = fn(conn)
            except _Unavailable:
                self._observe(operation, started, False)
                self._discard(conn)
                raise
            except _ERRORS as e:
                self._observe(operation, started, False)
                self._discard(conn)
                if reused and attempt == 1 and time.monotonic() < deadline:
                    continue  # the server dropped an idle connection: try a fresh one
                raise _Unavailable(f"{operation}: {_describe(e)}") from None
            self._observe(operation, started, True)
            with self._lock:
                pool.append(conn)
            return value

    # ------------------------------------------------------------------ connections -

    def _take(self, pool: list, service: bool):
        with self._lock:
            while pool:
                conn = pool.pop()
                if not conn.closed:
                    return conn, True
        return self._open(service), False

    def _open(self, service: bool):
        cfg = self.cfg
        server = ldap3.Server(self._host, port=self._port, use_ssl=self._ldaps, tls=self._tls,
                              get_info=ldap3.NONE, connect_timeout=cfg.timeout)
        user = cfg.bind_dn if service else None
        conn = ldap3.Connection(
            server, user=user, password=self._bind_password if user else None,
            authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
            client_strategy=ldap3.SYNC, auto_bind=ldap3.AUTO_BIND_NONE, read_only=True,
            # whole seconds: ldap3 also sets SO_RCVTIMEO from it with struct 'LL'
            auto_referrals=False, raise_exceptions=False,
            receive_timeout=max(1, math.ceil(cfg.timeout)))
        started = time.perf_counter()
        try:
            conn.open(read_server_info=False)
            if cfg.start_tls and not conn.start_tls(read_server_info=False):
                raise _Unavailable(f"StartTLS refused: {_result(conn)}")
            if service and not conn.bind(read_server_info=False):
                raise _Unavailable(f"service bind as {user or 'anonymous'} refused: "
                                   f"{_result(conn)}")
        except _Unavailable:
            self._observe("bind", started, False)
            self._discard(conn)
            raise
        except _ERRORS as e:
            self._observe("bind", started, False)
            self._discard(conn)
            raise _Unavailable(f"connect: {_describe(e)}") from None
        if service:
            self._observe("bind", started, True)
        return conn

    @staticmethod
    def _discard(conn) -> None:
        try:
            conn.unbind()
        except Exception:  # already broken: nothing more to release
            pass

    # ------------------------------------------------------------------ bookkeeping -

    def _observe(self, operation: str, started: float, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.ldap_request(operation, time.perf_counter() - started, ok)

    def _unreachable(self, reason: str) -> None:
        with self._lock:
            was, self._reachable = self._reachable, False
        if was:
            log.warning("LDAP directory %s unavailable: %s; logins fail until it answers "
                        "again", self.where, reason)

    def _reachable_again(self) -> None:
        if self._reachable:
            return
        with self._lock:
            was, self._reachable = self._reachable, True
        if not was:
            log.info("LDAP directory %s answers again", self.where)


def _describe_code(code: int, diagnostic: str) -> str:
    name = _RESULT_NAMES.get(code, f"result code {code}")
    return f"{name} ({diagnostic})" if diagnostic else name


def _result(conn) -> str:
    result = conn.result or {}
    return str(result.get("description") or result.get("message") or conn.last_error
               or "no answer")


__all__ = ["LdapBackend"]
