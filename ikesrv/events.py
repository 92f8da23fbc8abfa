"""Events the core emits about what happened: the only feed of metrics and status.

Owns: the event types placed in the core's action list beside sends and kernel requests.
The metrics module (an edge) turns them into Prometheus series; the core never imports
prometheus code. Every label-like field holds a value from a bounded set (versions,
states, auth methods, reasons, exchange names): never a peer address or identity, which
belong to logs and ``ikesrv status``.

Must not import asyncio, socket, pyroute2, ldap3 or prometheus_client.
"""

from __future__ import annotations

from dataclasses import dataclass

# IKE SA states as metric labels (``ikesrv_ike_sas{state}``); None = not counted.
HALF_OPEN = "half_open"
ESTABLISHED = "established"


@dataclass(frozen=True, slots=True)
class IkeSaStateChanged:
    """An IKE SA moved between metric states (None: appeared from / vanished to nothing)."""

    version: int
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class IkeSaEstablished:
    """An IKE SA completed authentication. ``duration`` = first request to established."""

    version: int
    auth: str  # psk | pubkey | eap-mschapv2 | eap-gtc | eap-md5 | xauth
    suite: str  # bounded: the configured proposal name that matched, or "other"
    duration: float


@dataclass(frozen=True, slots=True)
class IkeSaFailed:
    """An IKE SA setup failed (``reason`` from errors.IkeError.metric_reason or a timeout)."""

    version: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChildSaChanged:
    """A CHILD SA appeared (+1) or went away (-1): ``ikesrv_child_sas`` gauge."""

    version: int
    delta: int


@dataclass(frozen=True, slots=True)
class Rekeyed:
    """An IKE or CHILD SA rekey finished: kind "ike" | "child", result "ok" | "failed"
    | "collision_lost" (§2.8.1: the other side's rekey won)."""

    kind: str
    result: str


@dataclass(frozen=True, slots=True)
class DpdResult:
    """A liveness check ended: result "alive" | "dead"."""

    result: str


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    """A peer authentication was decided: method as in IkeSaEstablished, result
    "success" | "failure"."""

    method: str
    result: str


@dataclass(frozen=True, slots=True)
class MessageCounted:
    """A message was received ("in") or sent ("out")."""

    direction: str
    version: int
    exchange: str


_COUNTED: dict[tuple, MessageCounted] = {}


def counted(direction: str, version: int, exchange: str) -> MessageCounted:
    """The MessageCounted event with these labels: one shared instance per label set
    (events are immutable, and one is emitted for every datagram in and out; the labels
    are bounded, so is this table)."""
    key = (direction, version, exchange)
    e = _COUNTED.get(key)
    if e is None:
        e = _COUNTED[key] = MessageCounted(direction, version, exchange)
    return e


@dataclass(frozen=True, slots=True)
class InvalidMessage:
    """A message was rejected or dropped; ``reason`` is bounded (errors.*.metric_reason)."""

    reason: str


@dataclass(frozen=True, slots=True)
class CookieSent:
    """A COOKIE notify was sent instead of creating state (RFC 7296 §2.6)."""


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """A pool's usage changed."""

    pool: str
    used: int
    free: int


Event = (
    IkeSaStateChanged
    | IkeSaEstablished
    | IkeSaFailed
    | ChildSaChanged
    | Rekeyed
    | DpdResult
    | AuthAttempt
    | MessageCounted
    | InvalidMessage
    | CookieSent
    | PoolUsage
)
