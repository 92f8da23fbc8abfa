"""tshark's view of the IKE messages in a capture, as plain Python values.

Owns: ``dissect(pcap, keys=None)``: one ``WsMessage`` per IKE message that Wireshark's
isakmp dissector decoded (``tshark -T pdml``; decrypting with a tests/harness/ikekeys.py
keys file when given), each header field and each payload reduced to the shape
``tests/unit/test_captures_tshark.py`` compares with ikesrv's codec: ints for numbers,
lower-case hex for bytes, lists in wire order. Encrypted payloads that tshark could
decrypt carry their inner payloads (``inner``) and the plaintext chain tshark saw
(``plain``), so the codec can be checked on IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL,
Quick Mode and Transaction contents too. For IKEv2 fragments (RFC 7383) the reassembled
contents hang on the last fragment, as in Wireshark.

Byte strings are taken from the field that holds them when tshark has one (nonce, KE
data, AUTH data, vendor ID ...), else from the payload's own bytes (tshark's
``isakmp.typepayload`` value) after its fixed header, so that a boundary tshark drew
differently still shows.

Imports only the standard library and tests.harness.tshark.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ikekeys, tshark

Element = ET.Element


@dataclass
class WsPayload:
    type: int
    length: int
    raw: bytes  # the whole payload as tshark delimits it, generic header included
    fields: dict[str, Any]
    inner: list[WsPayload] | None = None  # decrypted contents of SK / SKF / IKEv1 E
    plain: bytes | None = None  # the decrypted payload chain (no padding)


@dataclass
class WsMessage:
    frame: int
    header: dict[str, Any]
    payloads: list[WsPayload]
    # IKEv1 with the E flag: size of the encrypted body, and what tshark decrypted
    encrypted_len: int | None = None
    inner: list[WsPayload] | None = None
    plain: bytes | None = None  # IKEv1: payloads + padding as decrypted
    extra: dict[str, Any] = field(default_factory=dict)


# --- PDML access ----------------------------------------------------------------------


def kids(el: Element, name: str) -> list[Element]:
    return [f for f in el.findall("field") if f.get("name") == name]


def kid(el: Element, name: str) -> Element | None:
    found = kids(el, name)
    return found[0] if found else None


def _first(el: Element, *names: str) -> Element | None:
    for name in names:
        found = kid(el, name)
        if found is not None:
            return found
    return None


def num(el: Element, name: str, default: int | None = None) -> int | None:
    f = kid(el, name)
    if f is None:
        return default
    show = f.get("show", "")
    try:
        return int(show, 0)
    except ValueError:
        return int(f.get("value", "0") or "0", 16)


def hexval(el: Element | None, name: str | None = None) -> str | None:
    f = kid(el, name) if (el is not None and name) else el
    return None if f is None else (f.get("value") or "").lower()


def _raw(el: Element) -> bytes:
    return bytes.fromhex(el.get("value") or "")


# --- payload bodies -------------------------------------------------------------------


def _attrs(el: Element, prefix: str) -> list[tuple[int, Any]]:
    """IKE/IPsec/IKEv2 transform or config attributes: (type, int) for TV, (type, hex)
    for TLV."""
    out = []
    for a in kids(el, prefix):
        tv = num(a, f"{prefix}.format") == 1
        atype = num(a, f"{prefix}.type")
        if tv:
            out.append((atype, int(hexval(a, f"{prefix}.value") or "0", 16)))
            continue
        value = hexval(a, f"{prefix}.value")
        if value is None:
            # a typed rendering (internal_ip4_address ...) holds the bytes instead
            typed = [
                f
                for f in a.findall("field")
                if f.get("name") not in (f"{prefix}.format", f"{prefix}.type", f"{prefix}.length")
            ]
            value = (typed[0].get("value") or "").lower() if typed else ""
        out.append((atype, value))
    return out


def _typepayloads(el: Element) -> list[Element]:
    return kids(el, "isakmp.typepayload")


def _transform_v2(t: Element) -> dict[str, Any]:
    tid = next(
        (f for f in t.findall("field") if f.get("name", "").startswith("isakmp.tf.id.")), None
    )
    return {
        "type": num(t, "isakmp.tf.type"),
        "id": int(tid.get("show"), 0) if tid is not None else None,
        "attrs": sorted(_attrs(t, "isakmp.ike2.attr")),
    }


def _proposal(p: Element, v1: bool) -> dict[str, Any]:
    transforms = _typepayloads(p)
    out = {
        "number": num(p, "isakmp.prop.number"),
        "protocol": num(p, "isakmp.prop.protoid"),
        "spi": hexval(p, "isakmp.spi") or "",
        "count": num(p, "isakmp.prop.transforms"),
    }
    if v1:
        out["transforms"] = [
            {
                "number": num(t, "isakmp.trans.number"),
                "id": num(t, "isakmp.trans.id"),
                "attrs": _attrs(t, "isakmp.ike.attr") + _attrs(t, "isakmp.ipsec.attr"),
            }
            for t in transforms
        ]
    else:
        out["transforms"] = [_transform_v2(t) for t in transforms]
    return out


def _fields_v2(ptype: int, el: Element, raw: bytes) -> dict[str, Any]:
    body = raw[4:]
    if ptype == 33:
        return {"proposals": [_proposal(p, False) for p in _typepayloads(el)]}
    if ptype == 34:
        return {
            "group": num(el, "isakmp.key_exchange.dh_group"),
            "data": hexval(el, "isakmp.key_exchange.data"),
        }
    if ptype in (35, 36):
        return {"id_type": num(el, "isakmp.id.type"), "data": body[4:].hex()}
    if ptype == 37:
        return {"encoding": num(el, "isakmp.cert.encoding"), "data": body[1:].hex()}
    if ptype == 38:
        return {
            "encoding": num(el, "isakmp.certreq.type"),
            "data": body[1:].hex(),
            "authorities": [hexval(a) for a in kids(el, "isakmp.ike.certreq.authority")],
        }
    if ptype == 39:
        return {"method": num(el, "isakmp.auth.method"), "data": hexval(el, "isakmp.auth.data")}
    if ptype == 40:
        return {"data": hexval(el, "isakmp.nonce")}
    if ptype == 41:
        spi_size = num(el, "isakmp.spisize", 0)
        return {
            "protocol": num(el, "isakmp.notify.protoid"),
            "spi": hexval(el, "isakmp.spi") or "",
            "type": num(el, "isakmp.notify.msgtype"),
            "data": body[4 + spi_size :].hex(),
        }
    if ptype == 42:
        return {
            "protocol": num(el, "isakmp.delete.protoid"),
            "spi_size": num(el, "isakmp.spisize"),
            "count": num(el, "isakmp.spinum"),
            "spis": [hexval(s) for s in kids(el, "isakmp.delete.spi")],
        }
    if ptype == 43:
        return {"data": hexval(el, "isakmp.vid_bytes")}
    if ptype in (44, 45):
        sels = []
        for ts in kids(el, "isakmp.ts.data"):
            # (an Element without children is false: no `or` between lookups)
            start = _first(ts, "isakmp.ts.start_ipv4", "isakmp.ts.start_ipv6")
            end = _first(ts, "isakmp.ts.end_ipv4", "isakmp.ts.end_ipv6")
            sels.append(
                {
                    "ts_type": num(ts, "isakmp.ts.type"),
                    "ip_protocol": num(ts, "isakmp.ts.protoid"),
                    "start_port": num(ts, "isakmp.ts.start_port"),
                    "end_port": num(ts, "isakmp.ts.end_port"),
                    "start_addr": hexval(start),
                    "end_addr": hexval(end),
                }
            )
        return {"count": num(el, "isakmp.ts.number"), "selectors": sels}
    if ptype == 46:
        return {
            "next_payload": num(el, "isakmp.nextpayload"),
            "data_len": len(body),
            "iv": hexval(el, "isakmp.enc.iv"),
            "icd": hexval(el, "isakmp.enc.icd"),
        }
    if ptype == 47:
        return {
            "cfg_type": num(el, "isakmp.cfg.type"),
            "attributes": [(t, v) for t, v in _attrs(el, "isakmp.cfg.attr")],
        }
    if ptype == 48:
        eap_len = int.from_bytes(body[2:4], "big") if len(body) >= 4 else 0
        code = body[0] if body else None
        has_type = code in (1, 2) and eap_len > 4
        return {
            "code": code,
            "identifier": body[1] if len(body) > 1 else None,
            "eap_type": body[4] if has_type else None,
            "data": body[5:eap_len].hex() if has_type else "",
            "eap_len": eap_len,
        }
    if ptype == 53:
        return {
            "next_payload": num(el, "isakmp.nextpayload"),
            "fragment_number": num(el, "isakmp.frag.number"),
            "total_fragments": num(el, "isakmp.frag.total"),
            "data_len": len(body) - 4,
            "iv": hexval(el, "isakmp.enc.iv"),
            "icd": hexval(el, "isakmp.enc.icd"),
        }
    return {"data": body.hex()}


def _fields_v1(ptype: int, el: Element, raw: bytes) -> dict[str, Any]:
    body = raw[4:]
    if ptype == 1:
        situation = hexval(el, "isakmp.sa.situation")
        return {
            "doi": num(el, "isakmp.sa.doi"),
            "situation": int(situation, 16) if situation else None,
            "proposals": [_proposal(p, True) for p in _typepayloads(el)],
        }
    if ptype == 4:
        return {"data": hexval(el, "isakmp.key_exchange.data")}
    if ptype == 5:
        return {
            "id_type": num(el, "isakmp.id.type"),
            "protocol_id": num(el, "isakmp.id.protoid"),
            "port": num(el, "isakmp.id.port"),
            "data": body[4:].hex(),
        }
    if ptype in (6, 7):
        return {"encoding": body[0] if body else None, "data": body[1:].hex()}
    if ptype == 8:
        return {"data": hexval(el, "isakmp.hash")}
    if ptype == 10:
        return {"data": hexval(el, "isakmp.nonce")}
    if ptype == 11:
        spi_size = num(el, "isakmp.spisize", 0)
        return {
            "doi": num(el, "isakmp.notify.doi"),
            "protocol": num(el, "isakmp.notify.protoid"),
            "spi": hexval(el, "isakmp.spi") or "",
            "type": num(el, "isakmp.notify.msgtype"),
            "data": body[8 + spi_size :].hex(),
        }
    if ptype == 12:
        return {
            "doi": num(el, "isakmp.delete.doi"),
            "protocol": num(el, "isakmp.delete.protoid"),
            "spi_size": num(el, "isakmp.spisize"),
            "count": num(el, "isakmp.spinum"),
            "spis": [hexval(s) for s in kids(el, "isakmp.delete.spi")],
        }
    if ptype == 13:
        return {"data": hexval(el, "isakmp.vid_bytes")}
    if ptype == 14:
        return {
            "cfg_type": num(el, "isakmp.cfg.type"),
            "identifier": num(el, "isakmp.cfg.identifier"),
            "attributes": _attrs(el, "isakmp.cfg.attr"),
        }
    if ptype in (20, 130):
        return {"data": hexval(el, "isakmp.ike.nat_hash")}
    return {"data": body.hex()}


def _payload(el: Element, v1: bool) -> WsPayload:
    ptype = int(el.get("show"), 0)
    raw = _raw(el)
    fields = (_fields_v1 if v1 else _fields_v2)(ptype, el, raw)
    p = WsPayload(ptype, num(el, "isakmp.payloadlength"), raw, fields)
    if not v1 and ptype in (46, 53):
        _inner_v2(p, el)
    return p


def _inner_v2(p: WsPayload, el: Element) -> None:
    """Decrypted contents of SK, or of a reassembled SKF message (on its last fragment)."""
    frags = kid(el, "isakmp.fragments")
    if frags is not None:
        inner = _typepayloads(el)
        p.inner = [_payload(i, False) for i in inner]
        p.plain = b"".join(_raw(f) for f in kids(frags, "isakmp.fragment"))
        return
    dec = kid(el, "isakmp.enc.decrypted")
    if dec is None:
        return  # not decrypted (no keys, or a wrong ICV)
    contained = kid(dec, "isakmp.enc.contained")
    # an empty SK (a liveness check, or its answer) decrypts to padding only
    inner = _typepayloads(contained) if contained is not None else []
    if p.type == 53 and p.fields.get("total_fragments", 1) > 1:
        return  # a fragment: its contents are shown reassembled on the last one
    p.inner = [_payload(i, False) for i in inner]
    p.plain = b"".join(_raw(i) for i in inner)


def _message(frame: int, proto: Element) -> WsMessage:
    version = num(proto, "isakmp.version")
    v1 = version is not None and version >> 4 == 1
    header = {
        "ispi": hexval(proto, "isakmp.ispi"),
        "rspi": hexval(proto, "isakmp.rspi"),
        "next_payload": num(proto, "isakmp.nextpayload"),
        "version": version,
        "exchange": num(proto, "isakmp.exchangetype"),
        "flags": num(proto, "isakmp.flags"),
        "message_id": num(proto, "isakmp.messageid"),
        "length": num(proto, "isakmp.length"),
    }
    msg = WsMessage(frame, header, [_payload(el, v1) for el in _typepayloads(proto)])
    enc = kid(proto, "isakmp.enc.data")
    if v1 and enc is not None:
        msg.encrypted_len = int(enc.get("size", "0"))
        inner = _typepayloads(enc)
        if inner:
            msg.inner = [_payload(i, True) for i in inner]
            padding = kid(enc, "isakmp.extradata")
            msg.plain = b"".join(_raw(i) for i in inner) + (
                _raw(padding) if padding is not None else b""
            )
    return msg


def dissect(pcap: str | os.PathLike, keys: str | os.PathLike | None = None) -> list[WsMessage]:
    """Every IKE message tshark decoded in ``pcap`` (decrypted with ``keys`` if given)."""
    with tempfile.TemporaryDirectory(prefix="ikt-ws-") as home:
        # an empty personal configuration, or just the key tables: the user's own
        # Wireshark preferences never change what the tests see
        env = (
            ikekeys.wireshark_config(keys, home)
            if keys
            else {**os.environ, "XDG_CONFIG_HOME": home}
        )
        packets = tshark.pdml(pcap, "isakmp", env=env)
    out = []
    for pkt in packets:
        frame = next(
            int(f.get("show")) for f in pkt.iter("field") if f.get("name") == "frame.number"
        )
        for proto in pkt.findall("proto"):
            if proto.get("name") == "isakmp" and kid(proto, "isakmp.ispi") is not None:
                out.append(_message(frame, proto))
    return out


def keys_for(pcap: str | os.PathLike) -> Path | None:
    k = Path(pcap).with_suffix(".keys")
    return k if k.exists() else None
