"""Building, protecting, fragmenting and opening IKEv2 messages of an established SA.

Owns: turning a list of payloads into the datagrams of one encrypted message (SK, or SKF
fragments when the peer supports RFC 7383 and the message is too big), and turning a
received SK/SKF message back into its inner payloads, with fragment reassembly bounded
in count and size. Also a small view over a payload list that the tasks query.

Must not import asyncio, socket or the clock.
"""

from __future__ import annotations

from ..constants import HeaderFlag, NotifyType, PayloadType
from ..errors import IntegrityCheckFailed, MalformedMessage
from ..wire import ikev2 as w
from .ike_sa import IkeSa, Reassembly

# RFC 7383 §2.5.1: fragments sized so the IP datagram stays within 1280 bytes, which
# every IPv6 path carries and practically every IPv4 path too.
FRAGMENT_IP_SIZE = 1280
MAX_FRAGMENTS = 32  # RFC 7383 §2.6: bound what a peer can make us keep
MAX_REASSEMBLED = 64 * 1024
_INITIATOR, _RESPONSE = int(HeaderFlag.INITIATOR), int(HeaderFlag.RESPONSE)  # no enum ops


_NOTIFY = int(PayloadType.NOTIFY)


class Payloads:
    """Read access to a message's payloads by type (built once per message)."""

    __slots__ = ("items", "_by_type", "_notifies")

    def __init__(self, items: list):
        self.items = items
        by_type: dict[int, list] = {}
        notifies: dict[int, list] = {}
        notify = _NOTIFY
        for p in items:
            t = p.payload_type
            by_type.setdefault(t, []).append(p)
            if t == notify:
                notifies.setdefault(p.type, []).append(p)
        self._by_type = by_type
        self._notifies = notifies

    def first(self, payload_type: int):
        found = self._by_type.get(payload_type)
        return found[0] if found else None

    def all(self, payload_type: int) -> list:
        return self._by_type.get(payload_type, [])

    def notify(self, notify_type: int):
        found = self._notifies.get(notify_type)
        return found[0] if found else None

    def notifies(self, notify_type: int) -> list:
        return self._notifies.get(notify_type, [])

    def has_notify(self, notify_type: int) -> bool:
        return notify_type in self._notifies

    def error_notifies(self) -> list:
        return [p for t, ps in self._notifies.items() if t < 16384 for p in ps]


def max_ike_size(sa: IkeSa) -> int:
    """Largest IKE message that fits a FRAGMENT_IP_SIZE IP datagram on this path."""
    ip_header = 40 if ":" in sa.remote[0] else 20
    marker = 4 if sa.natt else 0
    return FRAGMENT_IP_SIZE - ip_header - 8 - marker


def seal(sa: IkeSa, exchange: int, is_response: bool, message_id: int, payloads: list,
         rng) -> list[bytes]:
    """The datagrams of one encrypted message (one, or RFC 7383 fragments)."""
    first, plain = w.encode_payloads(payloads)
    flags = (_INITIATOR if sa.we_initiated else 0) | (_RESPONSE if is_response else 0)
    cipher = sa.cipher_out
    limit = max_ike_size(sa)
    header = w.encode_header(sa.spi_i, sa.spi_r, PayloadType.SK, exchange, flags, message_id, 0)
    if not sa.fragmentation or 28 + cipher.sealed_len(len(plain)) <= limit:
        return [cipher.seal(header, b"", first, plain, rng)]
    # RFC 7383 §2.5: split the plaintext, each fragment protected on its own
    room = cipher.max_plaintext(limit - 28, skf=True)
    chunks = [plain[i:i + room] for i in range(0, len(plain), room)]
    total = len(chunks)
    header = w.encode_header(sa.spi_i, sa.spi_r, PayloadType.SKF, exchange, flags, message_id, 0)
    return [
        cipher.seal(header, b"", first if n == 1 else 0, chunk, rng, skf=(n, total))
        for n, chunk in enumerate(chunks, 1)
    ]


def open_sk(sa: IkeSa, data: bytes, msg) -> list | None:
    """Decrypt a received SK or SKF message of ``sa`` into its inner payloads.

    Returns None while fragments are still missing. Raises IntegrityCheckFailed,
    MalformedMessage or UnsupportedCriticalPayload.
    """
    if not msg.payloads:
        raise MalformedMessage("encrypted message without an SK payload", 28)
    last = msg.payloads[-1]
    if last.payload_type == PayloadType.SK:
        if len(msg.payloads) != 1:
            raise MalformedMessage("unencrypted payloads before SK", 28)
        plain = sa.cipher_in.open(data, msg.sk_offset)
        return w.decode_payloads(plain, last.next_payload)
    if last.payload_type == PayloadType.SKF:
        return _reassemble(sa, data, msg, last)
    raise MalformedMessage("message after IKE_SA_INIT is not encrypted", 28)


def _reassemble(sa: IkeSa, data: bytes, msg, skf) -> list | None:
    if not sa.fragmentation:
        raise MalformedMessage("fragment received but fragmentation was not negotiated",
                               msg.sk_offset)
    number, total = skf.fragment_number, skf.total_fragments
    if not 1 <= number <= total or total > MAX_FRAGMENTS:
        raise MalformedMessage(f"fragment {number} of {total} out of bounds", msg.sk_offset)
    plain = sa.cipher_in.open(data, msg.sk_offset)  # §2.6.1: verify each one first
    r = sa.reassembly
    if r is None or r.message_id != msg.message_id or r.total != total:
        # §2.6.1: a different message or a new total starts over
        r = sa.reassembly = Reassembly(message_id=msg.message_id, total=total)
    if number in r.chunks:
        return None
    if number == 1:
        r.first_payload = skf.next_payload
    elif skf.next_payload != 0:
        raise MalformedMessage("non-first fragment names a next payload", msg.sk_offset)
    r.size += len(plain)
    if r.size > MAX_REASSEMBLED:
        sa.reassembly = None
        raise MalformedMessage(f"reassembled message exceeds {MAX_REASSEMBLED} bytes",
                               msg.sk_offset)
    r.chunks[number] = plain
    if len(r.chunks) < total:
        return None
    sa.reassembly = None
    whole = b"".join(r.chunks[i] for i in range(1, total + 1))
    return w.decode_payloads(whole, r.first_payload)


def notify(notify_type: NotifyType, data: bytes = b"", protocol: int = 0, spi: bytes = b""):
    return w.NotifyPayload(type=notify_type, data=data, protocol=protocol, spi=spi)


__all__ = ["Payloads", "seal", "open_sk", "notify", "max_ike_size", "IntegrityCheckFailed"]
