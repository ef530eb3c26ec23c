"""kill -9 a child mirror at chosen steps: nothing partial, nothing lost; reruns converge, undo restores.

Where the kill lands is deterministic: the child runs with $DIRKIT_TEST_KILL_AFTER_STEPS=N and kills
itself with SIGKILL once N steps ended, while its other workers are in the middle of copies. N is drawn
from a seeded generator, so every trial kills mid-run and a failure reproduces.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal, RunStatus
from tests.support import read_files

TRIALS_PER_MODE = 30
FILES = 150
SEED = 20_261_121
KILL_AFTER = (1, 60)
"""The child is killed after this many steps ended (a plan between the versions has 200+ steps)."""


class File:
    """One file of a version: bytes, mtime (s) and permission bits."""

    def __init__(self, data: bytes, mtime: int, mode: int) -> None:
        self.data, self.mtime, self.mode = data, mtime, mode


Version = dict[str, File]


def make_versions(rng: random.Random) -> tuple[Version, Version]:
    """Return two versions: content changes, mode-only changes, mtime-only ones, kinds."""
    first: Version = {}
    second: Version = {}
    for index in range(FILES):
        path = f"d{index % 12}/f{index}.bin"
        size = rng.randrange(200, 3000)
        first[path] = File(f"v1 {path} ".encode() * (size // 16), 1_600_000_000 + index, 0o644)
        if index % 15 == 0:
            continue
        kept = first[path]
        if index % 3 == 0:
            second[path] = File(f"v2 {path} ".encode() * (size // 15), 1_700_000_000 + index, 0o640)
        elif index % 7 == 0:
            second[path] = File(kept.data, kept.mtime, 0o600)
        elif index % 11 == 0:
            second[path] = File(kept.data, kept.mtime + 1000, kept.mode)
        else:
            second[path] = kept
    for index in range(20):
        second[f"only2/g{index}.bin"] = File(f"new file {index} ".encode() * 40, 1_700_000_000, 0o644)
        first[f"only1/h{index}.bin"] = File(f"old file {index} ".encode() * 40, 1_600_000_000, 0o755)
    first["turns"] = File(b"a file in the first version", 1_600_000_000, 0o644)
    second["turns/inside"] = File(b"a file in a directory in the second version", 1_700_000_000, 0o644)
    return first, second


def write_version(root: Path, version: Version) -> None:
    """Create a tree holding version."""
    for path, file in version.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(file.data)
        full.chmod(file.mode)
        os.utime(full, (file.mtime, file.mtime))


def metadata_differences(source: Path, target: Path) -> list[str]:
    """Return the files whose mtime or mode in target differs from source (os.lstat on both)."""
    differences: list[str] = []
    for path in read_files(source):
        want, have = os.lstat(source / path), os.lstat(target / path)
        if want.st_mtime_ns != have.st_mtime_ns or stat.S_IMODE(want.st_mode) != stat.S_IMODE(have.st_mode):
            differences.append(path)
    return differences


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


def bytes_of(version: Version) -> dict[str, bytes]:
    """Return the bytes of every file of a version."""
    return {path: file.data for path, file in version.items()}


@pytest.mark.slow
@pytest.mark.parametrize("content", [False, True], ids=["quick", "content"])
def test_kill_9_at_chosen_steps_loses_nothing_and_converges(tmp_path: Path, content: bool) -> None:
    rng = random.Random(SEED + content)
    first, second = make_versions(rng)
    sources = [tmp_path / "v1", tmp_path / "v2"]
    write_version(sources[0], first)
    write_version(sources[1], second)
    versions = [first, second]
    target = tmp_path / "dst"
    target.mkdir()
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=4, content=content)
    journal = Journal.open()
    assert mirror_trees(LocalBackend(str(sources[0])), LocalBackend(str(target)), journal, options).ok
    mode = ["--content"] if content else []
    for trial in range(TRIALS_PER_MODE):
        old, new = bytes_of(versions[trial % 2]), bytes_of(versions[(trial + 1) % 2])
        old_source, source = sources[trial % 2], sources[(trial + 1) % 2]
        kill_after = rng.randint(*KILL_AFTER)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "dirkit",
                "mirror",
                "--force",
                "-q",
                "-j",
                "4",
                *mode,
                str(source),
                str(target),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "DIRKIT_TEST_KILL_AFTER_STEPS": str(kill_after)},
            timeout=60,
            check=False,
        )
        assert child.returncode == -signal.SIGKILL, (trial, child.returncode, child.stderr[-500:])
        seen = read_files(target)
        for path, data in seen.items():
            if TEMP_MARKER in path:
                continue
            assert data in (old.get(path), new.get(path)), f"trial {trial}: {path} holds foreign bytes"
        for path, data in old.items():
            if seen.get(path) != data:
                assert recoverable(target, path, data), f"trial {trial}: old {path} is lost"
        if trial % 4 == 3:
            undone = undo_run(journal, LocalBackend(str(target)))
            assert undone.ok, (trial, undone.failures[:3])
            assert read_files(target) == old, f"trial {trial}: undo of the killed run did not restore"
            assert not metadata_differences(old_source, target), f"trial {trial}: undo left metadata"
        result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
        assert result.ok, (trial, result.failures[:3])
        after = read_files(target)
        assert after == new, f"trial {trial}: the rerun did not converge"
        assert not any(TEMP_MARKER in path for path in after)
        assert metadata_differences(source, target) == [], f"trial {trial}: metadata did not converge"
        assert all(run.status is not RunStatus.RUNNING for run in journal.runs_for_target(str(target)))
    journal.close()
