"""libreswan's pluto (4.10, unpacked from Debian's .deb) as an IKE initiator in a namespace.

Owns: ``Pluto``: one daemon with its own --rundir (pid file and whack socket), --nssdir
(an empty NSS database), --ipsecdir, --secretsfile, --config and log, and ``whack`` with a
timeout on every call. Debian's libreswan conflicts with strongSwan as a package, so
``tests/harness/apt-ensure.sh peers`` unpacks it to /opt/ikesrv-libreswan. pluto runs
/usr/libexec/ipsec/addconn (a compiled-in path) at start: the unpacked tree is
bind-mounted there inside the mount namespace ``ip netns exec`` creates, so the host's
/usr/libexec is untouched. Its default updown script would call ``ipsec``, which is
strongSwan's here: every conn sets ``leftupdown=/bin/true``.

pluto installs SAs only into the kernel's XFRM; on a kernel without ESP, IKEv2 completes
(the responder installs its CHILD_SA) and then pluto drops the IKE SA without a Delete;
IKEv1 Main Mode completes and Quick Mode stops after QM2. Impairments
(``whack --impair help``: corrupt-encrypted, replay-duplicates, send-no-idr ...) make it
a misbehaving peer on demand; ``revival`` is impaired by default so that a failed conn is
not re-initiated in a loop.

Imports only the standard library and tests.harness.{proc,cleanup,netns,scenarios}.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .cleanup import Cleanup
from .netns import CL_ADDR, CL_NET, GW_ADDR, PROTECTED_NET, Namespace
from .proc import HarnessError, Process, run, tail, wait_until
from .scenarios import CLIENT_ID, GW_ID, PLUTO_PSK

LIBRESWAN_ROOT = os.environ.get("LIBRESWAN_ROOT", "/opt/ikesrv-libreswan")
LIBEXEC = f"{LIBRESWAN_ROOT}/usr/libexec"
PLUTO = f"{LIBEXEC}/ipsec/pluto"
WHACK = f"{LIBEXEC}/ipsec/whack"
ADDCONN = f"{LIBEXEC}/ipsec/addconn"

CONFIG_SETUP = """\
config setup
    logtime=yes
    plutodebug={debug}
    uniqueids=no
    # libreswan 4.x refuses IKEv1 unless told otherwise
    ikev1-policy=accept
"""

# two conns: IKEv2 PSK and IKEv1 Main Mode PSK, net-to-net, against
# tests/harness/scenarios.pluto_gateway() (or ikesrv) at 198.51.100.1
DEFAULT_CONNS = f"""\
conn v2-psk
    ikev2=yes
    authby=secret
    left={CL_ADDR}
    leftid={CLIENT_ID}
    leftsubnet={CL_NET}
    right={GW_ADDR}
    rightid=@{GW_ID}
    rightsubnet={PROTECTED_NET}
    ike=aes256-sha2_256;modp2048
    esp=aes256-sha2_256
    leftupdown=/bin/true
    auto=add

conn v1-main-psk
    ikev2=no
    aggressive=no
    authby=secret
    left={CL_ADDR}
    leftid=client2@example.test
    leftsubnet={CL_NET}
    right={GW_ADDR}
    rightid=@{GW_ID}
    rightsubnet={PROTECTED_NET}
    ike=aes256-sha2_256;modp2048
    esp=aes256-sha2_256;modp2048
    leftupdown=/bin/true
    auto=add
"""

DEFAULT_SECRETS = f"""\
{CLIENT_ID} @{GW_ID} : PSK "{PLUTO_PSK}"
client2@example.test @{GW_ID} : PSK "{PLUTO_PSK}"
"""


class Pluto:
    """One pluto in ``ns``; ``start(conns, secrets)`` then ``up("v2-psk")``."""

    def __init__(
        self,
        ns: Namespace,
        cleanup: Cleanup,
        *,
        debug: str = "base",
        impair_revival: bool = True,
    ):
        self.ns = ns
        self.cleanup = cleanup
        self.debug = debug
        self.impair_revival = impair_revival
        self.dir = cleanup.mkdtemp("pluto")
        self.rundir = self.dir / "run"
        self.nssdir = self.dir / "nss"
        self.ipsecdir = self.dir / "ipsec.d"
        self.conf_path = self.dir / "ipsec.conf"
        self.secrets_path = self.dir / "ipsec.secrets"
        self.log_path = self.dir / "pluto.log"
        self.process: Process | None = None

    def __repr__(self) -> str:
        return f"<Pluto in {self.ns.name} {self.process!r}>"

    def start(
        self, conns: str = DEFAULT_CONNS, secrets: str = DEFAULT_SECRETS, timeout: float = 15.0
    ) -> Pluto:
        if not os.access(PLUTO, os.X_OK):
            raise HarnessError(f"no pluto at {PLUTO} (tests/harness/apt-ensure.sh peers)")
        for d in (self.rundir, self.nssdir, self.ipsecdir):
            d.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(CONFIG_SETUP.format(debug=self.debug) + "\n" + conns)
        self.secrets_path.write_text(secrets)
        self.secrets_path.chmod(0o600)
        run(["certutil", "-N", "-d", f"sql:{self.nssdir}", "--empty-password"], timeout=30)
        self.cleanup.add_log("pluto log", self.log_path)
        self.process = self.ns.spawn(
            [
                PLUTO,
                "--nofork",
                "--config",
                self.conf_path,
                "--secretsfile",
                self.secrets_path,
                "--rundir",
                self.rundir,
                "--nssdir",
                self.nssdir,
                "--ipsecdir",
                self.ipsecdir,
                "--dumpdir",
                self.rundir,
                "--logfile",
                self.log_path,
                "--log-no-append",
                "--no-dnssec",
            ],
            name="pluto",
            log_path=self.dir / "pluto.out",
            setup_shell=f"mount --bind {LIBEXEC} /usr/libexec",
        )

        def up() -> bool:
            if not self.process.alive():
                raise HarnessError(
                    f"pluto exited {self.process.returncode}:\n{self.process.output()[-2000:]}"
                    f"\n{tail(self.log_path, 20)}"
                )
            if not (self.rundir / "pluto.ctl").exists():
                return False
            if self.whack("--status", timeout=5, check=False).returncode != 0:
                return False
            # whack answers before pluto has found its interfaces; an --initiate then
            # fails with "need --listen before --initiate"
            return "listening for IKE messages" in self.log_text()

        wait_until(up, timeout, "pluto's whack socket and interfaces", interval=0.05)
        if self.impair_revival:
            self.whack("--impair", "revival")
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        return self.process.stop(timeout) if self.process else None

    def alive(self) -> bool:
        return bool(self.process and self.process.alive())

    def whack(self, *args: str, timeout: float = 30.0, check: bool = True):
        """``whack --rundir RUNDIR ARGS`` (from the host: it only needs the socket)."""
        return run([WHACK, "--rundir", str(self.rundir), *args], timeout=timeout, check=check)

    def add(self, conn: str) -> str:
        """Load ``conn`` from the config file into the running pluto."""
        return run(
            [
                ADDCONN,
                "--config",
                str(self.conf_path),
                "--ctlsocket",
                str(self.rundir / "pluto.ctl"),
                conn,
            ],
            timeout=30,
        ).stdout

    def up(self, conn: str, timeout: float = 20.0) -> str:
        """``whack --initiate``: waits (bounded) for the outcome; whack's output. pluto's
        exit status says little on this kernel (the SA install fails): read the
        responder's view or ``states()``."""
        cp = self.whack("--name", conn, "--initiate", timeout=timeout, check=False)
        return cp.stdout + cp.stderr

    def down(self, conn: str) -> str:
        return self.whack("--name", conn, "--terminate", check=False).stdout

    def impair(self, *behaviours: str) -> None:
        for b in behaviours:
            self.whack("--impair", b)

    def states(self) -> str:
        return self.whack("--showstates", check=False).stdout

    def status(self) -> str:
        return self.whack("--status").stdout

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def pluto_version() -> str:
    cp = run([PLUTO, "--version"], timeout=10, check=False)
    m = re.search(r"Libreswan (\S+)", cp.stdout + cp.stderr)
    return m.group(1) if m else "unknown"


def available() -> bool:
    return Path(PLUTO).is_file() and os.access(PLUTO, os.X_OK)
