"""Scan a tree through a backend into a component-ordered Snapshot, honouring filters."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dirkit.backends.local_files import local_files
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
from dirkit.core.tree.paths import ROOT, RelPath, base_name, join_path, parent_path
from dirkit.core.tree.snapshot import Snapshot
from dirkit.errors import BackendError

if TYPE_CHECKING:
    from dirkit.ops.tree.listing_ahead import ListingAhead

GITIGNORE_MAX_BYTES = 1024 * 1024
MAX_LINK_HOPS = 40
"""Symlinks followed at most while resolving one path (as the kernel's ELOOP limit)."""


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
    return snapshot_of(entries, backend)


def snapshot_of(entries: list[Entry], backend: Backend) -> Snapshot:
    """Return a snapshot of entries already in component order, with what backend's capabilities say."""
    capabilities = backend.capabilities
    return Snapshot(
        tuple(entries),
        capabilities.mtime_resolution_ns,
        capabilities.case_sensitive,
        capabilities.can_set_mode,
    )


def collect_entries(backend: Backend, top: RelPath, options: ScanOptions) -> list[Entry]:
    """Return every entry below top in component order; an unreadable dir gets an error entry."""
    return list(iter_tree(backend, options, top))


def iter_tree(backend: Backend, options: ScanOptions, top: RelPath = ROOT) -> Iterator[Entry]:
    """Yield every entry below top in component order; an unreadable dir yields an error entry.

    On a remote tree with parallel connections, folders are listed ahead over them (listing_ahead.py).
    """
    ahead = _listing_ahead_for(backend, options)
    if ahead is None:
        yield from _walk(backend, options, top, backend.list_dir)
        return
    with ahead:
        yield from _walk(backend, options, top, ahead)


def _listing_ahead_for(backend: Backend, options: ScanOptions) -> ListingAhead | None:
    """Return a lister that lists folders ahead, for remote trees scanned plainly (else None)."""
    workers = backend.capabilities.parallel_connections
    tree_filter = options.tree_filter
    if (
        workers < 2
        or local_files(backend) is not None
        or options.follow_symlinks
        or options.max_depth is not None
        or tree_filter.use_gitignore
    ):
        return None

    def wanted(entry: Entry) -> bool:
        path = entry.path
        if TEMP_MARKER in path or _is_reserved_dir(path):
            return False
        return tree_filter.is_trivial or not tree_filter.excludes(path, base_name(path), True, ())

    from dirkit.ops.tree.listing_ahead import ListingAhead  # threads only for trees that list ahead

    return ListingAhead(backend.list_dir, workers, wanted)


def _walk(
    backend: Backend, options: ScanOptions, top: RelPath, lister: Callable[[RelPath], list[Entry]]
) -> Iterator[Entry]:
    """Yield every entry below top in component order, listing folders with lister.

    A depth-first walk with one explicit stack: each directory's children are pushed in reverse
    name order, so popping yields a directory and then its whole subtree before its next sibling.
    """
    tree_filter = options.tree_filter
    trivial = tree_filter.is_trivial
    follow = options.follow_symlinks
    gitignore = tree_filter.use_gitignore
    dir_kind, link_kind = EntryKind.DIR, EntryKind.SYMLINK
    max_depth = options.max_depth
    list_dir = lister
    local = local_files(backend) if options.kinds_only and not follow else None
    if local is not None:
        list_dir = local.list_dir_kinds
    top_listing = list_dir(top)
    rules_of: dict[RelPath, tuple[IgnoreRules, ...]] = {}
    if gitignore:
        rules_of[top] = _read_ignore_rules(backend, top, top_listing)
    ancestors_of: dict[RelPath, tuple[Hashable, ...]] = {}
    by_inode = backend.capabilities.identities
    real_of: dict[RelPath, RelPath] = {}
    """Without identities: the resolved (link-free) path of each directory walked into."""
    if follow:
        root = backend.stat(top, follow_symlinks=True)
        if by_inode:
            ancestors_of[top] = ((root.dev, root.ino),)
        else:
            real_top = resolve_tree_path(backend, top)
            real_of[top] = top if real_top is None else real_top
            ancestors_of[top] = (real_of[top],)
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
            parent_ancestors = ancestors_of[parent_path(path)]
            if by_inode:
                entry = _follow_link(backend, entry, parent_ancestors)
            else:
                entry = _follow_link_by_path(backend, entry, real_of, parent_ancestors)
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
            if by_inode:
                key: Hashable = (entry.dev, entry.ino)
            else:
                key = real_of.setdefault(path, join_path(real_of[parent_path(path)], base_name(path)))
            ancestors_of[path] = (*ancestors_of[parent_path(path)], key)
        listing.sort(reverse=True)
        extend(listing)


def _is_reserved_dir(path: str) -> bool:
    return path == RESERVED_DIR_NAME or path.endswith("/" + RESERVED_DIR_NAME)


def _follow_link(backend: Backend, link: Entry, ancestors: tuple[Hashable, ...]) -> Entry:
    try:
        target = backend.stat(link.path, follow_symlinks=True)
    except BackendError:
        return link
    if target.kind is EntryKind.DIR and (target.dev, target.ino) in ancestors:
        return link._replace(error="symlink loop: points to a directory above it")
    return target._replace(path=link.path)


def _follow_link_by_path(
    backend: Backend, link: Entry, real_of: dict[RelPath, RelPath], ancestors: tuple[Hashable, ...]
) -> Entry:
    """Follow a link on a tree without identities: a loop is a target whose resolved path is an ancestor's."""
    parent = parent_path(link.path)
    real_parent = real_of[parent]
    if link.target is None or link.target.startswith("/"):
        return link
    real = resolve_tree_path(backend, _joined(real_parent, link.target))
    if real is None:
        return link
    try:
        target = backend.stat(real)
    except BackendError:
        return link
    if target.kind is EntryKind.DIR:
        if real in ancestors:
            return link._replace(error="symlink loop: points to a directory above it")
        real_of[link.path] = real
    return target._replace(path=link.path)


def _joined(directory: str, relative: str) -> str:
    return f"{directory}/{relative}" if directory else relative


def resolve_tree_path(backend: Backend, path: str) -> RelPath | None:
    """Return path with every symlink and '..' resolved inside the tree, or None if it leaves the tree.

    The portable realpath: component by component through backend.stat, at most MAX_LINK_HOPS links.
    """
    pending = [part for part in reversed(path.split("/"))]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        candidate = RelPath("/".join([*resolved, part]))
        try:
            entry = backend.stat(candidate)
        except BackendError:
            return None
        if entry.kind is not EntryKind.SYMLINK:
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or entry.target is None or entry.target.startswith("/"):
            return None
        pending.extend(reversed(entry.target.split("/")))
    return RelPath("/".join(resolved))


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
