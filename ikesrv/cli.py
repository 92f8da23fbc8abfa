"""The ``ikesrv`` command (DESIGN §6): serve, check-config, load, status, firewall, decode,
client-profile (implemented in ikesrv.client_profiles.command).

Owns: argument parsing, exit statuses and what each subcommand prints. ``check-config``,
``firewall`` and ``decode`` are complete here; ``serve``, ``status`` and ``load`` hand
over to the modules that implement them (``ENTRY_POINTS``) and say so plainly when those
are not part of this build.

Exit statuses: 0 success; 1 a problem found (configuration errors, malformed messages,
a damaged capture); 2 usage errors and parts not built.

Imports ikesrv.config, ikesrv.pcap and ikesrv.wire.describe; the responder and the load
generator only through ENTRY_POINTS, when asked to run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import ipaddress
import json
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import format_duration
from .errors import ConfigError

#: subcommand -> (module, function) that implements it. serve: main(config, workers) -> int;
#: status: request(socket_path, "status") -> the status document of DESIGN §6 (raises
#: OSError when nothing answers); load: main(options) -> int, where options is the
#: argparse Namespace of the load options below (DESIGN §7).
ENTRY_POINTS = {
    "serve": ("ikesrv.server", "main"),
    "status": ("ikesrv.server.control", "request"),
    "load": ("ikesrv.load.runner", "main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except BrokenPipeError:
        # `ikesrv decode x.pcap | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ikesrv",
        description="IKEv1 and IKEv2 responder for remote-access VPN concentrators.",
        epilog="Without -c, the configuration is /etc/ikesrv/ikesrv.toml if it exists, "
        "else the embedded demo configuration.",
    )
    parser.add_argument("--version", action="version", version=f"ikesrv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("-c", "--config", metavar="FILE", type=Path,
                       help="configuration file (default: /etc/ikesrv/ikesrv.toml, "
                       "else the embedded demo)")

    p = sub.add_parser("serve", help="run the responder")
    config_option(p)
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: [server] workers; 0 = one per CPU)")
    p.set_defaults(run=_serve)

    p = sub.add_parser("check-config", help="check a configuration and summarize it")
    config_option(p)
    p.set_defaults(run=_check_config)

    p = sub.add_parser("load", help="load generator: many IKE initiators against a target")
    _load_options(p)
    p.set_defaults(run=_load)

    p = sub.add_parser("status", help="SAs per worker, from the running responder")
    config_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--socket", type=Path, metavar="PATH",
                   help="control socket (default: [server] control_socket)")
    p.set_defaults(run=_status)

    p = sub.add_parser("firewall", help="print firewall rules for IKE (UDP) and ESP",
                       description="Print rules that let IKE (UDP port and NAT-T port) and "
                       "ESP (IP protocol 50) reach the configured addresses.")
    config_option(p)
    style = p.add_mutually_exclusive_group()
    style.add_argument("--nft", dest="style", action="store_const", const="nft",
                       help="an nftables script for `nft -f` (default)")
    style.add_argument("--iptables", dest="style", action="store_const", const="iptables",
                       help="IPv4 rules for `iptables-restore --noflush`")
    style.add_argument("--ip6tables", dest="style", action="store_const", const="ip6tables",
                       help="IPv6 rules for `ip6tables-restore --noflush`")
    p.set_defaults(run=_firewall, style="nft")

    p = sub.add_parser("client-profile", help="write a VPN client's profile for a connection",
                       description="Write what a stock client (Windows, Apple, Android, "
                       "Linux) needs to connect to one connection of the configuration.")
    config_option(p)
    from .client_profiles.command import add_options as client_profile_options
    client_profile_options(p)
    p.set_defaults(run=_client_profile)

    p = sub.add_parser("decode", help="print IKE messages as JSON lines",
                       description="Decode IKE messages from files holding one UDP payload "
                       "each, or from pcap/pcapng captures, into one JSON object per message.")
    p.add_argument("files", nargs="+", metavar="FILE", help="raw message or capture ('-': stdin)")
    p.add_argument("--pcap", action="store_true",
                   help="the files are captures (recognized by their magic number anyway)")
    p.add_argument("--port", type=int, action="append", metavar="N",
                   help="UDP port of plain IKE in captures (default 500; repeatable)")
    p.add_argument("--natt-port", type=int, action="append", metavar="N",
                   help="UDP port of NAT-T in captures (default 4500; repeatable)")
    p.set_defaults(run=_decode)
    return parser


def _load_options(p: argparse.ArgumentParser) -> None:
    """The load generator's options (DESIGN §7)."""
    p.add_argument("--target", required=True, metavar="ADDR", help="responder address")
    p.add_argument("--port", type=int, default=500, help="responder IKE port (default 500)")
    p.add_argument("--clients", type=int, default=1000, metavar="N",
                   help="IKE SAs to set up in all (default 1000)")
    p.add_argument("--concurrency", type=int, default=100, metavar="C",
                   help="set-ups in flight at once (default 100)")
    p.add_argument("--rate", type=float, metavar="R", help="set-ups per second (default: as "
                   "fast as the concurrency allows)")
    p.add_argument("--version", type=int, choices=(1, 2), default=2, help="IKE version")
    p.add_argument("--auth", choices=("psk", "pubkey", "eap-mschapv2", "eap-gtc", "eap-md5",
                                      "xauth"),
                   default="psk", help="client authentication (default psk)")
    p.add_argument("--proposal", action="append", metavar="PROPOSAL",
                   help="IKE proposal, strongSwan syntax (repeatable)")
    p.add_argument("--esp-proposal", action="append", metavar="PROPOSAL",
                   help="ESP proposal, strongSwan syntax (repeatable)")
    p.add_argument("--psk-file", type=Path, metavar="FILE", help="pre-shared key")
    p.add_argument("--local-id", default="client{n}@load.test", metavar="TEMPLATE",
                   help="client identity; {n} is the client number")
    p.add_argument("--remote-id", metavar="ID", help="identity expected of the responder")
    p.add_argument("--user", default="user{n}", metavar="TEMPLATE",
                   help="EAP/XAuth user name; {n} is the client number")
    p.add_argument("--password-file", type=Path, metavar="FILE", help="EAP/XAuth password")
    p.add_argument("--aggressive", action="store_true",
                   help="IKEv1: Aggressive Mode instead of Main Mode")
    p.add_argument("--remote-ts", action="append", metavar="NET",
                   help="IKEv1: the network the clients ask to reach in Quick Mode "
                   "(repeatable: the first is used; default 0.0.0.0/0, which the responder "
                   "narrows)")
    p.add_argument("--hold", type=float, metavar="SECONDS",
                   help="keep each SA up this long, then delete it (default: leave SAs up)")
    p.add_argument("--rekey", action="store_true",
                   help="rekey each held SA: its CHILD SA at 1/3 of --hold, the IKE SA at 2/3")
    p.add_argument("--dpd", type=float, metavar="SECONDS",
                   help="send a liveness check this often while an SA is held")
    p.add_argument("--cert", type=Path, metavar="FILE",
                   help="--auth pubkey: one client certificate for every client")
    p.add_argument("--key", type=Path, metavar="FILE", help="its private key")
    p.add_argument("--ca-cert", type=Path, metavar="FILE",
                   help="--auth pubkey: the CA the clients ask the responder's certificate "
                   "of (CERTREQ); with --ca-key, each client gets a certificate for its "
                   "--local-id issued by it")
    p.add_argument("--ca-key", type=Path, metavar="FILE", help="the CA's private key")
    p.add_argument("--fresh-dh", action="store_true",
                   help="a new Diffie-Hellman key for every IKE_SA_INIT (default: one per "
                   "process and group, as RFC 7296 §2.12 allows; the responder's work is the "
                   "same either way)")
    p.add_argument("--source", metavar="ADDR",
                   help="address to send from (default: the route's source to --target)")
    p.add_argument("--processes", type=int, default=1, metavar="P",
                   help="initiator processes")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="stop the whole run after this long (default 300)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress line on stderr (default: when stderr is a terminal)")
    p.add_argument("--json", metavar="FILE|-", help="write the report as JSON")


# --- subcommands ---------------------------------------------------------------------


def _load_config(path: Path | None):
    """The configuration, or None after printing its errors."""
    from . import config as config_module

    try:
        return config_module.load(path if path is not None else config_module.default_path())
    except ConfigError as exc:
        for key_path, message in exc.errors:
            print(f"{key_path}: {message}", file=sys.stderr)
        for key_path, message in getattr(exc, "warnings", ()):
            print(f"warning: {key_path}: {message}", file=sys.stderr)
        count = len(exc.errors)
        print(f"{count} configuration error{'s' if count != 1 else ''}", file=sys.stderr)
        return None


def _entry_point(command: str):
    """The function implementing ``command``, or None when it is not part of this build."""
    module_name, function = ENTRY_POINTS[command]
    try:
        found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        return None
    # Import errors inside an existing module are bugs and must surface, not be hidden.
    return getattr(importlib.import_module(module_name), function, None)


def _not_built(command: str) -> int:
    what = {"serve": "the responder", "status": "the control socket client",
            "load": "the load generator"}[command]
    print(f"ikesrv {command}: {what} is not built yet", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    if config is None:
        return 1
    run = _entry_point("serve")
    if run is None:
        return _not_built("serve")
    try:
        for path, message in config.warnings:
            print(f"warning: {path}: {message}", file=sys.stderr)
    except OSError:
        pass  # stderr on a full disk: the daemon serves all the same
    workers = args.workers if args.workers is not None else config.server.workers
    return run(config, workers)


def _check_config(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    if config is None:
        return 1
    sys.stdout.write(config.summary())
    return 0


def _status(args: argparse.Namespace) -> int:
    socket_path = args.socket
    if socket_path is None:
        config = _load_config(args.config)
        if config is None:
            return 1
        socket_path = config.server.control_socket
    request = _entry_point("status")
    if request is None:
        return _not_built("status")
    try:
        status = request(socket_path, "status")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"ikesrv status: no answer on {socket_path}: {reason} "
              "(is `ikesrv serve` running?)", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
    else:
        sys.stdout.write(format_status(status))
    return 0


def format_status(status: dict) -> str:
    """``ikesrv status`` as text: one line per worker, per IKE SA and per CHILD SA."""
    if "error" in status:
        return f"error: {status['error']}\n"
    lines = []
    for worker in status.get("workers", []):
        sas = worker.get("ike_sas", [])
        lines.append(f"worker {worker.get('index', '?')} (pid {worker.get('pid', '?')}): "
                     f"{len(sas)} IKE SA{'s' if len(sas) != 1 else ''}")
        for sa in sas:
            fields = [f"IKEv{sa.get('version', '?')}", str(sa.get("state", "?")),
                      str(sa.get("remote", "?"))]
            for key, label in (("identity", "id"), ("eap_identity", "user"),
                               ("virtual_ip", "vip"), ("connection", "conn"),
                               ("algorithms", ""), ("spi_i", "spi_i"), ("spi_r", "spi_r")):
                if sa.get(key):
                    fields.append(f"{label} {sa[key]}".strip())
            if "age" in sa:
                fields.append(f"age {format_duration(float(sa['age']))}")
            lines.append("  " + "  ".join(fields))
            for child in sa.get("child_sas", []):
                local = ",".join(child.get("local_ts", []))
                remote = ",".join(child.get("remote_ts", []))
                lines.append(
                    f"    CHILD {child.get('state', '?')} in {child.get('spi_in', '?')} "
                    f"out {child.get('spi_out', '?')}  {local} === {remote}  "
                    f"{child.get('algorithms', '')}".rstrip()
                )
    return "\n".join(lines) + "\n" if lines else "no workers\n"


def _load(args: argparse.Namespace) -> int:
    run = _entry_point("load")
    if run is None:
        return _not_built("load")
    return run(args)


def _firewall(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    if config is None:
        return 1
    server = config.server
    source = config.source or "the configuration"
    if args.style == "nft":
        sys.stdout.write(nft_rules(server.addresses, server.port, server.natt_port, source))
    else:
        version = 4 if args.style == "iptables" else 6
        sys.stdout.write(iptables_rules(server.addresses, server.port, server.natt_port,
                                        version, source))
    return 0


def nft_rules(addresses, port: int, natt_port: int, source) -> str:
    """An nftables script accepting IKE, NAT-T and ESP to ``addresses``.

    It adds a chain ``ikesrv`` to the ``inet filter`` table (Debian's default ruleset)
    and a jump to it at the top of that table's ``input`` chain; both are created if
    missing, and an existing chain keeps its policy. Loading it twice adds a second jump:
    include it from /etc/nftables.conf (which starts with ``flush ruleset``) instead.
    """
    wildcard_v4 = any(a == ipaddress.IPv4Address(0) for a in addresses)
    wildcard_v6 = any(a == ipaddress.IPv6Address(0) for a in addresses)
    matches = []
    if wildcard_v4:
        matches.append("meta nfproto ipv4")
    elif v4 := [str(a) for a in addresses if a.version == 4]:
        matches.append(f"ip daddr {{ {', '.join(v4)} }}")
    if wildcard_v6:
        matches.append("meta nfproto ipv6")
    elif v6 := [str(a) for a in addresses if a.version == 6]:
        matches.append(f"ip6 daddr {{ {', '.join(v6)} }}")
    rules = []
    for match in matches:
        rules.append(f"        {match} udp dport {{ {port}, {natt_port} }} accept")
        rules.append(f"        {match} meta l4proto esp accept")
    body = "\n".join(rules)
    return f"""#!/usr/sbin/nft -f
# ikesrv: accept IKE (UDP {port}), NAT-T (UDP {natt_port}: IKE and ESP in UDP) and ESP
# (IP protocol 50) to the addresses of [server] in {source}.
# Written by `ikesrv firewall --nft`. The chain input of table inet filter (Debian's
# default ruleset) is created if missing; an existing one keeps its policy and rules,
# and jumps to chain ikesrv first. Load it once (e.g. include it from /etc/nftables.conf):
# each load adds one more jump.
table inet filter {{
    chain input {{
        type filter hook input priority filter;
    }}
    chain ikesrv {{
    }}
}}
flush chain inet filter ikesrv
table inet filter {{
    chain ikesrv {{
{body}
    }}
}}
insert rule inet filter input jump ikesrv
"""


def iptables_rules(addresses, port: int, natt_port: int, version: int, source) -> str:
    """iptables-restore input (``--noflush``) accepting IKE, NAT-T and ESP for one family."""
    wildcard = ipaddress.ip_address("0.0.0.0" if version == 4 else "::")
    mine = [a for a in addresses if a.version == version]
    prefix = 32 if version == 4 else 128
    tool = "iptables" if version == 4 else "ip6tables"
    lines = [
        f"# ikesrv: accept IKE (UDP {port}), NAT-T (UDP {natt_port}) and ESP to the IPv{version}",
        f"# addresses of [server] in {source}. Written by `ikesrv firewall --{tool}`;",
        f"# load with `{tool}-restore --noflush` (the rules go first in INPUT).",
        "*filter",
    ]
    if wildcard in mine:
        destinations = [""]
    else:
        destinations = [f"-d {a}/{prefix} " for a in mine]
    if not destinations:
        lines.insert(3, f"# (no IPv{version} address is configured: nothing to accept)")
    for destination in reversed(destinations):
        # -I puts each rule first; inserting in reverse keeps them in reading order.
        lines.append(f"-I INPUT 1 {destination}-p esp -j ACCEPT")
        lines.append(f"-I INPUT 1 {destination}-p udp -m multiport --dports {port},{natt_port} "
                     "-j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _client_profile(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    if config is None:
        return 1
    from .client_profiles.command import run
    return run(config, args)


# --- decode --------------------------------------------------------------------------


def _decode(args: argparse.Namespace) -> int:
    from . import pcap
    from .errors import IkeError, MalformedMessage

    status = 0
    ike_ports = tuple(args.port or (pcap.IKE_PORT,))
    natt_ports = tuple(args.natt_port or (pcap.NATT_PORT,))

    def emit(record: dict) -> None:
        nonlocal status
        if "error" in record:
            status = 1
        sys.stdout.write(json.dumps(record, default=_json_default) + "\n")

    def describe_one(data: bytes, source: dict) -> dict:
        from .wire import describe

        try:
            record = describe.describe_message(data)
        except IkeError as exc:  # describe_message answers with a dict; this is a fallback
            record = {"error": exc.reason, "offset": exc.offset}
        record["source"] = source
        return record

    for name in args.files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            print(f"ikesrv decode: {name}: {exc.strerror or exc}", file=sys.stderr)
            status = 1
            continue
        if args.pcap or pcap.is_capture(data[:4]):
            problems: list[str] = []
            try:
                for frame in pcap.read_ike(data, ike_ports=ike_ports, natt_ports=natt_ports,
                                           problems=problems):
                    emit(describe_one(frame.data, {
                        "file": name, "time": frame.timestamp,
                        "src": str(frame.src), "sport": frame.sport,
                        "dst": str(frame.dst), "dport": frame.dport,
                    }))
            except pcap.CaptureError as exc:
                print(f"ikesrv decode: {name}: {exc}", file=sys.stderr)
                status = 1
            for problem in problems:
                print(f"ikesrv decode: {name}: {problem}", file=sys.stderr)
                status = 1
            continue
        # A UDP payload taken from port 4500 starts with the non-ESP marker; an IKE
        # header never does, since the initiator's SPI cannot be zero (RFC 7296 §3.1).
        if len(data) > 4 and data[:4] == b"\0\0\0\0":
            from .wire import natt

            try:
                _kind, data = natt.classify(data)
            except MalformedMessage:
                pass
        emit(describe_one(data, {"file": name}))
    return status


def _json_default(value: object) -> object:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
