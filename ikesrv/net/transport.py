"""UDP sockets for IKE on ports 500 and 4500, with NAT-T framing (RFC 3948).

Owns: binding (or adopting pre-bound) sockets, receiving with the datagram's real
destination address (IP_PKTINFO / IPV6_RECVPKTINFO, so that a wildcard bind still knows
which local address the peer used: NAT detection hashes it), stripping the non-ESP
marker on the NAT-T port and dropping keepalives, and sending from the right local
address with the marker added on the NAT-T port. Reads go straight from the socket into
one preallocated buffer per socket (no per-datagram 64 KiB allocation).

This is an edge: it knows sockets, not IKE.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Callable

from ..errors import MalformedMessage
from ..wire import natt

log = logging.getLogger("ikesrv.net")

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
MAX_DATAGRAM = 65535
ANC_SIZE = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(24)
READS_PER_WAKEUP = 64  # drain the socket, but let other sockets and timers run too

Addr = tuple[str, int]


def bind_udp(address: str, port: int, *, reuseport: bool = False,
             rcvbuf: int = 0) -> socket.socket:
    """A non-blocking UDP socket bound to (address, port), pktinfo enabled."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if rcvbuf:
            try:
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), rcvbuf)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        prepare_pktinfo(sock)
        sock.bind((address, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def prepare_pktinfo(sock: socket.socket) -> None:
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)


class IkeSocket:
    """One bound UDP socket: IKE port or NAT-T port."""

    def __init__(self, sock: socket.socket, is_natt: bool):
        self.sock = sock
        self.is_natt = is_natt
        host, port = sock.getsockname()[:2]
        self.bound: Addr = (host, port)
        self.wildcard = ipaddress.ip_address(host).is_unspecified
        self.family = sock.family
        self.buffer = bytearray(MAX_DATAGRAM)
        self.view = memoryview(self.buffer)
        self.keepalives = 0
        self.dropped = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, deliver: Callable[[bytes, Addr, Addr], None]) -> None:
        """Drain up to READS_PER_WAKEUP datagrams, delivering IKE messages."""
        sock, port, view = self.sock, self.bound[1], self.view
        # Bound to one address, that address is the destination: recvfrom_into, without
        # the ancillary data recvmsg_into would build a list for (0.4 µs per datagram).
        fixed = None if self.wildcard else self.bound
        for _ in range(READS_PER_WAKEUP):
            try:
                if fixed is not None:
                    n, src = sock.recvfrom_into(view)
                else:
                    n, anc, _flags, src = sock.recvmsg_into([view], ANC_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. ICMP port unreachable reported on the socket
                if e.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    log.warning("receive on %s:%d failed: %s", *self.bound, e)
                continue
            data = bytes(view[:n])
            local = fixed if fixed is not None else (self._destination(anc), port)
            remote = (src[0], src[1])
            if self.is_natt:
                try:
                    kind, data = natt.classify(data)
                except MalformedMessage:
                    self.dropped += 1
                    continue
                if kind != "ike":
                    if kind == "keepalive":
                        self.keepalives += 1
                    else:
                        self.dropped += 1  # ESP reaches us only without the kernel's encap
                    continue
            deliver(data, local, remote)

    def _destination(self, anc) -> str:
        if not self.wildcard:
            return self.bound[0]
        for level, kind, value in anc:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= 12:
                # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
                return socket.inet_ntop(socket.AF_INET, value[8:12])
            if level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(value) >= 16:
                return socket.inet_ntop(socket.AF_INET6, value[:16])
        return self.bound[0]

    def send(self, local: Addr, remote: Addr, data: bytes) -> None:
        if self.is_natt:
            data = natt.add_marker(data)
        self._send(local, remote, data)

    def send_keepalive(self, local: Addr, remote: Addr) -> None:
        self._send(local, remote, b"\xff")

    def _send(self, local: Addr, remote: Addr, data: bytes) -> None:
        try:
            if self.wildcard:
                self.sock.sendmsg([data], self._source_cmsg(local[0]), 0, remote)
            else:
                self.sock.sendto(data, remote)
        except OSError as e:
            _send_failed(local, remote, e)

    def _source_cmsg(self, source: str) -> list:
        if self.family == socket.AF_INET6:
            return [(socket.IPPROTO_IPV6, IPV6_PKTINFO,
                     socket.inet_pton(socket.AF_INET6, source) + struct.pack("=I", 0))]
        return [(socket.IPPROTO_IP, IP_PKTINFO,
                 struct.pack("=i4s4s", 0, socket.inet_pton(socket.AF_INET, source), bytes(4)))]


# A flood with spoofed, unroutable sources makes every answer fail (EHOSTUNREACH,
# ENETUNREACH, EPERM from a firewall): at most this many lines per period, then a count.
SEND_FAILURE_LINES = 10
SEND_FAILURE_PERIOD = 10.0
_send_failures = {"start": 0.0, "lines": 0, "suppressed": 0}


def _send_failed(local: Addr, remote: Addr, e: OSError) -> None:
    state = _send_failures
    now = time.monotonic()
    if now - state["start"] >= SEND_FAILURE_PERIOD:
        if state["suppressed"]:
            log.warning("%d more sends failed in the last %.0fs", state["suppressed"],
                        SEND_FAILURE_PERIOD)
        state.update(start=now, lines=0, suppressed=0)
    if state["lines"] < SEND_FAILURE_LINES:
        state["lines"] += 1
        log.warning("send %s:%d -> %s:%d failed: %s", *local, *remote, e)
    else:
        state["suppressed"] += 1


class Transport:
    """The IKE sockets of one worker, and sending by (local address, port)."""

    def __init__(self, sockets: list[IkeSocket]):
        self.sockets = sockets
        self._by_port: dict[tuple[int, int], list[IkeSocket]] = {}
        for s in sockets:
            self._by_port.setdefault((s.family, s.bound[1]), []).append(s)

    @classmethod
    def bind(cls, addresses, port: int, natt_port: int, *, rcvbuf: int = 0) -> Transport:
        sockets = []
        try:
            for address in addresses:
                for p, is_natt in ((port, False), (natt_port, True)):
                    sockets.append(IkeSocket(bind_udp(str(address), p, rcvbuf=rcvbuf), is_natt))
        except BaseException:
            for s in sockets:
                s.sock.close()
            raise
        return cls(sockets)

    def send(self, local: Addr, remote: Addr, data: bytes) -> None:
        sock = self._socket_for(local, remote)
        if sock is not None:
            sock.send(local, remote, data)

    def send_keepalive(self, local: Addr, remote: Addr) -> None:
        sock = self._socket_for(local, remote)
        if sock is not None and sock.is_natt:
            sock.send_keepalive(local, remote)

    def _socket_for(self, local: Addr, remote: Addr) -> IkeSocket | None:
        family = socket.AF_INET6 if ":" in remote[0] else socket.AF_INET
        candidates = self._by_port.get((family, local[1]), [])
        for s in candidates:
            if s.bound[0] == local[0]:
                return s
        for s in candidates:
            if s.wildcard:
                return s
        log.warning("no socket for %s:%d", *local)
        return None

    def close(self) -> None:
        for s in self.sockets:
            s.sock.close()
