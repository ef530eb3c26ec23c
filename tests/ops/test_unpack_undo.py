"""unpack --overwrite journaled as a run on DEST: undo restores what it replaced, byte for byte."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.plan import Action, ActionKind
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import RelPath
from dirkit.errors import UnsafeArchiveError, UsageError
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal, RunStatus
from tests.support import read_node, read_tree

OVERWRITE = UnpackOptions(overwrite=True)
Picture = dict[str, tuple[str, bytes | str, int, int]]


def picture(root: Path) -> Picture:
    """Return every path below root outside .dirkit (and root itself): kind, bytes or link target,
    mtime and permission bits."""
    nodes = {".": read_node(root), **read_tree(root)}
    return {
        path: (node.kind, node.data, node.mtime_ns, 0 if node.kind == "link" else node.st_mode & 0o7777)
        for path, node in nodes.items()
    }


def without_dir_times(found: Picture) -> Picture:
    """Return a picture with the modification times of directories left out."""
    return {
        path: (kind, data, 0 if kind == "dir" else mtime, mode)
        for path, (kind, data, mtime, mode) in found.items()
    }


def add_member(
    archive: tarfile.TarFile, name: str, data: bytes | None = None, link: str | None = None
) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 1_700_000_000
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        archive.addfile(info)
    elif data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(info)
    else:
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """A DEST holding files, a directory and a symlink that the archive replaces, and some it leaves."""
    root = tmp_path / "dest"
    (root / "docs").mkdir(parents=True)
    (root / "docs").chmod(0o700)
    (root / "docs" / "report.txt").write_bytes(b"the only copy of my report\n" * 50)
    (root / "notes.txt").write_bytes(b"\x00binary\xffnotes")
    (root / "was-a-dir").mkdir()
    (root / "was-a-dir" / "inside.txt").write_bytes(b"inside")
    (root / "untouched.txt").write_bytes(b"stay")
    (root / "pointer").symlink_to("untouched.txt")
    for path in (root / "docs" / "report.txt", root / "notes.txt", root / "untouched.txt"):
        os.utime(path, ns=(1_500_000_000_111_222_333, 1_500_000_000_111_222_333))
    return root


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "release.tar"
    with tarfile.open(path, "w") as tar:
        add_member(tar, "new-first.txt", b"new before any replacement")
        add_member(tar, "docs", None)
        add_member(tar, "docs/report.txt", b"version two")
        add_member(tar, "notes.txt", b"new notes")
        add_member(tar, "fresh/dir/file.bin", os.urandom(5000))
        add_member(tar, "was-a-dir", b"now a file")
        add_member(tar, "pointer", link="notes.txt")
        add_member(tar, "fresh/link", link="dir/file.bin")
    return path


def test_undo_restores_every_replaced_path_and_removes_what_unpack_added(dest: Path, archive: Path) -> None:
    before = picture(dest)
    journal = Journal.open()
    try:
        result = unpack_archive(str(archive), str(dest), OVERWRITE, journal)
        assert set(result.replaced) == {"docs/report.txt", "notes.txt", "was-a-dir", "pointer"}
        assert result.run_id is not None and result.backup_folder == str(
            dest / ".dirkit/backups" / result.run_id
        )
        assert (dest / "docs/report.txt").read_bytes() == b"version two"
        run = journal.run(result.run_id)
        assert run is not None and run.status is RunStatus.DONE and run.operation == "unpack"
        undone = undo_run(journal, LocalBackend(str(dest)))
        assert undone.ok, undone.failures
    finally:
        journal.close()
    assert picture(dest) == before


def test_a_file_edited_after_the_unpack_is_left_alone(dest: Path, archive: Path) -> None:
    journal = Journal.open()
    try:
        unpack_archive(str(archive), str(dest), OVERWRITE, journal)
        (dest / "notes.txt").write_bytes(b"edited after the unpack")
        undone = undo_run(journal, LocalBackend(str(dest)))
    finally:
        journal.close()
    assert {failure.path for failure in undone.failures} == {"notes.txt"}
    assert [failure.conflict for failure in undone.failures] == [True, False]
    assert (dest / "notes.txt").read_bytes() == b"edited after the unpack"
    assert (dest / "docs/report.txt").read_bytes() == b"the only copy of my report\n" * 50
    assert not (dest / "fresh").exists()


def test_a_refused_unpack_is_rolled_back_and_stays_an_interrupted_run(dest: Path, tmp_path: Path) -> None:
    before = picture(dest)
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        add_member(tar, "notes.txt", b"new notes")
        add_member(tar, "../escape", b"x")
    journal = Journal.open()
    try:
        with pytest.raises(UnsafeArchiveError):
            unpack_archive(str(bad), str(dest), OVERWRITE, journal)
        assert without_dir_times(picture(dest)) == without_dir_times(before)
        (run,) = journal.runs_for_target(str(dest))
        assert run.status is RunStatus.INTERRUPTED
        assert undo_run(journal, LocalBackend(str(dest))).ok
    finally:
        journal.close()
    assert picture(dest) == before


CRASHING_CHILD = """
import os, sys
from dirkit.backends.local import LocalBackend
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.state.journal import Journal

original = LocalBackend.rename

def rename(self, old, new, replace=False):
    original(self, old, new, replace)
    if new == sys.argv[3]:
        os._exit(9)

LocalBackend.rename = rename
unpack_archive(sys.argv[1], sys.argv[2], UnpackOptions(overwrite=True), Journal.open())
"""

SWAP_KILLING_CHILD = """
import os, sys
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.state.journal import Journal

def killing(original):
    def call(source, target, *args, **kwargs):
        if str(target) == os.path.join(sys.argv[2], sys.argv[3]):
            os._exit(9)
        return original(source, target, *args, **kwargs)
    return call

os.rename, os.replace = killing(os.rename), killing(os.replace)
unpack_archive(sys.argv[1], sys.argv[2], UnpackOptions(overwrite=True), Journal.open())
"""


def child_env() -> dict[str, str]:
    """Return the environment of a child process: this test's state folder, this checkout's source."""
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}


def test_undo_after_a_crash_in_the_middle_of_an_unpack(dest: Path, archive: Path) -> None:
    before = picture(dest)
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(archive), str(dest), "notes.txt"],
        env=child_env(),
        check=False,
        timeout=60,
    )
    assert child.returncode == 9
    assert (dest / "notes.txt").read_bytes() == b"new notes"
    journal = Journal.open()
    try:
        undone = undo_run(journal, LocalBackend(str(dest)))
        (run,) = [run for run in journal.runs_for_target(str(dest)) if run.operation == "unpack"]
        assert run.status is RunStatus.INTERRUPTED
    finally:
        journal.close()
    assert undone.ok, undone.failures
    assert without_dir_times(picture(dest)) == without_dir_times(before)


def test_appended_actions_follow_each_other_and_start_pending() -> None:
    journal = Journal.open()
    try:
        journal.start_run("r1", "unpack", "/t", None, RelPath(".dirkit/backups/r1"), 1, "h", "now", {})
        journal.append_actions("r1", [Action(ActionKind.MAKE_DIR, RelPath("a"))])
        journal.append_actions("r1", [])
        journal.append_actions(
            "r1", [Action(ActionKind.BACKUP, RelPath("a/b")), Action(ActionKind.MAKE_SYMLINK, RelPath("c"))]
        )
        steps = journal.steps("r1")
    finally:
        journal.close()
    assert [(step.seq, step.action.path, step.status) for step in steps] == [
        (0, "a", StepStatus.PENDING),
        (1, "a/b", StepStatus.PENDING),
        (2, "c", StepStatus.PENDING),
    ]
    assert steps[1].backup_path == ".dirkit/backups/r1/a/b"


def test_a_replacing_write_that_fails_keeps_the_old_file(small_disk: Path, tmp_path: Path) -> None:
    dest = small_disk / "dest"
    dest.mkdir()
    old = os.urandom(300_000)
    (dest / "keep.bin").write_bytes(old)
    (dest / "other.txt").write_bytes(b"other")
    archive = tmp_path / "big.tar"
    with tarfile.open(archive, "w") as tar:
        add_member(tar, "other.txt", b"replaced first")
        add_member(tar, "keep.bin", os.urandom(2 * 1024 * 1024))
    before = picture(dest)
    journal = Journal.open()
    try:
        with pytest.raises(OSError, match=r"keep\.bin: No space left"):
            unpack_archive(
                str(archive), str(dest), UnpackOptions(overwrite=True, max_total_bytes=10**8), journal
            )
        (run,) = journal.runs_for_target(str(dest))
        assert run.status is RunStatus.INTERRUPTED
    finally:
        journal.close()
    assert (dest / "keep.bin").read_bytes() == old
    assert without_dir_times(picture(dest)) == without_dir_times(before)
    assert sorted(path.name for path in dest.iterdir()) == ["keep.bin", "other.txt"]


def test_a_kill_at_the_swap_never_leaves_a_replaced_path_missing(dest: Path, archive: Path) -> None:
    """The old file keeps its name until the complete new content replaces it in one rename."""
    before = picture(dest)
    child = subprocess.run(
        [sys.executable, "-c", SWAP_KILLING_CHILD, str(archive), str(dest), "notes.txt"],
        env=child_env(),
        check=False,
        timeout=60,
    )
    assert child.returncode == 9
    assert (dest / "notes.txt").read_bytes() == b"\x00binary\xffnotes"
    assert (dest / "docs/report.txt").read_bytes() == b"version two"
    journal = Journal.open()
    try:
        undone = undo_run(journal, LocalBackend(str(dest)))
    finally:
        journal.close()
    assert undone.ok, undone.failures
    assert without_dir_times(picture(dest)) == without_dir_times(before)
    assert not [path for path in dest.rglob("*") if TEMP_MARKER in path.name]


def test_a_member_found_damaged_while_writing_rolls_everything_back(dest: Path, tmp_path: Path) -> None:
    before = picture(dest)
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("notes.txt", "new notes")
        zip_file.writestr("fresh/new.txt", "new")
        zip_file.writestr("late.bin", b"b" * 5000)
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"b" * 5000, b"b" * 4999 + b"c", 1))
    journal = Journal.open()
    try:
        with pytest.raises(UsageError, match=r"damaged member late\.bin"):
            unpack_archive(str(archive), str(dest), OVERWRITE, journal)
        (run,) = journal.runs_for_target(str(dest))
        assert run.status is RunStatus.INTERRUPTED
        assert undo_run(journal, LocalBackend(str(dest))).ok
    finally:
        journal.close()
    assert picture(dest) == before
    assert not (dest / ".dirkit").exists()
