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
from dirkit.ops.search.find_local import FOUND, LocalFind, LocalWalker
from dirkit.ops.search.forked_units import Event, run_units
from dirkit.ops.search.grep import FileMatches, GrepOptions, _report, _Searcher

MATCHED = 2
"""Event kind: some line of the unit matched (no payload)."""
FILES_PER_RUN = 32
"""Files of one folder listed ahead that make one unit (a flat folder still feeds every worker)."""
FILES_PER_BATCH = 64
"""Files read and searched together (opened relative to their folder)."""


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
    yield from run_units(units, search.work, spec.workers)


class _UnitSearch:
    """Searches the files of one unit and renders their results (in a worker, or here)."""

    def __init__(self, spec: LocalGrep, searcher: _Searcher, walker: LocalWalker) -> None:
        self.spec = spec
        self.searcher = searcher
        self.walker = walker
        self.globs = spec.options.globs

    def work(self, unit: list[tuple[str, str, EntryKind, int]] | tuple[str, int]) -> Iterator[Event]:
        """Yield the events of one unit's files, in order."""
        matched = False
        pending: list[str] = []
        for item in self._files(unit):
            if isinstance(item, str):
                pending.append(item)
                if len(pending) < FILES_PER_BATCH:
                    continue
            for event in self._search(pending):
                matched = matched or event[0] == MATCHED
                if event[0] != MATCHED:
                    yield event
            pending = []
            if not isinstance(item, str):
                yield item
        for event in self._search(pending):
            matched = matched or event[0] == MATCHED
            if event[0] != MATCHED:
                yield event
        if matched:
            yield MATCHED, b""

    def _search(self, paths: list[str]) -> Iterator[Event]:
        """Yield the output of a batch of files (and MATCHED when one matched)."""
        if not paths:
            return
        render = self.spec.render
        searcher = self.searcher
        pieces: list[bytes] = []
        matched = False
        file_kind = EntryKind.FILE
        for result in searcher.search_batch([Entry(RelPath(path), file_kind) for path in paths]):
            for found in _report(searcher, result):
                if found.error is not None:
                    if pieces:
                        yield FOUND, b"".join(pieces)
                        pieces = []
                    yield self.walker.failure(found.path, found.error)
                    continue
                matched = matched or found.match_count > 0
                output = render(found)
                if output:
                    pieces.append(output)
        if pieces:
            yield FOUND, b"".join(pieces)
        if matched:
            yield MATCHED, b""

    def _files(self, unit: list[tuple[str, str, EntryKind, int]] | tuple[str, int]) -> Iterator[str | Event]:
        """Yield the relative paths of a unit's files that --glob selects, and failures in their place."""
        globs = self.globs
        select_all = globs.selects_all
        if not isinstance(unit, tuple):
            for path, _, kind, _ in unit:
                if kind is EntryKind.FILE and (select_all or globs.selects(RelPath(path))):
                    yield path
            return
        walker = self.walker
        listing = walker.listing
        full = walker.full
        try:
            names, kinds = listing(os.path.join(full, unit[0]))
        except OSError as error:
            yield walker.failure(unit[0], f"cannot list directory: {error.strerror or error}")
            return
        # One frame per folder being walked: its path prefix, its remaining names, their kinds.
        stack = [(unit[0] + "/", iter(names), kinds)]
        while stack:
            prefix, remaining, kinds = stack[-1]
            for name in remaining:
                kind = kinds.get(name, EntryKind.FILE)
                path = prefix + name
                if kind is EntryKind.FILE:
                    if select_all or globs.selects(RelPath(path)):
                        yield path
                elif kind is EntryKind.DIR:
                    try:
                        names, below = listing(os.path.join(full, path))
                    except OSError as error:
                        yield walker.failure(path, f"cannot list directory: {error.strerror or error}")
                        continue
                    stack.append((path + "/", iter(names), below))
                    break
            else:
                stack.pop()
