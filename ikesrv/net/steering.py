"""Steering IKE datagrams to the worker that owns their SA (DESIGN §4).

Owns: the SO_REUSEPORT groups the supervisor binds before forking (N sockets per
address and port, bound in worker order, because the kernel numbers a group's sockets
in bind order), the classic BPF program attached to each group
(SO_ATTACH_REUSEPORT_CBPF) that picks a socket from the IKE header, a reference
implementation of the same choice in Python, and a small interpreter of the program so
that tests check the program against the reference without a kernel.

The choice, per datagram (the program sees the UDP payload at offset 0; on the NAT-T
port the IKE header follows the 4-byte non-ESP marker, RFC 3948 §2.2):

- Too short for an IKE header (a NAT keepalive, RFC 3948 §2.3), or ESP-in-UDP (a
  non-zero first word on the NAT-T port): return N. Any value >= N makes the kernel fall
  back to its 4-tuple hash; returning 0 instead would send every keepalive to worker 0.
  The length is checked before any load because a load past the end aborts the
  program with 0, which is the same trap.
- The SPI that ikesrv chose carries the worker index in its top byte (Core.new_ike_spi).
  IKEv2 (RFC 7296 §3.1): when the I flag is set the sender is the original initiator and
  ours is the responder SPI; when it is clear the sender is the original responder,
  which only happens after ikesrv initiated an IKE SA rekey, and ours is the initiator
  SPI. IKEv1 (RFC 2408 §3.1): ikesrv never initiates phase 1, so the responder cookie
  is always ours (IKEv1 has no I flag).
- Our SPI still zero (IKE_SA_INIT or Main/Aggressive Mode first message, the COOKIE
  round): a hash of the initiator SPI modulo N, so that retransmissions and the cookie
  retry (same SPIi) reach the same worker, which then chooses an SPI with its own index.

Must not import the core: this is an edge that knows sockets and header offsets only.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .transport import bind_udp

SO_ATTACH_REUSEPORT_CBPF = getattr(socket, "SO_ATTACH_REUSEPORT_CBPF", 51)
SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_ENCAP = getattr(socket, "UDP_ENCAP", 100)
UDP_ENCAP_ESPINUDP = 2  # RFC 3948 framing: the kernel takes ESP, passes IKE up
MAX_WORKERS = 256  # the worker index is one byte of the SPI

IKE_HEADER = 28  # RFC 7296 §3.1 / RFC 2408 §3.1
NON_ESP_MARKER_LEN = 4

# Classic BPF opcodes (linux/bpf_common.h, linux/filter.h): class | size | mode | op | src
LD_W_LEN = 0x80  # A = skb->len (here: the UDP payload length)
LD_W_ABS = 0x20  # A = ntohl(*(u32 *)(pkt + k))
LD_B_ABS = 0x30  # A = pkt[k]
ALU_AND_K = 0x54
ALU_RSH_K = 0x74
ALU_MOD_K = 0x94
ALU_XOR_X = 0xAC
MISC_TAX = 0x07  # X = A
JMP_JEQ_K = 0x15
JMP_JGE_K = 0x35
JMP_JSET_K = 0x45
RET_A = 0x16
RET_K = 0x06

Insn = tuple[int, int, int, int]  # (code, jt, jf, k) as struct sock_filter


def program(workers: int, natt: bool) -> list[Insn]:
    """The steering program for a group of ``workers`` sockets on the IKE (``natt``
    False) or NAT-T port."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"{workers} workers: the SPI's top byte numbers at most {MAX_WORKERS}")
    b = NON_ESP_MARKER_LEN if natt else 0
    # Written with symbolic jump targets, resolved into relative offsets below.
    code: list[tuple] = [
        (LD_W_LEN, None, None, 0),
        (JMP_JGE_K, "+", "fallback", b + IKE_HEADER),
    ]
    if natt:
        code += [
            (LD_W_ABS, None, None, 0),  # the non-ESP marker: four zero bytes
            (JMP_JEQ_K, "+", "fallback", 0),
        ]
    code += [
        (LD_B_ABS, None, None, b + 17),  # version: major in the high nibble
        (ALU_AND_K, None, None, 0xF0),
        (JMP_JEQ_K, "+", "responder_spi", 0x20),
        (LD_B_ABS, None, None, b + 19),  # IKEv2 flags
        (JMP_JSET_K, "responder_spi", "+", 0x08),  # I flag (RFC 7296 §3.1)
        # I clear: the peer answers or asks as responder of an SA we initiated (our own
        # IKE rekey); the initiator SPI is ours, never zero.
        (LD_B_ABS, None, None, b + 0),
        (RET_A, None, None, 0),
        "responder_spi",
        (LD_W_ABS, None, None, b + 8),
        (JMP_JEQ_K, "+", "ours", 0),
        (LD_W_ABS, None, None, b + 12),
        (JMP_JEQ_K, "hash", "ours", 0),
        "ours",
        (LD_B_ABS, None, None, b + 8),
        (RET_A, None, None, 0),  # values >= N (not our SPI): the kernel's hash decides
        "hash",  # no SPI of ours yet: fold the initiator SPI, modulo N
        (LD_W_ABS, None, None, b + 0),
        (MISC_TAX, None, None, 0),
        (LD_W_ABS, None, None, b + 4),
        (ALU_XOR_X, None, None, 0),
        (MISC_TAX, None, None, 0),
        (ALU_RSH_K, None, None, 16),
        (ALU_XOR_X, None, None, 0),
        (ALU_MOD_K, None, None, workers),
        (RET_A, None, None, 0),
        "fallback",
        (RET_K, None, None, workers),
    ]
    labels: dict[str, int] = {}
    insns: list[tuple] = []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)
    out: list[Insn] = []
    for pc, (op, jt, jf, k) in enumerate(insns):
        def rel(target):
            if target is None or target == "+":
                return 0
            return labels[target] - pc - 1
        out.append((op, rel(jt), rel(jf), k))
    return out


def fold_spi(spi_i: bytes, workers: int) -> int:
    """The worker of a first message: the same fold of the initiator SPI as the program."""
    hi, lo = struct.unpack("!II", spi_i[:8])
    a = hi ^ lo
    return ((a >> 16) ^ a) % workers


def expected_worker(payload: bytes, workers: int, natt: bool) -> int | None:
    """What the program chooses for a UDP ``payload``: a worker index, or None when the
    kernel's own hash decides (keepalives, ESP, a value >= N)."""
    b = NON_ESP_MARKER_LEN if natt else 0
    if len(payload) < b + IKE_HEADER:
        return None
    if natt and payload[:4] != bytes(4):
        return None
    header = payload[b:b + IKE_HEADER]
    if header[17] >> 4 == 2 and not header[19] & 0x08:
        ours = header[0:8]
    else:
        ours = header[8:16]
        if ours == bytes(8):
            return fold_spi(header[0:8], workers)
    return ours[0] if ours[0] < workers else None


def interpret(prog: Sequence[Insn], data: bytes) -> int:
    """Run ``prog`` over ``data`` as the kernel runs a classic BPF program (the opcodes
    this module emits only): a load past the end returns 0."""
    a = x = 0
    pc = 0
    n = len(data)
    while True:
        op, jt, jf, k = prog[pc]
        pc += 1
        if op == LD_W_LEN:
            a = n
        elif op == LD_W_ABS:
            if k + 4 > n:
                return 0
            a = int.from_bytes(data[k:k + 4], "big")
        elif op == LD_B_ABS:
            if k + 1 > n:
                return 0
            a = data[k]
        elif op == ALU_AND_K:
            a &= k
        elif op == ALU_RSH_K:
            a >>= k
        elif op == ALU_MOD_K:
            a %= k
        elif op == ALU_XOR_X:
            a ^= x
        elif op == MISC_TAX:
            x = a
        elif op == JMP_JEQ_K:
            pc += jt if a == k else jf
        elif op == JMP_JGE_K:
            pc += jt if a >= k else jf
        elif op == JMP_JSET_K:
            pc += jt if a & k else jf
        elif op == RET_A:
            return a
        elif op == RET_K:
            return k
        else:
            raise ValueError(f"opcode {op:#x} is not one this module emits")


def attach(sock: socket.socket, prog: Sequence[Insn]) -> None:
    """Attach ``prog`` to the reuseport group of ``sock`` (it applies to the whole group)."""
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("@HP", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)


@dataclass
class Group:
    """One address and port: socket i belongs to worker i, for the whole run."""

    address: str
    port: int
    natt: bool
    sockets: list[socket.socket]

    def describe(self) -> str:
        return f"{self.address}:{self.port}{' (NAT-T)' if self.natt else ''}"


def bind_group(address: str, port: int, workers: int, *, natt: bool,
               rcvbuf: int = 0) -> Group:
    """Bind ``workers`` SO_REUSEPORT sockets on (address, port), in worker order, and
    attach the steering program. The caller must keep every socket open while the
    group serves: closing one would shift the kernel's numbering of the others."""
    program_ = program(workers, natt)
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sock = bind_udp(address, port, reuseport=True, rcvbuf=rcvbuf)
            sockets.append(sock)
            if natt:
                # RFC 3948: ESP-in-UDP goes to the kernel's XFRM input, IKE comes to us
                try:
                    sock.setsockopt(SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
                except OSError:
                    pass  # a kernel without XFRM: nothing would take the ESP anyway
        if workers > 1:
            attach(sockets[0], program_)
    except BaseException:
        for s in sockets:
            s.close()
        raise
    return Group(address, port, natt, sockets)


def receive_buffer(sock: socket.socket) -> int:
    """The socket's effective receive buffer in bytes (the kernel reports it doubled:
    half of it is bookkeeping overhead, socket(7))."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
