"""Wire codec: IKEv2 and ISAKMP/IKEv1 messages to payload objects and back.

One source, two builds. Cython compiles this file through ``codec.pxd`` (which types
every class attribute, helper and local) into the extension ``ikesrv._fast.codec``; the
same file loaded uncompiled (``ikesrv.wire._reference``) is the pure-Python reference
that the tests hold the compiled module to. So this file stays in the subset both
understand: no ``import cython``, no casts, byte reads as ``buf[i]`` (an int in Python,
a C ``unsigned char`` over the typed memoryview once compiled), and every length is
checked before any read (the compiled build runs without bounds checks).

Owns: the payload classes of both versions (IKEv1 ones prefixed ``V1``, as in
ikesrv.constants), header parsing, the bounds-checked walk of the generic payload chain,
and the encoder that builds a whole chain in one buffer and computes every length.
ikesrv.wire.ikev2 / ikev1 re-export all of it under the names the rest of ikesrv uses.
Imports only ikesrv.errors and ikesrv.constants; never the core, crypto or I/O.

RFCs: RFC 7296 §3 (IKEv2 header and payloads), RFC 7383 §2.5 (SKF), RFC 3748 §4 (EAP
framing), RFC 2408 §3 (ISAKMP), RFC 2407 §4.6 (IPsec DOI), RFC 2409, RFC 3947 §3-§5
(NAT-D, NAT-OA), draft-dukes-ike-mode-cfg (attribute payload).

Decoding errors are MalformedMessage(reason, offset) with the absolute offset of the
offending field, UnsupportedCriticalPayload(type, offset) for an unknown IKEv2 payload
with the critical bit, InvalidMajorVersion(reason, offset=17). Nothing else escapes for
any input bytes. Encoding a payload object that cannot be represented raises ValueError
or TypeError: that is a bug of the caller, not of the peer.

Message boundaries: an IKEv2 header's Length must equal the datagram's length (no
trailing bytes) and the payload chain must end exactly at the end, where the last Next
Payload is 0 or the SK/SKF payload ends (RFC 7296 §3.1, §3.14). An ISAKMP header's
Length may be shorter than the datagram (the rest is ignored, as libreswan does for old
Cisco clients) but not longer; a plaintext chain ends at Next Payload 0, followed by at
most three zero bytes of padding; a decrypted body may carry any padding after it.

Normalisations (decode then encode reproduces the bytes except for these):
  - reserved fields and bits are ignored on receipt and sent as zero (RFC 7296 §3.2,
    RFC 2408 §3.2), including the critical bit of payload types we know and the R bit
    of IKEv2 configuration attributes;
  - an IKEv2 transform's KEY_LENGTH attribute is written before its other attributes;
  - IKEv1: bytes after the header's Length (old Cisco clients add 16 zero bytes), up to
    three zero bytes of padding after the last payload of a plaintext message and inside
    an attribute payload (libreswan pads both to 4 bytes), and the padding after the last
    payload of a decrypted body are accepted and not kept;
  - IKEv1 fragment flags other than LAST are dropped; an unknown traffic selector type
    keeps its data but not its second byte.
"""

from ikesrv.constants import PayloadType as _PT
from ikesrv.constants import V1PayloadType as _V1PT
from ikesrv.errors import InvalidMajorVersion, MalformedMessage, UnsupportedCriticalPayload

# --------------------------------------------------------------------------------------
# Limits. A datagram of at most 64 KiB could otherwise describe thousands of tiny
# substructures, each costing an object; real peers stay far below these (strongSwan's
# default IKE proposal, the largest we know, has about 40 transforms).
# --------------------------------------------------------------------------------------
#: payloads in one chain (the message, or the plaintext of one SK payload)
MAX_PAYLOADS = 64
#: proposals in one SA payload
MAX_PROPOSALS = 64
#: transforms in one SA payload, all proposals together
MAX_TRANSFORMS = 256
#: attributes of one transform
MAX_TRANSFORM_ATTRIBUTES = 32
#: traffic selectors in one TS payload
MAX_TRAFFIC_SELECTORS = 128
#: attributes of one configuration (CP, IKEv1 attribute) payload
MAX_CFG_ATTRIBUTES = 256
#: SPIs of one Delete payload
MAX_DELETE_SPIS = 1024

# C copies of the limits (typed in codec.pxd); the Python names above are the truth.
_MAX_PAYLOADS = MAX_PAYLOADS
_MAX_PROPOSALS = MAX_PROPOSALS
_MAX_TRANSFORMS = MAX_TRANSFORMS
_MAX_TRANSFORM_ATTRIBUTES = MAX_TRANSFORM_ATTRIBUTES
_MAX_TRAFFIC_SELECTORS = MAX_TRAFFIC_SELECTORS
_MAX_CFG_ATTRIBUTES = MAX_CFG_ATTRIBUTES
_MAX_DELETE_SPIS = MAX_DELETE_SPIS

HEADER_LEN = 28

# Payload type numbers as C integers in the compiled build (codec.pxd types them).
_V2_SA = int(_PT.SA)
_V2_KE = int(_PT.KE)
_V2_IDI = int(_PT.IDi)
_V2_IDR = int(_PT.IDr)
_V2_CERT = int(_PT.CERT)
_V2_CERTREQ = int(_PT.CERTREQ)
_V2_AUTH = int(_PT.AUTH)
_V2_NONCE = int(_PT.NONCE)
_V2_NOTIFY = int(_PT.NOTIFY)
_V2_DELETE = int(_PT.DELETE)
_V2_VENDOR_ID = int(_PT.VENDOR_ID)
_V2_TSI = int(_PT.TSi)
_V2_TSR = int(_PT.TSr)
_V2_SK = int(_PT.SK)
_V2_CP = int(_PT.CP)
_V2_EAP = int(_PT.EAP)
_V2_SKF = int(_PT.SKF)

_V1_SA = int(_V1PT.SA)
_V1_PROPOSAL = int(_V1PT.PROPOSAL)
_V1_TRANSFORM = int(_V1PT.TRANSFORM)
_V1_KE = int(_V1PT.KE)
_V1_ID = int(_V1PT.ID)
_V1_CERT = int(_V1PT.CERT)
_V1_CR = int(_V1PT.CR)
_V1_HASH = int(_V1PT.HASH)
_V1_SIG = int(_V1PT.SIG)
_V1_NONCE = int(_V1PT.NONCE)
_V1_N = int(_V1PT.N)
_V1_D = int(_V1PT.D)
_V1_VID = int(_V1PT.VID)
_V1_ATTR = int(_V1PT.ATTR)
_V1_NAT_D = int(_V1PT.NAT_D)
_V1_NAT_OA = int(_V1PT.NAT_OA)
_V1_NAT_D_DRAFT = int(_V1PT.NAT_D_DRAFT)
_V1_NAT_OA_DRAFT = int(_V1PT.NAT_OA_DRAFT)
_V1_FRAGMENT = int(_V1PT.FRAGMENT)

# How the IKEv1 walk treats bytes after the payload whose Next Payload is 0.
_TAIL_STRICT = 0  # none allowed
_TAIL_PAD4 = 1  # up to three zero bytes (message padding to 4 octets)
_TAIL_ANY = 2  # anything: the padding of a decrypted body (RFC 2409 §5.3)

_V2_NAMES = {int(m): m.name for m in _PT}
_V1_NAMES = {int(m): m.name for m in _V1PT}

# XAuth attributes whose value is a secret: their repr shows only the length.
_SECRET_ATTRIBUTES = frozenset((16522, 16523, 16528, 16529))


def _v2_name(ptype):
    return _V2_NAMES.get(ptype, f"payload type {ptype}")


def _v1_name(ptype):
    return _V1_NAMES.get(ptype, f"payload type {ptype}")


# --------------------------------------------------------------------------------------
# Payload objects
# --------------------------------------------------------------------------------------


class _Record:
    """Equality over ``_fields`` and a readable repr; ``_secret`` fields repr by length."""

    __slots__ = ()
    _fields = ()
    _secret = ()

    def _key(self):
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._key() != other._key()

    def __repr__(self):
        parts = []
        for name in self._fields:
            value = getattr(self, name)
            if name in self._secret and value is not None:
                parts.append(f"{name}=<{len(value)} bytes>")
            else:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


# ---- IKEv2 (RFC 7296 §3) --------------------------------------------------------------


class Transform(_Record):
    """Transform substructure (RFC 7296 §3.3.2).

    ``key_length`` is the KEY_LENGTH attribute (§3.3.5) or None; ``attributes`` keeps any
    other attribute as ``(type, value)``: an int for the TV form, bytes for TLV, so that
    the proposal logic can reject transforms it does not understand (§3.3.6).
    """

    __slots__ = ("type", "id", "key_length", "attributes")
    _fields = ("type", "id", "key_length", "attributes")

    def __init__(self, type, id, key_length=None, attributes=None):
        self.type = type
        self.id = id
        self.key_length = key_length
        self.attributes = [] if attributes is None else list(attributes)


class Proposal(_Record):
    """Proposal substructure (RFC 7296 §3.3.1); ``spi`` is empty in IKE_SA_INIT.

    ``wire``: a decoded proposal's transform octets as received (None for one built
    here). Not a field (equality ignores it): two proposals with the same ``wire`` and
    protocol offer the same, so it can key a cache of decisions about the offer.
    """

    __slots__ = ("number", "protocol", "spi", "transforms", "wire")
    _fields = ("number", "protocol", "spi", "transforms")

    def __init__(self, number, protocol, spi=b"", transforms=None, wire=None):
        self.number = number
        self.protocol = protocol
        self.spi = spi
        self.transforms = [] if transforms is None else list(transforms)
        self.wire = wire


class SaPayload(_Record):
    """Security Association payload (RFC 7296 §3.3)."""

    __slots__ = ("proposals",)
    _fields = ("proposals",)
    payload_type = 33

    def __init__(self, proposals=None):
        self.proposals = [] if proposals is None else list(proposals)


class KePayload(_Record):
    """Key Exchange payload (RFC 7296 §3.4): the DH group and the public value."""

    __slots__ = ("group", "data")
    _fields = ("group", "data")
    payload_type = 34

    def __init__(self, group, data):
        self.group = group
        self.data = data


class IdPayload(_Record):
    """Identification payload IDi (35) or IDr (36) (RFC 7296 §3.5).

    ``body`` is the payload body as received (ID Type, RESERVED, data), which is what
    the AUTH computation signs (RestOfInitIDPayload, §2.15); for an object built here it
    is the body this object encodes to.
    """

    __slots__ = ("payload_type", "id_type", "data", "_body")
    _fields = ("payload_type", "id_type", "data")

    def __init__(self, payload_type, id_type, data):
        self.payload_type = payload_type
        self.id_type = id_type
        self.data = data
        self._body = None

    @property
    def body(self):
        if self._body is not None:
            return self._body
        return v2_encode_payload_body(self)


class CertPayload(_Record):
    """Certificate payload (RFC 7296 §3.6)."""

    __slots__ = ("encoding", "data")
    _fields = ("encoding", "data")
    payload_type = 37

    def __init__(self, encoding, data):
        self.encoding = encoding
        self.data = data


class CertReqPayload(_Record):
    """Certificate Request payload (RFC 7296 §3.7): SHA-1 hashes of trusted CA keys."""

    __slots__ = ("encoding", "data")
    _fields = ("encoding", "data")
    payload_type = 38

    def __init__(self, encoding, data):
        self.encoding = encoding
        self.data = data


class AuthPayload(_Record):
    """Authentication payload (RFC 7296 §3.8); its data reprs by length only."""

    __slots__ = ("method", "data")
    _fields = ("method", "data")
    _secret = ("data",)
    payload_type = 39

    def __init__(self, method, data):
        self.method = method
        self.data = data


class NoncePayload(_Record):
    """Nonce payload Ni/Nr (RFC 7296 §3.9)."""

    __slots__ = ("data",)
    _fields = ("data",)
    payload_type = 40

    def __init__(self, data):
        self.data = data


class NotifyPayload(_Record):
    """Notify payload (RFC 7296 §3.10); ``spi`` is empty unless a CHILD SA is named."""

    __slots__ = ("type", "data", "protocol", "spi")
    _fields = ("type", "data", "protocol", "spi")
    payload_type = 41

    def __init__(self, type, data=b"", protocol=0, spi=b""):
        self.type = type
        self.data = data
        self.protocol = protocol
        self.spi = spi


class DeletePayload(_Record):
    """Delete payload (RFC 7296 §3.11).

    The SPI Size is that of the SPIs; with no SPIs it is ``spi_size`` when given (a
    decoded payload keeps the wire value), else 0 for IKE and 4 for ESP/AH.
    """

    __slots__ = ("protocol", "spis", "spi_size")
    _fields = ("protocol", "spis")
    payload_type = 42

    def __init__(self, protocol, spis=None, spi_size=None):
        self.protocol = protocol
        self.spis = [] if spis is None else list(spis)
        self.spi_size = spi_size

    def effective_spi_size(self):
        if self.spis:
            return len(self.spis[0])
        if self.spi_size is not None:
            return self.spi_size
        return 4 if self.protocol == 2 or self.protocol == 3 else 0

    def _key(self):
        return (self.protocol, self.spis, self.effective_spi_size())


class VendorIdPayload(_Record):
    """Vendor ID payload (RFC 7296 §3.12)."""

    __slots__ = ("data",)
    _fields = ("data",)
    payload_type = 43

    def __init__(self, data):
        self.data = data


class TrafficSelector(_Record):
    """An address-range traffic selector (RFC 7296 §3.13.1), type 7 (IPv4) or 8 (IPv6).

    Addresses are bytes of 4 or 16 octets; ports 0-65535 (start 65535, end 0 is OPAQUE).
    """

    __slots__ = ("ts_type", "ip_protocol", "start_port", "end_port", "start_addr", "end_addr")
    _fields = ("ts_type", "ip_protocol", "start_port", "end_port", "start_addr", "end_addr")

    def __init__(self, ts_type, ip_protocol, start_port, end_port, start_addr, end_addr):
        self.ts_type = ts_type
        self.ip_protocol = ip_protocol
        self.start_port = start_port
        self.end_port = end_port
        self.start_addr = start_addr
        self.end_addr = end_addr


class RawTrafficSelector(_Record):
    """A traffic selector of a type we do not parse (e.g. TS_FC_ADDR_RANGE, TS_SECLABEL):
    ``data`` is everything after its Selector Length field."""

    __slots__ = ("ts_type", "data")
    _fields = ("ts_type", "data")

    def __init__(self, ts_type, data):
        self.ts_type = ts_type
        self.data = data


class TsPayload(_Record):
    """Traffic Selector payload TSi (44) or TSr (45) (RFC 7296 §3.13)."""

    __slots__ = ("payload_type", "selectors")
    _fields = ("payload_type", "selectors")

    def __init__(self, payload_type, selectors=None):
        self.payload_type = payload_type
        self.selectors = [] if selectors is None else list(selectors)


class SkPayload(_Record):
    """Encrypted and Authenticated payload (RFC 7296 §3.14), always the last payload.

    ``next_payload`` is the type of the first inner payload; ``data`` is IV | ciphertext
    | ICV exactly as on the wire.
    """

    __slots__ = ("next_payload", "data")
    _fields = ("next_payload", "data")
    payload_type = 46

    def __init__(self, next_payload, data):
        self.next_payload = next_payload
        self.data = data


class SkfPayload(_Record):
    """Encrypted and Authenticated Fragment payload (RFC 7383 §2.5)."""

    __slots__ = ("next_payload", "fragment_number", "total_fragments", "data")
    _fields = ("next_payload", "fragment_number", "total_fragments", "data")
    payload_type = 53

    def __init__(self, next_payload, fragment_number, total_fragments, data):
        self.next_payload = next_payload
        self.fragment_number = fragment_number
        self.total_fragments = total_fragments
        self.data = data


class CpPayload(_Record):
    """Configuration payload (RFC 7296 §3.15): attributes as ``(type, value bytes)``."""

    __slots__ = ("cfg_type", "attributes")
    _fields = ("cfg_type", "attributes")
    payload_type = 47

    def __init__(self, cfg_type, attributes=None):
        self.cfg_type = cfg_type
        self.attributes = [] if attributes is None else list(attributes)


class EapPayload(_Record):
    """EAP payload (RFC 7296 §3.16) holding one EAP packet (RFC 3748 §4).

    ``eap_type`` is the Type of a Request/Response (None for Success/Failure); ``data``
    is the Type-Data after it. Data reprs by length only (it carries credentials).
    """

    __slots__ = ("code", "identifier", "eap_type", "data")
    _fields = ("code", "identifier", "eap_type", "data")
    _secret = ("data",)
    payload_type = 48

    def __init__(self, code, identifier, eap_type=None, data=b""):
        self.code = code
        self.identifier = identifier
        self.eap_type = eap_type
        self.data = data


class UnknownPayload(_Record):
    """A payload type we do not know, kept when its critical bit is clear (RFC 7296 §2.5)."""

    __slots__ = ("payload_type", "critical", "data")
    _fields = ("payload_type", "critical", "data")

    def __init__(self, payload_type, critical=False, data=b""):
        self.payload_type = payload_type
        self.critical = critical
        self.data = data


class Message(_Record):
    """An IKEv2 message (RFC 7296 §3.1).

    ``version`` is the header's version byte (0x20 unless decoded otherwise); ``length``
    and ``sk_offset`` (offset of the SK/SKF generic payload header, for the AAD and ICV
    ranges of §3.14 and RFC 7383 §2.5) are set on decode and None on objects built here.
    """

    __slots__ = (
        "spi_i", "spi_r", "exchange", "flags", "message_id", "payloads",
        "version", "length", "sk_offset",
    )
    _fields = ("spi_i", "spi_r", "exchange", "flags", "message_id", "payloads", "version")

    def __init__(self, spi_i, spi_r, exchange, flags, message_id, payloads=None, version=0x20):
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.exchange = exchange
        self.flags = flags
        self.message_id = message_id
        self.payloads = [] if payloads is None else list(payloads)
        self.version = version
        self.length = None
        self.sk_offset = None

    @property
    def is_initiator(self):
        return bool(self.flags & 0x08)

    @property
    def is_response(self):
        return bool(self.flags & 0x20)


# ---- IKEv1 / ISAKMP (RFC 2408 §3, RFC 2407 §4.6) ---------------------------------------


class V1Attribute(_Record):
    """A data attribute (RFC 2408 §3.3): ``value`` is an int for the TV (basic) form, bytes
    for the TLV (variable) form, so that the form round-trips."""

    __slots__ = ("type", "value")
    _fields = ("type", "value")

    def __init__(self, type, value):
        self.type = type
        self.value = value

    def as_int(self):
        """The value as an integer whatever its form (e.g. a TLV SA Life Duration)."""
        if isinstance(self.value, int):
            return self.value
        return int.from_bytes(self.value, "big")

    def __repr__(self):
        if self.type in _SECRET_ATTRIBUTES and not isinstance(self.value, int):
            return f"V1Attribute(type={self.type!r}, value=<{len(self.value)} bytes>)"
        return f"V1Attribute(type={self.type!r}, value={self.value!r})"


class V1Transform(_Record):
    """Transform payload (RFC 2408 §3.6) inside a proposal."""

    __slots__ = ("number", "transform_id", "attributes")
    _fields = ("number", "transform_id", "attributes")

    def __init__(self, number, transform_id, attributes=None):
        self.number = number
        self.transform_id = transform_id
        self.attributes = [] if attributes is None else list(attributes)


class V1Proposal(_Record):
    """Proposal payload (RFC 2408 §3.5) inside an SA; proposals sharing a number form a
    bundle (AND), different numbers are alternatives (OR)."""

    __slots__ = ("number", "protocol", "spi", "transforms", "wire")
    _fields = ("number", "protocol", "spi", "transforms")

    def __init__(self, number, protocol, spi=b"", transforms=None, wire=None):
        self.number = number
        self.protocol = protocol
        self.spi = spi
        self.transforms = [] if transforms is None else list(transforms)
        self.wire = wire  # as Proposal.wire: the transform payloads' octets as received


class V1SaPayload(_Record):
    """Security Association payload (RFC 2408 §3.4, IPsec DOI situation RFC 2407 §4.6.1).

    ``body`` is the SA body as received (DOI onwards): HASH_I and HASH_R cover it
    (RFC 2409 §5); for an object built here it is the body this object encodes to.
    """

    __slots__ = ("doi", "situation", "proposals", "_body")
    _fields = ("doi", "situation", "proposals")
    payload_type = 1

    def __init__(self, doi=1, situation=1, proposals=None):
        self.doi = doi
        self.situation = situation
        self.proposals = [] if proposals is None else list(proposals)
        self._body = None

    @property
    def body(self):
        if self._body is not None:
            return self._body
        return v1_encode_payload_body(self)


class V1KePayload(_Record):
    """Key Exchange payload (RFC 2408 §3.7)."""

    __slots__ = ("data",)
    _fields = ("data",)
    payload_type = 4

    def __init__(self, data):
        self.data = data


class V1IdPayload(_Record):
    """Identification payload, IPsec DOI form (RFC 2407 §4.6.2): ``body`` as received is
    what HASH_I/HASH_R cover (IDii_b, RFC 2409 §5)."""

    __slots__ = ("id_type", "protocol_id", "port", "data", "_body")
    _fields = ("id_type", "protocol_id", "port", "data")
    payload_type = 5

    def __init__(self, id_type, protocol_id=0, port=0, data=b""):
        self.id_type = id_type
        self.protocol_id = protocol_id
        self.port = port
        self.data = data
        self._body = None

    @property
    def body(self):
        if self._body is not None:
            return self._body
        return v1_encode_payload_body(self)


class V1CertPayload(_Record):
    """Certificate payload (RFC 2408 §3.9)."""

    __slots__ = ("encoding", "data")
    _fields = ("encoding", "data")
    payload_type = 6

    def __init__(self, encoding, data):
        self.encoding = encoding
        self.data = data


class V1CrPayload(_Record):
    """Certificate Request payload (RFC 2408 §3.10): a CA's DN, or empty."""

    __slots__ = ("encoding", "data")
    _fields = ("encoding", "data")
    payload_type = 7

    def __init__(self, encoding, data=b""):
        self.encoding = encoding
        self.data = data


class V1HashPayload(_Record):
    """Hash payload (RFC 2408 §3.11); reprs by length only."""

    __slots__ = ("data",)
    _fields = ("data",)
    _secret = ("data",)
    payload_type = 8

    def __init__(self, data):
        self.data = data


class V1SigPayload(_Record):
    """Signature payload (RFC 2408 §3.12); reprs by length only."""

    __slots__ = ("data",)
    _fields = ("data",)
    _secret = ("data",)
    payload_type = 9

    def __init__(self, data):
        self.data = data


class V1NoncePayload(_Record):
    """Nonce payload (RFC 2408 §3.13)."""

    __slots__ = ("data",)
    _fields = ("data",)
    payload_type = 10

    def __init__(self, data):
        self.data = data


class V1NotifyPayload(_Record):
    """Notification payload (RFC 2408 §3.14)."""

    __slots__ = ("doi", "protocol", "spi", "type", "data")
    _fields = ("doi", "protocol", "spi", "type", "data")
    payload_type = 11

    def __init__(self, doi, protocol, spi, type, data=b""):
        self.doi = doi
        self.protocol = protocol
        self.spi = spi
        self.type = type
        self.data = data


class V1DeletePayload(_Record):
    """Delete payload (RFC 2408 §3.15): ``spi_size`` is explicit (16 for an ISAKMP SA,
    the cookie pair; 4 for ESP/AH) and every SPI must have it."""

    __slots__ = ("doi", "protocol", "spis", "spi_size")
    _fields = ("doi", "protocol", "spis", "spi_size")
    payload_type = 12

    def __init__(self, doi, protocol, spis, spi_size):
        self.doi = doi
        self.protocol = protocol
        self.spis = list(spis)
        self.spi_size = spi_size


class V1VendorIdPayload(_Record):
    """Vendor ID payload (RFC 2408 §3.16)."""

    __slots__ = ("data",)
    _fields = ("data",)
    payload_type = 13

    def __init__(self, data):
        self.data = data


class V1AttributePayload(_Record):
    """Attribute payload for Mode Config and XAuth (draft-dukes-ike-mode-cfg-02 §3.2);
    XAuth secrets repr by length only (see V1Attribute)."""

    __slots__ = ("cfg_type", "identifier", "attributes")
    _fields = ("cfg_type", "identifier", "attributes")
    payload_type = 14

    def __init__(self, cfg_type, identifier=0, attributes=None):
        self.cfg_type = cfg_type
        self.identifier = identifier
        self.attributes = [] if attributes is None else list(attributes)


class V1NatDPayload(_Record):
    """NAT-D payload (RFC 3947 §3.2): type 20, or 130 for the pre-RFC drafts."""

    __slots__ = ("data", "payload_type")
    _fields = ("data", "payload_type")

    def __init__(self, data, payload_type=20):
        self.data = data
        self.payload_type = payload_type


class V1NatOaPayload(_Record):
    """NAT-OA payload (RFC 3947 §5.2): an ID_IPV4_ADDR (1) or ID_IPV6_ADDR (5) address;
    type 21, or 131 for the pre-RFC drafts."""

    __slots__ = ("id_type", "data", "payload_type")
    _fields = ("id_type", "data", "payload_type")

    def __init__(self, id_type, data, payload_type=21):
        self.id_type = id_type
        self.data = data
        self.payload_type = payload_type


class V1FragmentPayload(_Record):
    """IKEv1 fragment payload (type 132, the Cisco format that strongSwan and Windows
    use): Fragment ID (2), Fragment Number (1), Flags (1, bit 0 = last), data."""

    __slots__ = ("fragment_id", "fragment_number", "last", "data")
    _fields = ("fragment_id", "fragment_number", "last", "data")
    payload_type = 132

    def __init__(self, fragment_id, fragment_number, last, data):
        self.fragment_id = fragment_id
        self.fragment_number = fragment_number
        self.last = last
        self.data = data


class V1UnknownPayload(_Record):
    """A payload type we do not know (ISAKMP has no critical bit): the core decides."""

    __slots__ = ("payload_type", "data")
    _fields = ("payload_type", "data")

    def __init__(self, payload_type, data=b""):
        self.payload_type = payload_type
        self.data = data


class V1Message(_Record):
    """An ISAKMP message (RFC 2408 §3.1).

    With the Encryption flag set, ``payloads`` is None and ``encrypted_body`` holds the
    bytes after the header; ``next_payload`` then names the first encrypted payload.
    Without it, ``payloads`` is the list and ``next_payload`` follows from it.
    ``length`` is set on decode (the header's Length), None on objects built here.
    """

    __slots__ = (
        "spi_i", "spi_r", "exchange", "flags", "message_id", "payloads",
        "encrypted_body", "next_payload", "version", "length",
    )
    _fields = (
        "spi_i", "spi_r", "exchange", "flags", "message_id", "payloads",
        "encrypted_body", "next_payload", "version",
    )

    def __init__(
        self, spi_i, spi_r, exchange, flags, message_id, payloads=None,
        encrypted_body=None, next_payload=None, version=0x10,
    ):
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.exchange = exchange
        self.flags = flags
        self.message_id = message_id
        self.payloads = None if payloads is None else list(payloads)
        self.encrypted_body = encrypted_body
        self.version = version
        self.length = None
        if next_payload is None and self.payloads is not None:
            next_payload = getattr(self.payloads[0], "payload_type", None) if self.payloads else 0
        self.next_payload = next_payload

    @property
    def is_encrypted(self):
        return bool(self.flags & 0x01)

    def _key(self):
        # for a plaintext message the first payload's type is implied by the payloads
        nxt = self.next_payload if self.encrypted_body is not None else None
        return (
            self.spi_i, self.spi_r, self.exchange, self.flags, self.message_id,
            self.payloads, self.encrypted_body, nxt, self.version,
        )


# --------------------------------------------------------------------------------------
# Reading primitives
# --------------------------------------------------------------------------------------


def _as_bytes(data):
    if type(data) is bytes:
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected bytes, not {type(data).__name__}")


def _u16(buf, off):
    return (buf[off] << 8) | buf[off + 1]


def _u32(buf, off):
    a = buf[off]
    b = buf[off + 1]
    c = buf[off + 2]
    d = buf[off + 3]
    return (a << 24) | (b << 16) | (c << 8) | d


def peek_header(data):
    """The ISAKMP/IKE header fields of either version, with no other check.

    Returns (spi_i, spi_r, next_payload, version, exchange, flags, message_id, length);
    raises MalformedMessage when ``data`` is shorter than the 28-byte header.
    """
    raw = _as_bytes(data)
    n = len(raw)
    if n < 28:
        raise MalformedMessage(f"{n} bytes is shorter than the 28-byte IKE header", 0)
    buf = raw
    return (
        raw[0:8], raw[8:16], buf[16], buf[17], buf[18], buf[19], _u32(buf, 20), _u32(buf, 24)
    )


# --------------------------------------------------------------------------------------
# IKEv2 decoding (RFC 7296 §3)
# --------------------------------------------------------------------------------------


def v2_decode_message(data):
    """Decode an IKEv2 message whose length is exactly the datagram's (RFC 7296 §3.1)."""
    raw = _as_bytes(data)
    n = len(raw)
    if n < 28:
        raise MalformedMessage(f"{n} bytes is shorter than the 28-byte IKE header", 0)
    buf = raw
    version = buf[17]
    if (version >> 4) != 2:
        raise InvalidMajorVersion(f"IKE major version {version >> 4} is not 2", offset=17)
    length = _u32(buf, 24)
    if length != n:
        # no tolerance for trailing bytes: nothing legitimate puts any after an IKEv2 message
        raise MalformedMessage(f"header Length {length} != datagram length {n}", 24)
    msg = Message.__new__(Message)
    msg.spi_i = raw[0:8]
    msg.spi_r = raw[8:16]
    msg.version = version
    msg.exchange = buf[18]
    msg.flags = buf[19]
    msg.message_id = _u32(buf, 20)
    msg.length = length
    msg.sk_offset = None
    msg.payloads = _v2_walk(raw, buf, buf[16], 28, n, 0, msg)
    return msg


def v2_decode_payloads(data, first_type, base_offset=0):
    """Decode a chain of IKEv2 payloads, e.g. the plaintext of an SK payload.

    The chain must fill ``data`` exactly; ``base_offset`` is added to the offsets of
    errors (the plaintext's position in the message, for the log).
    """
    raw = _as_bytes(data)
    if not 0 <= first_type <= 255:
        raise ValueError(f"first payload type {first_type} out of range")
    base = base_offset
    buf = raw
    return _v2_walk(raw, buf, first_type, 0, len(raw), base, None)


def _v2_walk(data, buf, ptype, off, end, base, msg):
    """Walk the generic payload chain (RFC 7296 §3.2) from ``off`` to ``end``.

    ``msg`` is the message being decoded, or None for the plaintext of an SK payload.
    """
    payloads = []
    count = 0
    while ptype != 0:
        if count >= _MAX_PAYLOADS:
            raise MalformedMessage(f"more than {MAX_PAYLOADS} payloads", base + off)
        if end - off < 4:
            raise MalformedMessage(
                f"{_v2_name(ptype)} payload announced but only {end - off} bytes left", base + off
            )
        nxt = buf[off]
        plen = _u16(buf, off + 2)
        if plen < 4:
            raise MalformedMessage(
                f"{_v2_name(ptype)} payload: Payload Length {plen} < 4", base + off + 2
            )
        if plen > end - off:
            raise MalformedMessage(
                f"{_v2_name(ptype)} payload: Payload Length {plen} exceeds the {end - off} "
                "bytes left",
                base + off + 2,
            )
        if ptype == _V2_SK or ptype == _V2_SKF:
            # RFC 7296 §3.14, RFC 7383 §2.5: SK/SKF is the last payload; its Next Payload
            # names the first payload inside it
            if msg is None:
                raise MalformedMessage(
                    f"{_v2_name(ptype)} payload inside an encrypted payload", base + off
                )
            if plen != end - off:
                raise MalformedMessage(
                    f"{_v2_name(ptype)} payload is not the last one: "
                    f"{end - off - plen} bytes follow it",
                    base + off + plen,
                )
            payloads.append(_v2_sk(data, buf, ptype, nxt, off + 4, end, base))
            msg.sk_offset = off
            return payloads
        payloads.append(
            _v2_payload(data, buf, ptype, buf[off + 1] & 0x80, off + 4, off + plen, base)
        )
        count += 1
        off += plen
        ptype = nxt
    if off != end:
        raise MalformedMessage(f"{end - off} bytes after the last payload", base + off)
    return payloads


def _v2_sk(data, buf, ptype, nxt, start, end, base):
    if ptype == _V2_SK:
        sk = SkPayload.__new__(SkPayload)
        sk.next_payload = nxt
        sk.data = data[start:end]
        return sk
    if end - start < 4:
        raise MalformedMessage(f"SKF payload body of {end - start} bytes < 4", base + start)
    number = _u16(buf, start)
    total = _u16(buf, start + 2)
    # RFC 7383 §2.5: fragments are numbered from 1 up to Total Fragments
    if number == 0 or number > total:
        raise MalformedMessage(
            f"SKF: Fragment Number {number} not within 1..Total Fragments {total}", base + start
        )
    skf = SkfPayload.__new__(SkfPayload)
    skf.next_payload = nxt
    skf.fragment_number = number
    skf.total_fragments = total
    skf.data = data[start + 4:end]
    return skf


def _v2_payload(data, buf, ptype, critical, start, end, base):
    """Decode one payload body, data[start:end], of type ``ptype``."""
    n = end - start
    if ptype == _V2_SA:
        return _v2_sa(data, buf, start, end, base)
    if ptype == _V2_NOTIFY:
        if n < 4:
            raise MalformedMessage(f"NOTIFY payload body of {n} bytes < 4", base + start)
        spi_size = buf[start + 1]
        if spi_size > n - 4:
            raise MalformedMessage(
                f"NOTIFY: SPI Size {spi_size} exceeds the {n - 4} bytes left", base + start + 1
            )
        notify = NotifyPayload.__new__(NotifyPayload)
        notify.protocol = buf[start]
        notify.type = _u16(buf, start + 2)
        notify.spi = data[start + 4:start + 4 + spi_size]
        notify.data = data[start + 4 + spi_size:end]
        return notify
    if ptype == _V2_KE:
        if n < 4:
            raise MalformedMessage(f"KE payload body of {n} bytes < 4", base + start)
        ke = KePayload.__new__(KePayload)
        ke.group = _u16(buf, start)
        ke.data = data[start + 4:end]
        return ke
    if ptype == _V2_NONCE:
        nonce = NoncePayload.__new__(NoncePayload)
        nonce.data = data[start:end]
        return nonce
    if ptype == _V2_VENDOR_ID:
        vid = VendorIdPayload.__new__(VendorIdPayload)
        vid.data = data[start:end]
        return vid
    if ptype == _V2_IDI or ptype == _V2_IDR:
        if n < 4:
            raise MalformedMessage(f"{_v2_name(ptype)} payload body of {n} bytes < 4", base + start)
        ident = IdPayload.__new__(IdPayload)
        ident.payload_type = ptype
        ident.id_type = buf[start]
        ident.data = data[start + 4:end]
        ident._body = data[start:end]
        return ident
    if ptype == _V2_AUTH:
        if n < 4:
            raise MalformedMessage(f"AUTH payload body of {n} bytes < 4", base + start)
        auth = AuthPayload.__new__(AuthPayload)
        auth.method = buf[start]
        auth.data = data[start + 4:end]
        return auth
    if ptype == _V2_TSI or ptype == _V2_TSR:
        return _v2_ts(data, buf, ptype, start, end, base)
    if ptype == _V2_CERT or ptype == _V2_CERTREQ:
        if n < 1:
            raise MalformedMessage(f"{_v2_name(ptype)} payload without Encoding", base + start)
        if ptype == _V2_CERT:
            cert = CertPayload.__new__(CertPayload)
            cert.encoding = buf[start]
            cert.data = data[start + 1:end]
            return cert
        certreq = CertReqPayload.__new__(CertReqPayload)
        certreq.encoding = buf[start]
        certreq.data = data[start + 1:end]
        return certreq
    if ptype == _V2_DELETE:
        return _v2_delete(data, buf, start, end, base)
    if ptype == _V2_CP:
        return _v2_cp(data, buf, start, end, base)
    if ptype == _V2_EAP:
        return _v2_eap(data, buf, start, end, base)
    # RFC 7296 §2.5: skip an unknown payload unless its critical bit is set
    if critical:
        raise UnsupportedCriticalPayload(ptype, base + start - 4)
    unknown = UnknownPayload.__new__(UnknownPayload)
    unknown.payload_type = ptype
    unknown.critical = False
    unknown.data = data[start:end]
    return unknown


def _spi_size_ok(protocol, size):
    # RFC 7296 §3.3.1: IKE SA SPIs are 8 octets (absent in IKE_SA_INIT), AH/ESP ones 4
    if protocol == 1:
        return size == 0 or size == 8
    if protocol == 2 or protocol == 3:
        return size == 4
    return True


def _v2_sa(data, buf, start, end, base):
    """SA payload body: proposals (RFC 7296 §3.3.1) each holding transforms (§3.3.2)."""
    proposals = []
    off = start
    total = 0
    k = 0
    while off < end:
        k += 1
        if k > _MAX_PROPOSALS:
            raise MalformedMessage(f"SA: more than {MAX_PROPOSALS} proposals", base + off)
        if end - off < 8:
            raise MalformedMessage(
                f"SA: proposal {k}: {end - off} bytes left, a proposal needs 8", base + off
            )
        plen = _u16(buf, off + 2)
        if plen < 8:
            raise MalformedMessage(f"SA: proposal {k}: Proposal Length {plen} < 8", base + off + 2)
        if plen > end - off:
            raise MalformedMessage(
                f"SA: proposal {k}: Proposal Length {plen} exceeds the {end - off} bytes left",
                base + off + 2,
            )
        pend = off + plen
        last = buf[off]
        # RFC 7296 §3.3.1: Last Substruc is 0 for the last proposal, 2 before it
        if last != (0 if pend == end else 2):
            raise MalformedMessage(
                f"SA: proposal {k}: Last Substruc {last} but "
                + ("it is the last proposal" if pend == end else "more proposals follow"),
                base + off,
            )
        protocol = buf[off + 5]
        spi_size = buf[off + 6]
        ntrans = buf[off + 7]
        if not _spi_size_ok(protocol, spi_size):
            raise MalformedMessage(
                f"SA: proposal {k}: SPI Size {spi_size} is wrong for protocol {protocol}",
                base + off + 6,
            )
        t = off + 8 + spi_size
        if t > pend:
            raise MalformedMessage(
                f"SA: proposal {k}: SPI Size {spi_size} exceeds the proposal", base + off + 6
            )
        prop = Proposal.__new__(Proposal)
        prop.number = buf[off + 4]
        prop.protocol = protocol
        prop.spi = data[off + 8:t]
        prop.wire = data[t:pend]
        transforms = []
        for i in range(ntrans):
            total += 1
            if total > _MAX_TRANSFORMS:
                raise MalformedMessage(f"SA: more than {MAX_TRANSFORMS} transforms", base + t)
            if pend - t < 8:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1} of {ntrans}: {pend - t} bytes left, "
                    "a transform needs 8",
                    base + t,
                )
            tlen = _u16(buf, t + 2)
            if tlen < 8:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1}: Transform Length {tlen} < 8",
                    base + t + 2,
                )
            if tlen > pend - t:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1}: Transform Length {tlen} exceeds the "
                    f"{pend - t} bytes left in the proposal",
                    base + t + 2,
                )
            tlast = buf[t]
            if tlast != (0 if i == ntrans - 1 else 3):
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1} of {ntrans}: Last Substruc {tlast}",
                    base + t,
                )
            tr = Transform.__new__(Transform)
            tr.type = buf[t + 4]
            tr.id = _u16(buf, t + 6)
            tr.key_length = None
            tr.attributes = []
            if tlen > 8:
                _v2_transform_attributes(data, buf, tr, t + 8, t + tlen, base, k, i + 1)
            transforms.append(tr)
            t += tlen
        if t != pend:
            raise MalformedMessage(
                f"SA: proposal {k}: {pend - t} bytes after its {ntrans} transforms", base + t
            )
        prop.transforms = transforms
        proposals.append(prop)
        off = pend
    sa = SaPayload.__new__(SaPayload)
    sa.proposals = proposals
    return sa


def _v2_transform_attributes(data, buf, tr, off, end, base, k, i):
    """Transform attributes (RFC 7296 §3.3.5): TV when the AF bit is set, else TLV."""
    count = 0
    while off < end:
        count += 1
        if count > _MAX_TRANSFORM_ATTRIBUTES:
            raise MalformedMessage(
                f"SA: proposal {k}: transform {i}: more than {MAX_TRANSFORM_ATTRIBUTES} "
                "attributes",
                base + off,
            )
        if end - off < 4:
            raise MalformedMessage(
                f"SA: proposal {k}: transform {i}: attribute truncated ({end - off} bytes)",
                base + off,
            )
        atype = _u16(buf, off)
        if atype & 0x8000:
            atype = atype & 0x7FFF
            value = _u16(buf, off + 2)
            if atype == 14:
                if tr.key_length is not None:
                    raise MalformedMessage(
                        f"SA: proposal {k}: transform {i}: KEY_LENGTH given twice", base + off
                    )
                tr.key_length = value
            else:
                tr.attributes.append((atype, value))
            off += 4
        else:
            alen = _u16(buf, off + 2)
            if alen > end - off - 4:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i}: attribute length {alen} exceeds the "
                    f"{end - off - 4} bytes left",
                    base + off + 2,
                )
            if atype == 14:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i}: KEY_LENGTH in TLV form "
                    "(RFC 7296 §3.3.5 requires TV)",
                    base + off,
                )
            tr.attributes.append((atype, data[off + 4:off + 4 + alen]))
            off += 4 + alen
    return 0


def _v2_ts(data, buf, ptype, start, end, base):
    """Traffic selector payload (RFC 7296 §3.13, §3.13.1)."""
    if end - start < 4:
        raise MalformedMessage(
            f"{_v2_name(ptype)} payload body of {end - start} bytes < 4", base + start
        )
    count = buf[start]
    if count > _MAX_TRAFFIC_SELECTORS:
        raise MalformedMessage(
            f"{_v2_name(ptype)}: {count} traffic selectors, more than {MAX_TRAFFIC_SELECTORS}",
            base + start,
        )
    selectors = []
    off = start + 4
    for i in range(count):
        if end - off < 4:
            raise MalformedMessage(
                f"{_v2_name(ptype)}: traffic selector {i + 1} of {count} truncated", base + off
            )
        ts_type = buf[off]
        slen = _u16(buf, off + 2)
        if slen > end - off:
            raise MalformedMessage(
                f"{_v2_name(ptype)}: traffic selector {i + 1}: Selector Length {slen} exceeds "
                f"the {end - off} bytes left",
                base + off + 2,
            )
        if ts_type == 7 or ts_type == 8:
            alen = 4 if ts_type == 7 else 16
            if slen != 8 + 2 * alen:
                raise MalformedMessage(
                    f"{_v2_name(ptype)}: traffic selector {i + 1}: Selector Length {slen} "
                    f"!= {8 + 2 * alen} for type {ts_type}",
                    base + off + 2,
                )
            ts = TrafficSelector.__new__(TrafficSelector)
            ts.ts_type = ts_type
            ts.ip_protocol = buf[off + 1]
            ts.start_port = _u16(buf, off + 4)
            ts.end_port = _u16(buf, off + 6)
            ts.start_addr = data[off + 8:off + 8 + alen]
            ts.end_addr = data[off + 8 + alen:off + slen]
            selectors.append(ts)
        else:
            if slen < 4:
                raise MalformedMessage(
                    f"{_v2_name(ptype)}: traffic selector {i + 1}: Selector Length {slen} < 4",
                    base + off + 2,
                )
            raw_ts = RawTrafficSelector.__new__(RawTrafficSelector)
            raw_ts.ts_type = ts_type
            raw_ts.data = data[off + 4:off + slen]
            selectors.append(raw_ts)
        off += slen
    if off != end:
        raise MalformedMessage(
            f"{_v2_name(ptype)}: {end - off} bytes after its {count} traffic selectors", base + off
        )
    tsp = TsPayload.__new__(TsPayload)
    tsp.payload_type = ptype
    tsp.selectors = selectors
    return tsp


def _v2_delete(data, buf, start, end, base):
    """Delete payload (RFC 7296 §3.11)."""
    n = end - start
    if n < 4:
        raise MalformedMessage(f"DELETE payload body of {n} bytes < 4", base + start)
    protocol = buf[start]
    spi_size = buf[start + 1]
    count = _u16(buf, start + 2)
    if not _spi_size_ok(protocol, spi_size):
        raise MalformedMessage(
            f"DELETE: SPI Size {spi_size} is wrong for protocol {protocol}", base + start + 1
        )
    if count > _MAX_DELETE_SPIS:
        raise MalformedMessage(
            f"DELETE: {count} SPIs, more than {MAX_DELETE_SPIS}", base + start + 2
        )
    if spi_size * count != n - 4:
        raise MalformedMessage(
            f"DELETE: {count} SPIs of {spi_size} bytes do not fill the {n - 4} bytes left",
            base + start + 2,
        )
    if spi_size == 0 and count != 0:
        raise MalformedMessage(f"DELETE: {count} SPIs of size 0", base + start + 2)
    spis = []
    off = start + 4
    for i in range(count):
        spis.append(data[off:off + spi_size])
        off += spi_size
    delete = DeletePayload.__new__(DeletePayload)
    delete.protocol = protocol
    delete.spis = spis
    delete.spi_size = spi_size
    return delete


def _v2_cp(data, buf, start, end, base):
    """Configuration payload (RFC 7296 §3.15, §3.15.1)."""
    if end - start < 4:
        raise MalformedMessage(f"CP payload body of {end - start} bytes < 4", base + start)
    attributes = []
    off = start + 4
    count = 0
    while off < end:
        count += 1
        if count > _MAX_CFG_ATTRIBUTES:
            raise MalformedMessage(f"CP: more than {MAX_CFG_ATTRIBUTES} attributes", base + off)
        if end - off < 4:
            raise MalformedMessage(f"CP: attribute {count} truncated", base + off)
        alen = _u16(buf, off + 2)
        if alen > end - off - 4:
            raise MalformedMessage(
                f"CP: attribute {count}: Length {alen} exceeds the {end - off - 4} bytes left",
                base + off + 2,
            )
        # the top bit is reserved (RFC 7296 §3.15.1): ignored here, sent as zero
        attributes.append((_u16(buf, off) & 0x7FFF, data[off + 4:off + 4 + alen]))
        off += 4 + alen
    cp = CpPayload.__new__(CpPayload)
    cp.cfg_type = buf[start]
    cp.attributes = attributes
    return cp


def _v2_eap(data, buf, start, end, base):
    """EAP payload holding one EAP packet (RFC 7296 §3.16, RFC 3748 §4)."""
    n = end - start
    if n < 4:
        raise MalformedMessage(f"EAP payload body of {n} bytes < 4", base + start)
    code = buf[start]
    elen = _u16(buf, start + 2)
    if elen != n:
        raise MalformedMessage(
            f"EAP: Length {elen} != the {n} bytes of the payload (RFC 3748 §4)", base + start + 2
        )
    eap = EapPayload.__new__(EapPayload)
    eap.code = code
    eap.identifier = buf[start + 1]
    if code == 1 or code == 2:
        if n < 5:
            raise MalformedMessage("EAP: Request/Response without a Type", base + start + 4)
        eap.eap_type = buf[start + 4]
        eap.data = data[start + 5:end]
    elif code == 3 or code == 4:
        # RFC 3748 §4.2: Success and Failure are exactly the 4-byte header
        if n != 4:
            raise MalformedMessage(
                f"EAP: Success/Failure with {n - 4} bytes of data", base + start + 4
            )
        eap.eap_type = None
        eap.data = b""
    else:
        eap.eap_type = None
        eap.data = data[start + 4:end]
    return eap


# --------------------------------------------------------------------------------------
# IKEv2 encoding
# --------------------------------------------------------------------------------------


def _put8(out, v):
    x = v
    if x < 0 or x > 0xFF:
        raise ValueError(f"{v!r} does not fit in one octet")
    out.append(x)
    return 0


def _put16(out, v):
    x = v
    if x < 0 or x > 0xFFFF:
        raise ValueError(f"{v!r} does not fit in two octets")
    out.append(x >> 8)
    out.append(x & 0xFF)
    return 0


def _put32(out, v):
    x = v
    if x < 0 or x > 0xFFFFFFFF:
        raise ValueError(f"{v!r} does not fit in four octets")
    out.append(x >> 24)
    out.append((x >> 16) & 0xFF)
    out.append((x >> 8) & 0xFF)
    out.append(x & 0xFF)
    return 0


def _putb(out, b):
    if not isinstance(b, (bytes, bytearray)):
        raise TypeError(f"expected bytes, not {type(b).__name__}")
    out += b
    return 0


def _patch16(out, pos, v, what):
    if v > 0xFFFF:
        raise ValueError(f"{what} of {v} bytes does not fit its 16-bit length field")
    out[pos] = v >> 8
    out[pos + 1] = v & 0xFF
    return 0


def _header(out, spi_i, spi_r, next_payload, version, exchange, flags, message_id, length):
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise ValueError("IKE SPIs are 8 bytes each")
    _putb(out, spi_i)
    _putb(out, spi_r)
    _put8(out, next_payload)
    _put8(out, version)
    _put8(out, exchange)
    _put8(out, flags)
    _put32(out, message_id)
    _put32(out, length)
    return 0


def v2_encode_header(spi_i, spi_r, next_payload, exchange, flags, message_id, length):
    """The 28-byte IKEv2 header, version 2.0 (RFC 7296 §3.1)."""
    out = bytearray()
    _header(out, spi_i, spi_r, next_payload, 0x20, exchange, flags, message_id, length)
    return bytes(out)


def v2_encode_message(msg):
    """Encode an IKEv2 message: header, payload chain, every length computed."""
    if type(msg) is not Message:
        raise TypeError(f"expected an IKEv2 Message, not {type(msg).__name__}")
    if (msg.version >> 4) != 2:
        raise ValueError(f"version byte {msg.version!r} is not IKEv2")
    out = bytearray()
    _header(out, msg.spi_i, msg.spi_r, 0, msg.version, msg.exchange, msg.flags, msg.message_id, 0)
    out[16] = _v2_chain(out, msg.payloads)
    n = len(out)
    out[24] = n >> 24
    out[25] = (n >> 16) & 0xFF
    out[26] = (n >> 8) & 0xFF
    out[27] = n & 0xFF
    return bytes(out)


def v2_encode_payloads(payloads):
    """Encode a chain of payloads: (type of the first payload, bytes)."""
    out = bytearray()
    first = _v2_chain(out, payloads)
    return first, bytes(out)


def v2_encode_payload_body(p):
    """A payload's body, without the 4-byte generic header."""
    out = bytearray()
    _v2_body(out, p)
    return bytes(out)


def _v2_chain(out, payloads):
    """Append the chain to ``out`` and return the first payload's type (0 if none)."""
    first = 0
    prev = -1
    n = len(payloads)
    for i in range(n):
        p = payloads[i]
        start = len(out)
        out += b"\x00\x00\x00\x00"
        ptype = _v2_body(out, p)
        _patch16(out, start + 2, len(out) - start, "payload")
        if prev < 0:
            first = ptype
        else:
            out[prev] = ptype
        if ptype == _V2_SK or ptype == _V2_SKF:
            # RFC 7296 §3.14: the Next Payload of SK is the first inner payload's type
            if i != n - 1:
                raise ValueError(f"{_v2_name(ptype)} must be the last payload")
            nxt = p.next_payload
            if nxt < 0 or nxt > 255:
                raise ValueError(f"{_v2_name(ptype)} next_payload {nxt!r} out of range")
            out[start] = nxt
        elif type(p) is UnknownPayload and p.critical:
            out[start + 1] = 0x80
        prev = start
    return first


def _v2_body(out, p):
    """Append the body of ``p`` and return its payload type."""
    t = type(p)
    if t is SaPayload:
        _v2_sa_body(out, p)
        return _V2_SA
    if t is NotifyPayload:
        notify = p
        _put8(out, notify.protocol)
        _put8(out, len(notify.spi))
        _put16(out, notify.type)
        _putb(out, notify.spi)
        _putb(out, notify.data)
        return _V2_NOTIFY
    if t is KePayload:
        ke = p
        _put16(out, ke.group)
        out += b"\x00\x00"
        _putb(out, ke.data)
        return _V2_KE
    if t is NoncePayload:
        nonce = p
        _putb(out, nonce.data)
        return _V2_NONCE
    if t is VendorIdPayload:
        vid = p
        _putb(out, vid.data)
        return _V2_VENDOR_ID
    if t is IdPayload:
        ident = p
        if ident.payload_type != _V2_IDI and ident.payload_type != _V2_IDR:
            raise ValueError(f"IdPayload type {ident.payload_type!r} is neither IDi nor IDr")
        _put8(out, ident.id_type)
        out += b"\x00\x00\x00"
        _putb(out, ident.data)
        return ident.payload_type
    if t is AuthPayload:
        auth = p
        _put8(out, auth.method)
        out += b"\x00\x00\x00"
        _putb(out, auth.data)
        return _V2_AUTH
    if t is TsPayload:
        _v2_ts_body(out, p)
        return p.payload_type
    if t is CertPayload:
        cert = p
        _put8(out, cert.encoding)
        _putb(out, cert.data)
        return _V2_CERT
    if t is CertReqPayload:
        certreq = p
        _put8(out, certreq.encoding)
        _putb(out, certreq.data)
        return _V2_CERTREQ
    if t is DeletePayload:
        delete = p
        size = delete.effective_spi_size()
        if not _spi_size_ok(delete.protocol, size):
            raise ValueError(f"DELETE: SPI size {size} is wrong for protocol {delete.protocol}")
        _put8(out, delete.protocol)
        _put8(out, size)
        _put16(out, len(delete.spis))
        for spi in delete.spis:
            if len(spi) != size:
                raise ValueError("DELETE: SPIs of different sizes")
            _putb(out, spi)
        return _V2_DELETE
    if t is CpPayload:
        cp = p
        _put8(out, cp.cfg_type)
        out += b"\x00\x00\x00"
        for atype, value in cp.attributes:
            if atype < 0 or atype > 0x7FFF:
                raise ValueError(f"CP attribute type {atype!r} out of range")
            _put16(out, atype)
            _put16(out, len(value))
            _putb(out, value)
        return _V2_CP
    if t is EapPayload:
        _v2_eap_body(out, p)
        return _V2_EAP
    if t is SkPayload:
        sk = p
        _putb(out, sk.data)
        return _V2_SK
    if t is SkfPayload:
        skf = p
        if skf.fragment_number < 1 or skf.fragment_number > skf.total_fragments:
            raise ValueError("SKF: fragment_number must be within 1..total_fragments")
        _put16(out, skf.fragment_number)
        _put16(out, skf.total_fragments)
        _putb(out, skf.data)
        return _V2_SKF
    if t is UnknownPayload:
        unknown = p
        ptype = unknown.payload_type
        if ptype < 1 or ptype > 255:
            raise ValueError(f"payload type {ptype!r} out of range")
        _putb(out, unknown.data)
        return ptype
    raise TypeError(f"not an IKEv2 payload: {p!r}")


def _v2_sa_body(out, sa):
    proposals = sa.proposals
    n = len(proposals)
    for k in range(n):
        prop = proposals[k]
        if type(prop) is not Proposal:
            raise TypeError(f"not an IKEv2 Proposal: {prop!r}")
        if not _spi_size_ok(prop.protocol, len(prop.spi)):
            raise ValueError(f"SPI of {len(prop.spi)} bytes is wrong for protocol {prop.protocol}")
        pstart = len(out)
        out.append(0 if k == n - 1 else 2)
        out += b"\x00\x00\x00"
        _put8(out, prop.number)
        _put8(out, prop.protocol)
        _put8(out, len(prop.spi))
        transforms = prop.transforms
        m = len(transforms)
        _put8(out, m)
        _putb(out, prop.spi)
        for i in range(m):
            tr = transforms[i]
            if type(tr) is not Transform:
                raise TypeError(f"not an IKEv2 Transform: {tr!r}")
            tstart = len(out)
            out.append(0 if i == m - 1 else 3)
            out += b"\x00\x00\x00"
            _put8(out, tr.type)
            out.append(0)
            _put16(out, tr.id)
            if tr.key_length is not None:
                out += b"\x80\x0e"
                _put16(out, tr.key_length)
            for atype, value in tr.attributes:
                if atype < 0 or atype > 0x7FFF or atype == 14:
                    raise ValueError(f"transform attribute type {atype!r} not allowed here")
                if isinstance(value, int):
                    _put16(out, atype | 0x8000)
                    _put16(out, value)
                else:
                    _put16(out, atype)
                    _put16(out, len(value))
                    _putb(out, value)
            _patch16(out, tstart + 2, len(out) - tstart, "transform")
        _patch16(out, pstart + 2, len(out) - pstart, "proposal")
    return 0


def _v2_ts_body(out, tsp):
    if tsp.payload_type != _V2_TSI and tsp.payload_type != _V2_TSR:
        raise ValueError(f"TsPayload type {tsp.payload_type!r} is neither TSi nor TSr")
    _put8(out, len(tsp.selectors))
    out += b"\x00\x00\x00"
    for sel in tsp.selectors:
        if type(sel) is TrafficSelector:
            ts = sel
            alen = 4 if ts.ts_type == 7 else 16 if ts.ts_type == 8 else 0
            if alen == 0:
                raise ValueError(f"TrafficSelector type {ts.ts_type!r} is not 7 or 8")
            if len(ts.start_addr) != alen or len(ts.end_addr) != alen:
                raise ValueError(
                    f"traffic selector of type {ts.ts_type} needs {alen}-byte addresses"
                )
            _put8(out, ts.ts_type)
            _put8(out, ts.ip_protocol)
            _put16(out, 8 + 2 * alen)
            _put16(out, ts.start_port)
            _put16(out, ts.end_port)
            _putb(out, ts.start_addr)
            _putb(out, ts.end_addr)
        elif type(sel) is RawTrafficSelector:
            raw_ts = sel
            if raw_ts.ts_type == 7 or raw_ts.ts_type == 8:
                raise ValueError("use TrafficSelector for address range selectors")
            _put8(out, raw_ts.ts_type)
            out.append(0)
            _put16(out, 4 + len(raw_ts.data))
            _putb(out, raw_ts.data)
        else:
            raise TypeError(f"not a traffic selector: {sel!r}")
    return 0


def _v2_eap_body(out, eap):
    start = len(out)
    _put8(out, eap.code)
    _put8(out, eap.identifier)
    out += b"\x00\x00"
    if eap.code == 1 or eap.code == 2:
        if eap.eap_type is None:
            raise ValueError("EAP Request/Response needs an eap_type")
        _put8(out, eap.eap_type)
    elif eap.eap_type is not None:
        raise ValueError("only EAP Requests and Responses carry a Type")
    elif (eap.code == 3 or eap.code == 4) and len(eap.data) != 0:
        raise ValueError("EAP Success/Failure carry no data")
    _putb(out, eap.data)
    _patch16(out, start + 2, len(out) - start, "EAP packet")
    return 0


# --------------------------------------------------------------------------------------
# IKEv1 decoding (RFC 2408 §3)
# --------------------------------------------------------------------------------------


def v1_decode_message(data):
    """Decode an ISAKMP message; bytes after the header's Length are ignored.

    With the Encryption flag set the body is kept as ``encrypted_body``; the caller
    decrypts it and calls v1_decode_payloads(plaintext, msg.next_payload).
    """
    raw = _as_bytes(data)
    n = len(raw)
    if n < 28:
        raise MalformedMessage(f"{n} bytes is shorter than the 28-byte ISAKMP header", 0)
    buf = raw
    version = buf[17]
    if (version >> 4) != 1:
        raise InvalidMajorVersion(f"ISAKMP major version {version >> 4} is not 1", offset=17)
    length = _u32(buf, 24)
    if length < 28:
        raise MalformedMessage(f"header Length {length} < 28", 24)
    if length > n:
        raise MalformedMessage(f"header Length {length} exceeds the datagram's {n} bytes", 24)
    msg = V1Message.__new__(V1Message)
    msg.spi_i = raw[0:8]
    msg.spi_r = raw[8:16]
    msg.next_payload = buf[16]
    msg.version = version
    msg.exchange = buf[18]
    flags = buf[19]
    msg.flags = flags
    msg.message_id = _u32(buf, 20)
    msg.length = length
    if flags & 0x01:
        msg.payloads = None
        msg.encrypted_body = raw[28:length]
    else:
        msg.encrypted_body = None
        msg.payloads = _v1_walk(raw, buf, buf[16], 28, length, 0, _TAIL_PAD4)
    return msg


def v1_decode_payloads(data, first_type, base_offset=0):
    """Decode the payloads of a decrypted body up to the one whose Next Payload is 0;
    the padding after it is ignored (RFC 2409 §5.3). ``base_offset`` shifts error offsets."""
    raw = _as_bytes(data)
    if not 0 <= first_type <= 255:
        raise ValueError(f"first payload type {first_type} out of range")
    base = base_offset
    buf = raw
    return _v1_walk(raw, buf, first_type, 0, len(raw), base, _TAIL_ANY)


def _zero_tail(buf, off, end):
    while off < end:
        if buf[off] != 0:
            return False
        off += 1
    return True


def _v1_walk(data, buf, ptype, off, end, base, tail):
    """Walk the ISAKMP generic payload chain (RFC 2408 §3.2) until Next Payload 0."""
    payloads = []
    count = 0
    while ptype != 0:
        if count >= _MAX_PAYLOADS:
            raise MalformedMessage(f"more than {MAX_PAYLOADS} payloads", base + off)
        if end - off < 4:
            raise MalformedMessage(
                f"{_v1_name(ptype)} payload announced but only {end - off} bytes left", base + off
            )
        nxt = buf[off]
        plen = _u16(buf, off + 2)
        if plen < 4:
            raise MalformedMessage(
                f"{_v1_name(ptype)} payload: Payload Length {plen} < 4", base + off + 2
            )
        if plen > end - off:
            raise MalformedMessage(
                f"{_v1_name(ptype)} payload: Payload Length {plen} exceeds the {end - off} "
                "bytes left",
                base + off + 2,
            )
        payloads.append(_v1_payload(data, buf, ptype, off + 4, off + plen, base))
        count += 1
        off += plen
        ptype = nxt
    if off != end:
        if tail == _TAIL_STRICT or (
            tail == _TAIL_PAD4 and (end - off > 3 or not _zero_tail(buf, off, end))
        ):
            raise MalformedMessage(f"{end - off} bytes after the last payload", base + off)
    return payloads


def _v1_payload(data, buf, ptype, start, end, base):
    """Decode one ISAKMP payload body, data[start:end]."""
    n = end - start
    if ptype == _V1_SA:
        return _v1_sa(data, buf, start, end, base)
    if ptype == _V1_VID:
        vid = V1VendorIdPayload.__new__(V1VendorIdPayload)
        vid.data = data[start:end]
        return vid
    if ptype == _V1_KE:
        ke = V1KePayload.__new__(V1KePayload)
        ke.data = data[start:end]
        return ke
    if ptype == _V1_NONCE:
        nonce = V1NoncePayload.__new__(V1NoncePayload)
        nonce.data = data[start:end]
        return nonce
    if ptype == _V1_ID:
        if n < 4:
            raise MalformedMessage(f"ID payload body of {n} bytes < 4", base + start)
        ident = V1IdPayload.__new__(V1IdPayload)
        ident.id_type = buf[start]
        ident.protocol_id = buf[start + 1]
        ident.port = _u16(buf, start + 2)
        ident.data = data[start + 4:end]
        ident._body = data[start:end]
        return ident
    if ptype == _V1_HASH:
        hsh = V1HashPayload.__new__(V1HashPayload)
        hsh.data = data[start:end]
        return hsh
    if ptype == _V1_NAT_D or ptype == _V1_NAT_D_DRAFT:
        natd = V1NatDPayload.__new__(V1NatDPayload)
        natd.data = data[start:end]
        natd.payload_type = ptype
        return natd
    if ptype == _V1_N:
        if n < 8:
            raise MalformedMessage(f"N payload body of {n} bytes < 8", base + start)
        spi_size = buf[start + 5]
        if spi_size > n - 8:
            raise MalformedMessage(
                f"N: SPI Size {spi_size} exceeds the {n - 8} bytes left", base + start + 5
            )
        notify = V1NotifyPayload.__new__(V1NotifyPayload)
        notify.doi = _u32(buf, start)
        notify.protocol = buf[start + 4]
        notify.type = _u16(buf, start + 6)
        notify.spi = data[start + 8:start + 8 + spi_size]
        notify.data = data[start + 8 + spi_size:end]
        return notify
    if ptype == _V1_D:
        return _v1_delete(data, buf, start, end, base)
    if ptype == _V1_ATTR:
        return _v1_attr(data, buf, start, end, base)
    if ptype == _V1_CERT or ptype == _V1_CR:
        if n < 1:
            raise MalformedMessage(f"{_v1_name(ptype)} payload without Encoding", base + start)
        if ptype == _V1_CERT:
            cert = V1CertPayload.__new__(V1CertPayload)
            cert.encoding = buf[start]
            cert.data = data[start + 1:end]
            return cert
        cr = V1CrPayload.__new__(V1CrPayload)
        cr.encoding = buf[start]
        cr.data = data[start + 1:end]
        return cr
    if ptype == _V1_SIG:
        sig = V1SigPayload.__new__(V1SigPayload)
        sig.data = data[start:end]
        return sig
    if ptype == _V1_NAT_OA or ptype == _V1_NAT_OA_DRAFT:
        if n < 4:
            raise MalformedMessage(f"NAT-OA payload body of {n} bytes < 4", base + start)
        id_type = buf[start]
        # RFC 3947 §5.2: the original address is an IPv4 or IPv6 address
        if not ((id_type == 1 and n == 8) or (id_type == 5 and n == 20)):
            raise MalformedMessage(
                f"NAT-OA: ID Type {id_type} with {n - 4} address bytes", base + start
            )
        natoa = V1NatOaPayload.__new__(V1NatOaPayload)
        natoa.id_type = id_type
        natoa.data = data[start + 4:end]
        natoa.payload_type = ptype
        return natoa
    if ptype == _V1_FRAGMENT:
        if n < 4:
            raise MalformedMessage(f"FRAGMENT payload body of {n} bytes < 4", base + start)
        frag = V1FragmentPayload.__new__(V1FragmentPayload)
        frag.fragment_id = _u16(buf, start)
        frag.fragment_number = buf[start + 2]
        frag.last = (buf[start + 3] & 0x01) != 0
        frag.data = data[start + 4:end]
        return frag
    if ptype == _V1_PROPOSAL or ptype == _V1_TRANSFORM:
        raise MalformedMessage(f"{_v1_name(ptype)} payload outside an SA payload", base + start - 4)
    unknown = V1UnknownPayload.__new__(V1UnknownPayload)
    unknown.payload_type = ptype
    unknown.data = data[start:end]
    return unknown


def _v1_spi_size_ok(protocol, size):
    # RFC 2408 §3.5 / RFC 2409 §5: an ISAKMP SA's SPI is absent or the cookie pair;
    # RFC 2407 §4.4.1: AH/ESP SPIs are 4 octets, IPComp CPIs 2 (or 4)
    if protocol == 1:
        return size == 0 or size == 16
    if protocol == 2 or protocol == 3:
        return size == 4
    if protocol == 4:
        return size == 2 or size == 4
    return True


def _v1_sa(data, buf, start, end, base):
    """SA payload body (RFC 2408 §3.4): DOI, Situation, then proposal payloads."""
    if end - start < 8:
        raise MalformedMessage(f"SA payload body of {end - start} bytes < 8", base + start)
    doi = _u32(buf, start)
    situation = _u32(buf, start + 4)
    # RFC 2407 §4.6.1: SIT_SECRECY / SIT_INTEGRITY add labelled-domain fields nobody sends
    if doi == 1 and (situation & 0x06):
        raise MalformedMessage(
            f"SA: situation {situation:#x} with secrecy/integrity labels is not supported",
            base + start + 4,
        )
    proposals = []
    off = start + 8
    total = 0
    k = 0
    more = off < end
    while more:
        k += 1
        if k > _MAX_PROPOSALS:
            raise MalformedMessage(f"SA: more than {MAX_PROPOSALS} proposals", base + off)
        if end - off < 8:
            raise MalformedMessage(
                f"SA: proposal {k}: {end - off} bytes left, a proposal needs 8", base + off
            )
        nxt = buf[off]
        plen = _u16(buf, off + 2)
        if plen < 8:
            raise MalformedMessage(f"SA: proposal {k}: Payload Length {plen} < 8", base + off + 2)
        if plen > end - off:
            raise MalformedMessage(
                f"SA: proposal {k}: Payload Length {plen} exceeds the {end - off} bytes left",
                base + off + 2,
            )
        pend = off + plen
        # RFC 2408 §3.5: Next Payload is PROPOSAL (2) before another proposal, else 0
        if nxt != (0 if pend == end else 2):
            raise MalformedMessage(
                f"SA: proposal {k}: Next Payload {nxt} but "
                + ("it is the last proposal" if pend == end else "more proposals follow"),
                base + off,
            )
        protocol = buf[off + 5]
        spi_size = buf[off + 6]
        ntrans = buf[off + 7]
        if not _v1_spi_size_ok(protocol, spi_size):
            raise MalformedMessage(
                f"SA: proposal {k}: SPI Size {spi_size} is wrong for protocol {protocol}",
                base + off + 6,
            )
        t = off + 8 + spi_size
        if t > pend:
            raise MalformedMessage(
                f"SA: proposal {k}: SPI Size {spi_size} exceeds the proposal", base + off + 6
            )
        prop = V1Proposal.__new__(V1Proposal)
        prop.number = buf[off + 4]
        prop.protocol = protocol
        prop.spi = data[off + 8:t]
        prop.wire = data[t:pend]
        transforms = []
        for i in range(ntrans):
            total += 1
            if total > _MAX_TRANSFORMS:
                raise MalformedMessage(f"SA: more than {MAX_TRANSFORMS} transforms", base + t)
            if pend - t < 8:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1} of {ntrans}: {pend - t} bytes left, "
                    "a transform needs 8",
                    base + t,
                )
            tlen = _u16(buf, t + 2)
            if tlen < 8:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1}: Payload Length {tlen} < 8", base + t + 2
                )
            if tlen > pend - t:
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1}: Payload Length {tlen} exceeds the "
                    f"{pend - t} bytes left in the proposal",
                    base + t + 2,
                )
            tnext = buf[t]
            # RFC 2408 §3.6: Next Payload is TRANSFORM (3) before another transform, else 0
            if tnext != (0 if i == ntrans - 1 else 3):
                raise MalformedMessage(
                    f"SA: proposal {k}: transform {i + 1} of {ntrans}: Next Payload {tnext}",
                    base + t,
                )
            tr = V1Transform.__new__(V1Transform)
            tr.number = buf[t + 4]
            tr.transform_id = buf[t + 5]
            tr.attributes = _v1_attributes(
                data, buf, t + 8, t + tlen, base, _MAX_TRANSFORM_ATTRIBUTES, False, k, i + 1
            )
            transforms.append(tr)
            t += tlen
        if t != pend:
            raise MalformedMessage(
                f"SA: proposal {k}: {pend - t} bytes after its {ntrans} transforms", base + t
            )
        prop.transforms = transforms
        proposals.append(prop)
        off = pend
        more = nxt != 0
    sa = V1SaPayload.__new__(V1SaPayload)
    sa.doi = doi
    sa.situation = situation
    sa.proposals = proposals
    sa._body = data[start:end]
    return sa


def _v1_where(k, i):
    return f"SA: proposal {k}: transform {i}" if k else "ATTR"


def _v1_attributes(data, buf, off, end, base, limit, pad, k, i):
    """Data attributes (RFC 2408 §3.3): TV when the AF bit is set, else TLV.

    ``k``, ``i`` locate a transform's attributes for the error reasons (0: an attribute
    payload). With ``pad``, up to three zero bytes may follow the last attribute
    (libreswan pads its Mode Config payloads to 4 octets).
    """
    attributes = []
    count = 0
    while off < end:
        if pad and end - off < 4 and _zero_tail(buf, off, end):
            break
        count += 1
        if count > limit:
            raise MalformedMessage(f"{_v1_where(k, i)}: more than {limit} attributes", base + off)
        if end - off < 4:
            raise MalformedMessage(
                f"{_v1_where(k, i)}: attribute {count} truncated ({end - off} bytes)", base + off
            )
        atype = _u16(buf, off)
        attr = V1Attribute.__new__(V1Attribute)
        if atype & 0x8000:
            attr.type = atype & 0x7FFF
            attr.value = _u16(buf, off + 2)
            off += 4
        else:
            alen = _u16(buf, off + 2)
            if alen > end - off - 4:
                raise MalformedMessage(
                    f"{_v1_where(k, i)}: attribute {count}: Length {alen} exceeds the "
                    f"{end - off - 4} bytes left",
                    base + off + 2,
                )
            attr.type = atype
            attr.value = data[off + 4:off + 4 + alen]
            off += 4 + alen
        attributes.append(attr)
    return attributes


def _v1_delete(data, buf, start, end, base):
    """Delete payload (RFC 2408 §3.15)."""
    n = end - start
    if n < 8:
        raise MalformedMessage(f"D payload body of {n} bytes < 8", base + start)
    spi_size = buf[start + 5]
    count = _u16(buf, start + 6)
    if count > _MAX_DELETE_SPIS:
        raise MalformedMessage(f"D: {count} SPIs, more than {MAX_DELETE_SPIS}", base + start + 6)
    if spi_size * count != n - 8:
        raise MalformedMessage(
            f"D: {count} SPIs of {spi_size} bytes do not fill the {n - 8} bytes left",
            base + start + 6,
        )
    if spi_size == 0 and count != 0:
        raise MalformedMessage(f"D: {count} SPIs of size 0", base + start + 6)
    spis = []
    off = start + 8
    for i in range(count):
        spis.append(data[off:off + spi_size])
        off += spi_size
    delete = V1DeletePayload.__new__(V1DeletePayload)
    delete.doi = _u32(buf, start)
    delete.protocol = buf[start + 4]
    delete.spi_size = spi_size
    delete.spis = spis
    return delete


def _v1_attr(data, buf, start, end, base):
    """Attribute payload (draft-dukes-ike-mode-cfg-02 §3.2)."""
    if end - start < 4:
        raise MalformedMessage(f"ATTR payload body of {end - start} bytes < 4", base + start)
    attr = V1AttributePayload.__new__(V1AttributePayload)
    attr.cfg_type = buf[start]
    attr.identifier = _u16(buf, start + 2)
    attr.attributes = _v1_attributes(
        data, buf, start + 4, end, base, _MAX_CFG_ATTRIBUTES, True, 0, 0
    )
    return attr


# --------------------------------------------------------------------------------------
# IKEv1 encoding
# --------------------------------------------------------------------------------------


def v1_encode_header(spi_i, spi_r, next_payload, exchange, flags, message_id, length):
    """The 28-byte ISAKMP header, version 1.0 (RFC 2408 §3.1)."""
    out = bytearray()
    _header(out, spi_i, spi_r, next_payload, 0x10, exchange, flags, message_id, length)
    return bytes(out)


def v1_encode_message(msg):
    """Encode an ISAKMP message: the payload chain, or the encrypted body as given."""
    if type(msg) is not V1Message:
        raise TypeError(f"expected an IKEv1 V1Message, not {type(msg).__name__}")
    if (msg.version >> 4) != 1:
        raise ValueError(f"version byte {msg.version!r} is not IKEv1")
    encrypted = (msg.flags & 0x01) != 0
    out = bytearray()
    if encrypted:
        if msg.encrypted_body is None or msg.payloads is not None:
            raise ValueError("the Encryption flag needs encrypted_body and no payloads")
        if msg.next_payload is None:
            raise ValueError("an encrypted message needs next_payload")
        _header(out, msg.spi_i, msg.spi_r, msg.next_payload, msg.version, msg.exchange,
                msg.flags, msg.message_id, 0)
        _putb(out, msg.encrypted_body)
    else:
        if msg.encrypted_body is not None or msg.payloads is None:
            raise ValueError("a message without the Encryption flag needs payloads")
        _header(out, msg.spi_i, msg.spi_r, 0, msg.version, msg.exchange, msg.flags,
                msg.message_id, 0)
        out[16] = _v1_chain(out, msg.payloads)
    n = len(out)
    out[24] = n >> 24
    out[25] = (n >> 16) & 0xFF
    out[26] = (n >> 8) & 0xFF
    out[27] = n & 0xFF
    return bytes(out)


def v1_encode_payloads(payloads):
    """Encode a chain of ISAKMP payloads: (type of the first payload, bytes)."""
    out = bytearray()
    first = _v1_chain(out, payloads)
    return first, bytes(out)


def v1_encode_payload_body(p):
    """A payload's body, without the 4-byte generic header."""
    out = bytearray()
    _v1_body(out, p)
    return bytes(out)


def _v1_chain(out, payloads):
    first = 0
    prev = -1
    for p in payloads:
        start = len(out)
        out += b"\x00\x00\x00\x00"
        ptype = _v1_body(out, p)
        _patch16(out, start + 2, len(out) - start, "payload")
        if prev < 0:
            first = ptype
        else:
            out[prev] = ptype
        prev = start
    return first


def _v1_body(out, p):
    """Append the body of ``p`` and return its payload type."""
    t = type(p)
    if t is V1SaPayload:
        _v1_sa_body(out, p)
        return _V1_SA
    if t is V1VendorIdPayload:
        vid = p
        _putb(out, vid.data)
        return _V1_VID
    if t is V1KePayload:
        ke = p
        _putb(out, ke.data)
        return _V1_KE
    if t is V1NoncePayload:
        nonce = p
        _putb(out, nonce.data)
        return _V1_NONCE
    if t is V1IdPayload:
        ident = p
        _put8(out, ident.id_type)
        _put8(out, ident.protocol_id)
        _put16(out, ident.port)
        _putb(out, ident.data)
        return _V1_ID
    if t is V1HashPayload:
        hsh = p
        _putb(out, hsh.data)
        return _V1_HASH
    if t is V1NatDPayload:
        natd = p
        if natd.payload_type != _V1_NAT_D and natd.payload_type != _V1_NAT_D_DRAFT:
            raise ValueError(f"NAT-D payload type {natd.payload_type!r} is not 20 or 130")
        _putb(out, natd.data)
        return natd.payload_type
    if t is V1NotifyPayload:
        notify = p
        _put32(out, notify.doi)
        _put8(out, notify.protocol)
        _put8(out, len(notify.spi))
        _put16(out, notify.type)
        _putb(out, notify.spi)
        _putb(out, notify.data)
        return _V1_N
    if t is V1DeletePayload:
        delete = p
        _put32(out, delete.doi)
        _put8(out, delete.protocol)
        _put8(out, delete.spi_size)
        _put16(out, len(delete.spis))
        for spi in delete.spis:
            if len(spi) != delete.spi_size:
                raise ValueError(f"D: SPI of {len(spi)} bytes, spi_size is {delete.spi_size}")
            _putb(out, spi)
        return _V1_D
    if t is V1AttributePayload:
        attr = p
        _put8(out, attr.cfg_type)
        out.append(0)
        _put16(out, attr.identifier)
        _v1_attributes_body(out, attr.attributes)
        return _V1_ATTR
    if t is V1CertPayload:
        cert = p
        _put8(out, cert.encoding)
        _putb(out, cert.data)
        return _V1_CERT
    if t is V1CrPayload:
        cr = p
        _put8(out, cr.encoding)
        _putb(out, cr.data)
        return _V1_CR
    if t is V1SigPayload:
        sig = p
        _putb(out, sig.data)
        return _V1_SIG
    if t is V1NatOaPayload:
        natoa = p
        if natoa.payload_type != _V1_NAT_OA and natoa.payload_type != _V1_NAT_OA_DRAFT:
            raise ValueError(f"NAT-OA payload type {natoa.payload_type!r} is not 21 or 131")
        if not ((natoa.id_type == 1 and len(natoa.data) == 4)
                or (natoa.id_type == 5 and len(natoa.data) == 16)):
            raise ValueError("NAT-OA holds an IPv4 (id_type 1) or IPv6 (id_type 5) address")
        _put8(out, natoa.id_type)
        out += b"\x00\x00\x00"
        _putb(out, natoa.data)
        return natoa.payload_type
    if t is V1FragmentPayload:
        frag = p
        _put16(out, frag.fragment_id)
        _put8(out, frag.fragment_number)
        out.append(1 if frag.last else 0)
        _putb(out, frag.data)
        return _V1_FRAGMENT
    if t is V1UnknownPayload:
        unknown = p
        ptype = unknown.payload_type
        if ptype < 1 or ptype > 255 or ptype == _V1_PROPOSAL or ptype == _V1_TRANSFORM:
            raise ValueError(f"payload type {ptype!r} not allowed for V1UnknownPayload")
        _putb(out, unknown.data)
        return ptype
    raise TypeError(f"not an IKEv1 payload: {p!r}")


def _v1_sa_body(out, sa):
    if sa.doi == 1 and (sa.situation & 0x06):
        raise ValueError("situations with secrecy/integrity labels are not supported")
    _put32(out, sa.doi)
    _put32(out, sa.situation)
    proposals = sa.proposals
    n = len(proposals)
    for k in range(n):
        prop = proposals[k]
        if type(prop) is not V1Proposal:
            raise TypeError(f"not an IKEv1 V1Proposal: {prop!r}")
        if not _v1_spi_size_ok(prop.protocol, len(prop.spi)):
            raise ValueError(f"SPI of {len(prop.spi)} bytes is wrong for protocol {prop.protocol}")
        pstart = len(out)
        out.append(0 if k == n - 1 else 2)
        out += b"\x00\x00\x00"
        _put8(out, prop.number)
        _put8(out, prop.protocol)
        _put8(out, len(prop.spi))
        transforms = prop.transforms
        m = len(transforms)
        _put8(out, m)
        _putb(out, prop.spi)
        for i in range(m):
            tr = transforms[i]
            if type(tr) is not V1Transform:
                raise TypeError(f"not an IKEv1 V1Transform: {tr!r}")
            tstart = len(out)
            out.append(0 if i == m - 1 else 3)
            out += b"\x00\x00\x00"
            _put8(out, tr.number)
            _put8(out, tr.transform_id)
            out += b"\x00\x00"
            _v1_attributes_body(out, tr.attributes)
            _patch16(out, tstart + 2, len(out) - tstart, "transform")
        _patch16(out, pstart + 2, len(out) - pstart, "proposal")
    return 0


def _v1_attributes_body(out, attributes):
    for a in attributes:
        if type(a) is not V1Attribute:
            raise TypeError(f"not a V1Attribute: {a!r}")
        attr = a
        if attr.type < 0 or attr.type > 0x7FFF:
            raise ValueError(f"attribute type {attr.type!r} out of range")
        if isinstance(attr.value, int):
            _put16(out, attr.type | 0x8000)
            _put16(out, attr.value)
        else:
            _put16(out, attr.type)
            _put16(out, len(attr.value))
            _putb(out, attr.value)
    return 0
