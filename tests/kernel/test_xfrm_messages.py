"""The XFRM message classes and the lean codec, checked against their references.

- Against the C header: a program compiled from <linux/xfrm.h> prints sizeof and the
  offsets of the members ikesrv reads or writes; the flattened pyroute2 fields must
  give the same numbers.
- Against pyroute2: the lean ``Layout`` packs exactly what pyroute2's own ``encode()``
  of the same class packs, and each body ``xfrm_codec`` builds from a CHILD SA equals the
  message built field by field, by name, through pyroute2.
- Against the kernel and iproute2 (root, a throw-away namespace; this kernel has XFRM
  without ESP, so policies and larval SAs): what ``ip xfrm`` adds, our decoders read
  back field by field; what ikesrv adds, ``ip xfrm`` prints as intended.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.actions import ChildSaSpec, SaKeys, TrafficSelectorSpec
from ikesrv.crypto.transforms import EncrId, IntegId
from ikesrv.kernel import xfrm_codec as codec
from ikesrv.kernel import xfrm_msg as m
from ikesrv.kernel.netlink import Layout, XfrmError, XfrmSocket
from ikesrv.kernel.xfrm import IKESRV_MARK, XfrmKernel
from tests.harness import policy

MARK = IKESRV_MARK
NLMSGHDR = 16


def addr(host: str) -> bytes:
    return codec.packed(host)


def ts(first: str, last: str | None = None, proto: int = 0, ports=(0, 65535)):
    return TrafficSelectorSpec(ipaddress.ip_address(first), ipaddress.ip_address(last or first),
                               proto, *ports)


def spec(**kw) -> ChildSaSpec:
    base = dict(version=2, reqid=0x0100_0005, local=("198.51.100.1", 4500),
                remote=("198.51.100.66", 20001), spi_in=0x01AB_CDEF, spi_out=0xC0FF_EE01,
                keys_in=SaKeys(EncrId.ENCR_AES_GCM_16, bytes(range(36))),
                keys_out=SaKeys(EncrId.ENCR_AES_GCM_16, bytes(range(100, 136))),
                ts_local=(ts("192.0.2.0", "192.0.2.127"),), ts_remote=(ts("192.0.2.129"),),
                encap=True, lifetime_soft=3240.4, lifetime_hard=3600)
    base.update(kw)
    return ChildSaSpec(**base)


# ------------------------------------------------------------------ the C header ------

# struct -> members whose offsets are checked (C paths), for each message class
C_MEMBERS = {
    m.xfrm_usersa_info: ("xfrm_usersa_info", {
        "sel_dport": "sel.dport", "sel_family": "sel.family", "sel_prefixlen_s": "sel.prefixlen_s",
        "sel_proto": "sel.proto", "sel_ifindex": "sel.ifindex", "id_daddr": "id.daddr",
        "id_spi": "id.spi", "id_proto": "id.proto", "saddr": "saddr",
        "lft_soft_byte_limit": "lft.soft_byte_limit",
        "lft_hard_add_expires_seconds": "lft.hard_add_expires_seconds",
        "curlft_bytes": "curlft.bytes", "stats_integrity_failed": "stats.integrity_failed",
        "seq": "seq", "reqid": "reqid", "family": "family", "mode": "mode",
        "replay_window": "replay_window", "flags": "flags"}),
    m.xfrm_userpolicy_info: ("xfrm_userpolicy_info", {
        "sel_user": "sel.user", "lft_hard_use_expires_seconds": "lft.hard_use_expires_seconds",
        "curlft_use_time": "curlft.use_time", "priority": "priority", "index": "index",
        "dir": "dir", "action": "action", "flags": "flags", "share": "share"}),
    m.xfrm_userspi_info: ("xfrm_userspi_info", {
        "info_reqid": "info.reqid", "info_id_spi": "info.id.spi", "min": "min", "max": "max"}),
    m.xfrm_usersa_id: ("xfrm_usersa_id", {"spi": "spi", "family": "family", "proto": "proto"}),
    m.xfrm_userpolicy_id: ("xfrm_userpolicy_id", {"index": "index", "dir": "dir"}),
    m.xfrm_user_expire: ("xfrm_user_expire", {"state_curlft_bytes": "state.curlft.bytes",
                                              "state_reqid": "state.reqid", "hard": "hard"}),
    m.xfrm_user_polexpire: ("xfrm_user_polexpire", {"pol_dir": "pol.dir", "hard": "hard"}),
    m.xfrm_user_acquire: ("xfrm_user_acquire", {
        "sel_family": "sel.family", "policy_priority": "policy.priority", "aalgos": "aalgos",
        "seq": "seq"}),
    m.xfrm_aevent_id: ("xfrm_aevent_id", {"sa_id_spi": "sa_id.spi", "saddr": "saddr",
                                          "reqid": "reqid"}),
    m.xfrm_usersa_flush: ("xfrm_usersa_flush", {"proto": "proto"}),
    m.xfrm_attrs.xfrm_algo: ("xfrm_algo", {"alg_key_len": "alg_key_len", "alg_key": "alg_key"}),
    m.xfrm_attrs.xfrm_algo_auth: ("xfrm_algo_auth", {"alg_trunc_len": "alg_trunc_len",
                                                     "alg_key": "alg_key"}),
    m.xfrm_attrs.xfrm_algo_aead: ("xfrm_algo_aead", {"alg_icv_len": "alg_icv_len",
                                                     "alg_key": "alg_key"}),
    m.xfrm_attrs.xfrm_encap_tmpl: ("xfrm_encap_tmpl", {"encap_dport": "encap_dport",
                                                       "encap_oa": "encap_oa"}),
    m.xfrm_attrs.xfrm_user_tmpl: ("xfrm_user_tmpl", {
        "family": "family", "saddr": "saddr", "reqid": "reqid", "mode": "mode",
        "optional": "optional", "aalgos": "aalgos", "calgos": "calgos"}),
    m.xfrm_attrs.xfrm_mark: ("xfrm_mark", {"m": "m"}),
    m.xfrm_attrs.xfrm_replay_state_esn: ("xfrm_replay_state_esn", {
        "replay_window": "replay_window", "bmp": "bmp"}),
    m.xfrm_attrs.xfrm_userpolicy_type: ("xfrm_userpolicy_type", {"reserved1": "reserved1",
                                                                 "reserved2": "reserved2"}),
    m.xfrm_attrs.xfrm_address_filter: ("xfrm_address_filter", {"dplen": "dplen"}),
    m.xfrm_attrs.xfrm_user_offload: ("xfrm_user_offload", {"flags": "flags"}),
}


def _offsets(fields) -> dict[str, int]:
    out, at = {}, 0
    for name, fmt in fields:
        out[name] = at
        at += struct.calcsize(fmt if fmt[0] in "<>=" else "=" + fmt)
    return out


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory) -> dict[str, int]:
    """sizeof/offsetof from <linux/xfrm.h>, as the C compiler lays the structs out."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (gcc is a build dependency: `make deps`)")
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include <linux/xfrm.h>',
             'int main(void) {']
    for struct_name, members in C_MEMBERS.values():
        lines.append(f'printf("{struct_name} %zu\\n", sizeof(struct {struct_name}));')
        for path in members.values():
            lines.append(f'printf("{struct_name}.{path} %zu\\n", '
                         f'offsetof(struct {struct_name}, {path}));')
    lines += ["return 0; }"]
    d = tmp_path_factory.mktemp("xfrm-h")
    (d / "sizes.c").write_text("\n".join(lines))
    subprocess.run([cc, "-o", str(d / "sizes"), str(d / "sizes.c")], check=True)
    out = subprocess.run([str(d / "sizes")], check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


@pytest.mark.parametrize("cls", list(C_MEMBERS), ids=lambda c: c.__name__)
def test_fields_lay_out_as_the_kernel_header(c_layout, cls):
    struct_name, members = C_MEMBERS[cls]
    offsets = _offsets(cls.fields)
    size = m.fixed_size(cls.fields)
    tail = cls.fields[-1][1] == "s"  # a flexible array member: not part of sizeof
    c_size = c_layout[struct_name]
    if tail:
        assert size - 1 == c_size
    else:  # C pads the end to the struct's alignment; pyroute2 fields carry that padding
        assert size == c_size or (cls is m.xfrm_usersa_flush and size == 1 == c_size)
    for field, path in members.items():
        assert offsets[field] == c_layout[f"{struct_name}.{path}"], (field, path)


# ------------------------------------------------------------------ pyroute2 ----------


def _value(fmt: str):
    body = fmt.lstrip("<>=")
    if body.endswith("x"):
        return None
    if body.endswith("s"):
        return st.binary(min_size=int(body[:-1] or 1), max_size=int(body[:-1] or 1))
    bits = struct.calcsize("=" + body) * 8
    if body in ("i", "q"):
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(0, (1 << bits) - 1)


MESSAGES = sorted(set(m.MESSAGE_CLASSES.values()), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_layout_packs_what_pyroute2_encodes(cls, data):
    layout = Layout(cls.fields)
    values = [data.draw(_value(fmt)) for _, fmt in cls.fields if not fmt.endswith("x")]
    msg = cls()
    for name, v in zip(layout.names, values, strict=True):
        msg[name] = v
    msg["header"]["type"] = m.XFRM_MSG_NEWSA
    msg.encode()
    ours = bytes(layout.pack(values))
    assert bytes(msg.data[NLMSGHDR:NLMSGHDR + layout.size]) == ours
    assert layout.unpack_from(ours) == tuple(values)
    back = cls(bytes(msg.data))
    back.decode()
    assert tuple(back[n] for n in layout.names) == tuple(values)


def _sa_message(s: ChildSaSpec, inbound: bool, attrs: list) -> bytes:
    """xfrm_usersa_info for one direction, set field by field through pyroute2."""
    src, dst = (s.remote, s.local) if inbound else (s.local, s.remote)
    msg = m.xfrm_usersa_info()
    msg["header"]["type"] = m.XFRM_MSG_NEWSA
    values = {
        "id_daddr": addr(dst[0]), "id_spi": s.spi_in if inbound else s.spi_out,
        "id_proto": 50, "saddr": addr(src[0]), "family": socket.AF_INET, "reqid": s.reqid,
        "mode": 1 if s.mode == "tunnel" else 0,
        "lft_soft_byte_limit": s.lifetime_soft_bytes or m.XFRM_INF,
        "lft_hard_byte_limit": s.lifetime_hard_bytes or m.XFRM_INF,
        "lft_soft_packet_limit": m.XFRM_INF, "lft_hard_packet_limit": m.XFRM_INF,
        "lft_soft_add_expires_seconds": round(s.lifetime_soft),
        "lft_hard_add_expires_seconds": round(s.lifetime_hard),
        "replay_window": 0 if (s.esn or s.replay_window > 32) else s.replay_window,
        "flags": m.XFRM_STATE_ESN if s.esn else 0,
    }
    if s.mode == "transport":
        values.update(sel_daddr=addr(dst[0]), sel_saddr=addr(src[0]), sel_family=socket.AF_INET,
                      sel_prefixlen_d=32, sel_prefixlen_s=32)
    msg.update(values)
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data[NLMSGHDR:])


def test_sa_bodies_equal_the_messages_built_by_name():
    # AES-GCM in UDP: the key carries the 4-octet salt (RFC 4106 §8.1), ICV 128 bits
    s = spec()
    for inbound, k, ports in ((True, s.keys_in, (20001, 4500)), (False, s.keys_out, (4500, 20001))):
        expected = _sa_message(s, inbound, [
            ("XFRMA_ALG_AEAD", {"alg_name": b"rfc4106(gcm(aes))", "alg_key_len": 288,
                                "alg_icv_len": 128, "alg_key": k.encr_key}),
            ("XFRMA_ENCAP", {"encap_type": 2, "encap_sport": ports[0], "encap_dport": ports[1]}),
            ("XFRMA_MARK", {"v": 0, "m": 0x100000})])
        assert codec.sa_body(s, inbound, MARK) == expected
    # AES-CBC + HMAC-SHA-384, transport mode, ESN with a 64-packet window, byte limits
    s = spec(keys_in=SaKeys(EncrId.ENCR_AES_CBC, bytes(16), IntegId.AUTH_HMAC_SHA2_384_192,
                            bytes(range(48))),
             mode="transport", encap=False, esn=True, replay_window=64,
             lifetime_soft_bytes=1000, lifetime_hard_bytes=2000)
    expected = _sa_message(s, True, [
        ("XFRMA_ALG_CRYPT", {"alg_name": b"cbc(aes)", "alg_key_len": 128, "alg_key": bytes(16)}),
        ("XFRMA_ALG_AUTH_TRUNC", {"alg_name": b"hmac(sha384)", "alg_key_len": 384,
                                  "alg_trunc_len": 192,  # RFC 4868 §2.3
                                  "alg_key": bytes(range(48))}),
        ("XFRMA_REPLAY_ESN_VAL", {"bmp_len": 2, "replay_window": 64, "bmp": bytes(8)}),
        ("XFRMA_MARK", {"v": 0, "m": 0x100000})])
    assert codec.sa_body(s, True, MARK) == expected


def test_allocspi_and_ids_equal_the_messages_built_by_name():
    s = spec()
    msg = m.xfrm_userspi_info()
    msg.update(info_id_daddr=addr("198.51.100.1"), info_id_proto=50,
               info_saddr=addr("198.51.100.66"), info_family=socket.AF_INET,
               info_reqid=s.reqid, info_mode=1, min=s.spi_in, max=s.spi_in,
               **{f"info_lft_{k}_limit": m.XFRM_INF for k in ("soft_byte", "hard_byte",
                                                              "soft_packet", "hard_packet")})
    msg["attrs"] = [("XFRMA_MARK", {"v": 0, "m": 0x100000})]
    msg.encode()
    assert codec.allocspi_body(s, MARK) == bytes(msg.data[NLMSGHDR:])
    msg = m.xfrm_usersa_id()
    msg.update(daddr=addr("198.51.100.66"), spi=s.spi_out, family=socket.AF_INET, proto=50)
    msg["attrs"] = [("XFRMA_MARK", {"v": 0, "m": 0x100000})]
    msg.encode()
    assert codec.sa_id_body(addr("198.51.100.66"), s.spi_out, socket.AF_INET, MARK) == \
        bytes(msg.data[NLMSGHDR:])


def test_policy_bodies_equal_the_messages_built_by_name():
    s = spec(ts_local=(ts("192.0.2.0", "192.0.2.255", 17, (1701, 1701)),),
             ts_remote=(ts("10.0.0.1", None, 17, (1024, 2047)),))
    pols = codec.policies(s)
    assert [(label, d) for label, _, d, _ in pols] == [("out", 1), ("in", 0), ("fwd", 2)]
    for label, sel, direction, inbound in pols:
        local = ("192.0.2.0", 24, 1701, 0xFFFF)
        remote = ("10.0.0.1", 32, 1024, 0xFC00)  # 1024-2047 is one aligned block
        src, dst = (remote, local) if inbound else (local, remote)
        msg = m.xfrm_userpolicy_info()
        msg.update(sel_daddr=addr(dst[0]), sel_saddr=addr(src[0]), sel_dport=dst[2],
                   sel_dport_mask=dst[3], sel_sport=src[2], sel_sport_mask=src[3],
                   sel_family=socket.AF_INET, sel_prefixlen_d=dst[1], sel_prefixlen_s=src[1],
                   sel_proto=17, priority=100000 + 1027 - (56 * 4 + 2 + 1), dir=direction,
                   **{f"lft_{k}_limit": m.XFRM_INF for k in ("soft_byte", "hard_byte",
                                                             "soft_packet", "hard_packet")})
        outer = ("198.51.100.66", "198.51.100.1") if inbound else ("198.51.100.1",
                                                                    "198.51.100.66")
        msg["attrs"] = [
            ("XFRMA_TMPL", {"id_daddr": addr(outer[1]), "id_proto": 50,
                            "family": socket.AF_INET, "saddr": addr(outer[0]),
                            "reqid": s.reqid, "mode": 1, "aalgos": 0xFFFFFFFF,
                            "ealgos": 0xFFFFFFFF, "calgos": 0xFFFFFFFF}),
            ("XFRMA_MARK", {"v": 0, "m": 0x100000})]
        msg.encode()
        body = codec.policy_body(sel, direction, codec.template(s, inbound), MARK)
        assert body == bytes(msg.data[NLMSGHDR:]), label
        # and the lean decoder reads it back
        entry = codec.decode_policy(body, 0, len(body))
        assert (entry.dir, entry.reqid, entry.mark, entry.priority) == \
            (direction, s.reqid, MARK, 100000 + 1027 - 227)


def test_expire_and_acquire_decode():
    msg = m.xfrm_user_expire()
    msg.update(state_id_daddr=addr("198.51.100.1"), state_id_spi=0x01ABCDEF, state_id_proto=50,
               state_family=2, state_reqid=0x01000005, state_curlft_bytes=12345, hard=1)
    msg["attrs"] = [("XFRMA_MARK", {"v": 0, "m": 0x100000})]
    msg.encode()
    body = bytes(msg.data[NLMSGHDR:])
    state, hard = codec.decode_expire(body, 0, len(body))
    assert hard and (state.spi, state.reqid, state.bytes, state.daddr, state.mark) == \
        (0x01ABCDEF, 0x01000005, 12345, addr("198.51.100.1"), MARK)
    msg = m.xfrm_user_acquire()
    msg["attrs"] = [("XFRMA_TMPL", {"reqid": 0x01000005, "id_proto": 50}),
                    ("XFRMA_MARK", {"v": 0, "m": 0x100000})]
    msg.encode()
    body = bytes(msg.data[NLMSGHDR:])
    assert codec.decode_acquire(body, 0, len(body)) == (0x01000005, MARK)


@given(st.integers(0, 65535), st.integers(0, 65535))
def test_port_ranges_become_exact_masked_blocks(a, b):
    start, end = min(a, b), max(a, b)
    covered = set()
    for port, mask in codec.port_blocks(start, end):
        size = 0x10000 - mask if mask else 0x10000
        assert port & ~mask & 0xFFFF == 0  # aligned: the kernel matches (p & mask) == port
        block = set(range(port, port + size))
        assert not block & covered
        covered |= block
    assert covered == set(range(start, end + 1))


def test_more_specific_selectors_get_a_lower_priority():
    net = ipaddress.ip_network
    wide = codec.selector(net("0.0.0.0/0"), net("192.0.2.129/32"), 0)
    narrow = codec.selector(net("192.0.2.0/25"), net("192.0.2.129/32"), 0)
    ported = codec.selector(net("192.0.2.0/25"), net("192.0.2.129/32"), 17, (53, 0xFFFF))
    assert codec.priority(ported) < codec.priority(narrow) < codec.priority(wide)


# ------------------------------------------------------------------ the kernel --------


@pytest.fixture
def netns(cleanup):
    policy.require_root()
    policy.require_binary("ip", "iproute2")
    from tests.harness.netns import Namespace, unique_name
    return Namespace.create(unique_name("xfrm"), cleanup)


def _dump(ns, msg_type):
    def read():
        sock = XfrmSocket()
        try:
            return [bytes(buf[a:b]) for _t, buf, a, b in sock.dump("dump", msg_type)]
        finally:
            sock.close()
    return ns.call(read)


@pytest.mark.root
def test_what_ip_xfrm_adds_our_decoders_read(netns):
    netns.ip("xfrm", "policy", "add", "src", "192.0.2.0/25", "dst", "192.0.2.129/32",
             "proto", "udp", "sport", "1701", "dport", "1701", "dir", "out", "priority", "1234",
             "mark", "0", "mask", "0x100000",
             "tmpl", "src", "198.51.100.1", "dst", "198.51.100.66", "proto", "esp",
             "reqid", "16777221", "mode", "tunnel")
    # (iproute2 sends no mark whose value & mask is 0 for states: another mark here)
    netns.ip("xfrm", "state", "allocspi", "src", "198.51.100.66", "dst", "198.51.100.1",
             "proto", "esp", "reqid", "16777221", "mode", "tunnel", "mark", "0x5", "mask",
             "0xf", "min", "0x01abcdef", "max", "0x01abcdef")
    (raw,) = _dump(netns, m.XFRM_MSG_GETPOLICY)
    pol = codec.decode_policy(raw, 0, len(raw))
    assert (pol.dir, pol.priority, pol.reqid, pol.mark) == (1, 1234, 0x01000005, MARK)
    ref = m.xfrm_userpolicy_info(_framed(raw))  # pyroute2's reading of the same bytes
    ref.decode()
    assert (ref["sel_sport"], ref["sel_dport"], ref["sel_proto"], ref["sel_prefixlen_s"],
            ref["sel_prefixlen_d"]) == (1701, 1701, 17, 25, 32)
    assert ref["sel_saddr"][:4] == socket.inet_aton("192.0.2.0")
    tmpl = ref.get_attr("XFRMA_TMPL")
    assert (tmpl["reqid"], tmpl["id_proto"], tmpl["mode"], tmpl["saddr"][:4]) == \
        (0x01000005, 50, 1, socket.inet_aton("198.51.100.1"))
    (raw,) = _dump(netns, m.XFRM_MSG_GETSA)
    sa = codec.decode_state(raw, 0, len(raw))
    assert (sa.spi, sa.reqid, sa.proto, sa.mark) == (0x01ABCDEF, 0x01000005, 50,
                                                     codec.Mark(5, 0xF))
    assert (sa.daddr, sa.saddr) == (addr("198.51.100.1"), addr("198.51.100.66"))


def _framed(body: bytes) -> bytes:
    return struct.pack("=IHHII", NLMSGHDR + len(body), m.XFRM_MSG_NEWPOLICY, 0, 0, 0) + body


@pytest.mark.root
def test_what_ikesrv_adds_ip_xfrm_prints(netns):
    s = spec(ts_local=(ts("192.0.2.0", "192.0.2.255", 17, (1701, 1701)),),
             ts_remote=(ts("10.0.0.1", None, 17, (1024, 2047)),))

    def add():
        sock = XfrmSocket()
        try:
            for label, sel, d, inbound in codec.policies(s):
                sock.request(label, m.XFRM_MSG_NEWPOLICY,
                             codec.policy_body(sel, d, codec.template(s, inbound), MARK))
            reply = sock.request("allocspi", m.XFRM_MSG_ALLOCSPI, codec.allocspi_body(s, MARK))
            return codec.decode_state(reply, 0, len(reply)).spi
        finally:
            sock.close()
    assert netns.call(add) == s.spi_in
    text = netns.ip("xfrm", "policy")
    assert text.count("mark 0/0x100000") == 3 and text.count("reqid 16777221 mode tunnel") == 3
    assert "src 192.0.2.0/24 dst 10.0.0.1/32 proto udp sport 1701 dport 1024" in text
    assert "dir out priority 100800" in text and "tmpl src 198.51.100.1 dst 198.51.100.66" in text
    assert text.count("src 10.0.0.1/32 dst 192.0.2.0/24 proto udp sport 1024 dport 1701") == 2
    assert "dir in priority" in text and "dir fwd priority" in text
    state = netns.ip("xfrm", "state")
    assert "src 198.51.100.66 dst 198.51.100.1" in state
    assert "proto esp spi 0x01abcdef reqid 16777221 mode tunnel" in state
    assert "mark 0/0x100000" in state


@pytest.mark.root
def test_bypass_and_encapsulation_on_the_ike_sockets(netns):
    kernel = XfrmKernel(natt_port=4500)

    def sockets():
        out = []
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for port in (500, 4500):
                s = socket.socket(family, socket.SOCK_DGRAM)
                s.bind((host, port))
                kernel.bypass_socket(s)
                out.append(s)
        return out
    socks = netns.call(sockets)
    try:
        encap = [s.getsockopt(socket.IPPROTO_UDP, m.UDP_ENCAP) for s in socks]
        assert encap == [0, m.UDP_ENCAP_ESPINUDP, 0, m.UDP_ENCAP_ESPINUDP]
        text = netns.ip("xfrm", "policy")
        assert text.count("socket in priority 0") == 4 and text.count("socket out priority 0") == 4
    finally:
        for s in socks:
            s.close()


@pytest.mark.root
def test_each_worker_removes_only_its_own_entries(netns):
    # reqid top byte = worker index; entries of worker 0, 1 and 3 (a previous run with
    # four workers), one unmarked policy of another daemon
    def plant(reqid: int, dst: str, mark: bool = True):
        args = ["xfrm", "policy", "add", "src", "192.0.2.0/25", "dst", dst, "dir", "out"]
        if mark:
            args += ["mark", "0", "mask", "0x100000"]
        netns.ip(*args, "tmpl", "src", "198.51.100.1", "dst", "198.51.100.2", "proto", "esp",
                 "reqid", str(reqid), "mode", "tunnel")
    plant(0x0000_0001, "192.0.2.129/32")
    plant(0x0100_0001, "192.0.2.130/32")
    plant(0x0300_0001, "192.0.2.131/32")
    plant(0x0000_0002, "192.0.2.132/32", mark=False)

    def remaining():
        return sorted(p.reqid for p in (codec.decode_policy(r, 0, len(r))
                                        for r in _dump(netns, m.XFRM_MSG_GETPOLICY)))
    w1 = XfrmKernel(worker_index=1, worker_count=2)
    assert netns.call(w1.remove_ours) == (0, 1)
    assert remaining() == [0x0000_0001, 0x0000_0002, 0x0300_0001]
    w0 = XfrmKernel(worker_index=0, worker_count=2)
    assert netns.call(w0.remove_ours) == (0, 2)  # its own, and worker 3's of the old run
    assert remaining() == [0x0000_0002]  # another daemon's entry stays


@pytest.mark.root
def test_refusals_name_the_operation_and_the_kernels_reason(netns):
    def refuse():
        sock = XfrmSocket()
        try:
            sel = codec.selector(ipaddress.ip_network("192.0.2.0/25"),
                                 ipaddress.ip_network("192.0.2.129/32"), 0)
            sock.request("XFRM_MSG_DELPOLICY (out, test)", m.XFRM_MSG_DELPOLICY,
                         codec.policy_id_body(sel, m.XFRM_POLICY_OUT, MARK))
        finally:
            sock.close()
    with pytest.raises(XfrmError) as e:
        netns.call(refuse)
    assert str(e.value).startswith("XFRM_MSG_DELPOLICY (out, test): ENOENT (No such file or "
                                   "directory)")
