"""A job queue for long-running work, with a concurrency limit, cancel, progress and ETA.

Pure Python (threads), no HTTP: the web app submits callables and browsers poll
:meth:`JobQueue.snapshot`. At most ``concurrency`` jobs run at once; the rest wait in
submission order and know their position. A job is a callable taking a :class:`JobContext`;
it reports progress with :meth:`JobContext.report`, which raises :class:`Cancelled` once a
cancel was requested, so a job stops at its next report (for a Gatys run: the next
optimizer evaluation, since the report is made from its progress callback).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..base.errors import AtelierError

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = frozenset({DONE, FAILED, CANCELLED})
RETRY_AFTER_S = 15  # a job refused because the queue is full may be retried after this many seconds


class Cancelled(Exception):
    """Raised inside a job by :meth:`JobContext.report` after a cancel request."""


class QueueFull(AtelierError):
    """Too many jobs are waiting (in all, or of this owner); answered with 429 and ``Retry-After``."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


@dataclass
class Job:
    """One unit of work and everything a browser may ask about it."""

    id: str
    owner: str
    label: str
    fn: Callable[[JobContext], Any] | None  # dropped when the job ends (it holds the inputs)
    info: dict[str, Any] = field(default_factory=dict)  # free-form, shown to the user (settings)
    state: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None    # time.monotonic() when it began running
    finished: float | None = None   # time.monotonic() when it ended
    fraction: float = 0.0              # 0..1
    preview: Any = None                # latest intermediate result (set by the job; dropped at the end)
    preview_version: int = 0
    result: Any = None
    error: str | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    _rate_origin: tuple[float, float] | None = None  # (time, fraction) of the first report

    def eta(self, now: float) -> float | None:
        """Seconds left, extrapolated from the progress rate since the first report; None if unknown."""
        if self.state != RUNNING or self._rate_origin is None:
            return None
        t0, f0 = self._rate_origin
        if self.fraction <= f0 or now <= t0:
            return None
        return (now - t0) / (self.fraction - f0) * (1.0 - self.fraction)


class JobContext:
    """What a running job uses to talk back to the queue."""

    def __init__(self, job: Job, lock: threading.Lock):
        self._job, self._lock = job, lock

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if a cancel was requested."""
        if self.cancelled:
            raise Cancelled()

    def report(self, fraction: float, preview: Any = None) -> None:
        """Record progress (0..1) and optionally a new intermediate result; raises :class:`Cancelled`."""
        self.check()
        now = time.monotonic()
        with self._lock:
            job = self._job
            job.fraction = min(1.0, max(job.fraction, float(fraction)))
            if job._rate_origin is None:
                job._rate_origin = (now, job.fraction)
            if preview is not None:
                job.preview = preview
                job.preview_version += 1


class JobQueue:
    """Runs submitted jobs on ``concurrency`` worker threads, in submission order.

    ``max_jobs`` bounds how many jobs are remembered: beyond it the oldest finished jobs
    are forgotten and ``on_discard(job)`` is called for each (e.g. to delete its files).
    ``max_waiting`` and ``max_waiting_per_owner`` bound the waiting line (a waiting job holds
    its input images): :meth:`submit` raises :class:`QueueFull` beyond them.
    """

    def __init__(self, concurrency: int = 1, max_jobs: int = 100,
                 on_discard: Callable[[Job], None] | None = None,
                 max_waiting: int | None = None, max_waiting_per_owner: int | None = None):
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency, self.max_jobs, self.on_discard = concurrency, max_jobs, on_discard
        self.max_waiting, self.max_waiting_per_owner = max_waiting, max_waiting_per_owner
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._closed = False
        self._workers = [threading.Thread(target=self._work, name=f"atelier-job-{i}", daemon=True)
                         for i in range(concurrency)]
        for w in self._workers:
            w.start()

    # --- submitting and asking ------------------------------------------------------
    def submit(self, fn: Callable[[JobContext], Any], owner: str = "", label: str = "",
               info: dict[str, Any] | None = None) -> Job:
        """Queue ``fn``; returns its :class:`Job` (state ``queued``). Raises :class:`QueueFull`."""
        job = Job(secrets.token_hex(16), owner, label, fn, dict(info or {}))
        with self._lock:
            if self._closed:
                raise AtelierError("the server is shutting down")
            self._check_room(owner)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._wake.notify()
        self._forget_old()
        return job

    def _check_room(self, owner: str) -> None:
        waiting = len(self._waiting)
        if self.max_waiting is not None and waiting >= self.max_waiting:
            raise QueueFull(f"the queue is full ({waiting} jobs waiting); try again later", RETRY_AFTER_S)
        mine = sum(1 for j in self._waiting if j.owner == owner)
        if self.max_waiting_per_owner is not None and mine >= self.max_waiting_per_owner:
            raise QueueFull(f"you already have {mine} jobs waiting; wait for them or cancel one", RETRY_AFTER_S)

    def get(self, job_id: str) -> Job:
        """The job with this id; ``KeyError`` if unknown or forgotten."""
        with self._lock:
            return self._jobs[job_id]

    def jobs(self, owner: str | None = None) -> list[Job]:
        """Jobs (of ``owner``, if given), oldest first."""
        with self._lock:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def position(self, job: Job) -> int:
        """1-based place in the waiting line; 0 if not waiting."""
        with self._lock:
            return self._position(job)

    def _position(self, job: Job) -> int:
        for i, j in enumerate(self._waiting):
            if j is job:
                return i + 1
        return 0

    def snapshot(self, job_id: str) -> dict[str, Any]:
        """A JSON-ready view of one job: state, queue position, progress, ETA, error."""
        now = time.monotonic()
        with self._lock:
            job = self._jobs[job_id]
            running = sum(1 for j in self._jobs.values() if j.state == RUNNING)
            end = job.finished if job.finished is not None else now
            eta = job.eta(now)
            return {
                "id": job.id, "label": job.label, "state": job.state, "info": job.info,
                "position": self._position(job), "waiting": len(self._waiting), "running": running,
                "fraction": round(job.fraction, 4), "eta": None if eta is None else round(eta, 1),
                "elapsed": None if job.started is None else round(end - job.started, 1),
                "preview_version": job.preview_version, "error": job.error, "created": job.created,
            }

    # --- cancelling and closing ---------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        """Cancel a waiting job at once, or ask a running one to stop; False if already finished."""
        with self._lock:
            job = self._jobs[job_id]
            if job.state in FINISHED:
                return False
            job.cancel_requested.set()
            if job.state == QUEUED:
                self._waiting.remove(job)
                job.state, job.finished = CANCELLED, time.monotonic()
                job.fn = job.preview = None  # free its inputs now, not when it is forgotten
            return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything and wait (up to ``timeout`` s per worker) for running jobs to stop."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                job.cancel_requested.set()
            for job in self._waiting:
                job.state, job.finished = CANCELLED, time.monotonic()
                job.fn = job.preview = None
            self._waiting.clear()
            self._wake.notify_all()
        for w in self._workers:
            w.join(timeout)

    # --- workers ------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.state, job.started = RUNNING, time.monotonic()
            self._run(job)
            self._forget_old()

    def _run(self, job: Job) -> None:
        ctx = JobContext(job, self._lock)
        state, result, error = DONE, None, None
        try:
            ctx.check()
            result = job.fn(ctx)
        except Cancelled:
            state = CANCELLED
        except AtelierError as exc:
            state, error = FAILED, str(exc)
        except MemoryError:
            state, error = FAILED, "out of memory; try a smaller size"
        except Exception as exc:  # a bug or a torch runtime error: report it, keep the worker alive
            state, error = FAILED, f"{type(exc).__name__}: {exc}"
        with self._lock:
            job.state, job.result, job.error, job.finished = state, result, error, time.monotonic()
            job.fn = job.preview = None  # free the inputs and the intermediate image
            if state == DONE:
                job.fraction = 1.0

    def _forget_old(self) -> None:
        with self._lock:
            finished = [j for j in self._jobs.values() if j.state in FINISHED]
            excess = len(self._jobs) - self.max_jobs
            dropped = finished[:max(0, excess)]
            for j in dropped:
                del self._jobs[j.id]
        for j in dropped:
            if self.on_discard is not None:
                self.on_discard(j)
