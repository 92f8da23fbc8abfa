"""XFRM: µs per CHILD SA install (SPI, ESP states, policies), ikesrv's lean netlink path
against pyroute2's and against `ip xfrm` commands.

ikesrv encodes with the pyroute2 message classes' field layouts (ikesrv/kernel/xfrm_msg.py)
packed in one pass (netlink.Layout) and sends on a raw NETLINK_XFRM socket: one request
for the SPI, one batch for the rest (ikesrv/kernel/xfrm.py). pyroute2 has no high-level
XFRM API; its generic path is the same classes through ``encode()`` and
``NetlinkSocket.nlm_request`` per message, and the operators' path is one `ip xfrm`
process per message. Each is measured in the same run, in a private network namespace.

A kernel without ESP (this project's development machines) refuses ESP states, so there
the rows cover what it accepts, the SPI and the three policies, and say so; for the full
CHILD SA run it inside the ESP VM, whose User-Mode Linux syscalls cost far more than a
real kernel's (compare the ratios, not the µs):
    tests/harness/esp-vm.sh run -- .venv/bin/python -m bench xfrm

``python -m bench xfrm [--quick]`` (the kernel rows need root)
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import subprocess
import threading
import time

from bench.timing import header, ns_per_call, row
from ikesrv.actions import ChildSaSpec, SaKeys, TrafficSelectorSpec
from ikesrv.crypto.transforms import EncrId
from ikesrv.kernel import xfrm_codec as codec
from ikesrv.kernel import xfrm_msg as m
from ikesrv.kernel.netlink import Request
from ikesrv.kernel.xfrm import IKESRV_MARK, XfrmKernel

CLONE_NEWNET = 0x40000000
KEY = SaKeys(EncrId.ENCR_AES_GCM_16, bytes(range(36)))
VIP_BASE = int(ipaddress.ip_address("10.64.0.0"))


def child(i: int) -> ChildSaSpec:
    vip = ipaddress.ip_address(VIP_BASE + i)
    return ChildSaSpec(
        version=2, reqid=i + 1, local=("198.51.100.1", 4500), remote=("198.51.100.66", 20000),
        spi_in=0x0010_0000 + i, spi_out=0xC000_0000 + i, keys_in=KEY, keys_out=KEY,
        ts_local=(TrafficSelectorSpec(ipaddress.ip_address("192.0.2.0"),
                                      ipaddress.ip_address("192.0.2.127")),),
        ts_remote=(TrafficSelectorSpec(vip, vip),), encap=True, lifetime_soft=3400,
        lifetime_hard=3600)


# ------------------------------------------------------------------ encoding ----------


def ikesrv_bodies(s: ChildSaSpec) -> list[bytes]:
    out = [codec.allocspi_body(s, IKESRV_MARK), codec.sa_body(s, True, IKESRV_MARK),
           codec.sa_body(s, False, IKESRV_MARK)]
    t_out, t_in = codec.template(s, False), codec.template(s, True)
    out += [codec.policy_body(sel, d, t_in if inbound else t_out, IKESRV_MARK)
            for _l, sel, d, inbound in codec.policies(s)]
    return out


def pyroute2_messages(s: ChildSaSpec) -> list:
    """The same six messages built by field name with the pyroute2 classes."""
    lft = {f"{k}_limit": m.XFRM_INF for k in ("soft_byte", "hard_byte", "soft_packet",
                                               "hard_packet")}
    local, remote = codec.packed(s.local[0]), codec.packed(s.remote[0])
    mark = ("XFRMA_MARK", {"v": IKESRV_MARK.v, "m": IKESRV_MARK.m})
    spi = m.xfrm_userspi_info()
    spi.update(info_id_daddr=local, info_id_proto=50, info_saddr=remote, info_family=2,
               info_reqid=s.reqid, info_mode=1, min=s.spi_in, max=s.spi_in,
               **{f"info_lft_{k}": v for k, v in lft.items()})
    spi["attrs"] = [mark]
    out = [(m.XFRM_MSG_ALLOCSPI, spi)]
    for inbound in (True, False):
        sa = m.xfrm_usersa_info()
        src, dst = (s.remote, s.local) if inbound else (s.local, s.remote)
        sa.update(id_daddr=codec.packed(dst[0]), id_spi=s.spi_in if inbound else s.spi_out,
                  id_proto=50, saddr=codec.packed(src[0]), family=2, reqid=s.reqid, mode=1,
                  replay_window=32, lft_soft_add_expires_seconds=3400,
                  lft_hard_add_expires_seconds=3600, **{f"lft_{k}": v for k, v in lft.items()})
        sa["attrs"] = [("XFRMA_ALG_AEAD", {"alg_name": b"rfc4106(gcm(aes))", "alg_key_len": 288,
                                           "alg_icv_len": 128, "alg_key": KEY.encr_key}),
                       ("XFRMA_ENCAP", {"encap_type": 2, "encap_sport": src[1],
                                        "encap_dport": dst[1]}), mark]
        out.append((m.XFRM_MSG_UPDSA if inbound else m.XFRM_MSG_NEWSA, sa))
    for _label, sel, direction, inbound in codec.policies(s):
        pol = m.xfrm_userpolicy_info()
        names = ("sel_daddr", "sel_saddr", "sel_dport", "sel_dport_mask", "sel_sport",
                 "sel_sport_mask", "sel_family", "sel_prefixlen_d", "sel_prefixlen_s",
                 "sel_proto", "sel_ifindex", "sel_user")
        pol.update(dict(zip(names, sel, strict=True)), priority=codec.priority(sel), dir=direction,
                   **{f"lft_{k}": v for k, v in lft.items()})
        src, dst = (remote, local) if inbound else (local, remote)
        pol["attrs"] = [("XFRMA_TMPL", {"id_daddr": dst, "id_proto": 50, "family": 2,
                                        "saddr": src, "reqid": s.reqid, "mode": 1,
                                        "aalgos": 0xFFFFFFFF, "ealgos": 0xFFFFFFFF,
                                        "calgos": 0xFFFFFFFF}), mark]
        out.append((m.XFRM_MSG_NEWPOLICY, pol))
    return out


def pyroute2_encode(s: ChildSaSpec) -> None:
    for msg_type, msg in pyroute2_messages(s):
        msg["header"]["type"] = msg_type
        msg.encode()


# ------------------------------------------------------------------ kernel paths ------


def ip_commands(s: ChildSaSpec, esp: bool) -> list[list[str]]:
    vip = str(s.ts_remote[0].start)
    key = "0x" + KEY.encr_key.hex()
    mark = ["mark", "0", "mask", hex(IKESRV_MARK.m)]
    cmds = [["ip", "xfrm", "state", "allocspi", "src", s.remote[0], "dst", s.local[0], "proto",
             "esp", "reqid", str(s.reqid), "mode", "tunnel", *mark, "min", hex(s.spi_in),
             "max", hex(s.spi_in)]]
    if esp:
        for verb, src, dst, spi in (("update", s.remote, s.local, s.spi_in),
                                    ("add", s.local, s.remote, s.spi_out)):
            cmds.append(["ip", "xfrm", "state", verb, "src", src[0], "dst", dst[0], "proto", "esp",
                         "spi", hex(spi), "reqid", str(s.reqid), "mode", "tunnel",
                         "replay-window", "32", "aead", "rfc4106(gcm(aes))", key, "128",
                         "encap", "espinudp", str(src[1]), str(dst[1]), "0.0.0.0", *mark])
    for direction, src, dst, outer in (("out", "192.0.2.0/25", f"{vip}/32", (s.local, s.remote)),
                                       ("in", f"{vip}/32", "192.0.2.0/25", (s.remote, s.local)),
                                       ("fwd", f"{vip}/32", "192.0.2.0/25", (s.remote, s.local))):
        cmds.append(["ip", "xfrm", "policy", "add", "src", src, "dst", dst, "dir", direction,
                     *mark, "tmpl", "src", outer[0][0], "dst", outer[1][0], "proto", "esp",
                     "reqid", str(s.reqid), "mode", "tunnel"])
    return cmds


class KernelBench:
    """The per-CHILD-SA paths, run in a thread that has its own network namespace."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.kernel = XfrmKernel()
        self.esp = False
        self.base = 0

    def flush(self) -> None:
        subprocess.run(["ip", "xfrm", "state", "flush"], check=True)
        subprocess.run(["ip", "xfrm", "policy", "flush"], check=True)

    def specs(self, n: int) -> list[ChildSaSpec]:
        self.base += n
        return [child(self.base + i) for i in range(n)]

    def ikesrv(self, specs) -> None:
        if self.esp:
            for s in specs:
                result = self.kernel.install(s)
                if not result.ok:
                    raise RuntimeError(result.reason)
            return
        sock = self.kernel._socket()  # what install() sends, minus the refused states
        for s in specs:
            sock.request("allocspi", m.XFRM_MSG_ALLOCSPI, codec.allocspi_body(s, IKESRV_MARK))
            t_out, t_in = codec.template(s, False), codec.template(s, True)
            errors = sock.batch([codec_request(sel, d, t_in if inbound else t_out)
                                 for _l, sel, d, inbound in codec.policies(s)])
            if any(e for e, _ in errors):
                raise RuntimeError(errors)

    def pyroute2(self, specs) -> None:
        from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
        from pyroute2.netlink.nlsocket import NetlinkSocket
        sock = NetlinkSocket(family=m.NETLINK_XFRM)
        sock.bind()
        try:
            for s in specs:
                for msg_type, msg in pyroute2_messages(s):
                    if not self.esp and msg_type in (m.XFRM_MSG_UPDSA, m.XFRM_MSG_NEWSA):
                        continue
                    reply = sock.nlm_request(msg, msg_type=msg_type,
                                             msg_flags=NLM_F_REQUEST | NLM_F_ACK)
                    if reply is not None:
                        list(reply)
        finally:
            sock.close()

    def ip(self, specs) -> None:
        for s in specs:
            for cmd in ip_commands(s, self.esp):
                subprocess.run(cmd, check=True, capture_output=True)

    def per_sa(self, path, n: int) -> float:
        """Best of 3: µs per CHILD SA of ``path`` over ``n`` fresh CHILD SAs."""
        best = float("inf")
        for _ in range(2 if self.quick else 3):
            specs = self.specs(n)
            t0 = time.perf_counter_ns()
            path(specs)
            best = min(best, (time.perf_counter_ns() - t0) / n)
            self.flush()
        return best

    def run(self) -> list[str]:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            return [f"(kernel rows skipped: unshare(CLONE_NEWNET) failed, errno "
                    f"{ctypes.get_errno()}: they need root)"]
        line = self.kernel.start(lambda event: None)
        self.esp = bool(self.kernel.esp)
        what = "SPI + 2 ESP states + 3 policies" if self.esp else \
            "SPI + 3 policies (this kernel has no ESP: states refused, not counted)"
        n_fast, n_slow = (50, 10) if self.quick else (300, 40)
        ours = self.per_sa(self.ikesrv, n_fast)
        pyr = self.per_sa(self.pyroute2, n_slow)
        ip = self.per_sa(self.ip, n_slow)
        self.kernel.stop(remove_all=True)
        return [f"{line}", f"per CHILD SA: {what}",
                row("ikesrv vs pyroute2 nlm_request", ours, pyr),
                row("ikesrv vs `ip xfrm` commands", ours, ip)]


def codec_request(sel, direction, tmpl) -> Request:
    return Request("policy", m.XFRM_MSG_NEWPOLICY,
                   codec.policy_body(sel, direction, tmpl, IKESRV_MARK))


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    s = child(0)
    print(header("XFRM encoding: the 6 message bodies of one CHILD SA"))
    ours = ns_per_call(lambda: ikesrv_bodies(s), min_time=0.1 if quick else 0.3)
    ref = ns_per_call(lambda: pyroute2_encode(s), min_time=0.1 if quick else 0.3)
    print(row("ikesrv Layout vs pyroute2 encode()", ours, ref))
    if ikesrv_bodies(s) != _pyroute2_bodies(s):
        print("ERROR: ikesrv's bodies differ from pyroute2's encoding of the same messages")
        return 1
    print(header("XFRM install into the kernel (private network namespace)"))
    out: list[str] = []
    if os.geteuid() != 0:
        out = ["(kernel rows skipped: they need root)"]
    else:
        bench = KernelBench(quick)
        t = threading.Thread(target=lambda: out.extend(bench.run()))
        t.start()
        t.join()
    for line in out:
        print(line)
    return 0


def _pyroute2_bodies(s: ChildSaSpec) -> list[bytes]:
    bodies = []
    for msg_type, msg in pyroute2_messages(s):
        msg["header"]["type"] = msg_type
        msg.encode()
        bodies.append(bytes(msg.data[16:]))
    return bodies

