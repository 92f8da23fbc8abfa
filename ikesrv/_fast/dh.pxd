# C-level interface of ikesrv._fast.dh: Diffie-Hellman groups and ephemeral keys.
#
# ikesrv.crypto.dh is the facade the rest of ikesrv imports; see dh.pyx for the behaviour.

from ikesrv._fast.openssl cimport BIGNUM, BN_MONT_CTX, EC_GROUP


cdef class DhGroup:
    cdef readonly int id            # IANA Transform Type 4 ID (RFC 7296 §3.3.2)
    cdef readonly str name          # proposal keyword: modp2048, ecp256, curve25519, ...
    cdef readonly str kind          # "modp", "ecp" or "ecx"
    cdef readonly int public_len    # octets of the KE payload's key exchange data
    cdef readonly int private_len   # octets drawn from the rng per private key attempt
    cdef readonly int shared_len    # octets of the shared secret
    cdef readonly bint weak         # only usable when a configuration names it
    cdef DhKey _keygen(self, bytes secret)


cdef class DhKey:
    cdef readonly DhGroup group
    cdef readonly bytes public


cdef class ModpGroup(DhGroup):
    cdef BIGNUM *p
    cdef BIGNUM *g
    cdef BIGNUM *p_minus_1
    cdef BN_MONT_CTX *mont
    cdef readonly int exponent_bits


cdef class ModpKey(DhKey):
    cdef BIGNUM *x


cdef class EcpGroup(DhGroup):
    cdef EC_GROUP *ec
    cdef BIGNUM *order_minus_1
    cdef readonly int coordinate_len
    cdef readonly bytes field_prime


cdef class EcpKey(DhKey):
    cdef BIGNUM *d


# P-384 through `cryptography`'s bundled libcrypto (faster than the system's here)
cdef class EcpViaCryptographyGroup(DhGroup):
    cdef object curve
    cdef object order_minus_1
    cdef readonly int coordinate_len
    cdef readonly bytes field_prime


cdef class EcpViaCryptographyKey(DhKey):
    cdef object private


# X25519 / X448 through `cryptography` (likewise)
cdef class EcxGroup(DhGroup):
    cdef object private_class
    cdef object public_class
    cdef bytes zero


cdef class EcxKey(DhKey):
    cdef object private


cdef BIGNUM *modp_prime(int bits) except NULL
cdef ModpGroup make_modp(int group_id, str name, int bits, int exponent_bits, bint weak)
cdef EcpGroup make_ecp(int group_id, str name, int nid)
cdef EcpViaCryptographyGroup make_ecp_via_cryptography(int group_id, str name, object curve,
                                                       bytes field_prime)
cdef EcxGroup make_ecx(int group_id, str name, object private_class, object public_class,
                       int length)
