"""ikesrv's XFRM backend against itself on a kernel with ESP: two namespaces, each with
its own ``XfrmKernel``, install the two halves of the same CHILD SA and ping through it.

Every ESP algorithm of the transform table (with its key, salt and ICV/truncation
lengths), tunnel and transport mode, UDP encapsulation between two UDP_ENCAP_ESPINUDP
sockets, ESN with a 128-packet window; then the byte counters (against ``ip -s xfrm
state``), soft expiry by bytes and soft/hard expiry by time arriving as KernelEvents,
and stop(remove_all). Runs only inside the ESP VM (tests/kernel/test_esp_vm.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import socket
import time

import pytest

from ikesrv.actions import ChildSaSpec, SaKeys, TrafficSelectorSpec
from ikesrv.crypto.transforms import ENCR, INTEG, EncrId, IntegId
from ikesrv.kernel.xfrm import XfrmKernel
from tests.harness.cleanup import Cleanup
from tests.harness.netns import Namespace, unique_name
from tests.harness.proc import run, wait_until

from .xfrm_view import Tcpdump, policies, states

if os.environ.get("IKESRV_IN_ESP_VM") != "1":
    pytest.skip("needs a kernel with ESP: tests/kernel/test_esp_vm.py runs this module "
                "inside the ESP VM", allow_module_level=True)

pytestmark = pytest.mark.root

A_OUT, B_OUT = "198.51.100.1", "198.51.100.2"  # the ESP endpoints (a veth)
A_IN, B_IN = "192.0.2.1", "203.0.113.1"  # the protected hosts (on lo)


class Side:
    """One namespace with its backend and the KernelEvents it delivered."""

    def __init__(self, ns: Namespace):
        self.ns = ns
        self.events: list = []
        self.kernel: XfrmKernel = ns.call(self._start)

    def _start(self) -> XfrmKernel:
        k = XfrmKernel()
        self.line = k.start(self.events.append)
        return k

    def poll(self) -> list:
        self.kernel.poll_events()
        return self.events


@pytest.fixture(scope="module")
def pair():
    """Two namespaces and their backends, shared by the module's tests (each test
    removes what it installed)."""
    cleanup = Cleanup()
    try:
        yield from _pair(cleanup)
    finally:
        cleanup.close()


def _pair(cleanup: Cleanup):
    a = Namespace.create(unique_name("espa"), cleanup)
    b = Namespace.create(unique_name("espb"), cleanup)
    run(["ip", "link", "add", "va", "netns", a.name, "type", "veth", "peer", "name", "vb",
         "netns", b.name])
    for ns, dev, outer, inner, peer_outer, peer_inner in (
            (a, "va", A_OUT, A_IN, B_OUT, B_IN), (b, "vb", B_OUT, B_IN, A_OUT, A_IN)):
        ns.ip("addr", "add", f"{outer}/24", "dev", dev)
        ns.ip("link", "set", dev, "up")
        ns.ip("addr", "add", f"{inner}/32", "dev", "lo")
        ns.ip("route", "add", f"{peer_inner}/32", "via", peer_outer, "src", inner)
    sa, sb = Side(a), Side(b)
    yield sa, sb
    for s in (sa, sb):
        if s.kernel.requests is not None:
            s.kernel.stop(remove_all=True)


def ts(host: str) -> tuple[TrafficSelectorSpec, ...]:
    address = ipaddress.ip_address(host)
    return (TrafficSelectorSpec(address, address),)


def keys(encr_id: int, key_bits: int | None, integ_id: int = 0, seed: int = 1) -> SaKeys:
    encr = ENCR[encr_id]
    n = encr.keymat_len(key_bits)
    integ = INTEG[integ_id].key_len if integ_id else 0
    return SaKeys(encr_id, bytes((seed + i) % 256 for i in range(n)), integ_id,
                  bytes((seed * 7 + i) % 256 for i in range(integ)))


def halves(k_ab: SaKeys, k_ba: SaKeys, **kw) -> tuple[ChildSaSpec, ChildSaSpec]:
    """The CHILD SA as A and as B see it (B's inbound is A's outbound)."""
    port = 4500 if kw.get("encap") else 500
    a = ChildSaSpec(version=2, reqid=7, local=(A_OUT, port), remote=(B_OUT, port),
                    spi_in=0x00A0_0001, spi_out=0x00B0_0001, keys_in=k_ba, keys_out=k_ab,
                    ts_local=ts(A_IN if kw.get("mode") != "transport" else A_OUT),
                    ts_remote=ts(B_IN if kw.get("mode") != "transport" else B_OUT), **kw)
    b = dataclasses.replace(a, local=a.remote, remote=a.local, spi_in=a.spi_out,
                            spi_out=a.spi_in, keys_in=a.keys_out, keys_out=a.keys_in,
                            ts_local=a.ts_remote, ts_remote=a.ts_local)
    return a, b


@contextlib.contextmanager
def installed(*pairs):
    """Install (side, spec) pairs, remove them afterwards whatever happened."""
    done = []
    try:
        for side, spec in pairs:
            result = side.kernel.install(spec)
            assert result.ok, result.reason
            done.append((side, spec))
        yield
    finally:
        for side, spec in done:
            side.kernel.remove(spec, True)


def ping(ns: Namespace, src: str, dst: str, count: int = 2):
    return ns.run(["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", "-I", src, dst],
                  timeout=20, check=False)


# every ESP cipher the table hands to XFRM, with integrity where it needs one
ALGORITHMS = [
    ("aes128gcm8", EncrId.ENCR_AES_GCM_8, 128, 0),
    ("aes192gcm12", EncrId.ENCR_AES_GCM_12, 192, 0),
    ("aes256gcm16", EncrId.ENCR_AES_GCM_16, 256, 0),
    ("aes128ccm8", EncrId.ENCR_AES_CCM_8, 128, 0),
    ("aes192ccm12", EncrId.ENCR_AES_CCM_12, 192, 0),
    ("aes256ccm16", EncrId.ENCR_AES_CCM_16, 256, 0),
    ("chacha20poly1305", EncrId.ENCR_CHACHA20_POLY1305, None, 0),
    ("aes128ctr-sha256", EncrId.ENCR_AES_CTR, 128, IntegId.AUTH_HMAC_SHA2_256_128),
    ("aes256-sha256", EncrId.ENCR_AES_CBC, 256, IntegId.AUTH_HMAC_SHA2_256_128),
    ("aes192-sha384", EncrId.ENCR_AES_CBC, 192, IntegId.AUTH_HMAC_SHA2_384_192),
    ("aes256-sha512", EncrId.ENCR_AES_CBC, 256, IntegId.AUTH_HMAC_SHA2_512_256),
    ("aes128-aesxcbc", EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_AES_XCBC_96),
    ("aes128-aescmac", EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_AES_CMAC_96),
    ("aes128-sha1", EncrId.ENCR_AES_CBC, 128, IntegId.AUTH_HMAC_SHA1_96),
    ("3des-md5", EncrId.ENCR_3DES, 192, IntegId.AUTH_HMAC_MD5_96),
]


def test_the_table_covers_every_esp_algorithm():
    named = {(e, i) for _, e, _, i in ALGORITHMS}
    assert {e for e, _ in named} == {t.id for t in ENCR.values() if t.esp and t.xfrm}
    assert {i for _, i in named if i} == {t.id for t in INTEG.values() if t.esp and t.xfrm}


@pytest.mark.parametrize("name,encr,bits,integ", ALGORITHMS, ids=[a[0] for a in ALGORITHMS])
def test_each_algorithm_carries_a_ping(pair, name, encr, bits, integ):
    a, b = pair
    spec_a, spec_b = halves(keys(encr, bits, integ, 1), keys(encr, bits, integ, 2))
    with installed((a, spec_a), (b, spec_b)):
        out = ping(a.ns, A_IN, B_IN)
        assert out.returncode == 0, (name, out.stdout, [s.lines for s in states(a.ns)])
        (o,) = [s for s in states(a.ns) if s.spi == spec_a.spi_out]
        icv = ENCR[encr].icv_size or INTEG[integ].icv_len
        assert o.has(rf" {icv * 8}\b"), o.lines  # ICV / truncation bits, as iproute2 reads it
    assert states(a.ns) == [] and [p for p in policies(a.ns) if "socket" not in p.dir] == []


@pytest.mark.parametrize("variant", ["transport", "encap", "esn-window-128"])
def test_modes_encapsulation_and_esn(pair, cleanup, variant):
    a, b = pair
    kw: dict = {}
    if variant == "transport":
        kw = {"mode": "transport"}
    elif variant == "encap":
        kw = {"encap": True}
    else:
        kw = {"esn": True, "replay_window": 128}
    gcm = EncrId.ENCR_AES_GCM_16
    spec_a, spec_b = halves(keys(gcm, 128), keys(gcm, 128, 0, 9), **kw)
    if variant == "encap":  # each side's IKE socket on 4500 takes ESP-in-UDP off the wire
        for side, addr in ((a, A_OUT), (b, B_OUT)):
            sock = side.ns.call(socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((addr, 4500))
            side.kernel.bypass_socket(sock)
            cleanup.push("close the 4500 socket", sock.close)
    with installed((a, spec_a), (b, spec_b)):
        cap = Tcpdump(b.ns, "vb", "not arp and not icmp6", cleanup)
        src, dst = (A_OUT, B_OUT) if variant == "transport" else (A_IN, B_IN)
        out = ping(a.ns, src, dst, count=3)
        lines = cap.stop()
        assert out.returncode == 0, (variant, out.stdout)
        (o,) = [s for s in states(a.ns) if s.spi == spec_a.spi_out]
    if variant == "transport":
        assert o.mode == "transport" and len([x for x in lines if "ESP(spi=" in x]) >= 6
        assert not [x for x in lines if "ICMP echo reply" in x and "ESP" not in x], lines
    elif variant == "encap":
        assert o.has("encap type espinudp sport 4500 dport 4500"), o.lines
        assert len([x for x in lines if ".4500 > " in x and "UDP-encap" in x]) >= 6, lines
    else:
        assert o.has(r"flag .*esn") and o.has(r"replay_window 128"), o.lines


def test_counters_and_expiry_events(pair):
    a, b = pair
    a.events.clear()
    k = keys(EncrId.ENCR_AES_GCM_16, 128)
    # A: soft limit by bytes (a few packets cross it); C on the same pair: 2 s / 3 s
    spec_a, spec_b = halves(k, k, lifetime_soft_bytes=300, lifetime_hard_bytes=1 << 20)
    before = a.kernel.byte_counters()
    with installed((a, spec_a), (b, spec_b)):
        assert ping(a.ns, A_IN, B_IN, count=5).returncode == 0
        counters = a.kernel.byte_counters()
        listed = {s.spi: int(s.has(r"lifetime current:\n(\d+)\(bytes\)").group(1))
                  for s in states(a.ns, "-s")}
        assert counters == {"in": before["in"] + listed[spec_a.spi_in],
                            "out": before["out"] + listed[spec_a.spi_out]}
        assert listed[spec_a.spi_in] > 300 and listed[spec_a.spi_out] > 300
        wait_until(lambda: len(a.poll()) >= 2, 5, "soft expiry by bytes")
        soft = {(e.kind, e.spi, e.inbound, e.reqid) for e in a.events}
        assert soft == {("soft", spec_a.spi_in, True, 7), ("soft", spec_a.spi_out, False, 7)}
    a.events.clear()
    assert a.kernel.byte_counters() == counters  # removed SAs' bytes stay counted

    # The kernel checks lifetimes from a timer whose first run is a second after the add;
    # when a loaded guest runs it late past the hard limit too, only the hard expiry is
    # reported. Three seconds between soft and hard keep the two apart.
    spec_a2, spec_b2 = halves(k, k, lifetime_soft=1, lifetime_hard=4)
    spec_a2 = dataclasses.replace(spec_a2, reqid=8, spi_in=0x00A0_0002, spi_out=0x00B0_0002)
    try:
        assert a.kernel.install(spec_a2).ok
        t0 = time.monotonic()
        wait_until(lambda: len(a.poll()) >= 4, 12, "soft then hard expiry by time")
        elapsed = time.monotonic() - t0
        kinds = [(e.kind, e.inbound) for e in a.events]
        assert sorted(kinds[:2]) == [("soft", False), ("soft", True)], kinds
        assert sorted(kinds[2:]) == [("hard", False), ("hard", True)], kinds
        assert 3 < elapsed < 11
        assert [s for s in states(a.ns) if s.reqid == 8] == []  # the kernel removed them
    finally:
        # as the core does after a hard expiry (the states are gone already, the policies
        # go); on failure too, since what is left would collide with the next test's install
        a.kernel.remove(spec_a2, True)
    assert [p for p in policies(a.ns) if "socket" not in p.dir] == []


def test_stop_removes_everything_and_a_new_start_cleans_up(pair):
    a, b = pair
    k = keys(EncrId.ENCR_AES_GCM_16, 128)
    spec_a, _ = halves(k, k)
    assert a.kernel.install(spec_a).ok
    assert len(states(a.ns)) == 2
    # a second backend in the same namespace, as after a crash and restart: it removes
    # what the first left, and says so
    again = Side(a.ns)
    assert "removed 2 states and 3 policies left by a previous run" in again.line
    assert states(a.ns) == []
    assert again.kernel.install(spec_a).ok
    again.kernel.stop(remove_all=True)
    assert states(a.ns) == [] and [p for p in policies(a.ns) if "socket" not in p.dir] == []


class Timers:
    """The two loop methods the backend uses besides readers, run by hand."""

    def __init__(self):
        self.pending: list[list] = []

    def add_reader(self, fd, callback):
        pass

    def remove_reader(self, fd):
        pass

    def call_later(self, delay, callback, *args):
        entry = [delay, callback, args, False]
        self.pending.append(entry)

        class Handle:
            def cancel(self_inner):
                entry[3] = True
        return Handle()

    def fire(self) -> int:
        due = [e for e in self.pending if not e[3]]
        self.pending = []
        for _delay, callback, args, _cancelled in due:
            callback(*args)
        return len(due)


def test_a_rekey_by_the_peer_switches_outbound_when_the_old_sa_goes(pair):
    # A answers B's rekey: A's new inbound state is there at once, its new outbound
    # state waits until the old CHILD SA is removed (B installs its new inbound state
    # only when A's answer arrives), or until the fallback timer
    a, b = pair
    timers = Timers()
    k = keys(EncrId.ENCR_AES_GCM_16, 128)
    ours = XfrmKernel(loop=timers)
    a.ns.call(ours.start, lambda event: None)
    old_a, old_b = halves(k, k)
    spi = iter(range(0x00A0_0010, 0x00A0_0100))
    try:
        assert ours.install(old_a).ok and b.kernel.install(old_b).ok
        for switch in ("delete", "timer"):
            n = next(spi)
            new_a = dataclasses.replace(old_a, spi_in=n, spi_out=n | 0x00B0_0000,
                                        keys_in=keys(EncrId.ENCR_AES_GCM_16, 128, 0, n % 200),
                                        install_policies=False, defer_outbound=True)
            new_b = dataclasses.replace(old_b, spi_in=new_a.spi_out, spi_out=new_a.spi_in,
                                        keys_in=new_a.keys_out, keys_out=new_a.keys_in,
                                        install_policies=False)
            assert b.kernel.install(new_b).ok and ours.install(new_a).ok
            spis = {s.spi for s in states(a.ns)}
            assert new_a.spi_in in spis and new_a.spi_out not in spis and old_a.spi_out in spis
            assert [e[0] for e in timers.pending] == [2.0]
            assert ping(a.ns, A_IN, B_IN).returncode == 0  # A still sends on the old SA
            if switch == "delete":
                ours.remove(old_a, False)
                assert timers.fire() == 0  # the removal switched over and stopped the timer
            else:
                assert timers.fire() == 1
                ours.remove(old_a, False)
            b.kernel.remove(old_b, False)
            assert {s.spi for s in states(a.ns)} == {new_a.spi_in, new_a.spi_out}
            assert ping(a.ns, A_IN, B_IN).returncode == 0
            old_a, old_b = new_a, new_b
    finally:
        ours.remove(old_a, True)
        b.kernel.remove(old_b, True)
        ours.stop(remove_all=True)


def test_traffic_without_a_state_becomes_an_acquire_event(pair):
    # the states of a CHILD SA are gone, its policies not yet (the moment between a hard
    # expiry and the core's removal): outbound traffic makes the kernel ask for an SA
    a, b = pair
    a.events.clear()
    k = keys(EncrId.ENCR_AES_GCM_16, 128)
    spec_a, _ = halves(k, k)
    assert a.kernel.install(spec_a).ok
    a.kernel.remove(spec_a, remove_policies=False)
    assert ping(a.ns, A_IN, B_IN, count=1).returncode != 0  # held by the policy
    try:
        wait_until(lambda: a.poll(), 5, "an ACQUIRE from the kernel")
        assert [(e.kind, e.reqid, e.spi, e.inbound) for e in a.events][:1] == \
            [("acquire", 7, 0, False)]
    finally:
        a.kernel.remove(spec_a, remove_policies=True)
    # what stays is the kernel's own larval SA for the acquire (SPI 0: no request can
    # name it), which the kernel drops after net.core.xfrm_acq_expires seconds
    assert [(s.spi, s.reqid) for s in states(a.ns)] in ([], [(0, 7)]), \
        [s.lines for s in states(a.ns)]
