"""A throw-away OpenLDAP directory for EAP and XAuth tests.

Owns: ``Slapd`` (slapd with a plain slapd.conf and an mdb database in a temporary
directory, listening on 127.0.0.1:<port> of a namespace or of the host; stop and start
again keep the data, for "directory down, then back" tests), the test directory's
content, and ``samba_schema()`` (the sambaSamAccount schema is not in Debian's slapd
package: it is taken from the ``samba`` package, fetched with ``apt-get download`` and
cached, without installing samba).

Directory, base ``dc=example,dc=test``::

    cn=admin,dc=example,dc=test       rootdn, "admin-Secret-0"
    cn=ikesrv,dc=example,dc=test      service DN, "ikesrv-Secret-0": the only DN that may
                                      read userPassword / sambaNTPassword
    uid=alice,ou=people,...           inetOrgPerson + sambaSamAccount, "alice-Secret-1",
                                      {SSHA} userPassword, sambaNTPassword; in vpn-users
    uid=bob,ou=people,...             the same, "bob-Secret-2"; NOT in vpn-users
    uid=carol,ou=people,...           inetOrgPerson only, "carol-Secret-3", no NT hash;
                                      in vpn-users
    uid=dave,ou=people,...            sambaAcctFlags [DU] (disabled), "dave-Secret-4";
                                      in vpn-users
    cn=vpn-users,ou=groups,...        groupOfNames, member = DNs of alice, carol, dave
    cn=vpn-posix,ou=groups,...        posixGroup, memberUid alice, carol, dave

Anonymous clients may bind and read names but never password attributes. NT hash =
MD4(UTF-16LE(password)), upper-case hex (MS-NLMP §3.3.1); MD4 is not in hashlib nor in
``cryptography`` under OpenSSL 3, so it is computed with ``openssl dgst -provider legacy
-md4``, and the values are also kept below (checked against openssl by the harness
self-test).

Imports only the standard library and tests.harness.{proc,cleanup,netns}.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cleanup import Cleanup
from .netns import Namespace
from .proc import HarnessError, Process, run, tail, wait_until

BASE = "dc=example,dc=test"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ROOT_DN, ROOT_PASSWORD = f"cn=admin,{BASE}", "admin-Secret-0"
SERVICE_DN, SERVICE_PASSWORD = f"cn=ikesrv,{BASE}", "ikesrv-Secret-0"
GROUP_DN = f"cn=vpn-users,{GROUPS}"
POSIX_GROUP = "vpn-posix"
DEFAULT_PORT = 3389
SAMBA_SCHEMA_MEMBER = "./usr/share/doc/samba/examples/LDAP/samba.schema"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class User:
    uid: str
    cn: str
    password: str
    rid: int | None  # sambaSamAccount relative id; None: no samba attributes (no NT hash)
    flags: str = "[U          ]"
    in_group: bool = True

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE}"


USERS = (
    User("alice", "Alice Example", "alice-Secret-1", 1001),
    User("bob", "Bob Example", "bob-Secret-2", 1002, in_group=False),
    User("carol", "Carol Example", "carol-Secret-3", None),
    User("dave", "Dave Example", "dave-Secret-4", 1004, flags="[DU         ]"),
)

# MD4(UTF-16LE(password)), as `openssl dgst -provider legacy -md4` computes it
NT_HASHES = {
    "alice-Secret-1": "5466D191FA54FE490DB575B3B50E18C0",
    "bob-Secret-2": "FEC80FC86254E9EF2C49704FCF7F74D6",
    "carol-Secret-3": "12DAF3C89176FF2438C01D73A5BBA7F3",
    "dave-Secret-4": "7CD6B6EEBB53F65DC7BBA8CF0C4318DF",
}


def nt_hash_openssl(password: str) -> str:
    """MD4 over the UTF-16LE password, by OpenSSL's legacy provider; upper-case hex."""
    cp = subprocess.run(
        ["openssl", "dgst", "-provider", "legacy", "-provider", "default", "-md4", "-r"],
        input=password.encode("utf-16-le"),
        capture_output=True,
        timeout=10,
    )
    if cp.returncode != 0:
        raise HarnessError(f"openssl md4: {cp.stderr.decode(errors='replace')}")
    return cp.stdout.split()[0].decode().upper()


def nt_hash(password: str) -> str:
    """The NT hash: the table above when the password is one of ours, else openssl."""
    return NT_HASHES.get(password) or nt_hash_openssl(password)


def ssha(password: str, salt: bytes | None = None) -> str:
    """``{SSHA}`` userPassword: base64(SHA1(password + salt) + salt), as slappasswd."""
    salt = salt if salt is not None else os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def cache_dir() -> Path:
    """Where fetched test inputs are kept: $IKESRV_TEST_CACHE, /var/cache/ikesrv-tests
    when writable, else the repository's git-ignored .lab/cache."""
    env = os.environ.get("IKESRV_TEST_CACHE")
    if env:
        return Path(env)
    var = Path("/var/cache/ikesrv-tests")
    try:
        var.mkdir(parents=True, exist_ok=True)
        if os.access(var, os.W_OK):
            return var
    except OSError:
        pass
    return REPO / ".lab" / "cache"


def samba_schema() -> Path | None:
    """samba.schema from Debian's samba package (downloaded once, cached); None when
    it cannot be had (no network / apt)."""
    cached = cache_dir() / "samba.schema"
    if cached.is_file() and cached.stat().st_size > 0:
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ikt-samba-"))
    try:
        tmp.chmod(0o755)  # apt's _apt user writes there when it can
        cp = subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=60", "download", "samba"],
            cwd=tmp,
            capture_output=True,
            timeout=180,
        )
        debs = list(tmp.glob("samba_*.deb"))
        if cp.returncode != 0 or not debs:
            return None
        data = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(debs[0])],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.extractfile(SAMBA_SCHEMA_MEMBER)
            if member is None:
                return None
            content = member.read()
        partial = cached.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(cached)
        return cached
    except (OSError, subprocess.SubprocessError, KeyError, tarfile.TarError):
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def directory_ldif(users: tuple[User, ...] = USERS) -> str:
    """The content of the test directory (module docstring) as LDIF."""
    out = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: example\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: ikesrv\nuserPassword: {ssha(SERVICE_PASSWORD)}\n",
    ]
    for u in users:
        entry = [f"dn: {u.dn}", "objectClass: inetOrgPerson"]
        if u.rid is not None:
            entry.append("objectClass: sambaSamAccount")
        entry += [
            f"uid: {u.uid}",
            f"cn: {u.cn}",
            f"sn: {u.cn.split()[-1]}",
            f"mail: {u.uid}@example.test",
            f"userPassword: {ssha(u.password)}",
        ]
        if u.rid is not None:
            entry += [
                f"sambaSID: S-1-5-21-1111111111-2222222222-3333333333-{u.rid}",
                f"sambaNTPassword: {nt_hash(u.password)}",
                f"sambaAcctFlags: {u.flags}",
            ]
        out.append("\n".join(entry) + "\n")
    members = [u for u in users if u.in_group]
    out.append(
        f"dn: {GROUP_DN}\nobjectClass: groupOfNames\ncn: vpn-users\n"
        + "".join(f"member: {u.dn}\n" for u in members)
    )
    out.append(
        f"dn: cn={POSIX_GROUP},{GROUPS}\nobjectClass: posixGroup\ncn: {POSIX_GROUP}\n"
        "gidNumber: 5000\n" + "".join(f"memberUid: {u.uid}\n" for u in members)
    )
    return "\n".join(out)


class Slapd:
    """slapd on ldap://127.0.0.1:<port>/ of ``ns`` (or of the host when ns is None)."""

    def __init__(
        self,
        cleanup: Cleanup,
        *,
        ns: Namespace | None = None,
        port: int = DEFAULT_PORT,
        samba_schema: Path,
        users: tuple[User, ...] = USERS,
        host: str = "127.0.0.1",
    ):
        self.cleanup = cleanup
        self.ns = ns
        self.port = port
        self.host = host
        self.users = users
        self.samba_schema = samba_schema
        self.dir = cleanup.mkdtemp("slapd")
        self.conf_path = self.dir / "slapd.conf"
        self.process: Process | None = None
        self._prepared = False

    base = BASE
    service_dn = SERVICE_DN
    service_password = SERVICE_PASSWORD
    group_dn = GROUP_DN

    @property
    def uri(self) -> str:
        return f"ldap://{self.host}:{self.port}/"

    def __repr__(self) -> str:
        return f"<Slapd {self.uri} in {self.ns.name if self.ns else 'host'} {self.process!r}>"

    def _prepare(self) -> None:
        db = self.dir / "db"
        db.mkdir()
        shutil.copyfile(self.samba_schema, self.dir / "samba.schema")
        self.conf_path.write_text(
            "include /etc/ldap/schema/core.schema\n"
            "include /etc/ldap/schema/cosine.schema\n"
            "include /etc/ldap/schema/inetorgperson.schema\n"
            "include /etc/ldap/schema/nis.schema\n"
            f"include {self.dir}/samba.schema\n"
            f"pidfile {self.dir}/slapd.pid\n"
            f"argsfile {self.dir}/slapd.args\n"
            "modulepath /usr/lib/ldap\n"
            "moduleload back_mdb\n"
            "loglevel stats\n\n"
            "database mdb\n"
            f'suffix "{BASE}"\n'
            f'rootdn "{ROOT_DN}"\n'
            f"rootpw {ssha(ROOT_PASSWORD)}\n"
            f"directory {db}\n"
            "maxsize 67108864\n"
            "index objectClass eq\n"
            "index uid eq\n\n"
            "access to attrs=userPassword,sambaNTPassword,sambaLMPassword\n"
            f'    by dn.exact="{SERVICE_DN}" read\n'
            "    by anonymous auth\n"
            "    by * none\n"
            "access to * by * read\n"
        )
        ldif = self.dir / "data.ldif"
        ldif.write_text(directory_ldif(self.users))
        run(["slaptest", "-u", "-f", str(self.conf_path)], timeout=30)
        run(["slapadd", "-q", "-f", str(self.conf_path), "-l", str(ldif)], timeout=60)
        self._prepared = True

    def start(self, timeout: float = 10.0) -> Slapd:
        """Start (the first time: create the database); returns when a search answers."""
        if not self._prepared:
            self._prepare()
        argv = ["slapd", "-f", str(self.conf_path), "-h", self.uri, "-d", "0"]
        log = self.dir / "slapd.log"
        if self.ns is not None:
            self.process = self.ns.spawn(argv, name="slapd", log_path=log)
        else:
            from .proc import spawn

            self.process = spawn(argv, name="slapd", log_path=log)
            proc = self.process
            self.cleanup.push(f"stop slapd (pid {proc.pid})", proc.stop)
            self.cleanup.add_log("slapd output", log)

        def up() -> bool:
            if not self.process.alive():
                raise HarnessError(f"slapd exited: {tail(log, 20)}")
            return (
                self.ldapsearch(
                    "(objectClass=*)", scope="base", base=BASE, bind=False, check=False
                ).returncode
                == 0
            )

        wait_until(up, timeout, f"slapd on {self.uri}", interval=0.05)
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop by PID (the data stays; ``start()`` brings the same directory back)."""
        return self.process.stop(timeout) if self.process else None

    def _run(self, argv: list[str], check: bool, timeout: float):
        if self.ns is not None:
            return self.ns.run(argv, check=check, timeout=timeout)
        return run(argv, check=check, timeout=timeout)

    def ldapsearch(
        self,
        filter: str = "(objectClass=*)",
        *attrs: str,
        base: str = PEOPLE,
        scope: str = "sub",
        bind: bool = True,
        check: bool = True,
        timeout: float = 10.0,
    ):
        """``ldapsearch`` (as the service DN when ``bind``); the CompletedProcess (LDIF)."""
        argv = [
            "ldapsearch",
            "-x",
            "-LLL",
            "-o",
            "nettimeout=5",
            "-H",
            self.uri,
            "-b",
            base,
            "-s",
            scope,
        ]
        if bind:
            argv += ["-D", SERVICE_DN, "-w", SERVICE_PASSWORD]
        return self._run([*argv, filter, *attrs], check, timeout)

    def bind_ok(self, dn: str, password: str) -> bool:
        """True when a simple bind as ``dn`` with ``password`` succeeds (ldapwhoami)."""
        cp = self._run(
            ["ldapwhoami", "-x", "-o", "nettimeout=5", "-H", self.uri, "-D", dn, "-w", password],
            False,
            10.0,
        )
        return cp.returncode == 0

    def attribute(self, uid: str, attr: str) -> list[str]:
        """Values of ``attr`` of user ``uid``, read as the service DN."""
        out = self.ldapsearch(f"(uid={uid})", attr).stdout
        prefix = f"{attr}: "
        return [line[len(prefix) :] for line in out.splitlines() if line.startswith(prefix)]
