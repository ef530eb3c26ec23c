"""A backend wrapper that refuses every change to its tree, naming the call and the path."""

from __future__ import annotations

import errno
from typing import BinaryIO, NoReturn

from dirkit.backends.wrapping import BackendWrapper
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.errors import ReadOnlyTreeError


class ReadOnlyBackend(BackendWrapper):
    """Forwards reads to the wrapped backend; every mutating call raises ReadOnlyTreeError.

    Capabilities are forwarded unchanged: they describe the tree (a read-only source still keeps
    modes and times worth comparing), not what this guard allows. Optional interfaces pass through
    for reading only, so a read-only local tree keeps its fast reads but no fast write can bypass
    the guard.
    """

    def passes_through(self, writing: bool) -> bool:
        """Return whether optional interfaces may bypass the guard: for reading only."""
        return not writing

    def _refuse(self, action: str, path: RelPath) -> NoReturn:
        """Raise the error that says this tree is read-only."""
        location = f"{self.description.rstrip('/')}/{path}" if path else self.description
        raise ReadOnlyTreeError(errno.EROFS, f"the tree is read-only: refusing to {action}", location)

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Refuse to write a file."""
        self._refuse("write a file", path)

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Refuse to make a directory."""
        self._refuse("make a directory", path)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Refuse to make a symlink."""
        self._refuse("make a symlink", path)

    def remove_file(self, path: RelPath) -> None:
        """Refuse to remove a file."""
        self._refuse("remove a file", path)

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Refuse to make a hard link."""
        self._refuse("make a hard link", new)

    def remove_dir(self, path: RelPath) -> None:
        """Refuse to remove a directory."""
        self._refuse("remove a directory", path)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Refuse to rename."""
        self._refuse(f"rename it to {new}", old)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Refuse to set a modification time."""
        self._refuse("set its modification time", path)

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Refuse to set permission bits."""
        self._refuse("set its permission bits", path)
