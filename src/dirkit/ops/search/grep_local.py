"""`grep` on a local tree in forked processes that walk and search at once, output kept in order.

The tree is cut into units as find's lean walk cuts it (find_local.py): runs of files, and the
subtrees below folders. Each worker walks its units with os.scandir, reads and searches their
files with the same searcher as every grep (grep.py: the first block read into a reused buffer,
binary files skipped, big files streamed) and renders the results with the caller's function,
so what comes back is finished output, merged in the tree's order (forked_units.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dirkit.backends.local import LocalBackend
from dirkit.core.search.grep import compile_matcher
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import translate_os_error
from dirkit.ops.search import grep as grep_search
from dirkit.ops.search.find_local import FOUND, LocalFind, LocalWalker
from dirkit.ops.search.forked_units import Event, run_units
from dirkit.ops.search.grep import (
    FileMatches,
    GrepMode,
    GrepOptions,
    _report,
    _Searcher,
)

MATCHED = 2
"""Event kind: some line of the unit matched (no payload)."""
FILES_PER_RUN = 32
"""Files of one folder listed ahead that make one unit (a flat folder still feeds every worker)."""
SEARCHED_HERE = 64
"""A tree of fewer files than this, all in the root folder, is searched without workers."""
PIECES_PER_EVENT = 256
"""Files' outputs gathered into one event."""
READ_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
)
"""As every grep reads (backends/chunks.py): no symlink followed, never blocked by a fifo put in place."""
DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class LocalGrep:
    """One local tree to search, how, and how to render each file's result as output bytes."""

    root: str
    """The root folder as the user typed it."""
    options: GrepOptions
    render: Callable[[FileMatches], bytes]
    """The output of one file's result (b"" for none); called in the workers."""
    workers: int = 2


def grep_local(spec: LocalGrep) -> Iterator[Event]:
    """Yield the output of grep on a local tree in scan order: FOUND bytes, FAILED paths, MATCHED marks.

    Raises BackendError when the root itself cannot be listed.
    """
    backend = LocalBackend(spec.root)
    searcher = _Searcher(backend, compile_matcher(spec.options.pattern), spec.options)
    walker = LocalWalker(LocalFind(spec.root, run_length=FILES_PER_RUN))
    try:
        top = walker.listing(walker.full)
    except OSError as error:
        raise translate_os_error(error, walker.full) from error
    units = walker.cut(top)
    search = _UnitSearch(spec, searcher, walker)
    # A few files listed already are searched here sooner than workers could start.
    listed = sum(len(unit) for unit in units if not isinstance(unit, tuple))
    walking = listed >= SEARCHED_HERE or any(isinstance(unit, tuple) for unit in units)
    yield from run_units(units, search.work, spec.workers if walking else 1)


class _UnitSearch:
    """Searches the files of one unit and renders their results (in a worker, or here)."""

    def __init__(self, spec: LocalGrep, searcher: _Searcher, walker: LocalWalker) -> None:
        self.spec = spec
        self.searcher = searcher
        self.walker = walker
        self.globs = spec.options.globs
        self.counting = spec.options.mode is GrepMode.COUNT
        self.buffer = bytearray(grep_search.BLOCK_SIZE)  # read at use: tests make it small

    def work(self, unit: list[tuple[str, str, EntryKind, int]] | tuple[str, int]) -> Iterator[Event]:
        """Yield the events of one unit's files, in order (MATCHED last, when a line matched)."""
        render = self.spec.render
        searcher = self.searcher
        failure = self.walker.failure
        pieces: list[bytes] = []
        matched = False
        folder: str | None = None
        folder_fd = -1
        folder_error: str | None = None
        try:
            for parent, name, path in self._files(unit):
                if not parent:  # a folder that cannot be listed: name is its path, path the reason
                    if pieces:
                        yield FOUND, b"".join(pieces)
                        pieces = []
                    yield failure(name, path)
                    continue
                if parent != folder:
                    if folder_fd >= 0:
                        os.close(folder_fd)
                        folder_fd = -1
                    folder = parent
                    try:
                        folder_fd = os.open(parent, DIR_FLAGS)
                        folder_error = None
                    except OSError as error:
                        folder_error = error.strerror or str(error)
                result = (
                    FileMatches(RelPath(path), error=folder_error)
                    if folder_error is not None
                    else self._search(folder_fd, name, path)
                )
                if result is None:
                    continue
                for found in _report(searcher, result):
                    if found.error is not None:
                        if pieces:
                            yield FOUND, b"".join(pieces)
                            pieces = []
                        yield failure(found.path, found.error)
                        continue
                    matched = matched or found.match_count > 0
                    output = render(found)
                    if output:
                        pieces.append(output)
                        if len(pieces) >= PIECES_PER_EVENT:
                            yield FOUND, b"".join(pieces)
                            pieces = []
        finally:
            if folder_fd >= 0:
                os.close(folder_fd)
        if pieces:
            yield FOUND, b"".join(pieces)
        if matched:
            yield MATCHED, b""

    def _search(self, folder_fd: int, name: str, path: str) -> FileMatches | Entry | None:
        """Return one file's result: read its start, skip it when binary or when nothing can match.

        Files that may match (or are too big to hold) go to the searcher every grep uses.
        """
        buffer = self.buffer
        try:
            descriptor = os.open(name, READ_FLAGS, dir_fd=folder_fd)
            try:
                size = os.readv(descriptor, (buffer,))
                complete = size < len(buffer) or not os.read(descriptor, 1)
            finally:
                os.close(descriptor)
        except OSError as error:
            return FileMatches(RelPath(path), error=error.strerror or str(error))
        options = self.spec.options
        if not options.search_binary and buffer.find(b"\0", 0, min(size, grep_search.SNIFF_SIZE)) >= 0:
            return FileMatches(RelPath(path), binary=True) if self.counting else None
        if complete and not self.searcher.matcher.occurs_in(buffer, size):
            return FileMatches(RelPath(path)) if self.counting else None
        return self.searcher.judge(Entry(RelPath(path), EntryKind.FILE), buffer, size, complete)

    def _files(
        self, unit: list[tuple[str, str, EntryKind, int]] | tuple[str, int]
    ) -> Iterator[tuple[str, str, str]]:
        """Yield (folder's OS path, name, relative path) of a unit's files that --glob selects, in order.

        A folder that cannot be listed gives ("", its relative path, the reason) in its place.
        """
        globs = self.globs
        select_all = globs.selects_all
        walker = self.walker
        full = walker.full
        if not isinstance(unit, tuple):
            for path, name, kind, _ in unit:
                if kind is EntryKind.FILE and (select_all or globs.selects(RelPath(path))):
                    yield os.path.join(full, path[: len(path) - len(name)]), name, path
            return
        listing = walker.listing
        try:
            names, kinds = listing(os.path.join(full, unit[0]))
        except OSError as error:
            yield "", unit[0], f"cannot list directory: {error.strerror or error}"
            return
        # One frame per folder being walked: its path prefix, its OS path, its remaining names, their kinds.
        stack = [(unit[0] + "/", os.path.join(full, unit[0]), iter(names), kinds)]
        while stack:
            prefix, native, remaining, kinds = stack[-1]
            for name in remaining:
                kind = kinds.get(name, EntryKind.FILE)
                path = prefix + name
                if kind is EntryKind.FILE:
                    if select_all or globs.selects(RelPath(path)):
                        yield native, name, path
                elif kind is EntryKind.DIR:
                    below = os.path.join(native, name)
                    try:
                        names, inner = listing(below)
                    except OSError as error:
                        yield "", path, f"cannot list directory: {error.strerror or error}"
                        continue
                    stack.append((path + "/", below, iter(names), inner))
                    break
            else:
                stack.pop()
