"""Network namespaces for tests: the client / gateway / NAT topology, and ways into them.

Owns: ``Namespace`` (run a command, start a daemon, or call Python code inside one
namespace; open a socket there), ``Topology`` (the shape below), the stale sweep
of our own leftover namespaces, and the addresses tests use. Names are unique per test
run (``ikt<pid>-<n>-<role>``) so that parallel or leftover runs never collide; the sweep
only deletes ``ikt`` namespaces whose creating process is gone.

Only documentation ranges, only inside these namespaces::

    cl (initiator)                            gw (responder)
    cl-gw  198.51.100.2/26 ------------------ gw-cl  198.51.100.1/26      direct path
    cl-nat 203.0.113.2/24                     gw-nat 198.51.100.65/26     NAT path
          \\-- nat-cl 203.0.113.1 [nat] nat-gw 198.51.100.66 --/
              MASQUERADE out of nat-gw, UDP source ports remapped to 20000-29999
    gw: 192.0.2.1/32 on lo (protected net 192.0.2.0/25), route to the VIP pool
        192.0.2.128/25 via gw-cl, route to cl's own net 198.51.100.192/26
    cl: 198.51.100.193/32 on lo (its own net 198.51.100.192/26, for net-to-net)

Addresses live on ``lo`` because the kernels this runs on may lack ``dummy`` links.

Imports only the standard library and tests.harness.{proc,cleanup}.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import re
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .cleanup import Cleanup
from .proc import HarnessError, Process, pid_alive, run, spawn, wait_until

PREFIX = "ikt"

# the topology's addresses (documentation ranges, RFC 5737)
CL_ADDR = "198.51.100.2"  # cl-gw, direct path
GW_ADDR = "198.51.100.1"  # gw-cl, direct path
GW_NAT_SIDE_ADDR = "198.51.100.65"  # gw-nat: where clients behind the NAT connect to
NAT_PUBLIC_ADDR = "198.51.100.66"  # nat-gw: the address the gateway sees NATed clients at
NAT_INSIDE_ADDR = "203.0.113.1"  # nat-cl: the client's NAT router
CL_NAT_SIDE_ADDR = "203.0.113.2"  # cl-nat: the client's private address behind the NAT
NAT_PORT_RANGE = (20000, 29999)  # UDP source ports after MASQUERADE
PROTECTED_NET = "192.0.2.0/25"
PROTECTED_HOST = "192.0.2.1"  # on gw's lo
VIP_POOL = "192.0.2.128/25"
FIRST_VIP = "192.0.2.129"  # what strongSwan hands out first from VIP_POOL
CL_NET = "198.51.100.192/26"
CL_HOST = "198.51.100.193"  # on cl's lo

_seq = itertools.count(1)
_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def unique_name(role: str) -> str:
    """A namespace name unique to this process and call: ``ikt<pid>-<n>-<role>``."""
    return f"{PREFIX}{os.getpid()}-{next(_seq)}-{role}"


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"], timeout=10).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def sweep_stale() -> list[str]:
    """Delete our own namespaces left by runs whose process is gone (a killed test run);
    processes still inside one (its leftover daemons) are killed by PID first."""
    removed = []
    for name in list_namespaces():
        m = re.match(rf"^{PREFIX}(\d+)-", name)
        if not m or pid_alive(int(m.group(1))):
            continue
        pids = run(["ip", "netns", "pids", name], timeout=10, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        run(["ip", "netns", "del", name], timeout=10, check=False)
        removed.append(name)
    return removed


class Namespace:
    """One network namespace made by the harness."""

    def __init__(self, name: str, cleanup: Cleanup | None = None):
        self.name = name
        self.cleanup = cleanup

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    @classmethod
    def create(cls, name: str, cleanup: Cleanup) -> Namespace:
        """``ip netns add`` with ``lo`` up; deletion registered in ``cleanup``."""
        run(["ip", "netns", "add", name], timeout=10)
        ns = cls(name, cleanup)
        cleanup.push(f"delete netns {name}", ns.delete)
        ns.ip("link", "set", "lo", "up")
        return ns

    def delete(self) -> None:
        if self.exists():
            run(["ip", "netns", "del", self.name], timeout=10)

    def exists(self) -> bool:
        return os.path.exists(f"/run/netns/{self.name}")

    # --- commands and daemons -------------------------------------------------------

    def ip(self, *args: str, check: bool = True) -> str:
        """``ip -n NS ARGS``; its stdout."""
        return run(["ip", "-n", self.name, *args], timeout=10, check=check).stdout

    def run(self, argv: Sequence[str], **kwargs: Any):
        """A command inside the namespace, bounded (see proc.run)."""
        return run(argv, netns=self.name, **kwargs)

    def spawn(
        self,
        argv: Sequence[str],
        *,
        name: str,
        log_path: str | os.PathLike,
        setup_shell: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        register: bool = True,
        stop_timeout: float = 5.0,
    ) -> Process:
        """Start a daemon inside the namespace; its stop (by PID) is registered in the
        namespace's cleanup unless ``register`` is False."""
        proc = spawn(
            argv,
            name=name,
            log_path=log_path,
            netns=self.name,
            setup_shell=setup_shell,
            env=env,
            cwd=cwd,
        )
        if register and self.cleanup is not None:
            self.cleanup.push(f"stop {name} (pid {proc.pid})", lambda: proc.stop(stop_timeout))
            self.cleanup.add_log(f"{name} output", log_path)
        return proc

    # --- Python code inside the namespace -------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 30.0, **kwargs: Any):
        """Run ``fn(*args, **kwargs)`` in a fresh thread that has joined this network
        namespace (setns applies to the calling thread only), and return its result.
        Sockets it creates stay in the namespace after it returns."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, _CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({self.name}): {os.strerror(err)}")
                finally:
                    os.close(fd)
                box["value"] = fn(*args, **kwargs)
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        t = threading.Thread(target=target, name=f"netns-{self.name}", daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError(f"{getattr(fn, '__name__', fn)} in {self.name}: over {timeout}s")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def socket(
        self, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM, proto: int = 0
    ) -> socket.socket:
        """A socket that lives in this namespace (usable from any thread)."""
        return self.call(socket.socket, family, type, proto)

    def _proc_net(self, table: str) -> list[tuple[str, int, str]]:
        def read() -> str:
            # thread-self: the table of this thread's namespace, not the process's
            with open(f"/proc/thread-self/net/{table}") as f:
                return f.read()

        rows = []
        for line in self.call(read).splitlines()[1:]:
            fields = line.split()
            addr_hex, port_hex = fields[1].split(":")
            if len(addr_hex) == 8:
                addr = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1])
            else:
                raw = bytes.fromhex(addr_hex)
                addr = socket.inet_ntop(
                    socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                )
            rows.append((addr, int(port_hex, 16), fields[3]))
        return rows

    def udp_bound(self, port: int, addr: str | None = None) -> bool:
        """True when some socket in the namespace is bound to UDP ``port`` (``addr``)."""
        rows = self._proc_net("udp") + self._proc_net("udp6")
        return any(p == port and (addr is None or a == addr) for a, p, _ in rows)

    def wait_udp(self, port: int, addr: str | None = None, timeout: float = 10.0) -> None:
        """Wait (bounded) until a daemon in the namespace has bound UDP ``port``: e.g. a
        responder under test on 500 and 4500 before a client initiates."""
        what = f"UDP {addr or '*'}:{port} bound in {self.name}"
        wait_until(lambda: self.udp_bound(port, addr), timeout, what)

    def tcp_listening(self, port: int) -> bool:
        rows = self._proc_net("tcp") + self._proc_net("tcp6")
        return any(p == port and st == "0A" for _, p, st in rows)  # 0A = LISTEN

    def ping(
        self, dst: str, *, count: int = 1, timeout: float = 2.0, source: str | None = None
    ) -> bool:
        """ICMP echo from inside the namespace; True when answered."""
        argv = ["ping", "-n", "-q", "-c", str(count), "-W", f"{timeout:g}"]
        if source:
            argv += ["-I", source]
        cp = self.run([*argv, dst], timeout=count * (timeout + 1) + 5, check=False)
        return cp.returncode == 0


class Topology:
    """Client, gateway and NAT namespaces wired as the module docstring shows.

    Attributes ``cl``, ``gw``, ``nat`` are Namespaces (``nat`` is None when built with
    ``nat=False``); the address constants of this module apply."""

    cl_addr = CL_ADDR
    gw_addr = GW_ADDR
    gw_nat_side_addr = GW_NAT_SIDE_ADDR
    nat_public_addr = NAT_PUBLIC_ADDR
    cl_nat_side_addr = CL_NAT_SIDE_ADDR
    protected_net = PROTECTED_NET
    protected_host = PROTECTED_HOST
    vip_pool = VIP_POOL
    cl_net = CL_NET
    cl_host = CL_HOST

    def __init__(self, cl: Namespace, gw: Namespace, nat: Namespace | None):
        self.cl = cl
        self.gw = gw
        self.nat = nat

    def __repr__(self) -> str:
        return f"<Topology cl={self.cl.name} gw={self.gw.name} nat={self.nat and self.nat.name}>"

    @classmethod
    def build(cls, cleanup: Cleanup, *, nat: bool = True) -> Topology:
        """Create the namespaces and links; their removal is registered in ``cleanup``."""
        sweep_stale()
        gw = Namespace.create(unique_name("gw"), cleanup)
        cl = Namespace.create(unique_name("cl"), cleanup)
        nat_ns = Namespace.create(unique_name("nat"), cleanup) if nat else None
        try:
            _wire(cl, gw, nat_ns)
        except HarnessError:
            cleanup.close()
            raise
        return cls(cl, gw, nat_ns)


def _veth(a: Namespace, a_if: str, b: Namespace, b_if: str) -> None:
    # created directly inside both namespaces: the names never meet the host's or
    # another topology's interfaces
    run(
        [
            "ip",
            "link",
            "add",
            a_if,
            "netns",
            a.name,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b.name,
        ],
        timeout=10,
    )


def _wire(cl: Namespace, gw: Namespace, nat: Namespace | None) -> None:
    # direct path
    _veth(gw, "gw-cl", cl, "cl-gw")
    gw.ip("addr", "add", f"{GW_ADDR}/26", "dev", "gw-cl")
    cl.ip("addr", "add", f"{CL_ADDR}/26", "dev", "cl-gw")
    gw.ip("link", "set", "gw-cl", "up")
    cl.ip("link", "set", "cl-gw", "up")
    # protected net behind the gateway, the way back to the VIP pool and to cl's net
    gw.ip("addr", "add", f"{PROTECTED_HOST}/32", "dev", "lo")
    gw.ip("route", "add", VIP_POOL, "dev", "gw-cl")
    cl.ip("addr", "add", f"{CL_HOST}/32", "dev", "lo")
    gw.ip("route", "add", CL_NET, "via", CL_ADDR, "dev", "gw-cl")
    if nat is None:
        return
    _veth(gw, "gw-nat", nat, "nat-gw")
    _veth(cl, "cl-nat", nat, "nat-cl")
    gw.ip("addr", "add", f"{GW_NAT_SIDE_ADDR}/26", "dev", "gw-nat")
    nat.ip("addr", "add", f"{NAT_PUBLIC_ADDR}/26", "dev", "nat-gw")
    nat.ip("addr", "add", f"{NAT_INSIDE_ADDR}/24", "dev", "nat-cl")
    cl.ip("addr", "add", f"{CL_NAT_SIDE_ADDR}/24", "dev", "cl-nat")
    for ns, dev in ((gw, "gw-nat"), (nat, "nat-gw"), (nat, "nat-cl"), (cl, "cl-nat")):
        ns.ip("link", "set", dev, "up")
    cl.ip("route", "add", "198.51.100.64/26", "via", NAT_INSIDE_ADDR, "dev", "cl-nat")
    nat.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], timeout=10)
    # UDP source ports are remapped too, as a home router does: the responder sees
    # 198.51.100.66:2xxxx instead of :500/:4500 (NAT-T must float and keep the mapping)
    lo, hi = NAT_PORT_RANGE
    ipt = ["iptables", "-w", "5", "-t", "nat", "-A", "POSTROUTING", "-o", "nat-gw"]
    nat.run([*ipt, "-p", "udp", "-j", "MASQUERADE", "--to-ports", f"{lo}-{hi}"], timeout=15)
    nat.run([*ipt, "-j", "MASQUERADE"], timeout=15)
