"""ikesrv's codec against Wireshark, on real IKE traffic.

tests/data/captures/ holds captures of strongSwan, libreswan and ike-scan exchanges made
in network namespaces (tests/captures/make_captures.py; how each was made is in that
directory's README.md), with the IKE keys of their throw-away SAs. For every IKE message
in every capture:

  - our decoding agrees with tshark's dissection field by field: the header (SPIs,
    next payload, version, exchange, flags, message ID, length) and every payload in
    order (type, length, and per type: proposals / transforms / attributes, KE group
    and data, nonce, notify protocol, SPI, type and data, IDs, certificates, AUTH, TS,
    CP and IKEv1 attribute payloads, Delete SPIs, vendor IDs, NAT-D, EAP, SK/SKF);
    encrypted payloads are compared after tshark decrypted them with the logged keys
    (the plaintext chain is what tshark decrypted; our codec decodes it);
  - our encoder gives back the bytes: encode(decode(b)) == b for every message, and
    for every decrypted payload chain.

Needs tshark (``make lab`` installs it), not root: without it the tests skip, or fail
under IKESRV_REQUIRE_ROOT_TESTS=1.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from ikesrv.wire import ikev1, ikev2, natt
from tests.harness import pcap, policy
from tests.harness import wireshark_ike as ws

CAPTURE_DIR = Path(__file__).resolve().parents[1] / "data" / "captures"
CAPTURES = sorted(CAPTURE_DIR.glob("*.pcap"))
KEYED = [p for p in CAPTURES if ws.keys_for(p)]  # the captures with encrypted exchanges


@pytest.fixture(scope="module", autouse=True)
def _tshark():
    policy.require_binary("tshark", "tshark")


@functools.cache
def dissected(path: Path) -> dict[int, ws.WsMessage]:
    return {m.frame: m for m in ws.dissect(path, ws.keys_for(path))}


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# --- our side, in tshark's shape -------------------------------------------------------


def _hex(b: bytes | None) -> str:
    return bytes(b or b"").hex()


def _our_attr(value: Any) -> Any:
    return value if isinstance(value, int) else _hex(value)


def _v2_fields(p: Any) -> dict[str, Any]:
    t = p.payload_type
    if t == 33:
        props = []
        for prop in p.proposals:
            transforms = []
            for tr in prop.transforms:
                attrs = [(14, tr.key_length)] if tr.key_length is not None else []
                attrs += [(a, _our_attr(v)) for a, v in tr.attributes]
                transforms.append({"type": tr.type, "id": tr.id, "attrs": sorted(attrs)})
            props.append(
                {
                    "number": prop.number,
                    "protocol": prop.protocol,
                    "spi": _hex(prop.spi),
                    "count": len(prop.transforms),
                    "transforms": transforms,
                }
            )
        return {"proposals": props}
    if t == 34:
        return {"group": p.group, "data": _hex(p.data)}
    if t in (35, 36):
        return {"id_type": p.id_type, "data": _hex(p.data)}
    if t == 37:
        return {"encoding": p.encoding, "data": _hex(p.data)}
    if t == 38:
        data = bytes(p.data)
        # X.509 CERTREQ data is a list of 20-byte SHA-1 hashes of CA public keys
        auths = (
            [data[i : i + 20].hex() for i in range(0, len(data), 20)] if p.encoding == 4 else None
        )
        out = {"encoding": p.encoding, "data": _hex(data)}
        if auths is not None:
            out["authorities"] = auths
        return out
    if t == 39:
        return {"method": p.method, "data": _hex(p.data)}
    if t == 40:
        return {"data": _hex(p.data)}
    if t == 41:
        return {"protocol": p.protocol, "spi": _hex(p.spi), "type": p.type, "data": _hex(p.data)}
    if t == 42:
        return {
            "protocol": p.protocol,
            "spi_size": p.effective_spi_size(),
            "count": len(p.spis),
            "spis": [_hex(s) for s in p.spis],
        }
    if t == 43:
        return {"data": _hex(p.data)}
    if t in (44, 45):
        sels = []
        for s in p.selectors:
            if isinstance(s, ikev2.RawTrafficSelector):
                sels.append({"ts_type": s.ts_type, "raw": _hex(s.data)})
                continue
            sels.append(
                {
                    "ts_type": s.ts_type,
                    "ip_protocol": s.ip_protocol,
                    "start_port": s.start_port,
                    "end_port": s.end_port,
                    "start_addr": _hex(s.start_addr),
                    "end_addr": _hex(s.end_addr),
                }
            )
        return {"count": len(p.selectors), "selectors": sels}
    if t == 46:
        return {"next_payload": p.next_payload, "data_len": len(p.data)}
    if t == 47:
        return {"cfg_type": p.cfg_type, "attributes": [(a, _hex(v)) for a, v in p.attributes]}
    if t == 48:
        return {
            "code": p.code,
            "identifier": p.identifier,
            "eap_type": p.eap_type,
            "data": _hex(p.data),
        }
    if t == 53:
        return {
            "next_payload": p.next_payload,
            "fragment_number": p.fragment_number,
            "total_fragments": p.total_fragments,
            "data_len": len(p.data),
        }
    return {"data": _hex(p.data)}


def _v1_fields(p: Any) -> dict[str, Any]:
    t = p.payload_type if hasattr(p, "payload_type") else None
    if isinstance(p, ikev1.SaPayload):
        return {
            "doi": p.doi,
            "situation": p.situation,
            "proposals": [
                {
                    "number": prop.number,
                    "protocol": prop.protocol,
                    "spi": _hex(prop.spi),
                    "count": len(prop.transforms),
                    "transforms": [
                        {
                            "number": tr.number,
                            "id": tr.transform_id,
                            "attrs": [(a.type, _our_attr(a.value)) for a in tr.attributes],
                        }
                        for tr in prop.transforms
                    ],
                }
                for prop in p.proposals
            ],
        }
    if isinstance(
        p,
        (
            ikev1.KePayload,
            ikev1.HashPayload,
            ikev1.NoncePayload,
            ikev1.VendorIdPayload,
            ikev1.SigPayload,
            ikev1.NatDPayload,
        ),
    ):
        return {"data": _hex(p.data)}
    if isinstance(p, ikev1.IdPayload):
        return {
            "id_type": p.id_type,
            "protocol_id": p.protocol_id,
            "port": p.port,
            "data": _hex(p.data),
        }
    if isinstance(p, (ikev1.CertPayload, ikev1.CrPayload)):
        return {"encoding": p.encoding, "data": _hex(p.data)}
    if isinstance(p, ikev1.NotifyPayload):
        return {
            "doi": p.doi,
            "protocol": p.protocol,
            "spi": _hex(p.spi),
            "type": p.type,
            "data": _hex(p.data),
        }
    if isinstance(p, ikev1.DeletePayload):
        return {
            "doi": p.doi,
            "protocol": p.protocol,
            "spi_size": p.spi_size,
            "count": len(p.spis),
            "spis": [_hex(s) for s in p.spis],
        }
    if isinstance(p, ikev1.AttributePayload):
        return {
            "cfg_type": p.cfg_type,
            "identifier": p.identifier,
            "attributes": [(a.type, _our_attr(a.value)) for a in p.attributes],
        }
    return {"data": _hex(getattr(p, "data", b"")), "type": t}


V1_TYPES = {
    ikev1.SaPayload: 1,
    ikev1.KePayload: 4,
    ikev1.IdPayload: 5,
    ikev1.CertPayload: 6,
    ikev1.CrPayload: 7,
    ikev1.HashPayload: 8,
    ikev1.SigPayload: 9,
    ikev1.NoncePayload: 10,
    ikev1.NotifyPayload: 11,
    ikev1.DeletePayload: 12,
    ikev1.VendorIdPayload: 13,
    ikev1.AttributePayload: 14,
}


def v1_type(p: Any) -> int:
    if hasattr(p, "payload_type"):
        return p.payload_type
    return V1_TYPES[type(p)]


# --- comparison ---------------------------------------------------------------------


def _common(theirs: dict[str, Any], ours: dict[str, Any]) -> tuple[dict, dict]:
    """The keys both sides have (tshark-only extras like iv/icd are checked apart)."""
    keys = [k for k in theirs if k in ours]
    return {k: theirs[k] for k in keys}, {k: ours[k] for k in keys}


def compare_payloads(
    where: str, theirs: list[ws.WsPayload], ours: list, v1: bool, problems: list[str]
) -> None:
    types_t = [p.type for p in theirs]
    types_o = [v1_type(p) if v1 else p.payload_type for p in ours]
    if types_t != types_o:
        problems.append(f"{where}: payload types tshark {types_t} ours {types_o}")
        return
    encode_body = ikev1.encode_payload_body if v1 else ikev2.encode_payload_body
    for i, (t, o) in enumerate(zip(theirs, ours, strict=True)):
        at = f"{where} payload {i} (type {t.type})"
        body = encode_body(o)
        if t.length != 4 + len(body):
            problems.append(f"{at}: length tshark {t.length} ours {4 + len(body)}")
        mine = _v1_fields(o) if v1 else _v2_fields(o)
        want, got = _common(t.fields, mine)
        missing = [k for k in t.fields if k not in mine and k not in ("iv", "icd", "eap_len")]
        if missing:
            problems.append(f"{at}: no value on our side for {missing}")
        if want != got:
            diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
            problems.append(f"{at}: (tshark, ours) differ: {diff}")
        if not v1 and t.type in (46, 53):
            data = bytes(o.data)
            iv, icd = t.fields.get("iv"), t.fields.get("icd")
            if iv and not data.hex().startswith(iv):
                problems.append(f"{at}: IV {iv} is not where our data starts")
            if icd and not data.hex().endswith(icd):
                problems.append(f"{at}: ICV {icd} is not where our data ends")


def compare_message(
    path: Path, m: pcap.IkeMessage, theirs: ws.WsMessage, fragments: dict, problems: list[str]
) -> None:
    where = f"{path.stem} frame {m.frame}"
    v1 = m.version == 1
    msg = (ikev1 if v1 else ikev2).decode_message(m.data)
    ours_header = {
        "ispi": _hex(msg.spi_i),
        "rspi": _hex(msg.spi_r),
        "next_payload": msg.next_payload
        if v1
        else (msg.payloads[0].payload_type if msg.payloads else 0),
        "version": msg.version,
        "exchange": msg.exchange,
        "flags": msg.flags,
        "message_id": msg.message_id,
        "length": msg.length,
    }
    if ours_header != theirs.header:
        diff = {
            k: (theirs.header[k], ours_header[k])
            for k in theirs.header
            if theirs.header[k] != ours_header[k]
        }
        problems.append(f"{where}: header (tshark, ours) differ: {diff}")
    if v1:
        if msg.payloads is None:
            if theirs.encrypted_len != len(msg.encrypted_body):
                problems.append(
                    f"{where}: encrypted body tshark {theirs.encrypted_len} "
                    f"ours {len(msg.encrypted_body)}"
                )
            if theirs.inner is not None:
                inner = ikev1.decode_payloads(theirs.plain, msg.next_payload, base_offset=28)
                compare_payloads(f"{where} (decrypted)", theirs.inner, inner, True, problems)
        else:
            compare_payloads(where, theirs.payloads, msg.payloads, True, problems)
        return
    compare_payloads(where, theirs.payloads, msg.payloads, False, problems)
    for t, o in zip(theirs.payloads, msg.payloads, strict=False):
        if o.payload_type == 53 and o.fragment_number == 1:
            fragments[(bytes(msg.spi_i), msg.message_id, msg.flags)] = o.next_payload
        if t.inner is None:
            continue
        first = (
            o.next_payload
            if o.payload_type == 46
            else fragments.get((bytes(msg.spi_i), msg.message_id, msg.flags))
        )
        if first is None:
            problems.append(f"{where}: reassembled SKF message without its first fragment")
            continue
        inner = ikev2.decode_payloads(t.plain, first, base_offset=msg.sk_offset + 4)
        compare_payloads(f"{where} (decrypted)", t.inner, inner, False, problems)


# --- the tests ----------------------------------------------------------------------------


def test_captures_are_there():
    assert len(CAPTURES) >= 10, f"captures missing in {CAPTURE_DIR} (make_captures)"
    readme = (CAPTURE_DIR / "README.md").read_text()
    for path in CAPTURES:
        assert f"## {path.name}" in readme, f"{path.name} is not described in README.md"


@pytest.mark.parametrize("path", CAPTURES, ids=ids(CAPTURES))
def test_every_ike_message_seen_by_both(path: Path):
    ours = [m.frame for m in pcap.ike_messages(path)]
    theirs = sorted(dissected(path))
    assert ours and ours == theirs


@pytest.mark.parametrize("path", CAPTURES, ids=ids(CAPTURES))
def test_decoding_matches_tshark(path: Path):
    theirs = dissected(path)
    problems: list[str] = []
    fragments: dict = {}
    for m in pcap.ike_messages(path):
        compare_message(path, m, theirs[m.frame], fragments, problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", KEYED, ids=ids(KEYED))
def test_decrypted_payloads_were_compared(path: Path):
    """Where keys were logged, tshark decrypted every encrypted message (else the
    comparison above would silently cover only the outer layer)."""
    undecrypted = []
    for m in dissected(path).values():
        if m.encrypted_len is not None and m.inner is None:
            undecrypted.append(m.frame)
        for p in m.payloads:
            if p.type == 46 and p.inner is None:
                undecrypted.append(m.frame)
    assert not undecrypted, f"frames tshark did not decrypt: {undecrypted}"


@pytest.mark.parametrize("path", CAPTURES, ids=ids(CAPTURES))
def test_encode_decode_round_trip(path: Path):
    problems = []
    theirs = dissected(path)
    fragments: dict = {}
    for m in pcap.ike_messages(path):
        codec = ikev1 if m.version == 1 else ikev2
        msg = codec.decode_message(m.data)
        again = codec.encode_message(msg)
        if again != m.data:
            problems.append(
                f"frame {m.frame}: encode(decode(b)) != b ({len(again)} vs {len(m.data)} bytes)"
            )
        t = theirs[m.frame]
        if m.version == 1:
            if t.inner is not None:
                inner = ikev1.decode_payloads(t.plain, msg.next_payload)
                chain = b"".join(p.raw for p in t.inner)
                if ikev1.encode_payloads(inner) != (msg.next_payload, chain):
                    problems.append(f"frame {m.frame}: decrypted chain does not re-encode")
            continue
        for tp, o in zip(t.payloads, msg.payloads, strict=False):
            if o.payload_type == 53 and o.fragment_number == 1:
                fragments[(bytes(msg.spi_i), msg.message_id, msg.flags)] = o.next_payload
            if tp.inner is None:
                continue
            first = (
                o.next_payload
                if o.payload_type == 46
                else fragments.get((bytes(msg.spi_i), msg.message_id, msg.flags))
            )
            inner = ikev2.decode_payloads(tp.plain, first)
            if ikev2.encode_payloads(inner) != (first, tp.plain):
                problems.append(f"frame {m.frame}: decrypted chain does not re-encode")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CAPTURES, ids=ids(CAPTURES))
def test_nat_t_framing(path: Path):
    """Every UDP 4500 datagram: natt.classify agrees with the capture (IKE behind the
    non-ESP marker, the 0xff keepalive, ESP)."""
    seen = []
    for d in pcap.udp_datagrams(path):
        if 4500 not in (d.sport, d.dport):
            continue
        kind, rest = natt.classify(d.payload)
        expected = (
            "keepalive"
            if d.payload == b"\xff"
            else "ike"
            if d.payload[:4] == b"\x00\x00\x00\x00"
            else "esp"
        )
        assert kind == expected, f"frame {d.frame}"
        if kind == "ike":
            assert rest == d.payload[4:] and natt.add_marker(rest) == d.payload
        seen.append(kind)
    if "natt" in path.stem:
        assert {"ike", "keepalive", "esp"} <= set(seen), seen
