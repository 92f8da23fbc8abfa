"""Stateless COOKIEs (RFC 7296 §2.6): format, rotation, verification, policy."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ikesrv.ikev2.cookies import COOKIE_LEN, CookieJar, cookie_required

NI = bytes(range(32))
SPI_I = bytes.fromhex("34c2d04f27267e6a")
IP = "198.51.100.66"
LIFETIME = 60.0


class Secrets:
    """A deterministic secret source that records what it handed out."""

    def __init__(self):
        self.given: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        secret = bytes([len(self.given) + 1]) * n
        self.given.append(secret)
        return secret


@pytest.fixture
def secrets():
    return Secrets()


@pytest.fixture
def jar(secrets):
    return CookieJar(secrets, lifetime=LIFETIME)


def test_cookie_is_version_and_sha256_in_rfc_order(jar, secrets):
    # RFC 7296 §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
    cookie = jar.cookie(NI, SPI_I, IP, now=10.0)
    ip_bytes = bytes([198, 51, 100, 66])
    assert cookie == bytes(4) + hashlib.sha256(NI + ip_bytes + SPI_I + secrets.given[0]).digest()
    assert len(cookie) == COOKIE_LEN == 36  # RFC 7296 §3.10.1: at most 64 octets


def test_ipv6_and_mapped_ipv4(jar, secrets):
    cookie6 = jar.cookie(NI, SPI_I, "2001:db8::1", now=0.0)
    assert cookie6[4:] == hashlib.sha256(
        NI + bytes.fromhex("20010db8" + "0" * 23 + "1") + SPI_I + secrets.given[0]).digest()
    # a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: same cookie
    assert jar.cookie(NI, SPI_I, "::ffff:198.51.100.66", 0.0) == jar.cookie(NI, SPI_I, IP, 0.0)


def test_verify_accepts_current_and_previous_secret(jar):
    cookie = jar.cookie(NI, SPI_I, IP, now=0.0)
    assert jar.verify(cookie, NI, SPI_I, IP, now=1.0)
    assert jar.verify(cookie, NI, SPI_I, IP, now=LIFETIME + 1)  # rotated once: previous
    newer = jar.cookie(NI, SPI_I, IP, now=LIFETIME + 1)
    assert newer[:4] == (1).to_bytes(4, "big") and newer != cookie
    assert not jar.verify(cookie, NI, SPI_I, IP, now=2 * LIFETIME + 1)  # rotated twice
    assert jar.verify(newer, NI, SPI_I, IP, now=2 * LIFETIME + 1)


def test_rotation_runs_on_a_grid(jar, secrets):
    assert jar.next_rotation(5.0) == 5.0  # no secret yet: make one now
    jar.rotate_if_due(5.0)
    assert jar.next_rotation(6.0) == 5.0 + LIFETIME
    jar.rotate_if_due(5.0 + 1.5 * LIFETIME)
    assert jar.next_rotation(0) == 5.0 + 2 * LIFETIME  # not 1.5 lifetimes later
    assert len(secrets.given) == 2
    jar.rotate_if_due(5.0 + 1.9 * LIFETIME)
    assert len(secrets.given) == 2


def test_idle_jar_drops_both_secrets(jar):
    cookie = jar.cookie(NI, SPI_I, IP, now=0.0)
    # a whole period passed without use: every cookie of the current secret is old
    assert not jar.verify(cookie, NI, SPI_I, IP, now=2 * LIFETIME)


def test_clock_going_backwards_changes_nothing(jar, secrets):
    cookie = jar.cookie(NI, SPI_I, IP, now=100.0)
    assert jar.verify(cookie, NI, SPI_I, IP, now=50.0)
    assert len(secrets.given) == 1


WRONG = [
    ("other IP", lambda c: (c, NI, SPI_I, "198.51.100.67")),
    ("other SPIi", lambda c: (c, NI, bytes(8), IP)),
    ("other Ni", lambda c: (c, NI[::-1], SPI_I, IP)),
    ("truncated", lambda c: (c[:-1], NI, SPI_I, IP)),
    ("extended", lambda c: (c + b"\x00", NI, SPI_I, IP)),
    ("empty", lambda c: (b"", NI, SPI_I, IP)),
    ("unknown version", lambda c: ((7).to_bytes(4, "big") + c[4:], NI, SPI_I, IP)),
]


@pytest.mark.parametrize("name,change", WRONG, ids=[w[0] for w in WRONG])
def test_verify_rejects(jar, name, change):
    cookie = jar.cookie(NI, SPI_I, IP, now=0.0)
    assert not jar.verify(*change(cookie), now=1.0)


@given(st.integers(0, COOKIE_LEN - 1), st.integers(1, 255))
def test_any_tampered_byte_is_rejected(position, flip):
    jar = CookieJar(Secrets(), lifetime=LIFETIME)
    cookie = bytearray(jar.cookie(NI, SPI_I, IP, now=0.0))
    cookie[position] ^= flip
    assert not jar.verify(bytes(cookie), NI, SPI_I, IP, now=1.0)


def test_secret_stays_out_of_repr(jar, secrets):
    jar.cookie(NI, SPI_I, IP, now=0.0)
    text = repr(jar)
    assert secrets.given[0].hex() not in text and "\\x01" not in text


def test_bad_secret_source():
    with pytest.raises(ValueError):
        CookieJar(lambda n: b"short").cookie(NI, SPI_I, IP, 0.0)
    with pytest.raises(ValueError):
        CookieJar(Secrets(), lifetime=0)


POLICY = [
    # total, from source, threshold, per-source threshold, workers, required
    (0, 0, 100, 10, 1, False),
    (99, 9, 100, 10, 1, False),
    (100, 0, 100, 10, 1, True),  # strongSwan: half-open >= threshold
    (5, 10, 100, 10, 1, True),
    (10_000, 10_000, 0, 0, 1, False),  # 0 disables, as strongSwan's cookie_threshold = 0
    (10_000, 10_000, None, None, 1, False),
    (25, 0, 100, 10, 4, True),  # each of 4 workers holds a quarter of the daemon's
    (24, 2, 100, 10, 4, False),
    (0, 3, 100, 10, 4, True),  # ceil(10 / 4) = 3
]


@pytest.mark.parametrize("total,source,threshold,per_source,workers,required", POLICY)
def test_cookie_required(total, source, threshold, per_source, workers, required):
    assert cookie_required(total, source, threshold, per_source, workers=workers) is required
