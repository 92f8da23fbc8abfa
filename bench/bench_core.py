"""The core's CPU per SA with no I/O at all, responder side and initiator side timed
apart: IKEv2 PSK, IKE_SA_INIT + IKE_AUTH (with the configuration payload's virtual IP
and the first CHILD SA); IKEv1 Main Mode PSK + Mode Config + Quick Mode (the same road
warrior in IKEv1's words).

One process: an ikesrv Core (kernel results answered at once, nothing installed) and
ikesrv.load.initiator clients handing each other bytes, as tests/unit/ikev2_pair.py does
but without its bookkeeping. Each client sends from its own UDP port (one address), as
the load generator's clients and NATed road warriors do. The SAs stay up, as they would
on a responder under load. Time is CPU time of this process (time.process_time_ns)
around each side's calls; the profile uses the profiler's default (wall) clock, whose
overhead is smaller.

The garbage collector is set as in a worker (ikesrv.gc_policy); ``--gc-default`` keeps
the interpreter's settings instead (what the figures were before the worker tuned it).

``python -m bench core [--quick] [--profile] [--gc-default]``: --profile adds a
cProfile/pstats summary of the responder's side (top 15 functions by own time; the
Cython modules show inside their Python callers; the collector is off while profiling,
so that its pauses do not land on whichever line allocated last). DESIGN §9's budget:
charon spends 0.41-0.55 ms per SA; the crypto no responder avoids is about 0.09 ms.
"""

from __future__ import annotations

import cProfile
import gc
import io
import ipaddress
import os
import pstats
import tempfile
import time
from pathlib import Path

from ikesrv import gc_policy
from ikesrv.actions import InstallChildSa, KernelResult, SendDatagram, TrafficSelectorSpec
from ikesrv.config import load_text
from ikesrv.core import Core
from ikesrv.crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ikesrv.identity import Identity
from ikesrv.load.initiator import ClientSettings, Ikev2Initiator
from ikesrv.load.initiator_v1 import ClientSettingsV1, Ikev1Initiator

SERVER = ("192.0.2.1", 500)
CLIENT = ("198.51.100.2", 40000)
PSK = b"bench-core-psk-0123456789abcdef"
ESP = "aes128-sha256"
CASES = [  # (label, IKE proposal, SAs, SAs with --quick, IKE version)
    ("x25519", "aes128-sha256-x25519", 2000, 300, 2),
    ("ecp256", "aes128-sha256-ecp256", 2000, 300, 2),
    ("modp2048", "aes128-sha256-modp2048", 400, 60, 2),
    ("ikev1 x25519", "aes128-sha256-x25519", 2000, 300, 1),
]

CONFIG = """
[server]
addresses = ["192.0.2.1"]
cookie_threshold = 0
cookie_threshold_per_ip = 0
half_open_limit = 100000
# one generator address sends everything: no per-source limits
half_open_limit_per_ip = 0
rate_limit_per_ip = 0
log_level = "warning"
[metrics]
enabled = false
[kernel]
backend = "none"
[pools.rw]
addresses = "198.18.0.0/16"
[connections.rw]
version = 2
local_id = "vpn.load.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes128-sha256-x25519", "aes128-sha256-ecp256", "aes128-sha256-modp2048"]
esp_proposals = ["aes128-sha256"]
pools = ["rw"]
local_ts = ["192.0.2.0/25"]
[connections.v1]
version = 1
local_id = "vpn.load.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes128-sha256-x25519"]
esp_proposals = ["aes128-sha256"]
pools = ["rw"]
local_ts = ["192.0.2.0/25"]
"""

KERNEL_OK = KernelResult(True, "")


def make_core() -> Core:
    directory = Path(tempfile.mkdtemp(prefix="ikb-core-"))
    (directory / "rw.psk").write_bytes(PSK + b"\n")
    os.chmod(directory / "rw.psk", 0o600)
    return Core(load_text(CONFIG, directory), rng=os.urandom)


def _client(version: int, i: int, ike: list, esp: list, dh_keys: dict, remote=CLIENT):
    """Client ``i`` as the load generator makes it (one DH key per group and process)."""
    local_id = Identity.parse(f"c{i}@core.load.test")
    if version == 1:
        any_ts = TrafficSelectorSpec(ipaddress.IPv4Address(0),
                                     ipaddress.IPv4Address("255.255.255.255"))
        settings = ClientSettingsV1(ike_proposals=ike, esp_proposals=esp, local_id=local_id,
                                    psk=PSK, want_vip=True, ts_local=[any_ts],
                                    ts_remote=[any_ts], dh_keys=dh_keys)
        return Ikev1Initiator(settings, os.urandom, remote, SERVER)
    settings = ClientSettings(ike_proposals=ike, esp_proposals=esp, local_id=local_id, psk=PSK,
                              dh_keys=dh_keys)
    return Ikev2Initiator(settings, os.urandom, remote, SERVER)


def run(proposal: str, n: int, profile: cProfile.Profile | None = None,
        version: int = 2) -> tuple[float, float]:
    """(responder µs/SA, initiator µs/SA) over ``n`` set-ups on a fresh core."""
    core = make_core()
    ike = [parse_ike_proposal(proposal, version)]
    esp = [parse_esp_proposal(ESP, version)]
    clock = time.process_time_ns
    responder_ns = initiator_ns = 0
    now = time.time()
    dh_keys: dict = {}
    for i in range(n):
        t = clock()
        # each client from its own port, as behind NATs or from the load generator
        remote = (CLIENT[0], 1024 + i % 60000)
        client = _client(version, i, ike, esp, dh_keys, remote)
        out = client.start(now)
        initiator_ns += clock() - t
        while out:
            t = clock()
            if profile is not None:
                profile.enable()
            replies = []
            for data in out:
                core.datagram_received(data, SERVER, remote, now)
                actions = core.actions()
                while actions:
                    more = []
                    for a in actions:
                        kind = type(a)
                        if kind is SendDatagram:
                            replies.append(a.data)
                        elif kind is InstallChildSa:
                            core.kernel_completed(a.request_id, KERNEL_OK, now)
                            more = core.actions()
                    actions = more
            if profile is not None:
                profile.disable()
            responder_ns += clock() - t
            t = clock()
            out = []
            for data in replies:
                out += client.receive(data, now)
            initiator_ns += clock() - t
        if client.state != "established" or client.child is None:
            raise RuntimeError(f"set-up {i} failed: {client.failure}")
    return responder_ns / n / 1e3, initiator_ns / n / 1e3


def _profiled(proposal: str, n: int, version: int) -> cProfile.Profile:
    profile = cProfile.Profile()
    enabled = gc.isenabled()
    gc.disable()
    try:
        run(proposal, n, profile, version)
    finally:
        if enabled:
            gc.enable()
    return profile


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    if "--gc-default" not in argv:
        gc_policy.tune()
    print("\n== core: CPU per PSK SA, no I/O (IKEv2: IKE_SA_INIT + IKE_AUTH with CP and the "
          "first CHILD SA; IKEv1: Main Mode, Mode Config, Quick Mode); collector "
          + ("at the interpreter's defaults" if "--gc-default" in argv
             else "as in a worker (ikesrv.gc_policy)"))
    print(f"{'proposal':<34} {'SAs':>6} {'responder':>12} {'initiator':>12} {'both':>12}")
    for label, proposal, full_n, quick_n, version in CASES:
        n = quick_n if quick else full_n
        run(proposal, 20, version=version)  # warm up: imports, caches, first-use allocations
        responder, initiator = run(proposal, n, version=version)
        name = f"{proposal} (IKEv{version})"
        print(f"{name:<34} {n:>6} {responder:>9.1f} µs {initiator:>9.1f} µs "
              f"{responder + initiator:>9.1f} µs")
    if "--profile" in argv:
        for label, proposal, full_n, quick_n, version in (CASES[0], CASES[-1]):
            n = quick_n if quick else full_n
            # the default (perf_counter) timer: a CPU-time timer costs a syscall per event
            profile = _profiled(proposal, n, version)
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("tottime").print_stats(15)
            total = stats.total_tt  # type: ignore[attr-defined]
            print(f"\n-- responder profile, {proposal} IKEv{version}, {n} SAs "
                  f"(profiled: {total / n * 1e6:.0f} µs/SA with the profiler's own overhead)")
            print(_trim(out.getvalue()))
    return 0


def _trim(text: str) -> str:
    """pstats' table without its preamble, paths shortened to the package."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return "\n".join(line.replace(root, "") for line in lines[start:] if line.strip())
