"""Benchmark `dirkit sync` side by side with `unison -batch`, `rclone bisync` and a Python floor.

Usage: python benchmarks/sync_bench.py [--files 100000] [--rounds 3] [--shape treegen|stdlib|...|small]
       [--tools dirkit,unison,rclone,floor] [--main PYTHON] [--keep]

The tree is one of benchmarks/shapes.py's small-file shapes (`treegen`, `stdlib`, ...), or `small`:
files of 0-2 KiB, 100 per folder, two levels deep (the tree of the first figures). Each tool gets
its own pair of identical trees (the tree made once, then copied to A and B with cp -a), and a first
run that builds its state (dirkit's base, unison's archive in its own UNISON folder, rclone's
listings in its own --workdir, from --resync, the floor's SQLite table). Then, alternating between
the tools in each round (the order reversed every other round):

- no change: a second run with nothing to do;
- 1% changed on each side: the same 1% of A's regular files rewritten (same size, new bytes and
  time, under a new inode) and another 1% of B's, in every tool's pair, then one run.

`floor` is benchmarks/floors_sync.py, the smallest Python program doing the same work (two walks in
two processes, the base read from SQLite, a 3-way merge, the copies). `--main PYTHON` adds another
build of dirkit (`PYTHON -m dirkit`, e.g. /work/main/.venv/bin/python) as the contender `main`.

Per scenario and tool: the median wall time, the median CPU time (user + system, the tool and its
children), the peak memory (the highest sum of the resident memory of the tool's processes alive at
once, sampled every 20 ms, or the kernel's high-water mark of one process if higher), and the ratio
dirkit/tool. Commands get `LC_ALL=C`, their own state folders, and a bytecode cache of their own
(PYTHONDONTWRITEBYTECODE is dropped). Data lives in a fresh folder under /work/bench-sync/ (`--base`),
deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import MemorySampler
from benchmarks.shapes import SMALL_SHAPES, make_shape

BENCH_ROOT = Path("/work/bench-sync")
FLOOR = str(Path(__file__).resolve().with_name("floors_sync.py"))
Command = Callable[[Path, Path, Path], list[str]]
"""Builds a tool's command line from side A, side B and the tool's own state folder."""


class Sample(NamedTuple):
    """One run: wall seconds, CPU seconds (user + system, with children), peak memory in MiB."""

    seconds: float
    cpu: float
    peak_mib: float


def make_small_tree(root: Path, files: int, seed: int) -> None:
    """Create files small files (0-2 KiB) spread over files/100 directories of two levels."""
    rng = random.Random(seed)
    block = os.urandom(2048)
    per_dir = 100
    for index in range(files):
        directory = root / f"d{index // (per_dir * 10):03d}" / f"s{(index // per_dir) % 10}"
        if index % per_dir == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{index}.dat").write_bytes(block[: rng.randrange(0, 2048)])


def make_tree(shape: str, root: Path, files: int) -> None:
    """Write the tree of a shape at root."""
    if shape == "small":
        make_small_tree(root, files, seed=1)
    else:
        make_shape(shape, root, files)


def regular_files(root: Path) -> list[str]:
    """Return the regular files of a tree (relative, stable order; links and .dirkit left out)."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".dirkit")
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append(str(path.relative_to(root)))
    return found


def change_files(root: Path, relative: Sequence[str], stamp: int) -> None:
    """Rewrite the given files with new bytes of the same size (a new file renamed over), mtime stamp."""
    for name in relative:
        path = root / name
        size = path.stat().st_size
        fresh = path.with_name(path.name + ".bench-new")
        fresh.write_bytes(os.urandom(size))
        os.utime(fresh, (stamp, stamp))
        fresh.replace(path)


def measured(command: Sequence[str], env: dict[str, str]) -> Sample:
    """Run a command; return its wall time, CPU time and peak memory; raise if it fails."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        sampler = MemorySampler(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        sampler.stopped.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode(errors="replace")
            raise SystemExit(f"{command[0]} failed ({child.returncode}): {' '.join(command)}\n{tail}")
    peak = max(sampler.peak, usage.ru_maxrss * 1024)
    return Sample(seconds, usage.ru_utime + usage.ru_stime, peak / (1 << 20))


def dirkit_command(python: str) -> Command:
    """Return the command of a dirkit build run by python."""
    return lambda a, b, state: [python, "-m", "dirkit", "sync", "-q", str(a), str(b)]


def unison_command(a: Path, b: Path, state: Path) -> list[str]:
    return ["unison", str(a), str(b), "-batch", "-times", "-silent", "-ignore", "Name .dirkit"]


def rclone_command(a: Path, b: Path, state: Path) -> list[str]:
    return ["rclone", "bisync", str(a), str(b), "--workdir", str(state / "rclone"), "-q"]


def floor_command(a: Path, b: Path, state: Path) -> list[str]:
    return [sys.executable, FLOOR, str(state / "floor"), str(a), str(b)]


FIRST_RUN_FLAGS = {"rclone": ["--resync"]}


def tool_env(state: Path, cache: Path) -> dict[str, str]:
    """Return an environment that keeps each tool's state in its own folder."""
    env = {
        **os.environ,
        "DIRKIT_STATE_DIR": str(state / "dirkit"),
        "UNISON": str(state / "unison"),
        "HOME": str(state),
        "LC_ALL": "C",
        "PYTHONPYCACHEPREFIX": str(cache),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def chosen_tools(names: str, main_python: str | None) -> dict[str, Command]:
    """Return the contenders asked for, dirkit first."""
    every: dict[str, Command] = {"dirkit": dirkit_command(sys.executable)}
    if main_python:
        every["main"] = dirkit_command(main_python)
    every |= {"unison": unison_command, "rclone": rclone_command, "floor": floor_command}
    wanted = {name.strip() for name in names.split(",") if name.strip()} | {"dirkit"}
    if main_python:
        wanted.add("main")
    unknown = wanted - set(every)
    if unknown:
        raise SystemExit(f"unknown tools: {', '.join(sorted(unknown))}")
    for tool in ("unison", "rclone"):
        if tool in wanted and shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    return {name: command for name, command in every.items() if name in wanted}


def main() -> int:
    """Build the pairs, run the rounds, print medians and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shape", choices=[*SMALL_SHAPES, "small"], default="treegen")
    parser.add_argument("--tools", default="dirkit,unison,rclone,floor", help="comma-separated contenders")
    parser.add_argument("--main", metavar="PYTHON", help="also time the dirkit build of this interpreter")
    parser.add_argument("--base", type=Path, default=BENCH_ROOT, help="where the trees are made")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tools = chosen_tools(args.tools, args.main)
    args.base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.base))
    try:
        return run_rounds(work, tools, args.shape, args.files, args.rounds)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_rounds(work: Path, tools: dict[str, Command], shape: str, files: int, rounds: int) -> int:
    """Run every scenario; return 0."""
    template = work / "template"
    started = time.perf_counter()
    make_tree(shape, template, files)
    names = regular_files(template)
    print(f"tree {shape}: {len(names)} regular files in {time.perf_counter() - started:.0f}s", flush=True)
    pairs: dict[str, tuple[Path, Path, Path]] = {}
    for tool in tools:
        a, b, state = work / tool / "a", work / tool / "b", work / tool / "state"
        (work / tool).mkdir()
        state.mkdir()
        for side in (a, b):
            subprocess.run(["cp", "-a", str(template), str(side)], check=True)
        pairs[tool] = (a, b, state)
    shutil.rmtree(template)
    cache = work / "pycache"
    for tool, command in tools.items():
        a, b, state = pairs[tool]
        first = measured(command(a, b, state) + FIRST_RUN_FLAGS.get(tool, []), tool_env(state, cache))
        print(
            f"first run   {tool:<7} {first.seconds:7.2f}s  cpu {first.cpu:6.2f}s  {first.peak_mib:5.0f} MiB"
        )
    results: dict[str, dict[str, list[Sample]]] = {"no change": {}, "1% changed": {}}
    rng = random.Random(7)
    for round_number in range(rounds):
        order = list(tools)
        if round_number % 2:
            order.reverse()
        for tool in order:
            a, b, state = pairs[tool]
            results["no change"].setdefault(tool, []).append(
                measured(tools[tool](a, b, state), tool_env(state, cache))
            )
        count = max(1, len(names) // 100)
        picked = rng.sample(names, 2 * count)
        stamp = 1_800_000_000 + round_number * 1000
        for tool in tools:
            a, b, _ = pairs[tool]
            change_files(a, picked[:count], stamp)
            change_files(b, picked[count:], stamp + 1)
        for tool in order:
            a, b, state = pairs[tool]
            results["1% changed"].setdefault(tool, []).append(
                measured(tools[tool](a, b, state), tool_env(state, cache))
            )
        print(f"round {round_number + 1} of {rounds} done; load {os.getloadavg()[0]:.1f}", flush=True)
    print_results(results, list(tools))
    check_in_step(pairs)
    return 0


def print_results(results: dict[str, dict[str, list[Sample]]], tools: list[str]) -> None:
    """Print per scenario each tool's medians and peak, then dirkit's ratios."""
    for scenario, by_tool in results.items():
        print(f"{scenario}:")
        dirkit = statistics.median(sample.seconds for sample in by_tool["dirkit"])
        for tool in tools:
            runs = by_tool[tool]
            wall = statistics.median(sample.seconds for sample in runs)
            cpu = statistics.median(sample.cpu for sample in runs)
            peak = max(sample.peak_mib for sample in runs)
            walls = " ".join(f"{sample.seconds:.2f}" for sample in runs)
            ratio = "" if tool == "dirkit" else f"  dirkit/{tool} {dirkit / wall:.2f}x"
            print(f"  {tool:<7} {wall:6.2f}s  cpu {cpu:6.2f}s  {peak:5.0f} MiB  ({walls}){ratio}", flush=True)


def tree_listing(root: Path) -> dict[str, str]:
    """Return each path of a tree (not .dirkit) with its kind and size or link target."""
    found: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".dirkit")
        for name in [*dirs, *names]:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            if path.is_symlink():
                found[relative] = "link:" + os.readlink(path)
            elif path.is_file():
                found[relative] = f"file:{path.stat().st_size}"
            elif path.is_dir():
                found[relative] = "dir"
    return found


def check_in_step(pairs: dict[str, tuple[Path, Path, Path]]) -> None:
    """Fail if a tool left its two trees different (a benchmark of a broken sync proves nothing)."""
    for tool, (a, b, _) in pairs.items():
        left, right = tree_listing(a), tree_listing(b)
        same = left == right and all(
            filecmp.cmp(a / name, b / name, shallow=False)
            for name, kind in left.items()
            if kind.startswith("file:")
        )
        if not same:
            raise SystemExit(f"{tool}: the two trees differ after the benchmark")


if __name__ == "__main__":
    raise SystemExit(main())
