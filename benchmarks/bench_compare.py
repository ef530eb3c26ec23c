"""Time `dirkit compare` side by side with `rsync -n` and `diff -rq`, alternating, and print ratios.

Usage, from the repository root:
    python -m benchmarks.bench_compare [BASE] [--files N] [--dirs N] [--rounds N]
BASE (default /tmp/dirkit-bench-compare) receives the generated trees; reuse it between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.treegen import make_benchmark_trees

DIRKIT = [sys.executable, "-m", "dirkit"]


@dataclass(frozen=True, slots=True)
class Case:
    """One command to time, under a name, in a group whose first member is the baseline."""

    group: str
    name: str
    argv: list[str]


@dataclass(frozen=True, slots=True)
class Sample:
    """The wall time (s) and peak memory (KiB) of one run."""

    seconds: float
    peak_kib: int


def run_once(argv: list[str]) -> Sample:
    """Run argv with output discarded; return its wall time and peak RSS (children included)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed with exit code {process.returncode}")
    return Sample(elapsed, usage.ru_maxrss)


def cases(a: str, b: str, m: str) -> list[Case]:
    """Return the commands compared, baseline first in each group."""
    return [
        Case(
            "identical, quick",
            "rsync -a -n --delete",
            ["rsync", "-a", "-n", "-i", "--delete", a + "/", b + "/"],
        ),
        Case("identical, quick", "diff -rq", ["diff", "-rq", a, b]),
        Case("identical, quick", "dirkit compare", [*DIRKIT, "compare", "--stat", a, b]),
        Case(
            "1% mutated, quick",
            "rsync -a -n --delete",
            ["rsync", "-a", "-n", "-i", "--delete", a + "/", m + "/"],
        ),
        Case("1% mutated, quick", "diff -rq", ["diff", "-rq", a, m]),
        Case("1% mutated, quick", "dirkit compare", [*DIRKIT, "compare", "--stat", a, m]),
        Case(
            "1% mutated, content",
            "rsync -a -n -c --delete",
            ["rsync", "-a", "-n", "-c", "-i", "--delete", a + "/", m + "/"],
        ),
        Case(
            "1% mutated, content",
            "dirkit compare --content",
            [*DIRKIT, "compare", "--content", "--stat", a, m],
        ),
    ]


def main() -> None:
    """Generate the trees, warm up, time every case in alternating rounds, print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", nargs="?", default="/tmp/dirkit-bench-compare")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for tool in ("rsync", "diff"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    a, b, m = make_benchmark_trees(args.base, args.files, args.dirs)
    chosen = cases(a, b, m)
    for case in chosen:
        run_once(case.argv)
    samples: dict[str, list[Sample]] = {case.group + case.name: [] for case in chosen}
    for _ in range(args.rounds):
        for case in chosen:
            samples[case.group + case.name].append(run_once(case.argv))
    print(
        f"trees: {args.files} files in {args.dirs} dirs under {args.base}; {args.rounds} alternating rounds"
    )
    print(f"{'case':<24} {'command':<28} {'median s':>9} {'ratio':>7} {'peak MB':>8}")
    baseline: dict[str, float] = {}
    for case in chosen:
        runs = samples[case.group + case.name]
        median = statistics.median(sample.seconds for sample in runs)
        baseline.setdefault(case.group, median)
        peak = max(sample.peak_kib for sample in runs) / 1024
        ratio = median / baseline[case.group]
        print(f"{case.group:<24} {case.name:<28} {median:>9.3f} {ratio:>6.2f}x {peak:>8.1f}")


if __name__ == "__main__":
    main()
