"""The systemd unit's sandbox fits what ikesrv does while it serves.

systemd is not PID 1 here, so the unit cannot be started; instead `ikesrv serve` (two
workers, the XFRM backend, metrics on) runs the way the unit runs it, as an unprivileged
user with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE (bounding, inheritable and ambient
sets, no new privileges: setpriv), under strace, while strongSwan clients connect (PSK
and EAP), `ikesrv status` asks, Prometheus' endpoint is read, SIGHUP reloads and SIGTERM
stops it. Then, from the trace:

  - every system call made is allowed by the unit's SystemCallFilter (the groups
    expanded by `systemd-analyze syscall-filter`, the ~ lines taken away);
  - every socket is of a family RestrictAddressFamilies allows;
  - no memory was mapped writable and executable, none made executable afterwards
    (MemoryDenyWriteExecute);
  - files were created or written only in /tmp (PrivateTmp) and the control socket's
    directory (RuntimeDirectory), /proc read only for its own processes
    (ProtectProc=invisible).
And the two capabilities were enough: the server bound port 500, programmed XFRM (this
kernel's lack of ESP aside) and established the IKE SAs, with no permission error.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.harness import policy, scenarios
from tests.harness.netns import GW_ADDR, PROTECTED_NET, VIP_POOL
from tests.harness.proc import wait_until

from .placeholders import PASSWORD, USER, users_file

pytestmark = [pytest.mark.root, pytest.mark.slow]

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "ikesrv.service"
NOBODY = 65534
FAMILIES = {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}

CONFIG = f"""
[server]
addresses = ["{GW_ADDR}"]
control_socket = "@RUN@/control.sock"
[metrics]
listen = "{GW_ADDR}:9810"
[kernel]
backend = "xfrm"
[pools.rw]
addresses = "{VIP_POOL}"
[users]
backend = "file"
[users.file]
path = "users.toml"
[connections.rw-psk]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["aes256gcm16-prfsha384-ecp384"]
esp_proposals = ["aes256gcm16-ecp384", "aes256gcm16"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
[connections.rw-eap]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "pubkey"
certificate = "gw.crt"
private_key = "gw.key"
remote_auth = "eap-mschapv2"
proposals = ["aes256-sha256-ecp256"]
esp_proposals = ["aes256-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""


def unit_filter() -> tuple[list[str], list[str]]:
    allow, deny = [], []
    for line in UNIT.read_text().splitlines():
        if line.startswith("SystemCallFilter="):
            value = line.split("=", 1)[1]
            (deny if value.startswith("~") else allow).extend(value.lstrip("~").split())
    return allow, deny


def expand(names: list[str]) -> set[str]:
    """System call names of filter entries (groups expanded, recursively)."""
    out: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        listing = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
        members = [line.strip() for line in listing.splitlines()[1:]
                   if line.strip() and not line.strip().startswith("#")]
        out |= expand(members)
    return out


def allowed_syscalls() -> set[str]:
    allow, deny = unit_filter()
    assert allow, "the unit has no SystemCallFilter"
    return expand(allow) - expand(deny)


_CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. )?([a-z_0-9]+)(\(| resumed>)(.*)$")


def trace_calls(path: Path) -> list[tuple[str, str]]:
    """(system call, its arguments and result) of each traced call."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        m = _CALL.match(line)
        if m:
            out.append((m.group(2), m.group(4)))
    return out


def service_uid() -> int:
    """nobody when it can run this build's Python, else root: an interpreter under /root
    (pyenv, as on the development machines) is out of other users' reach. Root then runs
    with the same two capabilities and nothing else (bounding set, no new privileges): the
    kernel checks capabilities, not the user ID, for everything ikesrv does, and without
    CAP_DAC_OVERRIDE root reads only what it owns."""
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                            "--clear-groups", "--", "strace", "-o", "/dev/null", "--",
                            sys.executable, "-c", "import ikesrv"],
                           capture_output=True, check=False, timeout=60)
    return NOBODY if probe.returncode == 0 else 0


def server_dir(tmp_path: Path, test_pki, uid: int) -> Path:
    """The configuration and its files, readable by the unprivileged user only."""
    directory = tmp_path / "etc"
    run = tmp_path / "run"
    for d in (tmp_path, directory, run):
        d.mkdir()
    (directory / "ikesrv.toml").write_text(CONFIG.replace("@RUN@", str(run)))
    (directory / "rw.psk").write_text(scenarios.PSK + "\n")
    (directory / "gw.crt").write_bytes(test_pki["gw"].cert_pem)
    (directory / "gw.key").write_bytes(test_pki["gw"].key_pem)
    users_file(directory / "users.toml")
    for path in [tmp_path, directory, run, *directory.iterdir()]:
        os.chown(path, uid, uid)
        path.chmod(0o700 if path.is_dir() else 0o600)
    return directory


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(p) for p in text]
    return out


def test_serves_within_the_units_sandbox(topology, strongswan, test_pki, cleanup):
    policy.require_binary("strace", "strace")
    policy.require_binary("setpriv", "util-linux")
    policy.require_binary("systemd-analyze", "systemd")
    # pytest's own temporary directories are root's alone: the unprivileged user must
    # reach its files, so they live in a directory of their own
    tmp_path = cleanup.mkdtemp("sandbox")
    tmp_path.chmod(0o755)
    uid = service_uid()
    directory = server_dir(tmp_path / "srv", test_pki, uid)
    trace = tmp_path / "srv" / "trace.txt"
    caps = "-all,+net_admin,+net_bind_service"
    argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set={caps}",
            "--no-new-privs", "--",
            "strace", "-f", "-qq", "-s", "200", "-o", str(trace), "--",
            sys.executable, "-m", "ikesrv", "serve", "-c", str(directory / "ikesrv.toml"),
            "--workers", "2"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/nonexistent",
           "TMPDIR": "/tmp"}
    log = tmp_path / "ikesrv.log"
    proc = topology.gw.spawn(argv, name="ikesrv-sandboxed", log_path=log, env=env,
                             cwd="/", stop_timeout=20)
    control = tmp_path / "srv" / "run" / "control.sock"
    wait_until(lambda: control.exists() or not proc.alive(), 60, "the control socket")
    assert proc.alive(), log.read_text()
    (python,) = children(proc.pid)
    cleanup.push("stop the traced ikesrv", lambda: _kill(python))

    # clients: a PSK one and an EAP one (the kernel may lack ESP: the IKE SAs count)
    psk = strongswan(topology.cl, "cl-psk", scenarios.psk_client(
        "aes256gcm16-prfsha384-ecp384", "aes256gcm16"))
    psk.initiate("net", "gw", timeout=30)
    psk.stop()  # one charon per namespace at a time (both would want UDP 500)
    eap = scenarios.eap_client("mschapv2", user=USER)
    eap.secret(f"eap-{USER}", id=USER, secret=PASSWORD)
    eap_client = strongswan(topology.cl, "cl-eap", eap, cert=None)
    eap_client.initiate("net", "gw", timeout=30)
    status = subprocess.run([sys.executable, "-m", "ikesrv", "status", "--json", "--socket",
                             str(control)], capture_output=True, text=True, check=False, timeout=30)
    assert status.returncode == 0, status.stderr
    assert '"state": "established"' in status.stdout, status.stdout
    for name in ("rw-psk", "rw-eap"):  # the PSK client has left again: its log line
        assert re.search(rf"IKE SA \w+ established with '[^']+' at [\d.:]+ \({name}, ",
                         log.read_text()), log.read_text()
    scraped = topology.gw.call(
        lambda: urllib.request.urlopen(f"http://{GW_ADDR}:9810/metrics", timeout=10).read())
    assert b"ikesrv_ike_sa_established_total" in scraped
    os.kill(python, signal.SIGHUP)
    wait_until(lambda: "reloaded" in log.read_text(), 30, "the reload")
    os.kill(python, signal.SIGTERM)
    assert proc.wait(60) is not None, "strace did not end with ikesrv"
    output = log.read_text()
    assert "ikesrv stopped" in output, output
    for word in ("Operation not permitted", "Permission denied", "PermissionError", "EPERM",
                 "EACCES"):
        assert word not in output, output

    calls = trace_calls(trace)
    names = {name for name, _ in calls}
    assert {"bind", "sendto", "recvfrom", "clone"} & names  # the trace is of the server
    outside = sorted(names - allowed_syscalls())
    assert not outside, f"system calls SystemCallFilter would refuse: {outside}"
    families = {m.group(1) for name, args in calls if name == "socket"
                for m in [re.match(r"(AF_\w+)", args)] if m}
    assert families <= FAMILIES, families
    for name, args in calls:
        if name in ("mmap", "mprotect", "pkey_mprotect"):
            assert not ("PROT_WRITE" in args and "PROT_EXEC" in args), (name, args)
            assert not (name != "mmap" and "PROT_EXEC" in args), (name, args)
    written = [m.group(1) for name, args in calls if name in ("openat", "open")
               for m in [re.match(r'(?:AT_FDCWD, )?"([^"]*)", ([A-Z_|]+)', args)]
               if m and re.search(r"O_WRONLY|O_RDWR|O_CREAT", m.group(2))]
    writable = ("/tmp/", str(control.parent) + "/", "/dev/null")
    assert all(w.startswith(writable) for w in written), \
        [w for w in written if not w.startswith(writable)]
    # ProtectProc=invisible: no other process's /proc entries
    traced = {int(line.split()[0]) for line in trace.read_text(errors="replace").splitlines()
              if line[:1].isdigit()}
    foreign = sorted({p for name, args in calls if name == "openat"
                      for m in [re.match(r'AT_FDCWD, "/proc/(\d+)/', args)] if m
                      for p in [int(m.group(1))] if p not in traced})
    assert not foreign, f"/proc entries of other processes read: {foreign}"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)


def test_filter_expansion_knows_the_groups():
    """The allowed set is real: it holds what every Python process needs and lacks what
    @privileged names (so the check above can fail)."""
    policy.require_binary("systemd-analyze", "systemd")
    allowed = allowed_syscalls()
    assert {"read", "openat", "socket", "sendto", "clone", "execve"} <= allowed
    assert not {"setuid", "capset", "setrlimit", "bpf", "init_module"} & allowed
    assert socket.AF_NETLINK  # the family XFRM needs exists here
