"""The digest engine: BLAKE3 or SHA-256 of many files at once, through backends, with the cache.

Local files (backends that offer local_files()) are read directly (local_digests.py): small ones
with three system calls each, in this process and a forked hashing child when there are many
(hashing_child.py); large ones memory-mapped, hashed by BLAKE3 on every core, and fstat-ed before
and after. A digest is cached under the identity the scan saw (device, inode, size, mtime, ctime)
only if the file was not changed within the racy window before hashing, so a file rewritten after
the scan can never be served the old digest. Other backends are read through `open_read`, and what
is read is never cached: remote trees give no inode or ctime, and a digest keyed on size and mtime
alone could be served stale. The one exception is opt-in (trust_written, used by rename detection):
digests the executor recorded while it uploaded a file itself (ops/run/written.py), served while
the file's size and mtime are unchanged.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol, cast

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend, workers_for
from dirkit.backends.trees import REMOTE_SCHEMES
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import BackendError, UsageError
from dirkit.ops.checksums.hashing_child import HashingChild
from dirkit.ops.checksums.local_digests import (
    PARALLEL_HASH_BYTES,
    Hasher,
    LocalOutcome,
    digest_bytes,
    digest_large_file,
    digest_local_file,
    digest_small_files,
    digest_stream,
    new_hasher,
)
from dirkit.state.digest_cache import DigestCache, identity_of

__all__ = [
    "RACY_WINDOW_NS",
    "DigestEngine",
    "DigestOptions",
    "DigestResults",
    "Hasher",
    "digest",
    "digest_bytes",
    "digest_local_file",
    "digest_stream",
    "new_hasher",
    "open_digest_engine",
    "tree_cache_key",
    "written_cache_key",
]
"""Hasher, new_hasher, digest_bytes, digest_stream and digest_local_file live in local_digests.py."""

BATCH_FILES = 256
"""Small local files hashed as one batch (by this process or the hashing child)."""
PROCESS_POOL_FILES = 1024
"""From this many small local files, a child process hashes batches beside this one (the GIL makes
threads slower than one thread for small files: every file is several system calls)."""
RACY_WINDOW_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """How to compute digests: the algorithm, whether to use the cache, how many files at once."""

    algorithm: DigestAlgorithm = DigestAlgorithm.BLAKE3
    use_cache: bool = True
    jobs: int = 8
    """Files read at once from remote trees; local small files use one process per core."""
    racy_window_ns: int = RACY_WINDOW_NS
    """Files whose ctime is this recent are not cached (a write in the same clock tick as the read
    would leave size, mtime and ctime unchanged: git's 'racily clean' problem). ctime alone is
    judged: the kernel sets it, while mtimes may lie in the future."""
    trust_written: bool = False
    """On a remote tree, serve the digests dirkit recorded when it wrote the files (size and mtime
    unchanged); without it remote files are always read."""


@dataclass(slots=True)
class DigestResults:
    """The digests of a set of files, the reasons some could not be read, and what it cost."""

    digests: dict[RelPath, str] = field(default_factory=dict)
    failures: dict[RelPath, str] = field(default_factory=dict)
    hashed_files: int = 0
    hashed_bytes: int = 0
    cached_files: int = 0


FEW_LOOKUPS = 5000
"""Below this many files, the cache is asked path by path instead of loading the tree's rows."""


_Outcome = tuple[Entry, LocalOutcome]
"""A file and the outcome of hashing it (unchanged is False for remote files: never cached)."""


class DigestEngine:
    """Computes file digests of one tree, serving and filling the digest cache where it can."""

    def __init__(self, backend: Backend, options: DigestOptions, cache: DigestCache | None = None) -> None:
        if options.jobs < 1:
            raise UsageError("--jobs must be at least 1")
        self.backend = backend
        self.options = options
        self.cache = cache
        local = local_files(backend)
        self._local_root = local.os_path(ROOT) if local is not None else None

    def digest_entries(self, entries: Iterable[Entry]) -> DigestResults:
        """Return the digests of file entries, from the cache where their identity is unchanged.

        entries may be a lazy scan: local files are handed to worker processes while it goes on.
        """
        results = DigestResults()
        cache_before_ns = time.time_ns() - self.options.racy_window_ns
        digests, failures, cache = results.digests, results.failures, self.cache
        hashed_files = hashed_bytes = 0
        try:
            for entry, (digest, unchanged, error) in self._compute(self._uncached(entries, results)):
                if digest is None:
                    failures[entry.path] = error or "unreadable"
                    continue
                digests[entry.path] = digest
                hashed_files += 1
                hashed_bytes += entry.size
                if cache is not None and unchanged and entry.ctime_ns < cache_before_ns:
                    cache.remember(entry.path, identity_of(entry), digest)
        finally:
            results.hashed_files += hashed_files
            results.hashed_bytes += hashed_bytes
            if self.cache is not None:
                self.cache.flush()
        return results

    def _uncached(self, entries: Iterable[Entry], results: DigestResults) -> Iterator[Entry]:
        """Yield the entries the cache cannot answer, recording its answers in results."""
        if self.cache is None:
            yield from entries
            return
        few = isinstance(entries, Sized) and len(entries) < FEW_LOOKUPS
        if not few and self._local_root is not None:
            yield from self._uncached_in_bulk(entries, results)
            return
        lookup = self.cache.lookup_one if few else self.cache.lookup_entry
        digests = results.digests
        timeless = self._local_root is None
        for entry in entries:
            cached = None if timeless and entry.mtime_ns is None else lookup(entry)
            if cached is None:
                yield entry
            else:
                digests[entry.path] = cached
                results.cached_files += 1

    def _uncached_in_bulk(self, entries: Iterable[Entry], results: DigestResults) -> Iterator[Entry]:
        """Yield the local entries the cache cannot answer, comparing identities against its whole table."""
        assert self.cache is not None
        known = self.cache.rows_by_path()
        digests = results.digests
        served = 0
        try:
            for entry in entries:
                row = known.get(entry[0])
                # Entry fields by index (path 0, size 2, mtime_ns 3, dev 8, ino 9, ctime_ns 10): no calls
                if (
                    row is not None
                    and row[1] == entry[9]
                    and row[4] == entry[10]
                    and row[3] == (entry[3] or 0)
                    and row[2] == entry[2]
                    and row[0] == entry[8]
                ):
                    digests[entry[0]] = row[5]
                    served += 1
                else:
                    yield entry
        finally:
            results.cached_files += served

    def _compute(self, entries: Iterator[Entry]) -> Iterator[_Outcome]:
        if self._local_root is None:
            yield from self._compute_remote(list(entries))
            return
        root = self._local_root
        algorithm = self.options.algorithm
        large: list[Entry] = []
        with HashingChild[list[Entry]]() as child:
            small: list[Entry] = []
            pooled = self.options.jobs > 1 and workers_for(self.backend, self.options.jobs) > 1
            for entry in entries:
                if entry.size >= PARALLEL_HASH_BYTES:
                    large.append(entry)
                    continue
                small.append(entry)
                if len(small) < BATCH_FILES or (not child.running and len(small) < PROCESS_POOL_FILES):
                    continue
                if pooled and not child.running:
                    pooled = child.start()
                for start in range(0, len(small), BATCH_FILES):
                    yield from self._share_batch(child, root, small[start : start + BATCH_FILES])
                small = []
            if small:
                yield from self._share_batch(child, root, small)
            while (answer := child.receive()) is not None:
                yield from _outcomes_of(*answer)
            for batch in child.take_back():
                yield from _outcomes_of(batch, digest_small_files(root, _work_of(batch), algorithm))
        if algorithm is DigestAlgorithm.BLAKE3 or len(large) <= 1:
            for entry in large:
                yield from _outcomes_of([entry], [digest_large_file(root, entry, algorithm)])
            return
        from concurrent.futures import ThreadPoolExecutor  # threads only for many large non-BLAKE3 files

        with ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="dirkit-digest") as threads:
            done_large = threads.map(lambda entry: digest_large_file(root, entry, algorithm), large)
            for entry, outcome in zip(large, done_large, strict=True):
                yield from _outcomes_of([entry], [outcome])

    def _share_batch(
        self, child: HashingChild[list[Entry]], root: str, batch: list[Entry]
    ) -> Iterator[_Outcome]:
        """Hand a batch of small files to the child if it has room, else hash it here; yield what is done."""
        while child.ready():
            answer = child.receive()
            if answer is not None:
                yield from _outcomes_of(*answer)
        algorithm = self.options.algorithm
        if child.has_room() and child.send(batch, digest_small_files, (root, _work_of(batch), algorithm)):
            return
        yield from _outcomes_of(batch, digest_small_files(root, _work_of(batch), algorithm))

    def _compute_remote(self, entries: list[Entry]) -> Iterator[_Outcome]:
        workers = workers_for(self.backend, self.options.jobs)
        if len(entries) == 1 or workers == 1:
            yield from map(self._digest_stream_of, entries)
            return
        from concurrent.futures import ThreadPoolExecutor  # remote trees only

        with ThreadPoolExecutor(workers, thread_name_prefix="dirkit-digest") as pool:
            yield from pool.map(self._digest_stream_of, entries)

    def _digest_stream_of(self, entry: Entry) -> _Outcome:
        try:
            found = digest(self.backend, entry.path, self.options.algorithm, entry.size)
        except BackendError as error:
            return entry, (None, False, error.strerror or str(error))
        return entry, (found, False, None)


class OffersServerDigests(Protocol):
    """A backend that computes some digests itself (capabilities.server_digests names which)."""

    def server_digest(self, path: RelPath, algorithm: str) -> str:
        """Return the hex digest of path's bytes, computed where the file lies."""
        ...


def digest(backend: Backend, path: RelPath, algorithm: DigestAlgorithm, size_hint: int = 0) -> str:
    """Return the hex digest of a file: from the server when it offers the algorithm, else by reading."""
    if algorithm.value in backend.capabilities.server_digests:
        server = cast(OffersServerDigests, backend)
        return server.server_digest(path, algorithm.value).lower()
    with backend.open_read(path) as stream:
        return digest_stream(stream.read, algorithm, size_hint)


def _work_of(batch: Sequence[Entry]) -> list[tuple[str, int]]:
    """Return the (path, scanned size) pairs of a batch, what crosses into the child."""
    return [(entry.path, entry.size) for entry in batch]


def _outcomes_of(entries: Sequence[Entry], outcomes: Sequence[LocalOutcome]) -> Iterator[_Outcome]:
    return zip(entries, outcomes, strict=True)


def tree_cache_key(backend: Backend) -> str | None:
    """Return the key that names a tree in the cache (its real path), or None if it is not local."""
    local = local_files(backend)
    return local.real_root() if local is not None else None


def written_cache_key(backend: Backend) -> str:
    """Return the key under which the digests of files dirkit wrote to a remote tree are kept (its URL)."""
    return "url:" + (backend.description.rstrip("/") or backend.description)


def _cache_key(backend: Backend, options: DigestOptions) -> str | None:
    """Return the cache key an engine for backend uses, or None for no cache."""
    if not options.use_cache:
        return None
    key = tree_cache_key(backend)
    if key is None and options.trust_written and backend.description.startswith(REMOTE_SCHEMES):
        return written_cache_key(backend)
    return key


@contextmanager
def open_digest_engine(backend: Backend, options: DigestOptions) -> Iterator[DigestEngine]:
    """Yield a digest engine for backend, with the cache open when asked for and the tree is local.

    The cache only saves work: when the state database cannot be opened, digests are computed anyway.
    """
    key = _cache_key(backend, options)
    if key is None:
        yield DigestEngine(backend, options)
        return
    from dirkit.state.database import connect_state  # sqlite3 only when the cache is used

    try:
        connection = connect_state()
    except BackendError:
        yield DigestEngine(backend, options)
        return
    try:
        yield DigestEngine(backend, options, DigestCache(connection, key, options.algorithm))
    finally:
        with suppress(sqlite3.Error):
            connection.close()
