"""Copy byte ranges between local files in the kernel, and hash what was written from the page cache.

split and join record (or check) the BLAKE3 of the whole and of each part. Reading each chunk into
Python and writing it out again costs two copies through user memory; `copy_file_range` copies in
the kernel instead, and a thread beside it hashes the bytes just written, memory-mapped from the
page cache a window at a time, while the next range is copied. The digests describe the written
bytes themselves (the parts that split wrote, the output that join wrote), never a second read of
the source. Where the kernel cannot copy between the two files (another file system, an old kernel)
`copy_range` raises `KernelCopyUnsupportedError` before writing anything, and the caller copies by reading.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

import blake3

from dirkit.core.files.parts import Hasher

COPY_BYTES = 64 * 1024 * 1024
"""Bytes asked of one copy_file_range call."""
HASH_WINDOW = 8 * 1024 * 1024
"""Bytes of a written file mapped and hashed at once by each of the two threads (a multiple of every
page size; mapped pages count in the process's resident memory until unmapped)."""
_UNSUPPORTED = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})
_NEW_FILE_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


class KernelCopyUnsupportedError(Exception):
    """The kernel cannot copy between these two files; nothing was written."""


def kernel_copy_available() -> bool:
    """Tell whether this platform offers copy_file_range."""
    return hasattr(os, "copy_file_range")


def open_new_readable_file(path: str, mode: int) -> int:
    """Create path exclusively (never through a symlink), open for writing and for hashing it back."""
    return os.open(path, _NEW_FILE_FLAGS, mode)


def copy_range(source: int, target: int, offset: int, length: int | None, target_offset: int) -> int:
    """Copy up to length bytes (to the end for None) of source from offset to target at target_offset.

    Return the bytes copied (fewer when the source ends first). Raise KernelCopyUnsupportedError if
    the kernel refuses the very first call, before anything was written.
    """
    copied = 0
    while length is None or copied < length:
        wanted = COPY_BYTES if length is None else min(COPY_BYTES, length - copied)
        try:
            done = os.copy_file_range(source, target, wanted, offset + copied, target_offset + copied)
        except OSError as error:
            if copied == 0 and error.errno in _UNSUPPORTED:
                raise KernelCopyUnsupportedError(error.strerror or str(error)) from error
            raise
        if done == 0:
            break
        copied += done
    return copied


def hash_written(descriptor: int, offset: int, length: int, hashers: tuple[Hasher, ...]) -> None:
    """Feed hashers the bytes [offset, offset + length) of an open file, mapped a window at a time."""
    end = offset + length
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    while start < end:
        size = min(HASH_WINDOW, end - start)
        with (
            mmap.mmap(descriptor, size, access=mmap.ACCESS_READ, offset=start) as mapped,
            memoryview(mapped) as whole,
        ):
            skip = max(0, offset - start)
            with whole[skip:] as window:
                for hasher in hashers:
                    hasher.update(window)
        start += size


def new_part_hasher() -> Hasher:
    """Return a fresh BLAKE3 hasher (the digest of parts' algorithm, as core.files.parts.new_hasher)."""
    return blake3.blake3()


class _SharedDescriptor:
    """A descriptor that two hashing threads read; the last one done closes it."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self._users = 2
        self._lock = threading.Lock()

    def release(self) -> None:
        """Note one user done; close the descriptor after the last."""
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            os.close(self.descriptor)


class RangeHashing:
    """Hashes written ranges beside the copy: the whole's digest in one thread (in the order given),
    each range's own digest in another, so the two digests use two cores without BLAKE3's thread pool
    (whose idle threads spin)."""

    def __init__(self, whole: Hasher) -> None:
        self._whole = whole
        self._whole_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dirkit-hash")
        self._part_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dirkit-hash")
        self._fed: list[Future[None]] = []

    def __enter__(self) -> RangeHashing:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def submit(self, descriptor: int, offset: int, length: int) -> Future[str]:
        """Hash [offset, offset + length) of descriptor (closed when hashed); return the range's digest."""
        shared = _SharedDescriptor(descriptor)
        self._fed.append(self._whole_thread.submit(self._feed_whole, shared, offset, length))
        return self._part_thread.submit(self._digest_part, shared, offset, length)

    def _feed_whole(self, shared: _SharedDescriptor, offset: int, length: int) -> None:
        try:
            if length:
                hash_written(shared.descriptor, offset, length, (self._whole,))
        finally:
            shared.release()

    def _digest_part(self, shared: _SharedDescriptor, offset: int, length: int) -> str:
        try:
            part = new_part_hasher()
            if length:
                hash_written(shared.descriptor, offset, length, (part,))
            return part.hexdigest()
        finally:
            shared.release()

    def whole_digest(self) -> str:
        """Return the whole's digest once every range submitted is fed to it (raising what feeding raised)."""
        for fed in self._fed:
            fed.result()
        return self._whole.hexdigest()

    def close(self) -> None:
        """Wait for the ranges submitted (their descriptors are closed) and stop the threads."""
        self._whole_thread.shutdown(wait=True)
        self._part_thread.shutdown(wait=True)
