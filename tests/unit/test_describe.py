"""JSON descriptions for ``ikesrv decode`` (DESIGN §6): field names, nesting, hidden
secrets, errors; the same for both codec builds."""

from __future__ import annotations

import json

import pytest

from ikesrv.wire.describe import describe_message
from tests.unit import codec_samples as S

TOP_KEYS = ["ispi", "rspi", "version", "exchange", "exchange_name", "flags", "message_id",
            "length", "payloads"]


@pytest.fixture(params=["compiled", "reference"])
def codec(request):
    return S.builds()[request.param]


def test_ike_sa_init_request(codec):
    out = describe_message(S.ikev2_sa_init_request(), codec=codec)
    assert list(out) == TOP_KEYS
    assert (out["ispi"], out["rspi"]) == (S.SPI_I.hex(), S.ZERO_SPI.hex())
    assert (out["version"], out["exchange"], out["exchange_name"]) == ("2.0", 34, "IKE_SA_INIT")
    assert (out["flags"], out["message_id"], out["length"]) == (8, 0, 384)
    payloads = out["payloads"]
    assert [(p["type"], p["name"]) for p in payloads][:4] == [
        (33, "SA"), (34, "KE"), (40, "NONCE"), (41, "NOTIFY")]
    assert sum(p["length"] for p in payloads) == 384 - 28  # Payload Length of each, on the wire
    sa = payloads[0]
    assert sa["proposals"][0]["transforms"][0] == {
        "type": 1, "type_name": "ENCR", "id": 12, "id_name": "ENCR_AES_CBC", "key_length": 128}
    assert sa["proposals"][1]["transforms"][4]["id_name"] == "CURVE25519"
    assert payloads[1]["group_name"] == "CURVE25519" and payloads[1]["data"] == S.KE_X25519.hex()
    assert payloads[3]["notify_name"] == "NAT_DETECTION_SOURCE_IP"
    assert payloads[3]["data"] == S.NATD_SRC.hex()
    json.dumps(out)


def test_encrypted_payloads_are_listed_not_opened(codec):
    out = describe_message(S.ikev2_auth_request(), codec=codec)
    (sk,) = out["payloads"]
    assert (sk["type"], sk["name"], sk["next_payload"], sk["next_payload_name"]) == (
        46, "SK", 35, "IDi")
    assert sk["length"] == out["length"] - 28
    skf = describe_message(S.ikev2_skf_message(), codec=codec)["payloads"][0]
    assert (skf["name"], skf["fragment_number"], skf["total_fragments"]) == ("SKF", 2, 3)
    v1 = describe_message(S.ikev1_encrypted(), codec=codec)
    assert v1["payloads"] == [{"type": 5, "name": "encrypted", "length": 48, "encrypted": True,
                               "next_payload_name": "ID"}]


def test_ikev1_proposals_and_transforms_are_nested(codec):
    out = describe_message(S.ikev1_main_mode_1(), codec=codec)
    assert (out["version"], out["exchange_name"]) == ("1.0", "IDENTITY_PROTECTION")
    sa = out["payloads"][0]
    assert (sa["type"], sa["name"], sa["doi"], sa["situation"]) == (1, "SA", 1, 1)
    (prop,) = sa["proposals"]
    assert prop["protocol_name"] == "PROTO_ISAKMP" and len(prop["transforms"]) == 4
    first = prop["transforms"][0]
    assert first["transform_id_name"] == "KEY_IKE"
    assert first["attributes"][0] == {"type": 1, "name": "ENCRYPTION_ALGORITHM", "value": 7,
                                      "value_name": "AES_CBC"}
    assert first["attributes"][3]["value_name"] == "XAUTH_INIT_PRESHARED"
    assert first["attributes"][-1] == {"type": 12, "name": "LIFE_DURATION", "value": "00007080"}
    vids = [p.get("vendor") for p in out["payloads"][1:]]
    assert vids == ["XAUTH", "DPD", "NAT_T_RFC3947", "NAT_T_DRAFT_02N", "FRAGMENTATION",
                    "CISCO_UNITY"]


def test_secrets_appear_only_as_lengths(codec):
    messages = S.all_messages()
    config = describe_message(messages["v1_mode_config"], codec=codec)
    attrs = config["payloads"][1]["attributes"]
    assert attrs[2] == {"type": 16522, "name": "XAUTH_USER_PASSWORD", "value_length": 7}
    assert config["payloads"][0] == {"type": 8, "name": "HASH", "length": 24, "data_length": 20}
    assert "s3cret".encode().hex() not in json.dumps(config)
    eap = describe_message(messages["v2_eap_1"], codec=codec)["payloads"][0]
    assert set(eap) == {"type", "name", "length", "code", "code_name", "identifier", "eap_type",
                        "eap_type_name", "data_length"}
    auth = describe_message(messages["v2_eap_3"], codec=codec)["payloads"][0]
    assert auth["method_name"] == "SHARED_KEY_MESSAGE_INTEGRITY_CODE" and "data" not in auth


def test_identities_and_selectors_are_readable(codec):
    out = describe_message(S.all_messages()["v2_auth_plaintext"], codec=codec)
    idi, _, idr, cp, _, tsi, _ = out["payloads"][:7]
    assert (idi["id_type_name"], idi["id"]) == ("ID_RFC822_ADDR", "alice@example.org")
    assert idr["id"] == "vpn.example.org"
    assert [a["name"] for a in cp["attributes"]] == [
        "INTERNAL_IP4_ADDRESS", "INTERNAL_IP4_DNS", "INTERNAL_IP6_ADDRESS", "INTERNAL_IP6_DNS"]
    assert tsi["selectors"][0] == {
        "ts_type": 7, "ts_type_name": "TS_IPV4_ADDR_RANGE", "ip_protocol": 0, "start_port": 0,
        "end_port": 65535, "start_addr": "0.0.0.0", "end_addr": "255.255.255.255"}
    assert tsi["selectors"][1]["end_addr"] == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    natoa = describe_message(S.all_messages()["v1_quick_mode"], codec=codec)["payloads"][-1]
    assert (natoa["name"], natoa["address"]) == ("NAT_OA", "192.168.1.20")


@pytest.mark.parametrize("data,error", [
    (bytes(10), {"error": "10 bytes is shorter than the 28-byte IKE header", "offset": 0}),
    (S.ikev2_sa_init_request()[:-1], {"error": "header Length 384 != datagram length 383",
                                       "offset": 24}),
    (bytes(17) + b"\x30" + bytes(10), {"error": "IKE major version 3 is neither 1 nor 2",
                                        "offset": 17}),
])
def test_errors(codec, data, error):
    assert describe_message(data, codec=codec) == error


def test_every_sample_describes_the_same_with_both_builds():
    compiled, reference = S.compiled_codec(), S.reference_codec()
    for data in S.all_messages().values():
        out = describe_message(data)
        assert out == describe_message(data, codec=compiled)
        assert out == describe_message(data, codec=reference)
        assert "error" not in out and json.loads(json.dumps(out)) == out
