# Every libcrypto (OpenSSL 3.0) declaration used by ikesrv._fast, declared once.
#
# Owns: the extern declarations only; no code. Modules cimport what they need from here
# (``from ikesrv._fast.openssl cimport ...``) and never declare OpenSSL symbols themselves.
# Only non-deprecated OpenSSL 3.0 interfaces are listed: EVP for digests, MACs and ciphers,
# BN for MODP arithmetic, EC_GROUP/EC_POINT for the NIST curves.
#
# Return conventions worth remembering at every call site: most functions return 1 on
# success and 0 (or -1) on failure, constructors return NULL on failure, and a failure
# leaves entries on the thread's OpenSSL error queue that must be cleared (ERR_clear_error)
# so that they do not surface later inside an unrelated library such as `cryptography`.

cdef extern from "openssl/crypto.h" nogil:
    void OPENSSL_cleanse(void *ptr, size_t length)
    int CRYPTO_memcmp(const void *a, const void *b, size_t length)

cdef extern from "openssl/err.h" nogil:
    void ERR_clear_error()

cdef extern from "openssl/params.h" nogil:
    ctypedef struct OSSL_PARAM:
        pass
    OSSL_PARAM OSSL_PARAM_construct_utf8_string(const char *key, char *buf, size_t bsize)
    OSSL_PARAM OSSL_PARAM_construct_end()

cdef extern from "openssl/evp.h" nogil:
    ctypedef struct OSSL_LIB_CTX
    ctypedef struct EVP_MD
    ctypedef struct EVP_MD_CTX
    ctypedef struct EVP_MAC
    ctypedef struct EVP_MAC_CTX
    ctypedef struct EVP_CIPHER
    ctypedef struct EVP_CIPHER_CTX

    # digests
    EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *ctx, const char *algorithm, const char *properties)
    int EVP_MD_get_size(const EVP_MD *md)
    int EVP_MD_get_block_size(const EVP_MD *md)
    EVP_MD_CTX *EVP_MD_CTX_new()
    int EVP_DigestInit_ex2(EVP_MD_CTX *ctx, const EVP_MD *type, const OSSL_PARAM *params)
    int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt)
    int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s)

    # MACs (CMAC)
    EVP_MAC *EVP_MAC_fetch(OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties)
    EVP_MAC_CTX *EVP_MAC_CTX_new(EVP_MAC *mac)
    int EVP_MAC_CTX_set_params(EVP_MAC_CTX *ctx, const OSSL_PARAM *params)
    int EVP_MAC_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen,
                     const OSSL_PARAM *params)
    int EVP_MAC_update(EVP_MAC_CTX *ctx, const unsigned char *data, size_t datalen)
    int EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize)

    # ciphers (AES for XCBC, AES-CBC for the SK payload)
    EVP_CIPHER *EVP_CIPHER_fetch(OSSL_LIB_CTX *ctx, const char *algorithm,
                                 const char *properties)
    EVP_CIPHER_CTX *EVP_CIPHER_CTX_new()
    void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *ctx)
    int EVP_CIPHER_CTX_set_padding(EVP_CIPHER_CTX *ctx, int pad)
    int EVP_EncryptInit_ex2(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher,
                            const unsigned char *key, const unsigned char *iv,
                            const OSSL_PARAM *params)
    int EVP_EncryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
                          const unsigned char *inp, int inl)
    int EVP_DecryptInit_ex2(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher,
                            const unsigned char *key, const unsigned char *iv,
                            const OSSL_PARAM *params)
    int EVP_DecryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
                          const unsigned char *inp, int inl)

cdef extern from "openssl/bn.h" nogil:
    ctypedef struct BIGNUM
    ctypedef struct BN_CTX
    ctypedef struct BN_MONT_CTX
    ctypedef unsigned long BN_ULONG

    int BN_FLG_CONSTTIME

    BIGNUM *BN_new()
    void BN_free(BIGNUM *a)
    void BN_clear_free(BIGNUM *a)
    BIGNUM *BN_dup(const BIGNUM *a)
    void BN_set_flags(BIGNUM *b, int n)
    int BN_set_word(BIGNUM *a, BN_ULONG w)
    int BN_add_word(BIGNUM *a, BN_ULONG w)
    int BN_sub_word(BIGNUM *a, BN_ULONG w)
    int BN_num_bits(const BIGNUM *a)
    int BN_cmp(const BIGNUM *a, const BIGNUM *b)
    int BN_is_zero(const BIGNUM *a)
    int BN_is_one(const BIGNUM *a)
    BIGNUM *BN_bin2bn(const unsigned char *s, int length, BIGNUM *ret)
    int BN_bn2binpad(const BIGNUM *a, unsigned char *to, int tolen)
    int BN_mod(BIGNUM *rem, const BIGNUM *a, const BIGNUM *m, BN_CTX *ctx)

    BN_CTX *BN_CTX_new()
    BN_MONT_CTX *BN_MONT_CTX_new()
    void BN_MONT_CTX_free(BN_MONT_CTX *mont)
    int BN_MONT_CTX_set(BN_MONT_CTX *mont, const BIGNUM *mod, BN_CTX *ctx)
    int BN_mod_exp_mont_consttime(BIGNUM *rr, const BIGNUM *a, const BIGNUM *p,
                                  const BIGNUM *m, BN_CTX *ctx, BN_MONT_CTX *in_mont)

    # RFC 2409 §6.1-6.2 and RFC 3526 MODP primes, as built into libcrypto
    BIGNUM *BN_get_rfc2409_prime_768(BIGNUM *bn)
    BIGNUM *BN_get_rfc2409_prime_1024(BIGNUM *bn)
    BIGNUM *BN_get_rfc3526_prime_1536(BIGNUM *bn)
    BIGNUM *BN_get_rfc3526_prime_2048(BIGNUM *bn)
    BIGNUM *BN_get_rfc3526_prime_3072(BIGNUM *bn)
    BIGNUM *BN_get_rfc3526_prime_4096(BIGNUM *bn)
    BIGNUM *BN_get_rfc3526_prime_6144(BIGNUM *bn)
    BIGNUM *BN_get_rfc3526_prime_8192(BIGNUM *bn)

cdef extern from "openssl/obj_mac.h" nogil:
    int NID_X9_62_prime256v1
    int NID_secp521r1

cdef extern from "openssl/ec.h" nogil:
    ctypedef struct EC_GROUP
    ctypedef struct EC_POINT

    EC_GROUP *EC_GROUP_new_by_curve_name(int nid)
    void EC_GROUP_free(EC_GROUP *group)
    const BIGNUM *EC_GROUP_get0_order(const EC_GROUP *group)
    int EC_GROUP_get_curve(const EC_GROUP *group, BIGNUM *p, BIGNUM *a, BIGNUM *b, BN_CTX *ctx)
    int EC_GROUP_get_degree(const EC_GROUP *group)
    EC_POINT *EC_POINT_new(const EC_GROUP *group)
    void EC_POINT_free(EC_POINT *point)
    void EC_POINT_clear_free(EC_POINT *point)
    int EC_POINT_set_affine_coordinates(const EC_GROUP *group, EC_POINT *p,
                                        const BIGNUM *x, const BIGNUM *y, BN_CTX *ctx)
    int EC_POINT_get_affine_coordinates(const EC_GROUP *group, const EC_POINT *p,
                                        BIGNUM *x, BIGNUM *y, BN_CTX *ctx)
    int EC_POINT_is_at_infinity(const EC_GROUP *group, const EC_POINT *p)
    int EC_POINT_mul(const EC_GROUP *group, EC_POINT *r, const BIGNUM *n,
                     const EC_POINT *q, const BIGNUM *m, BN_CTX *ctx)
