"""The users file backend: a TOML file of users and their credentials (config.load_users).

Owns: answering ``AuthRequest``s from the file named by ``[users.file] path``:

  "password"        scrypt ``password_hash`` (config.verify_password), else the clear
                    ``password``, else the ``nt_hash`` (the NT hash of the offered password)
  "nt_hash"         ``nt_hash``, else computed from the clear ``password``
  "clear_password"  ``password`` only (EAP-MD5)

Comparisons are constant-time (hmac.compare_digest). scrypt costs tens of milliseconds on
purpose, so password checks run in a small thread pool off the event loop; an unknown
user costs the same scrypt as a known one, so timing tells nothing about who exists.
The file is read at start and again whenever its modification time or size changes
(edit it, no restart); a broken edit is logged and the previous users stay in force.

Logs name the user (``users.printable``), never a password or hash.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..actions import AuthRequest, AuthResult
from ..config import FrozenMap, Secret, hash_password, load_users, verify_password
from ..errors import ConfigError
from .eap.md4 import nt_hash
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


class UsersFileBackend:
    """Users from a TOML file; ``check_sync`` is the whole logic, ``check`` runs it."""

    def __init__(self, path: Path, *, threads: int = 2):
        self.path = Path(path)
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None  # made in the worker process
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: FrozenMap = FrozenMap()
        self._reload(initial=True)
        # what an unknown user's password is checked against (same cost as a real one)
        self._decoy = Secret(hash_password(os.urandom(16).hex()).encode("ascii"))

    # ------------------------------------------------------------------ file --------

    def _reload(self, initial: bool = False) -> None:
        try:
            st = self.path.stat()
        except OSError as e:
            if initial:
                raise ConfigError([(str(self.path), f"cannot read the users file: {e}")])
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                users = load_users(self.path)
            except ConfigError as e:
                if initial:
                    raise
                log.error("users file %s changed but has errors; keeping the previous "
                          "%d users:\n%s", self.path, len(self._users), e)
                self._stamp = stamp
                return
            if not initial:
                log.info("users file %s reloaded: %d users", self.path, len(users))
            self._users, self._stamp = users, stamp

    # ------------------------------------------------------------------ checks ------

    async def check(self, request: AuthRequest) -> AuthResult:
        if request.method != PASSWORD or not self._needs_scrypt(request.username):
            # lookups and constant-time compares: microseconds, less than the hop to a
            # thread and back (an unknown user still costs the decoy scrypt, in the pool)
            return self.check_sync(request)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="ikesrv-users")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.check_sync, request)

    def _needs_scrypt(self, name: str) -> bool:
        """Whether a "password" check of ``name`` runs scrypt (a hashed password, or the
        decoy for a user the file does not have)."""
        self._reload()
        entry = self._users.get(name)
        return entry is None or entry.password_hash is not None

    def check_sync(self, request: AuthRequest) -> AuthResult:
        """Answer one request (blocking for "password": scrypt)."""
        self._reload()
        name = request.username
        problem = name_problem(name)
        if problem is not None:
            return refuse(problem)
        who = printable(name)
        entry = self._users.get(name)
        method = request.method
        if method == PASSWORD:
            return self._password(entry, who, request.password)
        if entry is None:
            return refuse(f"unknown user {who}")
        if method == NT_HASH:
            if entry.nt_hash is not None:
                return AuthResult(True, secret=entry.nt_hash.reveal())
            if entry.password is not None:
                return AuthResult(True, secret=nt_hash(entry.password.reveal().decode("utf-8")))
            return refuse(f"user {who} has neither nt_hash nor password in the users file, "
                          "which EAP-MSCHAPv2 needs")
        if method == CLEAR_PASSWORD:
            if entry.password is not None:
                return AuthResult(True, secret=entry.password.reveal())
            return refuse(f"user {who} has no clear-text password in the users file, "
                          "which EAP-MD5 needs")
        return refuse(f"unknown users backend method {method!r}")

    def _password(self, entry, who: str, offered: bytes) -> AuthResult:
        if not offered:
            return refuse(f"empty password for {who}")
        if len(offered) > MAX_PASSWORD_BYTES:
            return refuse(f"password of {len(offered)} bytes for {who}")
        try:
            password = offered.decode("utf-8")
        except UnicodeDecodeError:
            return refuse(f"password for {who} is not UTF-8")
        if entry is None:
            verify_password(self._decoy, password)  # the same work as for a real user
            return refuse(f"unknown user {who}")
        if entry.password_hash is not None:
            ok = verify_password(entry.password_hash, password)
        elif entry.password is not None:
            ok = hmac.compare_digest(entry.password.reveal(), offered)
        elif entry.nt_hash is not None:
            ok = hmac.compare_digest(entry.nt_hash.reveal(), nt_hash(password))
        else:
            ok = False
        return AuthResult(True) if ok else refuse(f"wrong password for {who}")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


__all__ = ["UsersFileBackend"]
