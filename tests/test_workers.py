"""Tests for dlp_proxy/workers.py: inspection in worker processes, failing closed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlp_proxy.inspection import Message
from dlp_proxy.keys import Keyring, create_keyring
from dlp_proxy.policy import Action, Direction, Policy, load_policy
from dlp_proxy.workers import InspectorPool, WorkerSettings, default_worker_count


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
        processes = list(getattr(pool._executor, "_processes", {}).values())
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
