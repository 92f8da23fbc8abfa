"""What ``make run`` prints when ikesrv serves its embedded demo configuration."""

from __future__ import annotations

from ..config import Config


def demo_hint(config: Config) -> str:
    """How to try the embedded demo, printed by ``make run``."""
    data = config.source.parent
    return f"""
ikesrv is serving the embedded DEMO configuration (public keys and passwords: never deploy it).
Try it from this host with strongSwan (swanctl), e.g. in a network namespace, or with any
IKEv2 client pointed at 127.0.0.1:
  IKEv2 PSK:        remote id vpn-psk.ikesrv.test, PSK = contents of {data}/demo-ikev2.psk,
                    request a virtual IP (10.99.0.x is handed out)
  IKEv2 EAP:        trust {data}/demo-ca.crt, server id vpn.ikesrv.test,
                    EAP-MSCHAPv2 user alice / alice-Secret-1
  IKEv1 XAuth:      Main Mode PSK = contents of {data}/demo-ikev1.psk, XAuth alice / alice-Secret-1
Watch it:           .venv/bin/ikesrv status     and     curl -s http://127.0.0.1:9810/metrics
Stop it:            Ctrl-C (SIGTERM deletes every SA first)
"""
