"""Regenerate tests/data/captures/: real IKE exchanges between real peers, captured.

Run as root: ``python -m tests.captures.make_captures [--out DIR] [--only NAME ...]``
(``--list`` shows the names). Each capture builds its own namespaces (tests/harness/
netns.py), starts strongSwan's charon as the responder in the gateway namespace and the
initiator (charon, libreswan's pluto or ike-scan) in the client namespace, captures with
dumpcap on the gateway's interface, and writes ``<name>.pcap`` (classic pcap), and for
encrypted exchanges ``<name>.keys`` (Wireshark's IKE decryption tables, from the
responder's key log; see tests/harness/ikekeys.py). README.md in the output directory is
written from the same run: peer versions, configurations, steps and frames.

These files are test data: tests/unit/test_captures_tshark.py decodes every IKE message
with ikesrv's codec and compares it field by field with tshark's dissection.

Imports only tests.harness and the standard library.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import ike_scan, ikekeys, libreswan, netns, scenarios, strongswan, tshark
from tests.harness.cleanup import Cleanup
from tests.harness.netns import Topology
from tests.harness.pki import TestPki, make_pki
from tests.harness.proc import HarnessError, wait_until
from tests.harness.strongswan import Charon, SwanctlConf

OUT = Path(__file__).resolve().parents[1] / "data" / "captures"


@dataclass
class Made:
    """What one capture run produced, for the README."""

    name: str
    description: str
    iface: str
    initiator: str
    configs: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    keys: bool = False
    frames: str = ""


class Context:
    """One capture run: its namespaces, its responder charon (logging IKE keys), the
    SPIs of the IKE SAs made, in order, to pair with the logged keys."""

    def __init__(self, cleanup: Cleanup, pki: TestPki, out: Path, name: str):
        self.cleanup = cleanup
        self.pki = pki
        self.out = out
        self.name = name
        self.topology = Topology.build(cleanup)
        self.gw: Charon | None = None
        self.capture: tshark.Capture | None = None
        self.sas: list[tuple[int, str, str]] = []  # (version, ispi, rspi) in keying order

    def responder(self, conf: SwanctlConf, *, cert: str | None = None, **settings) -> Charon:
        self.gw = Charon(self.topology.gw, "gw", self.cleanup, log_ike=4, **settings)
        self.gw.add_credentials(self.pki, cert)
        self.gw.start(conf)
        self.gw.load()
        return self.gw

    def initiator(self, conf: SwanctlConf, **settings) -> Charon:
        cl = Charon(self.topology.cl, "cl", self.cleanup, **settings)
        cl.add_credentials(self.pki)
        cl.start(conf)
        cl.load()
        return cl

    def start_capture(self, iface: str = "gw-cl") -> None:
        self.capture = tshark.Capture(
            self.topology.gw, iface, self.out / f"{self.name}.pcap", self.cleanup
        ).start()

    def note_sas(self) -> None:
        """Record the responder's IKE SAs (new ones appended, in order)."""
        for sa in self.gw.list_sas():
            entry = (sa.version, sa.initiator_spi, sa.responder_spi)
            if entry not in self.sas:
                self.sas.append(entry)

    def finish(self, made: Made) -> Made:
        path = self.capture.stop()
        path.chmod(0o644)  # dumpcap creates it 0600; it is repository data
        made.frames = tshark.summary(path)
        if self.sas and self.gw is not None:
            keysets = ikekeys.parse_charon_log(self.gw.log_text())
            v2 = [k for k in keysets if k.version == 2]
            v1 = [k for k in keysets if k.version == 1]
            lines2 = [
                ikekeys.ikev2_table_line(i, r, k)
                for (_, i, r), k in zip([s for s in self.sas if s[0] == 2], v2, strict=False)
            ]
            lines1 = [
                ikekeys.ikev1_table_line(i, k)
                for (_, i, _r), k in zip([s for s in self.sas if s[0] == 1], v1, strict=False)
            ]
            if lines2 or lines1:
                ikekeys.write_keys_file(
                    self.out / f"{self.name}.keys",
                    lines2,
                    lines1,
                    f"IKE SA keys of {self.name}.pcap (throw-away test SAs), for tshark:\n"
                    "XDG_CONFIG_HOME=<dir with wireshark/ikev2_decryption_table ...>, "
                    "see tests/harness/ikekeys.py",
                )
                made.keys = True
        return made


def _established(cl: Charon, result: strongswan.ControlResult, what: str) -> None:
    if not result.ok:
        raise HarnessError(f"{what}: initiate failed: {result.errmsg}\n{result.log_text()[-3000:]}")


# --- the captures ---------------------------------------------------------------------


def _psk_flow(
    ctx: Context,
    gw_conf: SwanctlConf,
    cl_conf: SwanctlConf,
    made: Made,
    *,
    iface: str = "gw-cl",
    ping_source: str | None = None,
    cl_settings: dict | None = None,
    hold: float = 0.0,
) -> Made:
    ctx.responder(gw_conf)
    cl = ctx.initiator(cl_conf, charon_settings=cl_settings)
    made.configs = {"responder swanctl.conf": str(gw_conf), "initiator swanctl.conf": str(cl_conf)}
    ctx.start_capture(iface)
    _established(cl, cl.initiate("net", "gw", timeout=15), made.name)
    ctx.note_sas()
    made.steps.append("initiator: swanctl --initiate --child net")
    ok = ctx.topology.cl.ping(netns.PROTECTED_HOST, count=2, source=ping_source)
    made.steps.append(
        f"ping {netns.PROTECTED_HOST} through the tunnel ({'answered' if ok else 'no answer'})"
    )
    if hold:
        time.sleep(hold)
        made.steps.append(f"idle {hold:g} s")
    cl.terminate(ike="gw", timeout=10)
    made.steps.append("initiator: swanctl --terminate --ike gw (INFORMATIONAL Delete)")
    return ctx.finish(made)


def cap_a1(ctx: Context) -> Made:
    s = scenarios.SCENARIOS["a1-ikev2-psk-gcm"]
    return _psk_flow(
        ctx,
        s.gateway(),
        s.client(),
        Made(
            ctx.name,
            "IKEv2 PSK aes256gcm16-prfsha384-ecp384, ESP aes256gcm16-ecp384, virtual IP "
            "(CP), ESP in UDP (kernel-libipsec), Delete",
            "gw-cl",
            "strongSwan charon",
        ),
    )


def cap_a2(ctx: Context) -> Made:
    s = scenarios.SCENARIOS["a2-ikev2-psk-modp2048"]
    return _psk_flow(
        ctx,
        s.gateway(),
        s.client(),
        Made(
            ctx.name,
            "IKEv2 PSK aes256-sha256-modp2048, ESP aes256-sha256-modp2048, virtual IP, Delete",
            "gw-cl",
            "strongSwan charon",
        ),
    )


def cap_invalid_ke(ctx: Context) -> Made:
    gw = scenarios.psk_gateway("aes256-sha256-modp2048", "aes256-sha256")
    cl = scenarios.psk_client("aes256-sha256-ecp256, aes256-sha256-modp2048", "aes256-sha256")
    return _psk_flow(
        ctx,
        gw,
        cl,
        Made(
            ctx.name,
            "IKEv2 IKE_SA_INIT with KE ECP-256 answered INVALID_KE_PAYLOAD (group 14), "
            "the retry with MODP-2048, then IKE_AUTH and Delete",
            "gw-cl",
            "strongSwan charon",
        ),
    )


def cap_eap_mschapv2(ctx: Context) -> Made:
    s = scenarios.SCENARIOS["b-ikev2-cert-eap-mschapv2"]
    ctx.responder(s.gateway(), cert="gw")
    cl = ctx.initiator(s.client())
    made = Made(
        ctx.name,
        "IKEv2, responder RSA certificate (CERT, CERTREQ), client "
        "EAP-MSCHAPv2 as alice (EAP-Identity, challenge, success), virtual IP",
        "gw-cl",
        "strongSwan charon",
        configs={
            "responder swanctl.conf": str(s.gateway()),
            "initiator swanctl.conf": str(s.client()),
        },
    )
    ctx.start_capture()
    _established(cl, cl.initiate("net", "gw", timeout=15), ctx.name)
    ctx.note_sas()
    made.steps += ["initiator: swanctl --initiate --child net"]
    cl.terminate(ike="gw", timeout=10)
    made.steps.append("initiator: swanctl --terminate --ike gw")
    return ctx.finish(made)


def cap_rekey_dpd_delete(ctx: Context) -> Made:
    gw_conf = scenarios.psk_gateway(*scenarios.A1)
    cl_conf = scenarios.psk_client(*scenarios.A1, dpd_delay="1s")
    ctx.responder(gw_conf)
    cl = ctx.initiator(cl_conf)
    made = Made(
        ctx.name,
        "IKEv2 (a1): CREATE_CHILD_SA CHILD_SA rekey with PFS, IKE_SA rekey, "
        "DPD (empty INFORMATIONAL), CHILD_SA Delete, IKE_SA Delete",
        "gw-cl",
        "strongSwan charon",
        configs={"responder swanctl.conf": str(gw_conf), "initiator swanctl.conf": str(cl_conf)},
    )
    ctx.start_capture()
    _established(cl, cl.initiate("net", "gw", timeout=15), ctx.name)
    ctx.note_sas()
    made.steps.append("initiator: swanctl --initiate --child net")
    old_child = cl.list_sas()[0].child("net").spi_in
    strongswan.vici.check(cl.request("rekey", {"child": "net"}), "rekey child")
    wait_until(
        lambda: any(
            c.state == "INSTALLED" and c.spi_in != old_child
            for sa in cl.list_sas()
            for c in sa.children
        ),
        10,
        "the CHILD_SA rekey",
    )
    made.steps.append("initiator: swanctl --rekey --child net (CREATE_CHILD_SA, N(REKEY_SA), KE)")
    old_ike = cl.list_sas()[0].initiator_spi
    strongswan.vici.check(cl.request("rekey", {"ike": "gw"}), "rekey ike")
    wait_until(
        lambda: any(sa.initiator_spi != old_ike and sa.established for sa in ctx.gw.list_sas()),
        10,
        "the IKE_SA rekey",
    )
    ctx.note_sas()
    made.steps.append("initiator: swanctl --rekey --ike gw (CREATE_CHILD_SA for the IKE SA)")
    time.sleep(2.5)  # dpd_delay 1s: the idle initiator sends liveness checks
    made.steps.append("idle 2.5 s: DPD (dpd_delay = 1s on the initiator)")
    cl.terminate(child="net", timeout=10)
    made.steps.append("initiator: swanctl --terminate --child net (Delete ESP)")
    cl.terminate(ike="gw", timeout=10)
    made.steps.append("initiator: swanctl --terminate --ike gw (Delete IKE)")
    return ctx.finish(made)


def cap_natt_v2(ctx: Context) -> Made:
    s = scenarios.SCENARIOS["e-natt-ikev2-psk"]
    return _psk_flow(
        ctx,
        s.gateway(),
        s.client(),
        Made(
            ctx.name,
            "IKEv2 PSK (a2) from behind the NAT namespace (MASQUERADE, source ports "
            "remapped): NAT detection, float to 4500 with the non-ESP marker, NAT keepalives "
            "(keep_alive = 1s on the initiator), ESP in UDP",
            "gw-nat",
            "strongSwan charon",
        ),
        iface="gw-nat",
        cl_settings={"keep_alive": "1s"},
        hold=2.5,
    )


def cap_natt_v1(ctx: Context) -> Made:
    gw_conf = scenarios.v1_main_gateway()
    cl_conf = scenarios.v1_main_client(remote=netns.GW_NAT_SIDE_ADDR)
    return _psk_flow(
        ctx,
        gw_conf,
        cl_conf,
        Made(
            ctx.name,
            "IKEv1 Main Mode PSK + Quick Mode (PFS) from behind the NAT namespace: "
            "NAT-D (RFC 3947), float to 4500, UDP-encapsulated tunnel mode, keepalives",
            "gw-nat",
            "strongSwan charon",
        ),
        iface="gw-nat",
        cl_settings={"keep_alive": "1s"},
        hold=2.5,
        ping_source=netns.CL_HOST,
    )


def cap_v1_main(ctx: Context) -> Made:
    s = scenarios.SCENARIOS["c-ikev1-main-psk"]
    return _psk_flow(
        ctx,
        s.gateway(),
        s.client(),
        Made(
            ctx.name,
            "IKEv1 Main Mode PSK aes256-sha256-modp2048, Quick Mode with PFS "
            "(aes256-sha256-modp2048), net-to-net, ISAKMP Delete",
            "gw-cl",
            "strongSwan charon",
        ),
        ping_source=s.ping_source,
    )


def cap_v1_aggr_xauth(ctx: Context) -> Made:
    s = scenarios.SCENARIOS["d-ikev1-aggr-psk-xauth"]
    return _psk_flow(
        ctx,
        s.gateway(),
        s.client(),
        Made(
            ctx.name,
            "IKEv1 Aggressive Mode group PSK (auth XAUTHInitPreShared), XAuth as alice "
            "and Mode Config virtual IP in TRANSACTION exchanges, Quick Mode, Delete",
            "gw-cl",
            "strongSwan charon",
        ),
    )


def cap_ike_scan(ctx: Context) -> Made:
    gw_conf = scenarios.ike_scan_gateway()
    ctx.responder(gw_conf)
    made = Made(
        ctx.name,
        "ike-scan probes: IKEv2 SA_INIT (KE group 2 -> INVALID_KE_PAYLOAD; "
        "group 14 -> handshake), IKEv1 Main Mode (weak defaults -> NO-PROPOSAL-CHOSEN; "
        "AES-256/SHA2-256/PSK/MODP2048 -> handshake; the same over NAT-T), Aggressive "
        "Mode (PSK -> refused; XAUTHInitPreShared -> handshake), IKEv2 again -> COOKIE",
        "gw-cl",
        f"ike-scan {ike_scan.version()}",
        configs={"responder swanctl.conf": str(gw_conf)},
    )
    ctx.start_capture()
    scan = ike_scan.IkeScan(ctx.topology.cl)
    target = netns.GW_ADDR
    probes = [
        ("IKEv2, default KE group 2", ["-M", "--ikev2"], False),
        ("IKEv2, KE group 14", ["-M", "--ikev2", "--dhgroup=14"], True),
        ("IKEv1 Main Mode, ike-scan's default transforms", ["-M"], False),
        (
            "IKEv1 Main Mode, --trans=7/256,4,1,14",
            ["-M", f"--trans={ike_scan.AES256_SHA256_PSK_MODP2048}"],
            False,
        ),
        (
            "IKEv1 Main Mode over NAT-T (port 4500)",
            ["-M", "--nat-t", f"--trans={ike_scan.AES256_SHA256_PSK_MODP2048}"],
            False,
        ),
        (
            "IKEv1 Aggressive Mode, PSK, --id=group1@example.test",
            [
                "-M",
                "-A",
                f"--id={scenarios.GROUP_ID}",
                "--dhgroup=14",
                f"--trans={ike_scan.AES256_SHA256_PSK_MODP2048}",
            ],
            False,
        ),
        (
            "IKEv1 Aggressive Mode, XAUTHInitPreShared, --id=group1@example.test",
            [
                "-M",
                "-A",
                f"--id={scenarios.GROUP_ID}",
                "--dhgroup=14",
                f"--trans={ike_scan.AES256_SHA256_XAUTHPSK_MODP2048}",
            ],
            True,
        ),
        (
            "IKEv2 again (half-open SAs from this address: COOKIE)",
            ["-M", "--ikev2", "--dhgroup=14"],
            False,
        ),
    ]
    for title, args, ke in probes:
        if ke:
            res, tries = scan.probe_ke(target, *args, tries=6)
        else:
            res, tries = scan.probe(target, *args), 1
        answer = res.kind if res.kind != "notify" else f"notify {res.notify} ({res.notify_name})"
        made.steps.append(
            f"{title}: `ike-scan {' '.join(args)} {target}` -> {answer}"
            + (f" after {tries} tries (random KE bytes)" if tries > 1 else "")
        )
    return ctx.finish(made)


def _pluto_flow(ctx: Context, conn: str, ike_name: str, made: Made) -> Made:
    gw_conf = scenarios.pluto_gateway()
    ctx.responder(gw_conf)
    p = libreswan.Pluto(ctx.topology.cl, ctx.cleanup).start()
    made.configs = {
        "responder swanctl.conf": str(gw_conf),
        "pluto ipsec.conf (conns)": libreswan.DEFAULT_CONNS,
    }
    ctx.start_capture()
    p.up(conn, timeout=15)
    ctx.gw.wait_sa(
        lambda sa: sa.name == ike_name and sa.established, timeout=10, what=f"the {ike_name} IKE_SA"
    )
    ctx.note_sas()
    time.sleep(0.5)  # whatever pluto sends after (QM2 answer, its failed install)
    made.steps.append(f"pluto: whack --name {conn} --initiate")
    return ctx.finish(made)


def cap_pluto_v2(ctx: Context) -> Made:
    return _pluto_flow(
        ctx,
        "v2-psk",
        "pluto-v2",
        Made(
            ctx.name,
            "libreswan pluto initiating IKEv2 PSK aes256-sha2_256;modp2048, net-to-net, "
            "to charon (pluto then fails its own ESP install on this kernel and drops the SA)",
            "gw-cl",
            f"libreswan pluto {libreswan.pluto_version()}",
        ),
    )


def cap_pluto_v1(ctx: Context) -> Made:
    return _pluto_flow(
        ctx,
        "v1-main-psk",
        "pluto-v1",
        Made(
            ctx.name,
            "libreswan pluto initiating IKEv1 Main Mode PSK and Quick Mode (PFS) to "
            "charon (pluto never sends QM3 on this kernel: its ESP install fails)",
            "gw-cl",
            f"libreswan pluto {libreswan.pluto_version()}",
        ),
    )


CAPTURES: dict[str, Callable[[Context], Made]] = {
    "ikev2-psk-aes256gcm16-prfsha384-ecp384": cap_a1,
    "ikev2-psk-aes256-sha256-modp2048": cap_a2,
    "ikev2-invalid-ke-retry": cap_invalid_ke,
    "ikev2-cert-eap-mschapv2": cap_eap_mschapv2,
    "ikev2-rekey-dpd-delete": cap_rekey_dpd_delete,
    "ikev2-natt": cap_natt_v2,
    "ikev1-main-psk-qm-pfs": cap_v1_main,
    "ikev1-aggressive-psk-xauth-modecfg": cap_v1_aggr_xauth,
    "ikev1-natt-main-psk": cap_natt_v1,
    "ike-scan-probes": cap_ike_scan,
    "libreswan-ikev2-psk": cap_pluto_v2,
    "libreswan-ikev1-main-psk": cap_pluto_v1,
}


# --- README ------------------------------------------------------------------------------


def _readme(made: list[Made]) -> str:
    versions = (
        f"strongSwan charon {strongswan.charon_version()} (Debian, kernel-libipsec), "
        f"libreswan pluto {libreswan.pluto_version() if libreswan.available() else '-'}, "
        f"ike-scan {ike_scan.version()}, dumpcap/tshark {tshark.version()}, "
        f"Linux {platform.release()}"
    )
    out = [
        "# Real IKE captures",
        "",
        "Made by `python -m tests.captures.make_captures` (as root; it rewrites this file).",
        "Each capture ran in its own network namespaces (tests/harness/netns.py): the",
        "initiator in the client namespace, strongSwan's charon as the responder in the",
        "gateway namespace, dumpcap on the gateway's interface (`gw-cl` direct, `gw-nat`",
        "behind the NAT namespace), filter `udp port 500 or udp port 4500 or ip proto 50`,",
        "classic pcap. Addresses are documentation ranges: gateway 198.51.100.1 (direct) and",
        "198.51.100.65 (NAT side), client 198.51.100.2, NAT 198.51.100.66, protected net",
        "192.0.2.0/25, virtual IPs from 192.0.2.128/25.",
        "",
        f"Peers: {versions}.",
        "",
        "The kernel has XFRM but no ESP, so charon runs with kernel-libipsec (ESP in user",
        "space, always UDP-encapsulated: NAT detection is faked, IKE_AUTH moves to 4500 even",
        "on the direct path). `<name>.keys` holds Wireshark's IKE decryption tables for the",
        "throw-away SAs of a capture (from the responder's log at ike level 4); with them",
        "tshark shows the encrypted payloads (tests/harness/ikekeys.py). Identities, keys",
        "and passwords are those of tests/harness/scenarios.py.",
        "",
        "Used by tests/unit/test_captures_tshark.py: every IKE message decoded by ikesrv's",
        "codec, compared field by field with tshark's dissection, and re-encoded byte for",
        "byte.",
        "",
    ]
    for m in made:
        out += [
            f"## {m.name}.pcap",
            "",
            m.description + ".",
            "",
            f"Initiator: {m.initiator}; responder: strongSwan charon; captured on `{m.iface}`."
            + (f" Keys: `{m.name}.keys`." if m.keys else ""),
            "",
            "Steps:",
            "",
        ]
        out += [f"1. {s}" for s in m.steps]
        out.append("")
        for title, text in m.configs.items():
            out += [
                f"<details><summary>{title}</summary>",
                "",
                "```",
                text.rstrip(),
                "```",
                "",
                "</details>",
                "",
            ]
        out += ["Frames (number, source, port, destination, port, protocol, info):", "", "```"]
        out += [textwrap.shorten(line, 150, placeholder=" ...") for line in m.frames.splitlines()]
        out += ["```", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"output directory (default {OUT})")
    ap.add_argument("--only", nargs="*", metavar="NAME", help="only these captures")
    ap.add_argument("--list", action="store_true", help="list the capture names")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(CAPTURES))
        return 0
    if os.geteuid() != 0:
        print("make_captures: needs root (network namespaces, daemons)", file=sys.stderr)
        return 2
    names = args.only or list(CAPTURES)
    unknown = [n for n in names if n not in CAPTURES]
    if unknown:
        print(f"make_captures: unknown capture(s) {unknown}; --list shows them", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    made = []
    with Cleanup() as outer:
        pki = make_pki(outer.mkdtemp("pki"))
        for name in names:
            t0 = time.monotonic()
            for stale in (args.out / f"{name}.pcap", args.out / f"{name}.keys"):
                stale.unlink(missing_ok=True)
            cleanup = Cleanup()
            try:
                made.append(CAPTURES[name](Context(cleanup, pki, args.out, name)))
            except Exception:
                print(cleanup.logs_report(40), file=sys.stderr)
                raise
            finally:
                cleanup.close()
            print(f"{name}: {time.monotonic() - t0:.1f}s")
    if args.only:
        print("(README.md not rewritten for a partial run)")
    else:
        (args.out / "README.md").write_text(_readme(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
