"""Packet captures in a namespace (dumpcap) and reading them back with tshark.

Owns: ``Capture`` (dumpcap on one interface of one namespace with a capture filter,
bounded, stopped by PID after a 0.5 s pause: dumpcap drops what it has not yet read
from the socket when stopped at once, which left fast-failing runs with empty captures),
``fields()`` (``tshark -T fields`` as dicts), ``pdml()`` (``tshark -T pdml``: the whole
dissection tree with byte positions, for field-by-field comparisons) and ``version()``.

The IKE fields of Wireshark's ``isakmp`` dissector: isakmp.ispi, isakmp.rspi,
isakmp.exchangetype (not exchtype), isakmp.flags, isakmp.messageid, isakmp.typepayload,
isakmp.notify.msgtype; ``-O isakmp`` prints the payload tree.

Imports only the standard library and tests.harness.{proc,cleanup,netns}.
"""

from __future__ import annotations

import os
import re
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .cleanup import Cleanup
from .netns import Namespace
from .proc import HarnessError, Process, run, wait_until

IKE_BPF = "udp port 500 or udp port 4500 or ip proto 50"
TSHARK = "tshark"
DUMPCAP = "dumpcap"
# dumpcap drops packets not yet read when stopped at once: pause before stopping
STOP_PAUSE = 0.5


class Capture:
    """dumpcap writing classic pcap (``-P``) from ``iface`` in ``ns`` to ``path``."""

    def __init__(
        self,
        ns: Namespace,
        iface: str,
        path: str | os.PathLike,
        cleanup: Cleanup,
        *,
        bpf: str = IKE_BPF,
        max_seconds: int = 600,
    ):
        self.ns = ns
        self.iface = iface
        self.path = Path(path)
        self.cleanup = cleanup
        self.bpf = bpf
        self.max_seconds = max_seconds
        self.process: Process | None = None

    def __repr__(self) -> str:
        return f"<Capture {self.ns.name}/{self.iface} -> {self.path}>"

    def start(self, timeout: float = 10.0) -> Capture:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self.path.unlink()
        log = self.cleanup.mkdtemp("dumpcap") / f"{self.iface}.log"
        # -a duration: the capture ends by itself even if the test never stops it
        argv = [
            DUMPCAP,
            "-q",
            "-P",
            "-i",
            self.iface,
            "-f",
            self.bpf,
            "-w",
            str(self.path),
            "-a",
            f"duration:{self.max_seconds}",
        ]
        self.process = self.ns.spawn(argv, name=f"dumpcap-{self.iface}", log_path=log)
        # the stop registered by spawn has no pause; ours (registered later) runs first
        self.cleanup.push(f"stop capture {self.path.name}", self.stop)

        def capturing() -> bool:
            if not self.process.alive():
                raise HarnessError(f"dumpcap exited: {self.process.output()[-1000:]}")
            return "Capturing on" in self.process.output()

        wait_until(capturing, timeout, f"dumpcap on {self.ns.name}/{self.iface}")
        return self

    def stop(self) -> Path:
        """Pause, stop dumpcap by PID (SIGINT: it closes the file cleanly); the pcap."""
        if self.process and self.process.alive():
            time.sleep(STOP_PAUSE)
            self.process.stop(timeout=5.0, sig=signal.SIGINT)
        return self.path

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tshark(args: list[str], timeout: float, env: dict[str, str] | None) -> str:
    # -n: no name resolution; the default profile may hold a user's preferences, so the
    # caller's XDG_CONFIG_HOME is kept only when one is given (for decryption tables)
    cp = run([TSHARK, "-n", *args], timeout=timeout, env=env)
    return cp.stdout


def fields(
    pcap: str | os.PathLike,
    names: list[str],
    display_filter: str | None = None,
    *,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> list[dict[str, list[str]]]:
    """One dict per frame: field name -> list of values (a field may repeat)."""
    args = [
        "-r",
        str(pcap),
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=\x1f",
    ]
    for n in names:
        args += ["-e", n]
    if display_filter:
        args += ["-Y", display_filter]
    out = _tshark(args + (extra or []), timeout, env)
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(names) - len(cols))
        rows.append({n: (c.split("\x1f") if c else []) for n, c in zip(names, cols, strict=False)})
    return rows


def pdml(
    pcap: str | os.PathLike,
    display_filter: str | None = None,
    *,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> list[ET.Element]:
    """The ``<packet>`` elements of ``tshark -T pdml``: each field with name, showname,
    show (the displayed value), value (raw hex), pos and size (bytes in the frame)."""
    args = ["-r", str(pcap), "-T", "pdml"]
    if display_filter:
        args += ["-Y", display_filter]
    out = _tshark(args + (extra or []), timeout, env)
    return ET.fromstring(out).findall("packet")


def version() -> str:
    m = re.search(r"TShark \(Wireshark\) (\S+)", run([TSHARK, "--version"], timeout=10).stdout)
    return m.group(1) if m else "unknown"


def summary(pcap: str | os.PathLike) -> str:
    """One line per frame (time, addresses, ports, protocol, info): for logs and READMEs."""
    rows = fields(
        pcap,
        [
            "frame.number",
            "ip.src",
            "udp.srcport",
            "ip.dst",
            "udp.dstport",
            "_ws.col.Protocol",
            "_ws.col.Info",
        ],
    )
    return "\n".join(" ".join(",".join(v) for v in row.values()) for row in rows)
