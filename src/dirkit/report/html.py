"""Render a report as one self-contained HTML page: the data as one JSON blob, drawn lazily by inline JS."""

from __future__ import annotations

import html
import json
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.tree.paths import display_path, is_valid_utf8

NS_PER_SECOND = 1_000_000_000


class StatusStyle(NamedTuple):
    """One status a report's rows can have: its word, what it means, and its colour."""

    name: str
    label: str
    colour: str


class ReportRow(NamedTuple):
    """One path of a report: its status, sizes and times on each side, a note, and its diff, if any."""

    path: str
    status: str
    left_size: int | None = None
    right_size: int | None = None
    left_mtime_ns: int | None = None
    right_mtime_ns: int | None = None
    detail: str | None = None
    diff: TextDiff | None = None


@dataclass(frozen=True, slots=True)
class HtmlReport:
    """What one page shows: a title, the trees' names, the statuses, the rows and a summary line."""

    title: str
    left_label: str
    right_label: str
    statuses: Sequence[StatusStyle]
    rows: Sequence[ReportRow]
    summary: str = ""


SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
"""JSON stays JSON and can neither close a <script> element nor start a comment or entity inside one."""


def json_for_script(value: object) -> str:
    """Return value as JSON safe to place between <script> and </script>."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).translate(SCRIPT_ESCAPES)


def shown_path(path: str) -> str:
    """Return a path as text: a non-UTF-8 name escaped as the JSON output escapes it."""
    return path if is_valid_utf8(path) else display_path(path)


def _seconds(mtime_ns: int | None) -> int | None:
    return None if mtime_ns is None else mtime_ns // NS_PER_SECOND


def report_data(report: HtmlReport) -> dict[str, object]:
    """Return the JSON blob the page's script reads: rows as compact arrays, diffs apart."""
    index = {style.name: number for number, style in enumerate(report.statuses)}
    diffs: list[dict[str, object]] = []
    rows: list[list[object]] = []
    for row in report.rows:
        diff_number = -1
        if row.diff is not None:
            diff_number = len(diffs)
            diffs.append({"lines": list(row.diff.lines), "note": row.diff.note})
        rows.append(
            [
                shown_path(row.path),
                index[row.status],
                row.left_size,
                row.right_size,
                _seconds(row.left_mtime_ns),
                _seconds(row.right_mtime_ns),
                row.detail,
                diff_number,
            ]
        )
    return {
        "title": report.title,
        "left": shown_path(report.left_label),
        "right": shown_path(report.right_label),
        "summary": report.summary,
        "statuses": [list(style) for style in report.statuses],
        "rows": rows,
        "diffs": diffs,
    }


def _asset(name: str) -> str:
    return resources.files("dirkit.report").joinpath("html_assets", name).read_text(encoding="utf-8")


def render_html(report: HtmlReport) -> str:
    """Return the whole page: template, inline CSS and JS, and the data."""
    page = string.Template(_asset("report.html"))
    return page.substitute(
        title=html.escape(shown_path(report.title)),
        css=_asset("report.css"),
        js=_asset("report.js"),
        data=json_for_script(report_data(report)),
    )


def status_counts(rows: Iterable[ReportRow]) -> dict[str, int]:
    """Return how many rows have each status."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts
