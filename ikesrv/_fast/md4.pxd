# C-level interface of ikesrv._fast.md4: the MD4 message digest (RFC 1320).
#
# ikesrv.auth.eap.md4 is the facade the rest of ikesrv imports; see md4.pyx for the
# behaviour. MD4 is broken as a general hash and serves only the NT password hash
# (MS-CHAPv2, RFC 2759 §8.3) and its hash (RFC 2759 §8.7), where the protocol fixes it.

from libc.stdint cimport uint32_t, uint64_t

cdef enum:
    MD4_BLOCK = 64         # bytes per compression block (RFC 1320 §3.4)
    MD4_DIGEST = 16        # bytes of output (RFC 1320 §3.5)

# The running state of one digest: four words, the bytes seen and a partial block.
cdef struct Md4State:
    uint32_t h[4]
    uint64_t length
    unsigned char buffer[MD4_BLOCK]
    size_t filled

cdef void md4_init(Md4State *s) noexcept nogil
cdef void md4_update(Md4State *s, const unsigned char *data, size_t length) noexcept nogil
cdef void md4_final(Md4State *s, unsigned char *out) noexcept nogil
cdef void md4_digest(const unsigned char *data, size_t length, unsigned char *out) noexcept nogil
