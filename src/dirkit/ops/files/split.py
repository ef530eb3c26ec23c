"""Split one file (or standard input) into numbered parts plus a parts manifest, in constant memory."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import BinaryIO

from dirkit.backends.temp_files import remove_quietly, temp_path_beside
from dirkit.core.files.parts import (
    MIN_PART_DIGITS,
    Hasher,
    PartRecord,
    PartsManifest,
    is_plain_name,
    manifest_name,
    new_hasher,
    part_count_by_size,
    part_digits,
    part_name,
    part_sizes_by_count,
    render_manifest,
)
from dirkit.errors import AlreadyExistsError, IntegrityError, UsageError, translate_os_error
from dirkit.ops.files.range_copy import (
    KernelCopyUnsupportedError,
    RangeHashing,
    copy_range,
    kernel_copy_available,
    new_part_hasher,
    open_new_readable_file,
)
from dirkit.ops.run.byte_copy import CopyBuffer, copy_stream, open_new_file

STDIN_NAME = "-"
DEFAULT_STDIN_NAME = "stdin"


@dataclass(frozen=True, slots=True)
class SplitOptions:
    """How to split: by part size or by part count, where to, under which name."""

    part_size: int | None = None
    part_count: int | None = None
    output_dir: str | None = None
    """Where parts go (default: beside the file; the current folder for standard input)."""
    name: str | None = None
    """The original's name in part names and the manifest (default: the file's name, or 'stdin')."""
    force: bool = False


@dataclass(frozen=True, slots=True)
class SplitResult:
    """What split wrote."""

    manifest: PartsManifest
    manifest_path: str
    output_dir: str


PartWritten = Callable[[PartRecord], None]


def split_file(
    source: str,
    options: SplitOptions,
    stdin: BinaryIO | None = None,
    on_part: PartWritten | None = None,
) -> SplitResult:
    """Split source ('-' for stdin) into parts and a manifest; on failure remove the parts it wrote."""
    if (options.part_size is None) == (options.part_count is None):
        raise UsageError("give exactly one of --size and --parts")
    from_stdin = source == STDIN_NAME
    name = options.name or (DEFAULT_STDIN_NAME if from_stdin else os.path.basename(source.rstrip("/")))
    if not is_plain_name(name):
        raise UsageError(f"{name!r}: the original's name must be a plain file name")
    output_dir = options.output_dir or ("." if from_stdin else os.path.dirname(source) or ".")
    if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        raise UsageError(f"{output_dir}: output folder is not a folder")
    if from_stdin:
        if stdin is None:
            raise UsageError("'-' needs standard input")
        if options.part_count is not None:
            raise UsageError("--parts needs a file of known size; use --size with standard input")
        assert options.part_size is not None
        part_count_by_size(0, options.part_size)
        with _output_folder(output_dir):
            return _split_stream(stdin, None, None, name, None, options, output_dir, on_part)
    try:
        stream = open(source, "rb", buffering=0)  # noqa: SIM115
    except OSError as error:
        raise translate_os_error(error, source) from error
    with stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{source}: not a regular file")
        if options.part_count is not None:
            sizes = part_sizes_by_count(info.st_size, options.part_count)
        else:
            assert options.part_size is not None
            sizes = [options.part_size] * part_count_by_size(info.st_size, options.part_size)
            if sizes:
                sizes[-1] = info.st_size - options.part_size * (len(sizes) - 1)
        with _output_folder(output_dir):
            result = _split_stream(stream, sizes, info, name, source, options, output_dir, on_part)
        after = os.fstat(stream.fileno())
    if (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
        _remove_written(result)
        raise IntegrityError(f"{source}: file changed while it was being split; parts removed")
    return result


@contextlib.contextmanager
def _output_folder(path: str) -> Iterator[None]:
    """Make the output folder and its missing parents (like mkdir -p); remove those again on failure."""
    made: list[str] = []
    missing = os.path.abspath(path)
    while not os.path.isdir(missing):
        made.append(missing)
        missing = os.path.dirname(missing)
    for folder in reversed(made):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise UsageError(f"{folder}: exists and is not a folder") from None
        except OSError as error:
            raise translate_os_error(error, folder) from error
    try:
        yield
    except BaseException:
        for folder in made:
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        raise


def _split_stream(
    stream: BinaryIO,
    sizes: list[int] | None,
    info: os.stat_result | None,
    name: str,
    source: str | None,
    options: SplitOptions,
    output_dir: str,
    on_part: PartWritten | None,
) -> SplitResult:
    digits = part_digits(len(sizes)) if sizes is not None else MIN_PART_DIGITS
    manifest_path = os.path.join(output_dir, manifest_name(name))
    planned = [part_name(name, number, digits) for number in range(1, len(sizes or []) + 1)]
    for target in [manifest_path, *(os.path.join(output_dir, part) for part in planned)]:
        if not options.force and os.path.lexists(target):
            raise AlreadyExistsError(17, "already exists (use --force to replace)", target)
    written: list[str] = []
    """Every part path written so far (removed again if anything fails)."""
    try:
        done = None
        if sizes is not None and kernel_copy_available():
            try:
                done = _write_parts_in_kernel(stream, sizes, name, digits, output_dir, written, on_part)
            except KernelCopyUnsupportedError:
                done = None
        if done is None:
            done = _write_parts_by_reading(
                stream, sizes, name, digits, source, options, output_dir, written, on_part
            )
        records, whole_digest = done
        manifest = PartsManifest(
            name=name,
            size=sum(record.size for record in records),
            mode=stat.S_IMODE(info.st_mode) if info is not None else None,
            mtime_ns=info.st_mtime_ns if info is not None else None,
            digest=whole_digest,
            parts=tuple(records),
        )
        _write_text(manifest_path, render_manifest(manifest))
    except BaseException:
        for path in written:
            remove_quietly(path)
        raise
    return SplitResult(manifest, manifest_path, output_dir)


def _write_parts_in_kernel(
    stream: BinaryIO,
    sizes: list[int],
    name: str,
    digits: int,
    output_dir: str,
    written: list[str],
    on_part: PartWritten | None,
) -> tuple[list[PartRecord], str]:
    """Write the parts of a regular file with copy_file_range; return their records and the whole's digest.

    Each part is hashed as written (from the page cache) while the next one is copied; its record
    (and on_part) comes once its digest is known. Raise KernelCopyUnsupportedError, having written
    nothing, where the kernel cannot copy into the output folder.
    """
    source = stream.fileno()
    whole = new_part_hasher()
    records: list[PartRecord] = []
    waiting: list[tuple[str, int, Future[str]]] = []

    def settle(keep: int) -> None:
        while len(waiting) > keep:
            part, size, digest = waiting.pop(0)
            record = PartRecord(part, size, digest.result())
            records.append(record)
            if on_part is not None:
                on_part(record)

    offset = 0
    with RangeHashing(whole) as hashing:
        for number, size in enumerate(sizes, 1):
            part = part_name(name, number, digits)
            final = os.path.join(output_dir, part)
            try:
                copied, descriptor = _copy_part(source, final, offset, size, written)
            except KernelCopyUnsupportedError as error:
                if number == 1:
                    raise
                raise translate_os_error(OSError(errno.EIO, str(error)), final) from error
            if copied != size:
                os.close(descriptor)
                raise IntegrityError(f"{final}: file shrank while it was being split; parts removed")
            waiting.append((part, size, hashing.submit(descriptor, 0, size)))
            offset += size
            settle(1)
        settle(0)
        whole_digest = hashing.whole_digest()
    return records, whole_digest


def _copy_part(source: int, final: str, offset: int, size: int, written: list[str]) -> tuple[int, int]:
    """Copy [offset, offset + size) of source into a new part (temp, then renamed); return count and fd.

    The descriptor stays open, for reading the part back, and is the caller's to close.
    """
    temp = temp_path_beside(final)
    fd = -1
    try:
        fd = open_new_readable_file(temp, 0o644)
        copied = copy_range(source, fd, offset, size, 0)
        written.append(final)
        os.replace(temp, final)
    except BaseException as error:
        if fd >= 0:
            os.close(fd)
        remove_quietly(temp)  # an interrupt can land just after the open created it
        if isinstance(error, OSError):
            raise translate_os_error(error, final) from error
        raise
    return copied, fd


def _write_parts_by_reading(
    stream: BinaryIO,
    sizes: list[int] | None,
    name: str,
    digits: int,
    source: str | None,
    options: SplitOptions,
    output_dir: str,
    written: list[str],
    on_part: PartWritten | None,
) -> tuple[list[PartRecord], str]:
    """Write the parts by reading the stream (standard input, or where the kernel cannot copy)."""
    whole = new_hasher()
    buffer = CopyBuffer()
    records: list[PartRecord] = []
    try:
        number = 0
        while sizes is None or number < len(sizes):
            number += 1
            limit = sizes[number - 1] if sizes is not None else options.part_size
            part = part_name(name, number, digits)
            final = os.path.join(output_dir, part)
            if sizes is None and not options.force and os.path.lexists(final):
                raise AlreadyExistsError(17, "already exists (use --force to replace)", final)
            written.append(final)
            record = _write_part(stream, final, part, limit, whole, buffer, from_file=sizes is not None)
            if record is None:
                written.pop()
                break
            if sizes is not None and record.size != limit:
                raise IntegrityError(f"{source}: file shrank while it was being split; parts removed")
            records.append(record)
            if on_part is not None:
                on_part(record)
            if sizes is None and record.size < (limit or 0):
                break
    finally:
        buffer.close()
    return records, whole.hexdigest()


def _write_part(
    stream: BinaryIO,
    final: str,
    part: str,
    limit: int | None,
    whole: Hasher,
    buffer: CopyBuffer,
    from_file: bool,
) -> PartRecord | None:
    temp = temp_path_beside(final)
    part_hasher = new_hasher()
    fd = -1
    try:
        fd = open_new_file(temp, 0o644)
        try:
            copied = copy_stream(stream, fd, limit, [whole, part_hasher], buffer, read_ahead=from_file)
        finally:
            os.close(fd)
        if copied == 0 and not from_file:
            remove_quietly(temp)
            return None
        os.replace(temp, final)
    except OSError as error:
        if fd >= 0:
            remove_quietly(temp)
        raise translate_os_error(error, final) from error
    except BaseException:
        remove_quietly(temp)  # an interrupt can land just after the open created it
        raise
    return PartRecord(part, copied, part_hasher.hexdigest())


def _write_text(final: str, text: str) -> None:
    temp = temp_path_beside(final)
    fd = -1
    try:
        fd = open_new_file(temp, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(temp, final)
    except OSError as error:
        if fd >= 0:
            remove_quietly(temp)
        raise translate_os_error(error, final) from error
    except BaseException:
        remove_quietly(temp)
        raise


def _remove_written(result: SplitResult) -> None:
    for part in result.manifest.parts:
        remove_quietly(os.path.join(result.output_dir, part.name))
    remove_quietly(result.manifest_path)
