"""Windows 10/11: a PowerShell script that creates the built-in IKEv2 VPN connection.

Owns the script: it trusts the CA that issued ikesrv's certificate (machine Root store),
imports the client's PKCS#12 when certificates authenticate the client, replaces any
connection of the same name (``Add-VpnConnection -TunnelType Ikev2``), sets the one IKE
and one ESP suite Windows will propose (``Set-VpnConnectionIPsecConfiguration``, chosen
from the connection's proposals in its order) and, for split tunnels, the routes.

Windows' built-in IKEv2 client authenticates users with EAP-MSCHAPv2 ("secured password",
the default EAP configuration of ``-AuthenticationMethod Eap``) or with a machine
certificate; it has no IKEv2 pre-shared key, EAP-GTC, EAP-MD5 or IKEv1 XAuth (that is
L2TP's). It verifies ikesrv's certificate by the server address it dials (a DNS name or
address in subjectAltName) and the serverAuth EKU, never by a configured identity.

Imports the package's target and suites modules only.
"""

from __future__ import annotations

import base64

from ..constants import DhId, IntegId, PrfId
from .suites import AES_CBC, AES_GCM16, TRIPLE_DES, Suite, choose_esp, choose_ike, describe_missing
from .target import ProfileError, Target, pem

# Set-VpnConnectionIPsecConfiguration's enumerations (the VpnClient module)
IKE_ENCRYPTION = {
    (AES_CBC, 128): "AES128", (AES_CBC, 192): "AES192", (AES_CBC, 256): "AES256",
    (AES_GCM16, 128): "GCMAES128", (AES_GCM16, 256): "GCMAES256", (TRIPLE_DES, None): "DES3",
}
IKE_INTEGRITY = {  # by the PRF it names (the hash serves both)
    PrfId.PRF_HMAC_SHA2_256: "SHA256", PrfId.PRF_HMAC_SHA2_384: "SHA384",
    PrfId.PRF_HMAC_SHA1: "SHA1", PrfId.PRF_HMAC_MD5: "MD5",
}
DH_GROUP = {DhId.MODP_1024: "Group2", DhId.MODP_2048: "Group14", DhId.ECP_256: "ECP256",
            DhId.ECP_384: "ECP384", DhId.MODP_2048_256: "Group24"}
PFS_GROUP = {DhId.MODP_1024: "PFS2", DhId.MODP_2048: "PFS2048", DhId.ECP_256: "ECP256",
             DhId.ECP_384: "ECP384", DhId.MODP_2048_256: "PFS24"}
ESP_CIPHER = {
    (AES_CBC, 128): "AES128", (AES_CBC, 192): "AES192", (AES_CBC, 256): "AES256",
    (AES_GCM16, 128): "GCMAES128", (AES_GCM16, 192): "GCMAES192",
    (AES_GCM16, 256): "GCMAES256", (TRIPLE_DES, None): "DES3",
}
ESP_AUTH = {IntegId.AUTH_HMAC_SHA2_256_128: "SHA256128", IntegId.AUTH_HMAC_SHA1_96: "SHA196",
            IntegId.AUTH_HMAC_MD5_96: "MD596"}


def suites(target: Target) -> tuple[Suite, Suite]:
    conn = target.connection
    ike = choose_ike(conn.proposals, IKE_ENCRYPTION, IKE_INTEGRITY, DH_GROUP)
    if ike is None:
        raise ProfileError(describe_missing(conn.proposals, "Windows IKE", lambda: (
            "AES-CBC/AES-GCM with SHA-256/384 and MODP-2048, ECP-256 or ECP-384")))
    esp = choose_esp(conn.esp_proposals, ESP_CIPHER, ESP_AUTH, PFS_GROUP)
    if esp is None:
        raise ProfileError(describe_missing(conn.esp_proposals, "Windows ESP", lambda: (
            "AES-GCM, or AES-CBC with SHA-256 (or SHA-1), with PFS by MODP-2048/ECP-256/384")))
    return ike, esp


def ipsec_parameters(ike: Suite, esp: Suite) -> dict[str, str]:
    """The six arguments of Set-VpnConnectionIPsecConfiguration, in its order."""
    cipher = ESP_CIPHER[esp.encr]
    return {
        "AuthenticationTransformConstants": cipher if esp.aead else ESP_AUTH[esp.integ],
        "CipherTransformConstants": cipher,
        "EncryptionMethod": IKE_ENCRYPTION[ike.encr],
        "IntegrityCheckMethod": IKE_INTEGRITY[ike.prf],
        "PfsGroup": PFS_GROUP[esp.dh] if esp.dh else "None",
        "DHGroup": DH_GROUP[ike.dh],
    }


def _quote(text: str) -> str:
    """A PowerShell single-quoted string literal (only ' needs doubling)."""
    return "'" + text.replace("'", "''") + "'"


def render(target: Target) -> tuple[str, Suite, Suite, list[str]]:
    """The script, the suites it configures, and notes for the operator."""
    conn = target.connection
    notes: list[str] = []
    if conn.version != 2:
        raise ProfileError("Windows' built-in client speaks IKEv1 only inside L2TP, which "
                           "ikesrv does not serve: use an IKEv2 connection")
    if conn.remote_auth == "psk":
        raise ProfileError("Windows' built-in IKEv2 client cannot use a pre-shared key: use "
                           'remote_auth = "eap-mschapv2" or "pubkey" for Windows clients')
    if conn.remote_auth in ("eap-gtc", "eap-md5"):
        raise ProfileError(f"Windows' built-in IKEv2 client does EAP-MSCHAPv2 (or certificates), "
                           f"not {conn.remote_auth}")
    if conn.local_auth != "pubkey":
        raise ProfileError("Windows verifies the server by its certificate: the connection "
                           'needs local_auth = "pubkey"')
    ike, esp = suites(target)
    method = "Eap" if target.eap else "MachineCertificate"
    lines = [
        (f"# ikesrv client profile for Windows 10/11: connection {conn.name!r}, server "
        f"{target.server}."),
        "# Run it in an elevated PowerShell (the CA goes to the machine's trusted roots):",
        "#   powershell -ExecutionPolicy Bypass -File <this file>",
        f"# Windows checks that ikesrv's certificate names {target.server} (subjectAltName) and",
        "# carries the serverAuth EKU; it proposes exactly the suites set below.",
        "$ErrorActionPreference = 'Stop'",
        f"$Name = {_quote(target.display_name)}",
        f"$Server = {_quote(target.server)}",
        "",
    ]
    for i, cert in enumerate(target.trust_chain):
        store = "Root" if i == len(target.trust_chain) - 1 else "CA"
        lines += [
            (f"# {'trust anchor' if store == 'Root' else 'intermediate CA'}: "
            f"{cert.subject.rfc4514_string()}"),
            f"$Pem = @'\n{pem(cert).strip()}\n'@",
            "$File = Join-Path $env:TEMP 'ikesrv-ca.crt'",
            "Set-Content -Path $File -Value $Pem -Encoding ascii",
            (f"Import-Certificate -FilePath $File -CertStoreLocation Cert:\\LocalMachine\\{store}"
            " | Out-Null"),
            "Remove-Item $File",
            "",
        ]
    if not target.trust_chain:
        notes.append("no CA certificate found for ikesrv's certificate (pass --ca FILE): the "
                     "script relies on Windows already trusting its issuer")
    if method == "MachineCertificate":
        if target.client_p12 is not None:
            blob = base64.b64encode(target.client_p12).decode("ascii")
            lines += [
                "# the client's certificate and key (machine store, where IKEv2 looks)",
                f"$P12 = [Convert]::FromBase64String({_quote(blob)})",
                "$File = Join-Path $env:TEMP 'ikesrv-client.p12'",
                "[IO.File]::WriteAllBytes($File, $P12)",
                "$Password = Read-Host -AsSecureString 'Password of the PKCS#12 file'",
                ("Import-PfxCertificate -FilePath $File -CertStoreLocation "
                "Cert:\\LocalMachine\\My -Password $Password | Out-Null"),
                "Remove-Item $File",
                "",
            ]
        else:
            notes.append("the client authenticates with a machine certificate: import it "
                         "into Cert:\\LocalMachine\\My (or pass --p12 FILE to embed it)")
    add = (f"Add-VpnConnection -Name $Name -ServerAddress $Server -TunnelType Ikev2 "
           f"-AuthenticationMethod {method} -EncryptionLevel Required -AllUserConnection")
    if method == "Eap":
        add += " -RememberCredential"
    if not target.full_tunnel:
        add += " -SplitTunneling"
    lines += [
        "if (Get-VpnConnection -Name $Name -AllUserConnection -ErrorAction SilentlyContinue) {",
        "    Remove-VpnConnection -Name $Name -AllUserConnection -Force",
        "}",
        add,
        "# ikesrv accepts these: " + ike.keywords() + " (IKE), " + esp.keywords() + " (ESP)",
        "Set-VpnConnectionIPsecConfiguration -ConnectionName $Name -AllUserConnection "
        + " ".join(f"-{k} {v}" for k, v in ipsec_parameters(ike, esp).items()) + " -Force",
    ]
    if not target.full_tunnel:
        for net in target.routes:
            lines.append(f"Add-VpnConnectionRoute -ConnectionName $Name -AllUserConnection "
                         f"-DestinationPrefix {net}")
    lines.append("Write-Host \"VPN connection '$Name' created: connect from the network menu.\"")
    # CRLF throughout: Windows PowerShell 5.1 reads it as written, here-strings included
    return ("\n".join(lines) + "\n").replace("\n", "\r\n"), ike, esp, notes
