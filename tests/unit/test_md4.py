"""MD4 (RFC 1320): the compiled digest and its pure-Python reference, on the RFC's test
suite and on random inputs of every length around the block and padding boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv._fast import md4 as fast
from ikesrv.auth.eap import md4 as facade
from ikesrv.auth.eap import md4_reference as reference

# RFC 1320 §A.5 (test suite)
RFC1320_A5 = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "043f8582f241db351ce627e153e7f0e4"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize("message,digest", RFC1320_A5)
@pytest.mark.parametrize("impl", [fast.md4, reference.md4], ids=["compiled", "reference"])
def test_rfc1320_suite(impl, message, digest):
    assert impl(message).hex() == digest


def test_the_facade_is_the_compiled_module():
    assert facade.md4 is fast.md4


# NT hashes as `openssl dgst -provider legacy -md4` computes them (tests/harness/slapd.py),
# and RFC 2759 §9.2's PasswordHash of "clientPass"
@pytest.mark.parametrize("password,nt_hash", [
    ("alice-Secret-1", "5466D191FA54FE490DB575B3B50E18C0"),
    ("bob-Secret-2", "FEC80FC86254E9EF2C49704FCF7F74D6"),
    ("carol-Secret-3", "12DAF3C89176FF2438C01D73A5BBA7F3"),
    ("clientPass", "44EBBA8D5312B8D611474411F56989AE"),
])
def test_nt_hash(password, nt_hash):
    assert facade.nt_hash(password).hex().upper() == nt_hash


@pytest.mark.parametrize("n", list(range(0, 130)) + [1000, 4096, 65537])
def test_every_length_agrees(n):
    data = bytes((i * 37 + n) & 0xFF for i in range(n))
    assert fast.md4(data) == reference.md4(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_inputs_agree(data):
    assert fast.md4(data) == reference.md4(data)


def test_buffers_other_than_bytes():
    assert fast.md4(bytearray(b"abc")) == fast.md4(memoryview(b"abc")) == fast.md4(b"abc")
