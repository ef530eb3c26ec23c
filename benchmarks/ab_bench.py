"""Time two builds of dirkit against each other on compare and mirror, alternating, and print ratios.

Usage, from the repository root:
    python -m benchmarks.ab_bench --before PYTHON --after PYTHON [--files N] [--rounds N] [BASE]
PYTHON is the interpreter of a virtual environment with that build of dirkit installed (for
example a worktree of an older commit with `pip install -e .`). The trees are shapes of
benchmarks/shapes.py (--shapes, default treegen and stdlib: the regular generated tree, and copies
of the standard library and site-packages repeated to about N files).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.shapes import SMALL_SHAPES, make_shape, mutate_tree


def make_trees(base: Path, shape: str, files: int) -> tuple[Path, Path, Path]:
    """Create base/SHAPE/{a,b,m}: a tree, an exact copy, and a 1%-mutated copy."""
    folder = base / shape
    a, b, m = folder / "a", folder / "b", folder / "m"
    if m.is_dir():
        return a, b, m
    make_shape(shape, a, files)
    subprocess.run(["cp", "-a", str(a), str(b)], check=True)
    subprocess.run(["cp", "-a", str(a), str(m)], check=True)
    mutate_tree(str(m))
    return a, b, m


def timed(argv: list[str], prepare: Callable[[], None] | None = None) -> float:
    """Return the wall time of argv (after prepare, untimed); fail loudly on exit codes above 1."""
    if prepare is not None:
        prepare()
    started = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.decode()[-400:]}")
    return elapsed


def scenarios(python: str, a: Path, b: Path, m: Path, scratch: Path) -> dict[str, Callable[[], float]]:
    """Return the timed commands of one build, by scenario name."""
    dirkit = [python, "-m", "dirkit"]
    target = scratch / "target"
    scratch.mkdir(parents=True, exist_ok=True)

    def fresh_target() -> None:
        shutil.rmtree(target, ignore_errors=True)

    def synced_target() -> None:
        if not target.is_dir():
            subprocess.run([*dirkit, "mirror", "-q", "--force", str(a), str(target)], check=True)

    return {
        "compare identical": lambda: timed([*dirkit, "compare", "--stat", str(a), str(b)]),
        "compare 1% mutated": lambda: timed([*dirkit, "compare", "--stat", str(a), str(m)]),
        "compare --content 1%": lambda: timed([*dirkit, "compare", "--content", "--stat", str(a), str(m)]),
        "mirror first run": lambda: timed(
            [*dirkit, "mirror", "-q", "--force", str(a), str(target)], fresh_target
        ),
        "mirror rerun, nothing": lambda: timed(
            [*dirkit, "mirror", "-q", "--force", str(a), str(target)], synced_target
        ),
    }


def main() -> None:
    """Build the trees, warm up, alternate the two builds per scenario, print medians and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", nargs="?", default="/work/bench-ab")
    parser.add_argument("--before", required=True, help="python of the build to compare against")
    parser.add_argument("--after", default=sys.executable, help="python of the build under test")
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shapes", default="treegen,stdlib", help=f"of {', '.join(SMALL_SHAPES)}")
    args = parser.parse_args()
    base = Path(args.base)
    for shape in args.shapes.split(","):
        a, b, m = make_trees(base, shape, args.files)
        count = sum(len(names) for _, _, names in os.walk(a))
        builds = {"before": args.before, "after": args.after}
        runs = {
            name: scenarios(python, a, b, m, base / shape / f"scratch-{name}")
            for name, python in builds.items()
        }
        times: dict[str, dict[str, list[float]]] = {name: {} for name in builds}
        for scenario in runs["after"]:
            for name in builds:  # warm-up, untimed
                runs[name][scenario]()
            for _ in range(args.rounds):
                for name in builds:
                    times[name].setdefault(scenario, []).append(runs[name][scenario]())
        print(f"\nshape {shape}: {count} files; {args.rounds} alternating rounds, medians")
        print(f"{'scenario':<24} {'before s':>9} {'after s':>9} {'after/before':>13}")
        for scenario in runs["after"]:
            before = statistics.median(times["before"][scenario])
            after = statistics.median(times["after"][scenario])
            print(f"{scenario:<24} {before:>9.3f} {after:>9.3f} {after / before:>12.2f}x")
        for name in builds:
            shutil.rmtree(base / shape / f"scratch-{name}", ignore_errors=True)


if __name__ == "__main__":
    main()
