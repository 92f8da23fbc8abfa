"""A lean netlink request path for XFRM: one raw socket, packed layouts, typed errors.

Owns: ``Layout`` (the ``fields`` of a pyroute2 message class compiled into a few
``struct.Struct`` runs, so that a message is packed or unpacked in one pass instead of
pyroute2's per-field generic codec), ``XfrmSocket`` (a raw NETLINK_XFRM socket: single
requests, batches of requests in one sendmsg, dumps, multicast groups) and
``XfrmError`` (a refused request: which operation, the errno and the kernel's extended
ACK message).

Why not pyroute2's sockets: its request path costs 0.1-0.3 ms per XFRM message; the
same bytes on a plain socket cost a few µs (DESIGN §9). The kernel handles XFRM
requests synchronously inside sendmsg(), so every answer is queued when send returns.

Imports the standard library and pyroute2's constants; nothing from the core.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

from pyroute2.netlink import (
    NETLINK_EXT_ACK,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    SOL_NETLINK,
)

from .xfrm_msg import NETLINK_XFRM

NETLINK_CAP_ACK = 10  # errors echo only the request's header, not its body
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1

NLMSGHDR = struct.Struct("=IHHII")  # struct nlmsghdr: len, type, flags, seq, pid
NLATTR = struct.Struct("=HH")  # struct nlattr: nla_len, nla_type
ERRNO = struct.Struct("=i")
RECV_BUFFER = 1 << 18  # a dump part is at most a few pages; events are small
REPLY_TIMEOUT = 2.0  # seconds; the kernel answers inside sendmsg, so this never waits


def align4(n: int) -> int:
    return (n + 3) & ~3


class Layout:
    """The fixed part of a pyroute2 message class, packed as the kernel lays it out.

    pyroute2 packs each field alone (no C alignment between them), so the concatenation
    of the formats is the wire layout. One ``struct.Struct`` in host byte order packs it
    all; the few network-order members (``>H``/``>I``: ports, SPIs) are swapped on the
    way in and out, which is cheaper than splitting the struct by byte order. Values are
    given and returned in field order, pads skipped.
    """

    __slots__ = ("size", "names", "_st", "_swaps")

    def __init__(self, fields):
        fmt = "="
        names: list[str] = []
        swaps: list[tuple[int, object]] = []
        for name, f in fields:
            body = f.lstrip("<>=!@")
            if f[0] == ">" and body in ("H", "I"):
                swaps.append((len(names), socket.htons if body == "H" else socket.htonl))
            elif f[0] == ">" and body[-1] not in "xs":
                raise ValueError(f"{name}: no swap for format {f}")
            fmt += body
            if body[-1] != "x":
                names.append(name)
        self._st = struct.Struct(fmt)
        self._swaps = tuple(swaps)
        self.names = tuple(names)
        self.size = self._st.size

    def pack(self, values) -> bytes:
        if self._swaps:
            values = list(values)
            for i, swap in self._swaps:
                values[i] = swap(values[i])
        return self._st.pack(*values)

    def pack_into(self, buf, offset: int, values) -> None:
        buf[offset:offset + self.size] = self.pack(values)

    def unpack_from(self, buf, offset: int = 0) -> tuple:
        values = self._st.unpack_from(buf, offset)
        if not self._swaps:
            return values
        values = list(values)
        for i, swap in self._swaps:  # ntohs/ntohl are htons/htonl
            values[i] = swap(values[i])
        return tuple(values)

    def index(self, name: str) -> int:
        return self.names.index(name)


def attr(attr_type: int, payload) -> bytes:
    """One netlink attribute (header, payload, padding to 4 octets)."""
    n = NLATTR.size + len(payload)
    return NLATTR.pack(n, attr_type) + bytes(payload) + bytes(align4(n) - n)


def walk_attrs(buf, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each attribute in buf[start:end]."""
    while start + 4 <= end:
        n, t = NLATTR.unpack_from(buf, start)
        if n < 4 or start + n > end:
            return
        yield t & 0x3FFF, start + 4, start + n  # NLA_F_NESTED / NET_BYTEORDER masked
        start += align4(n)


class XfrmError(Exception):
    """The kernel refused an XFRM request: ``operation`` says which (message type and
    the SA or policy concerned), ``errno`` why, ``message`` the kernel's own words (the
    netlink extended ACK), when it gave some."""

    def __init__(self, operation: str, err: int, message: str = ""):
        self.operation = operation
        self.errno = err
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        name = errno.errorcode.get(self.errno, f"errno {self.errno}")
        text = f"{self.operation}: {name} ({os.strerror(self.errno)})"
        return f"{text}: {self.message}" if self.message else text


class Request:
    """One message of a batch: what it is (for errors), type, flags, body."""

    __slots__ = ("operation", "msg_type", "flags", "body")

    def __init__(self, operation: str, msg_type: int, body, flags: int = 0):
        self.operation = operation
        self.msg_type = msg_type
        self.flags = flags | NLM_F_REQUEST | NLM_F_ACK
        self.body = body


class XfrmSocket:
    """A raw NETLINK_XFRM socket. ``groups`` (a bitmask of 1 << (XFRMNLGRP_x - 1))
    subscribes it to multicast events instead of using it for requests."""

    def __init__(self, groups: int = 0, rcvbuf: int = 0):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_XFRM)
        try:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            if rcvbuf:
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE
                except OSError:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.bind((0, groups))
            self.sock.settimeout(REPLY_TIMEOUT if not groups else 0.0)
        except BaseException:
            self.sock.close()
            raise
        self._seq = 0
        self._buf = bytearray(RECV_BUFFER)
        self._view = memoryview(self._buf)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    # ------------------------------------------------------------------ requests ----

    def _frame(self, out: bytearray, msg_type: int, flags: int, body) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        n = NLMSGHDR.size + len(body)
        out += NLMSGHDR.pack(n, msg_type, flags, self._seq, 0)
        out += body
        out += bytes(align4(n) - n)
        return self._seq

    def request(self, operation: str, msg_type: int, body, flags: int = 0):
        """Send one request. Returns the body of the kernel's reply message (ALLOCSPI,
        GETSA ...) as bytes, or None when the answer is a plain ACK; raises XfrmError."""
        out = bytearray()
        seq = self._frame(out, msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, body)
        self._send(operation, out)
        reply = None
        while True:
            for t, _flags, s, start, end in self._receive(operation):
                if s != seq:
                    continue  # an answer to an earlier request that timed out
                if t == NLMSG_ERROR:
                    err, message = _ack(self._buf, start, end, _flags)
                    if err:
                        raise XfrmError(operation, err, message)
                    return reply
                reply = bytes(self._buf[start:end])
                # a reply message comes first, then the ACK (NLM_F_ACK)

    def batch(self, requests: list[Request]) -> list[tuple[XfrmError | None, bytes | None]]:
        """Send several requests in one sendmsg; the kernel processes them in order and
        answers each (a failure does not stop the ones after it). Returns, per request,
        (its XfrmError or None, the body of its reply message or None)."""
        if not requests:
            return []
        out = bytearray()
        by_seq = {}
        for i, r in enumerate(requests):
            by_seq[self._frame(out, r.msg_type, r.flags, r.body)] = i
        self._send(requests[0].operation, out)
        errors: list = [None] * len(requests)
        replies: list = [None] * len(requests)
        pending = len(requests)
        while pending:
            for t, flags, s, start, end in self._receive(requests[0].operation):
                i = by_seq.get(s)
                if i is None:
                    continue
                if t != NLMSG_ERROR:
                    replies[i] = bytes(self._buf[start:end])  # comes before its ACK
                    continue
                del by_seq[s]
                err, message = _ack(self._buf, start, end, flags)
                if err:
                    errors[i] = XfrmError(requests[i].operation, err, message)
                pending -= 1
        return list(zip(errors, replies, strict=True))

    def dump(self, operation: str, msg_type: int,
             body=b"") -> Iterator[tuple[int, memoryview, int, int]]:
        """Dump request: yields (message type, buffer, body start, body end) for each
        entry. The buffer is reused: decode each entry before asking for the next."""
        out = bytearray()
        seq = self._frame(out, msg_type, NLM_F_REQUEST | NLM_F_DUMP, body)
        self._send(operation, out)
        while True:
            for t, flags, s, start, end in self._receive(operation):
                if s != seq:
                    continue
                if t == NLMSG_DONE:
                    return
                if t == NLMSG_ERROR:
                    err, message = _ack(self._buf, start, end, flags)
                    if err:
                        raise XfrmError(operation, err, message)
                    return
                if flags & NLM_F_DUMP_INTR:
                    raise XfrmError(operation, errno.EINTR,
                                    "the table changed during the dump")
                yield t, self._view, start, end

    def _send(self, operation: str, data) -> None:
        try:
            self.sock.sendto(data, (0, 0))
        except OSError as e:
            raise XfrmError(operation, e.errno or errno.EIO,
                            "sending to the kernel failed") from e

    def _receive(self, operation: str) -> list[tuple[int, int, int, int, int]]:
        """One datagram's messages: (type, flags, seq, body start, body end)."""
        try:
            n = self.sock.recv_into(self._buf)
        except TimeoutError:
            raise XfrmError(operation, errno.ETIMEDOUT, "no answer from the kernel") from None
        except OSError as e:
            raise XfrmError(operation, e.errno or errno.EIO, "reading the answer failed") from e
        return split_messages(self._buf, n)

    # ------------------------------------------------------------------ events ------

    def read_events(self) -> Iterator[tuple[int, memoryview, int, int]]:
        """Drain queued multicast messages: (type, buffer, body start, body end). Raises
        OSError(ENOBUFS) when the kernel dropped some because the queue was full."""
        while True:
            try:
                n = self.sock.recv_into(self._buf)
            except (BlockingIOError, InterruptedError):
                return
            for t, _flags, _seq, start, end in split_messages(self._buf, n):
                yield t, self._view, start, end


def split_messages(buf, n: int) -> list[tuple[int, int, int, int, int]]:
    out = []
    offset = 0
    while offset + NLMSGHDR.size <= n:
        length, t, flags, seq, _pid = NLMSGHDR.unpack_from(buf, offset)
        if length < NLMSGHDR.size or offset + length > n:
            break
        out.append((t, flags, seq, offset + NLMSGHDR.size, offset + length))
        offset += align4(length)
    return out


def _ack(buf, start: int, end: int, flags: int) -> tuple[int, str]:
    """(errno, extended ACK message) of an NLMSG_ERROR body (struct nlmsgerr)."""
    (err,) = ERRNO.unpack_from(buf, start)
    message = ""
    if flags & NLM_F_ACK_TLVS:
        # struct nlmsgerr { int error; struct nlmsghdr msg; } then the TLVs; with
        # NETLINK_CAP_ACK only the request's header is echoed
        echoed = NLMSGHDR.size
        if not flags & NLM_F_CAPPED:
            echoed = max(NLMSGHDR.size, NLMSGHDR.unpack_from(buf, start + 4)[0])
        for t, a, b in walk_attrs(buf, start + 4 + align4(echoed), end):
            if t == NLMSGERR_ATTR_MSG:
                message = bytes(buf[a:b]).rstrip(b"\0").decode(errors="replace")
    return -err, message
