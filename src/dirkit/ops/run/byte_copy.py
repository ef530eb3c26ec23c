"""Copy bytes between open files in constant memory, feeding digests on the way."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from dirkit.core.files.parts import Hasher

CHUNK_BYTES = 1024 * 1024
HASH_THREADS = 2
"""BLAKE3 releases the GIL, so the whole's and the part's digests are computed while the chunk is written."""


class CopyBuffer:
    """Two reusable buffers for a copy loop (constant memory), and threads that read and hash beside it."""

    def __init__(self, size: int = CHUNK_BYTES) -> None:
        self.views = (memoryview(bytearray(size)), memoryview(bytearray(size)))
        self.hashing = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="dirkit-hash")
        self.reading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dirkit-read")

    def __enter__(self) -> CopyBuffer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reading and hashing threads."""
        self.reading.shutdown(wait=True)
        self.hashing.shutdown(wait=True)


def copy_stream(
    source: BinaryIO,
    sink_fd: int,
    limit: int | None,
    hashers: Sequence[Hasher],
    buffer: CopyBuffer,
    read_ahead: bool = False,
) -> int:
    """Copy up to limit bytes (all when None) from source to sink_fd, feeding hashers; return the count.

    Each chunk is hashed in the buffer's threads while it is written. With read_ahead (for regular
    files only: a read from a pipe may never end) the next chunk is read meanwhile, into the other buffer.
    """
    views = buffer.views
    size = len(views[0])
    current = 0
    copied = 0
    wanted = size if limit is None else min(size, limit)
    got = source.readinto(views[0][:wanted]) if wanted > 0 else 0  # type: ignore[attr-defined]
    while got:
        chunk = views[current][:got]
        copied += got
        wanted = size if limit is None else min(size, limit - copied)
        next_read = None
        if read_ahead and wanted > 0:
            next_read = buffer.reading.submit(source.readinto, views[1 - current][:wanted])  # type: ignore[attr-defined]
        hashed = [buffer.hashing.submit(hasher.update, chunk) for hasher in hashers]
        try:
            write_all(sink_fd, chunk)
        finally:
            for future in hashed:
                future.result()
            if next_read is not None:
                got = next_read.result()
        if next_read is None:
            got = source.readinto(views[1 - current][:wanted]) if wanted > 0 else 0  # type: ignore[attr-defined]
        current = 1 - current
    return copied


def write_all(fd: int, chunk: memoryview) -> None:
    """Write every byte of chunk to fd (os.write may write fewer)."""
    while chunk:
        written = os.write(fd, chunk)
        chunk = chunk[written:]


def open_new_file(path: str, mode: int = 0o600) -> int:
    """Create path exclusively (never through a symlink) and return its descriptor for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, mode)
