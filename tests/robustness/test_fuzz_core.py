"""Fuzzing the core's datagram entry in the suite (bench/fuzz_core.py runs longer):
a Core holding established IKEv2 and IKEv1 SAs gets mutated datagrams seeded from the
real captures (both versions) and from its own exchanges, on ports 500 and 4500. Only
actions may come out: any exception escaping the core is a bug (STYLE.md, h11's
doctrine), and the established SAs must still answer afterwards."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz_core
from bench.fuzz_codec import default_seeds


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    t = fuzz_core.Target(tmp_path_factory.mktemp("core-fuzz"))
    return t, fuzz_core.seeds(t)


def test_the_seeds_cover_both_versions_and_the_captures(target):
    _, seeds = target
    versions = {s[17] >> 4 for s in seeds if len(s) >= 28}
    assert versions == {1, 2}
    assert len(default_seeds()) > 100  # the captures are there, not only the samples


def test_mutated_datagrams_of_both_versions(target, caplog):
    caplog.set_level(logging.WARNING)
    t, seeds = target
    result = fuzz_core.run_mutate(t, count=20_000, seconds=None, seed=20261123,
                                  seed_messages=seeds, alive_every=5000)
    assert result.executions == 20_000
    assert not result.crashes, result.crashes[0][1]
    # the mutations reach far: parse errors, unknown SPIs, integrity checks of live SAs,
    # proposal selection and answers
    for outcome in ("malformed", "unknown_spi", "integrity", "answered"):
        assert result.outcomes[outcome] > 0, result.outcomes
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


# one mutation: (kind, position, value); positions wrap around the datagram's length
MUTATION = st.tuples(st.integers(0, 5), st.integers(0, 1 << 16), st.integers(0, 255))


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pick=st.integers(0, 1 << 30), mutations=st.lists(MUTATION, max_size=6),
       natt=st.booleans(), source=st.integers(0, len(fuzz_core.SOURCES) - 1))
def test_hypothesis_driven_datagrams(target, pick, mutations, natt, source):
    t, seeds = target
    data = bytearray(seeds[pick % len(seeds)])
    for kind, pos, value in mutations:
        at = pos % (len(data) + 1)
        if kind == 0 and data:
            data[at % len(data)] = value
        elif kind == 1:
            del data[at:]
        elif kind == 2:
            data[at:at] = bytes([value]) * (1 + pos % 9)
        elif kind == 3 and len(data) >= 28:
            data[24:28] = len(data).to_bytes(4, "big")  # consistent header: go deeper
        elif kind == 4 and len(data) > at + 2:
            data[at:at + 2] = (value * 257).to_bytes(2, "big")  # a length field
        elif kind == 5 and len(data) >= 16:
            data[8:16] = bytes(8)  # a first message again
    t.feed(bytes(data), 4500 if natt else 500, fuzz_core.SOURCES[source])
    if t.count % 300 == 0:  # the established SAs keep answering through it all
        assert t.check_alive() is None


def test_coverage_guided_fuzzing_with_atheris():
    """libFuzzer (atheris) over the instrumented ikesrv modules, a short bounded run."""
    pytest.importorskip("atheris", reason="atheris (the [fuzz] extra) is not installed")
    result = fuzz_core.run_atheris(count=15_000, seconds=30, seed=20261124)
    assert result.executions >= 1000, result.crashes
    assert not result.crashes, result.crashes[0][1][-3000:]
    assert result.outcomes["coverage_edges"] > 500
