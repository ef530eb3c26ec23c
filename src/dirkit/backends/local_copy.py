"""Copying bytes between two open local files: in the kernel where it can, keeping sparse files sparse."""

from __future__ import annotations

import errno
import os

COPY_CHUNK = 1024 * 1024

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


def copy_descriptor(source_fd: int, target_fd: int, info: os.stat_result | None = None) -> int:
    """Copy the bytes of an open file (its stat given, or fstat) to another; return the count.

    The bytes move inside the kernel where possible (copy_file_range, else sendfile), holes are kept,
    and exactly the size the stat gave is copied, so a complete copy needs no final empty call.
    """
    if info is None:
        info = os.fstat(source_fd)
    size = info.st_size
    if size <= 0:
        return 0
    if info.st_blocks * 512 < size and hasattr(os, "SEEK_DATA"):
        if _copy_sparse(source_fd, target_fd, size):
            return size
        os.lseek(source_fd, 0, os.SEEK_SET)
    if hasattr(os, "copy_file_range"):
        copied = 0
        try:
            while copied < size:
                moved = os.copy_file_range(source_fd, target_fd, size - copied)
                if not moved:
                    break
                copied += moved
            return copied
        except OSError as error:
            if error.errno not in _KERNEL_COPY_FALLBACK_ERRORS:
                raise
            os.lseek(source_fd, 0, os.SEEK_SET)
            os.lseek(target_fd, 0, os.SEEK_SET)
            os.ftruncate(target_fd, 0)
    offset = 0
    try:
        while offset < size and (sent := os.sendfile(target_fd, source_fd, offset, size - offset)):
            offset += sent
        return offset
    except OSError as error:
        if error.errno not in _KERNEL_COPY_FALLBACK_ERRORS:
            raise
    os.lseek(source_fd, 0, os.SEEK_SET)
    os.lseek(target_fd, 0, os.SEEK_SET)
    os.ftruncate(target_fd, 0)
    copied = 0
    while copied < size and (block := os.read(source_fd, min(COPY_CHUNK, size - copied))):
        copied += len(block)
        view = memoryview(block)
        while view:
            view = view[os.write(target_fd, view) :]
    return copied
