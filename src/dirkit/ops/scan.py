"""Scan a tree through a backend into a component-ordered Snapshot, honouring filters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.core.entry import Entry, EntryKind
from dirkit.core.filters import (
    GITIGNORE_NAME,
    RESERVED_DIR_NAME,
    TEMP_MARKER,
    IgnoreRules,
    TreeFilter,
    parse_ignore_file,
)
from dirkit.core.paths import ROOT, RelPath, base_name
from dirkit.core.snapshot import Snapshot
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
    entries = list(iter_tree(backend, chosen))
    capabilities = backend.capabilities
    return Snapshot(tuple(entries), capabilities.mtime_resolution_ns, capabilities.case_sensitive)


def iter_tree(backend: Backend, options: ScanOptions) -> Iterator[Entry]:
    """Yield every entry below the root in component order; unreadable dirs yield an error entry."""
    tree_filter = options.tree_filter
    trivial = tree_filter.is_trivial
    follow = options.follow_symlinks
    max_depth = options.max_depth
    list_dir = backend.list_dir
    if options.kinds_only and not follow and isinstance(backend, LocalBackend):
        list_dir = backend.list_dir_kinds
    root_children = list_dir(ROOT)
    root_rules = _read_ignore_rules(backend, ROOT, root_children, tree_filter)
    ancestors: list[tuple[int, int]] = []
    if follow:
        root = backend.stat(ROOT, follow_symlinks=True)
        ancestors.append((root.dev, root.ino))
    stack: list[tuple[Iterator[Entry], tuple[IgnoreRules, ...], int]] = [
        (iter(_ordered(root_children)), root_rules, len(ancestors))
    ]
    while stack:
        children, rules, depth = stack[-1]
        entry = next(children, None)
        if entry is None:
            stack.pop()
            continue
        del ancestors[depth:]
        kind = entry.kind
        name = base_name(entry.path)
        if trivial:
            if (kind is EntryKind.DIR and name == RESERVED_DIR_NAME) or TEMP_MARKER in name:
                continue
        elif tree_filter.excludes(entry.path, name, kind is EntryKind.DIR, rules):
            continue
        if follow and kind is EntryKind.SYMLINK and entry.error is None:
            entry = _follow_link(backend, entry, ancestors)
            kind = entry.kind
        yield entry
        if kind is not EntryKind.DIR or entry.error is not None:
            continue
        if max_depth is not None and len(stack) >= max_depth:
            continue
        try:
            listing = list_dir(entry.path)
        except BackendError as error:
            yield entry._replace(error=f"cannot list directory: {error.strerror or error}")
            continue
        if follow:
            ancestors.append((entry.dev, entry.ino))
        child_rules = rules
        if tree_filter.use_gitignore:
            child_rules = rules + _read_ignore_rules(backend, entry.path, listing, tree_filter)
        stack.append((iter(_ordered(listing)), child_rules, len(ancestors)))


def _ordered(entries: list[Entry]) -> list[Entry]:
    entries.sort(key=_entry_name)
    return entries


def _entry_name(entry: Entry) -> str:
    return entry.path


def _follow_link(backend: Backend, link: Entry, ancestors: list[tuple[int, int]]) -> Entry:
    try:
        target = backend.stat(link.path, follow_symlinks=True)
    except BackendError:
        return link
    if target.kind is EntryKind.DIR and (target.dev, target.ino) in ancestors:
        return link._replace(error="symlink loop: points to a directory above it")
    return target._replace(path=link.path)


def _read_ignore_rules(
    backend: Backend, directory: RelPath, listing: list[Entry], tree_filter: TreeFilter
) -> tuple[IgnoreRules, ...]:
    if not tree_filter.use_gitignore:
        return ()
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
