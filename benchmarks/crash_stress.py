"""Long crash stress: kill -9 `dirkit mirror` at random moments, then check, undo, check, and rerun.

Usage: python benchmarks/crash_stress.py [--trials 200] [--files 5000] [--seed 1]

Each trial mirrors one version of a tree over the other in a child process and kills it with
SIGKILL after a random delay. Then: every file under its final name holds exactly its old or its
new bytes; `dirkit undo` of the killed run brings back exactly the old version; a rerun of mirror
converges to the new version. The suite's fast version is tests/ops/test_crash.py. Data lives in
a fresh folder under /work/bench-mirror/ and is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dirkit.state.journal import Journal, RunStatus

BENCH_ROOT = Path("/work/bench-mirror")
Version = dict[str, bytes]


def make_versions(rng: random.Random, files: int) -> tuple[Version, Version]:
    """Return two versions of a tree that differ in content, presence and type."""
    first: Version = {}
    second: Version = {}
    for index in range(files):
        path = f"d{index % 50}/e{index % 7}/f{index}"
        first[path] = f"one {path} ".encode() * rng.randrange(1, 400)
        if index % 9 == 0:
            continue
        second[path] = first[path] if index % 3 else f"two {path} ".encode() * rng.randrange(1, 400)
    for index in range(files // 20):
        first[f"gone/g{index}"] = f"only in one {index}".encode()
        second[f"fresh/h{index}"] = f"only in two {index}".encode()
    first["flip"] = b"a file"
    second["flip/now"] = b"a directory"
    return first, second


def write_version(root: Path, version: Version, mtime: int) -> None:
    """Create a tree holding version, every file with mtime."""
    for path, data in version.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
        os.utime(full, (mtime, mtime))


def read_tree(root: Path) -> Version:
    """Return the bytes of every file below root (dirkit's own folder and temporary files left out)."""
    found: Version = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = [name for name in dirs if name != ".dirkit"]
        for name in names:
            if ".dirkit-tmp-" not in name:
                full = os.path.join(directory, name)
                found[os.path.relpath(full, root)] = Path(full).read_bytes()
    return found


def dirkit(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a dirkit command and return its outcome."""
    command = [sys.executable, "-m", "dirkit", *arguments]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def main() -> None:
    """Run the trials and report; exit 1 at the first broken promise."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="stress-", dir=BENCH_ROOT))
    env = dict(os.environ, DIRKIT_STATE_DIR=str(base / "state"))
    try:
        versions = make_versions(rng, args.files)
        sources = [base / "one", base / "two"]
        write_version(sources[0], versions[0], 1_600_000_000)
        write_version(sources[1], versions[1], 1_700_000_000)
        target = base / "dst"
        dirkit("mirror", "-q", "--force", str(sources[0]), str(target), env=env)
        started = time.monotonic()
        undone: set[str] = set()
        for trial in range(args.trials):
            old, new = versions[trial % 2], versions[(trial + 1) % 2]
            source = sources[(trial + 1) % 2]
            command = [sys.executable, "-m", "dirkit", "mirror", "-q", "--force", str(source), str(target)]
            child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.2, 2.5))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            seen = read_tree(target)
            broken = [path for path, data in seen.items() if data not in (old.get(path), new.get(path))]
            if broken:
                sys.exit(f"trial {trial}: foreign bytes in {broken[:5]}")
            dirkit("backups", "-q", str(target), env=env)
            journal = Journal.open(str(base / "state"))
            killed = [
                run for run in journal.runs_for_target(str(target)) if run.status is RunStatus.INTERRUPTED
            ]
            journal.close()
            if killed and killed[-1].run_id not in undone and child.returncode == -signal.SIGKILL:
                undone.add(killed[-1].run_id)
                undo = dirkit("undo", "-q", "--run", killed[-1].run_id, str(target), env=env)
                if undo.returncode != 0:
                    sys.exit(f"trial {trial}: undo failed: {undo.stderr}")
                if read_tree(target) != old:
                    sys.exit(f"trial {trial}: undo did not restore the old version")
            rerun = dirkit("mirror", "-q", "--force", str(source), str(target), env=env)
            if rerun.returncode != 0 or read_tree(target) != new:
                sys.exit(f"trial {trial}: the rerun did not converge: {rerun.stderr}")
            print(
                f"trial {trial + 1}/{args.trials} ok (killed {'mid-run' if child.returncode < 0 else 'late'})"
            )
        print(f"{args.trials} trials passed in {time.monotonic() - started:.0f}s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
