# C-level interface of ikesrv._fast.des: single DES blocks for MS-CHAPv2 (RFC 2759 §8.5-8.6).
#
# ikesrv.auth.eap.mschapv2 is the facade; see des.pyx for the behaviour.

cdef enum:
    DES_BLOCK = 8
    DES_KEY7 = 7     # 56 key bits as MS-CHAPv2 slices them from the NT hash

cdef void expand_key(const unsigned char *key7, unsigned char *key8) noexcept nogil
cdef int des_block(const unsigned char *key7, const unsigned char *clear,
                   unsigned char *out) except -1
