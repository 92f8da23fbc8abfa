"""Admission control: what a datagram may cost before anyone knows who sent it.

Owns the bounds that keep one worker serving while UDP 500/4500 are flooded
(DESIGN §4; RFC 7296 §2.6, RFC 7383 §2.6, RFC 2409 §5):

- ``SourceLimiter``: a token bucket per source address, consulted before a datagram is
  decoded. It charges only what creates work for strangers: first messages (IKEv2
  IKE_SA_INIT, IKEv1 Main/Aggressive Mode without a responder cookie), messages for
  SPIs we do not hold, and garbage. Messages for SAs this worker holds are not charged,
  so a flood from (or spoofed as) an address cannot starve the established clients
  behind it; their cost is one integrity check each, and they are authenticated.
  The table is bounded: refilled buckets are pruned as new sources arrive, and when it
  is full the oldest source is forgotten (a forgotten source starts with a full bucket
  again, which is what a spoofed flood of fresh sources gets anyway; COOKIEs and the
  half-open limits are what bound those).
- ``Bucket``: one token bucket (the limiter's, and the bound on Diffie-Hellman work for
  IKEv1 Aggressive Mode under pressure, which has no stateless cookie to ask for).
- ``MAX_MESSAGE_SIZE``-style limits are configuration ([server] max_message_size); the
  reassembly budget per worker is ``REASSEMBLY_BUDGET`` (bytes held in partly
  reassembled IKEv2 messages of all SAs together; each SA's own bound is in
  ikesrv.ikev2.messages).

Memory a flood can make a worker hold, with the defaults (measured by
tests/robustness/test_dos_core.py): a half-open IKEv2 SA costs about 5 KB plus its
IKE_SA_INIT request (kept for the AUTH payload's signed octets, RFC 7296 §2.15), so at
most ``half_open_limit`` x (5 KB + max_message_size) for the daemon; the source table at
most ``MAX_SOURCES`` entries (about 200 bytes each); reassembly at most
``REASSEMBLY_BUDGET`` per worker.

Must not import asyncio, socket, time or a random source: ``now`` is given.
"""

from __future__ import annotations

#: Sources remembered per worker (each about 200 bytes).
MAX_SOURCES = 16384
#: Bytes held in partly reassembled IKEv2 messages per worker, all SAs together.
REASSEMBLY_BUDGET = 4 * 1024 * 1024
#: IKEv1 Aggressive Mode first messages whose Diffie-Hellman the worker computes per
#: second while under pressure (half-open SAs above the cookie thresholds).
AGGRESSIVE_UNDER_PRESSURE_RATE = 20.0


class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float = 0.0):
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, now

    def take(self, now: float) -> bool:
        tokens = self.tokens
        if now > self.last:
            tokens = min(self.burst, tokens + (now - self.last) * self.rate)
            self.last = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False


class SourceLimiter:
    """Token buckets by source address, in a bounded table."""

    __slots__ = ("_table", "burst", "limited", "max_sources", "rate")

    def __init__(self, rate: float, burst: float | None = None,
                 max_sources: int = MAX_SOURCES):
        if rate < 0:
            raise ValueError("rate must not be negative")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else 2 * rate)
        self.max_sources = max_sources
        # source -> (tokens, last); insertion order = first seen, oldest first
        self._table: dict[str, tuple[float, float]] = {}
        self.limited = 0  # datagrams refused so far (for tests and status)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._table)

    def allow(self, source: str, now: float) -> bool:
        """Charge one datagram from ``source``; False when its bucket is empty."""
        table = self._table
        entry = table.get(source)
        if entry is None:
            self._make_room(now)
            table[source] = (self.burst - 1.0, now)
            return True
        tokens, last = entry
        if now > last:
            tokens = min(self.burst, tokens + (now - last) * self.rate)
        else:
            now = last  # a clock that went back refills nothing
        if tokens >= 1.0:
            table[source] = (tokens - 1.0, now)
            return True
        table[source] = (tokens, now)
        self.limited += 1
        return False

    def _make_room(self, now: float) -> None:
        table = self._table
        # a couple of the oldest entries per insertion: those refilled carry nothing
        for _ in range(2):
            if not table:
                return
            source, (tokens, last) = next(iter(table.items()))
            if tokens + (now - last) * self.rate >= self.burst:
                del table[source]
            else:
                break
        while len(table) >= self.max_sources:
            del table[next(iter(table))]


__all__ = ["AGGRESSIVE_UNDER_PRESSURE_RATE", "MAX_SOURCES", "REASSEMBLY_BUDGET", "Bucket",
           "SourceLimiter"]


def forget_half_open(table: dict, per_ip, sa) -> None:
    """Take ``sa`` out of a responder's half-open table and its per-address count, by the
    key it was entered with (``sa.half_open_key``: (SPIi or CKY-I, first message's
    address); the SA's address may have moved since, RFC 7296 §2.23, RFC 3947 §4).
    Nothing happens for an SA that is not in them (again, or never)."""
    key, sa.half_open_key = sa.half_open_key, None
    if key is None:
        return
    if table.get(key) is sa:
        del table[key]
    ip = key[1][0]
    if per_ip[ip] <= 1:
        per_ip.pop(ip, None)
    else:
        per_ip[ip] -= 1
