"""ike-scan's IKEv1 probes against ``ikesrv serve``: Main Mode answered with a handshake
for acceptable transforms and NO-PROPOSAL-CHOSEN for weak ones, Aggressive Mode only
where a connection allows it, and garbage that changes nothing (LAB.md §6)."""

from __future__ import annotations

import os

import pytest

from tests.harness import scenarios
from tests.harness.ike_scan import AES256_SHA256_PSK_MODP2048, AES256_SHA256_XAUTHPSK_MODP2048
from tests.harness.netns import GW_ADDR

from .test_ikev1_strongswan import AGGR_XAUTH, BASE, MAIN_PSK, start

pytestmark = pytest.mark.root


def test_main_mode_probes(topology, ikesrv, ike_scan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    scan = ike_scan(topology.cl)
    ok = scan.probe(GW_ADDR, "-M", f"--trans={AES256_SHA256_PSK_MODP2048}")
    assert ok.handshake, ok.text
    assert "Enc=AES" in ok.text and "KeyLength=256" in ok.text and "Hash=SHA2-256" in ok.text
    assert "Group=14:modp2048" in ok.text and "Auth=PSK" in ok.text
    assert "Dead Peer Detection" in ok.text
    natt = scan.probe(GW_ADDR, "-M", "--nat-t", f"--trans={AES256_SHA256_PSK_MODP2048}")
    assert natt.handshake, natt.text
    weak = scan.probe(GW_ADDR, "-M")  # DES/3DES, MD5/SHA1, MODP768/1024
    assert (weak.kind, weak.notify) == ("notify", 14), weak.text  # NO-PROPOSAL-CHOSEN
    # each handshake left a half-open ISAKMP SA, which times out like any other
    assert len(server.sas()) == 2
    assert all(sa["state"] == "half_open" for sa in server.sas())


def test_aggressive_mode_probes(topology, ikesrv, ike_scan):
    start(topology, ikesrv, BASE + AGGR_XAUTH)
    scan = ike_scan(topology.cl)
    hello, tries = scan.probe_ke(GW_ADDR, "-M", "-A", f"--id={scenarios.GROUP_ID}",
                                 "--dhgroup=14", f"--trans={AES256_SHA256_XAUTHPSK_MODP2048}")
    assert hello.handshake and tries == 1, hello.text  # ikesrv takes any MODP value 1<y<p-1
    assert "Aggressive Mode Handshake returned" in hello.text
    assert "XAUTH" in hello.text and f"Value={scenarios.GW_ID}" in hello.text
    stranger = scan.probe(GW_ADDR, "-M", "-A", "--id=mallory@example.test", "--dhgroup=14",
                          f"--trans={AES256_SHA256_XAUTHPSK_MODP2048}")
    assert (stranger.kind, stranger.notify) == ("notify", 24), stranger.text  # AUTH-FAILED
    plain_psk = scan.probe(GW_ADDR, "-M", "-A", f"--id={scenarios.GROUP_ID}", "--dhgroup=14",
                           f"--trans={AES256_SHA256_PSK_MODP2048}")
    assert (plain_psk.kind, plain_psk.notify) == ("notify", 14), plain_psk.text


def test_aggressive_mode_refused_unless_enabled(topology, ikesrv, ike_scan):
    server = start(topology, ikesrv, BASE + MAIN_PSK + AGGR_XAUTH.replace(
        "aggressive = true\n", ""))
    scan = ike_scan(topology.cl)
    for trans in (AES256_SHA256_PSK_MODP2048, AES256_SHA256_XAUTHPSK_MODP2048):
        result = scan.probe(GW_ADDR, "-M", "-A", f"--id={scenarios.GROUP_ID}", "--dhgroup=14",
                            f"--trans={trans}")
        assert (result.kind, result.notify) == ("notify", 24), result.text
    assert server.sas() == []
    assert "allows it (aggressive = true)" in server.log_text()


def test_garbage_does_not_hurt(topology, ikesrv, ike_scan, strongswan):
    server = start(topology, ikesrv, BASE + MAIN_PSK)
    scan = ike_scan(topology.cl)
    odd = [
        ["-M", "--trans=7/77,4,1,14"],  # impossible key length
        ["-M", "--trans=99,99,99,99"],  # nothing we know
        ["-M", "-A", "--id=" + "x" * 300, "--dhgroup=14"],
        ["-M", "-A", "--idtype=9", "--id=3000", "--dhgroup=21"],  # a broken DN, ECP garbage
        ["-M", "--vendor=" + "ab" * 200, f"--trans={AES256_SHA256_PSK_MODP2048}"],
        ["-M", "--spisize=16", f"--trans={AES256_SHA256_PSK_MODP2048}"],
        ["-M", "--headerlen=+20", f"--trans={AES256_SHA256_PSK_MODP2048}"],
        ["-M", "--mbz=255", f"--trans={AES256_SHA256_PSK_MODP2048}"],
        ["-M", "--exchange=6", f"--trans={AES256_SHA256_PSK_MODP2048}"],
        ["-M", "--doi=2", f"--trans={AES256_SHA256_PSK_MODP2048}"],
    ]
    for args in odd:
        scan.probe(GW_ADDR, *args, timeout=20)
    # and raw noise on both ports: short, truncated, random, IKEv1 headers with junk
    payloads = [b"", b"\x00", os.urandom(27), os.urandom(28), os.urandom(600),
                os.urandom(8) + bytes(8) + b"\x01\x10\x02\x00" + bytes(4) + b"\x00\x00\x00\x30"
                + os.urandom(20),
                os.urandom(8) + os.urandom(8) + b"\x08\x10\x20\x01" + os.urandom(4)
                + b"\x00\x00\x00\x5c" + os.urandom(64)]

    def send_noise() -> None:
        import socket
        for port, marker in ((500, b""), (4500, bytes(4))):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for p in payloads:
                    s.sendto(marker + p, (GW_ADDR, port))
    topology.cl.call(send_noise)
    # still serving: a real client gets through, and nothing crashed
    client = strongswan(topology.cl, "cl", scenarios.v1_main_client())
    assert client.initiate("net", "gw", timeout=20).ok, server.log_text()
    assert any(sa["state"] == "established" for sa in server.sas())
    assert "Traceback" not in server.log_text()
