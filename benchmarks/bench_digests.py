"""Benchmark `dirkit manifest` against b3sum and sha256sum, and the digest cache against a cold run.

Generates its own trees in a fresh folder under /work/bench-digests (never inside the repository),
warms the page cache, then runs dirkit and the peer tools alternately and prints median wall times
and ratios. Usage: python benchmarks/bench_digests.py [--large-mib 2048] [--small-files 100000]
[--rounds 3] [--keep].
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
import tempfile
import time
from collections.abc import Sequence

BENCH_BASE = "/work/bench-digests"
LARGE_FILE_MIB = 256


def make_large_tree(root: str, total_mib: int) -> None:
    """Write total_mib MiB of random bytes in files of LARGE_FILE_MIB MiB."""
    os.makedirs(root)
    block = os.urandom(1024 * 1024)
    count = max(1, total_mib // LARGE_FILE_MIB)
    for index in range(count):
        with open(os.path.join(root, f"large-{index:02d}.bin"), "wb") as stream:
            for step in range(LARGE_FILE_MIB):
                stream.write(block[step:] + block[:step])


def make_small_tree(root: str, files: int) -> None:
    """Write files small files (0-8 KiB) in folders of 1000."""
    rng = random.Random(4)
    pool = os.urandom(16 * 1024)
    for index in range(files):
        folder = os.path.join(root, f"d{index // 1000:03d}")
        if index % 1000 == 0:
            os.makedirs(folder)
        size = rng.randrange(0, 8192)
        start = rng.randrange(0, 8192)
        with open(os.path.join(folder, f"f{index:06d}.dat"), "wb") as stream:
            stream.write(pool[start : start + size])


def timed(command: Sequence[str] | str, env: dict[str, str], cwd: str) -> float:
    """Run a command (a shell line when str) and return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(
        command,
        shell=isinstance(command, str),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - start


def dirkit(*arguments: str) -> list[str]:
    """Return the command line that runs dirkit with this interpreter."""
    return [sys.executable, "-m", "dirkit", *arguments]


def compare_side_by_side(
    title: str,
    ours: Sequence[str] | str,
    theirs: Sequence[str] | str,
    env: dict[str, str],
    cwd: str,
    rounds: int,
) -> None:
    """Warm up both commands, then time them alternately and print medians and the ratio."""
    timed(ours, env, cwd)
    timed(theirs, env, cwd)
    our_times: list[float] = []
    their_times: list[float] = []
    for _ in range(rounds):
        our_times.append(timed(ours, env, cwd))
        their_times.append(timed(theirs, env, cwd))
    mine, peer = statistics.median(our_times), statistics.median(their_times)
    print(f"{title}: dirkit {mine:.2f} s, peer {peer:.2f} s, ratio {mine / peer:.2f}x", flush=True)


def cache_speedup(tree: str, env: dict[str, str], cwd: str, rounds: int) -> None:
    """Time a cold manifest (empty cache) against a second run over the unchanged tree."""
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(rounds):
        state = tempfile.mkdtemp(prefix="state-", dir=cwd)
        run_env = {**env, "DIRKIT_STATE_DIR": state}
        cold.append(timed(dirkit("manifest", tree), run_env, cwd))
        warm.append(timed(dirkit("manifest", tree), run_env, cwd))
        shutil.rmtree(state)
    first, second = statistics.median(cold), statistics.median(warm)
    print(
        f"cache, {os.path.basename(tree)} tree: first run {first:.2f} s, second run {second:.2f} s, "
        f"speed-up {first / second:.1f}x",
        flush=True,
    )


def main() -> int:
    """Generate the trees, run every comparison, print the figures, delete the data."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-mib", type=int, default=2048)
    parser.add_argument("--small-files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()
    for tool in ("b3sum", "sha256sum", "xargs", "find"):
        if shutil.which(tool) is None:
            print(f"{tool} is needed (apt-get install b3sum coreutils findutils)", file=sys.stderr)
            return 2
    os.makedirs(BENCH_BASE, exist_ok=True)
    base = tempfile.mkdtemp(prefix="run-", dir=BENCH_BASE)
    env = {**os.environ, "DIRKIT_STATE_DIR": os.path.join(base, "state")}
    try:
        large, small = os.path.join(base, "large"), os.path.join(base, "small")
        make_large_tree(large, args.large_mib)
        make_small_tree(small, args.small_files)
        print(f"data in {base}: {args.large_mib} MiB of large files, {args.small_files} small files")
        print(f"machine: {os.cpu_count()} cores; timings are noisy when other work shares the machine")
        large_files = " ".join(sorted(os.listdir(large)))
        compare_side_by_side(
            "manifest blake3, large files vs b3sum",
            dirkit("manifest", "--no-cache", large),
            f"cd {large} && b3sum {large_files}",
            env,
            base,
            args.rounds,
        )
        compare_side_by_side(
            "manifest blake3, small files vs find | xargs b3sum",
            dirkit("manifest", "--no-cache", small),
            f"cd {small} && find . -type f -print0 | xargs -0 b3sum",
            env,
            base,
            args.rounds,
        )
        compare_side_by_side(
            "manifest sha256, small files vs find | xargs sha256sum",
            dirkit("manifest", "--no-cache", "-a", "sha256", small),
            f"cd {small} && find . -type f -print0 | xargs -0 sha256sum",
            env,
            base,
            args.rounds,
        )
        cache_speedup(small, env, base, args.rounds)
        cache_speedup(large, env, base, args.rounds)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"peak RSS of the largest child process (a dirkit run): {peak_kib / 1024:.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
