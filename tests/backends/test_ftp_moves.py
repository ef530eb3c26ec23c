"""Renames on the source become RNFR/RNTO on an FTP target: no file bytes sent or read back, undoable."""

from __future__ import annotations

import ftplib
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from dirkit.backends import ftp_commands
from dirkit.backends.ftp_commands import Reply
from dirkit.backends.ftp_session import LeanSession
from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import ActionKind
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees, plan_mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.backends import ftp_servers

FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=4)
FOLDER_FILES = 50


class SentCommands:
    """The FTP commands this process sends while it is active (the servers are real; this only counts)."""

    def __init__(self) -> None:
        self.verbs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        """Count one command line by its verb."""
        with self._lock:
            self.verbs[line.split(" ", 1)[0].upper()] += 1


TRANSFERS = {"RETR", "STOR", "LIST", "MLSD", "NLST"}
"""Commands that open a data connection: counted where the connection is opened (some are pipelined)."""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SentCommands]:
    """Yield a counter of the FTP commands sent, one by one or in batches, and of every transfer."""
    counter = SentCommands()
    original_put = ftplib.FTP.putcmd
    original_transfer = LeanSession.ntransfercmd

    def counting_put(self: ftplib.FTP, line: str) -> None:
        if line.split(" ", 1)[0].upper() not in TRANSFERS:
            counter.add(line)
        original_put(self, line)

    def counting_transfer(
        self: LeanSession, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        counter.add(cmd)
        return original_transfer(self, cmd, rest)

    original_pipelined = ftp_commands.pipelined

    def counting_pipelined(ftp: ftplib.FTP, commands: Sequence[str]) -> list[Reply]:
        for line in commands:
            counter.add(line)
        return original_pipelined(ftp, commands)

    monkeypatch.setattr(ftplib.FTP, "putcmd", counting_put)
    monkeypatch.setattr(LeanSession, "ntransfercmd", counting_transfer)
    monkeypatch.setattr("dirkit.backends.ftp.pipelined", counting_pipelined)
    yield counter


def server_files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Return the files below a served folder (not dirkit's own): bytes and whole-second mtime."""
    found: dict[str, tuple[bytes, int]] = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not relative.startswith(".dirkit"):
            found[relative] = (path.read_bytes(), int(path.stat().st_mtime))
    return found


def make_source(root: Path) -> Path:
    """Write a source tree: a folder of 50 files of one size each, and a few single files."""
    (root / "album").mkdir(parents=True)
    for number in range(FOLDER_FILES):
        (root / "album" / f"photo{number:02}.raw").write_bytes(os.urandom(2000))
    (root / "single.bin").write_bytes(os.urandom(5000))
    (root / "other.bin").write_bytes(os.urandom(3000))
    for path in root.rglob("*"):
        os.utime(path, (1_600_000_000, 1_600_000_000))
    return root


@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
def test_moved_folder_and_renamed_file_are_renames_on_the_server(
    server: str, tmp_path: Path, journal: Journal, sent: SentCommands
) -> None:
    source = make_source(tmp_path / "src")
    target, folder = ftp_servers.open_backend(server, connections=4)
    try:
        first = mirror_trees(LocalBackend(str(source)), target, journal, FORCE)
        assert first.ok and first.files_copied == FOLDER_FILES + 2, first.failures
        before = server_files(folder)
        os.rename(source / "album", source / "album-2024")
        os.rename(source / "single.bin", source / "renamed.bin")
        sent.verbs.clear()
        planned = plan_mirror_trees(LocalBackend(str(source)), target, FORCE).plan
        kinds = Counter(action.kind for action in planned.actions)
        assert kinds[ActionKind.RENAME] == 2
        assert not kinds[ActionKind.COPY_FILE] and not kinds[ActionKind.BACKUP]
        assert sent.verbs["RETR"] == 0, "digests recorded at upload spare reading the files back"
        sent.verbs.clear()
        moved = mirror_trees(LocalBackend(str(source)), target, journal, FORCE)
        assert moved.ok, moved.failures
        assert moved.bytes_copied == 0 and moved.files_copied == 0
        assert sent.verbs["STOR"] == 0 and sent.verbs["RETR"] == 0
        assert sent.verbs["RNFR"] == sent.verbs["RNTO"] == 2
        local = {
            path.relative_to(source).as_posix(): (path.read_bytes(), int(path.stat().st_mtime))
            for path in source.rglob("*")
            if path.is_file()
        }
        assert server_files(folder) == local
        assert plan_mirror_trees(LocalBackend(str(source)), target, FORCE).plan.is_empty
        undone = undo_run(journal, target, None)
        assert undone.ok, undone.failures
        assert server_files(folder) == before
    finally:
        target.close()


def test_files_dirkit_did_not_upload_are_read_back_only_when_sizes_match(
    tmp_path: Path, journal: Journal, sent: SentCommands
) -> None:
    source = make_source(tmp_path / "src")
    target, folder = ftp_servers.open_backend("pyftpdlib", connections=2)
    try:
        for path in source.rglob("*"):
            placed = folder / path.relative_to(source)
            if path.is_dir():
                placed.mkdir()
            else:
                placed.write_bytes(path.read_bytes())
                os.utime(placed, (1_600_000_000, 1_600_000_000))
        os.rename(source / "single.bin", source / "renamed.bin")
        planned = plan_mirror_trees(LocalBackend(str(source)), target, FORCE).plan
        assert [action.kind for action in planned.actions].count(ActionKind.RENAME) == 1
        assert sent.verbs["RETR"] == 1, "only the one size-matching candidate is read"
        moved = mirror_trees(LocalBackend(str(source)), target, journal, FORCE)
        assert moved.ok and moved.bytes_copied == 0, moved.failures
        assert (folder / "renamed.bin").read_bytes() == (source / "renamed.bin").read_bytes()
    finally:
        target.close()


def test_a_file_changed_behind_dirkit_at_another_size_or_time_is_not_trusted(
    tmp_path: Path, journal: Journal, sent: SentCommands
) -> None:
    source = make_source(tmp_path / "src")
    target, folder = ftp_servers.open_backend("pyftpdlib", connections=2)
    try:
        assert mirror_trees(LocalBackend(str(source)), target, journal, FORCE).ok
        (folder / "single.bin").write_bytes(os.urandom(5000))  # same size, the server's own new mtime
        os.rename(source / "single.bin", source / "renamed.bin")
        sent.verbs.clear()
        planned = plan_mirror_trees(LocalBackend(str(source)), target, FORCE).plan
        assert ActionKind.RENAME not in [action.kind for action in planned.actions]
        assert sent.verbs["RETR"] == 1, "the recorded digest no longer fits: the file is read"
    finally:
        target.close()


def test_stat_on_vsftpd_needs_no_listing(sent: SentCommands) -> None:
    target, folder = ftp_servers.open_backend("vsftpd", connections=1)
    try:
        (folder / "d").mkdir()
        (folder / "d" / "f").write_bytes(b"12345")
        os.utime(folder / "d" / "f", (1_600_000_000, 1_600_000_000))
        sent.verbs.clear()
        found = target.stat(RelPath("d/f"))
        assert (found.kind, found.size, found.mtime_ns) == (EntryKind.FILE, 5, 1_600_000_000 * 10**9)
        assert target.stat(RelPath("d")).kind is EntryKind.DIR
        with pytest.raises(FileNotFoundError):
            target.stat(RelPath("d/none"))
        assert not sent.verbs["LIST"], "a stat is one pipelined SIZE, CWD and MDTM"
        assert [entry.size for entry in target.list_dir(RelPath("d"))] == [5]
    finally:
        target.close()
