"""Find the entries of a tree that meet the user's criteria, walking it once through the scanner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from dirkit.backends.protocol import Backend
from dirkit.core.search.criteria import FindCriteria
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT
from dirkit.errors import BackendError
from dirkit.ops.tree.scan import ScanOptions, iter_tree


@dataclass(frozen=True, slots=True)
class FindOptions:
    """What to find and how to walk; with_metadata asks for sizes and times of what is found."""

    criteria: FindCriteria = field(default_factory=FindCriteria)
    scan: ScanOptions = field(default_factory=ScanOptions)
    with_metadata: bool = False
    root_name: str = ""
    """The base name of the root as the user gave it, tested at depth 0 like find does."""


def find_entries(backend: Backend, options: FindOptions) -> Iterator[Entry]:
    """Yield the entries that meet the criteria in scan order, and every entry that failed to read.

    The root itself (path '') comes first when the criteria admit it at depth 0.
    """
    criteria = options.criteria
    if criteria.min_depth == 0:
        try:
            root = backend.stat(ROOT, follow_symlinks=True)
        except BackendError as error:
            yield Entry(ROOT, EntryKind.DIR, error=error.strerror or str(error))
            return
        if criteria.admits(root, options.root_name, 0):
            yield root
    if criteria.max_depth is not None and criteria.max_depth < 1:
        return
    kinds_only = not (criteria.needs_metadata or options.with_metadata)
    scan = replace(options.scan, max_depth=criteria.max_depth, kinds_only=kinds_only)
    only_name = replace(criteria, name_pattern=None, min_depth=0, max_depth=None) == FindCriteria()
    if criteria.name_pattern is not None and only_name and criteria.min_depth <= 1:
        yield from _find_by_name(iter_tree(backend, scan), criteria.name_pattern)
        return
    admits = criteria.admits
    for entry in iter_tree(backend, scan):
        path = entry.path
        if entry.error is not None:
            yield entry
            continue
        slash = path.rfind("/")
        if admits(entry, path[slash + 1 :], path.count("/") + 1):
            yield entry


def _find_by_name(entries: Iterator[Entry], pattern: re.Pattern[str]) -> Iterator[Entry]:
    """Yield the entries whose base name matches (the common case, kept lean for big trees)."""
    match = pattern.match
    for entry in entries:
        path = entry.path
        if entry.error is not None or match(path[path.rfind("/") + 1 :]) is not None:
            yield entry
