"""Benchmark `dirkit sync` side by side with `unison -batch` and `rclone bisync`, alternating, with medians.

Usage: python benchmarks/sync_bench.py [--files 100000] [--rounds 3] [--keep]

Each tool gets its own pair of identical trees (A made, then copied to B with cp -a), and a first
run that builds its state (dirkit's base, unison's archive in its own UNISON folder, rclone's
listings in its own --workdir, from --resync). Then, alternating between the tools in each round:

- no change: a second run with nothing to do;
- 1% changed on each side: the same 1% of A's files rewritten (same size, new bytes and time) and
  another 1% of B's, in every tool's pair, then one run.

Wall time per run, medians over rounds, the ratio dirkit/tool, and each run's peak memory (the
child's max RSS from wait4). Data lives in a fresh folder under /work/bench-sync/ (deleted at the
end unless --keep).
"""

from __future__ import annotations

import argparse
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

BENCH_ROOT = Path("/work/bench-sync")
Command = Callable[[Path, Path, Path], list[str]]
"""Builds a tool's command line from side A, side B and the tool's own state folder."""


def make_tree(root: Path, files: int, seed: int) -> None:
    """Create files small files (0-2 KiB) spread over files/100 directories of two levels."""
    rng = random.Random(seed)
    block = os.urandom(2048)
    per_dir = 100
    for index in range(files):
        directory = root / f"d{index // (per_dir * 10):03d}" / f"s{(index // per_dir) % 10}"
        if index % per_dir == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{index}.dat").write_bytes(block[: rng.randrange(0, 2048)])


def all_files(root: Path) -> list[Path]:
    """Return the files of a tree in a stable order (dirkit's own folder left out)."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".dirkit")
        found.extend(Path(folder) / name for name in sorted(names))
    return found


def change_files(root: Path, relative: Sequence[str], stamp: int) -> None:
    """Rewrite the given files with new bytes of the same size, with mtime stamp."""
    for name in relative:
        path = root / name
        size = path.stat().st_size
        path.write_bytes(os.urandom(size))
        os.utime(path, (stamp, stamp))


def measured(command: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return its wall seconds and peak memory (MiB); raise if it fails."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({child.returncode}): {' '.join(command)}\n{error[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def dirkit_command(a: Path, b: Path, state: Path) -> list[str]:
    return [sys.executable, "-m", "dirkit", "sync", "-q", str(a), str(b)]


def unison_command(a: Path, b: Path, state: Path) -> list[str]:
    return ["unison", str(a), str(b), "-batch", "-times", "-silent", "-ignore", "Name .dirkit"]


def rclone_command(a: Path, b: Path, state: Path) -> list[str]:
    return ["rclone", "bisync", str(a), str(b), "--workdir", str(state / "rclone"), "-q"]


TOOLS: dict[str, Command] = {"dirkit": dirkit_command, "unison": unison_command, "rclone": rclone_command}


def tool_env(state: Path) -> dict[str, str]:
    """Return an environment that keeps each tool's state in its own folder."""
    return {
        **os.environ,
        "DIRKIT_STATE_DIR": str(state / "dirkit"),
        "UNISON": str(state / "unison"),
        "HOME": str(state),
    }


def main() -> int:
    """Build the pairs, run the rounds, print medians and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    for tool in ("unison", "rclone"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_ROOT))
    try:
        return run_rounds(work, args.files, args.rounds)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run_rounds(work: Path, files: int, rounds: int) -> int:
    """Run every scenario; return 0."""
    template = work / "template"
    started = time.perf_counter()
    make_tree(template, files, seed=1)
    names = [str(path.relative_to(template)) for path in all_files(template)]
    print(f"tree: {len(names)} files in {time.perf_counter() - started:.0f}s", flush=True)
    pairs: dict[str, tuple[Path, Path, Path]] = {}
    for tool in TOOLS:
        a, b, state = work / tool / "a", work / tool / "b", work / tool / "state"
        (work / tool).mkdir()
        state.mkdir()
        for side in (a, b):
            subprocess.run(["cp", "-a", str(template), str(side)], check=True)
        pairs[tool] = (a, b, state)
    firsts = {
        "dirkit": [],
        "unison": [],
        "rclone": ["--resync"],
    }
    for tool, command in TOOLS.items():
        a, b, state = pairs[tool]
        seconds, peak = measured(command(a, b, state) + firsts[tool], tool_env(state))
        print(f"first run  {tool:<7} {seconds:7.2f}s  {peak:6.0f} MiB", flush=True)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {"no change": {}, "1% changed": {}}
    rng = random.Random(7)
    for round_number in range(rounds):
        order = list(TOOLS)
        if round_number % 2:
            order.reverse()
        for tool in order:
            a, b, state = pairs[tool]
            results["no change"].setdefault(tool, []).append(
                measured(TOOLS[tool](a, b, state), tool_env(state))
            )
        count = max(1, len(names) // 100)
        picked = rng.sample(names, 2 * count)
        stamp = 1_800_000_000 + round_number * 1000
        for tool in TOOLS:
            a, b, _ = pairs[tool]
            change_files(a, picked[:count], stamp)
            change_files(b, picked[count:], stamp + 1)
        for tool in order:
            a, b, state = pairs[tool]
            results["1% changed"].setdefault(tool, []).append(
                measured(TOOLS[tool](a, b, state), tool_env(state))
            )
    for scenario, by_tool in results.items():
        medians = {tool: statistics.median(s for s, _ in runs) for tool, runs in by_tool.items()}
        peaks = {tool: max(p for _, p in runs) for tool, runs in by_tool.items()}
        line = "  ".join(f"{tool} {medians[tool]:6.2f}s ({peaks[tool]:.0f} MiB)" for tool in TOOLS)
        ratios = "  ".join(
            f"dirkit/{tool} {medians['dirkit'] / medians[tool]:.2f}x" for tool in TOOLS if tool != "dirkit"
        )
        print(f"{scenario:<11} {line}  |  {ratios}", flush=True)
    check_in_step(pairs)
    return 0


def check_in_step(pairs: dict[str, tuple[Path, Path, Path]]) -> None:
    """Fail if a tool left its two trees different (a benchmark of a broken sync proves nothing)."""
    for tool, (a, b, _) in pairs.items():
        left = {str(p.relative_to(a)): p.read_bytes() for p in all_files(a)}
        right = {str(p.relative_to(b)): p.read_bytes() for p in all_files(b)}
        if left != right:
            raise SystemExit(f"{tool}: the two trees differ after the benchmark")


if __name__ == "__main__":
    raise SystemExit(main())
