"""ikesrv: an IKEv1 + IKEv2 responder for remote-access VPN concentrators."""

__version__ = "0.1.0"
