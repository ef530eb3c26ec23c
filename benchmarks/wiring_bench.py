"""Time dirkit dupes --link against jdupes -r -L, and dirkit unpack --overwrite against tar -xf.

Usage: python -m benchmarks.wiring_bench [--shape wide] [--files 20000] [--rounds 3]

Not rows of issue 13's table (so the ratio limit shown, 1x, is only a yardstick): both change a
tree in place, so every timed run gets a fresh cp -a copy of the data (not timed) in a fresh folder.
The tree is a shape of benchmarks/shapes.py; timing is benchmarks/harness.py's (a warm-up, rotating
order, medians, whole-tree peak memory). dirkit does more than its peers here: it journals every
step and moves what it replaces into a backup folder, so that 'dirkit undo' restores it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Contender, Invocation, Row, Scratch, Target, format_table, run_row
from benchmarks.shapes import SMALL_SHAPES, make_shape

BENCH_ROOT = Path("/work/bench-wiring")


def main() -> None:
    """Write the data, time both comparisons, print the table, clean up."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=SMALL_SHAPES, default="wide")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("jdupes", "tar"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed for this benchmark")
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_ROOT))
    try:
        tree, archive = data / "tree", data / "tree.tar"
        make_shape(args.shape, tree, args.files)
        subprocess.run(["tar", "-cf", str(archive), "-C", str(tree), "."], check=True)
        env = {**os.environ, "DIRKIT_STATE_DIR": str(data / "state")}
        dirkit = (sys.executable, "-m", "dirkit")

        def run(*argv: str) -> Invocation:
            return Invocation(argv, env)

        def copy(folder: Path) -> str:
            subprocess.run(["cp", "-a", str(tree), str(folder / "t")], check=True)
            return str(folder / "t")

        rows = [
            Row(
                "link",
                "dupes --link",
                Contender("dirkit dupes --link", lambda f: run(*dirkit, "dupes", "--link", copy(f))),
                (Contender("jdupes -r -L", lambda f: run("jdupes", "-q", "-r", "-L", copy(f))),),
                Target(1.0),
            ),
            Row(
                "overwrite",
                "unpack --overwrite",
                Contender(
                    "dirkit unpack --overwrite",
                    lambda f: Invocation(
                        (*dirkit, "unpack", "-q", "--overwrite", str(archive), copy(f)), env
                    ),
                ),
                (Contender("tar -xf", lambda f: run("tar", "-xf", str(archive), "-C", copy(f))),),
                Target(1.0),
                (archive,),
            ),
        ]
        scratch = Scratch(data / "scratch")
        results = [result for row in rows for result in run_row(row, args.shape, args.rounds, scratch)]
        print(format_table(results, f"{args.files} files ({args.shape}), {args.rounds} rounds, medians"))
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
