"""Find groups of identical files: by size, then a digest of the start, then the full digest."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import blake3

from dirkit.backends.chunks import iter_chunks, iter_local_chunks, iter_local_starts
from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend, workers_for
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.search.dupes import DupeFile, DupeGroup
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, sort_key
from dirkit.errors import BackendError
from dirkit.ops.checksums.digests import RACY_WINDOW_NS, DigestOptions
from dirkit.ops.checksums.digests import digest as digest_through_backend
from dirkit.ops.checksums.hashing_child import HashingChild
from dirkit.ops.compare.digest_compare import digest_side
from dirkit.ops.tree.scan import ScanOptions, iter_tree

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

PARTIAL_SIZE = 64 * 1024
"""Bytes digested first; files no larger than this are digested whole at once."""
READ_SIZE = 1024 * 1024
DIGEST_BATCH = 256
"""Files digested as one batch (here or by the child)."""
CHILD_FILES = 1024
"""From this many files queued, a forked child digests batches beside this process."""


@dataclass(frozen=True, slots=True)
class DupesOptions:
    """What counts: the smallest size, whether empty files count, and how many files to read at once."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    min_size: int = 0
    include_empty: bool = False
    jobs: int = 8
    use_cache: bool = True
    """Take full digests from (and add them to) the shared digest cache, as manifest does."""
    racy_window_ns: int = RACY_WINDOW_NS
    """Files whose ctime is this recent are not added to the cache (see DigestOptions)."""


class ReadFailure(NamedTuple):
    """A path that could not be listed or read, and why."""

    root_index: int
    path: RelPath
    reason: str


class DupesResult(NamedTuple):
    """The groups of identical files found, and the paths that could not be read."""

    groups: list[DupeGroup]
    failures: list[ReadFailure]


def digest_file(backend: Backend, path: RelPath, limit: int | None = None) -> str:
    """Return the BLAKE3 hex digest of a file's bytes (only the first limit bytes when given).

    The one place dupes hashes through a backend; a whole file's digest comes from the server
    when it offers BLAKE3 (digest()).
    """
    if limit is None and DigestAlgorithm.BLAKE3.value in backend.capabilities.server_digests:
        return digest_through_backend(backend, path, DigestAlgorithm.BLAKE3)
    size = READ_SIZE if limit is None else min(READ_SIZE, limit)
    return _digest_chunks(iter_chunks(backend, path, size), limit)


def _digest_chunks(chunks: Iterable[bytes], limit: int | None) -> str:
    hasher = blake3.blake3()
    remaining = limit
    for chunk in chunks:
        piece = chunk
        if remaining is not None:
            piece = chunk[:remaining]
            remaining -= len(piece)
        hasher.update(piece)
        if remaining is not None and remaining <= 0:
            break
    return hasher.hexdigest()


Candidate = tuple[int, DupeFile]
"""A file's size and the file."""
DigestOutcome = tuple[str | None, str | None]
"""A file's digest, or the reason it could not be read."""


def digest_batch(source: Backend | str, paths: Sequence[RelPath], limit: int | None) -> list[DigestOutcome]:
    """Return the digest of each file's first limit bytes (all bytes for None), or why it failed.

    source is a backend, or the OS path of a local tree's root (what crosses into worker processes).
    """
    outcomes: list[DigestOutcome] = []
    root = source if isinstance(source, str) else None
    if limit is not None and root is not None:
        buffer = bytearray(limit)
        view = memoryview(buffer)
        for count, _, error in iter_local_starts(root, paths, buffer):
            if error is not None:
                outcomes.append((None, error))
            else:
                outcomes.append((blake3.blake3(view[:count]).hexdigest(), None))
        return outcomes
    for path in paths:
        try:
            if isinstance(source, str):
                size = READ_SIZE if limit is None else min(READ_SIZE, limit)
                chunks = iter_local_chunks(f"{source.rstrip('/')}/{path}", size)
                outcomes.append((_digest_chunks(chunks, limit), None))
            else:
                outcomes.append((digest_file(source, path, limit), None))
        except BackendError as error:
            outcomes.append((None, error.strerror or str(error)))
    return outcomes


class _DigestQueue:
    """Digests batches of files as they come: local ones here and in a forked child, remote ones in threads.

    Digesting local files is mostly CPU work (system calls and hashing) that holds the GIL, so a
    second process uses the second core: the child takes a batch whenever it has room and this
    process digests the others itself, between the steps of its walk. Remote trees wait on the
    network, so threads do.
    """

    def __init__(self, backends: Sequence[Backend], jobs: int) -> None:
        self.backends = backends
        found = [local_files(backend) for backend in backends]
        self.local_roots = [item.os_path(ROOT) if item is not None else None for item in found]
        local = all(root is not None for root in self.local_roots)
        workers = workers_for(backends, min(jobs, os.cpu_count() or 1) if local else jobs)
        self.pool: Executor | None = None
        self.child: HashingChild[tuple[list[Candidate], int | None]] | None = None
        if workers > 1 and local:
            self.child = HashingChild()
        elif workers > 1:
            from concurrent.futures import ThreadPoolExecutor  # threads only for remote trees

            self.pool = ThreadPoolExecutor(workers, thread_name_prefix="dirkit-dupes")
        self.pending: dict[tuple[int, int | None], list[Candidate]] = defaultdict(list)
        self.submitted: list[tuple[list[Candidate], Future[list[DigestOutcome]]]] = []
        self.done: list[tuple[Candidate, DigestOutcome]] = []
        self.queued = 0

    def add(self, candidate: Candidate, limit: int | None) -> None:
        """Queue one file for a digest of its first limit bytes."""
        key = (candidate[1].root_index, limit)
        batch = self.pending[key]
        batch.append(candidate)
        self.queued += 1
        if len(batch) >= DIGEST_BATCH:
            self._submit(key)

    def _submit(self, key: tuple[int, int | None]) -> None:
        batch = self.pending.pop(key)
        root = self.local_roots[key[0]]
        backend: Backend | str = root if root is not None else self.backends[key[0]]
        paths = [item.path for _, item in batch]
        child = self.child
        if child is not None:
            self._collect_ready(child)
            if self.queued >= CHILD_FILES and not child.running:
                child.start()
            if child.has_room() and child.send((batch, key[1]), digest_batch, (backend, paths, key[1])):
                return
        if self.pool is None:
            self.done.extend(zip(batch, digest_batch(backend, paths, key[1]), strict=True))
        else:
            self.submitted.append((batch, self.pool.submit(digest_batch, backend, paths, key[1])))

    def _collect_ready(self, child: HashingChild[tuple[list[Candidate], int | None]]) -> None:
        """Take the results the child has ready, without waiting."""
        while child.ready():
            answer = child.receive()
            if answer is not None:
                self.done.extend(zip(answer[0][0], answer[1], strict=True))

    def drain(self) -> list[tuple[Candidate, DigestOutcome]]:
        """Return every file queued so far with its outcome, and start afresh."""
        for key in list(self.pending):
            self._submit(key)
        if self.child is not None:
            while (answer := self.child.receive()) is not None:
                self.done.extend(zip(answer[0][0], answer[1], strict=True))
            for batch, limit in self.child.take_back():
                root = self.local_roots[batch[0][1].root_index]
                assert root is not None
                paths = [item.path for _, item in batch]
                self.done.extend(zip(batch, digest_batch(root, paths, limit), strict=True))
        for batch, future in self.submitted:
            self.done.extend(zip(batch, future.result(), strict=True))
        done, self.done, self.submitted = self.done, [], []
        return done

    def close(self, failed: bool = False) -> None:
        """Stop the child or the threads."""
        if self.child is not None:
            self.child.close(kill=failed)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def find_duplicates(backends: Sequence[Backend], options: DupesOptions) -> DupesResult:
    """Return the groups of identical regular files across the trees (hard links count once).

    Files are digested while the walk goes on, as soon as a second file of their size turns up:
    first their first 64 KiB. Files that still look alike and are larger get a full digest from
    the shared digest engine, so an unchanged file is served from the digest cache.
    """
    failures: list[ReadFailure] = []
    by_size: dict[int, list[DupeFile]] = {}
    seen_inodes: set[tuple[int, int]] = set()
    smallest = max(options.min_size, 0 if options.include_empty else 1)
    entries: dict[tuple[int, RelPath], Entry] = {}
    queue = _DigestQueue(backends, options.jobs)
    try:
        for root_index, backend in enumerate(backends):
            for entry in iter_tree(backend, options.scan):
                if entry.error is not None:
                    failures.append(ReadFailure(root_index, entry.path, entry.error))
                    continue
                size = entry.size
                if entry.kind is not EntryKind.FILE or size < smallest:
                    continue
                if entry.ino:
                    inode = (entry.dev, entry.ino)
                    if inode in seen_inodes:
                        continue
                    seen_inodes.add(inode)
                item = DupeFile(root_index, entry.path, entry.mtime_ns, entry.dev, entry.ino)
                if size > PARTIAL_SIZE:  # only these can need a full digest (and their scanned identity)
                    entries[(root_index, entry.path)] = entry
                same = by_size.get(size)
                if same is None:
                    by_size[size] = [item]
                    continue
                same.append(item)
                if len(same) == 2:
                    queue.add((size, same[0]), PARTIAL_SIZE)
                queue.add((size, item), PARTIAL_SIZE)
        first_round = _regroup(_outcomes(queue.drain(), failures))
    except BaseException:
        queue.close(failed=True)
        raise
    queue.close()
    finals = [(digest, bucket) for digest, bucket in first_round if bucket[0][0] <= PARTIAL_SIZE]
    larger = [candidate for _, bucket in first_round if bucket[0][0] > PARTIAL_SIZE for candidate in bucket]
    finals += _regroup(_full_digests(backends, larger, entries, options, failures))
    groups = [
        DupeGroup(bucket[0][0], digest, tuple(sorted((item for _, item in bucket), key=_position)))
        for digest, bucket in finals
    ]
    groups.sort(key=lambda group: _position(group.files[0]))
    return DupesResult(groups, failures)


def _full_digests(
    backends: Sequence[Backend],
    candidates: list[Candidate],
    entries: dict[tuple[int, RelPath], Entry],
    options: DupesOptions,
    failures: list[ReadFailure],
) -> list[tuple[Candidate, str | None]]:
    """Return the full BLAKE3 digest of each candidate, through the digest engine and its cache."""
    by_root: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_root[candidate[1].root_index].append(candidate)
    digest_options = DigestOptions(
        use_cache=options.use_cache, jobs=options.jobs, racy_window_ns=options.racy_window_ns
    )
    digested: list[tuple[Candidate, str | None]] = []
    for root_index, chosen in by_root.items():
        results = digest_side(
            backends[root_index], [entries[(root_index, c[1].path)] for c in chosen], digest_options
        )
        for candidate in chosen:
            path = candidate[1].path
            digest = results.digests.get(path)
            if digest is None:
                reason = results.failures.get(path, "unreadable")
                failures.append(ReadFailure(root_index, path, reason))
            digested.append((candidate, digest))
    return digested


def _outcomes(
    done: list[tuple[Candidate, DigestOutcome]], failures: list[ReadFailure]
) -> list[tuple[Candidate, str | None]]:
    """Return the digests, noting the files that could not be read as failures."""
    digests: list[tuple[Candidate, str | None]] = []
    for candidate, (digest, reason) in done:
        if reason is not None:
            failures.append(ReadFailure(candidate[1].root_index, candidate[1].path, reason))
        digests.append((candidate, digest))
    return digests


def _position(item: DupeFile) -> tuple[int, str]:
    return item.root_index, sort_key(item.path)


def _regroup(digested: Iterable[tuple[Candidate, str | None]]) -> list[tuple[str, list[Candidate]]]:
    """Return the candidates grouped by (size, digest), keeping only groups of two or more."""
    buckets: dict[tuple[int, str], list[Candidate]] = defaultdict(list)
    for candidate, digest in digested:
        if digest is not None:
            buckets[(candidate[0], digest)].append(candidate)
    return [(key[1], bucket) for key, bucket in buckets.items() if len(bucket) > 1]
