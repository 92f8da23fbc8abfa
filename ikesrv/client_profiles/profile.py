"""Building a profile: the platform writers behind one function, and the acceptance check.

Owns ``Profile``, ``build()`` and ``check()`` (see the package docstring). Imported on
demand (``ikesrv.client_profiles`` loads it at first use), so that the command line's
parser does not pay for the writers and the proposal machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..crypto import proposals as P
from ..crypto.proposals import ProposalSpec
from . import PLATFORMS, android, apple, linux, windows
from .target import ProfileError, Target, build_target

__all__ = ["Profile", "ProfileError", "build", "check"]


@dataclass
class Profile:
    """One generated profile and what comes with it."""

    platform: str
    target: Target
    content: bytes
    filename: str
    companions: list[tuple[str, bytes]] = field(default_factory=list)  # written beside it
    ike: tuple[ProposalSpec, ...] = ()  # what the client proposes (IKEv2), ours in order
    esp: tuple[ProposalSpec, ...] = ()
    notes: list[str] = field(default_factory=list)


def build(config: Config, connection: str, platform: str, *, server: str | None = None,
          ca_file: Path | None = None, user: str | None = None, client_id: str | None = None,
          include_psk: bool = False, client_p12: Path | None = None,
          display_name: str | None = None, stem: str | None = None) -> Profile:
    """The profile of ``connection`` for ``platform``; ProfileError says why not."""
    if platform not in PLATFORMS:
        raise ProfileError(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
    target = build_target(config, connection, server=server, ca_file=ca_file, user=user,
                          client_id=client_id, include_psk=include_psk,
                          client_p12=client_p12, display_name=display_name)
    stem = stem or f"ikesrv-{connection}"
    filename = stem + PLATFORMS[platform]
    conn = target.connection
    strongswan_offer = (tuple(conn.proposals), tuple(conn.esp_proposals))
    if platform == "windows":
        text, ike, esp, notes = windows.render(target)
        profile = Profile(platform, target, text.encode("utf-8"), filename,
                          ike=(ike.spec(),), esp=(esp.spec(),), notes=notes)
    elif platform == "apple":
        data, ike, esp, notes = apple.render(target)
        profile = Profile(platform, target, data, filename, notes=notes)
        if ike is not None:
            profile.ike, profile.esp = (ike.spec(),), (esp.spec(),)
    elif platform == "android":
        data, notes = android.render(target)
        profile = Profile(platform, target, data, filename, notes=notes,
                          ike=strongswan_offer[0][:1], esp=strongswan_offer[1][:1])
    elif platform == "linux-swanctl":
        text, companions, notes = linux.swanctl(target, stem)
        profile = Profile(platform, target, text.encode("utf-8"), filename, companions,
                          *strongswan_offer, notes=notes)
    else:
        text, companions, notes = linux.network_manager(target, stem)
        profile = Profile(platform, target, text.encode("utf-8"), filename, companions,
                          *strongswan_offer, notes=notes)
    problems = check(profile)
    if problems:
        raise ProfileError("; ".join(problems))
    return profile


def check(profile: Profile) -> list[str]:
    """What ikesrv would refuse of this profile's proposals (empty: nothing).

    IKE: our selection over the client's offer (RFC 7296 §2.7). ESP: the CHILD SA of
    IKE_AUTH (DH ignored, §1.2), then a rekey with the client's PFS group if it has one
    (§1.3.3), through the same rules the responder applies to CREATE_CHILD_SA."""
    conn = profile.target.connection
    if conn.version != 2 or not profile.ike:
        return []
    problems = []
    wire_ike = [s.to_wire(i + 1) for i, s in enumerate(profile.ike)]
    if P.select_ike(conn.proposals, wire_ike) is None:
        problems.append(f"ikesrv would refuse the IKE proposal "
                        f"{', '.join(s.text for s in profile.ike)}")
    wire_esp = [s.to_wire(i + 1, spi=b"\0\0\0\1") for i, s in enumerate(profile.esp)]
    if P.select_esp(conn.esp_proposals, wire_esp, ignore_dh=True) is None:
        problems.append(f"ikesrv would refuse the ESP proposal "
                        f"{', '.join(s.text for s in profile.esp)}")
    for spec in profile.esp:
        for group in spec.dh_groups[:1]:
            ours = _esp_for_rekey(conn, group)
            if P.select_esp(ours, [spec.to_wire(spi=b"\0\0\0\1")], want_dh=group) is None:
                problems.append(f"ikesrv would refuse a CHILD SA rekey with PFS group "
                                f"{group} ({spec.text})")
    return problems


def _esp_for_rekey(conn, group: int) -> tuple:
    """The ESP proposals ikesrv applies to a rekey with ``group`` (as Connection does)."""
    from ..connections import Connection
    from ..identity import IdentityPattern

    return Connection(cfg=conn, local_id=None,
                      remote_id=IdentityPattern.parse("%any")).esp_proposals_for_pfs(group)
