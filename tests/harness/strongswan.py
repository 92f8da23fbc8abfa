"""strongSwan's charon as a test peer in a network namespace, driven from Python.

Owns: ``SwanctlConf`` (swanctl.conf written from nested dicts), ``Charon`` (one
independent daemon: its own strongswan.conf, swanctl directory, VICI socket, log file and
a private tmpfs on /run, because charon's pid file path is compiled in), and the parsed
views ``IkeSa`` / ``ChildSa`` of ``list-sas``. Several instances run side by side, one
per namespace; the host's strongSwan configuration and /run are never touched.

This machine's kernel has XFRM but no ESP, so the default kernel interface is
``kernel-libipsec``: ESP in user space over a TUN device, always UDP-encapsulated (charon
fakes NAT detection to get there), routes in table 220. ``kernel="netlink"`` puts SAs in
the kernel instead (for kernels with ESP). ``log_ike=4`` makes charon log the derived IKE
keys (see tests/harness/ikekeys.py); never use it outside tests.

Imports only the standard library and tests.harness.{proc,cleanup,netns,vici,pki}.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import vici
from .cleanup import Cleanup
from .netns import Namespace
from .proc import HarnessError, Process, run, tail, wait_until

DEBIAN_CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "swanctl"
# "resolve" is left out on purpose: it would rewrite the host's resolv.conf
BASE_PLUGINS = (
    "random nonce x509 revocation constraints pubkey pkcs1 pkcs7 pkcs8 pkcs12 pem openssl "
    "gmp curve25519 aes sha1 sha2 md5 hmac gcm kdf attr {kernel} socket-default vici "
    "updown eap-identity eap-mschapv2 eap-md5 eap-gtc xauth-generic counters"
)
KERNEL_PLUGINS = {"libipsec": "kernel-libipsec kernel-netlink", "netlink": "kernel-netlink"}
SWANCTL_SUBDIRS = (
    "x509",
    "x509ca",
    "x509aa",
    "x509ocsp",
    "x509crl",
    "x509ac",
    "pubkey",
    "private",
    "rsa",
    "ecdsa",
    "pkcs8",
    "pkcs12",
)
_NEEDS_QUOTES = re.compile(r'[\s#{}"=,]|^$')


# --- swanctl.conf -------------------------------------------------------------------


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        v = ", ".join(str(x) for x in v)
    s = str(v)
    if _NEEDS_QUOTES.search(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return s


def render_settings(tree: dict[str, Any], indent: int = 0) -> str:
    """strongSwan's settings syntax (swanctl.conf, strongswan.conf) from nested dicts:
    dict -> section, list -> comma-separated value, bool -> yes/no."""
    pad = "    " * indent
    lines = []
    for key, value in tree.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            body = render_settings(value, indent + 1)
            if body:
                lines.append(body)
            lines.append(f"{pad}}}")
        elif value is not None:
            lines.append(f"{pad}{key} = {_value(value)}")
    return "\n".join(lines)


class SwanctlConf:
    """A swanctl.conf built in Python::

    conf = SwanctlConf()
    conf.connection("gw", version=2, remote_addrs="198.51.100.1",
                    proposals="aes256gcm16-prfsha384-ecp384", vips="0.0.0.0",
                    local={"auth": "psk", "id": "client1@example.test"},
                    remote={"auth": "psk", "id": "gw.example.test"},
                    children={"net": {"remote_ts": "192.0.2.0/25",
                                      "esp_proposals": "aes256gcm16-ecp384"}})
    conf.secret("ike-gw", secret="...")          # secrets section "ike-gw"
    conf.pool("rw_pool", addrs="192.0.2.128/25")
    text = conf.render()
    """

    def __init__(self, comment: str = "") -> None:
        self.comment = comment
        self.connections: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, dict[str, Any]] = {}

    def connection(self, name: str, **settings: Any) -> SwanctlConf:
        self.connections[name] = settings
        return self

    def secret(self, name: str, **settings: Any) -> SwanctlConf:
        """A ``secrets`` entry; the name's prefix says its type (ike-, eap-, xauth-...)."""
        self.secrets[name] = settings
        return self

    def pool(self, name: str, **settings: Any) -> SwanctlConf:
        self.pools[name] = settings
        return self

    def render(self) -> str:
        tree: dict[str, Any] = {}
        if self.connections:
            tree["connections"] = self.connections
        if self.pools:
            tree["pools"] = self.pools
        if self.secrets:
            tree["secrets"] = self.secrets
        head = "".join(f"# {line}\n" for line in self.comment.splitlines())
        return head + render_settings(tree) + "\n"

    def __str__(self) -> str:
        return self.render()


# --- list-sas, parsed ---------------------------------------------------------------


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


@dataclass
class ChildSa:
    """One CHILD_SA of ``list-sas`` (charon's names, dashes made underscores)."""

    name: str
    state: str
    mode: str
    protocol: str
    encap: bool
    spi_in: str
    spi_out: str
    encr_alg: str
    encr_keysize: int
    integ_alg: str
    dh_group: str
    local_ts: list[str]
    remote_ts: list[str]
    bytes_in: int
    bytes_out: int
    packets_in: int
    packets_out: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_vici(cls, d: dict[str, Any]) -> ChildSa:
        return cls(
            name=d.get("name", ""),
            state=d.get("state", ""),
            mode=d.get("mode", ""),
            protocol=d.get("protocol", ""),
            encap=d.get("encap") == "yes",
            spi_in=d.get("spi-in", ""),
            spi_out=d.get("spi-out", ""),
            encr_alg=d.get("encr-alg", ""),
            encr_keysize=_int(d.get("encr-keysize")),
            integ_alg=d.get("integ-alg", ""),
            dh_group=d.get("dh-group", ""),
            local_ts=list(d.get("local-ts", [])),
            remote_ts=list(d.get("remote-ts", [])),
            bytes_in=_int(d.get("bytes-in")),
            bytes_out=_int(d.get("bytes-out")),
            packets_in=_int(d.get("packets-in")),
            packets_out=_int(d.get("packets-out")),
            raw=d,
        )


@dataclass
class IkeSa:
    """One IKE_SA of ``list-sas``: its connection name and the fields tests compare."""

    name: str
    uniqueid: int
    version: int
    state: str
    initiator: bool
    local_host: str
    local_port: int
    local_id: str
    remote_host: str
    remote_port: int
    remote_id: str
    remote_eap_id: str
    remote_xauth_id: str
    initiator_spi: str
    responder_spi: str
    nat_local: bool
    nat_remote: bool
    nat_fake: bool
    encr_alg: str
    encr_keysize: int
    integ_alg: str
    prf_alg: str
    dh_group: str
    local_vips: list[str]
    remote_vips: list[str]
    children: list[ChildSa]
    raw: dict[str, Any] = field(repr=False)

    @property
    def established(self) -> bool:
        return self.state == "ESTABLISHED"

    def child(self, name: str) -> ChildSa:
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(
            f"no CHILD_SA {name!r} in IKE_SA {self.name} ({[c.name for c in self.children]})"
        )

    @classmethod
    def from_vici(cls, name: str, d: dict[str, Any]) -> IkeSa:
        children = [ChildSa.from_vici(c) for c in d.get("child-sas", {}).values()]
        return cls(
            name=name,
            uniqueid=_int(d.get("uniqueid")),
            version=_int(d.get("version")),
            state=d.get("state", ""),
            initiator=d.get("initiator") == "yes",
            local_host=d.get("local-host", ""),
            local_port=_int(d.get("local-port")),
            local_id=d.get("local-id", ""),
            remote_host=d.get("remote-host", ""),
            remote_port=_int(d.get("remote-port")),
            remote_id=d.get("remote-id", ""),
            remote_eap_id=d.get("remote-eap-id", ""),
            remote_xauth_id=d.get("remote-xauth-id", ""),
            initiator_spi=d.get("initiator-spi", ""),
            responder_spi=d.get("responder-spi", ""),
            nat_local=d.get("nat-local") == "yes",
            nat_remote=d.get("nat-remote") == "yes",
            nat_fake=d.get("nat-fake") == "yes",
            encr_alg=d.get("encr-alg", ""),
            encr_keysize=_int(d.get("encr-keysize")),
            integ_alg=d.get("integ-alg", ""),
            prf_alg=d.get("prf-alg", ""),
            dh_group=d.get("dh-group", ""),
            local_vips=list(d.get("local-vips", [])),
            remote_vips=list(d.get("remote-vips", [])),
            children=children,
            raw=d,
        )


@dataclass
class ControlResult:
    """The outcome of initiate/terminate: ``ok`` and charon's log lines for it."""

    ok: bool
    errmsg: str
    log: list[str]

    def __bool__(self) -> bool:
        return self.ok

    def log_text(self) -> str:
        return "\n".join(self.log)


# --- the daemon ---------------------------------------------------------------------


class Charon:
    """One charon in ``ns``. ``start()`` writes its configuration and waits until VICI
    answers; ``load()`` runs ``swanctl --load-all``; the rest goes over VICI."""

    def __init__(
        self,
        ns: Namespace,
        name: str,
        cleanup: Cleanup,
        *,
        kernel: str = "libipsec",
        plugins: str | None = None,
        log_ike: int = 2,
        log_levels: dict[str, int] | None = None,
        charon_settings: dict[str, Any] | None = None,
        charon_bin: str = DEBIAN_CHARON,
    ):
        if kernel not in KERNEL_PLUGINS:
            raise ValueError(f"kernel must be one of {sorted(KERNEL_PLUGINS)}")
        self.ns = ns
        self.name = name
        self.cleanup = cleanup
        self.kernel = kernel
        self.plugins = plugins or BASE_PLUGINS.format(kernel=KERNEL_PLUGINS[kernel])
        self.log_levels = {"default": 1, "ike": log_ike, "cfg": 2, "knl": 1, **(log_levels or {})}
        self.charon_settings = charon_settings or {}
        self.charon_bin = charon_bin
        self.dir = cleanup.mkdtemp(f"sw-{name}")
        self.swanctl_dir = self.dir / "swanctl"
        self.conf_path = self.dir / "strongswan.conf"
        self.vici_path = self.dir / "charon.vici"
        self.log_path = self.dir / "charon.log"
        self.process: Process | None = None
        for sub in SWANCTL_SUBDIRS:
            (self.swanctl_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.swanctl_dir / "private").chmod(0o700)

    def __repr__(self) -> str:
        return f"<Charon {self.name} in {self.ns.name} {self.process!r}>"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STRONGSWAN_CONF": str(self.conf_path),
            "SWANCTL_DIR": str(self.swanctl_dir),
        }

    def _strongswan_conf(self) -> str:
        charon: dict[str, Any] = {
            "load": self.plugins,
            # a test peer fails fast instead of retransmitting for minutes
            "retransmit_tries": 3,
            "retransmit_timeout": 2.0,
            # lets an IKEv1 Aggressive Mode + PSK responder (or initiator) work
            "i_dont_care_about_security_and_use_aggressive_mode_psk": True,
            "plugins": {
                "vici": {"socket": f"unix://{self.vici_path}"},
                # EAP-GTC passwords checked against swanctl secrets
                "eap-gtc": {"backend": "generic"},
            },
            "filelog": {
                "main": {
                    "path": str(self.log_path),
                    "time_format": "%H:%M:%S",
                    "append": False,
                    "flush_line": True,
                    **self.log_levels,
                }
            },
        }
        _merge(charon, self.charon_settings)
        tree = {"charon": charon, "swanctl": {"socket": f"unix://{self.vici_path}"}}
        return (
            f"# written by tests/harness/strongswan.py for {self.name}\n"
            + render_settings(tree)
            + "\n"
        )

    def write_config(self, conf: SwanctlConf | str) -> None:
        (self.swanctl_dir / "swanctl.conf").write_text(str(conf))

    def add_file(self, subdir: str, src: str | os.PathLike, name: str | None = None) -> Path:
        """Copy a credential into swanctl/<subdir>/ (x509, x509ca, private, ...)."""
        dst = self.swanctl_dir / subdir / (name or Path(src).name)
        shutil.copyfile(src, dst)
        if subdir == "private":
            dst.chmod(0o600)
        return dst

    def add_credentials(self, pki: Any, cert: str | None = None) -> None:
        """The test PKI's root CA, and the certificate + key named ``cert`` (e.g. "gw",
        "client1", "gw-ecdsa"): swanctl loads them with ``--load-all``."""
        self.add_file("x509ca", pki.ca.cert_path, "ca.crt")
        if cert:
            item = pki[cert]
            self.add_file("x509", item.cert_path, f"{cert}.crt")
            self.add_file("private", item.key_path, f"{cert}.key")

    def start(self, conf: SwanctlConf | str | None = None, *, timeout: float = 10.0) -> Charon:
        """Write the configuration and start charon; returns when VICI answers."""
        if not os.access(self.charon_bin, os.X_OK):
            raise HarnessError(f"no charon at {self.charon_bin}")
        if conf is not None:
            self.write_config(conf)
        self.conf_path.write_text(self._strongswan_conf())
        self.cleanup.add_log(f"charon {self.name} log", self.log_path)
        self.process = self.ns.spawn(
            [self.charon_bin],
            name=f"charon-{self.name}",
            log_path=self.dir / "charon.out",
            # charon's pid file (/var/run/charon.pid) is compiled in: a private /run
            # in the mount namespace that `ip netns exec` made keeps instances apart
            setup_shell="mount -t tmpfs -o size=8m,mode=0755 ikt-run /run",
            env={**os.environ, "STRONGSWAN_CONF": str(self.conf_path)},
        )

        def up() -> bool:
            if not self.process.alive():
                raise HarnessError(
                    f"charon {self.name} exited {self.process.returncode}:\n"
                    f"{self.process.output()[-2000:]}\n{tail(self.log_path, 20)}"
                )
            if not self.vici_path.exists():
                return False
            try:
                with vici.Session(str(self.vici_path), timeout=2) as s:
                    s.request("stats")
                return True
            except (OSError, vici.ViciError):
                return False

        wait_until(up, timeout, f"charon {self.name}'s VICI socket", interval=0.02)
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        return self.process.stop(timeout) if self.process else None

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    # --- swanctl and VICI -------------------------------------------------------------

    def swanctl(self, *args: str, timeout: float = 30.0, check: bool = True):
        """``swanctl ARGS`` against this instance (runs in the host namespaces: it only
        needs the VICI socket)."""
        return run([SWANCTL, *args], timeout=timeout, check=check, env=self.env)

    def load(self, conf: SwanctlConf | str | None = None) -> str:
        """``swanctl --load-all`` (after writing ``conf`` if given); its output."""
        if conf is not None:
            self.write_config(conf)
        return self.swanctl("--load-all", "--noprompt").stdout

    def session(self, timeout: float = 30.0) -> vici.Session:
        return vici.Session(str(self.vici_path), timeout=timeout)

    def request(self, command: str, msg: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.session() as s:
            return s.request(command, msg)

    def version(self) -> dict[str, Any]:
        return self.request("version")

    def stats(self) -> dict[str, Any]:
        return self.request("stats")

    def _control(self, command: str, msg: dict[str, Any], timeout: float) -> ControlResult:
        msg = {**msg, "timeout": int(timeout * 1000), "loglevel": 2}
        with self.session(timeout + 10) as s:
            response, events = s.streamed(command, "control-log", msg)
        log = [e.get("msg", "") for e in events]
        return ControlResult(response.get("success") == "yes", response.get("errmsg", ""), log)

    def initiate(
        self, child: str | None = None, ike: str | None = None, timeout: float = 20.0
    ) -> ControlResult:
        """Initiate CHILD_SA ``child`` (of connection ``ike``), waiting at most ``timeout``
        seconds; ``.ok`` tells whether it was established, ``.log`` what charon said."""
        msg: dict[str, Any] = {"init-limits": "no"}
        if child:
            msg["child"] = child
        if ike:
            msg["ike"] = ike
        return self._control("initiate", msg, timeout)

    def terminate(
        self,
        *,
        ike: str | None = None,
        child: str | None = None,
        ike_id: int | None = None,
        force: bool = False,
        timeout: float = 10.0,
    ) -> ControlResult:
        msg: dict[str, Any] = {}
        if ike:
            msg["ike"] = ike
        if child:
            msg["child"] = child
        if ike_id is not None:
            msg["ike-id"] = ike_id
        if force:
            msg["force"] = "yes"
        return self._control("terminate", msg, timeout)

    def list_sas(self, ike: str | None = None) -> list[IkeSa]:
        """Every IKE_SA (of connection ``ike`` if given), parsed."""
        with self.session() as s:
            _, events = s.streamed("list-sas", "list-sa", {"ike": ike} if ike else {})
        return [IkeSa.from_vici(name, d) for e in events for name, d in e.items()]

    def wait_sa(
        self,
        predicate=lambda sa: sa.established,
        timeout: float = 10.0,
        what: str = "an established IKE_SA",
    ) -> IkeSa:
        """The first IKE_SA satisfying ``predicate``, waiting at most ``timeout`` s."""

        def find() -> IkeSa | None:
            return next((sa for sa in self.list_sas() if predicate(sa)), None)

        return wait_until(find, timeout, f"{what} on charon {self.name}", interval=0.1)

    def list_conns(self) -> dict[str, Any]:
        with self.session() as s:
            _, events = s.streamed("list-conns", "list-conn", {})
        out: dict[str, Any] = {}
        for e in events:
            out.update(e)
        return out

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """The first match of regex ``pattern`` in charon's log, within ``timeout`` s."""
        rx = re.compile(pattern)
        return wait_until(
            lambda: rx.search(self.log_text()), timeout, f"/{pattern}/ in charon {self.name}'s log"
        )


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def charon_version(charon_bin: str = DEBIAN_CHARON) -> str:
    """``5.9.8`` etc., from the binary's --version (without starting a daemon)."""
    cp = run([charon_bin, "--version"], timeout=10, check=False)
    m = re.search(r"(\d+\.\d+\.\d+)", cp.stdout + cp.stderr)
    return m.group(1) if m else "unknown"
