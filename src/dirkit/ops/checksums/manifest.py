"""Build a checksum file of a tree: scan with filters, digest files as they are found (with the cache)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dirkit.backends.protocol import Backend
from dirkit.core.checksums.manifest import format_manifest
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.ops.checksums.digests import DigestOptions, DigestResults, open_digest_engine
from dirkit.ops.tree.scan import ScanOptions, iter_tree


@dataclass(frozen=True, slots=True)
class ManifestOptions:
    """What to list and how to digest it."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    digest: DigestOptions = field(default_factory=DigestOptions)
    leave_out: frozenset[RelPath] = frozenset()
    """Paths never listed (the manifest file itself when it is written inside the tree)."""


@dataclass(frozen=True, slots=True)
class ManifestResult:
    """The checksum file's bytes, the files that could not be read, and what hashing cost."""

    text: bytes
    listed_files: int
    failures: dict[RelPath, str]
    digests: DigestResults


def listed_files(
    backend: Backend, options: ManifestOptions, failures: dict[RelPath, str], seen: set[RelPath] | None
) -> Iterator[Entry]:
    """Yield the files a manifest lists as the scan finds them; note unreadable paths (and files in seen)."""
    leave_out = options.leave_out
    file_kind = EntryKind.FILE
    remember = seen.add if seen is not None else None
    for entry in iter_tree(backend, options.scan):
        if leave_out and entry.path in leave_out:
            continue
        if entry.error is not None:
            failures[entry.path] = entry.error
        elif entry.kind is file_kind:
            if remember is not None:
                remember(entry.path)
            yield entry


def build_manifest(backend: Backend, options: ManifestOptions | None = None) -> ManifestResult:
    """Return the checksum file of every file below the backend's root, sorted by path."""
    chosen = options or ManifestOptions()
    failures: dict[RelPath, str] = {}
    results = _digest_listed(backend, chosen, failures)
    failures.update(results.failures)
    text = format_manifest(results.digests.items(), chosen.digest.algorithm)
    return ManifestResult(text, len(results.digests), failures, results)


def _digest_listed(backend: Backend, options: ManifestOptions, failures: dict[RelPath, str]) -> DigestResults:
    """Return the digests of the listed files; the cache (a row per file) is released on return.

    Releasing it before the checksum file is formatted keeps the two largest tables of a big tree
    out of memory at the same time.
    """
    whole_tree = options.scan.tree_filter.is_trivial and not options.scan.follow_symlinks
    with open_digest_engine(backend, options.digest) as engine:
        seen: set[RelPath] | None = set() if engine.cache is not None and whole_tree else None
        results = engine.digest_entries(listed_files(backend, options, failures, seen))
        if engine.cache is not None and seen is not None:
            engine.cache.forget_all_but(seen)
    return results
