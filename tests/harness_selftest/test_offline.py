"""Harness pieces that need neither root nor peers: settings rendering, the VICI codec,
the test PKI, the pcap reader and the skip-or-fail policy."""

from __future__ import annotations

import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.harness import pcap, policy, slapd, vici
from tests.harness.pki import IKE_INTERMEDIATE
from tests.harness.strongswan import SwanctlConf, render_settings


def test_settings_rendering_quotes_what_needs_quotes():
    text = render_settings(
        {
            "connections": {
                "gw": {
                    "version": 2,
                    "proposals": ["aes256-sha256-modp2048", "aes128-sha256-x25519"],
                    "aggressive": False,
                    "vips": None,
                    "local": {"id": "C=XX, O=ikesrv-test, CN=gw.example.test"},
                }
            }
        }
    )
    assert text.splitlines() == [
        "connections {",
        "    gw {",
        "        version = 2",
        '        proposals = "aes256-sha256-modp2048, aes128-sha256-x25519"',
        "        aggressive = no",
        "        local {",
        '            id = "C=XX, O=ikesrv-test, CN=gw.example.test"',
        "        }",
        "    }",
        "}",
    ]


def test_swanctl_conf_sections_in_order():
    conf = SwanctlConf("a comment").connection("gw", version=1).pool("p", addrs="192.0.2.128/25")
    conf.secret("ike-x", secret='with "quotes"')
    text = conf.render()
    assert text.startswith("# a comment\nconnections {")
    assert text.index("pools {") < text.index("secrets {")
    assert 'secret = "with \\"quotes\\""' in text


def test_vici_message_round_trip():
    msg = {
        "child": "net",
        "timeout": "2000",
        "list": ["a", "b"],
        "sec": {"k": "v", "inner": {"x": "1"}},
    }
    encoded = vici.encode_message(msg)
    # KEY_VALUE "child" = "net": type 3, name length 5, value length 3
    assert encoded[:12] == b"\x03\x05child\x00\x03net"
    assert vici.decode_message(encoded) == msg


def test_vici_rejects_truncated_message():
    with pytest.raises(vici.ViciError):
        vici.decode_message(b"\x03\x05child\x00\x09net")


def test_pki_gateway_certificates(test_pki):
    for name, key_type in (("gw", rsa.RSAPublicKey), ("gw-ecdsa", ec.EllipticCurvePublicKey)):
        cert = test_pki[name].cert
        assert isinstance(cert.public_key(), key_type)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["gw.example.test"]
        assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == [
            "198.51.100.1",
            "198.51.100.65",
        ]
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE]
        assert cert.issuer == test_pki.ca.cert.subject
        cert.verify_directly_issued_by(test_pki.ca.cert)


def test_pki_client_certificate(test_pki):
    cert = test_pki["client1"].cert
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["client1@example.test"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert test_pki["client1"].subject_dn == "C=XX, O=ikesrv-test, CN=client1@example.test"
    assert (test_pki.dir / "client1.p12").stat().st_size > 0


def _pcap(frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1000 + i, 0, len(f), len(f)) + f
    return out


def _udp_frame(
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ident: int = 1,
    frag: int = 0,
    body: bytes | None = None,
) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    body = udp if body is None else body
    ip = (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(body),
            ident,
            frag,
            64,
            17,
            0,
            bytes([198, 51, 100, 2]),
            bytes([198, 51, 100, 1]),
        )
        + body
    )
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip


def test_pcap_reader_splits_ike_keepalive_esp_and_reassembles(tmp_path):
    ike = bytes(range(28)) + b"\x00" * 8
    big = bytes(range(256)) * 2  # sent in two IP fragments
    udp_big = struct.pack("!HHHH", 500, 500, 8 + len(big), 0) + big
    frames = [
        _udp_frame(500, 500, ike),
        _udp_frame(4500, 4500, b"\x00\x00\x00\x00" + ike),
        _udp_frame(4500, 4500, b"\xff"),
        _udp_frame(4500, 4500, b"\x12\x34\x56\x78" + b"\x00" * 20),
        _udp_frame(500, 500, b"", ident=7, frag=0x2000, body=udp_big[:264]),
        _udp_frame(500, 500, b"", ident=7, frag=264 // 8, body=udp_big[264:]),
    ]
    path = tmp_path / "t.pcap"
    path.write_bytes(_pcap(frames))
    msgs = pcap.ike_messages(path)
    assert [(m.frame, m.marker, m.data) for m in msgs] == [
        (1, False, ike),
        (2, True, ike),
        (6, False, big),
    ]
    assert pcap.nat_t_kinds(path) == [(2, "ike"), (3, "keepalive"), (4, "esp")]


def test_policy_skips_or_fails(monkeypatch):
    monkeypatch.delenv(policy.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no such thing"):
        policy.unavailable("no such thing")
    monkeypatch.setenv(policy.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="required here"):
        policy.unavailable("no such thing")
    with pytest.raises(pytest.fail.Exception, match="ikesrv-no-such-binary not found"):
        policy.require_binary("ikesrv-no-such-binary", "nothing")


def test_nt_hash_table_matches_openssl():
    """The NT hashes kept in tests/harness/slapd.py are MD4(UTF-16LE(password)) as
    OpenSSL's legacy provider computes them (MS-NLMP §3.3.1)."""
    policy.require_binary("openssl", "openssl")
    for password, expected in slapd.NT_HASHES.items():
        assert slapd.nt_hash_openssl(password) == expected
    assert slapd.nt_hash("alice-Secret-1") == "5466D191FA54FE490DB575B3B50E18C0"
