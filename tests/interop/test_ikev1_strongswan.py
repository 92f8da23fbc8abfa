"""strongSwan's charon (swanctl) as an IKEv1 client of ``ikesrv serve`` in network
namespaces: Main Mode PSK with PFS, Aggressive Mode + XAuth + Mode Config, Main Mode
RSA + XAuth, NAT-T through the NAT namespace; both sides' views are compared.

The client runs kernel-libipsec (this kernel has no ESP): it fakes NAT detection and so
always asks for UDP-encapsulated tunnel mode (3) and floats to port 4500; the NAT test
uses kernel-netlink, whose NAT-D hashes are real.
"""

from __future__ import annotations

import pytest

from tests.harness import scenarios
from tests.harness.netns import (
    CL_NET,
    GW_ADDR,
    GW_NAT_SIDE_ADDR,
    NAT_PUBLIC_ADDR,
    PROTECTED_NET,
)
from tests.harness.ikesrv_configs import USERS_TOML, gateway, users_file
from tests.harness.strongswan import SwanctlConf

pytestmark = pytest.mark.root

BASE = gateway() + users_file()

MAIN_PSK = f"""
[connections.v1-main]
version = 1
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "v1.psk"
remote_addrs = ["198.51.100.0/24", "203.0.113.0/24"]
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256-modp2048", "aes256-sha256"]
local_ts = ["{PROTECTED_NET}"]
remote_ts = ["{CL_NET}", "198.51.100.2/32", "203.0.113.2/32"]
"""

AGGR_XAUTH = f"""
[connections.v1-xauth]
version = 1
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "xauth"
remote_id = "{scenarios.GROUP_ID}"
psk_file = "group.psk"
aggressive = true
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256", "aes256-sha256-modp2048"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""

USERS = USERS_TOML


def files(**extra) -> dict:
    out = {"v1.psk": scenarios.V1_PSK + "\n", "group.psk": scenarios.GROUP_PSK + "\n",
           "users.toml": USERS}
    out.update(extra)
    return out


def start(topology, ikesrv, config: str, *, workers: int = 1, **extra):
    # one worker: the first virtual IP is then the pool's first address
    return ikesrv(topology.gw, config, files(**extra), address=GW_ADDR, workers=workers)


def needs_users_backend() -> None:
    try:
        from ikesrv.auth import backend_from_config  # noqa: F401
    except ImportError:
        pytest.skip("XAuth needs the users backend (ikesrv.auth), which is not built yet")


@pytest.mark.parametrize("workers", [1, 2])
def test_main_mode_psk_with_pfs(topology, ikesrv, strongswan, workers):
    # with two workers, every message after MM1 must reach the worker whose index is
    # in our cookie (DESIGN §4)
    server = start(topology, ikesrv, BASE + MAIN_PSK, workers=workers)
    client = strongswan(topology.cl, "cl", scenarios.v1_main_client())
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert sa.version == 1
    assert (sa.encr_alg, sa.integ_alg, sa.dh_group) == ("AES_CBC", "HMAC_SHA2_256_128",
                                                        "MODP_2048")
    assert sa.remote_id == scenarios.GW_ID
    child = sa.child("net")
    assert child.local_ts == [CL_NET] and child.remote_ts == [PROTECTED_NET]
    assert child.dh_group == "MODP_2048"  # PFS
    (ours,) = server.sas()
    assert ours["version"] == 1 and ours["state"] == "established"
    assert ours["identity"] == scenarios.CLIENT_ID and ours["auth"] == "psk"
    assert ours["spi_i"] == sa.initiator_spi and ours["spi_r"] == sa.responder_spi
    assert ours["algorithms"] == "aes256-sha256-modp2048"
    (theirs,) = ours["child_sas"]
    assert theirs["spi_in"] == child.spi_out and theirs["spi_out"] == child.spi_in
    assert theirs["local_ts"] == [PROTECTED_NET] and theirs["remote_ts"] == [CL_NET]
    assert theirs["algorithms"] == "aes256-sha256-modp2048"
    assert "Traceback" not in server.log_text()


def test_aggressive_mode_xauth_mode_config(topology, ikesrv, strongswan):
    needs_users_backend()
    server = start(topology, ikesrv, BASE + AGGR_XAUTH)
    conf = scenarios.v1_xauth_client()
    client = strongswan(topology.cl, "cl", conf)
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert sa.local_vips == ["192.0.2.129"]
    assert sa.child("net").local_ts == ["192.0.2.129/32"]
    assert sa.child("net").remote_ts == [PROTECTED_NET]
    (ours,) = server.sas()
    assert ours["identity"] == scenarios.GROUP_ID and ours["eap_identity"] == "alice"
    assert ours["auth"] == "xauth" and ours["virtual_ip"] == "192.0.2.129"
    assert ours["child_sas"][0]["remote_ts"] == ["192.0.2.129/32"]



def rsa_xauth_config(test_pki) -> tuple[str, dict]:
    config = BASE + f"""
[connections.v1-rsa]
version = 1
local_id = "{scenarios.GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "xauth"
remote_id = "*@example.test"
ca_certificates = ["ca.crt"]
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""
    return config, {"gw.crt": test_pki["gw"].cert_pem, "gw.key": test_pki["gw"].key_pem,
                    "ca.crt": test_pki.ca.cert_pem}


def rsa_xauth_client(user: str = "alice", password: str | None = None) -> SwanctlConf:
    conf = SwanctlConf(f"IKEv1 Main Mode RSA + XAuth as {user}")
    conf.connection("gw", version=1, remote_addrs=GW_ADDR, vips="0.0.0.0",
                    proposals="aes256-sha256-modp2048",
                    local={"auth": "pubkey", "certs": "client1.crt", "id": scenarios.CLIENT_ID},
                    **{"local-xauth": {"auth": "xauth", "xauth_id": user}},
                    remote={"auth": "pubkey", "id": scenarios.GW_ID},
                    children={"net": {"remote_ts": PROTECTED_NET,
                                      "esp_proposals": "aes256-sha256"}})
    conf.secret(f"xauth-{user}", id=user, secret=password or scenarios.USERS[user])
    return conf


def test_main_mode_rsa_xauth(topology, ikesrv, strongswan, test_pki):
    needs_users_backend()
    config, pki_files = rsa_xauth_config(test_pki)
    server = start(topology, ikesrv, config, **pki_files)
    client = strongswan(topology.cl, "cl", rsa_xauth_client(), cert="client1")
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert sa.remote_id == scenarios.GW_ID and sa.local_vips == ["192.0.2.129"]
    (ours,) = server.sas()
    assert ours["identity"] == scenarios.CLIENT_ID and ours["eap_identity"] == "alice"
    assert ours["auth"] == "xauth" and ours["virtual_ip"] == "192.0.2.129"
    assert ours["spi_i"] == sa.initiator_spi and ours["spi_r"] == sa.responder_spi
    assert ours["child_sas"][0]["spi_out"] == sa.child("net").spi_in
    # MM5 and MM6 carry certificates: both sides announced IKEv1 fragmentation and used it
    log = client.log_text()
    assert "splitting IKE message" in log and "reassembled fragmented IKE message" in log


def test_wrong_xauth_password_is_refused_after_retries(topology, ikesrv, strongswan, test_pki):
    needs_users_backend()
    config, pki_files = rsa_xauth_config(test_pki)
    server = start(topology, ikesrv, config.replace('pools = ["rw"]', 'pools = ["rw"]\n'
                                                    'xauth_retries = 2'), **pki_files)
    client = strongswan(topology.cl, "cl", rsa_xauth_client(password="not-alices-password"),
                        cert="client1")
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    log = client.log_text()
    assert log.count("parsed TRANSACTION request") >= 3  # two REQUESTs, then the SET
    assert "XAuth authentication of 'alice' (myself) failed" in log
    assert server.log_text().count("XAuth login of 'alice' refused: wrong password") == 2
    assert server.sas() == []


def test_nat_traversal_through_a_nat_namespace(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    client = strongswan(topology.cl, "cl", scenarios.v1_main_client(remote=GW_NAT_SIDE_ADDR))
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert sa.remote_port == 4500 and sa.child("net").encap
    (ours,) = server.sas()
    host, port = ours["remote"].rsplit(":", 1)
    assert host == NAT_PUBLIC_ADDR and 20000 <= int(port) <= 29999
    assert ours["local"] == f"{GW_NAT_SIDE_ADDR}:4500" and ours["nat"] is True
    assert ours["child_sas"][0]["spi_out"] == sa.child("net").spi_in


def test_nat_detection_hashes_agree(topology, ikesrv, strongswan):
    # kernel-netlink computes real NAT-D hashes (kernel-libipsec fakes them); its Quick
    # Mode install then fails on this kernel without ESP, the ISAKMP SA stays up
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    client = strongswan(topology.cl, "cl", scenarios.v1_main_client(remote=GW_NAT_SIDE_ADDR),
                        kernel="netlink")
    client.initiate("net", "gw", timeout=20)
    (sa,) = client.list_sas()
    assert sa.established, client.log_text() + server.log_text()
    assert sa.nat_local and not sa.nat_remote and not sa.nat_fake
    (ours,) = server.sas()
    assert ours["nat"] is True and ours["remote"].startswith(NAT_PUBLIC_ADDR + ":")


def test_wrong_psk_is_refused(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    conf = scenarios.v1_main_client()
    conf.secrets["ike-gw"]["secret"] = "not-the-right-psk-0000"
    client = strongswan(topology.cl, "cl", conf)
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    assert server.sas() == []
    assert "wrong pre-shared key" in server.log_text()
    assert "Traceback" not in server.log_text()


def test_aggressive_mode_refused_unless_enabled(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + AGGR_XAUTH.replace("aggressive = true\n", ""))
    client = strongswan(topology.cl, "cl", scenarios.v1_xauth_client())
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    assert "AUTHENTICATION_FAILED" in client.log_text()
    assert server.sas() == []
    assert "aggressive = true" in server.log_text()


def test_weak_proposal_refused(topology, ikesrv, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    conf = scenarios.v1_main_client()
    conf.connections["gw"]["proposals"] = "aes128-sha1-modp1024"
    client = strongswan(topology.cl, "cl", conf)
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    assert "NO_PROPOSAL_CHOSEN" in client.log_text()
    assert server.sas() == []


def test_ikev1_and_ikev2_clients_at_once(topology, ikesrv, strongswan):
    v2 = f"""
[connections.rw-v2]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "v2.psk"
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""
    server = start(topology, ikesrv, BASE + MAIN_PSK + v2, workers=2,
                   **{"v2.psk": scenarios.PSK + "\n"})
    conf = scenarios.v1_main_client()
    v2_client = scenarios.psk_client("aes256-sha256-modp2048", "aes256-sha256",
                                     local_id="client3@example.test")
    conf.connections["gw2"] = v2_client.connections["gw"]
    # one secret per client identity: both connections talk to the same gateway ID
    conf.secrets["ike-gw2"] = {"id": "client3@example.test", "secret": scenarios.PSK}
    conf.secrets["ike-gw"]["id"] = scenarios.CLIENT_ID
    client = strongswan(topology.cl, "cl", conf)
    assert client.initiate("net", "gw", timeout=20).ok, client.log_text() + server.log_text()
    assert client.initiate("net", "gw2", timeout=20).ok, client.log_text() + server.log_text()
    versions = sorted(sa.version for sa in client.list_sas())
    assert versions == [1, 2]
    ours = server.sas()
    assert sorted(sa["version"] for sa in ours) == [1, 2]
    assert all(sa["state"] == "established" and len(sa["child_sas"]) == 1 for sa in ours)


def test_xauth_against_ldap(topology, ikesrv, strongswan, slapd):
    from tests.harness import slapd as S
    slapd(topology.gw)
    ldap = f"""
[users]
backend = "ldap"
[users.ldap]
url = "ldap://127.0.0.1:{S.DEFAULT_PORT}"
bind_dn = "{S.SERVICE_DN}"
bind_password_file = "ldap.secret"
user_base = "{S.PEOPLE}"
user_filter = "(&(objectClass=inetOrgPerson)(uid={{user}}))"
require_group = "{S.GROUP_DN}"
timeout = "2s"
"""
    config = BASE.split("[users]")[0] + ldap + AGGR_XAUTH.replace("aggressive = true",
                                                                 "aggressive = true\n"
                                                                 "xauth_retries = 1")
    server = start(topology, ikesrv, config, **{"ldap.secret": S.SERVICE_PASSWORD + "\n"})
    client = strongswan(topology.cl, "cl", scenarios.v1_xauth_client())
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    (ours,) = server.sas()
    assert ours["eap_identity"] == "alice" and ours["virtual_ip"] == "192.0.2.129"
    # bob binds fine but is not in the VPN group: the same STATUS 0 as a wrong password
    bob = strongswan(topology.cl, "bob", scenarios.v1_xauth_client(user="bob"),
                     charon_settings={"port": 1500, "port_nat_t": 14500})
    assert not bob.initiate("net", "gw", timeout=20).ok
    assert "XAuth authentication of 'bob' (myself) failed" in bob.log_text()
    assert "XAuth login of 'bob' refused" in server.log_text()
    assert scenarios.USERS["bob"] not in server.log_text()
    assert len(server.sas()) == 1
