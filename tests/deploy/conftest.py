"""Fixtures for the deployment tests: a configuration with one connection per kind of
client, for the profile tests, and ``ikesrv serve`` in the gateway namespace for the
ones that connect a real client.

  profile_config   (dir, config path, loaded Config) of PROFILE_CONFIG, with the test
                   PKI's certificates (tests.harness.pki) and the secrets it names
  ikesrv           factory: ikesrv(ns, config_text, files, address=...) -> a started
                   tests.harness.ikesrv_server.IkesrvServer (one worker)
"""

from __future__ import annotations

import pytest

from tests.harness.ikesrv_server import IkesrvServer
from tests.harness.netns import GW_ADDR, PROTECTED_NET, VIP_POOL
from tests.harness.scenarios import GW_ID, PSK, V1_PSK

from .placeholders import users_file

# one connection per kind of client the profiles serve; GW_ID is in the gateway
# certificates' subjectAltName (tests/harness/pki.py)
PROFILE_CONFIG = f"""
[server]
addresses = ["{GW_ADDR}"]
[metrics]
enabled = false
[kernel]
backend = "none"
[pools.rw]
addresses = "{VIP_POOL}"
dns = ["192.0.2.53"]
[pools.split]
addresses = "10.77.0.0/24"
split_include = ["{PROTECTED_NET}", "10.10.0.0/16"]
[users]
backend = "file"
[users.file]
path = "users.toml"

[connections.rw-eap]
version = 2
local_id = "{GW_ID}"
local_auth = "pubkey"
certificate = "gw-ecdsa.crt"
private_key = "gw-ecdsa.key"
remote_auth = "eap-mschapv2"
proposals = ["%windows-modern", "%apple", "%android"]
esp_proposals = ["%windows-modern", "%apple", "%android"]
pools = ["rw"]
local_ts = ["0.0.0.0/0"]

[connections.rw-eap-rsa]
version = 2
local_id = "{GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "eap-mschapv2"
proposals = ["aes256-sha256-modp2048", "aes128gcm16-prfsha256-ecp256"]
esp_proposals = ["aes256-sha256-modp2048-modpnone", "aes256gcm16"]
pools = ["split"]
local_ts = ["{PROTECTED_NET}", "10.10.0.0/16"]

[connections.rw-cert]
version = 2
local_id = "{GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "pubkey"
remote_id = "*@example.test"
ca_certificates = ["ca.crt"]
proposals = ["aes256gcm16-prfsha384-ecp384", "aes256-sha256-ecp256"]
esp_proposals = ["aes256gcm16-ecp384", "aes256-sha256"]
pools = ["rw"]
local_ts = ["0.0.0.0/0"]

[connections.rw-psk]
version = 2
local_id = "{GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes256-sha256-x25519", "aes256gcm16-prfsha384-ecp384"]
esp_proposals = ["aes256gcm16", "aes256-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]

[connections.x25519-only]
version = 2
local_id = "{GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "eap-mschapv2"
proposals = ["aes256-sha256-x25519"]
esp_proposals = ["aes256gcm16"]
pools = ["rw"]

[connections.v1-xauth]
version = 1
local_auth = "psk"
remote_auth = "xauth"
psk_file = "v1.psk"
aggressive = true
proposals = ["aes256-sha256-modp2048"]
esp_proposals = ["aes256-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


@pytest.fixture(scope="session")
def profile_config(test_pki, tmp_path_factory):
    from ikesrv import config as config_module

    directory = tmp_path_factory.mktemp("profiles")
    for name in ("gw", "gw-ecdsa", "ca"):
        item = test_pki[name]
        (directory / f"{name}.crt").write_bytes(item.cert_pem)
        key = directory / f"{name}.key"
        key.write_bytes(item.key_pem)
        key.chmod(0o600)
    for name, secret in (("rw.psk", PSK), ("v1.psk", V1_PSK)):
        (directory / name).write_text(secret + "\n")
        (directory / name).chmod(0o600)
    users_file(directory / "users.toml")
    path = directory / "ikesrv.toml"
    path.write_text(PROFILE_CONFIG)
    return directory, path, config_module.load(path)


@pytest.fixture
def ikesrv(cleanup):
    """Factory: ikesrv(ns, config_text, files={name: content}, address=...)."""
    def start(ns, config: str, files: dict | None = None, *, address: str, workers=1):
        return IkesrvServer(ns, cleanup, config, files, workers=workers).wait_ready(address)
    return start
