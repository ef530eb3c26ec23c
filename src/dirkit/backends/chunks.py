"""Reading a file's bytes in bounded chunks, with a fast path for files on the local disk."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError, translate_os_error

_READ_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
)
"""No symlinks followed, and never blocked by a fifo that replaced a file since the walk saw it."""
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_local_start(native: str, limit: int) -> tuple[bytes, bool]:
    """Return up to limit bytes from the start of a local file, and whether that was all of it."""
    try:
        descriptor = os.open(native, _READ_FLAGS)
    except OSError as error:
        raise translate_os_error(error, native) from error
    try:
        data = os.read(descriptor, limit)
        if len(data) < limit:
            return data, True
        more = os.read(descriptor, 1)
        return data, not more
    except OSError as error:
        raise translate_os_error(error, native) from error
    finally:
        os.close(descriptor)


def iter_chunks(backend: Backend, path: RelPath, chunk_size: int, offset: int = 0) -> Iterator[bytes]:
    """Yield a file's bytes from offset in chunks of at most chunk_size (the last may be shorter)."""
    local = local_files(backend)
    if local is None:
        yield from _iter_stream_chunks(backend, path, chunk_size, offset)
        return
    yield from iter_local_chunks(local.os_path(path), chunk_size, offset)


def iter_local_chunks(native: str, chunk_size: int, offset: int = 0) -> Iterator[bytes]:
    """Yield a local file's bytes from offset in chunks of at most chunk_size, given its OS path."""
    try:
        descriptor = os.open(native, _READ_FLAGS)
    except OSError as error:
        raise translate_os_error(error, native) from error
    try:
        if offset:
            os.lseek(descriptor, offset, os.SEEK_SET)
        while True:
            try:
                chunk = os.read(descriptor, chunk_size)
            except OSError as error:
                raise translate_os_error(error, native) from error
            if not chunk:
                return
            yield chunk
    finally:
        os.close(descriptor)


def _iter_stream_chunks(backend: Backend, path: RelPath, chunk_size: int, offset: int) -> Iterator[bytes]:
    with backend.open_read(path) as stream:
        try:
            if offset:
                stream.seek(offset)
            while True:
                chunk = stream.read(chunk_size)
                if not chunk:
                    return
                yield chunk
        except OSError as error:
            if isinstance(error, BackendError):
                raise
            raise translate_os_error(error, path) from error


def read_start(backend: Backend, path: RelPath, limit: int) -> tuple[bytes, bool]:
    """Return up to limit bytes from the start of a file, and whether that was all of it."""
    local = local_files(backend)
    native = local.os_path(path) if local is not None else None
    if native is not None:
        return read_local_start(native, limit)
    with backend.open_read(path) as stream:
        try:
            data = stream.read(limit)
            return data, len(data) < limit or not stream.read(1)
        except OSError as error:
            if isinstance(error, BackendError):
                raise
            raise translate_os_error(error, path) from error


def read_start_into(backend: Backend, path: RelPath, buffer: bytearray) -> tuple[int, bool]:
    """Read the start of a file into buffer; return the byte count and whether that was all of it."""
    limit = len(buffer)
    local = local_files(backend)
    native = local.os_path(path) if local is not None else None
    if native is None:
        data, complete = read_start(backend, path, limit)
        buffer[: len(data)] = data
        return len(data), complete
    try:
        descriptor = os.open(native, _READ_FLAGS)
    except OSError as error:
        raise translate_os_error(error, native) from error
    try:
        count = os.readv(descriptor, (buffer,))
        if count < limit:
            return count, True
        return count, not os.read(descriptor, 1)
    except OSError as error:
        raise translate_os_error(error, native) from error
    finally:
        os.close(descriptor)


def iter_local_starts(
    root: str, paths: Iterable[RelPath], buffer: bytearray
) -> Iterator[tuple[int, bool, str | None]]:
    """Read the start of each local file into buffer; yield (byte count, all of it, error reason).

    The buffer is reused for the next path, so use it before asking for the next item. Files of
    one directory are opened relative to that directory, which saves the OS a path lookup.
    """
    limit = len(buffer)
    current: str | None = None
    dir_fd = -1
    dir_error: str | None = None
    try:
        for path in paths:
            cut = path.rfind("/")
            parent = path[:cut] if cut >= 0 else ""
            if parent != current:
                if dir_fd >= 0:
                    os.close(dir_fd)
                    dir_fd = -1
                current = parent
                try:
                    dir_fd = os.open(os.path.join(root, parent) if parent else root, _DIR_FLAGS)
                    dir_error = None
                except OSError as error:
                    dir_error = error.strerror or str(error)
            if dir_error is not None:
                yield 0, False, dir_error
                continue
            try:
                descriptor = os.open(path[cut + 1 :], _READ_FLAGS, dir_fd=dir_fd)
                try:
                    count = os.readv(descriptor, (buffer,))
                    complete = count < limit or not os.read(descriptor, 1)
                finally:
                    os.close(descriptor)
            except OSError as error:
                yield 0, False, error.strerror or str(error)
                continue
            yield count, complete, None
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
