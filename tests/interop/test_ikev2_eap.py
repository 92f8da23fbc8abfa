"""strongSwan's charon as an IKEv2 EAP client of ``ikesrv serve`` (scenario b of
../shared/LAB.md §4): gateway certificate, then EAP-MSCHAPv2, EAP-MD5 or EAP-GTC as
alice, against the users file and against a real slapd in the gateway namespace. Both
sides' views are compared; wrong passwords, a user outside the group and a directory
that goes away (and comes back) are checked, with a PSK client on another connection
unaffected by the directory's absence."""

from __future__ import annotations

import ipaddress
import time

import pytest

from tests.harness import scenarios
from tests.harness import slapd as S
from tests.harness.ikesrv_configs import gateway, psk_road_warrior
from tests.harness.netns import GW_ADDR, PROTECTED_NET, VIP_POOL

pytestmark = pytest.mark.root

METHODS = ("mschapv2", "md5", "gtc")

BASE = gateway() + "{users}" + f"""
[connections.rw-eap]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "eap-{{method}}"
proposals = ["aes256-sha256-ecp256", "aes256gcm16-prfsha384-ecp384"]
esp_proposals = ["aes256-sha256", "aes256gcm16"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
""" + psk_road_warrior(proposals=("aes256gcm16-prfsha384-ecp384",),
                       esp_proposals=("aes256gcm16-ecp384", "aes256gcm16"))

USERS_FILE = """
[users]
backend = "file"
[users.file]
path = "users.toml"
"""

LDAP = f"""
[users]
backend = "ldap"
[users.ldap]
url = "ldap://127.0.0.1:{S.DEFAULT_PORT}"
bind_dn = "{S.SERVICE_DN}"
bind_password_file = "ldap.secret"
user_base = "{S.PEOPLE}"
user_filter = "(&(objectClass=inetOrgPerson)(uid={{user}}))"
nt_hash_attribute = "sambaNTPassword"
password_attribute = "userPassword"
require_group = "{S.GROUP_DN}"
timeout = "2s"
"""


def users_toml() -> str:
    from ikesrv.auth.eap.md4 import nt_hash
    from ikesrv.config import hash_password
    alice, bob = scenarios.USERS["alice"], scenarios.USERS["bob"]
    # alice also in clear text (EAP-MD5 needs it); bob only hashed
    return (f'[alice]\npassword_hash = "{hash_password(alice, ln=10)}"\n'
            f'nt_hash = "{nt_hash(alice).hex()}"\npassword = "{alice}"\n'
            f'[bob]\npassword_hash = "{hash_password(bob, ln=10)}"\n'
            f'nt_hash = "{nt_hash(bob).hex()}"\n')


def start(topology, ikesrv, test_pki, method: str, users: str):
    files = {"gw.crt": test_pki["gw"].cert_pem, "gw.key": test_pki["gw"].key_pem,
             "rw.psk": scenarios.PSK + "\n", "users.toml": users_toml(),
             "ldap.secret": S.SERVICE_PASSWORD + "\n"}
    config = BASE.replace("{users}", users).replace("{method}", method)
    return ikesrv(topology.gw, config, files, address=GW_ADDR)


def eap_client(strongswan, topology, method: str, user: str = "alice", password=None,
               name: str = "cl"):
    conf = scenarios.eap_client(method, user=user)
    if password is not None:
        conf.secret(f"eap-{user}", id=user, secret=password)
    return strongswan(topology.cl, name, conf)


def directory_in_gw(slapd, topology, clear_password_for: str | None = "alice"):
    directory = slapd(topology.gw)
    if clear_password_for:
        # EAP-MD5 needs the clear text: slapd keeps a userPassword as given
        password = scenarios.USERS[clear_password_for]
        ldif = (f"dn: uid={clear_password_for},{S.PEOPLE}\nchangetype: modify\n"
                f"replace: userPassword\nuserPassword: {password}\n")
        topology.gw.run(["ldapmodify", "-x", "-H", directory.uri, "-D", S.ROOT_DN, "-w",
                         S.ROOT_PASSWORD], input=ldif)
    return directory


def assert_both_views(client, server, result, method: str):
    assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    assert sa.established and len(sa.local_vips) == 1
    vip = sa.local_vips[0]
    assert ipaddress.ip_address(vip) in ipaddress.ip_network(VIP_POOL)
    assert sa.remote_id == scenarios.GW_ID
    child = sa.child("net")
    assert child.local_ts == [f"{vip}/32"] and child.remote_ts == [PROTECTED_NET]
    log = client.log_text()
    assert f"EAP method EAP_{method.upper()} succeeded" in log
    assert ("MSK established" in log) and (("no MSK" in log) == (method != "mschapv2"))
    # our certificate AUTH first, then the AUTH keyed with the MSK (or SK_p)
    assert "authentication of 'gw.example.test' with RSA" in log
    assert "authentication of 'gw.example.test' with EAP successful" in log
    (ours,) = server.sas()
    assert ours["state"] == "established"
    assert ours["eap_identity"] == "alice" and ours["auth"] == f"eap-{method}"
    assert ours["connection"] == "rw-eap"
    assert ours["virtual_ip"] == vip
    assert ours["spi_i"] == sa.initiator_spi and ours["spi_r"] == sa.responder_spi
    (theirs,) = ours["child_sas"]
    assert theirs["spi_in"] == child.spi_out and theirs["spi_out"] == child.spi_in


@pytest.mark.parametrize("method", METHODS)
def test_users_file(topology, ikesrv, strongswan, test_pki, method):
    server = start(topology, ikesrv, test_pki, method, USERS_FILE)
    client = eap_client(strongswan, topology, method)
    result = client.initiate("net", "gw", timeout=20)
    assert_both_views(client, server, result, method)
    name = "EAP-MSCHAPv2" if method == "mschapv2" else f"EAP-{method.upper()}"
    assert f"{name} login of 'alice' succeeded" in server.log_text()


@pytest.mark.parametrize("method", METHODS)
def test_ldap(topology, ikesrv, strongswan, test_pki, slapd, method):
    directory_in_gw(slapd, topology)
    server = start(topology, ikesrv, test_pki, method, LDAP)
    client = eap_client(strongswan, topology, method)
    result = client.initiate("net", "gw", timeout=20)
    assert_both_views(client, server, result, method)


def refused(client, server, result, why: str):
    assert not result.ok
    log = client.log_text()
    assert ("AUTHENTICATION_FAILED" in log or "EAP-MS-CHAPv2 failed with error "
            "ERROR_AUTHENTICATION_FAILURE" in log), log
    assert why in server.log_text(), server.log_text()
    # the SA goes: at once, or after the MS-CHAPv2 failure grace if the client is silent
    server.wait_sas(lambda sas: sas == [], timeout=15)


@pytest.mark.parametrize("method", METHODS)
def test_wrong_password_users_file(topology, ikesrv, strongswan, test_pki, method):
    server = start(topology, ikesrv, test_pki, method, USERS_FILE)
    client = eap_client(strongswan, topology, method, password="alice-Wrong-9")
    result = client.initiate("net", "gw", timeout=20)
    refused(client, server, result, "wrong password")
    assert "alice-Wrong-9" not in server.log_text()


@pytest.mark.parametrize("method", ["mschapv2", "gtc"])
def test_ldap_refusals(topology, ikesrv, strongswan, test_pki, slapd, method):
    directory_in_gw(slapd, topology, clear_password_for=None)
    server = start(topology, ikesrv, test_pki, method, LDAP)
    client = eap_client(strongswan, topology, method, password="alice-Wrong-9")
    refused(client, server, client.initiate("net", "gw", timeout=20), "wrong password")
    client.stop()
    bob = eap_client(strongswan, topology, method, user="bob", name="bob")  # not in the group
    refused(bob, server, bob.initiate("net", "gw", timeout=20), "is not a member of")
    assert "alice-Wrong-9" not in server.log_text()
    assert scenarios.USERS["bob"] not in server.log_text()


def test_ldap_down_fails_fast_psk_unaffected_then_recovers(topology, ikesrv, strongswan,
                                                          test_pki, slapd):
    directory = directory_in_gw(slapd, topology, clear_password_for=None)
    server = start(topology, ikesrv, test_pki, "mschapv2", LDAP)
    client = eap_client(strongswan, topology, "mschapv2")
    assert client.initiate("net", "gw", timeout=20).ok
    client.terminate(ike="gw", timeout=10)
    server.wait_sas(lambda sas: sas == [], timeout=10)

    directory.stop()
    started = time.monotonic()
    result = client.initiate("net", "gw", timeout=20)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert elapsed < 8, elapsed  # the 2 s directory timeout, not charon's retransmissions
    assert "unavailable" in server.log_text()
    client.stop()
    # a PSK client on the other connection does not care (one charon at a time in cl)
    psk = strongswan(topology.cl, "psk", scenarios.psk_client("aes256gcm16-prfsha384-ecp384",
                                                              "aes256gcm16"))
    assert psk.initiate("net", "gw", timeout=20).ok, psk.log_text() + server.log_text()
    sas = server.wait_sas(lambda sas: any(s["state"] == "established" for s in sas))
    assert [s["connection"] for s in sas if s["state"] == "established"] == ["rw-psk"]
    psk.stop()

    directory.start()
    client = eap_client(strongswan, topology, "mschapv2", name="cl2")
    result = client.initiate("net", "gw", timeout=20)
    assert result.ok, result.log_text() + server.log_text()
    assert "answers again" in server.log_text()
    (sa,) = [s for s in server.sas() if s["state"] == "established"]
    assert sa["eap_identity"] == "alice"
