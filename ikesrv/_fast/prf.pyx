"""Keyed PRFs, prf+ and the IKEv1/IKEv2 key schedules, over libcrypto with no Python in the loop.

Owns: HMAC (RFC 2104) over MD5/SHA-1/SHA-2, AES-XCBC-PRF-128 (RFC 4434 over RFC 3566),
AES-CMAC-PRF-128 (RFC 4615 over RFC 4493), plain digests, prf+ (RFC 7296 §2.13), the
IKEv2 key schedules (SKEYSEED and the seven keys §2.14, IKE SA rekey §2.18, CHILD SA
KEYMAT §2.17) and the IKEv1 ones (RFC 2409 §5: SKEYID_d/a/e, App. B key expansion, §5.5
Quick Mode KEYMAT). Algorithms are this module's ALG_* numbers; the facades in
ikesrv.crypto map IANA numbers and names onto them.

Imports nothing from ikesrv (the facades import it). It raises ValueError or TypeError
only for caller mistakes (unknown algorithm, impossible length, not a buffer) and
LibcryptoError if libcrypto itself fails (allocation): no peer input can make it fail.

Inputs are ``bytes`` (any other buffer is copied into bytes once): reading a bytes object's
pointer costs ~1 ns where acquiring a typed memoryview costs ~60 ns per argument, which
would be a sixth of an HMAC. Intermediate secrets live on the C stack and are wiped with
OPENSSL_cleanse before returning. The module keeps one scratch EVP_MD_CTX, one AES context
and one CMAC context: every function runs to completion holding the GIL, so they are never
shared between two calls at once.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy, memset

from ikesrv._fast.openssl cimport (
    ERR_clear_error, EVP_CIPHER, EVP_CIPHER_CTX, EVP_CIPHER_CTX_new,
    EVP_CIPHER_CTX_set_padding, EVP_CIPHER_fetch, EVP_DigestFinal_ex, EVP_DigestInit_ex2,
    EVP_DigestUpdate, EVP_EncryptInit_ex2, EVP_EncryptUpdate, EVP_MAC, EVP_MAC_CTX,
    EVP_MAC_CTX_new, EVP_MAC_CTX_set_params, EVP_MAC_fetch, EVP_MAC_final, EVP_MAC_init,
    EVP_MAC_update, EVP_MD, EVP_MD_CTX, EVP_MD_CTX_new, EVP_MD_fetch, EVP_MD_get_block_size,
    EVP_MD_get_size, OPENSSL_cleanse, OSSL_PARAM, OSSL_PARAM_construct_end,
    OSSL_PARAM_construct_utf8_string,
)


class LibcryptoError(RuntimeError):
    """libcrypto failed where it cannot fail on valid input (allocation, missing provider)."""


# Python-visible algorithm numbers (the cdef enum in prf.pxd is C-only).
MD5 = ALG_MD5
SHA1 = ALG_SHA1
SHA256 = ALG_SHA256
SHA384 = ALG_SHA384
SHA512 = ALG_SHA512
AES128_XCBC = ALG_AES128_XCBC
AES128_CMAC = ALG_AES128_CMAC

_DIGEST_NAMES = (b"MD5", b"SHA1", b"SHA256", b"SHA384", b"SHA512")

cdef EVP_MD *_md[N_DIGESTS]
cdef int _out_len[ALG_COUNT]
cdef int _block[ALG_COUNT]
cdef EVP_MD_CTX *_mdctx = NULL
cdef EVP_CIPHER *_aes_ecb = NULL
cdef EVP_CIPHER_CTX *_aes_ctx = NULL
cdef EVP_MAC *_cmac = NULL
cdef EVP_MAC_CTX *_cmac_ctx = NULL

cdef unsigned char _ZERO_BLOCK[AES_BLOCK]
memset(_ZERO_BLOCK, 0, AES_BLOCK)


cdef int fail_libcrypto(str what) except -1:
    # Leave nothing on OpenSSL's per-thread error queue for another library to trip over.
    ERR_clear_error()
    raise LibcryptoError(f"libcrypto: {what} failed")


cdef int setup() except -1:
    """Fetch every algorithm once at import: fetching costs microseconds per call."""
    global _mdctx, _aes_ecb, _aes_ctx, _cmac, _cmac_ctx
    cdef int i
    cdef OSSL_PARAM params[2]
    for i in range(N_DIGESTS):
        _md[i] = EVP_MD_fetch(NULL, <bytes>_DIGEST_NAMES[i], NULL)
        if _md[i] == NULL:
            # MD5 is absent under a FIPS provider; it is only ever used when configured.
            ERR_clear_error()
            _out_len[i] = 0
            _block[i] = 0
            continue
        _out_len[i] = EVP_MD_get_size(_md[i])
        _block[i] = EVP_MD_get_block_size(_md[i])
    _out_len[ALG_AES128_XCBC] = AES_BLOCK
    _block[ALG_AES128_XCBC] = AES_BLOCK
    _out_len[ALG_AES128_CMAC] = AES_BLOCK
    _block[ALG_AES128_CMAC] = AES_BLOCK
    _mdctx = EVP_MD_CTX_new()
    if _mdctx == NULL:
        fail_libcrypto("EVP_MD_CTX_new")
    _aes_ecb = EVP_CIPHER_fetch(NULL, b"AES-128-ECB", NULL)
    if _aes_ecb == NULL:
        fail_libcrypto("EVP_CIPHER_fetch(AES-128-ECB)")
    _aes_ctx = EVP_CIPHER_CTX_new()
    if _aes_ctx == NULL:
        fail_libcrypto("EVP_CIPHER_CTX_new")
    _cmac = EVP_MAC_fetch(NULL, b"CMAC", NULL)
    if _cmac == NULL:
        fail_libcrypto("EVP_MAC_fetch(CMAC)")
    _cmac_ctx = EVP_MAC_CTX_new(_cmac)
    if _cmac_ctx == NULL:
        fail_libcrypto("EVP_MAC_CTX_new")
    params[0] = OSSL_PARAM_construct_utf8_string(b"cipher", <char *>b"AES-128-CBC", 0)
    params[1] = OSSL_PARAM_construct_end()
    if EVP_MAC_CTX_set_params(_cmac_ctx, params) != 1:
        fail_libcrypto("EVP_MAC_CTX_set_params(cipher=AES-128-CBC)")
    return 0


setup()


# --- input checks ---------------------------------------------------------------------

cdef int check_alg(int alg) except -1:
    if alg < 0 or alg >= ALG_COUNT:
        raise ValueError(f"unknown PRF algorithm {alg}")
    if alg < N_DIGESTS and _md[alg] == NULL:
        raise ValueError(f"digest {_DIGEST_NAMES[alg].decode()} is not available in libcrypto")
    return 0


# --- digests --------------------------------------------------------------------------

cdef int digest_into(int alg, const Chunk *parts, int nparts, unsigned char *out) except -1:
    cdef unsigned int n = 0
    cdef int i
    if EVP_DigestInit_ex2(_mdctx, _md[alg], NULL) != 1:
        fail_libcrypto("EVP_DigestInit_ex2")
    for i in range(nparts):
        if parts[i].len and EVP_DigestUpdate(_mdctx, parts[i].ptr, parts[i].len) != 1:
            fail_libcrypto("EVP_DigestUpdate")
    if EVP_DigestFinal_ex(_mdctx, out, &n) != 1:
        fail_libcrypto("EVP_DigestFinal_ex")
    return 0


# --- AES helpers for XCBC -------------------------------------------------------------

cdef int aes_begin(const unsigned char *key) except -1:
    if EVP_EncryptInit_ex2(_aes_ctx, _aes_ecb, key, NULL, NULL) != 1:
        fail_libcrypto("EVP_EncryptInit_ex2(AES-128-ECB)")
    if EVP_CIPHER_CTX_set_padding(_aes_ctx, 0) != 1:
        fail_libcrypto("EVP_CIPHER_CTX_set_padding")
    return 0


cdef int aes_block(const unsigned char *inp, unsigned char *out) except -1:
    cdef int outl = 0
    if EVP_EncryptUpdate(_aes_ctx, out, &outl, inp, AES_BLOCK) != 1 or outl != AES_BLOCK:
        fail_libcrypto("EVP_EncryptUpdate(AES-128-ECB)")
    return 0


cdef int xcbc_subkeys(Keyed *k, const unsigned char *key) except -1:
    """K1, K2, K3 = AES-K(0x01..01), AES-K(0x02..02), AES-K(0x03..03) (RFC 3566 §4)."""
    cdef unsigned char c[AES_BLOCK]
    aes_begin(key)
    memset(c, 0x01, AES_BLOCK)
    aes_block(c, k.k1)
    memset(c, 0x02, AES_BLOCK)
    aes_block(c, k.k2)
    memset(c, 0x03, AES_BLOCK)
    aes_block(c, k.k3)
    return 0


cdef int xcbc_mac(Keyed *k, const Chunk *parts, int nparts, unsigned char *out) except -1:
    """AES-XCBC-MAC (RFC 3566 §4) streamed over the parts, full 128-bit output."""
    cdef unsigned char e[AES_BLOCK]
    cdef unsigned char buf[AES_BLOCK]
    cdef size_t fill = 0, take, off
    cdef int i, j
    memset(e, 0, AES_BLOCK)
    aes_begin(k.k1)
    for i in range(nparts):
        off = 0
        while off < parts[i].len:
            if fill == AES_BLOCK:
                # A full block followed by more data is not the last block: E = E(K1, M ^ E).
                for j in range(AES_BLOCK):
                    buf[j] ^= e[j]
                aes_block(buf, e)
                fill = 0
            take = min(<size_t>AES_BLOCK - fill, parts[i].len - off)
            memcpy(buf + fill, parts[i].ptr + off, take)
            fill += take
            off += take
    if fill == AES_BLOCK:
        for j in range(AES_BLOCK):
            buf[j] ^= e[j] ^ k.k2[j]
    else:
        # Incomplete (or empty) last block: pad with 0x80 00.. and use K3.
        buf[fill] = 0x80
        memset(buf + fill + 1, 0, AES_BLOCK - fill - 1)
        for j in range(AES_BLOCK):
            buf[j] ^= e[j] ^ k.k3[j]
    aes_block(buf, out)
    OPENSSL_cleanse(buf, AES_BLOCK)
    OPENSSL_cleanse(e, AES_BLOCK)
    return 0


cdef int cmac_mac(const unsigned char *key, const Chunk *parts, int nparts,
                   unsigned char *out) except -1:
    cdef size_t n = 0
    cdef int i
    if EVP_MAC_init(_cmac_ctx, key, AES_BLOCK, NULL) != 1:
        fail_libcrypto("EVP_MAC_init(CMAC)")
    for i in range(nparts):
        if parts[i].len and EVP_MAC_update(_cmac_ctx, parts[i].ptr, parts[i].len) != 1:
            fail_libcrypto("EVP_MAC_update(CMAC)")
    if EVP_MAC_final(_cmac_ctx, out, &n, AES_BLOCK) != 1 or n != AES_BLOCK:
        fail_libcrypto("EVP_MAC_final(CMAC)")
    return 0


# --- keyed PRF ------------------------------------------------------------------------

cdef void keyed_clear(Keyed *k) noexcept nogil:
    OPENSSL_cleanse(k, sizeof(Keyed))


cdef int gather(const Chunk *parts, int nparts, unsigned char *out, size_t cap) except -1:
    """Concatenate parts into out (cap bytes at most); returns the length."""
    cdef size_t n = 0
    cdef int i
    for i in range(nparts):
        if n + parts[i].len > cap:
            raise ValueError("key material too long")
        if parts[i].len:
            memcpy(out + n, parts[i].ptr, parts[i].len)
        n += parts[i].len
    return <int>n


cdef int keyed_init(Keyed *k, int alg, const Chunk *key, int nkey) except -1:
    cdef size_t total = 0
    cdef int i
    cdef Keyed zero
    cdef unsigned char kk[AES_BLOCK]
    memset(k, 0, sizeof(Keyed))
    k.alg = alg
    k.out_len = _out_len[alg]
    k.block = _block[alg]
    for i in range(nkey):
        total += key[i].len
    if alg < N_DIGESTS:
        # RFC 2104 §2: keys longer than the block are hashed first, shorter ones zero-padded.
        if total > <size_t>k.block:
            digest_into(alg, key, nkey, k.ipad)
        else:
            gather(key, nkey, k.ipad, MAX_BLOCK)
        memcpy(k.opad, k.ipad, k.block)
        for i in range(k.block):
            k.ipad[i] ^= 0x36
            k.opad[i] ^= 0x5c
        return 0
    try:
        if total == AES_BLOCK:
            gather(key, nkey, kk, AES_BLOCK)
        elif alg == ALG_AES128_XCBC and total < AES_BLOCK:
            # RFC 4434 §2: a shorter key is padded with zero octets to 128 bits.
            memset(kk, 0, AES_BLOCK)
            gather(key, nkey, kk, AES_BLOCK)
        elif alg == ALG_AES128_XCBC:
            # RFC 4434 §2: a longer key is first reduced with the all-zero key.
            xcbc_subkeys(&zero, _ZERO_BLOCK)
            xcbc_mac(&zero, key, nkey, kk)
        else:
            # RFC 4615 §3: any other key length is reduced as AES-CMAC(0^128, key).
            cmac_mac(_ZERO_BLOCK, key, nkey, kk)
        if alg == ALG_AES128_XCBC:
            xcbc_subkeys(k, kk)
        else:
            memcpy(k.k1, kk, AES_BLOCK)
    finally:
        OPENSSL_cleanse(kk, AES_BLOCK)
        keyed_clear(&zero)
    return 0


cdef int keyed_mac(Keyed *k, const Chunk *parts, int nparts, unsigned char *out) except -1:
    """out = prf(K, parts[0] | parts[1] | ...); writes k.out_len bytes."""
    cdef unsigned char inner[MAX_OUT]
    cdef unsigned int n = 0
    cdef int i
    if k.alg == ALG_AES128_XCBC:
        return xcbc_mac(k, parts, nparts, out)
    if k.alg == ALG_AES128_CMAC:
        return cmac_mac(k.k1, parts, nparts, out)
    # HMAC = H(K^opad | H(K^ipad | text)) (RFC 2104 §2), re-initialising one context:
    # measured faster on OpenSSL 3.0 than copying precomputed pad states.
    if EVP_DigestInit_ex2(_mdctx, _md[k.alg], NULL) != 1:
        fail_libcrypto("EVP_DigestInit_ex2")
    if EVP_DigestUpdate(_mdctx, k.ipad, k.block) != 1:
        fail_libcrypto("EVP_DigestUpdate")
    for i in range(nparts):
        if parts[i].len and EVP_DigestUpdate(_mdctx, parts[i].ptr, parts[i].len) != 1:
            fail_libcrypto("EVP_DigestUpdate")
    if EVP_DigestFinal_ex(_mdctx, inner, &n) != 1:
        fail_libcrypto("EVP_DigestFinal_ex")
    if EVP_DigestInit_ex2(_mdctx, _md[k.alg], NULL) != 1:
        fail_libcrypto("EVP_DigestInit_ex2")
    if EVP_DigestUpdate(_mdctx, k.opad, k.block) != 1 or EVP_DigestUpdate(_mdctx, inner, n) != 1:
        fail_libcrypto("EVP_DigestUpdate")
    if EVP_DigestFinal_ex(_mdctx, out, &n) != 1:
        fail_libcrypto("EVP_DigestFinal_ex")
    OPENSSL_cleanse(inner, MAX_OUT)
    return 0


cdef int prf_plus_into(Keyed *k, const Chunk *seed, int nseed,
                       unsigned char *out, Py_ssize_t length) except -1:
    """prf+ (K, S) = T1 | T2 | ... with Tn = prf(K, Tn-1 | S | n) (RFC 7296 §2.13)."""
    cdef Chunk parts[MAX_CHUNKS + 2]
    cdef unsigned char t[MAX_OUT]
    cdef unsigned char counter = 0
    cdef Py_ssize_t done = 0, take
    cdef int i
    if nseed > MAX_CHUNKS:
        raise ValueError("prf+ seed has too many parts")
    # The counter is one octet starting at 1, so prf+ yields at most 255 blocks.
    if length > 255 * k.out_len:
        raise ValueError(f"prf+ cannot produce {length} octets (at most {255 * k.out_len})")
    parts[0].ptr = t
    parts[0].len = 0
    for i in range(nseed):
        parts[i + 1] = seed[i]
    parts[nseed + 1].ptr = &counter
    parts[nseed + 1].len = 1
    try:
        while done < length:
            counter += 1
            keyed_mac(k, parts, nseed + 2, t)
            parts[0].len = k.out_len
            take = min(length - done, <Py_ssize_t>k.out_len)
            memcpy(out + done, t, take)
            done += take
    finally:
        OPENSSL_cleanse(t, MAX_OUT)
    return 0


# --- Python API: primitives -----------------------------------------------------------

def output_size(int alg):
    """Octets of output of ALG_* ``alg`` (and preferred key length, RFC 7296 §2.13)."""
    check_alg(alg)
    return _out_len[alg]


def digest(int alg, data):
    """Plain hash of ``data`` with digest ALG_MD5..ALG_SHA512 (IKEv1 IVs, RFC 2409 App. B)."""
    cdef unsigned char out[MAX_OUT]
    cdef Chunk c
    check_alg(alg)
    if alg >= N_DIGESTS:
        raise ValueError(f"algorithm {alg} is not a digest")
    cdef bytes d = as_bytes(data)
    set_chunk(&c, d)
    digest_into(alg, &c, 1, out)
    return PyBytes_FromStringAndSize(<char *>out, _out_len[alg])


def digest_concat(int alg, tuple parts):
    """Hash of the concatenation of ``parts`` (bytes each), without joining them."""
    cdef unsigned char out[MAX_OUT]
    cdef Chunk c[MAX_CHUNKS]
    cdef int i, n = len(parts)
    check_alg(alg)
    if alg >= N_DIGESTS:
        raise ValueError(f"algorithm {alg} is not a digest")
    if n > MAX_CHUNKS:
        raise ValueError("too many parts")
    held = [as_bytes(p) for p in parts]
    for i in range(n):
        set_chunk(&c[i], <bytes>held[i])
    digest_into(alg, c, n, out)
    return PyBytes_FromStringAndSize(<char *>out, _out_len[alg])


def mac(int alg, key, data):
    """prf(key, data): HMAC, AES-XCBC-PRF-128 or AES-CMAC-PRF-128 per ``alg``."""
    cdef Keyed k
    cdef Chunk ck, cd
    cdef unsigned char out[MAX_OUT]
    check_alg(alg)
    cdef bytes kb = as_bytes(key)
    cdef bytes db = as_bytes(data)
    set_chunk(&ck, kb)
    set_chunk(&cd, db)
    try:
        keyed_init(&k, alg, &ck, 1)
        keyed_mac(&k, &cd, 1, out)
        return PyBytes_FromStringAndSize(<char *>out, k.out_len)
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(out, MAX_OUT)


def mac_concat(int alg, key, tuple parts):
    """prf(key, parts[0] | parts[1] | ...) without joining the parts (at most 8)."""
    cdef Keyed k
    cdef Chunk ck
    cdef Chunk c[MAX_CHUNKS]
    cdef unsigned char out[MAX_OUT]
    cdef int i, n = len(parts)
    check_alg(alg)
    if n > MAX_CHUNKS:
        raise ValueError("too many parts")
    cdef bytes kb = as_bytes(key)
    held = [as_bytes(p) for p in parts]
    set_chunk(&ck, kb)
    for i in range(n):
        set_chunk(&c[i], <bytes>held[i])
    try:
        keyed_init(&k, alg, &ck, 1)
        keyed_mac(&k, c, n, out)
        return PyBytes_FromStringAndSize(<char *>out, k.out_len)
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(out, MAX_OUT)


def prf_plus(int alg, key, seed, Py_ssize_t length):
    """prf+ (key, seed) truncated to ``length`` octets (RFC 7296 §2.13)."""
    cdef Keyed k
    cdef Chunk ck, cs
    check_alg(alg)
    cdef bytes kb = as_bytes(key)
    cdef bytes sb = as_bytes(seed)
    cdef bytes out = new_bytes(length)
    set_chunk(&ck, kb)
    set_chunk(&cs, sb)
    try:
        keyed_init(&k, alg, &ck, 1)
        prf_plus_into(&k, &cs, 1, <unsigned char *>PyBytes_AS_STRING(out), length)
    finally:
        keyed_clear(&k)
    return out


# --- Python API: IKEv2 key schedules (RFC 7296 §2.13-2.18) ----------------------------

def ikev2_ike_sa_keymat(int alg, ni, nr, shared, spi_i, spi_r, Py_ssize_t length):
    """SKEYSEED = prf(Ni | Nr, g^ir); return prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)[:length].

    RFC 7296 §2.14: for AES-XCBC-PRF-128 and AES-CMAC-PRF-128 only the first 64 bits of Ni
    and of Nr key SKEYSEED; prf+ still takes the whole nonces.
    """
    cdef Keyed k
    cdef Chunk key[2]
    cdef Chunk seed[4]
    cdef Chunk g
    cdef unsigned char skeyseed[MAX_OUT]
    check_alg(alg)
    cdef bytes bni = as_bytes(ni), bnr = as_bytes(nr), bsh = as_bytes(shared)
    cdef bytes bsi = as_bytes(spi_i), bsr = as_bytes(spi_r)
    cdef bytes out = new_bytes(length)
    set_chunk(&seed[0], bni)
    set_chunk(&seed[1], bnr)
    set_chunk(&seed[2], bsi)
    set_chunk(&seed[3], bsr)
    set_chunk(&g, bsh)
    key[0] = seed[0]
    key[1] = seed[1]
    if alg == ALG_AES128_XCBC or alg == ALG_AES128_CMAC:
        key[0].len = min(key[0].len, <size_t>8)
        key[1].len = min(key[1].len, <size_t>8)
    try:
        keyed_init(&k, alg, key, 2)
        keyed_mac(&k, &g, 1, skeyseed)
        keyed_clear(&k)
        key[0].ptr = skeyseed
        key[0].len = _out_len[alg]
        keyed_init(&k, alg, key, 1)
        prf_plus_into(&k, seed, 4, <unsigned char *>PyBytes_AS_STRING(out), length)
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(skeyseed, MAX_OUT)
    return out


def ikev2_rekey_ike_sa_keymat(int old_alg, int alg, old_sk_d, shared, ni, nr, spi_i, spi_r,
                              Py_ssize_t length):
    """SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF; then the new
    SA's PRF gives prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)[:length] (RFC 7296 §2.18)."""
    cdef Keyed k
    cdef Chunk key
    cdef Chunk seed[4]
    cdef Chunk data[3]
    cdef unsigned char skeyseed[MAX_OUT]
    check_alg(old_alg)
    check_alg(alg)
    cdef bytes bd = as_bytes(old_sk_d), bsh = as_bytes(shared)
    cdef bytes bni = as_bytes(ni), bnr = as_bytes(nr)
    cdef bytes bsi = as_bytes(spi_i), bsr = as_bytes(spi_r)
    cdef bytes out = new_bytes(length)
    set_chunk(&key, bd)
    set_chunk(&data[0], bsh)
    set_chunk(&data[1], bni)
    set_chunk(&data[2], bnr)
    seed[0] = data[1]
    seed[1] = data[2]
    set_chunk(&seed[2], bsi)
    set_chunk(&seed[3], bsr)
    try:
        keyed_init(&k, old_alg, &key, 1)
        keyed_mac(&k, data, 3, skeyseed)
        # SKEYSEED is the old PRF's output; the new PRF takes it as its key (variable-length
        # key rules of RFC 4434/4615 apply when the two PRFs differ in size).
        key.ptr = skeyseed
        key.len = _out_len[old_alg]
        keyed_clear(&k)
        keyed_init(&k, alg, &key, 1)
        prf_plus_into(&k, seed, 4, <unsigned char *>PyBytes_AS_STRING(out), length)
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(skeyseed, MAX_OUT)
    return out


def ikev2_child_sa_keymat(int alg, sk_d, shared, ni, nr, Py_ssize_t length):
    """KEYMAT = prf+ (SK_d, [g^ir (new) |] Ni | Nr)[:length] (RFC 7296 §2.17).

    ``shared`` is None without PFS, else the CREATE_CHILD_SA Diffie-Hellman secret.
    """
    cdef Keyed k
    cdef Chunk key
    cdef Chunk seed[3]
    cdef int n = 0
    check_alg(alg)
    cdef bytes bd = as_bytes(sk_d), bni = as_bytes(ni), bnr = as_bytes(nr)
    cdef bytes bsh
    cdef bytes out = new_bytes(length)
    set_chunk(&key, bd)
    if shared is not None:
        bsh = as_bytes(shared)
        set_chunk(&seed[n], bsh)
        n += 1
    set_chunk(&seed[n], bni)
    set_chunk(&seed[n + 1], bnr)
    n += 2
    try:
        keyed_init(&k, alg, &key, 1)
        prf_plus_into(&k, seed, n, <unsigned char *>PyBytes_AS_STRING(out), length)
    finally:
        keyed_clear(&k)
    return out


# --- Python API: IKEv1 key schedules (RFC 2409 §5, App. B) ----------------------------

def ikev1_skeyid_dae(int alg, skeyid, g_xy, cky_i, cky_r):
    """(SKEYID_d, SKEYID_a, SKEYID_e) from SKEYID (RFC 2409 §5):

    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
    """
    cdef Keyed k
    cdef Chunk key
    cdef Chunk parts[5]
    cdef unsigned char d[MAX_OUT]
    cdef unsigned char a[MAX_OUT]
    cdef unsigned char e[MAX_OUT]
    cdef unsigned char counter
    check_alg(alg)
    if alg >= N_DIGESTS:
        raise ValueError("IKEv1 PRFs are HMACs of the negotiated hash (RFC 2409 §4)")
    cdef bytes bk = as_bytes(skeyid), bg = as_bytes(g_xy)
    cdef bytes bci = as_bytes(cky_i), bcr = as_bytes(cky_r)
    set_chunk(&key, bk)
    set_chunk(&parts[1], bg)
    set_chunk(&parts[2], bci)
    set_chunk(&parts[3], bcr)
    parts[4].ptr = &counter
    parts[4].len = 1
    try:
        keyed_init(&k, alg, &key, 1)
        counter = 0
        keyed_mac(&k, &parts[1], 4, d)
        counter = 1
        parts[0].ptr = d
        parts[0].len = k.out_len
        keyed_mac(&k, parts, 5, a)
        counter = 2
        parts[0].ptr = a
        keyed_mac(&k, parts, 5, e)
        return (PyBytes_FromStringAndSize(<char *>d, k.out_len),
                PyBytes_FromStringAndSize(<char *>a, k.out_len),
                PyBytes_FromStringAndSize(<char *>e, k.out_len))
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(d, MAX_OUT)
        OPENSSL_cleanse(a, MAX_OUT)
        OPENSSL_cleanse(e, MAX_OUT)


def ikev1_expand_key(int alg, skeyid_e, Py_ssize_t length):
    """The cipher key from SKEYID_e (RFC 2409 App. B): its first ``length`` octets, or when
    SKEYID_e is too short, Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0) (one zero octet) and
    Kn = prf(SKEYID_e, Kn-1), truncated to ``length``."""
    cdef Keyed k
    cdef Chunk key, part
    cdef unsigned char t[MAX_OUT]
    cdef unsigned char zero = 0
    cdef Py_ssize_t done = 0, take
    check_alg(alg)
    if alg >= N_DIGESTS:
        raise ValueError("IKEv1 PRFs are HMACs of the negotiated hash (RFC 2409 §4)")
    cdef bytes be = as_bytes(skeyid_e)
    if length < 0:
        raise ValueError(f"negative length {length}")
    if PyBytes_GET_SIZE(be) >= length:
        return be[:length]
    cdef bytes out = new_bytes(length)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    set_chunk(&key, be)
    part.ptr = &zero
    part.len = 1
    try:
        keyed_init(&k, alg, &key, 1)
        while done < length:
            keyed_mac(&k, &part, 1, t)
            take = min(length - done, <Py_ssize_t>k.out_len)
            memcpy(o + done, t, take)
            done += take
            part.ptr = t
            part.len = k.out_len
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(t, MAX_OUT)
    return out


def ikev1_quick_mode_keymat(int alg, skeyid_d, g_qm_xy, int protocol, spi, ni_b, nr_b,
                            Py_ssize_t length):
    """Quick Mode KEYMAT (RFC 2409 §5.5), expanded to ``length`` octets:

    K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
    Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
    ``g_qm_xy`` is None without PFS.
    """
    cdef Keyed k
    cdef Chunk key
    cdef Chunk parts[6]
    cdef unsigned char t[MAX_OUT]
    cdef unsigned char proto
    cdef Py_ssize_t done = 0, take
    cdef int n = 1
    check_alg(alg)
    if alg >= N_DIGESTS:
        raise ValueError("IKEv1 PRFs are HMACs of the negotiated hash (RFC 2409 §4)")
    if protocol < 0 or protocol > 255:
        raise ValueError(f"protocol {protocol} is not one octet")
    proto = <unsigned char>protocol
    cdef bytes bd = as_bytes(skeyid_d), bspi = as_bytes(spi)
    cdef bytes bni = as_bytes(ni_b), bnr = as_bytes(nr_b)
    cdef bytes bg
    cdef bytes out = new_bytes(length)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    set_chunk(&key, bd)
    parts[0].ptr = t
    parts[0].len = 0
    if g_qm_xy is not None:
        bg = as_bytes(g_qm_xy)
        set_chunk(&parts[n], bg)
        n += 1
    parts[n].ptr = &proto
    parts[n].len = 1
    set_chunk(&parts[n + 1], bspi)
    set_chunk(&parts[n + 2], bni)
    set_chunk(&parts[n + 3], bnr)
    n += 4
    try:
        keyed_init(&k, alg, &key, 1)
        while done < length:
            keyed_mac(&k, parts, n, t)
            parts[0].len = k.out_len
            take = min(length - done, <Py_ssize_t>k.out_len)
            memcpy(o + done, t, take)
            done += take
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(t, MAX_OUT)
    return out

