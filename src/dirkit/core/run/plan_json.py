"""The JSON Lines form of a plan (what `--save-plan` writes and `apply` reads), and JSON of its parts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

from dirkit.core.run.plan import (
    Action,
    ActionKind,
    Fingerprint,
    JsonValue,
    Plan,
    PlanTotals,
    SkippedPath,
    make_plan,
)
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import rel_path
from dirkit.errors import UsageError

PLAN_FORMAT_VERSION = 1


def fingerprint_to_json(fingerprint: Fingerprint | None) -> JsonValue:
    """Return a fingerprint as a JSON object (null for 'absent')."""
    if fingerprint is None:
        return None
    data: dict[str, JsonValue] = {"kind": fingerprint.kind.value}
    for name in ("size", "mtime_ns", "mode", "target", "tree_digest"):
        value = getattr(fingerprint, name)
        if value is not None and not (name == "size" and value == 0):
            data[name] = value
    return data


def fingerprint_from_json(data: object) -> Fingerprint | None:
    """Return the fingerprint of a JSON object (None for null)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise UsageError(f"bad fingerprint in plan: {data!r}")
    return Fingerprint(
        EntryKind(data["kind"]),
        int(data.get("size", 0)),
        _optional_int(data.get("mtime_ns")),
        _optional_int(data.get("mode")),
        data.get("target"),
        data.get("tree_digest"),
    )


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise UsageError(f"expected an integer in plan, found {value!r}")
    return value


def action_to_json(action: Action) -> dict[str, JsonValue]:
    """Return an action as a JSON object (defaults left out)."""
    data: dict[str, JsonValue] = {"kind": action.kind.value, "path": action.path}
    if action.source_path is not None:
        data["source_path"] = action.source_path
    if action.size:
        data["size"] = action.size
    if action.mtime_ns is not None:
        data["mtime_ns"] = action.mtime_ns
    if action.mode is not None:
        data["mode"] = action.mode
    if action.link_target is not None:
        data["link_target"] = action.link_target
    data["expected"] = fingerprint_to_json(action.expected)
    if action.source_expected is not None:
        data["source_expected"] = fingerprint_to_json(action.source_expected)
    if action.optional:
        data["optional"] = True
    return data


def action_from_json(data: Mapping[str, object]) -> Action:
    """Return the action of a JSON object, or raise UsageError if it is malformed."""
    try:
        source = data.get("source_path")
        link_target = data.get("link_target")
        return Action(
            kind=ActionKind(data["kind"]),
            path=rel_path(str(data["path"])),
            source_path=rel_path(str(source)) if source is not None else None,
            size=int(str(data.get("size", 0))),
            mtime_ns=_optional_int(data.get("mtime_ns")),
            mode=_optional_int(data.get("mode")),
            link_target=str(link_target) if link_target is not None else None,
            expected=fingerprint_from_json(data.get("expected")),
            source_expected=fingerprint_from_json(data.get("source_expected")),
            optional=bool(data.get("optional", False)),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise UsageError(f"bad action in plan: {error}") from error


def totals_to_json(totals: PlanTotals) -> dict[str, JsonValue]:
    """Return totals as a JSON object."""
    return {name: getattr(totals, name) for name in PlanTotals.__slots__}


def plan_to_json_lines(plan: Plan) -> Iterator[str]:
    """Yield the plan as JSON Lines: a header, one line per action and skipped path, then the totals."""
    header: dict[str, JsonValue] = {
        "type": "plan",
        "format": PLAN_FORMAT_VERSION,
        "operation": plan.operation,
        "source": plan.source,
        "target": plan.target,
        "created": plan.created,
        "options": dict(plan.options),
    }
    yield json.dumps(header)
    for action in plan.actions:
        yield json.dumps({"type": "action", **action_to_json(action)})
    for skipped in plan.skipped:
        yield json.dumps({"type": "skipped", "path": skipped.path, "reason": skipped.reason})
    yield json.dumps({"type": "totals", **totals_to_json(plan.totals)})


def plan_from_json_lines(lines: Iterable[str]) -> Plan:
    """Return the plan written by plan_to_json_lines, or raise UsageError if the text is not one."""
    header: dict[str, object] | None = None
    actions: list[Action] = []
    skipped: list[SkippedPath] = []
    totals: dict[str, object] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise UsageError(f"line {number}: not JSON: {error}") from error
        if not isinstance(record, dict):
            raise UsageError(f"line {number}: expected a JSON object")
        kind = record.get("type")
        if kind == "plan":
            header = record
        elif kind == "action":
            actions.append(action_from_json(record))
        elif kind == "skipped":
            skipped.append(SkippedPath(rel_path(str(record["path"])), str(record.get("reason", ""))))
        elif kind == "totals":
            totals = record
        else:
            raise UsageError(f"line {number}: unknown record type {kind!r}")
    if header is None or totals is None:
        raise UsageError("not a dirkit plan: the header or totals line is missing")
    if header.get("format") != PLAN_FORMAT_VERSION:
        raise UsageError(f"unsupported plan format {header.get('format')!r}")
    options = header.get("options")
    deleted = totals.get("deleted_files", 0)
    source = header.get("source")
    return make_plan(
        operation=str(header.get("operation", "")),
        target=str(header.get("target", "")),
        actions=actions,
        source=str(source) if source is not None else None,
        skipped=skipped,
        options=options if isinstance(options, dict) else {},
        deleted_files=deleted if isinstance(deleted, int) else 0,
        created=str(header.get("created", "")),
    )
