"""Find groups of identical files: by size, then a digest of the start, then the full digest."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import blake3

from dirkit.backends.chunks import iter_chunks, iter_local_starts
from dirkit.backends.protocol import Backend
from dirkit.core.dupes import DupeFile, DupeGroup
from dirkit.core.entry import EntryKind
from dirkit.core.paths import ROOT, RelPath, sort_key
from dirkit.errors import BackendError
from dirkit.ops.scan import ScanOptions, iter_tree

PARTIAL_SIZE = 64 * 1024
"""Bytes digested first; files no larger than this are digested whole at once."""
READ_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DupesOptions:
    """What counts: the smallest size, whether empty files count, and how many files to read at once."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    min_size: int = 0
    include_empty: bool = False
    jobs: int = 8


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

    The one place dupes hashes; it will be pointed at the shared digest engine.
    """
    hasher = blake3.blake3()
    remaining = limit
    for chunk in iter_chunks(backend, path, READ_SIZE if limit is None else min(READ_SIZE, limit)):
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


def find_duplicates(backends: Sequence[Backend], options: DupesOptions) -> DupesResult:
    """Return the groups of identical regular files across the trees (hard links count once)."""
    failures: list[ReadFailure] = []
    by_size: dict[int, list[DupeFile]] = defaultdict(list)
    seen_inodes: set[tuple[int, int]] = set()
    smallest = max(options.min_size, 0 if options.include_empty else 1)
    for root_index, backend in enumerate(backends):
        for entry in iter_tree(backend, options.scan):
            if entry.error is not None:
                failures.append(ReadFailure(root_index, entry.path, entry.error))
                continue
            if entry.kind is not EntryKind.FILE or entry.size < smallest:
                continue
            if entry.ino:
                inode = (entry.dev, entry.ino)
                if inode in seen_inodes:
                    continue
                seen_inodes.add(inode)
            by_size[entry.size].append(DupeFile(root_index, entry.path, entry.mtime_ns, entry.dev, entry.ino))
    same_size = [(size, files) for size, files in by_size.items() if len(files) > 1]
    groups: list[DupeGroup] = []
    if not same_size:
        return DupesResult(groups, failures)
    small = [(size, item) for size, files in same_size if size <= PARTIAL_SIZE for item in files]
    large = [(size, item) for size, files in same_size if size > PARTIAL_SIZE for item in files]
    survivors = [
        pair for _, bucket in _regroup(_digests(backends, large, PARTIAL_SIZE, failures)) for pair in bucket
    ]
    finals = _regroup(_digests(backends, small, PARTIAL_SIZE, failures))
    finals += _regroup(_digests(backends, survivors, None, failures))
    for digest, bucket in finals:
        files = tuple(sorted((item for _, item in bucket), key=_position))
        groups.append(DupeGroup(bucket[0][0], digest, files))
    groups.sort(key=lambda group: _position(group.files[0]))
    return DupesResult(groups, failures)


def _digests(
    backends: Sequence[Backend], candidates: list[Candidate], limit: int | None, failures: list[ReadFailure]
) -> list[tuple[Candidate, str | None]]:
    """Return each candidate with the digest of its first limit bytes (all bytes for None)."""
    ordered = sorted(candidates, key=lambda candidate: _position(candidate[1]))
    digested: list[tuple[Candidate, str | None]] = []
    for root_index, group in itertools.groupby(ordered, key=lambda candidate: candidate[1].root_index):
        backend = backends[root_index]
        members = list(group)
        root = backend.native_path(ROOT)
        if limit is not None and root is not None:
            buffer = bytearray(limit)
            starts = iter_local_starts(root, [item.path for _, item in members], buffer)
            for candidate, (count, _, error) in zip(members, starts, strict=True):
                if error is not None:
                    failures.append(ReadFailure(root_index, candidate[1].path, error))
                    digested.append((candidate, None))
                else:
                    digested.append((candidate, blake3.blake3(memoryview(buffer)[:count]).hexdigest()))
            continue
        for candidate in members:
            try:
                digested.append((candidate, digest_file(backend, candidate[1].path, limit)))
            except BackendError as error:
                failures.append(ReadFailure(root_index, candidate[1].path, error.strerror or str(error)))
                digested.append((candidate, None))
    return digested


def _position(item: DupeFile) -> tuple[int, str]:
    return item.root_index, sort_key(item.path)


def _regroup(digested: Iterable[tuple[Candidate, str | None]]) -> list[tuple[str, list[Candidate]]]:
    """Return the candidates grouped by (size, digest), keeping only groups of two or more."""
    buckets: dict[tuple[int, str], list[Candidate]] = defaultdict(list)
    for candidate, digest in digested:
        if digest is not None:
            buckets[(candidate[0], digest)].append(candidate)
    return [(key[1], bucket) for key, bucket in buckets.items() if len(bucket) > 1]
