"""ikesrv.crypto.proposals: strongSwan proposal syntax, and the responder's selection.

Selection rules under test (module docstring of proposals.py): our order wins; within a
type our preferred algorithm the peer offers; an unknown transform type rejects the
proposal (RFC 7296 §3.3.6); KEY_LENGTH must match (RFC 7296 §3.3.5); the KE group is
taken when acceptable; PFS and ESN in ESP; IKEv1 transforms ranked by our preference.
"""

from __future__ import annotations

import dataclasses

import pytest

from ikesrv.constants import (
    EncrId,
    EsnId,
    IntegId,
    PrfId,
    ProtocolId,
    TransformType,
    V1AuthenticationAlgorithm,
    V1AuthMethod,
    V1EncapsulationMode,
    V1EncryptionAlgorithm,
    V1EspTransformId,
    V1HashAlgorithm,
    V1IpsecAttribute,
    V1LifeType,
    V1Phase1Attribute,
    V1ProtocolId,
)
from ikesrv.crypto.proposals import (
    describe_offer,
    parse_esp_proposal,
    parse_ike_proposal,
    select_esp,
    select_ike,
)
from ikesrv.crypto.proposals_v1 import select_v1_phase1, select_v1_phase2
from ikesrv.wire import ikev1, ikev2

E, P, I, D, S = (TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH,
                 TransformType.ESN)
GCM16, CBC = EncrId.ENCR_AES_GCM_16, EncrId.ENCR_AES_CBC
SHA256, SHA1 = IntegId.AUTH_HMAC_SHA2_256_128, IntegId.AUTH_HMAC_SHA1_96


# ======================================================================================
# Parsing
# ======================================================================================

# text -> encr, integ, prf, dh, weak keywords
VALID_IKE = [
    ("aes256gcm16-prfsha384-ecp384", [(GCM16, 256)], [], [PrfId.PRF_HMAC_SHA2_384], [20], set()),
    ("aes256-sha256-modp2048", [(CBC, 256)], [SHA256], [PrfId.PRF_HMAC_SHA2_256], [14], set()),
    # strongSwan: without prf keyword the PRF follows each integrity algorithm ...
    ("aes128-sha256-sha1-ecp256", [(CBC, 128)], [SHA256, SHA1],
     [PrfId.PRF_HMAC_SHA2_256, PrfId.PRF_HMAC_SHA1], [19], {"sha1"}),
    # ... which is also how an AEAD proposal names its PRF; the integrity goes (RFC 5282 §8)
    ("aes256gcm16-sha384-ecp384", [(GCM16, 256)], [], [PrfId.PRF_HMAC_SHA2_384], [20], set()),
    ("aes128gcm16-sha1-modp1024", [(GCM16, 128)], [], [PrfId.PRF_HMAC_SHA1], [2],
     {"sha1", "modp1024"}),
    # an explicit PRF wins; integrity then only counts as integrity
    ("aes256gcm16-sha1-prfsha256-x25519", [(GCM16, 256)], [], [PrfId.PRF_HMAC_SHA2_256], [31],
     set()),
    ("aes256-sha1-prfsha256-modp2048", [(CBC, 256)], [SHA1], [PrfId.PRF_HMAC_SHA2_256], [14],
     {"sha1"}),
    # several per type, in our order; repeats change nothing; case and spaces are ignored
    ("aes256-aes128-AES256-sha512-sha256-modp3072-modp2048",
     [(CBC, 256), (CBC, 128)], [IntegId.AUTH_HMAC_SHA2_512_256, SHA256],
     [PrfId.PRF_HMAC_SHA2_512, PrfId.PRF_HMAC_SHA2_256], [15, 14], set()),
    (" aes256gcm16 - prfsha256 - curve25519 ", [(GCM16, 256)], [], [PrfId.PRF_HMAC_SHA2_256],
     [31], set()),
    ("chacha20poly1305-prfsha256-x448", [(EncrId.ENCR_CHACHA20_POLY1305, None)], [],
     [PrfId.PRF_HMAC_SHA2_256], [32], set()),
    ("3des-md5-modp1536", [(EncrId.ENCR_3DES, None)], [IntegId.AUTH_HMAC_MD5_96],
     [PrfId.PRF_HMAC_MD5], [5], {"3des", "md5", "modp1536"}),
    ("aes128-aesxcbc-modp2048", [(CBC, 128)], [IntegId.AUTH_AES_XCBC_96],
     [PrfId.PRF_AES128_XCBC], [14], set()),
    ("aes-sha-prfmd5-modp768", [(CBC, 128)], [SHA1], [PrfId.PRF_HMAC_MD5], [1],
     {"sha", "prfmd5", "modp768"}),
]


@pytest.mark.parametrize("text,encr,integ,prf,dh,weak", VALID_IKE)
def test_parse_ike(text, encr, integ, prf, dh, weak):
    spec = parse_ike_proposal(text)
    assert spec.protocol == ProtocolId.IKE
    assert list(spec.encr) == encr
    assert list(spec.integ) == integ
    assert list(spec.prf) == prf
    assert list(spec.dh) == dh
    assert spec.esn == ()
    assert spec.weak_algorithms == weak
    assert str(spec) == text


# text -> encr, integ, dh, esn, weak
VALID_ESP = [
    ("aes256gcm16", [(GCM16, 256)], [], [], [EsnId.NO_ESN], set()),
    ("aes256-sha256", [(CBC, 256)], [SHA256], [], [EsnId.NO_ESN], set()),
    ("aes256gcm16-sha256", [(GCM16, 256)], [], [], [EsnId.NO_ESN], set()),  # integ dropped
    ("aes128gcm16-md5", [(GCM16, 128)], [], [], [EsnId.NO_ESN], set()),  # md5 never acts
    ("aes256-sha256-modp2048", [(CBC, 256)], [SHA256], [14], [EsnId.NO_ESN], set()),  # PFS
    ("aes256gcm16-modp2048-none", [(GCM16, 256)], [], [14, 0], [EsnId.NO_ESN], set()),
    ("aes256gcm16-esn", [(GCM16, 256)], [], [], [EsnId.ESN], set()),
    ("aes256gcm16-noesn-esn", [(GCM16, 256)], [], [], [EsnId.NO_ESN, EsnId.ESN], set()),
    ("aes128ctr-aescmac", [(EncrId.ENCR_AES_CTR, 128)], [IntegId.AUTH_AES_CMAC_96], [],
     [EsnId.NO_ESN], set()),
    ("aes256ccm12", [(EncrId.ENCR_AES_CCM_12, 256)], [], [], [EsnId.NO_ESN], set()),
    ("3des-sha1-modp1024", [(EncrId.ENCR_3DES, None)], [SHA1], [2], [EsnId.NO_ESN],
     {"3des", "sha1", "modp1024"}),
]


@pytest.mark.parametrize("text,encr,integ,dh,esn,weak", VALID_ESP)
def test_parse_esp(text, encr, integ, dh, esn, weak):
    spec = parse_esp_proposal(text)
    assert spec.protocol == ProtocolId.ESP
    assert (list(spec.encr), list(spec.integ), list(spec.dh), list(spec.esn)) == (
        encr, integ, dh, esn)
    assert spec.prf == ()
    assert spec.weak_algorithms == weak


# (kind, text, version) -> the ValueError message (all of it)
INVALID = [
    ("ike", "", 2, "empty IKE proposal"),
    ("esp", "  ", 2, "empty ESP proposal"),
    ("ike", "aes999-sha256-modp2048", 2, "unknown algorithm 'aes999'"),
    ("ike", "aes256--sha256-modp2048", 2, "empty algorithm in proposal 'aes256--sha256-modp2048'"),
    ("ike", "aes256-sha256-modp2048-", 2, "empty algorithm in proposal 'aes256-sha256-modp2048-'"),
    ("ike", "camellia256-sha256-modp2048", 2, "algorithm 'camellia256' is not supported by ikesrv"),
    ("ike", "aes128ctr-sha256-modp2048", 2,
     "encryption algorithm 'aes128ctr' is not supported in IKE proposals"),
    ("ike", "aes128ccm16-prfsha256-modp2048", 2,
     "encryption algorithm 'aes128ccm16' is not supported in IKE proposals"),
    ("ike", "des-sha256-modp2048", 2,
     "encryption algorithm 'des' is not supported in IKE proposals"),
    ("esp", "des-sha256", 2, "encryption algorithm 'des' is not supported in ESP proposals"),
    ("ike", "aes256-sha256-ecp224", 2, "DH group 'ecp224' is not supported by ikesrv"),
    ("ike", "aes256-sha256", 2, "no DH group in IKE proposal 'aes256-sha256'"),
    ("ike", "aes256-modp2048", 2,
     "'aes256' needs an integrity algorithm (e.g. sha256) in IKE proposal 'aes256-modp2048'"),
    ("esp", "aes256", 2,
     "'aes256' needs an integrity algorithm (e.g. sha256) in ESP proposal 'aes256'"),
    ("ike", "sha256-modp2048", 2, "no encryption algorithm in IKE proposal 'sha256-modp2048'"),
    ("ike", "aes256gcm16-ecp256", 2,
     "no PRF in IKE proposal 'aes256gcm16-ecp256': add one (e.g. prfsha256)"),
    ("ike", "aes256gcm16-aes256-sha256-modp2048", 2,
     "AEAD 'aes256gcm16' and classic 'aes256' encryption cannot share a proposal"),
    ("esp", "aes256-aes256gcm16-sha256", 2,
     "AEAD 'aes256gcm16' and classic 'aes256' encryption cannot share a proposal"),
    ("ike", "aes256-sha256-esn-modp2048", 2, "'esn' is only valid in ESP proposals"),
    ("ike", "aes256-sha256-none", 2,
     "'none' is not valid in IKE proposals: a DH group is required"),
    ("esp", "aes256-sha256-prfsha256", 2, "'prfsha256' is a PRF: ESP proposals have none"),
    # IKEv1 phase 1: no AEAD, a hash for every integrity, the PRF is the hash's HMAC
    ("ike", "aes256gcm16-prfsha384-ecp384", 1,
     "encryption algorithm 'aes256gcm16' is not supported in IKEv1 IKE proposals"),
    ("ike", "aes256-aesxcbc-modp2048", 1,
     "integrity algorithm 'aesxcbc' is not supported in IKEv1 IKE proposals"),
    ("ike", "aes256-sha256-prfsha384-modp2048", 1,
     "'prfsha384' is not the HMAC of any hash in IKEv1 proposal 'aes256-sha256-prfsha384-modp2048':"
     " IKEv1 derives its PRF from the hash"),
    ("esp", "chacha20poly1305", 1,
     "encryption algorithm 'chacha20poly1305' is not supported in IKEv1 ESP proposals"),
    ("esp", "aes128-aescmac", 1,
     "integrity algorithm 'aescmac' is not supported in IKEv1 ESP proposals"),
]


@pytest.mark.parametrize("kind,text,version,message", INVALID)
def test_parse_errors(kind, text, version, message):
    parse = parse_ike_proposal if kind == "ike" else parse_esp_proposal
    with pytest.raises(ValueError) as exc:
        parse(text, version)
    assert str(exc.value) == message


def test_dh_groups_leave_out_none():
    assert parse_esp_proposal("aes128gcm16-modp2048-none-ecp256").dh_groups == (14, 19)
    assert parse_esp_proposal("aes128gcm16").dh_groups == ()
    assert parse_ike_proposal("aes128gcm16-prfsha256-x25519").dh_groups == (31,)


def test_ikev1_parse():
    spec = parse_ike_proposal("aes256-sha256-prfsha256-modp2048", 1)
    assert (spec.version, spec.prf) == (1, (PrfId.PRF_HMAC_SHA2_256,))
    esp = parse_esp_proposal("aes256gcm16-modp2048", 1)
    assert esp.dh == (14,)


# ======================================================================================
# IKEv2 selection
# ======================================================================================


def T_(type, id, key_length=None, attributes=()):
    return ikev2.Transform(type=type, id=id, key_length=key_length, attributes=list(attributes))


def prop(number, *transforms, protocol=ProtocolId.IKE, spi=b""):
    return ikev2.Proposal(number=number, protocol=protocol, spi=spi, transforms=list(transforms))


def ike(*texts):
    return [parse_ike_proposal(t) for t in texts]


def esp(*texts):
    return [parse_esp_proposal(t) for t in texts]


def offer(*texts, protocol=ProtocolId.IKE, spi=b""):
    """The peer's proposals, numbered from 1, from strongSwan strings."""
    parse = parse_ike_proposal if protocol == ProtocolId.IKE else parse_esp_proposal
    return [parse(t).to_wire(n, spi=spi) for n, t in enumerate(texts, 1)]


# ours, theirs, prefer_dh -> expected (number, name) or None
IKE_SELECTION = [
    # our order wins over the peer's
    (["aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048"],
     ["aes256-sha256-modp2048", "aes256gcm16-prfsha384-ecp384"], None,
     (2, "aes256gcm16-prfsha384-ecp384")),
    # for our proposal, the first peer proposal that fits
    (["aes256-sha256-modp2048"], ["aes256-sha256-modp2048", "aes256-sha256-modp2048"], None,
     (1, "aes256-sha256-prfsha256-modp2048")),
    # within a type, our preference among what the peer offers
    (["aes256-aes128-sha512-sha256-ecp384-modp2048"],
     ["aes128-aes256-sha256-sha512-modp2048-ecp384"], None,
     (1, "aes256-sha512-prfsha512-ecp384")),
    # the KE group is taken when acceptable ...
    (["aes256gcm16-prfsha384-ecp384-x25519"], ["aes256gcm16-prfsha384-x25519-ecp384"], 31,
     (1, "aes256gcm16-prfsha384-curve25519")),
    # ... else our preferred one (the caller answers INVALID_KE_PAYLOAD with it)
    (["aes256gcm16-prfsha384-ecp384-x25519"], ["aes256gcm16-prfsha384-x25519-ecp384"], 14,
     (1, "aes256gcm16-prfsha384-ecp384")),
    # ... and it does not move the choice of proposal: ours still wins
    (["aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048"],
     ["aes256-sha256-modp2048", "aes256gcm16-prfsha384-ecp384"], 14,
     (2, "aes256gcm16-prfsha384-ecp384")),
    # key lengths must match
    (["aes256-sha256-modp2048"], ["aes128-sha256-modp2048"], None, None),
    (["aes128gcm16-prfsha256-ecp256"], ["aes128gcm12-prfsha256-ecp256"], None, None),
    # every type must meet
    (["aes256-sha256-modp2048"], ["aes256-sha1-modp2048"], None, None),
    (["aes256-sha256-modp2048"], ["aes256-sha256-prfsha1-modp2048"], None, None),
    (["aes256-sha256-modp2048"], ["aes256-sha256-ecp256"], None, None),
    (["aes256-sha256-modp2048"], ["aes256gcm16-prfsha256-modp2048"], None, None),
    # weak algorithms in our list are negotiated like any other
    (["3des-sha1-modp1024"], ["aes256-sha256-modp2048", "3des-sha1-modp1024"], None,
     (2, "3des-sha1-prfsha1-modp1024")),
]


@pytest.mark.parametrize("ours,theirs,prefer,expected", IKE_SELECTION)
def test_select_ike(ours, theirs, prefer, expected):
    got = select_ike(ike(*ours), offer(*theirs), prefer_dh=prefer)
    if expected is None:
        assert got is None
    else:
        assert (got.number, got.name) == expected


def test_select_ike_result_fields_and_answer():
    theirs = offer("aes128gcm16-prfsha256-x25519", "aes256-sha256-modp2048")
    got = select_ike(ike("aes256-sha256-modp2048"), theirs)
    assert (got.number, got.protocol, got.spi) == (2, ProtocolId.IKE, b"")
    assert (got.encr, got.encr_key_len, got.integ, got.prf, got.dh, got.esn) == (
        CBC, 256, SHA256, PrfId.PRF_HMAC_SHA2_256, 14, None)
    assert (got.aead, got.encr_keymat_len, got.integ_key_len) == (False, 32, 32)
    assert got.weak_algorithms == frozenset()
    assert got.to_wire() == prop(2, T_(E, CBC, 256), T_(P, PrfId.PRF_HMAC_SHA2_256),
                                 T_(I, SHA256), T_(D, 14))
    # IKE SA rekey: 8-octet SPIs (RFC 7296 §3.3.1)
    assert got.to_wire(b"\x11" * 8).spi == b"\x11" * 8


def test_describe_offer():
    theirs = offer("aes128-aes256-sha1-modp1024", "aes256gcm16-prfsha384-ecp384")
    theirs.append(prop(3, T_(E, 1024, 128), T_(240, 7), T_(E, GCM16, 256, [(17, 1)])))
    assert describe_offer(theirs) == (
        "#1 IKE aes128/aes256-sha1-prfsha1-modp1024, "
        "#2 IKE aes256gcm16-prfsha384-ecp384, "
        "#3 IKE ENCR_1024_128/aes256gcm16(+attributes)-TYPE240_7")
    assert describe_offer(theirs, limit=1).endswith("... (2 more)")
    assert describe_offer([]) == "(no proposals)"
    got = select_ike(ike("aes256gcm16-prfsha384-ecp384"), theirs)
    assert got.describe() == got.name == "aes256gcm16-prfsha384-ecp384"


def test_select_ike_aead_sizes_and_weak():
    got = select_ike(ike("aes128gcm16-sha1-modp1024"), offer("aes128gcm16-prfsha1-modp1024"))
    assert (got.aead, got.integ, got.encr_keymat_len, got.integ_key_len) == (True, None, 20, 0)
    assert got.weak_algorithms == {"prfsha1", "modp1024"}


def test_unknown_transform_type_rejects_the_whole_proposal():
    # RFC 7296 §3.3.6; ADDKE1 (RFC 9370) is as unknown to ikesrv as type 240
    good = [T_(E, GCM16, 256), T_(P, PrfId.PRF_HMAC_SHA2_256), T_(D, 31)]
    for extra in (T_(TransformType.ADDKE1, 36), T_(240, 1)):
        theirs = [prop(1, *good, extra), prop(2, *good)]
        got = select_ike(ike("aes256gcm16-prfsha256-x25519"), theirs)
        assert got.number == 2
        assert select_ike(ike("aes256gcm16-prfsha256-x25519"), theirs[:1]) is None


def test_unknown_transform_id_is_only_unacceptable():
    theirs = [prop(1, T_(E, 1024, 256), T_(E, GCM16, 256), T_(P, 99),
                   T_(P, PrfId.PRF_HMAC_SHA2_256), T_(D, 999), T_(D, 31))]
    assert select_ike(ike("aes256gcm16-prfsha256-x25519"), theirs).name == \
        "aes256gcm16-prfsha256-curve25519"


@pytest.mark.parametrize("encr,acceptable", [
    (T_(E, CBC, 256), True),
    (T_(E, CBC), False),  # AES needs KEY_LENGTH (RFC 7296 §3.3.5)
    (T_(E, CBC, 128), False),
    (T_(E, CBC, 256, [(17, 1)]), False),  # an attribute we do not know
])
def test_key_length_and_attributes(encr, acceptable):
    theirs = [prop(1, encr, T_(I, SHA256), T_(P, PrfId.PRF_HMAC_SHA2_256), T_(D, 14))]
    assert (select_ike(ike("aes256-sha256-modp2048"), theirs) is not None) == acceptable


@pytest.mark.parametrize("key_length,acceptable", [(None, True), (256, False)])
def test_fixed_key_cipher_takes_no_key_length(key_length, acceptable):
    theirs = [prop(1, T_(E, EncrId.ENCR_CHACHA20_POLY1305, key_length),
                   T_(P, PrfId.PRF_HMAC_SHA2_256), T_(D, 31))]
    got = select_ike(ike("chacha20poly1305-prfsha256-x25519"), theirs)
    assert (got is not None) == acceptable
    if got:
        assert got.to_wire().transforms[0].key_length is None


def test_aead_ignores_offered_integrity():
    theirs = [prop(1, T_(E, GCM16, 256), T_(I, SHA256), T_(P, PrfId.PRF_HMAC_SHA2_384), T_(D, 20))]
    got = select_ike(ike("aes256gcm16-prfsha384-ecp384"), theirs)
    assert got.integ is None
    assert [t.type for t in got.to_wire().transforms] == [E, P, D]


def test_ike_proposal_with_esn_or_wrong_protocol():
    base = [T_(E, GCM16, 256), T_(P, PrfId.PRF_HMAC_SHA2_256), T_(D, 31)]
    ours = ike("aes256gcm16-prfsha256-x25519")
    assert select_ike(ours, [prop(1, *base, T_(S, 0))]) is None
    assert select_ike(ours, [prop(1, *base, protocol=ProtocolId.ESP, spi=b"1234")]) is None
    assert select_ike(ours, []) is None
    assert select_ike(esp("aes256gcm16"), [prop(1, *base)]) is None


def test_selection_through_the_codec():
    """The peer's SA encoded and decoded by ikesrv.wire, then selected."""
    sa = ikev2.SaPayload(proposals=offer("aes128-sha1-modp1024", "aes256gcm16-prfsha384-ecp384"))
    first, chain = ikev2.encode_payloads([sa])
    (decoded,) = ikev2.decode_payloads(chain, first)
    got = select_ike(ike("aes256gcm16-prfsha384-ecp384"), decoded.proposals, prefer_dh=20)
    assert (got.number, got.name) == (2, "aes256gcm16-prfsha384-ecp384")
    first, chain = ikev2.encode_payloads([ikev2.SaPayload(proposals=[got.to_wire()])])
    (answer,) = ikev2.decode_payloads(chain, first)
    assert answer.proposals == [got.to_wire()]


# -- ESP --

ESP_SPI = b"\xc1\xc2\xc3\xc4"

# ours, theirs, want_dh (the KE group), flag -> expected (number, name) or None
ESP_SELECTION = [
    (["aes256gcm16", "aes256-sha256"], ["aes256-sha256", "aes256gcm16"], None, None,
     (2, "aes256gcm16-noesn")),
    # ESN: the peer offers both, our order picks
    (["aes256gcm16-esn-noesn"], ["aes256gcm16-noesn-esn"], None, None, (1, "aes256gcm16-esn")),
    (["aes256gcm16"], ["aes256gcm16-esn-noesn"], None, None, (1, "aes256gcm16-noesn")),
    (["aes256gcm16-esn"], ["aes256gcm16-noesn"], None, None, None),
    # PFS required by us: a KE of a group both accept ...
    (["aes256gcm16-modp2048"], ["aes256gcm16-modp2048"], 14, None,
     (1, "aes256gcm16-modp2048-noesn")),
    (["aes256gcm16-modp2048-ecp256"], ["aes256gcm16-ecp256-modp2048"], 19, None,
     (1, "aes256gcm16-ecp256-noesn")),
    # ... another group is refused; pfs_any names the one we want (INVALID_KE_PAYLOAD)
    (["aes256gcm16-modp2048-ecp256"], ["aes256gcm16-ecp256-modp2048"], 31, None, None),
    (["aes256gcm16-modp2048-ecp256"], ["aes256gcm16-ecp256-modp2048"], None, "pfs_any",
     (1, "aes256gcm16-modp2048-noesn")),
    (["aes256gcm16-modp2048"], ["aes256gcm16-ecp256"], None, "pfs_any", None),
    # ... and no KE means no agreement
    (["aes256gcm16-modp2048"], ["aes256gcm16"], None, None, None),
    (["aes256gcm16-modp2048"], ["aes256gcm16-modp2048"], None, None, None),
    # no PFS configured: refused when the peer demands it ...
    (["aes256gcm16"], ["aes256gcm16-modp2048"], None, None, None),
    (["aes256gcm16"], ["aes256gcm16-modp2048"], 14, None, None),
    (["aes256gcm16"], ["aes256gcm16-modp2048"], None, "pfs_any", None),
    # ... accepted when the peer makes it optional with DH NONE
    (["aes256gcm16"], ["aes256gcm16-modp2048-none"], None, None, (1, "aes256gcm16-noesn")),
    # PFS optional on our side
    (["aes256gcm16-modp2048-none"], ["aes256gcm16"], None, None, (1, "aes256gcm16-noesn")),
    (["aes256gcm16-modp2048-none"], ["aes256gcm16-modp2048"], 14, None,
     (1, "aes256gcm16-modp2048-noesn")),
    # our order wins even with a KE: the peer's second proposal is ours first
    (["aes256gcm16-modp2048", "aes128gcm16-modp2048"],
     ["aes128gcm16-modp2048", "aes256gcm16-modp2048"], 14, None,
     (2, "aes256gcm16-modp2048-noesn")),
    # IKE_AUTH: no KE there, DH transforms are ignored on both sides (RFC 7296 §1.2)
    (["aes256gcm16-modp2048"], ["aes256gcm16-ecp256"], None, "ignore_dh", (1, "aes256gcm16-noesn")),
    (["aes256gcm16"], ["aes256gcm16-modp2048"], None, "ignore_dh", (1, "aes256gcm16-noesn")),
    # classic ESP needs a common integrity algorithm
    (["aes256-sha256"], ["aes256-sha1"], None, None, None),
    (["aes256-sha512-sha256"], ["aes128-aes256-sha256-sha512"], None, None,
     (1, "aes256-sha512-noesn")),
]


@pytest.mark.parametrize("ours,theirs,want_dh,flag,expected", ESP_SELECTION)
def test_select_esp(ours, theirs, want_dh, flag, expected):
    kwargs = {flag: True} if flag else {}
    got = select_esp(esp(*ours), offer(*theirs, protocol=ProtocolId.ESP, spi=ESP_SPI),
                     want_dh, **kwargs)
    if expected is None:
        assert got is None
    else:
        assert (got.number, got.name) == expected
        assert got.spi == ESP_SPI
        if want_dh is not None:
            assert got.dh == want_dh


def test_esp_answer_carries_our_spi_and_the_peers_number():
    theirs = offer("aes128gcm16", "aes256-sha256-esn", protocol=ProtocolId.ESP, spi=ESP_SPI)
    got = select_esp(esp("aes256-sha256-esn"), theirs)
    assert (got.encr_keymat_len, got.integ_key_len, got.use_esn) == (32, 32, True)
    assert got.to_wire(b"\x0a\x0b\x0c\x0d") == prop(
        2, T_(E, CBC, 256), T_(I, SHA256), T_(S, EsnId.ESN), protocol=ProtocolId.ESP,
        spi=b"\x0a\x0b\x0c\x0d")


def test_esp_without_esn_transform_reads_as_no_esn():
    theirs = [prop(1, T_(E, GCM16, 128), protocol=ProtocolId.ESP, spi=ESP_SPI)]
    got = select_esp(esp("aes128gcm16"), theirs)
    assert (got.esn, got.use_esn) == (None, False)
    assert [t.type for t in got.to_wire(ESP_SPI).transforms] == [E]  # answer as asked
    assert select_esp(esp("aes128gcm16-esn"), theirs) is None


def test_esp_proposal_with_prf_is_rejected():
    theirs = [prop(1, T_(E, GCM16, 128), T_(P, PrfId.PRF_HMAC_SHA2_256), T_(S, 0),
                   protocol=ProtocolId.ESP, spi=ESP_SPI)]
    assert select_esp(esp("aes128gcm16"), theirs) is None


def test_esp_initiator_proposal_for_ike_auth_leaves_out_dh():
    spec = parse_esp_proposal("aes256gcm16-modp2048-esn")
    assert [t.type for t in spec.to_wire(1, spi=ESP_SPI).transforms] == [E, D, S]
    assert [t.type for t in spec.to_wire(1, spi=ESP_SPI, include_dh=False).transforms] == [E, S]
    assert spec.to_wire(1, spi=ESP_SPI).protocol == ProtocolId.ESP


# ======================================================================================
# IKEv1 phase 1
# ======================================================================================

A1 = V1Phase1Attribute


def v1attr(type, value):
    return ikev1.Attribute(type=type, value=value)


def p1_transform(number, encr, hash_, auth, group, key_length=None, extra=(), life=None):
    attrs = [v1attr(A1.ENCRYPTION_ALGORITHM, encr)]
    if key_length is not None:
        attrs.append(v1attr(A1.KEY_LENGTH, key_length))
    attrs += [v1attr(A1.HASH_ALGORITHM, hash_), v1attr(A1.AUTHENTICATION_METHOD, auth),
              v1attr(A1.GROUP_DESCRIPTION, group)]
    attrs += list(extra)
    for life_type, duration in life or ():
        attrs += [v1attr(A1.LIFE_TYPE, life_type), v1attr(A1.LIFE_DURATION, duration)]
    return ikev1.Transform(number=number, transform_id=1, attributes=attrs)


def p1_proposal(*transforms, number=1):
    return ikev1.Proposal(number=number, protocol=V1ProtocolId.PROTO_ISAKMP, spi=b"",
                          transforms=list(transforms))


AES, TDES = V1EncryptionAlgorithm.AES_CBC, V1EncryptionAlgorithm.TRIPLEDES_CBC
H256, HSHA = V1HashAlgorithm.SHA2_256, V1HashAlgorithm.SHA
PSK, RSA = V1AuthMethod.PRE_SHARED_KEY, V1AuthMethod.RSA_SIGNATURES
XAUTH_PSK = V1AuthMethod.XAUTH_INIT_PRESHARED


def v1ike(*texts):
    return [parse_ike_proposal(t, 1) for t in texts]


def test_phase1_our_order_wins_across_transforms():
    peer = p1_proposal(
        p1_transform(1, TDES, HSHA, PSK, 2),
        p1_transform(2, AES, HSHA, PSK, 14, 128),
        p1_transform(3, AES, H256, PSK, 14, 256),
        p1_transform(4, AES, H256, PSK, 14, 128),
    )
    got = select_v1_phase1(v1ike("aes256-aes128-sha256-sha1-modp2048"), [peer])
    assert (got.transform_number, got.encr, got.encr_key_len, got.hash, got.dh) == (
        3, CBC, 256, H256, 14)
    assert (got.prf, got.hash_name, got.encr_key_bytes) == (PrfId.PRF_HMAC_SHA2_256, "sha256", 32)
    # our first spec finds nothing: the next one is tried
    got = select_v1_phase1(v1ike("aes256-sha512-modp4096", "3des-sha1-modp1024"), [peer])
    assert (got.transform_number, got.encr, got.encr_key_len) == (1, EncrId.ENCR_3DES, 192)


def test_phase1_ties_go_to_the_peers_order():
    peer = p1_proposal(p1_transform(5, AES, H256, RSA, 14, 256),
                       p1_transform(6, AES, H256, PSK, 14, 256))
    assert select_v1_phase1(v1ike("aes256-sha256-modp2048"), [peer]).transform_number == 5


def test_phase1_auth_methods():
    peer = p1_proposal(p1_transform(1, AES, H256, RSA, 14, 256),
                       p1_transform(2, AES, H256, XAUTH_PSK, 14, 256))
    ours = v1ike("aes256-sha256-modp2048")
    got = select_v1_phase1(ours, [peer], auth_methods={XAUTH_PSK, PSK})
    assert (got.transform_number, got.auth_method) == (2, XAUTH_PSK)
    assert select_v1_phase1(ours, [peer], auth_methods={PSK}) is None


@pytest.mark.parametrize("life,seconds,kilobytes", [
    (None, None, None),
    ([(V1LifeType.SECONDS, 28800)], 28800, None),
    ([(V1LifeType.SECONDS, b"\x00\x01\x51\x80")], 86400, None),  # TLV form (RFC 2408 §3.3)
    ([(V1LifeType.KILOBYTES, 4608000), (V1LifeType.SECONDS, 3600)], 3600, 4608000),
])
def test_phase1_lifetimes(life, seconds, kilobytes):
    peer = p1_proposal(p1_transform(1, AES, H256, PSK, 14, 256, life=life))
    got = select_v1_phase1(v1ike("aes256-sha256-modp2048"), [peer])
    assert (got.life_seconds, got.life_kilobytes) == (seconds, kilobytes)


@pytest.mark.parametrize("transform", [
    p1_transform(1, AES, H256, PSK, 14, 128),  # key length mismatch
    p1_transform(1, AES, H256, PSK, 19, 256),  # group not ours
    p1_transform(1, AES, HSHA, PSK, 14, 256),  # hash not ours
    p1_transform(1, V1EncryptionAlgorithm.CAMELLIA_CBC, H256, PSK, 14, 256),
    p1_transform(1, AES, H256, PSK, 14, 256, extra=[v1attr(A1.GROUP_TYPE, 1)]),  # unknown class
    p1_transform(1, AES, H256, PSK, 14, 256, extra=[v1attr(A1.PRF, 1)]),
    p1_transform(1, AES, H256, PSK, 14, 256, extra=[v1attr(A1.HASH_ALGORITHM, H256)]),  # repeated
    ikev1.Transform(number=1, transform_id=1, attributes=[  # duration without a life type
        v1attr(A1.ENCRYPTION_ALGORITHM, AES), v1attr(A1.KEY_LENGTH, 256),
        v1attr(A1.HASH_ALGORITHM, H256), v1attr(A1.AUTHENTICATION_METHOD, PSK),
        v1attr(A1.GROUP_DESCRIPTION, 14), v1attr(A1.LIFE_DURATION, 3600)]),
    ikev1.Transform(number=1, transform_id=1, attributes=[  # no group
        v1attr(A1.ENCRYPTION_ALGORITHM, AES), v1attr(A1.KEY_LENGTH, 256),
        v1attr(A1.HASH_ALGORITHM, H256), v1attr(A1.AUTHENTICATION_METHOD, PSK)]),
])
def test_phase1_unacceptable_transforms(transform):
    assert select_v1_phase1(v1ike("aes256-sha256-modp2048"), [p1_proposal(transform)]) is None


def test_phase1_aes_without_key_length_is_aes128():
    peer = p1_proposal(p1_transform(1, AES, H256, PSK, 14))
    assert select_v1_phase1(v1ike("aes256-sha256-modp2048"), [peer]) is None
    got = select_v1_phase1(v1ike("aes128-sha256-modp2048"), [peer])
    assert got.encr_key_len == 128


@pytest.mark.parametrize("key_length,acceptable", [(None, True), (192, True), (128, False)])
def test_phase1_3des_key_length(key_length, acceptable):
    peer = p1_proposal(p1_transform(1, TDES, HSHA, PSK, 2, key_length))
    assert (select_v1_phase1(v1ike("3des-sha1-modp1024"), [peer]) is not None) == acceptable


def test_phase1_answer_echoes_the_transform():
    t = p1_transform(7, AES, H256, PSK, 14, 256, life=[(V1LifeType.SECONDS, 86400)])
    got = select_v1_phase1(v1ike("aes256-sha256-modp2048"), [p1_proposal(t, number=1)])
    assert got.to_wire() == p1_proposal(t)


def test_phase1_initiator_proposal_round_trip():
    spec = parse_ike_proposal("aes128-aes256-sha256-modp2048-ecp256", 1)
    proposal = spec.to_v1_phase1(auth_method=PSK, life_seconds=100000)
    assert [t.number for t in proposal.transforms] == [1, 2, 3, 4]
    sa = ikev1.SaPayload(doi=1, situation=1, proposals=[proposal])
    first, chain = ikev1.encode_payloads([sa])
    (sa,) = ikev1.decode_payloads(chain, first)
    got = select_v1_phase1(v1ike("aes256-sha256-modp2048"), sa.proposals)
    assert (got.transform_number, got.encr_key_len, got.dh, got.life_seconds) == (
        3, 256, 14, 100000)


# ======================================================================================
# IKEv1 phase 2 (Quick Mode)
# ======================================================================================

A2 = V1IpsecAttribute
ESP_AES, ESP_GCM16 = V1EspTransformId.ESP_AES, V1EspTransformId.ESP_AES_GCM_16
TUNNEL, UDP_TUNNEL = V1EncapsulationMode.TUNNEL, V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL
DRAFT_TUNNEL = V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT
TRANSPORT = V1EncapsulationMode.TRANSPORT
HMAC256 = V1AuthenticationAlgorithm.HMAC_SHA2_256


def p2_transform(number, tid, *, key_length=None, auth=None, mode=TUNNEL, group=None, esn=None,
                 life=None, extra=()):
    attrs = []
    for life_type, duration in life or ():
        attrs += [v1attr(A2.SA_LIFE_TYPE, life_type), v1attr(A2.SA_LIFE_DURATION, duration)]
    if group is not None:
        attrs.append(v1attr(A2.GROUP_DESCRIPTION, group))
    if mode is not None:
        attrs.append(v1attr(A2.ENCAPSULATION_MODE, mode))
    if auth is not None:
        attrs.append(v1attr(A2.AUTHENTICATION_ALGORITHM, auth))
    if key_length is not None:
        attrs.append(v1attr(A2.KEY_LENGTH, key_length))
    if esn is not None:
        attrs.append(v1attr(A2.EXTENDED_SEQUENCE_NUMBER, esn))
    return ikev1.Transform(number=number, transform_id=tid, attributes=attrs + list(extra))


def p2_proposal(*transforms, number=1, protocol=V1ProtocolId.PROTO_IPSEC_ESP, spi=ESP_SPI):
    return ikev1.Proposal(number=number, protocol=protocol, spi=spi, transforms=list(transforms))


def v1esp(*texts):
    return [parse_esp_proposal(t, 1) for t in texts]


def test_phase2_our_order_and_result():
    peer = p2_proposal(
        p2_transform(1, ESP_AES, key_length=128, auth=HMAC256, life=[(V1LifeType.SECONDS, 3600)]),
        p2_transform(2, ESP_GCM16, key_length=256),
        p2_transform(3, ESP_AES, key_length=256, auth=HMAC256,
                     life=[(V1LifeType.SECONDS, 3600), (V1LifeType.KILOBYTES, 250000)]),
    )
    got = select_v1_phase2(v1esp("aes256-sha256", "aes256gcm16"), [peer], None)
    assert (got.transform_number, got.encr, got.encr_key_len, got.integ, got.auth_algorithm) == (
        3, CBC, 256, SHA256, HMAC256)
    assert (got.dh, got.esn, got.encapsulation_mode) == (None, False, TUNNEL)
    assert (got.life_seconds, got.life_kilobytes) == (3600, 250000)
    assert (got.encr_keymat_len, got.integ_key_len) == (32, 32)
    our_spi = b"\x0a\x0b\x0c\x0d"
    assert got.to_wire(our_spi) == p2_proposal(peer.transforms[2], spi=our_spi)
    got = select_v1_phase2(v1esp("aes256gcm16", "aes256-sha256"), [peer], None)
    assert (got.transform_number, got.integ, got.encr_keymat_len) == (2, None, 36)


@pytest.mark.parametrize("mode,modes,acceptable", [
    (TUNNEL, None, True),
    (UDP_TUNNEL, None, True),  # RFC 3947 §5
    (DRAFT_TUNNEL, None, True),  # draft-ietf-ipsec-nat-t-ike-02/03
    (None, None, True),  # unspecified (RFC 2407 §4.5)
    (TRANSPORT, None, False),
    (TRANSPORT, {TRANSPORT}, True),  # L2TP/IPsec clients
    (UDP_TUNNEL, {TUNNEL}, False),  # no NAT detected: no UDP encapsulation
])
def test_phase2_encapsulation_modes(mode, modes, acceptable):
    peer = p2_proposal(p2_transform(1, ESP_GCM16, key_length=128, mode=mode))
    kwargs = {} if modes is None else {"modes": modes}
    got = select_v1_phase2(v1esp("aes128gcm16"), [peer], None, **kwargs)
    assert (got is not None) == acceptable
    if got:
        assert got.encapsulation_mode == mode


# ours, transform group, KE group -> acceptable
PFS = [
    ("aes128gcm16-modp2048", 14, 14, True),
    ("aes128gcm16-modp2048", None, None, False),  # we demand PFS
    ("aes128gcm16-modp2048", 19, 19, False),  # not our group
    ("aes128gcm16-modp2048", 14, None, False),  # a group but no KE (RFC 2409 §5.5)
    ("aes128gcm16", None, None, True),
    ("aes128gcm16", 14, 14, False),  # no PFS configured
    ("aes128gcm16-modp2048-none", None, None, True),
    ("aes128gcm16-modp2048-none", 14, 14, True),
]


@pytest.mark.parametrize("ours,group,ke_group,acceptable", PFS)
def test_phase2_pfs(ours, group, ke_group, acceptable):
    peer = p2_proposal(p2_transform(1, ESP_GCM16, key_length=128, group=group))
    got = select_v1_phase2(v1esp(ours), [peer], ke_group)
    assert (got is not None) == acceptable
    if got:
        assert got.dh == ke_group


@pytest.mark.parametrize("transform,acceptable", [
    (p2_transform(1, ESP_GCM16, key_length=128, auth=HMAC256), False),  # AEAD takes no auth
    (p2_transform(1, ESP_AES, key_length=128), False),  # CBC without auth
    (p2_transform(1, ESP_AES, key_length=128, auth=HMAC256, extra=[v1attr(A2.KEY_ROUNDS, 10)]),
     False),
    (p2_transform(1, ESP_AES, key_length=128, auth=HMAC256,
                  extra=[v1attr(A2.ECN_TUNNEL, 1)]), True),
    (p2_transform(1, ESP_AES, auth=HMAC256), True),  # AES without KEY_LENGTH: AES-128
    (p2_transform(1, V1EspTransformId.ESP_CAMELLIA, key_length=128, auth=HMAC256), False),
])
def test_phase2_transform_rules(transform, acceptable):
    got = select_v1_phase2(v1esp("aes128gcm16", "aes128-sha256"), [p2_proposal(transform)], None)
    assert (got is not None) == acceptable


@pytest.mark.parametrize("ours,esn_attr,expected", [
    ("aes128gcm16-esn", 1, True),  # RFC 4304
    ("aes128gcm16-esn", None, None),  # no attribute: no ESN, which we refuse
    ("aes128gcm16", 1, None),
    ("aes128gcm16", None, False),
    ("aes128gcm16-noesn-esn", 1, True),
])
def test_phase2_esn(ours, esn_attr, expected):
    peer = p2_proposal(p2_transform(1, ESP_GCM16, key_length=128, esn=esn_attr))
    got = select_v1_phase2(v1esp(ours), [peer], None)
    if expected is None:
        assert got is None
    else:
        assert got.esn == expected


def test_phase2_esn_preference_across_transforms():
    peer = p2_proposal(p2_transform(1, ESP_GCM16, key_length=128),
                       p2_transform(2, ESP_GCM16, key_length=128, esn=1))
    assert select_v1_phase2(v1esp("aes128gcm16-esn-noesn"), [peer], None).transform_number == 2
    assert select_v1_phase2(v1esp("aes128gcm16-noesn-esn"), [peer], None).transform_number == 1


def test_phase2_bundles_are_skipped():
    esp_part = p2_proposal(p2_transform(1, ESP_GCM16, key_length=128), number=1)
    ipcomp = p2_proposal(ikev1.Transform(number=1, transform_id=2, attributes=[]), number=1,
                         protocol=V1ProtocolId.PROTO_IPCOMP, spi=b"\x00\x01")
    alone = p2_proposal(p2_transform(1, ESP_GCM16, key_length=128), number=2)
    ours = v1esp("aes128gcm16")
    assert select_v1_phase2(ours, [esp_part, ipcomp], None) is None
    assert select_v1_phase2(ours, [esp_part, ipcomp, alone], None).proposal_number == 2


def test_phase2_initiator_proposal_round_trip():
    spec = parse_esp_proposal("aes128-aes256-sha1-sha256-modp2048-esn", 1)
    proposal = spec.to_v1_esp(1, ESP_SPI, mode=UDP_TUNNEL, life_seconds=3600)
    sa = ikev1.SaPayload(doi=1, situation=1, proposals=[proposal])
    first, chain = ikev1.encode_payloads([sa])
    (sa,) = ikev1.decode_payloads(chain, first)
    got = select_v1_phase2(v1esp("aes256-sha256-modp2048-esn"), sa.proposals, 14)
    assert [t.number for t in sa.proposals[0].transforms] == [1, 2, 3, 4]
    assert (got.transform_number, got.encr, got.encr_key_len, got.dh, got.esn, got.spi) == (
        4, CBC, 256, 14, True, ESP_SPI)
    assert got.life_seconds == 3600


@pytest.mark.parametrize("build", [
    lambda: parse_ike_proposal("aes128-aesxcbc-modp2048").to_v1_phase1(auth_method=PSK),
    lambda: parse_ike_proposal("aes128gcm16-prfsha256-modp2048").to_v1_phase1(auth_method=PSK),
    lambda: parse_esp_proposal("aes128-aescmac").to_v1_esp(),
    lambda: parse_esp_proposal("chacha20poly1305").to_v1_esp(),
], ids=["xcbc", "gcm-phase1", "cmac-esp", "chacha-esp"])
def test_ikev2_only_proposals_cannot_be_sent_in_ikev1(build):
    with pytest.raises(ValueError, match="cannot be expressed as an IKEv1"):
        build()


# ======================================================================================
# Decisions remembered per offer (the same offer from client after client)
# ======================================================================================


def _decoded_v2(proposals):
    first, chain = ikev2.encode_payloads([ikev2.SaPayload(proposals=proposals)])
    (sa,) = ikev2.decode_payloads(chain, first)
    return sa.proposals


def _decoded_v1(proposals):
    first, chain = ikev1.encode_payloads([ikev1.SaPayload(doi=1, situation=1,
                                                          proposals=proposals)])
    (sa,) = ikev1.decode_payloads(chain, first)
    return sa.proposals


def test_decoded_proposals_carry_their_octets_and_equality_ignores_them():
    a = _decoded_v2(offer("aes128-sha256-x25519"))
    b = _decoded_v2(offer("aes128-sha256-x25519"))
    c = _decoded_v2(offer("aes256-sha256-x25519"))
    assert a[0].wire is not None and a[0].wire == b[0].wire != c[0].wire
    assert a == offer("aes128-sha256-x25519")  # built and decoded: equal, wire or not
    assert offer("aes128-sha256-x25519")[0].wire is None


def test_remembered_esp_choice_takes_each_offers_own_spi_and_number():
    ours = esp("aes256gcm16", "aes128-sha256")
    answers = []
    for spi, number in ((b"\x01\x01\x01\x01", 1), (b"\x02\x02\x02\x02", 1),
                        (b"\x03\x03\x03\x03", 1)):
        theirs = _decoded_v2([esp("aes128-sha256")[0].to_wire(number, spi=spi)])
        got = select_esp(ours, theirs, ignore_dh=True)
        answers.append((got.spi, got.number, got.name))
    assert answers == [(b"\x01" * 4, 1, "aes128-sha256-noesn"),
                       (b"\x02" * 4, 1, "aes128-sha256-noesn"),
                       (b"\x03" * 4, 1, "aes128-sha256-noesn")]


def test_remembered_choice_depends_on_all_that_decides_it():
    theirs = _decoded_v2(offer("aes128-sha256-ecp256-x25519"))
    ours = ike("aes128-sha256-x25519-ecp256")
    assert select_ike(ours, theirs, prefer_dh=19).dh == 19  # the KE's group is taken
    assert select_ike(ours, theirs, prefer_dh=31).dh == 31
    assert select_ike(ours, theirs, prefer_dh=None).dh == 31  # else our preference
    # another configuration (a reload) decides afresh for the very same offer
    assert select_ike(ike("aes256-sha256-x25519"), theirs, prefer_dh=31) is None
    assert select_ike(ike("aes128-sha256-ecp256"), theirs, prefer_dh=31).dh == 19
    # no proposal chosen is remembered too, and stays so
    refused = _decoded_v2(offer("aes128-sha1-modp1024"))
    assert select_ike(ours, refused, prefer_dh=2) is None
    assert select_ike(ours, refused, prefer_dh=2) is None


def test_remembered_choices_are_bounded(monkeypatch):
    from ikesrv.crypto import proposals
    monkeypatch.setattr(proposals, "_DECISIONS", {})
    monkeypatch.setattr(proposals, "_DECISIONS_KEPT", 8)
    ours = esp("aes128-sha256")
    for n in range(1, 40):  # offers that differ (in a key length nobody accepts)
        theirs = _decoded_v2([prop(1, T_(TransformType.ENCR, EncrId.ENCR_AES_CBC, 8 * n),
                                   T_(TransformType.INTEG, IntegId.AUTH_HMAC_SHA2_256_128),
                                   protocol=ProtocolId.ESP, spi=b"\x01" * 4)])
        select_esp(ours, theirs, ignore_dh=True)
        assert len(proposals._DECISIONS) <= 8


def test_remembered_quick_mode_choice_takes_each_offers_spi():
    ours = v1esp("aes256-sha256", "aes256gcm16")
    spis, rest = [], []
    for spi in (b"\x0a" * 4, b"\x0b" * 4):
        peer = _decoded_v1([p2_proposal(
            p2_transform(1, ESP_AES, key_length=128, auth=HMAC256),
            p2_transform(2, ESP_AES, key_length=256, auth=HMAC256), spi=spi)])
        got = select_v1_phase2(ours, peer, None)
        spis.append((got.spi, got.transform_number, got.transform == peer[0].transforms[1]))
        rest.append({f.name: getattr(got, f.name) for f in dataclasses.fields(got)
                     if f.name not in ("spi", "transform")})
    assert spis == [(b"\x0a" * 4, 2, True), (b"\x0b" * 4, 2, True)]
    assert rest[0] == rest[1] and rest[0]["encr_key_len"] == 256  # all but the SPI kept
    # what the exchange adds to the choice counts: PFS asked but not in the offer
    assert select_v1_phase2(ours, peer, 14) is None
    assert select_v1_phase2(ours, peer, None, modes={TRANSPORT}) is None


def test_remembered_phase1_choice_depends_on_the_auth_methods():
    peer = _decoded_v1([p1_proposal(p1_transform(1, AES, H256, PSK, 14, 128))])
    ours = v1ike("aes128-sha256-modp2048")
    assert select_v1_phase1(ours, peer).auth_method == PSK
    assert select_v1_phase1(ours, peer, auth_methods={PSK}).auth_method == PSK
    assert select_v1_phase1(ours, peer, auth_methods={RSA}) is None
