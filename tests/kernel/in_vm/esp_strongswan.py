"""Real ESP through ikesrv's XFRM backend, with a strongSwan client (kernel-netlink).

``ikesrv serve`` ([kernel] backend = "xfrm") runs in the gateway namespace, charon in
the client namespace, both on a kernel that has ESP (the User-Mode Linux guest that
tests/kernel/test_esp_vm.py boots: this module runs only there). The kernel's own view,
read with ``ip xfrm``, must show both ESP states of every CHILD SA with the negotiated
algorithms and ikesrv's mark, and the in/out/fwd policies between the client's virtual
IP and the protected net; a ping from the virtual IP crosses the tunnel, and tcpdump on
the gateway's link sees only ESP (or ESP in UDP 4500 through the NAT namespace); CHILD
SA rekeys swap the states under a running ping; a delete, and SIGTERM, leave nothing.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
import time

import pytest

from ikesrv.kernel import xfrm_codec as codec
from ikesrv.kernel import xfrm_msg as m
from ikesrv.kernel.netlink import XfrmSocket
from ikesrv.kernel.xfrm import IKESRV_MARK
from tests.harness import scenarios
from tests.harness.netns import GW_ADDR, GW_NAT_SIDE_ADDR, NAT_PUBLIC_ADDR
from tests.harness.proc import wait_until
from tests.harness.ikesrv_configs import gateway, psk_road_warrior
from tests.harness.strongswan import SwanctlConf

from .xfrm_view import Tcpdump, policies, states

if os.environ.get("IKESRV_IN_ESP_VM") != "1":
    pytest.skip("needs a kernel with ESP: tests/kernel/test_esp_vm.py runs this module "
                "inside the ESP VM", allow_module_level=True)

pytestmark = pytest.mark.root

MARK = str(IKESRV_MARK)
CONFIG = gateway(kernel="xfrm") + psk_road_warrior(
    proposals=("aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519"),
    esp_proposals=("aes256gcm16", "chacha20poly1305", "aes256-sha256", "aes128-sha384",
                   "aes256-sha512", "aes128gcm16-esn"))

# child name -> (protected host it reaches, client ESP proposal, what `ip xfrm state`
# must show for it: RFC 4106 / RFC 7634 keys carry their 32-bit salt; RFC 4868 §2.3
# truncates HMAC-SHA-256/384/512 to 128/192/256 bits)
CHILDREN = {
    "gcm": ("192.0.2.1", "aes256gcm16", r"aead rfc4106\(gcm\(aes\)\) 0x[0-9a-f]{72} 128"),
    "chacha": ("192.0.2.2", "chacha20poly1305",
               r"aead rfc7539esp\(chacha20,poly1305\) 0x[0-9a-f]{72} 128"),
    "sha256": ("192.0.2.3", "aes256-sha256",
               r"auth-trunc hmac\(sha256\) 0x[0-9a-f]{64} 128\n.*enc cbc\(aes\) 0x[0-9a-f]{64}"),
    "sha384": ("192.0.2.4", "aes128-sha384",
               r"auth-trunc hmac\(sha384\) 0x[0-9a-f]{96} 192\n.*enc cbc\(aes\) 0x[0-9a-f]{32}"),
    "sha512": ("192.0.2.5", "aes256-sha512",
               r"auth-trunc hmac\(sha512\) 0x[0-9a-f]{128} 256\n.*enc cbc\(aes\) 0x[0-9a-f]{64}"),
    "esn": ("192.0.2.6", "aes128gcm16-esn", r"aead rfc4106\(gcm\(aes\)\) 0x[0-9a-f]{40} 128"),
}


def client_conf(children: dict[str, tuple[str, str]], *, remote: str = GW_ADDR,
                **conn) -> SwanctlConf:
    conf = scenarios.psk_client("aes256gcm16-prfsha384-ecp384", "aes256gcm16", remote=remote,
                                **conn)
    conf.connections["gw"]["children"] = {
        name: {"remote_ts": f"{host}/32", "esp_proposals": esp}
        for name, (host, esp) in children.items()}
    return conf


def start(topology, ikesrv, extra: str = ""):
    return ikesrv(topology.gw, CONFIG + extra, {"rw.psk": scenarios.PSK + "\n"},
                  address=GW_ADDR, workers=1)


def ping(ns, source: str, dst: str, count: int = 3, interval: float = 0.2):
    return ns.run(["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2", "-I", source,
                   dst], timeout=count * interval + 10, check=False)


def delete_policy(src: str, dst: str, direction: int) -> None:
    """XFRM_MSG_DELPOLICY with ikesrv's mark, in the calling thread's namespace."""
    sel = codec.selector(ipaddress.ip_network(src), ipaddress.ip_network(dst), 0)
    sock = XfrmSocket()
    try:
        sock.request("delete the clash", m.XFRM_MSG_DELPOLICY,
                     codec.policy_id_body(sel, direction, IKESRV_MARK))
    finally:
        sock.close()


def ours(topology) -> tuple[list, list]:
    """The gateway's ESP states and its non-socket policies."""
    return states(topology.gw), [p for p in policies(topology.gw)
                                 if not p.dir.startswith("socket")]


def test_every_algorithm_carries_a_ping(topology, ikesrv, strongswan):
    for host, _esp, _ in CHILDREN.values():
        if host != "192.0.2.1":
            topology.gw.ip("addr", "add", f"{host}/32", "dev", "lo")
    server = start(topology, ikesrv)
    client = strongswan(topology.cl, "cl", client_conf(
        {n: (h, e) for n, (h, e, _) in CHILDREN.items()}), kernel="netlink")
    for name in CHILDREN:
        result = client.initiate(name, "gw", timeout=20)
        assert result.ok, result.log_text() + server.log_text()
    (sa,) = client.list_sas()
    (vip,) = sa.local_vips
    xstates, xpolicies = ours(topology)
    assert len(xstates) == 2 * len(CHILDREN), [s.lines for s in xstates]
    cap = Tcpdump(topology.gw, "gw-cl", "not udp port 500 and not udp port 4500",
                  topology.gw.cleanup)
    for name, (host, _esp, shows) in CHILDREN.items():
        child = sa.child(name)
        spi_in, spi_out = int(child.spi_in, 16), int(child.spi_out, 16)
        inbound = [s for s in xstates if s.spi == spi_out]  # the client's out is our in
        outbound = [s for s in xstates if s.spi == spi_in]
        assert len(inbound) == len(outbound) == 1, (name, [s.lines for s in xstates])
        (i,), (o,) = inbound, outbound
        assert (i.src, i.dst, o.src, o.dst) == (sa.local_host, GW_ADDR, GW_ADDR, sa.local_host)
        assert i.reqid == o.reqid and i.mode == o.mode == "tunnel"
        for s in (i, o):
            assert s.has(shows), (name, s.lines)
            assert s.has(MARK), s.lines
        if name == "esn":
            assert i.has(r"flag .*esn") and i.has(r"replay-window 0") \
                and i.has(r"anti-replay esn context"), i.lines
        else:
            assert i.has(r"replay-window 32"), i.lines
        # the policies of this CHILD SA: VIP/32 <-> the protected host, our reqid
        mine = [p for p in xpolicies if f"reqid {i.reqid} " in p.text + " "]
        assert sorted(p.dir for p in mine) == ["fwd", "in", "out"], [p.lines for p in mine]
        for p in mine:
            assert MARK in p.text and "proto esp" in p.text and "mode tunnel" in p.text
            pair = (p.src, p.dst) if p.dir == "out" else (p.dst, p.src)
            assert pair == (f"{host}/32", f"{vip}/32"), p.lines
        out = ping(topology.cl, vip, host)
        assert out.returncode == 0, (name, out.stdout, server.log_text())
    lines = cap.stop()
    esp = [line for line in lines if " ESP(spi=" in line]
    assert len(esp) >= 2 * 3 * len(CHILDREN), lines  # requests and replies, all in ESP
    # our replies leave only as ESP; the requests show twice, as ESP and as the copy the
    # kernel hands back to the interface after decapsulation (tunnel mode, RFC 4301 §5.2)
    assert not [line for line in lines if "ICMP echo reply" in line], lines
    seen = {int(spi, 16) for spi in re.findall(r"ESP\(spi=(0x[0-9a-f]+)", "\n".join(esp))}
    assert seen == {s.spi for s in xstates}, (seen, [hex(s.spi) for s in xstates])


def test_esp_in_udp_through_a_nat(topology, ikesrv, strongswan):
    server = start(topology, ikesrv)
    client = strongswan(topology.cl, "cl", client_conf({"net": ("192.0.2.1", "aes256gcm16")},
                                                      remote=GW_NAT_SIDE_ADDR), kernel="netlink")
    assert client.initiate("net", "gw", timeout=20).ok, server.log_text()
    (sa,) = client.list_sas()
    (vip,) = sa.local_vips
    assert sa.nat_local and sa.child("net").encap
    xstates, xpolicies = ours(topology)
    assert len(xstates) == 2 and len(xpolicies) == 3
    for s in xstates:
        assert s.has(r"encap type espinudp sport (4500 dport 2\d{4}|2\d{4} dport 4500)"), s.lines
        assert NAT_PUBLIC_ADDR in (s.src, s.dst)
    cap = Tcpdump(topology.gw, "gw-nat", "not port 500", topology.gw.cleanup)
    out = ping(topology.cl, vip, "192.0.2.1")
    lines = cap.stop()
    assert out.returncode == 0, out.stdout + server.log_text()
    encap = [line for line in lines if "UDP-encap" in line and "ESP(spi=" in line]
    assert len(encap) >= 6, lines
    assert all(re.search(rf"{NAT_PUBLIC_ADDR}\.2\d{{4}} > {GW_NAT_SIDE_ADDR}\.4500|"
                         rf"{GW_NAT_SIDE_ADDR}\.4500 > {NAT_PUBLIC_ADDR}\.2\d{{4}}", line)
               for line in encap), encap
    assert not [line for line in lines if "ICMP echo reply" in line], lines


def test_rekeys_swap_states_under_a_ping_then_delete_and_sigterm_leave_nothing(
        topology, ikesrv, strongswan):
    # ikesrv rekeys the CHILD SA itself every ~5 s (its soft lifetime, also the kernel's
    # soft expiry); the client rekeys once on demand in between
    server = start(topology, ikesrv, 'rekey = true\nchild_lifetime = "6s"\n')
    client = strongswan(topology.cl, "cl", client_conf({"net": ("192.0.2.1", "aes256gcm16")}),
                        kernel="netlink")
    assert client.initiate("net", "gw", timeout=20).ok, server.log_text()
    (sa,) = client.list_sas()
    (vip,) = sa.local_vips
    first = {s.spi for s in states(topology.gw)}
    result: dict = {}
    pinger = threading.Thread(target=lambda: result.update(
        out=ping(topology.cl, vip, "192.0.2.1", count=60, interval=0.2)))
    pinger.start()
    time.sleep(2.5)
    client.swanctl("--rekey", "--child", "net")
    pinger.join(30)
    out = result["out"]
    assert out.returncode == 0 and " 0% packet loss" in out.stdout, out.stdout
    log = server.log_text()
    assert "rekeyed to" in log and "(by the peer)" in log and "(by us)" in log, log
    # the kernel holds exactly the current CHILD SA, as the client sees it
    def settled() -> bool:
        (sa,) = client.list_sas()
        live = [c for c in sa.children if c.state == "INSTALLED"]
        now = {s.spi for s in states(topology.gw)}
        return len(live) == 1 and now == {int(live[0].spi_in, 16), int(live[0].spi_out, 16)}
    wait_until(settled, 10, "one CHILD SA in the kernel, the client's current one")
    assert not first & {s.spi for s in states(topology.gw)}
    assert len(ours(topology)[1]) == 3  # the policies stayed through the rekeys

    assert client.terminate(ike="gw", timeout=10).ok
    wait_until(lambda: ours(topology) == ([], []), 10, "states and policies removed")

    assert client.initiate("net", "gw", timeout=20).ok
    assert len(states(topology.gw)) == 2
    rc, took = server.stop()
    assert rc == 0 and took < 5, server.log_text()
    assert ours(topology) == ([], [])
    assert policies(topology.gw) == []  # the per-socket bypass policies went with the sockets
    assert "Traceback" not in server.log_text()


def test_a_failed_install_fails_that_child_only(topology, ikesrv, strongswan):
    # a clashing outbound policy (same selector, same mark) sits in the kernel before the
    # client's second CHILD SA: that install fails as a whole and is rolled back, the
    # client hears NO_PROPOSAL_CHOSEN, the IKE SA and the first CHILD SA carry on; once
    # the clash is gone the same CHILD SA installs (nothing of the failed try was left)
    server = start(topology, ikesrv)
    topology.gw.ip("addr", "add", "192.0.2.2/32", "dev", "lo")
    conf = client_conf({"net": ("192.0.2.1", "aes256gcm16"), "two": ("192.0.2.2", "aes256gcm16")})
    client = strongswan(topology.cl, "cl", conf, kernel="netlink")
    assert client.initiate("net", "gw", timeout=20).ok, server.log_text()
    (sa,) = client.list_sas()
    (vip,) = sa.local_vips
    clash = ["src", "192.0.2.2/32", "dst", f"{vip}/32", "dir", "out", "mark", "0", "mask",
             "0x100000"]
    topology.gw.ip("xfrm", "policy", "add", *clash)
    before = {s.spi for s in states(topology.gw)}
    result = client.initiate("two", "gw", timeout=20)
    assert not result.ok
    assert "NO_PROPOSAL_CHOSEN" in client.log_text()
    (sa,) = client.list_sas()
    assert sa.established
    log = server.log_text()
    assert re.search(r"could not be installed: XFRM_MSG_NEWPOLICY \(out, 192\.0\.2\.2/32 -> "
                     rf"{re.escape(vip)}/32, reqid 0x\d+\): EEXIST \(File exists\)", log), log
    assert {s.spi for s in states(topology.gw)} == before  # the rollback left no state
    assert len(ours(topology)[1]) == 3 + 1  # the first CHILD SA's and the clash
    assert ping(topology.cl, vip, "192.0.2.1").returncode == 0
    # (iproute2 leaves out a mark whose value is 0 when deleting: ikesrv's own message)
    topology.gw.call(delete_policy, "192.0.2.2/32", f"{vip}/32", m.XFRM_POLICY_OUT)
    assert client.initiate("two", "gw", timeout=20).ok, server.log_text()
    assert len(states(topology.gw)) == 4 and len(ours(topology)[1]) == 6
    assert ping(topology.cl, vip, "192.0.2.2").returncode == 0
