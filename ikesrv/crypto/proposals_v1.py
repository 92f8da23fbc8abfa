"""IKEv1 proposal selection, responder side: one (proposal, transform) of the peer's offer.

Owns: select_v1_phase1 (Main/Aggressive Mode SA: ISAKMP transforms with their attributes)
and select_v1_phase2 (Quick Mode: ESP transforms), both against the ProposalSpecs that
proposals.py parses from the configuration (the same strings serve IKEv1 and IKEv2).

Each IKEv1 transform is a complete suite, so the acceptable (proposal, transform) pair
that ranks best by our preference wins, ties by the peer's order. An unknown attribute
makes a transform unacceptable; lifetimes are read in seconds and kilobytes, and the
answer carries the peer's transform unmodified (a shorter limit of ours goes in a
RESPONDER-LIFETIME notify, chosen by the caller).

Must not import: anything above ikesrv.crypto and ikesrv.wire (payload classes only).
RFC 2409 §5, App. A; RFC 2407 §4.4-§4.5; RFC 3947 §5; RFC 4304.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from ..constants import (
    EsnId,
    ProtocolId,
    V1EncapsulationMode,
    V1IpsecAttribute,
    V1IsakmpTransformId,
    V1LifeType,
    V1Phase1Attribute,
    V1ProtocolId,
)
from ..wire import ikev1
from . import transforms as T
from .proposals import ProposalSpec, remembered_decision

#: Encapsulation modes select_v1_phase2 accepts unless told otherwise: tunnel, and
#: UDP-encapsulated tunnel in its RFC 3947 and draft numbering.
TUNNEL_MODES = (V1EncapsulationMode.TUNNEL, V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL,
                V1EncapsulationMode.UDP_ENCAPSULATED_TUNNEL_DRAFT)


@dataclass(frozen=True, slots=True)
class V1Phase1Selection:
    """The phase 1 transform chosen (RFC 2409 §5: one proposal, one transform back)."""

    proposal_number: int
    transform_number: int
    spi: bytes
    encr: int  # IKEv2 ENCR ID of the cipher (AES-CBC, 3DES)
    encr_key_len: int  # bits
    hash: int  # V1HashAlgorithm
    prf: int  # IKEv2 PRF ID of HMAC-<hash>, the IKEv1 PRF (RFC 2409 §4)
    auth_method: int  # V1AuthMethod
    dh: int
    life_seconds: int | None
    life_kilobytes: int | None
    transform: ikev1.Transform = field(repr=False, compare=False)  # as received

    @property
    def hash_name(self) -> str:
        return T.V1_HASH_NAMES[self.hash]

    @property
    def encr_key_bytes(self) -> int:
        return self.encr_key_len // 8

    def to_wire(self) -> ikev1.Proposal:
        """The SA proposal of our answer: the peer's numbers, its transform unmodified
        (lifetimes included; shorter limits of ours go in a RESPONDER-LIFETIME notify)."""
        return ikev1.Proposal(number=self.proposal_number, protocol=V1ProtocolId.PROTO_ISAKMP,
                              spi=self.spi, transforms=[self.transform])


@dataclass(frozen=True, slots=True)
class V1Phase2Selection:
    """The Quick Mode ESP transform chosen."""

    proposal_number: int
    transform_number: int
    spi: bytes  # the peer's SPI
    transform_id: int  # V1EspTransformId
    encr: int  # IKEv2 ENCR ID (for key lengths and the kernel)
    encr_key_len: int | None  # bits; None for fixed-key ciphers
    integ: int | None  # IKEv2 INTEG ID; None with AEAD
    auth_algorithm: int | None  # V1AuthenticationAlgorithm as received
    dh: int | None  # PFS group, None without PFS
    esn: bool
    encapsulation_mode: int | None  # None when the peer left it out (RFC 2407 §4.5)
    life_seconds: int | None
    life_kilobytes: int | None
    transform: ikev1.Transform = field(repr=False, compare=False)

    @property
    def encr_keymat_len(self) -> int:
        return T.ENCR[self.encr].keymat_len(self.encr_key_len)

    @property
    def integ_key_len(self) -> int:
        return T.INTEG[self.integ].key_len if self.integ else 0

    def to_wire(self, spi: bytes) -> ikev1.Proposal:
        """Our answer's proposal: the peer's numbers and transform, our inbound ``spi``."""
        return ikev1.Proposal(number=self.proposal_number, protocol=V1ProtocolId.PROTO_IPSEC_ESP,
                              spi=spi, transforms=[self.transform])


_P1 = V1Phase1Attribute
_P1_KNOWN = frozenset({_P1.ENCRYPTION_ALGORITHM, _P1.HASH_ALGORITHM, _P1.AUTHENTICATION_METHOD,
                       _P1.GROUP_DESCRIPTION, _P1.LIFE_TYPE, _P1.LIFE_DURATION, _P1.KEY_LENGTH})
_P2 = V1IpsecAttribute
_P2_KNOWN = frozenset({_P2.SA_LIFE_TYPE, _P2.SA_LIFE_DURATION, _P2.GROUP_DESCRIPTION,
                       _P2.ENCAPSULATION_MODE, _P2.AUTHENTICATION_ALGORITHM, _P2.KEY_LENGTH,
                       _P2.ECN_TUNNEL, _P2.EXTENDED_SEQUENCE_NUMBER})


def _attr_int(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _v1_attributes(transform: ikev1.Transform, known: frozenset, life_type: int,
                   life_duration: int) -> tuple[dict, dict] | None:
    """(attributes, lifetimes by life type), or None if the transform is unacceptable:
    an attribute class we do not know (RFC 2408 §4.2: all or nothing), a repeated
    one, or a duration with no life type before it (RFC 2407 §4.5)."""
    attrs: dict[int, int] = {}
    lives: dict[int, int] = {}
    current_life = None
    for a in transform.attributes:
        if a.type not in known:
            return None
        value = _attr_int(a.value)
        if a.type == life_type:
            if value in lives or value not in (V1LifeType.SECONDS, V1LifeType.KILOBYTES):
                return None
            current_life = value
            lives[value] = None
        elif a.type == life_duration:
            if current_life is None:
                return None
            lives[current_life] = value
            current_life = None
        elif a.type in attrs:
            return None
        else:
            attrs[a.type] = value
    return attrs, {k: v for k, v in lives.items() if v is not None}


def _v1_encr(v2_id: int | None, key_len: int | None) -> tuple[int, int | None] | None:
    """(ENCR ID, key bits) for a received cipher and KEY_LENGTH, or None if unusable.
    AES without KEY_LENGTH is read as AES-128, as the old clients that omit it mean."""
    if v2_id is None:
        return None
    e = T.ENCR[v2_id]
    if e.key_attr:
        return v2_id, key_len if key_len is not None else 128
    if key_len is not None and key_len != e.key_bits[0]:
        return None
    return v2_id, None


def _rank(spec_list: Sequence, value) -> int | None:
    try:
        return spec_list.index(value)
    except ValueError:
        return None


def select_v1_phase1(ours: Sequence[ProposalSpec], proposals: Sequence[ikev1.Proposal],
                     auth_methods: Collection[int] | None = None) -> V1Phase1Selection | None:
    """Our choice of phase 1 transform among ``proposals`` (the SA payload's), or None.

    ``auth_methods``: the Authentication Method values this connection accepts (None:
    any); the caller knows PSK vs signatures vs XAuth from its configuration."""
    extra = None if auth_methods is None else frozenset(auth_methods)
    return _remembered(1, ours, proposals, extra, lambda: _choose_phase1(ours, proposals,
                                                                          auth_methods))


def _choose_phase1(ours: Sequence[ProposalSpec], proposals: Sequence[ikev1.Proposal],
                   auth_methods: Collection[int] | None) -> tuple | None:
    for spec in ours:
        if spec.protocol != ProtocolId.IKE:
            continue
        v1_hashes = [T.v1_hash_from_integ(i) for i in spec.integ]
        best = None
        for index, p in enumerate(proposals):
            if p.protocol != V1ProtocolId.PROTO_ISAKMP:
                continue
            for t in p.transforms:
                if t.transform_id != V1IsakmpTransformId.KEY_IKE:
                    continue
                parsed = _v1_attributes(t, _P1_KNOWN, _P1.LIFE_TYPE, _P1.LIFE_DURATION)
                if parsed is None:
                    continue
                a, lives = parsed
                encr = _v1_encr(T.encr_from_v1_phase1(a.get(_P1.ENCRYPTION_ALGORITHM, 0)),
                                a.get(_P1.KEY_LENGTH))
                if encr is None or not T.ENCR[encr[0]].ike:
                    continue
                auth = a.get(_P1.AUTHENTICATION_METHOD)
                if auth is None or (auth_methods is not None and auth not in auth_methods):
                    continue
                hash_ = a.get(_P1.HASH_ALGORITHM)
                group = a.get(_P1.GROUP_DESCRIPTION)
                if hash_ is None or not group:
                    continue
                ranks = (_rank(spec.encr, encr), _rank(v1_hashes, hash_), _rank(spec.dh, group))
                if None in ranks or (best is not None and ranks >= best[0]):
                    continue
                bits = encr[1] or T.ENCR[encr[0]].key_bits[0]
                best = (ranks, index, V1Phase1Selection(
                    proposal_number=p.number, transform_number=t.number, spi=p.spi,
                    encr=encr[0], encr_key_len=bits, hash=hash_,
                    prf=T.prf_from_v1_hash(hash_), auth_method=auth, dh=group,
                    life_seconds=lives.get(V1LifeType.SECONDS),
                    life_kilobytes=lives.get(V1LifeType.KILOBYTES), transform=t))
        if best is not None:
            return best[1], best[2]
    return None


def select_v1_phase2(ours: Sequence[ProposalSpec], proposals: Sequence[ikev1.Proposal],
                     want_group: int | None, *, modes: Collection[int] = TUNNEL_MODES
                     ) -> V1Phase2Selection | None:
    """Our choice of Quick Mode ESP transform, or None (NO_PROPOSAL_CHOSEN).

    ``want_group``: the group of the Quick Mode KE payload, None without one: transforms
    must name exactly that group (RFC 2409 §5.5), and our proposal must allow it (a
    configuration without PFS groups refuses PFS, one with only groups refuses none).
    ``modes``: acceptable Encapsulation Modes, e.g. the UDP-encapsulated ones only when
    NAT was detected (RFC 3947 §5.2); transport for L2TP/IPsec clients. Proposals that
    bundle ESP with another protocol (AH, IPComp) are skipped: ikesrv answers ESP alone."""
    return _remembered(2, ours, proposals, (want_group, frozenset(modes)),
                       lambda: _choose_phase2(ours, proposals, want_group, modes))


def _choose_phase2(ours: Sequence[ProposalSpec], proposals: Sequence[ikev1.Proposal],
                   want_group: int | None, modes: Collection[int]) -> tuple | None:
    groups: dict[int, list] = {}
    for index, p in enumerate(proposals):
        groups.setdefault(p.number, []).append((index, p))
    esp_alone = [g[0] for g in groups.values()
                 if len(g) == 1 and g[0][1].protocol == V1ProtocolId.PROTO_IPSEC_ESP]
    for spec in ours:
        if spec.protocol != ProtocolId.ESP:
            continue
        if want_group is None and spec.dh and T.DH_NONE not in spec.dh:
            continue
        if want_group is not None and want_group not in spec.dh:
            continue
        best = None
        for index, p in esp_alone:
            for t in p.transforms:
                parsed = _v1_attributes(t, _P2_KNOWN, _P2.SA_LIFE_TYPE, _P2.SA_LIFE_DURATION)
                if parsed is None:
                    continue
                a, lives = parsed
                encr = _v1_encr(T.encr_from_v1_esp(t.transform_id), a.get(_P2.KEY_LENGTH))
                if encr is None or not T.ENCR[encr[0]].esp:
                    continue
                if a.get(_P2.GROUP_DESCRIPTION) != want_group:
                    continue
                mode = a.get(_P2.ENCAPSULATION_MODE)
                if mode is not None and mode not in modes:
                    continue
                auth = a.get(_P2.AUTHENTICATION_ALGORITHM)
                if T.ENCR[encr[0]].aead:
                    if auth is not None:
                        continue  # a combined mode takes no separate authenticator
                    integ, integ_rank = None, 0
                else:
                    integ = T.integ_from_v1_auth(auth) if auth is not None else None
                    integ_rank = _rank(spec.integ, integ)
                esn_attr = a.get(_P2.EXTENDED_SEQUENCE_NUMBER)
                if esn_attr not in (None, 1):
                    continue
                esn = EsnId.ESN if esn_attr == 1 else EsnId.NO_ESN
                ranks = (_rank(spec.encr, encr), integ_rank, _rank(spec.esn, esn))
                if None in ranks or (best is not None and ranks >= best[0]):
                    continue
                best = (ranks, index, V1Phase2Selection(
                    proposal_number=p.number, transform_number=t.number, spi=p.spi,
                    transform_id=t.transform_id, encr=encr[0], encr_key_len=encr[1],
                    integ=integ, auth_algorithm=auth, dh=want_group, esn=esn == EsnId.ESN,
                    encapsulation_mode=mode, life_seconds=lives.get(V1LifeType.SECONDS),
                    life_kilobytes=lives.get(V1LifeType.KILOBYTES), transform=t))
        if best is not None:
            return best[1], best[2]
    return None


def _remembered(phase: int, ours: Sequence[ProposalSpec], proposals: Sequence[ikev1.Proposal],
                inputs, choose: Callable[[], tuple | None]):
    """choose() through proposals.remembered_decision, with this offer's SPI: a Quick
    Mode's is random. A remembered selection's transform is an earlier message's, equal
    octet for octet to this one's."""
    decision = remembered_decision(("v1", phase), ours, proposals, inputs, choose)
    if decision is None:
        return None
    index, selection = decision
    spi = proposals[index].spi
    return selection if selection.spi == spi else _with_spi(selection, spi)


def _with_spi(selection, spi: bytes):
    """A copy of a (frozen, slotted) selection with another SPI: what dataclasses.replace
    gives, without its per-field bookkeeping (a Quick Mode's SPI differs every time)."""
    copy = object.__new__(type(selection))
    for name in selection.__slots__:
        object.__setattr__(copy, name, getattr(selection, name))
    object.__setattr__(copy, "spi", spi)
    return copy
