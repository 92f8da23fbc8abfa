"""Virtual IP pools: hand out, remember and take back the addresses given to clients.

Owns: ``AddressPool`` (one configured network, or one worker's slice of it) and
``Pools`` (the config's pool table by name, with the lookup a connection needs), plus
the configuration attributes a pool contributes to a CP reply (IKEv2, RFC 7296 §3.15)
or a Mode Config reply (IKEv1, draft-dukes-ike-mode-cfg).

Must not import asyncio, socket, time, random or any I/O module: pools are plain data
driven by the core. No threads, no clock, deterministic: the same calls give the same
addresses.

Design (DESIGN §4):
- A network's usable addresses exclude the network address and, for IPv4, the
  broadcast address (IPv6: the Subnet-Router anycast address, RFC 4291 §2.6.1). A /31
  or /32 (IPv4, RFC 3021) and a /127 or /128 (IPv6, RFC 6164) have no such addresses
  to spare: all of theirs are usable.
- Each worker owns one slice: a CONTIGUOUS block of the network, the N blocks equal
  to within one address before the network/broadcast addresses come off the first and
  last. Contiguous rather than interleaved because a slice is then one CIDR block when
  N is a power of two, or a short list of them (``slice_networks``), which an operator
  can read in ``ikesrv status`` and route or filter per worker, and whether an address
  belongs to a slice is a range test. Interleaving would spread every worker over the
  whole network for no gain: a reconnecting client lands on whatever worker its new
  SPI hashes to either way.
- Addresses are handed out lazily: a counter walks the slice in order, so a /16 (or an
  IPv6 /64) costs nothing until used and ``acquire`` is O(1). Released addresses are
  recycled only once no fresh address is left.
- Stickiness: a released address remembers its last owner (an identity string chosen by
  the caller), and the same owner asking again gets it back while nobody else took it.
  Remembered addresses are recycled last, least recently released first, so a client
  that reconnects after a short outage almost always finds its address. Memory is
  bounded: at most ``remember`` owners per pool (the least recently released forgotten
  first), which only matters for pools larger than that (IPv6).
- A client may ask for a specific address (RFC 7296 §3.15.1, typically the one it had):
  it is honoured when the address lies in this slice and nobody holds it.

An address is held by at most one lease. A client that re-authenticates while its old
IKE SA still holds the address (uniqueness "replace", INITIAL_CONTACT) keeps it only if
the caller releases the old lease before acquiring the new one.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .constants import CfgAttribute, V1CfgAttribute

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Owners remembered per pool for stickiness (see the module docstring).
DEFAULT_REMEMBER = 32768


def _usable_range(network: IpNetwork) -> tuple[int, int]:
    """(first usable address as an int, number of usable addresses)."""
    first = int(network.network_address)
    count = network.num_addresses
    if network.version == 4:
        if network.prefixlen <= 30:
            return first + 1, count - 2  # no network, no broadcast address
        return first, count  # RFC 3021 point-to-point /31, single host /32
    if network.prefixlen <= 126:
        return first + 1, count - 1  # no Subnet-Router anycast (RFC 4291 §2.6.1)
    return first, count  # RFC 6164 /127, single host /128


def _slice_bounds(total: int, index: int, count: int) -> tuple[int, int]:
    """(offset, size) of contiguous slice ``index`` of ``count`` over ``total`` items."""
    base, extra = divmod(total, count)
    return index * base + min(index, extra), base + (1 if index < extra else 0)


class AddressPool:
    """One pool of virtual addresses (or one worker's slice of it).

    ``network`` is the configured network ("10.99.0.0/16", "fd00:99::/64"). ``dns``,
    ``nbns`` (addresses) and ``split_include`` (networks) are sent with the address.
    ``exclude`` (networks) are never handed out, nor are the pool's own DNS and NBNS
    servers when they lie inside it. ``slice_index``/``slice_count`` select this
    worker's disjoint slice (see ``split``).
    """

    __slots__ = (
        "name", "network", "dns", "nbns", "split_include", "exclude", "slice_index",
        "slice_count", "remember", "_addr_cls", "_start", "_span", "_size", "_holes",
        "_hole_starts", "_hole_next", "_next_fresh", "_skipped", "_leases", "_anonymous",
        "_remembered", "_remembered_at",
    )

    def __init__(
        self,
        name: str,
        network: str | IpNetwork,
        dns: Iterable[str | IpAddress] = (),
        nbns: Iterable[str | IpAddress] = (),
        split_include: Iterable[str | IpNetwork] = (),
        slice_index: int = 0,
        slice_count: int = 1,
        *,
        exclude: Iterable[str | IpNetwork] = (),
        remember: int = DEFAULT_REMEMBER,
    ) -> None:
        if slice_count < 1 or not 0 <= slice_index < slice_count:
            raise ValueError(f"pool {name}: slice {slice_index} of {slice_count} does not exist")
        if remember < 0:
            raise ValueError(f"pool {name}: remember must be >= 0")
        self.name = name
        self.network: IpNetwork = ipaddress.ip_network(network)
        self.dns: tuple[IpAddress, ...] = tuple(ipaddress.ip_address(a) for a in dns)
        self.nbns: tuple[IpAddress, ...] = tuple(ipaddress.ip_address(a) for a in nbns)
        self.split_include: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(n) for n in split_include
        )
        self.exclude: tuple[IpNetwork, ...] = tuple(ipaddress.ip_network(n) for n in exclude)
        self.slice_index = slice_index
        self.slice_count = slice_count
        self.remember = remember
        self._addr_cls = (
            ipaddress.IPv4Address if self.network.version == 4 else ipaddress.IPv6Address
        )
        # Slice the whole network, then trim what is not usable: with a power-of-two
        # worker count every slice is then one CIDR block (minus the network or
        # broadcast address at the ends).
        offset, length = _slice_bounds(self.network.num_addresses, slice_index, slice_count)
        usable_first, usable_count = _usable_range(self.network)
        lo = max(int(self.network.network_address) + offset, usable_first)
        hi = min(int(self.network.network_address) + offset + length, usable_first + usable_count)
        self._start = lo
        self._span = max(hi - lo, 0)
        # Excluded addresses as merged, sorted, inclusive offset intervals ("holes").
        self._holes = self._excluded_intervals()
        self._hole_starts = [lo for lo, _ in self._holes]
        self._size = self._span - sum(hi - lo + 1 for lo, hi in self._holes)
        # Every other offset in [0, span) is in exactly one state:
        #   fresh: >= _next_fresh and not in _skipped (never handed out yet)
        #   leased: key of _leases (offset -> owner)
        #   released and anonymous: key of _anonymous (insertion = release order)
        #   released and remembered: value of _remembered (owner -> offset, LRU order),
        #     key of _remembered_at (offset -> owner)
        # _skipped holds offsets beyond _next_fresh that left the fresh state out of
        # order (a requested address), so that the counter jumps over them, as it jumps
        # over holes (_hole_next: the first hole not yet passed).
        self._next_fresh = 0
        self._hole_next = 0
        self._skipped: set[int] = set()
        self._leases: dict[int, str] = {}
        self._anonymous: OrderedDict[int, None] = OrderedDict()
        self._remembered: OrderedDict[str, int] = OrderedDict()
        self._remembered_at: dict[int, str] = {}
        self._settle()

    def _excluded_intervals(self) -> list[tuple[int, int]]:
        servers = [a for a in (*self.dns, *self.nbns) if a in self.network]
        ranges = [(int(n.network_address), int(n.broadcast_address)) for n in self.exclude
                  if n.version == self.network.version]
        ranges += [(int(a), int(a)) for a in servers]
        holes: list[tuple[int, int]] = []
        for lo, hi in sorted(ranges):
            lo, hi = max(lo - self._start, 0), min(hi - self._start, self._span - 1)
            if lo > hi:
                continue  # outside this slice
            if holes and lo <= holes[-1][1] + 1:
                holes[-1] = (holes[-1][0], max(holes[-1][1], hi))
            else:
                holes.append((lo, hi))
        return holes

    def __repr__(self) -> str:
        return (
            f"AddressPool({self.name!r}, {str(self.network)!r}, slice {self.slice_index}/"
            f"{self.slice_count}, used={self.used}, size={self.size})"
        )

    # ------------------------------------------------------------------ shape ---------

    @property
    def version(self) -> int:
        """4 or 6: the address family of the pool."""
        return self.network.version

    @property
    def size(self) -> int:
        """Addresses this slice can hand out (excluded ones not counted)."""
        return self._size

    @property
    def used(self) -> int:
        """Addresses currently held by a lease."""
        return len(self._leases)

    @property
    def free(self) -> int:
        """Addresses that ``acquire`` can still hand out (remembered ones included)."""
        return self._size - len(self._leases)

    @property
    def first(self) -> IpAddress | None:
        """First address of this slice's range (None for an empty slice)."""
        return self._addr_cls(self._start) if self._span else None

    @property
    def last(self) -> IpAddress | None:
        """Last address of this slice's range (None for an empty slice)."""
        return self._addr_cls(self._start + self._span - 1) if self._span else None

    @property
    def netmask(self) -> IpAddress:
        """The configured network's mask (not the slice's): what INTERNAL_IP4_NETMASK
        carries, RFC 7296 §3.15.1 "the internal network's netmask"."""
        return self.network.netmask

    @property
    def prefixlen(self) -> int:
        """The configured network's prefix length (INTERNAL_IP6_ADDRESS's last octet)."""
        return self.network.prefixlen

    def slice_networks(self) -> list[IpNetwork]:
        """The addresses this slice can hand out, as CIDR blocks (for status and logs)."""
        blocks: list[IpNetwork] = []
        lo = 0
        for hole_lo, hole_hi in [*self._holes, (self._span, self._span)]:
            if lo < hole_lo:
                first = self._addr_cls(self._start + lo)
                last = self._addr_cls(self._start + hole_lo - 1)
                blocks.extend(ipaddress.summarize_address_range(first, last))
            lo = hole_hi + 1
        return blocks

    def split(self, count: int, *, remember: int | None = None) -> list[AddressPool]:
        """The ``count`` disjoint slices of this pool's network, one per worker.

        Together they cover every usable address exactly once (see the module
        docstring for why slices are contiguous). Slices start empty.
        """
        return [
            AddressPool(
                self.name,
                self.network,
                self.dns,
                self.nbns,
                self.split_include,
                index,
                count,
                exclude=self.exclude,
                remember=self.remember if remember is None else remember,
            )
            for index in range(count)
        ]

    # ------------------------------------------------------------------ lookups -------

    def _offset(self, address: Any) -> int | None:
        """Offset of ``address`` in this slice, or None (not ours, excluded, unparsable).

        Accepts an ipaddress object, a string or packed bytes (4 or 16 octets), since a
        requested address arrives straight from a peer's CP payload.
        """
        if not isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            try:
                address = ipaddress.ip_address(address)
            except ValueError:
                return None
        if address.version != self.network.version:
            return None
        offset = int(address) - self._start
        if not 0 <= offset < self._span:
            return None
        if self._holes:
            i = bisect_right(self._hole_starts, offset) - 1
            if i >= 0 and offset <= self._holes[i][1]:
                return None
        return offset

    def __contains__(self, address: Any) -> bool:
        """Whether ``address`` is one this slice hands out (held or not)."""
        return self._offset(address) is not None

    def holder(self, address: Any) -> str | None:
        """The owner currently holding ``address``, or None."""
        offset = self._offset(address)
        return None if offset is None else self._leases.get(offset)

    def is_free(self, address: Any) -> bool:
        """Whether ``address`` is one of this slice's and nobody holds it."""
        offset = self._offset(address)
        return offset is not None and offset not in self._leases

    def remembers(self, owner_key: str) -> bool:
        """Whether a released address is being kept for ``owner_key``."""
        return owner_key in self._remembered

    def leases(self) -> Iterator[tuple[IpAddress, str]]:
        """(address, owner) of every held address, in no particular order."""
        for offset, owner in self._leases.items():
            yield self._addr_cls(self._start + offset), owner

    # ------------------------------------------------------------------ acquire -------

    def acquire(self, owner_key: str, requested: Any = None) -> IpAddress | None:
        """Lease an address to ``owner_key``; None when every address is held.

        Preference: the ``requested`` address if it is in this slice and free (RFC 7296
        §3.15.1; the unspecified address 0.0.0.0 / ::, never usable, and anything
        unparsable count as no request); else the address remembered for
        ``owner_key``; else a fresh address; else a released address nobody is
        remembered for; else the address of the owner released longest ago.
        """
        offset = None
        if requested is not None:
            wanted = self._offset(requested)
            if wanted is not None and wanted not in self._leases:
                offset = wanted
                self._take(wanted)
        if offset is None:
            offset = self._remembered.pop(owner_key, None)
            if offset is not None:
                del self._remembered_at[offset]
        if offset is None:
            offset = self._take_fresh()
        if offset is None and self._anonymous:
            offset, _ = self._anonymous.popitem(last=False)
        if offset is None and self._remembered:
            _, offset = self._remembered.popitem(last=False)
            del self._remembered_at[offset]
        if offset is None:
            return None
        # The owner now holds another address: what was kept for it is free for anyone.
        stale = self._remembered.pop(owner_key, None)
        if stale is not None:
            del self._remembered_at[stale]
            self._anonymous[stale] = None
        self._leases[offset] = owner_key
        return self._addr_cls(self._start + offset)

    def _take_fresh(self) -> int | None:
        offset = self._next_fresh
        if offset >= self._span:
            return None
        self._next_fresh += 1
        self._settle()
        return offset

    def _settle(self) -> None:
        """Move the fresh counter past offsets that are not fresh (skipped, holes)."""
        holes = self._holes
        while True:
            n = self._next_fresh
            if n in self._skipped:
                self._skipped.discard(n)
                self._next_fresh = n + 1
                continue
            while self._hole_next < len(holes) and holes[self._hole_next][1] < n:
                self._hole_next += 1
            if self._hole_next < len(holes) and holes[self._hole_next][0] <= n:
                self._next_fresh = holes[self._hole_next][1] + 1
                self._hole_next += 1
                continue
            return

    def _take(self, offset: int) -> None:
        """Remove a free ``offset`` from whichever free state it is in."""
        if offset in self._anonymous:
            del self._anonymous[offset]
        elif offset in self._remembered_at:
            del self._remembered[self._remembered_at.pop(offset)]
        elif offset == self._next_fresh:
            self._next_fresh += 1
            self._settle()
        else:  # fresh, further on: the counter must jump over it later
            self._skipped.add(offset)

    # ------------------------------------------------------------------ release -------

    def release(self, address: Any) -> bool:
        """Give ``address`` back; False when it was not held (nothing changes)."""
        offset = self._offset(address)
        if offset is None:
            return False
        owner = self._leases.pop(offset, None)
        if owner is None:
            return False
        if self.remember == 0:
            self._anonymous[offset] = None
            return True
        older = self._remembered.pop(owner, None)
        if older is not None:  # one address is kept per owner: the latest
            del self._remembered_at[older]
            self._anonymous[older] = None
        self._remembered[owner] = offset
        self._remembered_at[offset] = owner
        while len(self._remembered) > self.remember:
            _, forgotten = self._remembered.popitem(last=False)
            del self._remembered_at[forgotten]
            self._anonymous[forgotten] = None
        return True

    # ------------------------------------------------------------------ attributes ----

    def cp_attributes(
        self, address: IpAddress, requested: Collection[int] | None = None
    ) -> list[tuple[int, bytes]]:
        """IKEv2 CFG_REPLY attributes (type, value) for a lease of ``address``.

        RFC 7296 §3.15.1: INTERNAL_IP4_ADDRESS (4 octets), or INTERNAL_IP6_ADDRESS
        (16 octets + prefix length: the pool network's, as a netmask would be; strongSwan
        sends 64 whatever its pool). INTERNAL_IP4_NETMASK only when ``requested`` (the
        attribute types of the CFG_REQUEST) asks for it: it is the configured network's
        mask and "implies a link boundary", which clients that install the address as a
        /32 (strongSwan, which sends no netmask unless configured) neither need nor
        expect. DNS and NBNS servers (each typed by its own family) and split-include
        networks (INTERNAL_IP4/IP6_SUBNET) are always sent when configured, as
        strongSwan does.
        """
        attrs: list[tuple[int, bytes]] = []
        if address.version == 4:
            attrs.append((CfgAttribute.INTERNAL_IP4_ADDRESS, address.packed))
            if requested is not None and CfgAttribute.INTERNAL_IP4_NETMASK in requested:
                attrs.append((CfgAttribute.INTERNAL_IP4_NETMASK, self.netmask.packed))
        else:
            prefix = bytes([self.prefixlen])
            attrs.append((CfgAttribute.INTERNAL_IP6_ADDRESS, address.packed + prefix))
        attrs += _servers(self.dns, CfgAttribute.INTERNAL_IP4_DNS, CfgAttribute.INTERNAL_IP6_DNS)
        attrs += _servers(self.nbns, CfgAttribute.INTERNAL_IP4_NBNS, None)  # no IPv6 NBNS
        for net in self.split_include:
            kind = (CfgAttribute.INTERNAL_IP4_SUBNET if net.version == 4
                    else CfgAttribute.INTERNAL_IP6_SUBNET)
            attrs.append((kind, _subnet(net)))
        return attrs

    def mode_config_attributes(
        self,
        address: IpAddress,
        requested: Collection[int] | None = None,
        *,
        unity: bool = False,
    ) -> list[tuple[int, bytes]]:
        """IKEv1 Mode Config reply attributes (type, value) for a lease of ``address``.

        draft-dukes-ike-mode-cfg-02 §3.2: INTERNAL_IP4_ADDRESS / INTERNAL_IP6_ADDRESS
        (16 octets, no prefix octet in IKEv1), the netmask (INTERNAL_IP4_NETMASK or
        INTERNAL_IP6_NETMASK) when requested, DNS and NBNS servers. Split-include
        networks go as UNITY_SPLIT_INCLUDE when the client announced Cisco Unity
        (``unity``; 14 octets each: address, mask, then protocol and ports left zero as
        strongSwan does, since only Cisco's client reads them), else as
        INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET.
        """
        attrs: list[tuple[int, bytes]] = []
        asked = requested or ()
        if address.version == 4:
            attrs.append((V1CfgAttribute.INTERNAL_IP4_ADDRESS, address.packed))
            if V1CfgAttribute.INTERNAL_IP4_NETMASK in asked:
                attrs.append((V1CfgAttribute.INTERNAL_IP4_NETMASK, self.netmask.packed))
        else:
            attrs.append((V1CfgAttribute.INTERNAL_IP6_ADDRESS, address.packed))
            if V1CfgAttribute.INTERNAL_IP6_NETMASK in asked:
                attrs.append((V1CfgAttribute.INTERNAL_IP6_NETMASK, self.netmask.packed))
        attrs += _servers(self.dns, V1CfgAttribute.INTERNAL_IP4_DNS,
                          V1CfgAttribute.INTERNAL_IP6_DNS)
        attrs += _servers(self.nbns, V1CfgAttribute.INTERNAL_IP4_NBNS,
                          V1CfgAttribute.INTERNAL_IP6_NBNS)
        unity_entries = []
        for net in self.split_include:
            if net.version == 4 and unity:
                unity_entries.append(_subnet(net) + bytes(6))
            else:
                kind = (V1CfgAttribute.INTERNAL_IP4_SUBNET if net.version == 4
                        else V1CfgAttribute.INTERNAL_IP6_SUBNET)
                attrs.append((kind, _subnet(net)))
        if unity_entries:
            attrs.append((V1CfgAttribute.UNITY_SPLIT_INCLUDE, b"".join(unity_entries)))
        return attrs


def _servers(servers: Iterable[IpAddress], v4_type: int, v6_type: int | None
             ) -> list[tuple[int, bytes]]:
    """One attribute per server, typed by the server's own family."""
    typed = ((v4_type if s.version == 4 else v6_type, s.packed) for s in servers)
    return [(kind, value) for kind, value in typed if kind is not None]


def _subnet(net: IpNetwork) -> bytes:
    """INTERNAL_IP4_SUBNET (address, mask) / INTERNAL_IP6_SUBNET (address, prefix length)
    value, RFC 7296 §3.15.1."""
    if net.version == 4:
        return net.network_address.packed + net.netmask.packed
    return net.network_address.packed + bytes([net.prefixlen])


@dataclass(frozen=True, slots=True)
class Lease:
    """An address held by an SA: where to give it back."""

    pool: str
    address: IpAddress


def _field(entry: Any, key: str, default: Any) -> Any:
    """A pool table entry's field, whether the entry is a mapping or a dataclass."""
    if isinstance(entry, Mapping):
        return entry.get(key, default)
    return getattr(entry, key, default)


class Pools(Mapping[str, AddressPool]):
    """The configured pools by name (this worker's slice of each)."""

    __slots__ = ("_pools",)

    def __init__(self, pools: Iterable[AddressPool] = ()) -> None:
        self._pools: dict[str, AddressPool] = {}
        for pool in pools:
            if pool.name in self._pools:
                raise ValueError(f"pool {pool.name!r} defined twice")
            self._pools[pool.name] = pool

    @classmethod
    def from_config(
        cls,
        table: Mapping[str, Any],
        slice_index: int = 0,
        slice_count: int = 1,
        *,
        remember: int = DEFAULT_REMEMBER,
    ) -> Pools:
        """Build this worker's pools from the config's ``[pools.NAME]`` table.

        ``table`` is the mapping of pool name to entry, or the whole Config (its
        ``pools`` attribute is used). Each entry (mapping or config dataclass) has
        ``addresses`` (a network) and optionally ``dns``, ``nbns``, ``split_include``
        and ``exclude`` lists.
        """
        if not isinstance(table, Mapping):
            table = table.pools
        return cls(
            AddressPool(
                name,
                _field(entry, "addresses", None),
                dns=_field(entry, "dns", ()) or (),
                nbns=_field(entry, "nbns", ()) or (),
                split_include=_field(entry, "split_include", ()) or (),
                exclude=_field(entry, "exclude", ()) or (),
                slice_index=slice_index,
                slice_count=slice_count,
                remember=remember,
            )
            for name, entry in table.items()
        )

    def __getitem__(self, name: str) -> AddressPool:
        return self._pools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    def __repr__(self) -> str:
        return f"Pools({list(self._pools.values())!r})"

    def acquire(
        self,
        names: Sequence[str],
        owner_key: str,
        version: int,
        requested: Any = None,
    ) -> Lease | None:
        """Lease an address of family ``version`` (4 or 6) from a connection's pools.

        ``names`` is the connection's ``pools`` list, in order; a name not in the table
        raises KeyError (config validation guarantees they exist). A pool where the
        requested address is free, or that remembers ``owner_key``, wins over the order;
        otherwise the first pool of the family with a free address. None when all of
        them are exhausted (the caller answers INTERNAL_ADDRESS_FAILURE).
        """
        candidates = [p for p in (self._pools[n] for n in names) if p.version == version]
        chosen = None
        if requested is not None:
            chosen = next((p for p in candidates if p.is_free(requested)), None)
        if chosen is None:
            chosen = next((p for p in candidates if p.remembers(owner_key)), None)
        if chosen is None:
            chosen = next((p for p in candidates if p.free), None)
        if chosen is None:
            return None
        address = chosen.acquire(owner_key, requested)
        return None if address is None else Lease(chosen.name, address)

    def release(self, lease: Lease) -> bool:
        """Give a lease back; False when its pool is gone (config reload) or it was not held."""
        pool = self._pools.get(lease.pool)
        return pool is not None and pool.release(lease.address)
