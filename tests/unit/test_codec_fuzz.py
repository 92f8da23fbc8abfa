"""Bounded mutation fuzz of the codec: tens of thousands of mutated realistic messages
may only raise the codec's typed errors (with an offset inside the input), and whatever
decodes must survive encode -> decode unchanged. bench/fuzz_codec.py runs the same for
longer; the seeds are fixed so that a failure here reproduces."""

from __future__ import annotations

import random

from bench import fuzz_codec
from tests.unit import codec_samples as S


def _report(result):
    return "\n".join(f"{data.hex()}\n  {problem}" for data, problem in result.crashes[:5])


def test_compiled_codec_survives_mutated_messages():
    result = fuzz_codec.run(S.compiled_codec(), count=40_000, seed=20240501)
    assert result.executions == 40_000
    assert result.decoded > 10_000  # the mutations keep many messages decodable
    assert not result.crashes, _report(result)


def test_reference_codec_survives_mutated_messages():
    result = fuzz_codec.run(S.reference_codec(), count=10_000, seed=20240502)
    assert not result.crashes, _report(result)


def test_both_builds_agree_on_mutated_messages():
    compiled, reference = S.compiled_codec(), S.reference_codec()
    seeds = list(S.all_messages().values())
    rng = random.Random(20240503)
    for _ in range(5_000):
        data = fuzz_codec.mutate(rng, rng.choice(seeds), seeds)
        for name in ("v2_decode_message", "v1_decode_message"):
            assert S.outcome(getattr(compiled, name), data) == S.outcome(
                getattr(reference, name), data), data.hex()
        if len(data) >= 28:
            for name in ("v2_decode_payloads", "v1_decode_payloads"):
                args = (data[28:], data[16], 28)
                assert S.outcome(getattr(compiled, name), *args) == S.outcome(
                    getattr(reference, name), *args), data.hex()
