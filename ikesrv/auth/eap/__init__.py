"""EAP methods as sans-I/O state machines (RFC 3748), with MD4 for MS-CHAPv2.

framing.py (packets, the steps a method returns, the Identity response), mschapv2.py,
gtc.py, md5.py (each with a ``Server`` and a ``Peer``), md4.py (compiled MD4, NT hash) and
md4_reference.py (its pure-Python oracle). ``SERVERS`` maps a connection's ``remote_auth``
to the server class. Nothing here imports asyncio, ldap3 or the clock.
"""

from __future__ import annotations

from . import gtc, md5, mschapv2

SERVERS = {
    "eap-mschapv2": mschapv2.Server,
    "eap-gtc": gtc.Server,
    "eap-md5": md5.Server,
}
PEERS = {
    "eap-mschapv2": mschapv2.Peer,
    "eap-gtc": gtc.Peer,
    "eap-md5": md5.Peer,
}

__all__ = ["SERVERS", "PEERS"]
