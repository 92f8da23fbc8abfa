"""IKEv1 key schedules, IVs and HASH values (RFC 2409 §5, §5.5, §5.7, App. B).

Known answers: NIST's ACVP samples for the IKEv1 KDF (SP 800-135 §4.1.1), test case 100
with SHA-1, pre-shared-key and digital-signature variants, as exercised by libreswan's
programs/cavp/test.acvp.ikev1_psk.run and test.acvp.ikev1_dsa.run. The remaining formulas
are checked against a straightforward rewrite of the RFC text in this file (hmac and
hashlib only) and against the reference module on random inputs.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.constants import V1HashAlgorithm
from ikesrv.crypto import ikev1_keys as fast
from ikesrv.crypto.reference import ikev1_keys as ref

IMPLS = [pytest.param(fast, id="compiled"), pytest.param(ref, id="reference")]
H = bytes.fromhex
SHA = V1HashAlgorithm.SHA

# (source, method, inputs, SKEYID, SKEYID_d, SKEYID_a, SKEYID_e)
ACVP = [
    (
        "ACVP IKEv1 PSK tcId 100",
        "psk",
        dict(
            g_xy=H("739003ba2c11c982946c65e26acf661fbf8ebb78011a9fead79efa12fe3e71cc"),
            psk=H("75"),
            ni=H("b9a2d0e922dc66dd"),
            nr=H("2130166863b5ddef"),
            cky_i=H("83d374c30b3b5082"),
            cky_r=H("5afc0da06c728029"),
        ),
        "62b04d112877e442fc3282fc37c076997718a0b9",
        "369e5aad1bdb5faf6a3d929d500cdc236710a9ab",
        "588e957d8d790d093b3a39f121473473af78e9bb",
        "cd74b0c048219db81384d3fda8f6cda51e398a2b",
    ),
    (
        "ACVP IKEv1 DSA tcId 100",
        "sig",
        dict(
            g_xy=H("8ba4cbc73c0187301dc19a975823854dbd641c597f637f8d053a83b9514673eb"),
            ni=H("69a62284195f1680"),
            nr=H("80c94ba25c8abda5"),
            cky_i=H("8c3bcd3a69831d7f"),
            cky_r=H("d2d9a7ff4fbe95a7"),
        ),
        "707197817fb2d90cf54d1842606bdea59b9f4823",
        "384be709a8a5e63c3ed160cfe3921c4b37d5b32d",
        "48b327575abe3adba0f279849e289022a13e2b47",
        "a4a415c8e0c38c0da847c356cc61c24df8025560",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("source", "method", "v", "skeyid", "d", "a", "e"), ACVP, ids=[x[0] for x in ACVP]
)
def test_acvp_skeyid(impl, source, method, v, skeyid, d, a, e):
    if method == "psk":  # RFC 2409 §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b)
        sk = impl.skeyid_psk(SHA, v["psk"], v["ni"], v["nr"])
    else:  # RFC 2409 §5: SKEYID = prf(Ni_b | Nr_b, g^xy)
        sk = impl.skeyid_sig(SHA, v["ni"], v["nr"], v["g_xy"])
    assert sk.hex() == skeyid
    args = (v["g_xy"], v["cky_i"], v["cky_r"])
    assert impl.skeyid_dae(SHA, sk, *args) == (H(d), H(a), H(e))
    assert impl.skeyid_d(SHA, sk, *args).hex() == d
    assert impl.skeyid_a(SHA, sk, H(d), *args).hex() == a
    assert impl.skeyid_e(SHA, sk, H(a), *args).hex() == e


# --- the RFC text, spelled out --------------------------------------------------------


def prf(name, key, data):
    return hmac.new(key, data, name).digest()


NAMES = [
    ("md5", V1HashAlgorithm.MD5),
    ("sha1", SHA),
    ("sha256", V1HashAlgorithm.SHA2_256),
    ("sha384", V1HashAlgorithm.SHA2_384),
    ("sha512", V1HashAlgorithm.SHA2_512),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("name", "alg"), NAMES, ids=[n for n, _ in NAMES])
def test_phase1_by_hand(impl, name, alg):
    g_xi, g_xr, g_xy = b"\x01" * 256, b"\x02" * 256, b"\x03" * 256
    cky_i, cky_r, ni, nr = b"\x0a" * 8, b"\x0b" * 8, b"\x0c" * 20, b"\x0d" * 24
    sai_b, idii_b, idir_b = (
        b"SA body" * 9,
        b"\x01\x11\x01\xf4\xc0\x00\x02\x01",
        b"\x02\x00\x00\x00gw",
    )
    skeyid = prf(name, ni + nr, g_xy)
    assert impl.skeyid_sig(alg, ni, nr, g_xy) == skeyid
    assert impl.skeyid_psk(name, b"secret", ni, nr) == prf(name, b"secret", ni + nr)
    d = prf(name, skeyid, g_xy + cky_i + cky_r + b"\x00")
    a = prf(name, skeyid, d + g_xy + cky_i + cky_r + b"\x01")
    e = prf(name, skeyid, a + g_xy + cky_i + cky_r + b"\x02")
    assert impl.skeyid_dae(alg, skeyid, g_xy, cky_i, cky_r) == (d, a, e)
    # RFC 2409 §5: HASH_I and HASH_R
    assert impl.hash_i(alg, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idii_b) == prf(
        name, skeyid, g_xi + g_xr + cky_i + cky_r + sai_b + idii_b
    )
    assert impl.hash_r(alg, skeyid, g_xi, g_xr, cky_i, cky_r, sai_b, idir_b) == prf(
        name, skeyid, g_xr + g_xi + cky_r + cky_i + sai_b + idir_b
    )
    # RFC 2409 App. B: IV = hash(g^xi | g^xr) truncated to the block size
    assert impl.initial_iv(alg, g_xi, g_xr, 16) == hashlib.new(name, g_xi + g_xr).digest()[:16]
    assert impl.initial_iv(alg, g_xi, g_xr, 8) == hashlib.new(name, g_xi + g_xr).digest()[:8]
    assert impl.prf(alg, b"k", b"d") == prf(name, b"k", b"d")
    assert impl.prf_len(alg) == hashlib.new(name).digest_size


@pytest.mark.parametrize("impl", IMPLS)
def test_expand_key_appendix_b(impl):
    # RFC 2409 App. B: SHA-1's 20-octet SKEYID_e is too short for AES-256 (32) or 3DES (24):
    # Ka = K1 | K2 with K1 = prf(SKEYID_e, 0), K2 = prf(SKEYID_e, K1).
    skeyid_e = bytes(range(20))
    k1 = prf("sha1", skeyid_e, b"\x00")
    k2 = prf("sha1", skeyid_e, k1)
    k3 = prf("sha1", skeyid_e, k2)
    assert impl.expand_key(SHA, skeyid_e, 32) == (k1 + k2)[:32]
    assert impl.expand_key(SHA, skeyid_e, 24) == (k1 + k2)[:24]
    assert impl.expand_key(SHA, skeyid_e, 48) == (k1 + k2 + k3)[:48]
    # Long enough: the leading octets of SKEYID_e itself.
    assert impl.expand_key(SHA, skeyid_e, 16) == skeyid_e[:16]
    assert impl.expand_key(SHA, skeyid_e, 20) == skeyid_e
    sha256_e = bytes(range(32))
    assert impl.expand_key(V1HashAlgorithm.SHA2_256, sha256_e, 32) == sha256_e


@pytest.mark.parametrize("impl", IMPLS)
def test_phase2_iv(impl):
    # RFC 2409 App. B: hash(last phase 1 CBC output block | M-ID), M-ID in network order.
    last = bytes(range(16))
    mid = 0x12345678
    expected = hashlib.sha256(last + b"\x12\x34\x56\x78").digest()[:16]
    assert impl.phase2_iv("sha256", last, mid, 16) == expected
    assert impl.phase2_iv("sha256", last, b"\x12\x34\x56\x78", 16) == expected


@pytest.mark.parametrize("impl", IMPLS)
def test_quick_mode_hashes(impl):
    a = b"\x5a" * 20
    mid = 0xDEADBEEF
    m = b"\xde\xad\xbe\xef"
    ni_b, nr_b = b"\x01" * 16, b"\x02" * 16
    after_hash1 = b"SA|Ni|KE|IDci|IDcr payloads"
    after_hash2 = b"SA|Nr|KE|IDci|IDcr payloads"
    # RFC 2409 §5.5
    assert impl.quick_mode_hash1(SHA, a, mid, after_hash1) == prf("sha1", a, m + after_hash1)
    assert impl.quick_mode_hash2(SHA, a, mid, ni_b, after_hash2) == prf(
        "sha1", a, m + ni_b + after_hash2
    )
    assert impl.quick_mode_hash3(SHA, a, mid, ni_b, nr_b) == prf(
        "sha1", a, b"\x00" + m + ni_b + nr_b
    )
    # RFC 2409 §5.7
    assert impl.informational_hash(SHA, a, mid, b"N payload") == prf("sha1", a, m + b"N payload")


def keymat_by_hand(name, skeyid_d, protocol, spi, ni_b, nr_b, length, g_qm=b""):
    tail = g_qm + bytes([protocol]) + spi + ni_b + nr_b
    k1 = prf(name, skeyid_d, tail)
    k2 = prf(name, skeyid_d, k1 + tail)
    k3 = prf(name, skeyid_d, k2 + tail)
    k4 = prf(name, skeyid_d, k3 + tail)
    return (k1 + k2 + k3 + k4)[:length]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("name", "alg"), NAMES[1:], ids=[n for n, _ in NAMES[1:]])
@pytest.mark.parametrize("length", [16, 20, 36, 52, 64, 72])
def test_quick_mode_keymat(impl, name, alg, length):
    # RFC 2409 §5.5: without PFS, and with PFS (g(qm)^xy first).
    skeyid_d, spi, ni_b, nr_b = b"\x0d" * 20, b"\xc0\x01\x02\x03", b"\x01" * 16, b"\x02" * 32
    assert impl.quick_mode_keymat(alg, skeyid_d, 3, spi, ni_b, nr_b, length) == keymat_by_hand(
        name, skeyid_d, 3, spi, ni_b, nr_b, length
    )
    g_qm = b"\x77" * 256
    assert impl.quick_mode_keymat(
        alg, skeyid_d, 3, spi, ni_b, nr_b, length, g_qm_xy=g_qm
    ) == keymat_by_hand(name, skeyid_d, 3, spi, ni_b, nr_b, length, g_qm)


def test_errors():
    with pytest.raises(ValueError):
        fast.prf(V1HashAlgorithm.TIGER, b"k", b"d")
    with pytest.raises(ValueError):
        fast.quick_mode_keymat(SHA, b"d", 256, b"spi!", b"n", b"n", 20)
    with pytest.raises(ValueError):
        fast.phase2_iv(SHA, b"x" * 16, b"\x00\x01", 16)
    with pytest.raises(OverflowError):
        fast.phase2_iv(SHA, b"x" * 16, 2**32, 16)


HASHES = [alg for _, alg in NAMES]
blob = st.binary(max_size=300)


@settings(max_examples=800, deadline=None)
@given(
    alg=st.sampled_from(HASHES),
    skeyid=blob,
    g_xy=blob,
    cky=st.binary(min_size=16, max_size=16),
    ni=blob,
    nr=blob,
    psk=blob,
)
def test_phase1_compiled_equals_reference(alg, skeyid, g_xy, cky, ni, nr, psk):
    ci, cr = cky[:8], cky[8:]
    assert fast.skeyid_psk(alg, psk, ni, nr) == ref.skeyid_psk(alg, psk, ni, nr)
    assert fast.skeyid_sig(alg, ni, nr, g_xy) == ref.skeyid_sig(alg, ni, nr, g_xy)
    assert fast.skeyid_dae(alg, skeyid, g_xy, ci, cr) == ref.skeyid_dae(alg, skeyid, g_xy, ci, cr)
    assert fast.hash_i(alg, skeyid, ni, nr, ci, cr, g_xy, psk) == ref.hash_i(
        alg, skeyid, ni, nr, ci, cr, g_xy, psk
    )
    assert fast.hash_r(alg, skeyid, ni, nr, ci, cr, g_xy, psk) == ref.hash_r(
        alg, skeyid, ni, nr, ci, cr, g_xy, psk
    )
    assert fast.initial_iv(alg, ni, nr, 16) == ref.initial_iv(alg, ni, nr, 16)


@settings(max_examples=800, deadline=None)
@given(
    alg=st.sampled_from(HASHES),
    key=blob,
    mid=st.integers(min_value=0, max_value=2**32 - 1),
    ni=blob,
    nr=blob,
    g=st.one_of(st.none(), blob),
    proto=st.integers(min_value=0, max_value=255),
    spi=st.binary(min_size=4, max_size=4),
    length=st.integers(min_value=0, max_value=300),
)
def test_phase2_compiled_equals_reference(alg, key, mid, ni, nr, g, proto, spi, length):
    assert fast.quick_mode_keymat(alg, key, proto, spi, ni, nr, length, g) == ref.quick_mode_keymat(
        alg, key, proto, spi, ni, nr, length, g
    )
    assert fast.expand_key(alg, key, length) == ref.expand_key(alg, key, length)
    assert fast.quick_mode_hash1(alg, key, mid, ni) == ref.quick_mode_hash1(alg, key, mid, ni)
    assert fast.quick_mode_hash2(alg, key, mid, ni, nr) == ref.quick_mode_hash2(
        alg, key, mid, ni, nr
    )
    assert fast.quick_mode_hash3(alg, key, mid, ni, nr) == ref.quick_mode_hash3(
        alg, key, mid, ni, nr
    )
    assert fast.phase2_iv(alg, ni, mid, 8) == ref.phase2_iv(alg, ni, mid, 8)
