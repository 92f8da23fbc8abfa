"""MD4 (RFC 1320) in plain Python: the oracle for ikesrv._fast.md4.

Written from the RFC's description (§3.1-§3.5), word by word, with no attempt at speed:
the tests compare the compiled digest with this one on the RFC 1320 §A.5 suite and on
random inputs, and the benchmark measures what compiling it buys. Imports nothing.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF
# §3.4: message word and rotation per step, and the constant of each round
_WORDS = (tuple(range(16)),
          (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
          (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15))
_SHIFTS = ((3, 7, 11, 19), (3, 5, 9, 13), (3, 9, 11, 15))
_CONSTANTS = (0, 0x5A827999, 0x6ED9EBA1)


def _f(x: int, y: int, z: int) -> int:
    return (x & y) | (~x & z)


def _g(x: int, y: int, z: int) -> int:
    return (x & y) | (x & z) | (y & z)


def _h(x: int, y: int, z: int) -> int:
    return x ^ y ^ z


_FUNCTIONS = (_f, _g, _h)


def _rotl(x: int, n: int) -> int:
    x &= _MASK
    return ((x << n) | (x >> (32 - n))) & _MASK


def md4(data: bytes) -> bytes:
    """MD4 of ``data``, 16 bytes."""
    message = bytes(data)
    bit_length = (8 * len(message)) & 0xFFFFFFFFFFFFFFFF
    # §3.1-§3.2: one 1 bit, zeros up to 56 mod 64 bytes, the length in 64 bits LE
    message += b"\x80" + b"\x00" * ((55 - len(message)) % 64)
    message += struct.pack("<Q", bit_length)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]  # §3.3
    for offset in range(0, len(message), 64):
        x = struct.unpack("<16I", message[offset:offset + 64])
        a, b, c, d = state
        for rnd in range(3):
            fn, constant = _FUNCTIONS[rnd], _CONSTANTS[rnd]
            for step, k in enumerate(_WORDS[rnd]):
                t = _rotl(a + fn(b, c, d) + x[k] + constant, _SHIFTS[rnd][step % 4])
                a, b, c, d = d, t, b, c  # [ABCD k s] then [DABC k s] ...
        state = [(s + v) & _MASK for s, v in zip(state, (a, b, c, d))]
    return struct.pack("<4I", *state)
