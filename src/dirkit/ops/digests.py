"""The digest engine: BLAKE3 or SHA-256 of many files at once, through backends, with the cache.

Local files (backends with a native path) are read through one descriptor that is fstat-ed before and
after hashing, so the cache records exactly the identity whose bytes were read; large ones are
memory-mapped and BLAKE3 hashes them on every core. Other backends are read through `open_read`.
The cache is used only for local trees: remote trees give no inode or ctime, and a digest keyed on
size and mtime alone could be served stale.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import blake3

from dirkit.backends.protocol import Backend
from dirkit.core.digest import DigestAlgorithm
from dirkit.core.entry import Entry
from dirkit.core.paths import RelPath
from dirkit.errors import BackendError, UsageError
from dirkit.state.database import connect_state
from dirkit.state.digest_cache import DigestCache, FileIdentity, identity_of

READ_CHUNK = 1024 * 1024
SMALL_FILE_BYTES = 256 * 1024
"""Files up to this size are read in one call."""
PARALLEL_HASH_BYTES = 8 * 1024 * 1024
"""From this size BLAKE3 hashes one file on every core."""
BATCH_FILES = 64
"""Small files handed to one worker at a time (fewer hand-offs between threads)."""


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


def digest_local_file(native: str, algorithm: DigestAlgorithm) -> tuple[str, FileIdentity | None]:
    """Return a local file's digest and its identity, or None if the file changed while being read."""
    descriptor = os.open(native, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        before = os.fstat(descriptor)
        size = before.st_size
        if size <= SMALL_FILE_BYTES:
            data = os.read(descriptor, size + 1)
            if len(data) == size + 1 or len(data) < size:
                return digest_bytes(data, algorithm), None
            digest = digest_bytes(data, algorithm)
        elif algorithm is DigestAlgorithm.BLAKE3:
            hasher = new_hasher(algorithm, size)
            with mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as mapped:
                hasher.update(mapped)
            digest = hasher.hexdigest()
        else:
            with os.fdopen(os.dup(descriptor), "rb", buffering=0) as stream:
                digest = digest_stream(stream.read, algorithm, size)
        after = os.fstat(descriptor)
    finally:
        os.close(descriptor)
    first, last = _identity_of_stat(before), _identity_of_stat(after)
    return digest, first if first == last else None


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """How to compute digests: the algorithm, whether to use the cache, how many files at once."""

    algorithm: DigestAlgorithm = DigestAlgorithm.BLAKE3
    use_cache: bool = True
    jobs: int = 8


@dataclass(slots=True)
class DigestResults:
    """The digests of a set of files, the reasons some could not be read, and what it cost."""

    digests: dict[RelPath, str] = field(default_factory=dict)
    failures: dict[RelPath, str] = field(default_factory=dict)
    hashed_files: int = 0
    hashed_bytes: int = 0
    cached_files: int = 0


class _Outcome(NamedTuple):
    path: RelPath
    digest: str | None
    identity: FileIdentity | None
    error: str | None
    size: int


class DigestEngine:
    """Computes file digests of one tree, serving and filling the digest cache where it can."""

    def __init__(self, backend: Backend, options: DigestOptions, cache: DigestCache | None = None) -> None:
        if options.jobs < 1:
            raise UsageError("--jobs must be at least 1")
        self.backend = backend
        self.options = options
        self.cache = cache
        self._local_root = backend.native_path(RelPath(""))

    def digest_entries(self, entries: Sequence[Entry]) -> DigestResults:
        """Return the digests of file entries, from the cache where their identity is unchanged."""
        results = DigestResults()
        todo: list[Entry] = []
        for entry in entries:
            cached = self.cache.lookup(entry.path, identity_of(entry)) if self.cache else None
            if cached is not None:
                results.digests[entry.path] = cached
                results.cached_files += 1
            else:
                todo.append(entry)
        try:
            for outcome in self._compute(todo):
                if outcome.digest is None:
                    results.failures[outcome.path] = outcome.error or "unreadable"
                    continue
                results.digests[outcome.path] = outcome.digest
                results.hashed_files += 1
                results.hashed_bytes += outcome.size
                if self.cache is not None and outcome.identity is not None:
                    self.cache.remember(outcome.path, outcome.identity, outcome.digest)
        finally:
            if self.cache is not None:
                self.cache.flush()
        return results

    def _compute(self, entries: list[Entry]) -> Iterator[_Outcome]:
        if not entries:
            return
        small = [entry for entry in entries if entry.size < PARALLEL_HASH_BYTES]
        large = [entry for entry in entries if entry.size >= PARALLEL_HASH_BYTES]
        batches = [small[start : start + BATCH_FILES] for start in range(0, len(small), BATCH_FILES)]
        large_workers = 1 if self.options.algorithm is DigestAlgorithm.BLAKE3 else self.options.jobs
        if len(batches) <= 1 and len(large) <= 1:
            for batch in batches:
                yield from self._digest_batch(batch)
            for entry in large:
                yield self._digest_one(entry)
            return
        with ThreadPoolExecutor(self.options.jobs, thread_name_prefix="dirkit-digest") as pool:
            for outcomes in pool.map(self._digest_batch, batches):
                yield from outcomes
        if large:
            with ThreadPoolExecutor(large_workers, thread_name_prefix="dirkit-digest-large") as pool:
                yield from pool.map(self._digest_one, large)

    def _digest_batch(self, batch: list[Entry]) -> list[_Outcome]:
        return [self._digest_one(entry) for entry in batch]

    def _digest_one(self, entry: Entry) -> _Outcome:
        algorithm = self.options.algorithm
        try:
            if self._local_root is not None:
                native = os.path.join(self._local_root, entry.path)
                try:
                    digest, identity = digest_local_file(native, algorithm)
                except OSError as error:
                    return _Outcome(entry.path, None, None, error.strerror or str(error), entry.size)
                return _Outcome(entry.path, digest, identity, None, entry.size)
            with self.backend.open_read(entry.path) as stream:
                digest = digest_stream(stream.read, algorithm, entry.size)
            return _Outcome(entry.path, digest, None, None, entry.size)
        except BackendError as error:
            return _Outcome(entry.path, None, None, error.strerror or str(error), entry.size)


def tree_cache_key(backend: Backend) -> str | None:
    """Return the key that names a tree in the cache (its real path), or None if it is not local."""
    root = backend.native_path(RelPath(""))
    return os.path.realpath(root) if root is not None else None


@contextmanager
def open_digest_engine(backend: Backend, options: DigestOptions) -> Iterator[DigestEngine]:
    """Yield a digest engine for backend, with the cache open when asked for and the tree is local."""
    key = tree_cache_key(backend) if options.use_cache else None
    if key is None:
        yield DigestEngine(backend, options)
        return
    connection = connect_state()
    try:
        yield DigestEngine(backend, options, DigestCache(connection, key, options.algorithm))
    finally:
        with suppress(sqlite3.Error):
            connection.close()
