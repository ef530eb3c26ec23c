"""Verdicts on regression cases: what a run observed, how it compares with its expectation, and totals."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dirkit.core.compare.diff import Change
from dirkit.core.compare.textdiff import TextDiff
from dirkit.core.regress.expectation import Expectation
from dirkit.core.regress.matching import stream_diff


class Verdict(enum.Enum):
    """The outcome of one case."""

    PASSED = "passed"
    FAILED = "failed"
    NEW = "new"
    """No expectation was saved yet."""
    ERROR = "error"
    """The case could not be judged: it did not start, crashed on a signal, or its setup failed."""
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Observed:
    """What one run of a case produced, its streams already normalized."""

    stdout: str
    stderr: str
    exit_status: int
    """The exit code, or minus the signal number that killed the process."""
    duration_s: float
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class StreamDiff:
    """The unified diff of one stream against its expectation."""

    stream: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The verdict on one case, with everything needed to show why."""

    name: str
    verdict: Verdict
    duration_s: float = 0.0
    stream_diffs: tuple[StreamDiff, ...] = ()
    expected_status: int | None = None
    actual_status: int | None = None
    tree_changes: tuple[Change, ...] = ()
    text_diffs: tuple[TextDiff, ...] = ()
    message: str | None = None
    recorded: bool = False
    """The run's results were saved as the new expectation (first run, or --update)."""

    @property
    def status_changed(self) -> bool:
        """Tell whether the exit status differs from the expected one."""
        return self.expected_status is not None and self.expected_status != self.actual_status

    @property
    def is_failure(self) -> bool:
        """Tell whether the case counts against the suite (not passed, and not accepted by recording)."""
        return self.verdict in (Verdict.FAILED, Verdict.TIMEOUT, Verdict.NEW) and not self.recorded

    def reasons(self) -> list[str]:
        """Return what failed, in a few words each (e.g. 'stdout', 'exit status 0 -> 1', 'tree')."""
        found = [diff.stream for diff in self.stream_diffs]
        if self.status_changed:
            found.append(f"exit status {self.expected_status} -> {self.actual_status}")
        if self.tree_changes:
            count = len(self.tree_changes)
            found.append(f"tree ({count} {'path' if count == 1 else 'paths'})")
        return found


@dataclass(frozen=True, slots=True)
class StreamJudgement:
    """The streams compared with an expectation, and the texts an update would store."""

    diffs: tuple[StreamDiff, ...]
    stored_stdout: str
    stored_stderr: str


def judge_streams(expected: Expectation | None, observed: Observed) -> StreamJudgement:
    """Return the diffs of stdout and stderr against expected (none when there is no expectation)."""
    if expected is None:
        return StreamJudgement((), observed.stdout, observed.stderr)
    stdout_lines, stdout = stream_diff("stdout", expected.stdout, observed.stdout)
    stderr_lines, stderr = stream_diff("stderr", expected.stderr, observed.stderr)
    pairs = (("stdout", stdout_lines), ("stderr", stderr_lines))
    diffs = tuple(StreamDiff(name, lines) for name, lines in pairs if lines)
    return StreamJudgement(diffs, stdout, stderr)


def judge_case(
    name: str,
    expected: Expectation | None,
    observed: Observed,
    streams: StreamJudgement,
    tree_changes: Sequence[Change] = (),
    text_diffs: Sequence[TextDiff] = (),
) -> CaseResult:
    """Return the verdict on one observed run against its expectation (None: not saved yet)."""
    if observed.timed_out:
        return CaseResult(
            name,
            Verdict.TIMEOUT,
            observed.duration_s,
            message=f"killed after its timeout of {observed.duration_s:.1f} s",
        )
    if observed.exit_status < 0:
        return CaseResult(
            name,
            Verdict.ERROR,
            observed.duration_s,
            actual_status=observed.exit_status,
            message=f"crashed: killed by signal {-observed.exit_status}",
        )
    if expected is None:
        return CaseResult(name, Verdict.NEW, observed.duration_s, actual_status=observed.exit_status)
    failed = bool(streams.diffs) or expected.exit_status != observed.exit_status or bool(tree_changes)
    return CaseResult(
        name,
        Verdict.FAILED if failed else Verdict.PASSED,
        observed.duration_s,
        stream_diffs=streams.diffs,
        expected_status=expected.exit_status,
        actual_status=observed.exit_status,
        tree_changes=tuple(tree_changes),
        text_diffs=tuple(text_diffs),
    )


@dataclass(frozen=True, slots=True)
class SuiteSummary:
    """The totals of one run of a suite."""

    counts: dict[str, int]
    recorded: int
    failures: int
    errors: int
    duration_s: float

    @property
    def all_passed(self) -> bool:
        """Tell whether nothing failed and nothing was an error."""
        return self.failures == 0 and self.errors == 0


def summarize(results: Iterable[CaseResult], duration_s: float) -> SuiteSummary:
    """Return the totals of a suite's results."""
    chosen = list(results)
    tally = Counter(result.verdict for result in chosen)
    return SuiteSummary(
        counts={verdict.value: tally.get(verdict, 0) for verdict in Verdict},
        recorded=sum(result.recorded for result in chosen),
        failures=sum(result.is_failure for result in chosen),
        errors=tally.get(Verdict.ERROR, 0),
        duration_s=duration_s,
    )
