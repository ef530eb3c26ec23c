"""Pack a tree into a zip or (compressed) tar archive, written under a temporary name then renamed."""

from __future__ import annotations

import os
import shutil
import stat
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from dirkit.backends.protocol import Backend
from dirkit.backends.temp_files import remove_quietly, temp_path_beside
from dirkit.backends.trees import REMOTE_SCHEMES, RemoteOptions, open_tree
from dirkit.core.archive.formats import ArchiveFormat, format_from_name
from dirkit.core.archive.tar import TarType, build_header, end_of_archive, padding_for
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, display_path, is_valid_utf8
from dirkit.errors import AlreadyExistsError, BackendError, RefusedError, UsageError, translate_os_error
from dirkit.ops.archive.streams import CHUNK_BYTES, ArchiveWriter, make_archive_writer
from dirkit.ops.tree.scan import ScanOptions, scan_tree

FIXED_MTIME = 315_532_800
"""1980-01-01T00:00:00Z: the time stamped on every entry of a reproducible archive (zip's earliest)."""
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
UNIX_SYSTEM = 3
ZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class PackOptions:
    """How to pack: what to leave out, which format, and whether the bytes must be reproducible."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    archive_format: ArchiveFormat | None = None
    """The format (default: from the archive's name)."""
    reproducible: bool = False
    fixed_mtime: int = FIXED_MTIME
    """The time of every entry when reproducible (seconds since the epoch)."""
    force: bool = False
    remote: RemoteOptions | None = None
    """How ROOT is reached when it is an ftp://, ftps:// or sftp:// URL."""


@dataclass(frozen=True, slots=True)
class PackProgress:
    """How far packing has come."""

    files_done: int
    bytes_done: int
    files_total: int
    bytes_total: int


@dataclass(frozen=True, slots=True)
class PackResult:
    """What pack wrote and what it left out."""

    archive: str
    archive_format: ArchiveFormat
    files: int
    dirs: int
    symlinks: int
    bytes_in: int
    archive_bytes: int
    skipped: tuple[tuple[RelPath, str], ...]
    """Paths left out of the archive, with the reason (unreadable, special file)."""


ProgressCallback = Callable[[PackProgress], None]


def pack_tree(
    root: str, archive: str, options: PackOptions, on_progress: ProgressCallback | None = None
) -> PackResult:
    """Write the tree at root into archive; paths that cannot be packed are listed as skipped."""
    archive_format = options.archive_format or format_from_name(archive)
    backend = open_tree(root, remote=options.remote)
    try:
        return _pack_opened(backend, root, archive, archive_format, options, on_progress)
    finally:
        backend.close()


def _pack_opened(
    backend: Backend,
    root: str,
    archive: str,
    archive_format: ArchiveFormat,
    options: PackOptions,
    on_progress: ProgressCallback | None,
) -> PackResult:
    """Pack the opened tree into archive."""
    if os.path.isdir(archive):
        raise UsageError(f"{archive}: is a directory; name the archive file")
    if not options.force and os.path.lexists(archive):
        raise AlreadyExistsError(17, "already exists (use --force to replace it)", archive)
    snapshot = scan_tree(backend, options.scan)
    itself = _path_in_tree(root, archive)
    packed: list[Entry] = []
    skipped: list[tuple[RelPath, str]] = []
    for entry in snapshot:
        if entry.path == itself:
            continue
        if entry.error is not None:
            skipped.append((entry.path, entry.error))
        elif entry.kind is EntryKind.OTHER:
            skipped.append((entry.path, "special file (socket, fifo or device) not packed"))
        else:
            packed.append(entry)
    if archive_format is ArchiveFormat.ZIP:
        _refuse_names_zip_cannot_hold(packed)
    temp = temp_path_beside(os.path.abspath(archive))
    totals = _Totals(sum(1 for entry in packed if entry.is_file), sum(e.size for e in packed if e.is_file))
    try:
        if archive_format is ArchiveFormat.ZIP:
            _write_zip(backend, packed, temp, options, totals, skipped, on_progress)
        else:
            _write_tar(backend, packed, temp, archive_format, options, totals, skipped, on_progress)
        os.replace(temp, archive)
    except OSError as error:
        remove_quietly(temp)
        raise translate_os_error(error, archive) from error
    except BaseException:
        remove_quietly(temp)
        raise
    counts = {kind: sum(1 for e in packed if e.kind is kind) for kind in EntryKind}
    return PackResult(
        archive=archive,
        archive_format=archive_format,
        files=counts[EntryKind.FILE] - totals.failed,
        dirs=counts[EntryKind.DIR],
        symlinks=counts[EntryKind.SYMLINK],
        bytes_in=totals.bytes_done,
        archive_bytes=os.path.getsize(archive),
        skipped=tuple(skipped),
    )


def _path_in_tree(root: str, archive: str) -> RelPath | None:
    """Return where the archive being written lies inside the tree at root, or None if outside it."""
    if root.lower().startswith(REMOTE_SCHEMES):
        return None
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(os.path.abspath(archive)))
    where = os.path.join(parent, os.path.basename(archive))
    if not where.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return RelPath(os.path.relpath(where, real_root).replace(os.sep, "/"))


class _Totals:
    """Running counts for progress reports."""

    def __init__(self, files_total: int, bytes_total: int) -> None:
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self.failed = 0

    def advance(self, size: int, on_progress: ProgressCallback | None) -> None:
        self.files_done += 1
        self.bytes_done += size
        if on_progress is not None:
            on_progress(PackProgress(self.files_done, self.bytes_done, self.files_total, self.bytes_total))


def _mtime_ns_of(entry: Entry, options: PackOptions) -> int:
    if options.reproducible or entry.mtime_ns is None:
        return options.fixed_mtime * 1_000_000_000
    return entry.mtime_ns


def _write_tar(
    backend: Backend,
    entries: list[Entry],
    temp: str,
    archive_format: ArchiveFormat,
    options: PackOptions,
    totals: _Totals,
    skipped: list[tuple[RelPath, str]],
    on_progress: ProgressCallback | None,
) -> None:
    with open(temp, "xb") as sink:
        writer = make_archive_writer(sink, archive_format)
        try:
            written = 0
            for entry in entries:
                mtime_ns = _mtime_ns_of(entry, options)
                if entry.is_dir:
                    header = build_header(entry.path, TarType.DIR, entry.mode, 0, mtime_ns)
                elif entry.kind is EntryKind.SYMLINK:
                    header = build_header(entry.path, TarType.SYMLINK, 0o777, 0, mtime_ns, entry.target or "")
                else:
                    native = display_path(entry.path)
                    try:
                        stream = backend.open_read(entry.path)
                    except BackendError as error:
                        skipped.append((entry.path, f"cannot read: {error.strerror}"))
                        totals.failed += 1
                        continue
                    with stream:
                        header = build_header(entry.path, TarType.FILE, entry.mode, entry.size, mtime_ns)
                        writer.write(header)
                        written += len(header) + _copy_exactly(stream, writer, entry.size, native)
                    totals.advance(entry.size, on_progress)
                    continue
                writer.write(header)
                written += len(header)
            writer.write(end_of_archive(written))
        except BaseException:
            writer.abandon()
            raise
        writer.close()


def _copy_exactly(stream: BinaryIO, writer: ArchiveWriter, size: int, native: str) -> int:
    """Copy size bytes and the block padding; raise if the file is not size bytes long any more."""
    left = size
    try:
        while left > 0:
            chunk = stream.read(min(left, CHUNK_BYTES))
            if not chunk:
                break
            writer.write(chunk)
            left -= len(chunk)
        grew = left == 0 and stream.read(1)
    except OSError as error:
        raise translate_os_error(error, native) from error
    if left or grew:
        raise BackendError(0, "file changed size while being packed", native)
    padding = padding_for(size)
    if padding:
        writer.write(bytes(padding))
    return size + padding


def _zip_time(entry: Entry, options: PackOptions) -> tuple[int, int, int, int, int, int]:
    if options.reproducible or entry.mtime_ns is None:
        if options.fixed_mtime == FIXED_MTIME:
            return ZIP_EPOCH
        moment = time.gmtime(options.fixed_mtime)
    else:
        moment = time.localtime(entry.mtime_ns // 1_000_000_000)
    if moment.tm_year < 1980:
        return ZIP_EPOCH
    if moment.tm_year > 2107:
        return (2107, 12, 31, 23, 59, 58)
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec)


def _refuse_names_zip_cannot_hold(entries: list[Entry]) -> None:
    """Raise RefusedError naming the paths that are not valid UTF-8, which zip cannot store as they are.

    Zip readers decode a name without the UTF-8 flag as code page 437, so such a name would come
    back garbled; tar keeps names as bytes.
    """
    bad = [entry.path for entry in entries if not is_valid_utf8(entry.path)]
    if not bad:
        return
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    raise RefusedError(
        f"{display_path(bad[0])}{more}: name is not valid UTF-8, and a .zip cannot store it as it is; "
        "pack to a tar format (.tar, .tar.gz, .tar.zst), which keeps names as bytes, or --exclude it"
    )


def _write_zip(
    backend: Backend,
    entries: list[Entry],
    temp: str,
    options: PackOptions,
    totals: _Totals,
    skipped: list[tuple[RelPath, str]],
    on_progress: ProgressCallback | None,
) -> None:
    with zipfile.ZipFile(temp, "x", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as zip_file:
        for entry in entries:
            name = entry.path + "/" if entry.is_dir else entry.path
            info = zipfile.ZipInfo(name, _zip_time(entry, options))
            info.create_system = UNIX_SYSTEM
            if entry.is_dir:
                info.external_attr = ((stat.S_IFDIR | (entry.mode & 0o7777)) << 16) | 0x10
                zip_file.writestr(info, b"")
                continue
            if entry.kind is EntryKind.SYMLINK:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                info.compress_type = zipfile.ZIP_STORED
                zip_file.writestr(info, (entry.target or "").encode("utf-8", "surrogateescape"))
                continue
            info.external_attr = (stat.S_IFREG | (entry.mode & 0o7777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = entry.size
            native = display_path(entry.path)
            try:
                stream = backend.open_read(entry.path)
            except BackendError as error:
                skipped.append((entry.path, f"cannot read: {error.strerror}"))
                totals.failed += 1
                continue
            with stream, zip_file.open(info, "w", force_zip64=entry.size >= zipfile.ZIP64_LIMIT) as sink:
                try:
                    shutil.copyfileobj(stream, sink, CHUNK_BYTES)
                except OSError as error:
                    raise translate_os_error(error, display_path(native)) from error
            totals.advance(entry.size, on_progress)
