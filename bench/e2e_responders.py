"""The responders of the end-to-end benchmark, set up the same way for the bench and for
tests/load: ``ikesrv serve`` and strongSwan's charon in the gateway namespace of a
tests.harness Topology, tuned for a load test, pinned to one CPU, with their CPU time
read from /proc and their own count of established IKE SAs.

What each responder does per SA (the baseline, stated once):

* ikesrv: ``ikesrv serve`` (one worker, or one per CPU for the "all workers" row),
  ``[kernel] backend = "none"`` (CHILD SAs are recorded, nothing is installed: this
  kernel has no ESP), metrics on (multiprocess mode, as deployed), log level warning,
  COOKIE thresholds off. EAP-MSCHAPv2: an ECDSA P-256 server certificate, the users in a
  slapd of the gateway namespace (tests.harness.slapd: bind, search with the group
  check, NT hash read) or in the users file. IKEv1: Main Mode (or Aggressive Mode) with
  the PSK, XAuth when asked, Mode Config for the virtual IP, one Quick Mode.
* charon: Debian's charon 5.9 with kernel-libipsec, as LAB.md §10 measured it: every
  CHILD SA is installed in libipsec's user-space SAD/SPD (the kernel here has no ESP, so
  this is where a real install goes). ``install_routes = no``: no route per client in
  table 220 (ikesrv installs none either; a concentrator routes its pool once).
  ``ikesa_table_size = 4096``, ``ikesa_table_segments = 16``, ``dos_protection = no``,
  no logging, the plugins of LAB.md's load test. Not the load-tester plugin, not
  fake_kernel. EAP-MSCHAPv2: the same certificate; charon has no LDAP user backend, so
  its users are swanctl EAP secrets (in memory: less work than a directory lookup).
  IKEv1: the same PSK, XAuth users as swanctl XAuth secrets, the same pool.
* "charon fake": the same charon and configuration, built from the same source with the
  load-tester plugin (bench/build-charon-fake-kernel.sh) and its ``fake_kernel``: SPIs
  are made up and no SA is installed anywhere, like ikesrv's backend "none". This is the
  like-for-like baseline (LAB.md §10's "fake_kernel" rows); the Debian charon row shows
  what a real install in libipsec adds.

Both hand out a virtual IP per client from 198.18.0.0/16 (RFC 2544's benchmarking range:
only ever a label in IKE here, never a packet's address).

Imports tests.harness (namespaces, processes, charon) and the standard library.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tests.harness.cleanup import Cleanup
from tests.harness.ikesrv_server import IkesrvServer
from tests.harness.netns import GW_ADDR, PROTECTED_NET, Namespace
from tests.harness.proc import wait_until
from tests.harness.strongswan import DEBIAN_CHARON, Charon, SwanctlConf

PSK = "bench-load-psk-0123456789abcdef"
GW_ID = "vpn.load.test"
POOL = "198.18.0.0/16"
ESP = "aes128-sha256"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: where bench/build-charon-fake-kernel.sh installs strongSwan with load-tester
FAKE_KERNEL_PREFIX = "/opt/ikesrv-strongswan-lt"
FAKE_KERNEL_CHARON = f"{FAKE_KERNEL_PREFIX}/libexec/ipsec/charon"

#: the plugins of LAB.md §10's libipsec responder (the lean set of a load test)
CHARON_PLUGINS = ("random nonce openssl gmp curve25519 aes sha1 sha2 hmac gcm kdf pem pkcs1 "
                  "x509 pubkey attr kernel-libipsec kernel-netlink socket-default vici")
#: what EAP-MSCHAPv2 (and the ECDSA server key) and IKEv1 XAuth add to it
CHARON_EAP_PLUGINS = "pkcs8 md4 eap-identity eap-mschapv2"
CHARON_XAUTH_PLUGINS = "xauth-generic"
#: every simulated user's password: one whose NT hash tests.harness.slapd already knows
USER_PASSWORD = "alice-Secret-1"


def _stat(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return stat[stat.rfind(b")") + 2:].split()  # fields from 3 (state) on, see proc(5)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (ikesrv serve: the supervisor and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def cpu_ticks(pid: int) -> int:
    """CPU of ``pid`` and its descendants, all threads, in clock ticks: utime + stime of
    each live process, plus cutime + cstime (children that exited and were reaped)."""
    total = 0
    for p in process_tree(pid):
        try:
            f = _stat(p)
        except OSError:
            continue  # exited meanwhile: its parent's cutime has it once reaped
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # fields 14-17
    return total


def pin(pid: int, cpu: int) -> None:
    """Pin every thread of ``pid`` and its descendants to ``cpu`` (threads and processes
    made later inherit it)."""
    for p in process_tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except (ProcessLookupError, OSError):
                pass


@dataclass(frozen=True)
class Setup:
    """What the clients of a bench row do, for both responders' configurations."""

    version: int = 2
    auth: str = "psk"  # psk | eap-mschapv2 | xauth (IKEv1: PSK, then XAuth)
    aggressive: bool = False  # IKEv1 Aggressive Mode allowed
    users_backend: str | None = None  # EAP/XAuth on ikesrv: "ldap" | "file"


def ikesrv_config(proposals: list[str], *, workers: int = 1, setup: Setup = Setup(),
                  pki=None, ldap_uri: str = "") -> str:
    props = ", ".join(f'"{p}"' for p in proposals)
    if setup.version == 1:
        return _ikesrv_v1_config(props, workers, setup)
    if setup.auth == "eap-mschapv2":
        return _ikesrv_eap_config(props, workers, setup, pki, ldap_uri)
    return _server_head(workers) + f"""[connections.rw]
version = 2
local_id = "{GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = [{props}]
esp_proposals = ["{ESP}", "aes128gcm16"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


def _server_head(workers: int) -> str:
    return f"""
[server]
addresses = ["{GW_ADDR}"]
workers = {workers}
cookie_threshold = 0
cookie_threshold_per_ip = 0
half_open_limit = 100000
# one generator address sends everything: no per-source limits
half_open_limit_per_ip = 0
rate_limit_per_ip = 0
log_level = "warning"
[metrics]
listen = "127.0.0.1:9810"
[kernel]
backend = "none"
[pools.rw]
addresses = "{POOL}"
"""


def _users_section(setup: Setup, ldap_uri: str) -> str:
    if setup.users_backend == "ldap":
        from tests.harness import slapd as directory
        return f"""
[users]
backend = "ldap"
[users.ldap]
url = "{ldap_uri.rstrip('/')}"
bind_dn = "{directory.SERVICE_DN}"
bind_password_file = "ldap.secret"
user_base = "{directory.PEOPLE}"
user_filter = "(&(objectClass=inetOrgPerson)(uid={{user}}))"
nt_hash_attribute = "sambaNTPassword"
require_group = "{directory.GROUP_DN}"
"""
    return """
[users]
backend = "file"
[users.file]
path = "users.toml"
"""


def _ikesrv_eap_config(props: str, workers: int, setup: Setup, pki, ldap_uri: str) -> str:
    gw = pki["gw-ecdsa"]
    return _server_head(workers) + _users_section(setup, ldap_uri) + f"""
[connections.rw]
version = 2
local_id = "{GW_ID}"
local_auth = "pubkey"
certificate = "{gw.cert_path}"
private_key = "{gw.key_path}"
send_cert = "always"
remote_auth = "eap-mschapv2"
proposals = [{props}]
esp_proposals = ["{ESP}", "aes128gcm16"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


def _ikesrv_v1_config(props: str, workers: int, setup: Setup) -> str:
    users = _users_section(setup, "") if setup.auth == "xauth" else ""
    return _server_head(workers) + users + f"""
[connections.rw]
version = 1
local_id = "{GW_ID}"
local_auth = "psk"
remote_auth = "{'xauth' if setup.auth == 'xauth' else 'psk'}"
psk_file = "rw.psk"
aggressive = {'true' if setup.aggressive else 'false'}
proposals = [{props}]
esp_proposals = ["{ESP}", "aes128gcm16"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


def users_file(n: int) -> str:
    """The users file of ``n`` simulated users user1..userN (clear-text passwords serve
    every method: ikesrv/data/demo-users.toml)."""
    return "".join(f'[user{i}]\npassword = "{USER_PASSWORD}"\n' for i in range(1, n + 1))


def charon_conf(proposals: list[str], setup: Setup = Setup(), users: int = 0) -> SwanctlConf:
    conf = SwanctlConf("ikesrv bench: road warriors with a virtual IP each")
    child = {"rw": {"local_ts": PROTECTED_NET, "esp_proposals": f"{ESP},aes128gcm16"}}
    common = {"version": setup.version, "proposals": ",".join(proposals), "pools": "rw",
              "children": child}
    if setup.auth == "eap-mschapv2":
        conf.connection("load", **common, send_cert="always",
                        local={"auth": "pubkey", "certs": "gw-ecdsa.crt", "id": GW_ID},
                        remote={"auth": "eap-mschapv2", "eap_id": "%any"})
        # one secret, every user an owner of it (swanctl id-N keys)
        ids = {f"id-{i}": f"user{i}" for i in range(1, users + 1)}
        conf.secret("eap-users", secret=USER_PASSWORD, **ids)
    elif setup.version == 1:
        remote = {"remote-psk": {"auth": "psk"}}
        if setup.auth == "xauth":
            remote["remote-xauth"] = {"auth": "xauth"}
            ids = {f"id-{i}": f"user{i}" for i in range(1, users + 1)}
            conf.secret("xauth-users", secret=USER_PASSWORD, **ids)
        conf.connection("load", **common, aggressive="yes" if setup.aggressive else "no",
                        local={"auth": "psk", "id": GW_ID}, **remote)
        conf.secret("ike-load", secret=PSK)
    else:
        conf.connection("load", **common, local={"auth": "psk", "id": GW_ID},
                        remote={"auth": "psk"})
        conf.secret("ike-load", secret=PSK)
    conf.pool("rw", addrs=POOL)
    return conf


@dataclass
class Responder:
    """A started responder: its PID (for CPU), how to count its SAs, how to stop it."""

    name: str
    pid: int
    handle: object

    def cpu_ticks(self) -> int:
        return cpu_ticks(self.pid)

    def pids(self) -> list[int]:
        return process_tree(self.pid)

    def established(self) -> int:
        """The responder's own count of established IKE SAs."""
        if isinstance(self.handle, Charon):
            stats = self.handle.stats()
            ike = stats.get("ikesas", {})
            return int(ike.get("total", 0)) - int(ike.get("half-open", 0))
        return sum(1 for sa in self.handle.sas() if sa.get("state") == "established")

    def rss_kib(self) -> int:
        """Resident memory of the responder's processes (ikesrv: supervisor and workers)."""
        return rss_kib(self.pid)

    def stop(self) -> None:
        self.handle.stop(timeout=10)


def rss_kib(pid: int) -> int:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def start_ikesrv(ns: Namespace, cleanup: Cleanup, proposals: list[str], *,
                 cpu: int | None = None, psk: str = PSK, workers: int = 1,
                 setup: Setup = Setup(), pki=None, users: int = 0,
                 ldap_uri: str = "") -> Responder:
    """``workers`` 0: one per CPU. ``users``: simulated users (EAP, XAuth) in the users
    file or, with setup.users_backend "ldap", already in the directory at ``ldap_uri``."""
    files = {"rw.psk": psk + "\n"}
    if setup.users_backend == "file":
        files["users.toml"] = users_file(users)
    elif setup.users_backend == "ldap":
        from tests.harness import slapd as directory
        files["ldap.secret"] = directory.SERVICE_PASSWORD + "\n"
    server = IkesrvServer(ns, cleanup, ikesrv_config(proposals, workers=workers, setup=setup,
                                                     pki=pki, ldap_uri=ldap_uri), files)
    server.wait_ready(GW_ADDR)
    # every worker up (and known by PID) before pinning and measuring the process tree
    expected = workers or (os.cpu_count() or 1)
    wait_until(lambda: len([w for w in server.status().get("workers", []) if w.get("pid")])
               >= expected, timeout=20, what="ikesrv's workers")
    if cpu is not None:
        pin(server.proc.pid, cpu)
    return Responder("ikesrv", server.proc.pid, server)


def start_charon(ns: Namespace, cleanup: Cleanup, proposals: list[str], *,
                 cpu: int | None = None, name: str = "gw", setup: Setup = Setup(),
                 pki=None, users: int = 0, fake_kernel: bool = False) -> Responder:
    """Debian's charon with kernel-libipsec, or with ``fake_kernel`` the load-tester
    build of the same version, installing nothing (see the module docstring)."""
    silent = {"default": -1, "cfg": -1, "knl": -1, "net": -1, "enc": -1, "lib": -1}
    plugins = CHARON_PLUGINS
    if setup.auth == "eap-mschapv2":
        plugins += " " + CHARON_EAP_PLUGINS
    elif setup.auth == "xauth":
        plugins += " " + CHARON_XAUTH_PLUGINS
    settings = {"dos_protection": False, "ikesa_table_size": 4096,
                "ikesa_table_segments": 16, "install_routes": False}
    binary = DEBIAN_CHARON
    if fake_kernel:
        # load-tester first: its fake kernel interface must be registered before
        # kernel-netlink's (which stays for addresses and routes); it initiates nothing
        # and its own peer config never matches (its responder address is loopback).
        # Its credential set offers a PSK for any identity, as good a match as the
        # swanctl secret: it must be the same PSK.
        plugins = "load-tester " + plugins.replace("kernel-libipsec ", "")
        settings["plugins"] = {"load-tester": {"enable": True, "initiators": 0,
                                               "fake_kernel": True, "preshared_key": PSK}}
        binary = FAKE_KERNEL_CHARON
    charon = Charon(
        ns, name, cleanup, kernel="libipsec", plugins=plugins, log_ike=-1,
        log_levels=silent, charon_settings=settings, charon_bin=binary)
    if setup.auth == "eap-mschapv2":
        charon.add_credentials(pki, "gw-ecdsa")
    charon.start(charon_conf(proposals, setup, users))
    charon.load()
    if cpu is not None:
        pin(charon.process.pid, cpu)
    return Responder("charon fake" if fake_kernel else "charon", charon.process.pid, charon)


def start_slapd(ns: Namespace, cleanup: Cleanup, users: int):
    """slapd in ``ns`` holding user1..user``users`` (NT hash, in the VPN group), or a
    string saying why it cannot run (tests.harness.slapd needs slapd and samba.schema)."""
    import shutil

    from tests.harness import slapd as directory
    for tool in ("slapd", "slapadd", "slaptest", "ldapsearch"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{tool} not found (Debian packages slapd, ldap-utils)"
    schema = directory.samba_schema()
    if schema is None:
        return "samba.schema unavailable (apt-get download samba failed)"
    people = tuple(directory.User(f"user{i}", f"User {i}", USER_PASSWORD, 10000 + i)
                   for i in range(1, users + 1))
    return directory.Slapd(cleanup, ns=ns, samba_schema=schema, users=people).start(timeout=60)
