"""Text diffs of a compare's changed files, each computed in a worker process killed past its time cap."""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dirkit.backends.protocol import Backend
from dirkit.core.compare.diff import Diff, changed_file_pairs
from dirkit.core.compare.textdiff import TextDiff, make_text_diff
from dirkit.core.tree.paths import RelPath
from dirkit.ops.compare.textdiff import read_both_capped

MAX_DIFF_BYTES = 1024 * 1024
"""Bytes of each side of a file read for its diff; a larger file is not diffed."""

MAX_DIFFED_FILES = 1000
"""Changed files diffed for one report; later ones say so."""

DEFAULT_TIME_CAP = 2.0
"""Seconds one file's diff may take before it is given up (difflib is quadratic on some inputs)."""

DEFAULT_TOTAL_TIME_CAP = 60.0
"""Seconds all the diffs of one report may take together; later files are not diffed."""

DEFAULT_MAX_DIFF_LINES = 2000
"""Lines of one file's diff kept in the report."""

DEFAULT_TOTAL_DIFF_LINES = 200_000
"""Lines of all the diffs of one report together; later diffs are left out (the page stays small)."""


@dataclass(frozen=True, slots=True)
class DiffJob:
    """The two versions of one changed file to diff."""

    path: RelPath
    old: bytes
    new: bytes


@dataclass(frozen=True, slots=True)
class DiffCaps:
    """How long one diff and all diffs may take, and how many lines of a diff are kept."""

    time_cap: float = DEFAULT_TIME_CAP
    total_time_cap: float = DEFAULT_TOTAL_TIME_CAP
    max_lines: int = DEFAULT_MAX_DIFF_LINES
    total_lines: int = DEFAULT_TOTAL_DIFF_LINES


def _diff_in_worker(path: RelPath, old: bytes, new: bytes, max_lines: int) -> TextDiff:
    """Run in the worker process: the unified diff of one file."""
    return make_text_diff(path, old, new, max_lines)


class _Worker:
    """One worker process, started on first use and replaced after it is killed."""

    def __init__(self) -> None:
        self._pool: multiprocessing.pool.Pool | None = None

    def run(self, job: DiffJob, caps: DiffCaps, seconds: float) -> TextDiff | None:
        """Return the diff of job, or None when it took more than seconds (the worker is then killed)."""
        if self._pool is None:
            self._pool = multiprocessing.get_context("spawn").Pool(1)
        pending = self._pool.apply_async(_diff_in_worker, (job.path, job.old, job.new, caps.max_lines))
        try:
            return pending.get(timeout=seconds)
        except multiprocessing.TimeoutError:
            self.close()
            return None

    def close(self) -> None:
        """Kill the worker process, if one runs."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def capped_diffs(jobs: Sequence[DiffJob], caps: DiffCaps | None = None) -> Iterator[TextDiff]:
    """Yield the diff of each job, or a note saying that its time cap (or the total one) ran out."""
    caps = caps or DiffCaps()
    worker = _Worker()
    deadline = time.monotonic() + caps.total_time_cap
    lines_left = caps.total_lines
    try:
        for job in jobs:
            time_left = deadline - time.monotonic()
            if time_left <= 0:
                yield TextDiff(
                    job.path, note=f"not diffed: the report's {caps.total_time_cap:g} s for diffs ran out"
                )
                continue
            if lines_left == 0:
                yield TextDiff(
                    job.path, note=f"diff not shown: the report's {caps.total_lines} diff lines are used"
                )
                continue
            seconds = min(caps.time_cap, time_left)
            found = worker.run(job, caps, seconds)
            if found is None:
                yield TextDiff(job.path, note=f"diff not shown: it took longer than {seconds:g} s")
            elif len(found.lines) > lines_left:
                lines_left = 0
                yield TextDiff(
                    job.path, note=f"diff not shown: the report's {caps.total_lines} diff lines are used"
                )
            else:
                lines_left -= len(found.lines)
                yield found
    finally:
        worker.close()


def capped_text_diffs(
    left: Backend, right: Backend, diff: Diff, caps: DiffCaps | None = None
) -> dict[RelPath, TextDiff]:
    """Return the capped text diff of each changed file (by size, time and count), keyed by path."""
    found: dict[RelPath, TextDiff] = {}
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
        else:
            jobs.append(DiffJob(change.path, *versions))
    for text_diff in capped_diffs(jobs, caps):
        found[text_diff.path] = text_diff
    return found
