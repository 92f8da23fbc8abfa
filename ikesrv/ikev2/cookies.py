"""Stateless COOKIEs for IKE_SA_INIT (RFC 7296 §2.6) and when to ask for them.

Owns: ``CookieJar``, which makes and checks cookies under a rotating secret, and
``cookie_required``, the policy deciding when a request must carry one (half-open IKE
SAs, globally and per source address, against the configured thresholds).

Must not import asyncio, socket, time or a random source: the secret comes from the
injected ``secret_source`` and every call is given ``now``.

RFC 7296 §2.6 suggests Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>),
where the version tells which secret made the cookie so that cookies made just before a
rotation still verify. Here the version is 4 octets (a counter) and the hash SHA-256:
36 octets, within the 1..64 the RFC allows. Only the current and the previous secret
are accepted. Secrets rotate on a fixed grid of ``lifetime`` seconds, and any use after
the end of a period rotates first, so a cookie verifies for at most two lifetimes.

Each worker has its own jar: a retried IKE_SA_INIT still has a zero responder SPI, so
the steering program sends it to the same worker as the first try (DESIGN §4).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable

#: Seconds each secret is used to make cookies (it verifies for one more period).
DEFAULT_LIFETIME = 120.0
SECRET_LEN = 32
_VERSION_LEN = 4
COOKIE_LEN = _VERSION_LEN + hashlib.sha256().digest_size


def _ip_bytes(ip: str | bytes | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """IPi in network order; an IPv4-mapped IPv6 address counts as its IPv4 address,
    so that a dual-stack socket and an IPv4 socket agree."""
    addr = ipaddress.ip_address(ip)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.packed


class CookieJar:
    """Makes and verifies COOKIE notification data under a rotating secret."""

    __slots__ = ("_source", "lifetime", "_version", "_secret", "_born", "_previous")

    def __init__(self, secret_source: Callable[[int], bytes],
                 lifetime: float = DEFAULT_LIFETIME) -> None:
        if lifetime <= 0:
            raise ValueError("cookie secret lifetime must be positive")
        self._source = secret_source
        self.lifetime = lifetime
        self._version = 0
        self._secret: bytes | None = None  # made on first use, born at that `now`
        self._born = 0.0
        self._previous: tuple[int, bytes] | None = None

    def __repr__(self) -> str:
        return f"CookieJar(version={self._version}, lifetime={self.lifetime})"

    def _new_secret(self) -> bytes:
        secret = self._source(SECRET_LEN)
        if len(secret) != SECRET_LEN:
            raise ValueError(f"secret source gave {len(secret)} bytes, not {SECRET_LEN}")
        return secret

    def rotate_if_due(self, now: float) -> None:
        """Start a new secret when the current one's period is over (keep it as the
        previous one, or drop both when a whole period passed unused)."""
        if self._secret is None:
            self._secret, self._born = self._new_secret(), now
            return
        elapsed = now - self._born
        if elapsed < self.lifetime:
            return  # also when the clock went backwards
        if elapsed < 2 * self.lifetime:
            self._previous = (self._version, self._secret)
            born = self._born + self.lifetime
        else:
            # Every cookie of the current secret was made over a lifetime ago.
            self._previous = None
            born = now
        self._version = (self._version + 1) & 0xFFFFFFFF
        self._secret, self._born = self._new_secret(), born

    def next_rotation(self, now: float) -> float:
        """When ``rotate_if_due`` next has work (for the core's timer)."""
        if self._secret is None:
            return now
        return self._born + self.lifetime

    @staticmethod
    def _digest(secret: bytes, ni: bytes, spi_i: bytes, ip: bytes) -> bytes:
        return hashlib.sha256(ni + ip + spi_i + secret).digest()  # RFC 7296 §2.6 order

    def cookie(self, ni: bytes, spi_i: bytes, ip, now: float) -> bytes:
        """The COOKIE data for an initiator (its Ni, SPIi and source address)."""
        self.rotate_if_due(now)
        return self._version.to_bytes(_VERSION_LEN, "big") + self._digest(
            self._secret, ni, spi_i, _ip_bytes(ip)
        )

    def verify(self, cookie: bytes, ni: bytes, spi_i: bytes, ip, now: float) -> bool:
        """Whether ``cookie`` (from the peer's N(COOKIE)) was made by us for this
        initiator under the current or the previous secret."""
        self.rotate_if_due(now)
        if len(cookie) != COOKIE_LEN:
            return False
        version = int.from_bytes(cookie[:_VERSION_LEN], "big")
        if version == self._version:
            secret = self._secret
        elif self._previous is not None and version == self._previous[0]:
            secret = self._previous[1]
        else:
            return False
        expected = self._digest(secret, ni, spi_i, _ip_bytes(ip))
        return hmac.compare_digest(cookie[_VERSION_LEN:], expected)


def cookie_required(
    half_open_total: int,
    half_open_from_source: int,
    threshold: int | None,
    threshold_per_source: int | None,
    *,
    workers: int = 1,
) -> bool:
    """Whether a new IKE_SA_INIT must carry a valid COOKIE (RFC 7296 §2.6).

    Yes once this worker's half-open IKE SAs reach ``threshold`` in all, or
    ``threshold_per_source`` from the request's source address. A threshold of 0 or
    None disables that check (as strongSwan's cookie_threshold = 0 does). The
    thresholds are daemon-wide; requests without a responder SPI are spread over the
    ``workers`` by the initiator's SPI, so each worker compares its own counts against
    its share, rounded up.
    """
    if threshold and half_open_total >= -(-threshold // workers):
        return True
    if threshold_per_source and half_open_from_source >= -(-threshold_per_source // workers):
        return True
    return False
