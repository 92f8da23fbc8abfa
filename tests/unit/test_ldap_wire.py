"""LDAP request encoding and answer decoding (ikesrv.auth.ldap_wire).

Requests are checked byte for byte against ldap3's own encoding (pyasn1), the reference
the directory already accepts; answers are decoded from messages pyasn1 encodes. The
slapd tests in tests/ldap send these searches to a real directory."""

from __future__ import annotations

import os
import random

import pytest
from ldap3.operation.bind import bind_operation
from ldap3.operation.extended import extended_operation
from ldap3.operation.search import search_operation
from ldap3.operation.unbind import unbind_operation
from ldap3.utils.conv import escape_filter_chars
from ldap3.protocol.rfc4511 import (
    LDAPDN,
    AttributeDescription,
    LDAPMessage,
    LDAPResult,
    MessageID,
    PartialAttribute,
    PartialAttributeList,
    ProtocolOp,
    ResultCode,
    SearchResultDone,
    SearchResultEntry,
    Vals,
)
from pyasn1.codec.ber import encoder

from ikesrv.auth import ldap_wire as w

BASE = "ou=people,dc=example,dc=test"

FILTERS = [
    "(uid=alice)",
    "(&(objectClass=inetOrgPerson)(uid=al\\2aice))",
    "(|(a=1)(!(b=2))(c>=3)(d<=4)(e~=5))",
    "(&(|(a=1)(b=2))(!(&(c=3)(d=*))))",
    "(cn=*)",
    "(cn=ab*cd*ef)",
    "(cn=*x*)",
    "(cn=x*)",
    "(cn=*x)",
    "(member=uid=al\\28ice\\29,ou=people,dc=example,dc=test)",
    "(cn=Jos\u00e9 \u00e7a \u4e2d)",
    "(cn:caseExactMatch:=Fred)",
    "(1.2.3.4=x)",
    "(cn;lang-en=x)",
    "(uid=" + "x" * 300 + ")",  # long form lengths
    "(cn=\\00\\5c\\2A)",
]


def reference(message_id: int, base: str, scope: int, search_filter: str, attributes,
              size_limit: int, time_limit: int) -> bytes:
    """What ldap3 sends for the same search."""
    request = search_operation(base, search_filter, scope, 3, attributes, size_limit,
                               time_limit, False, False, False)
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName("searchRequest", request)
    return encoder.encode(message)


@pytest.mark.parametrize("search_filter", FILTERS)
@pytest.mark.parametrize("message_id,size_limit", [(1, 2), (300, 0), (70000, 1), (2**31 - 2, 5)])
def test_search_request_is_what_ldap3_sends(search_filter, message_id, size_limit):
    attributes = ["sambaNTPassword", "sambaAcctFlags", "uid"]
    ours = w.encode_search(message_id, BASE, w.SCOPE_WHOLE_SUBTREE, search_filter,
                           attributes, size_limit=size_limit, time_limit=3)
    assert ours == reference(message_id, BASE, 2, search_filter, attributes, size_limit, 3)


def test_base_search_for_no_attributes():
    ours = w.encode_search(5, "cn=vpn-users,ou=groups,dc=example,dc=test",
                           w.SCOPE_BASE_OBJECT, "(member=uid=alice)", ("1.1",), size_limit=1)
    assert ours == reference(5, "cn=vpn-users,ou=groups,dc=example,dc=test", 0,
                             "(member=uid=alice)", ["1.1"], 1, 0)


@pytest.mark.parametrize("search_filter,dn_flag", [
    ("(cn:dn:2.4.6.8.10:=Dino)", True), ("(:dn:2.4.6.8.10:=Dino)", True),
    ("(o:dn:=Ace)", True), ("(:2.4.6.8.10:=Dino)", False)])
def test_extensible_match(search_filter, dn_flag):
    # pyasn1 writes BOOLEAN TRUE as 0x01; RFC 4511 §5.1 asks for 0xFF, as written here
    ours = w.encode_filter(search_filter)
    expected = reference(1, "", 0, search_filter, ["1.1"], 0, 0)
    if dn_flag:
        assert ours.endswith(b"\x84\x01\xff")
        assert ours[:-1] + b"\x01" in expected
    else:
        assert b"\x84" not in ours[2:] and ours in expected


@pytest.mark.parametrize("bad", [
    "", "uid=alice", "(uid=alice", "(uid=alice))", "((uid=a))", "(=a)", "(uid)", "(&)",
    "(|)", "(!)", "(u id=a)", "(uid=a(b)", "(uid=\\zz)", "(uid=\\4)", "(cn=a**b)",
    "(:=x)", "(cn:dn:a:b:=x)", "(uid=a)(uid=b)", "(&(uid=a)x)", "(uid=a\x00)",
])
def test_malformed_filters_are_refused(bad):
    with pytest.raises(w.FilterError):
        w.encode_filter(bad)


def _message(message_id: int, name: str, op) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(name, op)
    return encoder.encode(message)


def entry(message_id: int, dn: str, attributes: dict[str, list[bytes]]) -> bytes:
    op = SearchResultEntry()
    op["object"] = LDAPDN(dn)
    partial = PartialAttributeList()
    for i, (name, values) in enumerate(attributes.items()):
        attribute = PartialAttribute()
        attribute["type"] = AttributeDescription(name)
        vals = Vals()
        for j, value in enumerate(values):
            vals.setComponentByPosition(j, value)
        attribute["vals"] = vals
        partial.setComponentByPosition(i, attribute)
    op["attributes"] = partial
    return _message(message_id, "searchResEntry", op)


def done(message_id: int, code: int, diagnostic: str = "") -> bytes:
    op = SearchResultDone()
    op["resultCode"] = ResultCode(code)
    op["matchedDN"] = LDAPDN("")
    op["diagnosticMessage"] = LDAPResult().componentType["diagnosticMessage"].getType().clone(
        diagnostic)
    return _message(message_id, "searchResDone", op)


def test_entry_and_done_decode():
    hash_hex = b"5466D191FA54FE490DB575B3B50E18C0"
    raw = entry(7, "uid=alice,ou=people,dc=example,dc=test",
                {"sambaNTPassword": [hash_hex], "uid": [b"alice"], "mail": [b"a@x", b"b@x"]})
    assert w.message_size(raw) == len(raw)
    message_id, answer = w.decode_answer(raw)
    assert message_id == 7 and isinstance(answer, w.SearchEntry)
    assert answer.dn == "uid=alice,ou=people,dc=example,dc=test"
    assert answer.attributes == {"sambantpassword": [hash_hex], "uid": [b"alice"],
                                 "mail": [b"a@x", b"b@x"]}
    message_id, answer = w.decode_answer(done(7, 4, "size limit"))
    assert (message_id, answer) == (7, w.SearchDone(4, "size limit"))


def test_large_entry_uses_long_lengths():
    raw = entry(2**20, "cn=" + "y" * 70000, {"description": [b"z" * 70000]})
    assert raw[1] == 0x83  # three length octets
    assert w.message_size(raw[:5]) == len(raw)
    assert w.message_size(raw[:1]) == 0 and w.message_size(raw[:3]) == 0
    _, answer = w.decode_answer(raw)
    assert answer.attributes["description"] == [b"z" * 70000]


def test_message_size_refuses_what_is_no_ldap_message():
    with pytest.raises(w.ProtocolError):
        w.message_size(b"\x31\x03abc")
    with pytest.raises(w.ProtocolError):
        w.message_size(b"\x30\x80")  # indefinite length: RFC 4511 §5.1 forbids it
    with pytest.raises(w.ProtocolError):
        w.message_size(b"\x30\x84\x7f\xff\xff\xff")  # 2 GiB


def test_notice_of_disconnection():
    # RFC 4511 §4.4.1: ExtendedResponse, messageID 0, unavailable (52)
    body = b"\x0a\x01\x34\x04\x00\x04\x0dshutting down\x8a\x161.3.6.1.4.1.1466.20036"
    raw = b"\x30" + bytes([len(body) + 5]) + b"\x02\x01\x00\x78" + bytes([len(body)]) + body
    assert w.decode_answer(raw) == (0, w.Disconnection(52, "shutting down"))


@pytest.mark.parametrize("dn,password", [("cn=ikesrv,dc=example,dc=test", b"pw-1"),
                                         ("uid=Jos\u00e9,ou=people", b"x" * 300), ("", b"")])
def test_bind_request_is_what_ldap3_sends(dn, password):
    from ldap3 import ANONYMOUS, SIMPLE
    # the anonymous bind (RFC 4513 §5.1.1): empty name, empty simple credentials
    op = (bind_operation(3, SIMPLE, dn, password) if dn
          else bind_operation(3, ANONYMOUS, "", None))
    assert w.encode_bind(9, dn, password) == _message(9, "bindRequest", op)


def test_start_tls_and_unbind_are_what_ldap3_sends():
    assert w.encode_start_tls(1) == _message(1, "extendedReq",
                                             extended_operation(w.START_TLS_OID))
    assert w.encode_unbind(77) == _message(77, "unbindRequest", unbind_operation())


def test_bind_and_extended_responses_decode():
    # BindResponse (APPLICATION 1): invalidCredentials, then an ExtendedResponse to
    # StartTLS (APPLICATION 24) with its responseName
    bind = b"\x30\x0c\x02\x01\x02\x61\x07\x0a\x01\x31\x04\x00\x04\x00"
    assert w.decode_answer(bind) == (2, w.OperationDone(49, ""))
    body = b"\x0a\x01\x00\x04\x00\x04\x00\x8a\x161.3.6.1.4.1.1466.20037"
    raw = b"\x30" + bytes([len(body) + 5]) + b"\x02\x01\x01\x78" + bytes([len(body)]) + body
    assert w.decode_answer(raw) == (1, w.OperationDone(0, ""))


@pytest.mark.parametrize("name", ["alice", "al*ice", "a(b)c", "x\\y", "n\x00ul",
                                  "Jos\u00e9", "*)(uid=*", "\\2a"])
def test_filter_values_are_escaped_as_rfc_4515_asks(name):
    escaped = w.escape_filter_value(name)
    assert escaped == escape_filter_chars(name)
    # and the escaped value decodes back to exactly the name inside an equality filter
    encoded = w.encode_filter(f"(uid={escaped})")
    assert encoded.endswith(name.encode("utf-8"))


def test_damaged_answers_raise_protocol_error_only():
    rng = random.Random(4515)
    seeds = [entry(3, "uid=a,dc=x", {"uid": [b"a"], "sambaAcctFlags": [b"[U ]"]}),
             done(3, 0)]
    for _ in range(3000):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            action = rng.random()
            if action < 0.5:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            elif action < 0.8:
                del raw[rng.randrange(len(raw)):]
                if not raw:
                    raw = bytearray(os.urandom(3))
            else:
                raw[rng.randrange(len(raw)):rng.randrange(len(raw)) + 1] = os.urandom(3)
        try:
            w.decode_answer(bytes(raw))
        except w.ProtocolError:
            pass
