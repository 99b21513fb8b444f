"""Worker processes that run inspections off the proxy's event loop.

spaCy and Presidio are CPU-bound and hold the GIL, so they run in processes, in two lanes:

- the interactive lane, one process per core by default, inspects ordinary messages;
- the bulk lane, one process by default at a lower CPU priority (`BULK_NICENESS`), inspects
  bodies over `bulk_bytes`: a 1 MB export takes seconds, and must neither hold a worker that
  small requests queue behind nor take CPU time from them while they wait.

Each worker builds its detector once and keeps it. The functions the lanes run live here, in
an importable module: a function defined in a script mitmdump loads cannot be pickled. A
failed, crashed or timed-out inspection becomes an error decision (fail closed by default),
never an exception in the proxy; a timed-out or crashed lane is replaced without touching the
other lane.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from dlp_proxy.detection import DEFAULT_MODEL, Detector, PresidioDetector
from dlp_proxy.inspection import Decision, Message, error_decision, inspect
from dlp_proxy.keys import Keyring
from dlp_proxy.policy import Policy

__all__ = ["BULK_NICENESS", "InspectorPool", "WorkerSettings", "default_worker_count"]

# How much lower the bulk lane's priority is (nice(2)): under load, Linux gives a niceness-10
# process about a tenth of the CPU time a niceness-0 one gets.
BULK_NICENESS = 10

_detector: Detector | None = None
_detector_model: str | None = None


@dataclass(frozen=True)
class WorkerSettings:
    """How the pool is sized and what each worker loads."""

    workers: int = 0
    model: str = DEFAULT_MODEL
    timeout: float = 30.0
    # Processes for bodies over `bulk_bytes` (wire size); 0 sends them to the interactive lane.
    bulk_workers: int = 1
    bulk_bytes: int = 64 * 1024


def default_worker_count() -> int:
    """One worker per core this process may run on."""
    return max(len(os.sched_getaffinity(0)), 1)


def _worker_detector(model: str) -> Detector:
    global _detector, _detector_model
    if _detector is None or _detector_model != model:
        _detector = PresidioDetector(model)
        _detector_model = model
    return _detector


def _lower_priority(niceness: int) -> None:
    os.nice(niceness)


def _warm_up(model: str) -> int:
    _worker_detector(model)
    return os.getpid()


def _inspect_in_worker(message: Message, policy: Policy, keyring: Keyring, model: str) -> Decision:
    return inspect(message, policy, detector=_worker_detector(model), keyring=keyring)


class _Lane:
    """A pool of worker processes, replaced whole when one of its inspections fails."""

    def __init__(self, name: str, size: int, niceness: int = 0) -> None:
        self.name = name
        self.size = size
        self.niceness = niceness
        self.executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        return ProcessPoolExecutor(
            max_workers=self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_lower_priority,
            initargs=(self.niceness,),
        )

    def restart(self, old: ProcessPoolExecutor) -> None:
        """Replace the pool: a stuck or dead worker must not keep capacity hostage."""
        if old is not self.executor:
            return  # another failed inspection has already replaced it
        self.executor = self._new_executor()
        _terminate(old)

    def close(self) -> None:
        """Stop the workers now, busy or not."""
        _terminate(self.executor)


def _terminate(executor: ProcessPoolExecutor) -> None:
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


class InspectorPool:
    """Runs `inspect` in worker processes and awaits the result without blocking the loop."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.size = settings.workers or default_worker_count()
        self._interactive = _Lane("interactive", self.size)
        self._bulk = (
            _Lane("bulk", settings.bulk_workers, BULK_NICENESS)
            if settings.bulk_workers > 0
            else None
        )

    @property
    def lanes(self) -> tuple[str, ...]:
        """The names of the lanes in use."""
        return tuple(lane.name for lane in (self._interactive, self._bulk) if lane is not None)

    def lane_for(self, message: Message) -> str:
        """The lane a message goes to: bulk for a body over `bulk_bytes`, if there is one."""
        return self._lane_for(message).name

    def _lane_for(self, message: Message) -> _Lane:
        if self._bulk is not None and len(message.body) > self.settings.bulk_bytes:
            return self._bulk
        return self._interactive

    async def warm_up(self) -> float:
        """Start every worker of every lane and load its model; return the seconds it took."""
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(
                loop.run_in_executor(lane.executor, _warm_up, self.settings.model)
                for lane in (self._interactive, self._bulk)
                if lane is not None
                for _ in range(lane.size)
            )
        )
        return time.monotonic() - started

    async def inspect(self, message: Message, policy: Policy, keyring: Keyring) -> Decision:
        """Inspect in a worker; an error decision if it fails, dies or runs out of time."""
        loop = asyncio.get_running_loop()
        lane = self._lane_for(message)
        executor = lane.executor
        try:
            future = loop.run_in_executor(
                executor, _inspect_in_worker, message, policy, keyring, self.settings.model
            )
            return await asyncio.wait_for(future, self.settings.timeout)
        except TimeoutError:
            lane.restart(executor)
            return error_decision(
                policy, f"analyzer_failure: inspection took over {self.settings.timeout:g}s"
            )
        except BrokenProcessPool:
            lane.restart(executor)
            return error_decision(policy, "analyzer_failure: a worker process died")
        except Exception as e:  # noqa: BLE001 - pickling, detector build errors...: fail closed
            return error_decision(policy, f"analyzer_failure: {type(e).__name__}")

    def close(self) -> None:
        """Stop the workers now, busy or not: shutting down must not wait for a long body."""
        self._interactive.close()
        if self._bulk is not None:
            self._bulk.close()
