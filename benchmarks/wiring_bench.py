"""Time dirkit dupes --link against jdupes -r -L, and dirkit unpack --overwrite against tar -xf.

Usage: python benchmarks/wiring_bench.py [--files 20000] [--rounds 2]

Data is generated in a fresh folder under /work/bench-wiring/ (never inside the repository) and
removed at the end. Every timed run starts from a fresh copy of the data (the copy is not timed).
Each round runs dirkit and the peer one after the other, alternating which goes first; the best
wall time of each is kept and the ratio dirkit/peer printed. dirkit does more than its peers here:
it journals every step and moves what it replaces into a backup folder, so that 'dirkit undo'
restores it.
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
from pathlib import Path

BENCH_ROOT = Path("/work/bench-wiring")


def make_tree(root: Path, files: int, seed: int = 5) -> None:
    """Write files small files in folders of 100, about half of them copies of others."""
    rng = random.Random(seed)
    originals: list[bytes] = []
    for index in range(files):
        folder = root / f"d{index // 100:04d}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        if originals and rng.random() < 0.5:
            data = rng.choice(originals)
        else:
            data = rng.randbytes(int(rng.expovariate(1 / 4000)) + 1)
            originals.append(data)
        (folder / f"f{index}.bin").write_bytes(data)


def timed(command: list[str], env: dict[str, str]) -> float:
    """Run a command and return its wall time in seconds (it must exit 0 or 1)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:4]} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return seconds


def fresh_copy(source: Path, target: Path) -> None:
    """Make target a full copy of source (removing any old target)."""
    if target.exists():
        shutil.rmtree(target)
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def compare(
    name: str, rounds: int, dirkit: list[str], peer: list[str], prepare: list[Path], data: Path
) -> None:
    """Time dirkit against its peer over rounds, each on fresh copies, and print the best times."""
    env = {**os.environ, "DIRKIT_STATE_DIR": str(data / "state")}
    best = {"dirkit": float("inf"), "peer": float("inf")}
    for round_number in range(rounds):
        order = [("dirkit", dirkit), ("peer", peer)]
        if round_number % 2:
            order.reverse()
        for who, command in order:
            for target in prepare:
                fresh_copy(data / "tree", target)
            best[who] = min(best[who], timed(command, env))
    ratio = best["dirkit"] / best["peer"]
    print(f"{name:34} dirkit {best['dirkit']:7.2f}s  {peer[0]:>7} {best['peer']:7.2f}s  ratio {ratio:5.2f}")


def main() -> None:
    """Generate the data, warm up, run both comparisons, and clean up."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for tool in ("jdupes", "tar"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed for this benchmark")
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_ROOT))
    try:
        make_tree(data / "tree", args.files)
        archive = data / "tree.tar"
        subprocess.run(["tar", "-cf", str(archive), "-C", str(data / "tree"), "."], check=True)
        work = data / "work"
        dirkit = [sys.executable, "-m", "dirkit"]
        print(f"{args.files} files, {args.rounds} rounds, best wall time each (shared machine: noisy)")
        fresh_copy(data / "tree", work)
        timed(["tar", "-cf", "/dev/null", str(work)], dict(os.environ))
        compare(
            "dupes --link vs jdupes -r -L",
            args.rounds,
            [*dirkit, "dupes", "--link", str(work)],
            ["jdupes", "-q", "-r", "-L", str(work)],
            [work],
            data,
        )
        compare(
            "unpack --overwrite vs tar -xf",
            args.rounds,
            [*dirkit, "unpack", "--overwrite", str(archive), str(work)],
            ["tar", "-xf", str(archive), "-C", str(work)],
            [work],
            data,
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
