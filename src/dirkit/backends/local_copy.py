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


def copy_descriptor(source_fd: int, target_fd: int) -> None:
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
