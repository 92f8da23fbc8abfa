"""The one IKE suite and one ESP suite to give clients that take a single choice.

Owns ``Suite`` and ``choose_ike`` / ``choose_esp``: Windows and Apple clients are told one
encryption, one integrity (or PRF, with AEAD) and one DH group per SA instead of a list of
proposals, so the profile must name a combination that one of the connection's proposals
contains, in the connection's order of preference (our order wins in selection, RFC 7296
§2.7). ``Suite.spec()`` is what such a client then proposes, in strongSwan syntax, so a
profile can be checked against the connection with ikesrv.crypto.proposals.

Both platforms use one hash for integrity and PRF: "SHA256" means HMAC-SHA2-256-128
integrity and PRF-HMAC-SHA2-256, and with an AEAD cipher the PRF alone (RFC 5282 §8).

Imports ikesrv.constants and ikesrv.crypto only.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from ..constants import DhId, EncrId, IntegId, PrfId, TransformType
from ..crypto import transforms as T
from ..crypto.proposals import ProposalSpec, parse_esp_proposal, parse_ike_proposal

#: integrity transform that goes with each PRF when a client names one hash for both
HASH_PAIRS = {
    PrfId.PRF_HMAC_SHA2_256: IntegId.AUTH_HMAC_SHA2_256_128,
    PrfId.PRF_HMAC_SHA2_384: IntegId.AUTH_HMAC_SHA2_384_192,
    PrfId.PRF_HMAC_SHA2_512: IntegId.AUTH_HMAC_SHA2_512_256,
    PrfId.PRF_HMAC_SHA1: IntegId.AUTH_HMAC_SHA1_96,
    PrfId.PRF_HMAC_MD5: IntegId.AUTH_HMAC_MD5_96,
}
_INTEG_TO_PRF = {i: p for p, i in HASH_PAIRS.items()}

Encr = tuple[int, int | None]  # (ENCR transform ID, key bits or None)


@dataclass(frozen=True)
class Suite:
    """One choice per transform type, as a single-choice client is configured."""

    protocol: str  # "ike" or "esp"
    encr: Encr
    integ: int | None  # None with an AEAD cipher
    prf: int | None  # IKE only
    dh: int | None  # IKE: the group; ESP: the PFS group for rekeys, None: no PFS

    @property
    def aead(self) -> bool:
        return T.ENCR[self.encr[0]].aead

    def keywords(self, *, with_dh: bool = True) -> str:
        """The suite in strongSwan proposal syntax."""
        encr_id, bits = self.encr
        words = [T.token_name(TransformType.ENCR, encr_id, bits)]
        if self.protocol == "ike":
            if self.aead:
                words.append(T.token_name(TransformType.PRF, self.prf))
            else:
                words.append(T.token_name(TransformType.INTEG, self.integ))
        elif self.integ is not None:
            words.append(T.token_name(TransformType.INTEG, self.integ))
        if with_dh and self.dh:
            words.append(T.token_name(TransformType.DH, self.dh))
        return "-".join(words)

    def spec(self, *, with_dh: bool = True) -> ProposalSpec:
        """What the client proposes, as a ProposalSpec (to check it against ours)."""
        parse = parse_ike_proposal if self.protocol == "ike" else parse_esp_proposal
        return parse(self.keywords(with_dh=with_dh))


def choose_ike(specs: Sequence[ProposalSpec], encr_ok: Container, hash_ok: Container,
               dh_ok: Container) -> Suite | None:
    """The first combination, in our order, that a client naming one encryption (from
    ``encr_ok``), one hash (a PRF from ``hash_ok``) and one group can propose."""
    for spec in specs:
        for encr in spec.encr:
            if encr not in encr_ok:
                continue
            aead = T.ENCR[encr[0]].aead
            for prf in spec.prf:
                if prf not in hash_ok:
                    continue
                integ = None if aead else HASH_PAIRS.get(prf)
                if not aead and integ not in spec.integ:
                    continue
                group = next((g for g in spec.dh_groups if g in dh_ok), None)
                if group is not None:
                    return Suite("ike", encr, integ, prf, group)
    return None


def choose_esp(specs: Sequence[ProposalSpec], encr_ok: Container,
               integ_ok: Container, pfs_ok: Container, *,
               prefer_pfs: bool = True) -> Suite | None:
    """The first ESP combination, in our order, a single-choice client can propose.

    Its DH group only matters for rekeys (the CHILD SA of IKE_AUTH has none, RFC 7296
    §1.2): a proposal that demands PFS needs a group the client has; one that makes it
    optional (DH NONE listed) takes a group when the client has one and ``prefer_pfs``."""
    for spec in specs:
        for encr in spec.encr:
            if encr not in encr_ok:
                continue
            aead = T.ENCR[encr[0]].aead
            integs: Sequence[int | None] = [None] if aead else [
                i for i in spec.integ if i in integ_ok]
            for integ in integs:
                groups = [g for g in spec.dh_groups if g in pfs_ok]
                optional = not spec.dh_groups or DhId.NONE in spec.dh
                if groups and (prefer_pfs or not optional):
                    return Suite("esp", encr, integ, None, groups[0])
                if optional:
                    return Suite("esp", encr, integ, None, None)
    return None


def describe_missing(specs: Sequence[ProposalSpec], platform: str,
                     supported: Callable[[], str]) -> str:
    """The error text when no proposal of a connection suits a platform."""
    ours = ", ".join(s.text for s in specs)
    return (f"none of the connection's proposals ({ours}) can be expressed for {platform}, "
            f"which supports {supported()}; add one it can use (see the proposal sets "
            "%windows-modern, %apple and %android)")


# the transforms by name, for the tables of the platform writers
AES_CBC = EncrId.ENCR_AES_CBC
AES_GCM16 = EncrId.ENCR_AES_GCM_16
TRIPLE_DES = EncrId.ENCR_3DES
CHACHA = EncrId.ENCR_CHACHA20_POLY1305
