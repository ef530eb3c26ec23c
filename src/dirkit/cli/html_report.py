"""Write an HTML report for --html, with the text diffs of changed files, and open it for --open."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dirkit.backends.protocol import Backend
from dirkit.core.compare.diff import Diff, changed_file_pairs
from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.tree.paths import RelPath
from dirkit.errors import UsageError
from dirkit.ops.compare.textdiff import read_both_capped

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


def report_text_diffs(
    left: Backend, right: Backend, diff: Diff, caps: DiffCaps | None = None
) -> dict[RelPath, TextDiff]:
    """Return the capped text diff of each changed file (by size, time and count), keyed by path."""
    found: dict[RelPath, TextDiff] = {}
    from dirkit.report.html_diff import DiffJob, capped_diffs

    jobs: list[DiffJob] = []
    for change, left_entry, right_entry in changed_file_pairs(diff.changes):
        if len(jobs) + len(found) >= MAX_DIFFED_FILES:
            found[change.path] = TextDiff(
                change.path, note=f"not diffed: over {MAX_DIFFED_FILES} changed files"
            )
            continue
        versions = read_both_capped(left, right, left_entry, right_entry, MAX_DIFF_BYTES)
        if isinstance(versions, TextDiff):
            found[change.path] = versions
            continue
        jobs.append(DiffJob(change.path, *versions))
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
