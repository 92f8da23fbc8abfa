"""Diffie-Hellman for IKE: MODP, ECP and Curve25519/448, with peer values validated.

Owns: the group parameters (built once at import), private keys derived from injected
random bytes, IKE wire encodings of public values and shared secrets, and the validation
of peer public values (RFC 6989, RFC 7748 §6, RFC 8031 §2).

  MODP (RFC 2409 §6, RFC 3526): libcrypto BN arithmetic, primes from libcrypto's built-in
    RFC tables, one Montgomery context per group. Private exponents are short: 2s bits
    where s is the group's maximum security strength per NIST SP 800-56A Rev. 3
    Appendix D (Tables 25-26: 112, 128, 152, 176, 200 bits for 2048..8192), as SP 800-56A
    §5.6.1.1.4 allows for safe-prime groups (OpenSSL does the same for these groups;
    RFC 3526 §8 estimates exponents of the same order). Peer values must satisfy
    1 < y < p-1 and be exactly len(p) octets (RFC 6989 §2.1, RFC 7296 §3.4); with these
    safe primes no y^q test is needed (RFC 6989 §2.2).
  ECP (RFC 5903): public value x | y, shared secret x only (RFC 5903 §7). Peer points:
    both coordinates < p, on the curve, not the point at infinity (RFC 6989 §2.3; the
    cofactor is 1). P-256 and P-521 use libcrypto's EC_POINT arithmetic directly; P-384
    goes through `cryptography`, whose bundled libcrypto is several times faster for it
    than the system's OpenSSL 3.0 (see bench/bench_primitives.py).
  X25519/X448 (RFC 8031): 32/56-octet little-endian u-coordinates, through `cryptography`
    for the same reason; a peer value of the wrong length, or one giving an all-zero
    shared secret, is rejected (RFC 8031 §2, RFC 7748 §6).

Imports ikesrv.errors and `cryptography`. Peer input raises InvalidKeyInformation(reason)
and nothing else; a libcrypto failure on valid input (allocation) raises LibcryptoError.
Private keys live in libcrypto objects, cleared on deallocation, and never reach repr().
"""

from cpython.bytes cimport PyBytes_Check, PyBytes_GET_SIZE
from libc.string cimport memcmp

from ikesrv._fast.openssl cimport (
    BIGNUM, BN_add_word, BN_bin2bn, BN_bn2binpad, BN_clear_free, BN_cmp, BN_CTX, BN_CTX_new,
    BN_dup, BN_FLG_CONSTTIME, BN_free, BN_get_rfc2409_prime_768, BN_get_rfc2409_prime_1024,
    BN_get_rfc3526_prime_1536, BN_get_rfc3526_prime_2048, BN_get_rfc3526_prime_3072,
    BN_get_rfc3526_prime_4096, BN_get_rfc3526_prime_6144, BN_get_rfc3526_prime_8192,
    BN_is_one, BN_is_zero, BN_mod, BN_mod_exp_mont_consttime, BN_MONT_CTX_free,
    BN_MONT_CTX_new, BN_MONT_CTX_set, BN_new, BN_num_bits, BN_set_flags, BN_set_word,
    BN_sub_word, CRYPTO_memcmp, EC_GROUP, EC_GROUP_free, EC_GROUP_get0_order,
    EC_GROUP_get_curve, EC_GROUP_get_degree, EC_GROUP_new_by_curve_name, EC_POINT,
    EC_POINT_clear_free, EC_POINT_free, EC_POINT_get_affine_coordinates,
    EC_POINT_is_at_infinity, EC_POINT_mul, EC_POINT_new, EC_POINT_set_affine_coordinates,
    ERR_clear_error, NID_secp521r1, NID_X9_62_prime256v1,
)

from ikesrv._fast.prf cimport as_bytes, bytes_ptr, fail_libcrypto, new_bytes

from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.hazmat.primitives.asymmetric import x448 as _x448
from cryptography.hazmat.primitives.asymmetric import x25519 as _x25519

from ikesrv._fast.prf import LibcryptoError  # one error class for both modules
from ikesrv.errors import InvalidKeyInformation

_ECDH = _ec.ECDH()
_EllipticCurvePublicKey = _ec.EllipticCurvePublicKey
# FIPS 186-4 D.1.2.4: the P-384 field prime, big-endian
_P384 = (2**384 - 2**128 - 2**96 + 2**32 - 1).to_bytes(48, "big")

cdef BN_CTX *_bnctx = BN_CTX_new()
if _bnctx == NULL:
    raise ImportError("libcrypto: BN_CTX_new failed")


cdef class DhGroup:
    """A Diffie-Hellman group of IKE's Transform Type 4 registry."""

    def generate(self, rng):
        """A fresh ephemeral key from ``rng(n) -> bytes`` (the only source of randomness).

        Draws ``private_len`` octets per attempt; a draw that maps to no valid private key
        (a MODP exponent below 2: probability 2^-220) is discarded and another drawn.
        """
        cdef DhKey key
        while True:
            secret = rng(self.private_len)
            if not PyBytes_Check(secret) or PyBytes_GET_SIZE(secret) != self.private_len:
                raise ValueError(f"rng must return {self.private_len} bytes")
            key = self._keygen(<bytes>secret)
            if key is not None:
                return key

    cdef DhKey _keygen(self, bytes secret):
        # Only the concrete subclasses below are ever instantiated (by _build).
        raise TypeError(f"{type(self).__name__} is not a concrete group")

    def __repr__(self):
        weak = " weak" if self.weak else ""
        return f"<DhGroup {self.id} {self.name}{weak}>"


cdef class DhKey:
    """An ephemeral private key; ``public`` is its IKE wire form (KE payload data).

    Each concrete class has ``shared_secret(peer: bytes) -> bytes``: g^ir from the peer's
    KE data, raising InvalidKeyInformation when the value fails validation.
    """

    def __repr__(self):
        # Never the private part: the group and the size of the public value only.
        return f"<DhKey group={self.group.id} public={len(self.public)} octets>"


# --- MODP (RFC 2409 §6, RFC 3526) -----------------------------------------------------

cdef class ModpGroup(DhGroup):

    def __dealloc__(self):
        BN_free(self.p)
        BN_free(self.g)
        BN_free(self.p_minus_1)
        BN_MONT_CTX_free(self.mont)

    @property
    def prime(self):
        """The group's prime p, big-endian, public_len octets."""
        cdef bytes out = new_bytes(self.public_len)
        if BN_bn2binpad(self.p, bytes_ptr(out), self.public_len) != self.public_len:
            fail_libcrypto("BN_bn2binpad")
        return out

    @property
    def generator(self):
        return 2

    cdef DhKey _keygen(self, bytes secret):
        cdef ModpKey key = ModpKey.__new__(ModpKey)
        cdef BIGNUM *y = NULL
        key.group = self
        key.x = BN_bin2bn(bytes_ptr(secret), <int>PyBytes_GET_SIZE(secret), NULL)
        if key.x == NULL:
            fail_libcrypto("BN_bin2bn")
        BN_set_flags(key.x, BN_FLG_CONSTTIME)
        # The exponent is uniform in [0, 2^N); keep [2, 2^N) (SP 800-56A §5.6.1.1.4 asks
        # for x >= 1; x = 1 would make g^x = g).
        if BN_num_bits(key.x) < 2:
            return None
        y = BN_new()
        if y == NULL:
            fail_libcrypto("BN_new")
        try:
            if BN_mod_exp_mont_consttime(y, self.g, key.x, self.p, _bnctx, self.mont) != 1:
                fail_libcrypto("BN_mod_exp_mont_consttime")
            key.public = new_bytes(self.public_len)
            if BN_bn2binpad(y, bytes_ptr(key.public), self.public_len) != self.public_len:
                fail_libcrypto("BN_bn2binpad")
        finally:
            BN_free(y)
        return key


cdef class ModpKey(DhKey):

    def __dealloc__(self):
        BN_clear_free(self.x)

    def shared_secret(self, peer):
        cdef ModpGroup grp = <ModpGroup>self.group
        cdef bytes pb = as_bytes(peer)
        cdef BIGNUM *y = NULL
        cdef BIGNUM *z = NULL
        cdef bytes out
        if PyBytes_GET_SIZE(pb) != grp.public_len:
            raise InvalidKeyInformation(
                f"{grp.name} public value is {PyBytes_GET_SIZE(pb)} octets, "
                f"expected {grp.public_len} (RFC 7296 §3.4)")
        y = BN_bin2bn(bytes_ptr(pb), grp.public_len, NULL)
        if y == NULL:
            fail_libcrypto("BN_bin2bn")
        try:
            # RFC 6989 §2.1: 1 < y < p-1 (0, 1 and p-1 generate subgroups of order <= 2).
            if BN_is_zero(y) or BN_is_one(y) or BN_cmp(y, grp.p_minus_1) >= 0:
                raise InvalidKeyInformation(
                    f"{grp.name} public value outside 1 < y < p-1 (RFC 6989 §2.1)")
            z = BN_new()
            if z == NULL:
                fail_libcrypto("BN_new")
            if BN_mod_exp_mont_consttime(z, y, self.x, grp.p, _bnctx, grp.mont) != 1:
                fail_libcrypto("BN_mod_exp_mont_consttime")
            # RFC 7296 §2.14: g^ir is padded with leading zeros to the length of p.
            out = new_bytes(grp.public_len)
            if BN_bn2binpad(z, bytes_ptr(out), grp.public_len) != grp.public_len:
                fail_libcrypto("BN_bn2binpad")
            return out
        finally:
            BN_free(y)
            BN_clear_free(z)


cdef BIGNUM *modp_prime(int bits) except NULL:
    cdef BIGNUM *p = NULL
    if bits == 768:
        p = BN_get_rfc2409_prime_768(NULL)
    elif bits == 1024:
        p = BN_get_rfc2409_prime_1024(NULL)
    elif bits == 1536:
        p = BN_get_rfc3526_prime_1536(NULL)
    elif bits == 2048:
        p = BN_get_rfc3526_prime_2048(NULL)
    elif bits == 3072:
        p = BN_get_rfc3526_prime_3072(NULL)
    elif bits == 4096:
        p = BN_get_rfc3526_prime_4096(NULL)
    elif bits == 6144:
        p = BN_get_rfc3526_prime_6144(NULL)
    elif bits == 8192:
        p = BN_get_rfc3526_prime_8192(NULL)
    else:
        raise ValueError(f"no MODP prime of {bits} bits")
    if p == NULL:
        fail_libcrypto("BN_get_rfc*_prime")
    return p


cdef ModpGroup make_modp(int group_id, str name, int bits, int exponent_bits, bint weak):
    cdef ModpGroup grp = ModpGroup.__new__(ModpGroup)
    grp.id = group_id
    grp.name = name
    grp.kind = "modp"
    grp.weak = weak
    grp.public_len = bits // 8
    grp.shared_len = bits // 8
    grp.exponent_bits = exponent_bits
    grp.private_len = exponent_bits // 8
    grp.p = modp_prime(bits)
    grp.g = BN_new()
    grp.p_minus_1 = BN_dup(grp.p)
    grp.mont = BN_MONT_CTX_new()
    if grp.g == NULL or grp.p_minus_1 == NULL or grp.mont == NULL:
        fail_libcrypto("BN_new")
    if BN_set_word(grp.g, 2) != 1 or BN_sub_word(grp.p_minus_1, 1) != 1:
        fail_libcrypto("BN_set_word")
    # Built once: the Montgomery form of p is what every exponentiation reuses.
    if BN_MONT_CTX_set(grp.mont, grp.p, _bnctx) != 1:
        fail_libcrypto("BN_MONT_CTX_set")
    return grp


# --- ECP (RFC 5903) -------------------------------------------------------------------

cdef class EcpGroup(DhGroup):

    def __dealloc__(self):
        EC_GROUP_free(self.ec)
        BN_free(self.order_minus_1)

    cdef DhKey _keygen(self, bytes secret):
        cdef EcpKey key = EcpKey.__new__(EcpKey)
        cdef BIGNUM *c = NULL
        cdef BIGNUM *x = NULL
        cdef BIGNUM *y = NULL
        cdef EC_POINT *q = NULL
        cdef int n = self.coordinate_len
        key.group = self
        try:
            # FIPS 186-4 B.4.1: c has 64 more bits than n; d = (c mod (n-1)) + 1 in [1, n-1]
            # with negligible bias.
            c = BN_bin2bn(bytes_ptr(secret), <int>PyBytes_GET_SIZE(secret), NULL)
            key.d = BN_new()
            if c == NULL or key.d == NULL:
                fail_libcrypto("BN_new")
            BN_set_flags(c, BN_FLG_CONSTTIME)
            BN_set_flags(key.d, BN_FLG_CONSTTIME)
            if BN_mod(key.d, c, self.order_minus_1, _bnctx) != 1 or BN_add_word(key.d, 1) != 1:
                fail_libcrypto("BN_mod")
            q = EC_POINT_new(self.ec)
            x = BN_new()
            y = BN_new()
            if q == NULL or x == NULL or y == NULL:
                fail_libcrypto("EC_POINT_new")
            if EC_POINT_mul(self.ec, q, key.d, NULL, NULL, _bnctx) != 1:
                fail_libcrypto("EC_POINT_mul")
            if EC_POINT_get_affine_coordinates(self.ec, q, x, y, _bnctx) != 1:
                fail_libcrypto("EC_POINT_get_affine_coordinates")
            # RFC 5903 §7: the KE data is x | y, each padded to the field size.
            key.public = new_bytes(2 * n)
            if (BN_bn2binpad(x, bytes_ptr(key.public), n) != n
                    or BN_bn2binpad(y, bytes_ptr(key.public) + n, n) != n):
                fail_libcrypto("BN_bn2binpad")
        finally:
            BN_clear_free(c)
            BN_free(x)
            BN_free(y)
            EC_POINT_free(q)
        return key


cdef class EcpKey(DhKey):

    def __dealloc__(self):
        BN_clear_free(self.d)

    def shared_secret(self, peer):
        cdef EcpGroup grp = <EcpGroup>self.group
        cdef bytes pb = as_bytes(peer)
        cdef int n = grp.coordinate_len
        cdef const unsigned char *p = bytes_ptr(pb)
        cdef const unsigned char *fp = bytes_ptr(grp.field_prime)
        cdef BIGNUM *x = NULL
        cdef BIGNUM *y = NULL
        cdef EC_POINT *q = NULL
        cdef EC_POINT *r = NULL
        cdef bytes out
        if PyBytes_GET_SIZE(pb) != 2 * n:
            raise InvalidKeyInformation(
                f"{grp.name} public value is {PyBytes_GET_SIZE(pb)} octets, "
                f"expected {2 * n} (RFC 5903 §7)")
        # RFC 6989 §2.3: each coordinate in [0, p-1]. Equal-length big-endian strings
        # compare like the integers they encode.
        if memcmp(p, fp, n) >= 0 or memcmp(p + n, fp, n) >= 0:
            raise InvalidKeyInformation(
                f"{grp.name} public value has a coordinate >= p (RFC 6989 §2.3)")
        try:
            x = BN_bin2bn(p, n, NULL)
            y = BN_bin2bn(p + n, n, NULL)
            q = EC_POINT_new(grp.ec)
            r = EC_POINT_new(grp.ec)
            if x == NULL or y == NULL or q == NULL or r == NULL:
                fail_libcrypto("BN_new")
            # Setting affine coordinates verifies the curve equation (OpenSSL >= 1.1.1); an
            # affine point is never the point at infinity (RFC 6989 §2.3).
            if EC_POINT_set_affine_coordinates(grp.ec, q, x, y, _bnctx) != 1:
                ERR_clear_error()
                raise InvalidKeyInformation(
                    f"{grp.name} public value is not on the curve (RFC 6989 §2.3)")
            if EC_POINT_mul(grp.ec, r, NULL, q, self.d, _bnctx) != 1:
                fail_libcrypto("EC_POINT_mul")
            if EC_POINT_is_at_infinity(grp.ec, r):
                # Unreachable with cofactor 1 and d in [1, n-1]; checked all the same.
                raise InvalidKeyInformation(f"{grp.name} shared point is at infinity")
            if EC_POINT_get_affine_coordinates(grp.ec, r, x, NULL, _bnctx) != 1:
                fail_libcrypto("EC_POINT_get_affine_coordinates")
            # RFC 5903 §7: the shared secret is the x-coordinate only.
            out = new_bytes(n)
            if BN_bn2binpad(x, bytes_ptr(out), n) != n:
                fail_libcrypto("BN_bn2binpad")
            return out
        finally:
            BN_clear_free(x)
            BN_free(y)
            EC_POINT_free(q)
            EC_POINT_clear_free(r)


cdef EcpGroup make_ecp(int group_id, str name, int nid):
    cdef EcpGroup grp = EcpGroup.__new__(EcpGroup)
    cdef BIGNUM *p = NULL
    cdef int n
    grp.id = group_id
    grp.name = name
    grp.kind = "ecp"
    grp.weak = False
    grp.ec = EC_GROUP_new_by_curve_name(nid)
    if grp.ec == NULL:
        fail_libcrypto("EC_GROUP_new_by_curve_name")
    n = (EC_GROUP_get_degree(grp.ec) + 7) // 8
    grp.coordinate_len = n
    grp.public_len = 2 * n
    grp.shared_len = n
    grp.order_minus_1 = BN_dup(EC_GROUP_get0_order(grp.ec))
    if grp.order_minus_1 == NULL or BN_sub_word(grp.order_minus_1, 1) != 1:
        fail_libcrypto("BN_dup")
    grp.private_len = (BN_num_bits(EC_GROUP_get0_order(grp.ec)) + 7) // 8 + 8
    p = BN_new()
    if p == NULL:
        fail_libcrypto("BN_new")
    try:
        if EC_GROUP_get_curve(grp.ec, p, NULL, NULL, _bnctx) != 1:
            fail_libcrypto("EC_GROUP_get_curve")
        grp.field_prime = new_bytes(n)
        if BN_bn2binpad(p, bytes_ptr(grp.field_prime), n) != n:
            fail_libcrypto("BN_bn2binpad")
    finally:
        BN_free(p)
    return grp


# --- groups computed by `cryptography`'s libcrypto -----------------------------------
#
# Chosen by benchmark (bench/bench_primitives.py): the `cryptography` wheel bundles a newer
# libcrypto (4.0 here) whose P-384, X25519 and X448 are faster than the system's OpenSSL
# 3.0, which lacks the optimised P-384 code (OpenSSL 3.2+) and pays more provider
# overhead per EVP_PKEY operation. The validation and the wire forms stay ours.

cdef class EcpViaCryptographyGroup(DhGroup):

    cdef DhKey _keygen(self, bytes secret):
        cdef EcpViaCryptographyKey key = EcpViaCryptographyKey.__new__(EcpViaCryptographyKey)
        cdef int n = self.coordinate_len
        key.group = self
        # FIPS 186-4 B.4.1, as for EcpGroup: d = (c mod (n-1)) + 1.
        d = int.from_bytes(secret, "big") % self.order_minus_1 + 1
        key.private = _ec.derive_private_key(d, self.curve)
        numbers = key.private.public_key().public_numbers()
        # RFC 5903 §7: the KE data is x | y, each padded to the field size.
        key.public = numbers.x.to_bytes(n, "big") + numbers.y.to_bytes(n, "big")
        return key


cdef class EcpViaCryptographyKey(DhKey):

    def shared_secret(self, peer):
        cdef EcpViaCryptographyGroup grp = <EcpViaCryptographyGroup>self.group
        cdef bytes pb = as_bytes(peer)
        cdef int n = grp.coordinate_len
        cdef const unsigned char *p = bytes_ptr(pb)
        cdef const unsigned char *fp = bytes_ptr(grp.field_prime)
        if PyBytes_GET_SIZE(pb) != 2 * n:
            raise InvalidKeyInformation(
                f"{grp.name} public value is {PyBytes_GET_SIZE(pb)} octets, "
                f"expected {2 * n} (RFC 5903 §7)")
        # RFC 6989 §2.3: each coordinate in [0, p-1] (equal-length big-endian comparison).
        if memcmp(p, fp, n) >= 0 or memcmp(p + n, fp, n) >= 0:
            raise InvalidKeyInformation(
                f"{grp.name} public value has a coordinate >= p (RFC 6989 §2.3)")
        try:
            # Decoding checks the curve equation; an affine point is never infinity.
            point = _EllipticCurvePublicKey.from_encoded_point(grp.curve, b"\x04" + pb)
        except ValueError:
            raise InvalidKeyInformation(
                f"{grp.name} public value is not on the curve (RFC 6989 §2.3)") from None
        # RFC 5903 §7: the shared secret is the x-coordinate only, field-size octets.
        return self.private.exchange(_ECDH, point)


cdef EcpViaCryptographyGroup make_ecp_via_cryptography(int group_id, str name, object curve,
                                                       bytes field_prime):
    cdef EcpViaCryptographyGroup grp = EcpViaCryptographyGroup.__new__(EcpViaCryptographyGroup)
    grp.id = group_id
    grp.name = name
    grp.kind = "ecp"
    grp.weak = False
    grp.curve = curve
    grp.coordinate_len = len(field_prime)
    grp.public_len = 2 * grp.coordinate_len
    grp.shared_len = grp.coordinate_len
    grp.field_prime = field_prime
    grp.order_minus_1 = curve.group_order - 1
    grp.private_len = (curve.group_order.bit_length() + 7) // 8 + 8
    return grp


cdef class EcxGroup(DhGroup):

    cdef DhKey _keygen(self, bytes secret):
        cdef EcxKey key = EcxKey.__new__(EcxKey)
        key.group = self
        # RFC 7748 §5: the private key is the random string itself; clamping is X25519's.
        key.private = self.private_class.from_private_bytes(secret)
        key.public = key.private.public_key().public_bytes_raw()
        return key


cdef class EcxKey(DhKey):

    def shared_secret(self, peer):
        cdef EcxGroup grp = <EcxGroup>self.group
        cdef bytes pb = as_bytes(peer)
        cdef bytes out
        if PyBytes_GET_SIZE(pb) != grp.public_len:
            raise InvalidKeyInformation(
                f"{grp.name} public value is {PyBytes_GET_SIZE(pb)} octets, "
                f"expected {grp.public_len} (RFC 8031 §2)")
        # Every 32/56-octet string is a valid u-coordinate (RFC 7748 §5): nothing to check
        # before the exchange, which refuses the all-zero result of a small-order point.
        try:
            out = self.private.exchange(grp.public_class.from_public_bytes(pb))
        except ValueError:
            raise InvalidKeyInformation(
                f"{grp.name} shared secret is all zero (RFC 7748 §6, RFC 8031 §2)") from None
        if CRYPTO_memcmp(bytes_ptr(out), bytes_ptr(grp.zero), grp.shared_len) == 0:
            raise InvalidKeyInformation(
                f"{grp.name} shared secret is all zero (RFC 7748 §6, RFC 8031 §2)")
        return out


cdef EcxGroup make_ecx(int group_id, str name, object private_class, object public_class,
                       int length):
    cdef EcxGroup grp = EcxGroup.__new__(EcxGroup)
    grp.id = group_id
    grp.name = name
    grp.kind = "ecx"
    grp.weak = False
    grp.public_len = length
    grp.private_len = length
    grp.shared_len = length
    grp.private_class = private_class
    grp.public_class = public_class
    grp.zero = bytes(length)
    return grp


# --- the registry ---------------------------------------------------------------------

def _build():
    # Exponent sizes: 2 x the maximum security strength (module docstring). The weak groups
    # get at least 160 bits (2 x 80), 192 for MODP-1536 (SP 800-56B Rev. 2 App. D: ~96).
    groups = [
        make_modp(1, "modp768", 768, 160, True),      # RFC 2409 §6.1
        make_modp(2, "modp1024", 1024, 160, True),    # RFC 2409 §6.2
        make_modp(5, "modp1536", 1536, 192, True),    # RFC 3526 §2
        make_modp(14, "modp2048", 2048, 224, False),  # RFC 3526 §3
        make_modp(15, "modp3072", 3072, 256, False),  # RFC 3526 §4
        make_modp(16, "modp4096", 4096, 304, False),  # RFC 3526 §5
        make_modp(17, "modp6144", 6144, 352, False),  # RFC 3526 §6
        make_modp(18, "modp8192", 8192, 400, False),  # RFC 3526 §7
        make_ecp(19, "ecp256", NID_X9_62_prime256v1),  # RFC 5903 §3.1
        make_ecp_via_cryptography(20, "ecp384", _ec.SECP384R1(), _P384),  # RFC 5903 §3.2
        make_ecp(21, "ecp521", NID_secp521r1),         # RFC 5903 §3.3
        # RFC 8031 §2
        make_ecx(31, "curve25519", _x25519.X25519PrivateKey, _x25519.X25519PublicKey, 32),
        make_ecx(32, "curve448", _x448.X448PrivateKey, _x448.X448PublicKey, 56),
    ]
    return {g.id: g for g in groups}


GROUPS = _build()
