"""The local-disk backend: os.scandir walks, temp-then-rename writes, errors translated once.

At about 440 lines it is over the usual 400 on purpose: it is one class, the protocol's methods
plus the LocalFiles fast paths, and each method is the only place its system calls are made.
The mount table (local_mounts.py) and the byte copies (local_copy.py) live beside it.
"""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Callable
from typing import BinaryIO

from dirkit.backends.local_copy import COPY_CHUNK, copy_descriptor
from dirkit.backends.local_mounts import local_capabilities
from dirkit.backends.protocol import Capabilities
from dirkit.backends.temp_files import new_temp_name, remove_quietly
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import (
    AlreadyExistsError,
    DirkitError,
    NotADirError,
    TreeNotFoundError,
    translate_os_error,
)

_FILE, _DIR, _LINK, _OTHER = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK, EntryKind.OTHER
_IFMT = 0o170000
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW
"""How a temporary name is created: new, never through a link, not inherited by child processes."""
_KIND_BY_FORMAT = {
    stat_module.S_IFREG: _FILE,
    stat_module.S_IFDIR: _DIR,
    stat_module.S_IFLNK: _LINK,
}


def entry_from_stat(path: RelPath, st: os.stat_result, target: str | None = None) -> Entry:
    """Return the entry for path from its stat result."""
    mode = st.st_mode
    kind = _KIND_BY_FORMAT.get(mode & _IFMT, _OTHER)
    return Entry(
        path,
        kind,
        st.st_size if kind is _FILE else 0,
        st.st_mtime_ns,
        mode & 0o7777,
        target,
        None,
        None,
        st.st_dev,
        st.st_ino,
        st.st_ctime_ns,
    )


_new_entry: Callable[[type[Entry], tuple[object, ...]], Entry] = tuple.__new__
"""Builds an Entry from a full tuple of fields without NamedTuple's slower keyword handling."""
_FILE_TAIL = tuple(Entry(RelPath(""), EntryKind.FILE))[1:]
_DIR_TAIL = tuple(Entry(RelPath(""), EntryKind.DIR))[1:]


class LocalBackend:
    """A tree on the local filesystem, rooted at an existing directory."""

    def __init__(self, root: str, must_exist: bool = True, capabilities: Capabilities | None = None) -> None:
        self.root = os.path.abspath(root)
        self._prefix = self.root if self.root.endswith("/") else self.root + "/"
        """What a relative path is appended to for its OS path (os.path.join costs more per call)."""
        if must_exist and not os.path.isdir(self.root):
            reason = "no such directory" if not os.path.lexists(self.root) else "not a directory"
            kind = TreeNotFoundError if reason == "no such directory" else NotADirError
            raise kind(2 if kind is TreeNotFoundError else 20, reason, self.root)
        self._capabilities: Capabilities | None = capabilities
        """None until first asked: then read from the mount table (given: as declared by the caller)."""
        self._umask_bits: int | None = None
        """The process umask once read (all bits when unknown: then every mode is set explicitly)."""

    @property
    def capabilities(self) -> Capabilities:
        """Return what the local filesystem can do (read from the mount table once, when first asked)."""
        if self._capabilities is None:
            self._capabilities = local_capabilities(self.root)
        return self._capabilities

    @property
    def description(self) -> str:
        """Return the root directory."""
        return self.root

    def local_files(self) -> LocalBackend:
        """Return this backend itself: it offers every local fast path (LocalFiles)."""
        return self

    def os_path(self, path: RelPath) -> str:
        """Return the OS path of path."""
        return self._prefix + path if path else self.root

    def real_root(self) -> str:
        """Return the root's real path (symlinks resolved)."""
        return os.path.realpath(self.root)

    def stat_os_path(self, os_path: str) -> Entry:
        """Return the entry of a local OS path (anywhere, not following a final symlink)."""
        try:
            st = os.stat(os_path, follow_symlinks=False)
            target = os.readlink(os_path) if stat_module.S_ISLNK(st.st_mode) else None
        except OSError as error:
            raise translate_os_error(error, os_path) from error
        return entry_from_stat(RelPath(os_path), st, target)

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path."""
        full = self.os_path(path)
        try:
            st = os.stat(full, follow_symlinks=follow_symlinks)
            target = os.readlink(full) if stat_module.S_ISLNK(st.st_mode) else None
        except OSError as error:
            raise translate_os_error(error, full) from error
        return entry_from_stat(path, st, target)

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return the entries of a directory's children; unreadable children carry error."""
        full = self.os_path(path)
        prefix = path + "/" if path else ""
        entries: list[Entry] = []
        append = entries.append
        new_entry = tuple.__new__
        entry_type, file_kind, dir_kind, link_kind, other_kind = Entry, _FILE, _DIR, _LINK, _OTHER
        is_file, is_dir, is_link = stat_module.S_IFREG, stat_module.S_IFDIR, stat_module.S_IFLNK
        try:
            with os.scandir(full) as listing:
                for item in listing:
                    try:
                        st = item.stat(follow_symlinks=False)
                        mode = st.st_mode
                        form = mode & 0o170000
                        target = None
                        if form == is_file:
                            kind = file_kind
                        elif form == is_dir:
                            kind = dir_kind
                        elif form == is_link:
                            kind = link_kind
                            target = os.readlink(item.path)
                        else:
                            kind = other_kind
                        # Entry fields in order, built without the NamedTuple __new__ call.
                        append(
                            new_entry(
                                entry_type,
                                (
                                    prefix + item.name,
                                    kind,
                                    st.st_size if kind is file_kind else 0,
                                    st.st_mtime_ns,
                                    mode & 0o7777,
                                    target,
                                    None,
                                    None,
                                    st.st_dev,
                                    st.st_ino,
                                    st.st_ctime_ns,
                                ),
                            )
                        )
                    except OSError as error:
                        append(_unreadable_entry(RelPath(prefix + item.name), item, error))
        except OSError as error:
            raise translate_os_error(error, full) from error
        return entries

    def list_dir_kinds(self, path: RelPath) -> list[Entry]:
        """Return a directory's children with only path and kind known (no stat where the OS says).

        A fast listing for callers that need names and kinds only: size, mtime and inode are left
        unknown (0 and None), except that symlinks still carry their target.
        """
        full = self.os_path(path)
        prefix = path + "/" if path else ""
        entries: list[Entry] = []
        append = entries.append
        make = _new_entry
        file_tail, dir_tail = _FILE_TAIL, _DIR_TAIL
        try:
            with os.scandir(full) as listing:
                for item in listing:
                    try:
                        if item.is_file(follow_symlinks=False):
                            append(make(Entry, (prefix + item.name, *file_tail)))
                        elif item.is_dir(follow_symlinks=False):
                            append(make(Entry, (prefix + item.name, *dir_tail)))
                        elif item.is_symlink():
                            append(Entry(RelPath(prefix + item.name), _LINK, target=os.readlink(item.path)))
                        else:
                            append(Entry(RelPath(prefix + item.name), _OTHER))
                    except OSError as error:
                        append(_unreadable_entry(RelPath(prefix + item.name), item, error))
        except OSError as error:
            raise translate_os_error(error, full) from error
        return entries

    def open_read(self, path: RelPath) -> BinaryIO:
        """Return the file's bytes as a stream."""
        full = self.os_path(path)
        try:
            return open(full, "rb")
        except OSError as error:
            raise translate_os_error(error, full) from error

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write source to a temporary name beside path, fsync it, and rename it into place."""
        temp = self.os_path(new_temp_name(path))
        final = self.os_path(path)
        import shutil  # imported on first use (it loads bz2 and lzma)

        try:
            with open(temp, "xb") as sink:
                shutil.copyfileobj(source, sink, COPY_CHUNK)
                sink.flush()
                os.fsync(sink.fileno())
            self._finish_temp(temp, final, mtime_ns, mode)
        except OSError as error:
            remove_quietly(temp)
            raise translate_os_error(error, final) from error
        return self.stat(path)

    def clone_file(
        self,
        source_path: str,
        path: RelPath,
        mtime_ns: int | None,
        mode: int | None,
        fsync: bool = False,
        keep_mode: bool = True,
    ) -> Entry:
        """Copy a local file into path through a temporary name, with as few system calls as possible.

        The bytes move inside the kernel (copy_file_range, which shares extents on filesystems that
        can reflink, else sendfile). Without fsync the data is not flushed before the rename (as
        with cp and rsync): a killed process never leaves a partial file under its final name, only
        a power cut could. Without keep_mode the file gets no mode of its own (for filesystems that
        cannot chmod, such as FAT).
        """
        temp = self.os_path(new_temp_name(path))
        final = self.os_path(path)
        try:
            source_fd = os.open(source_path, os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW)
        except OSError as error:
            raise translate_os_error(error, source_path) from error
        try:
            source_stat = os.fstat(source_fd)
            if not stat_module.S_ISREG(source_stat.st_mode):
                raise IsADirectoryError(21, "not a regular file", source_path)
            created_mode = 0o600 if keep_mode else 0o666
            target_fd = os.open(temp, _NEW_FILE_FLAGS, created_mode)
            written: os.stat_result | None = None
            try:
                size = copy_descriptor(source_fd, target_fd, source_stat)
                bits = (source_stat.st_mode if mode is None else mode) & 0o7777
                if keep_mode:
                    os.fchmod(target_fd, bits)
                if mtime_ns is not None:
                    os.utime(target_fd, ns=(mtime_ns, mtime_ns))
                if fsync:
                    os.fsync(target_fd)
                if mtime_ns is None or not keep_mode:
                    written = os.fstat(target_fd)
            finally:
                os.close(target_fd)
            os.replace(temp, final)
        except OSError as error:
            remove_quietly(temp)
            raise translate_os_error(error, final) from error
        finally:
            os.close(source_fd)
        if written is not None:
            return entry_from_stat(path, written)
        return Entry(path, _FILE, size, mtime_ns, bits)

    def write_stream(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None,
        mode: int | None,
        fsync: bool = False,
    ) -> Entry:
        """Write source to a temporary name beside path and rename it into place, in few system calls.

        Without fsync the data is not flushed before the rename (as with clone_file). Whatever
        stops the write (an error of source, an interrupt) removes the temporary name.
        """
        temp = self.os_path(new_temp_name(path))
        final = self.os_path(path)
        bits = 0o666 if mode is None else mode & 0o7777
        try:
            target_fd = os.open(temp, _NEW_FILE_FLAGS, bits & 0o777)
        except OSError as error:
            raise translate_os_error(error, final) from error
        size = 0
        try:
            try:
                while chunk := source.read(COPY_CHUNK):
                    size += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(target_fd, view) :]
                if mode is not None and bits & self._umask():
                    os.fchmod(target_fd, bits)
                if mtime_ns is not None:
                    os.utime(target_fd, ns=(mtime_ns, mtime_ns))
                if fsync:
                    os.fsync(target_fd)
                written = os.fstat(target_fd) if mtime_ns is None or mode is None else None
            finally:
                os.close(target_fd)
            os.replace(temp, final)
        except BaseException as error:
            remove_quietly(temp)
            if isinstance(error, OSError) and not isinstance(error, DirkitError):
                raise translate_os_error(error, final) from error
            raise
        if written is not None:
            return entry_from_stat(path, written)
        return Entry(path, EntryKind.FILE, size, mtime_ns, bits)

    def _umask(self) -> int:
        """Return the process umask, read once from /proc (os.umask cannot read it without setting it)."""
        if self._umask_bits is None:
            self._umask_bits = 0o7777
            try:
                with open("/proc/self/status", encoding="ascii", errors="replace") as status:
                    for line in status:
                        if line.startswith("Umask:"):
                            self._umask_bits = int(line.split()[1], 8)
                            break
            except (OSError, ValueError, IndexError):
                pass
        return self._umask_bits

    def free_bytes(self) -> int | None:
        """Return the bytes an unprivileged writer may still write on the tree's filesystem, if known."""
        try:
            usage = os.statvfs(self.root)
        except OSError:
            return None
        return usage.f_bavail * usage.f_frsize

    @staticmethod
    def _finish_temp(temp: str, final: str, mtime_ns: int | None, mode: int | None) -> None:
        if mode is not None:
            os.chmod(temp, mode & 0o7777)
        if mtime_ns is not None:
            os.utime(temp, ns=(mtime_ns, mtime_ns))
        os.replace(temp, final)

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Create a directory."""
        full = self.os_path(path)
        try:
            os.mkdir(full, 0o777 if mode is None else mode & 0o777)
            if mode is not None and mode & (0o7000 | self._umask()):
                os.chmod(full, mode & 0o7777)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Create a symlink."""
        full = self.os_path(path)
        try:
            os.symlink(target, full)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def remove_file(self, path: RelPath) -> None:
        """Remove a non-directory."""
        full = self.os_path(path)
        try:
            os.unlink(full)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Make new a second name of the existing file."""
        source, target = self.os_path(existing), self.os_path(new)
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def hard_link_from(self, existing: str, new: RelPath) -> None:
        """Make new a second name of a file given by its OS path (it may lie outside the tree)."""
        target = self.os_path(new)
        try:
            os.link(existing, target, follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty directory."""
        full = self.os_path(path)
        try:
            os.rmdir(full)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename old to new."""
        source, target = self.os_path(old), self.os_path(new)
        if not replace and os.path.lexists(target):
            raise AlreadyExistsError(17, "already exists", target)
        try:
            os.replace(source, target) if replace else os.rename(source, target)
        except OSError as error:
            raise translate_os_error(error, source) from error

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the modification time (of the link itself for a symlink)."""
        full = self.os_path(path)
        try:
            os.utime(full, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits."""
        full = self.os_path(path)
        try:
            os.chmod(full, mode & 0o7777)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def close(self) -> None:
        """Nothing to release for local disk."""


def _unreadable_entry(path: RelPath, item: os.DirEntry[str], error: OSError) -> Entry:
    try:
        kind = (
            EntryKind.SYMLINK
            if item.is_symlink()
            else EntryKind.DIR
            if item.is_dir(follow_symlinks=False)
            else EntryKind.FILE
        )
    except OSError:
        kind = EntryKind.OTHER
    return Entry(path, kind, error=error.strerror or str(error))
