"""SK payload protection (ikesrv/crypto/sk.py): µs per seal and open of a 300-octet plaintext.

Prints absolute figures per suite, then, measured in the same run, the ratios of the
design choices against their alternatives:
  - AES-CBC on ikesrv._fast.cbc.AesCbc against sk.CbcChain (one long-lived
    `cryptography` context per SA direction, what 3DES still uses) and against a fresh
    Cipher(...).encryptor() per message; and per SA direction (build + first message);
  - HMAC on ikesrv._fast.prf.mac against a pre-keyed `cryptography` HMAC copied per
    message and the stdlib's one-shot hmac.digest().

``python -m bench sk [--quick]``
"""

from __future__ import annotations

import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from ikesrv._fast.cbc import AesCbc

from bench.timing import header, ns_per_call, row
from ikesrv._fast import prf
from ikesrv.constants import EncrId, IntegId
from ikesrv.crypto.sk import CbcChain, SkCipher

PLAINTEXT_LEN = 300
# IKE header: IKE_AUTH request from the initiator, Next Payload SK
HEADER = bytes(range(16)) + bytes((46, 0x20, 35, 0x08)) + bytes(8)

SUITES = [
    ("AES-GCM-256 (16-octet ICV)", EncrId.ENCR_AES_GCM_16, 36, IntegId.NONE, 0),
    ("AES-GCM-128 (8-octet ICV)", EncrId.ENCR_AES_GCM_8, 20, IntegId.NONE, 0),
    ("ChaCha20-Poly1305", EncrId.ENCR_CHACHA20_POLY1305, 36, IntegId.NONE, 0),
    ("AES-CBC-256 + HMAC-SHA2-256-128", EncrId.ENCR_AES_CBC, 32,
     IntegId.AUTH_HMAC_SHA2_256_128, 32),
    ("AES-CBC-128 + AES-XCBC-96", EncrId.ENCR_AES_CBC, 16, IntegId.AUTH_AES_XCBC_96, 16),
]


def main(argv: list[str]) -> int:
    min_time = 0.05 if "--quick" in argv else 0.3
    plaintext = os.urandom(PLAINTEXT_LEN)
    print(f"\n== SK payload, {PLAINTEXT_LEN}-octet plaintext (µs per message, best of 5)")
    print(f"{'suite':<40} {'seal':>10} {'open':>10}")
    for name, encr, encr_len, integ, integ_len in SUITES:
        encr_key, integ_key = os.urandom(encr_len), os.urandom(integ_len)
        sender = SkCipher(encr, encr_key, integ, integ_key)
        receiver = SkCipher(encr, encr_key, integ, integ_key)
        message = sender.seal(HEADER, b"", 41, plaintext, os.urandom)
        # open is timed on the same message again and again: CbcChain corrects for its
        # running state, so every call is a complete, correct decryption.
        seal_ns = ns_per_call(lambda: sender.seal(HEADER, b"", 41, plaintext, os.urandom),
                              min_time=min_time)
        open_ns = ns_per_call(lambda: receiver.open(message, 28), min_time=min_time)
        print(f"{name:<40} {seal_ns / 1000:>8.2f} µs {open_ns / 1000:>8.2f} µs")

    print(header("design choices (ikesrv's choice vs the alternative)"))
    key = os.urandom(32)
    padded = os.urandom(304)
    iv = os.urandom(16)
    chain = CbcChain(algorithms.AES(key))
    aes = algorithms.AES(key)

    def per_message_context() -> bytes:
        return Cipher(aes, modes.CBC(iv)).encryptor().update(padded)

    fast = AesCbc(key)
    cbc_fast = ns_per_call(lambda: fast.encrypt(iv, padded), min_time=min_time)
    print(row("AES-CBC 304 B: AesCbc / CbcChain", cbc_fast, ns_per_call(
        lambda: chain.encrypt(iv, padded), min_time=min_time)))
    print(row("AES-CBC 304 B: AesCbc / new context", cbc_fast,
              ns_per_call(per_message_context, min_time=min_time)))
    print(row("AES-CBC new SA dir: AesCbc / CbcChain", ns_per_call(
        lambda: AesCbc(key).encrypt(iv, padded), min_time=min_time), ns_per_call(
        lambda: CbcChain(algorithms.AES(key)).encrypt(iv, padded), min_time=min_time)))

    mac_key = os.urandom(32)
    signed = os.urandom(360)
    keyed = crypto_hmac.HMAC(mac_key, hashes.SHA256())

    def keyed_copy() -> bytes:
        h = keyed.copy()
        h.update(signed)
        return h.finalize()

    mac_fast = ns_per_call(lambda: prf.mac(prf.SHA256, mac_key, signed), min_time=min_time)
    print(row("HMAC-SHA256 360 B: prf.mac / keyed copy", mac_fast,
              ns_per_call(keyed_copy, min_time=min_time)))
    print(row("HMAC-SHA256 360 B: prf.mac / hmac.digest", mac_fast,
              ns_per_call(lambda: hmac.digest(mac_key, signed, "sha256"), min_time=min_time)))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
