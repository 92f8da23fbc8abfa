"""The memos on the set-up path (DESIGN §9): traffic selector conversions and narrowing,
the suite labels of connections. Each answers what the computation answers, and those
keyed by what peers send stop growing at their bound."""

from __future__ import annotations

import ipaddress

from ikesrv.actions import TrafficSelectorSpec
from ikesrv.constants import TsType, V1IdType
from ikesrv.ikev2 import traffic_selectors as ts
from ikesrv.wire.ikev2 import TrafficSelector


def test_selector_memos_answer_as_the_computation_and_stop_growing(monkeypatch):
    monkeypatch.setattr(ts, "MEMO_SIZE", 8)
    monkeypatch.setattr(ts, "_from_wire_memo", {})
    monkeypatch.setattr(ts, "_narrow_memo", {})
    local = [TrafficSelectorSpec(ipaddress.IPv4Address("192.0.2.0"),
                                 ipaddress.IPv4Address("192.0.2.127"))]
    for i in range(40):
        start = ipaddress.IPv4Address(0x0A000000 + i * 256)
        wire = TrafficSelector(ts_type=TsType.TS_IPV4_ADDR_RANGE, ip_protocol=0, start_port=0,
                               end_port=65535, start_addr=start.packed,
                               end_addr=ipaddress.IPv4Address(int(start) + 255).packed)
        for _ in range(2):  # the second time from the memo while it has room
            spec = ts.from_wire(wire)
            assert (spec.start, spec.end) == (start, ipaddress.IPv4Address(int(start) + 255))
            assert ts.responder_ts_r([spec], local) == ts.narrow([spec], local) == []
        assert ts.responder_ts_r([ts.from_wire(wire)], local + [spec]) == [spec]
    assert len(ts._from_wire_memo) == 8 and len(ts._narrow_memo) == 8
    # an ID payload as a selector: the same answer every time
    data = bytes([198, 51, 100, 0, 255, 255, 255, 0])
    first = ts.from_v1_id(V1IdType.ID_IPV4_ADDR_SUBNET, 0, 0, data)
    assert ts.from_v1_id(V1IdType.ID_IPV4_ADDR_SUBNET, 0, 0, data) is first
    assert str(first.start) == "198.51.100.0" and str(first.end) == "198.51.100.255"


CONFIG = """
[server]
addresses = ["192.0.2.1"]
[kernel]
backend = "none"
[connections.rw]
version = 2
local_id = "vpn.example.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes256-sha256-ecp256", "aes128-sha256-x25519"]
esp_proposals = ["aes128-sha256"]
local_ts = ["192.0.2.0/25"]
[connections.v1]
version = 1
local_id = "vpn.example.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes256-sha256-modp2048", "aes128-sha256-x25519"]
esp_proposals = ["aes128-sha256"]
local_ts = ["192.0.2.0/25"]
"""


def _connections(tmp_path):
    from ikesrv.config import load_text
    from ikesrv.connections import Connections
    (tmp_path / "rw.psk").write_bytes(b"memo-test-psk-0123456789\n")
    (tmp_path / "rw.psk").chmod(0o600)
    return Connections(load_text(CONFIG, tmp_path))


def test_connection_fields_read_as_the_config_says(tmp_path):
    conns = _connections(tmp_path)
    rw = conns.all[0]
    for name in ("name", "version", "remote_auth", "proposal_strings", "esp_proposals",
                 "pools", "dpd_delay", "ike_lifetime"):
        assert getattr(rw, name) == getattr(rw.cfg, name), name
    assert conns.for_ikev2("203.0.113.9") == [rw]
    assert conns.for_ikev1("203.0.113.9") == [conns.all[1]]


def test_suite_labels_name_the_configured_proposal(tmp_path):
    from ikesrv.crypto import proposals, proposals_v1
    from ikesrv.ikev1 import phase1
    conns = _connections(tmp_path)
    rw, v1 = conns.all
    for text in ("aes128-sha256-x25519", "aes256-sha256-ecp256"):
        spec = proposals.parse_ike_proposal(text)
        selected = proposals.select_ike(rw.ike_proposals, [spec.to_wire(1, spec.protocol)])
        assert rw.suite_label(selected) == text
        assert rw.suite_label(selected) == text  # from the memo
    spec = proposals.parse_ike_proposal("aes128-sha256-x25519", 1)
    offer = spec.to_v1_phase1(auth_method=1, life_seconds=None)
    for life in range(1, 200):  # peer-chosen lifetimes: the memo stops at its bound
        for t in offer.transforms:
            t.number = 1
        sel = proposals_v1.select_v1_phase1(v1.ike_proposals, [offer])
        sel = sel.__class__(**{**{f: getattr(sel, f) for f in sel.__dataclass_fields__},
                               "life_seconds": life})
        assert phase1.suite_label(v1, sel) == "aes128-sha256-x25519"
    assert len(v1.__dict__["_v1_suite_labels"]) == phase1.SUITE_LABELS_KEPT


def test_payload_shapes_that_passed_are_remembered_those_that_failed_never(monkeypatch):
    """IKEv2 payload rules and IKEv1 transition rows remember the payload type sequences
    that passed; a sequence that failed is checked (and refused) every time, and the
    memo stops growing at its bound."""
    import pytest

    from ikesrv.constants import ExchangeType, PayloadType, V1PayloadType
    from ikesrv.errors import UnexpectedPayload
    from ikesrv.ikev1 import transitions as tr
    from ikesrv.ikev1.messages import V1Payloads
    from ikesrv.ikev2 import payload_rules

    class P:
        def __init__(self, payload_type):
            self.payload_type = payload_type

    monkeypatch.setattr(payload_rules, "_FITTING", set())
    monkeypatch.setattr(payload_rules, "FITTING_MAX", 3)
    good = [P(PayloadType.SA), P(PayloadType.KE), P(PayloadType.NONCE)]
    bad = [P(PayloadType.SA), P(PayloadType.NONCE)]  # no KE
    for _ in range(2):
        payload_rules.check(ExchangeType.IKE_SA_INIT, False, good)
        with pytest.raises(UnexpectedPayload, match="lacks a KE"):
            payload_rules.check(ExchangeType.IKE_SA_INIT, False, bad)
    assert payload_rules._FITTING == {(ExchangeType.IKE_SA_INIT, False, *[
        p.payload_type for p in good])}
    for n in range(1, 6):  # more vendor IDs each time: new shapes, then no more room
        payload_rules.check(ExchangeType.IKE_SA_INIT, False,
                            good + [P(PayloadType.VENDOR_ID)] * n)
    assert len(payload_rules._FITTING) == 3

    monkeypatch.setattr(tr, "_FITTING", set())
    monkeypatch.setattr(tr, "FITTING_MAX", 2)
    qm1 = V1Payloads([P(V1PayloadType.HASH), P(V1PayloadType.SA), P(V1PayloadType.NONCE)])
    no_nonce = V1Payloads([P(V1PayloadType.HASH), P(V1PayloadType.SA)])
    for _ in range(2):
        tr.QM1.check_view(qm1)
        with pytest.raises(UnexpectedPayload, match="NONCE payload missing"):
            tr.QM1.check_view(no_nonce)
        # the same shape is another row's question: QM3 allows only the HASH
        with pytest.raises(UnexpectedPayload, match="not allowed"):
            tr.QM3.check_view(qm1)
    assert tr._FITTING == {(tr.QM1.story, qm1.shape)}
