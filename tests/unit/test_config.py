"""ikesrv.config: the schema of DESIGN §6, its defaults, and one error per problem.

The bad-configuration table gives, for each case, the sections that differ from a valid
base configuration, the key path the error must name and a fragment of its message.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pickle
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ikesrv import config as C
from ikesrv.errors import ConfigError

PSK = b"test-psk-0123456789-abcdef"
LDAP_PASSWORD = b"ldap-Secret-0"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, issuer_key, subject: str, issuer: str, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate and key, and a second key that does not match."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    other_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    (d / "ca.crt").write_bytes(_cert(ca_key, ca_key, "Test CA", "Test CA", True).public_bytes(pem))
    (d / "vpn.crt").write_bytes(
        _cert(server_key, ca_key, "vpn.example.org", "Test CA", False).public_bytes(pem))
    for name, key in (("vpn.key", server_key), ("other.key", other_key)):
        path = d / name
        path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
    return d


@pytest.fixture
def files(tmp_path: Path, pki: Path) -> Path:
    """The files a configuration names, private where they hold secrets."""
    for name in ("ca.crt", "vpn.crt", "vpn.key", "other.key"):
        (tmp_path / name).write_bytes((pki / name).read_bytes())
        (tmp_path / name).chmod(0o600)
    secrets = {
        "rw.psk": PSK + b"\n",
        "ldap.secret": LDAP_PASSWORD + b"\n",
        "users.toml": b'[alice]\nnt_hash = "5466D191FA54FE490DB575B3B50E18C0"\n'
                      b'[bob]\npassword = "bob-Secret-2"\n',
    }
    for name, content in secrets.items():
        (tmp_path / name).write_bytes(content)
        (tmp_path / name).chmod(0o600)
    return tmp_path


BASE = {
    "server": 'addresses = ["127.0.0.1"]\nport = 50500\nnatt_port = 54500',
    "kernel": 'backend = "none"',
    "pools.rw": 'addresses = "10.99.0.0/24"\ndns = ["10.99.0.1"]',
    "users": 'backend = "file"',
    "users.file": 'path = "users.toml"',
    "connections.psk": 'version = 2\nlocal_auth = "psk"\nremote_auth = "psk"\n'
                       'psk_file = "rw.psk"\npools = ["rw"]',
}


def render(**sections: str | None) -> str:
    """The base configuration with some sections replaced (None: removed) or added.

    Keyword names use "__" for "." and "_" is kept: connections__psk -> connections.psk.
    """
    merged = dict(BASE)
    for key, body in sections.items():
        name = key.replace("__", ".")
        if body is None:
            merged.pop(name, None)
        else:
            merged[name] = body
    return "\n".join(f"[{name}]\n{body}\n" for name, body in merged.items())


def conn(extra: str = "", *, base: str = BASE["connections.psk"]) -> str:
    return base + "\n" + extra


V1_XAUTH = ('version = 1\nlocal_auth = "psk"\nremote_auth = "xauth"\npsk_file = "rw.psk"\n'
            'pools = ["rw"]')
V2_EAP = ('version = 2\nlocal_auth = "pubkey"\ncertificate = "vpn.crt"\nprivate_key = "vpn.key"\n'
          'remote_auth = "eap-mschapv2"\npools = ["rw"]')
LDAP = ('url = "ldaps://ldap.example.org"\nuser_base = "ou=people,dc=example,dc=org"\n'
        'bind_dn = "cn=ikesrv,dc=example,dc=org"\nbind_password_file = "ldap.secret"')

# (case id, sections, expected key path, expected message fragment)
BAD = [
    ("unknown top-level table", {"servers": "port = 1"}, "servers", "did you mean 'server'"),
    ("unknown key, near miss", {"server": 'addresses = ["127.0.0.1"]\nprot = 500'},
     "server.prot", "did you mean 'port'"),
    ("unknown key, no near miss", {"kernel": 'backend = "none"\nflavour = 1'},
     "kernel.flavour", "known keys: backend"),
    ("port as a string", {"server": 'port = "500"'}, "server.port", "expected an integer"),
    ("port out of range", {"server": "port = 70000"}, "server.port", "out of range"),
    ("same port twice", {"server": "port = 4500"}, "server.natt_port", "must differ"),
    ("listen address not an address", {"server": 'addresses = ["localhost"]'},
     "server.addresses[0]", "not an IP address"),
    ("addresses not a list", {"server": 'addresses = "127.0.0.1"'}, "server.addresses",
     "expected a list"),
    ("workers negative", {"server": "workers = -1"}, "server.workers", "out of range"),
    ("log level", {"server": 'log_level = "verbose"'}, "server.log_level", "is not one of"),
    ("metrics listen", {"metrics": 'listen = "9810"'}, "metrics.listen", "address:port"),
    ("kernel backend", {"kernel": 'backend = "xfrn"'}, "kernel.backend", 'did you mean "xfrm"'),
    ("kernel mark not a pair", {"kernel": 'mark = "0x100000"'}, "kernel.mark",
     'is not "VALUE/MASK"'),
    ("kernel mark as a number", {"kernel": "mark = 1048576"}, "kernel.mark",
     'expected "VALUE/MASK", got an integer'),
    ("kernel mark without a mask", {"kernel": 'mark = "0/0"'}, "kernel.mark", "the mask not 0"),
    ("kernel mark value outside its mask", {"kernel": 'mark = "0x3/0x1"'}, "kernel.mark",
     "bits outside the mask"),
    ("kernel mark over 32 bits", {"kernel": 'mark = "0/0x100000000"'}, "kernel.mark",
     "value and mask are 32 bits"),
    ("bad duration", {"connections.psk": conn('ike_lifetime = "8x"')},
     "connections.psk.ike_lifetime", "bad duration"),
    ("duration of zero", {"connections.psk": conn("child_lifetime = 0")},
     "connections.psk.child_lifetime", "longer than zero"),
    ("negative duration", {"connections.psk": conn("dpd_delay = -5")},
     "connections.psk.dpd_delay", "cannot be negative"),
    ("duration as a boolean", {"server": "half_open_timeout = true"},
     "server.half_open_timeout", "expected a duration"),
    ("unknown algorithm", {"connections.psk": conn('proposals = ["aes999-sha256-modp2048"]')},
     "connections.psk.proposals[0]", "unknown algorithm 'aes999'"),
    ("bad ESP proposal",
     {"connections.psk": conn('esp_proposals = ["aes256gcm16", "aes256-prfsha256"]')},
     "connections.psk.esp_proposals[1]", "aes256-prfsha256"),
    ("weak algorithm without opt-in",
     {"connections.psk": conn('proposals = ["aes128-sha1-modp1024"]')},
     "connections.psk.proposals[0]",
     'add them to connections.psk.weak_algorithms, e.g. weak_algorithms = ["modp1024", "sha1"]'),
    ("weak ESP algorithm, partial opt-in",
     {"connections.psk": conn('esp_proposals = ["3des-sha1"]\nweak_algorithms = ["sha1"]')},
     "connections.psk.esp_proposals[0]", 'weak_algorithms = ["3des"]'),
    ("proposals not a list", {"connections.psk": conn('proposals = "aes256-sha256-modp2048"')},
     "connections.psk.proposals", "expected a list"),
    ("empty proposal list", {"connections.psk": conn("proposals = []")},
     "connections.psk.proposals", "at least one proposal"),
    ("IKEv1 cannot do AEAD in phase 1",
     {"connections.psk": conn('proposals = ["aes256gcm16-prfsha256-modp2048"]',
                              base=V1_XAUTH.replace('"xauth"', '"psk"'))},
     "connections.psk.proposals[0]", "aes256gcm16"),
    ("pool with host bits", {"pools.rw": 'addresses = "10.99.0.1/24"'}, "pools.rw.addresses",
     'the network is "10.99.0.0/24"'),
    ("pool not a network", {"pools.rw": 'addresses = "10.99.0.0/33"'}, "pools.rw.addresses",
     "not a network"),
    ("pool without addresses", {"pools.rw": 'dns = ["10.99.0.1"]'}, "pools.rw.addresses",
     "missing"),
    ("overlapping pools", {"pools.more": 'addresses = "10.99.0.128/25"'},
     "pools.more.addresses", "overlaps pools.rw"),
    ("NBNS over IPv6", {"pools.rw": 'addresses = "10.99.0.0/24"\nnbns = ["fd00::1"]'},
     "pools.rw.nbns[0]", "not an IPv4 address"),
    ("split include with host bits",
     {"pools.rw": 'addresses = "10.99.0.0/24"\nsplit_include = ["10.0.0.1/8"]'},
     "pools.rw.split_include[0]", 'the network is "10.0.0.0/8"'),
    ("exclude outside the pool", {"pools.rw": 'addresses = "10.99.0.0/24"\n'
                                              'exclude = ["10.98.0.0/24"]'},
     "pools.rw.exclude[0]", "not inside the pool"),
    ("unknown pool in a connection", {"connections.psk": conn().replace('["rw"]', '["rx"]')},
     "connections.psk.pools[0]", 'unknown pool "rx": did you mean "rw"?'),
    ("local_ts with host bits", {"connections.psk": conn('local_ts = ["192.0.2.1/24"]')},
     "connections.psk.local_ts[0]", 'the network is "192.0.2.0/24"'),
    ("remote_addrs not a network", {"connections.psk": conn('remote_addrs = ["any"]')},
     "connections.psk.remote_addrs[0]", "not a network"),
    ("missing PSK file", {"connections.psk": conn().replace("rw.psk", "nope.psk")},
     "connections.psk.psk_file", "file not found"),
    ("PSK file is a directory", {"connections.psk": conn().replace('"rw.psk"', '"."')},
     "connections.psk.psk_file", "is a directory"),
    ("missing users file", {"users.file": 'path = "nobody.toml"'}, "users.file.path",
     "file not found"),
    ("missing certificate", {"connections.psk": V2_EAP.replace("vpn.crt", "none.crt")},
     "connections.psk.certificate", "file not found"),
    ("missing CA file", {"connections.psk": V2_EAP.replace("eap-mschapv2", "pubkey")
                         + '\nca_certificates = ["ca.crt", "gone.crt"]'},
     "connections.psk.ca_certificates[1]", "file not found"),
    ("missing LDAP password file",
     {"users.ldap": LDAP.replace("ldap.secret", "none.secret")},
     "users.ldap.bind_password_file", "file not found"),
    ("not a certificate", {"connections.psk": V2_EAP.replace("vpn.crt", "rw.psk")},
     "connections.psk.certificate", "not an X.509 certificate"),
    ("key of another certificate", {"connections.psk": V2_EAP.replace("vpn.key", "other.key")},
     "connections.psk.private_key", "does not belong to the certificate"),
    ("psk without psk_file",
     {"connections.psk": 'local_auth = "psk"\nremote_auth = "psk"'},
     "connections.psk.psk_file", 'local_auth = "psk" needs the file'),
    ("pubkey without a certificate",
     {"connections.psk": 'local_auth = "pubkey"\nremote_auth = "eap-gtc"\n'
                         'private_key = "vpn.key"'},
     "connections.psk.certificate", 'local_auth = "pubkey" needs'),
    ("client certificates without CAs",
     {"connections.psk": V2_EAP.replace("eap-mschapv2", "pubkey")},
     "connections.psk.ca_certificates", "trust anchors"),
    ("EAP with IKEv1", {"connections.psk": V1_XAUTH.replace('"xauth"', '"eap-mschapv2"')},
     "connections.psk.remote_auth", "EAP needs IKEv2"),
    ("IKEv1 with two phase 1 methods",
     {"connections.psk": V1_XAUTH.replace('"xauth"', '"pubkey"')},
     "connections.psk.remote_auth", "both sides with one method (RFC 2409 §5)"),
    ("XAuth with IKEv2", {"connections.psk": V1_XAUTH.replace("version = 1", "version = 2")},
     "connections.psk.remote_auth", "XAuth is IKEv1 only"),
    ("Aggressive Mode with IKEv2", {"connections.psk": conn("aggressive = true")},
     "connections.psk.aggressive", "Aggressive Mode is IKEv1 only"),
    ("XAuth retries with IKEv2", {"connections.psk": conn("xauth_retries = 5")},
     "connections.psk.xauth_retries", "XAuth is IKEv1 only"),
    ("EAP without a responder certificate",
     {"connections.psk": conn('remote_auth = "eap-gtc"').replace('remote_auth = "psk"\n', "")},
     "connections.psk.local_auth", "RFC 7296 §2.16"),
    ("EAP-MD5 with LDAP and no password attribute",
     {"users": 'backend = "ldap"', "users.file": None, "users.ldap": LDAP,
      "connections.psk": V2_EAP.replace("eap-mschapv2", "eap-md5")},
     "connections.psk.remote_auth", "password_attribute"),
    ("EAP-MSCHAPv2 with LDAP and no NT hash attribute",
     {"users": 'backend = "ldap"', "users.file": None, "users.ldap": LDAP,
      "connections.psk": V2_EAP},
     "users.ldap.nt_hash_attribute", "EAP-MSCHAPv2"),
    ("EAP without a users backend",
     {"users": None, "users.file": None, "connections.psk": V2_EAP},
     "connections.psk.remote_auth", 'set [users] backend = "file" or "ldap"'),
    ("users backend without its table", {"users.file": None}, "users.file", "missing"),
    ("LDAP filter without {user}",
     {"users.ldap": LDAP + '\nuser_filter = "(uid=alice)"'}, "users.ldap.user_filter",
     "must contain {user}"),
    ("LDAP filter malformed",
     {"users.ldap": LDAP + '\nuser_filter = "(&(objectClass=person)(uid={user})"'},
     "users.ldap.user_filter", "expected ')' at 34"),
    ("LDAP filter with a bad escape",
     {"users.ldap": LDAP + '\nuser_filter = "(&(cn=a\\\\zz)(uid={user}))"'},
     "users.ldap.user_filter", "not followed by two hex digits"),
    ("LDAP group member attribute", {"users.ldap": LDAP + '\ngroup_member_attribute = "mem ber"'},
     "users.ldap.group_member_attribute", "'mem ber' is not an attribute name"),
    ("LDAP URL", {"users.ldap": LDAP.replace("ldaps://ldap.example.org", "http://x")},
     "users.ldap.url", "not an LDAP URL"),
    ("LDAP bind DN without password",
     {"users.ldap": LDAP.replace('bind_password_file = "ldap.secret"', "")},
     "users.ldap.bind_password_file", "bind_dn needs its password file"),
    ("LDAPS with StartTLS", {"users.ldap": LDAP + "\nstart_tls = true"}, "users.ldap.start_tls",
     "already TLS"),
    ("choice misspelt", {"connections.psk": conn('unique = "replce"')},
     "connections.psk.unique", 'did you mean "replace"'),
    ("send_cert choice", {"connections.psk": conn('send_cert = "never"')},
     "connections.psk.send_cert", '"ifasked", "always"'),
    ("version 3", {"connections.psk": conn().replace("version = 2", "version = 3")},
     "connections.psk.version", "out of range"),
    ("boolean as a string", {"connections.psk": conn('rekey = "yes"')}, "connections.psk.rekey",
     "expected true or false"),
    ("no connections", {"connections.psk": None}, "connections", "no connections"),
    ("connection key misspelt", {"connections.psk": conn('esp_proposal = ["aes256gcm16"]')},
     "connections.psk.esp_proposal", "did you mean 'esp_proposals'"),
    ("connection name with a dot", {'connections."a.b"': 'local_auth = "psk"\n'
                                                         'remote_auth = "psk"'},
     'connections."a.b".psk_file', "missing"),
]


@pytest.mark.parametrize("sections, path, fragment",
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_config(files: Path, sections: dict, path: str, fragment: str) -> None:
    text = render(**{k.replace(".", "__"): v for k, v in sections.items()})
    with pytest.raises(ConfigError) as caught:
        C.load_text(text, files)
    errors = caught.value.errors
    matching = [message for key, message in errors if key == path]
    assert matching, f"no error at {path}; got {errors}"
    assert any(fragment in message for message in matching), errors
    # every line of str() is "key.path: message"
    assert f"{path}: " in str(caught.value)


def test_users_file_errors_name_user_and_key(files: Path) -> None:
    (files / "users.toml").write_text('[alice]\nnt_hash = "xyz"\n[bob]\npasword = "x"\n[carol]\n')
    with pytest.raises(ConfigError) as caught:
        C.load_text(render(), files)
    messages = [m for p, m in caught.value.errors if p == "users.file.path"]
    assert any("alice.nt_hash" in m and "32 hex digits" in m for m in messages), messages
    assert any("bob.pasword" in m and "did you mean 'password'" in m for m in messages)
    assert any("carol" in m and "no credential" in m for m in messages)


def test_all_errors_are_reported_together(files: Path) -> None:
    text = render(server="port = 0", pools__rw='addresses = "10.99.0.1/24"',
                  connections__psk=conn('ike_lifetime = "soon"\nproposals = ["aes999"]'))
    with pytest.raises(ConfigError) as caught:
        C.load_text(text, files)
    paths = {p for p, _ in caught.value.errors}
    assert {"server.port", "pools.rw.addresses", "connections.psk.ike_lifetime",
            "connections.psk.proposals[0]"} <= paths


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError) as caught:
        C.load(path)
    ((where, message),) = caught.value.errors
    assert where == str(path) and "not valid TOML" in message and "line 1" in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        C.load(tmp_path / "absent.toml")
    assert "cannot read" in str(caught.value)


def test_minimal_config_gets_defaults(files: Path) -> None:
    config = C.load_text(render(), files)
    s = config.server
    assert s.addresses == (ipaddress.ip_address("127.0.0.1"),)
    assert (s.port, s.natt_port, s.workers) == (50500, 54500, 0)
    assert s.control_socket == Path("/run/ikesrv/control.sock")
    assert config.metrics == C.MetricsConfig(True, ipaddress.ip_address("127.0.0.1"), 9810)
    assert config.kernel.backend == "none"
    c = config.connections["psk"]
    assert c.version == 2 and c.remote_id == "%any" and c.unique == "replace"
    assert c.proposal_strings == C.DEFAULT_IKE_PROPOSALS_V2
    assert [str(p) for p in c.proposals] == list(C.DEFAULT_IKE_PROPOSALS_V2)
    assert c.esp_proposal_strings == C.DEFAULT_ESP_PROPOSALS
    assert (c.ike_lifetime, c.child_lifetime, c.dpd_delay) == (28800.0, 3600.0, 30.0)
    assert c.local_ts == (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    assert c.psk_file == files / "rw.psk" and c.psk.reveal() == PSK
    assert not c.transport_mode and c.fragmentation and not c.rekey
    assert c.retransmit_schedule == pytest.approx((4.0, 7.2, 12.96, 23.328, 41.9904, 75.58272))
    assert config.pools["rw"].addresses == ipaddress.ip_network("10.99.0.0/24")
    assert config.warnings == ()


def test_values_are_typed(files: Path) -> None:
    text = render(
        server='addresses = ["127.0.0.1", "::1"]\nport = 50500\nnatt_port = 54500\n'
               'half_open_timeout = "1m30s"\nshutdown_timeout = 2.5',
        metrics='listen = "[::1]:9900"',
        pools__v6='addresses = "fd00:99::/64"\ndns = ["fd00:99::1"]',
        connections__psk=conn('remote_addrs = ["198.51.100.0/24", "2001:db8::/32"]\n'
                              'ike_lifetime = "1h30m"\nchild_lifetime = 1200\n'
                              'dpd_delay = "500ms"\nweak_algorithms = ["sha1"]\n'
                              'proposals = ["aes256-sha1-modp2048"]'),
    )
    config = C.load_text(text, files)
    assert config.server.addresses[1] == ipaddress.IPv6Address("::1")
    assert config.server.half_open_timeout == 90.0 and config.server.shutdown_timeout == 2.5
    assert (config.metrics.address, config.metrics.port) == (ipaddress.ip_address("::1"), 9900)
    assert config.pools["v6"].addresses.version == 6
    c = config.connections["psk"]
    assert c.remote_addrs[1] == ipaddress.ip_network("2001:db8::/32")
    assert (c.ike_lifetime, c.child_lifetime, c.dpd_delay) == (5400.0, 1200.0, 0.5)
    assert c.weak_algorithms == frozenset({"sha1"})
    assert c.proposals[0].weak_algorithms == {"sha1"}


def test_config_is_frozen_and_picklable(files: Path) -> None:
    config = C.load_text(render(), files)
    with pytest.raises(AttributeError):
        config.server.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.pools["x"] = None  # type: ignore[index]
    copy = pickle.loads(pickle.dumps(config))
    assert copy.connections["psk"].psk == config.connections["psk"].psk
    assert copy.server == config.server


@pytest.mark.parametrize("text, seconds", [
    (30, 30.0), (2.5, 2.5), ("30s", 30.0), ("8h", 28800.0), ("1h30m", 5400.0),
    ("500ms", 0.5), ("1d", 86400.0), ("1m 30s", 90.0), ("0", 0.0), ("1.5h", 5400.0),
])
def test_parse_duration(text, seconds) -> None:
    assert C.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "8x", "h", "1h30", "30 sec", "-1s", True, [1]])
def test_parse_duration_rejects(text) -> None:
    with pytest.raises(ValueError):
        C.parse_duration(text)


@pytest.mark.parametrize("seconds, text", [
    (28800, "8h"), (5400, "1h30m"), (0.5, "500ms"), (30, "30s"), (90061, "1d1h1m1s"), (0, "0s"),
])
def test_format_duration(seconds, text) -> None:
    assert C.format_duration(seconds) == text
    assert C.parse_duration(text) == seconds


def test_weak_algorithms_opt_in_accepts_and_warns_when_unused(files: Path) -> None:
    text = render(connections__psk=conn(
        'proposals = ["aes128-sha1-modp1024"]\nweak_algorithms = ["sha1", "modp1024", "3des"]'))
    config = C.load_text(text, files)
    assert config.connections["psk"].proposals[0].weak_algorithms == {"sha1", "modp1024"}
    assert ("connections.psk.weak_algorithms", "listed but used by no proposal: 3des") in \
        config.warnings


def test_secret_files_readable_by_others_warn(files: Path) -> None:
    (files / "rw.psk").chmod(0o644)
    config = C.load_text(render(), files)
    ((path, message),) = [w for w in config.warnings if w[0] == "connections.psk.psk_file"]
    assert "accessible to other users (mode 0644)" in message


def test_relative_paths_resolve_against_the_config_directory(files: Path, tmp_path_factory) \
        -> None:
    path = files / "ikesrv.toml"
    path.write_text(render())
    elsewhere = tmp_path_factory.mktemp("cwd")
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        config = C.load(path)
    finally:
        os.chdir(cwd)
    assert config.users.file.path == files / "users.toml"
    assert config.source == path


def test_secret_never_shown(files: Path) -> None:
    text = render(users='backend = "ldap"', users__file=None,
                  users__ldap=LDAP + '\nnt_hash_attribute = "sambaNTPassword"',
                  connections__eap=V2_EAP)
    config = C.load_text(text, files)
    psk = config.connections["psk"].psk
    assert psk.reveal() == PSK
    assert config.users.ldap.bind_password.reveal() == LDAP_PASSWORD
    shown = repr(config) + str(config) + config.summary() + repr(psk) + str(psk) + f"{psk}"
    for secret in (PSK, LDAP_PASSWORD):
        assert secret.decode() not in shown
    assert "rw.psk" in repr(psk)
    assert C.Secret(b"a") == C.Secret(b"a") and C.Secret(b"a") != C.Secret(b"b")


def test_ldap_without_tls_warns(files: Path) -> None:
    ldap = LDAP.replace("ldaps://", "ldap://")
    config = C.load_text(render(users__ldap=ldap), files)
    assert any(p == "users.ldap.url" and "unencrypted" in m for p, m in config.warnings)


def test_main_mode_psk_clash_warns(files: Path) -> None:
    (files / "other.psk").write_bytes(b"another-psk-0123456789")
    (files / "other.psk").chmod(0o600)
    text = render(connections__psk=V1_XAUTH,
                  connections__other=V1_XAUTH.replace("rw.psk", "other.psk"))
    config = C.load_text(text, files)
    assert any(p == "connections.other.remote_addrs" and "Main Mode" in m
               for p, m in config.warnings)
    separated = render(connections__psk=V1_XAUTH + '\nremote_addrs = ["192.0.2.0/24"]',
                       connections__other=V1_XAUTH.replace("rw.psk", "other.psk")
                       + '\nremote_addrs = ["198.51.100.0/24"]')
    assert not C.load_text(separated, files).warnings


def test_demo_config_loads() -> None:
    config = C.load(C.DEMO_PATH)
    assert config.is_demo
    assert config.server.addresses == (ipaddress.ip_address("127.0.0.1"),)
    assert config.kernel.backend == "none"
    assert (config.metrics.address, config.metrics.port) == (
        ipaddress.ip_address("127.0.0.1"), 9810)
    assert config.users.backend == "file"
    versions = {c.name: (c.version, c.local_auth, c.remote_auth)
                for c in config.connections.values()}
    assert versions == {"ikev2-psk": (2, "psk", "psk"), "ikev2-eap": (2, "pubkey", "eap-mschapv2"),
                        "ikev1-xauth": (1, "psk", "xauth")}
    assert config.pools["demo"].dns == (ipaddress.ip_address("10.99.0.1"),)
    assert config.warnings == ()
    assert "never deploy it" in config.summary()


def test_demo_users_file() -> None:
    users = C.load_users(C.DEMO_PATH.parent / "demo-users.toml")
    alice = users["alice"]
    assert C.verify_password(alice.password_hash, "alice-Secret-1")
    assert not C.verify_password(alice.password_hash, "alice-Secret-2")
    # MD4(UTF-16LE("alice-Secret-1")), as in the test directory's sambaNTPassword
    assert alice.nt_hash.reveal() == bytes.fromhex("5466D191FA54FE490DB575B3B50E18C0")
    assert users["carol"].password.reveal() == b"carol-Secret-3"
    assert users["carol"].password_hash is None
    assert "Secret-" not in repr(users)


def test_hash_password_round_trip() -> None:
    encoded = C.hash_password("pässword", ln=4)
    assert encoded.startswith("$scrypt$ln=4,r=8,p=1$")
    secret = C.Secret(encoded.encode())
    assert C.verify_password(secret, "pässword") and not C.verify_password(secret, "password")
    assert C.hash_password("pässword", ln=4) != encoded  # salted


DESIGN_EXAMPLE = """
[server]
addresses = ["0.0.0.0"]        # IKE listen addresses; ports 500 and 4500
workers = 0                    # 0 = one per CPU
[metrics]
listen = "127.0.0.1:9810"
[kernel]
backend = "xfrm"               # xfrm | none
[pools.rw]
addresses = "10.99.0.0/16"
dns = ["10.99.0.1"]
[users]
backend = "ldap"               # file | ldap
[users.file]
path = "/etc/ikesrv/users.toml" # [alice] password = "..." or nt_hash = "<32 hex>"
[users.ldap]
url = "ldap://127.0.0.1:389"   # ldaps:// or start_tls = true in production
bind_dn = "cn=ikesrv,ou=services,dc=example,dc=org"
bind_password_file = "/etc/ikesrv/ldap.secret"
user_base = "ou=people,dc=example,dc=org"
user_filter = "(&(objectClass=inetOrgPerson)(uid={user}))"
nt_hash_attribute = "sambaNTPassword"     # for EAP-MSCHAPv2
require_group = "cn=vpn,ou=groups,dc=example,dc=org"
timeout = "3s"                 # connect and response timeout per LDAP request
[connections.rw-eap]
version = 2
local_id = "vpn.example.org"
local_auth = "pubkey"          # pubkey | psk
certificate = "/etc/ikesrv/vpn.crt"
private_key = "/etc/ikesrv/vpn.key"
remote_auth = "eap-mschapv2"   # psk | pubkey | eap-mschapv2 | eap-gtc | eap-md5; v1: psk | pubkey |
                               #   xauth (phase 1 by local_auth's method, then XAuth)
remote_id = "%any"             # identities accepted (strongSwan-style, wildcards allowed)
ca_certificates = ["/etc/ikesrv/ca.crt"]   # trust anchors for client certificates
# aggressive = true            # v1 only: allow Aggressive Mode (needed by some PSK clients)
# psk_file = "/etc/ikesrv/rw.psk"   # with local_auth or remote_auth = "psk": the file holds
#                                   # the key (a trailing newline is ignored)
proposals = ["aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048"]
esp_proposals = ["aes256gcm16", "aes256-sha256"]
pools = ["rw"]
local_ts = ["0.0.0.0/0"]
ike_lifetime = "8h"
child_lifetime = "1h"
dpd_delay = "30s"
"""


def test_design_example_loads(files: Path) -> None:
    config = C.load_text(DESIGN_EXAMPLE.replace("/etc/ikesrv/", f"{files}/"), files)
    c = config.connections["rw-eap"]
    assert (c.local_id, c.certificate, c.ca_certificates) == (
        "vpn.example.org", files / "vpn.crt", (files / "ca.crt",))
    assert [str(p) for p in c.esp_proposals] == ["aes256gcm16", "aes256-sha256"]
    assert c.local_ts == (ipaddress.ip_network("0.0.0.0/0"),)
    ldap = config.users.ldap
    assert ldap.timeout == 3.0 and ldap.nt_hash_attribute == "sambaNTPassword"
    assert ldap.user_filter == "(&(objectClass=inetOrgPerson)(uid={user}))"
    assert ldap.bind_password.reveal() == LDAP_PASSWORD
    assert config.users.backend == "ldap" and config.users.file.path == files / "users.toml"
    assert config.kernel.backend == "xfrm" and config.kernel.mark == (0, 0x100000)
    # plain ldap:// is the example's only warning
    assert [p for p, _ in config.warnings] == ["users.ldap.url"]


def test_summary_describes_every_part(files: Path) -> None:
    config = C.load_text(DESIGN_EXAMPLE.replace("/etc/ikesrv/", f"{files}/"), files)
    summary = config.summary()
    for fragment in ("UDP 500 and 4500 on 0.0.0.0", "http://127.0.0.1:9810/metrics",
                     "kernel: xfrm (Linux IPsec), entries marked 0x0/0x100000",
                     "users: LDAP ldap://127.0.0.1:389", "pool rw: 10.99.0.0/16",
                     "connection rw-eap: IKEv2", "aes256gcm16-prfsha384-ecp384",
                     "IKE 8h, CHILD 1h; DPD after 30s", "warning: users.ldap.url"):
        assert fragment in summary, fragment


def test_default_path(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(C, "DEFAULT_PATH", tmp_path / "absent.toml")
    assert C.default_path() == C.DEMO_PATH
    (tmp_path / "present.toml").write_text("")
    monkeypatch.setattr(C, "DEFAULT_PATH", tmp_path / "present.toml")
    assert C.default_path() == tmp_path / "present.toml"


def test_kernel_mark_of_a_second_instance(files: Path) -> None:
    text = DESIGN_EXAMPLE.replace("/etc/ikesrv/", f"{files}/").replace(
        'backend = "xfrm"               # xfrm | none',
        'backend = "xfrm"\nmark = "0 / 0x200000"')
    config = C.load_text(text, files)
    assert config.kernel.mark == (0, 0x200000)
    assert "entries marked 0x0/0x200000" in config.summary()
