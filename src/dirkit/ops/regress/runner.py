"""Running a suite's cases, several at once, each in a fresh working directory, and judging them.

Cases are local processes by nature: their working directories, HOME and TMPDIR are on local disk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from dirkit.backends.local import LocalBackend
from dirkit.core.compare.diff import Change, Status
from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.regress.cases import Case
from dirkit.core.regress.expectation import TREE_DIR, Expectation
from dirkit.core.regress.normalize import Normalizer, make_normalizer
from dirkit.core.regress.verdict import CaseResult, Observed, Verdict, judge_case, judge_streams
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import TreeFilter, make_filter
from dirkit.errors import InterruptedRunError
from dirkit.ops.compare.pairing import CompareOptions
from dirkit.ops.compare.textdiff import unified_diff_of
from dirkit.ops.compare.trees import compare_trees
from dirkit.ops.regress.expected import expectation_dir, read_expectation, save_expectation
from dirkit.ops.regress.processes import ProcessGroups, run_in_group
from dirkit.ops.regress.suite import Suite
from dirkit.ops.regress.workdirs import HOME_DIR, TMP_DIR, WorkDirs
from dirkit.ops.tree.scan import ScanOptions

FIXED_ENV = {"TZ": "UTC", "LC_ALL": "C", "COLUMNS": "80", "NO_COLOR": "1"}
"""Set for every case (its env table may override them), so output does not depend on the caller."""
DROPPED_ENV = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "OLDPWD")
"""Removed, so that programs keep their files below the case's own HOME."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run a suite."""

    jobs: int = 1
    update: bool = False
    """Accept the results of failed cases as their new expectation."""
    check: bool = False
    """Never record: a case without an expectation fails (for CI)."""
    temp_root: str | None = None
    """Where working directories are made (default: the system's temporary folder)."""


def run_suite(
    suite: Suite,
    cases: Sequence[Case],
    options: RunOptions,
    environment: Mapping[str, str],
    on_result: Callable[[CaseResult], None] | None = None,
) -> tuple[CaseResult, ...]:
    """Run cases (options.jobs at once), calling on_result in case order; return every result.

    On KeyboardInterrupt every running case's process group is killed before it propagates.
    """
    groups = ProcessGroups()
    base_env = case_base_environment(environment, suite.directory)
    results: list[CaseResult] = []
    work_dirs = WorkDirs(options.temp_root)
    with contextlib.closing(work_dirs), ThreadPoolExecutor(max(1, options.jobs)) as pool:
        futures: list[Future[CaseResult]] = [
            pool.submit(run_case, suite, case, options, base_env, groups, work_dirs) for case in cases
        ]
        try:
            for future in futures:
                result = future.result()
                results.append(result)
                if on_result is not None:
                    on_result(result)
        except BaseException:
            groups.close()
            for future in futures:
                future.cancel()
            raise
    return tuple(results)


def case_base_environment(environment: Mapping[str, str], suite_dir: str) -> dict[str, str]:
    """Return the environment shared by every case of a suite (each adds its HOME, TMPDIR and env)."""
    chosen = {key: value for key, value in environment.items() if key not in DROPPED_ENV}
    chosen.update(FIXED_ENV)
    chosen["REGRESS_DIR"] = suite_dir
    return chosen


def run_case(
    suite: Suite,
    case: Case,
    options: RunOptions,
    base_env: Mapping[str, str],
    groups: ProcessGroups,
    work_dirs: WorkDirs,
) -> CaseResult:
    """Run one case in a fresh working directory, judge it, and record it when the options say so."""
    if groups.closed:
        return CaseResult(case.name, Verdict.ERROR, message="interrupted")
    work_dir = work_dirs.take()
    try:
        return _run_in(suite, case, options, base_env, groups, work_dirs, work_dir)
    finally:
        work_dirs.give_back(work_dir)


def _run_in(
    suite: Suite,
    case: Case,
    options: RunOptions,
    base_env: Mapping[str, str],
    groups: ProcessGroups,
    work_dirs: WorkDirs,
    work_dir: str,
) -> CaseResult:
    folder = expectation_dir(suite.directory, case.name)
    try:
        expected = read_expectation(folder)
        _prepare(suite, case, work_dir)
    except (OSError, ValueError) as error:
        return CaseResult(case.name, Verdict.ERROR, message=f"cannot set up the case: {error}")
    env = dict(base_env)
    env.update(HOME=os.path.join(work_dir, HOME_DIR), TMPDIR=os.path.join(work_dir, TMP_DIR), PWD=work_dir)
    env["REGRESS_CASE"] = case.name
    env.update(case.settings.env)
    try:
        outcome = run_in_group(case.argv, work_dir, env, case.settings.timeout_s, groups)
    except OSError as error:
        return CaseResult(case.name, Verdict.ERROR, message=f"cannot start {case.argv[0]}: {error.strerror}")
    if groups.closed:
        raise InterruptedRunError("interrupted")
    normalizer = _normalizer(suite, case, work_dir)
    observed = Observed(
        stdout=normalizer.apply(outcome.stdout.decode("utf-8", "surrogateescape")),
        stderr=normalizer.apply(outcome.stderr.decode("utf-8", "surrogateescape")),
        exit_status=outcome.exit_status,
        duration_s=outcome.duration_s,
        timed_out=outcome.timed_out,
    )
    tree_filter = _tree_filter(case)
    streams = judge_streams(expected, observed)
    changes: tuple[Change, ...] = ()
    text_diffs: tuple[TextDiff, ...] = ()
    if expected is not None and case.settings.compare_tree and not outcome.timed_out:
        expected_tree = os.path.join(folder, TREE_DIR)
        if os.path.isdir(expected_tree):
            changes, text_diffs = compare_work_tree(expected_tree, work_dir, tree_filter)
        elif not work_dirs.untouched(work_dir):
            changes, text_diffs = compare_work_tree(work_dirs.empty, work_dir, tree_filter)
    result = judge_case(case.name, expected, observed, streams, changes, text_diffs)
    if outcome.timed_out:
        result = replace(result, message=f"killed after its timeout of {case.settings.timeout_s:g} s")
    record = (result.verdict is Verdict.NEW and not options.check) or (
        options.update and result.verdict in (Verdict.NEW, Verdict.FAILED)
    )
    if record:
        accepted = Expectation(streams.stored_stdout, streams.stored_stderr, observed.exit_status)
        save_expectation(folder, accepted, work_dir if case.settings.compare_tree else None, tree_filter)
        result = replace(result, recorded=True)
    return result


def _prepare(suite: Suite, case: Case, work_dir: str) -> None:
    if case.input_dir is not None:
        source = os.path.join(suite.directory, case.input_dir)
        if not os.path.isdir(source):
            raise NotADirectoryError(f"input folder {case.input_dir!r} not found in {suite.directory}")
        shutil.copytree(source, work_dir, symlinks=True, dirs_exist_ok=True)


def _normalizer(suite: Suite, case: Case, work_dir: str) -> Normalizer:
    spellings = {work_dir, os.path.realpath(work_dir)}
    suite_spellings = {suite.directory, os.path.realpath(suite.directory)}
    return make_normalizer(
        case.settings.filters, sorted(spellings), sorted(suite_spellings), case.settings.replacements
    )


def _tree_filter(case: Case) -> TreeFilter:
    return make_filter((f"/{TMP_DIR}/", *case.settings.exclude))


def compare_work_tree(
    expected_tree: str, work_dir: str, tree_filter: TreeFilter
) -> tuple[tuple[Change, ...], tuple[TextDiff, ...]]:
    """Return how work_dir differs from the expected tree by content (modes and empty folders aside)."""
    expected, actual = LocalBackend(expected_tree), LocalBackend(work_dir)
    try:
        options = CompareOptions(
            scan=ScanOptions(tree_filter=tree_filter),
            content=True,
            jobs=1,
            keep_same=False,
            detect_moves=False,
            digest_cache=False,
        )
        diff = compare_trees(expected, actual, options)
        changes = tuple(change for change in diff.changes if _counts(change))
        text_diffs = tuple(
            _relabelled(unified_diff_of(expected, actual, change.left, change.right))
            for change in changes
            if change.status is Status.CHANGED
            and change.left is not None
            and change.right is not None
            and change.left.is_file
        )
    finally:
        expected.close()
        actual.close()
    return changes, text_diffs


def _relabelled(text_diff: TextDiff) -> TextDiff:
    """Return a text diff whose file labels say expected/tree/ and actual/tree/ (not left/, right/)."""
    labels = {"--- left/": "--- expected/tree/", "+++ right/": "+++ actual/tree/"}
    lines = list(text_diff.lines)
    for index, line in enumerate(lines[:2]):
        for old, new in labels.items():
            if line.startswith(old):
                lines[index] = new + line.removeprefix(old)
    return replace(text_diff, lines=tuple(lines))


def _counts(change: Change) -> bool:
    if change.status is Status.SAME or change.metadata_only:
        return False
    if change.status in (Status.LEFT_ONLY, Status.RIGHT_ONLY):
        entry = change.left or change.right
        return entry is not None and entry.kind is not EntryKind.DIR
    return True
