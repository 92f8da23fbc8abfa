"""Suite-wide pytest setup: markers, the root/skip-or-fail policy, shared fixtures.

Markers (declared in pyproject.toml): ``root`` for tests that need root and network
namespaces, ``slow`` for tests over a few seconds. A ``root`` test, or any test using a
namespace fixture, is skipped with its reason when not run as root, and FAILS instead
when IKESRV_REQUIRE_ROOT_TESTS=1 (CI); a missing peer binary is treated the same way
(tests/harness/policy.py).

Fixtures (each removes what it made, processes stopped by PID, in reverse order):

  cleanup      a tests.harness.cleanup.Cleanup for this test; the tails of registered
               logs are printed when the test failed
  topology     tests.harness.netns.Topology: namespaces cl, gw, nat (see tests/harness/netns.py)
  test_pki     tests.harness.pki.TestPki (session-wide): CA, gw/gw-ecdsa/client1 certs
  strongswan   factory: strongswan(ns, name, conf=None, *, cert=None, **charon_kwargs)
               -> a started tests.harness.strongswan.Charon (configuration loaded when
               ``conf`` is given; ``cert`` = test PKI certificate to install with the CA)
  pluto        factory: pluto(ns, conns=..., secrets=...) -> tests.harness.libreswan.Pluto
  ike_scan     factory: ike_scan(ns) -> tests.harness.ike_scan.IkeScan
  capture      factory: capture(ns, iface, path=None, bpf=IKE_BPF) -> started
               tests.harness.tshark.Capture (call .stop() before reading it)
  slapd        factory: slapd(ns=None, port=3389) -> started tests.harness.slapd.Slapd
  prometheus   factory: prometheus(ns, targets) -> started tests.harness.prometheus.Prometheus
"""

from __future__ import annotations

import pytest

from tests.harness import policy
from tests.harness.cleanup import Cleanup


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") is not None:
        policy.require_root()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # remember each phase's report so fixtures can tell at teardown whether the test failed
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _failed(request: pytest.FixtureRequest) -> bool:
    node = request.node
    return any(getattr(getattr(node, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))


@pytest.fixture
def cleanup(request: pytest.FixtureRequest):
    registry = Cleanup()
    try:
        yield registry
    finally:
        if _failed(request):
            report = registry.logs_report()
            if report:
                print(report)
        registry.close()


@pytest.fixture
def topology(cleanup: Cleanup):
    policy.require_root()
    policy.require_binary("ip", "iproute2")
    policy.require_binary("iptables", "iptables")
    from tests.harness.netns import Topology

    return Topology.build(cleanup)


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory):
    from tests.harness.pki import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def strongswan(cleanup: Cleanup, test_pki):
    from tests.harness.strongswan import DEBIAN_CHARON, Charon

    policy.require_root()
    policy.require_binary(DEBIAN_CHARON, "strongswan-charon")
    policy.require_binary("swanctl", "strongswan-swanctl")

    def start(ns, name, conf=None, *, cert=None, **kwargs) -> Charon:
        charon = Charon(ns, name, cleanup, **kwargs)
        charon.add_credentials(test_pki, cert)
        charon.start(conf)
        if conf is not None:
            charon.load()
        return charon

    return start


@pytest.fixture
def pluto(cleanup: Cleanup):
    from tests.harness import libreswan

    policy.require_root()
    policy.require_binary(libreswan.PLUTO, "libreswan (unpacked by `make lab`)")
    policy.require_binary("certutil", "libnss3-tools")

    def start(
        ns, conns: str = libreswan.DEFAULT_CONNS, secrets: str = libreswan.DEFAULT_SECRETS, **kwargs
    ) -> libreswan.Pluto:
        return libreswan.Pluto(ns, cleanup, **kwargs).start(conns, secrets)

    return start


@pytest.fixture
def ike_scan():
    from tests.harness.ike_scan import IkeScan

    policy.require_root()
    binary = policy.require_binary("ike-scan", "ike-scan")
    return lambda ns, **kwargs: IkeScan(ns, binary=binary, **kwargs)


@pytest.fixture
def capture(cleanup: Cleanup):
    from tests.harness import tshark

    policy.require_root()
    policy.require_binary("dumpcap", "tshark")

    def start(ns, iface: str, path=None, bpf: str = tshark.IKE_BPF) -> tshark.Capture:
        if path is None:
            path = cleanup.mkdtemp("cap") / f"{iface}.pcap"
        return tshark.Capture(ns, iface, path, cleanup, bpf=bpf).start()

    return start


@pytest.fixture
def slapd(cleanup: Cleanup):
    from tests.harness import slapd as slapd_mod

    policy.require_root()
    policy.require_binary("slapd", "slapd")
    policy.require_binary("slapadd", "slapd")
    policy.require_binary("ldapsearch", "ldap-utils")

    def start(ns=None, port: int = slapd_mod.DEFAULT_PORT, **kwargs) -> slapd_mod.Slapd:
        schema = slapd_mod.samba_schema()
        if schema is None:
            policy.unavailable("samba.schema unavailable (apt-get download samba failed)")
        return slapd_mod.Slapd(cleanup, ns=ns, port=port, samba_schema=schema, **kwargs).start()

    return start


@pytest.fixture
def prometheus(cleanup: Cleanup):
    from tests.harness import prometheus as prom

    policy.require_root()
    policy.require_binary("prometheus", "prometheus")

    def start(ns, targets, **kwargs) -> prom.Prometheus:
        return prom.Prometheus(cleanup, ns, list(targets), **kwargs).start()

    return start
