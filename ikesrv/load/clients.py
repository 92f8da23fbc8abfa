"""Client kinds of the load generator: how one simulated client is made and driven.

Owns: ``ClientKind`` (what the engine needs from a kind of client: make client number n,
whose object has the ``Client`` methods below), ``kind_for(options)`` (the registry by IKE
version and authentication, and the plain refusal of combinations not built yet), and
the IKEv2 kind over ikesrv.load.initiator.Ikev2Initiator (PSK, certificates, and EAP
through ikesrv.load.eap_client).

The IKEv1 kind (Main/Aggressive Mode, XAuth, Mode Config) lives in
ikesrv.load.clients_v1; any other kind plugs in as one more entry of ``KINDS``: an object
answering ``start``, ``receive``, ``outstanding``, the operations it lists in
``OPERATIONS`` (``rekey_child``, ``rekey_ike``, ``liveness``, ``delete``) and the state
properties below.

Sans-I/O like the initiator: bytes and time in, datagrams out. Imports ikesrv's codec,
crypto and identity modules, never a socket or the clock.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from ..crypto.proposals import parse_esp_proposal, parse_ike_proposal
from ..identity import Identity
from .initiator import ClientSettings, Ikev2Initiator

# What a client is doing, for the engine.
SETUP, UP, FAILED, DONE = "setup", "up", "failed", "done"

DEFAULT_IKE = {2: ["aes128-sha256-x25519"]}
DEFAULT_ESP = {2: ["aes128-sha256"]}


class UsageError(ValueError):
    """Options that cannot work together; the text says why and what would."""


@dataclass
class V2Options:
    """The parts of the command line an IKEv2 client needs (see ``kind_for``)."""

    target: str
    port: int
    auth: str
    ike_proposals: list
    esp_proposals: list
    local_id: str
    remote_id: Identity | None = None
    psk: bytes = field(default=b"", repr=False)
    credential: object = None  # one certificate for every client
    issuer: tuple | None = field(default=None, repr=False)  # (CA cert, CA key): one each
    ca_certificates: list = field(default_factory=list)  # CERTREQ names them (§3.7)
    want_vip: bool = True
    natt_port: int = 4500
    user: str = "user{n}"  # EAP identity template
    password: str = field(default="", repr=False)  # EAP password, the same for every user
    fresh_dh: bool = False  # a new DH key per IKE_SA_INIT instead of one per process


class LoadClient:
    """What every simulated client shares: the engine's view of it, read from its
    initiator core, its set-up outcome and the operation it waits an answer for.
    Subclasses name the exchanges (``_established``, ``_setup_step``) and operations."""

    __slots__ = ("_op_ref", "failure", "ini", "n", "op", "peer_deleted", "phase")

    #: what the engine may schedule while the SA is held
    OPERATIONS: frozenset = frozenset()

    def __init__(self, n: int, ini):
        self.n = n
        self.ini = ini
        self.phase = SETUP
        self.failure: str | None = None
        self.op: str | None = None  # the operation whose answer we wait for, after set-up
        self._op_ref = None
        self.peer_deleted = False

    # --- what the engine reads -------------------------------------------------------

    @property
    def remote(self) -> tuple:
        return self.ini.remote  # IKEv1: moves to the NAT-T port when a NAT was detected

    @property
    def started_at(self) -> float:
        return self.ini.started_at

    @property
    def established_at(self) -> float | None:
        return self.ini.established_at

    @property
    def peer_requests(self) -> int:
        return self.ini.peer_requests

    # --- inputs ----------------------------------------------------------------------

    def start(self, now: float) -> list[bytes]:
        return self.ini.start(now)

    def receive(self, data: bytes, now: float) -> list[bytes]:
        ini = self.ini
        out = ini.receive(data, now)
        if self.phase == SETUP:
            if ini.state == "failed":
                self.phase, self.failure = FAILED, ini.failure
            elif ini.state == "established":
                self._established()
        elif ini.state == "deleted" and self.op != "delete":
            self.peer_deleted = True
            self.phase = DONE
        return out

    def _established(self) -> None:
        self.phase = UP

    def _setup_step(self) -> str:
        """The set-up exchange now waiting for an answer, in words (subclasses name it)."""
        return "set-up"

    def timed_out(self) -> str:
        """The failure text for a request that was never answered."""
        what = self._setup_step() if self.phase == SETUP else self.op or "request"
        return f"{what} timeout: no answer, retransmissions exhausted"

    def delete(self, now: float) -> list[bytes]:
        self.op, self._op_ref = "delete", None
        return self.ini.delete(now)


class Ikev2Client(LoadClient):
    """One IKEv2 client: set-up, then on demand CHILD/IKE rekeys, liveness and delete."""

    __slots__ = ()

    OPERATIONS = frozenset({"rekey_child", "rekey_ike", "liveness", "delete"})

    @property
    def spi(self) -> bytes:
        """The initiator SPI in the header of the current IKE SA's messages (after a
        rekey started by the responder, that SPI is the responder's: §2.18)."""
        sa = self.ini.sa
        return sa.spi_i if sa is not None else self.ini.spi_i

    def outstanding(self):
        """(key, datagrams) of the request we wait an answer for, or None. The key changes
        with every new request, so the engine knows when to restart its retransmission."""
        ini = self.ini
        if ini.state == "sa_init":
            return ("init", id(ini.last_request)), ini.last_request
        sa = ini.sa
        if sa is not None and sa.outstanding is not None and ini.state != "failed":
            return (id(sa), sa.outstanding.message_id), sa.outstanding.datagrams
        return None

    def _established(self) -> None:
        if self.ini.child is None:
            # RFC 7296 §1.2: the IKE SA stands, its first CHILD SA was refused
            names = ", ".join(_name(t) for t in getattr(self.ini, "auth_notifies", ()))
            self.phase = FAILED
            self.failure = f"CHILD SA refused: {names or 'no SA payload'}"
        else:
            self.phase = UP

    def _setup_step(self) -> str:
        return "IKE_SA_INIT" if self.ini.state == "sa_init" else "IKE_AUTH"

    # --- operations while the SA is up -------------------------------------------------

    def rekey_child(self, now: float) -> list[bytes]:
        self.op = "rekey_child"
        self._op_ref = (self.ini.child, getattr(self.ini, "last_error", None))
        return self.ini.rekey_child(now)

    def rekey_ike(self, now: float) -> list[bytes]:
        self.op, self._op_ref = "rekey_ike", self.ini.sa
        return self.ini.rekey_ike(now)

    def liveness(self, now: float) -> list[bytes]:
        self.op, self._op_ref = "liveness", getattr(self.ini, "alive_at", None)
        return self.ini.liveness(now)

    def op_result(self) -> bool | None:
        """After the answer to ``op``: True (done as asked), False (refused), None (no
        answer yet). A CHILD rekey is only done once the old CHILD SA's delete is answered."""
        if self.op is None or self.outstanding() is not None:
            return None
        ini = self.ini
        if self.op == "rekey_child":
            old_child, old_error = self._op_ref
            return ini.child is not old_child and getattr(ini, "last_error", None) is old_error
        if self.op == "rekey_ike":
            return ini.sa is not self._op_ref
        if self.op == "liveness":
            return getattr(ini, "alive_at", None) is not self._op_ref
        return ini.state == "deleted"


class Ikev2Kind:
    """Makes IKEv2 clients: settings shared, identity (and certificate) per client."""

    def __init__(self, opts: V2Options):
        self.opts = opts
        self.ike = [parse_ike_proposal(p) for p in opts.ike_proposals]
        self.esp = [parse_esp_proposal(p) for p in opts.esp_proposals]
        # RFC 7296 §2.12 lets an initiator reuse its DH exponential; the generator does
        # (one key per group and process) so that its CPU goes to what the responder
        # must do for each SA. The responder still makes and uses a fresh key per SA.
        self.dh_keys = None if opts.fresh_dh else {}

    def identity(self, n: int) -> Identity:
        return Identity.parse(self.opts.local_id.format(n=n))

    def prepare(self, numbers) -> None:
        """Work done before the clock starts: one certificate per client when asked to
        issue them, so that the run measures IKE and not certificate issuance."""
        if self.opts.issuer is not None:
            self._issued = {n: issue_client_credential(self.opts.issuer, self.identity(n))
                            for n in numbers}

    def make(self, n: int, rng, local: tuple, remote: tuple) -> Ikev2Client:
        o = self.opts
        credential = o.credential
        if o.auth == "pubkey" and o.issuer is not None:
            credential = self._issued.pop(n)
        settings = ClientSettings(
            ike_proposals=self.ike, esp_proposals=self.esp, local_id=self.identity(n),
            auth=o.auth, psk=o.psk, credential=credential, remote_id=o.remote_id,
            want_vip=o.want_vip, dh_keys=self.dh_keys, ca_certificates=o.ca_certificates)
        if o.auth.startswith("eap-"):
            settings.eap_identity = o.user.format(n=n)
            settings.eap_password = o.password
        return Ikev2Client(n, Ikev2Initiator(settings, rng, local, remote, natt_port=o.natt_port))


#: (IKE version, --auth) -> the class making such clients (IKEv1: clients_v1.Ikev1Kind,
#: "xauth" = phase 1 with the pre-shared key, then XAuth)
KINDS = {(2, "psk"): Ikev2Kind, (2, "pubkey"): Ikev2Kind, (2, "eap-mschapv2"): Ikev2Kind,
         (2, "eap-gtc"): Ikev2Kind, (2, "eap-md5"): Ikev2Kind}


def kind_for(args):
    """The client kind for the command line ``args`` (ikesrv.cli's load options), or
    UsageError saying plainly what is not possible."""
    key = (args.version, args.auth)
    if key not in KINDS:
        built = ", ".join(f"IKEv{v} {a}" for v, a in sorted(KINDS))
        raise UsageError(f"IKEv{args.version} with --auth {args.auth} is not built into the "
                         f"load generator yet (built: {built})")
    if args.version == 1:
        from .clients_v1 import kind_for_v1
        return kind_for_v1(args)
    if getattr(args, "aggressive", False):
        raise UsageError("--aggressive is an IKEv1 mode: give --version 1")
    ike = args.proposal or DEFAULT_IKE[args.version]
    esp = args.esp_proposal or DEFAULT_ESP[args.version]
    for text, parse in [(p, parse_ike_proposal) for p in ike] + [(p, parse_esp_proposal)
                                                                  for p in esp]:
        try:
            parse(text)
        except ValueError as e:
            raise UsageError(f"proposal {text!r}: {e}") from None
    try:
        Identity.parse(args.local_id.format(n=1))
    except (ValueError, KeyError, IndexError) as e:
        raise UsageError(f"--local-id {args.local_id!r}: {e}") from None
    opts = V2Options(target=args.target, port=args.port, auth=args.auth,
                     ike_proposals=list(ike), esp_proposals=list(esp), local_id=args.local_id)
    if args.remote_id:
        try:
            opts.remote_id = Identity.parse(args.remote_id)
        except ValueError as e:
            raise UsageError(f"--remote-id {args.remote_id!r}: {e}") from None
    opts.fresh_dh = bool(getattr(args, "fresh_dh", False))
    if args.auth == "psk":
        if args.psk_file is None:
            raise UsageError("--auth psk needs --psk-file")
        opts.psk = _read_secret(args.psk_file)
    elif args.auth.startswith("eap-"):
        # RFC 7296 §2.16: the responder signs with its certificate, the client uses EAP
        if args.password_file is None:
            raise UsageError(f"--auth {args.auth} needs --password-file")
        opts.password = _read_secret(args.password_file).decode("utf-8", "replace")
        opts.user = args.user
        try:
            opts.user.format(n=1)
        except (KeyError, IndexError) as e:
            raise UsageError(f"--user {args.user!r}: unknown field {e}") from None
    else:
        _pubkey_options(args, opts)
    return KINDS[key](opts)


def _pubkey_options(args, opts: V2Options) -> None:
    from ..crypto import certs
    cert, key = getattr(args, "cert", None), getattr(args, "key", None)
    ca_cert, ca_key = getattr(args, "ca_cert", None), getattr(args, "ca_key", None)
    if ca_cert:
        # the clients ask for the responder's certificate with a CERTREQ naming this CA
        try:
            opts.ca_certificates = [certs.load_certificate(str(ca_cert))]
        except (ValueError, OSError) as e:
            raise UsageError(f"--ca-cert: {e}") from None
    if cert and key:
        try:
            opts.credential = certs.LocalCredential.load(str(cert), str(key))
        except (ValueError, OSError) as e:
            raise UsageError(f"--cert/--key: {e}") from None
    elif ca_cert and ca_key:
        try:
            opts.issuer = (opts.ca_certificates[0], certs.load_private_key(str(ca_key)))
        except (ValueError, OSError) as e:
            raise UsageError(f"--ca-key: {e}") from None
    else:
        raise UsageError("--auth pubkey needs --cert and --key (one certificate for every "
                         "client) or --ca-cert and --ca-key (a certificate issued to each "
                         "client for its --local-id)")


def _read_secret(path: Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror or e}") from None
    # the same rule as the responder's psk_file: a trailing newline is not part of the key
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise UsageError(f"{path}: empty pre-shared key")
    return data


def issue_client_credential(issuer: tuple, identity: Identity):
    """An ECDSA P-256 certificate for ``identity`` (in its subjectAltName and CN), signed
    by ``issuer`` = (CA certificate, CA private key): what each simulated client presents."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from ..constants import IdType
    from ..crypto.certs import LocalCredential

    ca_cert, ca_key = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    text = str(identity)
    if identity.id_type == IdType.ID_RFC822_ADDR:
        san = x509.RFC822Name(text)
    elif identity.id_type == IdType.ID_FQDN:
        san = x509.DNSName(text)
    else:
        raise UsageError(f"--local-id {text!r}: issued certificates need an e-mail or "
                         "FQDN identity")
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return LocalCredential(cert, key, (ca_cert,))


def _name(t: int) -> str:
    from ..constants import NotifyType
    try:
        return NotifyType(t).name
    except ValueError:
        return f"notify {t}"


# The IKEv1 kinds: their module uses this one's names, so it is imported last.
from .clients_v1 import Ikev1Kind

KINDS.update({(1, "psk"): Ikev1Kind, (1, "xauth"): Ikev1Kind})
