"""One deadline per owner: the core's timer wheel, driven by ``now`` passed in.

Owns: a heap of (deadline, sequence, owner). Each owner (an IKE SA, the cookie secret,
...) has at most one pending deadline; setting a new one replaces the old, which stays in
the heap until popped and is then recognised as stale (lazy deletion keeps ``set`` at
O(log n) with no search). ``due(now)`` yields the owners whose current deadline passed.

No clock inside: time is whatever the caller says it is.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator


class Timers:
    """A deadline per owner (any hashable object)."""

    __slots__ = ("_heap", "_current", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, object]] = []
        self._current: dict[object, tuple[float, int]] = {}
        self._seq = itertools.count()

    def set(self, owner: object, deadline: float | None) -> None:
        """Give ``owner`` this deadline, replacing any earlier one (None: no deadline)."""
        if deadline is None:
            self._current.pop(owner, None)
            return
        current = self._current.get(owner)
        if current is not None and current[0] == deadline:
            return  # the SAs reschedule after every message: mostly to the same time
        seq = next(self._seq)
        self._current[owner] = (deadline, seq)
        heapq.heappush(self._heap, (deadline, seq, owner))
        # stale entries would otherwise pile up when deadlines move often (DPD resets)
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._current):
            self._compact()

    def cancel(self, owner: object) -> None:
        self._current.pop(owner, None)

    def deadline(self, owner: object) -> float | None:
        entry = self._current.get(owner)
        return entry[0] if entry else None

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, seq, owner = heap[0]
            if self._current.get(owner) == (deadline, seq):
                return deadline
            heapq.heappop(heap)
        return None

    def due(self, now: float) -> Iterator[object]:
        """Pop and yield every owner whose deadline is <= now (each at most once)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, seq, owner = heapq.heappop(heap)
            if self._current.get(owner) == (deadline, seq):
                del self._current[owner]
                yield owner

    def __len__(self) -> int:
        return len(self._current)

    def _compact(self) -> None:
        self._heap = [(d, s, o) for o, (d, s) in self._current.items()]
        heapq.heapify(self._heap)
