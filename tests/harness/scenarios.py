"""The interop scenarios as swanctl configurations: a strongSwan client for each, and a
strongSwan gateway that plays the responder's part (for captures and harness tests).

Owns: the identities, pre-shared keys and users tests share, and ``SCENARIOS``: for each
scenario its client configuration (what connects to ikesrv in interop tests) and a
charon gateway configuration answering the same way. Against ikesrv, only ``client()``
is used; the gateway side documents what ikesrv must accept.

  name                       client offers
  a1-ikev2-psk-gcm           IKEv2 PSK aes256gcm16-prfsha384-ecp384, ESP aes256gcm16-ecp384, VIP
  a2-ikev2-psk-modp2048      IKEv2 PSK aes256-sha256-modp2048, ESP the same with PFS, VIP
  b-ikev2-cert-eap-<m>       gateway RSA certificate, client EAP-<m> as alice, aes256-sha256-ecp256
                             (m = mschapv2, md5, gtc)
  c-ikev1-main-psk           IKEv1 Main Mode PSK, Quick Mode with PFS, net-to-net (no VIP)
  d-ikev1-aggr-psk-xauth     IKEv1 Aggressive Mode, group PSK, XAuth as alice, Mode Config VIP
  e-natt-ikev2-psk           a2 through the NAT namespace to 198.51.100.65

Imports only tests.harness.{strongswan,netns}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .netns import CL_NET, GW_ADDR, GW_NAT_SIDE_ADDR, PROTECTED_NET, VIP_POOL
from .strongswan import SwanctlConf

GW_ID = "gw.example.test"
CLIENT_ID = "client1@example.test"
GROUP_ID = "group1@example.test"
PSK = "lab-psk-0123456789"
V1_PSK = "lab-v1-psk-0123456789"
GROUP_PSK = "lab-group1-psk-0123456789"
PLUTO_PSK = "lab-pluto-psk-0123456789"
# EAP / XAuth users (the same as the test directory in tests/harness/slapd.py)
USERS = {"alice": "alice-Secret-1", "bob": "bob-Secret-2"}


def _user_secrets(conf: SwanctlConf, prefix: str, users: dict[str, str]) -> None:
    for user, password in users.items():
        conf.secret(f"{prefix}-{user}", id=user, secret=password)


# --- IKEv2 PSK (a1, a2, e) ----------------------------------------------------------


def psk_client(
    proposals: str,
    esp: str,
    *,
    remote: str = GW_ADDR,
    psk: str = PSK,
    local_id: str = CLIENT_ID,
    vip: bool = True,
    **conn: object,
) -> SwanctlConf:
    conf = SwanctlConf(f"IKEv2 PSK client: {proposals}, ESP {esp}")
    conf.connection(
        "gw",
        version=2,
        remote_addrs=remote,
        vips="0.0.0.0" if vip else None,
        proposals=proposals,
        local={"auth": "psk", "id": local_id},
        remote={"auth": "psk", "id": GW_ID},
        children={"net": {"remote_ts": PROTECTED_NET, "esp_proposals": esp}},
        **conn,
    )
    conf.secret("ike-gw", secret=psk)
    return conf


def psk_gateway(proposals: str, esp: str, *, psk: str = PSK, **conn: object) -> SwanctlConf:
    conf = SwanctlConf(f"IKEv2 PSK gateway: {proposals}, ESP {esp}, VIP pool")
    conf.connection(
        "rw-psk",
        version=2,
        proposals=proposals,
        pools="rw_pool",
        local={"auth": "psk", "id": GW_ID},
        remote={"auth": "psk"},  # any client identity
        children={"net": {"local_ts": PROTECTED_NET, "esp_proposals": esp}},
        **conn,
    )
    conf.pool("rw_pool", addrs=VIP_POOL)
    conf.secret("ike-rw", secret=psk)  # no id: one group PSK for every client
    return conf


# --- IKEv2 certificate + EAP (b) -----------------------------------------------------


def eap_client(
    method: str,
    *,
    user: str = "alice",
    remote: str = GW_ADDR,
    proposals: str = "aes256-sha256-ecp256",
) -> SwanctlConf:
    conf = SwanctlConf(f"IKEv2 client: EAP-{method.upper()} as {user}, gateway certificate")
    conf.connection(
        "gw",
        version=2,
        remote_addrs=remote,
        vips="0.0.0.0",
        proposals=proposals,
        local={"auth": f"eap-{method}", "id": user, "eap_id": user},
        remote={"auth": "pubkey", "id": GW_ID},
        children={"net": {"remote_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}},
    )
    conf.secret(f"eap-{user}", id=user, secret=USERS[user])
    return conf


def eap_gateway(method: str) -> SwanctlConf:
    conf = SwanctlConf(f"IKEv2 gateway: RSA certificate, clients EAP-{method.upper()}")
    conf.connection(
        "rw-eap",
        version=2,
        proposals="aes256-sha256-ecp256, aes256-sha256-modp2048",
        pools="rw_pool",
        send_cert="always",
        local={"auth": "pubkey", "certs": "gw.crt", "id": GW_ID},
        # eap_id %any: ask the client for its EAP identity first
        remote={"auth": f"eap-{method}", "eap_id": "%any"},
        children={"net": {"local_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}},
    )
    conf.pool("rw_pool", addrs=VIP_POOL)
    _user_secrets(conf, "eap", USERS)
    return conf


# --- IKEv1 (c, d) --------------------------------------------------------------------


def v1_main_client(*, remote: str = GW_ADDR) -> SwanctlConf:
    conf = SwanctlConf("IKEv1 Main Mode PSK client, Quick Mode with PFS, net-to-net")
    conf.connection(
        "gw",
        version=1,
        aggressive=False,
        remote_addrs=remote,
        proposals="aes256-sha256-modp2048",
        local={"auth": "psk", "id": CLIENT_ID},
        remote={"auth": "psk", "id": GW_ID},
        children={
            "net": {
                "local_ts": CL_NET,
                "remote_ts": PROTECTED_NET,
                "mode": "tunnel",
                "esp_proposals": "aes256-sha256-modp2048",
            }
        },
    )
    conf.secret("ike-gw", secret=V1_PSK)
    return conf


def v1_main_gateway() -> SwanctlConf:
    conf = SwanctlConf("IKEv1 Main Mode PSK gateway, net-to-net")
    conf.connection(
        "v1-main",
        version=1,
        proposals="aes256-sha256-modp2048",
        local={"auth": "psk", "id": GW_ID},
        remote={"auth": "psk"},
        children={
            "net": {
                "local_ts": PROTECTED_NET,
                "remote_ts": CL_NET,
                "mode": "tunnel",
                "esp_proposals": "aes256-sha256-modp2048",
            }
        },
    )
    # Main Mode: the responder picks the PSK before it sees the (encrypted) peer ID
    conf.secret("ike-v1", secret=V1_PSK)
    return conf


def v1_xauth_client(*, user: str = "alice", remote: str = GW_ADDR) -> SwanctlConf:
    conf = SwanctlConf(f"IKEv1 Aggressive Mode group PSK + XAuth as {user}, Mode Config VIP")
    conf.connection(
        "gw",
        version=1,
        aggressive=True,
        remote_addrs=remote,
        vips="0.0.0.0",
        proposals="aes256-sha256-modp2048",
        local={"auth": "psk", "id": GROUP_ID},
        **{"local-xauth": {"auth": "xauth", "xauth_id": user}},
        remote={"auth": "psk", "id": GW_ID},
        children={"net": {"remote_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}},
    )
    conf.secret("ike-group1", **{"id-1": GROUP_ID, "id-2": GW_ID}, secret=GROUP_PSK)
    conf.secret(f"xauth-{user}", id=user, secret=USERS[user])
    return conf


def v1_xauth_gateway() -> SwanctlConf:
    conf = SwanctlConf("IKEv1 Aggressive Mode group PSK + XAuth gateway, Mode Config pool")
    conf.connection(
        "v1-xauth",
        version=1,
        aggressive=True,
        proposals="aes256-sha256-modp2048",
        pools="rw_pool",
        local={"auth": "psk", "id": GW_ID},
        remote={"auth": "psk", "id": GROUP_ID},
        **{"remote-xauth": {"auth": "xauth-generic"}},
        children={"net": {"local_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}},
    )
    conf.pool("rw_pool", addrs=VIP_POOL)
    conf.secret("ike-group1", id=GROUP_ID, secret=GROUP_PSK)
    _user_secrets(conf, "xauth", USERS)
    return conf


# --- gateways for other initiators ---------------------------------------------------


def pluto_gateway() -> SwanctlConf:
    """For libreswan pluto initiators (tests/harness/libreswan.py's connections)."""
    conf = SwanctlConf("gateway for pluto: PSK, net-to-net, one connection per IKE version")
    for name, version, client_id in (
        ("pluto-v2", 2, CLIENT_ID),
        ("pluto-v1", 1, "client2@example.test"),
    ):
        conf.connection(
            name,
            version=version,
            proposals="aes256-sha256-modp2048"
            + (", aes256gcm16-prfsha256-modp2048" if version == 2 else ""),
            local={"auth": "psk", "id": GW_ID},
            remote={"auth": "psk", "id": client_id},
            children={
                "net": {
                    "local_ts": PROTECTED_NET,
                    "remote_ts": CL_NET,
                    "esp_proposals": "aes256-sha256, aes256-sha256-modp2048",
                }
            },
        )
    conf.secret("ike-pluto", secret=PLUTO_PSK)
    return conf


def ike_scan_gateway() -> SwanctlConf:
    """IKEv1 Main Mode PSK, Aggressive Mode PSK + XAuth and IKEv2 PSK at once; IKEv2 also
    takes aes256-sha1-modp2048, the only thing ike-scan --ikev2 can offer with group 14."""
    conf = SwanctlConf("gateway for ike-scan probes")
    conf.connection(
        "v1-main",
        version=1,
        proposals="aes256-sha256-modp2048",
        local={"auth": "psk", "id": GW_ID},
        remote={"auth": "psk"},
        children={"net": {"local_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256-modp2048"}},
    )
    conf.connection(
        "v1-xauth",
        version=1,
        aggressive=True,
        proposals="aes256-sha256-modp2048",
        pools="rw_pool",
        local={"auth": "psk", "id": GW_ID},
        remote={"auth": "psk", "id": GROUP_ID},
        **{"remote-xauth": {"auth": "xauth-generic"}},
        children={"net": {"local_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}},
    )
    conf.connection(
        "v2-psk",
        version=2,
        proposals="aes256-sha256-modp2048, aes256-sha1-modp2048",
        pools="rw_pool",
        local={"auth": "psk", "id": GW_ID},
        remote={"auth": "psk"},
        children={"net": {"local_ts": PROTECTED_NET, "esp_proposals": "aes256-sha256"}},
    )
    conf.pool("rw_pool", addrs=VIP_POOL)
    conf.secret("ike-group1", id=GROUP_ID, secret=GROUP_PSK)
    conf.secret("ike-any", secret=V1_PSK)
    conf.secret("xauth-alice", id="alice", secret=USERS["alice"])
    return conf


@dataclass(frozen=True)
class Scenario:
    description: str
    client: Callable[[], SwanctlConf]
    gateway: Callable[[], SwanctlConf]
    child: str = "net"
    ike: str = "gw"
    gateway_cert: str | None = None  # test PKI certificate the gateway needs
    via_nat: bool = False  # the client reaches the gateway through the NAT namespace
    ping_source: str | None = None  # net-to-net: ping from cl's own net


A1 = ("aes256gcm16-prfsha384-ecp384", "aes256gcm16-ecp384")
A2 = ("aes256-sha256-modp2048", "aes256-sha256-modp2048")

SCENARIOS: dict[str, Scenario] = {
    "a1-ikev2-psk-gcm": Scenario(
        "IKEv2 PSK, aes256gcm16-prfsha384-ecp384, virtual IP",
        lambda: psk_client(*A1),
        lambda: psk_gateway(*A1),
    ),
    "a2-ikev2-psk-modp2048": Scenario(
        "IKEv2 PSK, aes256-sha256-modp2048, virtual IP",
        lambda: psk_client(*A2),
        lambda: psk_gateway(*A2),
    ),
    **{
        f"b-ikev2-cert-eap-{m}": Scenario(
            f"IKEv2, gateway RSA certificate, client EAP-{m.upper()} as alice, virtual IP",
            (lambda m=m: eap_client(m)),
            (lambda m=m: eap_gateway(m)),
            gateway_cert="gw",
        )
        for m in ("mschapv2", "md5", "gtc")
    },
    "c-ikev1-main-psk": Scenario(
        "IKEv1 Main Mode PSK, Quick Mode with PFS, net-to-net",
        v1_main_client,
        v1_main_gateway,
        ping_source="198.51.100.193",
    ),
    "d-ikev1-aggr-psk-xauth": Scenario(
        "IKEv1 Aggressive Mode group PSK + XAuth, Mode Config virtual IP",
        v1_xauth_client,
        v1_xauth_gateway,
    ),
    "e-natt-ikev2-psk": Scenario(
        "IKEv2 PSK (a2) through the NAT namespace (UDP ports remapped)",
        lambda: psk_client(*A2, remote=GW_NAT_SIDE_ADDR),
        lambda: psk_gateway(*A2),
        via_nat=True,
    ),
}
