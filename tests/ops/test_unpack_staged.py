"""unpack of a tar into a new or empty DEST through one staging folder, and pack's parallel gzip."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.errors import InterruptedRunError
from dirkit.ops.archive.staged import STAGING_PREFIX
from dirkit.ops.archive.streams import ParallelGzipWriter
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal, RunStatus

MTIME = 1_650_000_000


def entry(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, MTIME, link
    return info


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A .tar.gz with a read-only nested folder, a top-level folder with its own mode, links and files."""
    path = tmp_path / "in.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(entry("top", tarfile.DIRTYPE, 0o750))
        tar.addfile(entry("top/ro", tarfile.DIRTYPE, 0o555))
        for name, data in (("top/ro/a.txt", b"alpha"), ("top/b.bin", os.urandom(70_000)), ("c.txt", b"")):
            info = entry(name, mode=0o640)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(entry("top/again", tarfile.LNKTYPE, link="top/ro/a.txt"))
        tar.addfile(entry("up", tarfile.SYMTYPE, link="top/ro"))
    return path


def test_a_fresh_unpack_is_one_journaled_run_that_undo_reverts(tmp_path: Path, archive: Path) -> None:
    dest = tmp_path / "new" / "dest"
    journal = Journal.open()
    try:
        result = unpack_archive(str(archive), str(dest), UnpackOptions(), journal)
        assert (result.files, result.dirs, result.symlinks) == (4, 2, 1)
        assert (dest / "top/again").stat().st_ino == (dest / "top/ro/a.txt").stat().st_ino
        assert os.readlink(dest / "up") == "top/ro"
        for path, mode in (("top", 0o750), ("top/ro", 0o555), ("top/b.bin", 0o640)):
            info = (dest / path).stat()
            assert (info.st_mode & 0o7777, info.st_mtime_ns) == (mode, MTIME * 1_000_000_000), path
        assert sorted(os.listdir(dest)) == ["c.txt", "top", "up"]
        assert result.run_id is not None
        run = journal.run(result.run_id)
        assert run is not None and run.status is RunStatus.DONE
        assert {step.status for step in journal.steps(result.run_id)} == {StepStatus.DONE}
        undone = undo_run(journal, LocalBackend(str(dest)))
    finally:
        journal.close()
    assert undone.ok, undone.failures
    assert [name for name in os.listdir(dest) if name != ".dirkit"] == []


def test_an_interrupt_keeps_nothing(tmp_path: Path, archive: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(InterruptedRunError):
        unpack_archive(str(archive), str(tmp_path / "dest"), UnpackOptions(), None, stop)
    assert not (tmp_path / "dest").exists()


class StopAfter(threading.Event):
    """A stop event that turns set after it was asked a number of times (a signal mid-member)."""

    def __init__(self, asks: int) -> None:
        super().__init__()
        self.asks = asks

    def is_set(self) -> bool:
        self.asks -= 1
        return self.asks < 0


def test_an_interrupt_in_the_middle_of_a_big_member_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "big.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = entry("big.bin")
        info.size = 5 * 1024 * 1024
        tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    stop = StopAfter(3)
    with pytest.raises(InterruptedRunError, match="interrupted"):
        unpack_archive(str(path), str(tmp_path / "dest"), UnpackOptions(), None, stop)
    assert stop.asks < 0
    assert not (tmp_path / "dest").exists()


KILLED_MOVING_INTO_PLACE = """
import os, sys
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.state.journal import Journal

original = os.rename

def rename(source, target, *args, **kwargs):
    original(source, target, *args, **kwargs)
    if os.path.dirname(str(target)) == sys.argv[2]:
        os._exit(9)

os.rename = rename
unpack_archive(sys.argv[1], sys.argv[2], UnpackOptions(), Journal.open())
"""


def test_a_kill_while_moving_into_place_is_undone_and_the_staging_folder_cleaned(
    tmp_path: Path, archive: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_MOVING_INTO_PLACE, str(archive), str(dest)],
        env=environment,
        check=False,
        timeout=60,
    )
    assert child.returncode == 9
    assert [name for name in os.listdir(dest) if name.startswith(STAGING_PREFIX)]
    journal = Journal.open()
    try:
        undone = undo_run(journal, LocalBackend(str(dest)))
        assert undone.ok, undone.failures
        assert [name for name in os.listdir(dest) if TEMP_MARKER not in name and name != ".dirkit"] == []
        unpack_archive(str(archive), str(dest), UnpackOptions(), journal)
    finally:
        journal.close()
    assert sorted(name for name in os.listdir(dest) if name != ".dirkit") == ["c.txt", "top", "up"]


@pytest.mark.parametrize("workers", [1, 3])
def test_parallel_gzip_is_one_valid_member_whatever_the_threads(workers: int) -> None:
    text = b"".join(b"line %d of a compressible text\n" % number for number in range(120_000))
    data = text + os.urandom(1_500_000) + text[:777]
    outputs = []
    for count in (workers, 2):
        sink = io.BytesIO()
        writer = ParallelGzipWriter(sink, count)
        for start in range(0, len(data), 300_001):
            writer.write(data[start : start + 300_001])
        writer.close()
        outputs.append(sink.getvalue())
    assert outputs[0] == outputs[1]
    assert gzip.decompress(outputs[0]) == data
    assert len(outputs[0]) < len(text) // 5 + 1_600_000
