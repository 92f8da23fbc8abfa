"""Realistic IKE messages built byte by byte with ``struct``, independently of the codec,
and the two codec builds the codec tests run against.

The messages mirror what the peers ikesrv serves send (field by field after strongSwan
5.9 / libreswan 4 / Windows captures as Wireshark decodes them; SPIs, nonces and keys are
fixed arbitrary bytes): strongSwan's IKE_SA_INIT request and a responder's reply, the
IKE_AUTH plaintext of an EAP road warrior, IKEv1 Main Mode and Aggressive Mode from
strongSwan/Windows-like initiators, Quick Mode, Mode Config and XAuth plaintexts, NAT-T,
fragments. Layouts: RFC 7296 §3, RFC 7383 §2.5, RFC 2408 §3, RFC 2407 §4.6, RFC 3947.
Used by the codec tests, bench/bench_codec.py and bench/fuzz_codec.py.
"""

from __future__ import annotations

import struct
from types import ModuleType, SimpleNamespace

# ---- the two builds ---------------------------------------------------------------------


def compiled_codec() -> ModuleType:
    import ikesrv._fast.codec as codec

    return codec


def reference_codec() -> ModuleType:
    from ikesrv.wire import _reference

    return _reference.codec


def builds() -> dict[str, ModuleType]:
    return {"compiled": compiled_codec(), "reference": reference_codec()}


def api(codec: ModuleType) -> SimpleNamespace:
    """The ikesrv.wire.ikev2 / ikev1 names, bound to one build of the codec."""
    v2 = SimpleNamespace(
        decode_message=codec.v2_decode_message,
        encode_message=codec.v2_encode_message,
        decode_payloads=codec.v2_decode_payloads,
        encode_payloads=codec.v2_encode_payloads,
        encode_header=codec.v2_encode_header,
        encode_payload_body=codec.v2_encode_payload_body,
        peek_header=codec.peek_header,
    )
    for name in (
        "Message Transform Proposal SaPayload KePayload IdPayload CertPayload CertReqPayload "
        "AuthPayload NoncePayload NotifyPayload DeletePayload VendorIdPayload TrafficSelector "
        "RawTrafficSelector TsPayload SkPayload SkfPayload CpPayload EapPayload UnknownPayload"
    ).split():
        setattr(v2, name, getattr(codec, name))
    v1 = SimpleNamespace(
        decode_message=codec.v1_decode_message,
        encode_message=codec.v1_encode_message,
        decode_payloads=codec.v1_decode_payloads,
        encode_payloads=codec.v1_encode_payloads,
        encode_header=codec.v1_encode_header,
        encode_payload_body=codec.v1_encode_payload_body,
        peek_header=codec.peek_header,
    )
    for name in (
        "Message Attribute Transform Proposal SaPayload KePayload IdPayload CertPayload "
        "CrPayload HashPayload SigPayload NoncePayload NotifyPayload DeletePayload "
        "VendorIdPayload AttributePayload NatDPayload NatOaPayload FragmentPayload "
        "UnknownPayload"
    ).split():
        setattr(v1, name, getattr(codec, "V1" + name))
    return SimpleNamespace(codec=codec, v2=v2, v1=v1)


# ---- byte builders (independent of the codec) ------------------------------------------

SPI_I = bytes.fromhex("8a3c5e7f11223344")
SPI_R = bytes.fromhex("01a2b3c4d5e6f708")
ZERO_SPI = bytes(8)


def header(spi_i, spi_r, next_payload, version, exchange, flags, message_id, body):
    return struct.pack("!8s8sBBBBII", spi_i, spi_r, next_payload, version, exchange, flags,
                       message_id, 28 + len(body)) + body


def chain(items, critical_types=()):
    """items: [(type, body)] -> (first type, generic-header chain). RFC 7296 §3.2."""
    out = b""
    for i, (ptype, body) in enumerate(items):
        nxt = items[i + 1][0] if i + 1 < len(items) else 0
        flags = 0x80 if ptype in critical_types else 0
        out += struct.pack("!BBH", nxt, flags, 4 + len(body)) + body
    return (items[0][0] if items else 0), out


def v2_transform(ttype, tid, key_length=None, last=False, extra=b""):
    attrs = struct.pack("!HH", 0x800E, key_length) if key_length is not None else b""
    attrs += extra
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs


def v2_proposal(number, protocol, spi, transforms, last):
    body = b"".join(
        v2_transform(*t, last=(i == len(transforms) - 1)) for i, t in enumerate(transforms)
    )
    return struct.pack("!BBHBBBB", 0 if last else 2, 0, 8 + len(spi) + len(body), number,
                       protocol, len(spi), len(transforms)) + spi + body


def v2_sa(proposals):
    return b"".join(
        v2_proposal(*p, last=(i == len(proposals) - 1)) for i, p in enumerate(proposals)
    )


def v2_notify(ntype, data=b"", protocol=0, spi=b""):
    return struct.pack("!BBH", protocol, len(spi), ntype) + spi + data


def v2_ts(selectors):
    body = struct.pack("!B3x", len(selectors))
    for ts_type, proto, sp, ep, sa, ea in selectors:
        body += struct.pack("!BBHHH", ts_type, proto, 8 + len(sa) + len(ea), sp, ep) + sa + ea
    return body


# IKEv2 ids (RFC 7296 §3.3.2, IANA)
ENCR, PRF, INTEG, DH, ESN = 1, 2, 3, 4, 5

# strongSwan 5.9's default IKE proposal, shortened, and its AEAD twin.
IKE_PROPOSALS = [
    (1, 1, b"", [(ENCR, 12, 128), (ENCR, 12, 256), (INTEG, 12), (INTEG, 14),
                 (PRF, 5), (PRF, 7), (DH, 31), (DH, 19)]),
    (2, 1, b"", [(ENCR, 20, 128), (ENCR, 20, 256), (PRF, 5), (PRF, 7), (DH, 31), (DH, 19)]),
]
KE_X25519 = bytes(range(0x40, 0x60))
NONCE_I = bytes(range(0xA0, 0xC0))
NONCE_R = bytes(range(0x10, 0x30))
NATD_SRC = bytes.fromhex("4f1e8d2a5b6c7d8e9fa0b1c2d3e4f5061728394a")
NATD_DST = bytes.fromhex("0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d")
# Windows appends a 4-byte version to MS NT5 ISAKMPOAKLEY (9: Windows 7 and later)
VID_MS_NT5 = bytes.fromhex("1e2b516905991c7d7c96fcbfb587e46100000009")
VID_STRONGSWAN = bytes.fromhex("882fe56d6fd20dbc2251613b2ebe5beb")


def ikev2_sa_init_request() -> bytes:
    """IKE_SA_INIT request: SA (2 proposals x 8/6 transforms), KE (X25519), Ni, 5
    notifies, 2 Vendor IDs (RFC 7296 §1.2)."""
    first, body = chain([
        (33, v2_sa(IKE_PROPOSALS)),
        (34, struct.pack("!HH", 31, 0) + KE_X25519),
        (40, NONCE_I),
        (41, v2_notify(16388, NATD_SRC)),  # NAT_DETECTION_SOURCE_IP
        (41, v2_notify(16389, NATD_DST)),  # NAT_DETECTION_DESTINATION_IP
        (41, v2_notify(16430)),  # IKEV2_FRAGMENTATION_SUPPORTED
        (41, v2_notify(16431, bytes.fromhex("0002000300040005"))),  # SIGNATURE_HASH_ALGORITHMS
        (41, v2_notify(16406)),  # REDIRECT_SUPPORTED
        (43, VID_STRONGSWAN),
        (43, VID_MS_NT5),
    ])
    return header(SPI_I, ZERO_SPI, first, 0x20, 34, 0x08, 0, body)


def ikev2_sa_init_response() -> bytes:
    """IKE_SA_INIT response: SA (1 proposal), KE, Nr, NAT-D, CERTREQ, MULTIPLE_AUTH."""
    first, body = chain([
        (33, v2_sa([(1, 1, b"", [(ENCR, 20, 256), (PRF, 7), (DH, 31)])])),
        (34, struct.pack("!HH", 31, 0) + KE_X25519[::-1]),
        (40, NONCE_R),
        (41, v2_notify(16388, NATD_DST)),
        (41, v2_notify(16389, NATD_SRC)),
        (38, bytes([4]) + bytes(range(20)) + bytes(range(20, 40))),  # CERTREQ X.509, 2 hashes
        (41, v2_notify(16430)),
        (41, v2_notify(16404)),  # MULTIPLE_AUTH_SUPPORTED
    ])
    return header(SPI_I, SPI_R, first, 0x20, 34, 0x20, 0, body)


def ikev2_cookie_request() -> bytes:
    """IKE_SA_INIT request with a COOKIE notify first (RFC 7296 §2.6)."""
    first, body = chain([
        (41, v2_notify(16390, bytes(range(32)))),
        (33, v2_sa(IKE_PROPOSALS[:1])),
        (34, struct.pack("!HH", 19, 0) + bytes(64)),
        (40, NONCE_I),
    ])
    return header(SPI_I, ZERO_SPI, first, 0x20, 34, 0x08, 0, body)


def ikev2_auth_plaintext() -> tuple[int, bytes]:
    """The payloads inside the SK of an EAP road warrior's first IKE_AUTH request
    (RFC 7296 §1.2, §3.15): IDi, notifies, IDr, CP request, SA (ESP), TSi, TSr."""
    esp = [
        (1, 3, bytes.fromhex("c3f2a1b0"), [(ENCR, 20, 256), (ESN, 0)]),
        (2, 3, bytes.fromhex("c3f2a1b0"), [(ENCR, 12, 256), (INTEG, 12), (ESN, 0)]),
    ]
    cp = struct.pack("!B3x", 1)  # CFG_REQUEST
    for attr in (1, 3, 8, 10):  # INTERNAL_IP4_ADDRESS, IP4_DNS, IP6_ADDRESS, IP6_DNS
        cp += struct.pack("!HH", attr, 0)
    return chain([
        (35, struct.pack("!B3x", 3) + b"alice@example.org"),  # IDi ID_RFC822_ADDR
        (41, v2_notify(16384)),  # INITIAL_CONTACT
        (36, struct.pack("!B3x", 2) + b"vpn.example.org"),  # IDr ID_FQDN
        (47, cp),
        (33, v2_sa(esp)),
        (44, v2_ts([(7, 0, 0, 65535, bytes(4), b"\xff" * 4),
                    (8, 0, 0, 65535, bytes(16), b"\xff" * 16)])),
        (45, v2_ts([(7, 0, 0, 65535, bytes(4), b"\xff" * 4),
                    (8, 0, 0, 65535, bytes(16), b"\xff" * 16)])),
        (41, v2_notify(16396)),  # MOBIKE_SUPPORTED
        (41, v2_notify(16394)),  # ESP_TFC_PADDING_NOT_SUPPORTED
        (41, v2_notify(16395)),  # NON_FIRST_FRAGMENTS_ALSO
    ])


# A self-signed ECDSA P-256 certificate for vpn.example.org (DER), made once with the
# cryptography package from a fixed key.
CERT_DER = bytes.fromhex(
    "308201423081e8a00302010202021092300a06082a8648ce3d040302301a3118301606035504030c0f76706e"
    "2e6578616d706c652e6f7267301e170d3235303130313030303030305a170d3334313233303030303030305a"
    "301a3118301606035504030c0f76706e2e6578616d706c652e6f72673059301306072a8648ce3d020106082a"
    "8648ce3d030107034200045b933e43ab495bc946a8587847d199a4b28ee1dfdcc1b2c941d49f619ad762589d"
    "d8eee93289c79f110c56e7883b42c83c801adc077fc88ab3902a2b4b1a43eca31e301c301a0603551d110413"
    "3011820f76706e2e6578616d706c652e6f7267300a06082a8648ce3d0403020349003046022100f00096b350"
    "e70e45f5299a6c064a89f8eefd6a9ddb740cd5c929063224b9aa3d022100fe7ce7e182ca448e4e1b44634b22"
    "815b17afbf34bdaf7c31e25b65774d30c033"
)


def ikev2_auth_response_plaintext() -> tuple[int, bytes]:
    """Responder's IKE_AUTH payloads: IDr, CERT, AUTH, EAP Request/Identity."""
    return chain([
        (36, struct.pack("!B3x", 2) + b"vpn.example.org"),
        (37, bytes([4]) + CERT_DER),  # CERT X.509 Certificate - Signature
        (39, struct.pack("!B3x", 14) + bytes(range(80))),  # AUTH Digital Signature
        (48, struct.pack("!BBHB", 1, 1, 5, 1)),  # EAP Request, Identity
    ])


def ikev2_eap_plaintexts() -> list[tuple[int, bytes]]:
    """EAP exchanges inside SK (RFC 3748 §4, RFC 2759 framing as type-data)."""
    ident = b"alice"
    # MS-CHAPv2 Response: OpCode, MS-CHAPv2-ID, MS-Length, Value-Size 49, Response, Name
    mschap = bytes([2, 7, 0, 4 + 1 + 49 + 5, 49]) + bytes(range(49)) + b"alice"
    return [
        chain([(48, struct.pack("!BBHB", 2, 1, 5 + len(ident), 1) + ident)]),
        chain([(48, struct.pack("!BBHB", 2, 8, 5 + len(mschap), 26) + mschap)]),
        chain([(48, struct.pack("!BBH", 3, 9, 4))]),  # Success
        chain([(39, struct.pack("!B3x", 2) + bytes(32)),
               (47, struct.pack("!B3x", 2) + struct.pack("!HH", 1, 4) + bytes([10, 99, 0, 7]))]),
    ]


def ikev2_auth_request() -> bytes:
    """IKE_AUTH request: header + SK (IV | ciphertext | ICV opaque) (RFC 7296 §3.14)."""
    first, inner = ikev2_auth_plaintext()
    sk_body = bytes(range(16)) + bytes((i * 7) & 0xFF for i in range(len(inner) + 8)) + bytes(16)
    _, body = chain([(46, sk_body)])
    body = bytes([first]) + body[1:]  # SK's Next Payload names the first inner payload
    return header(SPI_I, SPI_R, 46, 0x20, 35, 0x08, 1, body)


def ikev2_skf_message() -> bytes:
    """IKE_AUTH fragment 2 of 3 (RFC 7383 §2.5): Next Payload 0 after the first."""
    body = struct.pack("!HH", 2, 3) + bytes(range(200))
    payload = struct.pack("!BBH", 0, 0, 4 + len(body)) + body
    return header(SPI_I, SPI_R, 53, 0x20, 35, 0x08, 1, payload)


def ikev2_informational_delete() -> tuple[int, bytes]:
    """INFORMATIONAL plaintext: delete two ESP SAs and notify an unknown status type."""
    return chain([
        (42, struct.pack("!BBH", 3, 4, 2) + bytes.fromhex("c3f2a1b0") + bytes.fromhex("0badf00d")),
        (41, v2_notify(40960, b"private")),
        (49, b"opaque"),  # GSPM, unknown to ikesrv, not critical: kept
    ])


def ikev2_messages() -> dict[str, bytes]:
    return {
        "sa_init_request": ikev2_sa_init_request(),
        "sa_init_response": ikev2_sa_init_response(),
        "cookie_request": ikev2_cookie_request(),
        "auth_request": ikev2_auth_request(),
        "skf": ikev2_skf_message(),
    }


def ikev2_chains() -> dict[str, tuple[int, bytes]]:
    out = {
        "auth_plaintext": ikev2_auth_plaintext(),
        "auth_response_plaintext": ikev2_auth_response_plaintext(),
        "informational_delete": ikev2_informational_delete(),
    }
    for i, item in enumerate(ikev2_eap_plaintexts()):
        out[f"eap_{i}"] = item
    return out


# ---- IKEv1 -------------------------------------------------------------------------------


def tv(atype, value):
    return struct.pack("!HH", 0x8000 | atype, value)


def tlv(atype, value):
    return struct.pack("!HH", atype, len(value)) + value


def v1_transform(number, tid, attrs, last):
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), number, tid, 0) + attrs


def v1_proposal(number, protocol, spi, transforms, last):
    body = b"".join(
        v1_transform(*t, last=(i == len(transforms) - 1)) for i, t in enumerate(transforms)
    )
    return struct.pack("!BBHBBBB", 0 if last else 2, 0, 8 + len(spi) + len(body), number,
                       protocol, len(spi), len(transforms)) + spi + body


def v1_sa(proposals, doi=1, situation=1):
    return struct.pack("!II", doi, situation) + b"".join(
        v1_proposal(*p, last=(i == len(proposals) - 1)) for i, p in enumerate(proposals)
    )


def phase1_attrs(encr, keylen, hash_alg, auth, group, life=28800):
    attrs = tv(1, encr)
    if keylen:
        attrs += tv(14, keylen)
    attrs += tv(2, hash_alg) + tv(3, auth) + tv(4, group) + tv(11, 1)
    # Windows and strongSwan send Life Duration in the variable (TLV) form
    attrs += tlv(12, life.to_bytes(4, "big"))
    return attrs


VID_XAUTH = bytes.fromhex("09002689dfd6b712")
VID_DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")
VID_RFC3947 = bytes.fromhex("4a131c81070358455c5728f20e95452f")
VID_DRAFT_02N = bytes.fromhex("90cb80913ebb696e086381b5ec427b1f")
VID_FRAG = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d3")
VID_UNITY = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")


def ikev1_main_mode_1() -> bytes:
    """Main Mode message 1 (RFC 2409 §5): SA with 4 transforms, 6 Vendor IDs."""
    transforms = [
        (1, 1, phase1_attrs(7, 256, 4, 65001, 14), False),  # AES-256, SHA2-256, XAUTH PSK
        (2, 1, phase1_attrs(7, 128, 2, 65001, 14), False),
        (3, 1, phase1_attrs(7, 256, 4, 1, 19), False),
        (4, 1, phase1_attrs(5, 0, 2, 1, 2), True),  # 3DES, SHA1, PSK, modp1024
    ]
    sa = v1_sa([(1, 1, b"", [t[:3] for t in transforms])])
    first, body = chain([(1, sa)] + [(13, v) for v in (VID_XAUTH, VID_DPD, VID_RFC3947,
                                                       VID_DRAFT_02N, VID_FRAG, VID_UNITY)])
    return header(SPI_I, ZERO_SPI, first, 0x10, 2, 0, 0, body)


def ikev1_main_mode_3() -> bytes:
    """Main Mode message 3: KE (modp2048), Ni, two NAT-D (RFC 3947 §3.2)."""
    first, body = chain([(4, bytes(range(256))), (10, NONCE_I[:20]), (20, NATD_SRC),
                         (20, NATD_DST)])
    return header(SPI_I, SPI_R, first, 0x10, 2, 0, 0, body)


def ikev1_aggressive_1() -> bytes:
    """Aggressive Mode message 1 (RFC 2409 §5.4): SA, KE, Ni, IDii (FQDN), VIDs."""
    sa = v1_sa([(1, 1, b"", [(1, 1, phase1_attrs(7, 256, 2, 65001, 14))])])
    first, body = chain([
        (1, sa), (4, bytes(range(256))), (10, NONCE_I),
        (5, struct.pack("!BBH", 2, 17, 500) + b"client.example.org"),
        (13, VID_XAUTH), (13, VID_DPD), (13, VID_RFC3947),
    ])
    return header(SPI_I, ZERO_SPI, first, 0x10, 4, 0, 0, body)


def ikev1_encrypted() -> bytes:
    """Main Mode message 5: the Encryption flag set, body opaque (RFC 2408 §3.1)."""
    return header(SPI_I, SPI_R, 5, 0x10, 2, 0x01, 0, bytes(range(48)))


def ikev1_libreswan_padded() -> bytes:
    """A plaintext message padded to 4 octets after the last payload (libreswan ikepad)."""
    first, body = chain([(13, VID_DPD), (5, struct.pack("!BBH", 2, 0, 0) + b"west1")])
    body += b"\x00" * (-len(body) % 4)
    return header(SPI_I, SPI_R, first, 0x10, 2, 0, 0, body)


def ikev1_fragment() -> bytes:
    """IKEv1 fragment 1, not last (Cisco format, type 132)."""
    first, body = chain([(132, struct.pack("!HBB", 0x1234, 1, 0) + bytes(range(100)))])
    return header(SPI_I, SPI_R, first, 0x10, 2, 0, 0, body)


def ikev1_quick_mode_plaintext() -> tuple[int, bytes]:
    """Quick Mode message 1 plaintext (RFC 2409 §5.5): HASH(1), SA (ESP, UDP-encapsulated
    tunnel), Ni, IDci, IDcr (IPv4 subnets), NAT-OA (RFC 3947 §5.2)."""
    attrs = tv(1, 1) + tlv(2, (3600).to_bytes(4, "big")) + tv(4, 3) + tv(5, 5) + tv(6, 256)
    sa = v1_sa([(1, 3, bytes.fromhex("c3f2a1b0"), [(1, 12, attrs), (2, 3, tv(4, 3) + tv(5, 2))])])
    return chain([
        (8, bytes(range(32))), (1, sa), (10, NONCE_I),
        (5, struct.pack("!BBH", 4, 0, 0) + bytes([10, 99, 0, 7, 255, 255, 255, 255])),
        (5, struct.pack("!BBH", 4, 0, 0) + bytes([0, 0, 0, 0, 0, 0, 0, 0])),
        (21, struct.pack("!B3x", 1) + bytes([192, 168, 1, 20])),
    ])


def ikev1_mode_config_plaintext() -> tuple[int, bytes]:
    """XAuth reply (draft-ietf-ipsec-isakmp-xauth-06 §4): HASH, ATTR CFG_REPLY with user
    name and password (TLV) and an XAUTH_TYPE (TV), padded to 4 octets as libreswan 4 does."""
    attrs = tv(16520, 0) + tlv(16521, b"bob") + tlv(16522, b"s3cret!")
    body = struct.pack("!BBH", 2, 0, 0x1d2e) + attrs
    body += b"\x00" * (-(4 + len(body)) % 4)
    return chain([(8, bytes(range(20))), (14, body)])


def ikev1_informational_plaintext() -> tuple[int, bytes]:
    """Informational plaintext: HASH, N (INITIAL-CONTACT, cookie pair SPI), D (ESP)
    (RFC 2407 §4.6.3.3, RFC 2408 §3.15), DPD R-U-THERE (RFC 3706)."""
    return chain([
        (8, bytes(range(20))),
        (11, struct.pack("!IBBH", 1, 1, 16, 24578) + SPI_I + SPI_R),
        (12, struct.pack("!IBBH", 1, 3, 4, 2) + bytes.fromhex("c3f2a1b00badf00d")),
        (11, struct.pack("!IBBH", 1, 1, 16, 36136) + SPI_I + SPI_R + struct.pack("!I", 7)),
    ])


def ikev1_messages() -> dict[str, bytes]:
    return {
        "main_mode_1": ikev1_main_mode_1(),
        "main_mode_3": ikev1_main_mode_3(),
        "aggressive_1": ikev1_aggressive_1(),
        "encrypted": ikev1_encrypted(),
        "fragment": ikev1_fragment(),
    }


def ikev1_chains() -> dict[str, tuple[int, bytes]]:
    return {
        "quick_mode": ikev1_quick_mode_plaintext(),
        "informational": ikev1_informational_plaintext(),
    }


def all_messages() -> dict[str, bytes]:
    """Every sample message (both versions, plus unencrypted chains wrapped in a header),
    as the seeds of the fuzzers."""
    out = {f"v2_{k}": v for k, v in ikev2_messages().items()}
    out.update({f"v1_{k}": v for k, v in ikev1_messages().items()})
    out["v1_libreswan_padded"] = ikev1_libreswan_padded()
    for name, (first, body) in ikev2_chains().items():
        out[f"v2_{name}"] = header(SPI_I, SPI_R, first, 0x20, 37, 0x08, 2, body)
    for name, (first, body) in ikev1_chains().items():
        out[f"v1_{name}"] = header(SPI_I, SPI_R, first, 0x10, 32, 0, 7, body)
    first, body = ikev1_mode_config_plaintext()
    out["v1_mode_config"] = header(SPI_I, SPI_R, first, 0x10, 6, 0, 9, body)
    return out


# ---- comparing the two builds ------------------------------------------------------------

_EXTRA = {
    "Message": ("length", "sk_offset"),
    "V1Message": ("length",),
    "IdPayload": ("body",),
    "V1IdPayload": ("body",),
    "V1SaPayload": ("body",),
    "DeletePayload": ("spi_size",),
}


def tree(obj):
    """A build-independent form of a decoded object: (class name, fields...) recursively,
    including what equality leaves out (decoded lengths, offsets, bodies)."""
    if isinstance(obj, (list, tuple)):
        return [tree(x) for x in obj]
    fields = getattr(obj, "_fields", None)
    if fields is None:
        return obj
    name = type(obj).__name__
    names = tuple(fields) + _EXTRA.get(name, ())
    return (name, tuple((f, tree(getattr(obj, f))) for f in names))


def outcome(fn, *args):
    """("ok", tree(result)) or ("error", exception class name, offset, reason)."""
    from ikesrv.errors import IkeError

    try:
        return ("ok", tree(fn(*args)))
    except IkeError as exc:
        return ("error", type(exc).__name__, exc.offset, exc.reason)
