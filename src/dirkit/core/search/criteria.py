"""What `dirkit find` looks for: criteria on names, kinds, sizes, times and depths, as pure tests."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dirkit.core.search.linear_regex import LinearRegex, compile_linear
from dirkit.core.sizes import SizeBound
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.errors import UsageError

KIND_BY_LETTER = {"f": EntryKind.FILE, "d": EntryKind.DIR, "l": EntryKind.SYMLINK}


@dataclass(frozen=True, slots=True)
class FindCriteria:
    """Every condition an entry must meet to be found; None or empty means no condition."""

    name_pattern: re.Pattern[str] | None = None
    """Matched against the whole base name (from --name/--iname globs)."""
    name_regex: LinearRegex | None = None
    """Searched anywhere in the base name (--regex), as UTF-8 (undecodable name bytes kept)."""
    kinds: frozenset[EntryKind] | None = None
    size: SizeBound | None = None
    newer_than_ns: int | None = None
    older_than_ns: int | None = None
    min_depth: int = 0
    max_depth: int | None = None

    @property
    def needs_metadata(self) -> bool:
        """Tell whether testing an entry needs its size or time (not only its name and kind)."""
        return self.size is not None or self.newer_than_ns is not None or self.older_than_ns is not None

    def admits(self, entry: Entry, name: str, depth: int) -> bool:
        """Tell whether an entry (its base name and depth below the root given) is found."""
        if depth < self.min_depth or (self.max_depth is not None and depth > self.max_depth):
            return False
        if self.kinds is not None and entry.kind not in self.kinds:
            return False
        if self.name_pattern is not None and self.name_pattern.match(name) is None:
            return False
        if self.name_regex is not None:
            raw = name.encode("utf-8", "surrogateescape")
            if self.name_regex.search(raw, 0, len(raw)) is None:
                return False
        if self.size is not None and (entry.kind is not EntryKind.FILE or not self.size.admits(entry.size)):
            return False
        mtime = entry.mtime_ns
        if self.newer_than_ns is not None and (mtime is None or mtime <= self.newer_than_ns):
            return False
        return not (self.older_than_ns is not None and (mtime is None or mtime >= self.older_than_ns))


def compile_name_globs(globs: Sequence[str], ignore_case: bool = False) -> re.Pattern[str] | None:
    """Return one pattern matching a base name against any of the shell globs (None for none)."""
    if not globs:
        return None
    body = "|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def compile_name_regex(text: str | None, ignore_case: bool = False) -> LinearRegex | None:
    """Return the --regex pattern compiled for RE2 (linear time), or raise UsageError naming a bad one."""
    if text is None:
        return None
    return compile_linear(text, text.encode("utf-8", "surrogateescape"), ignore_case, utf8=True)


def parse_kinds(letters: Sequence[str]) -> frozenset[EntryKind] | None:
    """Return the kinds named by --type letters (f, d, l; 'f,d' allowed), or None for any kind."""
    if not letters:
        return None
    kinds: set[EntryKind] = set()
    for group in letters:
        for letter in group.split(","):
            kind = KIND_BY_LETTER.get(letter.strip())
            if kind is None:
                raise UsageError(f"bad --type {letter!r}: expected f (file), d (directory) or l (symlink)")
            kinds.add(kind)
    return frozenset(kinds)


def depth_of(path: str) -> int:
    """Return how many levels below the root a relative path lies (the root's children: 1)."""
    return path.count("/") + 1 if path else 0
