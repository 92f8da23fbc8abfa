"""Identities of IKE peers: the ID payload contents, their text forms, and identity patterns.

Owns:
  - ``Identity(id_type, data)``: the contents of an IKEv2 Identification payload
    (RFC 7296 §3.5: ID Type and Identification Data), validated, with ``str()`` in
    strongSwan's style (what operators read in logs and ``ikesrv status``), ``key()`` (a
    stable normalised string for uniqueness and pool stickiness), equality on that key,
    ``payload_body()`` (RestOfIDPayload, which the AUTH computation MACs) and the mapping
    to and from IKEv1 ID types (RFC 2407 §4.6.2.1).
  - ``Identity.parse(text)``: config values, typed the way strongSwan guesses them
    (type prefixes such as ``fqdn:``, an IP literal, ``=`` for a DN, ``@`` for RFC 822,
    ``@fqdn``, ``@@user@fqdn``, ``@#hex`` for a KEY_ID).
  - ``IdentityPattern``: ``remote_id`` values (``%any``, exact, a leading ``*`` wildcard
    for FQDN / RFC 822 names, ``*`` RDN values in a DN, an address prefix for IP IDs).
  - A minimal DER reader and writer for X.501 Names (ID_DER_ASN1_DN), bounded.

Comparison rules: FQDNs compare case-insensitively (RFC 4343 §3); an RFC 822 address
compares its domain case-insensitively and its local part exactly (RFC 5321 §2.4: the
local part may be case-sensitive; strongSwan folds the whole string, we do not). DNs
compare attribute by attribute after decoding each string type and folding case and
insignificant spaces (the caseIgnoreMatch of RFC 5280 §7.1 / RFC 4518, simplified), so
a PrintableString and a UTF8String of the same text are equal. IP addresses compare as
addresses, KEY_IDs and other types byte for byte. Peer identities are literal: a ``*``
in what a peer sends is never a wildcard; only IdentityPattern interprets wildcards.

Must not import: ikesrv.wire, ikesrv.crypto, anything doing I/O. Imports ikesrv.constants
and ikesrv.errors only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass, field

from .constants import IdType, V1IdType
from .errors import AuthenticationFailed

__all__ = ["Identity", "IdentityPattern", "format_dn", "MAX_ID_DATA"]

#: Largest Identification Data we accept (peer input or config); real DNs stay below 1 KiB.
MAX_ID_DATA = 2048
#: Most RDNs in a DN we parse; strongSwan itself stops at 20 in config text.
_MAX_RDNS = 64

# --------------------------------------------------------------------------- DER (X.690)

_TAG_SEQUENCE = 0x30
_TAG_SET = 0x31
_TAG_OID = 0x06
_TAG_UTF8 = 0x0C
_TAG_PRINTABLE = 0x13
_TAG_IA5 = 0x16


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _read_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """One DER TLV at ``pos``: (tag, content start, content end); ValueError if malformed."""
    if end - pos < 2:
        raise ValueError("truncated DER element")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not used in names")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3:  # indefinite length, or absurd for a name
            raise ValueError("unsupported DER length encoding")
        if end - pos < count:
            raise ValueError("truncated DER length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        if length < 0x80 or buf[pos] == 0:
            raise ValueError("non-minimal DER length")
        pos += count
    if end - pos < length:
        raise ValueError("DER element longer than its container")
    return tag, pos, pos + length


def _encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise ValueError(f"invalid OID {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def _decode_oid(content: bytes) -> str:
    if not content or content[-1] & 0x80 or len(content) > 64:
        raise ValueError("malformed OID")
    arcs: list[int] = []
    value = 0
    for i, b in enumerate(content):
        if value == 0 and b == 0x80 and (i == 0 or not content[i - 1] & 0x80):
            raise ValueError("non-minimal OID arc")
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


# ------------------------------------------------------------------ X.501 attribute names

# (name strongSwan prints, OID, other accepted spellings, string type strongSwan encodes).
# Names and encodings match strongSwan 5.9's `pki --self --dn` and its log output, so a
# DN typed in our config encodes to the same DER as the same DN in a strongSwan config.
_ATTRIBUTES: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("C", "2.5.4.6", ("countryName",), _TAG_PRINTABLE),
    ("ST", "2.5.4.8", ("stateOrProvinceName",), _TAG_PRINTABLE),
    ("L", "2.5.4.7", ("localityName",), _TAG_PRINTABLE),
    ("O", "2.5.4.10", ("organizationName",), _TAG_PRINTABLE),
    ("OU", "2.5.4.11", ("organizationalUnitName",), _TAG_PRINTABLE),
    ("CN", "2.5.4.3", ("commonName",), _TAG_PRINTABLE),
    ("SN", "2.5.4.4", ("surname",), _TAG_PRINTABLE),
    ("serialNumber", "2.5.4.5", (), _TAG_PRINTABLE),
    ("STREET", "2.5.4.9", (), _TAG_PRINTABLE),
    ("T", "2.5.4.12", ("title",), _TAG_PRINTABLE),
    ("D", "2.5.4.13", ("description",), _TAG_PRINTABLE),
    ("postalCode", "2.5.4.17", (), _TAG_PRINTABLE),
    ("N", "2.5.4.41", ("name",), _TAG_PRINTABLE),
    ("G", "2.5.4.42", ("givenName",), _TAG_PRINTABLE),
    ("I", "2.5.4.43", ("initials",), _TAG_PRINTABLE),
    ("ID", "2.5.4.45", ("uniqueIdentifier",), _TAG_PRINTABLE),
    ("dnQualifier", "2.5.4.46", (), _TAG_PRINTABLE),
    ("pseudonym", "2.5.4.65", (), _TAG_PRINTABLE),
    ("E", "1.2.840.113549.1.9.1", ("Email", "emailAddress"), _TAG_IA5),
    ("UID", "0.9.2342.19200300.100.1.1", ("userid",), _TAG_PRINTABLE),
    ("DC", "0.9.2342.19200300.100.1.25", ("domainComponent",), _TAG_PRINTABLE),
    ("employeeNumber", "2.16.840.1.113730.3.1.3", ("EN",), _TAG_PRINTABLE),
    ("unstructuredName", "1.2.840.113549.1.9.2", ("UN",), _TAG_IA5),
    ("unstructuredAddress", "1.2.840.113549.1.9.8", ("UA",), _TAG_PRINTABLE),
)
_NAME_OF_OID = {oid: name for name, oid, _, _ in _ATTRIBUTES}
_ATTR_BY_NAME = {
    alias.lower(): (oid, tag)
    for name, oid, aliases, tag in _ATTRIBUTES
    for alias in (name, *aliases)
}

# X.680 §41.4: the PrintableString character set.
_PRINTABLE_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)

# String types that may carry a DN attribute value, with how to decode their contents.
_STRING_CODECS = {
    _TAG_UTF8: "utf-8",
    0x12: "latin-1",  # NumericString
    _TAG_PRINTABLE: "latin-1",
    0x14: "latin-1",  # TeletexString: treated as Latin-1, as most software does
    _TAG_IA5: "latin-1",
    0x1A: "latin-1",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}

# One attribute value assertion: (OID, DER tag of the value, value contents).
_Ava = tuple[str, int, bytes]


def _parse_dn_der(der: bytes) -> tuple[tuple[_Ava, ...], ...]:
    """RDNs of a DER Name (RFC 5280 §4.1.2.4), each a tuple of AVAs; ValueError if malformed."""
    if len(der) > MAX_ID_DATA:
        raise ValueError(f"DN of {len(der)} bytes exceeds {MAX_ID_DATA}")
    tag, pos, end = _read_tlv(der, 0, len(der))
    if tag != _TAG_SEQUENCE or end != len(der):
        raise ValueError("DN is not a single DER SEQUENCE")
    rdns = []
    while pos < end:
        tag, set_pos, set_end = _read_tlv(der, pos, end)
        if tag != _TAG_SET or set_pos == set_end:
            raise ValueError("RDN is not a non-empty SET")
        avas = []
        while set_pos < set_end:
            tag, seq_pos, seq_end = _read_tlv(der, set_pos, set_end)
            if tag != _TAG_SEQUENCE:
                raise ValueError("attribute is not a SEQUENCE")
            tag, oid_pos, oid_end = _read_tlv(der, seq_pos, seq_end)
            if tag != _TAG_OID:
                raise ValueError("attribute type is not an OID")
            oid = _decode_oid(der[oid_pos:oid_end])
            vtag, v_pos, v_end = _read_tlv(der, oid_end, seq_end)
            if v_end != seq_end:
                raise ValueError("trailing data after attribute value")
            avas.append((oid, vtag, der[v_pos:v_end]))
            set_pos = seq_end
        rdns.append(tuple(avas))
        if len(rdns) > _MAX_RDNS:
            raise ValueError(f"DN has more than {_MAX_RDNS} RDNs")
        pos = set_end
    if not rdns:
        raise ValueError("empty DN")
    return tuple(rdns)


def _value_text(tag: int, value: bytes) -> str | None:
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        return None
    return value.decode(codec, errors="replace")


def _printable(text: str) -> str:
    """Text safe for one log line: control and format characters become '?'."""
    return "".join("?" if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def _format_avas(rdns: tuple[tuple[_Ava, ...], ...]) -> str:
    parts = []
    for rdn in rdns:
        for oid, tag, value in rdn:
            text = _value_text(tag, value)
            shown = _printable(text) if text is not None else "#" + value.hex()
            parts.append(f"{_NAME_OF_OID.get(oid, oid)}={shown}")
    return ", ".join(parts)


def format_dn(der: bytes) -> str:
    """A DER DN as strongSwan prints it: ``C=XX, O=ikelab, CN=gw.example.test`` (DER order).

    Never raises: a malformed DN prints as ``(invalid ID_DER_ASN1_DN)`` like strongSwan.
    """
    try:
        return _format_avas(_parse_dn_der(der))
    except ValueError:
        return "(invalid ID_DER_ASN1_DN)"


def _normalise_value(tag: int, value: bytes) -> str:
    """caseIgnoreMatch after RFC 4518-style space folding, or the raw bytes for non-strings."""
    text = _value_text(tag, value)
    if text is None:
        return "#" + value.hex()
    return " ".join(text.split()).casefold()


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace("/", "\\/").replace("+", "\\+")


def _dn_key(rdns: tuple[tuple[_Ava, ...], ...]) -> str:
    # A multi-valued RDN is a SET: its order carries no meaning, so sort it.
    return "/".join(
        "+".join(sorted(f"{oid}={_escape_key(_normalise_value(tag, v))}" for oid, tag, v in rdn))
        for rdn in rdns
    )


def _encode_dn_text(text: str, *, allow_wildcards: bool = False) -> bytes:
    """A DN in strongSwan's config syntax (``C=XX, O=ikelab, CN=gw`` or ``/C=XX/O=ikelab``) as DER.

    Attribute names are case-insensitive; dotted OIDs are accepted too. Values run to the
    next separator (no escaping, as in strongSwan), surrounding spaces trimmed.
    """
    body = text.strip()
    sep = "/" if body.startswith("/") else ","
    rdns = []
    for part in body.split(sep):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ValueError(f"DN component {part.strip()!r} is not NAME=value")
        value = value.strip()
        if name[0].isdigit():
            oid, tag = name, _TAG_PRINTABLE
            _encode_oid(oid)  # validates the dotted form
        else:
            known = _ATTR_BY_NAME.get(name.lower())
            if known is None:
                raise ValueError(f"unknown DN attribute {name!r}")
            oid, tag = known
        if value == "*" and not allow_wildcards:
            raise ValueError("'*' in a DN is a wildcard, allowed in remote_id patterns only")
        if tag == _TAG_PRINTABLE and not set(value) <= _PRINTABLE_CHARS:
            tag = _TAG_UTF8  # as strongSwan does: PrintableString when it fits, else UTF8String
        if tag == _TAG_IA5 and not value.isascii():
            raise ValueError(f"{name} value must be ASCII")
        encoded = value.encode("utf-8")
        rdns.append(
            _der(
                _TAG_SET, _der(_TAG_SEQUENCE, _der(_TAG_OID, _encode_oid(oid)) + _der(tag, encoded))
            )
        )
    if not rdns:
        raise ValueError(f"no DN components in {text!r}")
    if len(rdns) > _MAX_RDNS:
        raise ValueError(f"DN has more than {_MAX_RDNS} components")
    der = _der(_TAG_SEQUENCE, b"".join(rdns))
    if len(der) > MAX_ID_DATA:
        raise ValueError(f"DN longer than {MAX_ID_DATA} bytes")
    return der


# -------------------------------------------------------------------------- Identity

_V2_TO_V1 = {
    IdType.ID_IPV4_ADDR: V1IdType.ID_IPV4_ADDR,
    IdType.ID_FQDN: V1IdType.ID_FQDN,
    IdType.ID_RFC822_ADDR: V1IdType.ID_USER_FQDN,
    IdType.ID_IPV6_ADDR: V1IdType.ID_IPV6_ADDR,
    IdType.ID_DER_ASN1_DN: V1IdType.ID_DER_ASN1_DN,
    IdType.ID_DER_ASN1_GN: V1IdType.ID_DER_ASN1_GN,
    IdType.ID_KEY_ID: V1IdType.ID_KEY_ID,
}
_V1_TO_V2 = {v1: v2 for v2, v1 in _V2_TO_V1.items()}

# strongSwan's type prefixes (identification_create_from_string), case-insensitive.
_PREFIXES = (
    ("ipv4:", IdType.ID_IPV4_ADDR),
    ("ipv6:", IdType.ID_IPV6_ADDR),
    ("rfc822:", IdType.ID_RFC822_ADDR),
    ("email:", IdType.ID_RFC822_ADDR),
    ("userfqdn:", IdType.ID_RFC822_ADDR),
    ("fqdn:", IdType.ID_FQDN),
    ("dns:", IdType.ID_FQDN),
    ("asn1dn:", IdType.ID_DER_ASN1_DN),
    ("asn1gn:", IdType.ID_DER_ASN1_GN),
    ("keyid:", IdType.ID_KEY_ID),
)

# Config values meaning "any identity" in strongSwan; an Identity cannot be one of these.
_ANY_TEXTS = frozenset({"", "%any", "%any6", "0.0.0.0", "*", "::", "0::0"})

_TEXT_TYPES = (IdType.ID_FQDN, IdType.ID_RFC822_ADDR)
_OPAQUE_KEY_TAGS = {
    IdType.ID_KEY_ID: "keyid",
    IdType.ID_DER_ASN1_GN: "asn1gn",
    IdType.ID_FC_NAME: "fcname",
}


def _hex(text: str) -> bytes:
    cleaned = text.replace(":", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"invalid hex {text!r}") from None
    if not data:
        raise ValueError("empty hex value")
    return data


def _split_mailbox(data: bytes) -> tuple[bytes, bytes | None]:
    local, at, domain = data.rpartition(b"@")
    return (local, domain) if at else (data, None)


# one scan in C instead of a generator per octet: identities are parsed for every SA
_PLAIN_TEXT = re.compile(rb"[\x21-\x5b\x5d-\x7e]*")  # printable ASCII but the backslash
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def _text_key(data: bytes) -> str:
    if _PLAIN_TEXT.fullmatch(data):
        return ":" + data.decode("ascii")
    return "#" + data.hex()  # not plain text: the hex form keeps the key injective


# IdType by value: a dict lookup, where IdType(value) costs a call through EnumType
_ID_TYPES = {int(t): t for t in IdType}
_V1_ID_TYPES = {int(t): t for t in V1IdType}


@dataclass(frozen=True, eq=False)
class Identity:
    """The contents of an ID payload (RFC 7296 §3.5): ``id_type`` and Identification Data.

    Construction validates the data for its type and raises ValueError; peer input goes
    through ``from_payload`` / ``from_v1``, which raise AuthenticationFailed instead.
    Equality and hashing follow ``key()``: the normalised comparison of the module doc.
    """

    id_type: IdType
    data: bytes
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        id_type = _ID_TYPES.get(self.id_type) if isinstance(self.id_type, int) else None
        if id_type is None:
            raise ValueError(f"unsupported ID type {self.id_type}")
        setattr_ = object.__setattr__
        setattr_(self, "id_type", id_type)
        data = self.data
        if type(data) is not bytes:
            data = bytes(data)
            setattr_(self, "data", data)
        if len(data) > MAX_ID_DATA:
            raise ValueError(f"{id_type.name} of {len(data)} bytes exceeds {MAX_ID_DATA}")
        setattr_(self, "_key", self._validate_and_key(id_type, data))

    @staticmethod
    def _validate_and_key(id_type: IdType, data: bytes) -> str:
        if id_type is IdType.ID_IPV4_ADDR:
            if len(data) != 4:
                raise ValueError(f"ID_IPV4_ADDR must be 4 bytes, got {len(data)}")
            return "ipv4:" + str(ipaddress.IPv4Address(data))
        if id_type is IdType.ID_IPV6_ADDR:
            if len(data) != 16:
                raise ValueError(f"ID_IPV6_ADDR must be 16 bytes, got {len(data)}")
            return "ipv6:" + str(ipaddress.IPv6Address(data))
        if id_type in _TEXT_TYPES:
            if not data:
                raise ValueError(f"empty {id_type.name}")
            # RFC 7296 §3.5: "MUST NOT contain any terminators (e.g., NULL, CR, etc.)".
            if _CONTROL.search(data):
                raise ValueError(f"{id_type.name} contains control characters")
            if id_type is IdType.ID_FQDN:
                return "fqdn" + _text_key(data.lower())  # bytes.lower() folds ASCII only
            local, domain = _split_mailbox(data)
            folded = data if domain is None else local + b"@" + domain.lower()
            return "rfc822" + _text_key(folded)
        if id_type is IdType.ID_DER_ASN1_DN:
            try:
                return "dn:" + _dn_key(_parse_dn_der(data))
            except ValueError as e:
                raise ValueError(f"malformed ID_DER_ASN1_DN: {e}") from None
        if id_type is IdType.ID_NULL:
            return "null:"  # RFC 7619: any data an ID_NULL carries has no meaning
        if not data:
            raise ValueError(f"empty {id_type.name}")
        return f"{_OPAQUE_KEY_TAGS.get(id_type, id_type.name.lower())}#{data.hex()}"

    # ---- constructors

    @classmethod
    def parse(cls, text: str) -> Identity:
        """A config value, typed as strongSwan types it (see the module doc); ValueError if bad."""
        text = text.strip()
        lowered = text.lower()
        for prefix, id_type in _PREFIXES:
            if lowered.startswith(prefix):
                return cls._from_typed_text(id_type, text[len(prefix) :])
        if text.startswith("{"):
            number, close, rest = text[1:].partition("}:")
            if close and number.isdigit():
                return cls._from_typed_text(IdType(int(number)), rest)
        if "=" in text:
            return cls(IdType.ID_DER_ASN1_DN, _encode_dn_text(text))
        if "@" not in text:
            if text in _ANY_TEXTS:
                raise ValueError(f"{text!r} means any identity: it is a pattern, not an identity")
            family = socket.AF_INET6 if ":" in text else socket.AF_INET
            try:
                packed = socket.inet_pton(family, text)
            except OSError:
                # strongSwan: not an address and no ':' is a name, with ':' a key ID.
                if family == socket.AF_INET:
                    return cls(IdType.ID_FQDN, text.encode("utf-8"))
                return cls(IdType.ID_KEY_ID, text.encode("utf-8"))
            id_type = IdType.ID_IPV6_ADDR if family == socket.AF_INET6 else IdType.ID_IPV4_ADDR
            return cls(id_type, packed)
        if text.startswith("@#"):
            return cls(IdType.ID_KEY_ID, _hex(text[2:]))
        if text.startswith("@@"):
            return cls(IdType.ID_RFC822_ADDR, text[2:].encode("utf-8"))
        if text.startswith("@"):
            return cls(IdType.ID_FQDN, text[1:].encode("utf-8"))
        return cls(IdType.ID_RFC822_ADDR, text.encode("utf-8"))

    @classmethod
    def _from_typed_text(cls, id_type: IdType, value: str) -> Identity:
        if value.startswith("#"):
            return cls(id_type, _hex(value[1:]))
        if id_type is IdType.ID_IPV4_ADDR:
            return cls(id_type, ipaddress.IPv4Address(value).packed)
        if id_type is IdType.ID_IPV6_ADDR:
            return cls(id_type, ipaddress.IPv6Address(value).packed)
        if id_type is IdType.ID_DER_ASN1_DN:
            return cls(id_type, _encode_dn_text(value))
        return cls(id_type, value.encode("utf-8"))

    @classmethod
    def from_payload(cls, id_type: int, data: bytes) -> Identity:
        """The identity a peer sent in IDi/IDr; AuthenticationFailed if it is not acceptable."""
        try:
            return cls(id_type, data)  # type: ignore[arg-type]
        except ValueError as e:
            raise AuthenticationFailed(f"peer identity rejected: {e}") from None

    @classmethod
    def from_certificate_subject(cls, certificate: object) -> Identity:
        """The subject DN of an X.509 certificate (a ``cryptography`` Certificate, duck-typed
        so that this module needs no crypto import) with its exact DER; ValueError if empty.

        What to send as IDr when ``local_id`` is unset: a peer comparing DER byte for byte
        then sees exactly the certificate's subject.
        """
        subject = certificate.subject  # type: ignore[attr-defined]
        return cls(IdType.ID_DER_ASN1_DN, subject.public_bytes())

    @classmethod
    def from_v1(cls, id_type: int, data: bytes) -> Identity:
        """The identity in an IKEv1 phase 1 ID payload (RFC 2407 §4.6.2.1).

        Subnet and range types identify traffic, not peers: they are refused here.
        """
        v1 = _V1_ID_TYPES.get(id_type)
        if v1 is None:
            raise AuthenticationFailed(f"unsupported IKEv1 ID type {id_type}")
        v2 = _V1_TO_V2.get(v1)
        if v2 is None:
            raise AuthenticationFailed(f"IKEv1 ID type {v1.name} is not a peer identity")
        return cls.from_payload(v2, data)

    # ---- forms

    def to_v1(self) -> tuple[V1IdType, bytes]:
        """The IKEv1 ID type and data (RFC 2407 §4.6.2.1); ValueError for types IKEv1 lacks."""
        v1 = _V2_TO_V1.get(self.id_type)
        if v1 is None:
            raise ValueError(f"{self.id_type.name} has no IKEv1 equivalent")
        return v1, self.data

    def payload_body(self) -> bytes:
        """ID Type | RESERVED | Identification Data: RestOfInitIDPayload of RFC 7296 §2.15."""
        return bytes((self.id_type, 0, 0, 0)) + self.data

    def key(self) -> str:
        """A stable normalised string: equal for identities that compare equal."""
        return self._key

    def __str__(self) -> str:
        t = self.id_type
        if t is IdType.ID_IPV4_ADDR or t is IdType.ID_IPV6_ADDR:
            return self._key.split(":", 1)[1]
        if t in _TEXT_TYPES:
            return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in self.data)
        if t is IdType.ID_DER_ASN1_DN:
            return format_dn(self.data)
        if t is IdType.ID_KEY_ID:
            # strongSwan: printable key IDs (other than a 20-byte hash) as text, else hex.
            if len(self.data) != 20 and all(0x20 <= b < 0x7F for b in self.data):
                return self.data.decode("ascii")
            return ":".join(f"{b:02x}" for b in self.data)
        if t is IdType.ID_NULL:
            return "%null"
        return "#" + self.data.hex()

    def __repr__(self) -> str:
        return f"Identity({self.id_type.name}, {str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)


# ------------------------------------------------------------------ IdentityPattern


@dataclass(frozen=True, eq=False)
class IdentityPattern:
    """A ``remote_id`` value: which peer identities a connection accepts.

    Forms: ``%any`` (also ``*``, empty, ``%any6``, ``0.0.0.0``, ``::``, as in strongSwan),
    an exact identity in ``Identity.parse`` syntax, an FQDN or RFC 822 name whose first
    character is ``*`` (suffix match: ``*.example.org``, ``*@example.org``), a DN whose RDN
    values may be ``*`` (``C=XX, O=ikelab, CN=*``: same attributes in the same order, any
    value where ``*``), or an address prefix (``10.1.0.0/16``) matching ID_IPV4/6_ADDR.
    A pattern matches identities of its own type only, as in strongSwan.
    """

    text: str
    kind: str = field(repr=False)  # "any" | "exact" | "suffix" | "dn" | "subnet"
    identity: Identity | None = field(default=None, repr=False)
    _suffix: bytes = field(default=b"", repr=False)
    _dn: tuple[tuple[str, str | None], ...] = field(default=(), repr=False)
    _network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str) -> IdentityPattern:
        """Parse a ``remote_id`` value; ValueError with the reason if it is not one."""
        stripped = text.strip()
        if stripped in _ANY_TEXTS:
            return cls(stripped, "any")
        if "=" not in stripped and "@" not in stripped and "/" in stripped:
            try:
                network = ipaddress.ip_network(stripped, strict=True)
            except ValueError as e:
                raise ValueError(f"invalid address prefix {stripped!r}: {e}") from None
            return cls(stripped, "subnet", _network=network)
        lowered = stripped.lower()
        dn_text = None
        if lowered.startswith("asn1dn:") and not stripped[7:].startswith("#"):
            dn_text = stripped[7:]
        elif "=" in stripped and not any(lowered.startswith(p) for p, _ in _PREFIXES):
            dn_text = stripped
        if dn_text is not None:
            der = _encode_dn_text(dn_text, allow_wildcards=True)
            identity = Identity(IdType.ID_DER_ASN1_DN, der)
            flat = tuple(
                (oid, None if v == b"*" else _normalise_value(tag, v))
                for rdn in _parse_dn_der(der)
                for oid, tag, v in rdn
            )
            if any(value is None for _, value in flat):
                return cls(stripped, "dn", identity, _dn=flat)
            return cls(stripped, "exact", identity)
        identity = Identity.parse(stripped)
        star = identity.data.find(b"*")
        if identity.id_type in _TEXT_TYPES and star >= 0:
            if star != 0 or b"*" in identity.data[1:]:
                raise ValueError(f"in {stripped!r}: '*' is only allowed as the first character")
            return cls(stripped, "suffix", identity, _suffix=identity.data[1:])
        return cls(stripped, "exact", identity)

    @property
    def is_any(self) -> bool:
        return self.kind == "any"

    def matches(self, identity: Identity) -> bool:
        """Whether a peer's (literal) identity is accepted by this pattern."""
        kind = self.kind
        if kind == "any":
            return True
        if kind == "exact":
            return identity == self.identity
        if kind == "subnet":
            if identity.id_type not in (IdType.ID_IPV4_ADDR, IdType.ID_IPV6_ADDR):
                return False
            return ipaddress.ip_address(identity.data) in self._network  # type: ignore[operator]
        if self.identity is None or identity.id_type is not self.identity.id_type:
            return False
        if kind == "suffix":
            return self._suffix_matches(identity.data)
        return self._dn_matches(identity.data)

    def _suffix_matches(self, data: bytes) -> bool:
        suffix = self._suffix
        if len(data) <= len(suffix):
            return False  # the '*' stands for at least one character
        if self.identity is not None and self.identity.id_type is IdType.ID_FQDN:
            return data.lower().endswith(suffix.lower())
        local, domain = _split_mailbox(data)
        s_local, s_domain = _split_mailbox(suffix)
        if s_domain is None:  # the suffix lies within the domain part
            return domain is not None and domain.lower().endswith(suffix.lower())
        return domain is not None and domain.lower() == s_domain.lower() and local.endswith(s_local)

    def _dn_matches(self, der: bytes) -> bool:
        try:
            flat = [
                (oid, _normalise_value(tag, v)) for rdn in _parse_dn_der(der) for oid, tag, v in rdn
            ]
        except ValueError:
            return False
        if len(flat) != len(self._dn):
            return False
        return all(
            oid == p_oid and (p_value is None or value == p_value)
            for (oid, value), (p_oid, p_value) in zip(flat, self._dn, strict=True)
        )

    def __str__(self) -> str:
        return self.text
