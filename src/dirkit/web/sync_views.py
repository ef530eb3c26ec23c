"""The JSON endpoints of two-way sync: plan a sync of the two trees, then apply exactly that plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dirkit.core.run.guards import GuardOptions
from dirkit.core.sync.base import Side
from dirkit.core.sync.plan import Prefer
from dirkit.errors import UsageError
from dirkit.ops.run.execute import ExecuteOptions
from dirkit.ops.run.outcomes import Progress
from dirkit.ops.sync.planning import SyncOptions, SyncPlanning, plan_sync
from dirkit.ops.sync.reviewed import apply_reviewed_sync
from dirkit.report.html import shown_path
from dirkit.report.sync import summary_line
from dirkit.web.jobs import Job, JobProgress, JsonObject
from dirkit.web.views import MAX_SKIPPED_SHOWN, journal_open, opened, runs_finished
from dirkit.web.workspace import StoredSync, Workspace

PREFER_CHOICES = {
    "": Prefer.NONE,
    "A": Prefer.A,
    "B": Prefer.B,
    "newer": Prefer.NEWER,
    "older": Prefer.OLDER,
    "larger": Prefer.LARGER,
}
"""The conflict policies the page offers, as `dirkit sync --prefer` names them ("": leave conflicts)."""


def sync_options_from(body: Mapping[str, object], force: bool = False) -> SyncOptions:
    """Return the sync options the page chose (conflict policy, keep both), or raise UsageError."""
    prefer = body.get("prefer") or ""
    if not isinstance(prefer, str) or prefer not in PREFER_CHOICES:
        raise UsageError(f"prefer: {prefer}: choose one of A, B, newer, older, larger, or none")
    return SyncOptions(
        prefer=PREFER_CHOICES[prefer],
        keep_both=body.get("keep_both") is True,
        guards=GuardOptions(force=force),
    )


def sync_plan_json(planning: SyncPlanning) -> JsonObject:
    """Return a sync plan's header as the page reviews it: counts per side, conflicts, guard verdicts."""
    plan = planning.plan
    kinds: dict[str, int] = {}
    for side in Side:
        for step in plan.steps_on(side):
            kinds[step.action.kind.value] = kinds.get(step.action.kind.value, 0) + 1
    conflicts = [
        {
            "path": item.path,
            "a": item.a_change.value,
            "b": item.b_change.value,
            "resolution": item.resolution.value,
            "reason": item.reason,
            "kept_as": item.kept_as,
        }
        for item in plan.conflicts[:MAX_SKIPPED_SHOWN]
    ]
    return {
        "operation": "sync",
        "source": shown_path(planning.a_plan.target),
        "target": shown_path(planning.b_plan.target),
        "totals": {"actions": len(plan.a_steps) + len(plan.b_steps)},
        "steps_on": {"A": len(plan.a_steps), "B": len(plan.b_steps)},
        "summary": summary_line(plan),
        "kinds": kinds,
        "conflicts": conflicts,
        "conflict_count": len(plan.conflicts),
        "unresolved": len(plan.unresolved),
        "first_sync": planning.first_sync,
        "skipped": [{"path": item.path, "reason": item.reason} for item in plan.skipped[:MAX_SKIPPED_SHOWN]],
        "skipped_count": len(plan.skipped),
        "violations": list(planning.violations),
    }


def start_sync_plan(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start planning a sync of the two trees (left is A, right is B); the result is the plan to review."""
    a_location = space.location(body.get("left"), "left tree")
    b_location = space.location(body.get("right"), "right tree")
    options = sync_options_from(body)

    def work(job: Job) -> JsonObject:
        with (
            opened(space.open_tree(a_location)) as a,
            opened(space.open_target(b_location, create=False)) as b,
            journal_open() as journal,
        ):
            planning = plan_sync(a, b, journal, options)
        stored = StoredSync(planning, a_location, b_location, options)
        return {"plan_id": space.plans.add(stored), **sync_plan_json(planning)}

    return space.jobs.start("sync-plan", work).to_json()


@dataclass(slots=True)
class SyncProgress:
    """Turns the progress of side A's run, then side B's, into one bar over both sides' steps."""

    job: Job
    a_steps: int
    b_steps: int
    a_done: bool = False

    def __call__(self, progress: Progress) -> None:
        """Take one run's progress report (side A's run comes first, when it has steps)."""
        before = self.a_steps if self.a_done or self.a_steps == 0 else 0
        total = self.a_steps + self.b_steps
        self.job.progress = JobProgress(
            before + progress.actions_done, total, progress.bytes_done, progress.bytes_total, progress.seconds
        )
        if before == 0 and self.a_steps and progress.actions_done >= progress.actions_total:
            self.a_done = True


def start_sync_apply(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start applying a reviewed sync plan on both sides (refused, changing nothing, if a tree changed)."""
    plan_id = body.get("plan")
    stored = space.plans.get(plan_id) if isinstance(plan_id, str) else None
    if not isinstance(stored, StoredSync):
        raise UsageError(f"{plan_id}: no such sync plan (plans are kept until a few newer ones are made)")
    options = SyncOptions(
        prefer=stored.options.prefer,
        keep_both=stored.options.keep_both,
        guards=GuardOptions(force=body.get("force") is True),
    )
    plan = stored.planning.plan

    def work(job: Job) -> JsonObject:
        progress = SyncProgress(job, len(plan.a_steps), len(plan.b_steps))
        execute = ExecuteOptions(stop=job.stop, on_progress=progress)
        with (
            opened(space.open_tree(stored.a)) as a,
            opened(space.open_target(stored.b, create=True)) as b,
            journal_open() as journal,
        ):
            result = apply_reviewed_sync(stored.planning, a, b, journal, options, execute)
        shown = runs_finished(job, result.runs)
        if not result.interrupted and all(run.stopped_by is None for run in result.runs):
            job.progress.done = job.progress.total = max(
                job.progress.total, progress.a_steps + progress.b_steps
            )
        return {**shown, "operation": "sync", "conflicts_left": len(result.conflicts)}

    return space.jobs.start("sync-apply", work, stoppable=True).to_json()
