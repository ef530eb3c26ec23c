"""`dirkit regress [DIR]`: run golden-output regression cases and report which ones changed."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from dirkit.cli.common import (
    add_html_options,
    add_jobs_option,
    add_output_options,
    jobs_from_args,
    style_for,
    write_lines,
)
from dirkit.core.regress.cases import CONFIG_NAME, select_cases
from dirkit.core.regress.junit import build_junit_xml
from dirkit.core.regress.verdict import CaseResult, summarize
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK, UsageError
from dirkit.ops.regress.runner import RunOptions, run_suite
from dirkit.ops.regress.suite import load_suite
from dirkit.report.regress import case_line, failure_details, has_details, render_json_lines, summary_line

DESCRIPTION = f"""\
Run every case of a regression suite and compare what it did with what it did when its
output was last accepted: its exit status, stdout, stderr, and the files and folders it left
in its working directory (compared by content, as `dirkit compare --content` does).

A case is each executable file directly in DIR (or each file matching --glob), and each
[cases.NAME] table of DIR/{CONFIG_NAME} (a command line, an input folder copied into the
working directory, a timeout, environment, normalization filters and replacements). Each case
runs in a fresh temporary working directory with HOME and TMPDIR inside it, TZ=UTC, LC_ALL=C,
COLUMNS=80, and in its own process group, killed at its timeout (default 60 s).

Expectations are plain files in DIR/.expected/CASE/ (stdout, stderr, exit-status, tree/).
The first run of a case records them and says NEW; --update accepts changed results; --check
never records. Output is normalized first: the working directory's path, ISO dates, times,
durations and hex ids become placeholders; an expected line ending in ' (re)' or ' (glob)'
matches as a regex or glob, as in cram.
"""

EPILOG = """\
exit status:
  0   every case passed (or was recorded)
  1   some case failed, timed out, or (with --check) has no expectation
  2   error: a case could not start or crashed on a signal, or a bad regress.toml or option
  130 interrupted (every case's process group is killed first)

examples:
  dirkit regress tests/regress
  dirkit regress --check -j 4 --junit regress.xml tests/regress
  dirkit regress --html regress.html --open tests/regress
  dirkit regress -k backup --update tests/regress
  dirkit regress --glob '*.py' --interpreter python3 scripts/
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the regress command."""
    parser = commands.add_parser(
        "regress",
        help="check scripts' output and written trees against saved results",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", nargs="?", default=".", help="the suite folder (default: the current one)")
    which = parser.add_argument_group("which cases")
    which.add_argument(
        "-k",
        dest="keyword",
        metavar="PATTERN",
        action="append",
        default=[],
        help="run only cases whose name contains PATTERN (or matches it as a glob); repeatable",
    )
    which.add_argument(
        "--glob",
        metavar="PATTERN",
        help="cases are the files of DIR matching PATTERN (e.g. '*.py'), not its executable files",
    )
    which.add_argument(
        "--interpreter",
        metavar="COMMAND",
        help="run each file case through COMMAND (e.g. 'python3'), so it need not be executable",
    )
    record = parser.add_argument_group("expectations").add_mutually_exclusive_group()
    record.add_argument("--update", action="store_true", help="accept the results of failed cases")
    record.add_argument(
        "--check", action="store_true", help="never record; a case with no expectation fails (for CI)"
    )
    add_jobs_option(
        parser,
        help="cases run at once (default: the number of cores, %(default)s)",
        default=os.cpu_count() or 1,
    )
    reports = parser.add_argument_group("reports")
    reports.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML to FILE")
    add_html_options(reports, "every case's verdict, with the diffs of failed cases,")
    add_output_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the suite, print a line per case, details of failures and a summary; return the exit code."""
    if args.html or args.open:
        from dirkit.cli.html_report import check_html_args

        check_html_args(args)
    jobs = jobs_from_args(args)
    interpreter = shlex.split(args.interpreter) if args.interpreter else []
    suite = load_suite(args.dir, args.glob, interpreter)
    cases = select_cases(suite.cases, args.keyword)
    if not cases:
        where = "matches -k" if args.keyword else f"found (no executable files and no {CONFIG_NAME})"
        raise UsageError(f"{suite.directory}: no case {where}")
    style = style_for(sys.stdout, args.color)
    text = not args.quiet and not args.json

    def show(result: CaseResult) -> None:
        if text:
            line = case_line(result, style)
            if args.verbose:
                line += f"  [{result.duration_s:.2f} s]"
            write_lines([line])
            sys.stdout.flush()

    options = RunOptions(jobs=jobs, update=args.update, check=args.check)
    started = time.monotonic()
    results = run_suite(suite, cases, options, os.environ, on_result=show)
    summary = summarize(results, time.monotonic() - started)
    if args.junit:
        xml = build_junit_xml(os.path.basename(suite.directory), results, summary)
        try:
            with open(args.junit, "w", encoding="utf-8") as stream:
                stream.write(xml)
        except OSError as error:
            raise UsageError(f"{args.junit}: cannot write the JUnit report: {error.strerror}") from error
    if args.html:
        from dirkit.cli.html_report import write_html_report
        from dirkit.report.html_rows import regress_report

        write_html_report(args, regress_report(suite.directory, results, summary))
    if args.json and not args.quiet:
        write_lines(render_json_lines(results, summary))
    elif text:
        for result in results:
            if has_details(result):
                write_lines(["", *failure_details(result, style)])
        write_lines(["", summary_line(summary)])
    if summary.errors:
        return EXIT_ERROR
    return EXIT_DIFFERENCES if summary.failures else EXIT_OK
