"""Single-DES blocks over libcrypto for MS-CHAPv2's ChallengeResponse (RFC 2759 §8.5-8.6).

Owns: DesEncrypt (one 8-octet block under a 56-bit key spread over 8 octets, §8.6) and
ChallengeResponse (the challenge under the three keys sliced from the zero-padded
21-octet NT hash, §8.5). OpenSSL 3 keeps single DES in its legacy provider; 3DES with
K1 = K2 = K3 is DES and lives in the default one, so that is what is fetched, once.
``cryptography`` does the same in ikesrv.auth.eap.mschapv2's reference path, which the
tests compare with this module; here it costs one key schedule per block, no Python
objects and no cipher context allocation per call.

Imports nothing from ikesrv. Every function runs to completion holding the GIL, so the
module's one cipher context is never used by two calls at once. Keys on the stack are
wiped with OPENSSL_cleanse.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy, memset

from ikesrv._fast.openssl cimport (
    ERR_clear_error, EVP_CIPHER, EVP_CIPHER_CTX, EVP_CIPHER_CTX_new,
    EVP_CIPHER_CTX_set_padding, EVP_CIPHER_fetch, EVP_EncryptInit_ex2, EVP_EncryptUpdate,
    OPENSSL_cleanse,
)


class LibcryptoError(RuntimeError):
    """libcrypto failed where it cannot fail on valid input (allocation, missing provider)."""


cdef EVP_CIPHER *_des3 = NULL
cdef EVP_CIPHER_CTX *_ctx = NULL


cdef int _fail(str what) except -1:
    ERR_clear_error()
    raise LibcryptoError(f"libcrypto: {what} failed")


cdef int _setup() except -1:
    global _des3, _ctx
    _des3 = EVP_CIPHER_fetch(NULL, b"DES-EDE3-ECB", NULL)
    if _des3 == NULL:
        _fail("EVP_CIPHER_fetch(DES-EDE3-ECB)")
    _ctx = EVP_CIPHER_CTX_new()
    if _ctx == NULL:
        _fail("EVP_CIPHER_CTX_new")
    return 0


_setup()


cdef void expand_key(const unsigned char *key7, unsigned char *key8) noexcept nogil:
    """§8.6: 7 key bits per octet, high bits first; the low (parity) bit left 0."""
    cdef unsigned long long k = 0
    cdef int i
    for i in range(DES_KEY7):
        k = (k << 8) | key7[i]
    for i in range(DES_BLOCK):
        key8[i] = <unsigned char>(((k >> (49 - 7 * i)) & 0x7F) << 1)


cdef int des_block(const unsigned char *key7, const unsigned char *clear,
                   unsigned char *out) except -1:
    cdef unsigned char key[3 * DES_BLOCK]
    cdef int outl = 0
    expand_key(key7, key)
    memcpy(key + DES_BLOCK, key, DES_BLOCK)
    memcpy(key + 2 * DES_BLOCK, key, DES_BLOCK)
    try:
        if EVP_EncryptInit_ex2(_ctx, _des3, key, NULL, NULL) != 1:
            _fail("EVP_EncryptInit_ex2(DES-EDE3-ECB)")
        if EVP_CIPHER_CTX_set_padding(_ctx, 0) != 1:
            _fail("EVP_CIPHER_CTX_set_padding")
        if EVP_EncryptUpdate(_ctx, out, &outl, clear, DES_BLOCK) != 1 or outl != DES_BLOCK:
            _fail("EVP_EncryptUpdate(DES-EDE3-ECB)")
    finally:
        OPENSSL_cleanse(key, sizeof(key))
    return 0


cdef bytes _as_bytes(object o, Py_ssize_t length, str what):
    cdef bytes b = <bytes>o if PyBytes_Check(o) else bytes(o)
    if PyBytes_GET_SIZE(b) != length:
        raise ValueError(f"{what} must be {length} bytes, not {PyBytes_GET_SIZE(b)}")
    return b


def des_encrypt(clear, key7) -> bytes:
    """DesEncrypt(Clear, Key): one block, 8 octets of clear text under a 7-octet key."""
    cdef bytes c = _as_bytes(clear, DES_BLOCK, "clear text")
    cdef bytes k = _as_bytes(key7, DES_KEY7, "key")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, DES_BLOCK)
    des_block(<const unsigned char *>PyBytes_AS_STRING(k),
              <const unsigned char *>PyBytes_AS_STRING(c),
              <unsigned char *>PyBytes_AS_STRING(out))
    return out


def challenge_response(challenge, password_hash) -> bytes:
    """ChallengeResponse(Challenge, PasswordHash): 24 octets (RFC 2759 §8.5)."""
    cdef bytes c = _as_bytes(challenge, DES_BLOCK, "challenge")
    cdef bytes h = _as_bytes(password_hash, 16, "password hash")
    cdef unsigned char z[21]
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 3 * DES_BLOCK)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    cdef const unsigned char *cp = <const unsigned char *>PyBytes_AS_STRING(c)
    cdef int i
    memset(z, 0, sizeof(z))
    memcpy(z, PyBytes_AS_STRING(h), 16)
    try:
        for i in range(3):
            des_block(z + DES_KEY7 * i, cp, o + DES_BLOCK * i)
    finally:
        OPENSSL_cleanse(z, sizeof(z))
    return out
