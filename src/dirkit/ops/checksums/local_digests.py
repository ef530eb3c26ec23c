"""Hashing local files: small ones with three system calls each, large ones memory-mapped on every core.

The functions here run in this process or in the hashing child (hashing_child.py): they take OS
paths and plain values and return plain tuples, so batches of them cross the pipe cheaply.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Sequence
from typing import Protocol

import blake3

from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.tree.entry import Entry
from dirkit.state.digest_cache import FileIdentity, identity_of

READ_CHUNK = 1024 * 1024
PARALLEL_HASH_BYTES = 8 * 1024 * 1024
"""From this size BLAKE3 hashes one file on every core."""


class Hasher(Protocol):
    """What hashlib objects and blake3 objects both offer."""

    def update(self, data: bytes | memoryview | mmap.mmap, /) -> object:
        """Add bytes."""
        ...

    def hexdigest(self) -> str:
        """Return the digest in lower-case hex."""
        ...


def new_hasher(algorithm: DigestAlgorithm, size_hint: int = 0) -> Hasher:
    """Return a fresh hasher; BLAKE3 uses every core for inputs of PARALLEL_HASH_BYTES or more."""
    if algorithm is DigestAlgorithm.BLAKE3:
        threads = blake3.blake3.AUTO if size_hint >= PARALLEL_HASH_BYTES else 1
        return blake3.blake3(max_threads=threads)
    import hashlib  # only for the algorithms other than BLAKE3 (it loads OpenSSL)

    if algorithm is DigestAlgorithm.SHA256:
        return hashlib.sha256()
    if algorithm is DigestAlgorithm.SHA1:
        return hashlib.sha1(usedforsecurity=False)
    return hashlib.md5(usedforsecurity=False)


def digest_bytes(data: bytes, algorithm: DigestAlgorithm) -> str:
    """Return the hex digest of data."""
    hasher = new_hasher(algorithm, len(data))
    hasher.update(data)
    return hasher.hexdigest()


def digest_stream(stream: Callable[[int], bytes], algorithm: DigestAlgorithm, size_hint: int = 0) -> str:
    """Return the hex digest of everything a read(n) callable yields."""
    hasher = new_hasher(algorithm, size_hint)
    while chunk := stream(READ_CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest()


def _identity_of_stat(st: os.stat_result) -> FileIdentity:
    return FileIdentity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def digest_local_file(native: str, algorithm: DigestAlgorithm, expected: FileIdentity) -> tuple[str, bool]:
    """Return a local file's digest, and whether its identity was the expected one all along."""
    descriptor = os.open(native, _OPEN_FLAGS)
    try:
        before = os.fstat(descriptor)
        size = before.st_size
        if algorithm is DigestAlgorithm.BLAKE3 and size:
            digest = _digest_mapped(descriptor, new_hasher(algorithm, size))
        else:
            with os.fdopen(os.dup(descriptor), "rb", buffering=0) as stream:
                digest = digest_stream(stream.read, algorithm, size)
        after = os.fstat(descriptor)
    finally:
        os.close(descriptor)
    first, last = _identity_of_stat(before), _identity_of_stat(after)
    return digest, first == last == expected


def _digest_mapped(descriptor: int, hasher: Hasher) -> str:
    """Return the digest of an open file memory-mapped, a window at a time.

    Each window is dropped from the process once hashed (the page cache keeps it), so hashing a
    large file never holds more than MAP_WINDOW of it in the process's resident memory.
    """
    with mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as whole:
        length = len(mapped)
        for start in range(0, length, MAP_WINDOW):
            with whole[start : start + MAP_WINDOW] as window:
                hasher.update(window)
            if _DROP_PAGES is not None:
                mapped.madvise(_DROP_PAGES, start, min(MAP_WINDOW, length - start))
    return hasher.hexdigest()


MAP_WINDOW = 32 * 1024 * 1024
"""Bytes of a memory-mapped file hashed at once (a multiple of every page size)."""
_DROP_PAGES: int | None = getattr(mmap, "MADV_DONTNEED", None)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
LocalOutcome = tuple[str | None, bool, str | None]
"""A local file's digest, whether it was unchanged since the scan, and why it was unreadable."""


def digest_small_files(
    root: str, files: Sequence[tuple[str, int]], algorithm: DigestAlgorithm
) -> list[LocalOutcome]:
    """Return the outcome of hashing each (path, scanned size) below a local root, one after the other.

    Three system calls a file: no fstat. A file found at its scanned size counts as unchanged: had
    it been rewritten after the scan, its ctime would differ from the scanned one (the racy window
    keeps files changed within a clock tick of the scan out of the cache), so the digest recorded
    under the scanned identity could never be served for other bytes.
    """
    outcomes: list[LocalOutcome] = []
    append = outcomes.append
    prefix = root if root.endswith(os.sep) else root + os.sep
    read, open_file, close, flags = os.read, os.open, os.close, _OPEN_FLAGS
    hash_bytes = blake3.blake3 if algorithm is DigestAlgorithm.BLAKE3 else None
    for path, size in files:
        try:
            descriptor = open_file(prefix + path, flags)
            try:
                data = read(descriptor, size + 1)
                if len(data) > size:
                    hasher = new_hasher(algorithm)
                    hasher.update(data)
                    while chunk := read(descriptor, READ_CHUNK):
                        hasher.update(chunk)
                    append((hasher.hexdigest(), False, None))
                    continue
            finally:
                close(descriptor)
        except OSError as error:
            append((None, False, error.strerror or str(error)))
            continue
        digest = hash_bytes(data).hexdigest() if hash_bytes is not None else digest_bytes(data, algorithm)
        append((digest, len(data) == size, None))
    return outcomes


def digest_large_file(root: str, entry: Entry, algorithm: DigestAlgorithm) -> LocalOutcome:
    """Return the outcome of hashing one large local file below root (fstat-ed before and after)."""
    try:
        digest, unchanged = digest_local_file(os.path.join(root, entry.path), algorithm, identity_of(entry))
    except OSError as error:
        return None, False, error.strerror or str(error)
    return digest, unchanged, None
