"""Configuration: the TOML file (DESIGN §6) read into frozen dataclasses, checked as a whole.

Owns: the schema of ``/etc/ikesrv/ikesrv.toml`` and of the users file, their defaults,
the ``Secret`` wrapper for pre-shared keys and passwords, duration syntax, and every check
that can be made before serving: types, unknown keys (with "did you mean"), proposals
(parsed by ikesrv.crypto.proposals), weak algorithms without opt-in, pools that are not
networks, files that are missing or unreadable, certificates and keys that do not load
or do not match, and settings that contradict each other. All problems are collected
and raised together as ``ConfigError([(key_path, message), ...])``; problems that do not
stop the responder (secret files readable by others, an LDAP URL without TLS) are
``Config.warnings``.

Must not import the core, the server or any I/O edge: it is imported by all of them.
Secrets are read here, once, and never appear in ``repr``, ``str`` or ``summary()``.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth import ldap_wire
from .errors import ConfigError

__all__ = [
    "Config", "ConfigError", "ConnectionConfig", "FrozenMap", "KernelConfig", "LdapConfig",
    "MetricsConfig", "PoolConfig", "Secret", "ServerConfig", "UserEntry", "UsersConfig",
    "UsersFileConfig", "DEFAULT_PATH", "DEMO_PATH", "default_path", "format_duration",
    "hash_password", "load", "load_text", "load_users", "parse_duration", "verify_password",
]

DEFAULT_PATH = Path("/etc/ikesrv/ikesrv.toml")
DEMO_PATH = Path(__file__).resolve().parent / "data" / "demo.toml"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Modern defaults: AEAD first, then CBC + SHA-2 for clients without GCM (RFC 8247 §2-3).
DEFAULT_IKE_PROPOSALS_V2 = (
    "aes256gcm16-prfsha384-ecp384",
    "aes128gcm16-prfsha256-x25519",
    "aes256-sha256-modp2048",
)
# IKEv1 phase 1 has no AEAD transforms (RFC 2409 predates them).
DEFAULT_IKE_PROPOSALS_V1 = ("aes256-sha256-modp2048", "aes128-sha256-modp2048")
DEFAULT_ESP_PROPOSALS = ("aes256gcm16", "aes128gcm16", "aes256-sha256")

LOCAL_AUTH = ("psk", "pubkey")
REMOTE_AUTH_V2 = ("psk", "pubkey", "eap-mschapv2", "eap-gtc", "eap-md5")
REMOTE_AUTH_V1 = ("psk", "pubkey", "xauth")
USER_AUTH = ("eap-mschapv2", "eap-gtc", "eap-md5", "xauth")


# --- value types ---------------------------------------------------------------------


class Secret:
    """A key or password read from a file: ``reveal()`` gives it; repr and str never do."""

    __slots__ = ("_value", "source")

    def __init__(self, value: bytes, source: str = ""):
        self._value = bytes(value)
        #: Where it came from (a file path, "users file"), shown in place of the value.
        self.source = source

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.source})" if self.source else "Secret(hidden)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value).digest())


class FrozenMap(Mapping):
    """An immutable, ordered, picklable mapping (pools and connections by name)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping | None = None):
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds from ``8h``, ``30s``, ``1h30m``, ``500ms`` or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a duration such as \"30s\", got {_kind(value)}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            text += "s"  # a bare number is seconds, as an unquoted one is
        pos, seconds = 0, 0.0
        for match in _DURATION_RE.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            raise ValueError(
                f'bad duration "{value}": use seconds or a number with a unit '
                '(ms, s, m, h, d), e.g. "30s", "8h", "1h30m", "500ms"'
            )
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative ({value})")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest readable form: 28800 -> "8h", 5400 -> "1h30m", 0.5 -> "500ms"."""
    if seconds < 1 and seconds:
        return f"{seconds * 1000:g}ms"
    parts = []
    rest = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            count = int(rest // size)
            parts.append(f"{count}{unit}")
            rest -= count * size
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


# --- users file ----------------------------------------------------------------------
# One table per user name:
#   [alice]
#   password_hash = "$scrypt$ln=14,r=8,p=1$<salt>$<key>"   XAuth, EAP-GTC
#   nt_hash = "<32 hex digits>"                             EAP-MSCHAPv2
#   password = "..."                                        clear text, only for EAP-MD5
# password_hash is scrypt (RFC 7914) with its cost in the string (ln = log2 N), salt and
# derived key in standard base64 without padding.

_SCRYPT_RE = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)


@dataclass(frozen=True, slots=True)
class UserEntry:
    """One user of the users file; at least one credential is set."""

    name: str
    password_hash: Secret | None = None  # "$scrypt$..." (XAuth, EAP-GTC)
    nt_hash: Secret | None = None  # 16 bytes, MD4(UTF-16LE(password)) (EAP-MSCHAPv2)
    password: Secret | None = None  # clear text (EAP-MD5 needs it)


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt_params(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    match = _SCRYPT_RE.fullmatch(encoded)
    if not match:
        raise ValueError(
            "not a password hash of the form $scrypt$ln=14,r=8,p=1$<salt>$<key> "
            "(make one with: python3 -m ikesrv.config hash-password)"
        )
    ln, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if not (1 <= ln <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError(f"scrypt cost out of range (ln={ln} r={r} p={p}; ln<=20, r<=32, p<=16)")
    salt, key = _b64decode(match.group(4)), _b64decode(match.group(5))
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("scrypt salt or key too short (salt >= 8 bytes, key >= 16 bytes)")
    return ln, r, p, salt, key


def _scrypt(password: str, ln: int, r: int, p: int, salt: bytes, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
        maxmem=130 * r * n * p + (1 << 20), dklen=length,
    )


def hash_password(password: str, ln: int = 14, r: int = 8, p: int = 1) -> str:
    """A ``password_hash`` value for the users file (scrypt, random 16-byte salt)."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, ln, r, p, salt, 32)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode().rstrip("=")

    return f"$scrypt$ln={ln},r={r},p={p}${b64(salt)}${b64(key)}"


def verify_password(password_hash: Secret, password: str) -> bool:
    """True when ``password`` matches a users-file ``password_hash``."""
    ln, r, p, salt, key = _scrypt_params(password_hash.reveal().decode("ascii"))
    return hmac.compare_digest(_scrypt(password, ln, r, p, salt, len(key)), key)


def load_users(path: Path) -> FrozenMap:
    """Read a users file into ``FrozenMap[name, UserEntry]``; ConfigError names each problem."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(str(path), f"cannot read the users file: {_os_reason(exc)}")])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(path), f"not valid TOML: {exc}")])
    errors: list[tuple[str, str]] = []
    users = {}
    source = f"users file {path}"
    credentials = ("password_hash", "nt_hash", "password")
    for name, entry in data.items():
        where = f"{path}: {_key(name)}"
        if not isinstance(entry, dict):
            errors.append((where, "expected a table [name] holding password_hash, nt_hash "
                           "or password"))
            continue
        values: dict[str, Secret] = {}
        for key, value in entry.items():
            problem = None
            if key not in credentials:
                problem = _unknown_key(key, credentials)
            elif not isinstance(value, str) or not value:
                problem = f"expected a non-empty string, got {_kind(value)}"
            elif key == "nt_hash":
                if re.fullmatch(r"[0-9A-Fa-f]{32}", value):
                    values[key] = Secret(bytes.fromhex(value), source)
                else:
                    problem = "expected 32 hex digits (the NT hash: MD4 of the UTF-16LE password)"
            elif key == "password_hash":
                try:
                    _scrypt_params(value)
                    values[key] = Secret(value.encode("ascii"), source)
                except ValueError as exc:
                    problem = str(exc)
            else:
                values[key] = Secret(value.encode("utf-8"), source)
            if problem:
                errors.append((f"{where}.{key}", problem))
        if not entry:
            errors.append((where, "no credential: set password_hash, nt_hash or password"))
        users[name] = UserEntry(name, **values)
    if errors:
        raise ConfigError(errors)
    return FrozenMap(users)


# --- the configuration tree ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """[server]: where IKE listens and how the daemon protects itself."""

    addresses: tuple[IPAddress, ...] = (ipaddress.IPv4Address("0.0.0.0"),)
    port: int = 500
    natt_port: int = 4500
    workers: int = 0  # 0 = one per CPU; at most 256 (the index is our SPIs' top byte)
    control_socket: Path = Path("/run/ikesrv/control.sock")
    # Half-open IKE SAs (whole daemon) above which IKE_SA_INIT needs a COOKIE (RFC 7296 §2.6)
    cookie_threshold: int = 100
    cookie_threshold_per_ip: int = 10  # the same, per initiator address
    half_open_limit: int = 10000  # above this, new IKE_SA_INIT requests are dropped
    half_open_limit_per_ip: int = 50  # the same, per initiator address (0 = no limit)
    half_open_timeout: float = 30.0  # seconds a half-open IKE SA may wait for IKE_AUTH
    # Datagrams per second per source address that cost work before anyone is known (first
    # messages, unknown SPIs, garbage; not those of SAs we hold): a token bucket holding
    # two seconds' worth; 0 = no limit (ikesrv.admission)
    rate_limit_per_ip: int = 100
    max_message_size: int = 10000  # bytes; larger IKE messages are dropped unread
    receive_buffer: int = 4 * 1024 * 1024  # SO_RCVBUF bytes; holds datagrams over a restart
    shutdown_timeout: float = 5.0  # SIGTERM: time allowed for the Delete exchanges
    log_level: str = "info"  # debug | info | warning | error


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """[metrics]: the Prometheus endpoint the supervisor serves."""

    enabled: bool = True
    address: IPAddress = ipaddress.IPv4Address("127.0.0.1")
    port: int = 9810


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """[kernel]: who installs the ESP SAs."""

    backend: str = "xfrm"  # xfrm | none
    # (value, mask) on every XFRM state and policy ikesrv installs; how it finds its own
    mark: tuple[int, int] = (0, 0x0010_0000)


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """[pools.NAME]: virtual addresses handed to clients, with their DNS/WINS servers.

    ikesrv.pool hands out the host addresses of ``addresses`` except ``exclude`` and the
    pool's own DNS/NBNS servers when they fall inside it.
    """

    name: str
    addresses: IPNetwork
    dns: tuple[IPAddress, ...] = ()
    nbns: tuple[ipaddress.IPv4Address, ...] = ()
    split_include: tuple[IPNetwork, ...] = ()  # empty: the client sends everything
    exclude: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True, slots=True)
class UsersFileConfig:
    """[users.file]: a TOML users file (format: see ``load_users``)."""

    path: Path


@dataclass(frozen=True, slots=True)
class LdapConfig:
    """[users.ldap]: the directory that holds the users."""

    url: str
    user_base: str
    start_tls: bool = False
    ca_file: Path | None = None  # None: the system's trust store
    bind_dn: str | None = None  # None: anonymous service bind
    bind_password_file: Path | None = None
    bind_password: Secret | None = None
    user_filter: str = "(uid={user})"  # {user} is replaced by the escaped name (RFC 4515)
    nt_hash_attribute: str | None = None  # e.g. sambaNTPassword, for EAP-MSCHAPv2
    password_attribute: str | None = None  # a clear-text password, only for EAP-MD5
    require_group: str | None = None  # DN of the group a user must belong to
    group_member_attribute: str = "member"  # on the group: member DNs, or memberUid names
    timeout: float = 3.0  # bounds each login's requests, connecting included
    pool_size: int = 4  # per worker: connections for searches (shared), and for user binds


@dataclass(frozen=True, slots=True)
class UsersConfig:
    """[users]: the backend that checks usernames and passwords (EAP, XAuth)."""

    backend: str | None = None  # file | ldap | None (no connection needs users)
    file: UsersFileConfig | None = None
    ldap: LdapConfig | None = None


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """[connections.NAME]: what clients may connect with, and what they get."""

    name: str
    local_auth: str  # psk | pubkey
    remote_auth: str  # see REMOTE_AUTH_V2 / REMOTE_AUTH_V1
    proposals: tuple[Any, ...]  # ikesrv.crypto.proposals.ProposalSpec, our order of preference
    esp_proposals: tuple[Any, ...]  # ProposalSpec
    proposal_strings: tuple[str, ...] = DEFAULT_IKE_PROPOSALS_V2
    esp_proposal_strings: tuple[str, ...] = DEFAULT_ESP_PROPOSALS
    version: int = 2
    local_id: str | None = None  # None: our address (PSK) or certificate subject (pubkey)
    remote_id: str = "%any"
    remote_addrs: tuple[IPNetwork, ...] = ()  # empty: clients from anywhere
    certificate: Path | None = None
    private_key: Path | None = None
    ca_certificates: tuple[Path, ...] = ()
    psk_file: Path | None = None
    psk: Secret | None = None
    aggressive: bool = False  # IKEv1: accept Aggressive Mode
    weak_algorithms: frozenset[str] = frozenset()
    pools: tuple[str, ...] = ()
    local_ts: tuple[IPNetwork, ...] = (
        ipaddress.IPv4Network("0.0.0.0/0"),
        ipaddress.IPv6Network("::/0"),
    )
    # what a peer may claim on its side; empty: its virtual IP, else its own address
    remote_ts: tuple[IPNetwork, ...] = ()
    ike_lifetime: float = 8 * 3600.0
    child_lifetime: float = 3600.0
    rekey: bool = False  # whether ikesrv initiates CHILD SA rekeys (clients usually do)
    dpd_delay: float = 30.0  # silence before a liveness check; 0 disables
    dpd_timeout: float = 150.0  # IKEv1 (RFC 3706): no answer for this long = dead
    retransmit_timeout: float = 4.0  # first retransmission of our requests
    retransmit_tries: int = 5
    retransmit_base: float = 1.8  # back-off factor
    transport_mode: bool = False  # accept USE_TRANSPORT_MODE
    fragmentation: bool = True  # IKEv2 fragmentation (RFC 7383), IKEv1 vendor fragments
    send_cert: str = "ifasked"  # ifasked | always
    xauth_retries: int = 3  # IKEv1 XAuth attempts before failing
    unique: str = "replace"  # replace | keep | never: a second SA of the same identity

    @property
    def retransmit_schedule(self) -> tuple[float, ...]:
        """Seconds to wait after each transmission; after the last, the peer is dead."""
        return tuple(
            self.retransmit_timeout * self.retransmit_base**i
            for i in range(self.retransmit_tries + 1)
        )


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    kernel: KernelConfig = field(default_factory=KernelConfig)
    users: UsersConfig = field(default_factory=UsersConfig)
    pools: FrozenMap = field(default_factory=FrozenMap)  # name -> PoolConfig
    connections: FrozenMap = field(default_factory=FrozenMap)  # name -> ConnectionConfig
    source: Path | None = None  # the file it was read from
    warnings: tuple[tuple[str, str], ...] = ()  # (key_path, message)

    @property
    def is_demo(self) -> bool:
        return self.source is not None and self.source == DEMO_PATH

    def summary(self) -> str:
        """What ``check-config`` prints: a readable digest, secrets left out."""
        return "\n".join(_summary_lines(self)) + "\n"


# --- loading -------------------------------------------------------------------------


def default_path() -> Path:
    """/etc/ikesrv/ikesrv.toml if it exists, else the embedded demo configuration."""
    return DEFAULT_PATH if DEFAULT_PATH.exists() else DEMO_PATH


def load(path: str | os.PathLike) -> Config:
    """Read and check a configuration file; relative paths inside are relative to it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(str(path), f"cannot read the configuration: {_os_reason(exc)}")])
    return load_text(text, path.resolve().parent, source=path.resolve())


def load_text(text: str, base_dir: str | os.PathLike, *, source: Path | None = None) -> Config:
    """Check TOML ``text``; relative file names are resolved against ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(source or "<config>"), f"not valid TOML: {exc}")])
    loader = _Loader(Path(base_dir))
    config = loader.config(data, source)
    if loader.errors:
        error = ConfigError(loader.errors)
        error.warnings = tuple(loader.warnings)  # shown beside the errors by check-config
        raise error
    return config


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    """A TOML key as it would be written in a key path."""
    return name if _BARE_KEY.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


def _join(path: str, key: str) -> str:
    return f"{path}.{_key(key)}" if path else _key(key)


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    for type_, name in names.items():
        if isinstance(value, type_):
            return f"{name} ({value!r})" if type_ in (bool, int, float, str) else name
    return type(value).__name__


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f": did you mean {near[0]!r}?" if near else f" (known keys: {', '.join(known)})"
    return f"unknown key{hint}"


def _os_reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


class _Bad(ValueError):
    """A value that does not convert; the message says what was expected."""


def _as_int(lo: int, hi: int):
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected an integer, got {_kind(value)}")
        if not lo <= value <= hi:
            raise _Bad(f"{value} is out of range ({lo}..{hi})")
        return value
    return convert


def _as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_kind(value)}")
    return value


def _as_str(choices: tuple[str, ...] | None = None):
    def convert(value: object) -> str:
        if not isinstance(value, str):
            raise _Bad(f"expected a string, got {_kind(value)}")
        if choices is not None and value not in choices:
            options = ", ".join(f'"{c}"' for c in choices)
            near = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
            hint = f" (did you mean \"{near[0]}\"?)" if near else ""
            raise _Bad(f'"{value}" is not one of {options}{hint}')
        if not value:
            raise _Bad("must not be empty")
        return value
    return convert


def _as_duration(allow_zero: bool):
    def convert(value: object) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        if not seconds and not allow_zero:
            raise _Bad("must be longer than zero")
        return seconds
    return convert


def _as_float(lo: float, hi: float):
    def convert(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Bad(f"expected a number, got {_kind(value)}")
        if not lo <= value <= hi:
            raise _Bad(f"{value} is out of range ({lo:g}..{hi:g})")
        return float(value)
    return convert


def _as_mark(value: object) -> tuple[int, int]:
    """"VALUE/MASK" (each decimal or 0x hex, 32 bits): an XFRM mark (value, mask)."""
    if not isinstance(value, str):
        raise _Bad(f'expected "VALUE/MASK", got {_kind(value)}')
    try:
        v, mask = (int(part.strip(), 0) for part in value.split("/"))
    except ValueError:
        raise _Bad(f'"{value}" is not "VALUE/MASK" (e.g. "0/0x100000")') from None
    if not (0 <= v <= 0xFFFF_FFFF and 0 < mask <= 0xFFFF_FFFF):
        raise _Bad(f'"{value}": value and mask are 32 bits, the mask not 0')
    if v & ~mask:
        raise _Bad(f'"{value}": the value has bits outside the mask')
    return v, mask


def _as_address(value: object) -> IPAddress:
    if not isinstance(value, str):
        raise _Bad(f"expected an IP address string, got {_kind(value)}")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise _Bad(f'"{value}" is not an IP address') from None


def _as_ipv4(value: object) -> ipaddress.IPv4Address:
    address = _as_address(value)
    if address.version != 4:
        raise _Bad(f'"{value}" is not an IPv4 address (NBNS/WINS servers are IPv4)')
    return address


def _as_network(value: object) -> IPNetwork:
    """A network in strict form: host bits set is an error naming the intended network."""
    if not isinstance(value, str):
        raise _Bad(f"expected a network string such as \"10.0.0.0/16\", got {_kind(value)}")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise _Bad(f'"{value}" is not a network (expected e.g. "10.99.0.0/16")') from None
    raise _Bad(f'"{value}" has host bits set: the network is "{loose}"')


class _Loader:
    """Walks the TOML tree once, building the dataclasses and collecting every problem."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.failed: set[str] = set()
        self.pool_names: list[str] = []  # as declared, valid or not

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))
        self.failed.add(path)

    def warn(self, path: str, message: str) -> None:
        self.warnings.append((path, message))

    # -- generic access --

    def table(self, path: str, value: object, known: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.error(path, f"expected a table, got {_kind(value)}")
            return {}
        for key in value:
            if key not in known:
                self.error(_join(path, key), _unknown_key(key, known))
        return value

    def get(self, table: dict, path: str, key: str, convert, default: Any) -> Any:
        if key not in table:
            return default
        try:
            return convert(table[key])
        except _Bad as exc:
            self.error(_join(path, key), str(exc))
            return default

    def get_list(self, table: dict, path: str, key: str, convert, default: tuple) -> tuple:
        if key not in table:
            return default
        where = _join(path, key)
        values = table[key]
        if not isinstance(values, list):
            self.error(where, f"expected a list, got {_kind(values)}"
                       + (f": write [{values!r}]" if isinstance(values, str) else ""))
            return default
        out = []
        for i, value in enumerate(values):
            try:
                out.append(convert(value))
            except _Bad as exc:
                self.error(f"{where}[{i}]", str(exc))
        return tuple(out)

    # -- files --

    def file(self, path: str, value: object) -> Path | None:
        """A readable regular file; relative names are relative to the config file."""
        if not isinstance(value, str) or not value:
            self.error(path, f"expected a file name, got {_kind(value)}")
            return None
        name = Path(value)
        full = name if name.is_absolute() else self.base_dir / name
        try:
            # stat first: opening a FIFO named by mistake would block
            mode = full.stat().st_mode
            if stat.S_ISDIR(mode):
                self.error(path, f"{full} is a directory, not a file")
                return None
            if not stat.S_ISREG(mode):
                self.error(path, f"{full} is not a regular file")
                return None
            with open(full, "rb") as handle:
                handle.read(1)
        except FileNotFoundError:
            self.error(path, f"file not found: {full}")
            return None
        except OSError as exc:
            self.error(path, f"cannot read {full}: {_os_reason(exc)}")
            return None
        return full

    def check_private(self, path: str, full: Path) -> None:
        """Warn when a file holding secrets can be read by other users."""
        if DEMO_PATH.parent in full.parents:
            return  # the embedded demo's keys are public by design
        mode = full.stat().st_mode
        if mode & 0o007:
            self.warn(path, f"{full} is accessible to other users (mode {stat.S_IMODE(mode):04o}): "
                      f"chmod o-rwx {full}")

    def secret_file(self, path: str, value: object) -> tuple[Path | None, Secret | None]:
        full = self.file(path, value)
        if full is None:
            return None, None
        data = full.read_bytes().rstrip(b"\r\n")  # a trailing newline is not part of it
        if not data:
            self.error(path, f"{full} is empty")
            return full, None
        self.check_private(path, full)
        return full, Secret(data, str(full))

    # -- sections --

    def config(self, data: dict, source: Path | None) -> Config:
        known = ("server", "metrics", "kernel", "pools", "users", "connections")
        self.table("", data, known)
        server = self.server(data.get("server", {}))
        metrics = self.metrics(data.get("metrics", {}))
        kernel = self.kernel(data.get("kernel", {}))
        pools = self.pools(data.get("pools", {}))
        users = self.users(data.get("users", {}))
        connections = self.connections(data.get("connections", {}), pools, users)
        return Config(server, metrics, kernel, users, pools, connections, source,
                      tuple(self.warnings))

    def server(self, value: object) -> ServerConfig:
        d = ServerConfig()
        t = self.table("server", value, tuple(ServerConfig.__dataclass_fields__))
        port = _as_int(1, 65535)
        addresses = self.get_list(t, "server", "addresses", _as_address, d.addresses)
        if not addresses and "addresses" in t and "server.addresses" not in self.failed:
            self.error("server.addresses", "needs at least one address to listen on")
        config = ServerConfig(
            addresses=addresses,
            port=self.get(t, "server", "port", port, d.port),
            natt_port=self.get(t, "server", "natt_port", port, d.natt_port),
            workers=self.get(t, "server", "workers", _as_int(0, 256), d.workers),
            control_socket=self.get(t, "server", "control_socket", self.path, d.control_socket),
            cookie_threshold=self.get(t, "server", "cookie_threshold", _as_int(0, 10**7),
                                      d.cookie_threshold),
            cookie_threshold_per_ip=self.get(t, "server", "cookie_threshold_per_ip",
                                             _as_int(0, 10**7), d.cookie_threshold_per_ip),
            half_open_limit=self.get(t, "server", "half_open_limit", _as_int(1, 10**8),
                                     d.half_open_limit),
            half_open_limit_per_ip=self.get(t, "server", "half_open_limit_per_ip",
                                            _as_int(0, 10**8), d.half_open_limit_per_ip),
            half_open_timeout=self.get(t, "server", "half_open_timeout", _as_duration(False),
                                       d.half_open_timeout),
            rate_limit_per_ip=self.get(t, "server", "rate_limit_per_ip", _as_int(0, 10**7),
                                       d.rate_limit_per_ip),
            max_message_size=self.get(t, "server", "max_message_size", _as_int(1280, 65535),
                                      d.max_message_size),
            receive_buffer=self.get(t, "server", "receive_buffer", _as_int(0, 1 << 30),
                                    d.receive_buffer),
            shutdown_timeout=self.get(t, "server", "shutdown_timeout", _as_duration(True),
                                      d.shutdown_timeout),
            log_level=self.get(t, "server", "log_level",
                               _as_str(("debug", "info", "warning", "error")), d.log_level),
        )
        if config.port == config.natt_port:
            self.error("server.natt_port", f"must differ from server.port ({config.port}): "
                       "IKE and NAT-T need their own sockets")
        return config

    def path(self, value: object) -> Path:
        if not isinstance(value, str) or not value:
            raise _Bad(f"expected a path, got {_kind(value)}")
        name = Path(value)
        return name if name.is_absolute() else self.base_dir / name

    def metrics(self, value: object) -> MetricsConfig:
        d = MetricsConfig()
        t = self.table("metrics", value, ("enabled", "listen"))
        enabled = self.get(t, "metrics", "enabled", _as_bool, d.enabled)
        address, port = self.get(t, "metrics", "listen", _as_listen, (d.address, d.port))
        return MetricsConfig(enabled, address, port)

    def kernel(self, value: object) -> KernelConfig:
        d = KernelConfig()
        t = self.table("kernel", value, ("backend", "mark"))
        return KernelConfig(
            backend=self.get(t, "kernel", "backend", _as_str(("xfrm", "none")), d.backend),
            mark=self.get(t, "kernel", "mark", _as_mark, d.mark))

    def pools(self, value: object) -> FrozenMap:
        pools: dict[str, PoolConfig] = {}
        self.pool_names = list(value) if isinstance(value, dict) else []
        for name, body in self.table("pools", value, tuple(value) if isinstance(value, dict)
                                     else ()).items():
            path = _join("pools", name)
            t = self.table(path, body, ("addresses", "dns", "nbns", "split_include", "exclude"))
            if not t and isinstance(body, dict):
                self.error(path, "empty pool: set addresses = \"10.99.0.0/16\"")
                continue
            if "addresses" not in t:
                if isinstance(body, dict):
                    self.error(_join(path, "addresses"), "missing: the pool's network, "
                               "e.g. \"10.99.0.0/16\"")
                continue
            network = self.get(t, path, "addresses", _as_network, None)
            if network is None:
                continue
            pool = PoolConfig(
                name=name,
                addresses=network,
                dns=self.get_list(t, path, "dns", _as_address, ()),
                nbns=self.get_list(t, path, "nbns", _as_ipv4, ()),
                split_include=self.get_list(t, path, "split_include", _as_network, ()),
                exclude=self.get_list(t, path, "exclude", _as_network, ()),
            )
            for other in pools.values():
                if other.addresses.version == network.version and other.addresses.overlaps(
                    network
                ):
                    self.error(_join(path, "addresses"), f"{network} overlaps pools."
                               f"{_key(other.name)} ({other.addresses}): an address would be "
                               "handed out twice")
            for i, excluded in enumerate(pool.exclude):
                if excluded.version != network.version or not excluded.subnet_of(network):
                    self.error(f"{_join(path, 'exclude')}[{i}]", f"{excluded} is not inside "
                               f"the pool's network {network}")
            pools[name] = pool
        return FrozenMap(pools)

    def users(self, value: object) -> UsersConfig:
        t = self.table("users", value, ("backend", "file", "ldap"))
        backend = self.get(t, "users", "backend", _as_str(("file", "ldap")), None)
        users_file = None
        if "file" in t:
            ft = self.table("users.file", t["file"], ("path",))
            if "path" not in ft:
                if isinstance(t["file"], dict):
                    self.error("users.file.path", "missing: the users file")
            else:
                full = self.file("users.file.path", ft["path"])
                if full is not None:
                    users_file = UsersFileConfig(full)
                    self.check_private("users.file.path", full)
                    try:
                        load_users(full)
                    except ConfigError as exc:
                        for where, message in exc.errors:
                            self.error("users.file.path", f"{where}: {message}")
        ldap = self.ldap(t["ldap"]) if "ldap" in t else None
        if backend == "file" and users_file is None and "users.file.path" not in self.failed:
            self.error("users.file", 'missing: backend = "file" needs [users.file] path = ...')
        if backend == "ldap" and ldap is None and not any(
            p.startswith("users.ldap") for p in self.failed
        ):
            self.error("users.ldap", 'missing: backend = "ldap" needs a [users.ldap] table')
        if backend is None and (users_file or ldap):
            self.error("users.backend", 'missing: say which one to use, "file" or "ldap"')
        return UsersConfig(backend, users_file, ldap)

    def ldap(self, value: object) -> LdapConfig | None:
        p = "users.ldap"
        known = ("url", "start_tls", "ca_file", "bind_dn", "bind_password_file", "user_base",
                 "user_filter", "nt_hash_attribute", "password_attribute", "require_group",
                 "group_member_attribute", "timeout", "pool_size")
        t = self.table(p, value, known)
        for required in ("url", "user_base"):
            if required not in t and isinstance(value, dict):
                self.error(_join(p, required), "missing")
        url = self.get(t, p, "url", _as_str(), None)
        if url is not None and not re.match(r"ldaps?://[^/?#\s]+/?$", url):
            self.error(f"{p}.url", f'"{url}" is not an LDAP URL such as "ldap://host:389" '
                       'or "ldaps://host:636"')
            url = None
        start_tls = self.get(t, p, "start_tls", _as_bool, False)
        if url and url.startswith("ldaps://") and start_tls:
            self.error(f"{p}.start_tls", "ldaps:// is already TLS: remove start_tls or use ldap://")
        elif url and url.startswith("ldap://") and not start_tls:
            self.warn(f"{p}.url", "passwords go to the directory unencrypted: use ldaps:// "
                      "or start_tls = true in production")
        user_filter = self.get(t, p, "user_filter", _as_str(), "(uid={user})")
        if "{user}" not in user_filter:
            self.error(f"{p}.user_filter", "must contain {user}, replaced by the login name")
        elif re.search(r"\{(?!user\})", user_filter):
            self.error(f"{p}.user_filter", "only {user} may appear in braces")
        elif not (user_filter.startswith("(") and user_filter.endswith(")")):
            self.error(f"{p}.user_filter", "must be an LDAP filter in parentheses, e.g. "
                       "\"(&(objectClass=inetOrgPerson)(uid={user}))\"")
        else:
            try:
                # a stand-in as long as "{user}": positions in errors match the text
                ldap_wire.encode_filter(user_filter.replace("{user}", "u" * 6))
            except ldap_wire.FilterError as e:
                self.error(f"{p}.user_filter", f"not an LDAP filter (RFC 4515): {e}")
        member_attribute = self.get(t, p, "group_member_attribute", _as_str(), "member")
        try:
            ldap_wire.encode_filter(f"({member_attribute}=x)")
        except ldap_wire.FilterError:
            self.error(f"{p}.group_member_attribute",
                       f"{member_attribute!r} is not an attribute name")
        ca_file = self.file(f"{p}.ca_file", t["ca_file"]) if "ca_file" in t else None
        bind_dn = self.get(t, p, "bind_dn", _as_str(), None)
        password_file, password = (None, None)
        if "bind_password_file" in t:
            password_file, password = self.secret_file(f"{p}.bind_password_file",
                                                        t["bind_password_file"])
            if bind_dn is None:
                self.error(f"{p}.bind_dn", "missing: bind_password_file is set but not the "
                           "DN to bind as")
        elif bind_dn is not None:
            self.error(f"{p}.bind_password_file", "missing: bind_dn needs its password file")
        optional = _as_str()
        config = LdapConfig(
            url=url or "",
            user_base=self.get(t, p, "user_base", _as_str(), ""),
            start_tls=start_tls,
            ca_file=ca_file,
            bind_dn=bind_dn,
            bind_password_file=password_file,
            bind_password=password,
            user_filter=user_filter,
            nt_hash_attribute=self.get(t, p, "nt_hash_attribute", optional, None),
            password_attribute=self.get(t, p, "password_attribute", optional, None),
            require_group=self.get(t, p, "require_group", optional, None),
            group_member_attribute=member_attribute,
            timeout=self.get(t, p, "timeout", _as_duration(False), 3.0),
            pool_size=self.get(t, p, "pool_size", _as_int(1, 256), 4),
        )
        return config if url else None

    def connections(self, value: object, pools: FrozenMap, users: UsersConfig) -> FrozenMap:
        connections = {}
        tables = self.table("connections", value, tuple(value) if isinstance(value, dict) else ())
        if not tables and "connections" not in self.failed:
            self.error("connections", "no connections: every client would be refused; "
                       "add a [connections.NAME] table")
        for name, body in tables.items():
            connection = self.connection(name, body, pools, users)
            if connection is not None:
                connections[name] = connection
        self.check_main_mode_psk(connections)
        return FrozenMap(connections)

    def connection(
        self, name: str, value: object, pools: FrozenMap, users: UsersConfig
    ) -> ConnectionConfig | None:
        p = _join("connections", name)
        known = tuple(f for f in ConnectionConfig.__dataclass_fields__
                      if f not in ("name", "psk", "proposal_strings", "esp_proposal_strings"))
        t = self.table(p, value, known)
        if not isinstance(value, dict):
            return None
        d = ConnectionConfig(name, "psk", "psk", (), ())
        version = self.get(t, p, "version", _as_int(1, 2), 2)
        version_ok = f"{p}.version" not in self.failed
        for required in ("local_auth", "remote_auth"):
            if required not in t:
                self.error(_join(p, required), "missing: " + (
                    '"psk" or "pubkey"' if required == "local_auth"
                    else "one of " + ", ".join(REMOTE_AUTH_V2 if version == 2 else REMOTE_AUTH_V1)))
        local_auth = self.get(t, p, "local_auth", _as_str(LOCAL_AUTH), None)
        remote_auth = self.get(t, p, "remote_auth",
                               _as_str(tuple(dict.fromkeys(REMOTE_AUTH_V2 + REMOTE_AUTH_V1))), None)
        weak = frozenset(self.get_list(t, p, "weak_algorithms", _as_str(), ()))
        default_ike = DEFAULT_IKE_PROPOSALS_V2 if version == 2 else DEFAULT_IKE_PROPOSALS_V1
        ike_strings, ike_specs = self.proposals(t, p, "proposals", default_ike, weak, "ike",
                                                version)
        esp_strings, esp_specs = self.proposals(t, p, "esp_proposals", DEFAULT_ESP_PROPOSALS,
                                                weak, "esp", version)
        unused = weak - {a for s in (*ike_specs, *esp_specs) for a in s.weak_algorithms}
        if unused and f"{p}.weak_algorithms" not in self.failed:
            self.warn(f"{p}.weak_algorithms", "listed but used by no proposal: "
                      + ", ".join(sorted(unused)))

        certificate = private_key = None
        if "certificate" in t:
            certificate = self.certificate(f"{p}.certificate", t["certificate"])
        if "private_key" in t:
            private_key = self.private_key(f"{p}.private_key", t["private_key"], certificate)
        cas: tuple[Path, ...] = ()
        if isinstance(t.get("ca_certificates", []), list):
            cas = tuple(c for i, item in enumerate(t.get("ca_certificates", []))
                        if (c := self.certificate(f"{p}.ca_certificates[{i}]", item, ca=True)))
        else:
            self.error(f"{p}.ca_certificates", f"expected a list of files, got "
                       f"{_kind(t['ca_certificates'])}")
        psk_file, psk = (None, None)
        if "psk_file" in t:
            psk_file, psk = self.secret_file(f"{p}.psk_file", t["psk_file"])
            if psk is not None and len(psk.reveal()) < 16:
                self.warn(f"{p}.psk_file", "the pre-shared key is shorter than 16 characters: "
                          "an eavesdropper can guess it offline")

        pool_names = self.get_list(t, p, "pools", _as_str(), ())
        for i, pool in enumerate(pool_names):
            if pool not in self.pool_names:
                near = difflib.get_close_matches(pool, self.pool_names, n=1, cutoff=0.5)
                known_pools = ", ".join(self.pool_names) or "none"
                self.error(f"{p}.pools[{i}]", f'unknown pool "{pool}"' + (
                    f': did you mean "{near[0]}"?' if near else f" (pools: {known_pools})"))

        connection = ConnectionConfig(
            name=name,
            local_auth=local_auth or "psk",
            remote_auth=remote_auth or "psk",
            proposals=ike_specs,
            esp_proposals=esp_specs,
            proposal_strings=ike_strings,
            esp_proposal_strings=esp_strings,
            version=version,
            local_id=self.get(t, p, "local_id", _as_str(), None),
            remote_id=self.get(t, p, "remote_id", _as_str(), d.remote_id),
            remote_addrs=self.get_list(t, p, "remote_addrs", _as_network, ()),
            certificate=certificate,
            private_key=private_key,
            ca_certificates=cas,
            psk_file=psk_file,
            psk=psk,
            aggressive=self.get(t, p, "aggressive", _as_bool, False),
            weak_algorithms=weak,
            pools=pool_names,
            local_ts=self.get_list(t, p, "local_ts", _as_network, d.local_ts),
            remote_ts=self.get_list(t, p, "remote_ts", _as_network, d.remote_ts),
            ike_lifetime=self.get(t, p, "ike_lifetime", _as_duration(False), d.ike_lifetime),
            child_lifetime=self.get(t, p, "child_lifetime", _as_duration(False),
                                    d.child_lifetime),
            rekey=self.get(t, p, "rekey", _as_bool, d.rekey),
            dpd_delay=self.get(t, p, "dpd_delay", _as_duration(True), d.dpd_delay),
            dpd_timeout=self.get(t, p, "dpd_timeout", _as_duration(False), d.dpd_timeout),
            retransmit_timeout=self.get(t, p, "retransmit_timeout", _as_duration(False),
                                        d.retransmit_timeout),
            retransmit_tries=self.get(t, p, "retransmit_tries", _as_int(0, 20),
                                      d.retransmit_tries),
            retransmit_base=self.get(t, p, "retransmit_base", _as_float(1.0, 10.0),
                                     d.retransmit_base),
            transport_mode=self.get(t, p, "transport_mode", _as_bool, d.transport_mode),
            fragmentation=self.get(t, p, "fragmentation", _as_bool, d.fragmentation),
            send_cert=self.get(t, p, "send_cert", _as_str(("ifasked", "always")), d.send_cert),
            xauth_retries=self.get(t, p, "xauth_retries", _as_int(1, 10), d.xauth_retries),
            unique=self.get(t, p, "unique", _as_str(("replace", "keep", "never")), d.unique),
        )
        if version_ok and local_auth and remote_auth:
            self.check_auth(p, t, connection, users)
        return connection

    def proposals(self, t: dict, p: str, key: str, default: tuple[str, ...],
                  weak: frozenset[str], kind: str, version: int
                  ) -> tuple[tuple[str, ...], tuple]:
        from .crypto import proposals as parser

        parse = parser.parse_ike_proposal if kind == "ike" else parser.parse_esp_proposal
        strings = self.get_list(t, p, key, _as_str(), default)
        where = _join(p, key)
        if not strings and where not in self.failed:
            self.error(where, "needs at least one proposal, e.g. "
                       f'["{default[0]}"]')
        from .crypto.proposal_sets import expand

        specs = []
        expanded: list[str] = []
        for i, text in enumerate(strings):
            try:
                items = expand([text], kind)
            except ValueError as exc:
                self.error(f"{where}[{i}]", str(exc))
                continue
            for one, set_name in items:
                origin = f'"{one}" (from %{set_name})' if set_name else f'"{one}"'
                try:
                    spec = parse(one, version)
                except ValueError as exc:
                    self.error(f"{where}[{i}]", f"{origin}: {exc}")
                    continue
                refused = set(spec.weak_algorithms) - weak
                if refused:
                    listed = ", ".join(f'"{a}"' for a in sorted(refused))
                    self.error(f"{where}[{i}]", f"{origin} uses weak algorithms ({listed}), "
                               f"refused unless the connection opts in: add them to "
                               f"{p}.weak_algorithms, e.g. weak_algorithms = [{listed}]")
                    continue
                if spec.weak_algorithms:
                    self.warn(f"{where}[{i}]", f"{origin} accepts WEAK algorithms "
                              f"({', '.join(sorted(spec.weak_algorithms))}): only for clients "
                              "that cannot be reconfigured")
                specs.append(spec)
                expanded.append(one)
        return tuple(expanded), tuple(specs)

    def certificate(self, path: str, value: object, ca: bool = False) -> Path | None:
        full = self.file(path, value)
        if full is None:
            return None
        from cryptography import x509

        data = full.read_bytes()
        try:
            if b"-----BEGIN" in data:
                certs = x509.load_pem_x509_certificates(data)
            else:
                certs = [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            self.error(path, f"{full} is not an X.509 certificate in PEM or DER form ({exc})")
            return None
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        cert = certs[0]
        if cert.not_valid_after_utc < now:
            self.warn(path, f"{full}: the certificate expired on "
                      f"{cert.not_valid_after_utc:%Y-%m-%d}")
        elif cert.not_valid_before_utc > now:
            self.warn(path, f"{full}: the certificate is not valid before "
                      f"{cert.not_valid_before_utc:%Y-%m-%d}")
        if ca:
            try:
                constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
                if not constraints.value.ca:
                    self.warn(path, f"{full} is not a CA certificate (basicConstraints CA:FALSE)")
            except x509.ExtensionNotFound:
                pass
        return full

    def private_key(self, path: str, value: object, certificate: Path | None) -> Path | None:
        full = self.file(path, value)
        if full is None:
            return None
        from cryptography import x509
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

        self.check_private(path, full)
        data = full.read_bytes()
        try:
            if b"-----BEGIN" in data:
                key = serialization.load_pem_private_key(data, password=None)
            else:
                key = serialization.load_der_private_key(data, password=None)
        except TypeError:
            self.error(path, f"{full} is encrypted: ikesrv needs the key unencrypted "
                       "(protect it with file permissions)")
            return None
        except (ValueError, UnsupportedAlgorithm) as exc:
            self.error(path, f"{full} is not a private key in PEM or DER form ({exc})")
            return None
        kinds = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
                 ed448.Ed448PrivateKey)
        if not isinstance(key, kinds):
            self.error(path, f"{full}: {type(key).__name__} keys are not supported "
                       "(RSA, ECDSA, Ed25519 and Ed448 are)")
            return None
        if certificate is not None:
            spki = serialization.PublicFormat.SubjectPublicKeyInfo
            der = serialization.Encoding.DER
            data = certificate.read_bytes()
            cert = (x509.load_pem_x509_certificates(data)[0] if b"-----BEGIN" in data
                    else x509.load_der_x509_certificate(data))
            if cert.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der,
                                                                                           spki):
                self.error(path, f"{full} does not belong to the certificate {certificate}")
        return full

    def check_auth(self, p: str, t: dict, c: ConnectionConfig, users: UsersConfig) -> None:
        """Settings that contradict each other or are missing for the chosen methods."""
        version_text = f"version = {c.version}"
        if c.version == 1 and c.remote_auth.startswith("eap-"):
            self.error(f"{p}.remote_auth", f'"{c.remote_auth}": EAP needs IKEv2 (version = 2); '
                       'IKEv1 clients log in with remote_auth = "xauth"')
        if c.version == 2 and c.remote_auth == "xauth":
            self.error(f"{p}.remote_auth", 'XAuth is IKEv1 only (version = 1); IKEv2 clients '
                       'log in with EAP, e.g. remote_auth = "eap-mschapv2"')
        if c.version == 2 and "aggressive" in t:
            self.error(f"{p}.aggressive", "Aggressive Mode is IKEv1 only (version = 1); "
                       f"this connection has {version_text}")
        if c.version == 2 and "xauth_retries" in t:
            self.error(f"{p}.xauth_retries", f"XAuth is IKEv1 only; this connection has "
                       f"{version_text}")
        if c.version == 1 and c.remote_auth in LOCAL_AUTH and c.local_auth != c.remote_auth:
            self.error(f"{p}.remote_auth", "IKEv1 phase 1 authenticates both sides with one "
                       f'method (RFC 2409 §5): set local_auth = "{c.remote_auth}" too, or '
                       'remote_auth = "xauth" to log users in after it')
        if c.version == 1 and c.aggressive and c.local_auth == "psk":
            self.warn(f"{p}.aggressive", "Aggressive Mode with a pre-shared key sends a hash of "
                      "it in the clear: anyone who sees one exchange can guess the key offline "
                      "(psk-crack); use a long random key, or certificates")
        if c.version == 1 and "xauth_retries" in t and c.remote_auth != "xauth":
            self.warn(f"{p}.xauth_retries", 'has no effect without remote_auth = "xauth"')
        if c.version == 1 and c.remote_auth.startswith("eap-") or (
            c.version == 2 and c.remote_auth == "xauth"
        ):
            return  # the rest would only repeat the problem
        uses_psk = c.local_auth == "psk" or c.remote_auth == "psk"
        if uses_psk and c.psk is None and f"{p}.psk_file" not in self.failed:
            which = "local_auth" if c.local_auth == "psk" else "remote_auth"
            self.error(f"{p}.psk_file", f'missing: {which} = "psk" needs the file holding '
                       "the pre-shared key")
        if not uses_psk and "psk_file" in t:
            self.warn(f"{p}.psk_file", "unused: neither local_auth nor remote_auth is \"psk\"")
        if c.local_auth == "pubkey":
            for key in ("certificate", "private_key"):
                if key not in t:
                    self.error(f"{p}.{key}", 'missing: local_auth = "pubkey" needs our '
                               "certificate and its private key")
        elif "certificate" in t or "private_key" in t:
            self.warn(f"{p}.certificate", 'unused: local_auth is not "pubkey"')
        if c.version == 2 and c.remote_auth.startswith("eap-") and c.local_auth != "pubkey":
            self.error(f"{p}.local_auth", "EAP needs the responder to authenticate with its "
                       'certificate (RFC 7296 §2.16): set local_auth = "pubkey"')
        if c.version == 2 and c.remote_auth.startswith("eap-") and c.remote_id.strip() not in (
                "", "%any", "%any6", "*", "0.0.0.0", "::"):
            # ikesrv.ikev2.eap: an EAP client's IKE identity proves nothing; the users
            # backend decides who logs in
            self.warn(f"{p}.remote_id", "not used with EAP: who may log in is decided by the "
                      "users backend (users file, LDAP user_filter and require_group)")
        clients_sign = c.remote_auth == "pubkey" or (
            c.remote_auth == "xauth" and c.local_auth == "pubkey"
        )
        if clients_sign and "ca_certificates" not in t:
            self.error(f"{p}.ca_certificates", "missing: the trust anchors that client "
                       "certificates must chain to")
        if c.remote_auth in USER_AUTH:
            self.check_users(p, c, users)

    def check_users(self, p: str, c: ConnectionConfig, users: UsersConfig) -> None:
        if users.backend is None:
            if "users.backend" not in self.failed:
                self.error(f"{p}.remote_auth", f'"{c.remote_auth}" checks usernames and '
                           'passwords: set [users] backend = "file" or "ldap"')
            return
        ldap = users.ldap
        if users.backend != "ldap" or ldap is None:
            return
        if c.remote_auth == "eap-mschapv2" and not ldap.nt_hash_attribute:
            self.error("users.ldap.nt_hash_attribute", f"missing: connections.{_key(c.name)} "
                       'uses EAP-MSCHAPv2, which needs the NT hash (e.g. "sambaNTPassword")')
        if c.remote_auth == "eap-md5" and not ldap.password_attribute:
            self.error(f"{p}.remote_auth", "EAP-MD5 needs each user's clear-text password, "
                       "and the LDAP backend has no password_attribute to read it from: set "
                       "users.ldap.password_attribute, or use eap-mschapv2 or eap-gtc")

    def check_main_mode_psk(self, connections: dict[str, ConnectionConfig]) -> None:
        """IKEv1 Main Mode picks the PSK by address, before the peer's ID is known."""
        main_mode = [c for c in connections.values()
                     if c.version == 1 and c.psk is not None and not c.aggressive]
        anywhere = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
        for i, first in enumerate(main_mode):
            for second in main_mode[i + 1:]:
                if first.psk == second.psk:
                    continue
                nets_a = first.remote_addrs or anywhere
                nets_b = second.remote_addrs or anywhere
                if any(a.version == b.version and a.overlaps(b) for a in nets_a for b in nets_b):
                    self.warn(f"connections.{_key(second.name)}.remote_addrs",
                              f"overlaps connections.{_key(first.name)} with a different PSK: "
                              "IKEv1 Main Mode chooses the key by the client's address before "
                              f"its ID is known, so clients from there get {first.name}'s key")


def _as_listen(value: object) -> tuple[IPAddress, int]:
    """ "127.0.0.1:9810" or "[::1]:9810" """
    if not isinstance(value, str):
        raise _Bad(f'expected "address:port", got {_kind(value)}')
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", value)
    if not match:
        raise _Bad(f'"{value}" is not "address:port" (IPv6: "[::1]:9810")')
    host, port = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    address = _as_address(host)
    return address, _as_int(1, 65535)(int(port))


# --- summary -------------------------------------------------------------------------


def _summary_lines(config: Config) -> Iterator[str]:
    s = config.server
    yield f"configuration: {config.source or '(text)'}"
    if config.is_demo:
        yield "  the embedded demo: its keys and passwords are public, never deploy it"
    addresses = ", ".join(str(a) for a in s.addresses)
    workers = "one per CPU" if s.workers == 0 else str(s.workers)
    yield f"server: UDP {s.port} and {s.natt_port} on {addresses}; workers: {workers}"
    yield (f"  cookies above {s.cookie_threshold} half-open IKE SAs "
           f"({s.cookie_threshold_per_ip} per address), at most {s.half_open_limit} half-open "
           f"({s.half_open_limit_per_ip or 'no limit'} per address), "
           f"each for {format_duration(s.half_open_timeout)}")
    yield (f"  new-handshake datagrams per address: "
           f"{s.rate_limit_per_ip or 'no limit'} per second; "
           f"IKE messages up to {s.max_message_size} bytes")
    yield f"  control socket {s.control_socket}; log level {s.log_level}"
    m = config.metrics
    host = f"[{m.address}]" if m.address.version == 6 else str(m.address)
    yield f"metrics: http://{host}:{m.port}/metrics" if m.enabled else "metrics: off"
    value, mask = config.kernel.mark
    kernel = {"xfrm": f"xfrm (Linux IPsec), entries marked {value:#x}/{mask:#x}",
              "none": "none (no ESP SA is installed)"}
    yield f"kernel: {kernel[config.kernel.backend]}"
    u = config.users
    if u.backend == "file" and u.file is not None:
        try:
            count = f" ({len(load_users(u.file.path))} users)"
        except ConfigError:
            count = ""
        yield f"users: file {u.file.path}{count}"
    elif u.backend == "ldap" and u.ldap is not None:
        tls = " with StartTLS" if u.ldap.start_tls else ""
        group = f", group {u.ldap.require_group}" if u.ldap.require_group else ""
        yield f"users: LDAP {u.ldap.url}{tls}, base {u.ldap.user_base}{group}"
    else:
        yield "users: none"
    for pool in config.pools.values():
        extra = "".join(
            f", {label} {', '.join(str(a) for a in values)}"
            for label, values in (("dns", pool.dns), ("nbns", pool.nbns),
                                  ("split", pool.split_include), ("excluding", pool.exclude))
            if values
        )
        size = pool.addresses.num_addresses
        yield f"pool {pool.name}: {pool.addresses} ({size} addresses){extra}"
    for c in config.connections.values():
        remote = c.remote_auth + (" (Aggressive Mode allowed)" if c.aggressive else "")
        yield (f"connection {c.name}: IKEv{c.version}, we authenticate by {c.local_auth}"
               f"{f' as {c.local_id}' if c.local_id else ''}, clients by {remote} "
               f"(ids {c.remote_id})")
        if c.psk_file is not None:
            yield f"  pre-shared key from {c.psk_file}"
        if c.certificate is not None:
            yield f"  certificate {c.certificate}"
        if c.ca_certificates:
            yield f"  trusted CAs: {', '.join(str(p) for p in c.ca_certificates)}"
        if c.remote_addrs:
            yield f"  clients from {', '.join(str(n) for n in c.remote_addrs)}"
        yield f"  IKE proposals: {', '.join(c.proposal_strings)}"
        yield f"  ESP proposals: {', '.join(c.esp_proposal_strings)}"
        if c.weak_algorithms:
            yield f"  WEAK algorithms accepted: {', '.join(sorted(c.weak_algorithms))}"
        pools = ", ".join(c.pools) or "none"
        yield f"  pools: {pools}; local_ts: {', '.join(str(n) for n in c.local_ts)}"
        dpd = f"DPD after {format_duration(c.dpd_delay)}" if c.dpd_delay else "no DPD"
        yield (f"  lifetimes: IKE {format_duration(c.ike_lifetime)}, CHILD "
               f"{format_duration(c.child_lifetime)}; {dpd}; unique ids: {c.unique}")
    for path, message in config.warnings:
        yield f"warning: {path}: {message}"


def _hash_password_main(argv: list[str]) -> int:
    """``python3 -m ikesrv.config hash-password``: a password_hash line for the users file."""
    import getpass
    import sys

    if argv[:1] != ["hash-password"]:
        print("usage: python3 -m ikesrv.config hash-password  (reads the password)",
              file=sys.stderr)
        return 2
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\r\n")
    if not password:
        print("empty password", file=sys.stderr)
        return 1
    print(f'password_hash = "{hash_password(password)}"')
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_hash_password_main(sys.argv[1:]))
