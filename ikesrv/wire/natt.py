"""NAT-T framing of UDP port 4500 (RFC 3948 §2, RFC 3947 §4, RFC 7296 §2.23).

Owns the split of a datagram received on 4500 into a NAT keepalive, an IKE message
(after the 4-byte non-ESP marker) or ESP-in-UDP (the kernel's business, normally
consumed before it reaches us), and the marker added to IKE messages sent from 4500.
Imports only ikesrv.constants and ikesrv.errors.
"""

from __future__ import annotations

from ikesrv.constants import NAT_KEEPALIVE, NON_ESP_MARKER
from ikesrv.errors import MalformedMessage

KEEPALIVE = "keepalive"
IKE = "ike"
ESP = "esp"


def classify(data: bytes) -> tuple[str, bytes]:
    """Classify a UDP payload received on port 4500.

    Returns (KEEPALIVE, b"") for the single 0xFF byte (RFC 3948 §2.3), (IKE, message)
    with the non-ESP marker stripped (§2.2), (ESP, data) for anything else: an ESP SPI
    is never zero, so four zero bytes can only be the marker. Raises MalformedMessage
    for a datagram too short to tell (under 4 bytes and not a keepalive).
    """
    data = bytes(data)
    if data == NAT_KEEPALIVE:
        return KEEPALIVE, b""
    if len(data) < 4:
        raise MalformedMessage(
            f"{len(data)}-byte datagram on port 4500 is neither a NAT keepalive nor IKE/ESP", 0
        )
    if data[:4] == NON_ESP_MARKER:
        return IKE, data[4:]
    return ESP, data


def add_marker(ike: bytes) -> bytes:
    """Prefix an IKE message with the non-ESP marker, to send it from port 4500."""
    return NON_ESP_MARKER + bytes(ike)
