"""IKEv2 key schedules (RFC 7296 §2.13-2.18): a published vector, hand computations, oracle.

The known-answer row is NIST's ACVP sample for the IKEv2 KDF (SP 800-135 §4.1.2),
test case 100 with HMAC-SHA-1, as exercised by libreswan's programs/cavp/test.acvp.ikev2.run
(inputs g^ir, g^ir (new), Ni, Nr, SPIi, SPIr; outputs SKEYSEED, DKM = prf+ (SKEYSEED,
Ni | Nr | SPIi | SPIr), DKM(Child SA) = prf+ (SK_d, Ni | Nr), DKM(Child SA D-H) =
prf+ (SK_d, g^ir (new) | Ni | Nr) and SKEYSEED(Rekey) = prf(SK_d, g^ir (new) | Ni | Nr)).
"""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.constants import PrfId
from ikesrv.crypto import keys as fast
from ikesrv.crypto import prf
from ikesrv.crypto.keys import ChildSaKeys, IkeSaKeys
from ikesrv.crypto.reference import keys as ref
from ikesrv.crypto.reference import prf as ref_prf

IMPLS = [pytest.param(fast, id="compiled"), pytest.param(ref, id="reference")]
H = bytes.fromhex
SHA1, S256, S384, S512 = (
    PrfId.PRF_HMAC_SHA1,
    PrfId.PRF_HMAC_SHA2_256,
    PrfId.PRF_HMAC_SHA2_384,
    PrfId.PRF_HMAC_SHA2_512,
)
XCBC, CMAC = PrfId.PRF_AES128_XCBC, PrfId.PRF_AES128_CMAC

# NIST ACVP IKEv2 KDF sample, tcId 100, SHA-1, DKM length 1056 bits (132 octets).
ACVP = {
    "g_ir": H("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52"),
    "g_ir_new": H("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330"),
    "ni": H("32b50d5f4a3763f3"),
    "nr": H("9206a04b26564cb1"),
    "spi_i": H("34c9e7c188868785"),
    "spi_r": H("3ff77d760d2b2199"),
    "skeyseed": H("a9a7b222b59f8f48645f28a1db5b5f5d7479cba7"),
    "dkm": H(
        "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062"
        "768b76606f9fa5e992204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702"
        "c979fa280870d2ed41efa9c549fd11198af1670b143d384bd275c5f594cf266b05ebadca855e4249"
        "520a441a81157435a7a56cc4"
    ),
    "dkm_child": H(
        "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd95"
        "60b2d5e092d1f24e2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf"
        "5580b1e521a8fe20754a2d883ba0c2cf285f524aea6545b33106bc03e614296d319d41d4b50b3f51"
        "0b1c0a22f3e664994d234cb4"
    ),
    "dkm_child_dh": H(
        "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232ea"
        "b4b3ab14c400a5197dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a508"
        "0d7d4b5666023a8bbb5ffb7857240f9a05884d1b7d2f933708450b7b3288f1fc863ab49fa901227c"
        "ffc06e27899c7054d56fd74c"
    ),
    "skeyseed_rekey": H("63e81194946ebd05df7df5ebf5d8750056bf1f1d"),
}


def concat(keys: IkeSaKeys) -> bytes:
    return b"".join(getattr(keys, f) for f in IkeSaKeys.__slots__)


@pytest.mark.parametrize("impl", IMPLS)
def test_acvp_ike_sa_keys(impl):
    v = ACVP
    # RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir)
    assert prf.prf(SHA1, v["ni"] + v["nr"], v["g_ir"]) == v["skeyseed"]
    # 3 x 20 (SK_d, SK_pi, SK_pr) + 2 x 20 (SK_a*) + 2 x 16 (SK_e*) = the 132-octet DKM
    keys = impl.ike_sa_keys(SHA1, 20, 16, v["ni"], v["nr"], v["g_ir"], v["spi_i"], v["spi_r"])
    assert concat(keys) == v["dkm"]
    assert keys.sk_d == v["dkm"][:20] and keys.sk_pr == v["dkm"][-20:]
    assert keys.sk_ei == v["dkm"][60:76] and keys.sk_er == v["dkm"][76:92]


@pytest.mark.parametrize("impl", IMPLS)
def test_acvp_child_sa_keymat(impl):
    v = ACVP
    sk_d = v["dkm"][:20]
    # RFC 7296 §2.17: KEYMAT = prf+ (SK_d, Ni | Nr), with PFS prf+ (SK_d, g^ir (new) | Ni | Nr)
    assert impl.child_sa_keymat(SHA1, sk_d, v["ni"], v["nr"], 132) == v["dkm_child"]
    assert (
        impl.child_sa_keymat(SHA1, sk_d, v["ni"], v["nr"], 132, shared=v["g_ir_new"])
        == v["dkm_child_dh"]
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_acvp_rekey(impl):
    v = ACVP
    sk_d = v["dkm"][:20]
    # RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr); the new keys are
    # prf+ of it, with the new SA's SPIs (here the vector's).
    assert prf.prf(SHA1, sk_d, v["g_ir_new"] + v["ni"] + v["nr"]) == v["skeyseed_rekey"]
    keys = impl.rekey_ike_sa_keys(
        SHA1, sk_d, v["g_ir_new"], v["ni"], v["nr"], v["spi_i"], v["spi_r"], 20, 16
    )
    seed = v["ni"] + v["nr"] + v["spi_i"] + v["spi_r"]
    assert concat(keys) == ref_prf.prf_plus(SHA1, v["skeyseed_rekey"], seed, 132)


def by_hand(name: str, ni, nr, shared, spi_i, spi_r, lengths):
    """RFC 7296 §2.13-2.14 with nothing but the standard library's hmac."""
    skeyseed = hmac.digest(ni + nr, shared, name)
    seed = ni + nr + spi_i + spi_r
    stream, t, n = b"", b"", 1
    while len(stream) < sum(lengths):
        t = hmac.digest(skeyseed, t + seed + bytes([n]), name)
        stream += t
        n += 1
    out = []
    for length in lengths:
        out.append(stream[:length])
        stream = stream[length:]
    return out


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("prf_id", "name", "d"),
    [(SHA1, "sha1", 20), (S256, "sha256", 32), (S384, "sha384", 48), (S512, "sha512", 64)],
)
@pytest.mark.parametrize(("integ", "encr"), [(32, 32), (0, 36), (20, 24), (64, 36)])
def test_ike_sa_keys_by_hand(impl, prf_id, name, d, integ, encr):
    ni, nr = b"\x11" * 32, b"\x22" * 48
    shared, spi_i, spi_r = b"\x33" * 256, b"\x44" * 8, b"\x55" * 8
    keys = impl.ike_sa_keys(prf_id, integ, encr, ni, nr, shared, spi_i, spi_r)
    expected = by_hand(name, ni, nr, shared, spi_i, spi_r, [d, integ, integ, encr, encr, d, d])
    assert [getattr(keys, f) for f in IkeSaKeys.__slots__] == expected


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("prf_id", [XCBC, CMAC])
def test_aes_prfs_key_skeyseed_with_64_bits_of_each_nonce(impl, prf_id):
    # RFC 7296 §2.14: "only the first 64 bits of Ni and the first 64 bits of Nr are used in
    # calculating SKEYSEED, but all the bits are used for input to the prf+ function".
    ni, nr = bytes(range(32)), bytes(range(100, 132))
    shared, spi_i, spi_r = b"\x99" * 32, b"\x01" * 8, b"\x02" * 8
    keys = impl.ike_sa_keys(prf_id, 16, 16, ni, nr, shared, spi_i, spi_r)
    skeyseed = ref_prf.prf(prf_id, ni[:8] + nr[:8], shared)
    stream = ref_prf.prf_plus(prf_id, skeyseed, ni + nr + spi_i + spi_r, 5 * 16 + 2 * 16)
    assert concat(keys) == stream
    assert keys.sk_d == stream[:16] and len(keys.sk_pi) == len(keys.sk_pr) == 16


@pytest.mark.parametrize("impl", IMPLS)
def test_rekey_uses_old_prf_for_skeyseed(impl):
    # RFC 7296 §2.18: the old SA's PRF computes SKEYSEED, the new SA's PRF expands it.
    old_sk_d, shared, ni, nr = b"\x0d" * 20, b"\x77" * 64, b"\x01" * 32, b"\x02" * 32
    spi_i, spi_r = b"\xaa" * 8, b"\xbb" * 8
    keys = impl.rekey_ike_sa_keys(
        S384, old_sk_d, shared, ni, nr, spi_i, spi_r, 0, 36, old_prf_id=SHA1
    )
    skeyseed = hmac.digest(old_sk_d, shared + ni + nr, "sha1")
    stream = ref_prf.prf_plus(S384, skeyseed, ni + nr + spi_i + spi_r, 3 * 48 + 2 * 36)
    assert concat(keys) == stream
    assert len(keys.sk_d) == 48 and keys.sk_ai == keys.sk_ar == b""


@pytest.mark.parametrize("impl", IMPLS)
def test_child_sa_keys_order(impl):
    # RFC 7296 §2.17: initiator-to-responder keys first; encryption before integrity.
    sk_d, ni, nr = b"\x0d" * 32, b"\x01" * 32, b"\x02" * 32
    keymat = impl.child_sa_keymat(S256, sk_d, ni, nr, 2 * (32 + 32))
    keys = impl.child_sa_keys(S256, sk_d, ni, nr, 32, 32)
    assert (keys.encr_i, keys.integ_i, keys.encr_r, keys.integ_r) == (
        keymat[:32],
        keymat[32:64],
        keymat[64:96],
        keymat[96:],
    )
    aead = impl.child_sa_keys(S256, sk_d, ni, nr, 36, 0, shared=b"\x55" * 32)
    km = impl.child_sa_keymat(S256, sk_d, ni, nr, 72, shared=b"\x55" * 32)
    assert (aead.encr_i, aead.integ_i, aead.encr_r, aead.integ_r) == (km[:36], b"", km[36:], b"")


def test_keys_repr_and_immutability():
    keys = fast.ike_sa_keys(S256, 32, 16, b"n" * 32, b"m" * 32, b"g" * 256, b"i" * 8, b"r" * 8)
    text = repr(keys)
    assert (
        text
        == "IkeSaKeys(sk_d=32, sk_ai=32, sk_ar=32, sk_ei=16, sk_er=16, sk_pi=32, sk_pr=32 octets)"
    )
    for f in IkeSaKeys.__slots__:
        assert getattr(keys, f).hex()[:8] not in text
    with pytest.raises(AttributeError):
        keys.sk_d = b""
    with pytest.raises(TypeError):
        hash(keys)
    child = fast.child_sa_keys(S256, keys.sk_d, b"n" * 32, b"m" * 32, 16, 32)
    assert repr(child) == "ChildSaKeys(encr_i=16, integ_i=32, encr_r=16, integ_r=32 octets)"
    assert child == ChildSaKeys(child.encr_i, child.integ_i, child.encr_r, child.integ_r)


def test_errors():
    with pytest.raises(ValueError):
        fast.ike_sa_keys(PrfId.PRF_HMAC_TIGER, 32, 16, b"n", b"m", b"g", b"i" * 8, b"r" * 8)
    with pytest.raises(ValueError):
        fast.ike_sa_keys(S256, -1, 16, b"n", b"m", b"g", b"i" * 8, b"r" * 8)
    with pytest.raises(ValueError):
        fast.child_sa_keymat(S256, b"d" * 32, b"n", b"m", 255 * 32 + 1)
    with pytest.raises(ValueError):
        IkeSaKeys.split(b"x" * 10, 32, 0, 0)


PRF_IDS = sorted(prf.SUPPORTED)
nonce = st.binary(min_size=1, max_size=256)


@settings(max_examples=1000, deadline=None)
@given(
    prf_id=st.sampled_from(PRF_IDS),
    integ=st.sampled_from([0, 12, 16, 20, 32, 48, 64]),
    encr=st.sampled_from([0, 16, 20, 24, 32, 36]),
    ni=nonce,
    nr=nonce,
    shared=st.binary(min_size=1, max_size=512),
    spi_i=st.binary(min_size=8, max_size=8),
    spi_r=st.binary(min_size=8, max_size=8),
)
def test_ike_sa_keys_compiled_equal_reference(prf_id, integ, encr, ni, nr, shared, spi_i, spi_r):
    assert fast.ike_sa_keys(prf_id, integ, encr, ni, nr, shared, spi_i, spi_r) == ref.ike_sa_keys(
        prf_id, integ, encr, ni, nr, shared, spi_i, spi_r
    )


@settings(max_examples=1000, deadline=None)
@given(
    prf_id=st.sampled_from(PRF_IDS),
    old_prf_id=st.sampled_from(PRF_IDS),
    sk_d=st.binary(max_size=64),
    shared=st.binary(max_size=300),
    ni=nonce,
    nr=nonce,
    spis=st.binary(min_size=16, max_size=16),
    pfs=st.booleans(),
    length=st.integers(min_value=0, max_value=400),
)
def test_rekey_and_child_compiled_equal_reference(
    prf_id, old_prf_id, sk_d, shared, ni, nr, spis, pfs, length
):
    assert fast.rekey_ike_sa_keys(
        prf_id, sk_d, shared, ni, nr, spis[:8], spis[8:], 32, 36, old_prf_id=old_prf_id
    ) == ref.rekey_ike_sa_keys(
        prf_id, sk_d, shared, ni, nr, spis[:8], spis[8:], 32, 36, old_prf_id=old_prf_id
    )
    g = shared if pfs else None
    assert fast.child_sa_keymat(prf_id, sk_d, ni, nr, length, g) == ref.child_sa_keymat(
        prf_id, sk_d, ni, nr, length, g
    )
