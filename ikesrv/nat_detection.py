"""NAT detection: the hashes of NAT_DETECTION_*_IP (IKEv2) and NAT-D (IKEv1), and what
the peer's hashes say about NATs between us.

Owns: building our notification / payload data and evaluating the peer's, for
  - IKEv2, RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port), with the SPIs as they stand
    in the header of the message that carries the notify (SPIr is zero in the
    IKE_SA_INIT request);
  - IKEv1, RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port) with the hash algorithm
    negotiated for the ISAKMP SA (a plain hash, not the prf). The draft-02/03 NAT-D
    payloads that older clients send (type 130) carry the same hash.
IP is 4 octets for IPv4 and 16 for IPv6, Port 2 octets, both in network order.

Addresses are ``(host, port)`` tuples as the socket API gives them. An IPv4-mapped IPv6
host counts as its IPv4 address: the peer hashed what was on the wire.

Must not import asyncio, socket or any I/O module.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Iterable, Sequence

from ._fast import prf as _fast
from .constants import V1HashAlgorithm

Addr = tuple[str, int]

#: The IKEv1 hash algorithms NAT-D can be computed with, as ikesrv._fast digests (one
#: libcrypto digest object per algorithm, fetched once; hashlib looks each up by name on
#: every call).
_V1_DIGESTS = {
    V1HashAlgorithm.MD5: _fast.MD5,
    V1HashAlgorithm.SHA: _fast.SHA1,
    V1HashAlgorithm.SHA2_256: _fast.SHA256,
    V1HashAlgorithm.SHA2_384: _fast.SHA384,
    V1HashAlgorithm.SHA2_512: _fast.SHA512,
}
_SHA1 = _fast.SHA1
_digest_concat = _fast.digest_concat


def _ip_port(addr: Addr) -> bytes:
    host, port = addr
    return _packed_ip(host) + port.to_bytes(2, "big")


@functools.lru_cache(maxsize=4096)
def _packed_ip(host: str) -> bytes:
    # Cached by host alone: a client's port changes with every connection (and NAT), its
    # address does not within an SA; ipaddress's parse costs ~4 µs, four hashes per SA.
    ip = ipaddress.ip_address(host)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.packed


def _matches(received: Iterable[bytes], expected: bytes) -> bool:
    return any(hmac.compare_digest(r, expected) for r in received)


# ------------------------------------------------------------------ IKEv2 -------------


def v2_nat_hash(spi_i: bytes, spi_r: bytes, addr: Addr) -> bytes:
    """SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 §2.23)."""
    return _digest_concat(_SHA1, (spi_i, spi_r, _ip_port(addr)))


def v2_notify_data(spi_i: bytes, spi_r: bytes, local: Addr, remote: Addr) -> tuple[bytes, bytes]:
    """(NAT_DETECTION_SOURCE_IP, NAT_DETECTION_DESTINATION_IP) data for a message we
    send from ``local`` to ``remote`` with SPIs ``spi_i``, ``spi_r`` in its header."""
    return v2_nat_hash(spi_i, spi_r, local), v2_nat_hash(spi_i, spi_r, remote)


def detect(
    spi_i: bytes,
    spi_r: bytes,
    source_ip: Sequence[bytes],
    destination_ip: Sequence[bytes],
    local: Addr,
    remote: Addr,
) -> tuple[bool, bool]:
    """(local_behind_nat, remote_behind_nat) from a received message (RFC 7296 §2.23).

    ``source_ip`` holds the data of every NAT_DETECTION_SOURCE_IP notify (a multihomed
    sender may send several), ``destination_ip`` that of NAT_DETECTION_DESTINATION_IP;
    ``remote`` is the packet's source address and port, ``local`` its destination (our
    address), and the SPIs those of the message's header. The peer is behind a NAT when
    none of its source hashes matches the packet's source; we are when its destination
    hash does not match the address the packet reached. A list left empty (the peer
    sent no such notify) says nothing: that side is not reported as behind a NAT.
    """
    remote_behind = bool(source_ip) and not _matches(source_ip, v2_nat_hash(spi_i, spi_r, remote))
    local_behind = bool(destination_ip) and not _matches(
        destination_ip, v2_nat_hash(spi_i, spi_r, local)
    )
    return local_behind, remote_behind


# ------------------------------------------------------------------ IKEv1 -------------


def v1_nat_hash(hash_algorithm: int, cky_i: bytes, cky_r: bytes, addr: Addr) -> bytes:
    """HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash (RFC 3947 §3.2).

    Raises ValueError for a hash algorithm that cannot have been negotiated.
    """
    alg = _V1_DIGESTS.get(hash_algorithm)
    if alg is None:
        raise ValueError(f"no NAT-D hash for IKEv1 hash algorithm {hash_algorithm}")
    return _digest_concat(alg, (cky_i, cky_r, _ip_port(addr)))


def v1_payloads(hash_algorithm: int, cky_i: bytes, cky_r: bytes,
                local: Addr, remote: Addr) -> list[bytes]:
    """Data of the NAT-D payloads we send from ``local`` to ``remote``, in order.

    RFC 3947 §3.2: the first NAT-D payload hashes the remote end's address (the
    packet's destination), the following ones the sender's own addresses (we have one).
    """
    return [
        v1_nat_hash(hash_algorithm, cky_i, cky_r, remote),
        v1_nat_hash(hash_algorithm, cky_i, cky_r, local),
    ]


def v1_detect(
    hash_algorithm: int,
    cky_i: bytes,
    cky_r: bytes,
    nat_d: Sequence[bytes],
    local: Addr,
    remote: Addr,
) -> tuple[bool, bool]:
    """(local_behind_nat, remote_behind_nat) from the NAT-D payloads of a received
    message, in their order (RFC 3947 §3.2).

    The first payload is the sender's view of our address: a mismatch with the address
    the packet reached (``local``) puts us behind a NAT. The others are the sender's own
    addresses: none matching the packet's source (``remote``) puts the peer behind
    one (so does a lone payload, which names none of them: encapsulating is the safe
    side). No payloads at all (the peer does not do NAT-T) report no NAT.
    """
    if not nat_d:
        return False, False
    local_behind = not hmac.compare_digest(
        nat_d[0], v1_nat_hash(hash_algorithm, cky_i, cky_r, local)
    )
    remote_behind = not _matches(nat_d[1:], v1_nat_hash(hash_algorithm, cky_i, cky_r, remote))
    return local_behind, remote_behind
