"""The Linux XFRM kernel backend: every CHILD SA as two ESP states and its policies.

Owns (DESIGN §5): the SPI reservation (XFRM_MSG_ALLOCSPI of exactly the SPI the core
chose), both ESP states of a CHILD SA (UPDSA completes the larval inbound one, NEWSA
adds the outbound one) and, for a new CHILD SA, its in/out/fwd policies, sent to the
kernel in one batch and rolled back as a whole when any part fails; removal with the
SA's final byte counts; soft/hard EXPIRE and ACQUIRE multicast events turned into
``KernelEvent`` calls on the worker's loop; byte counters for
``ikesrv_child_sa_bytes_total``; the per-socket bypass policy of the IKE sockets and
UDP_ENCAP_ESPINUDP on the NAT-T ones (RFC 3948); removal of what a previous run left
and of everything at SIGTERM; and the start-up probe that says in one line whether this
kernel has ESP at all.

Ownership: every state and policy ikesrv installs carries the mark ``IKESRV_MARK``
(value 0, mask 0x00100000). Packets match it when that one mark bit is clear, which is
how packets normally are, so the mark changes no traffic while it lets ikesrv find its
own entries among those of other daemons; a packet that a local rule marks with that
bit bypasses ikesrv's policies, so the bit must stay unused on the host. The top byte
of the reqid is the worker index (the core's ``new_reqid``): a backend built with
``worker_index`` touches only that worker's entries (worker 0 also those of worker
indices this run does not have), so that a restarted worker never removes another's.
(iproute2 leaves a mark out of its delete requests when value & mask is 0, so `ip xfrm
policy delete ... mark 0 mask 0x100000` cannot name these entries; restarting ikesrv
removes them, and `ip xfrm state flush` / `ip xfrm policy flush` remove everything.)

The inbound SPI stays the core's choice (its top byte steers IKE and ESP-in-UDP
traffic to the worker, DESIGN §4): ALLOCSPI with min = max makes the kernel reserve that
very value, or refuse it when another SA holds it, which fails this CHILD SA only.

Errors: every refused request becomes ``netlink.XfrmError``, whose text names the
operation (message type, direction, SPI or selector, algorithms) and the kernel's
reason (errno name, strerror, extended ACK message); a failed install answers
``KernelResult(ok=False, reason=that text)`` and leaves nothing behind.

This is an edge: it never imports the core.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

from ..actions import ChildSaSpec, KernelEvent, KernelResult, SaKeys
from ..crypto.transforms import EncrId, IntegId
from . import xfrm_codec as codec
from . import xfrm_msg as m
from .netlink import Request, XfrmError, XfrmSocket

log = logging.getLogger("ikesrv.kernel")

IKESRV_MARK = codec.Mark(0, 0x0010_0000)
EVENT_GROUPS = (1 << (m.XFRMNLGRP_ACQUIRE - 1)) | (1 << (m.XFRMNLGRP_EXPIRE - 1))
EVENT_RCVBUF = 4 << 20  # a burst of expiries must not overflow the queue
GONE = (errno.ENOENT, errno.ESRCH)  # the entry is not there (any more)
# A rekey by the peer: our new outbound state waits for the old CHILD SA's removal (the
# peer's Delete, RFC 7296 §2.8), or this long when a peer never deletes it.
OUTBOUND_SWITCH_DELAY = 2.0

# Start-up probe: states with reserved SPIs (RFC 4303 §2.1: 1-255 are never used on the
# wire) between loopback addresses, added and deleted at once.
PROBE_SPI = 0xF0
PROBES = (
    ("rfc4106(gcm(aes))", SaKeys(EncrId.ENCR_AES_GCM_16, bytes(20)), False),
    ("rfc7539esp(chacha20,poly1305)", SaKeys(EncrId.ENCR_CHACHA20_POLY1305, bytes(36)), False),
    ("cbc(aes)+hmac(sha256)",
     SaKeys(EncrId.ENCR_AES_CBC, bytes(16), IntegId.AUTH_HMAC_SHA2_256_128, bytes(32)), False),
    ("espinudp", SaKeys(EncrId.ENCR_AES_GCM_16, bytes(20)), True),
)


class XfrmKernel:
    """CHILD SAs in the Linux kernel's XFRM (see the module docstring)."""

    name = "xfrm"

    def __init__(self, natt_port: int = 4500, worker_index: int | None = None,
                 worker_count: int = 1, mark: codec.Mark = IKESRV_MARK,
                 loop: asyncio.AbstractEventLoop | None = None):
        self.natt_port = natt_port
        self.worker_index = worker_index
        self.worker_count = worker_count
        self.mark = mark
        self.requests: XfrmSocket | None = None
        self.events: XfrmSocket | None = None
        self.esp: bool | None = None  # what the probe found
        self.available: list[str] = []
        self._on_event: Callable[[KernelEvent], None] | None = None
        # reads the events and runs the outbound-switch timers; else the running loop
        # at start(); without one, poll_events() is called by hand and rekeys by the
        # peer switch their outbound state at once
        self._loop = loop
        # our installed states: (spi, daddr) -> ("in" | "out", reqid)
        self._states: dict[tuple[int, bytes], tuple[str, int]] = {}
        self._retired = {"in": 0, "out": 0}  # bytes of states already gone
        self._outbound: dict[int, int] = {}  # reqid -> outbound states installed
        # reqid -> (the peer's rekey whose outbound state waits, its fallback timer)
        self._pending_out: dict[int, tuple[ChildSaSpec, asyncio.TimerHandle]] = {}
        self._last_counters = {"in": 0, "out": 0}

    # ------------------------------------------------------------------ life --------

    def start(self, on_event: Callable[[KernelEvent], None]) -> str:
        self._on_event = on_event
        try:
            self.requests = XfrmSocket()
            self.events = XfrmSocket(groups=EVENT_GROUPS, rcvbuf=EVENT_RCVBUF)
        except OSError as e:  # a kernel built without XFRM_USER
            self.stop(remove_all=False)
            self.esp = False
            return (f"kernel backend xfrm: this kernel has no XFRM netlink ({e.strerror}): "
                    f"every CHILD SA install will fail and be refused to the peer")
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        if self._loop is not None:
            self._loop.add_reader(self.events.fileno(), self.poll_events)
        stale = self.remove_ours()
        probe = self.probe()
        left = (f"; removed {stale[0]} states and {stale[1]} policies left by a previous run"
                if any(stale) else "")
        return f"kernel backend xfrm: {probe}{left}"

    def stop(self, remove_all: bool) -> None:
        for _spec, timer in self._pending_out.values():
            timer.cancel()
        self._pending_out.clear()
        if self.events is not None:
            if self._loop is not None:
                self._loop.remove_reader(self.events.fileno())
            self.events.close()
            self.events = None
        if self.requests is None:
            return
        if remove_all:
            states, policies = self.remove_ours()
            if states or policies:
                log.info("kernel: removed %d states and %d policies at shutdown",
                         states, policies)
        self.requests.close()
        self.requests = None

    def probe(self) -> str:
        """Try a throw-away ESP state per algorithm family; one line saying what works."""
        sock = self._socket()
        failures = {}
        self.available = []
        for label, keys, encap in PROBES:
            spec = _probe_spec(keys, encap)
            ops = [Request(f"XFRM_MSG_NEWSA (probe {label})", m.XFRM_MSG_NEWSA,
                           codec.sa_body(spec, True, self.mark)),
                   Request("XFRM_MSG_DELSA (probe)", m.XFRM_MSG_DELSA,
                           codec.sa_id_body(codec.packed("127.0.0.1"), PROBE_SPI,
                                            socket.AF_INET, self.mark))]
            (err, _), _ = sock.batch(ops)
            if err is None or err.errno == errno.EEXIST:  # EEXIST: built, then collided
                self.available.append(label)
            else:
                failures[label] = err
        self.esp = bool(self.available)
        mark = f"{self.mark} on every state and policy"
        if failures and all(e.errno == errno.EPERM for e in failures.values()):
            return ("not allowed to program XFRM (EPERM: ikesrv needs CAP_NET_ADMIN): every "
                    "CHILD SA install will fail and be refused to the peer")
        if not self.esp:
            # the plain ESP probe names the missing piece best (ESP itself, not an AEAD)
            why = failures.get("cbc(aes)+hmac(sha256)") or next(iter(failures.values()))
            return (f"this kernel has XFRM but NO ESP ({why}): policies and SPI "
                    f"allocation work, every CHILD SA install will fail and be refused "
                    f"to the peer; {mark}")
        missing = (f"; not available: {', '.join(str(e) for e in failures.values())}"
                   if failures else "")
        return f"ESP available ({', '.join(self.available)}){missing}; {mark}"

    # ------------------------------------------------------------------ install -----

    def install(self, spec: ChildSaSpec) -> KernelResult:
        try:
            self._install(spec)
        except XfrmError as e:
            log.debug("kernel: CHILD SA %08x_i not installed: %s", spec.spi_in, e)
            return KernelResult(ok=False, reason=str(e))
        except (ValueError, KeyError) as e:  # an algorithm the kernel has no name for
            return KernelResult(ok=False, reason=f"cannot express for XFRM: {e}")
        return KernelResult(ok=True)

    def _install(self, spec: ChildSaSpec) -> None:
        sock = self._socket()
        mark = self.mark
        in_id, out_id = codec.sa_ids(spec)
        # 1. reserve our inbound SPI (RFC 4303 §2.1: unique at the receiver); alone,
        #    because the UPDSA after it must only ever complete our own larval state
        operation = f"XFRM_MSG_ALLOCSPI (in, SPI {spec.spi_in:08x})"
        try:
            reply = sock.request(operation, m.XFRM_MSG_ALLOCSPI, codec.allocspi_body(spec, mark))
        except XfrmError as e:
            if e.errno == errno.ENOENT and not e.message:
                # the kernel's answer when no SPI in [min, max] is free
                raise XfrmError(operation, e.errno, "the SPI is in use by another SA") from None
            raise
        if not reply:
            raise XfrmError(operation, errno.EPROTO, "the kernel answered without the SA")
        got = codec.decode_state(reply, 0, len(reply)).spi
        if got != spec.spi_in:
            self._delete_quietly([Request("XFRM_MSG_DELSA (unexpected larval SA)",
                                          m.XFRM_MSG_DELSA,
                                          codec.sa_id_body(in_id[1], got, in_id[3], mark))])
            raise XfrmError(operation, errno.EEXIST, f"the kernel reserved SPI {got:08x} instead")
        # 2. the states, then the policies of a new CHILD SA, in one batch; the outbound
        #    state of a rekey by the peer waits while the old one is still there
        defer = (spec.defer_outbound and self._loop is not None
                 and self._outbound.get(spec.reqid, 0) > 0)
        ops = [Request(_sa_operation("XFRM_MSG_UPDSA", spec, True), m.XFRM_MSG_UPDSA,
                       codec.sa_body(spec, True, mark))]
        if not defer:
            ops.append(self._outbound_request(spec))
        pols = codec.policies(spec) if spec.install_policies else []
        if pols:
            tmpl_out, tmpl_in = codec.template(spec, False), codec.template(spec, True)
            for label, sel, direction, inbound in pols:
                ops.append(Request(
                    f"XFRM_MSG_NEWPOLICY ({label}, {codec.selector_text(sel)}, reqid "
                    f"{spec.reqid:#x})", m.XFRM_MSG_NEWPOLICY,
                    codec.policy_body(sel, direction, tmpl_in if inbound else tmpl_out, mark)))
        results = sock.batch(ops)
        failed = [err for err, _ in results if err is not None]
        if failed:
            # undo what worked; the larval inbound state goes whether UPDSA worked or not
            undo = [Request("XFRM_MSG_DELSA (rollback in)", m.XFRM_MSG_DELSA,
                            codec.sa_id_body(in_id[1], in_id[2], in_id[3], mark))]
            if not defer and results[1][0] is None:
                undo.append(Request("XFRM_MSG_DELSA (rollback out)", m.XFRM_MSG_DELSA,
                                    codec.sa_id_body(out_id[1], out_id[2], out_id[3], mark)))
            policy_results = results[1 if defer else 2:]
            for (err, _), (_label, sel, direction, _inbound) in zip(policy_results, pols,
                                                                    strict=True):
                if err is None:
                    undo.append(Request("XFRM_MSG_DELPOLICY (rollback)", m.XFRM_MSG_DELPOLICY,
                                        codec.policy_id_body(sel, direction, mark)))
            self._delete_quietly(undo)
            raise failed[0]
        self._states[(spec.spi_in, in_id[1])] = ("in", spec.reqid)
        if not defer:
            self._installed_outbound(spec)
            return
        self._switch_outbound(spec.reqid)  # a rekey of a rekey: the earlier one goes first
        timer = self._loop.call_later(OUTBOUND_SWITCH_DELAY, self._switch_outbound, spec.reqid)
        self._pending_out[spec.reqid] = (spec, timer)

    def _outbound_request(self, spec: ChildSaSpec) -> Request:
        return Request(_sa_operation("XFRM_MSG_NEWSA", spec, False), m.XFRM_MSG_NEWSA,
                       codec.sa_body(spec, False, self.mark))

    def _installed_outbound(self, spec: ChildSaSpec) -> None:
        self._states[(spec.spi_out, codec.packed(spec.remote[0]))] = ("out", spec.reqid)
        self._outbound[spec.reqid] = self._outbound.get(spec.reqid, 0) + 1

    def _switch_outbound(self, reqid: int, before: list[Request] | None = None) -> None:
        """Install the deferred outbound state of ``reqid``'s rekey, if one waits: the
        old CHILD SA is going, or OUTBOUND_SWITCH_DELAY passed (a peer that never
        deletes). With ``before``, the request is put first in that batch instead."""
        pending = self._pending_out.pop(reqid, None)
        if pending is None:
            return
        spec, timer = pending
        timer.cancel()
        request = self._outbound_request(spec)
        if before is not None:
            before.insert(0, request)
            self._installed_outbound(spec)
            return
        try:
            (err, _), = self._socket().batch([request])
        except XfrmError as e:
            err = e
        if err is not None:
            log.warning("kernel: the outbound state of rekeyed CHILD SA %08x_i: %s",
                        spec.spi_in, err)
            return
        self._installed_outbound(spec)

    # ------------------------------------------------------------------ remove ------

    def remove(self, spec: ChildSaSpec, remove_policies: bool) -> None:
        if self.requests is None:
            return
        mark = self.mark
        first: list[Request] = []
        pending = self._pending_out.get(spec.reqid)
        if pending is not None and pending[0].spi_in == spec.spi_in:
            pending[1].cancel()  # this very SA goes before its outbound state was needed
            del self._pending_out[spec.reqid]
        elif pending is not None:
            self._switch_outbound(spec.reqid, first)  # the old SA goes: switch over first
        ids = codec.sa_ids(spec)
        ops = first + [Request(f"XFRM_MSG_GETSA ({d}, SPI {spi:08x})", m.XFRM_MSG_GETSA,
                               codec.sa_id_body(daddr, spi, family, mark))
                       for d, daddr, spi, family in ids]
        ops += [Request(f"XFRM_MSG_DELSA ({d}, SPI {spi:08x})", m.XFRM_MSG_DELSA,
                        codec.sa_id_body(daddr, spi, family, mark))
                for d, daddr, spi, family in ids]
        if remove_policies:
            ops += [Request(f"XFRM_MSG_DELPOLICY ({label}, {codec.selector_text(sel)})",
                            m.XFRM_MSG_DELPOLICY, codec.policy_id_body(sel, direction, mark))
                    for label, sel, direction, _ in codec.policies(spec)]
        try:
            results = self.requests.batch(ops)
        except XfrmError as e:
            log.warning("kernel: removing CHILD SA %08x_i failed: %s", spec.spi_in, e)
            return
        if first and results[0][0] is not None:
            log.warning("kernel: the outbound state of the rekeyed CHILD SA: %s", results[0][0])
        results = results[len(first):]
        for (d, daddr, spi, _family), (err, reply) in zip(ids, results[:2], strict=True):
            if self._states.pop((spi, daddr), None) == ("out", spec.reqid):
                self._forget_outbound(spec.reqid)
            if err is None and reply:
                self._retired[d] += codec.decode_state(reply, 0, len(reply)).bytes
        for err, _ in results[2:]:
            if err is not None and err.errno not in GONE:
                log.warning("kernel: %s", err)
            elif err is not None:
                log.debug("kernel: %s (already gone)", err)

    def _forget_outbound(self, reqid: int) -> None:
        n = self._outbound.get(reqid, 0) - 1
        if n > 0:
            self._outbound[reqid] = n
        else:
            self._outbound.pop(reqid, None)

    def remove_ours(self) -> tuple[int, int]:
        """Delete every state and policy with our mark (in this worker's reqid range);
        returns (states, policies) removed. Their bytes count as carried. (The SPI-less
        larval SAs the kernel makes for an ACQUIRE cannot be named by a request; they
        expire by themselves after net.core.xfrm_acq_expires seconds.)"""
        sock = self._socket()
        ops = []
        states = policies = 0
        try:
            for _t, buf, a, b in sock.dump("XFRM_MSG_GETSA (dump)", m.XFRM_MSG_GETSA):
                st = codec.decode_state(buf, a, b)
                if self._ours(st.mark, st.reqid):
                    ops.append(Request(f"XFRM_MSG_DELSA (SPI {st.spi:08x})", m.XFRM_MSG_DELSA,
                                       codec.sa_id_body(st.daddr, st.spi, st.family, st.mark)))
                    rec = self._states.pop((st.spi, st.daddr), None)
                    if rec is not None:
                        self._retired[rec[0]] += st.bytes
                        if rec[0] == "out":
                            self._forget_outbound(rec[1])
                    states += 1
            for _t, buf, a, b in sock.dump("XFRM_MSG_GETPOLICY (dump)", m.XFRM_MSG_GETPOLICY):
                pol = codec.decode_policy(buf, a, b)
                if pol.dir < m.XFRM_POLICY_MAX and self._ours(pol.mark, pol.reqid):
                    ops.append(Request(f"XFRM_MSG_DELPOLICY (index {pol.index})",
                                       m.XFRM_MSG_DELPOLICY,
                                       codec.policy_id_body(codec.ANY_SELECTOR, pol.dir,
                                                            pol.mark, pol.index)))
                    policies += 1
        except XfrmError as e:
            log.warning("kernel: listing our XFRM entries failed: %s", e)
        self._delete_quietly(ops)
        return states, policies

    def _delete_quietly(self, ops: list[Request]) -> None:
        if not ops or self.requests is None:
            return
        try:
            results = self.requests.batch(ops)
        except XfrmError as e:
            log.warning("kernel: %s", e)
            return
        for err, _ in results:
            if err is not None and err.errno not in GONE:
                log.warning("kernel: %s", err)

    # ------------------------------------------------------------------ sockets -----

    def bypass_socket(self, sock) -> None:
        """IKE traffic must never be caught by an IPsec policy: a per-socket policy
        (allow, both directions) overrides the global ones for this socket. On the
        NAT-T port the kernel must also take ESP-in-UDP off the socket (RFC 3948)."""
        v6 = sock.family == socket.AF_INET6
        level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
        option = m.IPV6_XFRM_POLICY if v6 else m.IP_XFRM_POLICY
        port = sock.getsockname()[1]
        try:
            for direction in (m.XFRM_POLICY_IN, m.XFRM_POLICY_OUT):
                sock.setsockopt(level, option, codec.bypass_policy(direction, sock.family))
        except OSError as e:
            log.warning("kernel: bypass policy on the IKE socket (port %d) failed: %s",
                        port, e)
        if port == self.natt_port:
            try:
                sock.setsockopt(socket.IPPROTO_UDP, m.UDP_ENCAP, m.UDP_ENCAP_ESPINUDP)
            except OSError as e:
                log.warning("kernel: UDP_ENCAP_ESPINUDP on port %d failed: %s", port, e)

    # ------------------------------------------------------------------ events ------

    def poll_events(self) -> int:
        """Read the queued EXPIRE/ACQUIRE messages and hand ours to the worker; returns
        how many KernelEvents were delivered."""
        if self.events is None:
            return 0
        found = []
        try:
            for t, buf, a, b in self.events.read_events():
                if t == m.XFRM_MSG_EXPIRE:
                    state, hard = codec.decode_expire(buf, a, b)
                    if not self._ours(state.mark, state.reqid):
                        continue
                    key = (state.spi, state.daddr)
                    rec = self._states.get(key)
                    if rec is None:
                        continue  # not a CHILD SA of this process (a probe, a stale one)
                    if hard:  # the kernel deletes it now: keep its bytes
                        self._retired[rec[0]] += state.bytes
                        del self._states[key]
                        if rec[0] == "out":
                            self._forget_outbound(rec[1])
                    found.append(KernelEvent("hard" if hard else "soft", rec[1], state.spi,
                                             inbound=rec[0] == "in"))
                elif t == m.XFRM_MSG_ACQUIRE:
                    reqid, mark = codec.decode_acquire(buf, a, b)
                    if self._ours(mark, reqid):
                        found.append(KernelEvent("acquire", reqid, 0, inbound=False))
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            log.warning("kernel: XFRM events were lost (receive queue overflowed); the "
                        "core's own lifetimes still apply")
        for event in found:
            log.debug("kernel: %s expiry of SPI %08x (reqid %#x)", event.kind, event.spi,
                      event.reqid)
            if self._on_event is not None:
                self._on_event(event)
        return len(found)

    # ------------------------------------------------------------------ counters ----

    def byte_counters(self) -> dict[str, int]:
        """Bytes carried by our states since this backend started: the states still in
        the kernel (one dump) plus those already removed."""
        if self.requests is None or not self._states:
            return dict(self._retired) if self.requests is not None else self._last_counters
        live = {"in": 0, "out": 0}
        try:
            for _t, buf, a, b in self.requests.dump("XFRM_MSG_GETSA (counters)",
                                                    m.XFRM_MSG_GETSA):
                st = codec.decode_state(buf, a, b)
                rec = self._states.get((st.spi, st.daddr))
                if rec is not None:
                    live[rec[0]] += st.bytes
        except XfrmError as e:
            log.warning("kernel: reading SA counters failed: %s", e)
            return self._last_counters
        self._last_counters = {d: self._retired[d] + live[d] for d in live}
        return self._last_counters

    # ------------------------------------------------------------------ helpers -----

    def _ours(self, mark: codec.Mark | None, reqid: int) -> bool:
        if mark != self.mark:
            return False
        if self.worker_index is None:
            return True
        worker = reqid >> 24
        # worker 0 also owns what workers of a larger previous run left behind
        return worker == self.worker_index or (self.worker_index == 0
                                               and worker >= self.worker_count)

    def _socket(self) -> XfrmSocket:
        if self.requests is None:
            try:
                self.requests = XfrmSocket()
            except OSError as e:
                raise XfrmError("opening a NETLINK_XFRM socket", e.errno or errno.EIO) from e
        return self.requests


def _sa_operation(name: str, spec: ChildSaSpec, inbound: bool) -> str:
    """How a state's request is named in errors: direction, SPI, algorithms."""
    spi = spec.spi_in if inbound else spec.spi_out
    algos = codec.describe_algorithms(spec.keys_in if inbound else spec.keys_out)
    return (f"{name} ({'in' if inbound else 'out'}, SPI {spi:08x}, {algos}"
            f"{', espinudp' if spec.encap else ''})")


def _probe_spec(keys: SaKeys, encap: bool) -> ChildSaSpec:
    return ChildSaSpec(version=2, reqid=0, local=("127.0.0.1", 4500), remote=("127.0.0.1", 4500),
                       spi_in=PROBE_SPI, spi_out=PROBE_SPI, keys_in=keys, keys_out=keys,
                       ts_local=(), ts_remote=(), encap=encap, lifetime_hard=5.0,
                       install_policies=False)


__all__ = ["XfrmKernel", "XfrmError", "IKESRV_MARK"]
