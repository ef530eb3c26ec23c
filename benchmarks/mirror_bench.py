"""Benchmark `dirkit mirror` side by side with rsync -a and cp -a, alternating, and print wall-time ratios.

Usage: python benchmarks/mirror_bench.py [--files 100000] [--big-files 20] [--big-mib 100] [--rounds 2]

Scenarios: first mirror of many small files into an empty directory (vs rsync -a and cp -a);
first mirror of a few large files (throughput vs cp -a); a rerun with nothing to do, and a rerun
after 1% of the files changed (vs rsync -a --delete). Data lives in a fresh folder under
/work/bench-mirror/ and is deleted at the end (--keep to keep it).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_ROOT = Path("/work/bench-mirror")


def make_small_tree(root: Path, files: int, seed: int) -> int:
    """Create files small files (0-8 KiB) spread over files/100 directories; return the bytes written."""
    rng = random.Random(seed)
    total = 0
    block = os.urandom(8192)
    for index in range(files):
        directory = root / f"d{index % max(1, files // 100):04d}" / f"s{index % 7}"
        if index < max(1, files // 100) * 7:
            directory.mkdir(parents=True, exist_ok=True)
        size = rng.randrange(0, 8192)
        (directory / f"f{index}.dat").write_bytes(block[:size])
        total += size
    return total


def make_big_tree(root: Path, count: int, mib: int) -> int:
    """Create count files of mib MiB each; return the bytes written."""
    root.mkdir(parents=True, exist_ok=True)
    chunk = os.urandom(1024 * 1024)
    for index in range(count):
        with open(root / f"big{index:02d}.bin", "wb") as stream:
            for _ in range(mib):
                stream.write(chunk)
    return count * mib * 1024 * 1024


def run(command: Sequence[str], env: dict[str, str]) -> float:
    """Run a command and return its wall time in seconds (raise if it fails)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def remove(path: Path) -> None:
    """Delete a folder if it exists."""
    if path.exists():
        shutil.rmtree(path)


def dirkit_mirror(source: Path, target: Path) -> list[str]:
    """Return the dirkit mirror command line."""
    return [sys.executable, "-m", "dirkit", "mirror", "-q", "--force", f"{source}/", str(target)]


def compare_fresh(
    label: str,
    tools: dict[str, Callable[[Path], list[str]]],
    base: Path,
    rounds: int,
    env: dict[str, str],
) -> dict[str, float]:
    """Time each tool copying into a fresh empty target, alternating tools; return the best times."""
    best: dict[str, float] = {}
    for round_number in range(rounds):
        order = list(tools) if round_number % 2 == 0 else list(reversed(tools))
        for name in order:
            target = base / f"out-{name}"
            remove(target)
            subprocess.run(["sync"], check=False)
            seconds = run(tools[name](target), env)
            best[name] = min(best.get(name, seconds), seconds)
            print(f"  {label} round {round_number + 1} {name}: {seconds:.2f}s", flush=True)
    return best


def mutate(source: Path, share: float, seed: int) -> int:
    """Rewrite share of the files under source with new bytes and a new mtime; return how many."""
    rng = random.Random(seed)
    files = [Path(directory) / name for directory, _, names in os.walk(source) for name in names]
    chosen = rng.sample(files, max(1, int(len(files) * share)))
    stamp = time.time() + seed
    for path in chosen:
        path.write_bytes(os.urandom(rng.randrange(1, 8192)))
        os.utime(path, (stamp, stamp))
    return len(chosen)


def main() -> None:
    """Generate the data, run every scenario, print the ratios, and clean up."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big-files", type=int, default=20)
    parser.add_argument("--big-mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()
    for tool in ("rsync", "cp"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed for this benchmark")
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_ROOT))
    env = dict(os.environ, DIRKIT_STATE_DIR=str(base / "state"))
    try:
        small = base / "small"
        started = time.perf_counter()
        written = make_small_tree(small, args.files, seed=1)
        print(f"made {args.files} files ({written / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f}s")
        subprocess.run(
            ["cat", *[str(p) for p in list(small.rglob("*.dat"))[:1]]], check=False, stdout=subprocess.DEVNULL
        )
        run(["rsync", "-a", f"{small}/", str(base / "warmup")], env)
        remove(base / "warmup")
        results: list[str] = []

        print(f"first mirror of {args.files} small files into an empty directory")
        best = compare_fresh(
            "small",
            {
                "dirkit": lambda target: dirkit_mirror(small, target),
                "rsync": lambda target: ["rsync", "-a", f"{small}/", str(target)],
                "cp": lambda target: ["cp", "-a", str(small), str(target)],
            },
            base,
            args.rounds,
            env,
        )
        results.append(
            f"first mirror, {args.files} files: dirkit/rsync -a = {best['dirkit'] / best['rsync']:.2f}x "
            f"(target <= 1.0), dirkit/cp -a = {best['dirkit'] / best['cp']:.2f}x (target <= 1.5); "
            f"dirkit {best['dirkit']:.2f}s, rsync {best['rsync']:.2f}s, cp {best['cp']:.2f}s"
        )

        print("rerun with nothing to do")
        nothing: dict[str, float] = {}
        for round_number in range(args.rounds):
            for name in ("dirkit", "rsync") if round_number % 2 == 0 else ("rsync", "dirkit"):
                target = base / f"out-{name}"
                command = (
                    dirkit_mirror(small, target)
                    if name == "dirkit"
                    else ["rsync", "-a", "--delete", f"{small}/", str(target)]
                )
                seconds = run(command, env)
                nothing[name] = min(nothing.get(name, seconds), seconds)
                print(f"  noop round {round_number + 1} {name}: {seconds:.2f}s", flush=True)
        results.append(
            f"rerun, nothing to do: dirkit/rsync -a --delete = {nothing['dirkit'] / nothing['rsync']:.2f}x "
            f"(target <= 1.0); dirkit {nothing['dirkit']:.2f}s, rsync {nothing['rsync']:.2f}s"
        )

        print("rerun after 1% of the files changed")
        mutated: dict[str, float] = {}
        for round_number in range(args.rounds):
            changed = mutate(small, 0.01, seed=100 + round_number)
            for name in ("dirkit", "rsync") if round_number % 2 == 0 else ("rsync", "dirkit"):
                target = base / f"out-{name}"
                command = (
                    dirkit_mirror(small, target)
                    if name == "dirkit"
                    else ["rsync", "-a", "--delete", f"{small}/", str(target)]
                )
                seconds = run(command, env)
                mutated[name] = min(mutated.get(name, seconds), seconds)
                print(f"  1% round {round_number + 1} {name} ({changed} files): {seconds:.2f}s", flush=True)
        results.append(
            f"rerun, 1% changed: dirkit/rsync -a --delete = {mutated['dirkit'] / mutated['rsync']:.2f}x "
            f"(target <= 1.0); dirkit {mutated['dirkit']:.2f}s, rsync {mutated['rsync']:.2f}s"
        )
        for name in ("dirkit", "rsync", "cp"):
            remove(base / f"out-{name}")
        remove(small)

        if args.big_files:
            big = base / "big"
            size = make_big_tree(big, args.big_files, args.big_mib)
            print(f"first mirror of {args.big_files} files of {args.big_mib} MiB")
            best = compare_fresh(
                "big",
                {
                    "dirkit": lambda target: dirkit_mirror(big, target),
                    "cp": lambda target: ["cp", "-a", str(big), str(target)],
                },
                base,
                args.rounds,
                env,
            )
            mib = size / 2**20
            results.append(
                f"first mirror, {args.big_files} x {args.big_mib} MiB: "
                f"dirkit {mib / best['dirkit']:.0f} MiB/s, "
                f"cp -a {mib / best['cp']:.0f} MiB/s, throughput ratio {best['cp'] / best['dirkit']:.2f}x "
                f"(target >= 0.9)"
            )
        print("\nresults (best of each; wall-clock ratios on a shared, noisy machine):")
        for line in results:
            print(f"  {line}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
