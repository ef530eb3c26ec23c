"""Background jobs of the web interface: each runs in its own thread and reports progress to the page."""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dirkit.errors import RefusedError
from dirkit.ops.run.execute import Progress

JOBS_KEPT = 50
"""Finished jobs remembered (older ones are forgotten; a running job is never)."""
JOIN_SECONDS = 5.0
"""How long stopping the server waits for a job that cannot be told to stop (a scan) before leaving it."""

JsonObject = dict[str, object]


class JobState(enum.Enum):
    """Where a job is."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class JobProgress:
    """How far a job has got: steps and bytes done of their totals."""

    done: int = 0
    total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    seconds: float = 0.0

    def to_json(self) -> JsonObject:
        """Return the progress with its percentage."""
        percent = 100.0 if self.total == 0 else min(100.0, 100.0 * self.done / self.total)
        return {
            "done": self.done,
            "total": self.total,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "seconds": round(self.seconds, 2),
            "percent": round(percent, 1),
        }


@dataclass(slots=True)
class Job:
    """One piece of work: its kind, state, progress, and the result or error it ended with."""

    job_id: str
    kind: str
    stop: threading.Event
    stoppable: bool
    state: JobState = JobState.RUNNING
    progress: JobProgress = field(default_factory=JobProgress)
    result: JsonObject | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = None

    def on_progress(self, progress: Progress) -> None:
        """Take the executor's progress report (called from its threads)."""
        self.progress = JobProgress(
            progress.actions_done,
            progress.actions_total,
            progress.bytes_done,
            progress.bytes_total,
            progress.seconds,
        )

    def to_json(self) -> JsonObject:
        """Return what the page polls: state, progress, and the result or error."""
        return {
            "id": self.job_id,
            "kind": self.kind,
            "state": self.state.value,
            "progress": self.progress.to_json(),
            "result": self.result,
            "error": self.error,
        }


Work = Callable[[Job], JsonObject]
"""What a job does; it returns its result, or raises (the error's message is shown to the page)."""
Describe = Callable[[BaseException], str]


class JobBoard:
    """The jobs of one server: started in threads that outlive the request (closing the tab stops none)."""

    def __init__(self, describe: Describe) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._describe = describe
        self._closed = False

    def start(self, kind: str, work: Work, stoppable: bool = False) -> Job:
        """Start work in a new thread and return its job (stoppable: it watches job.stop)."""
        with self._lock:
            if self._closed:
                raise RefusedError("the server is stopping; no new work is started")
            job = Job(f"{kind}-{next(self._numbers)}", kind, threading.Event(), stoppable)
            self._jobs[job.job_id] = job
            self._forget_old()
        thread = threading.Thread(
            target=self._run, args=(job, work), name=f"dirkit-{job.job_id}", daemon=not stoppable
        )
        job.thread = thread
        thread.start()
        return job

    def _run(self, job: Job, work: Work) -> None:
        try:
            job.result = work(job)
            job.state = JobState.DONE
        except Exception as error:  # every failure goes to the page as its one-line message
            job.error = self._describe(error)
            job.state = JobState.FAILED

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.state is not JobState.RUNNING]
        for job_id in finished[: max(0, len(self._jobs) - JOBS_KEPT)]:
            del self._jobs[job_id]

    def get(self, job_id: str) -> Job | None:
        """Return a job by its id."""
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        """Stop taking jobs; tell running ones to stop and wait for them (runs finish their current steps)."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop.set()
        for job in jobs:
            if job.thread is not None:
                job.thread.join(None if job.stoppable else JOIN_SECONDS)
