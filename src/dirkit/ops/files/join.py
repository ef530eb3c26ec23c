"""Join parts back into one file: check each part and the whole against the manifest, then rename."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

from dirkit.backends.temp_files import remove_quietly, temp_path_beside
from dirkit.core.files.parts import (
    MANIFEST_SUFFIX,
    PartRecord,
    PartsManifest,
    natural_key,
    new_hasher,
    parse_manifest,
)
from dirkit.core.tree.entry import safe_mode
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.errors import (
    AlreadyExistsError,
    IntegrityError,
    NotADirError,
    NotFoundError,
    UsageError,
    translate_os_error,
)
from dirkit.ops.files.range_copy import (
    KernelCopyUnsupportedError,
    RangeHashing,
    copy_range,
    kernel_copy_available,
    new_part_hasher,
    open_new_readable_file,
)
from dirkit.ops.run.byte_copy import CopyBuffer, copy_stream

MANIFEST_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class JoinOptions:
    """Where to write the whole and whether an existing file may be replaced."""

    output: str | None = None
    """The file to write, or a folder to write the original's name in (default: the current folder)."""
    force: bool = False
    keep_modes: bool = False
    """Apply the manifest's mode as it is, setuid, setgid and other-write included."""


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What join wrote and how it was checked."""

    output: str
    size: int
    parts: int
    digest: str | None
    """The whole's digest, checked against the manifest; None for plain parts without one."""


PartJoined = Callable[[str, int], None]


def find_manifest(location: str) -> tuple[str, str | None]:
    """Return the parts folder and its manifest (None when the folder holds plain parts only)."""
    if os.path.isdir(location):
        manifests = sorted(
            name
            for name in os.listdir(location)
            if name.endswith(MANIFEST_SUFFIX) and TEMP_MARKER not in name
        )
        if len(manifests) > 1:
            raise UsageError(f"{location}: holds several parts manifests; name one of {', '.join(manifests)}")
        return location, os.path.join(location, manifests[0]) if manifests else None
    if not os.path.lexists(location):
        raise NotFoundError(2, "no such parts folder or manifest", location)
    return os.path.dirname(location) or ".", location


def read_manifest(path: str) -> PartsManifest:
    """Return the parts manifest stored at path."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MANIFEST_MAX_BYTES + 1)
    except OSError as error:
        raise translate_os_error(error, path) from error
    if len(raw) > MANIFEST_MAX_BYTES:
        raise UsageError(f"{path}: too large for a parts manifest")
    return parse_manifest(raw.decode("utf-8", "surrogateescape"), path)


def plain_parts(folder: str) -> list[str]:
    """Return the names of plain parts in a folder (every visible regular file) in name order."""
    names = []
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or TEMP_MARKER in entry.name:
            continue
        if entry.is_file(follow_symlinks=False):
            names.append(entry.name)
    return sorted(names, key=natural_key)


def join_parts(location: str, options: JoinOptions, on_part: PartJoined | None = None) -> JoinResult:
    """Join the parts in a folder (or named by a manifest) into one file, checked when a manifest exists."""
    folder, manifest_path = find_manifest(location)
    if manifest_path is None:
        if options.output is None or os.path.isdir(options.output):
            raise UsageError(f"{location}: no parts manifest here; name the output file with -o")
        names = plain_parts(folder)
        if not names:
            raise NotFoundError(2, "no parts found", folder)
        output = _output_path(options, names[0])
        _refuse_existing(output, options.force)
        records = [PartRecord(name, -1, "") for name in names]
        size, _ = _copy_parts(folder, records, output, None, on_part)
        return JoinResult(output, size, len(names), None)
    manifest = read_manifest(manifest_path)
    output = _output_path(options, manifest.name)
    _check_part_files(folder, manifest)
    _refuse_existing(output, options.force)
    if manifest.mode is not None and not options.keep_modes:
        manifest = replace(manifest, mode=safe_mode(manifest.mode))
    size, digest = _copy_parts(folder, list(manifest.parts), output, manifest, on_part)
    return JoinResult(output, size, len(manifest.parts), digest)


def _output_path(options: JoinOptions, name: str) -> str:
    if options.output is None:
        return name
    if os.path.isdir(options.output):
        return os.path.join(options.output, name)
    return options.output


def _refuse_existing(output: str, force: bool) -> None:
    if os.path.isdir(output):
        raise AlreadyExistsError(21, "is a directory", output)
    if not force and os.path.lexists(output):
        raise AlreadyExistsError(17, "already exists (use --force to replace it)", output)


def _check_part_files(folder: str, manifest: PartsManifest) -> None:
    """Raise IntegrityError naming the first part that is missing or of the wrong size."""
    count = len(manifest.parts)
    for number, part in enumerate(manifest.parts, 1):
        path = os.path.join(folder, part.name)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise IntegrityError(f"{path}: part {number} of {count} is missing") from None
        except OSError as error:
            raise translate_os_error(error, path) from error
        if not stat.S_ISREG(info.st_mode):
            raise IntegrityError(f"{path}: part {number} of {count} is not a regular file")
        if info.st_size < part.size:
            raise IntegrityError(
                f"{path}: part {number} of {count} is truncated ({info.st_size} of {part.size} bytes)"
            )
        if info.st_size > part.size:
            raise IntegrityError(
                f"{path}: part {number} of {count} is longer than recorded "
                f"({info.st_size} > {part.size} bytes)"
            )


def _copy_parts(
    folder: str,
    parts: list[PartRecord],
    output: str,
    manifest: PartsManifest | None,
    on_part: PartJoined | None,
) -> tuple[int, str | None]:
    temp = temp_path_beside(output)
    fd = -1
    try:
        fd = _create_temp(temp, output)
        try:
            copied = None
            if kernel_copy_available():
                try:
                    copied = _copy_in_kernel(folder, parts, fd, manifest, on_part)
                except KernelCopyUnsupportedError:
                    copied = None
            if copied is None:
                copied = _copy_by_reading(folder, parts, fd, manifest, on_part)
        finally:
            os.close(fd)
        total, digest = copied
        if manifest is not None:
            if digest != manifest.digest or total != manifest.size:
                raise IntegrityError(f"{output}: the joined whole does not match the manifest's digest")
            if manifest.mode is not None:
                os.chmod(temp, manifest.mode)
            if manifest.mtime_ns is not None:
                os.utime(temp, ns=(manifest.mtime_ns, manifest.mtime_ns))
        else:
            os.chmod(temp, 0o666 & ~_current_umask())
        os.replace(temp, output)
    except OSError as error:
        if fd >= 0:
            remove_quietly(temp)
        raise translate_os_error(error, output) from error
    except BaseException:
        remove_quietly(temp)  # an interrupt can land just after the open created it
        raise
    return total, digest


def _copy_in_kernel(
    folder: str,
    parts: list[PartRecord],
    fd: int,
    manifest: PartsManifest | None,
    on_part: PartJoined | None,
) -> tuple[int, str | None]:
    """Append the parts to fd with copy_file_range; return the bytes and the digest of what was written.

    With a manifest, each part's range of the output is hashed (from the page cache) while the next
    part is copied, and checked once its digest is known: the digests checked are those of the
    output's own bytes. Raise KernelCopyUnsupportedError, having written nothing, where the kernel
    cannot copy between the parts and the output.
    """
    total = 0
    waiting: list[tuple[str, int, PartRecord, int, Future[str] | None]] = []

    def settle(keep: int) -> None:
        while len(waiting) > keep:
            path, number, part, copied, digest = waiting.pop(0)
            if manifest is not None and digest is not None:
                _check_part(path, number, part, copied, digest.result(), manifest)
            if on_part is not None:
                on_part(part.name, copied)

    with RangeHashing(new_part_hasher()) as hashing:
        for number, part in enumerate(parts, 1):
            path = os.path.join(folder, part.name)
            try:
                with open(path, "rb", buffering=0) as stream:
                    copied = copy_range(stream.fileno(), fd, 0, None, total)
            except KernelCopyUnsupportedError as error:
                if number == 1:
                    raise
                raise translate_os_error(OSError(errno.EIO, str(error)), path) from error
            except OSError as error:
                raise translate_os_error(error, path) from error
            if manifest is not None and copied != part.size:
                raise IntegrityError(f"{path}: part {number} of {len(parts)} changed size while being joined")
            digest = hashing.submit(os.dup(fd), total, copied) if manifest is not None else None
            waiting.append((path, number, part, copied, digest))
            total += copied
            settle(1)
        settle(0)
        whole = hashing.whole_digest() if manifest is not None else None
    return total, whole


def _copy_by_reading(
    folder: str,
    parts: list[PartRecord],
    fd: int,
    manifest: PartsManifest | None,
    on_part: PartJoined | None,
) -> tuple[int, str | None]:
    """Append the parts to fd by reading them, hashing each chunk; return the bytes and the whole's digest."""
    whole = new_hasher()
    buffer = CopyBuffer()
    total = 0
    try:
        for number, part in enumerate(parts, 1):
            path = os.path.join(folder, part.name)
            part_hasher = new_hasher()
            try:
                with open(path, "rb", buffering=0) as stream:
                    hashers = [whole, part_hasher] if manifest is not None else []
                    copied = copy_stream(stream, fd, None, hashers, buffer, read_ahead=True)
            except OSError as error:
                raise translate_os_error(error, path) from error
            total += copied
            if manifest is not None:
                _check_part(path, number, part, copied, part_hasher.hexdigest(), manifest)
            if on_part is not None:
                on_part(part.name, copied)
    finally:
        buffer.close()
    return total, whole.hexdigest() if manifest is not None else None


def _create_temp(temp: str, output: str) -> int:
    """Create the temporary file beside output, or raise an error giving the true reason it cannot be."""
    try:
        return open_new_readable_file(temp, 0o600)
    except OSError as error:
        folder = os.path.dirname(os.path.abspath(output))
        if not os.path.lexists(folder):
            raise NotFoundError(errno.ENOENT, f"its folder {folder} does not exist", output) from error
        if not os.path.isdir(folder):
            raise NotADirError(errno.ENOTDIR, f"{folder} is not a folder", output) from error
        if error.errno == errno.ENOENT:
            reason = f"its folder {folder} does not accept new files (creating one failed: {error.strerror})"
        else:
            reason = f"cannot create a file in {folder}: {error.strerror or error}"
        raise translate_os_error(OSError(error.errno, reason), output) from error


def _check_part(
    path: str, number: int, part: PartRecord, copied: int, digest: str, manifest: PartsManifest
) -> None:
    count = len(manifest.parts)
    if copied != part.size:
        raise IntegrityError(f"{path}: part {number} of {count} changed size while being joined")
    if digest == part.digest:
        return
    for other_number, other in enumerate(manifest.parts, 1):
        if other.digest == digest and other_number != number:
            raise IntegrityError(
                f"{path}: part {number} of {count} holds the bytes of part {other_number} "
                f"({other.name}): parts reordered or renamed"
            )
    raise IntegrityError(f"{path}: part {number} of {count} is corrupt (its digest does not match)")


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
