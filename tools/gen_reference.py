#!/usr/bin/env python3
"""Generate the reference pages from the code they describe, and check they are current.

  docs/config-reference.md        every key of the configuration file: its section, type
                                  and range or choices, default, description, and the
                                  checks check-config makes across keys. Read from
                                  ikesrv/config.py itself: the loader (``_Loader``: which
                                  keys each section reads and with which converter and
                                  default), the dataclasses (defaults, the comments beside
                                  each field, each class's docstring), and the
                                  ``self.error``/``self.warn`` calls (the checks).
  docs/metrics-reference.md       every ikesrv_* series: type, help, labels and the label
                                  values published at zero, collected from
                                  ikesrv.metrics.Metrics and SupervisorMetrics.
  deploy/nftables/ikesrv-input.nft  what `ikesrv firewall --nft` prints for
                                  deploy/examples/ikev1-ikev2.toml (ikesrv.cli.nft_rules).

Usage: python tools/gen_reference.py [--check]    (--check: exit 1 when a file is stale)
tests/deploy/test_reference.py runs the check. A key the loader reads needs a comment
beside its dataclass field in ikesrv/config.py (or, when it has no field of its own, an
entry in NOTES below); the test fails for a key without either.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import io
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ikesrv import config as C

CONFIG_SOURCE = Path(C.__file__)
CONFIG_DOC = ROOT / "docs" / "config-reference.md"
METRICS_DOC = ROOT / "docs" / "metrics-reference.md"
NFT_SAMPLE = ROOT / "deploy" / "nftables" / "ikesrv-input.nft"
NFT_EXAMPLE = ROOT / "deploy" / "examples" / "ikev1-ikev2.toml"

#: TOML section -> (dataclass, loader method reading it)
SECTIONS = {
    "server": ("ServerConfig", "server"),
    "metrics": ("MetricsConfig", "metrics"),
    "kernel": ("KernelConfig", "kernel"),
    "pools.NAME": ("PoolConfig", "pools"),
    "users": ("UsersConfig", "users"),
    "users.file": ("UsersFileConfig", "users"),
    "users.ldap": ("LdapConfig", "ldap"),
    "connections.NAME": ("ConnectionConfig", "connection"),
}
#: the top-level tables of the file, as _Loader.config names them
TOP_LEVEL = {"server", "metrics", "kernel", "pools", "users", "connections"}
#: loader helpers whose error/warn calls belong to a section's checks
CHECK_METHODS = {
    "server": ["server"],
    "metrics": ["metrics"],
    "kernel": ["kernel"],
    "pools.NAME": ["pools"],
    "users": ["users"],
    "users.file": [],
    "users.ldap": ["ldap"],
    "connections.NAME": ["connections", "connection", "proposals", "certificate",
                         "private_key", "check_auth", "check_users", "check_main_mode_psk"],
}
#: descriptions for keys that have no dataclass field of their own (or no comment there)
NOTES = {
    "server.addresses": "IKE listen addresses; ports `port` and `natt_port` on each. "
                        "`0.0.0.0` and `::` listen on every address of that family.",
    "server.port": "UDP port of IKE.",
    "server.natt_port": "UDP port of NAT-T (RFC 3948): IKE and ESP-in-UDP behind NATs.",
    "server.control_socket": "Unix socket `ikesrv status` asks (created 0600).",
    "metrics.enabled": "Serve the Prometheus endpoint.",
    "metrics.listen": "`address:port` of the Prometheus endpoint (`[::1]:9810` for IPv6); "
                      "path /metrics.",
    "kernel.backend": "`xfrm`: ikesrv installs ESP SAs and policies in the Linux kernel; "
                      "`none`: it installs nothing (tests, or another component owns ESP).",
    "kernel.mark": "XFRM mark (value/mask) on every state and policy ikesrv installs: "
                   "at start and at SIGTERM ikesrv removes the entries carrying it, and "
                   "only those. A packet matches when `packet mark & MASK == VALUE`, so "
                   "with value 0 the mask bit must stay clear on the host's traffic. Give "
                   "each ikesrv instance on a host its own bit.",
    "pools.NAME.addresses": "The pool's network; its host addresses are handed out, except "
                            "`exclude` and the pool's own DNS/NBNS servers.",
    "pools.NAME.dns": "DNS servers pushed to clients (IKEv2 CP, IKEv1 Mode Config).",
    "pools.NAME.nbns": "WINS servers pushed to clients (IPv4 only).",
    "pools.NAME.split_include": "Networks clients route through the tunnel; empty: "
                                "everything.",
    "pools.NAME.exclude": "Addresses inside `addresses` never handed out.",
    "users.backend": "Which users backend checks EAP and XAuth logins: `file` or `ldap`.",
    "users.file": "The users file (table).",
    "users.ldap": "The LDAP directory (table).",
    "users.file.path": "The users file (format below).",
    "users.ldap.url": "`ldap://host:389` (then `start_tls = true`) or `ldaps://host:636`.",
    "users.ldap.start_tls": "Upgrade an `ldap://` connection with StartTLS.",
    "users.ldap.user_base": "Where users are searched (subtree).",
    "users.ldap.bind_password_file": "File holding the bind DN's password (a trailing "
                                     "newline is ignored).",
    "connections.NAME.version": "IKE version of the connection: 1 or 2.",
    "connections.NAME.local_auth": "How ikesrv authenticates itself: `psk` or `pubkey` "
                                   "(its certificate).",
    "connections.NAME.remote_auth": "How clients authenticate: IKEv2 `psk`, `pubkey`, "
                                    "`eap-mschapv2`, `eap-gtc`, `eap-md5`; IKEv1 `psk`, "
                                    "`pubkey`, `xauth` (phase 1 by local_auth's method, "
                                    "then XAuth).",
    "connections.NAME.proposals": "IKE proposals in strongSwan syntax "
                                  "(`aes256gcm16-prfsha384-ecp384`), in our order of "
                                  "preference, or proposal sets (`%windows-modern`, "
                                  "`%windows`, `%apple`, `%android`).",
    "connections.NAME.esp_proposals": "ESP proposals in strongSwan syntax; a DH group "
                                      "means PFS on rekeys (`modpnone` beside it makes it "
                                      "optional); proposal sets as for `proposals`.",
    "connections.NAME.remote_id": "Identities accepted from clients (strongSwan style: "
                                  "`%any`, `*.example.org`, `*@example.org`, DNs with `*` "
                                  "values, address prefixes). Ignored with EAP.",
    "connections.NAME.remote_addrs": "Networks clients may connect from; empty: anywhere.",
    "connections.NAME.certificate": "ikesrv's certificate (PEM or DER; a PEM file may add "
                                    "its chain after it).",
    "connections.NAME.private_key": "Its private key (PEM or DER, unencrypted; RSA, ECDSA, "
                                    "Ed25519, Ed448).",
    "connections.NAME.ca_certificates": "Trust anchors client certificates must chain to.",
    "connections.NAME.psk_file": "File holding the pre-shared key (a trailing newline is "
                                 "ignored).",
    "connections.NAME.weak_algorithms": "Weak algorithms this connection accepts anyway "
                                        "(`modp1024`, `sha1`, `3des`, ...): only for "
                                        "clients that cannot be reconfigured.",
    "connections.NAME.pools": "Pools to hand virtual IPs from, in order.",
    "connections.NAME.local_ts": "Networks behind ikesrv that clients may reach (their "
                                 "TSr is narrowed to these, RFC 7296 §2.9).",
    "connections.NAME.ike_lifetime": "IKE SA lifetime; clients are expected to rekey "
                                     "before it, ikesrv rekeys at its end otherwise.",
    "connections.NAME.child_lifetime": "CHILD SA lifetime (hard limit in the kernel; the "
                                       "soft limit is 90 % of it).",
    "connections.NAME.local_id": "The identity ikesrv presents; default: its address "
                                 "(PSK) or its certificate's subject (pubkey).",
    "connections.NAME.send_cert": "`ifasked`: send ikesrv's certificate when the client "
                                  "asks (CERTREQ); `always`: also when it does not (Apple "
                                  "and Windows clients configured by hand send none).",
    "connections.NAME.retransmit_tries": "Retransmissions of ikesrv's own requests (DPD, "
                                         "deletes, rekeys) before the peer counts as dead.",
    "connections.NAME.unique": "A second IKE SA of the same identity: `replace` deletes the "
                               "older one, `keep` refuses the newer, `never` allows both "
                               "(INITIAL_CONTACT still replaces).",
    "server.log_level": "Least severe messages logged (to standard error: the journal "
                        "under systemd).",
    "users.ldap.bind_dn": "DN the service binds as; unset: an anonymous bind.",
    "users.ldap.ca_file": "CA certificate(s) verifying the directory's TLS certificate; "
                          "unset: the system's trust store.",
}

#: section introductions where the class docstring speaks to programmers
INTROS = {"users.file": "[users.file]: a TOML users file (format below)."}

# ------------------------------------------------------------------------------ reading


def _tree() -> ast.Module:
    return ast.parse(CONFIG_SOURCE.read_text(encoding="utf-8"))


def _comments() -> dict[int, str]:
    """line number -> comment text, for every comment in config.py"""
    out = {}
    text = CONFIG_SOURCE.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def field_comments(cls: ast.ClassDef, comments: dict[int, str], lines: list[str]
                   ) -> dict[str, str]:
    """field -> its comment: the comment lines right above it, then the one beside it."""
    out = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        parts = []
        above = node.lineno - 1
        block = []
        while above in comments and lines[above - 1].lstrip().startswith("#"):
            block.insert(0, comments[above])
            above -= 1
        parts += block
        if node.end_lineno in comments and not lines[node.end_lineno - 1].lstrip().startswith("#"):
            parts.append(comments[node.end_lineno])
        if parts:
            out[node.target.id] = " ".join(parts)
    return out


def _src(node: ast.AST) -> str:
    return ast.unparse(node)


@dataclasses.dataclass
class Key:
    section: str
    name: str
    kind: str  # what the value is
    default: str | None
    required: bool = False
    description: str = ""


def _method(loader: ast.ClassDef, name: str) -> ast.FunctionDef:
    for node in loader.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise SystemExit(f"gen_reference: _Loader.{name} not found in {CONFIG_SOURCE}")


def _assignments(fn: ast.FunctionDef) -> dict[str, ast.AST]:
    out = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def _path_text(node: ast.AST) -> str | None:
    """A key path argument as a template: "users.file.path", "{p}.ca_file", ..."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else _path_text(v.value) or "{…}"
                       for v in node.values)
    if isinstance(node, ast.Name):
        return "{" + node.id + "}"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "_join" and len(node.args) == 2):
        head = _path_text(node.args[0]) or "{…}"
        tail = node.args[1].value if isinstance(node.args[1], ast.Constant) else "{…}"
        return f"{head}.{tail}"
    return None


def _evaluate(node: ast.AST, names: dict):
    return eval(compile(ast.Expression(node), "<config.py>", "eval"), dict(vars(C)), names)


def describe_converter(node: ast.AST, local: dict[str, ast.AST], names: dict) -> str:
    """What a converter of _Loader.get accepts, in words."""
    if isinstance(node, ast.Name) and node.id in local:
        return describe_converter(local[node.id], local, names)
    if isinstance(node, ast.Attribute) and node.attr == "path":
        return "path"
    simple = {"_as_bool": "`true` or `false`", "_as_address": "IP address",
              "_as_ipv4": "IPv4 address", "_as_network": 'network (`"10.99.0.0/16"`)',
              "_as_listen": '`"address:port"`', "_as_mark": '`"VALUE/MASK"`'}
    if isinstance(node, ast.Name) and node.id in simple:
        return simple[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_evaluate(a, names) for a in node.args]
        name = node.func.id
        if name == "_as_int":
            return f"integer, {args[0]:,}..{args[1]:,}"
        if name == "_as_float":
            return f"number, {args[0]:g}..{args[1]:g}"
        if name == "_as_duration":
            return "duration (`30s`, `8h`, `1h30m`, `500ms`)" + ("" if args[0] else ", above 0")
        if name == "_as_str":
            if args and args[0]:
                return "one of " + ", ".join(f'`"{c}"`' for c in args[0])
            return "string"
    raise SystemExit(f"gen_reference: cannot describe converter {_src(node)}")


def _format_default(value, kind: str) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == '`"VALUE/MASK"`':
        return f'"{value[0]:#x}/{value[1]:#x}"'.replace('"0x0/', '"0/')
    if kind.startswith("duration") or kind == "list of duration":
        return f'"{C.format_duration(value)}"'
    if isinstance(value, (tuple, list, frozenset)):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return f'"{value}"'


FILE_METHODS = {"file": "file name", "certificate": "certificate file (PEM or DER)",
                "private_key": "private key file (PEM or DER)",
                "secret_file": "file holding a secret"}


def keys_of(loader: ast.ClassDef, section: str, method: str, cls_name: str) -> list[Key]:
    """The keys ``_Loader.<method>`` reads for ``section``, in reading order."""
    fn = _method(loader, method)
    local = _assignments(fn)
    cls = getattr(C, cls_name)
    names: dict = {"name": "NAME"}
    if "d" in local:
        names["d"] = _evaluate(local["d"], names)
    else:
        try:
            names["d"] = cls()
        except TypeError:
            names["d"] = None
    base = section.replace(".NAME", "")
    found: dict[str, Key] = {}

    def owner(path: str | None) -> str:
        """The section a key path template belongs to."""
        if path is None or path.startswith("{"):
            return section
        parts = path.split(".")
        return ".".join(parts[:-1]) if len(parts) > 1 else parts[0]

    def add(key: str, path: str | None, kind: str, default: str | None) -> None:
        where = owner(path)
        if where.replace(".NAME", "") != base and where != section:
            return
        if key not in found:
            found[key] = Key(section, key, kind, default)

    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
            continue
        attr = node.func.attr
        if attr in ("get", "get_list") and len(node.args) >= 5:
            key = node.args[2].value
            path = _path_text(node.args[1])
            kind = describe_converter(node.args[3], local, names)
            if attr == "get_list":
                kind = "list of " + kind
            try:
                value = _evaluate(node.args[4], names)
                if key == "listen" and isinstance(value, tuple):
                    value = f"{value[0]}:{value[1]}"
                default = _format_default(value, kind)
            except (NameError, AttributeError, TypeError, ValueError):
                # a default computed from other keys: shown as written
                default = f"`{_src(node.args[4])}`"
            add(key, path, kind, default)
        elif attr == "proposals":
            key = node.args[2].value
            default = node.args[3]
            if isinstance(default, ast.Name) and default.id in local:
                default = local[default.id]
            add(key, None, "list of proposals (strongSwan syntax, or `%set` names)",
                f"`{_src(default)}` (below)")
        elif attr in FILE_METHODS:
            path = _path_text(node.args[0])
            if path is None:
                continue
            key = path.rsplit(".", 1)[-1].split("[")[0]
            kind = FILE_METHODS[attr]
            if "[" in path:
                kind = "list of " + kind.replace("certificate file", "CA certificate files")
            add(key, path, kind, None)
    keys = list(found.values())
    _mark_required(fn, keys)
    return keys


def _mark_required(fn: ast.FunctionDef, keys: list[Key]) -> None:
    """Required: named by a ``for required in (...)`` loop, or answered with a "missing"
    error when absent (``if "key" not in t: self.error(..., "missing...")``)."""
    required: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple) and isinstance(
                node.target, ast.Name) and node.target.id == "required":
            required |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(
                node.test.ops[0], ast.NotIn) and isinstance(node.test.left, ast.Constant):
            text = ast.unparse(node)
            if "missing" in text:
                required.add(node.test.left.value)
    for key in keys:
        key.required = key.name in required


def checks_of(loader: ast.ClassDef, section: str, methods: list[str]
              ) -> list[tuple[str, str, str]]:
    """(error|warning, key path template, message template) of each check."""
    out = []
    for name in methods:
        fn = _method(loader, name)
        for node in ast.walk(fn):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
                    and node.func.attr in ("error", "warn") and len(node.args) == 2):
                path = _path_text(node.args[0]) or "{…}"
                message = _message(node.args[1])
                kind = "error" if node.func.attr == "error" else "warning"
                entry = (kind, _display_path(path, section), message)
                if entry not in out:
                    out.append(entry)
    return out


def _message(node: ast.AST) -> str:
    """A message template, formatted values shown as "…"."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _message(node.left) + _message(node.right)
    if isinstance(node, ast.IfExp):
        return _message(node.body)
    if isinstance(node, ast.Call):
        return "…"
    return "…"


def _display_path(path: str, section: str) -> str:
    """``{p}.remote_auth`` -> ``connections.NAME.remote_auth``; other variables as ``…``."""
    for var in ("{p}", "{path}"):
        if path.startswith(var):
            path = section + path[len(var):]
    return re.sub(r"\{[^}]*\}", "…", path)


# ------------------------------------------------------------------------------ config doc


def config_reference() -> tuple[str, list[Key]]:
    tree = _tree()
    classes = _classes(tree)
    loader = classes["_Loader"]
    comments = _comments()
    lines = CONFIG_SOURCE.read_text(encoding="utf-8").splitlines()
    top = _method(loader, "config")
    known = _assignments(top).get("known")
    declared = {e.value for e in known.elts} if isinstance(known, ast.Tuple) else set()
    if declared != TOP_LEVEL:
        raise SystemExit(f"gen_reference: the configuration's top-level tables are now "
                         f"{sorted(declared)}; update SECTIONS/TOP_LEVEL in {__file__}")
    out = [
        "# Configuration reference",
        "",
        ("<!-- Generated by tools/gen_reference.py from ikesrv/config.py; do not edit. "
        "tests/deploy/test_reference.py fails when it is stale. -->"),
        "",
        ("The configuration is TOML, `/etc/ikesrv/ikesrv.toml` by default. "
        "`ikesrv check-config -c FILE` checks it: every error with its key path (exit 1), "
        "or a summary with the warnings (exit 0). Relative file names are relative to the "
        "configuration file's directory. Durations are seconds or a number with a unit: "
        '`"500ms"`, `"30s"`, `"5m"`, `"8h"`, `"1d"`, `"1h30m"`. SIGHUP reloads the file '
        "(docs/operations.md)."),
        "",
        "Sections: " + ", ".join(f"[`[{s}]`](#{s.replace('.', '').lower()})"
                                 for s in SECTIONS) + ".",
        "",
    ]
    all_keys: list[Key] = []
    for section, (cls_name, method) in SECTIONS.items():
        cls_node = classes[cls_name]
        doc = (INTROS.get(section) or ast.get_docstring(cls_node) or "").replace("``", "`")
        described = field_comments(cls_node, comments, lines)
        keys = keys_of(loader, section, method, cls_name)
        out += [f"## {section}", ""]
        if doc:
            first, _, rest = doc.partition("\n")
            intro = first.split(":", 1)[-1].strip() if first.startswith("[") else first
            out += [intro[:1].upper() + intro[1:], ""]
            if rest.strip():
                out += [" ".join(rest.split()), ""]
        out += ["| key | value | default | |", "|---|---|---|---|"]
        for key in keys:
            # a note, written for operators, supersedes the comment written beside the code
            comment = described.get(key.name, "")
            if comment.startswith("None:"):
                comment = "unset:" + comment[5:]
            key.description = NOTES.get(f"{section}.{key.name}") or comment
            default = "**required**" if key.required else (key.default or "none")
            text = key.description.replace("|", "\\|")
            out.append(f"| `{key.name}` | {key.kind} | {default} | {text} |")
        out.append("")
        checks = checks_of(loader, section, CHECK_METHODS[section])
        if checks:
            out += ["Checks (`…` stands for values from the file):", ""]
            for kind, path, message in checks:
                out.append(f"- {kind} at `{path}`: {message}")
            out.append("")
        all_keys += keys
    out += _users_file_section(classes["UserEntry"], comments, lines)
    out += _defaults_section()
    return "\n".join(out).rstrip() + "\n", all_keys


def _users_file_section(cls: ast.ClassDef, comments, lines) -> list[str]:
    described = field_comments(cls, comments, lines)
    fields = [f.name for f in dataclasses.fields(C.UserEntry) if f.name != "name"]
    out = ["## The users file", "",
           "`[users.file] path`: one table per user name, `[alice]`, with at least one of:", "",
           "| key | |", "|---|---|"]
    for name in fields:
        out.append(f"| `{name}` | {described.get(name, '')} |")
    out += ["", ("`python3 -m ikesrv.config hash-password` prints a `password_hash` line. The "
            "file is read again when it changes; a version with errors is logged and the "
            "previous one kept."), ""]
    return out


def _defaults_section() -> list[str]:
    out = ["## Defaults named above", ""]
    for name in sorted(vars(C)):
        value = getattr(C, name)
        if name.startswith("DEFAULT_") and isinstance(value, tuple):
            out.append(f"- `{name}` = " + ", ".join(f"`{v}`" for v in value))
    return out + [""]


# ------------------------------------------------------------------------------ metrics doc


def metrics_reference() -> str:
    from prometheus_client import CollectorRegistry

    from ikesrv import metrics as M

    worker = CollectorRegistry()
    worker_metrics = M.Metrics(worker, pools=("POOL",))
    supervisor = CollectorRegistry()
    supervisor_metrics = M.SupervisorMetrics(supervisor)
    out = [
        "# Metrics reference",
        "",
        ("<!-- Generated by tools/gen_reference.py from ikesrv/metrics.py; do not edit. "
        "tests/deploy/test_reference.py fails when it is stale. -->"),
        "",
        ("The supervisor serves every worker's series, summed, on `[metrics] listen` "
        "(default `http://127.0.0.1:9810/metrics`). Counters and histograms add up over "
        "every worker process that ever ran; gauges over the live ones. Label values known "
        "in advance are published at zero from the start (listed below), so that dashboards "
        "and alerts see 0 rather than no data. `worker` is a worker's index (0..N-1), "
        "`POOL` stands for each `[pools.NAME]`. grafana/ has the dashboard and alert rules "
        "built on these names."),
        "",
    ]
    from prometheus_client.metrics import MetricWrapperBase

    for owner, registry, who in ((worker_metrics, worker, "each worker"),
                                 (supervisor_metrics, supervisor, "the supervisor")):
        families = {f.name: f for f in registry.collect()}
        for metric in vars(owner).values():
            if not isinstance(metric, MetricWrapperBase):
                continue
            family = families[metric._name]  # what the registry publishes for it
            suffix = "_total" if family.type == "counter" else ""
            out += [f"## `{family.name}{suffix}`", "",
                    f"{family.type}, from {who}: {family.documentation}.", ""]
            if family.type == "histogram":
                buckets = sorted({float(x.labels["le"]) for x in family.samples
                                  if x.name.endswith("_bucket") and x.labels["le"] != "+Inf"})
                out += [(f"Buckets (seconds): {', '.join(f'{b:g}' for b in buckets)}; series "
                        f"`{family.name}_bucket`, `_sum`, `_count`."), ""]
            names = list(metric._labelnames)
            if not names:
                out += ["No labels.", ""]
                continue
            published: dict[str, list[str]] = {n: [] for n in names}
            for sample in family.samples:
                for n in names:
                    value = sample.labels.get(n)
                    if value is not None and value not in published[n]:
                        published[n].append(value)
            out += ["| label | values published at start |", "|---|---|"]
            for n in names:
                if n == "worker":
                    shown = "each worker's index, `0` to N-1"
                else:
                    shown = ", ".join(f"`{v}`" for v in published[n]) or \
                        "none: a series appears with its first event"
                out.append(f"| `{n}` | {shown} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------ nftables


def nft_sample() -> str:
    """``ikesrv firewall --nft`` for the example's [server] (read by the loader alone: the
    example's certificates and keys do not exist here)."""
    import tomllib

    from ikesrv.cli import nft_rules

    loader = C._Loader(NFT_EXAMPLE.parent)
    server = loader.server(tomllib.loads(NFT_EXAMPLE.read_text()).get("server", {}))
    if loader.errors:
        raise SystemExit(f"gen_reference: {NFT_EXAMPLE}: {loader.errors}")
    return nft_rules(server.addresses, server.port, server.natt_port,
                     "/etc/ikesrv/ikesrv.toml (deploy/examples/ikev1-ikev2.toml)")


# ------------------------------------------------------------------------------ main


def outputs() -> dict[Path, str]:
    config_doc, _ = config_reference()
    return {CONFIG_DOC: config_doc, METRICS_DOC: metrics_reference(), NFT_SAMPLE: nft_sample()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale.append(path)
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(),
                                        str(path), "generated", lineterm="", n=1)
            print("\n".join(list(diff)[:40]), file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("stale: " + ", ".join(str(p.relative_to(ROOT)) for p in stale)
              + " (run: python tools/gen_reference.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
