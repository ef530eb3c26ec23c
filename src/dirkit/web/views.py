"""The JSON endpoints: start a compare, a plan, an apply, an undo or a restore; list runs and backups."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence

from dirkit.backends.protocol import Backend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import Plan
from dirkit.core.run.plan_json import action_to_json, totals_to_json
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import rel_path
from dirkit.errors import UsageError
from dirkit.ops.compare.capped_diffs import capped_text_diffs
from dirkit.ops.compare.trees import CompareOptions, compare_trees
from dirkit.ops.run.backups import list_backup_folders
from dirkit.ops.run.execute import ExecuteOptions, RunResult, require_own_folders
from dirkit.ops.run.mirror import MirrorOptions, apply_saved_plan, plan_mirror_trees
from dirkit.ops.run.restore import find_run, restore_file
from dirkit.ops.run.undo import undo_run
from dirkit.ops.sync.undo import sync_runs_of, undo_sync
from dirkit.report.compare import summary_line
from dirkit.report.html import render_html, shown_path
from dirkit.report.plan import describe_action, totals_line
from dirkit.report.run import backup_folder_json, run_json_lines
from dirkit.report.sync import direction
from dirkit.state.journal import Journal
from dirkit.web.jobs import Job, JsonObject
from dirkit.web.workspace import StoredPlan, Workspace

MAX_BACKUP_FILES = 5000
"""Files of one backup folder listed on the page."""
MAX_STEPS_PER_PAGE = 500
"""Steps of a plan sent to the page at a time."""
MAX_SKIPPED_SHOWN = 1000
RUN_ID = re.compile(r"[0-9A-Za-z.:-]{1,80}")


@contextlib.contextmanager
def opened(backend: Backend) -> Iterator[Backend]:
    """Within the block, use backend; close it after."""
    try:
        yield backend
    finally:
        backend.close()


@contextlib.contextmanager
def journal_open() -> Iterator[Journal]:
    """Within the block, use the state database (one connection per thread: sqlite's rule)."""
    journal = Journal.open()
    try:
        yield journal
    finally:
        journal.close()


def start_compare(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start comparing two trees; the result names the report page of the compare."""
    left_location = space.location(body.get("left"), "left tree")
    right_location = space.location(body.get("right"), "right tree")

    def work(job: Job) -> JsonObject:
        from dirkit.report.html_rows import compare_report

        with opened(space.open_tree(left_location)) as left, opened(space.open_tree(right_location)) as right:
            diff = compare_trees(left, right, CompareOptions(keep_same=False))
            report = compare_report(
                diff, left.description, right.description, capped_text_diffs(left, right, diff)
            )
            page = space.scrub(render_html(report))
        return {"report": space.reports.add(page), "summary": summary_line(diff), "paths": len(report.rows)}

    return space.jobs.start("compare", work).to_json()


def plan_json(plan: Plan, violations: tuple[str, ...] = ()) -> JsonObject:
    """Return a plan's header as the page reviews it: totals, steps per kind, skipped paths, guard verdicts.

    The steps themselves come a page at a time from plan_steps (a plan can have 100k of them).
    """
    kinds: dict[str, int] = {}
    for action in plan.actions:
        kinds[action.kind.value] = kinds.get(action.kind.value, 0) + 1
    return {
        "operation": plan.operation,
        "source": shown_path(plan.source or ""),
        "target": shown_path(plan.target),
        "totals": totals_to_json(plan.totals),
        "summary": totals_line(plan.totals),
        "kinds": kinds,
        "skipped": [{"path": item.path, "reason": item.reason} for item in plan.skipped[:MAX_SKIPPED_SHOWN]],
        "skipped_count": len(plan.skipped),
        "violations": list(violations),
    }


def plan_steps(space: Workspace, query: Mapping[str, str]) -> JsonObject:
    """Return the steps of a plan from offset on (hidden kinds left out): JSON records with descriptions."""
    stored = space.plans.get(query.get("plan", ""))
    if stored is None:
        raise UsageError(
            f"{query.get('plan')}: no such plan (plans are kept until a few newer ones are made)"
        )
    try:
        offset = max(0, int(query.get("offset", "0")))
        limit = min(MAX_STEPS_PER_PAGE, max(1, int(query.get("limit", str(MAX_STEPS_PER_PAGE)))))
    except ValueError as error:
        raise UsageError("offset and limit must be whole numbers") from error
    hidden = set(filter(None, query.get("hide", "").split(",")))
    reviewed = stored.reviewed_steps()
    steps: list[JsonObject] = []
    index = offset
    while index < len(reviewed) and len(steps) < limit:
        side, action = reviewed[index]
        if action.kind.value not in hidden:
            step: JsonObject = {"index": index, **action_to_json(action), "text": describe_action(action)}
            if side is not None:
                step.update(side=side.value, direction=direction(side, action.kind).strip())
            steps.append(step)
        index += 1
    remaining = sum(1 for _, action in reviewed[index:] if action.kind.value not in hidden)
    return {"steps": steps, "next": index if remaining else None, "remaining": remaining}


def start_plan(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start planning a mirror of the left tree onto the right one; the result is the plan to review."""
    source_location = space.location(body.get("left"), "left tree")
    target_location = space.location(body.get("right"), "right tree")
    options = MirrorOptions(delete=body.get("delete", True) is not False)

    def work(job: Job) -> JsonObject:
        with (
            opened(space.open_tree(source_location)) as source,
            opened(space.open_target(target_location, create=False)) as target,
        ):
            planning = plan_mirror_trees(source, target, options)
        stored = StoredPlan(planning.plan, source_location, target_location)
        return {"plan_id": space.plans.add(stored), **plan_json(planning.plan, planning.violations)}

    return space.jobs.start("plan", work).to_json()


def run_json(result: RunResult) -> JsonObject:
    """Return a finished run as the page shows it: the summary record and the failed items."""
    records = [json.loads(line) for line in run_json_lines(result)]
    return {**records[0], "failed": records[1:]}


def execute_options(job: Job) -> ExecuteOptions:
    """Return execute options that report to job and stop when the server stops."""
    return ExecuteOptions(stop=job.stop, on_progress=job.on_progress)


def finished(job: Job, result: RunResult) -> JsonObject:
    """Return a run's result, its progress at the end (100% when every step ran)."""
    if not result.interrupted and result.stopped_by is None:
        job.progress.done = job.progress.total = max(job.progress.total, result.plan.totals.actions)
    return run_json(result)


def runs_finished(job: Job, results: Sequence[RunResult]) -> JsonObject:
    """Return the runs of a sync or of its undo as one: summed counts, each run, every failed item."""
    shown = [finished(job, result) for result in results]
    if not shown:
        return {"run_id": None, "failed": [], "runs": []}
    counted = ("steps_done", "files_copied", "bytes_copied", "failures", "conflicts")
    total: JsonObject = {**shown[0], "run_id": " + ".join(str(run["run_id"]) for run in shown)}
    for name in counted:
        total[name] = sum(int(str(run[name])) for run in shown)
    total["failed"] = [item for run in shown for item in run["failed"]]  # type: ignore[attr-defined]
    return {**total, "runs": shown}


def start_apply(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start applying a reviewed plan exactly (refused, changing nothing, if the trees changed since)."""
    plan_id = body.get("plan")
    stored = space.plans.get(plan_id) if isinstance(plan_id, str) else None
    if not isinstance(stored, StoredPlan):
        raise UsageError(f"{plan_id}: no such mirror plan (plans are kept until a few newer ones are made)")
    guards = GuardOptions(force=body.get("force") is True)

    def work(job: Job) -> JsonObject:
        with (
            opened(space.open_tree(stored.source)) as source,
            opened(space.open_target(stored.target, create=True)) as target,
            journal_open() as journal,
        ):
            result = apply_saved_plan(
                stored.plan, source, target, journal, guards, execute=execute_options(job)
            )
        return finished(job, result)

    return space.jobs.start("apply", work, stoppable=True).to_json()


def run_id_from(value: object) -> str:
    """Return a run id the page sent, or raise UsageError."""
    if not isinstance(value, str) or RUN_ID.fullmatch(value) is None:
        raise UsageError(f"{value}: not a run id")
    return value


def start_undo(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start undoing a run on a tree (the last one without a run id)."""
    location = space.location(body.get("tree"), "tree")
    run_id = None if body.get("run") in (None, "") else run_id_from(body.get("run"))

    def work(job: Job) -> JsonObject:
        with opened(space.open_tree(location)) as target, journal_open() as journal:
            if sync_runs_of(journal, target, run_id) is None:
                return finished(job, undo_run(journal, target, run_id, execute_options(job)))
            results = undo_sync(journal, target, run_id, space.open_tree, execute_options(job))
        return runs_finished(job, results)

    return space.jobs.start("undo", work, stoppable=True).to_json()


def start_restore(space: Workspace, body: Mapping[str, object]) -> JsonObject:
    """Start restoring one file from the backups of a run on a tree."""
    location = space.location(body.get("tree"), "tree")
    run_id = run_id_from(body.get("run"))
    path = body.get("path")
    if not isinstance(path, str):
        raise UsageError("path: name the file to restore")
    chosen = rel_path(path)

    def work(job: Job) -> JsonObject:
        with opened(space.open_tree(location)) as target, journal_open() as journal:
            return finished(job, restore_file(journal, target, run_id, chosen, execute_options(job)))

    return space.jobs.start("restore", work, stoppable=True).to_json()


def list_runs(space: Workspace, query: Mapping[str, str]) -> JsonObject:
    """Return the runs on a tree, oldest first, with what their backup folders hold (as `dirkit backups`)."""
    location = space.location(query.get("tree"), "tree")
    with opened(space.open_tree(location)) as target, journal_open() as journal:
        folders = list_backup_folders(target, journal, every_run=True)
        where = target.description
    runs = [json.loads(backup_folder_json(folder, pruned=False)) for folder in folders]
    return {"tree": shown_path(where), "runs": runs}


def list_backup_files(space: Workspace, query: Mapping[str, str]) -> JsonObject:
    """Return the files kept in the backup folder of one run (links are listed as such, never followed)."""
    location = space.location(query.get("tree"), "tree")
    run_id = run_id_from(query.get("run"))
    with opened(space.open_tree(location)) as target, journal_open() as journal:
        run = find_run(journal, target, run_id)
        folders = {folder.run_id: folder for folder in list_backup_folders(target, journal, measure=False)}
        files: list[JsonObject] = []
        folder = folders.get(run_id)
        stack = []
        if folder is not None:
            require_own_folders(target, folder.path)
            stack.append(folder.path)
        cut = len(folder.path) + 1 if folder is not None else 0
        truncated = False
        while stack and not truncated:
            for entry in sorted(target.list_dir(stack.pop()), key=lambda item: item.path, reverse=True):
                if entry.kind is EntryKind.DIR:
                    stack.append(entry.path)
                    continue
                if len(files) >= MAX_BACKUP_FILES:
                    truncated = True
                    break
                files.append(
                    {
                        "path": entry.path[cut:],
                        "kind": entry.kind.value,
                        "size": entry.size,
                        "mtime_ns": entry.mtime_ns,
                    }
                )
    files.sort(key=lambda item: str(item["path"]))
    return {"run_id": run_id, "operation": run.operation, "files": files, "truncated": truncated}
