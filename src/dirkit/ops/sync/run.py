"""Running a sync: hold both trees' locks, plan, guard, then run side A's steps and side B's through the
one executor, each base row written in the transaction that marks its step done."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from dirkit.backends.protocol import Backend
from dirkit.core.sync.base import Side
from dirkit.core.sync.plan import Conflict
from dirkit.core.tree.paths import display_path
from dirkit.errors import RefusedError
from dirkit.ops.run.execute import ExecuteOptions, RunResult
from dirkit.ops.run.mirror import MirrorOptions, check_separate_trees, run_plan
from dirkit.ops.run.recovery import claim_tree, identify_tree
from dirkit.ops.sync.planning import (
    SyncOptions,
    SyncPlanning,
    base_changes_by_step,
    check_sync_options,
    plan_sync,
)
from dirkit.state.journal import Journal
from dirkit.state.sync_base import SyncJournal


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync did: its planning, and the run on each side (None: nothing to do there)."""

    planning: SyncPlanning
    a_run: RunResult | None
    b_run: RunResult | None

    def run_on(self, side: Side) -> RunResult | None:
        """Return the run on side."""
        return self.a_run if side is Side.A else self.b_run

    @property
    def runs(self) -> tuple[RunResult, ...]:
        """Return the runs that happened."""
        return tuple(run for run in (self.a_run, self.b_run) if run is not None)

    @property
    def conflicts(self) -> list[Conflict]:
        """Return the conflicts left alone (listed, neither side changed)."""
        return self.planning.plan.unresolved

    @property
    def interrupted(self) -> bool:
        """Tell whether a run was stopped by a signal."""
        return any(run.interrupted for run in self.runs)

    @property
    def in_step(self) -> bool:
        """Tell whether both sides are now in step: every step done and no conflict left."""
        return not self.conflicts and all(run.ok for run in self.runs)


@dataclass(frozen=True, slots=True)
class SyncClaims:
    """The run ids both sides' locks were taken for."""

    a_run_id: str
    b_run_id: str


@contextlib.contextmanager
def claim_pair(journal: Journal, a: Backend, b: Backend) -> Iterator[SyncClaims]:
    """Within the block, hold both trees' one-run locks, taken in a fixed order (no deadlock)."""
    a_key, b_key = identify_tree(a).key, identify_tree(b).key
    first, second = (a, b) if a_key <= b_key else (b, a)
    with claim_tree(journal, first, "sync") as one, claim_tree(journal, second, "sync") as two:
        yield SyncClaims(one.run_id, two.run_id) if first is a else SyncClaims(two.run_id, one.run_id)


def refuse_if_guarded(planning: SyncPlanning) -> None:
    """Raise RefusedError naming both sides and what would have happened, if a guard objects."""
    if planning.violations:
        where = f"{display_path(planning.a_plan.target)} <-> {display_path(planning.b_plan.target)}"
        raise RefusedError(f"{where}: refusing to sync: " + "; ".join(planning.violations))


def execute_sync(
    planning: SyncPlanning,
    a: Backend,
    b: Backend,
    journal: Journal,
    claims: SyncClaims,
    options: SyncOptions,
    execute: ExecuteOptions | None = None,
) -> SyncResult:
    """Run a sync plan: the settled base rows first, then side A's steps, then side B's.

    The base rows it changes are saved first, under the sync's id (side A's run id), for undo.
    """
    plan = planning.plan
    run_ids = [
        run_id
        for side, run_id in ((Side.A, claims.a_run_id), (Side.B, claims.b_run_id))
        if not planning.plan_on(side).is_empty
    ]
    changed = [change.path for change in plan.settled]
    changed.extend(change.path for step in (*plan.a_steps, *plan.b_steps) for change in step.base_changes)
    if run_ids or changed:  # a sync with nothing to do writes nothing
        planning.base.record_sync(claims.a_run_id, run_ids, changed)
    if plan.settled:
        planning.base.apply(plan.settled)
    keeper = SyncJournal(journal.connection, planning.base)
    mirror_options = MirrorOptions(jobs=options.jobs, keep_backups=options.keep_backups)
    runs: dict[Side, RunResult | None] = {Side.A: None, Side.B: None}
    for side, target, source, run_id in ((Side.A, a, b, claims.a_run_id), (Side.B, b, a, claims.b_run_id)):
        side_plan = planning.plan_on(side)
        if side_plan.is_empty:
            continue
        keeper.expect(run_id, base_changes_by_step(plan, side))
        chosen = replace(execute or ExecuteOptions(), run_id=run_id)
        result = run_plan(side_plan, source, target, keeper, mirror_options, chosen)
        runs[side] = result
        if result.interrupted or result.stopped_by is not None:
            break
    return SyncResult(planning, runs[Side.A], runs[Side.B])


def sync_trees(
    a: Backend,
    b: Backend,
    journal: Journal,
    options: SyncOptions | None = None,
    execute: ExecuteOptions | None = None,
    on_planned: Callable[[SyncPlanning], None] | None = None,
) -> SyncResult:
    """Bring two trees in step: lock both, plan, guard, execute on both sides.

    RefusedError if another run holds either tree, or a guard objects (nothing is changed then).
    """
    chosen = options or SyncOptions()
    check_sync_options(chosen)
    check_separate_trees(a, b)
    with claim_pair(journal, a, b) as claims:
        planning = plan_sync(a, b, journal, chosen)
        refuse_if_guarded(planning)
        if on_planned is not None:
            on_planned(planning)
        return execute_sync(planning, a, b, journal, claims, chosen, execute)
