"""Worker processes that run inspections off the proxy's event loop.

spaCy and Presidio are CPU-bound and hold the GIL, so they run in processes, in two lanes:

- the interactive lane, one process per core by default, inspects ordinary messages;
- the bulk lane, one process by default at a lower CPU priority (`BULK_NICENESS`), inspects
  bodies over `bulk_bytes`: a 1 MB export takes seconds, and must neither hold a worker that
  small requests queue behind nor take CPU time from them while they wait.

Each worker is a process of its own, started with `spawn` (forking a process that runs an event
loop and threads is unsafe), connected to the proxy by a socket pair. It loads its detector
once, then answers one inspection at a time: a length-prefixed pickle of (message, policy,
keyring) in, a pickled `Decision` out. The proxy's side is plain asyncio on that socket: no
threads, no executor machinery between a request and its worker. A message waits for an idle
worker of its lane, which is back-pressure.

A failed, crashed or timed-out inspection becomes an error decision (fail closed by default),
never an exception in the proxy. A worker that runs out of time or dies is killed and replaced
alone: the inspections on the other workers go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from dlp_proxy.core.inspect import Decision, Message, error_decision, inspect
from dlp_proxy.crypto.keys import Keyring
from dlp_proxy.detection.detector import Detector
from dlp_proxy.detection.presidio import DEFAULT_MODEL, PresidioDetector
from dlp_proxy.errors import DlpError
from dlp_proxy.policy.model import Policy

__all__ = [
    "BULK_NICENESS",
    "InspectorPool",
    "WorkerFailed",
    "WorkerSettings",
    "default_worker_count",
]

# How much lower the bulk lane's priority is (nice(2)): under load, Linux gives a niceness-10
# process about a tenth of the CPU time a niceness-0 one gets.
BULK_NICENESS = 10

_HEADER = struct.Struct("!Q")  # the length of the pickle that follows
_SPAWN = multiprocessing.get_context("spawn")


class WorkerFailed(DlpError):
    """A worker process could not start (its model did not load) or stopped answering."""


@dataclass(frozen=True)
class WorkerSettings:
    """How the pool is sized and what each worker loads."""

    workers: int = 0
    model: str = DEFAULT_MODEL
    timeout: float = 30.0
    # Processes for bodies over `bulk_bytes` (wire size); 0 sends them to the interactive lane.
    bulk_workers: int = 1
    bulk_bytes: int = 64 * 1024
    # Seconds a large body may take, waiting included: under load the bulk lane's low priority
    # leaves it little CPU, and an export is better late than refused.
    bulk_timeout: float = 120.0


def default_worker_count() -> int:
    """One worker per core this process may run on."""
    return max(len(os.sched_getaffinity(0)), 1)


# --- the worker process ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raised:
    """What a worker sends back when `inspect` raised.

    Only the exception's type name: its message may quote the text it was reading.
    """

    name: str


def _serve(connection: socket.socket, model: str, niceness: int) -> None:
    """A worker's life: load the detector, say so, then inspect until the proxy hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the proxy, which stops us
    # Before numpy loads: one BLAS thread, since the pool has a worker per core already.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if niceness:
        os.nice(niceness)
    stream: IO[bytes] = connection.makefile("rwb")  # type: ignore[assignment]
    try:
        detector: Detector = PresidioDetector(model)
    except Exception as e:  # noqa: BLE001 - reported to the proxy, which logs it
        _write(stream, ("failed", f"{type(e).__name__}: {e}"))
        return
    _write(stream, ("ready", os.getpid()))
    while (request := _read(stream)) is not None:
        message, policy, keyring = request
        result: Decision | _Raised
        try:
            result = inspect(message, policy, detector=detector, keyring=keyring)
        except Exception as e:  # noqa: BLE001 - the proxy fails the message closed
            result = _Raised(type(e).__name__)
        _write(stream, result)


def _write(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the proxy closed the connection: stop
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


# --- the proxy's side ---------------------------------------------------------------------------


class _Worker:
    """One worker process and the proxy's end of its socket."""

    def __init__(self, lane: str, model: str, niceness: int) -> None:
        ours, theirs = socket.socketpair()
        self.process = _SPAWN.Process(
            target=_serve,
            args=(theirs, model, niceness),
            name=f"dlp-proxy {lane} worker",
            daemon=True,
        )
        self.process.start()
        theirs.close()
        ours.setblocking(False)
        self._socket = ours
        self._ready = False
        self._failure: WorkerFailed | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return self.process.pid

    async def wait_ready(self) -> None:
        """Wait until the worker has loaded its model; `WorkerFailed` if it could not."""
        if self._ready:
            return
        if self._failure is None:
            status: tuple[str, object] = await self._receive()
            if status[0] == "ready":
                self._ready = True
                return
            self._failure = WorkerFailed(f"a worker could not start: {status[1]}")
        raise self._failure

    async def call(self, payload: bytes) -> Any:
        """Send one pickled request and return the unpickled answer."""
        await self.wait_ready()
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self._socket, _HEADER.pack(len(payload)) + payload)
        return await self._receive()

    async def _receive(self) -> Any:
        header = await self._receive_exactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        return pickle.loads(await self._receive_exactly(size))

    async def _receive_exactly(self, size: int) -> bytes:
        loop = asyncio.get_running_loop()
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        while received < size:
            count = await loop.sock_recv_into(self._socket, view[received:])
            if count == 0:
                raise WorkerFailed("a worker process died")
            received += count
        return bytes(buffer)

    def kill(self) -> None:
        """Stop the process now, busy or not, and close the socket."""
        with contextlib.suppress(OSError, ValueError):
            self.process.terminate()
        self._socket.close()


class _Lane:
    """Workers of one kind; a message waits for an idle one."""

    def __init__(self, name: str, size: int, model: str, niceness: int = 0) -> None:
        self.name = name
        self.size = size
        self.model = model
        self.niceness = niceness
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._waiting: deque[asyncio.Future[_Worker]] = deque()
        self._closed = False

    def start(self) -> None:
        """Start the processes (they load their model in the background); once."""
        if self._closed:
            raise WorkerFailed("the inspection workers are stopped")
        while len(self._workers) < self.size:
            self._add(_Worker(self.name, self.model, self.niceness))

    async def warm_up(self) -> None:
        """Wait until every worker has its model loaded."""
        self.start()
        await asyncio.gather(*(worker.wait_ready() for worker in list(self._workers)))

    async def call(self, payload: bytes) -> object:
        """Run one request on an idle worker.

        A worker that fails or is cancelled (timed out) mid-request is killed and replaced.
        """
        worker = await self._acquire()
        try:
            result = await worker.call(payload)
        except BaseException:
            self._replace(worker)
            raise
        self._release(worker)
        return result

    def pids(self) -> list[int]:
        """The process ids of the lane's workers."""
        return [w.pid for w in self._workers if w.pid is not None]

    def close(self) -> None:
        """Stop every worker now; the lane starts no more."""
        self._closed = True
        for worker in self._workers:
            worker.kill()
        self._workers.clear()
        self._idle.clear()

    async def _acquire(self) -> _Worker:
        self.start()
        if self._idle:
            return self._idle.pop()
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as we gave up
            raise

    def _release(self, worker: _Worker) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _add(self, worker: _Worker) -> None:
        self._workers.append(worker)
        self._release(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._workers and not self._closed:
            self._workers.remove(worker)
            self._add(_Worker(self.name, self.model, self.niceness))
        multiprocessing.active_children()  # reap the killed process


class InspectorPool:
    """Runs `inspect` in worker processes and awaits the result without blocking the loop."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.size = settings.workers or default_worker_count()
        self._interactive = _Lane("interactive", self.size, settings.model)
        self._bulk = (
            _Lane("bulk", settings.bulk_workers, settings.model, BULK_NICENESS)
            if settings.bulk_workers > 0
            else None
        )

    @property
    def lanes(self) -> tuple[str, ...]:
        """The names of the lanes in use."""
        return tuple(lane.name for lane in self._lanes())

    def lane_for(self, message: Message) -> str:
        """The lane a message goes to: bulk for a body over `bulk_bytes`, if there is one."""
        return self._lane_for(message).name

    def pids(self, lane: str) -> list[int]:
        """The process ids of one lane's workers (started on first use or `warm_up`).

        `ValueError` for a lane the pool does not have (`lanes` lists them).
        """
        for candidate in self._lanes():
            if candidate.name == lane:
                return candidate.pids()
        raise ValueError(f"no {lane!r} lane; this pool has {', '.join(self.lanes)}")

    async def warm_up(self) -> float:
        """Start every worker of every lane and load its model; return the seconds it took.

        `WorkerFailed` if a worker cannot load the model.
        """
        started = time.monotonic()
        await asyncio.gather(*(lane.warm_up() for lane in self._lanes()))
        return time.monotonic() - started

    async def inspect(self, message: Message, policy: Policy, keyring: Keyring) -> Decision:
        """Inspect in a worker; an error decision if it fails, dies or runs out of time."""
        lane = self._lane_for(message)
        timeout = self.settings.bulk_timeout if lane is self._bulk else self.settings.timeout
        try:
            payload = pickle.dumps((message, policy, keyring), protocol=pickle.HIGHEST_PROTOCOL)
            result = await asyncio.wait_for(lane.call(payload), timeout)
        except TimeoutError:
            return error_decision(policy, f"analyzer_failure: inspection took over {timeout:g}s")
        except WorkerFailed as e:
            return error_decision(policy, f"analyzer_failure: {e}")
        except Exception as e:  # noqa: BLE001 - pickling, a broken socket...: fail closed
            return error_decision(policy, f"analyzer_failure: {type(e).__name__}")
        if isinstance(result, _Raised):
            return error_decision(policy, f"analyzer_failure: {result.name}")
        assert isinstance(result, Decision)
        return result

    def close(self) -> None:
        """Stop the workers now, busy or not: shutting down must not wait for a long body."""
        for lane in self._lanes():
            lane.close()

    def _lanes(self) -> Iterable[_Lane]:
        return (lane for lane in (self._interactive, self._bulk) if lane is not None)

    def _lane_for(self, message: Message) -> _Lane:
        if self._bulk is not None and len(message.body) > self.settings.bulk_bytes:
            return self._bulk
        return self._interactive
