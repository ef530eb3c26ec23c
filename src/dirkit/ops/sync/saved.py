"""Saved sync plans: write one for review, and apply it later exactly, if both trees still fit it."""

from __future__ import annotations

from collections.abc import Callable

from dirkit.backends.protocol import Backend
from dirkit.core.sync.saved_plan import SavedSyncPlan, plan_checks, saved_sync_from_lines, stale_paths
from dirkit.core.tree.paths import display_path
from dirkit.errors import StalePlanError, UsageError
from dirkit.ops.run.execute import ExecuteOptions
from dirkit.ops.run.mirror import check_separate_trees
from dirkit.ops.sync.planning import SyncOptions, SyncPlanning, check_sync_options, plan_sync
from dirkit.ops.sync.run import SyncResult, claim_pair, execute_sync, refuse_if_guarded
from dirkit.state.journal import Journal


def read_saved_sync(path: str) -> SavedSyncPlan:
    """Return the sync plan saved in a file, or raise UsageError if it cannot be read or is not one."""
    try:
        with open(path, encoding="utf-8") as stream:
            return saved_sync_from_lines(stream)
    except OSError as error:
        raise UsageError(f"{path}: cannot read plan: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not a dirkit plan (not UTF-8 text)") from error
    except UsageError as error:
        raise UsageError(f"{path}: {error}") from error


def check_fits(saved: SavedSyncPlan, planning: SyncPlanning) -> None:
    """Raise StalePlanError naming the first path where a fresh plan differs from the saved one."""
    changed = stale_paths(saved.checks, plan_checks(planning.plan))
    if changed:
        where = f"{display_path(saved.a)} <-> {display_path(saved.b)}"
        more = f" (and {len(changed) - 1} more paths)" if len(changed) > 1 else ""
        raise StalePlanError(
            f"{where}: the sync plan is stale: {display_path(changed[0])} changed since the plan was made"
            f"{more}; nothing was changed (run the sync again)"
        )


def plan_saved_sync(
    saved: SavedSyncPlan, a: Backend, b: Backend, journal: Journal, options: SyncOptions
) -> SyncPlanning:
    """Plan the sync afresh as the saved plan was made, and return it if it is exactly the saved one."""
    planning = plan_sync(a, b, journal, options, saved.stamp)
    check_fits(saved, planning)
    return planning


def apply_saved_sync(
    saved: SavedSyncPlan,
    a: Backend,
    b: Backend,
    journal: Journal,
    options: SyncOptions,
    execute: ExecuteOptions | None = None,
    on_planned: Callable[[SyncPlanning], None] | None = None,
) -> SyncResult:
    """Run a saved sync plan exactly, holding both trees' locks; StalePlanError (nothing changed) if
    either tree, or the pair's base, no longer fits it; RefusedError if a guard objects."""
    check_sync_options(options)
    check_separate_trees(a, b)
    with claim_pair(journal, a, b) as claims:
        planning = plan_saved_sync(saved, a, b, journal, options)
        refuse_if_guarded(planning)
        if on_planned is not None:
            on_planned(planning)
        return execute_sync(planning, a, b, journal, claims, options, execute)
