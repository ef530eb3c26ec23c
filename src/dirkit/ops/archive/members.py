"""Read archives: their format, their members one by one with their bytes, and the listing unpack shows.

The archive file itself is the one thing read here with the OS's own calls (open, its size); every write to
DEST goes through the backend, in ops/archive/unpack.py.
"""

from __future__ import annotations

import lzma
import os
import stat
import time
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

import zstandard

from dirkit.core.archive.formats import MAGIC_BYTES_NEEDED, ArchiveFormat, format_from_magic, format_from_name
from dirkit.core.archive.safety import (
    ArchiveMember,
    MemberKind,
    check_hardlink,
    check_member,
    link_above,
    link_refusal,
)
from dirkit.core.archive.tar import (
    BLOCK,
    PAX_MAX_BYTES,
    ZERO_BLOCK,
    TarFormatError,
    TarType,
    padding_for,
    parse_header,
    parse_pax,
    pax_mtime_ns,
)
from dirkit.core.tree.paths import RelPath, display_path
from dirkit.errors import DirkitError, UnsafeArchiveError, UsageError, translate_os_error
from dirkit.ops.archive.streams import CHUNK_BYTES, DecompressingReader, open_decompressed

DAMAGED_STREAM_ERRORS = (
    zipfile.BadZipFile,
    TarFormatError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
)
"""What reading a damaged member's bytes raises."""
ZIP_LINK_MAX_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ListedMember:
    """One member of a listing and why unpack would refuse it (None if it would not)."""

    member: ArchiveMember
    refusal: str | None


MemberData = Callable[[], BinaryIO]


def archive_size(archive: str) -> int:
    """Return the size of the archive file in bytes."""
    try:
        return os.path.getsize(archive)
    except OSError as error:
        raise translate_os_error(error, archive) from error


def detect_format(archive: str) -> ArchiveFormat:
    """Return an archive's format from its first bytes, else from its name."""
    try:
        with open(archive, "rb") as stream:
            head = stream.read(MAGIC_BYTES_NEEDED)
    except OSError as error:
        raise translate_os_error(error, archive) from error
    return format_from_magic(head) or format_from_name(archive)


def iter_members(archive: str) -> Generator[tuple[ArchiveMember, MemberData], None, None]:
    """Yield each member of an archive with a way to read its bytes (valid until the next member)."""
    archive_format = detect_format(archive)
    if archive_format is ArchiveFormat.ZIP:
        yield from _iter_zip(archive)
    else:
        yield from _iter_tar(archive, archive_format)


def _iter_zip(archive: str) -> Generator[tuple[ArchiveMember, MemberData], None, None]:
    with open_zip(archive) as zip_file:
        for member, info in zip_members(zip_file):
            yield member, _zip_opener(zip_file, info)


def open_zip(archive: str) -> zipfile.ZipFile:
    """Open a zip archive for reading (its members can then be read in any order)."""
    try:
        return zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise UsageError(f"{archive}: not a readable zip archive: {error}") from error


def zip_members(zip_file: zipfile.ZipFile) -> Iterator[tuple[ArchiveMember, zipfile.ZipInfo]]:
    """Yield each member of an open zip archive with the record that opens its bytes."""
    for info in zip_file.infolist():
        yield _zip_member(zip_file, info), info


def _zip_opener(zip_file: zipfile.ZipFile, info: zipfile.ZipInfo) -> MemberData:
    def open_member() -> BinaryIO:
        return zip_file.open(info)  # type: ignore[return-value]

    return open_member


def _zip_member(zip_file: zipfile.ZipFile, info: zipfile.ZipInfo) -> ArchiveMember:
    unix_mode = info.external_attr >> 16
    file_type = stat.S_IFMT(unix_mode)
    mtime = _zip_mtime_ns(info.date_time)
    name = info.filename
    if info.flag_bits & 0x1:
        return ArchiveMember(name, MemberKind.OTHER, info.file_size, 0, mtime)
    if info.is_dir() or file_type == stat.S_IFDIR:
        return ArchiveMember(name, MemberKind.DIR, 0, stat.S_IMODE(unix_mode) or 0o755, mtime)
    if file_type == stat.S_IFLNK:
        with zip_file.open(info) as stream:
            target = stream.read(ZIP_LINK_MAX_BYTES).decode("utf-8", "surrogateescape")
        return ArchiveMember(name, MemberKind.SYMLINK, 0, 0o777, mtime, target)
    if file_type in (stat.S_IFCHR, stat.S_IFBLK):
        return ArchiveMember(name, MemberKind.DEVICE, 0, stat.S_IMODE(unix_mode), mtime)
    if file_type == stat.S_IFIFO:
        return ArchiveMember(name, MemberKind.FIFO, 0, stat.S_IMODE(unix_mode), mtime)
    if file_type not in (0, stat.S_IFREG):
        return ArchiveMember(name, MemberKind.OTHER, 0, stat.S_IMODE(unix_mode), mtime)
    mode = stat.S_IMODE(unix_mode) if unix_mode else 0o644
    return ArchiveMember(name, MemberKind.FILE, info.file_size, mode, mtime, None, info.compress_size)


def _zip_mtime_ns(date_time: tuple[int, int, int, int, int, int]) -> int | None:
    try:
        return int(time.mktime((*date_time, 0, 0, -1))) * 1_000_000_000
    except (OverflowError, ValueError):
        return None


def _iter_tar(
    archive: str, archive_format: ArchiveFormat
) -> Generator[tuple[ArchiveMember, MemberData], None, None]:
    for member, data in iter_tar_data(archive, archive_format):
        yield member, _opener_of(data)


def iter_tar_members(archive: str, archive_format: ArchiveFormat) -> Iterator[tuple[ArchiveMember, int]]:
    """Yield each member of a tar archive with where its bytes start in the decompressed archive."""
    for member, data in iter_tar_data(archive, archive_format):
        yield member, data.offset


def iter_tar_data(
    archive: str, archive_format: ArchiveFormat
) -> Generator[tuple[ArchiveMember, TarMemberData], None, None]:
    """Yield each member of a tar archive with its bytes (readable until the next member), in one pass."""
    try:
        raw = open(archive, "rb")  # noqa: SIM115
    except OSError as error:
        raise translate_os_error(error, archive) from error
    reader = DecompressingReader(open_decompressed(raw, archive_format), raw)
    try:
        yield from _read_tar_stream(reader, archive, archive_format)
    except (TarFormatError, EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as error:
        if isinstance(error, DirkitError):
            raise
        raise UsageError(f"{archive}: damaged {archive_format.value} archive: {error}") from error
    finally:
        reader.close()


class TarMemberBytes:
    """Reads tar members' bytes at the offsets a first pass found: any order in a plain tar, else forward."""

    def __init__(self, archive: str, archive_format: ArchiveFormat) -> None:
        try:
            self._raw = open(archive, "rb")  # noqa: SIM115
        except OSError as error:
            raise translate_os_error(error, archive) from error
        self._archive = archive
        self._stream: DecompressingReader | None = None
        if archive_format is not ArchiveFormat.TAR:
            self._stream = DecompressingReader(open_decompressed(self._raw, archive_format), self._raw)

    @property
    def any_order(self) -> bool:
        """Tell whether members may be opened in any order, from several threads (a plain tar)."""
        return self._stream is None

    def open(self, offset: int, size: int) -> BinaryIO:
        """Return the size bytes at offset (in a compressed tar, never before the last member opened)."""
        if self._stream is None:
            return cast(BinaryIO, _PlainTarData(self._raw.fileno(), offset, size))
        ahead = offset - self._stream.position
        if ahead < 0:
            raise UsageError(f"{self._archive}: members asked for out of order")
        try:
            _skip(self._stream, ahead)
        except (EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as error:
            if isinstance(error, DirkitError):
                raise
            raise TarFormatError(str(error)) from error
        return cast(BinaryIO, TarMemberData(self._stream, size))

    def close(self) -> None:
        """Release the archive."""
        if self._stream is not None:
            self._stream.close()
        else:
            self._raw.close()


class _PlainTarData:
    """The bytes of one member of a plain tar, read by position (safe from several threads at once)."""

    def __init__(self, descriptor: int, offset: int, size: int) -> None:
        self.descriptor = descriptor
        self.position = offset
        self.remaining = size

    def read(self, size: int = -1) -> bytes:
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        if wanted <= 0:
            return b""
        data = os.pread(self.descriptor, wanted, self.position)
        if not data:
            raise TarFormatError("archive ends in the middle of a member")
        self.position += len(data)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        """Nothing to release: the archive stays open for the next member."""

    def __enter__(self) -> _PlainTarData:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to release."""


def _read_exact(stream: DecompressingReader, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise TarFormatError("archive ends in the middle of a member")
    return data


class TarMemberData:
    """The bytes of the current tar member, read straight from the archive stream."""

    def __init__(self, stream: DecompressingReader, size: int) -> None:
        self.stream = stream
        self.remaining = size
        self.offset = stream.position
        """Where the member's bytes start in the decompressed archive."""

    def read(self, size: int = -1) -> bytes:
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        if wanted <= 0:
            return b""
        data = self.stream.read(wanted)
        if len(data) != wanted:
            raise TarFormatError("archive ends in the middle of a member")
        self.remaining -= wanted
        return data

    def close(self) -> None:
        """Nothing to release: the archive stream stays open for the next member."""

    def __enter__(self) -> TarMemberData:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to release: the archive stream stays open for the next member."""


_MEMBER_KINDS = {
    TarType.FILE: MemberKind.FILE,
    TarType.DIR: MemberKind.DIR,
    TarType.SYMLINK: MemberKind.SYMLINK,
    TarType.HARDLINK: MemberKind.HARDLINK,
    TarType.DEVICE: MemberKind.DEVICE,
    TarType.FIFO: MemberKind.FIFO,
}


def _read_tar_stream(
    stream: DecompressingReader, archive: str, archive_format: ArchiveFormat
) -> Generator[tuple[ArchiveMember, TarMemberData], None, None]:
    pax: dict[str, str] = {}
    long_name: bytes | None = None
    long_link: bytes | None = None
    first = True
    while True:
        block = stream.read(BLOCK)
        if not block and first:
            raise UsageError(f"{archive}: empty file, not a {archive_format.value} archive")
        if block == ZERO_BLOCK or not block:
            return
        if len(block) != BLOCK:
            raise TarFormatError("archive ends in the middle of a header")
        try:
            header = parse_header(block)
        except TarFormatError as error:
            if first:
                raise UsageError(f"{archive}: not a {archive_format.value} archive ({error})") from error
            raise
        first = False
        size = header.size
        if header.tar_type in (TarType.PAX, TarType.PAX_GLOBAL, TarType.GNU_LONG_NAME, TarType.GNU_LONG_LINK):
            if size > PAX_MAX_BYTES:
                raise UnsafeArchiveError(f"{archive}: extended header of {size} bytes is too large")
            data = _read_exact(stream, size + padding_for(size))[:size]
            if header.tar_type is TarType.PAX:
                pax.update(parse_pax(data))
            elif header.tar_type is TarType.GNU_LONG_NAME:
                long_name = data.split(b"\0", 1)[0]
            elif header.tar_type is TarType.GNU_LONG_LINK:
                long_link = data.split(b"\0", 1)[0]
            continue
        raw_name = long_name if long_name is not None else header.name
        raw_link = long_link if long_link is not None else header.linkname
        name = pax.get("path") or raw_name.decode("utf-8", "surrogateescape")
        link = pax.get("linkpath") or raw_link.decode("utf-8", "surrogateescape")
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise TarFormatError(f"bad pax size {pax['size']!r}") from None
        mtime_ns = pax_mtime_ns(pax["mtime"]) if "mtime" in pax else header.mtime * 1_000_000_000
        pax, long_name, long_link = {}, None, None
        kind = _MEMBER_KINDS.get(header.tar_type, MemberKind.OTHER)
        carries_data = kind in (MemberKind.FILE, MemberKind.OTHER)
        member = ArchiveMember(
            name,
            kind,
            size if carries_data else 0,
            header.mode & 0o7777,
            mtime_ns,
            link if kind in (MemberKind.SYMLINK, MemberKind.HARDLINK) else None,
        )
        data_reader = TarMemberData(stream, size if carries_data or kind is MemberKind.DIR else 0)
        yield member, data_reader
        leftover = data_reader.remaining
        if leftover:
            _skip(stream, leftover)
        skip_bytes = padding_for(size) if carries_data or kind is MemberKind.DIR else 0
        if skip_bytes:
            _read_exact(stream, skip_bytes)


def _opener_of(data: TarMemberData) -> MemberData:
    def open_member() -> BinaryIO:
        return data  # type: ignore[return-value]

    return open_member


def _skip(stream: DecompressingReader, size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, CHUNK_BYTES))
        if not chunk:
            raise TarFormatError("archive ends in the middle of a member")
        size -= len(chunk)


def list_archive(archive: str) -> Iterator[ListedMember]:
    """Yield every member of an archive with the reason unpack would refuse it, if any."""
    links: dict[RelPath, str] = {}
    files: dict[RelPath, None] = {}
    for member, _ in iter_members(archive):
        refusal = None
        try:
            path = check_member(member)
            above = link_above(path, links)
            if above is not None:
                raise UnsafeArchiveError(f"{display_path(member.name)}: written through symlink {above}")
            if member.kind is MemberKind.SYMLINK:
                links[path] = member.link_target or ""
                reason = link_refusal(path, links)
                if reason is not None:
                    raise UnsafeArchiveError(f"{display_path(member.name)}: {reason}")
            elif member.kind is MemberKind.HARDLINK:
                check_hardlink(member, files)
            elif member.kind is MemberKind.FILE:
                files[path] = None
        except UnsafeArchiveError as error:
            refusal = str(error)
        yield ListedMember(member, refusal)
