"""Android: a profile for the strongSwan VPN Client app (.sswan, JSON).

Owns the file in the format the app documents ("VPN Profile Import for the Android VPN
Client", docs.strongswan.org): ``uuid``, ``name``, ``type``, ``remote`` (``addr``, ``id``,
``cert``: the CA, base64 DER), ``local`` (``eap_id``, ``id``, ``p12``), ``ike-proposal``
and ``esp-proposal`` (one strongSwan proposal each: the connection's first), and
``split-tunneling.subnets`` for split tunnels. The app's types are ``ikev2-eap`` (EAP,
server certificate) and ``ikev2-cert`` (client certificate); it authenticates the server
by certificate only and has no pre-shared keys and no IKEv1, so such connections get an
error that points to Android's own client (Settings > VPN: "IKEv2/IPSec PSK").

Imports the package's target module only.
"""

from __future__ import annotations

import base64
import json

from .target import ProfileError, Target, der


def render(target: Target) -> tuple[bytes, list[str]]:
    conn = target.connection
    notes: list[str] = []
    if conn.version != 2:
        raise ProfileError("the strongSwan app speaks IKEv2 only (Android 12 and later removed "
                           "the built-in IKEv1 types)")
    if conn.remote_auth == "psk" or conn.local_auth != "pubkey":
        raise ProfileError("the strongSwan app authenticates the server by certificate and "
                           "has no pre-shared keys; for a PSK connection use Android's own "
                           "client (Settings > Network > VPN > IKEv2/IPSec PSK, identifier "
                           f"and server identity {target.server_id!r}), see docs/clients.md")
    profile: dict = {
        "uuid": target.uuid("android"),
        "name": target.display_name,
        "type": "ikev2-eap" if target.eap else "ikev2-cert",
    }
    remote: dict = {"addr": target.server, "id": target.server_id}
    if target.anchor is not None:
        remote["cert"] = base64.b64encode(der(target.anchor)).decode("ascii")
    else:
        notes.append("no CA certificate found for ikesrv's certificate (pass --ca FILE): the "
                     "app then uses the CAs Android trusts")
    profile["remote"] = remote
    local: dict = {}
    if target.eap:
        if target.user:
            local["eap_id"] = target.user
    else:
        if target.client_id:
            local["id"] = target.client_id
        if target.client_p12 is not None:
            local["p12"] = base64.b64encode(target.client_p12).decode("ascii")
        else:
            notes.append("the client authenticates with a certificate: pass --p12 FILE to "
                         "embed its PKCS#12, or install it on the device first")
    if local:
        profile["local"] = local
    # one proposal each (the app parses a single proposal): the connection's first
    profile["ike-proposal"] = conn.proposal_strings[0]
    profile["esp-proposal"] = conn.esp_proposal_strings[0]
    if not target.full_tunnel:
        profile["split-tunneling"] = {"subnets": [str(n) for n in target.routes]}
    return (json.dumps(profile, indent=2) + "\n").encode("utf-8"), notes
