"""``ikesrv serve`` with the XFRM backend on this machine's kernel, which has XFRM but
no ESP, against a strongSwan client (kernel-libipsec: ESP in user space, so the client
side needs no kernel ESP).

ikesrv must say once at start that ESP is missing; reserve the CHILD SA's SPI and add
its in/out/fwd policies (read back from the kernel's own notifications with ``ip xfrm
monitor``: VIP/32 <-> the protected net, ikesrv's mark, the template with the reqid);
then fail the ESP states, roll everything back and refuse the CHILD SA with
NO_PROPOSAL_CHOSEN while the IKE SA stays; remove what a previous run left at start,
and everything of its own at SIGTERM.
"""

from __future__ import annotations

import re

import pytest

from ikesrv.kernel.xfrm import IKESRV_MARK
from tests.harness import scenarios
from tests.harness.ikesrv_configs import gateway, psk_road_warrior
from tests.harness.netns import GW_ADDR, PROTECTED_NET
from tests.harness.proc import wait_until

pytestmark = pytest.mark.root

MARK = str(IKESRV_MARK)
CONFIG = gateway(kernel="xfrm") + psk_road_warrior(
    proposals=("aes256gcm16-prfsha384-ecp384",), esp_proposals=("aes256gcm16",))


def kernel_has_esp(ns) -> bool:
    """Whether this kernel installs an ESP state at all (iproute2's own attempt)."""
    args = ["xfrm", "state", "add", "src", "198.51.100.250", "dst", "198.51.100.251",
            "proto", "esp", "spi", "0x100", "mode", "tunnel", "enc", "cbc(aes)", "0x" + "00" * 16,
            "auth-trunc", "hmac(sha256)", "0x" + "00" * 32, "128"]
    ok = ns.run(["ip", *args], timeout=10, check=False).returncode == 0
    if ok:
        ns.ip("xfrm", "state", "flush")
    return ok


def blocks(text: str) -> list[str]:
    """The records ``ip xfrm monitor`` printed, one string each."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(("src ", "Deleted src ")):
            out.append(line)
        elif out and line.startswith(("\t", " ")):
            out[-1] += "\n" + line.strip()
    return out


def test_without_esp_a_child_sa_fails_cleanly_and_nothing_is_left(topology, ikesrv, strongswan):
    gw = topology.gw
    if kernel_has_esp(gw):
        pytest.skip("this kernel has ESP: tests/kernel/test_esp_vm.py covers real installs")
    # left by a previous run: a policy with ikesrv's mark (reqid 0: worker 0's)
    gw.ip("xfrm", "policy", "add", "src", PROTECTED_NET, "dst", "192.0.2.250/32", "dir", "out",
          "mark", "0", "mask", "0x100000")
    monitor_log = gw.cleanup.mkdtemp("monitor") / "xfrm-monitor.txt"
    gw.spawn(["ip", "xfrm", "monitor"], name="xfrm-monitor", log_path=monitor_log)
    server = ikesrv(gw, CONFIG, {"rw.psk": scenarios.PSK + "\n"}, address=GW_ADDR, workers=1)
    server.wait_log("kernel backend xfrm")
    log = server.log_text()
    assert log.count("kernel backend xfrm: this kernel has XFRM but NO ESP (XFRM_MSG_NEWSA "
                     "(probe cbc(aes)+hmac(sha256)): EPROTONOSUPPORT (Protocol not supported)"
                     ) == 1, log
    assert f"{MARK} on every state and policy" in log
    assert "removed 0 states and 1 policies left by a previous run" in log
    socket_policies = [p for p in blocks(gw.ip("xfrm", "policy")) if "socket" in p]
    assert len(socket_policies) == 8  # in and out on the four IKE sockets
    assert blocks(gw.ip("xfrm", "policy")) == socket_policies

    client = strongswan(topology.cl, "cl", scenarios.psk_client(
        "aes256gcm16-prfsha384-ecp384", "aes256gcm16"))
    result = client.initiate("net", "gw", timeout=20)
    assert not result.ok
    assert "NO_PROPOSAL_CHOSEN" in client.log_text()
    (sa,) = client.list_sas()
    assert sa.established and sa.children == []
    (vip,) = sa.local_vips
    (ours,) = server.sas()
    assert ours["state"] == "established" and ours["child_sas"] == []
    log = server.log_text()
    m = re.search(r"CHILD SA ([0-9a-f]{8})_i with '[^']+' could not be installed: "
                  r"XFRM_MSG_UPDSA \(in, SPI \1, rfc4106\(gcm\(aes\)\), espinudp\): "
                  r"ENOSYS \(Function not implemented\): Requested AEAD algorithm not found", log)
    assert m, log
    spi_in = m.group(1)

    # while the install ran, the kernel had the SPI reserved and the three policies
    def seen() -> list[str]:
        return blocks(monitor_log.read_text(errors="replace"))
    wait_until(lambda: len([b for b in seen() if b.startswith("Deleted")]) >= 4, 10,
               "the rollback in ip xfrm monitor")
    records = seen()
    added = [b for b in records if b.startswith("src ")]
    deleted = [b for b in records if b.startswith("Deleted ")]
    expected = {"out": f"src {PROTECTED_NET} dst {vip}/32",
                "in": f"src {vip}/32 dst {PROTECTED_NET}",
                "fwd": f"src {vip}/32 dst {PROTECTED_NET}"}
    for direction, selector in expected.items():
        (pol,) = [b for b in added if f"dir {direction} " in b]
        assert pol.startswith(selector) and MARK in pol, pol
        tmpl = (f"tmpl src {GW_ADDR} dst {topology.cl_addr}" if direction == "out"
                else f"tmpl src {topology.cl_addr} dst {GW_ADDR}")
        assert tmpl in pol and re.search(r"proto esp reqid \d+ mode tunnel", pol), pol
        assert [b for b in deleted if f"dir {direction} " in b and selector in b], deleted
    (larval,) = [b for b in deleted if f"spi 0x{spi_in}" in b]
    assert larval.startswith(f"Deleted src {topology.cl_addr} dst {GW_ADDR}")
    assert "proto esp" in larval and MARK in larval
    # and nothing of it is left
    assert gw.ip("xfrm", "state").strip() == ""
    assert blocks(gw.ip("xfrm", "policy")) == socket_policies

    assert client.terminate(ike="gw", timeout=10).ok
    wait_until(lambda: server.sas() == [], 10, "the IKE SA gone from ikesrv")
    assert gw.ip("xfrm", "state").strip() == ""
    # SIGTERM removes whatever carries ikesrv's mark in this worker's range
    gw.ip("xfrm", "policy", "add", "src", PROTECTED_NET, "dst", "192.0.2.251/32", "dir", "out",
          "mark", "0", "mask", "0x100000")
    rc, took = server.stop()
    assert rc == 0 and took < 5, server.log_text()
    assert "removed 0 states and 1 policies at shutdown" in server.log_text()
    assert gw.ip("xfrm", "policy").strip() == "" and gw.ip("xfrm", "state").strip() == ""
    assert "Traceback" not in server.log_text()


def test_a_second_instance_with_its_own_mark_leaves_the_others_entries(topology, ikesrv,
                                                                      strongswan):
    """``[kernel] mark``: two ikesrv on one host, each with its own mark bit, never remove
    each other's entries, at start or at SIGTERM."""
    gw = topology.gw
    own = "mark 0/0x200000"
    # another instance's policy (the default mark), and one a previous run of this one left
    gw.ip("xfrm", "policy", "add", "src", PROTECTED_NET, "dst", "192.0.2.240/32", "dir", "out",
          "mark", "0", "mask", "0x100000")
    gw.ip("xfrm", "policy", "add", "src", PROTECTED_NET, "dst", "192.0.2.241/32", "dir", "out",
          "mark", "0", "mask", "0x200000")
    monitor_log = gw.cleanup.mkdtemp("monitor") / "xfrm-monitor.txt"
    gw.spawn(["ip", "xfrm", "monitor"], name="xfrm-monitor", log_path=monitor_log)
    config = CONFIG.replace('backend = "xfrm"', 'backend = "xfrm"\nmark = "0/0x200000"')
    server = ikesrv(gw, config, {"rw.psk": scenarios.PSK + "\n"}, address=GW_ADDR, workers=1)
    server.wait_log("kernel backend xfrm")
    log = server.log_text()
    assert f"{own} on every state and policy" in log
    assert "removed 0 states and 1 policies left by a previous run" in log

    def others() -> list[str]:
        return [b for b in blocks(gw.ip("xfrm", "policy")) if "socket" not in b]
    (left,) = others()
    assert "dst 192.0.2.240/32" in left and MARK in left

    client = strongswan(topology.cl, "cl", scenarios.psk_client(
        "aes256gcm16-prfsha384-ecp384", "aes256gcm16"))
    client.initiate("net", "gw", timeout=20)  # the CHILD SA fails without ESP; its policies
    wait_until(lambda: len([b for b in blocks(monitor_log.read_text(errors="replace"))
                            if b.startswith("src ") and "dir fwd " in b]) >= 1, 10,
               "the CHILD SA's policies in ip xfrm monitor")
    added = [b for b in blocks(monitor_log.read_text(errors="replace"))
             if b.startswith("src ") and "socket" not in b and "192.0.2.24" not in b]
    assert len(added) >= 3 and all(own in b for b in added), added

    rc, _ = server.stop()
    assert rc == 0, server.log_text()
    (left,) = others()  # the other instance's policy outlives this one's shutdown
    assert "dst 192.0.2.240/32" in left and MARK in left
    assert gw.ip("xfrm", "state").strip() == ""
    assert "Traceback" not in server.log_text()
