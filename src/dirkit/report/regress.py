"""Render regression results: one line per case, failure details with diffs, a summary, JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from dirkit.core.compare.diff import Change, Status
from dirkit.core.regress.verdict import CaseResult, SuiteSummary, Verdict
from dirkit.core.tree.paths import display_path
from dirkit.report.compare import explain_change
from dirkit.report.entries import change_to_json
from dirkit.report.style import Style

VERDICT_COLOURS = {
    Verdict.PASSED: "green",
    Verdict.FAILED: "red",
    Verdict.NEW: "yellow",
    Verdict.ERROR: "magenta",
    Verdict.TIMEOUT: "red",
}
TREE_MARKS = {
    Status.RIGHT_ONLY: ("+", "added"),
    Status.LEFT_ONLY: ("-", "removed"),
    Status.CHANGED: ("M", "changed"),
    Status.TYPE_CHANGED: ("T", "type changed"),
    Status.ERROR: ("!", "unreadable"),
    Status.MOVED: ("R", "moved"),
    Status.SAME: ("=", "same"),
}


def case_line(result: CaseResult, style: Style) -> str:
    """Return the one line of a case: its verdict, its name, and why in a few words."""
    word = style.paint(f"{result.verdict.name:<7}", VERDICT_COLOURS[result.verdict])
    notes = case_notes(result)
    suffix = f"  ({'; '.join(notes)})" if notes else ""
    return f"{word} {display_path(result.name)}{suffix}"


def case_notes(result: CaseResult) -> list[str]:
    """Return why a case has its verdict, in a few words each (empty for a plain pass)."""
    notes: list[str] = []
    if result.verdict is Verdict.FAILED:
        notes.append(", ".join(result.reasons()))
    if result.message:
        notes.append(result.message)
    if result.recorded:
        notes.append("recorded" if result.verdict is Verdict.NEW else "accepted")
    elif result.verdict is Verdict.NEW:
        notes.append("no expectation saved")
    return notes


def has_details(result: CaseResult) -> bool:
    """Tell whether a case's failure details are shown: it failed or errored, and has diffs to show."""
    shown = result.is_failure or result.verdict is Verdict.ERROR
    return shown and bool(result.stream_diffs or result.status_changed or result.tree_changes)


def failure_details(result: CaseResult, style: Style) -> Iterator[str]:
    """Yield what a failed case did differently: stream diffs, exit status, tree changes with text diffs."""
    yield style.paint(f"=== {result.verdict.name} {display_path(result.name)}", "bold")
    for diff in result.stream_diffs:
        for line in diff.lines:
            yield paint_diff_line(line, style)
    if result.status_changed:
        yield f"exit status: expected {result.expected_status}, got {result.actual_status}"
    if result.tree_changes:
        count = len(result.tree_changes)
        yield f"tree (expected -> actual): {count} {'path differs' if count == 1 else 'paths differ'}"
        yield from tree_lines(result.tree_changes, style)
    for text_diff in result.text_diffs:
        for line in text_diff.lines:
            yield paint_diff_line(line, style)
        if text_diff.note:
            yield f"{display_path(text_diff.path)}: {text_diff.note}"


def tree_lines(changes: Iterable[Change], style: Style) -> Iterator[str]:
    """Yield one line per path of the working tree that differs from the expected tree."""
    for change in changes:
        mark, word = TREE_MARKS[change.status]
        why = explain_change(change)
        suffix = f"  ({why})" if why else ""
        yield f"  {style.paint(mark, 'bold')} {display_path(change.path)}  {word}{suffix}"


def paint_diff_line(line: str, style: Style) -> str:
    """Return a unified diff line in its colour, undecodable bytes and control characters escaped."""
    line = display_path(line)
    if line.startswith(("+++", "---")):
        return style.paint(line, "bold")
    if line.startswith("+"):
        return style.paint(line, "green")
    if line.startswith("-"):
        return style.paint(line, "red")
    if line.startswith("@@"):
        return style.paint(line, "cyan")
    return line


def summary_line(summary: SuiteSummary) -> str:
    """Return one line of totals, e.g. '12 passed, 1 failed, 2 new (2 recorded) in 1.4 s'."""
    counts = summary.counts
    parts = [
        f"{counts[verdict.value]} {verdict.value}"
        for verdict in Verdict
        if counts[verdict.value] or verdict is Verdict.PASSED
    ]
    recorded = f" ({summary.recorded} recorded)" if summary.recorded else ""
    return f"{', '.join(parts)}{recorded} in {summary.duration_s:.2f} s"


def result_to_json(result: CaseResult) -> dict[str, Any]:
    """Return one case's result as a JSON-ready dict."""
    return {
        "case": result.name,
        "verdict": result.verdict.value,
        "recorded": result.recorded,
        "duration_s": round(result.duration_s, 6),
        "exit_status": {"expected": result.expected_status, "actual": result.actual_status},
        "streams": {diff.stream: list(diff.lines) for diff in result.stream_diffs},
        "tree": [change_to_json(change) for change in result.tree_changes],
        "text_diffs": [
            {"path": display_path(diff.path), "lines": list(diff.lines), "note": diff.note}
            for diff in result.text_diffs
        ],
        "message": result.message,
    }


def render_json_lines(results: Iterable[CaseResult], summary: SuiteSummary) -> Iterator[str]:
    """Yield one JSON object per case, then a summary object."""
    for result in results:
        yield json.dumps(result_to_json(result))
    yield json.dumps(
        {
            "summary": {
                "counts": summary.counts,
                "recorded": summary.recorded,
                "failures": summary.failures,
                "errors": summary.errors,
                "all_passed": summary.all_passed,
                "duration_s": round(summary.duration_s, 6),
            }
        }
    )
