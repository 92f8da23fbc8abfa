"""The responders of the end-to-end benchmark, set up the same way for the bench and for
tests/load: ``ikesrv serve`` and strongSwan's charon in the gateway namespace of a
tests.harness Topology, tuned for a load test, pinned to one CPU, with their CPU time
read from /proc and their own count of established IKE SAs.

What each responder does per SA (the baseline, stated once):

* ikesrv: ``ikesrv serve`` (one worker), ``[kernel] backend = "none"`` (CHILD SAs are
  recorded, nothing is installed: this kernel has no ESP), metrics on, log level warning,
  COOKIE thresholds off.
* charon: Debian's charon 5.9 with kernel-libipsec, as LAB.md §10 measured it: every
  CHILD SA is installed in libipsec's user-space SAD/SPD (the kernel here has no ESP, so
  this is where a real install goes). ``install_routes = no``: no route per client in
  table 220 (ikesrv installs none either; a concentrator routes its pool once).
  ``ikesa_table_size = 4096``, ``ikesa_table_segments = 16``, ``dos_protection = no``,
  no logging, the plugins of LAB.md's load test. Not the load-tester plugin, not
  fake_kernel.

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
from tests.harness.strongswan import Charon, SwanctlConf

PSK = "bench-load-psk-0123456789abcdef"
GW_ID = "vpn.load.test"
POOL = "198.18.0.0/16"
ESP = "aes128-sha256"
CLK_TCK = os.sysconf("SC_CLK_TCK")

#: the plugins of LAB.md §10's libipsec responder (the lean set of a load test)
CHARON_PLUGINS = ("random nonce openssl gmp curve25519 aes sha1 sha2 hmac gcm kdf pem pkcs1 "
                  "x509 pubkey attr kernel-libipsec kernel-netlink socket-default vici")


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


def ikesrv_config(proposals: list[str], *, workers: int = 1) -> str:
    props = ", ".join(f'"{p}"' for p in proposals)
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
[connections.rw]
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


def charon_conf(proposals: list[str]) -> SwanctlConf:
    conf = SwanctlConf("ikesrv bench: IKEv2 PSK road warriors with a virtual IP each")
    conf.connection(
        "load", version=2, proposals=",".join(proposals), pools="rw",
        local={"auth": "psk", "id": GW_ID}, remote={"auth": "psk"},
        children={"rw": {"local_ts": PROTECTED_NET, "esp_proposals": f"{ESP},aes128gcm16"}})
    conf.pool("rw", addrs=POOL)
    conf.secret("ike-load", secret=PSK)
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

    def stop(self) -> None:
        self.handle.stop(timeout=10)


def start_ikesrv(ns: Namespace, cleanup: Cleanup, proposals: list[str], *,
                 cpu: int | None = None, psk: str = PSK, workers: int = 1) -> Responder:
    server = IkesrvServer(ns, cleanup, ikesrv_config(proposals, workers=workers),
                          {"rw.psk": psk + "\n"})
    server.wait_ready(GW_ADDR)
    # every worker up (and known by PID) before pinning and measuring the process tree
    wait_until(lambda: len([w for w in server.status().get("workers", []) if w.get("pid")])
               >= max(1, workers), timeout=20, what="ikesrv's workers")
    if cpu is not None:
        pin(server.proc.pid, cpu)
    return Responder("ikesrv", server.proc.pid, server)


def start_charon(ns: Namespace, cleanup: Cleanup, proposals: list[str], *,
                 cpu: int | None = None, name: str = "gw") -> Responder:
    silent = {"default": -1, "cfg": -1, "knl": -1, "net": -1, "enc": -1, "lib": -1}
    charon = Charon(
        ns, name, cleanup, kernel="libipsec", plugins=CHARON_PLUGINS, log_ike=-1,
        log_levels=silent,
        charon_settings={"dos_protection": False, "ikesa_table_size": 4096,
                         "ikesa_table_segments": 16, "install_routes": False})
    charon.start(charon_conf(proposals))
    charon.load()
    if cpu is not None:
        pin(charon.process.pid, cpu)
    return Responder("charon", charon.process.pid, charon)
