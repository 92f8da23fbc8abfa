"""Fuzzing the core's datagram entry (IKEv2 and IKEv1), bounded by a count and a time.

The target is one worker's Core, as ``ikesrv serve`` runs it, that holds established
SAs of both versions (IKEv2 PSK; IKEv1 Main Mode PSK and Aggressive Mode + XAuth),
built in memory with the scripted initiators of tests/unit, with fixed randomness. Each
input is one datagram delivered to port 500 or 4500 from one of a few sources (the
clients' own addresses among them), then the core's actions are drained; every few
hundred inputs the clock moves on and the timers fire, so half-open SAs expire as they
would. A crash is any exception escaping the core (it may only turn peer input into
actions: h11's doctrine, STYLE.md), or an established SA that stops answering.

Seeds: every IKE message of the captures in tests/data/captures (strongSwan, libreswan,
ike-scan; both versions), the codec's sample messages, and every message of the
exchanges that built the target (so mutations reach decryption, integrity checks and
the exchange handlers of live SAs, not only the unknown-SPI path).

Two engines:
  --engine atheris   coverage-guided (libFuzzer through atheris, which instruments the
                     ikesrv Python modules); runs in a child process, whose libFuzzer
                     summary is read back. Needs `pip install atheris` (the [fuzz] extra).
  --engine mutate    random mutations (bench.fuzz_codec.mutate) of the seeds; no
                     dependency. The default when atheris is missing.

    python -m bench.fuzz_core [--engine E] [--count N] [--seconds S] [--seed N]

Prints the executions, the crashes (zero is the only good answer) and the outcome
counts, and exits 1 on any crash. tests/robustness/test_fuzz_core.py runs bounded parts
of it in the suite.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (("198.51.100.200", 500), ("203.0.113.5", 500), ("203.0.113.9", 4500),
           ("192.0.2.77", 500), ("198.51.100.10", 500))
TIMER_EVERY = 256  # inputs between clock steps
# The clock runs a second per TIMER_EVERY inputs; the SAs live ike_lifetime (8 h) and
# the scripted clients do not rekey phase 1, so the target is built afresh (the same
# SPIs and keys: the randomness is fixed) before an hour of its time has passed.
REBUILD_AFTER = 3600.0


@dataclass
class FuzzResult:
    executions: int = 0
    crashes: list[tuple[bytes, str]] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)  # invalid-message reasons, sends
    seconds: float = 0.0


class Target:
    """A Core with established IKEv2 and IKEv1 SAs, and the seed messages that made them."""

    def __init__(self, workdir: Path, seed: int = 1):
        self.workdir, self.seed = workdir, seed
        self.count = 0
        self.builds = 0
        self._build()

    def _build(self) -> None:
        workdir, seed = self.workdir, self.seed
        self.builds += 1
        from ikesrv.actions import SendDatagram
        from tests.unit import ikev1_pair as v1
        from tests.unit import ikev2_pair as v2
        from tests.unit.ikev2_pair import Pair

        self._send_type = SendDatagram
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rw.psk").write_bytes(v2.PSK + b"\n")
        # depth over admission: no COOKIE rounds and no token buckets in the way of the
        # exchange handlers (tests/robustness covers those); the limits stay bounded
        server = ("[server]\ncookie_threshold = 0\ncookie_threshold_per_ip = 0\n"
                  "rate_limit_per_ip = 0\nhalf_open_limit_per_ip = 0\n")
        text = (v1.BASE.replace("[server]\n", server, 1) + _v2_connection(v2.BASE_CONFIG)
                + v1.MAIN_PSK + v1.XAUTH_PSK)
        self.pair = pair = v1.Pair1(v1.make_config(workdir, base=text), seed=seed)
        recorded: list[bytes] = []
        pair.drop_to_server = lambda d: recorded.append(d) and False
        self.v2_client = Pair.client(pair, address=SOURCES[4], local_id="v2@example.test")
        pair.connect(self.v2_client)
        self.v1_site = pair.client(address=SOURCES[0], pfs=True,
                                   esp="aes256-sha256-modp2048",
                                   ts_local=[_net("198.51.100.192/26")],
                                   ts_remote=[_net("192.0.2.0/25")])
        pair.connect(self.v1_site)
        self.v1_rw = pair.client(local_id="group1@example.test", psk=v1.GROUP_PSK,
                                 xauth_user="alice", xauth_password=b"alice-Secret-1",
                                 want_vip=True, aggressive=True, address=SOURCES[1],
                                 ts_local=[_net("0.0.0.0/0")], ts_remote=[_net("192.0.2.0/25")])
        pair.connect(self.v1_rw)
        for c in (self.v2_client, self.v1_site, self.v1_rw):
            if c.state != "established":
                raise RuntimeError(f"fuzz target: a client did not connect: {c.failure}")
        pair.deliver(self.v2_client, self.v2_client.rekey_child(pair.now))
        pair.deliver(self.v2_client, self.v2_client.liveness(pair.now))
        pair.deliver(self.v1_site, self.v1_site.rekey_child(pair.now))
        pair.deliver(self.v1_site, self.v1_site.dpd(pair.now))
        pair.drop_to_server = None
        self.live_seeds = recorded + [d for sent in pair.sent_to.values() for d in sent]
        pair.sent_to.clear()
        self.epoch = pair.now

    def feed(self, data: bytes, port: int, source: tuple) -> str:
        """One datagram in, everything out; returns what came of it (for the figures).

        What the core sends to a client's address reaches that client, whose answers go
        back (its SAs' liveness checks and rekeys must be answered, or they would end);
        what it sends elsewhere goes nowhere."""
        pair = self.pair
        pair.core.datagram_received(data, ("192.0.2.1", port), source, pair.now)
        pair._run(pair._drain(self.v2_client))
        self.count += 1
        if self.count % TIMER_EVERY == 0:
            pair.advance(1.0, self.v2_client)
            if pair.now - self.epoch >= REBUILD_AFTER:
                self._build()
        outcome = "answered" if pair.sent_to else "silent"
        for e in pair.events:
            if type(e).__name__ == "InvalidMessage":
                outcome = e.reason
        for kept in (pair.events, pair.sent_to, pair.removed, pair.keepalives,
                     pair.auth_requests):
            kept.clear()
        return outcome

    def check_alive(self) -> str | None:
        """Whether the established SAs still answer (None) or what went wrong."""
        pair = self.pair
        v2c = self.v2_client
        pair.deliver(v2c, v2c.liveness(pair.now))
        if v2c.alive_at != pair.now:
            return "the IKEv2 SA stopped answering liveness checks"
        for c in (self.v1_site, self.v1_rw):
            if pair.sa_of(c) is None:
                return f"the IKEv1 SA of {c.local} is gone"
        return None


def _v2_connection(base_config: str) -> str:
    """The [connections.rw] table of the IKEv2 unit config (pools from the IKEv1 base)."""
    return base_config[base_config.index("[connections.rw]"):].replace(
        "[connections.rw]", "[connections.rw2]")


def _net(text: str):
    from ikesrv.ikev2 import traffic_selectors
    return traffic_selectors.network_spec(text)


def seeds(target: Target) -> list[bytes]:
    from bench.fuzz_codec import default_seeds
    return default_seeds() + target.live_seeds


def run_mutate(target: Target, *, count: int, seconds: float | None, seed: int,
               seed_messages: list[bytes] | None = None, alive_every: int = 5000) -> FuzzResult:
    """Random mutations of the seeds into the core."""
    from bench.fuzz_codec import mutate
    corpus = seed_messages if seed_messages is not None else seeds(target)
    rng = random.Random(seed)
    result = FuzzResult()
    started = time.monotonic()
    deadline = None if seconds is None else started + seconds
    for i in range(count):
        if deadline is not None and i % 256 == 0 and time.monotonic() > deadline:
            break
        data = mutate(rng, rng.choice(corpus), corpus) if rng.random() < 0.97 \
            else rng.choice(corpus)
        port = 4500 if rng.random() < 0.3 else 500
        source = rng.choice(SOURCES)
        try:
            result.outcomes[target.feed(data, port, source)] += 1
        except Exception:  # noqa: BLE001 - anything escaping the core is a crash
            result.crashes.append((data, traceback.format_exc()))
        result.executions += 1
        if alive_every and result.executions % alive_every == 0:
            problem = target.check_alive()
            if problem:
                result.crashes.append((b"", problem))
                break
    if not result.crashes:
        problem = target.check_alive()
        if problem:
            result.crashes.append((b"", problem))
    result.seconds = time.monotonic() - started
    return result


# ------------------------------------------------------------------ atheris -----------


def _atheris_child(corpus_dir: str, runs: int, seconds: int, seed: int) -> None:
    """Runs inside the child: libFuzzer drives TestOneInput until runs/time are spent."""
    import atheris
    with atheris.instrument_imports(include=["ikesrv"]):  # coverage of the Python modules
        for name in ("ikesrv.core", "ikesrv.ikev1.responder", "ikesrv.ikev2.responder"):
            importlib.import_module(name)
    target = Target(Path(corpus_dir).parent / "target")  # removed by the parent
    for i, data in enumerate(seeds(target)):
        (Path(corpus_dir) / f"seed-{i:05d}").write_bytes(bytes([i % 16]) + data)

    def one_input(data: bytes) -> None:
        if len(data) < 2:
            return
        port = 4500 if data[0] & 1 else 500
        target.feed(data[1:], port, SOURCES[(data[0] >> 1) % len(SOURCES)])
        if target.count % 20000 == 0:
            problem = target.check_alive()
            if problem:
                raise RuntimeError(problem)

    argv = [sys.argv[0], f"-runs={runs}", f"-max_total_time={seconds}", f"-seed={seed}",
            "-max_len=4096", "-print_final_stats=1", corpus_dir]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def run_atheris(*, count: int, seconds: float, seed: int,
                artifacts: str | None = None) -> FuzzResult:
    """libFuzzer in a child process (it exits the process when done); its summary parsed.
    Crashing inputs are kept in ``artifacts`` (a new directory when None), whose path the
    crash report names."""
    result = FuzzResult()
    crash_dir = artifacts or tempfile.mkdtemp(prefix="ikesrv-fuzz-crashes-")
    Path(crash_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ikesrv-fuzz-") as work:
        corpus = str(Path(work) / "corpus")
        Path(corpus).mkdir()
        argv = [sys.executable, "-m", "bench.fuzz_core", "--atheris-child", corpus,
                "--count", str(count), "--seconds", str(int(seconds)), "--seed", str(seed)]
        started = time.monotonic()
        cp = subprocess.run(argv, cwd=crash_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False,
                            timeout=seconds + 600, env={**os.environ, "PYTHONPATH": str(ROOT)})
        result.seconds = time.monotonic() - started
        output = cp.stdout  # libFuzzer's lines and a Python traceback, in order
        done = re.search(r"Done (\d+) runs in (\d+) second", output)
        stats = re.search(r"stat::number_of_executed_units: (\d+)", output)
        result.executions = int(done.group(1)) if done else int(stats.group(1)) if stats else 0
        coverage = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", output)
        if coverage:
            cov, ft, corp = coverage[-1]
            result.outcomes.update({"coverage_edges": int(cov), "features": int(ft),
                                    "corpus_units": int(corp)})
        crashes = list(Path(crash_dir).glob("crash-*")) + list(Path(crash_dir).glob("oom-*")) \
            + list(Path(crash_dir).glob("timeout-*"))
        where = output.find("Uncaught Python exception")
        report = output[where:where + 6000] if where >= 0 else output[-4000:]
        for path in crashes:
            result.crashes.append((path.read_bytes(), f"kept as {path}\n{report}"))
        if cp.returncode != 0 and not crashes:
            result.crashes.append((b"", f"fuzzer exited {cp.returncode}:\n{output[-4000:]}"))
    if not result.crashes and artifacts is None:
        shutil.rmtree(crash_dir, ignore_errors=True)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_core",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("atheris", "mutate"), default=None)
    parser.add_argument("--count", type=int, default=1_000_000, help="inputs at most")
    parser.add_argument("--seconds", type=float, default=300.0, help="time limit")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 2**31)
    parser.add_argument("--atheris-child", metavar="CORPUS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # the core's rate-limited lines: noise here
    if args.atheris_child:
        _atheris_child(args.atheris_child, args.count, int(args.seconds), args.seed)
        return 0
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "mutate"
    if engine == "atheris":
        result = run_atheris(count=args.count, seconds=args.seconds, seed=args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="ikesrv-fuzz-") as work:
            target = Target(Path(work))
            result = run_mutate(target, count=args.count, seconds=args.seconds,
                                seed=args.seed)
    rate = result.executions / result.seconds if result.seconds else 0.0
    print(f"core fuzz ({engine}, seed {args.seed}): {result.executions} executions in "
          f"{result.seconds:.1f} s ({rate:.0f}/s), {len(result.crashes)} crashes")
    if result.outcomes:
        print("  " + ", ".join(f"{k} {v}" for k, v in result.outcomes.most_common()))
    for data, problem in result.crashes[:10]:
        print(f"- {data.hex()}\n  {problem}")
    return 1 if result.crashes else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
