"""A staging folder inside a local tree: new entries are made there in private, then renamed into the tree.

Its name holds dirkit's temporary marker, so every scan ignores it. Files are written complete (mode
and mtime set) before anything is renamed; a top-level entry is renamed into the tree only if its
path there is still free. `remove` takes the folder and whatever is left in it away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable

from dirkit.core.tree.paths import RelPath
from dirkit.errors import AlreadyExistsError, translate_os_error

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
PieceReader = Callable[[int], bytes]
"""Returns the next bytes of a file, at most the size asked for."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class StagingFolder:
    """A private folder (mode 0700) at root/name where entries are made before they move into root."""

    def __init__(self, root: str, name: str) -> None:
        self.root = root
        self.folder = os.path.join(root, name)
        try:
            os.mkdir(self.folder, 0o700)
        except OSError as error:
            raise translate_os_error(error, self.folder) from error
        self.umask = _umask()

    def make_dir(self, path: RelPath) -> None:
        """Make path a directory (mode 0700 until set_mode)."""
        target = f"{self.folder}/{path}"
        try:
            os.mkdir(target, 0o700)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def write_file(
        self, path: RelPath, read: PieceReader, size: int, mode: int, mtime_ns: int | None
    ) -> None:
        """Write size bytes, read piece by piece, into a new file path with mode and mtime."""
        target = f"{self.folder}/{path}"
        try:
            descriptor = os.open(target, _NEW_FILE, mode & 0o777)
        except OSError as error:
            raise translate_os_error(error, target) from error
        try:
            remaining = size
            while remaining > 0:
                view = memoryview(read(remaining))
                remaining -= len(view)
                while view:
                    view = view[os.write(descriptor, view) :]
            if mode & self.umask:
                os.fchmod(descriptor, mode & 0o7777)
            if mtime_ns is not None:
                os.utime(descriptor, ns=(mtime_ns, mtime_ns))
        except OSError as error:
            raise translate_os_error(error, target) from error
        finally:
            os.close(descriptor)

    def hard_link(self, existing: RelPath, path: RelPath) -> None:
        """Make path a second name of the staged file existing."""
        target = f"{self.folder}/{path}"
        try:
            os.link(f"{self.folder}/{existing}", target, follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def make_symlink(self, path: RelPath, link_target: str) -> None:
        """Make path a symbolic link to link_target."""
        target = f"{self.folder}/{path}"
        try:
            os.symlink(link_target, target)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits of the staged directory path."""
        target = f"{self.folder}/{path}"
        try:
            os.chmod(target, mode & 0o7777)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the mtime of the staged path (of a link itself)."""
        target = f"{self.folder}/{path}"
        try:
            os.utime(target, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def move_into_tree(self, path: RelPath) -> None:
        """Rename the staged top-level entry path to the same path in the tree, never replacing one there."""
        final = os.path.join(self.root, path)
        if os.path.lexists(final):
            raise AlreadyExistsError(17, "appeared in DEST during the unpack; left alone", final)
        try:
            os.rename(f"{self.folder}/{path}", final)
        except OSError as error:
            raise translate_os_error(error, final) from error

    def remove(self) -> None:
        """Remove the folder and whatever is still in it (best effort; links are never followed)."""
        remove_folder(self.folder)


def remove_folder(folder: str) -> None:
    """Remove a staging folder and everything in it, first making its directories writable again."""
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    for parent, dirs, _files in os.walk(folder):
        for name in dirs:
            child = os.path.join(parent, name)
            with contextlib.suppress(OSError):
                if not os.path.islink(child):
                    os.chmod(child, 0o700)
    shutil.rmtree(folder, ignore_errors=True)


def remove_stale_folders(root: str, prefix: str) -> None:
    """Remove the staging folders in root whose names start with prefix (left by a crash)."""
    with contextlib.suppress(OSError), os.scandir(root) as listing:
        stale = [
            entry.path
            for entry in listing
            if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False)
        ]
    for folder in stale:
        remove_folder(folder)
