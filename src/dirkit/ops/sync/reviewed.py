"""Applying a sync plan a person reviewed: lock both trees, plan again, and run it only if nothing changed."""

from __future__ import annotations

import re
from dataclasses import replace

from dirkit.backends.protocol import Backend
from dirkit.core.sync.plan import SyncPlan
from dirkit.core.tree.paths import display_path
from dirkit.errors import StalePlanError
from dirkit.ops.run.execute import ExecuteOptions
from dirkit.ops.run.mirror import check_separate_trees
from dirkit.ops.sync.planning import SyncOptions, SyncPlanning, check_sync_options, plan_sync
from dirkit.ops.sync.run import SyncResult, claim_pair, execute_sync, refuse_if_guarded
from dirkit.state.journal import Journal

CONFLICT_STAMP = re.compile(r"\.conflict-([AB])-\d{8}-\d{6}")
"""The date and time in kept conflict copies' names (the one part of a plan that moves with the clock)."""


def same_sync_plan(reviewed: SyncPlan, fresh: SyncPlan) -> bool:
    """Tell whether two sync plans do the same, step by step (kept copies' name stamps aside)."""
    if reviewed == fresh:
        return True
    return CONFLICT_STAMP.sub(r".conflict-\1", repr(reviewed)) == CONFLICT_STAMP.sub(
        r".conflict-\1", repr(fresh)
    )


def apply_reviewed_sync(
    reviewed: SyncPlanning,
    a: Backend,
    b: Backend,
    journal: Journal,
    options: SyncOptions,
    execute: ExecuteOptions | None = None,
) -> SyncResult:
    """Run exactly the reviewed sync plan on both sides, under both trees' locks, as `dirkit sync` does.

    Both sides are planned again under the locks: StalePlanError (nothing changed) if that plan differs
    from the reviewed one, RefusedError if a guard objects or another run holds either tree.
    """
    check_sync_options(options)
    check_separate_trees(a, b)
    with claim_pair(journal, a, b) as claims:
        fresh = plan_sync(a, b, journal, options)
        if not same_sync_plan(reviewed.plan, fresh.plan):
            where = f"{display_path(fresh.a_plan.target)} <-> {display_path(fresh.b_plan.target)}"
            raise StalePlanError(
                f"{where}: refusing to apply a stale sync plan: the trees changed since it was reviewed "
                f"(nothing was changed; plan the sync again)"
            )
        refuse_if_guarded(fresh)
        exact = replace(fresh, plan=reviewed.plan, a_plan=reviewed.a_plan, b_plan=reviewed.b_plan)
        return execute_sync(exact, a, b, journal, claims, options, execute)
