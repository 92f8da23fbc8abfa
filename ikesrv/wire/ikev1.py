"""ISAKMP/IKEv1 messages and payloads (RFC 2408 §3, RFC 2407 §4.6, RFC 2409, RFC 3947):
the names ikesrv imports.

Owns nothing but names: the classes are the compiled codec's ``V1...`` classes
(ikesrv._fast.codec), re-exported here without the prefix (``ikev1.SaPayload`` is
``V1SaPayload``; reprs keep the prefix). See the codec's docstring for the error
contract, the limits and what round-trips byte for byte.

    msg = ikev1.decode_message(datagram)
    if msg.payloads is None:                      # Encryption flag: the caller decrypts
        payloads = ikev1.decode_payloads(plain, msg.next_payload, base_offset=28)

Imports only ikesrv._fast.codec.
"""

from ikesrv._fast import codec as _codec

Message = _codec.V1Message
Attribute = _codec.V1Attribute
Transform = _codec.V1Transform
Proposal = _codec.V1Proposal
SaPayload = _codec.V1SaPayload
KePayload = _codec.V1KePayload
IdPayload = _codec.V1IdPayload
CertPayload = _codec.V1CertPayload
CrPayload = _codec.V1CrPayload
HashPayload = _codec.V1HashPayload
SigPayload = _codec.V1SigPayload
NoncePayload = _codec.V1NoncePayload
NotifyPayload = _codec.V1NotifyPayload
DeletePayload = _codec.V1DeletePayload
VendorIdPayload = _codec.V1VendorIdPayload
AttributePayload = _codec.V1AttributePayload
NatDPayload = _codec.V1NatDPayload
NatOaPayload = _codec.V1NatOaPayload
FragmentPayload = _codec.V1FragmentPayload
UnknownPayload = _codec.V1UnknownPayload

decode_message = _codec.v1_decode_message
encode_message = _codec.v1_encode_message
decode_payloads = _codec.v1_decode_payloads
encode_payloads = _codec.v1_encode_payloads
encode_header = _codec.v1_encode_header
encode_payload_body = _codec.v1_encode_payload_body
peek_header = _codec.peek_header

__all__ = [
    "Message", "Attribute", "Transform", "Proposal", "SaPayload", "KePayload", "IdPayload",
    "CertPayload", "CrPayload", "HashPayload", "SigPayload", "NoncePayload", "NotifyPayload",
    "DeletePayload", "VendorIdPayload", "AttributePayload", "NatDPayload", "NatOaPayload",
    "FragmentPayload", "UnknownPayload",
    "decode_message", "encode_message", "decode_payloads", "encode_payloads", "encode_header",
    "encode_payload_body", "peek_header",
]
