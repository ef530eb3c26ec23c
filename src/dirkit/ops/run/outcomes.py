"""What a run reports (progress, failed items, its result), and the ledger that journals and counts it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from dirkit.core.run.plan import ActionKind, Plan
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.paths import RelPath, parent_path
from dirkit.ops.run.units import StepDone, Unit
from dirkit.state.journal import Journal, StepOutcome

log = logging.getLogger("dirkit")

JOURNAL_BATCH = 2048
"""Steps marked started per transaction (always committed before those steps start); the outcomes
recorded so far ride in the same transaction, or get one of their own once twice as many wait."""


class Progress(NamedTuple):
    """How far a run has got, against the plan's totals."""

    actions_done: int
    actions_total: int
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One step that failed or was left alone, and why."""

    path: RelPath
    kind: ActionKind
    reason: str
    conflict: bool = False
    """True when the target no longer held what the plan expected (nothing was changed)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did: its id, where its backups are, and every item that failed."""

    run_id: str
    operation: str
    target: str
    backup_dir: RelPath
    plan: Plan
    steps_done: int = 0
    files_copied: int = 0
    bytes_copied: int = 0
    failures: tuple[ItemFailure, ...] = ()
    interrupted: bool = False
    stopped_by: str | None = None
    """The error that stopped the run early (no space left, connection lost), if any."""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    """What the run could not do on this target by its nature (not failures), for the summary."""

    @property
    def ok(self) -> bool:
        """Tell whether every step succeeded and the run finished."""
        return not self.failures and not self.interrupted and self.stopped_by is None

    @property
    def conflicts(self) -> tuple[ItemFailure, ...]:
        """Return the steps left alone because their path changed."""
        return tuple(failure for failure in self.failures if failure.conflict)


class Ledger:
    """The outcomes of one run as they come in: journaled in batches, counted, failures collected.

    Steps are marked started in the journal a window ahead of the units handed out (so recovery
    finds every step that may have begun), and their outcomes are written JOURNAL_BATCH at a time.
    """

    def __init__(
        self,
        plan: Plan,
        journal: Journal,
        run_id: str,
        on_progress: Callable[[Progress], None] | None,
        started: float,
    ) -> None:
        self.plan = plan
        self.journal = journal
        self.run_id = run_id
        self.on_progress = on_progress
        self.started = started
        """When the run started (time.monotonic), for the seconds progress reports."""
        self.started_until = 0
        """Steps before this position are marked started in the journal."""
        self.actions = 0
        self.steps = 0
        self.files = 0
        self.bytes = 0
        self.failures: list[ItemFailure] = []
        self.failed_paths: set[RelPath] = set()
        self.stopped_by: str | None = None
        self.outcomes: list[StepOutcome] = []

    def mark_started(self, through: int) -> None:
        """Mark the steps before position through started, with the outcomes so far, in one transaction."""
        self.journal.record_steps(self.run_id, self.outcomes, through)
        self.outcomes.clear()
        self.started_until = through

    def record(self, done: Iterable[StepDone]) -> None:
        """Count and journal the outcomes of finished steps, and report progress."""
        for step in done:
            self.actions += 1
            self.outcomes.append(StepOutcome(step.seq, step.status, step.result, step.error))
            if step.status is StepStatus.DONE:
                self.steps += 1
                if step.action.kind is ActionKind.COPY_FILE:
                    self.files += 1
                    self.bytes += step.copied
            elif step.status in (StepStatus.FAILED, StepStatus.CONFLICT) or (
                step.status is StepStatus.SKIPPED and step.error is not None
            ):
                self._fail(step)
        if len(self.outcomes) >= 2 * JOURNAL_BATCH:
            self.flush()
        if self.on_progress is not None:
            totals = self.plan.totals
            self.on_progress(
                Progress(
                    self.actions,
                    totals.actions,
                    self.files,
                    totals.files,
                    self.bytes,
                    totals.bytes,
                    time.monotonic() - self.started,
                )
            )

    def _fail(self, step: StepDone) -> None:
        action = step.action
        reason = step.error or "failed"
        self.failures.append(
            ItemFailure(action.path, action.kind, reason, step.status is StepStatus.CONFLICT)
        )
        self.failed_paths.add(action.path)
        log.warning("run %s: %s %s: %s", self.run_id, action.kind.value, action.path, reason)
        if step.fatal and self.stopped_by is None:
            self.stopped_by = reason

    def blocks(self, unit: Unit) -> bool:
        """Tell whether a step of unit touches a path at or below which a step failed."""
        if not self.failed_paths:
            return False
        for _, action in unit.steps:
            if _blocked(action.path, self.failed_paths) or (
                action.source_path is not None
                and action.kind is not ActionKind.COPY_FILE
                and _blocked(action.source_path, self.failed_paths)
            ):
                return True
        return False

    def flush(self) -> None:
        """Write the outcomes recorded so far to the journal."""
        if self.outcomes:
            self.journal.finish_steps(self.run_id, self.outcomes)
            self.outcomes.clear()

    def close(self, handed_until: int) -> None:
        """Record the steps marked started but never handed out as skipped, and flush."""
        self.outcomes.extend(
            StepOutcome(seq, StepStatus.SKIPPED) for seq in range(handed_until, self.started_until)
        )
        self.flush()

    def summary(self) -> dict[str, int]:
        """Return the counts the journal keeps for the finished run."""
        return {
            "steps_done": self.steps,
            "files_copied": self.files,
            "bytes_copied": self.bytes,
            "failures": len(self.failures),
            "conflicts": sum(1 for failure in self.failures if failure.conflict),
        }


def _blocked(path: RelPath, failed: set[RelPath]) -> bool:
    """Tell whether path or an ancestor had a failed step."""
    while True:
        if path in failed:
            return True
        if not path:
            return False
        path = parent_path(path)
