"""The rows of an HTML report for each command: compare, a mirror plan, verify, dupes and regress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dirkit.core.checksums.verify import VerifyResult, VerifyStatus
from dirkit.core.compare.diff import Change, Diff, Status
from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.regress.verdict import CaseResult, SuiteSummary, Verdict
from dirkit.core.run.plan import Plan
from dirkit.core.search.dupes import DupeGroup
from dirkit.core.tree.paths import RelPath, display_path
from dirkit.report.compare import STATUS_MARKS, STATUS_ORDER, STATUS_TITLES, summary_line
from dirkit.report.html import HtmlReport, ReportRow, StatusStyle, status_counts
from dirkit.report.plan import ACTION_WORDS, describe_action, totals_line
from dirkit.report.regress import VERDICT_COLOURS, case_notes, failure_details, has_details
from dirkit.report.regress import summary_line as suite_summary_line
from dirkit.report.style import Style

COLOURS = {"dim": "grey"}


def _colour(name: str) -> str:
    return COLOURS.get(name, name)


COMPARE_STATUSES = tuple(
    StatusStyle(status.value, STATUS_TITLES[status], _colour(STATUS_MARKS[status][1]))
    for status in STATUS_ORDER
)


def _change_row(change: Change, text_diff: TextDiff | None) -> ReportRow:
    detail = change.detail
    if change.moved_from is not None:
        moved = f"moved from {display_path(change.moved_from)}"
        detail = f"{moved}; {detail}" if detail else moved
    left, right = change.left, change.right
    return ReportRow(
        path=change.path,
        status=change.status.value,
        left_size=left.size if left is not None and left.is_file else None,
        right_size=right.size if right is not None and right.is_file else None,
        left_mtime_ns=left.mtime_ns if left is not None else None,
        right_mtime_ns=right.mtime_ns if right is not None else None,
        detail=detail,
        diff=text_diff,
    )


def compare_report(
    diff: Diff,
    left_label: str,
    right_label: str,
    text_diffs: Mapping[RelPath, TextDiff] | None = None,
    show_same: bool = False,
) -> HtmlReport:
    """Return the report of a compare: one row per differing path (every path with show_same)."""
    found = text_diffs or {}
    rows = [
        _change_row(change, found.get(change.path))
        for change in diff.changes
        if show_same or change.status is not Status.SAME
    ]
    return HtmlReport(
        title=f"dirkit compare {left_label} {right_label}",
        left_label=left_label,
        right_label=right_label,
        statuses=COMPARE_STATUSES,
        rows=rows,
        summary=summary_line(diff),
    )


PLAN_STATUSES = (
    *(
        StatusStyle(word, f"{word}: {kind.name.lower().replace('_', ' ')}", _colour(colour))
        for kind, (word, colour) in ACTION_WORDS.items()
    ),
    StatusStyle("skip", "left alone, with the reason", "red"),
)


def plan_report(plan: Plan) -> HtmlReport:
    """Return the report of a plan: one row per action, then one per skipped path."""
    rows = [
        ReportRow(
            path=action.path,
            status=ACTION_WORDS[action.kind][0],
            right_size=action.size or None,
            right_mtime_ns=action.mtime_ns,
            detail=describe_action(action),
        )
        for action in plan.actions
    ]
    rows += [ReportRow(path=skipped.path, status="skip", detail=skipped.reason) for skipped in plan.skipped]
    source = plan.source or ""
    return HtmlReport(
        title=f"dirkit {plan.operation} --dry-run {source} {plan.target}".replace("  ", " "),
        left_label=plan.target,
        right_label="",
        statuses=PLAN_STATUSES,
        rows=rows,
        summary=totals_line(plan.totals),
    )


VERIFY_COLOURS = {
    VerifyStatus.OK: "green",
    VerifyStatus.FAILED: "red",
    VerifyStatus.MISSING: "magenta",
    VerifyStatus.NEW: "cyan",
    VerifyStatus.ERROR: "red",
}
VERIFY_STATUSES = tuple(
    StatusStyle(status.value, status.name.lower(), VERIFY_COLOURS[status]) for status in VerifyStatus
)


def verify_report(result: VerifyResult, manifest_label: str, root_label: str) -> HtmlReport:
    """Return the report of a verify: one row per path checked."""
    rows = []
    for item in result.items:
        notes = [item.detail] if item.detail else []
        if item.status is VerifyStatus.FAILED:
            notes.append(f"expected {item.expected}, found {item.actual}")
        rows.append(ReportRow(path=item.path, status=item.status.value, detail="; ".join(notes) or None))
    counts = status_counts(rows)
    summary = ", ".join(f"{counts.get(status.value, 0)} {status.value}" for status in VerifyStatus)
    if result.malformed_lines:
        summary += f"; {len(result.malformed_lines)} manifest lines could not be read"
    return HtmlReport(
        title=f"dirkit verify {manifest_label} {root_label}",
        left_label=root_label,
        right_label="",
        statuses=VERIFY_STATUSES,
        rows=rows,
        summary=f"{result.algorithm.value}: {summary}",
    )


DUPES_STATUSES = (
    StatusStyle("first", "the first copy of its group", "green"),
    StatusStyle("copy", "a further copy of the first of its group", "yellow"),
)


def dupes_report(groups: Sequence[DupeGroup], roots: Sequence[str]) -> HtmlReport:
    """Return the report of a dupes search: every file of every group, each under its root."""
    rows: list[ReportRow] = []
    for number, group in enumerate(groups, start=1):
        first = group.files[0]
        first_shown = f"{roots[first.root_index].rstrip('/')}/{first.path}"
        for position, item in enumerate(group.files):
            note = f"group {number}: {len(group.files)} copies, blake3 {group.digest}"
            if position:
                note += f"; same bytes as {display_path(first_shown)}"
            rows.append(
                ReportRow(
                    path=f"{roots[item.root_index].rstrip('/')}/{item.path}",
                    status="copy" if position else "first",
                    left_size=group.size,
                    left_mtime_ns=item.mtime_ns,
                    detail=note,
                )
            )
    wasted = sum(group.size * (len(group.files) - 1) for group in groups)
    return HtmlReport(
        title="dirkit dupes " + " ".join(roots),
        left_label=" ".join(roots),
        right_label="",
        statuses=DUPES_STATUSES,
        rows=rows,
        summary=f"{len(groups)} groups of identical files; {wasted} bytes in extra copies",
    )


VERDICT_LABELS = {
    Verdict.PASSED: "did what its expectation says",
    Verdict.FAILED: "differs from its expectation",
    Verdict.NEW: "no expectation saved before this run",
    Verdict.ERROR: "could not be judged: did not start, crashed or its setup failed",
    Verdict.TIMEOUT: "killed at its timeout",
}
REGRESS_STATUSES = tuple(
    StatusStyle(verdict.name, VERDICT_LABELS[verdict], VERDICT_COLOURS[verdict]) for verdict in Verdict
)


def _case_row(result: CaseResult) -> ReportRow:
    details = None
    if has_details(result):
        lines = tuple(failure_details(result, Style()))[1:]  # the first line repeats verdict and name
        details = TextDiff(RelPath(result.name), lines)
    notes = case_notes(result)
    return ReportRow(
        path=result.name, status=result.verdict.name, detail="; ".join(notes) or None, diff=details
    )


def regress_report(suite_label: str, results: Sequence[CaseResult], summary: SuiteSummary) -> HtmlReport:
    """Return the report of a regress run: one row per case, a failed one's diffs as its diff text."""
    return HtmlReport(
        title=f"dirkit regress {suite_label}",
        left_label=suite_label,
        right_label="",
        statuses=REGRESS_STATUSES,
        rows=[_case_row(result) for result in results],
        summary=suite_summary_line(summary),
    )
