"""Pairs of real trees for sync tests (local-local, local-memory) and a small edit language for both sides."""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import RESERVED_DIR_NAME
from dirkit.core.tree.paths import ROOT, RelPath, join_path, parent_path, path_parts
from dirkit.errors import NotFoundError

PAIR_KINDS = ("local-local", "local-memory", "local-ftp", "local-sftp")
REMOTE_PAIR_KINDS = ("local-ftp", "local-sftp")
"""The pairs on a real server: only a subset of the scenarios runs on them (round trips cost)."""
DIR = "/"
"""An edit or expected content meaning: a directory."""


@dataclass(frozen=True, slots=True)
class Touch:
    """An edit that only moves a file's mtime (same bytes)."""


@dataclass(frozen=True, slots=True)
class Mode:
    """An edit that only changes a file's permission bits."""

    bits: int


Edit = str | None | Touch | Mode
"""A file's new content, DIR, None (delete the path and all below it), Touch() or Mode(bits)."""

_CLOCK = itertools.count(1_700_000_000)


class TreeSide:
    """One side of a pair, edited and read through its backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def exists(self, path: RelPath) -> bool:
        try:
            self.backend.stat(path)
        except NotFoundError:
            return False
        return True

    def make_dirs(self, path: RelPath) -> None:
        built = ROOT
        for part in path_parts(path):
            built = join_path(built, part)
            if self.exists(built) and self.backend.stat(built).kind is not EntryKind.DIR:
                self.delete(built)
            if not self.exists(built):
                self.backend.make_dir(built)

    def delete(self, path: RelPath) -> None:
        if not self.exists(path):
            return
        if self.backend.stat(path).kind is EntryKind.DIR:
            for child in self.backend.list_dir(path):
                self.delete(child.path)
            self.backend.remove_dir(path)
        else:
            self.backend.remove_file(path)

    def apply(self, edits: Mapping[str, Edit]) -> None:
        """Carry out edits in order, each at the next second of a shared clock (later edits are newer)."""
        for text, edit in edits.items():
            path = RelPath(text)
            seconds = next(_CLOCK)
            if edit is None:
                self.delete(path)
            elif isinstance(edit, Touch):
                self.backend.set_mtime(path, seconds * 1_000_000_000)
            elif isinstance(edit, Mode):
                self.backend.set_mode(path, edit.bits)
            elif edit == DIR:
                if self.exists(path) and self.backend.stat(path).kind is not EntryKind.DIR:
                    self.delete(path)
                self.make_dirs(path)
            else:
                self.make_dirs(parent_path(path))
                if self.exists(path) and self.backend.stat(path).kind is EntryKind.DIR:
                    self.delete(path)
                self.backend.write_file(path, io.BytesIO(edit.encode()), seconds * 1_000_000_000, 0o644)

    def state(self) -> dict[str, str]:
        """Return every path (dirkit's own folder left out): a file's text, or DIR."""
        found: dict[str, str] = {}
        pending = [ROOT]
        while pending:
            folder = pending.pop()
            for entry in self.backend.list_dir(folder):
                if entry.path == RESERVED_DIR_NAME:
                    continue
                if entry.kind is EntryKind.DIR:
                    found[entry.path] = DIR
                    pending.append(entry.path)
                else:
                    with self.backend.open_read(entry.path) as stream:
                        found[entry.path] = stream.read().decode("utf-8", "surrogateescape")
        return dict(sorted(found.items()))

    def backups(self) -> list[str]:
        """Return the text of every file in this side's backup folders."""
        found: list[str] = []
        pending = [RelPath(f"{RESERVED_DIR_NAME}/backups")]
        while pending:
            folder = pending.pop()
            try:
                listing = self.backend.list_dir(folder)
            except NotFoundError:
                continue
            for entry in listing:
                if entry.kind is EntryKind.DIR:
                    pending.append(entry.path)
                elif entry.kind is EntryKind.FILE:
                    with self.backend.open_read(entry.path) as stream:
                        found.append(stream.read().decode("utf-8", "surrogateescape"))
        return found


def make_pair(kind: str, folder: Path, name: str = "") -> tuple[Backend, Backend]:
    """Return two empty trees: a local folder below folder, and another, a memory tree, or a new
    folder on the test FTP server or the test sshd."""
    (folder / f"a{name}").mkdir(parents=True)
    a = LocalBackend(str(folder / f"a{name}"))
    if kind == "local-local":
        (folder / f"b{name}").mkdir(parents=True)
        return a, LocalBackend(str(folder / f"b{name}"))
    if kind == "local-ftp":
        from tests.backends.ftp_servers import open_backend

        backend, _ = open_backend("pyftpdlib")
        return a, backend
    if kind == "local-sftp":
        from tests.backends.ssh_server import open_backend as open_sftp_backend

        sftp, _ = open_sftp_backend()
        return a, sftp
    return a, MemoryBackend(f"memory-{folder.name}{name}")
