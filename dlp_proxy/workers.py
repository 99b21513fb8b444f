"""Worker processes that run inspections off the proxy's event loop.

spaCy and Presidio are CPU-bound and hold the GIL, so they run in a pool of processes, one per
core by default. Each worker builds its detector once and keeps it. The functions the pool runs
live here, in an importable module: a function defined in a script mitmdump loads cannot be
pickled. A failed, crashed or timed-out inspection becomes an error decision (fail closed by
default), never an exception in the proxy.
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

__all__ = ["InspectorPool", "WorkerSettings", "default_worker_count"]

_detector: Detector | None = None
_detector_model: str | None = None


@dataclass(frozen=True)
class WorkerSettings:
    """How the pool is sized and what each worker loads."""

    workers: int = 0
    model: str = DEFAULT_MODEL
    timeout: float = 30.0


def default_worker_count() -> int:
    """One worker per core this process may run on."""
    return max(len(os.sched_getaffinity(0)), 1)


def _worker_detector(model: str) -> Detector:
    global _detector, _detector_model
    if _detector is None or _detector_model != model:
        _detector = PresidioDetector(model)
        _detector_model = model
    return _detector


def _warm_up(model: str) -> int:
    _worker_detector(model)
    return os.getpid()


def _inspect_in_worker(message: Message, policy: Policy, keyring: Keyring, model: str) -> Decision:
    return inspect(message, policy, detector=_worker_detector(model), keyring=keyring)


class InspectorPool:
    """Runs `inspect` in worker processes and awaits the result without blocking the loop."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.size = settings.workers or default_worker_count()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        return ProcessPoolExecutor(
            max_workers=self.size, mp_context=multiprocessing.get_context("spawn")
        )

    async def warm_up(self) -> float:
        """Start every worker and load its model; return the seconds it took."""
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, _warm_up, self.settings.model)
                for _ in range(self.size)
            )
        )
        return time.monotonic() - started

    async def inspect(self, message: Message, policy: Policy, keyring: Keyring) -> Decision:
        """Inspect in a worker; an error decision if it fails, dies or runs out of time."""
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            future = loop.run_in_executor(
                executor, _inspect_in_worker, message, policy, keyring, self.settings.model
            )
            return await asyncio.wait_for(future, self.settings.timeout)
        except TimeoutError:
            self._restart(executor)
            return error_decision(
                policy, f"analyzer_failure: inspection took over {self.settings.timeout:g}s"
            )
        except BrokenProcessPool:
            self._restart(executor)
            return error_decision(policy, "analyzer_failure: a worker process died")
        except Exception as e:  # noqa: BLE001 - pickling, detector build errors...: fail closed
            return error_decision(policy, f"analyzer_failure: {type(e).__name__}")

    def _restart(self, old: ProcessPoolExecutor) -> None:
        """Replace the pool: a stuck or dead worker must not keep capacity hostage."""
        if old is not self._executor:
            return  # another failed inspection has already replaced it
        self._executor = self._new_executor()
        processes = list(getattr(old, "_processes", {}).values())
        old.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()

    def close(self) -> None:
        """Stop the workers now, busy or not: shutting down must not wait for a long body."""
        processes = list(getattr(self._executor, "_processes", {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
