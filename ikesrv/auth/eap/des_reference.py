"""DesEncrypt and ChallengeResponse (RFC 2759 §8.5-8.6) over ``cryptography``: the oracle
for ikesrv._fast.des.

Single DES is 3DES with three equal keys (OpenSSL 3 keeps plain DES in its legacy
provider). A cipher object per block makes this several times slower than the compiled
module; the tests compare the two on the RFC 2759 §9.2 vector and random inputs.
Imports ``cryptography`` only.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, modes

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # cryptography < 43
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES


def des_key(key7: bytes) -> bytes:
    """§8.6: 56 key bits spread over 8 octets, 7 per octet, the low (parity) bit left 0."""
    k = int.from_bytes(key7, "big")
    return bytes(((k >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def des_encrypt(clear: bytes, key7: bytes) -> bytes:
    """§8.6 DesEncrypt: one DES block in ECB mode."""
    encryptor = Cipher(TripleDES(des_key(key7) * 3), modes.ECB()).encryptor()
    return encryptor.update(clear) + encryptor.finalize()


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """§8.5: the 8-octet challenge under the hash padded to 21 octets, three keys."""
    z = password_hash + bytes(21 - len(password_hash))
    return b"".join(des_encrypt(challenge, z[i:i + 7]) for i in (0, 7, 14))
