"""AES-CBC for the SK payload, on one OpenSSL context per direction and no Python objects.

Owns: ``AesCbc(key)``: ``encrypt(iv, data)`` and ``decrypt(iv, data)`` of whole blocks
(the SK padding is the caller's, RFC 7296 §3.14), with no cipher padding. Each direction's
EVP_CIPHER_CTX is keyed at its first use (an SA direction only ever encrypts or only
decrypts) and re-initialised per message with that message's IV alone, so the AES key
schedule runs once per SA direction. The key is kept only inside the contexts, which are
freed (and cleansed by OpenSSL) with the object.

Why: ``cryptography``'s Cipher objects cost microseconds to build per SA direction and
are four Python objects the garbage collector tracks for the life of the SA. This type
holds no Python object, so the collector never sees it.

Imports nothing from ikesrv. Raises ValueError for caller mistakes (key or IV length,
data not whole blocks) and LibcryptoError if libcrypto fails (allocation).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

from ikesrv._fast.openssl cimport (
    ERR_clear_error, EVP_CIPHER, EVP_CIPHER_CTX, EVP_CIPHER_CTX_free, EVP_CIPHER_CTX_new,
    EVP_CIPHER_CTX_set_padding, EVP_CIPHER_fetch, EVP_DecryptInit_ex2, EVP_DecryptUpdate,
    EVP_EncryptInit_ex2, EVP_EncryptUpdate, OPENSSL_cleanse,
)

DEF AES_BLOCK = 16


class LibcryptoError(RuntimeError):
    """libcrypto failed where it cannot fail on valid input (allocation, missing provider)."""


cdef EVP_CIPHER *_aes_cbc[3]  # AES-128-CBC, AES-192-CBC, AES-256-CBC


cdef int _fail(str what) except -1:
    ERR_clear_error()  # leave nothing on the queue for another library to trip over
    raise LibcryptoError(f"libcrypto: {what} failed")


cdef int _setup() except -1:
    cdef int i
    names = (b"AES-128-CBC", b"AES-192-CBC", b"AES-256-CBC")
    for i in range(3):
        _aes_cbc[i] = EVP_CIPHER_fetch(NULL, <bytes>names[i], NULL)
        if _aes_cbc[i] == NULL:
            _fail("EVP_CIPHER_fetch(" + names[i].decode() + ")")
    return 0


_setup()


cdef bytes _as_bytes(obj):
    return obj if type(obj) is bytes else bytes(obj)


cdef class AesCbc:
    """AES-CBC under one key (16, 24 or 32 octets); see the module docstring."""

    cdef EVP_CIPHER_CTX *_enc
    cdef EVP_CIPHER_CTX *_dec
    cdef unsigned char _key[32]
    cdef int _key_len
    cdef const EVP_CIPHER *_cipher

    def __cinit__(self, key):
        cdef bytes k = _as_bytes(key)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(k)
        if n not in (16, 24, 32):
            raise ValueError(f"AES key of {n} octets (16, 24 or 32)")
        self._key_len = <int>n
        self._cipher = _aes_cbc[(n - 16) // 8]
        cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(k)
        cdef int i
        for i in range(n):
            self._key[i] = p[i]
        self._enc = NULL
        self._dec = NULL

    def __dealloc__(self):
        if self._enc != NULL:
            EVP_CIPHER_CTX_free(self._enc)
        if self._dec != NULL:
            EVP_CIPHER_CTX_free(self._dec)
        OPENSSL_cleanse(self._key, 32)

    def __repr__(self):  # never the key
        return f"<AesCbc AES-{self._key_len * 8}>"

    def __reduce__(self):
        raise TypeError("AesCbc holds a key: it is not pickled")

    cdef EVP_CIPHER_CTX *_context(self, bint encrypt) except NULL:
        cdef EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new()
        if ctx == NULL:
            _fail("EVP_CIPHER_CTX_new")
        cdef int ok
        if encrypt:
            ok = EVP_EncryptInit_ex2(ctx, self._cipher, self._key, NULL, NULL)
        else:
            ok = EVP_DecryptInit_ex2(ctx, self._cipher, self._key, NULL, NULL)
        if ok != 1 or EVP_CIPHER_CTX_set_padding(ctx, 0) != 1:
            EVP_CIPHER_CTX_free(ctx)
            _fail("EVP_CipherInit_ex2(AES-CBC)")
        if encrypt:
            self._enc = ctx
        else:
            self._dec = ctx
        # only the contexts keep the key from now on once both exist
        if self._enc != NULL and self._dec != NULL:
            OPENSSL_cleanse(self._key, 32)
        return ctx

    cdef bytes _run(self, bint encrypt, iv, data):
        cdef bytes ivb = _as_bytes(iv)
        cdef bytes db = _as_bytes(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(db)
        if PyBytes_GET_SIZE(ivb) != AES_BLOCK:
            raise ValueError(f"AES-CBC IV of {PyBytes_GET_SIZE(ivb)} octets (16)")
        if n == 0 or n % AES_BLOCK or n > 0x7FFF0000:
            raise ValueError(f"AES-CBC over {n} octets: a non-empty multiple of 16")
        cdef EVP_CIPHER_CTX *ctx = self._enc if encrypt else self._dec
        if ctx == NULL:
            ctx = self._context(encrypt)
        cdef const unsigned char *ivp = <const unsigned char *>PyBytes_AS_STRING(ivb)
        cdef int ok
        if encrypt:
            ok = EVP_EncryptInit_ex2(ctx, NULL, NULL, ivp, NULL)
        else:
            ok = EVP_DecryptInit_ex2(ctx, NULL, NULL, ivp, NULL)
        if ok != 1:
            _fail("EVP_CipherInit_ex2(IV)")
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
        cdef int outl = 0
        if encrypt:
            ok = EVP_EncryptUpdate(ctx, <unsigned char *>PyBytes_AS_STRING(out), &outl,
                                   <const unsigned char *>PyBytes_AS_STRING(db), <int>n)
        else:
            ok = EVP_DecryptUpdate(ctx, <unsigned char *>PyBytes_AS_STRING(out), &outl,
                                   <const unsigned char *>PyBytes_AS_STRING(db), <int>n)
        if ok != 1 or outl != n:
            _fail("EVP_CipherUpdate(AES-CBC)")
        return out

    def encrypt(self, iv, data):
        """CBC-encrypt ``data`` (a non-empty multiple of 16 octets) under ``iv``."""
        return self._run(True, iv, data)

    def decrypt(self, iv, data):
        """CBC-decrypt ``data`` (a non-empty multiple of 16 octets) under ``iv``."""
        return self._run(False, iv, data)
