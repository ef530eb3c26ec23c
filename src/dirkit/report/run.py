"""Runs and their backup folders as JSON records and text lines."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Protocol

from dirkit.core.run.plan import Plan
from dirkit.report.plan import human_bytes


class FailedItem(Protocol):
    """One step of a run that failed or was left alone (a conflict)."""

    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> enum.Enum: ...
    @property
    def reason(self) -> str: ...
    @property
    def conflict(self) -> bool: ...


class FinishedRun(Protocol):
    """What a run did, as the executor reports it."""

    @property
    def run_id(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def backup_dir(self) -> str: ...
    @property
    def plan(self) -> Plan: ...
    @property
    def steps_done(self) -> int: ...
    @property
    def files_copied(self) -> int: ...
    @property
    def bytes_copied(self) -> int: ...
    @property
    def failures(self) -> Sequence[FailedItem]: ...
    @property
    def conflicts(self) -> Sequence[FailedItem]: ...
    @property
    def interrupted(self) -> bool: ...
    @property
    def stopped_by(self) -> str | None: ...
    @property
    def seconds(self) -> float: ...
    @property
    def notes(self) -> Sequence[str]: ...


class JournaledRun(Protocol):
    """A run as the journal records it."""

    @property
    def operation(self) -> str: ...
    @property
    def status(self) -> enum.Enum: ...
    @property
    def started_at(self) -> str: ...


class BackupFolderView(Protocol):
    """One run's backup folder, measured, with the run the journal knows for it."""

    @property
    def run_id(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def files(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def exists(self) -> bool: ...
    @property
    def run(self) -> JournaledRun | None: ...


def run_json_lines(result: FinishedRun) -> list[str]:
    """Return a run's summary record, then one record per failed or left-alone item."""
    summary = {
        "type": "run",
        "run_id": result.run_id,
        "operation": result.operation,
        "target": result.target,
        "backup_dir": result.backup_dir,
        "steps_done": result.steps_done,
        "files_copied": result.files_copied,
        "bytes_copied": result.bytes_copied,
        "failures": len(result.failures),
        "conflicts": len(result.conflicts),
        "skipped": len(result.plan.skipped),
        "interrupted": result.interrupted,
        "stopped_by": result.stopped_by,
        "notes": list(result.notes),
        "seconds": round(result.seconds, 3),
    }
    failures = [
        {
            "type": "failure",
            "path": failure.path,
            "kind": failure.kind.value,
            "conflict": failure.conflict,
            "reason": failure.reason,
        }
        for failure in result.failures
    ]
    return [json.dumps(record) for record in (summary, *failures)]


def backup_folder_json(folder: BackupFolderView, pruned: bool) -> str:
    """Return one backup folder (and its run) as a JSON record."""
    run = folder.run
    return json.dumps(
        {
            "run_id": folder.run_id,
            "path": folder.path,
            "files": folder.files,
            "bytes": folder.bytes,
            "operation": run.operation if run else None,
            "status": run.status.value if run else None,
            "started_at": run.started_at if run else None,
            "pruned": pruned,
            "has_backups": folder.exists,
        }
    )


def backup_folder_text(folder: BackupFolderView, pruned: bool) -> str:
    """Return one backup folder (and its run) as a line of text."""
    run = folder.run
    what = f"{run.operation:<7} {run.status.value:<11} {run.started_at}" if run else "(not in the journal)"
    mark = "  pruned" if pruned else ""
    if not folder.exists:
        return f"{folder.run_id}  {what}  (no backups)"
    return f"{folder.run_id}  {what}  {folder.files} files  {human_bytes(folder.bytes)}{mark}"
