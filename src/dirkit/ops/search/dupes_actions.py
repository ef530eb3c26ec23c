"""Carry out dupes --link/--remove: one journaled, undoable run per root, through the executor."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence

from dirkit.backends.local_files import local_files, paths_overlap
from dirkit.backends.protocol import Backend
from dirkit.core.run.plan import Action, ActionKind, Plan, SkippedPath, entry_matches, make_plan
from dirkit.core.search.dupes import DupeAction, DupeGroup, KeepRule
from dirkit.core.search.dupes_plan import plan_dupe_runs
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import ROOT, RelPath, display_path
from dirkit.errors import NotFoundError, UsageError
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import ExecuteOptions, RunResult
from dirkit.ops.run.mirror import MirrorOptions, run_plan
from dirkit.ops.run.recovery import TreeClaim, claim_tree
from dirkit.state.journal import Journal


def check_separate_roots(backends: Sequence[Backend]) -> None:
    """Raise UsageError if a root is given twice or lies inside another (their runs would overlap)."""
    reals: list[tuple[str, str]] = []
    for backend in backends:
        local = local_files(backend)
        if local is None:
            raise UsageError(f"{backend.description}: --link and --remove work on local trees only")
        reals.append((local.os_path(ROOT), local.real_root()))
    for index, (shown, real) in enumerate(reals):
        for other_shown, other in reals[index + 1 :]:
            if paths_overlap(real, other):
                raise UsageError(
                    f"{display_path(other_shown)}: overlaps root {display_path(shown)}; give --link or "
                    "--remove separate roots (each root gets its own undoable run)"
                )


@contextlib.contextmanager
def claim_roots(journal: Journal, backends: Sequence[Backend], operation: str) -> Iterator[list[TreeClaim]]:
    """Within the block, hold the one-run lock of every root (refusing if a live run works on one)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(claim_tree(journal, backend, operation)) for backend in backends]


def plan_dupe_actions_per_root(
    groups: Sequence[DupeGroup], action: DupeAction, rule: KeepRule, backends: Sequence[Backend]
) -> list[tuple[int, Plan]]:
    """Return (root index, plan) for each root where the duplicates are to be linked or removed."""
    roots = [backend.description for backend in backends]
    return plan_dupe_runs(groups, action, rule, roots, created=utc_now())


def drop_changed_keepers(plan: Plan, backend: Backend) -> Plan:
    """Return plan without the duplicates whose kept file changed since the search (they are skipped).

    The executor checks the kept file again when it links, but only after the duplicate went to the
    backups; checking first keeps the duplicate in place when the link could not be made.
    """
    dropped: set[RelPath] = set()
    for action in plan.actions:
        if action.kind is not ActionKind.HARD_LINK or action.source_expected is None:
            continue
        if not entry_matches(action.source_expected, _stat_kept(action, backend)):
            dropped.add(action.path)
    if not dropped:
        return plan
    kept_actions = [action for action in plan.actions if action.path not in dropped]
    skipped = list(plan.skipped) + [
        SkippedPath(path, "the kept file changed or went away since the search; left alone")
        for path in sorted(dropped)
    ]
    return make_plan(
        plan.operation,
        plan.target,
        kept_actions,
        skipped=skipped,
        options=plan.options,
        created=plan.created,
    )


def _stat_kept(action: Action, backend: Backend) -> Entry | None:
    """Return what the kept file of a HARD_LINK action is now (None if it is gone)."""
    try:
        if action.link_target is not None:
            local = local_files(backend)
            if local is None:
                return None
            return local.stat_os_path(action.link_target)
        if action.source_path is None:
            return None
        return backend.stat(action.source_path)
    except NotFoundError:
        return None


def run_dupe_plans(
    plans: Sequence[tuple[int, Plan]],
    backends: Sequence[Backend],
    journal: Journal,
    jobs: int,
    execute: ExecuteOptions | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    claims: Sequence[TreeClaim] = (),
) -> list[RunResult]:
    """Execute each root's plan as its own run; stop after a run that was interrupted or stopped.

    claims (one per root, from claim_roots) give each root's run its id.
    """
    results: list[RunResult] = []
    options = MirrorOptions(jobs=jobs)
    for index, plan in plans:
        if execute is not None and execute.stop is not None and execute.stop.is_set():
            break
        backend = backends[index]
        chosen = execute
        if claims:
            chosen = dataclasses.replace(execute or ExecuteOptions(), run_id=claims[index].run_id)
        result = run_plan(drop_changed_keepers(plan, backend), None, backend, journal, options, chosen)
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
    with claim_roots(journal, backends, action.value) as claims:
        plans = plan_dupe_actions_per_root(groups, action, rule, backends)
        return run_dupe_plans(plans, backends, journal, jobs, execute, claims=claims)
