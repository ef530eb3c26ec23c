"""kill -9 a child process mirroring a few thousand files at random moments: nothing partial, nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.filters import TEMP_MARKER
from dirkit.core.guards import GuardOptions
from dirkit.ops.mirror import MirrorOptions, mirror_trees
from dirkit.state.journal import Journal, RunStatus

TRIALS = 30
FILES = 1500
SEED = 20_261_121
Version = dict[str, bytes]


def make_versions(rng: random.Random) -> tuple[Version, Version]:
    """Return two versions of a tree: a quarter of the files changed, some only in one, a type change."""
    first: Version = {}
    second: Version = {}
    for index in range(FILES):
        path = f"d{index % 30}/f{index}.bin"
        size = rng.randrange(200, 4000)
        first[path] = f"v1 {path} ".encode() * (size // 16)
        if index % 20 == 0:
            continue
        second[path] = first[path] if index % 4 else f"v2 {path} ".encode() * (size // 15)
    for index in range(40):
        second[f"only2/g{index}.bin"] = f"new file {index} ".encode() * 50
        first[f"only1/h{index}.bin"] = f"old file {index} ".encode() * 50
    first["turns"] = b"a file in the first version"
    second["turns/inside"] = b"a file in a directory in the second version"
    return first, second


def write_version(root: Path, version: Version, mtime: int) -> None:
    """Create a tree holding version, every file with mtime."""
    for path, data in version.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
        os.utime(full, (mtime, mtime))


def read_tree(root: Path) -> dict[str, bytes]:
    """Return the bytes of every file below root, except dirkit's own folder."""
    found: dict[str, bytes] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if name != ".dirkit"]
        for name in files:
            full = os.path.join(directory, name)
            found[os.path.relpath(full, root)] = Path(full).read_bytes()
    return found


def recoverable(target: Path, path: str, data: bytes) -> bool:
    """Tell whether some backup folder of target holds data at path."""
    backups = target / ".dirkit" / "backups"
    if not backups.is_dir():
        return False
    for run in os.listdir(backups):
        candidate = backups / run / path
        if candidate.is_file() and candidate.read_bytes() == data:
            return True
    return False


def wait_for_new_run(journal: Journal, target: Path, runs_before: int) -> None:
    """Wait (at most 10 s) until the child has journaled its run on target."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(journal.runs_for_target(str(target))) > runs_before:
            return
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    first, second = make_versions(rng)
    sources = [tmp_path / "v1", tmp_path / "v2"]
    write_version(sources[0], first, 1_600_000_000)
    write_version(sources[1], second, 1_700_000_000)
    versions = [first, second]
    target = tmp_path / "dst"
    target.mkdir()
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=4)
    journal = Journal.open()
    mirror_trees(LocalBackend(str(sources[0])), LocalBackend(str(target)), journal, options)
    killed_mid_run = 0
    for trial in range(TRIALS):
        old, new = versions[trial % 2], versions[(trial + 1) % 2]
        source = sources[(trial + 1) % 2]
        runs_before = len(journal.runs_for_target(str(target)))
        child = subprocess.Popen(
            [sys.executable, "-m", "dirkit", "mirror", "--force", "-q", "-j", "4", str(source), str(target)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if trial % 2:
            time.sleep(rng.uniform(0.1, 0.5))
        else:
            wait_for_new_run(journal, target, runs_before)
            time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        killed_mid_run += child.returncode == -signal.SIGKILL
        seen = read_tree(target)
        for path, data in seen.items():
            if TEMP_MARKER in path:
                continue
            assert data in (old.get(path), new.get(path)), f"trial {trial}: {path} holds foreign bytes"
        for path, data in old.items():
            if seen.get(path) != data:
                assert recoverable(target, path, data), f"trial {trial}: old {path} is lost"
        result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
        assert result.ok, (trial, result.failures[:3])
        after = read_tree(target)
        assert after == new, f"trial {trial}: the rerun did not converge"
        assert not any(TEMP_MARKER in path for path in after)
        assert all(run.status is not RunStatus.RUNNING for run in journal.runs_for_target(str(target)))
    journal.close()
    assert killed_mid_run >= TRIALS // 2, "the child finished before most kills; the test lost its teeth"
