"""`find` on a local tree by names, kinds and depths: a lean walk over os.scandir in two processes.

The general find (ops/search/find.py) goes through the backend and the scanner and builds an Entry
per path; this one lists directories with os.scandir, tests base names with one compiled pattern
and hands back finished output: the paths found, as bytes, in the same order (each folder's
entries by name, a folder before what it holds) with the same errors. The tree is cut into
units (runs of entries, and the subtrees below folders) that forked workers walk at once
(forked_units.py); with one worker the units run here, in order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import RESERVED_DIR_NAME, TEMP_MARKER
from dirkit.errors import translate_os_error
from dirkit.ops.search.forked_units import Event, run_units

FOUND = 0
"""Event kind: output bytes (paths found, each with its ending)."""
FAILED = 1
"""Event kind: a path that could not be read and why, as UTF-8 'shown path\\0reason'."""
CHUNK_PATHS = 2048
"""Paths gathered before they are handed on as one piece of output."""
UNITS_WANTED = 48
"""Subtrees to cut the tree into for the workers (more than enough to balance two)."""
LISTINGS_AHEAD = 64
"""Folders listed at most while cutting the tree into units, before the workers start."""
RUN_LENGTH = 512
"""Entries in one run of already listed entries."""


def failure_of(payload: bytes) -> tuple[str, str]:
    """Return the shown path and the reason a FAILED event's payload holds (made by LocalWalker.failure)."""
    shown, reason = payload.decode("utf-8", "surrogateescape").split("\0", 1)
    return shown, reason


@dataclass(frozen=True, slots=True)
class LocalFind:
    """What to look for in one local tree, and how to show what is found."""

    root: str
    """The root folder as the user typed it: found paths are shown as os.path.join(root, path)."""
    name_pattern: re.Pattern[str] | None = None
    kinds: frozenset[EntryKind] | None = None
    min_depth: int = 0
    max_depth: int | None = None
    ending: str = "\n"
    workers: int = 2
    run_length: int = RUN_LENGTH
    """Listed entries that make one unit of work (the workers take units in turn)."""


_Run = list[tuple[str, str, EntryKind, int]]
"""Entries already listed: (relative path, base name, kind, depth)."""
_Subtree = tuple[str, int]
"""A folder to list and walk, with everything below it: (relative path, depth)."""


def find_local(spec: LocalFind) -> Iterator[Event]:
    """Yield the output of find on a local tree: the root (when it meets the criteria), then the rest.

    Raises BackendError when the root itself cannot be listed.
    """
    walker = LocalWalker(spec)
    if spec.min_depth == 0 and walker.admits(os.path.basename(os.path.normpath(spec.root)), EntryKind.DIR, 0):
        yield FOUND, walker.encode([spec.root])
    if spec.max_depth is not None and spec.max_depth < 1:
        return
    full = os.path.abspath(spec.root)
    try:
        listing = walker.listing(full)
    except OSError as error:
        raise translate_os_error(error, full) from error
    units = walker.cut(listing)
    # Entries listed already cost next to nothing to test: workers only pay off for subtrees to walk.
    walking = any(isinstance(unit, tuple) for unit in units)
    yield from run_units(units, walker.work, spec.workers if walking else 1)


class LocalWalker:
    """The walk of one tree with fixed criteria, cut into units; shared by the workers (they are forked)."""

    def __init__(self, spec: LocalFind) -> None:
        self.spec = spec
        self.full = os.path.abspath(spec.root)
        self.shown = os.path.join(spec.root, "")
        self.match = spec.name_pattern.match if spec.name_pattern is not None else None
        self.needs_kinds = spec.kinds is not None

    def admits(self, name: str, kind: EntryKind, depth: int) -> bool:
        """Tell whether an entry meets the criteria (the depth bounds, its kind and its name)."""
        spec = self.spec
        if depth < spec.min_depth or (spec.max_depth is not None and depth > spec.max_depth):
            return False
        if spec.kinds is not None and kind not in spec.kinds:
            return False
        return self.match is None or self.match(name) is not None

    def encode(self, shown_paths: list[str]) -> bytes:
        """Return shown paths as output bytes, each with its ending (names keep their raw bytes)."""
        ending = self.spec.ending
        return (ending.join(shown_paths) + ending).encode("utf-8", "surrogateescape")

    def failure(self, relative: str, reason: str) -> Event:
        """Return the event of a path that could not be read."""
        return FAILED, f"{self.shown}{relative}\0{reason}".encode("utf-8", "surrogateescape")

    def listing(self, full: str) -> tuple[list[str], dict[str, EntryKind]]:
        """Return a folder's names in order and the kinds of those that are not plain files.

        dirkit's own names (its folder, its temporary files) are left out, as every scan does.
        """
        names: list[str] = []
        kinds: dict[str, EntryKind] = {}
        append = names.append
        with os.scandir(full) as entries:
            for entry in entries:
                name = entry.name
                if TEMP_MARKER in name:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if name == RESERVED_DIR_NAME:
                        continue
                    kinds[name] = EntryKind.DIR
                elif not entry.is_file(follow_symlinks=False):
                    kinds[name] = EntryKind.SYMLINK if entry.is_symlink() else EntryKind.OTHER
                append(name)
        names.sort()
        return names, kinds

    def descends(self, depth: int) -> bool:
        """Tell whether a folder at depth is walked into."""
        return self.spec.max_depth is None or depth < self.spec.max_depth

    def cut(self, top: tuple[list[str], dict[str, EntryKind]]) -> list[_Run | _Subtree]:
        """Return the units of the tree below the root, listing a few folders ahead to have enough.

        The shallowest subtree is split into its entries and its own subtrees, one at a time, until
        there are UNITS_WANTED subtrees (or LISTINGS_AHEAD folders were listed).
        """
        units = self._units_of("", top, 1)
        unlistable: set[str] = set()
        for _ in range(LISTINGS_AHEAD):
            subtrees = [
                (unit[1], index, unit[0])
                for index, unit in enumerate(units)
                if isinstance(unit, tuple) and unit[0] not in unlistable
            ]
            if not subtrees or len(subtrees) >= UNITS_WANTED:
                break
            depth, index, relative = min(subtrees)
            try:
                listing = self.listing(os.path.join(self.full, relative))
            except OSError:
                unlistable.add(relative)  # its worker reports the error, in its place
                continue
            units[index : index + 1] = [
                [(relative, relative.rpartition("/")[2], EntryKind.DIR, depth)],
                *self._units_of(relative + "/", listing, depth + 1),
            ]
        return units

    def _units_of(
        self, prefix: str, listing: tuple[list[str], dict[str, EntryKind]], depth: int
    ) -> list[_Run | _Subtree]:
        names, kinds = listing
        units: list[_Run | _Subtree] = []
        run: _Run = []
        descends = self.descends(depth)
        for name in names:
            kind = kinds.get(name, EntryKind.FILE)
            if kind is EntryKind.DIR and descends:
                if run:
                    units.append(run)
                    run = []
                units.append((prefix + name, depth))
                continue
            run.append((prefix + name, name, kind, depth))
            if len(run) >= self.spec.run_length:
                units.append(run)
                run = []
        if run:
            units.append(run)
        return units

    def work(self, unit: _Run | _Subtree) -> Iterator[Event]:
        """Yield the output of one unit: a run of listed entries, or a folder and all below it."""
        if not isinstance(unit, tuple):
            admits, shown = self.admits, self.shown
            found = [shown + path for path, name, kind, depth in unit if admits(name, kind, depth)]
            if found:
                yield FOUND, self.encode(found)
            return
        yield from self._walk(*unit)

    def _walk(self, relative: str, depth: int) -> Iterator[Event]:
        """Yield the output of a folder (after listing it) and of everything below it, in order."""
        try:
            listing = self.listing(os.path.join(self.full, relative))
        except OSError as error:
            yield self.failure(relative, f"cannot list directory: {error.strerror or error}")
            return
        found: list[str] = []
        shown = self.shown
        if self.admits(relative.rpartition("/")[2], EntryKind.DIR, depth):
            found.append(shown + relative)
        match = self.match
        admits = self.admits
        plain = not self.needs_kinds
        # One frame per folder being walked: its path prefix, its remaining names, their depth.
        stack = [(relative + "/", iter(listing[0]), listing[1], depth + 1)]
        while stack:
            prefix, names, kinds, level = stack[-1]
            descends = self.descends(level)
            if not kinds and plain and level >= self.spec.min_depth:
                # a folder of plain files only, tested by name alone (the common leaf)
                head = shown + prefix
                if match is None:
                    found.extend([head + name for name in names])
                else:
                    found.extend([head + name for name in names if match(name) is not None])
                stack.pop()
            else:
                for name in names:
                    kind = kinds.get(name, EntryKind.FILE)
                    path = prefix + name
                    if kind is EntryKind.DIR and descends:
                        try:
                            below = self.listing(os.path.join(self.full, path))
                        except OSError as error:
                            if found:
                                yield FOUND, self.encode(found)
                                found = []
                            yield self.failure(path, f"cannot list directory: {error.strerror or error}")
                            continue
                        if admits(name, kind, level):
                            found.append(shown + path)
                        stack.append((path + "/", iter(below[0]), below[1], level + 1))
                        break
                    if admits(name, kind, level):
                        found.append(shown + path)
                else:
                    stack.pop()
            if len(found) >= CHUNK_PATHS:
                yield FOUND, self.encode(found)
                found = []
        if found:
            yield FOUND, self.encode(found)
