"""IKEv2 Encrypted payload (SK) and Encrypted Fragment payload (SKF) protection.

Owns: sealing a payload chain into a complete IKEv2 message ending in SK or SKF, and
opening one back into the inner payload chain, for one direction of an IKE SA
(SK_ei/SK_ai or SK_er/SK_ar). The caller builds the 28-octet header and encodes the inner
payloads (ikesrv.wire); this module does only the cryptographic framing:

    HDR | unencrypted payloads | SK hdr (4) [| Frag No | Total (SKF)] | IV | C | ICV

  - AEAD (RFC 5282 §3-§5 for AES-GCM, RFC 7634 §2-§3 for ChaCha20-Poly1305): nonce =
    salt (last 4 octets of the key material) || 8-octet IV; AAD = everything from the IKE
    header through the SK/SKF payload header (RFC 7383 §2.5.3: the fragment fields too);
    the ICV is the AEAD tag (8, 12 or 16 octets for GCM: a truncated GCM tag is its leading
    octets, NIST SP 800-38D §5.2.1.2).
  - Classic (AES-CBC, 3DES) + integrity: random IV of one block; the ICV covers the whole
    message from the IKE header through the ciphertext (RFC 7296 §3.14), truncated per
    RFC 4868 §2.3 (SHA-2), RFC 2404 (SHA1-96), RFC 3566 (AES-XCBC-96), RFC 4494
    (AES-CMAC-96).
  - Padding (RFC 7296 §3.14): to the cipher's block size (none for AEAD, whose block
    size is 1), zero octets, then the Pad Length octet. Received padding may hold
    anything; only its length is checked.

open() verifies the ICV or tag (in constant time) before it reads a single decrypted octet
or trusts a framing field: any changed octet of a message raises IntegrityCheckFailed;
sizes too small to hold IV and ICV, and framing errors of an authentic message (SK
length, payload type, Pad Length), raise MalformedMessage.

Speed (DESIGN §9): every cipher and MAC object is built once per SA direction. AEAD
objects are stateless. AES-CBC runs on ikesrv._fast.cbc.AesCbc: an OpenSSL context per
direction keyed once and given each message's IV, holding no Python object. 3DES runs on
CbcChain, one long-lived `cryptography` context per direction that chains from the
previous message's last block, the first block corrected by XORing in the stored
chaining block and the message's own IV (bench/bench_sk.py measures these choices).
HMAC integrity runs on ikesrv._fast.prf, keyed per message (cheaper than copying a keyed
`cryptography` HMAC, and nothing to build per SA).

Must not import: ikesrv.wire or anything above ikesrv.crypto (it works on bytes).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from .._fast import prf as _prf
from .._fast.cbc import AesCbc
from ..constants import IKE_HEADER_LEN, EncrId, IntegId, PayloadType
from ..errors import IntegrityCheckFailed, MalformedMessage
from .transforms import ENCR, INTEG

SK_HEADER_LEN = 4  # generic payload header (RFC 7296 §3.2)
SKF_HEADER_LEN = 8  # + Fragment Number, Total Fragments (RFC 7383 §2.5)
_SK, _SKF = int(PayloadType.SK), int(PayloadType.SKF)  # plain ints: faster comparisons

_HMAC_ALGS = {"md5": _prf.MD5, "sha1": _prf.SHA1, "sha256": _prf.SHA256,
              "sha384": _prf.SHA384, "sha512": _prf.SHA512}


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class CbcChain:
    """CBC encryption and decryption on one long-lived OpenSSL context per direction.

    A CBC context left after a previous message continues chaining from that message's
    last ciphertext block S. Feeding ``P1 ^ IV ^ S`` as the first block yields exactly
    ``E(P1 ^ IV)``; on decryption the first output block is ``D(C1) ^ S`` and XORing in
    ``S ^ IV`` gives ``P1``. Only whole blocks are ever fed, so the contexts hold no
    partial state between messages. Not thread-safe: one per SA direction and worker.
    """

    __slots__ = ("block_size", "_algorithm", "_enc", "_dec", "_enc_chain", "_dec_chain")

    def __init__(self, algorithm: algorithms.AES | TripleDES):
        self.block_size = bs = algorithm.block_size // 8
        zero = bytes(bs)
        self._algorithm = algorithm
        # each context is made at its first use: an SA direction only ever encrypts
        # (our SK payloads) or only decrypts (the peer's), so one of the two never is
        self._enc = self._dec = None
        self._enc_chain = zero  # last ciphertext block the encryptor produced
        self._dec_chain = zero  # last ciphertext block the decryptor consumed

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        """CBC-encrypt ``data`` (a non-empty multiple of the block size) under ``iv``."""
        bs = self.block_size
        first = _xor(_xor(data[:bs], iv), self._enc_chain)
        enc = self._enc
        if enc is None:
            enc = self._enc = Cipher(self._algorithm, modes.CBC(bytes(bs))).encryptor()
        out = enc.update(first + data[bs:])
        self._enc_chain = out[-bs:]
        return out

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        """CBC-decrypt ``data`` (a non-empty multiple of the block size) under ``iv``."""
        bs = self.block_size
        dec = self._dec
        if dec is None:
            dec = self._dec = Cipher(self._algorithm, modes.CBC(bytes(bs))).decryptor()
        out = dec.update(data)
        first = _xor(_xor(out[:bs], self._dec_chain), iv)
        self._dec_chain = data[-bs:]
        return first + out[bs:]


def cbc_cipher(encr_id: int, key: bytes) -> AesCbc | CbcChain:
    """``encrypt(iv, data)`` / ``decrypt(iv, data)`` of a CBC encryption transform: AES on
    ikesrv._fast.cbc (no Python objects, keyed once), 3DES on a CbcChain."""
    if encr_id == EncrId.ENCR_AES_CBC:
        return AesCbc(key)
    return CbcChain(cbc_algorithm(encr_id, key))


def cbc_algorithm(encr_id: int, key: bytes) -> algorithms.AES | TripleDES:
    """The block cipher of a CBC encryption transform (AES-CBC, 3DES)."""
    if encr_id == EncrId.ENCR_AES_CBC:
        return algorithms.AES(key)
    if encr_id == EncrId.ENCR_3DES:
        return TripleDES(key)
    raise ValueError(f"{ENCR[encr_id].name if encr_id in ENCR else encr_id} is not a CBC cipher")


# -- integrity algorithms --------------------------------------------------------------


class _Hmac:
    """HMAC on ikesrv._fast.prf: nothing to build per SA, ~0.6 µs per ICV."""

    __slots__ = ("_alg", "_key", "_len")

    def __init__(self, hash_name: str, key: bytes, icv_len: int):
        self._alg = _HMAC_ALGS[hash_name]
        _prf.output_size(self._alg)  # ValueError now if libcrypto lacks it (MD5 under FIPS)
        self._key = bytes(key)
        self._len = icv_len

    def __call__(self, data: bytes) -> bytes:
        return _prf.mac(self._alg, self._key, data)[: self._len]


class _Cmac:
    __slots__ = ("_proto", "_len")

    def __init__(self, key: bytes, icv_len: int):
        self._proto = cmac.CMAC(algorithms.AES(key))
        self._len = icv_len

    def __call__(self, data: bytes) -> bytes:
        c = self._proto.copy()
        c.update(data)
        return c.finalize()[: self._len]


class _Xcbc:
    """AES-XCBC-MAC (RFC 3566 §4): CBC-MAC under K1 with the last block masked by K2
    (complete block) or padded 10* and masked by K3."""

    __slots__ = ("_chain", "_k2", "_k3", "_len")

    def __init__(self, key: bytes, icv_len: int):
        ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        k1k2k3 = ecb.update(b"\x01" * 16 + b"\x02" * 16 + b"\x03" * 16)
        self._chain = CbcChain(algorithms.AES(k1k2k3[:16]))
        self._k2 = k1k2k3[16:32]
        self._k3 = k1k2k3[32:]
        self._len = icv_len

    def __call__(self, data: bytes) -> bytes:
        n = len(data)
        if n and n % 16 == 0:
            last = _xor(data[-16:], self._k2)
            body = data[:-16]
        else:
            cut = n - n % 16
            tail = data[cut:] + b"\x80" + bytes(15 - n % 16)
            last = _xor(tail, self._k3)
            body = data[:cut]
        return self._chain.encrypt(bytes(16), body + last)[-16:][: self._len]


def integrity(integ_id: int, key: bytes) -> Callable[[bytes], bytes]:
    """The ICV function of an integrity transform under ``key``: data -> truncated ICV
    (RFC 4868 §2.3, RFC 2404, RFC 2403, RFC 3566 §4, RFC 4494 §2)."""
    t = INTEG.get(integ_id)
    if t is None or not t.ike:
        raise ValueError(f"integrity algorithm {integ_id} is not supported for IKE")
    if len(key) != t.key_len:
        raise ValueError(f"{t.name} needs a {t.key_len}-octet key, got {len(key)}")
    if t.kind == "hmac":
        return _Hmac(t.hash, key, t.icv_len)
    if t.kind == "cmac":
        return _Cmac(key, t.icv_len)
    return _Xcbc(key, t.icv_len)


# -- the SK cipher ---------------------------------------------------------------------


class SkCipher:
    """SK/SKF protection for one direction of an IKE SA.

    ``SkCipher(encr_id, encr_key, integ_id, integ_key)``: ``encr_key`` is SK_e as derived
    (RFC 7296 §2.14), including the salt of AEAD transforms (RFC 5282 §7.1, RFC 7634 §2);
    AEAD transforms take no integrity algorithm (``integ_id`` NONE, RFC 5282 §8), classic
    ones need one.
    """

    __slots__ = ("encr_id", "key_bits", "integ_id", "aead", "block_size", "iv_size",
                 "icv_size", "_salt", "_aead_seal", "_aead_open", "_gcm_key", "_chain", "_mac")

    def __init__(self, encr_id: int, encr_key: bytes, integ_id: int = IntegId.NONE,
                 integ_key: bytes = b""):
        t = ENCR.get(encr_id)
        if t is None or not t.ike:
            raise ValueError(f"encryption algorithm {encr_id} is not supported for IKE")
        key_bits = (len(encr_key) - t.salt_size) * 8
        if key_bits not in t.key_bits:
            raise ValueError(f"{t.name}: {len(encr_key)}-octet key material does not match "
                             f"any key length {t.key_bits} (+{t.salt_size} octets salt)")
        self.encr_id = int(encr_id)
        self.key_bits = key_bits
        self.integ_id = int(integ_id)
        self.aead = t.aead
        self.block_size = t.block_size
        self.iv_size = t.iv_size
        self._aead_seal = self._aead_open = self._gcm_key = self._chain = self._mac = None
        self._salt = b""
        if t.aead:
            if integ_id:
                raise ValueError("AEAD transforms take no integrity algorithm (RFC 5282 §8)")
            key, self._salt = encr_key[: -t.salt_size], encr_key[-t.salt_size:]
            self.icv_size = t.icv_size
            if encr_id == EncrId.ENCR_CHACHA20_POLY1305:
                aead = ChaCha20Poly1305(key)
            else:
                aead = AESGCM(key)
                if t.icv_size != 16:  # a truncated tag needs the streaming interface to verify
                    self._gcm_key = algorithms.AES(key)
            self._aead_seal = aead.encrypt
            self._aead_open = aead.decrypt
        else:
            if not integ_id:
                raise ValueError(f"{t.name} needs an integrity algorithm")
            self._mac = integrity(integ_id, integ_key)
            self._chain = cbc_cipher(encr_id, encr_key)
            self.icv_size = INTEG[integ_id].icv_len

    def __repr__(self) -> str:  # never the keys
        integ = f", {INTEG[self.integ_id].name}" if self.integ_id in INTEG else ""
        return f"<SkCipher {ENCR[self.encr_id].name}_{self.key_bits}{integ}>"

    # -- sizes, for IKE fragmentation (RFC 7383 §2.5.1) --

    def sealed_len(self, plaintext_len: int, skf: bool = False) -> int:
        """Length of the SK (or SKF) payload, generic header included, for a plaintext."""
        inner = plaintext_len + 1
        inner += -inner % self.block_size
        return (SKF_HEADER_LEN if skf else SK_HEADER_LEN) + self.iv_size + inner + self.icv_size

    def overhead(self, skf: bool = False) -> int:
        """Most octets an SK (SKF) payload adds to its plaintext: header, IV, ICV, padding."""
        return self.sealed_len(0, skf) + self.block_size - 1

    def max_plaintext(self, space: int, skf: bool = False) -> int:
        """Largest plaintext whose SK (SKF) payload fits in ``space`` octets (0 if none)."""
        room = space - (SKF_HEADER_LEN if skf else SK_HEADER_LEN) - self.iv_size - self.icv_size
        room -= room % self.block_size
        return max(room - 1, 0)

    # -- sealing --

    def seal(self, header28: bytes, unencrypted: bytes, next_payload: int, plaintext: bytes,
             rng: Callable[[int], bytes], skf: tuple[int, int] | None = None) -> bytes:
        """The whole message: header (Length rewritten), ``unencrypted`` payloads (whose
        last Next Payload the caller set to SK/SKF), then the SK payload whose Next Payload
        is ``next_payload`` and whose content is ``plaintext`` (an encoded payload chain).
        ``skf=(fragment_number, total_fragments)`` makes it an SKF payload (RFC 7383 §2.5;
        its Next Payload is 0 in every fragment but the first)."""
        if self._aead_seal is not None:
            iv = rng(8)
            body_len = 8 + len(plaintext) + 1 + self.icv_size
            aad = _frame(header28, unencrypted, next_payload, body_len, skf)
            # RFC 5282 §3: block size 1, so no padding; the Pad Length octet stays.
            sealed = self._aead_seal(self._salt + iv, plaintext + b"\x00", aad)
            if self.icv_size != 16:  # NIST SP 800-38D §5.2.1.2: keep the tag's leading octets
                sealed = sealed[: len(sealed) - 16 + self.icv_size]
            return aad + iv + sealed
        bs = self.block_size
        pad_len = -(len(plaintext) + 1) % bs
        iv = rng(bs)
        ct = self._chain.encrypt(iv, plaintext + bytes(pad_len) + bytes((pad_len,)))
        signed = _frame(header28, unencrypted, next_payload, bs + len(ct) + self.icv_size, skf)
        signed += iv + ct
        return signed + self._mac(signed)

    # -- opening --

    def open(self, message: bytes, sk_offset: int) -> bytes:
        """The inner payload chain of ``message``, whose SK/SKF payload starts at
        ``sk_offset`` and ends the message (padding removed).

        Integrity first: every octet of the message is covered by the ICV or tag, so any
        change raises IntegrityCheckFailed; framing fields (payload types, the SK payload
        length, the padding) are judged only once the message is known to be authentic,
        and raise MalformedMessage. Sizes that cannot hold IV, ICV and padding raise
        MalformedMessage at once."""
        n = len(message)
        if sk_offset < IKE_HEADER_LEN or sk_offset + SK_HEADER_LEN > n:
            raise MalformedMessage("SK payload offset outside the message", sk_offset)
        aead = self._aead_open is not None
        bs = self.block_size
        # IV, at least one block (or the Pad Length octet) and the ICV
        least = (8 + 1 if aead else 2 * bs) + self.icv_size
        if n - sk_offset - SK_HEADER_LEN < least:
            raise MalformedMessage("SK payload too short for IV, padding and ICV", sk_offset)
        if sk_offset == IKE_HEADER_LEN and message[16] == _SK:
            skf, problem = False, None  # the usual case: SK right after the header
        else:
            skf, problem = _sk_kind(message, sk_offset)
        start = sk_offset + (SKF_HEADER_LEN if skf else SK_HEADER_LEN)
        if n - start < least:  # only an SKF header can make it so: nothing to authenticate
            raise IntegrityCheckFailed("SKF payload too short to authenticate")
        if aead:
            nonce = self._salt + message[start:start + 8]
            aad = message[:start]
            try:
                if self._gcm_key is None:
                    plain = self._aead_open(nonce, message[start + 8:], aad)
                else:
                    tag_at = n - self.icv_size
                    dec = Cipher(self._gcm_key, modes.GCM(nonce, message[tag_at:],
                                                          min_tag_length=self.icv_size)
                                 ).decryptor()
                    dec.authenticate_additional_data(aad)
                    plain = dec.update(message[start + 8:tag_at])
                    dec.finalize()
            except InvalidTag:
                raise IntegrityCheckFailed("SK payload: AEAD tag does not verify") from None
            _check_framing(message, sk_offset, problem)
            return _unpad(plain, start + 8)
        icv_at = n - self.icv_size
        # RFC 7296 §3.14: the ICV is checked, in constant time, before anything else is read.
        if not hmac.compare_digest(self._mac(message[:icv_at]), message[icv_at:]):
            raise IntegrityCheckFailed("SK payload: integrity checksum does not verify")
        _check_framing(message, sk_offset, problem)
        ct_len = icv_at - start - bs
        if ct_len % bs:
            raise MalformedMessage(f"SK payload: encrypted data of {ct_len} octets is not a "
                                   f"multiple of the {bs}-octet block", sk_offset)
        plain = self._chain.decrypt(message[start:start + bs], message[start + bs:icv_at])
        return _unpad(plain, start + bs)


def _frame(header28: bytes, unencrypted: bytes, next_payload: int, body_len: int,
           skf: tuple[int, int] | None) -> bytes:
    """Header (its Length rewritten), unencrypted payloads, SK/SKF payload header."""
    if len(header28) != IKE_HEADER_LEN:
        raise ValueError("the IKE header must be 28 octets")
    if skf is None:
        sk_len = SK_HEADER_LEN + body_len
        sk_hdr = bytes((next_payload, 0)) + sk_len.to_bytes(2, "big")
    else:
        sk_len = SKF_HEADER_LEN + body_len
        number, total = skf
        sk_hdr = (bytes((next_payload, 0)) + sk_len.to_bytes(2, "big")
                  + number.to_bytes(2, "big") + total.to_bytes(2, "big"))
    length = IKE_HEADER_LEN + len(unencrypted) + sk_len
    return header28[:24] + length.to_bytes(4, "big") + unencrypted + sk_hdr


def _sk_kind(message: bytes, sk_offset: int) -> tuple[bool, str | None]:
    """(is SKF, framing problem or None), from the payload chain before ``sk_offset``.

    Nothing is raised here: the caller verifies integrity first (a tampered type or
    length then fails as IntegrityCheckFailed) and reports the problem afterwards."""
    ptype = message[16]  # the header's Next Payload
    off = IKE_HEADER_LEN
    while off < sk_offset:  # almost always zero iterations: SK follows the header
        plen = int.from_bytes(message[off + 2:off + 4], "big")
        if plen < SK_HEADER_LEN:
            return False, f"payload at offset {off}: length {plen} < 4"
        ptype = message[off]
        off += plen
    if off != sk_offset:
        return False, "the payload chain does not reach the SK payload"
    if ptype == _SKF:
        if sk_offset + SKF_HEADER_LEN > len(message):
            return False, "SKF payload header truncated"
        return True, None
    if ptype != _SK:
        return False, f"payload at offset {sk_offset} is type {ptype}, not SK/SKF"
    return False, None


def _check_framing(message: bytes, sk_offset: int, problem: str | None) -> None:
    """Raise MalformedMessage for a framing problem of an authentic message."""
    if problem is None:
        sk_len = int.from_bytes(message[sk_offset + 2:sk_offset + 4], "big")
        if sk_offset + sk_len != len(message):
            problem = f"SK payload length {sk_len} does not end the message"
    if problem is not None:
        raise MalformedMessage(problem, sk_offset)


def _unpad(plain: bytes, offset: int) -> bytes:
    pad_len = plain[-1]
    if pad_len >= len(plain):
        raise MalformedMessage(f"pad length {pad_len} exceeds the decrypted data "
                               f"({len(plain)} octets)", offset)
    return plain[: len(plain) - pad_len - 1]
