"""What ``ikesrv status`` shows of an IKE SA and its CHILD SAs, IKEv1 and IKEv2 alike.

Owns: the JSON shape of one SA in the status output (DESIGN §6): the same keys for both
versions, no secrets. Plain data in, a dict out.
"""

from __future__ import annotations


def describe_sa(sa, *, version: int, state: str, second_identity: str | None, auth: str,
                now: float) -> dict:
    """``second_identity``: the EAP (IKEv2) or XAuth (IKEv1) user name, if any."""
    return {
        "version": version,
        "spi_i": sa.spi_i.hex(),
        "spi_r": sa.spi_r.hex(),
        "state": state,
        "remote": f"{sa.remote[0]}:{sa.remote[1]}",
        "local": f"{sa.local[0]}:{sa.local[1]}",
        "nat": sa.remote_behind_nat or sa.local_behind_nat,
        "connection": getattr(sa.connection, "name", None),
        "identity": str(sa.peer_id) if sa.peer_id is not None else None,
        "eap_identity": second_identity,
        "auth": auth or None,
        "virtual_ip": str(sa.vip) if sa.vip is not None else None,
        "algorithms": sa.suite,
        "age": round(now - sa.created_at, 3),
        "child_sas": [describe_child(c, now) for c in sa.children.values()],
    }


def describe_child(child, now: float) -> dict:
    return {
        "spi_in": f"{child.spi_in:08x}",
        "spi_out": f"{child.spi_out:08x}",
        "state": child.state.value,
        "algorithms": child.suite,
        "local_ts": [str(t) for t in child.spec.ts_local],
        "remote_ts": [str(t) for t in child.spec.ts_remote],
        "mode": child.spec.mode,
        "age": round(now - child.created_at, 3),
    }
