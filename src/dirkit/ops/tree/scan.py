"""Scan a tree through a backend into a component-ordered Snapshot, honouring filters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.filters import (
    GITIGNORE_NAME,
    RESERVED_DIR_NAME,
    TEMP_MARKER,
    IgnoreRules,
    TreeFilter,
    parse_ignore_file,
)
from dirkit.core.tree.paths import ROOT, RelPath, base_name, parent_path
from dirkit.core.tree.snapshot import Snapshot
from dirkit.errors import BackendError

GITIGNORE_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan: what to leave out and whether to follow symlinks."""

    tree_filter: TreeFilter = field(default_factory=TreeFilter)
    follow_symlinks: bool = False
    max_depth: int | None = None
    """Entries deeper than this are not listed (1: the root's children only); None: no limit."""
    kinds_only: bool = False
    """The caller needs paths and kinds only: a local tree may then leave sizes and times unknown."""


def scan_tree(backend: Backend, options: ScanOptions | None = None) -> Snapshot:
    """Return a snapshot of every entry below the backend's root (root excluded)."""
    chosen = options or ScanOptions()
    entries = collect_entries(backend, ROOT, chosen)
    capabilities = backend.capabilities
    return Snapshot(tuple(entries), capabilities.mtime_resolution_ns, capabilities.case_sensitive)


def collect_entries(backend: Backend, top: RelPath, options: ScanOptions) -> list[Entry]:
    """Return every entry below top in component order; an unreadable dir gets an error entry."""
    return list(iter_tree(backend, options, top))


def iter_tree(backend: Backend, options: ScanOptions, top: RelPath = ROOT) -> Iterator[Entry]:
    """Yield every entry below top in component order; an unreadable dir yields an error entry.

    A depth-first walk with one explicit stack: each directory's children are pushed in reverse
    name order, so popping yields a directory and then its whole subtree before its next sibling.
    """
    tree_filter = options.tree_filter
    trivial = tree_filter.is_trivial
    follow = options.follow_symlinks
    gitignore = tree_filter.use_gitignore
    dir_kind, link_kind = EntryKind.DIR, EntryKind.SYMLINK
    max_depth = options.max_depth
    list_dir = backend.list_dir
    if options.kinds_only and not follow and isinstance(backend, LocalBackend):
        list_dir = backend.list_dir_kinds
    top_listing = list_dir(top)
    rules_of: dict[RelPath, tuple[IgnoreRules, ...]] = {}
    if gitignore:
        rules_of[top] = _read_ignore_rules(backend, top, top_listing)
    ancestors_of: dict[RelPath, tuple[tuple[int, int], ...]] = {}
    if follow:
        root = backend.stat(top, follow_symlinks=True)
        ancestors_of[top] = ((root.dev, root.ino),)
    top_listing.sort(reverse=True)
    stack = top_listing
    pop, extend = stack.pop, stack.extend
    while stack:
        entry = pop()
        path = entry[0]
        kind = entry[1]
        if trivial:
            if TEMP_MARKER in path or (kind is dir_kind and _is_reserved_dir(path)):
                continue
        else:
            parent = parent_path(path)
            rules = rules_of.get(parent, ()) if gitignore else ()
            if tree_filter.excludes(path, base_name(path), kind is dir_kind, rules):
                continue
        if follow and kind is link_kind and entry.error is None:
            entry = _follow_link(backend, entry, ancestors_of[parent_path(path)])
            kind = entry.kind
        if (
            kind is not dir_kind
            or entry.error is not None
            or (max_depth is not None and path.count("/") + 1 >= max_depth)
        ):
            yield entry
            continue
        try:
            listing = list_dir(path)
        except BackendError as error:
            yield entry._replace(error=f"cannot list directory: {error.strerror or error}")
            continue
        yield entry
        if gitignore:
            inherited = rules_of.get(parent_path(path), ())
            rules_of[path] = inherited + _read_ignore_rules(backend, path, listing)
        if follow:
            ancestors_of[path] = (*ancestors_of[parent_path(path)], (entry.dev, entry.ino))
        listing.sort(reverse=True)
        extend(listing)


def _is_reserved_dir(path: str) -> bool:
    return path == RESERVED_DIR_NAME or path.endswith("/" + RESERVED_DIR_NAME)


def _follow_link(backend: Backend, link: Entry, ancestors: tuple[tuple[int, int], ...]) -> Entry:
    try:
        target = backend.stat(link.path, follow_symlinks=True)
    except BackendError:
        return link
    if target.kind is EntryKind.DIR and (target.dev, target.ino) in ancestors:
        return link._replace(error="symlink loop: points to a directory above it")
    return target._replace(path=link.path)


def _read_ignore_rules(backend: Backend, directory: RelPath, listing: list[Entry]) -> tuple[IgnoreRules, ...]:
    """Return the rules of the .gitignore in directory (none if it has none)."""
    for entry in listing:
        if entry.kind is EntryKind.FILE and base_name(entry.path) == GITIGNORE_NAME:
            try:
                with backend.open_read(entry.path) as stream:
                    raw = stream.read(GITIGNORE_MAX_BYTES)
            except BackendError:
                return ()
            rules = parse_ignore_file(directory, raw.decode("utf-8", "surrogateescape"))
            return (rules,) if rules is not None else ()
    return ()
