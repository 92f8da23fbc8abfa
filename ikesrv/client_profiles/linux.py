"""Linux: strongSwan's swanctl.conf, and a NetworkManager connection for its strongSwan plugin.

Owns both texts. swanctl takes the connection's proposals as they are (they are
strongSwan's syntax), asks for a virtual IP when the connection has pools, proposes the
tunnel networks as remote traffic selectors and rekeys at 90 % of the connection's
lifetimes, before ikesrv would. The CA certificates are separate files (swanctl loads
them from ``x509ca/``, NetworkManager from a path): their names come back as companions
for the caller to write beside the profile.

NetworkManager-strongswan (charon-nm) speaks IKEv2 only; its keyfile keys are the
plugin's (``address``, ``certificate``, ``remote-identity``, ``method`` = eap | cert |
psk, ``user``, ``virtual``, ``proposal``, ``ike``/``esp`` with ``;`` between proposals).

Imports the package's target module only.
"""

from __future__ import annotations

import base64
import re

from .target import EAP_METHODS, ProfileError, Target, pem

_BARE = re.compile(r"^[A-Za-z0-9_.:/%@*+,-]+$")


def _value(value: object) -> str:
    """A strongSwan settings value; quoted when it holds anything but plain characters."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    text = str(value)
    if _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section(name: str, body: dict, indent: int = 0) -> list[str]:
    pad = "    " * indent
    lines = [f"{pad}{name} {{"]
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, dict):
            lines += _section(key, value, indent + 1)
        elif isinstance(value, str) and value.startswith("# "):
            lines.append(f"{pad}    {value}")
        else:
            lines.append(f"{pad}    {key} = {_value(value)}")
    lines.append(f"{pad}}}")
    return lines


def ca_companions(target: Target, stem: str) -> list[tuple[str, bytes]]:
    """The CA files a Linux profile refers to: ``<stem>-ca.crt`` is the trust anchor,
    ``<stem>-ca1.crt``... the intermediates below it."""
    chain = list(target.trust_chain)
    out = []
    if chain:
        out.append((f"{stem}-ca.crt", pem(chain[-1]).encode("ascii")))
        for i, cert in enumerate(chain[:-1], 1):
            out.append((f"{stem}-ca{i}.crt", pem(cert).encode("ascii")))
    return out


def _unique(strings) -> list[str]:
    """Proposals in order, each once (proposal sets overlap)."""
    return list(dict.fromkeys(strings))


def _rekey(seconds: float) -> str:
    """90 % of a lifetime in swanctl's time syntax (one number, one unit: no "7h12m")."""
    return f"{max(60, int(seconds * 0.9))}s"


def swanctl(target: Target, stem: str) -> tuple[str, list[tuple[str, bytes]], list[str]]:
    """swanctl.conf for connection ``stem``, its CA files, notes for the operator."""
    conn = target.connection
    notes: list[str] = []
    companions = ca_companions(target, stem)
    local: dict = {}
    # IKEv1 phase 1 authenticates both sides with one method (RFC 2409 §5), XAuth after it
    local["auth"] = conn.local_auth if conn.version == 1 else conn.remote_auth
    if target.client_id:
        local["id"] = target.client_id
    elif conn.version == 1 and conn.aggressive and conn.local_auth == "psk":
        local["id"] = conn.name  # Aggressive Mode sends it in the clear as the group name
    if target.eap:
        local["id"] = target.user or "%any"
        local["eap_id"] = target.user or "%any"
    if local["auth"] == "pubkey":
        local["certs"] = f"{stem}-client.crt"
        notes.append(f"the client authenticates with a certificate: put it in x509/{stem}-"
                     "client.crt and its key in private/ (swanctl loads both)")
    remote: dict = {"auth": conn.local_auth, "id": target.server_id}
    if companions:
        remote["cacerts"] = companions[0][0]
    elif conn.local_auth == "pubkey":
        notes.append("no CA certificate found for ikesrv's certificate (pass --ca FILE)")
    child: dict = {
        "remote_ts": [str(n) for n in target.routes],
        "esp_proposals": _unique(conn.esp_proposal_strings),
        "rekey_time": _rekey(conn.child_lifetime),
        "dpd_action": "restart",
        "start_action": "none",
    }
    body: dict = {
        "version": conn.version,
        "remote_addrs": target.server,
        "vips": "0.0.0.0" if target.virtual_ip else None,
        "proposals": _unique(conn.proposal_strings),
        "rekey_time": _rekey(conn.ike_lifetime),
        "aggressive": True if conn.version == 1 and conn.aggressive else None,
        "local": local,
    }
    if conn.version == 1 and conn.remote_auth == "xauth":
        body["local-xauth"] = {"auth": "xauth", "xauth_id": target.user or "%any"}
    body["remote"] = remote
    body["children"] = {stem: child}
    head = [
        (f"# ikesrv client profile for strongSwan (swanctl): connection {conn.name!r}, server "
        f"{target.server}."),
        f"# Install: this file as /etc/swanctl/conf.d/{stem}.conf"
        + (f", {', '.join(n for n, _ in companions)} in /etc/swanctl/x509ca/" if companions
           else "") + ";",
        f"# then: swanctl --load-all && swanctl --initiate --child {stem}",
    ]
    if conn.version == 1 and conn.aggressive and conn.local_auth == "psk":
        head.append("# charon initiates Aggressive Mode with a PSK only with strongswan.conf "
                    "charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes")
        notes.append("charon needs i_dont_care_about_security_and_use_aggressive_mode_psk = yes "
                     "in strongswan.conf to initiate Aggressive Mode with a PSK")
    lines = head + [""] + _section("connections", {stem: body})
    secrets = _secrets(target, stem, notes)
    if secrets:
        lines += [""] + secrets
    return "\n".join(lines) + "\n", companions, notes


def _secrets(target: Target, stem: str, notes: list[str]) -> list[str]:
    conn = target.connection
    lines: list[str] = []
    uses_psk = conn.local_auth == "psk"
    entries: dict = {}
    if uses_psk:
        if target.psk is not None:
            key = "0s" + base64.b64encode(target.psk).decode("ascii")
            entries[f"ike-{stem}"] = {"id": target.server_id, "secret": key}
        else:
            notes.append("the pre-shared key is not in the profile (--include-psk puts it "
                         "there): fill in the secrets section")
    user_secret = None
    if conn.remote_auth in EAP_METHODS:
        user_secret = f"eap-{stem}"
    elif conn.remote_auth == "xauth":
        user_secret = f"xauth-{stem}"
    lines = _section("secrets", entries) if entries else []
    if user_secret is not None:
        who = target.user or "USERNAME"
        block = [f"# {line}" for line in _section(user_secret, {"id": who,
                                                                 "secret": "PASSWORD"})]
        if lines:
            lines = lines[:-1] + ["    " + b for b in block] + [lines[-1]]
        else:
            lines = ["secrets {"] + ["    " + b for b in block] + ["}"]
        notes.append(f"the user's password is not in the profile: uncomment {user_secret} in "
                     "the secrets section and fill it in")
    return lines


def network_manager(target: Target, stem: str) -> tuple[str, list[tuple[str, bytes]],
                                                        list[str]]:
    """A NetworkManager keyfile (/etc/NetworkManager/system-connections/NAME.nmconnection)."""
    conn = target.connection
    notes: list[str] = []
    if conn.version != 2:
        raise ProfileError("NetworkManager's strongSwan plugin speaks IKEv2 only: use the "
                           "linux-swanctl profile for an IKEv1 connection")
    if conn.local_auth != conn.remote_auth and not target.eap:
        raise ProfileError("NetworkManager's strongSwan plugin authenticates both sides with "
                           "one method unless the client uses EAP")
    if target.eap and conn.local_auth != "pubkey":
        raise ProfileError("with EAP the plugin verifies the server's certificate")
    companions = ca_companions(target, stem)
    vpn: list[tuple[str, str]] = [
        ("service-type", "org.freedesktop.NetworkManager.strongswan"),
        ("address", target.server),
        ("remote-identity", target.server_id),
    ]
    if companions:
        vpn.append(("certificate", f"/etc/ipsec.d/cacerts/{companions[0][0]}"))
    elif conn.local_auth == "pubkey":
        notes.append("no CA certificate found for ikesrv's certificate (pass --ca FILE): "
                     "the plugin then uses the system's trusted CAs")
    if target.eap:
        vpn += [("method", "eap"), ("user", target.user or "")]
        vpn.append(("password-flags", "2"))  # not saved: asked at each connection
    elif conn.remote_auth == "psk":
        vpn.append(("method", "psk"))
        if target.client_id:
            vpn.append(("local-identity", target.client_id))
        vpn.append(("password-flags", "0" if target.psk is not None else "2"))
    else:
        vpn += [("method", "cert"), ("cert-source", "file"),
                ("usercert", f"/etc/ipsec.d/certs/{stem}-client.crt"),
                ("userkey", f"/etc/ipsec.d/private/{stem}-client.key")]
        if target.client_id:
            vpn.append(("local-identity", target.client_id))
        notes.append(f"put the client's certificate and key where the profile says (/etc/ipsec.d"
                     f"/certs/{stem}-client.crt, /etc/ipsec.d/private/{stem}-client.key)")
    vpn += [
        ("virtual", "yes" if target.virtual_ip else "no"),
        ("encap", "no"),
        ("ipcomp", "no"),
        ("proposal", "yes"),
        ("ike", ";".join(_unique(conn.proposal_strings))),
        ("esp", ";".join(_unique(conn.esp_proposal_strings))),
    ]
    lines = [
        (f"# ikesrv client profile for NetworkManager (strongSwan plugin): connection "
        f"{conn.name!r}, server {target.server}."),
        (f"# Install as root: install -m 0600 this file /etc/NetworkManager/system-connections/"
        f"{stem}.nmconnection"),
    ]
    if companions:
        lines.append(f"#   install -D -m 0644 {companions[0][0]} /etc/ipsec.d/cacerts/"
                     f"{companions[0][0]}")
    lines += [
        "#   nmcli connection reload && nmcli connection up " + stem,
        "",
        "[connection]",
        f"id={stem}",
        f"uuid={target.uuid('linux-nm')}",
        "type=vpn",
        "autoconnect=false",
        "",
        "[vpn]",
    ]
    lines += [f"{k}={v}" for k, v in vpn]
    if conn.remote_auth == "psk" and target.psk is not None:
        lines += ["", "[vpn-secrets]", f"password={target.psk.decode('utf-8', 'replace')}"]
    elif conn.remote_auth == "psk":
        notes.append("the pre-shared key is not in the profile (--include-psk puts it there): "
                     "NetworkManager asks for it")
    lines += ["", "[ipv4]", "method=auto"]
    if not target.full_tunnel:
        lines.append("never-default=true")
        lines += [f"route{i}={net}" for i, net in enumerate(
            (n for n in target.routes if n.version == 4), 1)]
    lines += ["", "[ipv6]", "method=auto" if any(n.version == 6 for n in target.routes)
              else "method=ignore"]
    return "\n".join(lines) + "\n", companions, notes
