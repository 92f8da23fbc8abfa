"""``ikesrv client-profile``: write a profile, its companion files, and the operator's notes.

Owns what the subcommand does once ikesrv.cli has parsed its options and loaded the
configuration: build the profile, write it (``-o FILE``, or standard output when the
platform's file is text), write its companions (CA certificates for Linux) beside it, and
print notes on standard error. Exit statuses follow ikesrv.cli: 0 written, 1 a profile
that cannot work with this configuration, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..config import Config
from . import PLATFORMS


def run(config: Config, args: argparse.Namespace) -> int:
    output: Path | None = args.output
    from .profile import ProfileError, build

    stem = output.name.rsplit(".", 1)[0] if output is not None else None
    try:
        profile = build(config, args.connection, args.platform, server=args.server,
                        ca_file=args.ca, user=args.user, client_id=args.client_id,
                        include_psk=args.include_psk, client_p12=args.p12,
                        display_name=args.name, stem=stem)
    except ProfileError as e:
        print(f"ikesrv client-profile: {e}", file=sys.stderr)
        return 1
    secret = args.include_psk or args.p12 is not None
    if output is None:
        if profile.companions:
            names = ", ".join(name for name, _ in profile.companions)
            profile.notes.append(f"not written without -o: {names} (the profile refers to them)")
        sys.stdout.buffer.write(profile.content)
        sys.stdout.flush()
    else:
        _write(output, profile.content, secret)
        for name, data in profile.companions:
            _write(output.parent / name, data, False)
        written = [str(output)] + [str(output.parent / n) for n, _ in profile.companions]
        print(f"wrote {', '.join(written)}", file=sys.stderr)
    for note in profile.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _write(path: Path, data: bytes, secret: bool) -> None:
    """Write ``data``; a file holding a key is created 0600 from the start."""
    mode = 0o600 if secret else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if secret:
        os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def add_options(p: argparse.ArgumentParser) -> None:
    """The subcommand's options (ikesrv.cli adds -c/--config)."""
    p.add_argument("--connection", required=True, metavar="NAME",
                   help="the [connections.NAME] the client uses")
    p.add_argument("--platform", required=True, choices=tuple(PLATFORMS),
                   help="windows: PowerShell script; apple: .mobileconfig; android: "
                   ".sswan for the strongSwan app; linux-swanctl: swanctl.conf; linux-nm: "
                   "NetworkManager keyfile")
    p.add_argument("--server", metavar="HOST",
                   help="DNS name or address clients connect to (default: the connection's "
                   "local_id if it is one, else the single [server] address)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the profile here, CA files beside it (default: standard "
                   "output, CA files not written)")
    p.add_argument("--user", metavar="NAME", help="EAP or XAuth user name to fill in")
    p.add_argument("--client-id", metavar="ID",
                   help="the client's IKE identity, when the connection's remote_id asks for "
                   "a particular one (or the IKEv1 group name)")
    p.add_argument("--ca", type=Path, metavar="FILE",
                   help="CA certificate(s) that issued ikesrv's certificate, when neither its "
                   "certificate file nor ca_certificates holds them")
    p.add_argument("--p12", type=Path, metavar="FILE",
                   help="the client's PKCS#12 (certificate and key), embedded for Windows, "
                   "Apple and Android")
    p.add_argument("--include-psk", action="store_true",
                   help="put the connection's pre-shared key into the profile (the file is "
                   "then created 0600)")
    p.add_argument("--name", metavar="TEXT", help="the name the client shows")
