"""Helpers for the in-memory robustness tests: a Core and scripted initiators
(tests/unit/ikev2_pair.py, ikev1_pair.py) plus ways to build hostile datagrams from the
initiators' own keys, and to see what the core did with them."""

from __future__ import annotations

import logging
import random

from ikesrv import events as ev
from ikesrv.actions import SendDatagram
from ikesrv.constants import ExchangeType, HeaderFlag, PayloadType
from ikesrv.wire import ikev2 as w
from tests.unit.ikev2_pair import BASE_CONFIG, SERVER, Pair, make_config

__all__ = ["BASE_CONFIG", "SERVER", "Pair", "config_with", "fragment", "half_open_client",
           "make_config", "no_traceback", "reasons", "sends", "with_ke"]


def config_with(tmp_path, **server):
    """The unit tests' IKEv2 config with [server] settings replaced or added."""
    lines = [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}"
             for k, v in server.items()]
    text = BASE_CONFIG
    for key in server:
        text = "\n".join(line for line in text.split("\n") if not line.startswith(f"{key} ="))
    text = text.replace("[server]\n", "[server]\n" + "\n".join(lines) + "\n", 1)
    return make_config(tmp_path, text)


def sends(pair) -> list[SendDatagram]:
    """The datagrams the core sent since the last call; other actions go to pair.events."""
    out = []
    for a in pair.core.actions():
        if isinstance(a, SendDatagram):
            out.append(a)
        else:
            pair.events.append(a)
    return out


def reasons(pair) -> list[str]:
    """ikesrv_invalid_messages_total reasons emitted so far (after sends())."""
    return [e.reason for e in pair.events if isinstance(e, ev.InvalidMessage)]


def half_open_client(pair, address, **kw):
    """A client whose IKE_SA_INIT the core answered; returns (client, its IKE_AUTH
    datagrams, not delivered)."""
    c = pair.client(address=address, **kw)
    pair.core.datagram_received(c.start(pair.now)[0], SERVER, c.local, pair.now)
    (answer,) = sends(pair)
    auth = c.receive(answer.data, pair.now)
    assert c.sa is not None, c.failure
    return c, auth


_RNG = random.Random(5)


def fragment(c, number: int, total: int, chunk: bytes, *, mid: int = 1, rng=_RNG.randbytes) \
        -> bytes:
    """An SKF message (RFC 7383 §2.5) of client ``c``'s SA, protected with its keys."""
    sa = c.sa
    header = w.encode_header(sa.spi_i, sa.spi_r, PayloadType.SKF, ExchangeType.IKE_AUTH,
                             HeaderFlag.INITIATOR, mid, 0)
    first = PayloadType.IDi if number == 1 else 0
    return sa.cipher_out.seal(header, b"", first, chunk, rng, skf=(number, total))


def with_ke(request: bytes, data: bytes) -> bytes:
    """``request`` (an IKE_SA_INIT) with its KE payload's public value replaced."""
    msg = w.decode_message(request)
    payloads = [w.KePayload(p.group, data) if p.payload_type == PayloadType.KE else p
                for p in msg.payloads]
    return w.encode_message(w.Message(msg.spi_i, msg.spi_r, msg.exchange, msg.flags,
                                      msg.message_id, payloads))


def no_traceback(caplog) -> None:
    """Nothing logged a traceback or an unexpected exception."""
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert "Traceback" not in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
