"""Time dirkit split/join/pack/unpack against split -b, cat, tar czf and tar xzf, side by side.

Usage: python benchmarks/files_bench.py [--file-mib 2048] [--tree-files 100000] [--rounds 2]

Data is generated in a fresh folder under /work/bench-files/ (never inside the repository) and
removed at the end. Each round runs dirkit and the peer tool one after the other (alternating
which goes first); the best wall time of each is kept and the ratio dirkit/peer printed.
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
from collections.abc import Callable
from pathlib import Path

BENCH_ROOT = Path("/work/bench-files")
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "sixty", "zebras")


def dirkit_command() -> list[str]:
    """Return the command that runs this checkout's dirkit."""
    return [sys.executable, "-m", "dirkit"]


def make_big_file(path: Path, mib: int) -> None:
    """Write mib MiB of random bytes (incompressible, like media or archives)."""
    with open(path, "wb") as stream:
        for _ in range(mib):
            stream.write(os.urandom(1024 * 1024))


def make_tree(root: Path, files: int, seed: int = 6) -> int:
    """Write files small text-like files in folders of 100; return the bytes written."""
    rng = random.Random(seed)
    total = 0
    for index in range(files):
        folder = root / f"d{index // 100:04d}" / f"s{index // 10 % 10}"
        if index % 10 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        size = int(rng.expovariate(1 / 3000))
        words = []
        length = 0
        while length < size:
            word = rng.choice(WORDS)
            words.append(word)
            length += len(word) + 1
        data = (" ".join(words) + f" {index}\n").encode()
        (folder / f"f{index:06d}.txt").write_bytes(data)
        total += len(data)
    return total


def timed(command: list[str] | str, shell: bool = False) -> tuple[float, int]:
    """Run a command; return its wall time in seconds and its peak resident memory in KiB."""
    wrapped: list[str] | str
    if shell:
        wrapped = f"/usr/bin/time -f '%M' -o {PEAK_FILE} sh -c '{command}'"
    else:
        assert isinstance(command, list)
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", str(PEAK_FILE), *command]
    start = time.perf_counter()
    subprocess.run(wrapped, shell=shell, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    peak = int(PEAK_FILE.read_text().strip().splitlines()[-1])
    return elapsed, peak


PEAK_FILE = Path(tempfile.gettempdir()) / "dirkit-bench-peak.txt"


def side_by_side(
    label: str,
    ours: Callable[[], list[str]],
    theirs: Callable[[], list[str] | str],
    resets: tuple[Callable[[], None], Callable[[], None]],
    rounds: int,
) -> None:
    """Run both commands rounds times, alternating order; print best times, ratio and peak memory."""
    best = {"dirkit": float("inf"), "peer": float("inf")}
    peaks = {"dirkit": 0, "peer": 0}
    for round_number in range(rounds):
        order = ["dirkit", "peer"] if round_number % 2 == 0 else ["peer", "dirkit"]
        for who in order:
            resets[0 if who == "dirkit" else 1]()
            command = ours() if who == "dirkit" else theirs()
            elapsed, peak = timed(command, shell=isinstance(command, str))
            best[who] = min(best[who], elapsed)
            peaks[who] = max(peaks[who], peak)
    ratio = best["dirkit"] / best["peer"]
    print(
        f"{label:38} dirkit {best['dirkit']:7.2f}s  peer {best['peer']:7.2f}s  "
        f"ratio {ratio:5.2f}x  peak RSS dirkit {peaks['dirkit'] // 1024} MiB, "
        f"peer {peaks['peer'] // 1024} MiB",
        flush=True,
    )


def clear(*paths: Path) -> Callable[[], None]:
    """Return a function that removes paths and recreates the folders among them."""

    def reset() -> None:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            if not path.name.endswith((".gz", "joined_dirkit", "joined_peer")):
                path.mkdir()

    return reset


def bench_split_join(work: Path, mib: int, rounds: int) -> None:
    """Compare split --size 100M with split -b 100M, and join with cat."""
    big = work / "big.bin"
    make_big_file(big, mib)
    subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)
    ours_dir, peer_dir = work / "parts_dirkit", work / "parts_peer"
    side_by_side(
        f"split {mib} MiB into 100M parts",
        lambda: [*dirkit_command(), "split", "-q", "--size", "100M", str(big), "-o", str(ours_dir)],
        lambda: ["split", "-b", "100M", str(big), str(peer_dir / "x")],
        (clear(ours_dir), clear(peer_dir)),
        rounds,
    )
    joined_ours, joined_peer = work / "joined_dirkit", work / "joined_peer"
    side_by_side(
        f"join {mib} MiB from 100M parts (vs cat)",
        lambda: [*dirkit_command(), "join", "-q", str(ours_dir), "-o", str(joined_ours)],
        lambda: f"cat {peer_dir}/x* > {joined_peer}",
        (clear(joined_ours), clear(joined_peer)),
        rounds,
    )
    for path in (big, joined_ours, joined_peer, ours_dir, peer_dir):
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def bench_pack_unpack(work: Path, files: int, rounds: int) -> None:
    """Compare pack to .tar.gz with tar czf, and unpack with tar xzf."""
    tree = work / "tree"
    size = make_tree(tree, files)
    print(f"tree: {files} files, {size / 2**20:.0f} MiB", flush=True)
    ours, peer = work / "ours.tar.gz", work / "peer.tar.gz"
    side_by_side(
        f"pack {files} files to .tar.gz",
        lambda: [*dirkit_command(), "pack", "-q", "--force", str(tree), str(ours)],
        lambda: ["tar", "czf", str(peer), "-C", str(tree), "."],
        (clear(ours), clear(peer)),
        rounds,
    )
    out_ours, out_peer = work / "out_dirkit", work / "out_peer"
    side_by_side(
        f"unpack {files} files from .tar.gz",
        lambda: [*dirkit_command(), "unpack", "-q", str(ours), str(out_ours)],
        lambda: ["tar", "xzf", str(peer), "-C", str(out_peer)],
        (clear(out_ours), clear(out_peer)),
        rounds,
    )
    print(f"archive sizes: dirkit {ours.stat().st_size >> 20} MiB, tar {peer.stat().st_size >> 20} MiB")


def main() -> None:
    """Parse the sizes, build the data, run every comparison, remove the data."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file-mib", type=int, default=2048)
    parser.add_argument("--tree-files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=("split", "pack"), default=None)
    args = parser.parse_args()
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="files-", dir=BENCH_ROOT))
    try:
        if args.only in (None, "split"):
            bench_split_join(work, args.file_mib, args.rounds)
        if args.only in (None, "pack"):
            bench_pack_unpack(work, args.tree_files, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
