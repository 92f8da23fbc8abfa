"""The MD4 message digest (RFC 1320) in C loops, for the NT password hash of MS-CHAPv2.

Owns: MD4 over bytes, one-shot (``md4``) and the C-level incremental functions declared
in md4.pxd. OpenSSL 3 keeps MD4 in its legacy provider, which Python's hashlib and the
``cryptography`` package do not load, so ikesrv carries its own. MD4 is broken as a
collision-resistant hash; MS-CHAPv2 fixes it for NtPasswordHash (RFC 2759 §8.3) and
HashNtPasswordHash (§8.7) and nothing else in ikesrv may use it.

Imports nothing from ikesrv; the facade ikesrv.auth.eap.md4 re-exports it and
ikesrv.auth.eap.md4_reference is the pure-Python oracle the tests compare it with.
The compression function works on C integers with no Python object in the loop.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy, memset

# RFC 1320 §3.4: per step, the message word used and the rotation; the round constants.
cdef int _WORD[48]
cdef int _SHIFT[48]
cdef uint32_t _ROUND_CONSTANT[3]

_words = (list(range(16))
          + [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]
          + [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15])
_shifts = [3, 7, 11, 19] * 4 + [3, 5, 9, 13] * 4 + [3, 9, 11, 15] * 4
for _i in range(48):
    _WORD[_i] = _words[_i]
    _SHIFT[_i] = _shifts[_i]
_ROUND_CONSTANT[0] = 0
_ROUND_CONSTANT[1] = 0x5A827999  # sqrt(2) * 2^30 (RFC 1320 §3.4, round 2)
_ROUND_CONSTANT[2] = 0x6ED9EBA1  # sqrt(3) * 2^30 (round 3)
del _words, _shifts, _i


cdef inline uint32_t _rotl(uint32_t x, int n) noexcept nogil:
    return (x << n) | (x >> (32 - n))


cdef void _compress(uint32_t *h, const unsigned char *block) noexcept nogil:
    cdef uint32_t x[16]
    cdef uint32_t a = h[0], b = h[1], c = h[2], d = h[3], f, t
    cdef int i, r
    for i in range(16):  # §3.4: words are little-endian
        x[i] = (<uint32_t>block[4 * i] | (<uint32_t>block[4 * i + 1] << 8)
                | (<uint32_t>block[4 * i + 2] << 16) | (<uint32_t>block[4 * i + 3] << 24))
    for i in range(48):
        r = i >> 4
        if r == 0:
            f = (b & c) | (~b & d)  # F
        elif r == 1:
            f = (b & c) | (b & d) | (c & d)  # G
        else:
            f = b ^ c ^ d  # H
        t = _rotl(a + f + x[_WORD[i]] + _ROUND_CONSTANT[r], _SHIFT[i])
        # [ABCD k s] then [DABC k s]: the register just written becomes "b"
        a = d
        d = c
        c = b
        b = t
    h[0] += a
    h[1] += b
    h[2] += c
    h[3] += d
    memset(x, 0, sizeof(x))


cdef void md4_init(Md4State *s) noexcept nogil:
    s.h[0] = 0x67452301  # §3.3
    s.h[1] = 0xEFCDAB89
    s.h[2] = 0x98BADCFE
    s.h[3] = 0x10325476
    s.length = 0
    s.filled = 0


cdef void md4_update(Md4State *s, const unsigned char *data, size_t length) noexcept nogil:
    cdef size_t take
    s.length += length
    if s.filled:
        take = MD4_BLOCK - s.filled
        if take > length:
            take = length
        memcpy(s.buffer + s.filled, data, take)
        s.filled += take
        data += take
        length -= take
        if s.filled < MD4_BLOCK:
            return
        _compress(s.h, s.buffer)
        s.filled = 0
    while length >= MD4_BLOCK:
        _compress(s.h, data)
        data += MD4_BLOCK
        length -= MD4_BLOCK
    if length:
        memcpy(s.buffer, data, length)
        s.filled = length


cdef void md4_final(Md4State *s, unsigned char *out) noexcept nogil:
    cdef uint64_t bits = s.length << 3
    cdef int i
    # §3.1-3.2: a 1 bit, zeros to 56 mod 64 bytes, then the bit length little-endian
    s.buffer[s.filled] = 0x80
    s.filled += 1
    if s.filled > 56:
        memset(s.buffer + s.filled, 0, MD4_BLOCK - s.filled)
        _compress(s.h, s.buffer)
        s.filled = 0
    memset(s.buffer + s.filled, 0, 56 - s.filled)
    for i in range(8):
        s.buffer[56 + i] = <unsigned char>(bits >> (8 * i))
    _compress(s.h, s.buffer)
    for i in range(4):
        out[4 * i] = <unsigned char>s.h[i]
        out[4 * i + 1] = <unsigned char>(s.h[i] >> 8)
        out[4 * i + 2] = <unsigned char>(s.h[i] >> 16)
        out[4 * i + 3] = <unsigned char>(s.h[i] >> 24)
    memset(s, 0, sizeof(Md4State))  # the state held a password hash's input


cdef void md4_digest(const unsigned char *data, size_t length, unsigned char *out) noexcept nogil:
    cdef Md4State s
    md4_init(&s)
    md4_update(&s, data, length)
    md4_final(&s, out)


def md4(data) -> bytes:
    """MD4 of ``data`` (bytes, or any buffer: copied into bytes once), 16 bytes."""
    cdef bytes b = <bytes>data if PyBytes_Check(data) else bytes(data)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, MD4_DIGEST)
    md4_digest(<const unsigned char *>PyBytes_AS_STRING(b), <size_t>PyBytes_GET_SIZE(b),
               <unsigned char *>PyBytes_AS_STRING(out))
    return out
