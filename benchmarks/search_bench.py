"""Benchmark dirkit find, grep and dupes side by side with GNU find, GNU grep and jdupes.

Usage: python benchmarks/search_bench.py [--files 100000] [--data /work/bench-search/tree] [--rounds 3]

Generates its own tree (once; reused when the folder already holds a tree of that size), warms
the cache, then runs each dirkit command and its peer alternately, checks that both give the same
set of results, and prints the median wall times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "theta",
    "kappa",
    "lambda",
    "sigma",
    "omega",
    "river",
    "stone",
    "cloud",
    "paper",
    "window",
    "garden",
    "yellow",
    "silver",
    "number",
    "return",
    "value",
    "table",
    "index",
    "record",
    "buffer",
    "socket",
]
EXTENSIONS = ("txt", "py", "md", "log", "csv", "dat")
NEEDLE = "needle_token"
REGEX = r"err(or|no)[0-9]+"
FILES_PER_DIR = 100
MARKER = ".bench-files"


def text_block(rng: random.Random, size: int) -> bytes:
    """Return about size bytes of text lines, now and then holding the needle or an error code."""
    lines: list[str] = []
    total = 0
    while total < size:
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
        roll = rng.random()
        if roll < 0.002:
            words.insert(rng.randint(0, len(words)), NEEDLE)
        elif roll < 0.004:
            words.append(f"{rng.choice(('error', 'errno'))}{rng.randint(0, 999)}")
        line = " ".join(words)
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def generate_tree(root: Path, count: int, seed: int = 5) -> None:
    """Write count files (text, some binary, some empty, about 5% duplicates) under root."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    written: list[bytes] = []
    for index in range(count):
        folder = root / f"d{index // 10000:02d}" / f"s{index // 1000 % 10}" / f"leaf{index // 100 % 10}"
        if index % FILES_PER_DIR == 0:
            folder.mkdir(parents=True, exist_ok=True)
        name = f"{rng.choice(WORDS)}_{index}.{rng.choice(EXTENSIONS)}"
        roll = rng.random()
        if roll < 0.005:
            data = b""
        elif roll < 0.055 and written:
            data = rng.choice(written)
        elif roll < 0.075:
            data = b"\x00BIN" + rng.randbytes(rng.randint(100, 20000)) + NEEDLE.encode()
        else:
            size = int(min(2_000_000, rng.lognormvariate(7.3, 1.1)))
            data = text_block(rng, size)
        if len(written) < 2000 and data:
            written.append(data)
        (folder / name).write_bytes(data)
    (root / MARKER).write_text(str(count))


def tree_is_ready(root: Path, count: int) -> bool:
    """Tell whether root already holds a generated tree of count files."""
    marker = root / MARKER
    return marker.exists() and marker.read_text() == str(count)


class Timing(NamedTuple):
    """One run: wall seconds, CPU seconds (user + system, the command and its children), output."""

    wall: float
    cpu: float
    output: bytes


def timed(command: Sequence[str]) -> Timing:
    """Run command and return its wall time, CPU time and standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode not in (0, 1):
        sys.stderr.write(f"{command[0]} exited {result.returncode}: {result.stderr.decode()[:300]}\n")
    return Timing(elapsed, cpu, result.stdout)


def line_set(output: bytes) -> set[bytes]:
    """Return the lines of output as a set."""
    return set(output.splitlines())


def group_set(output: bytes) -> set[frozenset[bytes]]:
    """Return jdupes-style blank-line separated groups as a set of sets."""
    groups: set[frozenset[bytes]] = set()
    for block in output.split(b"\n\n"):
        files = frozenset(line for line in block.splitlines() if line)
        if files:
            groups.add(files)
    return groups


def compare_side_by_side(
    title: str,
    ours: Sequence[str],
    theirs: Sequence[str],
    rounds: int,
    normalise: Callable[[bytes], object],
) -> float:
    """Warm up, run both commands alternately, check equal results, print and return the wall ratio.

    Prints the median and the best wall time of each (the best is the least disturbed by other
    work on a shared machine) and the median CPU time (user + system, all processes).
    """
    timed(ours)
    timed(theirs)
    our_runs: list[Timing] = []
    their_runs: list[Timing] = []
    for _ in range(rounds):
        our_runs.append(timed(ours))
        their_runs.append(timed(theirs))
    same = normalise(our_runs[-1].output) == normalise(their_runs[-1].output)
    our_wall = statistics.median(run.wall for run in our_runs)
    their_wall = statistics.median(run.wall for run in their_runs)
    our_best, their_best = min(run.wall for run in our_runs), min(run.wall for run in their_runs)
    our_cpu = statistics.median(run.cpu for run in our_runs)
    their_cpu = statistics.median(run.cpu for run in their_runs)
    ratio = our_wall / their_wall
    print(
        f"{title:<24} wall median dirkit {our_wall:6.2f}s {theirs[0]} {their_wall:6.2f}s = {ratio:4.2f}x | "
        f"best {our_best:6.2f}s / {their_best:6.2f}s = {our_best / their_best:4.2f}x | "
        f"cpu {our_cpu:6.2f}s / {their_cpu:6.2f}s | same results: {same}",
        flush=True,
    )
    return ratio


def main() -> int:
    """Generate the tree if needed and print the side-by-side figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path("/work/bench-search/tree"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("find", "grep", "dupes"), action="append")
    args = parser.parse_args()
    root: Path = args.data
    if not tree_is_ready(root, args.files):
        start = time.perf_counter()
        generate_tree(root, args.files)
        print(f"generated {args.files} files in {time.perf_counter() - start:.1f}s", flush=True)
    dirkit = [sys.executable, "-m", "dirkit"]
    tree = str(root)
    env_c = {"LC_ALL": "C"}
    os.environ.update(env_c)
    chosen = set(args.only or ("find", "grep", "dupes"))
    if "find" in chosen:
        compare_side_by_side(
            "find --name '*.py'",
            [*dirkit, "find", tree, "--name", "*.py"],
            ["find", tree, "-name", "*.py"],
            args.rounds,
            line_set,
        )
    if "grep" in chosen:
        compare_side_by_side(
            "grep -F (lines)",
            [*dirkit, "grep", "-n", "-F", NEEDLE, tree],
            ["grep", "-rnI", "-F", NEEDLE, tree],
            args.rounds,
            line_set,
        )
        compare_side_by_side(
            "grep -E regex (lines)",
            [*dirkit, "grep", "-n", REGEX, tree],
            ["grep", "-rnI", "-E", REGEX, tree],
            args.rounds,
            line_set,
        )
    if "dupes" in chosen:
        compare_side_by_side(
            "dupes",
            [*dirkit, "dupes", tree],
            ["jdupes", "-r", "-q", tree],
            args.rounds,
            group_set,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
