"""Virtual IP pools: usable ranges, per-worker slices, stickiness, CP attributes."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ikesrv.constants import CfgAttribute, V1CfgAttribute
from ikesrv.pool import AddressPool, Lease, Pools

ip = ipaddress.ip_address


def drain(pool: AddressPool) -> list:
    """Every address the pool hands out, acquired by distinct owners until exhausted."""
    got = []
    while (a := pool.acquire(f"drain-{len(got)}")) is not None:
        got.append(a)
    return got


# ------------------------------------------------------------------ usable range ------

USABLE = [
    # network, size, first, last: IPv4 loses network and broadcast (RFC 919/922),
    # /31 keeps both (RFC 3021), IPv6 loses the Subnet-Router anycast (RFC 4291 §2.6.1)
    # but /127 keeps both (RFC 6164)
    ("10.99.0.0/24", 254, "10.99.0.1", "10.99.0.254"),
    ("10.99.0.0/30", 2, "10.99.0.1", "10.99.0.2"),
    ("10.99.0.0/31", 2, "10.99.0.0", "10.99.0.1"),
    ("10.99.0.7/32", 1, "10.99.0.7", "10.99.0.7"),
    ("10.0.0.0/8", 2**24 - 2, "10.0.0.1", "10.255.255.254"),
    ("fd00:99::/120", 255, "fd00:99::1", "fd00:99::ff"),
    ("fd00:99::/127", 2, "fd00:99::", "fd00:99::1"),
    ("fd00:99::5/128", 1, "fd00:99::5", "fd00:99::5"),
    ("fd00:99::/64", 2**64 - 1, "fd00:99::1", "fd00:99::ffff:ffff:ffff:ffff"),
]


@pytest.mark.parametrize("network,size,first,last", USABLE)
def test_usable_range(network, size, first, last):
    pool = AddressPool("p", network)
    assert (pool.size, pool.free, pool.used) == (size, size, 0)
    assert (pool.first, pool.last) == (ip(first), ip(last))
    assert pool.acquire("alice") == ip(first)


def test_small_pool_hands_out_exactly_its_hosts_then_none():
    pool = AddressPool("p", "192.0.2.16/28")
    got = drain(pool)
    assert got == list(ipaddress.ip_network("192.0.2.16/28").hosts())
    assert pool.acquire("late") is None
    assert (pool.used, pool.free) == (14, 0)


def test_large_pools_are_lazy():
    # Materialising 2^64 addresses would never finish: handing out in order is O(1).
    pool = AddressPool("v6", "2001:db8::/64")
    assert [pool.acquire(f"u{i}") for i in range(3)] == [
        ip("2001:db8::1"), ip("2001:db8::2"), ip("2001:db8::3")]
    slices = pool.split(3)
    assert sum(s.size for s in slices) == 2**64 - 1
    assert slices[2].acquire("x") == slices[2].first


def test_exclusions_and_own_servers_are_never_handed_out():
    pool = AddressPool("p", "192.0.2.0/28", dns=["192.0.2.1", "2001:db8::53"],
                       nbns=["192.0.2.14"], exclude=["192.0.2.4/30"])
    got = drain(pool)
    assert got == [ip(f"192.0.2.{i}") for i in (2, 3, 8, 9, 10, 11, 12, 13)]
    assert pool.size == 8
    assert ip("192.0.2.5") not in pool and not pool.is_free("192.0.2.5")
    pool.release(ip("192.0.2.9"))
    assert pool.acquire("other", requested="192.0.2.5") == ip("192.0.2.9")


# ------------------------------------------------------------------ slices ------------


def test_power_of_two_slices_are_cidr_blocks():
    slices = AddressPool("rw", "10.99.0.0/16").split(4)
    blocks = [s.slice_networks() for s in slices]
    # the network address comes off the first /18, the broadcast off the last
    assert blocks[1] == [ipaddress.ip_network("10.99.64.0/18")]
    assert blocks[2] == [ipaddress.ip_network("10.99.128.0/18")]
    assert ipaddress.ip_network("10.99.0.0/18").num_addresses - 1 == slices[0].size
    assert (slices[0].first, slices[3].last) == (ip("10.99.0.1"), ip("10.99.255.254"))
    assert [s.size for s in slices] == [16383, 16384, 16384, 16383]


def test_constructor_slice_equals_split():
    whole = AddressPool("rw", "10.99.0.0/24")
    for i, piece in enumerate(whole.split(3)):
        alone = AddressPool("rw", "10.99.0.0/24", slice_index=i, slice_count=3)
        assert (alone.first, alone.last, alone.size) == (piece.first, piece.last, piece.size)


@pytest.mark.parametrize("index,count", [(1, 1), (-1, 2), (0, 0)])
def test_bad_slice(index, count):
    with pytest.raises(ValueError):
        AddressPool("p", "10.0.0.0/24", slice_index=index, slice_count=count)


@st.composite
def small_networks(draw):
    if draw(st.booleans()):
        prefix = draw(st.integers(22, 32))
        base = draw(st.integers(0, 2**32 - 1))
        net = ipaddress.ip_network((base, prefix), strict=False)
    else:
        prefix = draw(st.integers(118, 128))
        base = draw(st.integers(0, 2**128 - 1))
        net = ipaddress.ip_network((base, prefix), strict=False)
    excludes = []
    for _ in range(draw(st.integers(0, 3))):
        sub = draw(st.integers(net.prefixlen, net.max_prefixlen))
        offset = draw(st.integers(0, net.num_addresses - 1))
        excludes.append(ipaddress.ip_network((int(net.network_address) + offset, sub),
                                             strict=False))
    return net, excludes


@settings(max_examples=60, deadline=None)
@given(small_networks(), st.integers(1, 8))
def test_slices_are_disjoint_and_cover_the_usable_range(shape, count):
    net, excludes = shape
    excluded = {a for e in excludes for a in e}
    if net.version == 4 and net.prefixlen <= 30:
        usable = set(net.hosts())
    elif net.version == 6 and net.prefixlen <= 126:
        usable = set(net) - {net.network_address}
    else:
        usable = set(net)
    expected = usable - excluded
    seen: set = set()
    for piece in AddressPool("p", net, exclude=excludes).split(count):
        got = drain(piece)
        assert len(got) == len(set(got)) == piece.size
        assert not seen & set(got), "an address belongs to two slices"
        assert all(a in piece for a in got)
        covered = {a for block in piece.slice_networks() for a in block}
        assert covered == set(got)
        seen |= set(got)
    assert seen == expected


# ------------------------------------------------------------------ stickiness --------


def test_owner_gets_its_address_back():
    pool = AddressPool("p", "192.0.2.0/29")
    a = pool.acquire("alice")
    b = pool.acquire("bob")
    assert pool.release(a)
    assert pool.acquire("carol") == ip("192.0.2.3")  # fresh before remembered
    assert pool.acquire("alice") == a
    assert pool.holder(a) == "alice" and pool.holder(b) == "bob"


def test_remembered_addresses_are_recycled_last_oldest_first():
    pool = AddressPool("p", "192.0.2.0/29")  # 6 addresses
    addrs = {name: pool.acquire(name) for name in "abcdef"}
    for name in "cae":
        pool.release(addrs[name])
    assert pool.acquire("x") == addrs["c"]  # released longest ago
    assert pool.acquire("y") == addrs["a"]
    assert pool.acquire("e") == addrs["e"]  # still kept for e
    assert pool.acquire("z") is None


def test_forgotten_owners_lose_stickiness_first():
    pool = AddressPool("p", "192.0.2.0/28", remember=2)
    addrs = {name: pool.acquire(name) for name in "abc"}
    for name in "abc":
        pool.release(addrs[name])
    assert not pool.remembers("a") and pool.remembers("b") and pool.remembers("c")
    drain_until = [pool.acquire(f"n{i}") for i in range(11)]  # 11 fresh addresses left
    assert addrs["a"] not in drain_until
    assert pool.acquire("q") == addrs["a"]  # anonymous before remembered ones
    assert pool.acquire("c") == addrs["c"]


def test_one_address_is_kept_per_owner():
    pool = AddressPool("p", "192.0.2.0/28")
    first, second = pool.acquire("alice"), pool.acquire("alice")  # two devices
    pool.release(first)
    pool.release(second)
    assert pool.acquire("alice") == second


def test_no_remembering():
    pool = AddressPool("p", "192.0.2.0/30", remember=0)
    a = pool.acquire("alice")
    pool.release(a)
    assert not pool.remembers("alice")


REQUESTS = [
    # requested, expected address (RFC 7296 §3.15.1: honoured when free and ours)
    ("192.0.2.9", "192.0.2.9"),
    (ip("192.0.2.9"), "192.0.2.9"),
    (bytes([192, 0, 2, 9]), "192.0.2.9"),
    ("192.0.2.1", "192.0.2.2"),  # held by bob
    ("192.0.2.0", "192.0.2.2"),  # network address
    ("192.0.2.15", "192.0.2.2"),  # broadcast address
    ("0.0.0.0", "192.0.2.2"),  # "any address", RFC 7296 §3.15.1 empty attribute
    ("198.51.100.9", "192.0.2.2"),  # not ours
    ("2001:db8::9", "192.0.2.2"),  # other family
    (b"\x01\x02\x03", "192.0.2.2"),  # garbage from the peer
    ("not an address", "192.0.2.2"),
]


@pytest.mark.parametrize("requested,expected", REQUESTS)
def test_requested_address(requested, expected):
    pool = AddressPool("p", "192.0.2.0/28")
    pool.acquire("bob")
    assert pool.acquire("alice", requested) == ip(expected)


def test_requested_address_out_of_slice_is_not_honoured():
    low, high = AddressPool("p", "192.0.2.0/28").split(2)
    assert low.acquire("alice", requested="192.0.2.12") == ip("192.0.2.1")
    assert high.acquire("alice", requested="192.0.2.12") == ip("192.0.2.12")


def test_requested_fresh_address_is_skipped_later():
    pool = AddressPool("p", "192.0.2.0/29")
    assert pool.acquire("alice", requested="192.0.2.3") == ip("192.0.2.3")
    assert drain(pool) == [ip(f"192.0.2.{i}") for i in (1, 2, 4, 5, 6)]


def test_requested_address_wins_over_memory_and_takes_over_anothers():
    pool = AddressPool("p", "192.0.2.0/29")
    a, b = pool.acquire("alice"), pool.acquire("bob")
    pool.release(a)
    pool.release(b)
    assert pool.acquire("alice", requested=b) == b
    assert not pool.remembers("alice") and not pool.remembers("bob")
    assert pool.acquire("bob") == ip("192.0.2.3")  # b is alice's now; a is anonymous


def test_release_of_unheld_addresses():
    pool = AddressPool("p", "192.0.2.0/29")
    a = pool.acquire("alice")
    assert pool.release(a) and not pool.release(a)
    assert not pool.release("192.0.2.5")
    assert not pool.release("198.51.100.1")
    assert not pool.release(b"junk")
    assert pool.used == 0


class PoolMachine(RuleBasedStateMachine):
    """Random acquire/release sequences against a model of what must hold."""

    OWNERS = ["alice", "bob", "carol", "dave", "eve", "mallory", "trent"]

    def __init__(self):
        super().__init__()
        whole = AddressPool("p", "192.0.2.0/27", exclude=["192.0.2.20/30"], dns=["192.0.2.1"])
        self.pool = whole.split(2)[1]  # 192.0.2.16 - .30 without .20-.23
        self.universe = [ip(f"192.0.2.{i}") for i in range(0, 32)]
        self.ours = {a for a in self.universe if a in self.pool}
        self.held: dict = {}  # address -> owner
        self.memory: dict = {}  # owner -> address it may get back

    @rule(owner=st.sampled_from(OWNERS),
          requested=st.none() | st.sampled_from(list(range(0, 32))))
    def acquire(self, owner, requested):
        req = None if requested is None else ip(f"192.0.2.{requested}")
        got = self.pool.acquire(owner, req)
        free = self.ours - set(self.held)
        if not free:
            assert got is None
            return
        assert got in free
        if req in free:
            assert got == req
        elif owner in self.memory:
            assert got == self.memory[owner]
        elif free - set(self.memory.values()):
            # nobody's remembered address goes while an unremembered one is left
            assert got not in self.memory.values()
        self.memory = {o: a for o, a in self.memory.items() if o != owner and a != got}
        self.held[got] = owner

    @rule(data=st.data())
    def release(self, data):
        choices = sorted(self.held) + self.universe[:3]
        address = data.draw(st.sampled_from(choices))
        owner = self.held.pop(address, None)
        assert self.pool.release(address) == (owner is not None)
        if owner is not None:
            self.memory = {o: a for o, a in self.memory.items() if o != owner}
            self.memory[owner] = address

    @invariant()
    def counts(self):
        assert self.pool.used == len(self.held)
        assert self.pool.used + self.pool.free == self.pool.size == len(self.ours)

    @invariant()
    def holders(self):
        assert dict(self.pool.leases()) == self.held
        for owner in self.OWNERS:
            assert self.pool.remembers(owner) == (owner in self.memory)


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


# ------------------------------------------------------------------ attributes --------


def test_cp_attributes_ipv4():
    pool = AddressPool("rw", "10.99.0.0/16", dns=["10.99.0.1", "2001:db8::53"],
                       nbns=["10.99.0.2"], split_include=["10.0.0.0/8", "2001:db8:1::/48"])
    a = ip("10.99.3.4")
    base = [
        (CfgAttribute.INTERNAL_IP4_ADDRESS, a.packed),
        (CfgAttribute.INTERNAL_IP4_DNS, bytes([10, 99, 0, 1])),
        (CfgAttribute.INTERNAL_IP6_DNS, ip("2001:db8::53").packed),
        (CfgAttribute.INTERNAL_IP4_NBNS, bytes([10, 99, 0, 2])),
        (CfgAttribute.INTERNAL_IP4_SUBNET, bytes([10, 0, 0, 0, 255, 0, 0, 0])),
        (CfgAttribute.INTERNAL_IP6_SUBNET, ip("2001:db8:1::").packed + bytes([48])),
    ]
    assert pool.cp_attributes(a) == base
    # RFC 7296 §3.15.1: the netmask of the internal network, when the client asks
    asked = {CfgAttribute.INTERNAL_IP4_ADDRESS, CfgAttribute.INTERNAL_IP4_NETMASK}
    assert pool.cp_attributes(a, asked) == (
        base[:1] + [(CfgAttribute.INTERNAL_IP4_NETMASK, bytes([255, 255, 0, 0]))] + base[1:])


def test_cp_attributes_ipv6_carry_the_prefix_length():
    # RFC 7296 §3.15.1: INTERNAL_IP6_ADDRESS = 16 octets of address + prefix length
    pool = AddressPool("v6", "fd00:99::/64", dns=["fd00:99::53"])
    a = pool.acquire("alice")
    assert pool.cp_attributes(a, {CfgAttribute.INTERNAL_IP4_NETMASK}) == [
        (CfgAttribute.INTERNAL_IP6_ADDRESS, ip("fd00:99::1").packed + bytes([64])),
        (CfgAttribute.INTERNAL_IP6_DNS, ip("fd00:99::53").packed),
    ]


def test_mode_config_attributes():
    pool = AddressPool("rw", "10.99.0.0/16", dns=["10.99.0.1"], nbns=["10.99.0.2"],
                       split_include=["10.0.0.0/8", "192.168.0.0/16"])
    a = ip("10.99.3.4")
    asked = {V1CfgAttribute.INTERNAL_IP4_ADDRESS, V1CfgAttribute.INTERNAL_IP4_NETMASK}
    common = [
        (V1CfgAttribute.INTERNAL_IP4_ADDRESS, a.packed),
        (V1CfgAttribute.INTERNAL_IP4_NETMASK, bytes([255, 255, 0, 0])),
        (V1CfgAttribute.INTERNAL_IP4_DNS, bytes([10, 99, 0, 1])),
        (V1CfgAttribute.INTERNAL_IP4_NBNS, bytes([10, 99, 0, 2])),
    ]
    # Cisco Unity split include: 14 octets per network (address, mask, 6 zero octets)
    assert pool.mode_config_attributes(a, asked, unity=True) == common + [
        (V1CfgAttribute.UNITY_SPLIT_INCLUDE,
         bytes([10, 0, 0, 0, 255, 0, 0, 0]) + bytes(6)
         + bytes([192, 168, 0, 0, 255, 255, 0, 0]) + bytes(6)),
    ]
    assert pool.mode_config_attributes(a, asked) == common + [
        (V1CfgAttribute.INTERNAL_IP4_SUBNET, bytes([10, 0, 0, 0, 255, 0, 0, 0])),
        (V1CfgAttribute.INTERNAL_IP4_SUBNET, bytes([192, 168, 0, 0, 255, 255, 0, 0])),
    ]
    v6 = AddressPool("v6", "fd00:99::/64")
    assert v6.mode_config_attributes(ip("fd00:99::7"), {V1CfgAttribute.INTERNAL_IP6_NETMASK}) == [
        (V1CfgAttribute.INTERNAL_IP6_ADDRESS, ip("fd00:99::7").packed),
        (V1CfgAttribute.INTERNAL_IP6_NETMASK, ip("ffff:ffff:ffff:ffff::").packed),
    ]


# ------------------------------------------------------------------ Pools -------------


def make_pools(slice_index=0, slice_count=1):
    table = {
        "small": {"addresses": "192.0.2.0/30"},
        "big": SimpleNamespace(addresses=ipaddress.ip_network("198.51.100.0/24"),
                               dns=(ip("198.51.100.1"),), nbns=(), split_include=(),
                               exclude=()),
        "v6": {"addresses": "2001:db8::/64"},
    }
    return Pools.from_config(SimpleNamespace(pools=table), slice_index, slice_count)


def test_pools_from_config():
    pools = make_pools(1, 2)
    assert list(pools) == ["small", "big", "v6"]
    assert pools["big"].dns == (ip("198.51.100.1"),)
    assert (pools["big"].slice_index, pools["big"].slice_count) == (1, 2)
    assert pools["big"].first == ip("198.51.100.128")


def test_pools_acquire_first_with_room_and_family():
    pools = make_pools()
    names = ["small", "big", "v6"]
    assert pools.acquire(names, "a", 4) == Lease("small", ip("192.0.2.1"))
    assert pools.acquire(names, "b", 4) == Lease("small", ip("192.0.2.2"))
    assert pools.acquire(names, "c", 4) == Lease("big", ip("198.51.100.2"))  # .1 is DNS
    assert pools.acquire(names, "c", 6) == Lease("v6", ip("2001:db8::1"))
    assert pools.acquire(["small"], "d", 4) is None
    assert pools.acquire(["small"], "d", 6) is None


def test_pools_requested_and_remembered_win_over_order():
    pools = make_pools()
    names = ["small", "big"]
    # a requested address free in the second pool is honoured though the first has room
    assert pools.acquire(names, "a", 4, requested="198.51.100.77") == Lease(
        "big", ip("198.51.100.77"))
    # an owner remembered by the second pool goes back there
    lease = pools.acquire(["big"], "b", 4)
    assert pools.release(lease)
    assert pools.acquire(names, "b", 4) == lease
    # anyone else: the first pool with room
    assert pools.acquire(names, "c", 4) == Lease("small", ip("192.0.2.1"))


def test_pools_release():
    pools = make_pools()
    lease = pools.acquire(["big"], "a", 4)
    assert pools.release(lease) and not pools.release(lease)
    assert not pools.release(Lease("gone", lease.address))
    with pytest.raises(KeyError):
        pools.acquire(["nope"], "a", 4)


def test_pools_reject_duplicate_names():
    with pytest.raises(ValueError):
        Pools([AddressPool("p", "10.0.0.0/24"), AddressPool("p", "10.1.0.0/24")])


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=30))
def test_pool_never_hands_out_the_same_address_twice(owners):
    pool = AddressPool("p", "192.0.2.0/29")
    got = [pool.acquire(o) for o in owners]
    held = [a for a in got if a is not None]
    assert len(held) == len(set(held))
    assume(held)
    assert all(a in pool for a in held)
