"""Client profiles: what a stock VPN client needs to connect to one ikesrv connection.

Owns ``build()``: from a checked configuration and a connection name, the profile for a
platform (``PLATFORMS``): a PowerShell script for Windows' built-in IKEv2 client, a
.mobileconfig for Apple's IKEv2 or IKEv1 client, a .sswan for the strongSwan Android
app, a swanctl.conf or a NetworkManager keyfile for Linux. A profile carries what the
server will accept: the connection's proposals (or, for clients that take a single
choice, the first suite of ours they can propose), the identity ikesrv presents, the
authentication methods of both sides, the CA that issued ikesrv's certificate where the
platform embeds one, the tunnel's networks. ``Profile.ike``/``Profile.esp`` say what the
client will propose, and ``check()`` runs them through ikesrv's own proposal selection,
so that a profile ikesrv would refuse is an error here rather than at the user's desk.

Secrets: a pre-shared key goes into a profile only when asked (``include_psk``: it is a
group secret every client of the connection holds anyway); user passwords never do.

Must not import the core, the server or any I/O edge; the command line calls
``ikesrv.client_profiles.command``. ``build``, ``check``, ``Profile`` and ``ProfileError``
live in profile.py and load at first use (the CLI parser only needs ``PLATFORMS``). Per
platform: windows.py, apple.py, android.py, linux.py; shared facts in target.py,
single-suite choice in suites.py.
"""

from __future__ import annotations

__all__ = ["PLATFORMS", "Profile", "ProfileError", "build", "check"]

#: platform -> default file extension
PLATFORMS = {
    "windows": ".ps1",
    "apple": ".mobileconfig",
    "android": ".sswan",
    "linux-swanctl": ".conf",
    "linux-nm": ".nmconnection",
}


def __getattr__(name: str):
    if name in ("Profile", "ProfileError", "build", "check"):
        from . import profile
        return getattr(profile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
