"""ikesrv.gc_policy: what a worker and the load generator set before they serve."""

from __future__ import annotations

import gc

from ikesrv import gc_policy


def test_tune_freezes_what_exists_and_raises_the_young_threshold():
    before = gc.get_threshold()
    survivor = [object() for _ in range(10)]  # alive now: frozen by tune()
    try:
        gc_policy.tune()
        assert gc.get_threshold() == (gc_policy.YOUNG_THRESHOLD, *gc_policy.OLDER_THRESHOLDS)
        assert gc.get_freeze_count() >= len(survivor)
        # cycles made afterwards are still collected
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
