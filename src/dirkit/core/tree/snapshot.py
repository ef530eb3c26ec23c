"""Every entry of one tree at one moment, in component order."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath, sort_key


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The entries of a tree (root excluded), sorted so that a directory's children follow it."""

    entries: tuple[Entry, ...]
    mtime_resolution_ns: int | None = 1
    """The coarsest mtime step of the backend the snapshot came from (1 s for FTP, 2 s for FAT; None:
    no usable mtimes)."""
    case_sensitive: bool = True
    keeps_modes: bool = True
    """Whether the tree keeps permission bits (FAT does not): modes are compared only where both do."""

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def by_path(self) -> dict[RelPath, Entry]:
        """Return the entries keyed by path."""
        return {entry.path: entry for entry in self.entries}

    @property
    def errors(self) -> tuple[Entry, ...]:
        """Return the entries that could not be read."""
        return tuple(entry for entry in self.entries if entry.error is not None)


def make_snapshot(
    entries: Iterable[Entry],
    mtime_resolution_ns: int | None = 1,
    case_sensitive: bool = True,
    keeps_modes: bool = True,
) -> Snapshot:
    """Return a snapshot of entries in any order, sorted into component order."""
    ordered = sorted(entries, key=lambda entry: sort_key(entry.path))
    return Snapshot(tuple(ordered), mtime_resolution_ns, case_sensitive, keeps_modes)


def is_component_ordered(entries: Sequence[Entry]) -> bool:
    """Tell whether entries are strictly increasing in component order."""
    keys = [sort_key(entry.path) for entry in entries]
    return all(a < b for a, b in itertools.pairwise(keys))
