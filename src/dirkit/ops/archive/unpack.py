"""Unpack an archive safely into DEST, or list it: every member checked, limits enforced, undo-ready."""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import stat
import time
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import zstandard

from dirkit.backends.local import LocalBackend
from dirkit.backends.temp_files import new_token, remove_quietly
from dirkit.core.archive.formats import MAGIC_BYTES_NEEDED, ArchiveFormat, format_from_magic, format_from_name
from dirkit.core.archive.safety import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    DEFAULT_RATIO_FLOOR,
    ArchiveMember,
    ExtractionLimits,
    MemberKind,
    check_declared_ratio,
    check_hardlink,
    check_member,
    check_totals,
    first_unsafe_link,
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
from dirkit.core.run.names import BACKUP_ROOT, backup_dir_for, temp_name_for
from dirkit.core.tree.entry import safe_mode
from dirkit.core.tree.filters import RESERVED_DIR_NAME
from dirkit.core.tree.paths import ROOT, RelPath, display_path, parent_path
from dirkit.errors import (
    AlreadyExistsError,
    DirkitError,
    UnsafeArchiveError,
    UsageError,
    translate_os_error,
)
from dirkit.ops.archive.streams import CHUNK_BYTES, DecompressingReader, open_decompressed
from dirkit.ops.run.byte_copy import open_new_file, write_all
from dirkit.ops.run.clock import new_run_id, utc_now
from dirkit.ops.run.execute import require_own_folders

DAMAGED_STREAM_ERRORS = (
    zipfile.BadZipFile,
    TarFormatError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
)
RECORD_NAME = "unpack-record.json"
ZIP_LINK_MAX_BYTES = 4096
FREE_SPACE_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UnpackOptions:
    """How to unpack: replace existing files (through backups) or not, and the limits."""

    overwrite: bool = False
    max_total_bytes: int | None = None
    """Stop past this many bytes written (default: the free space on DEST's filesystem)."""
    max_ratio: float = DEFAULT_MAX_RATIO
    ratio_floor_bytes: int = DEFAULT_RATIO_FLOOR
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclass(frozen=True, slots=True)
class UnpackResult:
    """What unpack wrote, and where it put what it replaced."""

    dest: str
    files: int
    dirs: int
    symlinks: int
    bytes_written: int
    replaced: tuple[RelPath, ...]
    backup_folder: str | None
    """DEST/.dirkit/backups/RUN-ID when files were replaced (with unpack-record.json inside)."""
    run_id: str | None = None
    """The journaled run ('dirkit undo DEST' reverts it), when the unpack was journaled."""


class ExtractionRecorder(Protocol):
    """Told of every backup before it happens and every created path after, to journal the run."""

    @property
    def run_id(self) -> str:
        """Return the run id, which also names the backup folder."""
        ...

    def start(self) -> None:
        """Record that the extraction starts (DEST exists, nothing in it changed yet)."""

    def before_backup(self, path: RelPath, native: str, kind: MemberKind, source: str | None) -> None:
        """Record that path moves to the backups and kind (from the temporary path source) replaces it."""

    def created(self, path: RelPath, kind: MemberKind, native: str, link_target: str | None) -> None:
        """Record that path was just created."""

    def existing_dir(self, path: RelPath, info: os.stat_result) -> None:
        """Record a directory that was in DEST before (its mode and times may change)."""

    def finish(self, completed: bool) -> None:
        """Record whether the extraction completed or stopped early (after its roll-back)."""


@dataclass(frozen=True, slots=True)
class ListedMember:
    """One member of a listing and why unpack would refuse it (None if it would not)."""

    member: ArchiveMember
    refusal: str | None


MemberData = Callable[[], BinaryIO]


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
    try:
        zip_file = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise UsageError(f"{archive}: not a readable zip archive: {error}") from error
    with zip_file:
        infos = zip_file.infolist()
        for info in infos:
            yield _zip_member(zip_file, info), _zip_opener(zip_file, info)


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


def _read_exact(stream: DecompressingReader, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise TarFormatError("archive ends in the middle of a member")
    return data


class _TarMemberData:
    """The bytes of the current tar member, read straight from the archive stream."""

    def __init__(self, stream: DecompressingReader, size: int) -> None:
        self.stream = stream
        self.remaining = size

    def read(self, size: int = -1) -> bytes:
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        if wanted <= 0:
            return b""
        data = self.stream.read(wanted)
        if len(data) != wanted:
            raise TarFormatError("archive ends in the middle of a member")
        self.remaining -= wanted
        return data

    def __enter__(self) -> _TarMemberData:
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
) -> Generator[tuple[ArchiveMember, MemberData], None, None]:
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
        data_reader = _TarMemberData(stream, size if carries_data or kind is MemberKind.DIR else 0)
        yield member, _opener_of(data_reader)
        leftover = data_reader.remaining
        if leftover:
            _skip(stream, leftover)
        skip_bytes = padding_for(size) if carries_data or kind is MemberKind.DIR else 0
        if skip_bytes:
            _read_exact(stream, skip_bytes)


def _opener_of(data: _TarMemberData) -> MemberData:
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


def unpack_archive(
    archive: str, dest: str, options: UnpackOptions, recorder: ExtractionRecorder | None = None
) -> UnpackResult:
    """Extract archive into dest safely; on any refusal or limit remove everything it wrote."""
    try:
        archive_bytes = os.path.getsize(archive)
    except OSError as error:
        raise translate_os_error(error, archive) from error
    dest_existed = os.path.isdir(dest)
    if not dest_existed:
        if os.path.lexists(dest):
            raise AlreadyExistsError(17, "exists and is not a directory", dest)
        try:
            os.makedirs(dest)
        except OSError as error:
            raise translate_os_error(error, dest) from error
    limits = ExtractionLimits(
        max_total_bytes=options.max_total_bytes if options.max_total_bytes is not None else _free_bytes(dest),
        max_ratio=options.max_ratio,
        ratio_floor_bytes=options.ratio_floor_bytes,
        max_members=options.max_members,
    )
    fresh = not dest_existed or _is_empty_dir(dest)
    if options.overwrite and not fresh:
        require_own_folders(LocalBackend(dest), BACKUP_ROOT)
    extraction = _Extraction(
        os.path.abspath(dest), archive, archive_bytes, limits, options.overwrite, fresh, recorder
    )
    members = iter_members(archive)
    try:
        if recorder is not None:
            recorder.start()
        for member, open_data in members:
            extraction.add(member, open_data)
        extraction.finish()
    except BaseException:
        members.close()
        extraction.roll_back()
        if not dest_existed:
            with contextlib.suppress(OSError):
                os.rmdir(dest)
        if recorder is not None:
            with contextlib.suppress(DirkitError):
                recorder.finish(completed=False)
        raise
    if recorder is not None:
        recorder.finish(completed=True)
    return extraction.result()


def _current_umask() -> int | None:
    """Return the process umask from /proc (reading it with os.umask would change it), or None."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _is_empty_dir(path: str) -> bool:
    with os.scandir(path) as listing:
        return next(listing, None) is None


def _free_bytes(dest: str) -> int:
    try:
        usage = os.statvfs(dest)
    except OSError:
        return 2**63
    return max(0, usage.f_bavail * usage.f_frsize - FREE_SPACE_MARGIN)


class _Extraction:
    """The state of one extraction: what it created and replaced, so it can finish or roll back."""

    def __init__(
        self,
        dest: str,
        archive: str,
        archive_bytes: int,
        limits: ExtractionLimits,
        overwrite: bool,
        fresh: bool,
        recorder: ExtractionRecorder | None = None,
    ) -> None:
        self.dest = dest
        self.recorder = recorder
        self.fresh = fresh
        """DEST was empty at the start: only this run's paths can exist, so nothing needs an lstat."""
        self.umask = _current_umask()
        self.temp_token = new_token()
        self.temp_count = 0
        self.archive = archive
        self.archive_bytes = archive_bytes
        self.limits = limits
        self.overwrite = overwrite
        self.run_id = recorder.run_id if recorder is not None else new_run_id()
        self.backup_root = os.path.join(dest, backup_dir_for(self.run_id))
        self.created: list[tuple[RelPath, MemberKind]] = []
        self.created_set: set[RelPath] = set()
        self.backups: list[RelPath] = []
        self.files: dict[RelPath, None] = {}
        self.known_dirs: set[RelPath] = {ROOT}
        self.links: dict[RelPath, str] = {}
        self.dir_times: dict[RelPath, tuple[int, int | None]] = {}
        self.temp: str | None = None
        self.written = 0
        self.members = 0
        self.symlink_count = 0

    def native(self, path: RelPath) -> str:
        return f"{self.dest}/{path}" if path else self.dest

    def add(self, member: ArchiveMember, open_data: MemberData) -> None:
        """Check one member and write it (symlinks wait for the end)."""
        self.members += 1
        check_totals(self.written, self.members, self.archive_bytes, self.limits, self.archive)
        path = check_member(member)
        check_declared_ratio(member, self.limits)
        above = link_above(path, self.links) if self.links else None
        if above is not None:
            raise UnsafeArchiveError(
                f"{display_path(member.name)}: would be written through symlink {display_path(above)}"
            )
        kind = member.kind
        if kind is MemberKind.DIR:
            if path != ROOT:
                self.ensure_dir(path)
                self.dir_times[path] = (safe_mode(member.mode) & 0o1777, member.mtime_ns)
        elif kind is MemberKind.SYMLINK:
            if path in self.links or path in self.created_set:
                raise UnsafeArchiveError(f"{display_path(member.name)}: member appears twice in the archive")
            self.links[path] = member.link_target or ""
        elif kind is MemberKind.HARDLINK:
            self.add_hardlink(path, check_hardlink(member, self.files), member)
        else:
            self.add_file(path, member, open_data)

    def ensure_dir(self, path: RelPath) -> None:
        """Make path and its parents real directories inside DEST, never following a symlink."""
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            current = RelPath("/".join(parts[:depth]))
            if current in self.known_dirs:
                continue
            native = self.native(current)
            info = self.lstat_unless_fresh(current, native)
            if info is not None and stat.S_ISDIR(info.st_mode):
                self.known_dirs.add(current)
                if self.recorder is not None:
                    self.recorder.existing_dir(current, info)
                continue
            if info is not None and stat.S_ISLNK(info.st_mode):
                raise UnsafeArchiveError(f"{native}: is a symlink in DEST; refusing to write through it")
            if info is not None:
                self.replace_existing(current, native, MemberKind.DIR, None)
            try:
                os.mkdir(native, 0o700)
            except OSError as error:
                raise translate_os_error(error, native) from error
            self.record_created(current, MemberKind.DIR, native)
            self.dir_times.setdefault(current, (0o755, None))
            self.known_dirs.add(current)

    def lstat_unless_fresh(self, path: RelPath, native: str) -> os.stat_result | None:
        """Return what is at path now; in a fresh DEST only this run's own paths can be there."""
        if self.fresh and path not in self.created_set:
            return None
        try:
            return os.lstat(native)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise translate_os_error(error, native) from error

    def temp_beside(self, path: RelPath) -> str:
        """Return a fresh temporary name beside path (a run token and a counter, no syscall)."""
        self.temp_count += 1
        return self.native(temp_name_for(path, f"{self.temp_token}{self.temp_count:x}"))

    def record_created(self, path: RelPath, kind: MemberKind, native: str) -> None:
        """Remember path as made by this extraction and journal it (it exists now)."""
        self.note_created(path, kind)
        self.journal_created(path, kind, native)

    def note_created(self, path: RelPath, kind: MemberKind) -> None:
        """Remember path as made by this extraction, so a rollback removes it."""
        self.created.append((path, kind))
        self.created_set.add(path)

    def journal_created(self, path: RelPath, kind: MemberKind, native: str) -> None:
        """Tell the journal recorder (if any) that path now exists as kind."""
        if self.recorder is not None:
            link_target = self.links.get(path) if kind is MemberKind.SYMLINK else None
            self.recorder.created(path, kind, native, link_target)

    def replace_existing(self, path: RelPath, native: str, kind: MemberKind, source: str | None) -> None:
        """Move what is at path into this run's backup folder, or refuse without --overwrite."""
        if path in self.created_set:
            raise UnsafeArchiveError(f"{display_path(path)}: member appears twice in the archive")
        if not self.overwrite:
            raise AlreadyExistsError(17, "already exists (use --overwrite to replace it)", native)
        backup = os.path.join(self.backup_root, path)
        if self.recorder is not None:
            self.recorder.before_backup(path, native, kind, source)
        try:
            os.makedirs(os.path.dirname(backup), exist_ok=True)
            os.rename(native, backup)
        except OSError as error:
            raise translate_os_error(error, native) from error
        self.backups.append(path)

    def add_file(self, path: RelPath, member: ArchiveMember, open_data: MemberData) -> None:
        """Write a file under a temporary name, counting bytes against the limits, then rename it."""
        parent = parent_path(path)
        if parent and parent not in self.known_dirs:
            self.ensure_dir(parent)
        native = self.native(path)
        mode = safe_mode(member.mode) & 0o777
        self.temp = temp = self.temp_beside(path)
        try:
            fd = open_new_file(temp, mode)
        except OSError as error:
            raise translate_os_error(error, native) from error
        try:
            with open_data() as stream:
                while True:
                    chunk = stream.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    self.written += len(chunk)
                    check_totals(self.written, self.members, self.archive_bytes, self.limits, self.archive)
                    write_all(fd, memoryview(chunk))
            if self.umask is None or mode & self.umask:
                os.fchmod(fd, mode)
            if member.mtime_ns is not None:
                os.utime(fd, ns=(member.mtime_ns, member.mtime_ns))
        except DAMAGED_STREAM_ERRORS as error:
            shown = display_path(member.name)
            raise UsageError(f"{self.archive}: damaged member {shown}: {error}") from error
        finally:
            os.close(fd)
        self.place(temp, path, native, MemberKind.FILE)
        self.files[path] = None

    def place(self, temp: str, path: RelPath, native: str, kind: MemberKind) -> None:
        """Rename a finished temporary file into place, backing up what was there."""
        if self.lstat_unless_fresh(path, native) is not None:
            self.replace_existing(path, native, kind, temp)
        self.note_created(path, kind)  # first, so an interrupt right after the rename still cleans it
        try:
            os.rename(temp, native)
        except OSError as error:
            raise translate_os_error(error, native) from error
        self.temp = None
        self.journal_created(path, kind, native)

    def add_hardlink(self, path: RelPath, target: RelPath, member: ArchiveMember) -> None:
        """Link path to a file this extraction wrote (through a temporary name)."""
        parent = parent_path(path)
        if parent and parent not in self.known_dirs:
            self.ensure_dir(parent)
        native = self.native(path)
        self.temp = temp = self.temp_beside(path)
        try:
            os.link(self.native(target), temp, follow_symlinks=False)
        except OSError as error:
            raise translate_os_error(error, native) from error
        self.place(temp, path, native, MemberKind.FILE)
        self.files[path] = None

    def finish(self) -> None:
        """Create the symlinks (checked against each other), then set directory modes and times."""
        unsafe = first_unsafe_link(self.links)
        if unsafe is not None:
            raise UnsafeArchiveError(f"{display_path(unsafe[0])}: {unsafe[1]}")
        for path, target in sorted(self.links.items()):
            parent = parent_path(path)
            if parent:
                self.ensure_dir(parent)
            native = self.native(path)
            self.temp = temp = self.temp_beside(path)
            try:
                os.symlink(target, temp)
            except OSError as error:
                raise translate_os_error(error, native) from error
            self.place(temp, path, native, MemberKind.SYMLINK)
            self.symlink_count += 1
        for path in sorted(self.dir_times, key=lambda item: item.count("/"), reverse=True):
            mode, mtime = self.dir_times[path]
            native = self.native(path)
            try:
                os.chmod(native, mode)
                if mtime is not None:
                    os.utime(native, ns=(mtime, mtime), follow_symlinks=False)
            except OSError as error:
                raise translate_os_error(error, native) from error
        if self.backups:
            self.write_record()

    def write_record(self) -> None:
        """Write the JSON record of what was backed up and created, for `dirkit undo`."""
        record = {
            "format": "dirkit-unpack-record",
            "version": 1,
            "run_id": self.run_id,
            "command": "unpack",
            "archive": os.path.abspath(self.archive),
            "dest": self.dest,
            "finished": utc_now(),
            "backed_up": list(self.backups),
            "created": [{"path": path, "kind": kind.value} for path, kind in self.created],
        }
        path = os.path.join(self.backup_root, RECORD_NAME)
        try:
            with open(path, "x", encoding="utf-8") as stream:
                json.dump(record, stream, indent=1, ensure_ascii=False)
                stream.write("\n")
        except OSError as error:
            raise translate_os_error(error, path) from error

    def roll_back(self) -> None:
        """Remove everything this extraction wrote and put back what it moved to backups."""
        if self.temp is not None:
            remove_quietly(self.temp)
        for path, kind in reversed(self.created):
            native = self.native(path)
            with contextlib.suppress(OSError):
                if kind is MemberKind.DIR:
                    os.rmdir(native)
                else:
                    os.unlink(native)
        for path in reversed(self.backups):
            with contextlib.suppress(OSError):
                os.rename(os.path.join(self.backup_root, path), self.native(path))
        if self.backups:
            _remove_empty_tree(self.backup_root)
            for folder in (
                os.path.join(self.dest, BACKUP_ROOT),
                os.path.join(self.dest, RESERVED_DIR_NAME),
            ):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)

    def result(self) -> UnpackResult:
        kinds = [kind for _, kind in self.created]
        return UnpackResult(
            dest=self.dest,
            files=len(self.files),
            dirs=kinds.count(MemberKind.DIR),
            symlinks=self.symlink_count,
            bytes_written=self.written,
            replaced=tuple(self.backups),
            backup_folder=self.backup_root if self.backups else None,
            run_id=self.run_id if self.recorder is not None else None,
        )


def _remove_empty_tree(root: str) -> None:
    for folder, _, _ in sorted(os.walk(root), key=lambda item: item[0].count(os.sep), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
