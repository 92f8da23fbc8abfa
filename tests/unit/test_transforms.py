"""ikesrv.crypto.transforms: the algorithm tables, keywords, weak list and IKEv1 mappings."""

from __future__ import annotations

import hashlib

import pytest

from ikesrv.constants import (
    DhId,
    EncrId,
    EsnId,
    IntegId,
    PrfId,
    TransformType,
    V1AuthenticationAlgorithm,
    V1EncryptionAlgorithm,
    V1EspTransformId,
    V1HashAlgorithm,
)
from ikesrv.crypto import transforms as T

E, I, P, D, S = (TransformType.ENCR, TransformType.INTEG, TransformType.PRF, TransformType.DH,
                 TransformType.ESN)

# keyword -> (type, id, key bits): strongSwan's proposal keywords
# (src/libstrongswan/crypto/proposal/proposal_keywords_static.txt)
KEYWORDS = [
    ("aes", E, EncrId.ENCR_AES_CBC, 128),
    ("aes128", E, EncrId.ENCR_AES_CBC, 128),
    ("aes192", E, EncrId.ENCR_AES_CBC, 192),
    ("aes256", E, EncrId.ENCR_AES_CBC, 256),
    ("aes128ctr", E, EncrId.ENCR_AES_CTR, 128),
    ("aes128gcm8", E, EncrId.ENCR_AES_GCM_8, 128),
    ("aes128gcm64", E, EncrId.ENCR_AES_GCM_8, 128),
    ("aes192gcm12", E, EncrId.ENCR_AES_GCM_12, 192),
    ("aes192gcm96", E, EncrId.ENCR_AES_GCM_12, 192),
    ("aes256gcm16", E, EncrId.ENCR_AES_GCM_16, 256),
    ("aes256gcm128", E, EncrId.ENCR_AES_GCM_16, 256),
    ("aes256gcm", E, EncrId.ENCR_AES_GCM_16, 256),
    ("aes256gcm12", E, EncrId.ENCR_AES_GCM_12, 256),
    ("aes128ccm16", E, EncrId.ENCR_AES_CCM_16, 128),
    ("chacha20poly1305", E, EncrId.ENCR_CHACHA20_POLY1305, None),
    ("3des", E, EncrId.ENCR_3DES, None),
    ("sha", I, IntegId.AUTH_HMAC_SHA1_96, None),
    ("sha1", I, IntegId.AUTH_HMAC_SHA1_96, None),
    ("sha256", I, IntegId.AUTH_HMAC_SHA2_256_128, None),
    ("sha2_256", I, IntegId.AUTH_HMAC_SHA2_256_128, None),
    ("sha384", I, IntegId.AUTH_HMAC_SHA2_384_192, None),
    ("sha512", I, IntegId.AUTH_HMAC_SHA2_512_256, None),
    ("md5", I, IntegId.AUTH_HMAC_MD5_96, None),
    ("aesxcbc", I, IntegId.AUTH_AES_XCBC_96, None),
    ("aescmac", I, IntegId.AUTH_AES_CMAC_96, None),
    ("prfsha1", P, PrfId.PRF_HMAC_SHA1, None),
    ("prfsha256", P, PrfId.PRF_HMAC_SHA2_256, None),
    ("prfsha384", P, PrfId.PRF_HMAC_SHA2_384, None),
    ("prfsha512", P, PrfId.PRF_HMAC_SHA2_512, None),
    ("prfmd5", P, PrfId.PRF_HMAC_MD5, None),
    ("prfaesxcbc", P, PrfId.PRF_AES128_XCBC, None),
    ("modp1024", D, DhId.MODP_1024, None),
    ("modp1536", D, DhId.MODP_1536, None),
    ("modp2048", D, DhId.MODP_2048, None),
    ("modp3072", D, DhId.MODP_3072, None),
    ("modp4096", D, DhId.MODP_4096, None),
    ("modp8192", D, DhId.MODP_8192, None),
    ("ecp256", D, DhId.ECP_256, None),
    ("ecp384", D, DhId.ECP_384, None),
    ("ecp521", D, DhId.ECP_521, None),
    ("curve25519", D, DhId.CURVE25519, None),
    ("x25519", D, DhId.CURVE25519, None),
    ("curve448", D, DhId.CURVE448, None),
    ("x448", D, DhId.CURVE448, None),
    ("none", D, DhId.NONE, None),
    ("modpnone", D, DhId.NONE, None),
    ("esn", S, EsnId.ESN, None),
    ("noesn", S, EsnId.NO_ESN, None),
]


@pytest.mark.parametrize("name,type,id,bits", KEYWORDS)
def test_keyword_meaning(name, type, id, bits):
    tok = T.lookup_token(name)
    assert (tok.type, tok.id, tok.key_bits) == (type, id, bits)
    assert T.lookup_token(name.upper()) == tok  # keywords are case-insensitive


def test_unknown_and_unsupported_keywords():
    assert T.lookup_token("aes999") is None
    assert not T.is_known_unsupported("aes999")
    for name in ("camellia256", "blowfish", "serpent128", "twofish", "null", "aes128gmac",
                 "sha256_96", "ntru128", "kyber3", "mlkem768"):
        assert T.lookup_token(name) is None
        assert T.is_known_unsupported(name), name


@pytest.mark.parametrize("type,id,bits,name", [
    (E, EncrId.ENCR_AES_CBC, 128, "aes128"),
    (E, EncrId.ENCR_AES_GCM_16, 256, "aes256gcm16"),
    (E, EncrId.ENCR_AES_GCM_8, 128, "aes128gcm8"),
    (E, EncrId.ENCR_CHACHA20_POLY1305, None, "chacha20poly1305"),
    (I, IntegId.AUTH_HMAC_SHA1_96, None, "sha1"),
    (I, IntegId.AUTH_HMAC_SHA2_256_128, None, "sha256"),
    (P, PrfId.PRF_HMAC_SHA2_384, None, "prfsha384"),
    (D, DhId.CURVE25519, None, "curve25519"),
    (D, DhId.MODP_2048, None, "modp2048"),
    (S, EsnId.NO_ESN, None, "noesn"),
    (E, 999, 128, "ENCR_999_128"),
    (9, 1, None, "ADDKE4_1"),
    (200, 1, None, "TYPE200_1"),
])
def test_canonical_names(type, id, bits, name):
    assert T.token_name(type, id, bits) == name


def test_every_keyword_resolves_to_a_table_entry():
    tables = {E: T.ENCR, I: T.INTEG, P: T.PRF, D: T.DH}
    for tok in T.TOKENS.values():
        if tok.type == S or (tok.type == D and tok.id == DhId.NONE):
            continue
        entry = tables[tok.type][tok.id]
        if tok.type == E:
            assert tok.key_bits is None or tok.key_bits in entry.key_bits
            # a variable-length cipher always has its key length in the keyword
            assert (tok.key_bits is not None) == entry.key_attr


# -- the weak list (module docstring of transforms.py) --

WEAK = {
    (E, EncrId.ENCR_DES), (E, EncrId.ENCR_3DES),
    (I, IntegId.AUTH_HMAC_MD5_96), (I, IntegId.AUTH_HMAC_SHA1_96),
    (P, PrfId.PRF_HMAC_MD5), (P, PrfId.PRF_HMAC_SHA1),
    (D, DhId.MODP_768), (D, DhId.MODP_1024), (D, DhId.MODP_1536), (D, DhId.MODP_1024_160),
    (D, DhId.MODP_2048_224), (D, DhId.MODP_2048_256), (D, DhId.ECP_192),
}


def test_weak_list_is_exactly_the_documented_one():
    tables = {E: T.ENCR, I: T.INTEG, P: T.PRF, D: T.DH}
    found = {(t, i) for t, table in tables.items() for i, entry in table.items() if entry.weak}
    assert found == WEAK
    for t, i in WEAK:
        assert T.is_weak(t, i)
    assert not T.is_weak(E, EncrId.ENCR_AES_GCM_16)
    assert not T.is_weak(D, DhId.MODP_2048)
    assert not T.is_weak(E, 9999)


def test_weak_dh_groups_are_those_below_112_bits_or_rfc5114():
    for g in T.DH.values():
        if g.id in (DhId.MODP_2048_224, DhId.MODP_2048_256):
            assert g.weak  # RFC 8247 §2.4: unverifiable generation
        else:
            assert g.weak == (g.strength < 112), g.name


# -- sizes --

@pytest.mark.parametrize("encr,bits,keymat", [
    (EncrId.ENCR_AES_CBC, 128, 16), (EncrId.ENCR_AES_CBC, 256, 32),
    (EncrId.ENCR_AES_GCM_16, 128, 20), (EncrId.ENCR_AES_GCM_8, 256, 36),  # RFC 5282 §7.1
    (EncrId.ENCR_AES_CCM_16, 128, 19),  # RFC 4309 §7.1: 3-octet salt
    (EncrId.ENCR_AES_CTR, 192, 28),  # RFC 3686 §5.1: 4-octet nonce
    (EncrId.ENCR_CHACHA20_POLY1305, None, 36),  # RFC 7634 §2
    (EncrId.ENCR_3DES, None, 24),
])
def test_encryption_keymat_lengths(encr, bits, keymat):
    assert T.ENCR[encr].keymat_len(bits) == keymat
    assert T.encr_key_bytes(encr, bits) == keymat


@pytest.mark.parametrize("integ,key_len,icv_len,hash_name", [
    # RFC 4868 §2.1, §2.3: key = hash output length, ICV = half of it
    (IntegId.AUTH_HMAC_SHA2_256_128, 32, 16, "sha256"),
    (IntegId.AUTH_HMAC_SHA2_384_192, 48, 24, "sha384"),
    (IntegId.AUTH_HMAC_SHA2_512_256, 64, 32, "sha512"),
    (IntegId.AUTH_HMAC_SHA1_96, 20, 12, "sha1"),  # RFC 2404
    (IntegId.AUTH_HMAC_MD5_96, 16, 12, "md5"),  # RFC 2403
])
def test_hmac_integrity_sizes(integ, key_len, icv_len, hash_name):
    t = T.INTEG[integ]
    assert (t.key_len, t.icv_len, t.hash) == (key_len, icv_len, hash_name)
    assert t.key_len == hashlib.new(hash_name).digest_size
    assert T.XFRM_TRUNC_BITS[integ] == icv_len * 8
    assert T.integ_key_bytes(integ) == key_len


def test_no_integrity_key_with_aead():
    assert T.integ_key_bytes(None) == T.integ_key_bytes(IntegId.NONE) == 0


@pytest.mark.parametrize("group,length", [
    (DhId.MODP_1024, 128), (DhId.MODP_2048, 256), (DhId.MODP_4096, 512), (DhId.MODP_8192, 1024),
    (DhId.ECP_256, 64), (DhId.ECP_384, 96), (DhId.ECP_521, 132),  # RFC 5903 §7
    (DhId.CURVE25519, 32), (DhId.CURVE448, 56),  # RFC 8031 §2
])
def test_ke_data_lengths(group, length):
    assert T.DH[group].public_len == length


def test_ike_dh_groups_are_those_of_the_dh_module():
    from ikesrv.crypto import dh

    assert {g for g, t in T.DH.items() if t.ike} == dh.SUPPORTED
    assert {g for g, t in T.DH.items() if t.ike and t.weak} == dh.WEAK
    for g in dh.SUPPORTED:
        assert dh.group(g).public_len == T.DH[g].public_len


def test_prfs_are_those_of_the_prf_module():
    from ikesrv.crypto import prf

    assert {p for p, t in T.PRF.items() if t.ike} <= prf.SUPPORTED
    for p, t in T.PRF.items():
        info = prf.info(p)
        assert (info.output_len, info.key_len, info.name) == (
            t.out_len, t.key_len, T.token_name(TransformType.PRF, p))


def test_integrity_prf_pairs_follow_strongswan():
    assert T.INTEG[IntegId.AUTH_HMAC_SHA2_384_192].prf == PrfId.PRF_HMAC_SHA2_384
    assert T.INTEG[IntegId.AUTH_AES_XCBC_96].prf == PrfId.PRF_AES128_XCBC
    assert T.INTEG[IntegId.AUTH_HMAC_SHA1_96].prf == PrfId.PRF_HMAC_SHA1
    for i in T.INTEG.values():
        assert i.prf in T.PRF


# -- IKEv1 mappings, both ways --

@pytest.mark.parametrize("v1,v2", [
    (V1EncryptionAlgorithm.AES_CBC, EncrId.ENCR_AES_CBC),
    (V1EncryptionAlgorithm.TRIPLEDES_CBC, EncrId.ENCR_3DES),
    (V1EncryptionAlgorithm.DES_CBC, EncrId.ENCR_DES),
])
def test_v1_phase1_encryption(v1, v2):
    assert T.encr_from_v1_phase1(v1) == v2
    assert T.v1_phase1_from_encr(v2) == v1


def test_v1_phase1_unmapped():
    assert T.encr_from_v1_phase1(V1EncryptionAlgorithm.CAMELLIA_CBC) is None
    assert T.v1_phase1_from_encr(EncrId.ENCR_AES_GCM_16) is None  # no AEAD in phase 1


@pytest.mark.parametrize("v1,integ,prf,name", [
    (V1HashAlgorithm.MD5, IntegId.AUTH_HMAC_MD5_96, PrfId.PRF_HMAC_MD5, "md5"),
    (V1HashAlgorithm.SHA, IntegId.AUTH_HMAC_SHA1_96, PrfId.PRF_HMAC_SHA1, "sha1"),
    (V1HashAlgorithm.SHA2_256, IntegId.AUTH_HMAC_SHA2_256_128, PrfId.PRF_HMAC_SHA2_256, "sha256"),
    (V1HashAlgorithm.SHA2_384, IntegId.AUTH_HMAC_SHA2_384_192, PrfId.PRF_HMAC_SHA2_384, "sha384"),
    (V1HashAlgorithm.SHA2_512, IntegId.AUTH_HMAC_SHA2_512_256, PrfId.PRF_HMAC_SHA2_512, "sha512"),
])
def test_v1_hash(v1, integ, prf, name):
    assert T.integ_from_v1_hash(v1) == integ
    assert T.v1_hash_from_integ(integ) == v1
    assert T.prf_from_v1_hash(v1) == prf
    assert T.V1_HASH_NAMES[v1] == name
    assert (v1 in T.V1_WEAK_HASHES) == T.INTEG[integ].weak


@pytest.mark.parametrize("tid,encr", [
    (V1EspTransformId.ESP_AES, EncrId.ENCR_AES_CBC),
    (V1EspTransformId.ESP_3DES, EncrId.ENCR_3DES),
    (V1EspTransformId.ESP_AES_CTR, EncrId.ENCR_AES_CTR),
    (V1EspTransformId.ESP_AES_GCM_8, EncrId.ENCR_AES_GCM_8),
    (V1EspTransformId.ESP_AES_GCM_12, EncrId.ENCR_AES_GCM_12),
    (V1EspTransformId.ESP_AES_GCM_16, EncrId.ENCR_AES_GCM_16),
    (V1EspTransformId.ESP_AES_CCM_16, EncrId.ENCR_AES_CCM_16),
])
def test_v1_esp_transform_ids(tid, encr):
    assert T.encr_from_v1_esp(tid) == encr
    assert T.v1_esp_from_encr(encr) == tid


def test_chacha20_has_no_ikev1_esp_id():
    assert T.v1_esp_from_encr(EncrId.ENCR_CHACHA20_POLY1305) is None


@pytest.mark.parametrize("auth,integ", [
    (V1AuthenticationAlgorithm.HMAC_MD5, IntegId.AUTH_HMAC_MD5_96),
    (V1AuthenticationAlgorithm.HMAC_SHA, IntegId.AUTH_HMAC_SHA1_96),
    (V1AuthenticationAlgorithm.HMAC_SHA2_256, IntegId.AUTH_HMAC_SHA2_256_128),  # RFC 4868 §4
    (V1AuthenticationAlgorithm.HMAC_SHA2_384, IntegId.AUTH_HMAC_SHA2_384_192),
    (V1AuthenticationAlgorithm.HMAC_SHA2_512, IntegId.AUTH_HMAC_SHA2_512_256),
    (V1AuthenticationAlgorithm.AES_XCBC_MAC, IntegId.AUTH_AES_XCBC_96),
])
def test_v1_esp_authentication_algorithms(auth, integ):
    assert T.integ_from_v1_auth(auth) == integ
    assert T.v1_auth_from_integ(integ) == auth


@pytest.mark.parametrize("encr,xfrm", [
    (EncrId.ENCR_AES_CBC, "cbc(aes)"),
    (EncrId.ENCR_AES_GCM_16, "rfc4106(gcm(aes))"),
    (EncrId.ENCR_CHACHA20_POLY1305, "rfc7539esp(chacha20,poly1305)"),
    (EncrId.ENCR_3DES, "cbc(des3_ede)"),
])
def test_xfrm_names(encr, xfrm):
    assert T.ENCR[encr].xfrm == xfrm
