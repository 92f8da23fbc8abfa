"""The typed error tree of ikesrv: each error knows the notify it answers with and its fate.

Owns: every exception raised because of what a peer sent or failed to negotiate, plus
the configuration error. Raise where the problem is found, with a reason that a human
reading the log understands. Only the exchange driver catches ``IkeError``: it logs the
reason once, answers with ``notify`` (IKEv2) or ``notify_v1`` (IKEv1) when ``reply`` is
set, tears the SA down when ``fatal`` is set, and counts the error under
``metric_reason``. Any other exception escaping the core is a bug.

Imports only ikesrv.constants.
"""

from __future__ import annotations

from .constants import NotifyType, V1NotifyType


class IkeError(Exception):
    """A protocol problem caused by peer input or by failed negotiation."""

    #: IKEv2 Notify Message Type to answer with (None: nothing to say).
    notify: NotifyType | None = None
    #: ISAKMP Notify Message Type to answer with in IKEv1.
    notify_v1: V1NotifyType | None = None
    #: True when the IKE SA (or half-open SA) cannot survive this error.
    fatal: bool = True
    #: False when the RFC asks for a silent drop (no answer at all).
    reply: bool = True
    #: Bounded label for ikesrv_invalid_messages_total / ikesrv_ike_sa_failed_total.
    metric_reason: str = "protocol_error"

    def __init__(self, reason: str, *, notify_data: bytes = b"", offset: int | None = None):
        super().__init__(reason)
        self.reason = reason
        #: Notification Data to send with ``notify`` (e.g. the DH group for INVALID_KE_PAYLOAD).
        self.notify_data = notify_data
        #: Byte offset in the message where the problem was found, when known.
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is not None:
            return f"{self.reason} (at offset {self.offset})"
        return self.reason


class MalformedMessage(IkeError):
    """The message does not parse: bad lengths, truncated payloads, bad field values.

    RFC 7296 §2.21.1 (INVALID_SYNTAX), RFC 2408 §5 (PAYLOAD_MALFORMED).
    """

    notify = NotifyType.INVALID_SYNTAX
    notify_v1 = V1NotifyType.PAYLOAD_MALFORMED
    metric_reason = "malformed"

    def __init__(self, reason: str, offset: int | None = None, *, notify_data: bytes = b""):
        super().__init__(reason, notify_data=notify_data, offset=offset)


class UnsupportedCriticalPayload(IkeError):
    """A payload we do not understand has the critical bit set (RFC 7296 §2.5)."""

    notify = NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD
    notify_v1 = V1NotifyType.INVALID_PAYLOAD_TYPE
    metric_reason = "unsupported_critical_payload"

    def __init__(self, payload_type: int, offset: int | None = None):
        super().__init__(
            f"unsupported critical payload type {payload_type}",
            notify_data=bytes([payload_type & 0xFF]),
            offset=offset,
        )
        self.payload_type = payload_type


class InvalidMajorVersion(IkeError):
    """The header's major version is not one we speak (RFC 7296 §2.5)."""

    notify = NotifyType.INVALID_MAJOR_VERSION
    notify_v1 = V1NotifyType.INVALID_MAJOR_VERSION
    metric_reason = "invalid_major_version"


class InvalidIkeSpi(IkeError):
    """A message for an IKE SA we do not have (RFC 7296 §2.21.4)."""

    notify = NotifyType.INVALID_IKE_SPI
    notify_v1 = V1NotifyType.INVALID_COOKIE
    reply = False
    metric_reason = "unknown_spi"


class InvalidMessageId(IkeError):
    """A request outside the window or a response we did not ask for (RFC 7296 §2.3)."""

    notify = NotifyType.INVALID_MESSAGE_ID
    notify_v1 = V1NotifyType.INVALID_MESSAGE_ID
    fatal = False
    reply = False
    metric_reason = "invalid_message_id"


class IntegrityCheckFailed(IkeError):
    """The ICV or AEAD tag of an encrypted payload did not verify (RFC 7296 §2.21.2).

    Dropped without a reply: an attacker must not learn anything from our answer.
    """

    notify = None
    notify_v1 = V1NotifyType.INVALID_HASH_INFORMATION
    fatal = False
    reply = False
    metric_reason = "integrity"


class UnexpectedPayload(MalformedMessage):
    """A payload not allowed in this exchange, or a required one missing."""

    metric_reason = "unexpected_payload"


class NoProposalChosen(IkeError):
    """No proposal of the peer is acceptable (RFC 7296 §3.10.1)."""

    notify = NotifyType.NO_PROPOSAL_CHOSEN
    notify_v1 = V1NotifyType.NO_PROPOSAL_CHOSEN
    metric_reason = "no_proposal_chosen"


class InvalidKePayload(IkeError):
    """The KE payload's group is not the one selected (RFC 7296 §1.2, §3.10.1).

    Carries the group the responder wants, which the initiator uses to retry.
    """

    notify = NotifyType.INVALID_KE_PAYLOAD
    notify_v1 = V1NotifyType.INVALID_KEY_INFORMATION
    metric_reason = "invalid_ke_payload"

    def __init__(self, reason: str, wanted_group: int):
        super().__init__(reason, notify_data=wanted_group.to_bytes(2, "big"))
        self.wanted_group = wanted_group


class InvalidKeyInformation(IkeError):
    """A Diffie-Hellman public value fails validation (RFC 6989 §2, RFC 7748 §6).

    IKEv2 has no dedicated notify: the message is malformed (INVALID_SYNTAX).
    """

    notify = NotifyType.INVALID_SYNTAX
    notify_v1 = V1NotifyType.INVALID_KEY_INFORMATION
    metric_reason = "invalid_ke_value"


class AuthenticationFailed(IkeError):
    """The peer failed to authenticate, or its identity is not accepted (RFC 7296 §2.21.2).

    The reason is logged; the peer learns only AUTHENTICATION_FAILED.
    """

    notify = NotifyType.AUTHENTICATION_FAILED
    notify_v1 = V1NotifyType.AUTHENTICATION_FAILED
    metric_reason = "authentication_failed"


class TsUnacceptable(IkeError):
    """No traffic selector of the peer's is within policy (RFC 7296 §2.9)."""

    notify = NotifyType.TS_UNACCEPTABLE
    notify_v1 = V1NotifyType.INVALID_ID_INFORMATION
    fatal = False
    metric_reason = "ts_unacceptable"


class InternalAddressFailure(IkeError):
    """No virtual address can be assigned (RFC 7296 §3.15.4)."""

    notify = NotifyType.INTERNAL_ADDRESS_FAILURE
    notify_v1 = V1NotifyType.ATTRIBUTES_NOT_SUPPORTED
    fatal = False
    metric_reason = "internal_address_failure"


class FailedCpRequired(IkeError):
    """The connection hands out addresses but the peer sent no CP request (RFC 7296 §3.10.1)."""

    notify = NotifyType.FAILED_CP_REQUIRED
    fatal = False
    metric_reason = "failed_cp_required"


class SinglePairRequired(IkeError):
    """Only one traffic selector pair can be accepted (RFC 7296 §3.10.1)."""

    notify = NotifyType.SINGLE_PAIR_REQUIRED
    fatal = False
    metric_reason = "single_pair_required"


class NoAdditionalSas(IkeError):
    """The responder will not accept more CHILD SAs on this IKE SA (RFC 7296 §3.10.1)."""

    notify = NotifyType.NO_ADDITIONAL_SAS
    fatal = False
    metric_reason = "no_additional_sas"


class TemporaryFailure(IkeError):
    """Try again later: e.g. a rekey collision in progress (RFC 7296 §2.25)."""

    notify = NotifyType.TEMPORARY_FAILURE
    fatal = False
    metric_reason = "temporary_failure"


class ChildSaNotFound(IkeError):
    """A rekey or delete names a CHILD SA we do not have (RFC 7296 §2.25)."""

    notify = NotifyType.CHILD_SA_NOT_FOUND
    notify_v1 = V1NotifyType.INVALID_SPI
    fatal = False
    metric_reason = "child_sa_not_found"


class InvalidSpi(IkeError):
    """An SPI of the wrong size or value (RFC 7296 §3.10.1)."""

    notify = NotifyType.INVALID_SPI
    notify_v1 = V1NotifyType.INVALID_SPI
    fatal = False
    metric_reason = "invalid_spi"


class AuthorizationFailed(IkeError):
    """Authenticated, but not allowed to use this connection (notify 46)."""

    notify = NotifyType.AUTHORIZATION_FAILED
    notify_v1 = V1NotifyType.AUTHENTICATION_FAILED
    metric_reason = "authorization_failed"


class ResourceLimit(IkeError):
    """A configured limit (half-open SAs, fragments, ...) is reached: dropped, counted."""

    notify = None
    notify_v1 = None
    fatal = False
    reply = False
    metric_reason = "rate_limited"


class ConfigError(Exception):
    """One or more configuration errors, each naming its key path.

    ``errors`` is a list of ``(key_path, message)``; ``str()`` gives one line each.
    """

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("\n".join(f"{path}: {msg}" for path, msg in self.errors))
