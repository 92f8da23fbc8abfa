"""The steering program (ikesrv.net.steering) against its Python reference, without a
kernel: the interpreter runs the same instructions the kernel runs. DESIGN §4 lists the
cases; RFC 7296 §3.1 (I flag), RFC 2408 §3.1 (IKEv1 cookies), RFC 3948 §2 (NAT-T framing).
The kernel's own behaviour is checked in tests/system/test_steering_kernel.py."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.net import steering

V2, V1 = 0x20, 0x10
I_FLAG, R_FLAG = 0x08, 0x20


def header(spi_i: bytes, spi_r: bytes, version: int = V2, exchange: int = 35,
           flags: int = I_FLAG, length: int = 28) -> bytes:
    return spi_i + spi_r + bytes([46, version, exchange, flags]) + struct.pack("!II", 0, length)


def choose(payload: bytes, workers: int, natt: bool) -> int:
    return steering.interpret(steering.program(workers, natt), payload)


def framed(data: bytes, natt: bool) -> bytes:
    return bytes(4) + data if natt else data


@pytest.mark.parametrize("natt", [False, True])
@pytest.mark.parametrize("workers", [2, 3, 4, 7])
def test_our_responder_spi_picks_its_worker(natt, workers):
    for w in range(workers):
        spi_r = bytes([w]) + os.urandom(7)
        data = framed(header(os.urandom(8), spi_r), natt)
        assert choose(data, workers, natt) == w == steering.expected_worker(data, workers, natt)


@pytest.mark.parametrize("natt", [False, True])
def test_worker_zero_spi_is_not_mistaken_for_no_spi(natt):
    # worker 0's SPIs start with a zero byte; only an all-zero SPI means "none yet"
    spi_r = bytes(7) + b"\x01"
    data = framed(header(b"\x99" * 8, spi_r), natt)
    assert choose(data, 3, natt) == 0


@pytest.mark.parametrize("natt", [False, True])
def test_after_our_ike_rekey_the_initiator_spi_is_ours(natt):
    # §3.1: I flag clear = the sender is the responder of an SA we initiated
    for flags in (0, R_FLAG):
        data = framed(header(b"\x02" + os.urandom(7), b"\x01" + os.urandom(7), flags=flags), natt)
        assert choose(data, 3, natt) == 2


@pytest.mark.parametrize("natt", [False, True])
def test_ikev1_responder_cookie_is_always_ours(natt):
    # IKEv1 has no I flag: bit 0x08 of its flags means nothing to the program
    for flags in (0, 0x01, 0x08):
        data = framed(header(b"\x01" + os.urandom(7), b"\x02" + os.urandom(7), V1, 5, flags),
                      natt)
        assert choose(data, 3, natt) == 2


@pytest.mark.parametrize("natt", [False, True])
@pytest.mark.parametrize("version", [V1, V2])
def test_first_message_hashes_the_initiator_spi(natt, version):
    spi_i = os.urandom(8)
    data = framed(header(spi_i, bytes(8), version, 34), natt)
    expected = steering.fold_spi(spi_i, 4)
    assert choose(data, 4, natt) == expected == steering.expected_worker(data, 4, natt)
    # a retransmission or a COOKIE retry (same SPIi, other content) lands alike
    longer = framed(header(spi_i, bytes(8), version, 34) + os.urandom(300), natt)
    assert choose(longer, 4, natt) == expected


def test_first_messages_spread_over_workers():
    counts = [0, 0, 0]
    for _ in range(3000):
        counts[choose(header(os.urandom(8), bytes(8), exchange=34), 3, False)] += 1
    assert min(counts) > 800, counts


@pytest.mark.parametrize("natt", [False, True])
def test_short_datagrams_fall_back_to_the_kernel_hash(natt):
    # a NAT keepalive (one 0xFF byte) must not return 0: that would pin all of them to
    # worker 0; any value >= N hands the choice to the kernel's 4-tuple hash
    for data in (b"\xff", bytes(3), framed(header(os.urandom(8), os.urandom(8))[:27], natt)):
        assert choose(data, 3, natt) == 3
        assert steering.expected_worker(data, 3, natt) is None


def test_esp_in_udp_falls_back():
    esp = struct.pack("!II", 0x01020304, 1) + os.urandom(60)
    assert choose(esp, 2, True) == 2
    assert steering.expected_worker(esp, 2, True) is None


def test_an_spi_of_no_worker_falls_back():
    data = header(os.urandom(8), b"\x09" + os.urandom(7))
    assert choose(data, 2, False) == 9  # >= N: the kernel hashes instead
    assert steering.expected_worker(data, 2, False) is None


def test_worker_counts_out_of_range():
    with pytest.raises(ValueError):
        steering.program(0, False)
    with pytest.raises(ValueError):
        steering.program(257, False)
    steering.program(256, True)


def test_program_is_valid_classic_bpf():
    for natt in (False, True):
        prog = steering.program(5, natt)
        assert len(prog) < 64
        for pc, (op, jt, jf, k) in enumerate(prog):
            assert 0 <= jt < 256 and 0 <= jf < 256 and 0 <= k < 2**32
            if op & 0x07 == 0x05:  # BPF_JMP: forward, and inside the program
                assert pc + 1 + max(jt, jf) < len(prog)
        assert prog[-1][0] in (steering.RET_A, steering.RET_K)


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=80), workers=st.integers(1, 256), natt=st.booleans())
def test_program_equals_reference_on_any_bytes(data, workers, natt):
    got = choose(data, workers, natt)
    want = steering.expected_worker(data, workers, natt)
    if want is None:
        assert got >= workers
    else:
        assert got == want


@settings(max_examples=400, deadline=None)
@given(spi_i=st.binary(min_size=8, max_size=8), spi_r=st.binary(min_size=8, max_size=8),
       version=st.sampled_from([V1, V2, 0x21, 0x30]), flags=st.integers(0, 255),
       tail=st.binary(max_size=40), workers=st.integers(1, 16), natt=st.booleans())
def test_program_equals_reference_on_headers(spi_i, spi_r, version, flags, tail, workers, natt):
    data = framed(header(spi_i, spi_r, version, 35, flags) + tail, natt)
    got = choose(data, workers, natt)
    want = steering.expected_worker(data, workers, natt)
    assert got == want if want is not None else got >= workers
