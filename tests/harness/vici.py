"""A small client for strongSwan's VICI protocol, to query and drive a test charon.

Owns: the VICI wire format (strongSwan's src/libcharon/plugins/vici/README.md): a 32-bit
big-endian length before each packet; a packet type byte (CMD_REQUEST 0, CMD_RESPONSE 1,
CMD_UNKNOWN 2, EVENT_REGISTER 3, EVENT_UNREGISTER 4, EVENT_CONFIRM 5, EVENT_UNKNOWN 6,
EVENT 7), a name (8-bit length) for the named types, then a message of elements
SECTION_START 1 (name), SECTION_END 2, KEY_VALUE 3 (name, 16-bit length value),
LIST_START 4 (name), LIST_ITEM 5 (value), LIST_END 6. Messages map to dicts of str keys;
values are str (decoded UTF-8), lists of str, or nested dicts. Written here so that
structured answers (list-sas, initiate logs) need no extra package; every socket
operation has a timeout.

Imports only the standard library.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6


class ViciError(RuntimeError):
    """charon refused a command, or the VICI stream was not what the protocol says."""


def encode_message(msg: dict[str, Any]) -> bytes:
    out = bytearray()

    def name(n: str) -> None:
        raw = n.encode()
        out.append(len(raw))
        out.extend(raw)

    def value(v: Any) -> bytes:
        if isinstance(v, bool):
            return b"yes" if v else b"no"
        return v if isinstance(v, bytes) else str(v).encode()

    def section(d: dict[str, Any]) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                out.append(SECTION_START)
                name(k)
                section(v)
                out.append(SECTION_END)
            elif isinstance(v, (list, tuple)):
                out.append(LIST_START)
                name(k)
                for item in v:
                    raw = value(item)
                    out.append(LIST_ITEM)
                    out.extend(struct.pack("!H", len(raw)) + raw)
                out.append(LIST_END)
            else:
                raw = value(v)
                out.append(KEY_VALUE)
                name(k)
                out.extend(struct.pack("!H", len(raw)) + raw)

    section(msg)
    return bytes(out)


def decode_message(data: bytes) -> dict[str, Any]:
    root: dict[str, Any] = {}
    stack = [root]
    current_list: list[str] | None = None
    i = 0

    def take(n: int) -> bytes:
        nonlocal i
        if i + n > len(data):
            raise ViciError("truncated VICI message")
        chunk = data[i : i + n]
        i += n
        return chunk

    def name() -> str:
        return take(take(1)[0]).decode(errors="replace")

    def value() -> str:
        (n,) = struct.unpack("!H", take(2))
        return take(n).decode(errors="replace")

    while i < len(data):
        kind = take(1)[0]
        if kind == SECTION_START:
            child: dict[str, Any] = {}
            stack[-1][name()] = child
            stack.append(child)
        elif kind == SECTION_END:
            if len(stack) == 1:
                raise ViciError("unbalanced SECTION_END")
            stack.pop()
        elif kind == KEY_VALUE:
            k = name()
            stack[-1][k] = value()
        elif kind == LIST_START:
            current_list = []
            stack[-1][name()] = current_list
        elif kind == LIST_ITEM:
            if current_list is None:
                raise ViciError("LIST_ITEM outside a list")
            current_list.append(value())
        elif kind == LIST_END:
            current_list = None
        else:
            raise ViciError(f"unknown VICI element type {kind}")
    return root


class Session:
    """One connection to charon's VICI socket (a unix socket path)."""

    def __init__(self, path: str, timeout: float = 30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, ptype: int, name: str | None, msg: dict[str, Any] | None) -> None:
        body = bytes([ptype])
        if name is not None:
            raw = name.encode()
            body += bytes([len(raw)]) + raw
        if msg is not None:
            body += encode_message(msg)
        self.sock.sendall(struct.pack("!I", len(body)) + body)

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ViciError("charon closed the VICI connection")
            buf.extend(chunk)
        return bytes(buf)

    def _recv(self) -> tuple[int, str | None, bytes]:
        (length,) = struct.unpack("!I", self._recv_exact(4))
        packet = self._recv_exact(length)
        ptype = packet[0]
        if ptype in (CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT):
            n = packet[1]
            return ptype, packet[2 : 2 + n].decode(), packet[2 + n :]
        return ptype, None, packet[1:]

    def _event_ctl(self, ptype: int, event: str) -> None:
        self._send(ptype, event, None)
        while True:
            rtype, _, _ = self._recv()
            if rtype == EVENT_CONFIRM:
                return
            if rtype == EVENT_UNKNOWN:
                raise ViciError(f"unknown VICI event {event!r}")
            # an event of the stream we are leaving may still be in flight

    def request(self, command: str, msg: dict[str, Any] | None = None) -> dict[str, Any]:
        """A plain command; its response message."""
        self._send(CMD_REQUEST, command, msg or {})
        while True:
            rtype, _, body = self._recv()
            if rtype == CMD_RESPONSE:
                return decode_message(body)
            if rtype == CMD_UNKNOWN:
                raise ViciError(f"unknown VICI command {command!r}")

    def streamed(
        self, command: str, event: str, msg: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A command that streams ``event`` messages before its response (list-sas,
        initiate with control-log ...); (response, events)."""
        self._event_ctl(EVENT_REGISTER, event)
        events = []
        try:
            self._send(CMD_REQUEST, command, msg or {})
            while True:
                rtype, name, body = self._recv()
                if rtype == EVENT and name == event:
                    events.append(decode_message(body))
                elif rtype == CMD_RESPONSE:
                    response = decode_message(body)
                    break
                elif rtype == CMD_UNKNOWN:
                    raise ViciError(f"unknown VICI command {command!r}")
        finally:
            self._event_ctl(EVENT_UNREGISTER, event)
        return response, events


def check(response: dict[str, Any], what: str) -> dict[str, Any]:
    """Raise ViciError with charon's errmsg when a command's ``success`` is not ``yes``."""
    if response.get("success", "yes") != "yes":
        raise ViciError(f"{what}: {response.get('errmsg', 'failed')}")
    return response
