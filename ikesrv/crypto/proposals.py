"""Proposals: strongSwan-syntax proposal strings, and the responder's choice among the peer's.

Owns: parsing configured proposals (``aes256gcm16-prfsha384-ecp384``,
``aes256-sha256-modp2048``, ESP with or without a PFS group) into ProposalSpec; building
the wire proposals an initiator sends (the load generator); and selecting, as responder,
one IKEv2 proposal (select_ike, select_esp) out of the peer's offer. The IKEv1 choice of
one transform is in proposals_v1.

Parsing follows strongSwan's rules: dash-separated keywords, several per transform type
allowed (in order of preference); an IKE proposal without a ``prf*`` keyword takes the
PRF of each integrity algorithm (sha256 -> prfsha256), which is also how an AEAD IKE
proposal names its PRF (``aes256gcm16-sha384-ecp384``); integrity keywords are then
dropped from AEAD proposals (RFC 5282 §8); AEAD and classic ciphers never share a
proposal; ESP proposals carry no PRF, take ``noesn`` unless told otherwise, and a DH
group in them means PFS (``none``/``modpnone`` alongside makes PFS optional). Stricter
than strongSwan: ESP encryption without integrity is refused (RFC 8221 §5), and an
invalid keyword for the context is an error rather than silently dropped. Errors are
ValueError naming the keyword.

Selection, responder side (IKEv2):
  - Our order wins. For each of our proposals in our order, the first peer proposal (in
    the peer's order) that has an acceptable transform of every type we need is taken;
    within a type, our most preferred algorithm that the peer offers.
  - A peer proposal with a transform type we do not know (e.g. RFC 9370 ADDKE*) is
    rejected as a whole (RFC 7296 §3.3.6); an unknown transform ID or attribute just makes
    that transform unacceptable. KEY_LENGTH must match exactly; a fixed-key cipher
    (3DES, ChaCha20-Poly1305) must come without one (RFC 7296 §3.3.5).
  - IKE: ``prefer_dh`` is the group of the peer's KE payload. When it is acceptable in
    the selected pair of proposals it is taken, although our preference may list another
    first: that saves an INVALID_KE_PAYLOAD round trip, as strongSwan does. Otherwise our
    preferred common group is returned, and the caller answers INVALID_KE_PAYLOAD with
    it (RFC 7296 §1.2, §1.3.2).
  - ESP and PFS, by what the exchange carries:
      want_dh=g       a KE payload of group g: only proposals where both sides accept g
                      (RFC 7296 §1.3.1); a configuration without PFS groups refuses PFS;
      pfs_any=True    which group would we want? any group common to both, ours first
                      (the group to name in INVALID_KE_PAYLOAD when want_dh=g failed);
      neither         no KE payload: both our proposal and the peer's must allow "no PFS"
                      (no DH transform, or DH NONE), so a configuration that demands PFS
                      refuses a rekey without it, and a peer that demands it but sent no
                      KE is refused;
      ignore_dh=True  the CHILD SA of IKE_AUTH, which never has a KE payload (RFC 7296
                      §1.2): DH transforms are ignored on both sides, since peers list
                      their PFS groups there for later rekeys.
  - ESN: the peer may offer both; our order picks. A peer ESP proposal without an ESN
    transform (RFC 7296 §3.3.3 says it MUST have one) is read as "no ESN" and the answer
    then omits it too.
Must not import: anything above ikesrv.crypto and ikesrv.wire (payload classes only).
RFC 7296 §2.7, §3.3; RFC 5282 §8; RFC 2409 App. A (the IKEv1 attributes of a spec).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..constants import (
    EsnId,
    ProtocolId,
    TransformType,
    V1EncapsulationMode,
    V1IpsecAttribute,
    V1IsakmpTransformId,
    V1LifeType,
    V1Phase1Attribute,
    V1ProtocolId,
)
from ..wire import ikev1, ikev2
from . import transforms as T

ENCR, PRF, INTEG, DH, ESN = (TransformType.ENCR, TransformType.PRF, TransformType.INTEG,
                             TransformType.DH, TransformType.ESN)
_KNOWN_TYPES = frozenset({ENCR, PRF, INTEG, DH, ESN})


# --------------------------------------------------------------------------------------
# Configured proposals
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposalSpec:
    """One configured proposal: per transform type, the algorithms in our order."""

    protocol: int  # ProtocolId.IKE or ProtocolId.ESP
    text: str  # as configured
    encr: tuple[tuple[int, int | None], ...]  # (ENCR ID, key bits or None for fixed-key)
    integ: tuple[int, ...]  # empty for AEAD
    prf: tuple[int, ...]  # IKE only
    dh: tuple[int, ...]  # ESP: PFS groups, DH_NONE (0) when PFS is optional
    esn: tuple[int, ...] = ()  # ESP only
    weak_algorithms: frozenset[str] = field(default=frozenset())  # weak keywords it uses
    version: int = 2

    @property
    def aead(self) -> bool:
        return T.ENCR[self.encr[0][0]].aead

    @property
    def dh_groups(self) -> tuple[int, ...]:
        """The DH groups proper (DH NONE left out): for IKE the groups to offer, for ESP
        the PFS groups."""
        return tuple(g for g in self.dh if g)

    def __str__(self) -> str:
        return self.text

    def to_wire(self, number: int = 1, protocol: int | None = None, spi: bytes = b"", *,
                include_dh: bool = True) -> ikev2.Proposal:
        """The IKEv2 Proposal substructure offering all of it (initiator side).

        ``include_dh=False`` leaves out the DH transforms, as the SA of IKE_AUTH must
        (RFC 7296 §1.2)."""
        ts = [ikev2.Transform(type=ENCR, id=e, key_length=bits if T.ENCR[e].key_attr else None)
              for e, bits in self.encr]
        ts += [ikev2.Transform(type=PRF, id=p) for p in self.prf]
        ts += [ikev2.Transform(type=INTEG, id=i) for i in self.integ]
        if include_dh:
            ts += [ikev2.Transform(type=DH, id=g) for g in self.dh]
        ts += [ikev2.Transform(type=ESN, id=s) for s in self.esn]
        return ikev2.Proposal(number=number, protocol=protocol or self.protocol, spi=spi,
                              transforms=ts)

    def to_v1_phase1(self, number: int = 1, *, auth_method: int,
                     life_seconds: int | None = None) -> ikev1.Proposal:
        """The IKEv1 phase 1 proposal offering every combination, in our order."""
        suites = []
        for (e, bits), i, g in ((e, i, g) for e in self.encr for i in self.integ
                                for g in self.dh if g):
            if T.v1_phase1_from_encr(e) is None or T.v1_hash_from_integ(i) is None:
                suites = []
                break
            attrs = [ikev1.Attribute(type=V1Phase1Attribute.ENCRYPTION_ALGORITHM,
                                     value=T.v1_phase1_from_encr(e))]
            if T.ENCR[e].key_attr:
                attrs.append(ikev1.Attribute(type=V1Phase1Attribute.KEY_LENGTH, value=bits))
            attrs += [
                ikev1.Attribute(type=V1Phase1Attribute.HASH_ALGORITHM,
                                value=T.v1_hash_from_integ(i)),
                ikev1.Attribute(type=V1Phase1Attribute.AUTHENTICATION_METHOD, value=auth_method),
                ikev1.Attribute(type=V1Phase1Attribute.GROUP_DESCRIPTION, value=g),
            ]
            attrs += _v1_life(V1Phase1Attribute.LIFE_TYPE, V1Phase1Attribute.LIFE_DURATION,
                              life_seconds)
            suites.append(attrs)
        if not suites:
            raise ValueError(f"'{self.text}' cannot be expressed as an IKEv1 phase 1 proposal")
        key_ike = V1IsakmpTransformId.KEY_IKE
        return ikev1.Proposal(number=number, protocol=V1ProtocolId.PROTO_ISAKMP, spi=b"",
                              transforms=[ikev1.Transform(number=n, transform_id=key_ike,
                                                          attributes=a)
                                          for n, a in enumerate(suites, 1)])

    def to_v1_esp(self, number: int = 1, spi: bytes = b"", *,
                  mode: int = V1EncapsulationMode.TUNNEL, life_seconds: int | None = None,
                  pfs: bool = True) -> ikev1.Proposal:
        """The IKEv1 Quick Mode ESP proposal offering every combination, in our order.
        With ``pfs`` the first PFS group goes into every transform (RFC 2409 §5.5: one
        group per Quick Mode, the one of the KE payload)."""
        group = next((g for g in self.dh if g), None) if pfs else None
        suites = []
        for (e, bits), i, s in ((e, i, s) for e in self.encr for i in (self.integ or (None,))
                                for s in self.esn):
            attrs = []
            attrs += _v1_life(V1IpsecAttribute.SA_LIFE_TYPE, V1IpsecAttribute.SA_LIFE_DURATION,
                              life_seconds)
            if group:
                attrs.append(ikev1.Attribute(type=V1IpsecAttribute.GROUP_DESCRIPTION, value=group))
            attrs.append(ikev1.Attribute(type=V1IpsecAttribute.ENCAPSULATION_MODE, value=mode))
            if i is not None:
                attrs.append(ikev1.Attribute(type=V1IpsecAttribute.AUTHENTICATION_ALGORITHM,
                                             value=T.v1_auth_from_integ(i)))
            if T.ENCR[e].key_attr:
                attrs.append(ikev1.Attribute(type=V1IpsecAttribute.KEY_LENGTH, value=bits))
            if s == EsnId.ESN:
                attrs.append(ikev1.Attribute(type=V1IpsecAttribute.EXTENDED_SEQUENCE_NUMBER,
                                             value=1))  # RFC 4304
            suites.append((T.v1_esp_from_encr(e), attrs))
        if not suites or any(tid is None or None in (a.value for a in attrs)
                             for tid, attrs in suites):
            raise ValueError(f"'{self.text}' cannot be expressed as an IKEv1 ESP proposal")
        return ikev1.Proposal(number=number, protocol=V1ProtocolId.PROTO_IPSEC_ESP, spi=spi,
                              transforms=[ikev1.Transform(number=n, transform_id=tid, attributes=a)
                                          for n, (tid, a) in enumerate(suites, 1)])


def _v1_life(type_attr: int, duration_attr: int, seconds: int | None) -> list:
    if seconds is None:
        return []
    # RFC 2408 §3.3: a basic (TV) attribute holds 16 bits; longer values go in a TLV.
    value = seconds if seconds <= 0xFFFF else seconds.to_bytes(4, "big")
    return [ikev1.Attribute(type=type_attr, value=V1LifeType.SECONDS),
            ikev1.Attribute(type=duration_attr, value=value)]


def parse_ike_proposal(text: str, version: int = 2) -> ProposalSpec:
    """An IKE proposal in strongSwan syntax (``aes256gcm16-prfsha384-ecp384``).

    ``version=1`` also checks that IKEv1 phase 1 can express it (no AEAD, an integrity
    algorithm with an IKEv1 hash; a prf keyword only when it equals that hash's HMAC)."""
    return _parse(text, ProtocolId.IKE, version)


def parse_esp_proposal(text: str, version: int = 2) -> ProposalSpec:
    """An ESP proposal in strongSwan syntax (``aes256gcm16``, ``aes256-sha256-modp2048-esn``).

    ``version=1`` also checks that the IPsec DOI has a transform ID and an authentication
    algorithm value for it."""
    return _parse(text, ProtocolId.ESP, version)


def _parse(text: str, protocol: int, version: int) -> ProposalSpec:
    kind = "IKE" if protocol == ProtocolId.IKE else "ESP"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty {kind} proposal")
    where = f"in IKEv1 {kind} proposals" if version == 1 else f"in {kind} proposals"
    picked: dict[int, list] = {ENCR: [], INTEG: [], PRF: [], DH: [], ESN: []}
    names: dict[tuple[int, int], str] = {}  # (type, id) -> keyword, for the weak list
    for raw in text.split("-"):
        name = raw.strip().lower()
        if not name:
            raise ValueError(f"empty algorithm in proposal '{text}'")
        tok = T.lookup_token(name)
        if tok is None:
            if T.is_known_unsupported(name):
                raise ValueError(f"algorithm '{name}' is not supported by ikesrv")
            raise ValueError(f"unknown algorithm '{name}'")
        _check_context(tok, protocol, version, where)
        value = (tok.id, tok.key_bits) if tok.type == ENCR else tok.id
        if value not in picked[tok.type]:  # a repeated keyword changes nothing
            picked[tok.type].append(value)
            names.setdefault((int(tok.type), tok.id), name)

    encr = picked[ENCR]
    if not encr:
        raise ValueError(f"no encryption algorithm in {kind} proposal '{text}'")
    aeads = [e for e in encr if T.ENCR[e[0]].aead]
    if aeads and len(aeads) != len(encr):
        classic = next(e for e in encr if not T.ENCR[e[0]].aead)
        raise ValueError(f"AEAD '{names[(ENCR, aeads[0][0])]}' and classic "
                         f"'{names[(ENCR, classic[0])]}' encryption cannot share a proposal")
    aead = bool(aeads)
    integ, prf, dh, esn = picked[INTEG], picked[PRF], picked[DH], picked[ESN]
    if not aead and not integ:
        raise ValueError(f"'{names[(ENCR, encr[0][0])]}' needs an integrity algorithm "
                         f"(e.g. sha256) in {kind} proposal '{text}'")
    # Integrity keywords act as integrity (classic ciphers) or, in IKE proposals without
    # prf keywords, as the PRF they name; in AEAD proposals they are then dropped.
    integ_acts = not aead or (protocol == ProtocolId.IKE and not prf)
    if protocol == ProtocolId.IKE:
        derived = list(dict.fromkeys(T.INTEG[i].prf for i in integ if T.INTEG[i].prf))
        if version == 1:
            # IKEv1's PRF is the HMAC of the negotiated hash (RFC 2409 §4).
            for p in prf:
                if p not in derived:
                    raise ValueError(f"'{names[(PRF, p)]}' is not the HMAC of any hash in "
                                     f"IKEv1 proposal '{text}': IKEv1 derives its PRF from "
                                     "the hash")
            prf = derived
        elif not prf:
            prf = derived  # strongSwan: the PRF follows the integrity algorithm
        if not prf:
            raise ValueError(f"no PRF in IKE proposal '{text}': add one (e.g. prfsha256)")
        if not dh:
            raise ValueError(f"no DH group in IKE proposal '{text}'")
    elif not esn:
        esn = [EsnId.NO_ESN]  # strongSwan: ESN not mentioned, not supported
    weak = {names[(ENCR, e)] for e, _ in encr if T.ENCR[e].weak}
    weak |= {names[(DH, g)] for g in dh if g in T.DH and T.DH[g].weak}
    weak |= {names[(PRF, p)] for p in picked[PRF] if T.PRF[p].weak}
    if integ_acts:
        weak |= {names[(INTEG, i)] for i in integ if T.INTEG[i].weak}
    if aead:
        integ = []  # RFC 5282 §8: AEAD proposals carry no integrity transform
    return ProposalSpec(
        protocol=int(protocol), text=text, encr=tuple((int(e), b) for e, b in encr),
        integ=tuple(map(int, integ)), prf=tuple(map(int, prf)), dh=tuple(map(int, dh)),
        esn=tuple(map(int, esn)), weak_algorithms=frozenset(weak), version=version)


def _check_context(tok: T.Token, protocol: int, version: int, where: str) -> None:
    """Raise ValueError when a keyword cannot be used in this kind of proposal."""
    name, ike = tok.name, protocol == ProtocolId.IKE
    if tok.type == ENCR:
        e = T.ENCR[tok.id]
        ok = (e.ike if ike else e.esp) and (
            version == 2 or (e.v1_ike if ike else e.v1_esp) is not None)
        if not ok:
            raise ValueError(f"encryption algorithm '{name}' is not supported {where}")
    elif tok.type == INTEG:
        i = T.INTEG[tok.id]
        ok = (i.ike if ike else i.esp) and (
            version == 2 or (i.v1_hash if ike else i.v1_auth) is not None)
        if not ok:
            raise ValueError(f"integrity algorithm '{name}' is not supported {where}")
    elif tok.type == PRF:
        if not ike:
            raise ValueError(f"'{name}' is a PRF: ESP proposals have none")
        if not T.PRF[tok.id].ike:
            raise ValueError(f"PRF '{name}' is not supported {where}")
    elif tok.type == DH:
        if tok.id == T.DH_NONE:
            if ike:
                raise ValueError(f"'{name}' is not valid in IKE proposals: a DH group is required")
        elif not T.DH[tok.id].ike:
            raise ValueError(f"DH group '{name}' is not supported by ikesrv")
    elif tok.type == ESN and ike:
        raise ValueError(f"'{name}' is only valid in ESP proposals")


# --------------------------------------------------------------------------------------
# IKEv2 selection (responder)
# --------------------------------------------------------------------------------------


_SELECTED_NAMES: dict[tuple, str] = {}
_WIRE_TRANSFORMS: dict[tuple, list] = {}


@dataclass(frozen=True, slots=True)
class SelectedProposal:
    """The algorithms chosen from one peer proposal, with its number and SPI."""

    number: int  # the peer's Proposal Num, echoed in our answer
    protocol: int
    spi: bytes  # the peer's SPI
    encr: int
    encr_key_len: int | None  # bits, as in KEY_LENGTH; None for fixed-key ciphers
    integ: int | None  # None with AEAD
    prf: int | None  # IKE only
    dh: int | None  # None: no DH in this exchange
    esn: int | None  # ESP: EsnId chosen; None when the peer sent no ESN transform

    @property
    def aead(self) -> bool:
        return T.ENCR[self.encr].aead

    @property
    def use_esn(self) -> bool:
        return self.esn == EsnId.ESN

    @property
    def encr_keymat_len(self) -> int:
        """Octets of encryption key material per direction, salt included (RFC 5282 §7.1)."""
        return T.ENCR[self.encr].keymat_len(self.encr_key_len)

    @property
    def integ_key_len(self) -> int:
        return T.INTEG[self.integ].key_len if self.integ else 0

    @property
    def weak_algorithms(self) -> frozenset[str]:
        found = {self._name(t, i) for t, i in ((ENCR, self.encr), (INTEG, self.integ),
                                              (PRF, self.prf), (DH, self.dh))
                 if i is not None and T.is_weak(t, i)}
        return frozenset(found)

    def _name(self, type: int, id: int) -> str:
        return T.token_name(type, id, self.encr_key_len if type == ENCR else None)

    @property
    def name(self) -> str:
        """strongSwan-style summary, e.g. ``aes256gcm16-prfsha384-ecp384``."""
        key = (self.encr, self.encr_key_len, self.integ, self.prf, self.dh, self.esn)
        name = _SELECTED_NAMES.get(key)
        if name is None:
            parts = [self._name(ENCR, self.encr)]
            if self.integ:
                parts.append(self._name(INTEG, self.integ))
            if self.prf:
                parts.append(self._name(PRF, self.prf))
            if self.dh:
                parts.append(self._name(DH, self.dh))
            if self.esn is not None:
                parts.append(self._name(ESN, self.esn))
            name = "-".join(parts)
            # asked for every SA; the keys are combinations of our own configured
            # algorithms (a selection never holds anything else), so the cache is bounded
            _SELECTED_NAMES[key] = name
        return name

    def describe(self) -> str:
        """The same as ``name``: for logs and ``ikesrv status``."""
        return self.name

    def to_wire(self, spi: bytes = b"") -> ikev2.Proposal:
        """Our answer's Proposal: the peer's number, our ``spi``, one transform per type."""
        key = (self.encr, self.encr_key_len, self.prf, self.integ, self.dh, self.esn)
        ts = _WIRE_TRANSFORMS.get(key)
        if ts is None:
            key_len = self.encr_key_len if T.ENCR[self.encr].key_attr else None
            ts = [ikev2.Transform(type=ENCR, id=self.encr, key_length=key_len)]
            if self.prf is not None:
                ts.append(ikev2.Transform(type=PRF, id=self.prf))
            if self.integ is not None:
                ts.append(ikev2.Transform(type=INTEG, id=self.integ))
            if self.dh is not None:
                ts.append(ikev2.Transform(type=DH, id=self.dh))
            if self.esn is not None:
                ts.append(ikev2.Transform(type=ESN, id=self.esn))
            # the same list for every answer with this suite: encoders only read it; the
            # keys are combinations of our configured algorithms (bounded, as the names)
            _WIRE_TRANSFORMS[key] = ts
        return ikev2.Proposal(number=self.number, protocol=self.protocol, spi=spi, transforms=ts)


def _offer(proposal: ikev2.Proposal) -> dict[int, list] | None:
    """The peer's acceptable-looking transforms by type, or None to reject the proposal."""
    offer: dict[int, list] = {ENCR: [], PRF: [], INTEG: [], DH: [], ESN: []}
    for t in proposal.transforms:
        if t.type not in _KNOWN_TYPES:
            return None  # RFC 7296 §3.3.6: unknown transform type rejects the proposal
        if getattr(t, "attributes", None):
            continue  # an attribute we do not understand: this transform is unacceptable
        offer[t.type].append((t.id, t.key_length) if t.type == ENCR else t.id)
    return offer


def _first(ours: Iterable[int], offered: list) -> int | None:
    return next((a for a in ours if a in offered), None)


# How DH transforms are matched (see the module docstring)
_DH_PREFER, _DH_REQUIRE, _DH_ANY, _DH_NONE, _DH_IGNORE = range(5)


# Decisions already taken about an offer (here and in proposals_v1): clients of one kind
# all send the same offer, and matching it costs more than the rest of an exchange's
# bookkeeping. Keyed by what decides: our proposal list, the offer's proposals as
# received (numbers, protocols, transform octets) and the caller's other inputs; the
# offered SPI is not part of it (callers take it from the offer at hand). Bounded: the
# offers are the peers' choice.
_DECISIONS: dict[tuple, tuple] = {}
_DECISIONS_KEPT = 1024


def remembered_decision(kind, ours: Sequence, offered: Sequence, inputs,
                        decide: Callable[[], object]):
    """``decide()`` for this offer, or what it returned for the same one before. Only
    offers decoded from the wire (``wire`` set) are remembered."""
    wires = tuple([(p.number, p.protocol, p.wire) for p in offered])
    key = (kind, id(ours), inputs, wires)
    found = _DECISIONS.get(key)
    if found is not None and found[0] is ours:
        return found[1]
    decision = decide()
    if all(w[2] is not None for w in wires):
        if len(_DECISIONS) >= _DECISIONS_KEPT:
            _DECISIONS.clear()
        # ``ours`` is kept with the decision: its id cannot be reused while cached
        _DECISIONS[key] = (ours, decision)
    return decision


def _select(ours: Sequence[ProposalSpec], theirs: Sequence[ikev2.Proposal], protocol: int,
            ke_group: int | None, dh_rule: int) -> SelectedProposal | None:
    decision = remembered_decision("v2", ours, theirs, (protocol, ke_group, dh_rule),
                                   lambda: _decide(ours, theirs, protocol, ke_group, dh_rule))
    if decision is None:
        return None
    index, (encr, integ, prf, dh, esn) = decision
    proposal = theirs[index]
    return SelectedProposal(
        number=proposal.number, protocol=protocol, spi=proposal.spi,
        encr=encr[0], encr_key_len=encr[1], integ=integ, prf=prf, dh=dh, esn=esn)


def _decide(ours: Sequence[ProposalSpec], theirs: Sequence[ikev2.Proposal], protocol: int,
            ke_group: int | None, dh_rule: int) -> tuple | None:
    """(index of the peer proposal taken, its (encr, integ, prf, dh, esn)), or None."""
    offers = [(i, _offer(p)) for i, p in enumerate(theirs) if p.protocol == protocol]
    for spec in ours:
        if spec.protocol != protocol:
            continue
        for index, offer in offers:
            if offer is None:
                continue
            picked = _match(spec, offer, protocol, ke_group, dh_rule)
            if picked is not None:
                return index, picked
    return None


def _match(spec: ProposalSpec, offer: dict[int, list], protocol: int, ke_group: int | None,
           dh_rule: int):
    # (ID, key bits) pairs: fixed-key ciphers are (ID, None) on both sides, so a KEY_LENGTH
    # where none belongs makes the transform unacceptable (RFC 7296 §3.3.5).
    encr = next((e for e in spec.encr if e in offer[ENCR]), None)
    if encr is None:
        return None
    integ = None
    if not T.ENCR[encr[0]].aead:  # with AEAD the peer's integrity transforms are ignored
        integ = _first(spec.integ, offer[INTEG])
        if integ is None:
            return None
    prf = esn = None
    if protocol == ProtocolId.IKE:
        if offer[ESN]:
            return None  # ESN is not a transform type of IKE SAs (RFC 7296 §3.3.3)
        prf = _first(spec.prf, offer[PRF])
        if prf is None:
            return None
    elif offer[PRF]:
        return None  # PRF is not a transform type of ESP (RFC 7296 §3.3.3)
    dh = _pick_dh(spec.dh, offer[DH], ke_group, dh_rule)
    if dh is False:
        return None
    if protocol == ProtocolId.ESP:
        if offer[ESN]:
            esn = _first(spec.esn, offer[ESN])
            if esn is None:
                return None
        elif EsnId.NO_ESN not in spec.esn:
            return None
    return encr, integ, prf, dh, esn


def _pick_dh(ours: tuple[int, ...], offered: list, ke_group: int | None, rule: int
             ) -> int | None | bool:
    """The DH group agreed (None: no DH), or False when the DH transforms disagree."""
    if rule == _DH_IGNORE:
        return None
    if rule == _DH_NONE:
        peer_no_pfs = not offered or T.DH_NONE in offered
        our_no_pfs = not ours or T.DH_NONE in ours
        return None if peer_no_pfs and our_no_pfs else False
    common = [g for g in ours if g and g in offered]
    if rule == _DH_REQUIRE:
        return ke_group if ke_group in common else False
    if not common:
        return False
    if rule == _DH_PREFER and ke_group in common:
        return ke_group
    return common[0]


def select_ike(ours: Sequence[ProposalSpec], theirs: Sequence[ikev2.Proposal],
               prefer_dh: int | None = None) -> SelectedProposal | None:
    """Our choice of IKE proposal, or None (NO_PROPOSAL_CHOSEN).

    ``prefer_dh``: the group of the peer's KE payload. Check ``result.dh`` against it:
    a difference means INVALID_KE_PAYLOAD carrying ``result.dh`` (RFC 7296 §1.2)."""
    return _select(ours, theirs, ProtocolId.IKE, prefer_dh, _DH_PREFER)


def select_esp(ours: Sequence[ProposalSpec], theirs: Sequence[ikev2.Proposal],
               want_dh: int | None = None, *, ignore_dh: bool = False, pfs_any: bool = False
               ) -> SelectedProposal | None:
    """Our choice of ESP proposal, or None (NO_PROPOSAL_CHOSEN).

    ``want_dh``: the group of this exchange's KE payload, which the result then has;
    None when the exchange has no KE payload. ``pfs_any``: with want_dh None, select as if
    a KE were present and return our preferred common group (for INVALID_KE_PAYLOAD).
    ``ignore_dh``: the exchange is IKE_AUTH, DH transforms are ignored (RFC 7296 §1.2).
    See the module docstring for the whole table."""
    if ignore_dh:
        rule = _DH_IGNORE
    elif want_dh is not None:
        rule = _DH_REQUIRE
    else:
        rule = _DH_ANY if pfs_any else _DH_NONE
    return _select(ours, theirs, ProtocolId.ESP, want_dh, rule)


def describe_offer(proposals: Sequence[ikev2.Proposal], limit: int = 8) -> str:
    """The peer's proposals in proposal-keyword form, for logs:
    ``#1 IKE aes128/aes256-sha1-prfsha1-modp1024, #2 ...`` (at most ``limit`` shown)."""
    parts = []
    for p in proposals[:limit]:
        names: dict[int, list[str]] = {}
        for t in p.transforms[:32]:
            bits = t.key_length if t.type == ENCR else None
            name = T.token_name(t.type, t.id, bits)
            if getattr(t, "attributes", None):
                name += "(+attributes)"
            names.setdefault(int(t.type), []).append(name)
        order = sorted(names, key=lambda ty: (ty not in _KNOWN_TYPES, _TYPE_ORDER.get(ty, ty)))
        try:
            proto = ProtocolId(p.protocol).name
        except ValueError:
            proto = f"protocol {p.protocol}"
        parts.append(f"#{p.number} {proto} " + "-".join("/".join(names[ty]) for ty in order))
    if len(proposals) > limit:
        parts.append(f"... ({len(proposals) - limit} more)")
    return ", ".join(parts) if parts else "(no proposals)"


# strongSwan's order of types in a proposal string: encryption, integrity, PRF, DH, ESN
_TYPE_ORDER = {ENCR: 0, INTEG: 1, PRF: 2, DH: 3, ESN: 4}
