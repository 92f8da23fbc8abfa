"""Pieces of ``ikesrv serve`` configurations that the interop tests share.

Each piece is TOML text for the gateway namespace of tests/harness/netns.py; tests join
the pieces they need and add their own lines. ``gateway()`` is the [server] part with
the pool the strongSwan scenarios expect (VIP 192.0.2.129 first), ``psk_road_warrior()``
the IKEv2 PSK connection of scenario a1/a2, ``users_file()`` the file users backend.

Imports only tests.harness.{netns,scenarios}.
"""

from __future__ import annotations

from .netns import GW_ADDR, GW_NAT_SIDE_ADDR, PROTECTED_NET, VIP_POOL
from .scenarios import GW_ID, USERS


def gateway(addresses=(GW_ADDR, GW_NAT_SIDE_ADDR), *, server_extra: str = "",
            metrics: str | None = None, kernel: str = "none") -> str:
    """[server], [metrics], [kernel] and the "rw" pool."""
    listed = ", ".join(f'"{a}"' for a in addresses)
    metrics_part = f'listen = "{metrics}"' if metrics else "enabled = false"
    return f"""
[server]
addresses = [{listed}]
{server_extra}[metrics]
{metrics_part}
[kernel]
backend = "{kernel}"
[pools.rw]
addresses = "{VIP_POOL}"
dns = ["192.0.2.53"]
"""


def psk_road_warrior(name: str = "rw-psk", *, proposals: tuple[str, ...] = (
        "aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048"),
        esp_proposals: tuple[str, ...] = ("aes256gcm16-ecp384", "aes256gcm16",
                                          "aes256-sha256-modp2048", "aes256-sha256"),
        psk_file: str = "rw.psk") -> str:
    """An IKEv2 PSK connection handing out addresses from "rw" (the last table: callers
    may append more keys to it)."""
    return f"""
[connections.{name}]
version = 2
local_id = "{GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "{psk_file}"
proposals = [{", ".join(f'"{p}"' for p in proposals)}]
esp_proposals = [{", ".join(f'"{p}"' for p in esp_proposals)}]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


def users_file(path: str = "users.toml") -> str:
    return f'[users]\nbackend = "file"\n[users.file]\npath = "{path}"\n'


USERS_TOML = "".join(f'[{user}]\npassword = "{password}"\n' for user, password in USERS.items())
