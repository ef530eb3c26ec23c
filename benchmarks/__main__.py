"""Run issue 13's table: every dirkit command beside its peer, on several tree shapes, in one run.

Usage, from the repository root:
    python -m benchmarks all [--quick] [--shape S ...] [--only ROW ...] [--floors] [--files N] [--rounds N]
    python -m benchmarks floors [--quick] [--shape S ...] [--only ROW ...]
    python -m benchmarks list
`all` prints one table per shape as it finishes, then every ratio again grouped by work. `floors`
times the Python floor programs (benchmarks/floors.py) in dirkit's place. Data goes to a fresh folder
under --base (default /work/bench-all), deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import shapes
from benchmarks.harness import CommandError, Result, Row, Scratch, format_table, run_row
from benchmarks.rows import Setting, SmallTrees, big_rows, copy_of, file_rows, small_rows

BIG_SHAPES = ("big", "large")
FILE_SHAPES = ("random", "text")
ALL_SHAPES = (*shapes.SMALL_SHAPES, *BIG_SHAPES, *FILE_SHAPES)
QUICK_SHAPES = ("treegen", "stdlib", *BIG_SHAPES, *FILE_SHAPES)
SMALL_KEYS = [
    "mirror",
    "rerun",
    "rerun1",
    "compare",
    "content",
    "manifest",
    "cache",
    "find",
    "grepF",
    "grepE",
    "dupes",
    "unpack",
    "pack",
]
BIG_KEYS = ("mirrorbig", "manifest", "cache")
FILE_KEYS = ("split", "join")
ROW_KEYS = tuple(dict.fromkeys([*SMALL_KEYS, *BIG_KEYS, *FILE_KEYS]))
SEARCH_TERMS = {
    "treegen": ("*.dat", shapes.NEEDLE, shapes.REGEX),
    "stdlib": ("*.py", "NotImplementedError", r"raise [A-Z][a-z]+Error\("),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Scale:
    """The sizes of one run."""

    files: int
    big_count: int
    large_count: int
    file_mib: int
    rounds: int


def scale_of(args: argparse.Namespace) -> Scale:
    """Return the sizes for --quick or a full run, with --files and --rounds applied."""
    scale = Scale(20_000, 5, 2, 512, 2) if args.quick else Scale(100_000, 20, 8, 2048, 5)
    return dataclasses.replace(
        scale,
        files=args.files or scale.files,
        rounds=args.rounds or scale.rounds,
    )


def prepare_small(shape: str, work: Path, files: int) -> SmallTrees:
    """Write a small-file shape, its exact copy, its 1%-mutated copy and its tar.gz."""
    a = work / "a"
    shapes.make_shape(shape, a, files)
    m = copy_of(a, work / "m")
    shapes.mutate_tree(str(m))
    archive = work / "a.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(a), "."], check=True)
    glob, fixed, regex = SEARCH_TERMS.get(shape, ("*.py", shapes.NEEDLE, shapes.REGEX))
    return SmallTrees(a, copy_of(a, work / "b"), m, archive, glob, fixed, regex)


def rows_of_shape(shape: str, setting: Setting, scale: Scale) -> list[Row]:
    """Write the data of a shape and return its rows."""
    work = setting.work
    if shape in shapes.SMALL_SHAPES:
        return small_rows(setting, prepare_small(shape, work, scale.files))
    if shape in BIG_SHAPES:
        count, mib = (scale.big_count, 100) if shape == "big" else (scale.large_count, 256)
        shapes.make_big_files(work / "big", count, mib)
        return big_rows(setting, work / "big")
    file = work / "file.bin"
    writer = shapes.write_random_file if shape == "random" else shapes.write_text_file
    writer(file, scale.file_mib, 9)
    return file_rows(setting, file)


def describe(shape: str, scale: Scale) -> str:
    """Return what a shape holds at this scale, for the table titles."""
    if shape == "big":
        return f"{scale.big_count} x 100 MiB random"
    if shape == "large":
        return f"{scale.large_count} x 256 MiB random"
    if shape in FILE_SHAPES:
        return f"one {scale.file_mib} MiB {shape} file"
    return f"{scale.files} files"


def wanted_keys(shape: str) -> tuple[str, ...]:
    """Return the row keys a shape offers."""
    if shape in shapes.SMALL_SHAPES:
        return tuple(SMALL_KEYS)
    return BIG_KEYS if shape in BIG_SHAPES else FILE_KEYS


def installed_like_environment(work: Path) -> dict[str, str]:
    """Return the commands' environment: bytecode cached, as in an installed dirkit.

    This machine sets PYTHONDONTWRITEBYTECODE, so without a cache of its own every start of dirkit
    would compile its modules again (0.3-0.7 s), which no user's installed copy does.
    """
    env = {**os.environ, "LC_ALL": "C", "DIRKIT_STATE_DIR": str(work / "state")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work.parent / "pycache")
    return env


def run_shape(
    shape: str, args: argparse.Namespace, scale: Scale, scratch: Scratch, pick: Callable[[Row], Row | None]
) -> list[Result]:
    """Write one shape, time its chosen rows, print its table; return the results."""
    work = scratch.base / shape
    work.mkdir()
    env = installed_like_environment(work)
    setting = Setting(args.python, env, work)
    started = time.perf_counter()
    rows = rows_of_shape(shape, setting, scale)
    print(f"[{shape}: data written in {time.perf_counter() - started:.0f} s]", flush=True)
    results: list[Result] = []
    for row in rows:
        chosen = pick(row)
        if chosen is None or (args.only and row.key not in args.only):
            continue
        try:
            results += run_row(chosen, shape, scale.rounds, scratch, with_floor=args.floors)
        except (CommandError, subprocess.CalledProcessError) as failure:
            print(f"[{shape}: {row.work} FAILED: {failure}]", flush=True)
            continue
        print(f"[{shape}: {row.key} timed, {time.perf_counter() - started:.0f} s]", flush=True)
    title = f"\nshape {shape} ({describe(shape, scale)}), {scale.rounds} rounds after a warm-up, medians"
    print(format_table(results, title, subject_label=args.subject_label), flush=True)
    scratch.retire(work)
    return results


def delete_in_background(folder: Path) -> None:
    """Rename folder aside and delete it in a detached `rm -rf` (a big delete slows what follows)."""
    doomed = folder.with_name(folder.name + ".deleting")
    folder.rename(doomed)
    remover = subprocess.Popen(["rm", "-rf", str(doomed)], start_new_session=True)
    print(f"[deleting {doomed} in the background: rm pid {remover.pid}]", flush=True)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("all", "floors", "list"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"20k files, smaller big files, 2 rounds, shapes {' '.join(QUICK_SHAPES)}",
    )
    parser.add_argument(
        "--shape", action="append", choices=ALL_SHAPES, help="this shape (repeatable; default all)"
    )
    parser.add_argument(
        "--only", action="append", choices=ROW_KEYS, help="only this row (repeatable; see `list`)"
    )
    parser.add_argument("--floors", action="store_true", help="also time each row's Python floor")
    parser.add_argument("--files", type=int, help="files per small-file shape (default 100000)")
    parser.add_argument("--rounds", type=int, help="timed rounds after the warm-up (default 5)")
    parser.add_argument("--base", type=Path, default=Path("/work/bench-all"))
    parser.add_argument("--python", default=sys.executable, help="interpreter with dirkit installed")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    return parser.parse_args(argv)


def load() -> str:
    """Return the load averages, to note how busy the machine was."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen command."""
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command == "list":
        for shape in ALL_SHAPES:
            print(f"{shape:<8} rows: {' '.join(wanted_keys(shape))}")
        return 0
    missing = [
        tool
        for tool in ("rsync", "b3sum", "jdupes", "tar", "split", "find", "grep")
        if not shutil.which(tool)
    ]
    if missing:
        print(f"benchmarks: missing tools: {' '.join(missing)}", file=sys.stderr)
        return 2
    scale = scale_of(args)
    args.subject_label = "floor s" if args.command == "floors" else "dirkit s"

    def pick(row: Row) -> Row | None:
        if args.command == "all":
            return row
        return None if row.floor is None else dataclasses.replace(row, subject=row.floor, floor=None)

    if args.command == "floors":
        args.floors = False
    chosen = [
        shape
        for shape in args.shape or (QUICK_SHAPES if args.quick else ALL_SHAPES)
        if not args.only or set(args.only) & set(wanted_keys(shape))
    ]
    args.base.mkdir(parents=True, exist_ok=True)
    scratch = Scratch(Path(tempfile.mkdtemp(prefix="run-", dir=args.base)))
    started = time.perf_counter()
    print(
        f"python -m benchmarks {' '.join(sys.argv[1:] if argv is None else argv)}\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, {load()}; data in {scratch.base}",
        flush=True,
    )
    results: list[Result] = []
    try:
        for shape in chosen:
            results += run_shape(shape, args, scale, scratch, pick)
    finally:
        if not args.keep:
            delete_in_background(scratch.base)
    first_seen: dict[str, int] = {}
    for result in results:
        first_seen.setdefault(result.work, len(first_seen))
    results.sort(key=lambda result: first_seen[result.work])
    print(format_table(results, "\nevery ratio, by work", subject_label=args.subject_label))
    print(f"\n{len(results)} ratios in {time.perf_counter() - started:.0f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
