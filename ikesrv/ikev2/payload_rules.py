"""Which payloads each IKEv2 message may carry, checked before any handler runs.

Owns: one table row per (exchange, request/response): whether the message must be
encrypted (everything after IKE_SA_INIT, RFC 7296 §3.14) and, per payload type, the
minimum and maximum count. Handlers rely on the table and do not re-check counts.
Payload types missing from a row are not allowed in that message; unknown non-critical
payloads (RFC 7296 §2.5) are always tolerated and ignored.

Rows follow RFC 7296 §1.2-§1.5 and the extensions we implement (RFC 7383 fragments are
reassembled before this check; RFC 4555 MOBIKE notifies are just notifies).
"""

from __future__ import annotations

from ..constants import ExchangeType as X
from ..constants import PayloadType as P
from ..errors import UnexpectedPayload

ANY = 1 << 16

# (exchange, is_response) -> (encrypted, {payload type: (min, max)})
RULES: dict[tuple[int, bool], tuple[bool, dict[int, tuple[int, int]]]] = {
    # HDR, SAi1, KEi, Ni [, N(COOKIE)] [, N(...)] [, V]   (§1.2, §2.6)
    (X.IKE_SA_INIT, False): (
        False,
        {P.SA: (1, 1), P.KE: (1, 1), P.NONCE: (1, 1), P.NOTIFY: (0, ANY),
         P.VENDOR_ID: (0, ANY), P.CERTREQ: (0, ANY)},
    ),
    # SK {IDi, [CERT,] [CERTREQ,] [IDr,] [AUTH,] [CP,] [SAi2, TSi, TSr]} or an EAP round
    # (§1.2, §2.16; childless IKE_AUTH per RFC 6023 omits SA/TS)
    (X.IKE_AUTH, False): (
        True,
        {P.IDi: (0, 1), P.CERT: (0, 16), P.CERTREQ: (0, ANY), P.IDr: (0, 1), P.AUTH: (0, 1),
         P.EAP: (0, 1), P.CP: (0, 1), P.SA: (0, 1), P.TSi: (0, 1), P.TSr: (0, 1),
         P.NOTIFY: (0, ANY), P.VENDOR_ID: (0, ANY)},
    ),
    # SK {[N(REKEY_SA)], SA, Ni, [KEi], [TSi, TSr]}   (§1.3)
    (X.CREATE_CHILD_SA, False): (
        True,
        {P.SA: (1, 1), P.NONCE: (1, 1), P.KE: (0, 1), P.TSi: (0, 1), P.TSr: (0, 1),
         P.NOTIFY: (0, ANY), P.VENDOR_ID: (0, ANY)},
    ),
    # SK {[N(...)], [D(...)], [CP]}   (§1.4)
    (X.INFORMATIONAL, False): (
        True,
        {P.NOTIFY: (0, ANY), P.DELETE: (0, ANY), P.CP: (0, 1), P.VENDOR_ID: (0, ANY)},
    ),
    # answers to the requests we send ourselves (rekeys, DPD, deletes)
    (X.CREATE_CHILD_SA, True): (
        True,
        {P.SA: (0, 1), P.NONCE: (0, 1), P.KE: (0, 1), P.TSi: (0, 1), P.TSr: (0, 1),
         P.NOTIFY: (0, ANY), P.VENDOR_ID: (0, ANY)},
    ),
    (X.INFORMATIONAL, True): (
        True,
        {P.NOTIFY: (0, ANY), P.DELETE: (0, ANY), P.CP: (0, 1), P.VENDOR_ID: (0, ANY)},
    ),
}


# Each row as check() reads it: the payload types allowed, and the (type, min, max) of
# those whose count is bounded (most rows bound few of the types they allow).
_CHECKED = {key: (frozenset(allowed), tuple((t, lo, hi) for t, (lo, hi) in allowed.items()
                                            if lo > 0 or hi < ANY))
            for key, (_, allowed) in RULES.items()}


#: Payload type sequences already found to fit a row: clients of one kind send the same
#: few shapes in every message, and a tuple lookup is a fraction of the counting below.
#: Shapes come from peers: the set stops growing at this size (the rest are counted).
_FITTING: set[tuple] = set()
FITTING_MAX = 1024


def check(exchange: int, is_response: bool, payloads: list) -> None:
    """Raise UnexpectedPayload unless ``payloads`` fit the row for this message."""
    # the codec decodes a type number always to the same class (known or UnknownPayload),
    # so the numbers alone decide the outcome
    shape = (exchange, is_response, *[p.payload_type for p in payloads])
    if shape in _FITTING:
        return
    _check(exchange, is_response, payloads)
    if len(_FITTING) < FITTING_MAX:
        _FITTING.add(shape)


def _check(exchange: int, is_response: bool, payloads: list) -> None:
    row = _CHECKED.get((exchange, is_response))
    if row is None:
        raise UnexpectedPayload(f"no {'response' if is_response else 'request'} "
                                f"of exchange {exchange} is expected here")
    allowed, bounded = row
    counts: dict[int, int] = {}
    for p in payloads:
        t = p.payload_type
        if t in allowed:
            counts[t] = counts.get(t, 0) + 1
        elif not _is_unknown(p):
            raise UnexpectedPayload(f"payload type {_name(t)} is not allowed in "
                                    f"{_name_x(exchange)} {'response' if is_response else 'request'}")
    for t, lo, hi in bounded:
        n = counts.get(t, 0)
        if n < lo:
            raise UnexpectedPayload(f"{_name_x(exchange)} lacks a {_name(t)} payload")
        if n > hi:
            raise UnexpectedPayload(f"{_name_x(exchange)} has {n} {_name(t)} payloads, at most {hi} allowed")


def must_be_encrypted(exchange: int, is_response: bool) -> bool:
    row = RULES.get((exchange, is_response))
    return True if row is None else row[0]


def _is_unknown(p) -> bool:
    return type(p).__name__ == "UnknownPayload"


def _name(t: int) -> str:
    try:
        return P(t).name
    except ValueError:
        return str(t)


def _name_x(x: int) -> str:
    try:
        return X(x).name
    except ValueError:
        return f"exchange {x}"
