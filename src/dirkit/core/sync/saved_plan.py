"""A saved sync plan: a header naming both trees, the options and the stamp, and one check per step.

`dirkit sync --save-plan FILE` writes the plan's review records (read by people) between a
`sync_plan` header and `check` records (read by `dirkit apply`): each check is the canonical text of
one step (its side, its action with the fingerprints it expects, the base rows it brings), of a
settled base row, or of a conflict. Applying plans the sync afresh from both trees and the base and
runs it only if its checks are exactly the saved ones; otherwise the paths whose checks differ are
the ones that changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from dirkit.core.run.plan import JsonValue
from dirkit.core.run.plan_json import action_to_json
from dirkit.core.sync.base import Side
from dirkit.core.sync.plan import BaseChange, SyncPlan
from dirkit.core.tree.paths import RelPath, rel_path, sort_key
from dirkit.errors import UsageError

SYNC_PLAN_FORMAT = 1
SYNC_PLAN_TYPE = "sync_plan"

Check = tuple[RelPath, str]
"""The path a check is about, and its canonical text."""


@dataclass(frozen=True, slots=True)
class SavedSyncPlan:
    """What a saved sync plan file holds: both trees, the options, the conflict stamp, the checks."""

    a: str
    b: str
    options: Mapping[str, JsonValue]
    stamp: str
    checks: tuple[Check, ...]


def _base_change_json(change: BaseChange) -> JsonValue:
    entry = change.entry
    row: JsonValue = None
    if entry is not None:
        row = [entry.kind.value, entry.size, entry.a_mtime_ns, entry.a_mode, entry.b_mtime_ns, entry.b_mode]
        row.extend([entry.target, entry.digest])
    return {"path": change.path, "entry": row, "fill": None if change.fill is None else change.fill.value}


def plan_checks(plan: SyncPlan) -> list[Check]:
    """Return the canonical checks of a sync plan, in its order."""
    checks: list[Check] = []
    for side in Side:
        for step in plan.steps_on(side):
            record = {
                "side": side.value,
                "action": action_to_json(step.action),
                "base": [_base_change_json(change) for change in step.base_changes],
            }
            checks.append((step.action.path, json.dumps(record, sort_keys=True)))
    for change in plan.settled:
        checks.append((change.path, json.dumps({"settled": _base_change_json(change)}, sort_keys=True)))
    for conflict in plan.conflicts:
        listed: dict[str, JsonValue] = {
            "conflict": conflict.path,
            "a": conflict.a_change.value,
            "b": conflict.b_change.value,
            "resolution": conflict.resolution.value,
            "reason": conflict.reason,
            "kept_as": conflict.kept_as,
        }
        checks.append((conflict.path, json.dumps(listed, sort_keys=True)))
    return checks


def header_line(a: str, b: str, options: Mapping[str, JsonValue], stamp: str) -> str:
    """Return the first line of a saved sync plan."""
    header = {"type": SYNC_PLAN_TYPE, "format": SYNC_PLAN_FORMAT, "a": a, "b": b}
    return json.dumps({**header, "options": dict(options), "stamp": stamp})


def check_lines(plan: SyncPlan) -> Iterator[str]:
    """Yield the check records of a plan (after its review records)."""
    for path, text in plan_checks(plan):
        yield json.dumps({"type": "check", "path": path, "check": text})


def is_sync_plan_header(line: str) -> bool:
    """Tell whether a file's first line is a saved sync plan's header."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("type") == SYNC_PLAN_TYPE


def saved_sync_from_lines(lines: Iterable[str]) -> SavedSyncPlan:
    """Return the saved sync plan in lines, or raise UsageError if they are not one."""
    header: dict[str, object] | None = None
    checks: list[Check] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise UsageError(f"line {number}: not JSON: {error}") from error
        if not isinstance(record, dict):
            raise UsageError(f"line {number}: not a record")
        if header is None:
            if record.get("type") != SYNC_PLAN_TYPE:
                raise UsageError("not a saved sync plan (no sync_plan header)")
            if record.get("format") != SYNC_PLAN_FORMAT:
                raise UsageError(f"sync plan format {record.get('format')!r} is not supported")
            header = record
        elif record.get("type") == "check":
            path, text = record.get("path"), record.get("check")
            if not isinstance(path, str) or not isinstance(text, str):
                raise UsageError(f"line {number}: bad check record")
            checks.append((rel_path(path), text))
    if header is None:
        raise UsageError("empty file, not a saved sync plan")
    a, b, options, stamp = header.get("a"), header.get("b"), header.get("options"), header.get("stamp")
    if not isinstance(a, str) or not isinstance(b, str) or not isinstance(stamp, str):
        raise UsageError("bad sync_plan header: a, b and stamp must be strings")
    if not isinstance(options, dict):
        raise UsageError("bad sync_plan header: options must be an object")
    return SavedSyncPlan(a, b, options, stamp, tuple(checks))


def stale_paths(saved: Iterable[Check], fresh: Iterable[Check]) -> list[RelPath]:
    """Return the paths whose checks differ between a saved plan and a fresh one.

    Paths the saved plan acts on come first (in component order), then paths only the fresh plan has.
    """
    saved_set, fresh_set = set(saved), set(fresh)
    planned = {path for path, _ in saved_set}
    paths = {path for path, _ in saved_set ^ fresh_set}
    return sorted(paths, key=lambda path: (path not in planned, sort_key(path)))
