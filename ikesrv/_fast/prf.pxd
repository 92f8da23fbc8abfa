# C-level interface of ikesrv._fast.prf: keyed PRFs, prf+ and the IKE key schedules.
#
# The Python-facing names are documented in prf.pyx; ikesrv.crypto.prf, .keys and
# .ikev1_keys are the facades the rest of ikesrv imports. The inline helpers at the end
# are shared with dh.pyx.

from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE,
)

cdef enum:
    # Algorithm numbers of this module (not IANA numbers: the facades map those).
    ALG_MD5 = 0
    ALG_SHA1 = 1
    ALG_SHA256 = 2
    ALG_SHA384 = 3
    ALG_SHA512 = 4
    ALG_AES128_XCBC = 5
    ALG_AES128_CMAC = 6
    ALG_COUNT = 7
    N_DIGESTS = 5          # ALG_MD5 .. ALG_SHA512 are plain hashes (and HMAC)
    MAX_BLOCK = 128        # largest hash block (SHA-384/512)
    MAX_OUT = 64           # largest PRF output (SHA-512)
    AES_BLOCK = 16
    MAX_CHUNKS = 8         # most pieces one PRF input is made of (IKEv1 HASH_I has 6)

# A borrowed (pointer, length) slice of a Python buffer: PRF inputs are concatenations
# of several protocol fields, fed to the MAC piece by piece instead of being joined.
cdef struct Chunk:
    const unsigned char *ptr
    size_t len

# A PRF keyed once and used for many blocks (prf+ iterations, SKEYID_d/a/e).
cdef struct Keyed:
    int alg
    int out_len
    int block
    unsigned char ipad[MAX_BLOCK]    # HMAC: K xor ipad (RFC 2104)
    unsigned char opad[MAX_BLOCK]    # HMAC: K xor opad
    unsigned char k1[AES_BLOCK]      # XCBC: K1, K2, K3 (RFC 3566 §4); CMAC: the AES key
    unsigned char k2[AES_BLOCK]
    unsigned char k3[AES_BLOCK]

# Raise LibcryptoError after clearing OpenSSL's error queue.
cdef int fail_libcrypto(str what) except -1
cdef int setup() except -1
cdef int check_alg(int alg) except -1

cdef int digest_into(int alg, const Chunk *parts, int nparts, unsigned char *out) except -1
cdef int aes_begin(const unsigned char *key) except -1
cdef int aes_block(const unsigned char *inp, unsigned char *out) except -1
cdef int xcbc_subkeys(Keyed *k, const unsigned char *key) except -1
cdef int xcbc_mac(Keyed *k, const Chunk *parts, int nparts, unsigned char *out) except -1
cdef int cmac_mac(const unsigned char *key, const Chunk *parts, int nparts,
                  unsigned char *out) except -1
cdef int gather(const Chunk *parts, int nparts, unsigned char *out, size_t cap) except -1

cdef int keyed_init(Keyed *k, int alg, const Chunk *key, int nkey) except -1
cdef int keyed_mac(Keyed *k, const Chunk *parts, int nparts, unsigned char *out) except -1
cdef void keyed_clear(Keyed *k) noexcept nogil
cdef int prf_plus_into(Keyed *k, const Chunk *seed, int nseed,
                       unsigned char *out, Py_ssize_t length) except -1


cdef inline bytes as_bytes(object o):
    """``o`` as bytes: itself when it already is, else one copy (bytearray, memoryview)."""
    if PyBytes_Check(o):
        return <bytes>o
    return bytes(o)


cdef inline unsigned char *bytes_ptr(bytes b) noexcept:
    return <unsigned char *>PyBytes_AS_STRING(b)


cdef inline bytes new_bytes(Py_ssize_t length):
    """A fresh, unshared bytes object of ``length`` octets to fill in place."""
    if length < 0:
        raise ValueError(f"negative length {length}")
    return PyBytes_FromStringAndSize(NULL, length)


cdef inline void set_chunk(Chunk *c, bytes b) noexcept:
    c.ptr = <const unsigned char *>PyBytes_AS_STRING(b)
    c.len = <size_t>PyBytes_GET_SIZE(b)
