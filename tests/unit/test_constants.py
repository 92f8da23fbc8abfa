"""ikesrv.constants agrees with Wireshark's isakmp and eap dissectors (``tshark -G values``).

For every registry enum that Wireshark also tabulates: each of our members whose value
Wireshark names must carry a corresponding name (compared after normalising case,
punctuation and a few filler words), and no Wireshark label may name one of our members
at a different value (which would mean our value is wrong). Genuine naming differences,
between the RFC/IANA names we use and Wireshark's labels (or Wireshark's own slips), are
listed in EXCEPTIONS with the reason; an exception that stops being needed fails too.

tshark 4.0 registers some fields twice under one name, once per IKE version
(isakmp.notify.msgtype, isakmp.id.type, isakmp.cfg.type, isakmp.cfg.attr.type,
isakmp.prop.protoid, isakmp.cert.encoding): such a table is picked by a sentinel entry.
Needs tshark (``make lab`` installs it); no root.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from enum import IntEnum

import pytest

from ikesrv import constants as C
from tests.harness import policy


@dataclass(frozen=True)
class Entry:
    lo: int
    hi: int
    label: str


@functools.cache
def wireshark_tables() -> dict[str, list[list[Entry]]]:
    """field -> its value tables, in registration order (a table is a run of ascending
    values; a field registered twice has two)."""
    out = subprocess.run(
        ["tshark", "-G", "values"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    tables: dict[str, list[list[Entry]]] = {}
    last: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or not parts[1].startswith(("isakmp.", "eap.")):
            continue
        try:
            if parts[0] == "V":
                field, lo, hi, label = parts[1], int(parts[2], 0), int(parts[2], 0), parts[3]
            elif parts[0] == "R":
                field, lo, hi, label = parts[1], int(parts[2], 0), int(parts[3], 0), parts[4]
            else:
                continue
        except (ValueError, IndexError):
            continue
        if field not in last or lo <= last[field]:
            tables.setdefault(field, []).append([])
        tables[field][-1].append(Entry(lo, hi, label.strip()))
        last[field] = lo
    return tables


# labels that say Wireshark has no name for the value
NOT_A_NAME = re.compile(
    r"reserved|unassigned|future use|private use|undefined|allocated|"
    r"<unknown>|^none$",
    re.I,
)
# words that one side writes and the other leaves out
FILLER = {
    "encr",
    "auth",
    "id",
    "esp",
    "proto",
    "prf",
    "group",
    "the",
    "a",
    "with",
    "and",
    "of",
    "on",
    "bit",
    "random",
    "eap",
    "p",
    "payload",
    "type",
}


def tokens(name: str) -> list[str]:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name)  # XAUTHInit -> XAUTH Init
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", s)  # InitPre -> Init Pre
    s = re.sub(r"([A-Za-z])(?=\d)|(\d)(?=[A-Za-z])", r"\1\2 ", s)  # P224 -> P 224
    out = []
    for t in re.split(r"[^a-z0-9]+", s.lower()):
        if t:
            out.append(t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t)
    return out


def _significant(ts: list[str]) -> list[str]:
    kept = [t for t in ts if t not in FILLER]
    return kept or ts


def _covers(t: str, o: str) -> bool:
    # an abbreviation (cert/certificate) covers; numbers and 1-2 letter words must be equal
    return t == o or (len(o) >= 3 and not o.isdigit() and t.startswith(o))


def _prefix_cover(ours: list[str], theirs: list[str]) -> bool:
    return all(any(_covers(t, o) for t in theirs) for o in ours)


def names_correspond(ours: str, label: str) -> bool:
    """Our registry name and a Wireshark label denote the same thing (see module doc)."""
    candidates = [label] + re.findall(r"\(([^)]*)\)", label)
    a = tokens(ours)
    for cand in candidates:
        b = tokens(cand)
        if not b:
            continue
        if "".join(a) == "".join(b) or "".join(_significant(a)) == "".join(_significant(b)):
            return True
        sa, sb = _significant(a), _significant(b)
        if _prefix_cover(sa, sb) or _prefix_cover(sb, sa):
            return True
    initials = "".join(w[0] for w in re.split(r"[^A-Za-z0-9]+", label) if w and w.lower() != "and")
    return re.sub(r"[^a-z]", "", ours.lower()) == initials.lower()


def same_name(ours: str, label: str) -> bool:
    """Stricter than names_correspond: the label IS our name (for the reverse check)."""
    return any(
        "".join(_significant(tokens(ours))) == "".join(_significant(tokens(c)))
        for c in [label] + re.findall(r"\(([^)]*)\)", label)
    )


@dataclass(frozen=True)
class Mapping:
    enum: type[IntEnum]
    field: str
    sentinel: tuple[int, str] | None = None  # (value, label) that picks one of two tables
    values: range | None = None  # the part of a shared table that is this registry's

    @property
    def id(self) -> str:
        return f"{self.enum.__name__}-{self.field}"


IKEV2 = range(33, 128)  # payload and exchange numbers shared with ISAKMP in one table
V1 = range(0, 33)

MAPPINGS = [
    # IKEv2
    Mapping(C.ExchangeType, "isakmp.exchangetype", values=IKEV2),
    Mapping(C.PayloadType, "isakmp.nextpayload", values=IKEV2),
    Mapping(C.TransformType, "isakmp.tf.type"),
    Mapping(C.EncrId, "isakmp.tf.id.encr"),
    Mapping(C.PrfId, "isakmp.tf.id.prf"),
    Mapping(C.IntegId, "isakmp.tf.id.integ"),
    Mapping(C.DhId, "isakmp.tf.id.dh"),
    Mapping(C.EsnId, "isakmp.tf.id.esn"),
    Mapping(C.TransformAttribute, "isakmp.ike2.attr.type"),
    Mapping(C.ProtocolId, "isakmp.prop.protoid", sentinel=(1, "IKE")),
    Mapping(C.ProtocolId, "isakmp.notify.protoid", sentinel=(1, "IKE")),
    Mapping(C.ProtocolId, "isakmp.delete.protoid", sentinel=(1, "IKE")),
    Mapping(C.IdType, "isakmp.id.type", sentinel=(3, "ID_RFC822_ADDR")),
    Mapping(C.CertEncoding, "isakmp.cert.encoding", sentinel=(11, "Raw RSA Key")),
    Mapping(C.CertEncoding, "isakmp.certreq.type", sentinel=(11, "Raw RSA Key")),
    Mapping(C.AuthMethod, "isakmp.auth.method"),
    Mapping(C.HashAlgorithm, "isakmp.notify.data.signature_hash_algorithms"),
    Mapping(C.NotifyType, "isakmp.notify.msgtype", sentinel=(17, "INVALID_KE_PAYLOAD")),
    Mapping(C.TsType, "isakmp.ts.type"),
    Mapping(C.CfgType, "isakmp.cfg.type", sentinel=(1, "CFG_REQUEST")),
    Mapping(C.CfgAttribute, "isakmp.cfg.attr.type", sentinel=(16, "MIP6_HOME_PREFIX")),
    Mapping(C.EapCode, "eap.code"),
    Mapping(C.EapType, "eap.type"),
    # ISAKMP / IKEv1
    Mapping(C.V1ExchangeType, "isakmp.exchangetype", values=V1),
    Mapping(C.V1PayloadType, "isakmp.nextpayload", values=range(0, 33)),
    Mapping(C.V1PayloadType, "isakmp.nextpayload", values=range(128, 256)),
    Mapping(C.V1Doi, "isakmp.sa.doi"),
    Mapping(C.V1ProtocolId, "isakmp.prop.protoid", sentinel=(1, "ISAKMP")),
    Mapping(C.V1Phase1Attribute, "isakmp.ike.attr.type"),
    Mapping(C.V1EncryptionAlgorithm, "isakmp.ike.attr.encryption_algorithm"),
    Mapping(C.V1HashAlgorithm, "isakmp.ike.attr.hash_algorithm"),
    Mapping(C.V1AuthMethod, "isakmp.ike.attr.authentication_method"),
    Mapping(C.DhId, "isakmp.ike.attr.group_description"),
    Mapping(C.DhId, "isakmp.key_exchange.dh_group"),
    Mapping(C.V1LifeType, "isakmp.ike.attr.life_type"),
    Mapping(C.V1LifeType, "isakmp.ipsec.attr.life_type"),
    Mapping(C.V1IpsecAttribute, "isakmp.ipsec.attr.type"),
    Mapping(C.V1EncapsulationMode, "isakmp.ipsec.attr.encap_mode"),
    Mapping(C.V1AuthenticationAlgorithm, "isakmp.ipsec.attr.auth_algorithm"),
    Mapping(C.V1IdType, "isakmp.id.type", sentinel=(3, "USER_FQDN")),
    Mapping(
        C.CertEncoding, "isakmp.cert.encoding", sentinel=(5, "X.509 Certificate - Key Exchange")
    ),
    Mapping(C.V1NotifyType, "isakmp.notify.msgtype", sentinel=(1, "INVALID-PAYLOAD-TYPE")),
    Mapping(C.V1CfgType, "isakmp.cfg.type", sentinel=(1, "ISAKMP_CFG_REQUEST")),
    Mapping(C.V1CfgAttribute, "isakmp.cfg.attr.type", sentinel=(16520, "XAUTH_TYPE")),
    Mapping(C.V1XauthType, "isakmp.cfg.attr.xauth.type"),
]

# (enum, member) -> why our name differs from Wireshark's label at the same value
EXCEPTIONS: dict[tuple[type[IntEnum], str], str] = {
    # RFC 7296 §3.2 payload notation vs Wireshark's long names
    (C.PayloadType, "IDi"): "RFC 7296 'IDi'; Wireshark 'Identification - Initiator'",
    (C.PayloadType, "IDr"): "RFC 7296 'IDr'; Wireshark 'Identification - Responder'",
    (C.PayloadType, "CERTREQ"): "RFC 7296 'CERTREQ'; Wireshark 'Certificate Request'",
    (C.PayloadType, "SK"): "RFC 7296 'SK'; Wireshark 'Encrypted and Authenticated'",
    (C.PayloadType, "CP"): "RFC 7296 'CP'; Wireshark 'Configuration'",
    (C.PayloadType, "EAP"): "RFC 7296 'EAP'; Wireshark 'Extensible Authentication'",
    (C.PayloadType, "IDg"): "RFC 6407 'IDg'; Wireshark 'Group Identification'",
    (C.PayloadType, "SKF"): "RFC 7383 'SKF'; Wireshark 'Encrypted and Authenticated Fragment'",
    # ISAKMP payload abbreviations (RFC 2408 §3.1, RFC 3547) vs long names
    (C.V1PayloadType, "ID"): "RFC 2408 'ID'; Wireshark 'Identification'",
    (C.V1PayloadType, "VID"): "RFC 2408 'VID'; Wireshark 'Vendor ID'",
    (C.V1PayloadType, "SAK"): "RFC 3547 'SAK'; Wireshark 'SA KEK Payload'",
    (C.V1PayloadType, "SAT"): "RFC 3547 'SAT'; Wireshark 'SA TEK Payload'",
    (C.EsnId, "NO_ESN"): "IANA 'No Extended Sequence Numbers', abbreviated",
    # Wireshark's slips
    (C.PrfId, "PRF_AES128_XCBC"): "IANA/RFC 4434 PRF_AES128_XCBC; Wireshark 4.0 'PRF_AES128_CBC'",
    (
        C.IdType,
        "ID_FC_NAME",
    ): "IANA/RFC 4595 ID_FC_NAME (12); Wireshark 4.0 keeps IKEv1's 'KEY_LIST'",
    (C.NotifyType, "AUTHORIZATION_FAILED"): "IANA/RFC 6407: 46 AUTHORIZATION_FAILED; Wireshark "
    "4.0 repeats 'CHILD_SA_NOT_FOUND' at 46",
    (C.V1CfgAttribute, "XAUTH_CHALLENGE"): "draft-ietf-ipsec-isakmp-xauth XAUTH_CHALLENGE; "
    "Wireshark spells 'XAUTH_CHALLANGE'",
    # genuine differences of naming
    (C.EapType, "MSCHAPV2"): "type 26 carries EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2, "
    "Windows, strongSwan); IANA and Wireshark call 26 'MS-EAP-"
    "Authentication' and list an unused 'EAP MSCHAP-V2' at 29",
    (C.V1EncryptionAlgorithm, "TRIPLEDES_CBC"): "'3DES-CBC' is not a Python identifier",
    (C.V1CfgAttribute, "UNITY_SPLITDNS_NAME"): "Cisco Unity 28675: strongSwan/libreswan name "
    "UNITY_SPLITDNS_NAME; Wireshark UNITY_SPLIT_DOMAIN",
    (C.V1CfgAttribute, "UNITY_LOCAL_LAN"): "Cisco Unity 28678: strongSwan name UNITY_LOCAL_LAN; "
    "Wireshark UNITY_SPLIT_EXCLUDE",
}


@pytest.fixture(scope="module", autouse=True)
def _tshark():
    policy.require_binary("tshark", "tshark")


def named_values(m: Mapping) -> dict[int, str]:
    """value -> Wireshark's label, for the values Wireshark names in this table."""
    candidates = wireshark_tables().get(m.field, [])
    if m.sentinel:
        v, label = m.sentinel
        candidates = [
            t for t in candidates if any(e.lo == e.hi == v and e.label == label for e in t)
        ]
    assert len(candidates) == 1, f"{m.field}: {len(candidates)} candidate tables (tshark changed?)"
    out = {}
    for e in candidates[0]:
        in_registry = m.values is None or e.lo in m.values
        if e.lo == e.hi and in_registry and not NOT_A_NAME.search(e.label):
            out[e.lo] = e.label
    return out


@pytest.mark.parametrize("mapping", MAPPINGS, ids=lambda m: m.id)
def test_our_names_match_wireshark(mapping: Mapping):
    ws = named_values(mapping)
    mismatches = [
        f"{mapping.enum.__name__}.{member.name} = {member.value}: "
        f"Wireshark says {ws[member.value]!r}"
        for member in mapping.enum
        if member.value in ws
        and (mapping.enum, member.name) not in EXCEPTIONS
        and not names_correspond(member.name, ws[member.value])
    ]
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("mapping", MAPPINGS, ids=lambda m: m.id)
def test_no_wireshark_label_names_our_member_elsewhere(mapping: Mapping):
    """A label equal to one of our names at another value means our value is wrong."""
    ws = named_values(mapping)
    wrong = []
    for value, label in ws.items():
        for member in mapping.enum:
            if (mapping.enum, member.name) in EXCEPTIONS or member.value == value:
                continue
            at_ours = ws.get(member.value)
            if same_name(member.name, label) and not (at_ours and same_name(member.name, at_ours)):
                wrong.append(
                    f"{mapping.enum.__name__}.{member.name} = {member.value}, but "
                    f"Wireshark has {label!r} at {value}"
                )
    assert not wrong, "\n".join(wrong)


def test_every_exception_is_still_needed():
    stale = []
    for (enum, name), reason in EXCEPTIONS.items():
        member = enum[name]
        labels = [named_values(m).get(member.value) for m in MAPPINGS if m.enum is enum]
        labels = [label for label in labels if label]
        if labels and all(names_correspond(name, label) for label in labels):
            stale.append(f"{enum.__name__}.{name}: now matches {labels} ({reason})")
        if not labels:
            stale.append(f"{enum.__name__}.{name}: Wireshark has no label for {member.value}")
    assert not stale, "\n".join(stale)


def test_shared_tables_are_told_apart():
    """The per-version tables differ where the registries do (sanity of the sentinels)."""
    v2 = named_values(
        Mapping(C.NotifyType, "isakmp.notify.msgtype", sentinel=(17, "INVALID_KE_PAYLOAD"))
    )
    v1 = named_values(
        Mapping(C.V1NotifyType, "isakmp.notify.msgtype", sentinel=(1, "INVALID-PAYLOAD-TYPE"))
    )
    assert v2[16384] == "INITIAL_CONTACT" and v1[24578] == "INITIAL-CONTACT"
    assert v1[17] == "INVALID-KEY-INFORMATION" and v2[17] == "INVALID_KE_PAYLOAD"


@pytest.mark.parametrize(
    "ours,label,expected",
    [
        ("MODP_2048", "2048 bit MODP group", True),
        ("BRAINPOOL_P256", "256-bit Brainpool ECP group", True),
        ("XAUTH_INIT_PRESHARED", "XAUTHInitPreShared", True),
        ("DH", "Diffie-Hellman Group (D-H)", True),
        ("SA", "Security Association", True),
        ("MD5_CHALLENGE", "MD5-Challenge EAP (EAP-MD5-CHALLENGE)", True),
        ("ECP_256", "384-bit random ECP group", False),
        ("NO_PROPOSAL_CHOSEN", "INVALID_KE_PAYLOAD", False),
        ("ESP", "AH", False),
    ],
)
def test_name_comparison(ours: str, label: str, expected: bool):
    assert names_correspond(ours, label) is expected
