"""Faults around ``ikesrv serve`` (root, network namespaces): a worker killed in the
middle of handshakes, SIGHUP with a broken or vanished config, the log's filesystem
full, and the LDAP directory black-holed by a firewall (connections that hang rather
than fail). The kernel refusing an SA is covered elsewhere: tests/unit/
test_ikev2_core_auth.py and test_ikev1_core_life.py (the core's failure path, both
versions) and tests/kernel/test_xfrm_serve_no_esp.py (``ikesrv serve`` with the XFRM
backend on a kernel without ESP)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from ikesrv.crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ikesrv.identity import Identity
from ikesrv.load.initiator import ClientSettings, Ikev2Initiator
from tests.harness import scenarios
from tests.harness.netns import CL_ADDR, GW_ADDR, PROTECTED_NET, VIP_POOL
from tests.harness.proc import run, wait_until
from tests.harness.prometheus import scrape, value

pytestmark = [pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
METRICS = "127.0.0.1:9810"
X25519 = "aes128-sha256-x25519"

CONFIG = f"""
[server]
addresses = ["{GW_ADDR}"]
shutdown_timeout = "2s"
cookie_threshold_per_ip = 1000  # every test client shares one address
log_level = "{{level}}"
[metrics]
listen = "{METRICS}"
[kernel]
backend = "none"
[pools.rw]
addresses = "{VIP_POOL}"
[connections.rw-psk]
version = 2
local_id = "{scenarios.GW_ID}"
local_auth = "psk"
remote_auth = "psk"
psk_file = "rw.psk"
proposals = ["{X25519}"]
esp_proposals = ["aes128-sha256"]
pools = ["rw"]
local_ts = ["{PROTECTED_NET}"]
"""
SECOND = """
[connections.rw-two]
version = 2
local_id = "gw2.example.test"
local_auth = "psk"
remote_auth = "psk"
psk_file = "two.psk"
proposals = ["aes128-sha256-x25519"]
esp_proposals = ["aes128-sha256"]
pools = ["rw"]
"""
TWO_PSK = "second-connection-psk-0123456789"


def config(level: str = "info") -> str:
    return CONFIG.replace("{level}", level)


class UdpClient:
    """An in-test IKEv2 PSK initiator (ikesrv.load.initiator) on its own UDP socket in
    the client namespace, stepped by hand: one request, one answer."""

    def __init__(self, ns, name: str, *, remote_id: str = scenarios.GW_ID,
                 psk: str = scenarios.PSK):
        self.sock = ns.socket()
        self.sock.bind((CL_ADDR, 0))
        settings = ClientSettings(
            ike_proposals=[parse_ike_proposal(X25519)],
            esp_proposals=[parse_esp_proposal("aes128-sha256")],
            local_id=Identity.parse(name), psk=psk.encode(),
            remote_id=Identity.parse(remote_id))
        self.c = Ikev2Initiator(settings, os.urandom, self.sock.getsockname(), (GW_ADDR, 500))
        self.pending = self.c.start(time.time())

    def step(self, timeout: float = 3.0) -> bool:
        """Send what is pending; False when no answer came within ``timeout``."""
        for d in self.pending:
            self.sock.sendto(d, (GW_ADDR, 500))
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return False
        self.pending = self.c.receive(data, time.time())
        return True

    def connect(self, timeout: float = 3.0) -> str:
        for _ in range(6):  # COOKIE / INVALID_KE rounds, then IKE_AUTH
            if self.c.state in ("established", "failed") or not self.step(timeout):
                break
        return self.c.state

    @property
    def worker(self) -> int:
        return self.c.sa.spi_r[0]  # DESIGN §4: our SPI's top byte is the worker index

    def close(self) -> None:
        self.sock.close()


def start(topology, ikesrv, text: str | None = None, *, workers: int = 1, log_path=None,
          files: dict | None = None):
    files = files if files is not None else {"rw.psk": scenarios.PSK + "\n"}
    server = ikesrv(topology.gw, text or config(), files, address=GW_ADDR, workers=workers,
                    log_path=log_path)
    wait_until(lambda: all(w.get("pid") and "error" not in w
                           for w in server.status()["workers"]), timeout=10,
               what="the workers serving")
    return server


# ------------------------------------------------------------------ a worker dies -----


def test_worker_killed_mid_handshake(topology, ikesrv):
    """Handshakes half done on both workers; worker 1 is killed between IKE_SA_INIT and
    IKE_AUTH. Worker 0's handshakes complete, its process untouched; worker 1's IKE_AUTH
    reach its successor, which holds no such SA (dropped, counted as unknown SPIs; those
    clients start over); the successor serves new clients on the same sockets."""
    cl = topology.cl
    server = start(topology, ikesrv, workers=2)
    pids = [w["pid"] for w in server.status()["workers"]]
    half_done: dict[int, list[UdpClient]] = {0: [], 1: []}
    for n in range(64):
        u = UdpClient(cl, f"k{n}@kill.test")
        assert u.step(), "no answer to IKE_SA_INIT"
        half_done[u.worker].append(u)
        if min(len(v) for v in half_done.values()) >= 3:
            break
    assert min(len(v) for v in half_done.values()) >= 3, {k: len(v) for k, v in half_done.items()}
    assert sum(1 for sa in server.sas() if sa["state"] == "half_open") == sum(
        len(v) for v in half_done.values())

    os.kill(pids[1], signal.SIGKILL)
    for u in half_done[0]:
        assert u.step() and u.c.state == "established", u.c.failure
    for u in half_done[1]:
        assert not u.step(timeout=1.5), "a dead worker's SA answered"

    def restarted() -> bool:
        w1 = server.status()["workers"][1]
        return w1["pid"] not in (None, pids[1]) and "error" not in w1
    wait_until(restarted, timeout=15, what="worker 1 restarted")
    status = server.status()
    assert status["workers"][0]["pid"] == pids[0]
    assert [w["restarts"] for w in status["workers"]] == [0, 1]
    established = [sa for sa in server.sas() if sa["state"] == "established"]
    assert len(established) == len(half_done[0])
    assert all(int(sa["spi_r"][:2], 16) == 0 for sa in established)
    m = scrape(topology.gw, METRICS)
    assert value(m, "ikesrv_worker_restarts_total") == 1
    assert value(m, "ikesrv_invalid_messages_total", reason="unknown_spi") >= len(half_done[1])

    # the abandoned clients start over and are served, by both workers again
    served = set()
    for n in range(64):
        u = UdpClient(cl, f"again{n}@kill.test")
        assert u.connect() == "established", u.c.failure
        served.add(u.worker)
        u.close()
        if served == {0, 1}:
            break
    assert served == {0, 1}
    assert "was killed by SIGKILL" in server.log_text() and "Traceback" not in server.log_text()


# ------------------------------------------------------------------ SIGHUP ------------


def test_sighup_with_a_broken_config_keeps_serving_the_old_one(topology, ikesrv):
    server = start(topology, ikesrv, workers=2)
    pids = [w["pid"] for w in server.status()["workers"]]
    first = UdpClient(topology.cl, "before@hup.test")
    assert first.connect() == "established", first.c.failure
    path = server.config_path
    good = path.read_text()

    # 1. errors in the file: the supervisor says so, nobody reloads, nothing restarts
    path.write_text(good.replace('pools = ["rw"]', 'pools = ["nowhere"]')
                    + '[server.typo]\nbogus = 1\n')
    os.kill(server.proc.pid, signal.SIGHUP)
    server.wait_log("cannot be loaded", timeout=10)
    # 2. the file gone
    path.unlink()
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_until(lambda: server.log_text().count("cannot be loaded") >= 2, timeout=10,
               what="the second refusal logged")
    log = server.log_text()
    assert "unknown pool" in log and "keep the running config" in log
    assert "reloaded; new SAs use it" not in log
    status = server.status()
    assert [w["pid"] for w in status["workers"]] == pids
    assert [w["restarts"] for w in status["workers"]] == [0, 0]
    # the old configuration serves: the established SA stays, new clients connect
    assert any(sa["identity"] == "before@hup.test" for sa in server.sas())
    during = UdpClient(topology.cl, "during@hup.test")
    assert during.connect() == "established", during.c.failure
    refused = UdpClient(topology.cl, "new@hup.test", remote_id="gw2.example.test", psk=TWO_PSK)
    assert refused.connect() != "established"  # the second connection does not exist yet

    # 3. a good file again, with a second connection: both workers take it
    (server.dir / "two.psk").write_text(TWO_PSK + "\n")
    (server.dir / "two.psk").chmod(0o600)
    path.write_text(good + SECOND)
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_until(lambda: server.log_text().count("reloaded; new SAs use it") == 2, timeout=10,
               what="both workers reloaded")
    served = set()
    for n in range(64):
        u = UdpClient(topology.cl, f"new{n}@hup.test", remote_id="gw2.example.test",
                      psk=TWO_PSK)
        assert u.connect() == "established", u.c.failure
        served.add(u.worker)
        if served == {0, 1}:
            break
    assert served == {0, 1}
    assert [w["restarts"] for w in server.status()["workers"]] == [0, 0]
    assert any(sa["identity"] == "before@hup.test" for sa in server.sas())


# ------------------------------------------------------------------ disk full ---------


def test_logging_to_a_full_filesystem_neither_crashes_nor_stalls(topology, ikesrv, cleanup):
    """ikesrv logs to stderr; here stderr is a file on a 64 KiB tmpfs that is already
    full when the daemon starts (its startup warnings cannot be written either) and it
    logs at debug level. It must start, serve clients at the usual speed, answer status,
    reload on SIGHUP and stop cleanly on SIGTERM."""
    mount = cleanup.mkdtemp("full")
    run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)], timeout=10)
    cleanup.push(f"umount {mount}", lambda: run(["umount", "-l", str(mount)], timeout=10))
    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, bytes(4096)):
            pass
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    log_path = mount / "ikesrv.log"
    files = {"rw.psk": scenarios.PSK + "\n"}
    # a setting that draws a warning, which `ikesrv serve` prints before it serves
    text = config("debug").replace('pools = ["rw"]', 'pools = ["rw"]\nweak_algorithms = ["3des"]')
    server = start(topology, ikesrv, text, workers=2, log_path=log_path, files=files)
    assert log_path.stat().st_size == 0  # nothing could be written, as intended
    pids = [w["pid"] for w in server.status()["workers"]]
    took = []
    for n in range(20):
        t0 = time.monotonic()
        u = UdpClient(topology.cl, f"full{n}@disk.test")
        assert u.connect() == "established", u.c.failure
        took.append(time.monotonic() - t0)
        u.close()
    assert max(took) < 1.0, took  # not stalled on the log
    assert len(server.sas()) == 20
    os.kill(server.proc.pid, signal.SIGHUP)  # logs "reloaded", which fails to be written
    time.sleep(1.0)
    u = UdpClient(topology.cl, "after-hup@disk.test")
    assert u.connect() == "established"
    assert [w["pid"] for w in server.status()["workers"]] == pids
    assert [w["restarts"] for w in server.status()["workers"]] == [0, 0]
    # room again: the daemon writes again (nothing was held back in memory meanwhile)
    filler.unlink()
    os.kill(server.proc.pid, signal.SIGHUP)
    server.wait_log("reloaded; new SAs use it", timeout=10)
    rc, seconds = server.stop(timeout=10)
    assert rc == 0 and seconds < 5, (rc, seconds)


# ------------------------------------------------------------------ LDAP black hole ----


def test_ldap_black_holed_fails_in_time_and_recovers(topology, ikesrv, strongswan, test_pki,
                                                      slapd, cleanup):
    """The directory's port dropped by a firewall (iptables DROP in the gateway's
    namespace): connections neither open nor fail, answers never come. EAP logins must
    fail within the directory timeout, PSK clients must not notice, and once the rule
    goes the directory is used again without a restart. (A stopped and a frozen slapd
    are tested in tests/ldap and tests/interop/test_ikev2_eap.py.)"""
    from tests.interop import test_ikev2_eap as eap
    gw = topology.gw
    eap.directory_in_gw(slapd, topology, clear_password_for=None)
    server = eap.start(topology, ikesrv, test_pki, "mschapv2", eap.LDAP)
    client = eap.eap_client(strongswan, topology, "mschapv2")
    assert client.initiate("net", "gw", timeout=20).ok  # a pooled connection now exists
    client.terminate(ike="gw", timeout=10)
    server.wait_sas(lambda sas: sas == [], timeout=10)

    rule = ["-p", "tcp", "--dport", str(eap.S.DEFAULT_PORT), "-j", "DROP"]
    gw.run(["iptables", "-w", "5", "-I", "INPUT", *rule], timeout=15)
    started = time.monotonic()
    result = client.initiate("net", "gw", timeout=30)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert elapsed < 10, elapsed  # the 2 s directory timeout, not a hang
    log = server.log_text()
    assert "did not answer within" in log or "unavailable" in log, log[-3000:]

    # PSK clients meanwhile: the load generator, three set-ups
    psk = cleanup.mkdtemp("psk") / "psk"
    psk.write_text(scenarios.PSK + "\n")
    psk.chmod(0o600)
    argv = [sys.executable, "-m", "ikesrv", "load", "--target", GW_ADDR, "--clients", "3",
            "--concurrency", "3", "--proposal", "aes256gcm16-prfsha384-ecp384",
            "--esp-proposal", "aes256gcm16", "--psk-file", str(psk),
            "--remote-id", scenarios.GW_ID, "--local-id", "psk{n}@ldap.test",
            "--timeout", "30", "--no-progress", "--json", "-"]
    t0 = time.monotonic()
    cp = topology.cl.run(argv, timeout=60, check=False, cwd=str(REPO))
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    assert json.loads(cp.stdout)["established"] == 3
    assert time.monotonic() - t0 < 15

    gw.run(["iptables", "-w", "5", "-D", "INPUT", *rule], timeout=15)
    client.stop()
    again = eap.eap_client(strongswan, topology, "mschapv2", name="cl2")
    result = again.initiate("net", "gw", timeout=30)
    assert result.ok, result.log_text()[-3000:] + server.log_text()[-3000:]
    assert "Traceback" not in server.log_text()
