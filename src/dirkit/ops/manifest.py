"""Build a checksum file of a tree: scan with filters, digest every file (with the cache), format."""

from __future__ import annotations

from dataclasses import dataclass, field

from dirkit.backends.protocol import Backend
from dirkit.core.entry import Entry, EntryKind
from dirkit.core.manifest import format_manifest
from dirkit.core.paths import RelPath
from dirkit.ops.digests import DigestOptions, DigestResults, open_digest_engine
from dirkit.ops.scan import ScanOptions, scan_tree


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


def manifest_entries(backend: Backend, options: ManifestOptions) -> tuple[list[Entry], dict[RelPath, str]]:
    """Return the files a manifest lists, and the unreadable paths with their reasons."""
    snapshot = scan_tree(backend, options.scan)
    files: list[Entry] = []
    failures: dict[RelPath, str] = {}
    for entry in snapshot.entries:
        if entry.path in options.leave_out:
            continue
        if entry.error is not None:
            failures[entry.path] = entry.error
        elif entry.kind is EntryKind.FILE:
            files.append(entry)
    return files, failures


def build_manifest(backend: Backend, options: ManifestOptions | None = None) -> ManifestResult:
    """Return the checksum file of every file below the backend's root, sorted by path."""
    chosen = options or ManifestOptions()
    files, failures = manifest_entries(backend, chosen)
    with open_digest_engine(backend, chosen.digest) as engine:
        results = engine.digest_entries(files)
        if (
            engine.cache is not None
            and chosen.scan.tree_filter.is_trivial
            and not chosen.scan.follow_symlinks
        ):
            engine.cache.forget_all_but({entry.path for entry in files})
    failures.update(results.failures)
    text = format_manifest(results.digests.items(), chosen.digest.algorithm)
    return ManifestResult(text, len(results.digests), failures, results)
