"""LDAP on the wire: the few requests a login sends and the answers it reads.

Owns: turning an RFC 4515 filter string into its RFC 4511 BER encoding; encoding the
requests ikesrv sends (SearchRequest §4.5.1, simple BindRequest §4.2, the StartTLS
ExtendedRequest of RFC 4511 §4.14.1, UnbindRequest §4.3); splitting a byte stream into
LDAPMessages; decoding the answers (SearchResultEntry, SearchResultReference,
SearchResultDone, BindResponse, ExtendedResponse, and the Notice of Disconnection a
server may send at any time, §4.4.1).

Why not ldap3 for this: building requests as pyasn1 objects and encoding them took two
thirds of a login's CPU, and ldap3's connections block a thread per request. A login's
requests are small and always the same shape. The filter parser also checks
``user_filter`` at config time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 4511 §4.5.1: scope and derefAliases
SCOPE_BASE_OBJECT = 0
SCOPE_SINGLE_LEVEL = 1
SCOPE_WHOLE_SUBTREE = 2
DEREF_ALWAYS = 3

# RFC 4511 §4.2 protocolOp tags (APPLICATION, constructed) of the answers a search gets
_SEARCH_RESULT_ENTRY = 0x64
_SEARCH_RESULT_DONE = 0x65
_SEARCH_RESULT_REFERENCE = 0x73
_EXTENDED_RESPONSE = 0x78
_BIND_RESPONSE = 0x61
_SEARCH_REQUEST = 0x63
_BIND_REQUEST = 0x60
_UNBIND_REQUEST = 0x42  # APPLICATION 2, primitive NULL
_EXTENDED_REQUEST = 0x77

#: RFC 4511 §4.14.1: the StartTLS extended operation
START_TLS_OID = "1.3.6.1.4.1.1466.20037"

#: an answer larger than this is refused: a login needs a handful of short attributes
MAX_MESSAGE = 1 << 20

_ATTRIBUTE = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*")
_RULE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*")


class FilterError(ValueError):
    """A filter string that is not RFC 4515."""


class ProtocolError(ValueError):
    """An answer that is not what RFC 4511 allows here."""


# ------------------------------------------------------------------ BER encoding --


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + _length(len(value)) + value


def _integer(tag: int, n: int) -> bytes:
    # two's complement, minimal (X.690 §8.3); LDAP's integers here are never negative
    return _tlv(tag, n.to_bytes(n.bit_length() // 8 + 1, "big"))


# ------------------------------------------------------------------ filters -------


def _value(text: str, where: int) -> bytes:
    """An assertion value: UTF-8, with ``\\XX`` escapes (RFC 4515 §3)."""
    if "\\" not in text:
        if "(" in text or ")" in text or "\x00" in text:
            raise FilterError(f"unescaped '(' , ')' or NUL in a value at {where}")
        return text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            pair = text[i + 1:i + 3]
            if len(pair) != 2 or not all(ch in "0123456789abcdefABCDEF" for ch in pair):
                raise FilterError(f"'\\' not followed by two hex digits at {where + i}")
            out.append(int(pair, 16))
            i += 3
            continue
        if c in "()\x00":
            raise FilterError(f"unescaped '(' , ')' or NUL in a value at {where + i}")
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def _attribute(text: str, where: int) -> bytes:
    if not _ATTRIBUTE.fullmatch(text):
        raise FilterError(f"{text!r} at {where} is not an attribute description")
    return text.encode("ascii")


def _item(text: str, where: int) -> bytes:
    """simple / present / substring / extensible (RFC 4515 §3) → its Filter CHOICE."""
    eq = text.find("=")
    if eq < 1:
        raise FilterError(f"no attribute and '=' in {text!r} at {where}")
    before = text[eq - 1]
    value_at = where + eq + 1
    if before in "~><":
        tag = {"~": 0xA8, ">": 0xA5, "<": 0xA6}[before]
        return _tlv(tag, _tlv(0x04, _attribute(text[:eq - 1], where))
                    + _tlv(0x04, _value(text[eq + 1:], value_at)))
    if before == ":":
        return _extensible(text[:eq - 1], text[eq + 1:], where, value_at)
    attr = _attribute(text[:eq], where)
    rest = text[eq + 1:]
    if rest == "*":
        return _tlv(0x87, attr)  # present [7]
    if "*" not in rest:
        return _tlv(0xA3, _tlv(0x04, attr) + _tlv(0x04, _value(rest, value_at)))
    pieces = rest.split("*")  # an escaped '*' is \2a: every '*' here is a wildcard
    parts = []
    if pieces[0]:
        parts.append(_tlv(0x80, _value(pieces[0], value_at)))  # initial [0]
    for piece in pieces[1:-1]:
        if not piece:
            raise FilterError(f"'**' in a substring filter at {value_at}")
        parts.append(_tlv(0x81, _value(piece, value_at)))  # any [1]
    if pieces[-1]:
        parts.append(_tlv(0x82, _value(pieces[-1], value_at)))  # final [2]
    return _tlv(0xA4, _tlv(0x04, attr) + _tlv(0x30, b"".join(parts)))


def _extensible(left: str, value: str, where: int, value_at: int) -> bytes:
    """attr [":dn"] [":" rule] ":=" value, or [":dn"] ":" rule ":=" value."""
    fields = left.split(":")
    attr, options = fields[0], fields[1:]
    dn = False
    if options and options[0].lower() == "dn":
        dn, options = True, options[1:]
    if len(options) > 1 or (options and not _RULE.fullmatch(options[0])):
        raise FilterError(f"malformed extensible match {left!r} at {where}")
    rule = options[0] if options else None
    if not attr and rule is None:
        raise FilterError(f"an extensible match needs an attribute or a rule at {where}")
    body = b""
    if rule is not None:
        body += _tlv(0x81, rule.encode("ascii"))  # matchingRule [1]
    if attr:
        body += _tlv(0x82, _attribute(attr, where))  # type [2]
    body += _tlv(0x83, _value(value, value_at))  # matchValue [3]
    if dn:
        body += _tlv(0x84, b"\xff")  # dnAttributes [4], DEFAULT FALSE
    return _tlv(0xA9, body)


def _filter(text: str, i: int) -> tuple[bytes, int]:
    if i >= len(text) or text[i] != "(":
        raise FilterError(f"expected '(' at {i}")
    i += 1
    kind = text[i] if i < len(text) else ""
    if kind in ("&", "|"):
        i += 1
        members = []
        while i < len(text) and text[i] == "(":
            member, i = _filter(text, i)
            members.append(member)
        if not members:
            raise FilterError(f"'{kind}' with no filters at {i}")
        encoded = _tlv(0xA0 if kind == "&" else 0xA1, b"".join(members))
    elif kind == "!":
        inner, i = _filter(text, i + 1)
        encoded = _tlv(0xA2, inner)  # not [2] is explicit: Filter is a CHOICE
    else:
        end = text.find(")", i)  # a ')' in a value is escaped (\29): the first one ends it
        if end < 0:
            raise FilterError(f"no ')' after {i}")
        item = text[i:end]
        encoded = _items.get(item)
        if encoded is None:  # a filter's fixed parts (objectClass=...) recur per login
            encoded = _item(item, i)
            if len(_items) >= 256:
                _items.clear()
            _items[item] = encoded
        i = end
    if i >= len(text) or text[i] != ")":
        raise FilterError(f"expected ')' at {i}")
    return encoded, i + 1


_items: dict[str, bytes] = {}  # item text -> its encoding (bounded: user names pass too)

_FILTER_SPECIALS = {ord(c): f"\\{ord(c):02x}" for c in "\\*()\0"}


def escape_filter_value(value: str) -> str:
    """``value`` made safe to put in a filter string: ``*``, ``(``, ``)``, ``\\`` and NUL
    as \\XX escapes (RFC 4515 §3), so a user name matches only itself."""
    return value.translate(_FILTER_SPECIALS)


def encode_filter(text: str) -> bytes:
    """The BER encoding of an RFC 4515 filter string; FilterError says what is wrong."""
    encoded, end = _filter(text, 0)
    if end != len(text):
        raise FilterError(f"characters after the filter at {end}")
    return encoded


# ------------------------------------------------------------------ requests ------


def encode_search(message_id: int, base: str, scope: int, search_filter: str,
                  attributes: list[str] | tuple[str, ...], size_limit: int = 0,
                  time_limit: int = 0, deref: int = DEREF_ALWAYS) -> bytes:
    """An LDAPMessage holding a SearchRequest (RFC 4511 §4.5.1), no controls."""
    # what comes before and after the filter is the same for every login of one kind
    key = (base, scope, tuple(attributes), size_limit, time_limit, deref)
    parts = _search_parts.get(key)
    if parts is None:
        if len(_search_parts) >= 64:
            _search_parts.clear()
        parts = _search_parts[key] = (
            _tlv(0x04, base.encode("utf-8"))
            + _integer(0x0A, scope) + _integer(0x0A, deref)
            + _integer(0x02, size_limit) + _integer(0x02, time_limit)
            + b"\x01\x01\x00",  # typesOnly FALSE
            _tlv(0x30, b"".join(_tlv(0x04, a.encode("utf-8")) for a in attributes)))
    request = parts[0] + encode_filter(search_filter) + parts[1]
    return _tlv(0x30, _integer(0x02, message_id) + _tlv(_SEARCH_REQUEST, request))


_search_parts: dict[tuple, tuple[bytes, bytes]] = {}


def encode_bind(message_id: int, dn: str, password: bytes) -> bytes:
    """An LDAPMessage holding a simple BindRequest, LDAP version 3 (RFC 4511 §4.2); an
    empty DN and password make the anonymous bind of RFC 4513 §5.1.1."""
    request = _integer(0x02, 3) + _tlv(0x04, dn.encode("utf-8")) + _tlv(0x80, password)
    return _tlv(0x30, _integer(0x02, message_id) + _tlv(_BIND_REQUEST, request))


def encode_start_tls(message_id: int) -> bytes:
    """An LDAPMessage holding the StartTLS ExtendedRequest (RFC 4511 §4.14.1)."""
    request = _tlv(0x80, START_TLS_OID.encode("ascii"))
    return _tlv(0x30, _integer(0x02, message_id) + _tlv(_EXTENDED_REQUEST, request))


def encode_unbind(message_id: int) -> bytes:
    """An LDAPMessage holding an UnbindRequest (RFC 4511 §4.3): no answer comes."""
    return _tlv(0x30, _integer(0x02, message_id) + bytes((_UNBIND_REQUEST, 0)))


# ------------------------------------------------------------------ answers -------


def message_size(buffer: bytes | bytearray) -> int:
    """The size of the first whole LDAPMessage in ``buffer``; 0 when more bytes are
    needed to know; ProtocolError when it is no LDAPMessage or too large."""
    if len(buffer) < 2:
        return 0
    if buffer[0] != 0x30:
        raise ProtocolError(f"an answer starting with 0x{buffer[0]:02x}, not a SEQUENCE")
    first = buffer[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4:
        raise ProtocolError("an answer with an indefinite or oversized length")
    if len(buffer) < 2 + count:
        return 0
    size = 2 + count + int.from_bytes(buffer[2:2 + count], "big")
    if size > MAX_MESSAGE:
        raise ProtocolError(f"an answer of {size} bytes (at most {MAX_MESSAGE})")
    return size


def _tl(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start, stop) of the TLV at ``pos``, which must end by ``end``."""
    if pos + 2 > end:
        raise ProtocolError(f"truncated at {pos}")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ProtocolError(f"bad length at {pos - 1}")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    stop = pos + length
    if stop > end:
        raise ProtocolError(f"a value running past its container at {pos}")
    return tag, pos, stop


def _expect(data: bytes, pos: int, end: int, expect: int) -> tuple[int, int]:
    """(start, stop) of the value of the TLV at ``pos``, which must carry tag ``expect``."""
    tag, start, stop = _tl(data, pos, end)
    if tag != expect:
        raise ProtocolError(f"tag 0x{tag:02x} at {pos}, expected 0x{expect:02x}")
    return start, stop


def _int(data: bytes, start: int, stop: int) -> int:
    if start == stop or stop - start > 8:
        raise ProtocolError(f"an integer of {stop - start} bytes at {start}")
    return int.from_bytes(data[start:stop], "big", signed=True)


@dataclass(frozen=True, slots=True)
class SearchEntry:
    dn: str
    attributes: dict[str, list[bytes]]  # lower-cased attribute descriptions


@dataclass(frozen=True, slots=True)
class SearchDone:
    result_code: int
    diagnostic: str


@dataclass(frozen=True, slots=True)
class SearchReference:
    uris: list[str]


@dataclass(frozen=True, slots=True)
class Disconnection:
    """RFC 4511 §4.4.1: the server is closing the connection."""

    result_code: int
    diagnostic: str


@dataclass(frozen=True, slots=True)
class OperationDone:
    """The LDAPResult of a BindResponse or (StartTLS) ExtendedResponse."""

    result_code: int
    diagnostic: str


Answer = SearchEntry | SearchDone | SearchReference | Disconnection | OperationDone


def decode_answer(message: bytes) -> tuple[int, Answer]:
    """(messageID, what it says) of one whole LDAPMessage a server sent."""
    # positions into ``message`` rather than slices or reader objects: every login reads
    # three or four of these
    start, end = _expect(message, 0, len(message), 0x30)
    start, pos = _expect(message, start, end, 0x02)
    message_id = _int(message, start, pos)
    tag, op, op_end = _tl(message, pos, end)
    if tag == _SEARCH_RESULT_ENTRY:
        start, pos = _expect(message, op, op_end, 0x04)
        dn = message[start:pos].decode("utf-8", "replace")
        attributes: dict[str, list[bytes]] = {}
        pos, partial_end = _expect(message, pos, op_end, 0x30)
        while pos < partial_end:
            one, pos = _expect(message, pos, partial_end, 0x30)
            start, one = _expect(message, one, pos, 0x04)
            name = message[start:one].decode("utf-8", "replace").lower()
            value, values_end = _expect(message, one, pos, 0x31)
            found = attributes.setdefault(name, [])
            while value < values_end:
                start, value = _expect(message, value, values_end, 0x04)
                found.append(message[start:value])
        return message_id, SearchEntry(dn, attributes)
    if tag in (_SEARCH_RESULT_DONE, _EXTENDED_RESPONSE, _BIND_RESPONSE):
        start, pos = _expect(message, op, op_end, 0x0A)
        code = _int(message, start, pos)
        _, pos = _expect(message, pos, op_end, 0x04)  # matchedDN
        start, pos = _expect(message, pos, op_end, 0x04)
        diagnostic = message[start:pos].decode("utf-8", "replace")
        if tag == _SEARCH_RESULT_DONE:
            return message_id, SearchDone(code, diagnostic)
        if tag == _EXTENDED_RESPONSE and message_id == 0:  # §4.4: unsolicited
            return message_id, Disconnection(code, diagnostic)
        return message_id, OperationDone(code, diagnostic)
    if tag == _SEARCH_RESULT_REFERENCE:
        uris = []
        pos = op
        while pos < op_end:
            start, pos = _expect(message, pos, op_end, 0x04)
            uris.append(message[start:pos].decode("utf-8", "replace"))
        return message_id, SearchReference(uris)
    raise ProtocolError(f"protocolOp 0x{tag:02x} is no answer ikesrv asks for")


__all__ = [
    "DEREF_ALWAYS",
    "MAX_MESSAGE",
    "START_TLS_OID",
    "SCOPE_BASE_OBJECT",
    "SCOPE_SINGLE_LEVEL",
    "SCOPE_WHOLE_SUBTREE",
    "Disconnection",
    "FilterError",
    "OperationDone",
    "ProtocolError",
    "SearchDone",
    "SearchEntry",
    "SearchReference",
    "decode_answer",
    "encode_bind",
    "encode_filter",
    "encode_search",
    "encode_start_tls",
    "encode_unbind",
    "escape_filter_value",
    "message_size",
]
