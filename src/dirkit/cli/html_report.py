"""Write an HTML report for --html, with the text diffs of changed files, and open it for --open."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dirkit.backends.protocol import Backend
from dirkit.core.compare.diff import Diff, Status
from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError, UsageError

if TYPE_CHECKING:
    from dirkit.report.html import HtmlReport
    from dirkit.report.html_diff import DiffCaps

MAX_DIFF_BYTES = 1024 * 1024
"""Bytes of each side of a file read for its diff; a larger file is not diffed."""

MAX_DIFFED_FILES = 1000
"""Changed files diffed for one report; later ones say so."""


def check_html_args(args: argparse.Namespace) -> None:
    """Refuse --open without --html before any work is done."""
    if args.open and not args.html:
        raise UsageError("--open needs --html FILE")


def _read_capped(backend: Backend, entry: Entry) -> bytes | None:
    with backend.open_read(entry.path) as stream:
        data = stream.read(MAX_DIFF_BYTES + 1)
    return None if len(data) > MAX_DIFF_BYTES else data


def report_text_diffs(
    left: Backend, right: Backend, diff: Diff, caps: DiffCaps | None = None
) -> dict[RelPath, TextDiff]:
    """Return the capped text diff of each changed file (by size, time and count), keyed by path."""
    found: dict[RelPath, TextDiff] = {}
    from dirkit.report.html_diff import DiffJob, capped_diffs

    jobs: list[DiffJob] = []
    for change in diff.changes:
        if (
            change.status is not Status.CHANGED
            or change.metadata_only
            or change.left is None
            or change.right is None
            or not change.left.is_file
            or not change.right.is_file
        ):
            continue
        if len(jobs) + len(found) >= MAX_DIFFED_FILES:
            found[change.path] = TextDiff(
                change.path, note=f"not diffed: over {MAX_DIFFED_FILES} changed files"
            )
            continue
        try:
            old = _read_capped(left, change.left)
            new = _read_capped(right, change.right)
        except BackendError as error:
            found[change.path] = TextDiff(change.path, note=f"cannot read: {error.strerror or error}")
            continue
        if old is None or new is None:
            found[change.path] = TextDiff(
                change.path, note=f"too large to diff (over {MAX_DIFF_BYTES} bytes)"
            )
            continue
        jobs.append(DiffJob(change.path, old, new))
    for text_diff in capped_diffs(jobs, caps):
        found[text_diff.path] = text_diff
    return found


def write_html_report(args: argparse.Namespace, report: HtmlReport) -> None:
    """Write the page to --html FILE, and open it in a browser with --open."""
    import webbrowser
    from pathlib import Path

    from dirkit.report.html import render_html

    target = Path(args.html)
    try:
        target.write_text(render_html(report), encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        raise UsageError(f"{args.html}: cannot write the HTML report: {error.strerror}") from error
    if args.open:
        webbrowser.open(target.resolve().as_uri())
