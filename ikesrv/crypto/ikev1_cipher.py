"""IKEv1 payload encryption: CBC with the IV chaining of RFC 2409 Appendix B.

Owns: encrypting and decrypting the bytes after the ISAKMP header of a message with the
E flag set (RFC 2408 §3.1), and the IV state that goes with it for one ISAKMP SA:

  - phase 1 (Message ID 0): the first IV is HASH(g^xi | g^xr) truncated to the block size
    (``ikev1_keys.initial_iv``, given to the constructor); every later phase 1 message
    uses the last ciphertext block of the previous one, sent or received;
  - each exchange after phase 1 (Quick Mode, Informational, Transaction) has its own IV
    chain per Message ID, starting from HASH(last phase 1 ciphertext block | M-ID)
    truncated to the block size, then chaining within that exchange as above.

Padding on encryption is zero octets followed by one octet counting them, so there is
always at least one padding octet (RFC 2409 §5; RFC 2408 §3.1: the header Length covers
it). Decryption returns the padded plaintext: the payload decoder stops at Next Payload
0 and ignores what follows, since peers pad in different ways.

A message decrypted with ``advance=False`` leaves the IV state alone until its HASH has
been verified and ``advance(message_id, ciphertext)`` is called, so that a forged or
garbled message cannot derail an exchange. Retransmitted requests must be recognised
before decryption (the caller compares them with the last one): decrypting one again
would advance the chain twice.

AES-CBC (128/192/256, RFC 3602) and 3DES-CBC (weak, RFC 2451).
Must not import: ikesrv.wire or anything above ikesrv.crypto.
"""

from __future__ import annotations

import hashlib

from .._fast import isakmp as _isakmp
from ..errors import MalformedMessage
from .sk import cbc_cipher
from .transforms import ENCR, V1_HASH_NAMES


class Ikev1Cipher:
    """Encryption and IV state of one ISAKMP SA (both directions share the chain)."""

    __slots__ = ("encr_id", "block_size", "_chain", "_hash", "_ivs")

    def __init__(self, encr_id: int, key: bytes, hash_algorithm: int | str, initial_iv: bytes):
        """``encr_id``: IKEv2 ENCR ID of the negotiated cipher (V1Phase1Selection.encr);
        ``key``: the encryption key, expanded to the cipher's length (RFC 2409 App. B);
        ``hash_algorithm``: V1HashAlgorithm (or hashlib name) of the SA, for IV derivation;
        ``initial_iv``: HASH(g^xi | g^xr), truncated here to the block size if longer."""
        e = ENCR.get(encr_id)
        if e is None or e.v1_ike is None or not e.ike:
            raise ValueError(f"encryption algorithm {encr_id} is not supported for IKEv1")
        if len(key) * 8 not in e.key_bits:
            raise ValueError(f"{e.name} needs a key of {e.key_bits} bits, got {len(key) * 8}")
        self.encr_id = int(encr_id)
        self.block_size = e.block_size
        self._chain = cbc_cipher(encr_id, key)
        name = hash_algorithm if isinstance(hash_algorithm, str) else V1_HASH_NAMES[hash_algorithm]
        self._hash = name
        if len(initial_iv) < self.block_size:
            raise ValueError("the initial IV is shorter than the cipher block")
        self._ivs: dict[int, bytes] = {0: bytes(initial_iv[: self.block_size])}

    def __repr__(self) -> str:  # never the key
        return f"<Ikev1Cipher {ENCR[self.encr_id].name} {self._hash}>"

    def iv(self, message_id: int = 0) -> bytes:
        """The IV the next message of exchange ``message_id`` uses (RFC 2409 App. B)."""
        iv = self._ivs.get(message_id)
        if iv is None:
            digest = hashlib.new(self._hash, self._ivs[0] + message_id.to_bytes(4, "big")).digest()
            iv = self._ivs[message_id] = digest[: self.block_size]
        return iv

    def encrypt(self, plain: bytes, message_id: int = 0) -> bytes:
        """Pad and encrypt a payload chain; the IV of ``message_id`` moves on."""
        bs = self.block_size
        pad = -(len(plain) + 1) % bs
        cipher = self._chain.encrypt(self.iv(message_id), plain + bytes(pad) + bytes((pad,)))
        self._ivs[message_id] = cipher[-bs:]
        return cipher

    def seal(self, spi_i: bytes, spi_r: bytes, first: int, exchange: int, message_id: int,
             head: bytes, body: bytes) -> bytes:
        """The whole message to send: ISAKMP header with the Encryption flag, then ``head |
        body`` padded and encrypted as ``encrypt`` does (in one pass, ikesrv._fast.isakmp);
        the IV of ``message_id`` moves on."""
        out = _isakmp.seal(self._chain, self.iv(message_id), spi_i, spi_r, first, exchange,
                           message_id, head, body)
        self._ivs[message_id] = out[-self.block_size:]
        return out

    def decrypt(self, cipher: bytes, message_id: int = 0, *, advance: bool = True) -> bytes:
        """Decrypt the bytes after the header (padding kept). MalformedMessage when their
        length is not a positive multiple of the block size."""
        bs = self.block_size
        if not cipher or len(cipher) % bs:
            raise MalformedMessage(f"encrypted IKEv1 payloads: {len(cipher)} octets is not a "
                                   f"positive multiple of the {bs}-octet block", 28)
        plain = self._chain.decrypt(self.iv(message_id), cipher)
        if advance:
            self._ivs[message_id] = cipher[-bs:]
        return plain

    def advance(self, message_id: int, cipher: bytes) -> None:
        """Move the IV of ``message_id`` past a message decrypted with ``advance=False``."""
        self._ivs[message_id] = bytes(cipher[-self.block_size:])

    def forget(self, message_id: int) -> None:
        """Drop the IV of a finished exchange (never phase 1's)."""
        if message_id:
            self._ivs.pop(message_id, None)
