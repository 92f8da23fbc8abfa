"""The load generator's IKEv1 clients: road warriors over ikesrv.load.initiator_v1.

Owns: ``Ikev1Kind`` (makes client number n: Main Mode or Aggressive Mode with a
pre-shared key, optionally XAuth as the client, then a Mode Config request for a virtual
IP and one Quick Mode) and ``Ikev1Client`` (what ikesrv.load.engine drives: set-up, then
on demand a Quick Mode rekey, R-U-THERE and the deletes). ``kind_for_v1(args)`` checks
the command line for these kinds and raises clients.UsageError for what cannot work.

IKEv1 differs from IKEv2 where the engine can see it: the responder's XAuth request is a
request of the responder's (the client has nothing outstanding meanwhile: the engine
waits, the responder retransmits), a Delete is not answered (RFC 2408 §4.8: the delete
is done once sent), and phase 1 has no rekey of its own (a client starts a new Main
Mode instead), so ``--rekey`` rekeys the IPsec SA only (``OPERATIONS``). RFC 2409 §5,
§5.4, §5.5; draft-ietf-ipsec-isakmp-xauth-06; draft-dukes-ike-mode-cfg-02; RFC 3706.

Sans-I/O like the initiator: bytes and time in, datagrams out. Imports ikesrv's
proposals, identities, traffic selectors and the IKEv1 initiator, never a socket.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..actions import TrafficSelectorSpec
from ..crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ..identity import Identity
from .clients import LoadClient, UsageError
from .clients import _read_secret as read_secret
from .initiator_v1 import ClientSettingsV1, Ikev1Initiator

DEFAULT_IKE = ["aes128-sha256-modp2048"]
DEFAULT_ESP = ["aes128-sha256"]


@dataclass
class V1Options:
    """The parts of the command line an IKEv1 client needs (see ``kind_for_v1``)."""

    target: str
    port: int
    auth: str  # psk | xauth (phase 1 with the PSK, then XAuth)
    ike_proposals: list
    esp_proposals: list
    local_id: str
    psk: bytes = field(default=b"", repr=False)
    aggressive: bool = False
    user: str = "user{n}"  # XAuth user name template
    password: bytes = field(default=b"", repr=False)  # the same for every user
    want_vip: bool = True  # Mode Config request
    remote_ts: list = field(default_factory=list)  # what the clients ask to reach
    natt_port: int = 4500
    fresh_dh: bool = False


class Ikev1Client(LoadClient):
    """One IKEv1 client: set-up, then on demand Quick Mode rekeys, DPD and delete."""

    __slots__ = ()

    #: no IKE SA rekey in IKEv1
    OPERATIONS = frozenset({"rekey_child", "liveness", "delete"})

    @property
    def spi(self) -> bytes:
        """The initiator cookie: the first 8 octets of every message of this ISAKMP SA."""
        return self.ini.sa.spi_i

    def outstanding(self):
        return self.ini.outstanding()

    def _setup_step(self) -> str:
        # UP comes with Quick Mode answered: QM3 goes out with receive()'s answer
        return {"mm_sa": "Main Mode SA", "mm_ke": "Main Mode KE", "mm_auth": "Main Mode ID",
                "am_sent": "Aggressive Mode", "config": "Mode Config",
                "quick": "Quick Mode"}.get(self.ini.state, self.ini.state)

    # --- operations while the SA is up -------------------------------------------------

    def rekey_child(self, now: float) -> list[bytes]:
        self.op, self._op_ref = "rekey_child", self.ini.child
        return self.ini.rekey_child(now)

    def liveness(self, now: float) -> list[bytes]:
        self.op, self._op_ref = "liveness", self.ini.alive_at
        return self.ini.dpd(now)

    def op_result(self) -> bool | None:
        """After the answer to ``op``: True (done), False (refused), None (waiting)."""
        if self.op is None or self.outstanding() is not None:
            return None
        ini = self.ini
        if ini.state == "failed":
            return False
        if self.op == "rekey_child":
            return ini.child is not self._op_ref
        if self.op == "liveness":
            return ini.alive_at is not self._op_ref
        return ini.state == "deleted"


class Ikev1Kind:
    """Makes IKEv1 clients: settings shared, identity and XAuth user per client."""

    def __init__(self, opts: V1Options):
        self.opts = opts
        self.ike = [parse_ike_proposal(p, 1) for p in opts.ike_proposals]
        self.esp = [parse_esp_proposal(p, 1) for p in opts.esp_proposals]
        # as for IKEv2 (ikesrv.load.clients): one phase 1 DH key per group and process,
        # so that the generator's CPU goes to what the responder must do for each SA
        self.dh_keys = None if opts.fresh_dh else {}
        self.any_ts = [TrafficSelectorSpec(ipaddress.IPv4Address(0),
                                           ipaddress.IPv4Address("255.255.255.255"))]

    def identity(self, n: int) -> Identity:
        return Identity.parse(self.opts.local_id.format(n=n))

    def prepare(self, numbers) -> None:
        """Nothing to issue before the clock starts (PSK clients)."""

    def make(self, n: int, rng, local: tuple, remote: tuple) -> Ikev1Client:
        o = self.opts
        settings = ClientSettingsV1(
            ike_proposals=self.ike, esp_proposals=self.esp, local_id=self.identity(n),
            auth="psk", psk=o.psk, aggressive=o.aggressive, want_vip=o.want_vip,
            ts_local=self.any_ts, ts_remote=o.remote_ts or self.any_ts, dh_keys=self.dh_keys)
        if o.auth == "xauth":
            settings.xauth_user = o.user.format(n=n)
            settings.xauth_password = o.password
        return Ikev1Client(n, Ikev1Initiator(settings, rng, local, remote,
                                             natt_port=o.natt_port))


def kind_for_v1(args) -> Ikev1Kind:
    """The IKEv1 kind for ``args`` (ikesrv.cli's load options), or UsageError."""
    ike = args.proposal or DEFAULT_IKE
    esp = args.esp_proposal or DEFAULT_ESP
    for text, parse in [(p, parse_ike_proposal) for p in ike] + [(p, parse_esp_proposal)
                                                                  for p in esp]:
        try:
            parse(text, 1)
        except ValueError as e:
            raise UsageError(f"IKEv1 proposal {text!r}: {e}") from None
    try:
        Identity.parse(args.local_id.format(n=1))
    except (ValueError, KeyError, IndexError) as e:
        raise UsageError(f"--local-id {args.local_id!r}: {e}") from None
    if args.psk_file is None:
        raise UsageError(f"IKEv1 --auth {args.auth} needs --psk-file (phase 1 uses it)")
    opts = V1Options(target=args.target, port=args.port, auth=args.auth,
                     ike_proposals=list(ike), esp_proposals=list(esp), local_id=args.local_id,
                     psk=read_secret(args.psk_file),
                     aggressive=bool(getattr(args, "aggressive", False)),
                     fresh_dh=bool(getattr(args, "fresh_dh", False)))
    for text in getattr(args, "remote_ts", None) or ():
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError as e:
            raise UsageError(f"--remote-ts {text!r}: {e}") from None
        opts.remote_ts.append(TrafficSelectorSpec(net.network_address, net.broadcast_address))
    if args.auth == "xauth":
        if args.password_file is None:
            raise UsageError("--auth xauth needs --password-file")
        opts.password = read_secret(args.password_file)
        opts.user = args.user
        try:
            opts.user.format(n=1)
        except (KeyError, IndexError) as e:
            raise UsageError(f"--user {args.user!r}: unknown field {e}") from None
    return Ikev1Kind(opts)
