"""The criteria of `dirkit find` as pure tests on entries."""

from __future__ import annotations

import pytest

from dirkit.core.search.criteria import (
    FindCriteria,
    compile_name_globs,
    compile_name_regex,
    depth_of,
    parse_kinds,
)
from dirkit.core.sizes import parse_size_bound
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import UsageError

FILE = Entry(RelPath("src/main.PY"), EntryKind.FILE, size=2048, mtime_ns=1000)
DIR = Entry(RelPath("src"), EntryKind.DIR, size=4096, mtime_ns=500)
LINK = Entry(RelPath("src/link"), EntryKind.SYMLINK, mtime_ns=2000, target="main.PY")


def admitted(criteria: FindCriteria, *entries: Entry) -> list[str]:
    return [
        entry.path
        for entry in entries
        if criteria.admits(entry, entry.path.rsplit("/", 1)[-1], depth_of(entry.path))
    ]


def test_no_criteria_admit_everything() -> None:
    assert admitted(FindCriteria(), FILE, DIR, LINK) == ["src/main.PY", "src", "src/link"]


def test_name_globs_match_the_whole_base_name() -> None:
    assert admitted(FindCriteria(name_pattern=compile_name_globs(["*.PY"])), FILE, DIR) == ["src/main.PY"]
    assert admitted(FindCriteria(name_pattern=compile_name_globs(["*.py"])), FILE) == []
    assert admitted(FindCriteria(name_pattern=compile_name_globs(["*.py"], ignore_case=True)), FILE) == [
        "src/main.PY"
    ]
    assert admitted(FindCriteria(name_pattern=compile_name_globs(["main", "s?c"])), FILE, DIR) == ["src"]


def test_regex_is_searched_in_the_base_name() -> None:
    assert admitted(FindCriteria(name_regex=compile_name_regex("ai")), FILE, DIR) == ["src/main.PY"]
    assert admitted(FindCriteria(name_regex=compile_name_regex("^src$")), FILE, DIR) == ["src"]
    with pytest.raises(UsageError, match="bad regular expression"):
        compile_name_regex("[")


def test_kinds() -> None:
    assert parse_kinds([]) is None
    assert parse_kinds(["f,d", "l"]) == frozenset({EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK})
    assert admitted(FindCriteria(kinds=parse_kinds(["l"])), FILE, DIR, LINK) == ["src/link"]
    with pytest.raises(UsageError, match="bad --type 'x'"):
        parse_kinds(["x"])


def test_size_matches_regular_files_only() -> None:
    assert admitted(FindCriteria(size=parse_size_bound("+1k")), FILE, DIR, LINK) == ["src/main.PY"]
    assert admitted(FindCriteria(size=parse_size_bound("-1k")), FILE, DIR, LINK) == []


def test_times_are_strict_bounds() -> None:
    assert admitted(FindCriteria(newer_than_ns=1000), FILE, DIR, LINK) == ["src/link"]
    assert admitted(FindCriteria(older_than_ns=1000), FILE, DIR, LINK) == ["src"]
    unknown = Entry(RelPath("u"), EntryKind.FILE, mtime_ns=None)
    assert admitted(FindCriteria(newer_than_ns=0), unknown) == []


def test_depths() -> None:
    assert depth_of("") == 0
    assert depth_of("a/b/c") == 3
    assert admitted(FindCriteria(min_depth=2), FILE, DIR) == ["src/main.PY"]
    assert admitted(FindCriteria(max_depth=1), FILE, DIR) == ["src"]
    assert not FindCriteria().needs_metadata
    assert FindCriteria(size=parse_size_bound("1")).needs_metadata
