"""IKEv2 SAs of one identity spread over several workers: the receiving side of a claim.

Owns: what a worker does when another worker announces a new IKE SA of an identity
(actions.IdentityClaimed, relayed by the supervisor, DESIGN §4), and what the claiming
worker does when its claim is refused. Local uniqueness (the same worker) stays in
ike_auth._apply_uniqueness; this module applies the same policy across processes:

- "initial_contact" (RFC 7296 §2.4: the peer has no other SA with us): forget our SAs of
  that identity, no Delete (the peer no longer knows them).
- "replace": Delete our SAs of that identity, as ike_auth does locally.
- "keep": our older SA stays and the claim is refused; the claiming worker then deletes
  its new SA (``refused``).

Only SAs established no later than the claim act on it: of two SAs of one identity
set up at once on two workers, each claim is older than the other SA, so one of them
survives, never neither. Claims are fire-and-forget messages; nothing here waits.

Must not import asyncio, socket, pyroute2, ldap3, prometheus_client or the clock.
"""

from __future__ import annotations

import logging

from .ike_sa import IkeSaState
from .informational import send_delete_ike

log = logging.getLogger("ikesrv.ikev2")


def identity_claimed(resp, connection: str, identity: str, mode: str, claimed_at: float,
                     now: float) -> bool:
    """Act on another worker's claim; True when ``mode`` is "keep" and we hold an older SA."""
    older = [sa for sa in resp.by_identity.get((connection, identity), ())
             if sa.state is IkeSaState.ESTABLISHED and sa.replaced_by is None
             and sa.established_at is not None and sa.established_at <= claimed_at]
    if not older:
        return False
    if mode == "keep":
        return True
    for sa in older:
        if mode == "replace":
            send_delete_ike(resp, sa, now, wait=False)
            resp.destroy(sa, now, reason=f"replaced by a new IKE SA of '{sa.peer_id}' "
                                         "on another worker")
        else:
            resp.destroy(sa, now, reason=f"INITIAL_CONTACT from '{sa.peer_id}' "
                                         "on another worker")
    return True


def refused(resp, spi: bytes, now: float) -> None:
    """Another worker keeps an older SA of this SA's identity (unique = keep)."""
    sa = resp.sas.get(spi)
    if sa is None or sa.state is IkeSaState.DEAD:
        return
    reason = "unique = keep: an older IKE SA of this identity lives on another worker"
    if sa.state is IkeSaState.ESTABLISHED:
        send_delete_ike(resp, sa, now, wait=True)
        log.info("IKE SA %s of '%s': %s", sa.spi_i.hex(), sa.peer_id, reason)
    else:
        # still answering IKE_AUTH: the answer goes out, then the SA is forgotten
        resp.close_after_response(sa, reason)
