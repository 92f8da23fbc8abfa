"""ikesrv.crypto.ikev1_cipher: IKEv1 CBC encryption and its IV chaining (RFC 2409 App. B).

Checked against a plain model of the RFC written here (a fresh CBC context per message,
the IVs kept by hand), against ikesrv.crypto.ikev1_keys' IV functions, and against
Wireshark, which derives the phase 1 and per-Message-ID IVs on its own from the KE
payloads it sees in a Main Mode + Quick Mode capture.
"""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ikesrv.constants import (
    EncrId,
    V1AuthMethod,
    V1ExchangeType,
    V1HashAlgorithm,
    V1HeaderFlag,
    V1IdType,
)
from ikesrv.crypto import ikev1_keys
from ikesrv.crypto.ikev1_cipher import Ikev1Cipher
from ikesrv.crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ikesrv.errors import MalformedMessage
from ikesrv.wire import ikev1
from tests.harness import policy
from tests.harness import tshark as tshark_harness

SUITES = [
    # (ENCR ID, key octets, V1 hash, hashlib name, block size)
    (EncrId.ENCR_AES_CBC, 16, V1HashAlgorithm.SHA2_256, "sha256", 16),
    (EncrId.ENCR_AES_CBC, 24, V1HashAlgorithm.SHA2_384, "sha384", 16),
    (EncrId.ENCR_AES_CBC, 32, V1HashAlgorithm.SHA2_512, "sha512", 16),
    (EncrId.ENCR_AES_CBC, 32, V1HashAlgorithm.SHA, "sha1", 16),
    (EncrId.ENCR_3DES, 24, V1HashAlgorithm.SHA, "sha1", 8),
    (EncrId.ENCR_3DES, 24, V1HashAlgorithm.MD5, "md5", 8),
]
IDS = [f"{e.name}-{k * 8}-{h}" for e, k, _, h, _ in SUITES]


class Model:
    """RFC 2409 App. B by hand: one IV per exchange, phase 1 under Message ID 0."""

    def __init__(self, encr, key, hash_name, g_xi, g_xr, bs):
        self.algorithm = algorithms.AES(key) if encr == EncrId.ENCR_AES_CBC else TripleDES(key)
        self.hash_name, self.bs = hash_name, bs
        self.ivs = {0: hashlib.new(hash_name, g_xi + g_xr).digest()[:bs]}

    def iv(self, mid):
        if mid not in self.ivs:
            digest = hashlib.new(self.hash_name, self.ivs[0] + struct.pack("!I", mid)).digest()
            self.ivs[mid] = digest[: self.bs]
        return self.ivs[mid]

    def encrypt(self, plain, mid):
        ct = Cipher(self.algorithm, modes.CBC(self.iv(mid))).encryptor().update(plain)
        self.ivs[mid] = ct[-self.bs:]
        return ct

    def decrypt(self, ct, mid):
        plain = Cipher(self.algorithm, modes.CBC(self.iv(mid))).decryptor().update(ct)
        self.ivs[mid] = ct[-self.bs:]
        return plain


def padded(plain: bytes, bs: int) -> bytes:
    """RFC 2409 §5: zero octets, then one octet counting them; always at least that one."""
    pad = (-(len(plain) + 1)) % bs
    return plain + bytes(pad) + bytes((pad,))


def make(encr, key_len, v1_hash, hash_name, bs, seed=0):
    rnd = random.Random(seed)
    key = rnd.randbytes(key_len)
    g_xi, g_xr = rnd.randbytes(256), rnd.randbytes(256)
    iv0 = ikev1_keys.initial_iv(hash_name, g_xi, g_xr, bs)
    return (Ikev1Cipher(encr, key, v1_hash, iv0), Ikev1Cipher(encr, key, v1_hash, iv0),
            Model(encr, key, hash_name, g_xi, g_xr, bs), rnd)


@pytest.mark.parametrize("encr,key_len,v1_hash,hash_name,bs", SUITES, ids=IDS)
def test_main_mode_then_exchanges_match_the_model(encr, key_len, v1_hash, hash_name, bs):
    initiator, responder, model, rnd = make(encr, key_len, v1_hash, hash_name, bs)
    # (sender, Message ID): MM5, MM6, Quick Mode 1-3 interleaved with an Informational
    # exchange and a second Quick Mode
    script = [("i", 0), ("r", 0), ("i", 0x1111), ("r", 0x1111), ("r", 0x5555), ("i", 0x1111),
              ("i", 0x2222), ("r", 0x2222), ("i", 0x2222), ("i", 0x5556)]
    for sender, mid in script:
        plain = rnd.randbytes(rnd.randint(1, 90))
        tx, rx = (initiator, responder) if sender == "i" else (responder, initiator)
        ct = tx.encrypt(plain, mid)
        assert ct == model.encrypt(padded(plain, bs), mid)
        assert rx.decrypt(ct, mid) == padded(plain, bs)
        assert tx.iv(mid) == rx.iv(mid) == model.iv(mid)


@pytest.mark.parametrize("encr,key_len,v1_hash,hash_name,bs", SUITES, ids=IDS)
def test_ivs_equal_ikev1_keys(encr, key_len, v1_hash, hash_name, bs):
    initiator, responder, model, rnd = make(encr, key_len, v1_hash, hash_name, bs)
    iv0 = initiator.iv(0)
    mm5 = initiator.encrypt(b"IDii | HASH_I", 0)
    assert responder.decrypt(mm5, 0)[:13] == b"IDii | HASH_I"
    assert initiator.iv(0) == responder.iv(0) == mm5[-bs:] != iv0
    for mid in (1, 0xDEADBEEF):
        assert responder.iv(mid) == ikev1_keys.phase2_iv(hash_name, mm5[-bs:], mid, bs)


def test_padding_is_always_present():
    cipher, peer, *_ = make(*SUITES[0])
    for length in range(0, 40):
        ct = cipher.encrypt(bytes(length), 0)
        assert len(ct) % 16 == 0 and len(ct) > length
        plain = peer.decrypt(ct, 0)
        assert plain[-1] == len(plain) - length - 1
        assert plain[length:-1] == bytes(plain[-1])


def test_a_long_initial_iv_is_truncated():
    key = bytes(32)
    full = hashlib.sha256(b"g^xi" + b"g^xr").digest()
    assert Ikev1Cipher(EncrId.ENCR_AES_CBC, key, V1HashAlgorithm.SHA2_256, full).iv(0) == full[:16]
    assert Ikev1Cipher(EncrId.ENCR_AES_CBC, key, "sha256", full).iv(7) == \
        ikev1_keys.phase2_iv("sha256", full[:16], 7, 16)


@pytest.mark.parametrize("length", [0, 1, 15, 17, 31])
def test_decrypt_rejects_partial_blocks(length):
    cipher, *_ = make(*SUITES[0])
    before = cipher.iv(0)
    with pytest.raises(MalformedMessage, match="multiple of the 16-octet block"):
        cipher.decrypt(bytes(length), 0)
    assert cipher.iv(0) == before


def test_unverified_messages_do_not_move_the_iv():
    initiator, responder, *_ = make(*SUITES[0])
    initiator.iv(0x42)
    garbage = bytes(range(48))
    before = responder.iv(0x42)
    responder.decrypt(garbage, 0x42, advance=False)  # a forged message: its HASH will fail
    assert responder.iv(0x42) == before
    qm1 = initiator.encrypt(b"HASH(1) | SA | Ni", 0x42)
    assert responder.decrypt(qm1, 0x42, advance=False).startswith(b"HASH(1) | SA | Ni")
    responder.advance(0x42, qm1)  # HASH(1) verified
    assert responder.iv(0x42) == initiator.iv(0x42)
    qm2 = responder.encrypt(b"HASH(2)", 0x42)
    assert initiator.decrypt(qm2, 0x42).startswith(b"HASH(2)")


def test_forget_restarts_an_exchange_but_never_phase_1():
    cipher, *_ = make(*SUITES[0])
    first = cipher.iv(9)
    cipher.encrypt(b"x", 9)
    assert cipher.iv(9) != first
    cipher.forget(9)
    assert cipher.iv(9) == first
    phase1 = cipher.iv(0)
    cipher.forget(0)
    assert cipher.iv(0) == phase1


@pytest.mark.parametrize("args,message", [
    ((EncrId.ENCR_AES_GCM_16, bytes(32), V1HashAlgorithm.SHA2_256, bytes(16)),
     "encryption algorithm 20 is not supported for IKEv1"),
    ((EncrId.ENCR_DES, bytes(8), V1HashAlgorithm.SHA, bytes(8)),
     "encryption algorithm 2 is not supported for IKEv1"),
    ((EncrId.ENCR_AES_CBC, bytes(20), V1HashAlgorithm.SHA2_256, bytes(16)),
     "ENCR_AES_CBC needs a key of (128, 192, 256) bits, got 160"),
    ((EncrId.ENCR_AES_CBC, bytes(16), V1HashAlgorithm.SHA2_256, bytes(8)),
     "the initial IV is shorter than the cipher block"),
])
def test_constructor_errors(args, message):
    with pytest.raises(ValueError) as exc:
        Ikev1Cipher(*args)
    assert str(exc.value) == message


def test_repr_hides_the_key():
    cipher = Ikev1Cipher(EncrId.ENCR_AES_CBC, b"\xaa" * 32, V1HashAlgorithm.SHA2_256, bytes(16))
    assert repr(cipher) == "<Ikev1Cipher ENCR_AES_CBC sha256>"


# ======================================================================================
# Wireshark: Main Mode + Quick Mode + Informational, decrypted with only the key given
# (ikev1_decryption_table: icookie,encryption_key; /work/shared/LAB.md §8)
# ======================================================================================

INITIATOR, RESPONDER = "10.1.0.1", "10.2.0.1"


def write_pcap(path: Path, datagrams: list[tuple[str, str, bytes]]) -> None:
    """Classic pcap, LINKTYPE_RAW (101): IPv4 + UDP 500 -> 500 per datagram."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for n, (src, dst, payload) in enumerate(datagrams):
        udp = struct.pack("!HHHH", 500, 500, 8 + len(payload), 0) + payload
        addresses = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n, 0, 64, 17, 0,
                                   *addresses))
        checksum = sum(struct.unpack("!10H", ip))
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
        ip[10:12] = struct.pack("!H", ~((checksum & 0xFFFF) + (checksum >> 16)) & 0xFFFF)
        frame = bytes(ip) + udp
        out.append(struct.pack("<IIII", 1700000000 + n, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


@pytest.mark.parametrize("proposal,encr,key_len,v1_hash,hash_name,bs", [
    ("aes256-sha256-modp2048", EncrId.ENCR_AES_CBC, 32, V1HashAlgorithm.SHA2_256, "sha256", 16),
    ("aes128-sha1-modp2048", EncrId.ENCR_AES_CBC, 16, V1HashAlgorithm.SHA, "sha1", 16),
    ("3des-sha1-modp1024", EncrId.ENCR_3DES, 24, V1HashAlgorithm.SHA, "sha1", 8),
], ids=["aes256-sha256", "aes128-sha1", "3des-sha1"])
def test_wireshark_decrypts_main_and_quick_mode(tmp_path, proposal, encr, key_len, v1_hash,
                                                hash_name, bs):
    policy.require_binary("tshark", "tshark")
    rnd = random.Random(proposal)
    cky_i, cky_r = rnd.randbytes(8), rnd.randbytes(8)
    key = rnd.randbytes(key_len)
    g_xi, g_xr = rnd.randbytes(256), rnd.randbytes(256)
    iv0 = ikev1_keys.initial_iv(hash_name, g_xi, g_xr, bs)
    initiator = Ikev1Cipher(encr, key, v1_hash, iv0)
    responder = Ikev1Cipher(encr, key, v1_hash, iv0)
    sa = ikev1.SaPayload(doi=1, situation=1, proposals=[
        parse_ike_proposal(proposal, 1).to_v1_phase1(auth_method=V1AuthMethod.PRE_SHARED_KEY)])
    esp_sa = ikev1.SaPayload(doi=1, situation=1, proposals=[
        parse_esp_proposal("aes128gcm16", 1).to_v1_esp(1, b"\x01\x02\x03\x04")])
    mm = V1ExchangeType.IDENTITY_PROTECTION

    def clear(payloads, spi_r=cky_r):
        msg = ikev1.Message(spi_i=cky_i, spi_r=spi_r, exchange=mm, flags=0, message_id=0,
                            payloads=payloads)
        return ikev1.encode_message(msg)

    def sealed(exchange, mid, payloads, by_initiator):
        first, chain = ikev1.encode_payloads(payloads)
        body = (initiator if by_initiator else responder).encrypt(chain, mid)
        (responder if by_initiator else initiator).decrypt(body, mid)
        msg = ikev1.Message(spi_i=cky_i, spi_r=cky_r, exchange=exchange,
                            flags=V1HeaderFlag.ENCRYPTION, message_id=mid, payloads=None,
                            encrypted_body=body, next_payload=first)
        return ikev1.encode_message(msg)

    def marker(text):
        return ikev1.VendorIdPayload(data=f"ikesrv {text}".encode())

    id_payload = ikev1.IdPayload(id_type=V1IdType.ID_IPV4_ADDR, data=bytes((10, 1, 0, 1)))
    hash_payload = ikev1.HashPayload(data=rnd.randbytes(hashlib.new(hash_name).digest_size))
    qm, info = V1ExchangeType.QUICK_MODE, V1ExchangeType.INFORMATIONAL
    msgs = [
        (True, clear([sa], spi_r=bytes(8))),
        (False, clear([sa])),
        (True, clear([ikev1.KePayload(data=g_xi), ikev1.NoncePayload(data=rnd.randbytes(32))])),
        (False, clear([ikev1.KePayload(data=g_xr), ikev1.NoncePayload(data=rnd.randbytes(32))])),
        (True, sealed(mm, 0, [id_payload, hash_payload, marker("MM5")], True)),
        (False, sealed(mm, 0, [id_payload, hash_payload, marker("MM6")], False)),
        (True, sealed(qm, 0x0A0B0C0D, [hash_payload, esp_sa, ikev1.NoncePayload(data=bytes(32)),
                                       marker("QM1")], True)),
        (False, sealed(info, 0x11223344, [hash_payload, marker("INFO1")], False)),
        (False, sealed(qm, 0x0A0B0C0D, [hash_payload, esp_sa, ikev1.NoncePayload(data=bytes(32)),
                                        marker("QM2")], False)),
        (True, sealed(qm, 0x0A0B0C0D, [hash_payload, marker("QM3")], True)),
    ]
    pcap = tmp_path / "ikev1.pcap"
    write_pcap(pcap, [(INITIATOR, RESPONDER, m) if by_i else (RESPONDER, INITIATOR, m)
                      for by_i, m in msgs])
    uat = f"{cky_i.hex()},{key.hex()}"
    rows = tshark_harness.fields(pcap, ["isakmp.vid_bytes"],
                                 extra=["-o", f"uat:ikev1_decryption_table:{uat}"])
    seen = [bytes.fromhex(v).decode(errors="replace")
            for row in rows for v in row["isakmp.vid_bytes"]]
    assert seen == ["ikesrv MM5", "ikesrv MM6", "ikesrv QM1", "ikesrv INFO1", "ikesrv QM2",
                    "ikesrv QM3"]


@pytest.mark.parametrize("encr,key_len,v1_hash,hash_name,bs", SUITES, ids=IDS)
def test_seal_is_header_then_the_model_encryption(encr, key_len, v1_hash, hash_name, bs):
    """Ikev1Cipher.seal (one pass in ikesrv._fast.isakmp) builds what the RFC describes:
    the 28-octet header with the Encryption flag and the whole length, then head | body
    padded and CBC-encrypted under the exchange's IV, whose chain then moves on."""
    sealer, opener, model, rnd = make(encr, key_len, v1_hash, hash_name, bs, seed=7)
    spi_i, spi_r = rnd.randbytes(8), rnd.randbytes(8)
    for mid, head_len, body_len in [(0, 0, 1), (0x01020304, 36, 0), (0xFFFFFFFF, 36, 57),
                                    (0x01020304, 0, 200), (7, 20, 11)]:
        head, body = rnd.randbytes(head_len), rnd.randbytes(body_len)
        out = sealer.seal(spi_i, spi_r, 8, V1ExchangeType.QUICK_MODE, mid, head, body)
        ct = model.encrypt(padded(head + body, bs), mid)
        header = spi_i + spi_r + struct.pack("!BBBBII", 8, 0x10, V1ExchangeType.QUICK_MODE,
                                             V1HeaderFlag.ENCRYPTION, mid, 28 + len(ct))
        assert out == header + ct
        assert sealer.iv(mid) == model.iv(mid) == ct[-bs:]
        assert opener.decrypt(out[28:], mid) == padded(head + body, bs)
        msg = ikev1.decode_message(out)
        assert (msg.message_id, msg.is_encrypted, msg.next_payload) == (mid, True, 8)


def test_seal_refuses_what_is_not_an_isakmp_message():
    cipher, *_ = make(*SUITES[0])
    with pytest.raises(ValueError, match="8 octets"):
        cipher.seal(bytes(7), bytes(8), 8, V1ExchangeType.QUICK_MODE, 1, b"", b"x")
