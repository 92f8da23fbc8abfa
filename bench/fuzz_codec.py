"""Mutation fuzzing of the wire codec, bounded by a count and a time limit.

Seeds are the realistic messages of tests/unit/codec_samples.py and the IKE messages of
the real captures in tests/data/captures/ (strongSwan, libreswan, ike-scan; see that
directory's README.md), when they are there. Each round mutates a
seed (bit flips, interesting bytes and 16-bit lengths, truncation, insertion, deletion,
splicing, with the header Length often fixed up so that the walk goes deep) and feeds it
to both decoders and to both payload-chain decoders. A crash is anything but the
codec's typed errors (MalformedMessage, UnsupportedCriticalPayload, InvalidMajorVersion),
an error offset outside the input, or a decoded message that does not survive
encode -> decode unchanged.

    python -m bench.fuzz_codec [--count N] [--seconds S] [--seed N] [--reference]

Prints the executions and the crashes (hex of the input and what went wrong) and exits
1 if there was any. tests/unit/test_codec_fuzz.py runs a bounded part of it in the suite.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ikesrv.errors import InvalidMajorVersion, MalformedMessage, UnsupportedCriticalPayload

ALLOWED = (MalformedMessage, UnsupportedCriticalPayload, InvalidMajorVersion)
INTERESTING_8 = (0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFE, 0xFF)
INTERESTING_16 = (0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 40, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)


@dataclass
class FuzzResult:
    executions: int = 0
    decoded: int = 0
    crashes: list[tuple[bytes, str]] = field(default_factory=list)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """One to four random mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(9)
        pos = rng.randrange(len(buf) + 1)
        if choice == 0 and buf:
            buf[pos % len(buf)] ^= 1 << rng.randrange(8)
        elif choice == 1 and buf:
            buf[pos % len(buf)] = rng.choice(INTERESTING_8)
        elif choice == 2 and buf:
            buf[pos % len(buf)] = rng.randrange(256)
        elif choice == 3 and len(buf) >= 2:
            pos = min(pos, len(buf) - 2)
            value = rng.choice(INTERESTING_16 + (len(buf) - pos, rng.randrange(65536)))
            buf[pos:pos + 2] = (value & 0xFFFF).to_bytes(2, "big")
        elif choice == 4:
            del buf[pos:]
        elif choice == 5:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice == 6 and buf:
            del buf[pos:pos + rng.randint(1, 8)]
        elif choice == 7 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start:start + rng.randint(1, 16)]
        elif choice == 8:
            other = rng.choice(seeds)
            cut = rng.randrange(len(other) + 1)
            buf[pos:] = other[cut:]
    if len(buf) >= 28 and rng.random() < 0.6:
        buf[24:28] = len(buf).to_bytes(4, "big")  # keep the header consistent: go deeper
    return bytes(buf)


def _check_error(exc: BaseException, low: int, high: int) -> str | None:
    if not isinstance(exc, ALLOWED):
        return "".join(traceback.format_exception(exc)).strip()
    if not isinstance(exc.offset, int) or not low <= exc.offset <= high:
        return f"{type(exc).__name__} offset {exc.offset!r} outside {low}..{high}: {exc.reason}"
    return None


def check(codec: ModuleType, data: bytes) -> tuple[int, list[str]]:
    """Feed ``data`` to every decoder; return (how many decoded, problems)."""
    problems: list[str] = []
    decoded = 0
    n = len(data)
    calls = [
        ("v2_decode_message", codec.v2_decode_message, codec.v2_encode_message, (data,), 0),
        ("v1_decode_message", codec.v1_decode_message, codec.v1_encode_message, (data,), 0),
    ]
    if n >= 28:
        body = data[28:]
        calls += [
            ("v2_decode_payloads", codec.v2_decode_payloads, codec.v2_encode_payloads,
             (body, data[16], 28), 28),
            ("v1_decode_payloads", codec.v1_decode_payloads, codec.v1_encode_payloads,
             (body, data[16], 28), 28),
        ]
    for name, decode, encode, args, low in calls:
        try:
            result = decode(*args)
        except BaseException as exc:  # noqa: BLE001 - anything else is what we hunt
            problem = _check_error(exc, low, n)
            if problem:
                problems.append(f"{name}: {problem}")
            continue
        decoded += 1
        try:
            if name.endswith("message"):
                again = decode(encode(result))
                if again != result or encode(again) != encode(result):
                    problems.append(f"{name}: encode -> decode changed the message")
            else:
                first, chain = encode(result)
                if decode(chain, first) != result:
                    problems.append(f"{name}: encode -> decode changed the payloads")
        except BaseException as exc:  # noqa: BLE001
            problems.append(f"{name}: re-encoding failed: {exc!r}")
    return decoded, problems


def default_seeds() -> list[bytes]:
    """The sample messages, then every IKE message of the captures in tests/data/captures."""
    from ikesrv import pcap
    from tests.unit.codec_samples import all_messages

    seeds = list(all_messages().values())
    captures = Path(__file__).resolve().parents[1] / "tests" / "data" / "captures"
    for path in sorted(captures.glob("*.pcap*")):
        seeds.extend(d.data for d in pcap.read_ike(path.read_bytes()) if len(d.data) >= 28)
    return seeds


def run(codec: ModuleType, *, count: int, seconds: float | None = None, seed: int = 0,
        seeds: list[bytes] | None = None) -> FuzzResult:
    """Fuzz ``codec`` with up to ``count`` mutated messages, stopping after ``seconds``."""
    if seeds is None:
        seeds = default_seeds()
    rng = random.Random(seed)
    result = FuzzResult()
    deadline = None if seconds is None else time.monotonic() + seconds
    for i in range(count):
        if deadline is not None and i % 256 == 0 and time.monotonic() > deadline:
            break
        data = mutate(rng, rng.choice(seeds), seeds)
        decoded, problems = check(codec, data)
        result.executions += 1
        result.decoded += decoded
        for problem in problems:
            result.crashes.append((data, problem))
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_codec",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2_000_000, help="mutated messages at most")
    parser.add_argument("--seconds", type=float, default=300.0, help="time limit")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed")
    parser.add_argument("--reference", action="store_true", help="fuzz the uncompiled build")
    args = parser.parse_args(argv)
    if args.reference:
        from ikesrv.wire._reference import codec
    else:
        import ikesrv._fast.codec as codec
    started = time.monotonic()
    seeds = default_seeds()
    result = run(codec, count=args.count, seconds=args.seconds, seed=args.seed, seeds=seeds)
    elapsed = time.monotonic() - started
    print(f"codec fuzz ({'reference' if args.reference else 'compiled'}, seed {args.seed}, "
          f"{len(seeds)} seed messages): "
          f"{result.executions} executions in {elapsed:.1f} s, {result.decoded} decodes, "
          f"{len(result.crashes)} crashes")
    for data, problem in result.crashes[:20]:
        print(f"- {data.hex()}\n  {problem}")
    return 1 if result.crashes else 0


if __name__ == "__main__":
    sys.path.insert(0, "")
    raise SystemExit(main(sys.argv[1:]))
