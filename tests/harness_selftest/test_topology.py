"""The namespace topology: both paths carry traffic, the NAT rewrites address and port,
and everything is gone after cleanup."""

from __future__ import annotations

import os
import socket

import pytest

from tests.harness import netns, policy
from tests.harness.cleanup import Cleanup
from tests.harness.netns import Topology

pytestmark = pytest.mark.root


def _udp_through(topo: Topology, dst: str) -> tuple[str, int]:
    """Send one datagram from cl (source port 500) to gw's ``dst``:500; the source
    address and port gw saw."""
    server = topo.gw.socket()
    client = topo.cl.socket()
    try:
        server.bind((dst, 500))
        server.settimeout(5)
        client.bind(("0.0.0.0", 500))
        client.sendto(b"probe", (dst, 500))
        data, peer = server.recvfrom(100)
        assert data == b"probe"
        return peer
    finally:
        server.close()
        client.close()


def test_topology_paths_nat_and_cleanup():
    policy.require_binary("iptables", "iptables")
    with Cleanup() as cleanup:
        topo = Topology.build(cleanup)
        names = [topo.cl.name, topo.gw.name, topo.nat.name]
        pid = os.getpid()
        assert all(n.startswith(f"ikt{pid}-") for n in names)
        assert topo.cl.ping(netns.GW_ADDR)  # direct path
        assert topo.gw.ping(netns.CL_ADDR)
        assert topo.cl.ping(netns.GW_NAT_SIDE_ADDR)  # through the NAT namespace
        assert not topo.cl.ping(netns.PROTECTED_HOST, timeout=0.5)  # only through a tunnel
        # direct: gw sees the client as it is
        assert _udp_through(topo, netns.GW_ADDR) == (netns.CL_ADDR, 500)
        # NAT path: gw sees the NAT's public address and a remapped source port
        addr, port = _udp_through(topo, netns.GW_NAT_SIDE_ADDR)
        assert addr == netns.NAT_PUBLIC_ADDR
        assert netns.NAT_PORT_RANGE[0] <= port <= netns.NAT_PORT_RANGE[1]
        assert topo.gw.tcp_listening(1) is False
    assert not any(os.path.exists(f"/run/netns/{n}") for n in names)


def test_two_topologies_side_by_side(topology, cleanup):
    other = Topology.build(cleanup, nat=False)
    assert other.nat is None
    assert topology.gw.name != other.gw.name
    # same interface names and addresses in both, no clash
    assert topology.cl.ping(netns.GW_ADDR) and other.cl.ping(netns.GW_ADDR)


def test_namespace_call_and_spawn(topology, cleanup):
    sock = topology.gw.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((netns.GW_ADDR, 4500))
        topology.gw.wait_udp(4500, netns.GW_ADDR, timeout=1)
        assert not topology.cl.udp_bound(4500)
    finally:
        sock.close()
    log = cleanup.mkdtemp("spawn") / "sleep.log"
    proc = topology.gw.spawn(["sleep", "30"], name="sleeper", log_path=log)
    assert proc.alive()
    assert proc.stop(timeout=2) is not None
    assert not proc.alive()


def test_stale_sweep_removes_only_dead_owners(cleanup):
    policy.require_root()
    # a namespace named as if made by a process that no longer exists
    dead = 2**22 + 12345  # above the default pid_max: never a live process here
    stale = f"{netns.PREFIX}{dead}-1-gw"
    live = netns.Namespace.create(netns.unique_name("gw"), cleanup)
    netns.run(["ip", "netns", "add", stale], timeout=10)
    cleanup.push("delete stale test netns", lambda: netns.Namespace(stale).delete())
    removed = netns.sweep_stale()
    assert stale in removed
    assert live.exists()
