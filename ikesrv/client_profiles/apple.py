"""macOS, iOS and iPadOS: a configuration profile (.mobileconfig, an XML property list).

Owns the profile: a ``com.apple.vpn.managed`` payload of VPNType ``IKEv2`` (the built-in
IKEv2 client) or ``IPSec`` (the built-in IKEv1 "Cisco IPSec" client, with XAuth), the
CA that issued ikesrv's certificate as ``com.apple.security.root`` (intermediates as
``com.apple.security.pkcs1``) and, when given, the client's PKCS#12 as
``com.apple.security.pkcs12``. Keys and values are those of Apple's Device Management
reference (VPN.IKEv2, VPN.IPSec, IKEv2 SecurityAssociationParameters).

IKEv2 notes, all from Apple's documented behaviour:
  - AuthenticationMethod "Certificate" with ExtendedAuthEnabled 1 and no client
    certificate is EAP with a server certificate; "None" would ask for EAP-only
    authentication (RFC 5998), which ikesrv declines.
  - The client sends a CERTREQ only when ServerCertificateIssuerCommonName is set, and
    ikesrv sends its certificate when asked (send_cert = "ifasked"), so it is always set
    when the issuer is known.
  - CertificateType must name the server key's type when it is not RSA.
  - The first CHILD SA carries no DH group; EnablePFS with the child's
    DiffieHellmanGroup adds one to CHILD SA rekeys.
  - LifeTimeInMinutes accepts 10..1440; the client's lifetimes are set to 90 % of the
    connection's so that the client rekeys before ikesrv's own deadline.
IKEv1 ("IPSec"): the algorithms cannot be set (the device offers a fixed list); with a
pre-shared key the client uses Aggressive Mode and sends its group name (LocalIdentifier)
as a KEY_ID, with certificates Main Mode.

Imports the package's target and suites modules only.
"""

from __future__ import annotations

import plistlib

from ..constants import DhId, IdType, IntegId, PrfId
from .suites import (
    AES_CBC,
    AES_GCM16,
    CHACHA,
    TRIPLE_DES,
    Suite,
    choose_esp,
    choose_ike,
    describe_missing,
)
from .target import ProfileError, Target, der

ENCRYPTION = {
    (AES_CBC, 128): "AES-128", (AES_CBC, 256): "AES-256", (AES_GCM16, 128): "AES-128-GCM",
    (AES_GCM16, 256): "AES-256-GCM", (TRIPLE_DES, None): "3DES",
    (CHACHA, None): "ChaCha20Poly1305",
}
INTEGRITY_BY_PRF = {PrfId.PRF_HMAC_SHA2_256: "SHA2-256", PrfId.PRF_HMAC_SHA2_384: "SHA2-384",
                    PrfId.PRF_HMAC_SHA2_512: "SHA2-512", PrfId.PRF_HMAC_SHA1: "SHA1-96"}
INTEGRITY = {IntegId.AUTH_HMAC_SHA2_256_128: "SHA2-256", IntegId.AUTH_HMAC_SHA2_384_192: "SHA2-384",
             IntegId.AUTH_HMAC_SHA2_512_256: "SHA2-512", IntegId.AUTH_HMAC_SHA1_96: "SHA1-96"}
DH_GROUPS = {int(g): int(g) for g in (DhId.MODP_1024, DhId.MODP_1536, DhId.MODP_2048,
                                      DhId.MODP_3072, DhId.MODP_4096, DhId.MODP_8192,
                                      DhId.ECP_256, DhId.ECP_384, DhId.ECP_521,
                                      DhId.CURVE25519)}
CERTIFICATE_TYPE = {"rsa": "RSA", "ecdsa256": "ECDSA256", "ecdsa384": "ECDSA384",
                    "ecdsa521": "ECDSA521", "ed25519": "Ed25519"}


def suites(target: Target) -> tuple[Suite, Suite]:
    conn = target.connection
    ike = choose_ike(conn.proposals, ENCRYPTION, INTEGRITY_BY_PRF, DH_GROUPS)
    if ike is None:
        raise ProfileError(describe_missing(conn.proposals, "Apple IKEv2", lambda: (
            "AES-CBC/AES-GCM 128/256 or ChaCha20-Poly1305 with SHA-1/SHA-2 and MODP "
            "2048-8192, ECP 256/384/521 or Curve25519")))
    esp = choose_esp(conn.esp_proposals, ENCRYPTION, INTEGRITY, DH_GROUPS)
    if esp is None:
        raise ProfileError(describe_missing(conn.esp_proposals, "Apple ESP", lambda: (
            "AES-CBC/AES-GCM 128/256 or ChaCha20-Poly1305 with SHA-1/SHA-2")))
    return ike, esp


def _minutes(seconds: float) -> int:
    return max(10, min(1440, int(seconds * 0.9 // 60)))


def _sa_parameters(suite: Suite, lifetime: float) -> dict:
    params: dict = {"EncryptionAlgorithm": ENCRYPTION[suite.encr]}
    if suite.protocol == "ike":
        params["IntegrityAlgorithm"] = INTEGRITY_BY_PRF[suite.prf]
    elif suite.integ is not None:
        params["IntegrityAlgorithm"] = INTEGRITY[suite.integ]
    if suite.dh:
        params["DiffieHellmanGroup"] = suite.dh
    params["LifeTimeInMinutes"] = _minutes(lifetime)
    return params


def _payload(target: Target, kind: str, name: str, salt: str, **content) -> dict:
    ident = f"org.ikesrv.{target.server}.{target.connection.name}.{salt}"
    return {"PayloadType": kind, "PayloadVersion": 1, "PayloadIdentifier": ident,
            "PayloadUUID": target.uuid("apple", salt), "PayloadDisplayName": name, **content}


def _certificate_payloads(target: Target) -> list[dict]:
    out = []
    for i, cert in enumerate(target.trust_chain):
        root = i == len(target.trust_chain) - 1
        cn = cert.subject.rfc4514_string()
        out.append(_payload(target, "com.apple.security.root" if root
                            else "com.apple.security.pkcs1", cn, f"ca{i}",
                            PayloadContent=der(cert), PayloadCertificateFileName=f"ca{i}.cer"))
    return out


def _ikev2(target: Target, notes: list[str]) -> tuple[dict, Suite, Suite]:
    conn = target.connection
    ike, esp = suites(target)
    settings: dict = {
        "RemoteAddress": target.server,
        "RemoteIdentifier": target.server_id,
        "IKESecurityAssociationParameters": _sa_parameters(ike, conn.ike_lifetime),
        "ChildSecurityAssociationParameters": _sa_parameters(esp, conn.child_lifetime),
        "EnablePFS": 1 if esp.dh else 0,
        "DeadPeerDetectionRate": "Medium",
        "DisableRedirect": 1,  # ikesrv never redirects (RFC 5685)
        "UseConfigurationAttributeInternalIPSubnet": 0,
    }
    if target.server_id_type is IdType.ID_DER_ASN1_DN:
        notes.append("ikesrv identifies itself by a DN, which Apple clients cannot match "
                     "(they send and compare identities as FQDNs): set local_id to the DNS "
                     "name in ikesrv's certificate")
    if conn.remote_auth == "psk":
        if conn.local_auth != "psk":
            raise ProfileError("Apple's client authenticates both sides by one method unless "
                               "it uses EAP: use local_auth = remote_auth = \"psk\"")
        settings["AuthenticationMethod"] = "SharedSecret"
        if target.psk is not None:
            settings["SharedSecret"] = target.psk.decode("utf-8", errors="replace")
        else:
            notes.append("the pre-shared key is not in the profile (--include-psk puts it "
                         "there): the user enters it in the VPN settings")
        settings["LocalIdentifier"] = target.client_id or target.user or target.connection.name
    else:
        settings["AuthenticationMethod"] = "Certificate"
        issuer = target.issuer_common_name
        if issuer:
            settings["ServerCertificateIssuerCommonName"] = issuer
        elif conn.send_cert != "always":
            notes.append("no issuer common name to put in the profile, so the client sends "
                         'no CERTREQ: set send_cert = "always" on the connection')
        key_type = target.server_key_type
        if key_type not in CERTIFICATE_TYPE:
            raise ProfileError(f"Apple clients cannot verify a {key_type} server key")
        settings["CertificateType"] = CERTIFICATE_TYPE[key_type]
        if target.eap:
            if conn.remote_auth != "eap-mschapv2":
                raise ProfileError(f"Apple's IKEv2 client does EAP-MSCHAPv2 (and EAP-TLS), not "
                                   f"{conn.remote_auth}")
            settings["ExtendedAuthEnabled"] = 1
            # the IKE identity of an EAP client proves nothing (ikesrv ignores it); the
            # user name goes into EAP, asked for when the profile has none
            settings["LocalIdentifier"] = target.user or conn.name
            if target.user:
                settings["AuthName"] = target.user
        else:
            settings["ExtendedAuthEnabled"] = 0
            if target.client_p12 is None:
                notes.append("the client authenticates with a certificate: pass --p12 FILE "
                             "to embed its PKCS#12 (3DES-protected: `openssl pkcs12 -legacy`)")
            else:
                settings["PayloadCertificateUUID"] = target.uuid("apple", "client-identity")
            if not target.client_id:
                raise ProfileError("Apple clients send LocalIdentifier as their identity, "
                                   "which must be in their certificate: give it with "
                                   "--client-id (e.g. the certificate's e-mail address)")
            settings["LocalIdentifier"] = target.client_id
    return settings, ike, esp


def _ipsec(target: Target, notes: list[str]) -> dict:
    conn = target.connection
    if conn.remote_auth != "xauth":
        raise ProfileError("Apple's IKEv1 client (\"Cisco IPSec\") always logs in with XAuth: "
                           'the connection needs remote_auth = "xauth"')
    settings: dict = {"RemoteAddress": target.server, "XAuthEnabled": 1}
    if target.user:
        settings["XAuthName"] = target.user
    if conn.local_auth == "psk":
        if not conn.aggressive:
            raise ProfileError("Apple's IKEv1 client uses Aggressive Mode with a pre-shared "
                               "key: set aggressive = true on the connection (and mind "
                               "check-config's warning about it), or use certificates")
        settings["AuthenticationMethod"] = "SharedSecret"
        group = target.client_id or conn.name
        settings["LocalIdentifier"] = group
        settings["LocalIdentifierType"] = "KeyID"
        if target.psk is not None:
            settings["SharedSecret"] = target.psk
        else:
            notes.append("the group's pre-shared key is not in the profile (--include-psk "
                         "puts it there): the user enters it as the shared secret")
    else:
        settings["AuthenticationMethod"] = "Certificate"
        if target.client_p12 is not None:
            settings["PayloadCertificateUUID"] = target.uuid("apple", "client-identity")
        else:
            notes.append("Main Mode with certificates needs the client's certificate: pass "
                         "--p12 FILE to embed it")
    notes.append("Apple's IKEv1 client proposes a fixed list of algorithms that a profile "
                 "cannot change; recent releases include aes256-sha256-modp2048 (check the "
                 "IKE log line 'no acceptable proposal among ...' if phase 1 fails)")
    return settings


def render(target: Target) -> tuple[bytes, Suite | None, Suite | None, list[str]]:
    """The .mobileconfig, the IKEv2 suites it sets (None for IKEv1), notes for the operator."""
    notes: list[str] = []
    ike = esp = None
    vpn: dict = {"UserDefinedName": target.display_name}
    if target.version == 2:
        vpn["VPNType"] = "IKEv2"
        vpn["IKEv2"], ike, esp = _ikev2(target, notes)
    else:
        vpn["VPNType"] = "IPSec"
        vpn["IPSec"] = _ipsec(target, notes)
    # a full tunnel sends everything through it; otherwise the routes are the traffic
    # selectors ikesrv narrows to (IKEv2) or its Mode Config split networks (IKEv1)
    vpn["IPv4"] = {"OverridePrimary": 1 if target.full_tunnel else 0}
    payloads = [_payload(target, "com.apple.vpn.managed", target.display_name, "vpn", **vpn)]
    payloads += _certificate_payloads(target)
    if not target.trust_chain and target.server_certificate is not None:
        notes.append("no CA certificate found for ikesrv's certificate (pass --ca FILE): the "
                     "device must already trust its issuer")
    if target.client_p12 is not None:
        payloads.append(_payload(target, "com.apple.security.pkcs12", "client certificate",
                                 "client-identity", PayloadContent=target.client_p12,
                                 PayloadCertificateFileName="client.p12"))
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"org.ikesrv.{target.server}.{target.connection.name}",
        "PayloadUUID": target.uuid("apple", "profile"),
        "PayloadDisplayName": f"VPN {target.display_name}",
        "PayloadDescription": f"IKEv{target.version} VPN to {target.server}, written by "
                              "ikesrv client-profile",
        "PayloadContent": payloads,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True), ike, esp, notes
