"""The core's timer wheel (ikesrv.timers): one deadline per owner, time passed in."""

from __future__ import annotations

import random

from ikesrv.timers import Timers


def test_a_new_deadline_replaces_the_old_one():
    t = Timers()
    t.set("sa", 10.0)
    t.set("sa", 5.0)
    t.set("other", 7.0)
    assert t.deadline("sa") == 5.0 and t.next_deadline() == 5.0
    assert list(t.due(6.0)) == ["sa"]
    assert list(t.due(20.0)) == ["other"]  # "sa"'s stale 10.0 entry is not reported
    assert t.next_deadline() is None


def test_none_cancels_as_cancel_does():
    t = Timers()
    t.set("a", 1.0)
    t.set("b", 2.0)
    t.set("a", None)  # what a responder's reschedule does when an SA has nothing due
    t.cancel("b")
    t.set("c", None)  # no deadline for an owner that never had one: nothing happens
    assert t.deadline("a") is None and t.deadline("c") is None
    assert t.next_deadline() is None and list(t.due(100.0)) == []


def test_many_moving_deadlines_fire_once_each_in_order():
    rnd = random.Random(2)
    t = Timers()
    final: dict[int, float | None] = {}
    for _ in range(5000):  # deadlines move often (DPD resets): stale entries get compacted
        owner = rnd.randrange(50)
        deadline = None if rnd.random() < 0.1 else rnd.uniform(0, 1000)
        t.set(owner, deadline)
        final[owner] = deadline
    fired = []
    for now in range(0, 1001, 10):
        fired += list(t.due(float(now)))
    expected = sorted((d, o) for o, d in final.items() if d is not None)
    assert fired == [o for _, o in expected] and len(t) == 0
