"""IKEv2 messages and payloads (RFC 7296 §3, RFC 7383 §2.5): the names ikesrv imports.

Owns nothing but names: every class and function is the compiled codec's
(ikesrv._fast.codec), re-exported here so that callers write ``ikev2.SaPayload`` and
``ikev2.decode_message``. See the codec's docstring for the error contract, the limits
and what round-trips byte for byte.

    msg = ikev2.decode_message(datagram)        # Message, or MalformedMessage(reason, offset)
    inner = ikev2.decode_payloads(plain, sk.next_payload, base_offset=msg.sk_offset + 4)
    first, chain = ikev2.encode_payloads([IdPayload(...), AuthPayload(...), ...])
    datagram = ikev2.encode_message(Message(spi_i, spi_r, exchange, flags, mid, payloads))

Imports only ikesrv._fast.codec.
"""

from ikesrv._fast import codec as _codec

Message = _codec.Message
Transform = _codec.Transform
Proposal = _codec.Proposal
SaPayload = _codec.SaPayload
KePayload = _codec.KePayload
IdPayload = _codec.IdPayload
CertPayload = _codec.CertPayload
CertReqPayload = _codec.CertReqPayload
AuthPayload = _codec.AuthPayload
NoncePayload = _codec.NoncePayload
NotifyPayload = _codec.NotifyPayload
DeletePayload = _codec.DeletePayload
VendorIdPayload = _codec.VendorIdPayload
TrafficSelector = _codec.TrafficSelector
RawTrafficSelector = _codec.RawTrafficSelector
TsPayload = _codec.TsPayload
SkPayload = _codec.SkPayload
SkfPayload = _codec.SkfPayload
CpPayload = _codec.CpPayload
EapPayload = _codec.EapPayload
UnknownPayload = _codec.UnknownPayload

decode_message = _codec.v2_decode_message
encode_message = _codec.v2_encode_message
decode_payloads = _codec.v2_decode_payloads
encode_payloads = _codec.v2_encode_payloads
encode_header = _codec.v2_encode_header
encode_payload_body = _codec.v2_encode_payload_body
peek_header = _codec.peek_header

__all__ = [
    "Message", "Transform", "Proposal", "SaPayload", "KePayload", "IdPayload", "CertPayload",
    "CertReqPayload", "AuthPayload", "NoncePayload", "NotifyPayload", "DeletePayload",
    "VendorIdPayload", "TrafficSelector", "RawTrafficSelector", "TsPayload", "SkPayload",
    "SkfPayload", "CpPayload", "EapPayload", "UnknownPayload",
    "decode_message", "encode_message", "decode_payloads", "encode_payloads", "encode_header",
    "encode_payload_body", "peek_header",
]
