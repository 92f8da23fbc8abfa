"""ike-scan (1.9.5) probes from a namespace, with the answer parsed.

Owns: ``IkeScan.probe(target, *args)`` (one bounded ike-scan run, parsed into a
``ScanResult``: handshake, notify with its number, or no answer) and ``probe_ke`` (retry
a probe carrying a KE payload). ike-scan fills KE with random bytes rather than a real
public value; a responder that validates it (RFC 6989; strongSwan with OpenSSL 3 checks
MODP values) rejects many of them, so KE probes are retried until a handshake.

Useful arguments (see ``man ike-scan``): ``-M`` multi-line output, ``-A`` Aggressive
Mode, ``--id=``, ``--ikev2``, ``--dhgroup=``, ``--trans=enc[/len],hash,auth,group``
(e.g. ``7/256,4,1,14`` = AES-256, SHA2-256, PSK, MODP2048; auth 65001 =
XAUTHInitPreShared), ``--nat-t`` (UDP 4500 with the non-ESP marker), ``--sport=``.

Imports only the standard library and tests.harness.{proc,netns}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .netns import Namespace

AES256_SHA256_PSK_MODP2048 = "7/256,4,1,14"
AES256_SHA256_XAUTHPSK_MODP2048 = "7/256,4,65001,14"


@dataclass
class ScanResult:
    """``kind`` is "handshake", "notify" or "none"; ``text`` is ike-scan's output."""

    kind: str
    notify: int | None
    notify_name: str
    text: str
    returncode: int

    @property
    def handshake(self) -> bool:
        return self.kind == "handshake"

    def field(self, name: str) -> str | None:
        """A value printed by ike-scan, e.g. field("CKY-R"), field("Enc"), field("Group")."""
        m = re.search(rf"\b{re.escape(name)}=([^\s)]+)", self.text)
        return m.group(1) if m else None


def parse(text: str, returncode: int = 0) -> ScanResult:
    notify = re.search(r"Notify message (\d+) \(([^)]*)\)", text)
    if re.search(r"Handshake returned", text):
        return ScanResult("handshake", None, "", text, returncode)
    if notify:
        return ScanResult("notify", int(notify.group(1)), notify.group(2), text, returncode)
    return ScanResult("none", None, "", text, returncode)


class IkeScan:
    def __init__(self, ns: Namespace, *, binary: str = "ike-scan"):
        self.ns = ns
        self.binary = binary

    def probe(self, target: str, *args: str, timeout: float = 30.0) -> ScanResult:
        """One run of ``ike-scan ARGS TARGET`` inside the namespace."""
        cp = self.ns.run([self.binary, *args, target], timeout=timeout, check=False)
        return parse(cp.stdout + cp.stderr, cp.returncode)

    def probe_ke(
        self, target: str, *args: str, tries: int = 20, timeout: float = 30.0
    ) -> tuple[ScanResult, int]:
        """Repeat a probe carrying random KE bytes until a handshake (at most ``tries``);
        (last result, number of runs)."""
        result = ScanResult("none", None, "", "", 0)
        for n in range(1, tries + 1):
            result = self.probe(target, *args, timeout=timeout)
            if result.handshake:
                return result, n
        return result, tries


def version(binary: str = "ike-scan") -> str:
    from .proc import run

    cp = run([binary, "--version"], timeout=10, check=False)
    m = re.search(r"ike-scan (\S+)", cp.stdout + cp.stderr)
    return m.group(1) if m else "unknown"
