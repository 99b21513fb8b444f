"""Tests for dlp_proxy/gateway/workers.py: inspection in worker processes, failing closed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlp_proxy.core.inspect import Decision, Message
from dlp_proxy.crypto.keys import Keyring, create_keyring
from dlp_proxy.gateway.workers import (
    BULK_NICENESS,
    InspectorPool,
    WorkerFailed,
    WorkerSettings,
    default_worker_count,
)
from dlp_proxy.policy.loader import load_policy
from dlp_proxy.policy.model import Action, Direction, Policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy("policies/default.yaml")


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return create_keyring(tmp_path_factory.mktemp("keys") / "keyring.json")


@pytest.fixture(scope="module")
def pool() -> Iterator[InspectorPool]:
    pool = InspectorPool(WorkerSettings(workers=1, timeout=60))
    yield pool
    pool.close()


def _ticket(body: dict[str, object]) -> Message:
    return Message(
        Direction.REQUEST,
        "POST",
        "api.vendor.example",
        "/tickets",
        (),
        "application/json",
        json.dumps(body).encode(),
    )


def test_default_worker_count_is_the_cores_available() -> None:
    """Without a setting, the pool has one worker per usable core."""
    assert default_worker_count() >= 1
    assert InspectorPool(WorkerSettings()).size == default_worker_count()


def test_inspection_runs_in_a_worker(pool: InspectorPool, policy: Policy, keyring: Keyring) -> None:
    """A worker process loads Presidio and returns the decision: the email is masked."""

    async def run() -> None:
        await pool.warm_up()
        decision = await pool.inspect(_ticket({"email": "maria@example.com"}), policy, keyring)
        assert decision.action is Action.REDACT
        assert decision.body is not None
        assert b"maria@example.com" not in decision.body

    asyncio.run(run())


def test_timeout_fails_closed(policy: Policy, keyring: Keyring) -> None:
    """An inspection that runs out of time becomes a block under on_error: block."""
    pool = InspectorPool(WorkerSettings(workers=1, timeout=0.001))
    try:
        decision = asyncio.run(pool.inspect(_ticket({"email": "a@example.com"}), policy, keyring))
    finally:
        pool.close()
    assert decision.action is Action.BLOCK
    assert decision.error is not None
    assert decision.error.startswith("analyzer_failure")
    assert "0.001s" in decision.error


def test_a_task_that_cannot_reach_the_worker_fails_closed(
    pool: InspectorPool, policy: Policy, tmp_path: Path
) -> None:
    """If the task cannot be pickled to a worker, the message is blocked, not forwarded."""

    class Unpicklable(Keyring):  # a class local to a function cannot be pickled
        pass

    keyring = Unpicklable(keys=create_keyring(tmp_path / "k.json").keys)
    decision = asyncio.run(pool.inspect(_ticket({"note": "x"}), policy, keyring))
    assert decision.action is Action.BLOCK
    assert decision.error == "analyzer_failure: AttributeError"  # "Can't pickle local object"


def test_close_stops_a_busy_worker(policy: Policy, keyring: Keyring) -> None:
    """close() terminates workers even in the middle of an inspection, so SIGTERM is prompt."""

    async def run() -> list[object]:
        pool = InspectorPool(WorkerSettings(workers=1, timeout=120))
        await pool.warm_up()
        processes = [w.process for w in pool._interactive._workers]
        busy = asyncio.ensure_future(
            pool.inspect(_ticket({"note": "customer Maria Gonzalez " * 40_000}), policy, keyring)
        )
        await asyncio.sleep(0.5)
        pool.close()
        busy.cancel()
        return processes

    processes = asyncio.run(run())
    for process in processes:
        process.join(timeout=10)  # type: ignore[attr-defined]
        assert not process.is_alive()  # type: ignore[attr-defined]


def test_large_bodies_go_to_the_bulk_lane() -> None:
    """Over bulk_bytes a message goes to the bulk lane; without one, to the interactive lane."""
    pool = InspectorPool(WorkerSettings(workers=1, bulk_bytes=100))
    no_bulk = InspectorPool(WorkerSettings(workers=1, bulk_workers=0, bulk_bytes=100))
    try:
        assert pool.lanes == ("interactive", "bulk")
        assert pool.lane_for(_ticket({"n": "x"})) == "interactive"
        assert pool.lane_for(_ticket({"n": "x" * 100})) == "bulk"
        assert no_bulk.lanes == ("interactive",)
        with pytest.raises(ValueError, match="no 'bulk' lane"):
            no_bulk.pids("bulk")
        assert no_bulk.lane_for(_ticket({"n": "x" * 100})) == "interactive"
    finally:
        pool.close()
        no_bulk.close()


def test_bulk_workers_run_at_a_lower_priority() -> None:
    """The bulk lane's processes are niced by BULK_NICENESS; the interactive ones are not."""
    pool = InspectorPool(WorkerSettings(workers=1))
    try:
        asyncio.run(pool.warm_up())
        [interactive] = pool.pids("interactive")
        [bulk] = pool.pids("bulk")
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, interactive) == own
        assert os.getpriority(os.PRIO_PROCESS, bulk) == own + BULK_NICENESS
    finally:
        pool.close()


def test_a_worker_runs_one_thread(pool: InspectorPool, policy: Policy, keyring: Keyring) -> None:
    """Workers keep numpy's BLAS to one thread (the pool has a process per core), even after
    NER over a long text, where a multi-threaded BLAS starts a thread per core."""
    sentence = "Maria Gonzalez from Portland called about the refund of her October invoice. "

    async def run() -> None:
        await pool.warm_up()
        await pool.inspect(_ticket({"notes": sentence * 200}), policy, keyring)

    asyncio.run(run())
    [pid] = pool.pids("interactive")
    assert len(os.listdir(f"/proc/{pid}/task")) == 1


def test_a_bulk_timeout_leaves_interactive_inspections_alone(
    policy: Policy, keyring: Keyring
) -> None:
    """A large body that runs out of time restarts the bulk lane only: a small message being
    inspected at the same time still gets its decision."""

    async def run() -> tuple[Decision, Decision]:
        pool = InspectorPool(
            WorkerSettings(workers=1, timeout=60, bulk_timeout=3.0, bulk_bytes=10_000)
        )
        try:
            await pool.warm_up()
            large = _ticket({"note": "customer Maria Gonzalez " * 40_000})
            small = _ticket({"email": "maria@example.com"})
            slow = asyncio.ensure_future(pool.inspect(large, policy, keyring))
            await asyncio.sleep(2.9)  # the small one is in flight when the large one times out
            quick = await pool.inspect(small, policy, keyring)
            return await slow, quick
        finally:
            pool.close()

    slow, quick = asyncio.run(run())
    assert slow.error is not None
    assert "took over 3s" in slow.error
    assert quick.error is None
    assert quick.action is Action.REDACT


def test_a_timed_out_worker_is_replaced_alone(policy: Policy, keyring: Keyring) -> None:
    """With two workers, one stuck on a long inspection is killed when it runs out of time;
    the other finishes what it was doing, and the lane is back to two live workers."""

    async def run() -> tuple[Decision, Decision, list[int], list[int]]:
        pool = InspectorPool(WorkerSettings(workers=2, bulk_workers=0, timeout=4.0))
        try:
            await pool.warm_up()
            before = pool.pids("interactive")
            large = _ticket({"note": "customer Maria Gonzalez " * 40_000})
            small = _ticket({"email": "maria@example.com"})
            slow = asyncio.ensure_future(pool.inspect(large, policy, keyring))
            await asyncio.sleep(3.9)
            quick = await pool.inspect(small, policy, keyring)
            slow_decision = await slow
            after = pool.pids("interactive")
            again = await pool.inspect(small, policy, keyring)
            assert again.action is Action.REDACT
            return slow_decision, quick, before, after
        finally:
            pool.close()

    slow, quick, before, after = asyncio.run(run())
    assert slow.error == "analyzer_failure: inspection took over 4s"
    assert quick.action is Action.REDACT
    assert len(after) == 2
    assert len(set(before) & set(after)) == 1  # one replaced, one kept


def test_a_worker_that_dies_fails_its_message_closed(policy: Policy, keyring: Keyring) -> None:
    """A worker killed mid-inspection: that message is blocked, the next one is inspected by
    its replacement."""

    async def run() -> tuple[Decision, Decision]:
        pool = InspectorPool(WorkerSettings(workers=1, bulk_workers=0, timeout=60))
        try:
            await pool.warm_up()
            [pid] = pool.pids("interactive")
            large = _ticket({"note": "customer Maria Gonzalez " * 40_000})
            busy = asyncio.ensure_future(pool.inspect(large, policy, keyring))
            await asyncio.sleep(0.5)
            os.kill(pid, signal.SIGKILL)
            died = await busy
            after = await pool.inspect(_ticket({"email": "maria@example.com"}), policy, keyring)
            return died, after
        finally:
            pool.close()

    died, after = asyncio.run(run())
    assert died.action is Action.BLOCK
    assert died.error == "analyzer_failure: a worker process died"
    assert after.action is Action.REDACT


def test_a_model_that_cannot_load_is_reported(policy: Policy, keyring: Keyring) -> None:
    """warm_up raises WorkerFailed with the reason; an inspection fails closed with it."""
    pool = InspectorPool(WorkerSettings(workers=1, bulk_workers=0, model="no_such_model"))
    try:
        with pytest.raises(WorkerFailed, match="no_such_model"):
            asyncio.run(pool.warm_up())
        decision = asyncio.run(pool.inspect(_ticket({"n": "x"}), policy, keyring))
    finally:
        pool.close()
    assert decision.action is Action.BLOCK
    assert decision.error is not None
    assert "no_such_model" in decision.error


def test_a_closed_pool_fails_closed_and_starts_nothing(policy: Policy, keyring: Keyring) -> None:
    """After close(), an inspection is blocked with a reason and no worker process starts."""
    pool = InspectorPool(WorkerSettings(workers=1, bulk_workers=0))
    pool.close()
    decision = asyncio.run(pool.inspect(_ticket({"email": "a@example.com"}), policy, keyring))
    assert decision.action is Action.BLOCK
    assert decision.error == "analyzer_failure: the inspection workers are stopped"
    assert pool.pids("interactive") == []
