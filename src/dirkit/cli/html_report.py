"""Write an HTML report for --html, with the text diffs of changed files, and open it for --open."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dirkit.errors import UsageError

if TYPE_CHECKING:
    from dirkit.report.html import HtmlReport


def check_html_args(args: argparse.Namespace) -> None:
    """Refuse --open without --html before any work is done."""
    if args.open and not args.html:
        raise UsageError("--open needs --html FILE")


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
