"""Reference Diffie-Hellman for IKE: MODP with pow(), ECP and X25519/X448 with `cryptography`.

The oracle for ikesrv.crypto.dh, with the same API (group(id).generate(rng), key.public,
key.shared_secret(peer)) and the same derivation of private keys from the rng's bytes, so
that both give identical public values and secrets for identical randomness:

  MODP  x = int(rng(N/8)), redrawn while x < 2, N = 2 x security strength (see
        ikesrv._fast.dh); primes rebuilt from their defining formula (RFC 2409 §6,
        RFC 3526): p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k), with pi
        computed here by Machin's formula, independently of any table.
  ECP   d = (int(rng(len(n) + 8)) mod (n - 1)) + 1 (FIPS 186-4 B.4.1).
  ECX   the rng's bytes are the private key (RFC 7748 §5).

Peer checks follow RFC 6989 §2.1/§2.3 and RFC 7748 §6 as written. Imports ikesrv.errors.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from ikesrv.errors import InvalidKeyInformation


def _arctan_inv(x: int, scale: int) -> int:
    """arctan(1/x) * 2^scale, truncated (Gregory series)."""
    total = term = (1 << scale) // x
    x2 = x * x
    n = 1
    sign = -1
    while term:
        term //= x2
        total += sign * (term // (2 * n + 1))
        sign = -sign
        n += 1
    return total


def pi_times_2_to(bits: int) -> int:
    """floor(pi * 2^bits) by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239)."""
    guard = 64  # series truncation errors stay far below 2^guard
    scale = bits + guard
    pi = 16 * _arctan_inv(5, scale) - 4 * _arctan_inv(239, scale)
    return pi >> guard


def modp_prime(n: int, k: int) -> int:
    """p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k) (RFC 2409 §6, RFC 3526)."""
    return (1 << n) - (1 << (n - 64)) - 1 + (1 << 64) * (pi_times_2_to(n - 130) + k)


# id: (name, bits, k of the prime's formula, exponent bits, weak)
MODP_GROUPS = {
    1: ("modp768", 768, 149686, 160, True),  # RFC 2409 §6.1
    2: ("modp1024", 1024, 129093, 160, True),  # RFC 2409 §6.2
    5: ("modp1536", 1536, 741804, 192, True),  # RFC 3526 §2
    14: ("modp2048", 2048, 124476, 224, False),  # RFC 3526 §3
    15: ("modp3072", 3072, 1690314, 256, False),  # RFC 3526 §4
    16: ("modp4096", 4096, 240904, 304, False),  # RFC 3526 §5
    17: ("modp6144", 6144, 929484, 352, False),  # RFC 3526 §6
    18: ("modp8192", 8192, 4743158, 400, False),  # RFC 3526 §7
}
ECP_GROUPS = {
    19: ("ecp256", ec.SECP256R1(), 32),  # RFC 5903 §3.1
    20: ("ecp384", ec.SECP384R1(), 48),  # RFC 5903 §3.2
    21: ("ecp521", ec.SECP521R1(), 66),  # RFC 5903 §3.3
}
# Field primes (FIPS 186-4 D.1.2) in their defining forms.
ECP_FIELD_PRIMES = {
    19: 2**256 - 2**224 + 2**192 + 2**96 - 1,
    20: 2**384 - 2**128 - 2**96 + 2**32 - 1,
    21: 2**521 - 1,
}
ECX_GROUPS = {31: ("curve25519", x25519, 32), 32: ("curve448", x448, 56)}


class ModpGroup:
    def __init__(self, group_id: int):
        self.id = group_id
        self.name, bits, k, self.exponent_bits, self.weak = MODP_GROUPS[group_id]
        self.p = modp_prime(bits, k)
        self.public_len = self.shared_len = bits // 8
        self.private_len = self.exponent_bits // 8

    def generate(self, rng):
        while True:
            x = int.from_bytes(rng(self.private_len), "big")
            if x >= 2:
                return ModpKey(self, x)


class ModpKey:
    def __init__(self, group: ModpGroup, x: int):
        self.group = group
        self._x = x
        self.public = pow(2, x, group.p).to_bytes(group.public_len, "big")

    def shared_secret(self, peer: bytes) -> bytes:
        g = self.group
        if len(peer) != g.public_len:
            raise InvalidKeyInformation("wrong length")
        y = int.from_bytes(peer, "big")
        if not 1 < y < g.p - 1:  # RFC 6989 §2.1
            raise InvalidKeyInformation("out of range")
        return pow(y, self._x, g.p).to_bytes(g.public_len, "big")


class EcpGroup:
    def __init__(self, group_id: int):
        self.id = group_id
        self.name, self.curve, self.coordinate_len = ECP_GROUPS[group_id]
        self.weak = False
        self.order = self.curve.group_order
        self.p = ECP_FIELD_PRIMES[group_id]
        self.public_len = 2 * self.coordinate_len
        self.shared_len = self.coordinate_len
        self.private_len = (self.order.bit_length() + 7) // 8 + 8

    def generate(self, rng):
        c = int.from_bytes(rng(self.private_len), "big")
        return EcpKey(self, c % (self.order - 1) + 1)


class EcpKey:
    def __init__(self, group: EcpGroup, d: int):
        self.group = group
        self._key = ec.derive_private_key(d, group.curve)
        nums = self._key.public_key().public_numbers()
        n = group.coordinate_len
        self.public = nums.x.to_bytes(n, "big") + nums.y.to_bytes(n, "big")

    def shared_secret(self, peer: bytes) -> bytes:
        g = self.group
        n = g.coordinate_len
        if len(peer) != 2 * n:
            raise InvalidKeyInformation("wrong length")
        x = int.from_bytes(peer[:n], "big")
        y = int.from_bytes(peer[n:], "big")
        if x >= g.p or y >= g.p:  # RFC 6989 §2.3
            raise InvalidKeyInformation("coordinate >= p")
        try:
            pub = ec.EllipticCurvePublicKey.from_encoded_point(g.curve, b"\x04" + peer)
        except ValueError:
            raise InvalidKeyInformation("not on the curve") from None
        return self._key.exchange(ec.ECDH(), pub)


class EcxGroup:
    def __init__(self, group_id: int):
        self.id = group_id
        self.name, self._module, n = ECX_GROUPS[group_id]
        self.weak = False
        self.public_len = self.shared_len = self.private_len = n

    def generate(self, rng):
        return EcxKey(self, rng(self.private_len))


class EcxKey:
    def __init__(self, group: EcxGroup, secret: bytes):
        self.group = group
        m = group._module
        priv_cls = m.X25519PrivateKey if m is x25519 else m.X448PrivateKey
        self._key = priv_cls.from_private_bytes(secret)
        self.public = self._key.public_key().public_bytes_raw()

    def shared_secret(self, peer: bytes) -> bytes:
        g = self.group
        if len(peer) != g.public_len:
            raise InvalidKeyInformation("wrong length")
        m = g._module
        pub_cls = m.X25519PublicKey if m is x25519 else m.X448PublicKey
        try:
            # `cryptography` refuses the all-zero output with ValueError (RFC 7748 §6).
            secret = self._key.exchange(pub_cls.from_public_bytes(peer))
        except ValueError:
            raise InvalidKeyInformation("all-zero shared secret") from None
        if secret == bytes(len(secret)):
            raise InvalidKeyInformation("all-zero shared secret")
        return secret


_CACHE: dict[int, object] = {}


def group(group_id: int):
    """The reference group ``group_id`` (built on first use: MODP primes take a moment)."""
    if group_id not in _CACHE:
        if group_id in MODP_GROUPS:
            _CACHE[group_id] = ModpGroup(group_id)
        elif group_id in ECP_GROUPS:
            _CACHE[group_id] = EcpGroup(group_id)
        elif group_id in ECX_GROUPS:
            _CACHE[group_id] = EcxGroup(group_id)
        else:
            raise ValueError(f"unsupported Diffie-Hellman group {group_id}")
    return _CACHE[group_id]


SUPPORTED = frozenset(MODP_GROUPS) | frozenset(ECP_GROUPS) | frozenset(ECX_GROUPS)
