"""Handing out the units of a run in plan order: here, or batched to the copy pool, one at a time per path."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from dirkit.core.run.plan import Plan
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.paths import RelPath
from dirkit.ops.run.actions import StepContext
from dirkit.ops.run.outcomes import JOURNAL_BATCH, Ledger
from dirkit.ops.run.units import StepDone, Unit, run_unit, run_units, skipped_after_failure, units_of

BATCH_UNITS = 16
"""Small copies handed to one worker at once (fewer thread hand-offs per file)."""
BATCH_BYTES = 1024 * 1024
"""A batch of copies is handed over once it holds this many bytes (large files go one by one)."""
SETTLE_SECONDS = 0.5
"""How long one wait for a finished unit lasts before the wait condition is checked again."""


def _related(path: RelPath, others: Iterable[RelPath]) -> bool:
    """Tell whether path is, holds or lies inside one of others."""
    for other in others:
        if path == other or path.startswith(other + "/") or other.startswith(path + "/") or not path:
            return True
    return False


class Dispatcher:
    """Hands a run's units out in plan order: here, or in batches to the copy pool, tracking paths in flight.

    A unit waits until no unit in flight touches its paths (for a unit run here: no related path,
    above or below), so steps on one path always happen in plan order.
    """

    def __init__(self, context: StepContext, ledger: Ledger, workers: int) -> None:
        self.context = context
        self.ledger = ledger
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dirkit-copy")
        self.in_flight: dict[Future[list[StepDone]], set[RelPath]] = {}
        self.busy: dict[RelPath, int] = {}
        """How many units in flight touch each path."""
        self.batch: list[Unit] = []
        self.batch_paths: set[RelPath] = set()
        self.batch_bytes = 0
        self.handed_until = 0
        """Steps before this position were handed out (run, batched or recorded as skipped)."""

    def hand_out(self, unit: Unit) -> None:
        """Run unit here, or add it to the batch for the copy pool, once its paths are clear."""
        blocked = self.ledger.blocks(unit)
        paths = unit.paths
        parallel = unit.parallel and self.workers > 1
        if (not parallel and self._touches_batch(paths)) or not paths.isdisjoint(self.batch_paths):
            self.submit_batch()
        self._settle(lambda: self._clear_of(paths, parallel))
        if blocked:
            self.submit_batch()
            self._handed(unit.last_seq)
            why = "not done because an earlier step on it or above it failed"
            self.ledger.record(skipped_after_failure(unit.steps, why))
            return
        if parallel:
            self.batch.append(unit)
            self.batch_paths |= paths
            self.batch_bytes += unit.steps[-1][1].size
            if len(self.batch) >= BATCH_UNITS or self.batch_bytes >= BATCH_BYTES:
                self.submit_batch()
        else:
            self.ledger.record(run_unit(self.context, unit))
            self._handed(unit.last_seq)

    def _touches_batch(self, paths: set[RelPath]) -> bool:
        """Tell whether a unit run here touches a path of the batch, above or below (then it goes first).

        A unit unrelated to the batch (a folder made beside the files being batched) runs ahead of
        it: the order of steps on unrelated paths does not matter, and the batch keeps filling.
        """
        if not self.batch_paths:
            return False
        return any(_related(path, self.batch_paths) for path in paths)

    def drop_batch(self) -> None:
        """Record the batch, never handed out, as skipped (the run stops before it)."""
        for unit in self.batch:
            self.ledger.record(
                StepDone(seq, action, StepStatus.SKIPPED, None, None, 0) for seq, action in unit.steps
            )
        self.batch, self.batch_paths, self.batch_bytes = [], set(), 0

    def submit_batch(self) -> None:
        """Hand the batch of small copies to the pool (waiting while the pool has enough queued)."""
        if not self.batch:
            return
        self._settle(lambda: len(self.in_flight) < self.workers * 2)
        self.in_flight[self.pool.submit(run_units, self.context, self.batch)] = self.batch_paths
        for path in self.batch_paths:
            self.busy[path] = self.busy.get(path, 0) + 1
        self._handed(self.batch[-1].last_seq)
        self.batch, self.batch_paths, self.batch_bytes = [], set(), 0

    def finish(self) -> None:
        """Wait for every unit in flight and record its outcomes."""
        self._settle(lambda: False)

    def close(self) -> None:
        """Record what is still in flight, and the batch never handed out as skipped, and stop the pool."""
        try:
            if self.in_flight:
                self.finish()
        finally:
            self.pool.shutdown(wait=True)
            self.drop_batch()

    def _handed(self, seq: int) -> None:
        self.handed_until = max(self.handed_until, seq + 1)

    def _clear_of(self, paths: set[RelPath], parallel: bool) -> bool:
        if not self.busy:
            return True
        if parallel:
            return not any(path in self.busy for path in paths)
        return not any(_related(path, self.busy.keys()) for path in paths)

    def _settle(self, until: Callable[[], bool]) -> None:
        """Record finished units until the condition holds or nothing is in flight."""
        while self.in_flight and not until():
            finished, _ = wait(list(self.in_flight), timeout=SETTLE_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                for path in self.in_flight.pop(future):
                    self.busy[path] -= 1
                    if not self.busy[path]:
                        del self.busy[path]
                self.ledger.record(future.result())


def hand_out_all(plan: Plan, ledger: Ledger, dispatcher: Dispatcher, stop: threading.Event | None) -> bool:
    """Hand out every unit of plan in order, marking steps started ahead; return True if stopped."""
    actions = plan.actions
    for unit in units_of(actions):
        if stop is not None and stop.is_set():
            return True
        if ledger.stopped_by is not None:
            return False
        if unit.last_seq >= ledger.started_until:
            dispatcher.submit_batch()
            ledger.mark_started(
                min(len(actions), max(unit.last_seq + 1, ledger.started_until + JOURNAL_BATCH))
            )
        dispatcher.hand_out(unit)
    dispatcher.submit_batch()
    return False
