"""Render a Diff as grouped human text, as JSON Lines, or as counts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from dirkit.core.compare.diff import Change, Diff, NameTwin, Status
from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import display_path
from dirkit.report.entries import change_to_json
from dirkit.report.style import Style

STATUS_ORDER = (
    Status.ERROR,
    Status.TYPE_CHANGED,
    Status.CHANGED,
    Status.MOVED,
    Status.LEFT_ONLY,
    Status.RIGHT_ONLY,
    Status.SAME,
)
STATUS_TITLES = {
    Status.ERROR: "could not be read",
    Status.TYPE_CHANGED: "type changed",
    Status.CHANGED: "changed",
    Status.MOVED: "moved",
    Status.LEFT_ONLY: "only on the left",
    Status.RIGHT_ONLY: "only on the right",
    Status.SAME: "same",
}
STATUS_MARKS = {
    Status.ERROR: ("!", "red"),
    Status.TYPE_CHANGED: ("T", "magenta"),
    Status.CHANGED: ("M", "yellow"),
    Status.MOVED: ("R", "cyan"),
    Status.LEFT_ONLY: ("-", "red"),
    Status.RIGHT_ONLY: ("+", "green"),
    Status.SAME: ("=", "dim"),
}
TWIN_WORDS = {
    NameTwin.UNICODE_NORMALIZATION: "differs only by Unicode normalization (NFC/NFD) from",
    NameTwin.CASE: "differs only by letter case from",
}


def describe_entry(entry: Entry) -> str:
    """Return a short description of an entry: its kind and size or target."""
    if entry.kind is EntryKind.FILE:
        return f"file {entry.size} B"
    if entry.kind is EntryKind.SYMLINK:
        return f"symlink -> {display_path(entry.target or '')}"
    return str(entry.kind.value)


def explain_change(change: Change) -> str:
    """Return why a change has its status, in a few words (empty when obvious)."""
    left, right = change.left, change.right
    if change.twin is not None and change.twin_reason is not None:
        return f"name {TWIN_WORDS[change.twin_reason]} {display_path(change.twin)}"
    if change.status is Status.MOVED and change.moved_from is not None:
        return f"from {display_path(change.moved_from)}"
    if change.status is Status.ERROR:
        return change.detail or "unreadable"
    if change.status is Status.TYPE_CHANGED and left is not None and right is not None:
        return f"{describe_entry(left)} -> {describe_entry(right)}"
    if change.status is Status.CHANGED and left is not None and right is not None:
        if left.kind is EntryKind.SYMLINK:
            return f"link target {display_path(left.target or '')} -> {display_path(right.target or '')}"
        if left.size != right.size:
            return f"size {left.size} -> {right.size}"
        if change.detail:
            return change.detail
        return "modification time differs"
    return ""


def render_text(
    diff: Diff,
    style: Style,
    show_same: bool = False,
    text_diffs: Iterable[TextDiff] = (),
) -> Iterator[str]:
    """Yield the diff as text lines grouped by status, then text diffs, then a summary line."""
    groups: dict[Status, list[Change]] = {status: [] for status in STATUS_ORDER}
    for change in diff.changes:
        groups[change.status].append(change)
    for status in STATUS_ORDER:
        changes = groups[status]
        if not changes or (status is Status.SAME and not show_same):
            continue
        mark, colour = STATUS_MARKS[status]
        yield style.paint(f"{STATUS_TITLES[status]} ({len(changes)}):", "bold")
        for change in changes:
            shown = display_path(change.path)
            sides = [entry for entry in (change.left, change.right) if entry is not None]
            if all(entry.kind is EntryKind.DIR for entry in sides):
                shown += "/"
            why = explain_change(change)
            suffix = f"  ({why})" if why else ""
            yield f"  {style.paint(mark, colour)} {shown}{suffix}"
    for text_diff in text_diffs:
        yield ""
        if text_diff.lines:
            for line in text_diff.lines:
                yield _paint_diff_line(line, style)
        if text_diff.note:
            yield f"{display_path(text_diff.path)}: {text_diff.note}"
    yield summary_line(diff)


def _paint_diff_line(line: str, style: Style) -> str:
    if line.startswith(("+++", "---")):
        return style.paint(line, "bold")
    if line.startswith("+"):
        return style.paint(line, "green")
    if line.startswith("-"):
        return style.paint(line, "red")
    if line.startswith("@@"):
        return style.paint(line, "cyan")
    return line


def summary_line(diff: Diff) -> str:
    """Return one line of counts, e.g. '3 changed, 1 only on the left, 95 same'."""
    counts = diff.counts()
    parts = [
        f"{counts[status.value]} {STATUS_TITLES[status]}"
        for status in STATUS_ORDER
        if counts[status.value] or status is Status.SAME
    ]
    verdict = "trees differ" if diff.has_differences else "trees are the same"
    return f"{verdict}: " + ", ".join(parts)


def render_json_lines(diff: Diff, show_same: bool = False) -> Iterator[str]:
    """Yield one JSON object per differing path (all paths with show_same), then a summary object."""
    for change in diff.changes:
        if change.status is Status.SAME and not show_same:
            continue
        yield json.dumps(change_to_json(change), ensure_ascii=False)
    yield json.dumps({"summary": diff.counts()})
