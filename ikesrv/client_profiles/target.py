"""What a client must know of one connection: address, identities, trust anchors, routes.

Owns ``Target``, the facts every platform writer needs, derived once from the checked
configuration: the address clients dial, the identity ikesrv presents (and that clients
may ask for as IDr, RFC 7296 §3.5), how each side authenticates, the certificates a client
must trust to verify ikesrv's certificate (RFC 7296 §3.6: ikesrv sends its end-entity
certificate, the client needs the anchor it chains to), the networks the tunnel carries
(what ikesrv narrows the client's traffic selectors to, RFC 7296 §2.9), the DNS servers
of the pool and, only when asked, the connection's pre-shared key.

Raises ``ProfileError`` when the configuration cannot give a client what it needs (no
address to dial, a PSK identity nobody can guess), naming the option that fixes it.

Must not import: the core, the server, any I/O edge. Reads certificate files through
ikesrv.crypto.certs, as the configuration check already did.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..config import Config, ConnectionConfig
from ..constants import IdType
from ..crypto import certs
from ..identity import Identity, IdentityPattern

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

EAP_METHODS = ("eap-mschapv2", "eap-gtc", "eap-md5")
_ANY_IDS = ("", "%any", "%any6", "*", "0.0.0.0", "::")


class ProfileError(ValueError):
    """The configuration (or the options) cannot make a working profile; says why."""


@dataclass(frozen=True)
class Target:
    """One connection as a client sees it."""

    connection: ConnectionConfig
    display_name: str
    server: str  # what the client dials: a DNS name or an address
    server_id: str  # the identity ikesrv presents, in strongSwan's text form
    server_id_type: IdType
    client_id: str | None  # the client's IKE identity, None: the client's own choice
    user: str | None  # EAP / XAuth user name, None: the user types it
    server_certificate: x509.Certificate | None
    trust_chain: tuple[x509.Certificate, ...]  # issuer of the server certificate first
    routes: tuple[IPNetwork, ...]  # networks behind ikesrv the tunnel carries
    full_tunnel: bool
    virtual_ip: bool  # the client asks for an address from a pool
    dns: tuple[str, ...]
    psk: bytes | None = field(default=None, repr=False)  # only with include_psk
    client_p12: bytes | None = field(default=None, repr=False)

    @property
    def version(self) -> int:
        return self.connection.version

    @property
    def server_auth(self) -> str:
        return self.connection.local_auth

    @property
    def client_auth(self) -> str:
        return self.connection.remote_auth

    @property
    def eap(self) -> bool:
        return self.client_auth in EAP_METHODS

    @property
    def anchor(self) -> x509.Certificate | None:
        """The certificate to install as trusted: the top of the chain we found."""
        return self.trust_chain[-1] if self.trust_chain else None

    @property
    def issuer_common_name(self) -> str | None:
        """Common name of the CA that issued ikesrv's certificate (Apple's CERTREQ hint)."""
        if self.server_certificate is None:
            return None
        found = self.server_certificate.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(found[0].value) if found else None

    @property
    def server_key_type(self) -> str | None:
        """rsa, ecdsa256, ecdsa384, ecdsa521, ed25519 or ed448: what signs ikesrv's AUTH."""
        if self.server_certificate is None:
            return None
        key = self.server_certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return "rsa"
        if isinstance(key, ec.EllipticCurvePublicKey):
            return {256: "ecdsa256", 384: "ecdsa384", 521: "ecdsa521"}.get(key.curve.key_size,
                                                                           "ecdsa")
        if isinstance(key, ed25519.Ed25519PublicKey):
            return "ed25519"
        if isinstance(key, ed448.Ed448PublicKey):
            return "ed448"
        return None

    def uuid(self, platform: str, salt: str = "") -> str:
        """A stable UUID: the same server, connection, user and platform give the same one,
        so that importing a regenerated profile replaces the old one instead of adding."""
        name = "|".join((self.server, self.connection.name, self.user or "", platform, salt))
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "ikesrv-profile:" + name))


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def build_target(config: Config, name: str, *, server: str | None = None,
                 ca_file: Path | None = None, user: str | None = None,
                 client_id: str | None = None, include_psk: bool = False,
                 client_p12: Path | None = None, display_name: str | None = None) -> Target:
    """The facts of connection ``name`` for a client; ProfileError when one is missing."""
    connection = config.connections.get(name)
    if connection is None:
        known = ", ".join(config.connections) or "none"
        raise ProfileError(f'no connection "{name}" in {config.source} (connections: {known})')
    dial = server or _default_server(config, connection)
    server_cert, chain_file = _server_certificates(connection)
    extra = _read_certs(ca_file) if ca_file is not None else []
    trust = _trust_chain(server_cert, chain_file + list(_anchors(connection)) + extra)
    if server_cert is not None and ca_file is not None and not trust:
        raise ProfileError(f"{ca_file} holds no certificate that issued {connection.certificate}")
    server_id, id_type = _server_identity(connection, server_cert, dial)
    routes, full, dns, vip = _routes(config, connection)
    psk = connection.psk.reveal() if include_psk and connection.psk is not None else None
    p12 = None
    if client_p12 is not None:
        try:
            p12 = client_p12.read_bytes()
        except OSError as e:
            raise ProfileError(f"cannot read {client_p12}: {e.strerror or e}") from None
    return Target(
        connection=connection,
        display_name=display_name or f"{dial} ({connection.name})",
        server=dial,
        server_id=server_id,
        server_id_type=id_type,
        client_id=_client_identity(connection, client_id),
        user=user,
        server_certificate=server_cert,
        trust_chain=tuple(trust),
        routes=routes,
        full_tunnel=full,
        virtual_ip=vip,
        dns=dns,
        psk=psk,
        client_p12=p12,
    )


def _default_server(config: Config, connection: ConnectionConfig) -> str:
    """The connection's own name for ikesrv when it is a DNS name or an address, else the
    one concrete listen address; the operator says --server otherwise."""
    if connection.local_id:
        try:
            ident = Identity.parse(connection.local_id)
        except ValueError:
            ident = None
        if ident is not None and ident.id_type in (IdType.ID_FQDN, IdType.ID_IPV4_ADDR,
                                                   IdType.ID_IPV6_ADDR):
            return str(ident).lstrip("@")
    concrete = [a for a in config.server.addresses if not a.is_unspecified]
    if len(concrete) == 1:
        return str(concrete[0])
    raise ProfileError(f"connection {connection.name}: say which address or DNS name clients "
                       "connect to with --server (local_id is not a DNS name and [server] "
                       "addresses has no single concrete address)")


def _read_certs(path: Path) -> list[x509.Certificate]:
    try:
        return certs.load_certificates(str(path))
    except certs.CredentialError as e:
        raise ProfileError(str(e)) from None


def _server_certificates(connection: ConnectionConfig
                         ) -> tuple[x509.Certificate | None, list[x509.Certificate]]:
    """ikesrv's certificate and whatever else its file holds (intermediates, a root)."""
    if connection.local_auth != "pubkey" or connection.certificate is None:
        return None, []
    found = _read_certs(connection.certificate)
    return found[0], found[1:]


def _anchors(connection: ConnectionConfig):
    for path in connection.ca_certificates:
        yield from _read_certs(path)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):  # not this issuer's signature
        return False
    return True


def _trust_chain(leaf: x509.Certificate | None, candidates: list[x509.Certificate]
                 ) -> list[x509.Certificate]:
    """From the issuer of ``leaf`` up to a self-signed root, as far as ``candidates`` go."""
    chain: list[x509.Certificate] = []
    current = leaf
    while current is not None and len(chain) < 8:
        if current.issuer == current.subject and current is not leaf:
            break  # a root: the end
        issuer = next((c for c in candidates if c not in chain and c is not current
                       and _issued_by(current, c)), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def _server_identity(connection: ConnectionConfig, cert: x509.Certificate | None,
                     dial: str) -> tuple[str, IdType]:
    """What ikesrv sends as IDr (ikesrv.connections.Connection.local_identity)."""
    if connection.local_id:
        ident = Identity.parse(connection.local_id)
        text = connection.local_id if ident.id_type is IdType.ID_DER_ASN1_DN else str(ident)
        return text, ident.id_type
    if cert is not None:
        subject = certs.subject_identity(cert)
        if subject is not None:
            return str(subject), IdType.ID_DER_ASN1_DN
    # a PSK connection without local_id: ikesrv's address as the client reached it
    try:
        address = ipaddress.ip_address(dial)
    except ValueError:
        raise ProfileError(f"connection {connection.name} has no local_id: ikesrv then "
                           "identifies itself by the address the client reached, which a "
                           f"client dialling the name {dial} cannot predict; set local_id "
                           "(e.g. to that name) or pass an address as --server") from None
    return str(address), IdType.ID_IPV4_ADDR if address.version == 4 else IdType.ID_IPV6_ADDR


def _client_identity(connection: ConnectionConfig, given: str | None) -> str | None:
    """The identity the client sends as IDi, when the connection constrains it."""
    if given is not None:
        pattern = IdentityPattern.parse(connection.remote_id)
        try:
            ident = Identity.parse(given)
        except ValueError as e:
            raise ProfileError(f"--client-id {given!r}: {e}") from None
        if connection.remote_auth in ("psk", "pubkey") and not pattern.matches(ident):
            raise ProfileError(f"--client-id {given!r} does not match connection "
                               f"{connection.name}'s remote_id {connection.remote_id!r}")
        return given
    if connection.remote_auth != "psk":
        return None  # certificates carry it; EAP and XAuth users are named by the backend
    remote = connection.remote_id.strip()
    if remote in _ANY_IDS:
        return None
    if "*" in remote:
        raise ProfileError(f"connection {connection.name} accepts PSK clients whose identity "
                           f"matches {remote!r}: give the client's own with --client-id")
    return remote


def _routes(config: Config, connection: ConnectionConfig
            ) -> tuple[tuple[IPNetwork, ...], bool, tuple[str, ...], bool]:
    """The networks the client sends through the tunnel, whether that is everything, the
    pools' DNS servers, and whether the client asks for a virtual IP."""
    pools = [config.pools[p] for p in connection.pools if p in config.pools]
    split = tuple(n for pool in pools for n in pool.split_include)
    # ikesrv narrows the client's TSr to local_ts (RFC 7296 §2.9); split_include narrows
    # further what the client is told to route (INTERNAL_IP4_SUBNET, Mode Config split)
    routes = split or tuple(connection.local_ts)
    families = {pool.addresses.version for pool in pools}
    if families:
        # a client with only an IPv4 address cannot use IPv6 selectors (RFC 7296 §2.9)
        routes = tuple(n for n in routes if n.version in families)
    full = any(n.prefixlen == 0 for n in routes)
    if full:
        routes = tuple(n for n in routes if n.prefixlen == 0)
    dns = tuple(str(a) for pool in pools for a in pool.dns)
    return routes, full, dns, bool(pools)
