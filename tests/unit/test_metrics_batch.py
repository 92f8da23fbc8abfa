"""Events counted in a worker's MetricsBatch and flushed reach the same series values as
the same events handed to Metrics one by one (ikesrv.metrics_batch)."""

from __future__ import annotations

import random

from prometheus_client import generate_latest

from ikesrv import events as ev
from ikesrv.metrics import Metrics
from ikesrv.metrics_batch import MetricsBatch


def _events(rng: random.Random, n: int) -> list:
    kinds = [
        lambda: ev.MessageCounted(rng.choice(("in", "out")), rng.choice((1, 2)),
                                  rng.choice(("IKE_SA_INIT", "IKE_AUTH", "INFORMATIONAL"))),
        lambda: ev.IkeSaStateChanged(2, rng.choice((None, ev.HALF_OPEN)),
                                     rng.choice((ev.ESTABLISHED, None))),
        lambda: ev.IkeSaEstablished(rng.choice((1, 2)), rng.choice(("psk", "eap-mschapv2")),
                                    "aes128-sha256-x25519", rng.random() * 0.3),
        lambda: ev.IkeSaFailed(2, "timeout"),
        lambda: ev.ChildSaChanged(rng.choice((1, 2)), rng.choice((1, -1))),
        lambda: ev.Rekeyed("child", "ok"),
        lambda: ev.DpdResult("alive"),
        lambda: ev.AuthAttempt("psk", rng.choice(("success", "failure"))),
        lambda: ev.InvalidMessage("malformed"),
        lambda: ev.CookieSent(),
        lambda: ev.PoolUsage("rw", rng.randrange(100), rng.randrange(100)),
    ]
    return [rng.choice(kinds)() for _ in range(n)]


def test_a_flushed_batch_equals_the_events_observed_one_by_one():
    events = _events(random.Random(7), 3000)
    one_by_one, batched = Metrics(pools=("rw",)), Metrics(pools=("rw",))
    for e in events:
        one_by_one.observe(e)
    batch = MetricsBatch()
    for i, e in enumerate(events):
        batch.add(e)
        if i % 700 == 699:  # several flushes, as the worker's timer does
            batch.flush(batched)
    batch.flush(batched)
    assert len(batch) == 0
    expected = generate_latest(one_by_one.registry).decode().splitlines()
    got = generate_latest(batched.registry).decode().splitlines()
    # created timestamps differ; every value line must be equal
    assert [line for line in got if "_created" not in line] == \
        [line for line in expected if "_created" not in line]


def test_pool_usage_keeps_the_latest_value_only():
    m = Metrics(pools=("rw",))
    batch = MetricsBatch()
    for used in (1, 5, 3):
        batch.add(ev.PoolUsage("rw", used, 100 - used))
    assert len(batch) == 1
    batch.flush(m)
    assert m.registry.get_sample_value("ikesrv_pool_addresses",
                                       {"pool": "rw", "state": "used"}) == 3
