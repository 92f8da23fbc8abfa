"""Linux XFRM netlink messages (``linux/xfrm.h``) as pyroute2 message classes.

Owns: the constants of the XFRM netlink family (message types, attribute types, modes,
policy directions, multicast groups, state flags) and one class per message and per
attribute structure, written the way pyroute2 writes its rtnetlink messages: the C
struct in the docstring, ``fields`` and ``nla_map`` in kernel order with kernel names,
no logic beyond reading a variable-length tail. pyroute2 ships no XFRM state or policy
messages; these fill that gap.

Nested C structs are flattened, each member named ``<member>_<field>`` after the C
member that holds it (``sel_daddr``, ``id_spi``, ``lft_soft_byte_limit``), because
pyroute2 fields are flat. ``xfrm_address_t`` is 16 octets (an IPv4 address in the
first 4). Network-order members (``__be16``/``__be32``) use ``>`` formats.

The pyroute2 ``encode()``/``decode()`` of these classes is the reference codec (tests
and tools); the backend's hot path packs the same ``fields`` through
``ikesrv.kernel.netlink.Layout`` (DESIGN §9: pyroute2's generic path costs tens of µs
per message).

Imports pyroute2.netlink only; nothing from ikesrv.
"""

from __future__ import annotations

import struct

from pyroute2.netlink import nla, nlmsg, nlmsg_base

# ------------------------------------------------------------------ constants ---------

NETLINK_XFRM = 6

# enum { XFRM_MSG_BASE = 0x10, ... }
XFRM_MSG_NEWSA = 0x10
XFRM_MSG_DELSA = 0x11
XFRM_MSG_GETSA = 0x12
XFRM_MSG_NEWPOLICY = 0x13
XFRM_MSG_DELPOLICY = 0x14
XFRM_MSG_GETPOLICY = 0x15
XFRM_MSG_ALLOCSPI = 0x16
XFRM_MSG_ACQUIRE = 0x17
XFRM_MSG_EXPIRE = 0x18
XFRM_MSG_UPDPOLICY = 0x19
XFRM_MSG_UPDSA = 0x1A
XFRM_MSG_POLEXPIRE = 0x1B
XFRM_MSG_FLUSHSA = 0x1C
XFRM_MSG_FLUSHPOLICY = 0x1D
XFRM_MSG_NEWAE = 0x1E
XFRM_MSG_GETAE = 0x1F
XFRM_MSG_REPORT = 0x20
XFRM_MSG_MIGRATE = 0x21
XFRM_MSG_NEWSADINFO = 0x22
XFRM_MSG_GETSADINFO = 0x23
XFRM_MSG_NEWSPDINFO = 0x24
XFRM_MSG_GETSPDINFO = 0x25
XFRM_MSG_MAPPING = 0x26
XFRM_MSG_SETDEFAULT = 0x27
XFRM_MSG_GETDEFAULT = 0x28

# enum xfrm_nlgroups
XFRMNLGRP_ACQUIRE = 1
XFRMNLGRP_EXPIRE = 2
XFRMNLGRP_SA = 3
XFRMNLGRP_POLICY = 4
XFRMNLGRP_AEVENTS = 5
XFRMNLGRP_REPORT = 6
XFRMNLGRP_MIGRATE = 7
XFRMNLGRP_MAPPING = 8

# enum xfrm_attr_type_t (the subset ikesrv sends or reads by number)
XFRMA_ALG_AUTH = 1
XFRMA_ALG_CRYPT = 2
XFRMA_ENCAP = 4
XFRMA_TMPL = 5
XFRMA_SA = 6
XFRMA_POLICY = 7
XFRMA_ALG_AEAD = 18
XFRMA_ALG_AUTH_TRUNC = 20
XFRMA_MARK = 21
XFRMA_REPLAY_ESN_VAL = 23

XFRM_MODE_TRANSPORT = 0
XFRM_MODE_TUNNEL = 1
XFRM_MODE_ROUTEOPTIMIZATION = 2
XFRM_MODE_IN_TRIGGER = 3
XFRM_MODE_BEET = 4

XFRM_POLICY_IN = 0
XFRM_POLICY_OUT = 1
XFRM_POLICY_FWD = 2
XFRM_POLICY_MAX = 3  # socket policies use dir + XFRM_POLICY_MAX in dumps

XFRM_POLICY_ALLOW = 0
XFRM_POLICY_BLOCK = 1

XFRM_POLICY_TYPE_MAIN = 0

XFRM_SHARE_ANY = 0

# xfrm_usersa_info.flags
XFRM_STATE_NOECN = 1
XFRM_STATE_DECAP_DSCP = 2
XFRM_STATE_NOPMTUDISC = 4
XFRM_STATE_WILDRECV = 8
XFRM_STATE_ICMP = 16
XFRM_STATE_AF_UNSPEC = 32
XFRM_STATE_ALIGN4 = 64
XFRM_STATE_ESN = 128

XFRM_INF = 0xFFFFFFFFFFFFFFFF  # (~(__u64)0): no limit

IPPROTO_ESP = 50
# linux/udp.h: setsockopt(IPPROTO_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
UDP_ENCAP = 100
UDP_ENCAP_ESPINUDP = 2  # RFC 3948 (the non-ESP marker in front of IKE)
# linux/in.h, linux/in6.h: per-socket policies (struct xfrm_userpolicy_info)
IP_XFRM_POLICY = 17
IPV6_XFRM_POLICY = 35


# ------------------------------------------------------------------ nested structs ----
# Each returns the members of a C struct that is embedded in a message, flattened.


def _address(name: str) -> tuple:
    """``xfrm_address_t``: 16 octets (union of __be32 a4 and struct in6_addr)."""
    return ((name, "16s"),)


def _selector(m: str) -> tuple:
    """``struct xfrm_selector`` (56 octets)."""
    return (
        *_address(f"{m}_daddr"),
        *_address(f"{m}_saddr"),
        (f"{m}_dport", ">H"),
        (f"{m}_dport_mask", ">H"),
        (f"{m}_sport", ">H"),
        (f"{m}_sport_mask", ">H"),
        (f"{m}_family", "H"),
        (f"{m}_prefixlen_d", "B"),
        (f"{m}_prefixlen_s", "B"),
        (f"{m}_proto", "B"),
        (f"__{m}_pad", "3x"),
        (f"{m}_ifindex", "i"),
        (f"{m}_user", "I"),
    )


def _id(m: str) -> tuple:
    """``struct xfrm_id`` (24 octets)."""
    return (
        *_address(f"{m}_daddr"),
        (f"{m}_spi", ">I"),
        (f"{m}_proto", "B"),
        (f"__{m}_pad", "3x"),
    )


def _lifetime_cfg(m: str) -> tuple:
    """``struct xfrm_lifetime_cfg`` (64 octets)."""
    return tuple((f"{m}_{f}", "Q") for f in (
        "soft_byte_limit", "hard_byte_limit", "soft_packet_limit", "hard_packet_limit",
        "soft_add_expires_seconds", "hard_add_expires_seconds",
        "soft_use_expires_seconds", "hard_use_expires_seconds"))


def _lifetime_cur(m: str) -> tuple:
    """``struct xfrm_lifetime_cur`` (32 octets)."""
    return tuple((f"{m}_{f}", "Q") for f in ("bytes", "packets", "add_time", "use_time"))


def _stats(m: str) -> tuple:
    """``struct xfrm_stats`` (12 octets)."""
    return tuple((f"{m}_{f}", "I") for f in ("replay_window", "replay", "integrity_failed"))


USERSA_INFO_FIELDS = (
    *_selector("sel"),
    *_id("id"),
    *_address("saddr"),
    *_lifetime_cfg("lft"),
    *_lifetime_cur("curlft"),
    *_stats("stats"),
    ("seq", "I"),
    ("reqid", "I"),
    ("family", "H"),
    ("mode", "B"),
    ("replay_window", "B"),
    ("flags", "B"),
    ("__pad", "7x"),
)

USERPOLICY_INFO_FIELDS = (
    *_selector("sel"),
    *_lifetime_cfg("lft"),
    *_lifetime_cur("curlft"),
    ("priority", "I"),
    ("index", "I"),
    ("dir", "B"),
    ("action", "B"),
    ("flags", "B"),
    ("share", "B"),
    ("__pad", "4x"),
)

USERSA_ID_FIELDS = (
    *_address("daddr"),
    ("spi", ">I"),
    ("family", "H"),
    ("proto", "B"),
    ("__pad", "x"),
)


def _nested(m: str, fields) -> tuple:
    """A whole struct embedded as member ``m`` of another."""
    return tuple((f"__{m}{n}" if n.startswith("__") else f"{m}_{n}", f) for n, f in fields)


def _defaults(fields) -> dict:
    """pyroute2 encodes an unset field as 0, which '16s' cannot take: give addresses
    the all-zero address."""
    return {name: bytes(16) for name, fmt in fields if fmt == "16s"}


# ------------------------------------------------------------------ attributes --------


class xfrm_attrs(nlmsg_base):
    """The attributes of every XFRM message (``enum xfrm_attr_type_t``)."""

    prefix = "XFRMA_"

    nla_map = (
        ("XFRMA_UNSPEC", "none"),
        ("XFRMA_ALG_AUTH", "xfrm_algo"),
        ("XFRMA_ALG_CRYPT", "xfrm_algo"),
        ("XFRMA_ALG_COMP", "xfrm_algo"),
        ("XFRMA_ENCAP", "xfrm_encap_tmpl"),
        ("XFRMA_TMPL", "xfrm_user_tmpl"),
        ("XFRMA_SA", "xfrm_usersa_info_nla"),
        ("XFRMA_POLICY", "xfrm_userpolicy_info_nla"),
        ("XFRMA_SEC_CTX", "hex"),
        ("XFRMA_LTIME_VAL", "xfrm_lifetime_cur"),
        ("XFRMA_REPLAY_VAL", "xfrm_replay_state"),
        ("XFRMA_REPLAY_THRESH", "uint32"),
        ("XFRMA_ETIMER_THRESH", "uint32"),
        ("XFRMA_SRCADDR", "hex"),
        ("XFRMA_COADDR", "hex"),
        ("XFRMA_LASTUSED", "uint64"),
        ("XFRMA_POLICY_TYPE", "xfrm_userpolicy_type"),
        ("XFRMA_MIGRATE", "hex"),
        ("XFRMA_ALG_AEAD", "xfrm_algo_aead"),
        ("XFRMA_KMADDRESS", "hex"),
        ("XFRMA_ALG_AUTH_TRUNC", "xfrm_algo_auth"),
        ("XFRMA_MARK", "xfrm_mark"),
        ("XFRMA_TFCPAD", "uint32"),
        ("XFRMA_REPLAY_ESN_VAL", "xfrm_replay_state_esn"),
        ("XFRMA_SA_EXTRA_FLAGS", "uint32"),
        ("XFRMA_PROTO", "uint8"),
        ("XFRMA_ADDRESS_FILTER", "xfrm_address_filter"),
        ("XFRMA_PAD", "hex"),
        ("XFRMA_OFFLOAD_DEV", "xfrm_user_offload"),
        ("XFRMA_SET_MARK", "uint32"),
        ("XFRMA_SET_MARK_MASK", "uint32"),
        ("XFRMA_IF_ID", "uint32"),
        ("XFRMA_MTIMER_THRESH", "uint32"),
        ("XFRMA_SA_DIR", "uint8"),
        ("XFRMA_NAT_KEEPALIVE_INTERVAL", "uint32"),
        ("XFRMA_SA_PCPU", "uint32"),
    )

    class _tail(nla):
        """An attribute struct ending in a flexible array member (``char alg_key[]``):
        the last field takes the rest of the attribute."""

        tail = ""

        def decode(self):
            nla.decode(self)
            start = self.offset + 4 + fixed_size(self.fields[:-1])
            self[self.tail] = bytes(self.data[start:self.offset + self.length])

    class xfrm_algo(_tail):
        """struct xfrm_algo {
            char         alg_name[64];
            unsigned int alg_key_len;    /* in bits */
            char         alg_key[];
        };"""

        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_key", "s"))
        tail = "alg_key"

    class xfrm_algo_auth(_tail):
        """struct xfrm_algo_auth {
            char         alg_name[64];
            unsigned int alg_key_len;    /* in bits */
            unsigned int alg_trunc_len;  /* in bits */
            char         alg_key[];
        };"""

        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_trunc_len", "I"),
                  ("alg_key", "s"))
        tail = "alg_key"

    class xfrm_algo_aead(_tail):
        """struct xfrm_algo_aead {
            char         alg_name[64];
            unsigned int alg_key_len;    /* in bits */
            unsigned int alg_icv_len;    /* in bits */
            char         alg_key[];
        };"""

        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_icv_len", "I"),
                  ("alg_key", "s"))
        tail = "alg_key"

    class xfrm_encap_tmpl(nla):
        """struct xfrm_encap_tmpl {
            __u16          encap_type;
            __be16         encap_sport;
            __be16         encap_dport;
            xfrm_address_t encap_oa;
        };"""

        fields = (("encap_type", "H"), ("encap_sport", ">H"), ("encap_dport", ">H"),
                  ("__pad", "2x"), *_address("encap_oa"))
        defaults = _defaults(fields)

    class xfrm_user_tmpl(nla):
        """struct xfrm_user_tmpl {
            struct xfrm_id id;
            __u16          family;
            xfrm_address_t saddr;
            __u32          reqid;
            __u8           mode;
            __u8           share;
            __u8           optional;
            __u32          aalgos;
            __u32          ealgos;
            __u32          calgos;
        };

        XFRMA_TMPL holds one or more of these back to back; ikesrv's policies carry
        exactly one (ESP), and a policy with several decodes as its first."""

        fields = (*_id("id"), ("family", "H"), ("__pad1", "2x"), *_address("saddr"),
                  ("reqid", "I"), ("mode", "B"), ("share", "B"), ("optional", "B"),
                  ("__pad2", "x"), ("aalgos", "I"), ("ealgos", "I"), ("calgos", "I"))
        defaults = _defaults(fields)

    class xfrm_mark(nla):
        """struct xfrm_mark {
            __u32 v; /* value */
            __u32 m; /* mask */
        };"""

        fields = (("v", "I"), ("m", "I"))

    class xfrm_lifetime_cur(nla):
        """struct xfrm_lifetime_cur (XFRMA_LTIME_VAL)."""

        fields = _lifetime_cur("curlft")

    class xfrm_replay_state(nla):
        """struct xfrm_replay_state {
            __u32 oseq;
            __u32 seq;
            __u32 bitmap;
        };"""

        fields = (("oseq", "I"), ("seq", "I"), ("bitmap", "I"))

    class xfrm_replay_state_esn(_tail):
        """struct xfrm_replay_state_esn {
            unsigned int bmp_len;    /* in __u32 words */
            __u32        oseq;
            __u32        seq;
            __u32        oseq_hi;
            __u32        seq_hi;
            __u32        replay_window;
            __u32        bmp[];
        };"""

        fields = (("bmp_len", "I"), ("oseq", "I"), ("seq", "I"), ("oseq_hi", "I"),
                  ("seq_hi", "I"), ("replay_window", "I"), ("bmp", "s"))
        tail = "bmp"

    class xfrm_userpolicy_type(nla):
        """struct xfrm_userpolicy_type {
            __u8  type;
            __u16 reserved1;
            __u8  reserved2;
        };"""

        fields = (("type", "B"), ("__pad1", "x"), ("reserved1", "H"), ("reserved2", "B"),
                  ("__pad2", "x"))

    class xfrm_address_filter(nla):
        """struct xfrm_address_filter {
            xfrm_address_t saddr;
            xfrm_address_t daddr;
            __u16          family;
            __u8           splen;
            __u8           dplen;
        };"""

        fields = (*_address("saddr"), *_address("daddr"), ("family", "H"), ("splen", "B"),
                  ("dplen", "B"))
        defaults = _defaults(fields)

    class xfrm_user_offload(nla):
        """struct xfrm_user_offload {
            int   ifindex;
            __u8  flags;
        };"""

        fields = (("ifindex", "i"), ("flags", "B"), ("__pad", "3x"))

    class xfrm_usersa_info_nla(nla):
        """struct xfrm_usersa_info as an attribute (XFRMA_SA, in DELSA notifications)."""

        fields = USERSA_INFO_FIELDS
        defaults = _defaults(fields)

    class xfrm_userpolicy_info_nla(nla):
        """struct xfrm_userpolicy_info as an attribute (XFRMA_POLICY)."""

        fields = USERPOLICY_INFO_FIELDS


# ------------------------------------------------------------------ messages ----------


class xfrm_usersa_info(xfrm_attrs, nlmsg):
    """An SA: XFRM_MSG_NEWSA, XFRM_MSG_UPDSA, and the answers to XFRM_MSG_GETSA.

    struct xfrm_usersa_info {
        struct xfrm_selector     sel;
        struct xfrm_id           id;
        xfrm_address_t           saddr;
        struct xfrm_lifetime_cfg lft;
        struct xfrm_lifetime_cur curlft;
        struct xfrm_stats        stats;
        __u32                    seq;
        __u32                    reqid;
        __u16                    family;
        __u8                     mode;           /* XFRM_MODE_xxx */
        __u8                     replay_window;
        __u8                     flags;
    };
    """

    fields = USERSA_INFO_FIELDS
    defaults = _defaults(fields)


class xfrm_userspi_info(xfrm_attrs, nlmsg):
    """XFRM_MSG_ALLOCSPI: reserve an SPI in [min, max] for a larval SA.

    struct xfrm_userspi_info {
        struct xfrm_usersa_info info;
        __u32                   min;
        __u32                   max;
    };
    """

    fields = (*_nested("info", USERSA_INFO_FIELDS), ("min", "I"), ("max", "I"))
    defaults = _defaults(fields)


class xfrm_usersa_id(xfrm_attrs, nlmsg):
    """XFRM_MSG_DELSA, XFRM_MSG_GETSA (and the DELSA notification, with XFRMA_SA).

    struct xfrm_usersa_id {
        xfrm_address_t daddr;
        __be32         spi;
        __u16          family;
        __u8           proto;
    };
    """

    fields = USERSA_ID_FIELDS
    defaults = _defaults(fields)


class xfrm_usersa_flush(xfrm_attrs, nlmsg):
    """XFRM_MSG_FLUSHSA.

    struct xfrm_usersa_flush {
        __u8 proto;
    };
    """

    fields = (("proto", "B"),)


class xfrm_userpolicy_info(xfrm_attrs, nlmsg):
    """A policy: XFRM_MSG_NEWPOLICY, XFRM_MSG_UPDPOLICY, the answers to GETPOLICY, and
    (as the option value of IP_XFRM_POLICY, without netlink header) a socket policy.

    struct xfrm_userpolicy_info {
        struct xfrm_selector     sel;
        struct xfrm_lifetime_cfg lft;
        struct xfrm_lifetime_cur curlft;
        __u32                    priority;
        __u32                    index;
        __u8                     dir;
        __u8                     action;   /* XFRM_POLICY_ALLOW, XFRM_POLICY_BLOCK */
        __u8                     flags;
        __u8                     share;
    };
    """

    fields = USERPOLICY_INFO_FIELDS
    defaults = _defaults(fields)


class xfrm_userpolicy_id(xfrm_attrs, nlmsg):
    """XFRM_MSG_DELPOLICY, XFRM_MSG_GETPOLICY (by index when index != 0, else by
    selector and direction).

    struct xfrm_userpolicy_id {
        struct xfrm_selector sel;
        __u32                index;
        __u8                 dir;
    };
    """

    fields = (*_selector("sel"), ("index", "I"), ("dir", "B"), ("__pad", "3x"))
    defaults = _defaults(fields)


class xfrm_user_expire(xfrm_attrs, nlmsg):
    """XFRM_MSG_EXPIRE (multicast to XFRMNLGRP_EXPIRE): an SA reached a soft or hard limit.

    struct xfrm_user_expire {
        struct xfrm_usersa_info state;
        __u8                    hard;
    };
    """

    fields = (*_nested("state", USERSA_INFO_FIELDS), ("hard", "B"), ("__pad", "7x"))
    defaults = _defaults(fields)


class xfrm_user_polexpire(xfrm_attrs, nlmsg):
    """XFRM_MSG_POLEXPIRE (multicast to XFRMNLGRP_EXPIRE).

    struct xfrm_user_polexpire {
        struct xfrm_userpolicy_info pol;
        __u8                        hard;
    };
    """

    fields = (*_nested("pol", USERPOLICY_INFO_FIELDS), ("hard", "B"), ("__pad", "7x"))
    defaults = _defaults(fields)


class xfrm_user_acquire(xfrm_attrs, nlmsg):
    """XFRM_MSG_ACQUIRE (multicast to XFRMNLGRP_ACQUIRE): traffic hit a policy whose
    template has no SA; the template(s) follow in XFRMA_TMPL.

    struct xfrm_user_acquire {
        struct xfrm_id              id;
        xfrm_address_t              saddr;
        struct xfrm_selector        sel;
        struct xfrm_userpolicy_info policy;
        __u32                       aalgos;
        __u32                       ealgos;
        __u32                       calgos;
        __u32                       seq;
    };
    """

    fields = (*_id("id"), *_address("saddr"), *_selector("sel"),
              *_nested("policy", USERPOLICY_INFO_FIELDS),
              ("aalgos", "I"), ("ealgos", "I"), ("calgos", "I"), ("seq", "I"))
    defaults = _defaults(fields)


class xfrm_aevent_id(xfrm_attrs, nlmsg):
    """XFRM_MSG_NEWAE / XFRM_MSG_GETAE: an SA's replay state and lifetime counters.

    struct xfrm_aevent_id {
        struct xfrm_usersa_id sa_id;
        xfrm_address_t        saddr;
        __u32                 flags;
        __u32                 reqid;
    };
    """

    fields = (*_nested("sa_id", USERSA_ID_FIELDS), *_address("saddr"), ("flags", "I"),
              ("reqid", "I"))
    defaults = _defaults(fields)


#: the class that decodes each message type's body
MESSAGE_CLASSES = {
    XFRM_MSG_NEWSA: xfrm_usersa_info,
    XFRM_MSG_UPDSA: xfrm_usersa_info,
    XFRM_MSG_DELSA: xfrm_usersa_id,
    XFRM_MSG_GETSA: xfrm_usersa_id,
    XFRM_MSG_NEWPOLICY: xfrm_userpolicy_info,
    XFRM_MSG_UPDPOLICY: xfrm_userpolicy_info,
    XFRM_MSG_DELPOLICY: xfrm_userpolicy_id,
    XFRM_MSG_GETPOLICY: xfrm_userpolicy_id,
    XFRM_MSG_ALLOCSPI: xfrm_userspi_info,
    XFRM_MSG_ACQUIRE: xfrm_user_acquire,
    XFRM_MSG_EXPIRE: xfrm_user_expire,
    XFRM_MSG_POLEXPIRE: xfrm_user_polexpire,
    XFRM_MSG_FLUSHSA: xfrm_usersa_flush,
    XFRM_MSG_NEWAE: xfrm_aevent_id,
    XFRM_MSG_GETAE: xfrm_aevent_id,
}


def fixed_size(fields) -> int:
    """Octets of a run of pyroute2 fields (each packed alone, as pyroute2 does)."""
    return sum(struct.calcsize(fmt if fmt[0] in "<>=!" else "=" + fmt) for _, fmt in fields)
