"""The supervisor's bookkeeping without forking (ikesrv.server.supervisor): relaying claims
between workers, the "keep" answer, pool slice warnings, status gathered from every
worker with a bounded wait, and what a worker's death leads to. Workers are played by
fake channels; the fork, the sockets and the signals are exercised in tests/system."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from ikesrv.server import supervisor as sup
from tests.unit.ikev2_pair import make_config


class FakeChannel:
    def __init__(self, answer=None):
        self.sent: list[dict] = []
        self.answer = answer  # called with each message; may answer through the supervisor
        self.closed = False

    def send(self, message: dict) -> bool:
        self.sent.append(message)
        if self.answer is not None:
            self.answer(message)
        return True

    def close(self) -> None:
        self.closed = True


def supervisor(tmp_path, workers=3) -> sup.Supervisor:
    s = sup.Supervisor(make_config(tmp_path), workers)
    for slot in s.slots:
        slot.pid = 1000 + slot.index
        slot.channel = FakeChannel()
        slot.ready = slot.ever_ready = True
    return s


def test_worker_count(monkeypatch):
    assert sup.worker_count(3) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 5})
    assert sup.worker_count(0) == 3 and sup.worker_count(None) == 3
    with pytest.raises(SystemExit, match="between 1 and 256"):
        sup.worker_count(257)


def test_claims_go_to_every_other_ready_worker(tmp_path):
    s = supervisor(tmp_path)
    s.slots[2].ready = False  # still starting: it holds no SA anyway
    claim = {"op": "claims", "claims": [{"connection": "rw", "identity": "rfc822:a@b",
                                         "mode": "replace", "at": 1.0, "spi": "01" * 8}]}
    s._from_worker(s.slots[1], 1001, dict(claim))
    assert s.slots[0].channel.sent == [{**claim, "from": 1}]
    assert s.slots[1].channel.sent == [] and s.slots[2].channel.sent == []


def test_keep_answer_reaches_the_claimant(tmp_path):
    s = supervisor(tmp_path)
    s._from_worker(s.slots[0], 1000, {"op": "held", "to": 2, "spi": "02" * 8})
    assert s.slots[2].channel.sent == [{"op": "refused", "spi": "02" * 8}]
    s._from_worker(s.slots[0], 1000, {"op": "held", "to": 7, "spi": "02" * 8})  # no such
    s._from_worker(s.slots[0], 1000, {"op": "held", "to": "x", "spi": "02" * 8})
    assert len(s.slots[2].channel.sent) == 1


def test_messages_of_a_dead_process_are_ignored(tmp_path):
    s = supervisor(tmp_path)
    s._from_worker(s.slots[1], 999, {"op": "claims", "claims": [{"x": 1}]})
    assert s.slots[0].channel.sent == []


def test_a_full_slice_is_reported_when_others_have_room(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(sup, "POOL_CONFIRM_DELAY", 0.05)
    s = supervisor(tmp_path, workers=2)
    caplog.set_level(logging.WARNING, "ikesrv.supervisor")

    async def main():
        s.loop = asyncio.get_running_loop()
        s._from_worker(s.slots[0], 1000, {"op": "pools", "pools": {"rw": [60, 127]}})
        s._from_worker(s.slots[1], 1001, {"op": "pools", "pools": {"rw": [127, 127]}})
        assert caplog.records == []  # judged once the others have reported again
        s._from_worker(s.slots[0], 1000, {"op": "pools", "pools": {"rw": [61, 127]}})
        await asyncio.sleep(0.1)
        (record,) = caplog.records
        assert "pool rw: worker 1's slice is full (127 addresses) while the other slices " \
               "have 66 free" in record.getMessage()
        # said once a minute, not at every report
        s._from_worker(s.slots[1], 1001, {"op": "pools", "pools": {"rw": [127, 127]}})
        await asyncio.sleep(0.1)
        assert len(caplog.records) == 1
    asyncio.run(main())


def test_a_slice_that_was_full_for_a_moment_or_a_full_pool_is_no_slice_problem(tmp_path):
    s = supervisor(tmp_path, workers=2)
    s.slots[0].pools = {"rw": [60, 127]}
    s.slots[1].pools = {"rw": [126, 127]}
    assert s.slice_full_warning(1, "rw") is None  # an address came back meanwhile
    s.slots[0].pools = {"rw": [127, 127]}
    s.slots[1].pools = {"rw": [127, 127]}
    assert s.slice_full_warning(1, "rw") is None  # the pool's own alert covers that


def test_status_gathers_every_worker_and_bounds_the_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(sup, "STATUS_TIMEOUT", 0.2)
    s = supervisor(tmp_path)

    def answer(slot):
        def reply(m):
            if m["op"] == "status":
                sa = {"spi_r": f"{slot.index:02x}" + "00" * 7}
                asyncio.get_running_loop().call_soon(
                    s._from_worker, slot, slot.pid,
                    {"op": "status", "id": m["id"], "ike_sas": [sa]})
        return reply
    s.slots[0].channel.answer = answer(s.slots[0])
    s.slots[1].channel.answer = None  # hung: no answer
    s.slots[2].pid, s.slots[2].channel, s.slots[2].ready = None, None, False  # restarting

    async def main():
        s.loop = asyncio.get_running_loop()
        return await s.status()
    status = asyncio.run(main())
    w = status["workers"]
    assert [x["index"] for x in w] == [0, 1, 2]
    assert w[0]["ike_sas"] == [{"spi_r": "00" * 8}] and "error" not in w[0]
    assert w[1]["ike_sas"] == [] and w[1]["error"] == "no answer"
    assert w[2]["error"] == "not running (restarting)" and w[2]["pid"] is None
    assert all(not slot.pending for slot in s.slots)


def test_a_dead_worker_is_restarted_with_back_off(tmp_path, monkeypatch):
    s = supervisor(tmp_path, workers=2)
    spawned = []
    monkeypatch.setattr(s, "_spawn", lambda slot: spawned.append(slot.index))

    async def main():
        s.loop = asyncio.get_running_loop()
        s._done, s._all_exited = asyncio.Event(), asyncio.Event()
        slot = s.slots[1]
        s._by_pid = {1001: slot}
        slot.started = sup.time.monotonic()
        s._exited(slot, 1001, 9)  # killed by SIGKILL (wait status 9)
        assert slot.pid is None and slot.channel is None and slot.quick_deaths == 1
        await asyncio.sleep(sup.RESTART_DELAY_MIN + 0.05)
        assert spawned == [1] and slot.restarts == 1
        # dying again soon after: the back-off doubles
        slot.pid = 1002
        s._exited(slot, 1002, 9)
        assert slot.quick_deaths == 2
        await asyncio.sleep(sup.RESTART_DELAY_MIN + 0.05)
        assert spawned == [1]
        await asyncio.sleep(sup.RESTART_DELAY_MIN)
        assert spawned == [1, 1] and s.exit_code == 0 and not s.stopping
    asyncio.run(main())


def test_a_worker_that_never_served_stops_the_daemon(tmp_path, monkeypatch):
    s = supervisor(tmp_path, workers=2)
    s.slots[0].ever_ready = False
    signals = []
    monkeypatch.setattr(s, "_signal", lambda slot, sig: signals.append((slot.index, sig)))

    async def main():
        s.loop = asyncio.get_running_loop()
        s._done, s._all_exited = asyncio.Event(), asyncio.Event()
        s._exited(s.slots[0], 1000, 1 << 8)  # exit status 1
        assert s.stopping and s.exit_code == 1
        s._exited(s.slots[1], 1001, 0)  # the other one obeys the SIGTERM
        await asyncio.wait_for(s._done.wait(), 2)
    asyncio.run(main())
    assert (1, sup.signal.SIGTERM) in signals
