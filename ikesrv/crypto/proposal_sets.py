"""Named proposal sets for stock clients, so operators need not guess what each offers.

Owns: the sets a connection may name instead of (or beside) its own proposal strings,
e.g. ``proposals = ["%apple", "aes256gcm16-prfsha384-ecp384"]``. Each name expands to
the IKE or ESP proposals (strongSwan syntax) that the built-in client of that platform
offers by default, in our order of preference. Sets that contain weak algorithms do not
make them acceptable: the connection must still list them in ``weak_algorithms``, and
``ikesrv check-config`` prints a warning for every connection that uses one — their only
reason to exist is clients that cannot be reconfigured.

The expanded string stays the metric label of ``ikesrv_ike_sa_suite_total``: operators
see which clients use which set.

  %windows-modern  Windows 10/11 after Set-VpnConnectionIPsecConfiguration with
                   -EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA384
                   -DHGroup ECP384 -PfsGroup ECP384 (the recommended client setup)
  %windows         Windows 10/11 built-in defaults: MODP-1024 and SHA-1. WEAK: needs
                   weak_algorithms = ["modp1024", "sha1"]; prefer %windows-modern.
                   Windows also adds PFS on CHILD SA rekeys (accepted: see connections).
  %apple           macOS / iOS / iPadOS IKEv2 defaults (AES-256, SHA2-256, DH 14/19);
                   their first CHILD SA carries no DH group, iOS sometimes does
  %android         Android's native IKEv2 client (11+): no SHA-1, MODP-2048 or better,
                   Curve25519; also fine for the strongSwan app
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProposalSet:
    name: str
    ike: tuple[str, ...]
    esp: tuple[str, ...]
    summary: str


SETS: dict[str, ProposalSet] = {s.name: s for s in (
    ProposalSet(
        "windows-modern",
        ike=("aes256gcm16-prfsha384-ecp384", "aes256-sha384-ecp384"),
        esp=("aes256gcm16", "aes256gcm16-ecp384", "aes256-sha256"),
        summary="Windows configured with GCMAES256/SHA384/ECP384",
    ),
    ProposalSet(
        "windows",
        ike=("aes256-sha256-modp1024", "aes256-sha1-modp1024", "aes128-sha1-modp1024"),
        esp=("aes256-sha1", "aes128-sha1"),
        summary="Windows built-in defaults (MODP-1024, SHA-1: weak)",
    ),
    ProposalSet(
        "apple",
        ike=("aes256-sha256-modp2048", "aes256-sha256-ecp256", "aes256gcm16-prfsha256-ecp256"),
        esp=("aes256-sha256", "aes256gcm16", "aes256-sha256-modp2048"),
        summary="macOS/iOS built-in IKEv2 defaults",
    ),
    ProposalSet(
        "android",
        ike=("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384",
             "aes256-sha256-modp2048", "aes128-sha256-modp3072"),
        esp=("aes256gcm16", "aes128gcm16", "aes256-sha256"),
        summary="Android native IKEv2 client",
    ),
)}


def expand(strings, kind: str) -> list[tuple[str, str | None]]:
    """``strings`` with every ``%name`` replaced by its set's proposals of ``kind``
    ("ike" or "esp"): a list of (proposal string, set name or None). Unknown names raise
    ValueError naming the known sets."""
    out: list[tuple[str, str | None]] = []
    for text in strings:
        if not text.startswith("%"):
            out.append((text, None))
            continue
        found = SETS.get(text[1:])
        if found is None:
            known = ", ".join(f"%{n}" for n in SETS)
            raise ValueError(f"unknown proposal set {text!r} (known: {known})")
        out.extend((p, found.name) for p in (found.ike if kind == "ike" else found.esp))
    return out
