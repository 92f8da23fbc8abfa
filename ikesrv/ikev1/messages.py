"""Building, protecting and opening the messages of one ISAKMP SA.

Owns: the plaintext and encrypted message forms (RFC 2408 §3.1: with the Encryption
flag the bytes after the header are CBC-encrypted, IVs chained per RFC 2409 App. B by
``crypto.ikev1_cipher``), the HASH payload that leads every message after phase 1
(RFC 2409 §5.5, §5.7; draft-dukes-ike-mode-cfg §3.2 uses the informational form for
Transaction exchanges), the Cisco/strongSwan fragmentation of large messages (payload
132: each fragment is a plaintext ISAKMP message carrying a slice of the whole
encrypted message; reassembly is bounded in count and size), and a read-only view over
a payload list.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

import functools
import hmac

from ..constants import V1Doi, V1ExchangeType, V1PayloadType, V1ProtocolId
from ..crypto import ikev1_keys
from ..errors import IntegrityCheckFailed, MalformedMessage
from ..wire import ikev1 as w
from .isakmp_sa import IsakmpSa, Reassembly

P = V1PayloadType

# Cisco's fragments: sized so that the IP datagram stays within 1280 bytes, as strongSwan
# does by default (charon.fragment_size).
FRAGMENT_IP_SIZE = 1280
MAX_FRAGMENTS = 16
MAX_REASSEMBLED = 64 * 1024

#: The draft payload numbers (130, 131) read as their RFC 3947 types.
_ALIASES = {P.NAT_D_DRAFT: P.NAT_D, P.NAT_OA_DRAFT: P.NAT_OA}


def payload_type(p) -> int:
    """A payload object's type, with the NAT-T draft numbers folded into the RFC ones."""
    t = p.payload_type
    return _ALIASES.get(t, t)


class V1Payloads:
    """Read access to a message's payloads by type (built once per message)."""

    __slots__ = ("_by_type", "_notifies", "items", "shape")

    def __init__(self, items: list):
        self.items = items
        by_type: dict[int, list] = {}
        notifies: dict[int, list] = {}
        aliases, notify = _ALIASES, P.N
        shape = []
        for p in items:
            t = p.payload_type
            t = aliases.get(t, t)  # payload_type(p), inlined: every payload of every message
            shape.append(t)
            by_type.setdefault(t, []).append(p)
            if t == notify:
                notifies.setdefault(p.type, []).append(p)
        self._by_type = by_type
        self._notifies = notifies
        self.shape = tuple(shape)  # the payload types in order (what a transition checks)

    def counts(self) -> dict[int, int]:
        """How many payloads of each type (what a transition row checks)."""
        return {t: len(found) for t, found in self._by_type.items()}

    def first(self, ptype: int):
        found = self._by_type.get(ptype)
        return found[0] if found else None

    def all(self, ptype: int) -> list:
        return self._by_type.get(ptype, [])

    def types(self):
        return self._by_type.keys()

    def notify(self, notify_type: int):
        found = self._notifies.get(notify_type)
        return found[0] if found else None

    def has_notify(self, notify_type: int) -> bool:
        return notify_type in self._notifies

    def error_notifies(self) -> list:
        return [p for t, ps in self._notifies.items() if t < 16384 for p in ps]


def notify(notify_type: int, data: bytes = b"", *, protocol: int = V1ProtocolId.PROTO_ISAKMP,
           spi: bytes = b"") -> w.NotifyPayload:
    return w.NotifyPayload(doi=V1Doi.IPSEC, protocol=protocol, spi=spi, type=notify_type,
                           data=data)


def encode_attributes(attributes: list[tuple[int, int | bytes]]) -> bytes:
    """Data attributes (RFC 2408 §3.3): an int is a TV attribute (AF bit set, 16 bits),
    bytes a TLV one."""
    out = bytearray()
    for attr_type, value in attributes:
        if isinstance(value, int):
            out += (attr_type | 0x8000).to_bytes(2, "big") + value.to_bytes(2, "big")
        else:
            out += attr_type.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value
    return bytes(out)


@functools.lru_cache(maxsize=64)  # the configured lifetimes: the same few every time
def lifetime_attributes(type_attr: int, duration_attr: int, seconds: int) -> bytes:
    """RESPONDER-LIFETIME notification data: Life Type seconds and the duration, as a
    TV attribute when it fits 16 bits, else a 4-octet TLV (RFC 2407 §4.6.3.1, §4.5)."""
    duration = seconds if seconds <= 0xFFFF else seconds.to_bytes(4, "big")
    return encode_attributes([(type_attr, 1), (duration_attr, duration)])


def plain(spi_i: bytes, spi_r: bytes, exchange: int, message_id: int, payloads: list) -> bytes:
    """An unencrypted message (phase 1 before the keys, stateless notifies)."""
    return w.encode_message(w.Message(spi_i=spi_i, spi_r=spi_r, exchange=exchange, flags=0,
                                      message_id=message_id, payloads=payloads))


def seal(sa: IsakmpSa, exchange: int, message_id: int, payloads: list) -> bytes:
    """An encrypted message of ``sa`` carrying ``payloads`` (the IV of ``message_id`` moves)."""
    first, body = w.encode_payloads(payloads)
    return sa.cipher.seal(sa.spi_i, sa.spi_r, first, exchange, message_id, b"", body)


def seal_hashed(sa: IsakmpSa, exchange: int, message_id: int, payloads: list,
                hash_of) -> bytes:
    """An encrypted message whose first payload is a HASH over what follows it:
    ``hash_of(rest)`` gets the other payloads as on the wire (RFC 2409 §5.5, §5.7)."""
    first, rest = w.encode_payloads(payloads) if payloads else (0, b"")
    digest = hash_of(rest)
    head = bytes((first, 0, 0, 4 + len(digest))) + digest  # generic header: digests < 252
    return sa.cipher.seal(sa.spi_i, sa.spi_r, P.HASH, exchange, message_id, head, rest)


def informational_hash(sa: IsakmpSa, message_id: int):
    """HASH(1) = prf(SKEYID_a, M-ID | N/D), also used by Transaction exchanges."""
    def hash_of(rest: bytes) -> bytes:
        return ikev1_keys.informational_hash(sa.hash_alg, sa.skeyid_a, message_id, rest)
    return hash_of


def decrypt(sa: IsakmpSa, msg) -> tuple[bytes, list]:
    """Decrypt a received encrypted message without moving the IV: (plaintext, payloads).

    The caller verifies the message and then calls ``sa.cipher.advance``. Garbage (a
    wrong key, a forged message) ends in MalformedMessage from the payload decoder.
    """
    body = msg.encrypted_body
    plaintext = sa.cipher.decrypt(body, msg.message_id, advance=False)
    return plaintext, w.decode_payloads(plaintext, msg.next_payload, base_offset=28)


def chain_length(data: bytes, first_type: int, start: int = 0) -> int:
    """Octets of the payload chain at ``data[start:]`` up to its last payload (padding
    excluded), following the generic headers (RFC 2408 §3.2)."""
    off, ptype, end = start, first_type, len(data)
    for _ in range(64):
        if ptype == 0:
            return off - start
        if end - off < 4:
            raise MalformedMessage("payload chain runs past the decrypted data", 28 + off)
        plen = int.from_bytes(data[off + 2:off + 4], "big")
        if plen < 4 or plen > end - off:
            raise MalformedMessage(f"payload length {plen} does not fit", 28 + off)
        ptype = data[off]
        off += plen
    raise MalformedMessage("payload chain longer than 64 payloads", 28 + off)


def split_hash(plaintext: bytes, first_type: int) -> tuple[bytes, bytes]:
    """(HASH data, the payloads after it as on the wire) of a message that must begin
    with a HASH payload (RFC 2409 §5.5, §5.7)."""
    if first_type != P.HASH or len(plaintext) < 4:
        raise MalformedMessage("encrypted message does not begin with a HASH payload", 28)
    hlen = int.from_bytes(plaintext[2:4], "big")
    if hlen < 4 or hlen > len(plaintext):
        raise MalformedMessage(f"HASH payload length {hlen} does not fit", 30)
    rest_len = chain_length(plaintext, plaintext[0], hlen)
    return plaintext[4:hlen], plaintext[hlen:hlen + rest_len]


def verify_hash1(sa: IsakmpSa, plaintext: bytes, first_type: int, message_id: int,
                 what: str) -> None:
    """The HASH(1) leading a decrypted message (Quick Mode's first, Informational,
    Transaction: prf(SKEYID_a, M-ID | rest), RFC 2409 §5.5, §5.7); IntegrityCheckFailed."""
    if not ikev1_keys.hash1_matches(sa.hash_alg, sa.skeyid_a, message_id, plaintext,
                                    first_type):
        raise IntegrityCheckFailed(f"{what}: HASH does not verify")


def verify_hash3(sa: IsakmpSa, plaintext: bytes, first_type: int, message_id: int,
                 ni_b: bytes, nr_b: bytes, what: str) -> None:
    """QM3's HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (RFC 2409 §5.5)."""
    if not ikev1_keys.hash3_matches(sa.hash_alg, sa.skeyid_a, message_id, ni_b, nr_b,
                                    plaintext, first_type):
        raise IntegrityCheckFailed(f"{what}: HASH does not verify")


def check_hash(received: bytes, expected: bytes, what: str) -> None:
    if not hmac.compare_digest(received, expected):
        raise IntegrityCheckFailed(f"{what}: HASH does not verify")


# ------------------------------------------------------------------ fragments -----------


def max_message_size(sa: IsakmpSa, natt_port: int) -> int:
    ip_header = 40 if ":" in sa.remote[0] else 20
    marker = 4 if sa.local[1] == natt_port else 0
    return FRAGMENT_IP_SIZE - ip_header - 8 - marker


def datagrams(sa: IsakmpSa, data: bytes, natt_port: int) -> list[bytes]:
    """``data`` as sent: whole, or in fragments when both sides support them and it is
    too big for one 1280-byte IP datagram."""
    limit = max_message_size(sa, natt_port)
    if not sa.fragmentation or len(data) <= limit:
        return [data]
    room = limit - 28 - 8  # fragment header and fragment payload header
    chunks = [data[i:i + room] for i in range(0, len(data), room)]
    fid = sa.next_fragment_id
    sa.next_fragment_id = fid % 0xFFFF + 1
    # the fragments travel in the exchange type of phase 1 with message ID 0, as
    # strongSwan sends and expects them
    exchange = sa.exchange if sa.exchange else V1ExchangeType.IDENTITY_PROTECTION
    return [plain(sa.spi_i, sa.spi_r, exchange, 0,
                  [w.FragmentPayload(fragment_id=fid, fragment_number=n,
                                     last=n == len(chunks), data=chunk)])
            for n, chunk in enumerate(chunks, 1)]


def add_fragment(sa: IsakmpSa, frag) -> bytes | None:
    """Collect one fragment; the whole message once complete, else None."""
    if not sa.fragmentation:
        raise MalformedMessage("fragment received but fragmentation was not negotiated")
    number = frag.fragment_number
    if not 1 <= number <= MAX_FRAGMENTS:
        raise MalformedMessage(f"fragment number {number} out of bounds")
    r = sa.reassembly
    if r is None or r.fragment_id != frag.fragment_id:
        r = sa.reassembly = Reassembly(fragment_id=frag.fragment_id)
    if number in r.chunks:
        return None
    if frag.last:
        if r.last and r.last != number:
            sa.reassembly = None
            raise MalformedMessage("two fragments claim to be the last")
        r.last = number
    r.size += len(frag.data)
    if r.size > MAX_REASSEMBLED:
        sa.reassembly = None
        raise MalformedMessage(f"fragments exceed {MAX_REASSEMBLED} bytes")
    r.chunks[number] = frag.data
    if not r.last or len(r.chunks) < r.last:
        return None
    sa.reassembly = None
    if max(r.chunks) != r.last:
        raise MalformedMessage("fragment numbered beyond the last one")
    return b"".join(r.chunks[i] for i in range(1, r.last + 1))
