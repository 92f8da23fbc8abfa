"""ikesrv.crypto.sk: IKEv2 SK/SKF payload protection (RFC 7296 §3.14, RFC 5282, RFC 7634,
RFC 7383 §2.5), checked against RFC vectors, against a straightforward reference written
here from the RFCs (different `cryptography` code paths: streaming GCM, a fresh CBC
context per message, the stdlib's hmac), and against Wireshark's own decryption.
"""

from __future__ import annotations

import hmac
import os
import random
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from ikesrv._fast.cbc import AesCbc

from ikesrv.constants import EncrId, IntegId, PayloadType
from ikesrv.crypto.sk import CbcChain, SkCipher, integrity
from ikesrv.crypto.transforms import ENCR, INTEG
from ikesrv.errors import IntegrityCheckFailed, MalformedMessage
from tests.harness import policy
from tests.harness import tshark as tshark_harness
from tests.harness.proc import run

SPI_I = bytes.fromhex("0102030405060708")
SPI_R = bytes.fromhex("1112131415161718")


def header(next_payload=PayloadType.SK, exchange=35, flags=0x08, message_id=1) -> bytes:
    """A 28-octet IKEv2 header; Length is left 0 for seal() to fill in."""
    return (SPI_I + SPI_R + bytes((next_payload, 0x20, exchange, flags))
            + message_id.to_bytes(4, "big") + bytes(4))


def payload(next_payload: int, body: bytes) -> bytes:
    """A generic payload header (RFC 7296 §3.2) followed by a body."""
    return bytes((next_payload, 0)) + (4 + len(body)).to_bytes(2, "big") + body


def fixed_rng(data: bytes):
    return lambda n: data[:n]


# (name, ENCR ID, key bits, INTEG ID): every suite SkCipher implements
SUITES = [
    ("aes128gcm16", EncrId.ENCR_AES_GCM_16, 128, IntegId.NONE),
    ("aes192gcm16", EncrId.ENCR_AES_GCM_16, 192, IntegId.NONE),
    ("aes256gcm16", EncrId.ENCR_AES_GCM_16, 256, IntegId.NONE),
    ("aes128gcm12", EncrId.ENCR_AES_GCM_12, 128, IntegId.NONE),
    ("aes256gcm12", EncrId.ENCR_AES_GCM_12, 256, IntegId.NONE),
    ("aes128gcm8", EncrId.ENCR_AES_GCM_8, 128, IntegId.NONE),
    ("aes192gcm8", EncrId.ENCR_AES_GCM_8, 192, IntegId.NONE),
    ("chacha20poly1305", EncrId.ENCR_CHACHA20_POLY1305, 256, IntegId.NONE),
    ("aes128-sha256", EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_HMAC_SHA2_256_128),
    ("aes192-sha384", EncrId.ENCR_AES_CBC, 192, IntegId.AUTH_HMAC_SHA2_384_192),
    ("aes256-sha512", EncrId.ENCR_AES_CBC, 256, IntegId.AUTH_HMAC_SHA2_512_256),
    ("aes256-sha1", EncrId.ENCR_AES_CBC, 256, IntegId.AUTH_HMAC_SHA1_96),
    ("aes128-md5", EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_HMAC_MD5_96),
    ("aes128-aesxcbc", EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_AES_XCBC_96),
    ("aes256-aescmac", EncrId.ENCR_AES_CBC, 256, IntegId.AUTH_AES_CMAC_96),
    ("3des-sha1", EncrId.ENCR_3DES, 192, IntegId.AUTH_HMAC_SHA1_96),
]
SUITE_IDS = [s[0] for s in SUITES]


def keys_for(encr, bits, integ, rnd):
    encr_key = rnd.randbytes(ENCR[encr].keymat_len(bits))
    integ_key = rnd.randbytes(INTEG[integ].key_len) if integ else b""
    return encr_key, integ_key


def pair(encr, bits, integ, seed=1):
    """Sender and receiver SkCipher for one direction, with their keys."""
    encr_key, integ_key = keys_for(encr, bits, integ, random.Random(seed))
    return (SkCipher(encr, encr_key, integ, integ_key), SkCipher(encr, encr_key, integ, integ_key),
            encr_key, integ_key)


# ======================================================================================
# Reference: RFC 7296 §3.14 / RFC 5282 / RFC 7634 written out plainly
# ======================================================================================


def ref_gcm(keymat, iv, aad, plain, icv):
    """RFC 5282 §3-§5: nonce = salt | IV, ICV = the leading ``icv`` octets of the tag,
    through the streaming GCM interface."""
    enc = Cipher(algorithms.AES(keymat[:-4]), modes.GCM(keymat[-4:] + iv)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plain) + enc.finalize()
    return ct + enc.tag[:icv]


def ref_seal(encr, encr_key, integ, integ_key, hdr, unencrypted, next_payload, plain, iv,
             skf=None):
    """A whole message, built from the RFC text with no code of sk.py."""
    e = ENCR[encr]
    pad = (-(len(plain) + 1)) % e.block_size
    inner = plain + bytes(pad) + bytes((pad,))
    frag = b"" if skf is None else skf[0].to_bytes(2, "big") + skf[1].to_bytes(2, "big")
    icv_len = e.icv_size if e.aead else INTEG[integ].icv_len
    sk_len = 4 + len(frag) + len(iv) + len(inner) + icv_len
    total = 28 + len(unencrypted) + sk_len
    head = (hdr[:24] + total.to_bytes(4, "big") + unencrypted + bytes((next_payload, 0))
            + sk_len.to_bytes(2, "big") + frag)
    if encr == EncrId.ENCR_CHACHA20_POLY1305:
        return head + iv + ChaCha20Poly1305(encr_key[:-4]).encrypt(encr_key[-4:] + iv, inner, head)
    if e.aead:
        return head + iv + ref_gcm(encr_key, iv, head, inner, e.icv_size)
    algorithm = algorithms.AES(encr_key) if encr == EncrId.ENCR_AES_CBC else TripleDES(encr_key)
    ct = Cipher(algorithm, modes.CBC(iv)).encryptor().update(inner)
    signed = head + iv + ct
    return signed + ref_icv(integ, integ_key, signed)


def ref_icv(integ, key, data):
    t = INTEG[integ]
    if t.kind == "hmac":
        return hmac.digest(key, data, t.hash)[: t.icv_len]
    return integrity(integ, key)(data)  # XCBC/CMAC: checked on their own RFC vectors below


# ======================================================================================
# Known answers
# ======================================================================================


def test_rfc7634_appendix_b_ikev2_example():
    """RFC 7634 Appendix B: an INFORMATIONAL request protected with ChaCha20-Poly1305."""
    keymat = bytes(range(0x80, 0xA0)) + bytes.fromhex("a0a1a2a3")  # KEY | salt
    iv = bytes.fromhex("1011121314151617")
    hdr = (bytes.fromhex("c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7") + bytes((46, 0x20, 37, 0x00))
           + (9).to_bytes(4, "big") + bytes(4))
    notify = bytes.fromhex("0000000c00004001" "0000000a")  # SET_WINDOW_SIZE 10, last payload
    expected = bytes.fromhex(
        "c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7" "2e202500000000090000004529000029"
        "1011121314151617"
        "610394701f8d017f7c129248896b71bfe25236efd7cdc670669063" "15b2")
    cipher = SkCipher(EncrId.ENCR_CHACHA20_POLY1305, keymat)
    message = cipher.seal(hdr, b"", PayloadType.NOTIFY, notify, fixed_rng(iv))
    assert message == expected
    assert SkCipher(EncrId.ENCR_CHACHA20_POLY1305, keymat).open(expected, 28) == notify


def test_rfc8439_aead_construction():
    """RFC 8439 §2.8.2: the ChaCha20-Poly1305 AEAD; its 12-octet nonce read as RFC 7634 §2
    lays it out: the 4-octet salt from KEYMAT, then the 8-octet IV sent in the payload."""
    key = bytes(range(0x80, 0xA0))
    salt, iv = bytes.fromhex("07000000"), bytes.fromhex("4041424344454647")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    plain = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
             b"for the future, sunscreen would be it.")
    expected = bytes.fromhex(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca96712"
        "82fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
        "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
        "1ae10b594f09e26a7e902ecbd0600691")
    assert ChaCha20Poly1305(key).encrypt(salt + iv, plain, aad) == expected


# McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 4, 9, 15, 16 (the
# RFC 4106 §8.1 layout: 4-octet salt cafebabe, 8-octet IV facedbaddecaf888); the 8 and 12
# octet ICVs are the leading octets of the 16-octet tag (NIST SP 800-38D §5.2.1.2).
GCM_KEY128 = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
GCM_PLAIN = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
GCM_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_VECTORS = [
    # key, aad, plaintext, ciphertext, tag
    ("case 3", GCM_KEY128, b"", GCM_PLAIN,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"),
    ("case 4", GCM_KEY128, GCM_AAD, GCM_PLAIN[:60],
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"),
    ("case 9", GCM_KEY128 + GCM_KEY128[:8], b"", GCM_PLAIN,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
     "9924a7c8587336bfb118024db8674a14"),
    ("case 15", GCM_KEY128 * 2, b"", GCM_PLAIN,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"),
    ("case 16", GCM_KEY128 * 2, GCM_AAD, GCM_PLAIN[:60],
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"),
]


@pytest.mark.parametrize("name,key,aad,plain,ct,tag", GCM_VECTORS, ids=[v[0] for v in GCM_VECTORS])
@pytest.mark.parametrize("icv", [8, 12, 16])
def test_gcm_vectors_through_the_reference(name, key, aad, plain, ct, tag, icv):
    keymat = key + bytes.fromhex("cafebabe")
    iv = bytes.fromhex("facedbaddecaf888")
    expected = bytes.fromhex(ct) + bytes.fromhex(tag)[:icv]
    assert ref_gcm(keymat, iv, aad, plain, icv) == expected
    assert AESGCM(key).encrypt(keymat[-4:] + iv, plain, aad)[: len(expected)] == expected


# RFC 3602 §4 cases 1-4 (AES-128-CBC): key, IV, plaintext, ciphertext
RFC3602_VECTORS = [
    ("06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
     b"Single block msg".hex(), "e353779c1079aeb82708942dbe77181a"),
    ("c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
     bytes(range(32)).hex(),
     "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"),
    ("6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
     b"This is a 48-byte message (exactly 3 AES blocks)".hex(),
     ("d0a02b3836451753d493665d33f0e886"
      "2dea54cdb293abc7506939276772f8d5"
      "021c19216bad525c8579695d83ba2684")),
    ("56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
     bytes(range(0xA0, 0xE0)).hex(),
     ("c30e32ffedc0774e6aff6af0869f71aa"
      "0f3af07a9a31a9c684db207eb0ef8e4e"
      "35907aa632c3ffdf868bb7b29d3d46ad"
      "83ce9f9a102ee99d49a53e87f4c3da55")),
]


@pytest.mark.parametrize("make", [lambda key: CbcChain(algorithms.AES(key)), AesCbc],
                         ids=["CbcChain", "AesCbc"])
def test_cbc_rfc3602_vectors(make):
    """Each vector three times on one object, both directions: every message's IV is
    honoured whatever state the previous messages left."""
    for key, iv, plain, cipher in RFC3602_VECTORS:
        cbc = make(bytes.fromhex(key))
        for _ in range(3):
            assert cbc.encrypt(bytes.fromhex(iv), bytes.fromhex(plain)).hex() == cipher
            assert cbc.decrypt(bytes.fromhex(iv), bytes.fromhex(cipher)).hex() == plain


def test_aes_cbc_matches_cryptography_on_random_streams():
    rnd = random.Random(3602)
    for key_len in (16, 24, 32):
        key = rnd.randbytes(key_len)
        aes, reference = AesCbc(key), algorithms.AES(key)
        for _ in range(40):
            iv, data = rnd.randbytes(16), rnd.randbytes(16 * rnd.randint(1, 80))
            expected = Cipher(reference, modes.CBC(iv)).encryptor().update(data)
            assert aes.encrypt(iv, data) == expected
            assert aes.decrypt(iv, expected) == data
        assert repr(aes) == f"<AesCbc AES-{key_len * 8}>" and key.hex() not in repr(aes)


@pytest.mark.parametrize("call,message", [
    (lambda: AesCbc(bytes(15)), "AES key of 15 octets"),
    (lambda: AesCbc(bytes(16)).encrypt(bytes(16), bytes(17)), "non-empty multiple of 16"),
    (lambda: AesCbc(bytes(16)).decrypt(bytes(16), b""), "non-empty multiple of 16"),
    (lambda: AesCbc(bytes(16)).encrypt(bytes(8), bytes(16)), "IV of 8 octets"),
])
def test_aes_cbc_refuses_caller_mistakes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sk_with_aes_cbc_matches_the_cryptography_chain():
    """SkCipher's AES-CBC (ikesrv._fast.cbc) seals exactly what the CbcChain reference
    would, and each opens the other's messages."""
    rnd = random.Random(4303)
    for key_len in (16, 32):
        ek, ik = rnd.randbytes(key_len), rnd.randbytes(32)
        fast = SkCipher(EncrId.ENCR_AES_CBC, ek, IntegId.AUTH_HMAC_SHA2_256_128, ik)
        reference = SkCipher(EncrId.ENCR_AES_CBC, ek, IntegId.AUTH_HMAC_SHA2_256_128, ik)
        reference._chain = CbcChain(algorithms.AES(ek))
        header = bytes(16) + bytes((46, 0x20, 35, 0x08)) + bytes(8)
        for n in (0, 1, 15, 16, 300):
            plain, iv = rnd.randbytes(n), rnd.randbytes(16)
            sealed = fast.seal(header, b"", 35, plain, lambda k, iv=iv: iv[:k])
            assert sealed == reference.seal(header, b"", 35, plain, lambda k, iv=iv: iv[:k])
            assert fast.open(sealed, 28) == reference.open(sealed, 28) == plain


def test_cbc_chain_matches_fresh_contexts_on_random_streams():
    rnd = random.Random(7)
    for algorithm, bs in ((algorithms.AES(rnd.randbytes(32)), 16),
                          (TripleDES(rnd.randbytes(24)), 8)):
        chain = CbcChain(algorithm)
        for _ in range(50):
            iv, data = rnd.randbytes(bs), rnd.randbytes(bs * rnd.randint(1, 20))
            fresh = Cipher(algorithm, modes.CBC(iv)).encryptor().update(data)
            assert chain.encrypt(iv, data) == fresh
            assert chain.decrypt(iv, fresh) == data


# integrity: (INTEG ID, key, data, ICV)
INTEGRITY_VECTORS = [
    # RFC 4868 §2.7.2.1 AUTH256-1, AUTH384-1, AUTH512-1 and §2.7.2.2 AUTH256-2 (truncated)
    (IntegId.AUTH_HMAC_SHA2_256_128, "0b" * 32, b"Hi There".hex(),
     "198a607eb44bfbc69903a0f1cf2bbdc5"),
    (IntegId.AUTH_HMAC_SHA2_384_192, "0b" * 48, b"Hi There".hex(),
     "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"),
    (IntegId.AUTH_HMAC_SHA2_512_256, "0b" * 64, b"Hi There".hex(),
     "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"),
    (IntegId.AUTH_HMAC_SHA2_256_128, b"Jefe".hex() * 8, b"what do ya want for nothing?".hex(),
     "167f928588c5cc2eef8e3093caa0e87c"),
    # RFC 2202 test case 1 truncated as RFC 2404 / RFC 2403 ask
    (IntegId.AUTH_HMAC_SHA1_96, "0b" * 20, b"Hi There".hex(), "b617318655057264e28bc0b6"),
    (IntegId.AUTH_HMAC_MD5_96, "0b" * 16, b"Hi There".hex(), "9294727a3638bb1c13f48ef8"),
    # RFC 3566 §4.6 test cases 1-5
    (IntegId.AUTH_AES_XCBC_96, "000102030405060708090a0b0c0d0e0f", "", "75f0251d528ac01c4573dfd5"),
    (IntegId.AUTH_AES_XCBC_96, "000102030405060708090a0b0c0d0e0f", "000102",
     "5b376580ae2f19afe7219cee"),
    (IntegId.AUTH_AES_XCBC_96, "000102030405060708090a0b0c0d0e0f", bytes(range(16)).hex(),
     "d2a246fa349b68a79998a439"),
    (IntegId.AUTH_AES_XCBC_96, "000102030405060708090a0b0c0d0e0f", bytes(range(20)).hex(),
     "47f51b4564966215b8985c63"),
    (IntegId.AUTH_AES_XCBC_96, "000102030405060708090a0b0c0d0e0f", bytes(range(32)).hex(),
     "f54f0ec8d2b9f3d36807734b"),
    # RFC 4494 §4 test cases 1-4 (AES-CMAC-96)
    (IntegId.AUTH_AES_CMAC_96, "2b7e151628aed2a6abf7158809cf4f3c", "", "bb1d6929e95937287fa37d12"),
    (IntegId.AUTH_AES_CMAC_96, "2b7e151628aed2a6abf7158809cf4f3c",
     "6bc1bee22e409f96e93d7e117393172a", "070a16b46b4d4144f79bdd9d"),
    (IntegId.AUTH_AES_CMAC_96, "2b7e151628aed2a6abf7158809cf4f3c",
     "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411",
     "dfa66747de9ae63030ca3261"),
    (IntegId.AUTH_AES_CMAC_96, "2b7e151628aed2a6abf7158809cf4f3c",
     "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
     "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
     "51f0bebf7e3b9d92fc497417"),
]


@pytest.mark.parametrize("integ,key,data,icv", INTEGRITY_VECTORS)
def test_integrity_vectors(integ, key, data, icv):
    mac = integrity(integ, bytes.fromhex(key))
    assert mac(bytes.fromhex(data)).hex() == icv
    assert mac(bytes.fromhex(data)).hex() == icv  # the keyed state is reusable


def test_integrity_rejects_wrong_key_length_and_unknown_algorithms():
    with pytest.raises(ValueError):
        integrity(IntegId.AUTH_HMAC_SHA2_256_128, bytes(16))
    with pytest.raises(ValueError):
        integrity(IntegId.AUTH_DES_MAC, bytes(8))


# ======================================================================================
# Round trips, sizes, and equality with the reference
# ======================================================================================


@pytest.mark.parametrize("name,encr,bits,integ", SUITES, ids=SUITE_IDS)
def test_round_trip_and_reference(name, encr, bits, integ):
    sender, receiver, encr_key, integ_key = pair(encr, bits, integ)
    rnd = random.Random(name)
    for length in (0, 1, 7, 15, 16, 17, 31, 300, 1200):
        plain = rnd.randbytes(length)
        for skf in (None, (1, 3), (3, 3)):
            nxt = PayloadType.SKF if skf else PayloadType.SK
            # unencrypted payloads before SK are rare, but RFC 7296 §3.14 allows them
            for before in (b"", payload(nxt, b"unencrypted")):
                iv = rnd.randbytes(ENCR[encr].iv_size)
                hdr = header(PayloadType.VENDOR_ID if before else nxt)
                message = sender.seal(hdr, before, PayloadType.NOTIFY, plain, fixed_rng(iv), skf)
                assert message == ref_seal(encr, encr_key, integ, integ_key, hdr, before,
                                           PayloadType.NOTIFY, plain, iv, skf)
                assert int.from_bytes(message[24:28], "big") == len(message)
                sk_offset = 28 + len(before)
                assert len(message) - sk_offset == sender.sealed_len(length, skf is not None)
                assert receiver.open(message, sk_offset) == plain


@pytest.mark.parametrize("name,encr,bits,integ", SUITES, ids=SUITE_IDS)
def test_sizes_for_fragmentation(name, encr, bits, integ):
    cipher = pair(encr, bits, integ)[0]
    for skf in (False, True):
        for space in range(40, 140):
            n = cipher.max_plaintext(space, skf)
            assert n == 0 or cipher.sealed_len(n, skf) <= space  # 0: nothing useful fits
            assert cipher.sealed_len(n + 1, skf) > space
        for n in range(0, 64):
            assert cipher.sealed_len(n, skf) - n <= cipher.overhead(skf)
    assert cipher.max_plaintext(10) == 0


def test_seal_uses_fresh_ivs_from_rng():
    sender, receiver, *_ = pair(EncrId.ENCR_AES_GCM_16, 256, IntegId.NONE)
    a = sender.seal(header(), b"", 43, b"same", os.urandom)
    b = sender.seal(header(), b"", 43, b"same", os.urandom)
    assert a[32:40] != b[32:40] and a != b
    assert receiver.open(a, 28) == receiver.open(b, 28) == b"same"


def test_cbc_messages_out_of_order():
    """Each direction keeps one CBC context; messages may be opened in any order."""
    sender, receiver, *_ = pair(EncrId.ENCR_AES_CBC, 256, IntegId.AUTH_HMAC_SHA2_256_128)
    messages = [sender.seal(header(message_id=i), b"", 43, bytes([i]) * (i * 5), os.urandom)
                for i in range(8)]
    for i in (3, 0, 7, 7, 1, 6, 2, 5, 4):
        assert receiver.open(messages[i], 28) == bytes([i]) * (i * 5)


def test_repr_hides_keys():
    encr_key = bytes.fromhex("aa" * 32)
    integ_key = bytes.fromhex("bb" * 32)
    cipher = SkCipher(EncrId.ENCR_AES_CBC, encr_key, IntegId.AUTH_HMAC_SHA2_256_128, integ_key)
    assert "aa" not in repr(cipher) and "bb" not in repr(cipher)
    assert repr(cipher) == "<SkCipher ENCR_AES_CBC_256, AUTH_HMAC_SHA2_256_128>"


@pytest.mark.parametrize("args,message", [
    ((EncrId.ENCR_AES_CTR, bytes(20)), "encryption algorithm 13 is not supported for IKE"),
    ((EncrId.ENCR_DES, bytes(8), IntegId.AUTH_HMAC_SHA1_96, bytes(20)),
     "encryption algorithm 2 is not supported for IKE"),
    ((EncrId.ENCR_AES_GCM_16, bytes(32)),
     "ENCR_AES_GCM_16: 32-octet key material does not match any key length (128, 192, 256) "
     "(+4 octets salt)"),
    ((EncrId.ENCR_AES_GCM_16, bytes(36), IntegId.AUTH_HMAC_SHA2_256_128, bytes(32)),
     "AEAD transforms take no integrity algorithm (RFC 5282 §8)"),
    ((EncrId.ENCR_AES_CBC, bytes(32)), "ENCR_AES_CBC needs an integrity algorithm"),
])
def test_constructor_errors(args, message):
    with pytest.raises(ValueError) as exc:
        SkCipher(*args)
    assert str(exc.value) == message


# ======================================================================================
# Tampering and malformed messages
# ======================================================================================


@pytest.mark.parametrize("name,encr,bits,integ", SUITES, ids=SUITE_IDS)
@pytest.mark.parametrize("skf", [None, (2, 2)], ids=["SK", "SKF"])
def test_every_flipped_octet_fails_integrity(name, encr, bits, integ, skf):
    sender, receiver, *_ = pair(encr, bits, integ)
    hdr = header(PayloadType.SKF if skf else PayloadType.SK)
    message = sender.seal(hdr, b"", 0 if skf else 43, b"\x00\x00\x00\x0chello...", os.urandom, skf)
    assert receiver.open(message, 28) == b"\x00\x00\x00\x0chello..."
    for i in range(len(message)):
        for bit in (0x01, 0x80):
            tampered = bytearray(message)
            tampered[i] ^= bit
            with pytest.raises(IntegrityCheckFailed):
                receiver.open(bytes(tampered), 28)
    # and the receiver is still in step afterwards
    assert receiver.open(sender.seal(hdr, b"", 43, b"after", os.urandom, skf), 28) == b"after"


@pytest.mark.parametrize("name,encr,bits,integ", SUITES, ids=SUITE_IDS)
def test_truncated_or_extended_messages(name, encr, bits, integ):
    sender, receiver, *_ = pair(encr, bits, integ)
    message = sender.seal(header(), b"", 43, bytes(40), os.urandom)
    for cut in range(1, len(message) - 28):
        with pytest.raises((IntegrityCheckFailed, MalformedMessage)):
            receiver.open(message[:-cut], 28)
    with pytest.raises((IntegrityCheckFailed, MalformedMessage)):
        receiver.open(message + b"\x00", 28)


def test_too_short_is_malformed_before_any_crypto():
    gcm = pair(EncrId.ENCR_AES_GCM_16, 128, IntegId.NONE)[1]
    cbc = pair(EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_HMAC_SHA2_256_128)[1]
    with pytest.raises(MalformedMessage, match="too short"):
        gcm.open(header() + payload(0, bytes(20)), 28)
    with pytest.raises(MalformedMessage, match="too short"):
        cbc.open(header() + payload(0, bytes(16 + 15 + 16)), 28)
    with pytest.raises(MalformedMessage, match="offset outside"):
        cbc.open(header(), 28)
    with pytest.raises(MalformedMessage, match="offset outside"):
        cbc.open(header() + payload(0, bytes(60)), 20)


@pytest.mark.parametrize("name,encr,bits,integ", [SUITES[2], SUITES[7], SUITES[8], SUITES[15]],
                         ids=[SUITES[i][0] for i in (2, 7, 8, 15)])
def test_authentic_but_malformed(name, encr, bits, integ):
    """Framing errors of a peer that computed a valid ICV over them: MalformedMessage."""
    _, receiver, encr_key, integ_key = pair(encr, bits, integ)
    bs = ENCR[encr].block_size
    iv = bytes(ENCR[encr].iv_size)

    # a Pad Length larger than the decrypted data
    inner = b"\x00" * (bs - 1) + bytes((bs + 5,))
    message = _seal_raw(encr, encr_key, integ, integ_key, header(), inner, iv)
    with pytest.raises(MalformedMessage, match="pad length"):
        receiver.open(message, 28)
    # an SK payload length that does not end the message
    message = _seal_raw(encr, encr_key, integ, integ_key, header(), b"\x00" * bs, iv, sk_delta=-1)
    with pytest.raises(MalformedMessage, match="does not end the message"):
        receiver.open(message, 28)
    # encrypted data that is not a whole number of blocks
    if not ENCR[encr].aead:
        sk_len = 4 + 2 * bs + 1 + INTEG[integ].icv_len
        head = header()[:24] + (28 + sk_len).to_bytes(4, "big") + bytes((43, 0))
        head += sk_len.to_bytes(2, "big")
        signed = head + bytes(2 * bs + 1)
        message = signed + ref_icv(integ, integ_key, signed)
        with pytest.raises(MalformedMessage, match="not a multiple of the"):
            receiver.open(message, 28)
    # the header names another payload type where SK should be
    message = _seal_raw(encr, encr_key, integ, integ_key, header(PayloadType.NOTIFY),
                        b"\x00" * bs, iv)
    with pytest.raises(MalformedMessage, match="not SK/SKF"):
        receiver.open(message, 28)


def _seal_raw(encr, encr_key, integ, integ_key, hdr, inner, iv, sk_delta=0):
    """Like ref_seal, but ``inner`` is encrypted as is (padding and Pad Length included)
    and the SK payload length can be made wrong."""
    e = ENCR[encr]
    icv_len = e.icv_size if e.aead else INTEG[integ].icv_len
    sk_len = 4 + len(iv) + len(inner) + icv_len
    head = (hdr[:24] + (28 + sk_len).to_bytes(4, "big") + bytes((43, 0))
            + (sk_len + sk_delta).to_bytes(2, "big"))
    if encr == EncrId.ENCR_CHACHA20_POLY1305:
        return head + iv + ChaCha20Poly1305(encr_key[:-4]).encrypt(encr_key[-4:] + iv, inner, head)
    if e.aead:
        return head + iv + ref_gcm(encr_key, iv, head, inner, e.icv_size)
    algorithm = algorithms.AES(encr_key) if encr == EncrId.ENCR_AES_CBC else TripleDES(encr_key)
    signed = head + iv + Cipher(algorithm, modes.CBC(iv)).encryptor().update(inner)
    return signed + ref_icv(integ, integ_key, signed)


def test_other_payloads_before_sk_are_walked():
    sender, receiver, *_ = pair(EncrId.ENCR_AES_GCM_16, 128, IntegId.NONE)
    before = payload(PayloadType.VENDOR_ID, b"v1") + payload(PayloadType.SK, b"v2")
    message = sender.seal(header(PayloadType.VENDOR_ID), before, 43, b"inner", os.urandom)
    assert receiver.open(message, 28 + len(before)) == b"inner"
    with pytest.raises((MalformedMessage, IntegrityCheckFailed)):
        receiver.open(message, 28 + 6)  # not where the chain leads


# ======================================================================================
# Wireshark's independent decryption (tshark with an ikev2_decryption_table line,
# /work/shared/LAB.md §8; names as Wireshark's isakmp dissector spells them)
# ======================================================================================

WIRESHARK_INTEG = {
    IntegId.NONE: "NONE [RFC4306]",
    IntegId.AUTH_HMAC_MD5_96: "HMAC_MD5_96 [RFC2403]",
    IntegId.AUTH_HMAC_SHA1_96: "HMAC_SHA1_96 [RFC2404]",
    IntegId.AUTH_HMAC_SHA2_256_128: "HMAC_SHA2_256_128 [RFC4868]",
    IntegId.AUTH_HMAC_SHA2_384_192: "HMAC_SHA2_384_192 [RFC4868]",
    IntegId.AUTH_HMAC_SHA2_512_256: "HMAC_SHA2_512_256 [RFC4868]",
}


def wireshark_encr(encr, bits):
    if encr == EncrId.ENCR_AES_CBC:
        return f"AES-CBC-{bits} [RFC3602]"
    if encr == EncrId.ENCR_3DES:
        return "3DES [RFC2451]"
    return f"AES-GCM-{bits} with {ENCR[encr].icv_size} octet ICV [RFC5282]"


def tshark_dissect(tmp_path: Path, messages: list[bytes], uat_line: str):
    """Write the messages as UDP/500 datagrams with text2pcap; dissect with tshark."""
    text2pcap = policy.require_binary("text2pcap", "wireshark-common")
    policy.require_binary("tshark", "tshark")
    dump = tmp_path / "messages.txt"
    dump.write_text("".join("0000 " + " ".join(f"{b:02x}" for b in m) + "\n" for m in messages))
    pcap = tmp_path / "messages.pcap"
    run([text2pcap, "-q", "-u", "500,500", str(dump), str(pcap)], timeout=30)
    return tshark_harness.pdml(pcap, extra=["-o", f"uat:ikev2_decryption_table:{uat_line}"])


def fields(packet, name):
    return [f for f in packet.iter("field") if f.get("name") == name]


# Wireshark 4.0 knows neither ChaCha20-Poly1305 nor AES-XCBC/CMAC for IKEv2: those are
# covered by RFC 7634 App. B and the RFC 3566 / RFC 4494 vectors above.
TSHARK_SUITES = [s for s in SUITES
                 if s[3] in WIRESHARK_INTEG and s[1] != EncrId.ENCR_CHACHA20_POLY1305]


@pytest.mark.parametrize("name,encr,bits,integ", TSHARK_SUITES, ids=[s[0] for s in TSHARK_SUITES])
def test_wireshark_decrypts_what_we_seal(tmp_path, name, encr, bits, integ):
    sender, _, encr_key, integ_key = pair(encr, bits, integ)
    vid = b"ikesrv SK check " + name.encode()
    inner = payload(0, vid)  # one Vendor ID payload
    messages = [sender.seal(header(message_id=i), b"", PayloadType.VENDOR_ID, inner, os.urandom)
                for i in range(3)]
    uat = ",".join([SPI_I.hex(), SPI_R.hex(), encr_key.hex(), os.urandom(len(encr_key)).hex(),
                    f'"{wireshark_encr(encr, bits)}"', integ_key.hex(),
                    os.urandom(len(integ_key)).hex(), f'"{WIRESHARK_INTEG[integ]}"'])
    packets = tshark_dissect(tmp_path, messages, uat)
    assert len(packets) == 3
    for packet in packets:
        (icd,) = fields(packet, "isakmp.enc.icd")
        assert icd.get("showname").endswith("[correct]"), icd.get("showname")
        (vid_field,) = fields(packet, "isakmp.vid_bytes")
        assert bytes.fromhex(vid_field.get("value")) == vid


@pytest.mark.parametrize("name,encr,bits,integ", [SUITES[2], SUITES[8]], ids=["gcm", "cbc"])
def test_wireshark_reassembles_our_fragments(tmp_path, name, encr, bits, integ):
    """RFC 7383 §2.5: SKF fragments, the fragment fields inside the AAD / ICV."""
    sender, _, encr_key, integ_key = pair(encr, bits, integ)
    vid = bytes(range(256)) * 2
    inner = payload(0, vid)
    cut = 200
    parts = [inner[:cut], inner[cut:400], inner[400:]]
    messages = [sender.seal(header(PayloadType.SKF, message_id=1), b"",
                            PayloadType.VENDOR_ID if n == 1 else 0, part, os.urandom, (n, 3))
                for n, part in enumerate(parts, 1)]
    uat = ",".join([SPI_I.hex(), SPI_R.hex(), encr_key.hex(), os.urandom(len(encr_key)).hex(),
                    f'"{wireshark_encr(encr, bits)}"', integ_key.hex(),
                    os.urandom(len(integ_key)).hex(), f'"{WIRESHARK_INTEG[integ]}"'])
    packets = tshark_dissect(tmp_path, messages, uat)
    for packet in packets:
        (icd,) = fields(packet, "isakmp.enc.icd")
        assert icd.get("showname").endswith("[correct]")
    (vid_field,) = fields(packets[-1], "isakmp.vid_bytes")
    assert bytes.fromhex(vid_field.get("value")) == vid
