"""The local-disk backend: os.scandir walks, temp-then-rename writes, errors translated once."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat as stat_module
import sys
from collections.abc import Callable
from typing import BinaryIO

from dirkit.backends.protocol import Capabilities
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import RelPath, base_name, join_path, parent_path
from dirkit.errors import (
    AlreadyExistsError,
    NotADirError,
    TreeNotFoundError,
    translate_os_error,
)

COPY_CHUNK = 1024 * 1024
MOUNT_TABLE = "/proc/self/mountinfo"
NO_MODE_FILESYSTEMS = frozenset({"vfat", "msdos", "exfat", "fuseblk"})
"""Filesystem types that cannot keep permission bits (chmod fails or does nothing)."""
TWO_SECOND_FILESYSTEMS = frozenset({"vfat", "msdos"})
"""Filesystem types that keep modification times in steps of two seconds."""


_FILE, _DIR, _LINK, _OTHER = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK, EntryKind.OTHER
_IFMT = 0o170000
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


def _unescape_mount_field(text: str) -> str:
    """Return a mountinfo field with its octal escapes (\\040 for a space) decoded."""
    if "\\" not in text:
        return text
    out = bytearray()
    index = 0
    raw = text.encode("utf-8", "surrogateescape")
    while index < len(raw):
        if raw[index : index + 1] == b"\\" and raw[index + 1 : index + 4].isdigit():
            out.append(int(raw[index + 1 : index + 4], 8) & 0xFF)
            index += 4
        else:
            out.append(raw[index])
            index += 1
    return out.decode("utf-8", "surrogateescape")


def filesystem_type(path: str, mount_table: str) -> str | None:
    """Return the type of the filesystem that holds path, from the text of /proc/self/mountinfo."""
    best = -1
    found: str | None = None
    for line in mount_table.splitlines():
        left, separator, right = line.partition(" - ")
        fields, types = left.split(), right.split()
        if not separator or len(fields) < 5 or not types:
            continue
        mount_point = _unescape_mount_field(fields[4])
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= best:
            best, found = len(mount_point), types[0]
    return found


def local_capabilities(root: str) -> Capabilities:
    """Return what the filesystem holding root can do (modes and time steps by filesystem type)."""
    try:
        with open(MOUNT_TABLE, encoding="utf-8", errors="surrogateescape") as stream:
            kind = filesystem_type(os.path.realpath(root), stream.read())
    except OSError:
        kind = None
    return Capabilities(
        mtime_resolution_ns=2_000_000_000 if kind in TWO_SECOND_FILESYSTEMS else 1,
        can_set_mode=kind not in NO_MODE_FILESYSTEMS,
        case_sensitive=sys.platform not in ("darwin", "win32"),
        parallel_connections=max(4, min(16, (os.cpu_count() or 2) * 4)),
        hard_links=True,
    )


def temp_name_for(path: RelPath) -> RelPath:
    """Return a fresh temporary name beside path, recognisable as dirkit's own.

    A temporary name's own temporary name keeps it whole as its start, so both share one prefix.
    """
    base = base_name(path)
    start = base if TEMP_MARKER in base and base.startswith(".") else f".{base[:100]}"
    name = f"{start}{TEMP_MARKER}{secrets.token_hex(4)}"
    return join_path(parent_path(path), name)


class LocalBackend:
    """A tree on the local filesystem, rooted at an existing directory."""

    def __init__(self, root: str, must_exist: bool = True) -> None:
        self.root = os.path.abspath(root)
        if must_exist and not os.path.isdir(self.root):
            reason = "no such directory" if not os.path.lexists(self.root) else "not a directory"
            kind = TreeNotFoundError if reason == "no such directory" else NotADirError
            raise kind(2 if kind is TreeNotFoundError else 20, reason, self.root)
        self._capabilities: Capabilities | None = None

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

    def native_path(self, path: RelPath) -> str:
        """Return the OS path of path."""
        return os.path.join(self.root, path) if path else self.root

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path."""
        full = self.native_path(path)
        try:
            st = os.stat(full, follow_symlinks=follow_symlinks)
            target = os.readlink(full) if stat_module.S_ISLNK(st.st_mode) else None
        except OSError as error:
            raise translate_os_error(error, full) from error
        return entry_from_stat(path, st, target)

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return the entries of a directory's children; unreadable children carry error."""
        full = self.native_path(path)
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
        full = self.native_path(path)
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
        full = self.native_path(path)
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
        temp = self.native_path(temp_name_for(path))
        final = self.native_path(path)
        try:
            with open(temp, "xb") as sink:
                shutil.copyfileobj(source, sink, COPY_CHUNK)
                sink.flush()
                os.fsync(sink.fileno())
            self._finish_temp(temp, final, mtime_ns, mode)
        except OSError as error:
            _remove_quietly(temp)
            raise translate_os_error(error, final) from error
        return self.stat(path)

    def clone_local_file(
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
        temp = self.native_path(temp_name_for(path))
        final = self.native_path(path)
        try:
            source_fd = os.open(source_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise translate_os_error(error, source_path) from error
        try:
            source_stat = os.fstat(source_fd)
            if not stat_module.S_ISREG(source_stat.st_mode):
                raise IsADirectoryError(21, "not a regular file", source_path)
            created_mode = 0o600 if keep_mode else 0o666
            target_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, created_mode)
            try:
                _copy_descriptor(source_fd, target_fd)
                if keep_mode:
                    os.fchmod(target_fd, (source_stat.st_mode if mode is None else mode) & 0o7777)
                if mtime_ns is not None:
                    os.utime(target_fd, ns=(mtime_ns, mtime_ns))
                if fsync:
                    os.fsync(target_fd)
                written = os.fstat(target_fd)
            finally:
                os.close(target_fd)
            os.replace(temp, final)
        except OSError as error:
            _remove_quietly(temp)
            raise translate_os_error(error, final) from error
        finally:
            os.close(source_fd)
        return entry_from_stat(path, written)

    @staticmethod
    def _finish_temp(temp: str, final: str, mtime_ns: int | None, mode: int | None) -> None:
        if mode is not None:
            os.chmod(temp, mode & 0o7777)
        if mtime_ns is not None:
            os.utime(temp, ns=(mtime_ns, mtime_ns))
        os.replace(temp, final)

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Create a directory."""
        full = self.native_path(path)
        try:
            os.mkdir(full, 0o777 if mode is None else mode & 0o7777)
            if mode is not None:
                os.chmod(full, mode & 0o7777)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Create a symlink."""
        full = self.native_path(path)
        try:
            os.symlink(target, full)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def remove_file(self, path: RelPath) -> None:
        """Remove a non-directory."""
        full = self.native_path(path)
        try:
            os.unlink(full)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Make new a second name of the existing file."""
        source, target = self.native_path(existing), self.native_path(new)
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def hard_link_native(self, existing: str, new: RelPath) -> None:
        """Make new a second name of a file given by its OS path (it may lie outside the tree)."""
        target = self.native_path(new)
        try:
            os.link(existing, target, follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, target) from error

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty directory."""
        full = self.native_path(path)
        try:
            os.rmdir(full)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename old to new."""
        source, target = self.native_path(old), self.native_path(new)
        if not replace and os.path.lexists(target):
            raise AlreadyExistsError(17, "already exists", target)
        try:
            os.replace(source, target) if replace else os.rename(source, target)
        except OSError as error:
            raise translate_os_error(error, source) from error

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the modification time (of the link itself for a symlink)."""
        full = self.native_path(path)
        try:
            os.utime(full, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, full) from error

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits."""
        full = self.native_path(path)
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


_KERNEL_COPY_FALLBACK_ERRORS = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def _copy_sparse(source_fd: int, target_fd: int, size: int) -> bool:
    """Copy only the data regions of a file with holes, so the copy keeps them; False if unsupported."""
    offset = 0
    try:
        while offset < size:
            try:
                start = os.lseek(source_fd, offset, os.SEEK_DATA)
            except OSError as error:
                if error.errno == errno.ENXIO:
                    break
                raise
            end = os.lseek(source_fd, start, os.SEEK_HOLE)
            position = start
            while position < end:
                block = os.pread(source_fd, min(COPY_CHUNK, end - position), position)
                if not block:
                    break
                position += os.pwrite(target_fd, block, position)
            if position <= offset:
                break
            offset = max(position, end)
        os.ftruncate(target_fd, size)
    except OSError as error:
        if error.errno not in _KERNEL_COPY_FALLBACK_ERRORS:
            raise
        os.ftruncate(target_fd, 0)
        return False
    return True


def _copy_descriptor(source_fd: int, target_fd: int) -> None:
    """Copy every byte from one open file to another inside the kernel where possible, keeping holes."""
    info = os.fstat(source_fd)
    if info.st_blocks * 512 < info.st_size and hasattr(os, "SEEK_DATA"):
        if _copy_sparse(source_fd, target_fd, info.st_size):
            return
        os.lseek(source_fd, 0, os.SEEK_SET)
    chunk = 1 << 30
    if hasattr(os, "copy_file_range"):
        try:
            while os.copy_file_range(source_fd, target_fd, chunk):
                pass
            return
        except OSError as error:
            if error.errno not in _KERNEL_COPY_FALLBACK_ERRORS:
                raise
            os.lseek(source_fd, 0, os.SEEK_SET)
            os.lseek(target_fd, 0, os.SEEK_SET)
            os.ftruncate(target_fd, 0)
    offset = 0
    try:
        while sent := os.sendfile(target_fd, source_fd, offset, chunk):
            offset += sent
        return
    except OSError as error:
        if error.errno not in _KERNEL_COPY_FALLBACK_ERRORS:
            raise
    os.lseek(source_fd, 0, os.SEEK_SET)
    os.lseek(target_fd, 0, os.SEEK_SET)
    os.ftruncate(target_fd, 0)
    while block := os.read(source_fd, COPY_CHUNK):
        os.write(target_fd, block)


def _remove_quietly(full: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(full)
