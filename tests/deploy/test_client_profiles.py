"""The client profiles `ikesrv client-profile` writes, read back as each platform would.

Every artifact is parsed on its own terms (plistlib for the .mobileconfig, JSON for the
.sswan, the PowerShell command lines, the NetworkManager keyfile) and checked against
what the platform documents: the keys it knows, the values it accepts. What the client
will then propose is derived from the artifact with this file's own tables (written from
the platforms' documentation, not imported from the generator), and run through ikesrv's
proposal selection against the connection: a profile the server would refuse fails here.

Sources of the documented keys and values:
  Apple: Device Management, VPN.IKEv2 / VPN.IPSec / IKEv2 SecurityAssociationParameters
         (developer.apple.com/documentation/devicemanagement/vpn)
  strongSwan Android app: "VPN Profile Import for the Android VPN Client"
         (docs.strongswan.org/docs/latest/os/androidVpnClientProfiles.html)
  Windows: Set-VpnConnectionIPsecConfiguration (learn.microsoft.com, VpnClient module)
  NetworkManager-strongswan: the data items of its editor (nm-strongswan-service)
"""

from __future__ import annotations

import base64
import configparser
import ipaddress
import json
import plistlib
import re
import subprocess
import sys
import uuid

import pytest
from cryptography import x509

from ikesrv.client_profiles import ProfileError, build, check
from ikesrv.crypto import proposals as P
from ikesrv.crypto.proposals import parse_esp_proposal, parse_ike_proposal
from tests.harness.netns import GW_ADDR, PROTECTED_NET
from tests.harness.scenarios import GW_ID, PSK, V1_PSK

# --- Apple ---------------------------------------------------------------------------

APPLE_TOP_KEYS = {"PayloadContent", "PayloadDisplayName", "PayloadIdentifier", "PayloadType",
                  "PayloadUUID", "PayloadVersion", "PayloadDescription", "PayloadOrganization",
                  "PayloadRemovalDisallowed"}
APPLE_PAYLOAD_KEYS = {"PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID",
                      "PayloadDisplayName", "PayloadDescription", "PayloadOrganization"}
APPLE_VPN_KEYS = APPLE_PAYLOAD_KEYS | {"UserDefinedName", "VPNType", "VPNSubType", "IKEv2",
                                       "IPSec", "IPv4", "Proxies", "DNS", "VendorConfig"}
APPLE_IKEV2_KEYS = {
    "AuthenticationMethod", "RemoteAddress", "RemoteIdentifier", "LocalIdentifier",
    "SharedSecret", "ExtendedAuthEnabled", "AuthName", "AuthPassword",
    "PayloadCertificateUUID", "CertificateType", "ServerCertificateIssuerCommonName",
    "ServerCertificateCommonName", "IKESecurityAssociationParameters",
    "ChildSecurityAssociationParameters", "DeadPeerDetectionRate", "DisableMOBIKE",
    "DisableRedirect", "EnableCertificateRevocationCheck", "EnablePFS",
    "UseConfigurationAttributeInternalIPSubnet", "NATKeepAliveInterval",
    "NATKeepAliveOffloadEnable", "EnableFallback", "MTU", "OnDemandEnabled", "OnDemandRules",
    "IncludeAllNetworks", "ExcludeLocalNetworks", "TLSMinimumVersion", "TLSMaximumVersion",
}
APPLE_IKEV2_REQUIRED = {"AuthenticationMethod", "RemoteAddress", "RemoteIdentifier",
                        "LocalIdentifier"}
APPLE_IPSEC_KEYS = {"RemoteAddress", "AuthenticationMethod", "XAuthEnabled", "XAuthName",
                    "XAuthPassword", "LocalIdentifier", "LocalIdentifierType", "SharedSecret",
                    "PayloadCertificateUUID", "PromptForVPNPIN", "OnDemandEnabled",
                    "OnDemandRules", "DisconnectOnIdle", "DisconnectOnIdleTimer"}
APPLE_SA_KEYS = {"EncryptionAlgorithm", "IntegrityAlgorithm", "DiffieHellmanGroup",
                 "LifeTimeInMinutes"}
# Apple's value -> the strongSwan keyword it stands for
APPLE_ENCRYPTION = {"AES-128": "aes128", "AES-256": "aes256", "AES-128-GCM": "aes128gcm16",
                    "AES-256-GCM": "aes256gcm16", "3DES": "3des", "DES": "des",
                    "ChaCha20Poly1305": "chacha20poly1305"}
APPLE_INTEGRITY = {"SHA1-96": "sha1", "SHA1-160": "sha1_160", "SHA2-256": "sha256",
                   "SHA2-384": "sha384", "SHA2-512": "sha512"}
APPLE_PRF = {"SHA1-96": "prfsha1", "SHA2-256": "prfsha256", "SHA2-384": "prfsha384",
             "SHA2-512": "prfsha512"}
APPLE_DH = {1: "modp768", 2: "modp1024", 5: "modp1536", 14: "modp2048", 15: "modp3072",
            16: "modp4096", 17: "modp6144", 18: "modp8192", 19: "ecp256", 20: "ecp384",
            21: "ecp521", 31: "curve25519", 32: "curve448"}


def apple_offer(params: dict, kind: str, pfs: bool = True) -> str:
    """The proposal an Apple client sends for its SA parameters, in strongSwan syntax."""
    encr = APPLE_ENCRYPTION[params["EncryptionAlgorithm"]]
    words = [encr]
    integ = params.get("IntegrityAlgorithm")
    if kind == "ike":
        words.append(APPLE_PRF[integ] if "gcm" in encr else APPLE_INTEGRITY[integ])
    elif integ and "gcm" not in encr:
        words.append(APPLE_INTEGRITY[integ])
    group = params.get("DiffieHellmanGroup")
    if group and (kind == "ike" or pfs):
        words.append(APPLE_DH[group])
    return "-".join(words)


# --- Android (strongSwan app) --------------------------------------------------------

SSWAN_KEYS = {"uuid", "name", "type", "remote", "local", "ike-proposal", "esp-proposal",
              "dns-servers", "mtu", "nat-keepalive", "proxy", "split-tunneling", "apps",
              "excluded-apps"}
SSWAN_REMOTE_KEYS = {"addr", "port", "id", "cert", "certreq", "revocation"}
SSWAN_LOCAL_KEYS = {"eap_id", "id", "p12", "rsa-pss"}
SSWAN_SPLIT_KEYS = {"subnets", "excluded", "block-ipv4", "block-ipv6"}
SSWAN_TYPES = {"ikev2-eap", "ikev2-cert", "ikev2-cert-eap", "ikev2-eap-tls", "ikev2-byod-eap"}

# --- Windows -------------------------------------------------------------------------

WIN_ENCRYPTION = {"DES": "des", "DES3": "3des", "AES128": "aes128", "AES192": "aes192",
                  "AES256": "aes256", "GCMAES128": "aes128gcm16", "GCMAES256": "aes256gcm16"}
WIN_INTEGRITY = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384"}
WIN_DH = {"None": None, "Group1": "modp768", "Group2": "modp1024", "Group14": "modp2048",
          "ECP256": "ecp256", "ECP384": "ecp384", "Group24": "modp2048s256"}
WIN_CIPHER = {"DES": "des", "DES3": "3des", "AES128": "aes128", "AES192": "aes192",
              "AES256": "aes256", "GCMAES128": "aes128gcm16", "GCMAES192": "aes192gcm16",
              "GCMAES256": "aes256gcm16", "None": None}
WIN_AUTH = {"MD596": "md5", "SHA196": "sha1", "SHA256128": "sha256", "GCMAES128": None,
            "GCMAES192": None, "GCMAES256": None, "None": None}
WIN_PFS = {"None": None, "PFS1": "modp768", "PFS2": "modp1024", "PFS2048": "modp2048",
           "ECP256": "ecp256", "ECP384": "ecp384", "PFSMM": None, "PFS24": "modp2048s256"}
WIN_AUTH_METHODS = {"Pap", "Chap", "MSChapv2", "Eap", "MachineCertificate"}

# --- NetworkManager-strongswan -------------------------------------------------------

NM_VPN_KEYS = {"service-type", "address", "certificate", "remote-identity", "server-port",
               "local-identity", "method", "user", "password-flags", "cert-source", "usercert",
               "userkey", "virtual", "encap", "ipcomp", "proposal", "ike", "esp"}
NM_METHODS = {"eap", "cert", "key", "agent", "smartcard", "eap-tls", "psk"}


# --- helpers ---------------------------------------------------------------------------


def profile(profile_config, connection, platform, **options):
    directory, _, config = profile_config
    options.setdefault("server", GW_ADDR)
    if connection.startswith("rw-eap") or connection in ("rw-cert", "x25519-only"):
        options.setdefault("ca_file", directory / "ca.crt")
    return build(config, connection, platform, **options)


def accepts_ike(config, connection, offer: list[str]) -> bool:
    conn = config.connections[connection]
    wire = [parse_ike_proposal(t).to_wire(i + 1) for i, t in enumerate(offer)]
    return P.select_ike(conn.proposals, wire) is not None


def accepts_esp(config, connection, offer: list[str], *, rekey_group: int | None = None
                ) -> bool:
    conn = config.connections[connection]
    wire = [parse_esp_proposal(t).to_wire(i + 1, spi=b"\0\0\0\1") for i, t in enumerate(offer)]
    if rekey_group is None:
        return P.select_esp(conn.esp_proposals, wire, ignore_dh=True) is not None
    from ikesrv.connections import Connection
    from ikesrv.identity import IdentityPattern
    ours = Connection(cfg=conn, local_id=None, remote_id=IdentityPattern.parse("%any")
                      ).esp_proposals_for_pfs(rekey_group)
    return P.select_esp(ours, wire, want_dh=rekey_group) is not None


# --- Apple -----------------------------------------------------------------------------


@pytest.mark.parametrize("connection", ["rw-eap", "rw-eap-rsa", "x25519-only"])
def test_apple_ikev2_eap_profile(profile_config, test_pki, connection):
    config = profile_config[2]
    made = profile(profile_config, connection, "apple", user="alice")
    doc = plistlib.loads(made.content)
    assert set(doc) <= APPLE_TOP_KEYS and doc["PayloadType"] == "Configuration"
    assert doc["PayloadVersion"] == 1
    uuid.UUID(doc["PayloadUUID"])
    (vpn,) = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed"]
    assert set(vpn) <= APPLE_VPN_KEYS and vpn["VPNType"] == "IKEv2"
    for payload in doc["PayloadContent"]:
        uuid.UUID(payload["PayloadUUID"])
        assert payload["PayloadVersion"] == 1
    ike = vpn["IKEv2"]
    assert set(ike) <= APPLE_IKEV2_KEYS and APPLE_IKEV2_REQUIRED <= set(ike)
    assert ike["RemoteAddress"] == GW_ADDR and ike["RemoteIdentifier"] == GW_ID
    # EAP with a server certificate: Certificate + extended authentication, no identity
    assert ike["AuthenticationMethod"] == "Certificate" and ike["ExtendedAuthEnabled"] == 1
    assert "PayloadCertificateUUID" not in ike and ike["AuthName"] == "alice"
    assert ike["ServerCertificateIssuerCommonName"] == "ikesrv Test Root CA"
    key_type = {"rw-eap": "ECDSA256"}.get(connection, "RSA")
    assert ike["CertificateType"] == key_type
    for params in (ike["IKESecurityAssociationParameters"],
                   ike["ChildSecurityAssociationParameters"]):
        assert set(params) <= APPLE_SA_KEYS
        assert params["EncryptionAlgorithm"] in APPLE_ENCRYPTION
        assert params.get("IntegrityAlgorithm", "SHA2-256") in APPLE_INTEGRITY
        assert params.get("DiffieHellmanGroup", 14) in APPLE_DH
        assert 10 <= params["LifeTimeInMinutes"] <= 1440
    conn = config.connections[connection]
    assert ike["IKESecurityAssociationParameters"]["LifeTimeInMinutes"] * 60 < conn.ike_lifetime
    # what the device proposes is what ikesrv selects
    assert accepts_ike(config, connection, [apple_offer(ike["IKESecurityAssociationParameters"],
                                                        "ike")])
    child = ike["ChildSecurityAssociationParameters"]
    assert accepts_esp(config, connection, [apple_offer(child, "esp", pfs=False)])
    if ike["EnablePFS"]:
        group = child["DiffieHellmanGroup"]
        assert accepts_esp(config, connection, [apple_offer(child, "esp")], rekey_group=group)
    # the CA that issued the server certificate, as a root payload
    (root,) = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.security.root"]
    assert x509.load_der_x509_certificate(root["PayloadContent"]) == test_pki.ca.cert
    assert vpn["IPv4"]["OverridePrimary"] == (1 if connection != "rw-eap-rsa" else 0)


def test_apple_psk_profile_holds_the_key_only_when_asked(profile_config):
    without = plistlib.loads(profile(profile_config, "rw-psk", "apple").content)
    with_key = profile(profile_config, "rw-psk", "apple", include_psk=True)
    ike = plistlib.loads(with_key.content)["PayloadContent"][0]["IKEv2"]
    assert ike["AuthenticationMethod"] == "SharedSecret" and ike["SharedSecret"] == PSK
    assert "SharedSecret" not in without["PayloadContent"][0]["IKEv2"]
    assert PSK.encode() not in profile(profile_config, "rw-psk", "apple").content
    assert accepts_ike(profile_config[2], "rw-psk",
                       [apple_offer(ike["IKESecurityAssociationParameters"], "ike")])


def test_apple_ikev1_cisco_profile(profile_config):
    made = profile(profile_config, "v1-xauth", "apple", user="alice", include_psk=True)
    vpn = plistlib.loads(made.content)["PayloadContent"][0]
    assert vpn["VPNType"] == "IPSec" and set(vpn["IPSec"]) <= APPLE_IPSEC_KEYS
    ipsec = vpn["IPSec"]
    assert ipsec["AuthenticationMethod"] == "SharedSecret" and ipsec["XAuthEnabled"] == 1
    assert ipsec["XAuthName"] == "alice" and ipsec["SharedSecret"] == V1_PSK.encode()
    assert ipsec["LocalIdentifierType"] == "KeyID" and ipsec["LocalIdentifier"]


def test_apple_refuses_what_cannot_work(profile_config):
    config = profile_config[2]
    with pytest.raises(ProfileError, match="--client-id"):
        build(config, "rw-cert", "apple", server=GW_ADDR)  # the IDi must be in its cert


# --- Android ---------------------------------------------------------------------------


@pytest.mark.parametrize("connection,kind", [("rw-eap", "ikev2-eap"),
                                             ("rw-eap-rsa", "ikev2-eap"),
                                             ("rw-cert", "ikev2-cert")])
def test_sswan_profile_has_the_documented_fields(profile_config, test_pki, connection, kind):
    config = profile_config[2]
    made = profile(profile_config, connection, "android", user="alice")
    doc = json.loads(made.content.decode("utf-8"))
    assert set(doc) <= SSWAN_KEYS and {"uuid", "name", "type", "remote"} <= set(doc)
    assert uuid.UUID(doc["uuid"]).version in (4, 5)
    assert doc["type"] == kind and doc["type"] in SSWAN_TYPES
    assert set(doc["remote"]) <= SSWAN_REMOTE_KEYS
    assert set(doc.get("local", {})) <= SSWAN_LOCAL_KEYS
    assert doc["remote"]["addr"] == GW_ADDR and doc["remote"]["id"] == GW_ID
    ca = x509.load_der_x509_certificate(base64.b64decode(doc["remote"]["cert"]))
    assert ca == test_pki.ca.cert
    if kind == "ikev2-eap":
        assert doc["local"]["eap_id"] == "alice"
    # one proposal each, which the app parses and ikesrv accepts
    assert "," not in doc["ike-proposal"] and "," not in doc["esp-proposal"]
    assert accepts_ike(config, connection, [doc["ike-proposal"]])
    assert accepts_esp(config, connection, [doc["esp-proposal"]])
    if "split-tunneling" in doc:
        assert set(doc["split-tunneling"]) <= SSWAN_SPLIT_KEYS
        subnets = [ipaddress.ip_network(s) for s in doc["split-tunneling"]["subnets"]]
        assert ipaddress.ip_network(PROTECTED_NET) in subnets


def test_sswan_uuid_is_stable_so_a_new_profile_replaces_the_old(profile_config):
    first = json.loads(profile(profile_config, "rw-eap", "android", user="alice").content)
    again = json.loads(profile(profile_config, "rw-eap", "android", user="alice").content)
    other = json.loads(profile(profile_config, "rw-eap", "android", user="bob").content)
    assert first["uuid"] == again["uuid"] != other["uuid"]


def test_android_app_has_no_psk_or_ikev1(profile_config):
    for connection in ("rw-psk", "v1-xauth"):
        with pytest.raises(ProfileError):
            profile(profile_config, connection, "android")


# --- Windows ---------------------------------------------------------------------------


def windows_commands(text: str) -> dict[str, dict[str, str | bool]]:
    """cmdlet -> {parameter: value or True} for each command line of the script."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z]+-[A-Za-z]+) (.*)$", line)
        if not m or line.startswith("#"):
            continue
        params: dict[str, str | bool] = {}
        for name, value in re.findall(r"-(\w+)(?: ((?!-)[^\s]+))?", m.group(2)):
            params[name] = value or True
        out.setdefault(m.group(1), params)
    return out


@pytest.mark.parametrize("connection", ["rw-eap", "rw-eap-rsa", "rw-cert"])
def test_windows_script_sets_suites_ikesrv_accepts(profile_config, test_pki, connection):
    config = profile_config[2]
    made = profile(profile_config, connection, "windows")
    text = made.content.decode("utf-8")
    commands = windows_commands(text)
    add = commands["Add-VpnConnection"]
    assert add["TunnelType"] == "Ikev2" and add["AuthenticationMethod"] in WIN_AUTH_METHODS
    assert add["AuthenticationMethod"] == ("MachineCertificate" if connection == "rw-cert"
                                           else "Eap")
    ipsec = commands["Set-VpnConnectionIPsecConfiguration"]
    encr = WIN_ENCRYPTION[ipsec["EncryptionMethod"]]
    hash_ = WIN_INTEGRITY[ipsec["IntegrityCheckMethod"]]
    ike = "-".join([encr, ("prf" + hash_) if "gcm" in encr else hash_, WIN_DH[ipsec["DHGroup"]]])
    assert accepts_ike(config, connection, [ike])
    cipher = WIN_CIPHER[ipsec["CipherTransformConstants"]]
    auth = WIN_AUTH[ipsec["AuthenticationTransformConstants"]]
    if "gcm" in cipher:  # GCM names itself in both places
        assert ipsec["AuthenticationTransformConstants"] == ipsec["CipherTransformConstants"]
    esp = "-".join(w for w in (cipher, auth) if w)
    assert accepts_esp(config, connection, [esp])
    pfs = WIN_PFS[ipsec["PfsGroup"]]
    if pfs:
        group = parse_esp_proposal(f"{esp}-{pfs}").dh_groups[0]
        assert accepts_esp(config, connection, [f"{esp}-{pfs}"], rekey_group=group)
    # the CA is embedded and goes to the machine's trusted roots
    pem = re.search(r"@'\r\n(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)\r\n'@",
                    text, re.DOTALL).group(1)
    assert x509.load_pem_x509_certificate(pem.encode()) == test_pki.ca.cert
    assert "Cert:\\LocalMachine\\Root" in commands["Import-Certificate"]["CertStoreLocation"]
    if connection == "rw-eap-rsa":  # split tunnel: the pool's split networks as routes
        routes = [line for line in text.splitlines() if line.startswith("Add-VpnConnectionRoute")]
        assert add["SplitTunneling"] is True and any(PROTECTED_NET in r for r in routes)


@pytest.mark.parametrize("connection,reason", [
    ("rw-psk", "pre-shared key"), ("v1-xauth", "IKEv1"), ("x25519-only", "Windows IKE")])
def test_windows_refuses_what_it_cannot_do(profile_config, connection, reason):
    with pytest.raises(ProfileError, match=reason):
        profile(profile_config, connection, "windows")


# --- NetworkManager ------------------------------------------------------------------


@pytest.mark.parametrize("connection,method", [("rw-eap", "eap"), ("rw-psk", "psk"),
                                               ("rw-cert", "cert")])
def test_networkmanager_keyfile(profile_config, connection, method):
    config = profile_config[2]
    made = profile(profile_config, connection, "linux-nm", user="alice", include_psk=True,
                   client_id="client1@example.test" if connection == "rw-cert" else None)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(made.content.decode("utf-8"))
    assert parser["connection"]["type"] == "vpn"
    uuid.UUID(parser["connection"]["uuid"])
    vpn = parser["vpn"]
    assert set(vpn) <= NM_VPN_KEYS
    assert vpn["service-type"] == "org.freedesktop.NetworkManager.strongswan"
    assert vpn["method"] == method and method in NM_METHODS
    assert vpn["address"] == GW_ADDR and vpn["remote-identity"] == GW_ID
    assert vpn["proposal"] == "yes"
    assert accepts_ike(config, connection, vpn["ike"].split(";"))
    assert accepts_esp(config, connection, vpn["esp"].split(";"))
    if method == "psk":
        assert parser["vpn-secrets"]["password"] == PSK
    if method != "psk":
        name = vpn["certificate"].rsplit("/", 1)[-1]
        assert dict(made.companions)[name].startswith(b"-----BEGIN CERTIFICATE-----")


# --- swanctl (the interop test connects with it; here: its shape) --------------------


def test_swanctl_profile_names_the_connections_proposals(profile_config, test_pki):
    made = profile(profile_config, "rw-eap", "linux-swanctl", user="alice")
    text = made.content.decode("utf-8")
    conn = profile_config[2].connections["rw-eap"]
    proposals = re.search(r"^\s+proposals = (.*)$", text, re.MULTILINE).group(1).split(",")
    assert proposals == list(dict.fromkeys(conn.proposal_strings))
    assert re.search(r"^\s+remote_addrs = 198\.51\.100\.1$", text, re.MULTILINE)
    assert re.search(rf"^\s+id = {re.escape(GW_ID)}$", text, re.MULTILINE)
    assert re.search(r"^\s+cacerts = ikesrv-rw-eap-ca\.crt$", text, re.MULTILINE)
    assert dict(made.companions)["ikesrv-rw-eap-ca.crt"] == test_pki.ca.cert_pem
    assert "PASSWORD" in text and "alice-Secret-1" not in text  # never a user's password


# --- the acceptance check itself, and the command line -------------------------------


def test_check_reports_a_suite_ikesrv_would_refuse(profile_config):
    made = profile(profile_config, "rw-eap", "windows")
    assert check(made) == []
    made.ike = (parse_ike_proposal("aes128-sha1-modp2048"),)
    made.esp = (parse_esp_proposal("aes128-sha1"),)
    problems = check(made)
    assert len(problems) == 2 and "IKE proposal" in problems[0] and "ESP" in problems[1]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ikesrv", "client-profile", *args],
                          capture_output=True, text=True, check=False, timeout=60)


def test_cli_writes_profile_and_ca_files(profile_config, tmp_path, test_pki):
    directory, path, _ = profile_config
    out = tmp_path / "gw.conf"
    result = run_cli("-c", str(path), "--connection", "rw-psk", "--platform", "linux-swanctl",
                     "--server", GW_ADDR, "--include-psk", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600  # it holds the PSK
    assert base64.b64encode(PSK.encode()).decode() in out.read_text()
    out = tmp_path / "eap.mobileconfig"
    result = run_cli("-c", str(path), "--connection", "rw-eap", "--platform", "apple",
                     "--ca", str(directory / "ca.crt"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert plistlib.loads(out.read_bytes())["PayloadType"] == "Configuration"
    out = tmp_path / "eap.conf"
    result = run_cli("-c", str(path), "--connection", "rw-eap", "--platform", "linux-swanctl",
                     "--ca", str(directory / "ca.crt"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "eap-ca.crt").read_bytes() == test_pki.ca.cert_pem


def test_cli_explains_a_profile_that_cannot_work(profile_config):
    result = run_cli("-c", str(profile_config[1]), "--connection", "rw-psk", "--platform",
                     "windows")
    assert result.returncode == 1 and result.stdout == ""
    assert "cannot use a pre-shared key" in result.stderr
    result = run_cli("-c", str(profile_config[1]), "--connection", "nope", "--platform",
                     "windows")
    assert result.returncode == 1 and "rw-eap" in result.stderr  # names the known ones


# --- secrets and client credentials --------------------------------------------------


@pytest.mark.parametrize("platform", ["apple", "linux-swanctl", "linux-nm"])
def test_no_psk_in_a_profile_unless_asked(profile_config, platform):
    for connection, secret in (("rw-psk", PSK), ("v1-xauth", V1_PSK)):
        try:
            made = profile(profile_config, connection, platform, user="alice")
        except ProfileError:
            continue  # a platform without this kind of connection
        assert secret.encode() not in made.content
        assert base64.b64encode(secret.encode()) not in made.content


def test_client_pkcs12_is_embedded_where_the_platform_takes_it(profile_config, test_pki):
    p12 = test_pki.dir / "client1.p12"
    data = p12.read_bytes()
    options = {"client_p12": p12, "client_id": "client1@example.test"}
    apple = plistlib.loads(profile(profile_config, "rw-cert", "apple", **options).content)
    (vpn,) = [p for p in apple["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed"]
    (identity,) = [p for p in apple["PayloadContent"]
                   if p["PayloadType"] == "com.apple.security.pkcs12"]
    assert identity["PayloadContent"] == data
    assert vpn["IKEv2"]["PayloadCertificateUUID"] == identity["PayloadUUID"]
    assert vpn["IKEv2"]["ExtendedAuthEnabled"] == 0
    assert vpn["IKEv2"]["LocalIdentifier"] == "client1@example.test"
    android = json.loads(profile(profile_config, "rw-cert", "android", **options).content)
    assert base64.b64decode(android["local"]["p12"]) == data
    assert android["local"]["id"] == "client1@example.test"
    windows = profile(profile_config, "rw-cert", "windows", **options).content.decode()
    blob = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", windows).group(1)
    assert base64.b64decode(blob) == data
    assert "Cert:\\LocalMachine\\My" in windows
