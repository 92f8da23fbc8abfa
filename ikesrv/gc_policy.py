"""The cyclic garbage collector's settings for a long-running worker or load generator.

Owns: ``tune(...)``, called once a process has loaded its config, credentials and
modules and before it serves: it moves every object alive at that point out of the
collector's sight (``gc.freeze()``: they live as long as the process) and raises the
allocation threshold of the youngest generation.

Why (DESIGN §9, measured with bench/bench_core.py and gc.callbacks on these machines):
an established SA keeps some fifty container objects alive, so with the interpreter's
defaults (700, 10, 10) the collector ran a young collection every few SAs and full
collections over every SA held: 71 µs of collector time per SA set-up (responder and
initiator in one process, 5,000 SAs), the largest single item of the worker's profile
after the Diffie-Hellman itself. With the startup objects frozen and a threshold of
50,000 it is 15 µs; in a worker under bench/bench_e2e.py the collector's share of the
process's CPU (perf, its C functions) fell from 9 % to 3 %. Reference counting still
frees nearly everything at once; the collector only exists for cycles, and ikesrv's
SAs break theirs when they end (a cycle that slips through waits at most one young
collection: a few milliseconds of work, a few megabytes of memory at worst).

Imports only the standard library; never called from the sans-I/O core (a test run in
the same process keeps the interpreter's defaults).
"""

from __future__ import annotations

import gc

#: allocations (net of deallocations) between young collections; (gen1, gen2) as default
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 10)


def tune(young: int = YOUNG_THRESHOLD) -> None:
    """Freeze what exists now and collect young objects less often (see the module doc)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, *OLDER_THRESHOLDS)
