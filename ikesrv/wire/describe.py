"""JSON-ready descriptions of IKE messages, for ``ikesrv decode`` (DESIGN §6).

Owns the shape of the JSON that operators and tests read: one dict per message with
``ispi``, ``rspi`` (hex), ``version`` ("2.0", "1.0"), ``exchange`` and ``exchange_name``,
``flags``, ``message_id``, ``length`` and ``payloads``, a list in wire order of
``{"type": N, "name": ..., "length": N, ...fields}`` where ``length`` is the payload's
Payload Length on the wire (generic header included). IKEv1 proposals and transforms are
nested inside their SA. Binary fields are lower-case hex; AUTH, EAP, HASH and SIG data
and XAuth secrets appear only as a ``data_length``.

Encrypted content is listed, never opened: an IKEv2 SK/SKF payload is one entry (with
``next_payload``, the first inner type); an IKEv1 message with the Encryption flag has a
single entry ``{"type": <header Next Payload>, "name": "encrypted", "length": <body
bytes>, "encrypted": true, "next_payload_name": ...}``.

A message that does not decode gives ``{"error": reason, "offset": N}``.

Imports ikesrv.constants, ikesrv.errors and the codec (compiled by default; the tests
pass the reference build too). RFC 7296 §3, RFC 2408 §3, RFC 2407 §4.6, RFC 3947.
"""

from __future__ import annotations

import ipaddress
from enum import IntEnum
from types import ModuleType
from typing import Any

from ikesrv._fast import codec as _compiled_codec
from ikesrv.constants import (
    AuthMethod,
    CertEncoding,
    CfgAttribute,
    CfgType,
    DhId,
    EapCode,
    EapType,
    EncrId,
    EsnId,
    ExchangeType,
    IdType,
    IntegId,
    NotifyType,
    PayloadType,
    PrfId,
    ProtocolId,
    TransformType,
    TsType,
    V1AuthenticationAlgorithm,
    V1AuthMethod,
    V1CfgAttribute,
    V1CfgType,
    V1EncapsulationMode,
    V1EncryptionAlgorithm,
    V1EspTransformId,
    V1ExchangeType,
    V1HashAlgorithm,
    V1IdType,
    V1IpsecAttribute,
    V1IsakmpTransformId,
    V1LifeType,
    V1NotifyType,
    V1PayloadType,
    V1Phase1Attribute,
    V1ProtocolId,
    VendorId,
    enum_name,
)
from ikesrv.errors import IkeError

Json = dict[str, Any]

_TRANSFORM_IDS: dict[int, type[IntEnum]] = {
    TransformType.ENCR: EncrId,
    TransformType.PRF: PrfId,
    TransformType.INTEG: IntegId,
    TransformType.DH: DhId,
    TransformType.ESN: EsnId,
}
# IKEv1 attribute values that name a registry entry (RFC 2409 App. A, RFC 2407 §4.5)
_PHASE1_VALUES: dict[int, type[IntEnum]] = {
    V1Phase1Attribute.ENCRYPTION_ALGORITHM: V1EncryptionAlgorithm,
    V1Phase1Attribute.HASH_ALGORITHM: V1HashAlgorithm,
    V1Phase1Attribute.AUTHENTICATION_METHOD: V1AuthMethod,
    V1Phase1Attribute.GROUP_DESCRIPTION: DhId,
    V1Phase1Attribute.LIFE_TYPE: V1LifeType,
}
_IPSEC_VALUES: dict[int, type[IntEnum]] = {
    V1IpsecAttribute.SA_LIFE_TYPE: V1LifeType,
    V1IpsecAttribute.GROUP_DESCRIPTION: DhId,
    V1IpsecAttribute.ENCAPSULATION_MODE: V1EncapsulationMode,
    V1IpsecAttribute.AUTHENTICATION_ALGORITHM: V1AuthenticationAlgorithm,
}
_XAUTH_SECRETS = frozenset((
    V1CfgAttribute.XAUTH_USER_PASSWORD, V1CfgAttribute.XAUTH_PASSCODE,
    V1CfgAttribute.XAUTH_NEXT_PIN, V1CfgAttribute.XAUTH_ANSWER,
))
_VENDOR_IDS = {
    value: name for name, value in vars(VendorId).items() if isinstance(value, bytes)
}


def describe_message(data: bytes, *, codec: ModuleType | None = None) -> Json:
    """Describe one raw IKE message (the UDP payload, non-ESP marker already removed)."""
    codec = codec or _compiled_codec
    data = bytes(data)
    try:
        header = codec.peek_header(data)
        major = header[3] >> 4
        if major == 2:
            msg = codec.v2_decode_message(data)
            payloads = _v2_payloads(msg.payloads, _lengths(data, header[2], True))
        elif major == 1:
            msg = codec.v1_decode_message(data)
            if msg.payloads is None:
                payloads = [_v1_encrypted(msg)]
            else:
                payloads = _v1_payloads(msg.payloads, _lengths(data, header[2], False))
        else:
            return {"error": f"IKE major version {major} is neither 1 nor 2", "offset": 17}
    except IkeError as exc:
        return {"error": exc.reason, "offset": exc.offset}
    exchanges = ExchangeType if major == 2 else V1ExchangeType
    return {
        "ispi": msg.spi_i.hex(),
        "rspi": msg.spi_r.hex(),
        "version": f"{major}.{msg.version & 0x0F}",
        "exchange": msg.exchange,
        "exchange_name": enum_name(exchanges, msg.exchange),
        "flags": msg.flags,
        "message_id": msg.message_id,
        "length": msg.length,
        "payloads": payloads,
    }


def _lengths(data: bytes, first: int, v2: bool) -> list[int]:
    """Payload Length of each top-level payload of a message that decoded."""
    lengths = []
    off, ptype = 28, first
    while ptype != 0 and off + 4 <= len(data):
        length = int.from_bytes(data[off + 2:off + 4], "big")
        lengths.append(length)
        if v2 and ptype in (PayloadType.SK, PayloadType.SKF):
            break
        ptype = data[off]
        off += length
    return lengths


def _entry(ptype: int, names: type[IntEnum], length: int, **fields: Any) -> Json:
    return {"type": ptype, "name": enum_name(names, ptype), "length": length, **fields}


def _named(value: int, names: type[IntEnum] | None) -> str | None:
    return enum_name(names, value) if names is not None else None


def _identity(id_type: int, data: bytes, ipv4: int, ipv6: int, text: tuple[int, ...]) -> str:
    """A readable form of an identity: an address, a name, or hex."""
    if id_type == ipv4 and len(data) == 4:
        return str(ipaddress.IPv4Address(data))
    if id_type == ipv6 and len(data) == 16:
        return str(ipaddress.IPv6Address(data))
    if id_type in text:
        return data.decode("utf-8", "replace")
    return data.hex()


def _address(data: bytes) -> str:
    if len(data) == 4:
        return str(ipaddress.IPv4Address(data))
    if len(data) == 16:
        return str(ipaddress.IPv6Address(data))
    return data.hex()


# ---- IKEv2 ------------------------------------------------------------------------------


def _v2_payloads(payloads: list, lengths: list[int]) -> list[Json]:
    return [_v2_payload(p, length) for p, length in zip(payloads, lengths)]


def _v2_payload(p: Any, length: int) -> Json:
    kind = type(p).__name__
    ptype = p.payload_type
    if kind == "SaPayload":
        return _entry(ptype, PayloadType, length, proposals=[_v2_proposal(x) for x in p.proposals])
    if kind == "KePayload":
        return _entry(ptype, PayloadType, length, group=p.group,
                      group_name=enum_name(DhId, p.group), data=p.data.hex())
    if kind == "IdPayload":
        return _entry(ptype, PayloadType, length, id_type=p.id_type,
                      id_type_name=enum_name(IdType, p.id_type), data=p.data.hex(),
                      id=_identity(p.id_type, p.data, IdType.ID_IPV4_ADDR, IdType.ID_IPV6_ADDR,
                                   (IdType.ID_FQDN, IdType.ID_RFC822_ADDR)))
    if kind in ("CertPayload", "CertReqPayload"):
        return _entry(ptype, PayloadType, length, encoding=p.encoding,
                      encoding_name=enum_name(CertEncoding, p.encoding), data=p.data.hex())
    if kind == "AuthPayload":
        return _entry(ptype, PayloadType, length, method=p.method,
                      method_name=enum_name(AuthMethod, p.method), data_length=len(p.data))
    if kind in ("NoncePayload", "VendorIdPayload"):
        entry = _entry(ptype, PayloadType, length, data=p.data.hex())
        if kind == "VendorIdPayload" and p.data in _VENDOR_IDS:
            entry["vendor"] = _VENDOR_IDS[p.data]
        return entry
    if kind == "NotifyPayload":
        return _entry(ptype, PayloadType, length, notify_type=p.type,
                      notify_name=enum_name(NotifyType, p.type), protocol=p.protocol,
                      spi=p.spi.hex(), data=p.data.hex())
    if kind == "DeletePayload":
        return _entry(ptype, PayloadType, length, protocol=p.protocol,
                      protocol_name=enum_name(ProtocolId, p.protocol),
                      spi_size=p.effective_spi_size(), spis=[s.hex() for s in p.spis])
    if kind == "TsPayload":
        return _entry(ptype, PayloadType, length, selectors=[_v2_selector(s) for s in p.selectors])
    if kind == "SkPayload":
        return _entry(ptype, PayloadType, length, next_payload=p.next_payload,
                      next_payload_name=enum_name(PayloadType, p.next_payload),
                      data_length=len(p.data))
    if kind == "SkfPayload":
        return _entry(ptype, PayloadType, length, next_payload=p.next_payload,
                      fragment_number=p.fragment_number, total_fragments=p.total_fragments,
                      data_length=len(p.data))
    if kind == "CpPayload":
        return _entry(ptype, PayloadType, length, cfg_type=p.cfg_type,
                      cfg_type_name=enum_name(CfgType, p.cfg_type),
                      attributes=[{"type": t, "name": enum_name(CfgAttribute, t), "value": v.hex()}
                                  for t, v in p.attributes])
    if kind == "EapPayload":
        entry = _entry(ptype, PayloadType, length, code=p.code,
                       code_name=enum_name(EapCode, p.code), identifier=p.identifier)
        if p.eap_type is not None:
            entry["eap_type"] = p.eap_type
            entry["eap_type_name"] = enum_name(EapType, p.eap_type)
        entry["data_length"] = len(p.data)
        return entry
    return _entry(ptype, PayloadType, length, critical=bool(p.critical), data=p.data.hex())


def _v2_proposal(prop: Any) -> Json:
    return {
        "number": prop.number,
        "protocol": prop.protocol,
        "protocol_name": enum_name(ProtocolId, prop.protocol),
        "spi": prop.spi.hex(),
        "transforms": [_v2_transform(t) for t in prop.transforms],
    }


def _v2_transform(tr: Any) -> Json:
    out: Json = {
        "type": tr.type,
        "type_name": enum_name(TransformType, tr.type),
        "id": tr.id,
        "id_name": _named(tr.id, _TRANSFORM_IDS.get(tr.type)) or str(tr.id),
    }
    if tr.key_length is not None:
        out["key_length"] = tr.key_length
    if tr.attributes:
        out["attributes"] = [
            {"type": t, "value": v if isinstance(v, int) else v.hex()} for t, v in tr.attributes
        ]
    return out


def _v2_selector(ts: Any) -> Json:
    if type(ts).__name__ == "RawTrafficSelector":
        return {"ts_type": ts.ts_type, "ts_type_name": enum_name(TsType, ts.ts_type),
                "data": ts.data.hex()}
    return {
        "ts_type": ts.ts_type,
        "ts_type_name": enum_name(TsType, ts.ts_type),
        "ip_protocol": ts.ip_protocol,
        "start_port": ts.start_port,
        "end_port": ts.end_port,
        "start_addr": _address(ts.start_addr),
        "end_addr": _address(ts.end_addr),
    }


# ---- IKEv1 ------------------------------------------------------------------------------


def _v1_encrypted(msg: Any) -> Json:
    return {
        "type": msg.next_payload,
        "name": "encrypted",
        "length": len(msg.encrypted_body),
        "encrypted": True,
        "next_payload_name": enum_name(V1PayloadType, msg.next_payload),
    }


def _v1_payloads(payloads: list, lengths: list[int]) -> list[Json]:
    return [_v1_payload(p, length) for p, length in zip(payloads, lengths)]


def _v1_payload(p: Any, length: int) -> Json:
    kind = type(p).__name__
    ptype = p.payload_type
    if kind == "V1SaPayload":
        return _entry(ptype, V1PayloadType, length, doi=p.doi, situation=p.situation,
                      proposals=[_v1_proposal(x) for x in p.proposals])
    if kind in ("V1KePayload", "V1NoncePayload", "V1NatDPayload"):
        return _entry(ptype, V1PayloadType, length, data=p.data.hex())
    if kind == "V1VendorIdPayload":
        entry = _entry(ptype, V1PayloadType, length, data=p.data.hex())
        if p.data in _VENDOR_IDS:
            entry["vendor"] = _VENDOR_IDS[p.data]
        return entry
    if kind == "V1IdPayload":
        return _entry(ptype, V1PayloadType, length, id_type=p.id_type,
                      id_type_name=enum_name(V1IdType, p.id_type), protocol_id=p.protocol_id,
                      port=p.port, data=p.data.hex(),
                      id=_identity(p.id_type, p.data, V1IdType.ID_IPV4_ADDR,
                                   V1IdType.ID_IPV6_ADDR,
                                   (V1IdType.ID_FQDN, V1IdType.ID_USER_FQDN)))
    if kind in ("V1CertPayload", "V1CrPayload"):
        return _entry(ptype, V1PayloadType, length, encoding=p.encoding,
                      encoding_name=enum_name(CertEncoding, p.encoding), data=p.data.hex())
    if kind in ("V1HashPayload", "V1SigPayload"):
        return _entry(ptype, V1PayloadType, length, data_length=len(p.data))
    if kind == "V1NotifyPayload":
        return _entry(ptype, V1PayloadType, length, doi=p.doi, protocol=p.protocol,
                      spi=p.spi.hex(), notify_type=p.type,
                      notify_name=enum_name(V1NotifyType, p.type), data=p.data.hex())
    if kind == "V1DeletePayload":
        return _entry(ptype, V1PayloadType, length, doi=p.doi, protocol=p.protocol,
                      protocol_name=enum_name(V1ProtocolId, p.protocol), spi_size=p.spi_size,
                      spis=[s.hex() for s in p.spis])
    if kind == "V1AttributePayload":
        return _entry(ptype, V1PayloadType, length, cfg_type=p.cfg_type,
                      cfg_type_name=enum_name(V1CfgType, p.cfg_type), identifier=p.identifier,
                      attributes=[_v1_attribute(a, V1CfgAttribute, None) for a in p.attributes])
    if kind == "V1NatOaPayload":
        return _entry(ptype, V1PayloadType, length, id_type=p.id_type,
                      address=_address(p.data))
    if kind == "V1FragmentPayload":
        return _entry(ptype, V1PayloadType, length, fragment_id=p.fragment_id,
                      fragment_number=p.fragment_number, last=bool(p.last),
                      data_length=len(p.data))
    return _entry(ptype, V1PayloadType, length, data=p.data.hex())


def _v1_proposal(prop: Any) -> Json:
    isakmp = prop.protocol == V1ProtocolId.PROTO_ISAKMP
    ids = V1IsakmpTransformId if isakmp else V1EspTransformId if (
        prop.protocol == V1ProtocolId.PROTO_IPSEC_ESP) else None
    return {
        "number": prop.number,
        "protocol": prop.protocol,
        "protocol_name": enum_name(V1ProtocolId, prop.protocol),
        "spi": prop.spi.hex(),
        "transforms": [
            {
                "number": t.number,
                "transform_id": t.transform_id,
                "transform_id_name": _named(t.transform_id, ids) or str(t.transform_id),
                "attributes": [
                    _v1_attribute(a, V1Phase1Attribute if isakmp else V1IpsecAttribute,
                                  _PHASE1_VALUES if isakmp else _IPSEC_VALUES)
                    for a in t.attributes
                ],
            }
            for t in prop.transforms
        ],
    }


def _v1_attribute(attr: Any, names: type[IntEnum],
                  values: dict[int, type[IntEnum]] | None) -> Json:
    out: Json = {"type": attr.type, "name": enum_name(names, attr.type)}
    if isinstance(attr.value, int):
        out["value"] = attr.value
        if values and attr.type in values:
            out["value_name"] = enum_name(values[attr.type], attr.value)
    elif names is V1CfgAttribute and attr.type in _XAUTH_SECRETS:
        out["value_length"] = len(attr.value)
    else:
        out["value"] = attr.value.hex()
    return out
