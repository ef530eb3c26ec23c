"""Carry out dupes --link/--remove: one journaled, undoable run per root, through the executor."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from dirkit.backends.protocol import Backend
from dirkit.core.dupes import DupeAction, DupeGroup, KeepRule
from dirkit.core.dupes_plan import plan_dupe_runs
from dirkit.core.paths import ROOT, display_path
from dirkit.core.plan import Plan
from dirkit.errors import UsageError
from dirkit.ops.execute import ExecuteOptions, RunResult, utc_now
from dirkit.ops.mirror import MirrorOptions, run_plan
from dirkit.ops.recovery import recover_target
from dirkit.state.journal import Journal


def check_separate_roots(backends: Sequence[Backend]) -> None:
    """Raise UsageError if a root is given twice or lies inside another (their runs would overlap)."""
    reals: list[tuple[str, str]] = []
    for backend in backends:
        native = backend.native_path(ROOT)
        if native is None:
            raise UsageError(f"{backend.description}: --link and --remove work on local trees only")
        reals.append((native, os.path.realpath(native)))
    for index, (shown, real) in enumerate(reals):
        for other_shown, other in reals[index + 1 :]:
            if os.path.commonpath([real, other]) in (real, other):
                raise UsageError(
                    f"{display_path(other_shown)}: overlaps root {display_path(shown)}; give --link or "
                    "--remove separate roots (each root gets its own undoable run)"
                )


def recover_roots(journal: Journal, backends: Sequence[Backend]) -> None:
    """Mark dead runs on every root interrupted (refusing if a live run works on one)."""
    for backend in backends:
        recover_target(journal, backend)


def plan_dupe_actions_per_root(
    groups: Sequence[DupeGroup], action: DupeAction, rule: KeepRule, backends: Sequence[Backend]
) -> list[tuple[int, Plan]]:
    """Return (root index, plan) for each root where the duplicates are to be linked or removed."""
    roots = [backend.description for backend in backends]
    return plan_dupe_runs(groups, action, rule, roots, created=utc_now())


def run_dupe_plans(
    plans: Sequence[tuple[int, Plan]],
    backends: Sequence[Backend],
    journal: Journal,
    jobs: int,
    execute: ExecuteOptions | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Execute each root's plan as its own run; stop after a run that was interrupted or stopped."""
    results: list[RunResult] = []
    options = MirrorOptions(jobs=jobs)
    for index, plan in plans:
        if execute is not None and execute.stop is not None and execute.stop.is_set():
            break
        result = run_plan(plan, None, backends[index], journal, options, execute)
        results.append(result)
        if on_result is not None:
            on_result(result)
        if result.interrupted or result.stopped_by is not None:
            break
    return results


def link_and_remove_duplicates(
    groups: Sequence[DupeGroup],
    action: DupeAction,
    rule: KeepRule,
    backends: Sequence[Backend],
    journal: Journal,
    jobs: int = 8,
    execute: ExecuteOptions | None = None,
) -> list[RunResult]:
    """Link or remove the duplicates of groups found in backends, one undoable run per root."""
    check_separate_roots(backends)
    recover_roots(journal, backends)
    plans = plan_dupe_actions_per_root(groups, action, rule, backends)
    return run_dupe_plans(plans, backends, journal, jobs, execute)
