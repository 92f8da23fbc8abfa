"""Diffie-Hellman groups: RFC vectors, peer value validation, compiled against reference.

Vectors: RFC 5903 §8 (ECP groups 19, 20, 21), RFC 7748 §5.2 and §6 (X25519, X448),
RFC 8031 Appendix A (Curve25519 in IKEv2). RFC private keys are loaded through the
ordinary ``generate(rng)`` path: the rng returns bytes that the group's documented
derivation maps onto the RFC's private key. Every vector runs against both ikesrv.crypto.dh
and the pure-Python reference.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.crypto import dh as fast
from ikesrv.crypto.reference import dh as ref
from ikesrv.errors import InvalidKeyInformation

IMPLS = [pytest.param(fast, id="compiled"), pytest.param(ref, id="reference")]
H = bytes.fromhex


def fixed(*chunks: bytes):
    """An rng that hands out the given byte strings in order (one per call)."""
    queue = list(chunks)

    def rng(n: int) -> bytes:
        chunk = queue.pop(0)
        assert len(chunk) == n, (len(chunk), n)
        return chunk

    return rng


def stream(seed: bytes):
    """A deterministic rng: the bytes of ``seed``, then SHA-256 blocks chained from it."""
    buf = bytearray(seed)

    def rng(n: int) -> bytes:
        while len(buf) < n:
            buf.extend(hashlib.sha256(bytes(buf[-32:]) + len(buf).to_bytes(8, "big")).digest())
        out = bytes(buf[:n])
        del buf[:n]
        return out

    return rng


def ecp_rng(group, d: int):
    # Private keys are d = (c mod (n-1)) + 1 (FIPS 186-4 B.4.1): c = d - 1 yields d.
    return fixed((d - 1).to_bytes(group.private_len, "big"))


# --- the registry ---------------------------------------------------------------------


def test_registry():
    # id: (name, public_len, shared_len, weak); RFC 2409 §6, RFC 3526, RFC 5903 §3 and §7,
    # RFC 8031 §2; weak per RFC 8247 §2.4 (MODP-768/1024/1536 SHOULD NOT / MUST NOT).
    table = {
        1: ("modp768", 96, 96, True),
        2: ("modp1024", 128, 128, True),
        5: ("modp1536", 192, 192, True),
        14: ("modp2048", 256, 256, False),
        15: ("modp3072", 384, 384, False),
        16: ("modp4096", 512, 512, False),
        17: ("modp6144", 768, 768, False),
        18: ("modp8192", 1024, 1024, False),
        19: ("ecp256", 64, 32, False),
        20: ("ecp384", 96, 48, False),
        21: ("ecp521", 132, 66, False),
        31: ("curve25519", 32, 32, False),
        32: ("curve448", 56, 56, False),
    }
    assert fast.SUPPORTED == set(table) == ref.SUPPORTED
    assert fast.WEAK == {1, 2, 5}
    for gid, (name, public_len, shared_len, weak) in table.items():
        g = fast.group(gid)
        assert (g.id, g.name, g.public_len, g.shared_len, g.weak) == (
            gid,
            name,
            public_len,
            shared_len,
            weak,
        )
        assert fast.by_name(name) is g
    assert fast.by_name("x25519") is fast.group(31)
    assert fast.by_name("X448") is fast.group(32)
    with pytest.raises(ValueError):
        fast.group(22)  # MODP with prime-order subgroup: not implemented
    with pytest.raises(ValueError):
        fast.by_name("modp999")


# Short exponents: 2 x the maximum security strength of NIST SP 800-56A Rev. 3 App. D
# (Tables 25-26) for the safe-prime groups: 112, 128, 152, 176, 200 bits.
EXPONENT_BITS = {1: 160, 2: 160, 5: 192, 14: 224, 15: 256, 16: 304, 17: 352, 18: 400}


def test_modp_parameters():
    for gid, bits in EXPONENT_BITS.items():
        g = fast.group(gid)
        assert g.kind == "modp" and g.generator == 2
        assert g.exponent_bits == bits and g.private_len == bits // 8
        # The prime from libcrypto's table equals the one rebuilt from the RFC's formula
        # 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k), pi computed independently.
        assert g.prime == ref.group(gid).p.to_bytes(g.public_len, "big")


def test_reference_pi():
    # The first hex digits of pi's fraction: 3.243F6A8885A308D3 13198A2E03707344...
    assert hex(ref.pi_times_2_to(126)) == "0xc90fdaa22168c234c4c6628b80dc1cd1"


# --- MODP -----------------------------------------------------------------------------


@pytest.mark.parametrize("gid", [1, 2, 5, 14, 15, 16, 17, 18])
def test_modp_exchange_matches_pow(gid):
    g = fast.group(gid)
    p = int.from_bytes(g.prime, "big")
    xa = int.from_bytes(os.urandom(g.private_len), "big") | 2
    xb = int.from_bytes(os.urandom(g.private_len), "big") | 2
    a = g.generate(fixed(xa.to_bytes(g.private_len, "big")))
    b = g.generate(fixed(xb.to_bytes(g.private_len, "big")))
    assert a.public == pow(2, xa, p).to_bytes(g.public_len, "big")
    assert b.public == pow(2, xb, p).to_bytes(g.public_len, "big")
    secret = a.shared_secret(b.public)
    assert secret == b.shared_secret(a.public) == pow(2, xa * xb, p).to_bytes(g.public_len, "big")


def test_modp_shared_secret_keeps_leading_zeros():
    # RFC 7296 §2.14: g^ir is the full length of p even when it starts with zero octets.
    g = fast.group(14)
    p = int.from_bytes(g.prime, "big")
    a = g.generate(fixed((3).to_bytes(g.private_len, "big")))
    y = 5  # y^3 = 125: a secret of 255 zero octets and one 0x7d
    secret = a.shared_secret(y.to_bytes(g.public_len, "big"))
    assert secret == pow(y, 3, p).to_bytes(256, "big") and len(secret) == 256 and secret[0] == 0


def test_modp_rejected_draws_are_redrawn():
    # Exponents 0 and 1 are discarded (SP 800-56A §5.6.1.1.4) and another draw is taken.
    for impl in (fast, ref):
        g = impl.group(14)
        n = g.private_len
        key = g.generate(fixed(bytes(n), (1).to_bytes(n, "big"), (2).to_bytes(n, "big")))
        assert key.public == (4).to_bytes(g.public_len, "big")


@pytest.mark.parametrize("impl", IMPLS)
def test_modp_peer_validation(impl):
    # RFC 6989 §2.1: 1 < y < p-1; RFC 7296 §3.4: exactly the length of p.
    g = impl.group(14)
    p = int.from_bytes(fast.group(14).prime, "big")
    key = g.generate(os.urandom)
    n = g.public_len
    for y in (0, 1, p - 1, p, p + 1, 2**2048 - 1):
        with pytest.raises(InvalidKeyInformation):
            key.shared_secret(y.to_bytes(n, "big"))
    for bad in (
        b"",
        bytes(n - 2) + b"\x02",
        b"\x00" + (2).to_bytes(n, "big"),
        (2).to_bytes(n, "big")[1:],
    ):
        with pytest.raises(InvalidKeyInformation):
            key.shared_secret(bad)
    for y in (2, p - 2):
        assert len(key.shared_secret(y.to_bytes(n, "big"))) == n


# --- ECP (RFC 5903) -------------------------------------------------------------------

# RFC 5903 §8.1-8.3: i, g^i = (gix, giy), r, g^r = (grx, gry), g^ir x-coordinate (girx).
ECP_VECTORS = [
    (
        "RFC 5903 §8.1",
        19,
        "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
        "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
        "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
        "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
        "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
        "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
        "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE",
    ),
    (
        "RFC 5903 §8.2",
        20,
        "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
        "667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA"
        "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
        "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
        "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571"
        "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
        "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746",
    ),
    (
        "RFC 5903 §8.3",
        21,
        "0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A0"
        "95AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D4A52",
        "0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBE"
        "E1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176CED3E"
        "017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4A10A"
        "D8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F9582",
        "0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E"
        "9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB151685EB9",
        "00D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A21"
        "9B97C356436ADC6E95BB0352F6BE64A6C2912D4EF2D0433CED2B6171640012D9460F"
        "015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724D9852077B87"
        "220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0FC56A",
        "01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04"
        "D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3DDEA",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("source", "gid", "i", "gi", "r", "gr", "girx"), ECP_VECTORS, ids=[v[0] for v in ECP_VECTORS]
)
def test_ecp_rfc5903(impl, source, gid, i, gi, r, gr, girx):
    g = impl.group(gid)
    ki = g.generate(ecp_rng(g, int(i, 16)))
    kr = g.generate(ecp_rng(g, int(r, 16)))
    assert ki.public == H(gi)  # RFC 5903 §7: the KE data is x | y
    assert kr.public == H(gr)
    assert ki.shared_secret(kr.public) == H(girx)  # RFC 5903 §7: only x is shared
    assert kr.shared_secret(ki.public) == H(girx)


def test_ecp_private_key_derivation():
    # FIPS 186-4 B.4.1 with 64 extra bits: c = n - 1 maps to d = 1 (public = the generator)
    # and c = 2^(8 * private_len) - 1 to a key the reference derives the same way.
    for gid in (19, 20, 21):
        g = fast.group(gid)
        r = ref.group(gid)
        assert g.private_len == r.private_len == (r.order.bit_length() + 7) // 8 + 8
        one = g.generate(fixed((r.order - 1).to_bytes(g.private_len, "big")))
        assert one.public == r.generate(fixed((r.order - 1).to_bytes(r.private_len, "big"))).public
        top = b"\xff" * g.private_len
        assert g.generate(fixed(top)).public == r.generate(fixed(top)).public


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("gid", [19, 20, 21])
def test_ecp_peer_validation(impl, gid):
    # RFC 6989 §2.3: coordinates in [0, p-1], the point on the curve, not infinity;
    # RFC 5903 §7: exactly 2 x the field size.
    g = impl.group(gid)
    n = g.public_len // 2
    key = g.generate(os.urandom)
    peer = g.generate(os.urandom).public
    x, y = peer[:n], peer[n:]
    p = ref.ECP_FIELD_PRIMES[gid]
    bad = [
        b"",
        peer[:-1],
        peer + b"\x00",
        b"\x04" + peer,  # the X9.62 uncompressed form is not IKE's wire form
        bytes(2 * n),  # (0, 0): not on the curve (b != 0); infinity has no affine form
        x + bytes([y[0]]) + y[1:-1] + bytes([y[-1] ^ 1]),  # off the curve
        p.to_bytes(n, "big") + y,
        x + p.to_bytes(n, "big"),
        b"\xff" * n + y,
        x + b"\xff" * n,
    ]
    for value in bad:
        with pytest.raises(InvalidKeyInformation):
            key.shared_secret(value)
    # The negated point (x, p - y) is on the curve and must be accepted.
    neg = x + (p - int.from_bytes(y, "big")).to_bytes(n, "big")
    assert key.shared_secret(neg) == key.shared_secret(peer)


# --- X25519 / X448 (RFC 7748, RFC 8031) ----------------------------------------------

# RFC 7748 §5.2: (scalar k, input u, output X(k, u)), all little-endian.
ECX_FUNCTION_VECTORS = [
    (
        "RFC 7748 §5.2 X25519 #1",
        31,
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "RFC 7748 §5.2 X25519 #2",
        31,
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
    (
        "RFC 7748 §5.2 X448 #1",
        32,
        "3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3",
        "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086",
        "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaadeb445fc66a01b0779d98223961111e21766282f73dd96b6f",
    ),
    (
        "RFC 7748 §5.2 X448 #2",
        32,
        "203d494428b8399352665ddca42f9de8fef600908e0d461cb021f8c538345dd77c3e4806e25f46d3315c44e0a5b4371282dd2c8d5be3095f",
        "0fbcc2f993cd56d3305b0b7d9e55d4c1a8fb5dbb52f8e9a1e9b6201b165d015894e56c4d3570bee52fe205e28a78b91cdfbde71ce8d157db",
        "884a02576239ff7a2f2f63b2db6a9ff37047ac13568e1e30fe63c4a7ad1b3ee3a5700df34321d62077e63633c575c1c954514e99da7c179d",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("source", "gid", "k", "u", "out"),
    ECX_FUNCTION_VECTORS,
    ids=[v[0] for v in ECX_FUNCTION_VECTORS],
)
def test_ecx_function(impl, source, gid, k, u, out):
    key = impl.group(gid).generate(fixed(H(k)))
    assert key.shared_secret(H(u)) == H(out)


# RFC 7748 §5.2: k = u = the base point; repeat k, u = X(k, u), k.
ECX_ITERATIONS = [
    (
        "RFC 7748 §5.2 X25519 1 iteration",
        31,
        1,
        "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
    ),
    (
        "RFC 7748 §5.2 X25519 1000 iterations",
        31,
        1000,
        "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
    ),
    (
        "RFC 7748 §5.2 X448 1 iteration",
        32,
        1,
        "3f482c8a9f19b01e6c46ee9711d9dc14fd4bf67af30765c2ae2b846a4d23a8cd0db897086239492caf350b51f833868b9bc2b3bca9cf4113",
    ),
    (
        "RFC 7748 §5.2 X448 1000 iterations",
        32,
        1000,
        "aa3b4749d55b9daf1e5b00288826c467274ce3ebbdd5c17b975e09d4af6c67cf10d087202db88286e2b79fceea3ec353ef54faa26e219f38",
    ),
]


@pytest.mark.parametrize(
    ("source", "gid", "count", "out"), ECX_ITERATIONS, ids=[v[0] for v in ECX_ITERATIONS]
)
def test_ecx_iterated(source, gid, count, out):
    g = fast.group(gid)
    k = u = (9 if gid == 31 else 5).to_bytes(g.public_len, "little")
    for _ in range(count):
        k, u = g.generate(fixed(k)).shared_secret(u), k
    assert k == H(out)


# RFC 7748 §6.1/§6.2 and RFC 8031 App. A: a, K_A = X(a, base), b, K_B, K.
ECX_EXCHANGES = [
    (
        "RFC 7748 §6.1",
        31,
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
    ),
    (
        "RFC 7748 §6.2",
        32,
        "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
        "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0",
        "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
        "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d",
    ),
    (
        "RFC 8031 App. A",
        31,
        "751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94",
        "48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766",
        "0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688",
        "0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25",
        "c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("source", "gid", "a", "ka", "b", "kb", "k"), ECX_EXCHANGES, ids=[v[0] for v in ECX_EXCHANGES]
)
def test_ecx_exchange(impl, source, gid, a, ka, b, kb, k):
    g = impl.group(gid)
    alice = g.generate(fixed(H(a)))
    bob = g.generate(fixed(H(b)))
    assert alice.public == H(ka) and bob.public == H(kb)
    assert alice.shared_secret(bob.public) == bob.shared_secret(alice.public) == H(k)


P25519 = 2**255 - 19
P448 = 2**448 - 2**224 - 1
# u-coordinates of small order (and their non-canonical aliases): the result is all zero.
SMALL_ORDER = {
    31: [
        0,
        1,
        P25519 - 1,
        P25519,
        P25519 + 1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
    ],
    32: [0, 1, P448 - 1, P448, P448 + 1],
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("gid", [31, 32])
def test_ecx_peer_validation(impl, gid):
    g = impl.group(gid)
    key = g.generate(os.urandom)
    n = g.public_len
    for u in SMALL_ORDER[gid]:
        with pytest.raises(InvalidKeyInformation):  # RFC 7748 §6, RFC 8031 §2
            key.shared_secret(u.to_bytes(n, "little"))
    for bad in (b"", bytes(n - 1), bytes(n + 1), b"\x09" + bytes(n)):  # RFC 8031 §2: exact length
        with pytest.raises(InvalidKeyInformation):
            key.shared_secret(bad)
    # Any other n-octet string is a u-coordinate, including one with the top bit set.
    assert len(key.shared_secret(b"\xff" * n)) == n


# --- properties of every group ---------------------------------------------------------


@pytest.mark.parametrize("gid", sorted(fast.SUPPORTED))
def test_key_repr_hides_secrets(gid):
    g = fast.group(gid)
    seed = os.urandom(g.private_len)
    key = g.generate(fixed(seed))
    peer = g.generate(os.urandom)
    secret = key.shared_secret(peer.public)
    text = repr(key) + str(key) + repr(g)
    assert text == f"<DhKey group={gid} public={g.public_len} octets>" * 2 + repr(g)
    for value in (seed, secret):
        assert value.hex()[:16] not in text
    assert not hasattr(key, "private") and not hasattr(key, "x") and not hasattr(key, "d")


@pytest.mark.parametrize("gid", sorted(fast.SUPPORTED))
def test_rng_contract(gid):
    g = fast.group(gid)
    with pytest.raises(ValueError):
        g.generate(lambda n: bytes(n + 1))
    with pytest.raises(ValueError):
        g.generate(lambda n: bytearray(n))
    drawn = []

    def rng(n):
        drawn.append(n)
        return os.urandom(n)

    g.generate(rng)
    assert drawn == [g.private_len]


def test_peer_value_types():
    key = fast.group(31).generate(os.urandom)
    peer = fast.group(31).generate(os.urandom).public
    assert (
        key.shared_secret(bytearray(peer))
        == key.shared_secret(memoryview(peer))
        == key.shared_secret(peer)
    )
    with pytest.raises(TypeError):
        key.shared_secret(None)


# --- compiled == reference on random input --------------------------------------------

CHEAP = [14, 19, 20, 21, 31, 32]  # every code path; the bigger MODP groups only cost time


@settings(max_examples=60, deadline=None)
@given(gid=st.sampled_from(CHEAP), seed=st.binary(max_size=100))
def test_keys_compiled_equal_reference(gid, seed):
    a = fast.group(gid).generate(stream(seed))
    b = ref.group(gid).generate(stream(seed))
    assert a.public == b.public
    peer = fast.group(gid).generate(os.urandom)
    assert (
        a.shared_secret(peer.public) == b.shared_secret(peer.public) == peer.shared_secret(a.public)
    )


def outcome(key, peer):
    try:
        return key.shared_secret(peer)
    except InvalidKeyInformation:
        return InvalidKeyInformation


@settings(max_examples=400, deadline=None)
@given(data=st.data(), gid=st.sampled_from([19, 20, 21, 31, 32, 14]))
def test_random_peer_values_same_outcome(data, gid):
    g = fast.group(gid)
    seed = os.urandom(g.private_len)
    n = g.public_len
    length = data.draw(st.sampled_from([n, n, n, n - 1, n + 1, 0]))
    peer = data.draw(st.binary(min_size=length, max_size=length))
    assert outcome(g.generate(fixed(seed)), peer) == outcome(
        ref.group(gid).generate(fixed(seed)), peer
    )
