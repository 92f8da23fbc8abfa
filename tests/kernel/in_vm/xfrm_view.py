"""What ``ip xfrm state`` / ``ip xfrm policy`` print, parsed into small records, and a
tcpdump that tests start and read.

The kernel tests compare ikesrv's XFRM entries with iproute2's independent reading of
them, so this parses iproute2's text, not our netlink decoding.

Imports only the standard library and tests.harness.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from tests.harness.netns import Namespace
from tests.harness.proc import wait_until


@dataclass
class XState:
    src: str
    dst: str
    spi: int
    reqid: int
    mode: str
    lines: list[str] = field(default_factory=list)

    def has(self, pattern: str) -> re.Match | None:
        return re.search(pattern, "\n".join(self.lines))


@dataclass
class XPolicy:
    src: str
    dst: str
    dir: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _blocks(text: str, head: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(head):
            blocks.append([line])
        elif blocks and line.startswith(("\t", " ")):
            blocks[-1].append(line.strip())
    return blocks


def states(ns: Namespace, *args: str) -> list[XState]:
    """``ip [-s] xfrm state`` in ``ns``."""
    out = ns.ip(*args, "xfrm", "state") if args else ns.ip("xfrm", "state")
    found = []
    for block in _blocks(out, "src "):
        m = re.match(r"src (\S+) dst (\S+)", block[0])
        body = "\n".join(block)
        # with -s, iproute2 adds the decimal SPI and the hex reqid in parentheses
        p = re.search(r"proto esp spi (0x[0-9a-f]+)(?:\(\d+\))? reqid (\d+)(?:\(0x[0-9a-f]+\))? "
                      r"mode (\S+)", body)
        if m and p:
            found.append(XState(m.group(1), m.group(2), int(p.group(1), 16), int(p.group(2)),
                                p.group(3), block))
    return found


def policies(ns: Namespace) -> list[XPolicy]:
    """``ip xfrm policy`` in ``ns`` (per-socket policies included, dir "socket in" ...)."""
    found = []
    for block in _blocks(ns.ip("xfrm", "policy"), "src "):
        m = re.match(r"src (\S+) dst (\S+)", block[0])
        d = re.search(r"dir (socket in|socket out|in|out|fwd)", "\n".join(block))
        if m and d:
            found.append(XPolicy(m.group(1), m.group(2), d.group(1), block))
    return found


class Tcpdump:
    """tcpdump -n on one interface of a namespace, its lines read back; stopped by PID."""

    def __init__(self, ns: Namespace, iface: str, bpf: str, cleanup):
        self.path = cleanup.mkdtemp("tcpdump") / f"{iface}.txt"
        self.proc = ns.spawn(["tcpdump", "-l", "-n", "-i", iface, bpf], name=f"tcpdump-{iface}",
                             log_path=self.path)
        # tcpdump says "listening on ..." once the capture runs
        wait_until(lambda: "listening on" in self.text(), 10, f"tcpdump on {iface}")

    def text(self) -> str:
        try:
            return self.path.read_text(errors="replace")
        except OSError:
            return ""

    def lines(self) -> list[str]:
        return [line for line in self.text().splitlines()
                if not line.startswith(("listening on", "tcpdump:"))]

    def stop(self) -> list[str]:
        time.sleep(0.3)  # let it print what it has read
        self.proc.stop(5)
        return self.lines()
