"""Connections as the core uses them: config entries with their credentials loaded.

Owns: turning each ``[connections.NAME]`` of the config into a Connection with parsed
identities, loaded certificate and key, trust store, PSK, proposal specs, traffic
selectors and timings, and the choice of a connection for a peer: by address and IKE
version before anything is authenticated (IKE_SA_INIT), then by the peer's identity,
authentication method and the identity it asked us to be (IKE_AUTH).

Reads files only here, when a config is loaded (start-up, SIGHUP), never per packet.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from dataclasses import dataclass, field

from .actions import TrafficSelectorSpec
from .config import Config, ConnectionConfig
from .constants import HashAlgorithm
from .crypto import certs
from .identity import Identity, IdentityPattern

log = logging.getLogger("ikesrv.config")

EAP_METHODS = ("eap-mschapv2", "eap-gtc", "eap-md5")


def _ts(network) -> TrafficSelectorSpec:
    return TrafficSelectorSpec(network.network_address, network.broadcast_address)


@dataclass(slots=True)
class RetransmitDefaults:
    retransmit_timeout: float = 4.0
    retransmit_tries: int = 5
    retransmit_base: float = 1.8


@dataclass(eq=False)
class Connection:
    """One connection with everything loaded; shared by all SAs using it."""

    cfg: ConnectionConfig
    local_id: Identity | None
    remote_id: IdentityPattern
    credential: object = None  # certs.LocalCredential
    trust: object = None  # certs.TrustStore
    local_ts: list = field(default_factory=list)
    remote_ts: list = field(default_factory=list)

    def __getattr__(self, name):  # everything else reads through to the config entry
        return getattr(self.cfg, name)

    @property
    def ike_proposals(self):
        return self.cfg.proposals

    @property
    def signature_hash_algorithms(self) -> frozenset:
        """Hash algorithms accepted in RFC 7427 signatures: SHA-1 only when named weak."""
        algs = {HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512,
                HashAlgorithm.IDENTITY}
        if "sha1" in self.cfg.weak_algorithms:
            algs.add(HashAlgorithm.SHA1)
        return frozenset(algs)

    def suite_label(self, selected) -> str:
        """The bounded metric label for a negotiated suite: the configured proposal string
        that accepted it (operators see which of their sets clients use)."""
        # asked once per SA: remembered per algorithm combination, which our own
        # proposals bound (every selected suite is one of their combinations)
        key = (selected.encr, selected.encr_key_len, selected.integ, selected.prf, selected.dh)
        cache = self.__dict__.setdefault("_suite_labels", {})
        label = cache.get(key)
        if label is None:
            from .crypto import proposals
            wire = [selected.to_wire()]
            label = "other"
            for text, spec in zip(self.cfg.proposal_strings, self.cfg.proposals):
                if proposals.select_ike([spec], wire, prefer_dh=selected.dh) is not None:
                    label = text
                    break
            cache[key] = label
        return label

    def pools_for_family(self, family: int) -> list[str]:
        return [name for name in self.cfg.pools if self._pool_family(name) == family]

    def esp_pfs_group(self) -> int:
        """The first DH group of our ESP proposals (0: no PFS configured)."""
        for spec in self.cfg.esp_proposals:
            groups = getattr(spec, "dh_groups", ())
            for g in groups:
                if g:
                    return g
        return 0

    def esp_proposals_for_pfs(self, group: int) -> tuple:
        """ESP proposals that accept PFS with ``group`` in a CREATE_CHILD_SA.

        Our own ESP proposals when they name the group. When they name no group at all
        (no PFS required), a peer that adds PFS anyway (Windows does on CHILD rekeys) is
        accepted with a group this connection trusts for its IKE SA: more secrecy, never
        less, and no rekey failure. Otherwise nothing extra.
        """
        if any(group in spec.dh_groups for spec in self.cfg.esp_proposals):
            return self.cfg.esp_proposals
        if any(spec.dh_groups for spec in self.cfg.esp_proposals):
            return self.cfg.esp_proposals  # PFS configured, with other groups: ours decide
        ike_groups = {g for spec in self.cfg.proposals for g in spec.dh_groups}
        if group not in ike_groups:
            return self.cfg.esp_proposals
        # one tuple per group: proposal decisions are remembered per our proposal list
        variants = self.__dict__.setdefault("_pfs_variants", {})
        found = variants.get(group)
        if found is None:
            found = variants[group] = tuple(dataclasses.replace(spec, dh=(group,))
                                            for spec in self.cfg.esp_proposals)
        return found

    def local_identity(self, local_ip: str) -> Identity:
        if self.local_id is not None:
            return self.local_id
        return Identity.parse(local_ip)

    _pool_families: dict = None  # filled by Connections

    def _pool_family(self, name: str) -> int:
        return self._pool_families.get(name, 4)


class Connections:
    """All connections of one config, in config order."""

    def __init__(self, config: Config):
        self.config = config
        self.defaults = RetransmitDefaults()
        families = {name: pool.addresses.version for name, pool in config.pools.items()}
        self.all: list[Connection] = []
        for name, cfg in config.connections.items():
            conn = self._build(cfg)
            conn._pool_families = families
            self.all.append(conn)
        self._certreq_cache: dict[tuple, bytes] = {}
        # per version: the candidates of every peer when no connection of that version
        # limits remote_addrs (the usual road-warrior case: no address to parse per SA)
        self._any_address: dict[int, list[Connection]] = {}
        for version in (1, 2):
            of_version = [c for c in self.all if c.version == version]
            if not any(c.remote_addrs for c in of_version):
                self._any_address[version] = of_version

    @staticmethod
    def _build(cfg: ConnectionConfig) -> Connection:
        credential = trust = None
        if cfg.local_auth == "pubkey" and cfg.certificate is not None:
            credential = certs.LocalCredential.load(cfg.certificate, cfg.private_key)
        if cfg.ca_certificates:
            trust = certs.TrustStore.load(cfg.ca_certificates)
        if cfg.local_id:
            local_id = Identity.parse(cfg.local_id)
        elif credential is not None:
            local_id = Identity.from_certificate_subject(credential.certificate)
        else:
            local_id = None
        conn = Connection(cfg=cfg, local_id=local_id, remote_id=IdentityPattern.parse(cfg.remote_id),
                          credential=credential, trust=trust)
        conn.local_ts = [_ts(n) for n in cfg.local_ts]
        conn.remote_ts = [_ts(n) for n in cfg.remote_ts]
        # the config entry's fields as plain attributes: the exchanges read a dozen per
        # SA, and each read through __getattr__ costs a failed lookup first
        own = {f.name for f in dataclasses.fields(Connection)}
        for f in dataclasses.fields(cfg):
            if f.name not in own and not hasattr(Connection, f.name):
                conn.__dict__[f.name] = getattr(cfg, f.name)
        return conn

    def for_ikev2(self, remote_ip: str) -> list[Connection]:
        return self._for_version(2, remote_ip)

    def for_ikev1(self, remote_ip: str) -> list[Connection]:
        return self._for_version(1, remote_ip)

    def _for_version(self, version: int, remote_ip: str) -> list[Connection]:
        same_for_all = self._any_address.get(version)
        if same_for_all is not None:
            return list(same_for_all)
        address = ipaddress.ip_address(remote_ip)
        return [c for c in self.all if c.version == version
                and (not c.remote_addrs or any(address in net for net in c.remote_addrs))]

    def select_v2(self, candidates, peer_id: Identity, wanted_local: Identity | None,
                  kind: str) -> Connection | None:
        """The first candidate accepting this identity with this authentication.

        ``kind`` is what the peer's AUTH payload says: "psk", "pubkey", or "eap" when it
        sent none (RFC 7296 §2.16). A requested IDr that names none of our identities
        is ignored when only one connection fits (strongSwan does the same), else it
        decides.
        """
        fitting = []
        for c in candidates:
            if kind == "eap":
                if c.remote_auth not in EAP_METHODS:
                    continue
            elif c.remote_auth != kind:
                continue
            if kind != "eap" and not c.remote_id.matches(peer_id):
                continue
            fitting.append(c)
        if wanted_local is not None:
            named = [c for c in fitting if c.local_id is not None and c.local_id == wanted_local]
            if named:
                return named[0]
        return fitting[0] if fitting else None

    def certreq_data(self, candidates) -> bytes:
        """CERTREQ contents for peers that may authenticate with certificates (§3.7)."""
        key = tuple(id(c) for c in candidates if c.remote_auth == "pubkey" and c.trust)
        if not key:
            return b""
        cached = self._certreq_cache.get(key)
        if cached is None:
            cas = []
            for c in candidates:
                if c.remote_auth == "pubkey" and c.trust is not None:
                    cas.extend(c.trust.anchors)
            cached = self._certreq_cache[key] = certs.certreq_data(cas)
        return cached
