"""Merge-join of two component-ordered entry sequences into pairs by path."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import nfc_path, sort_key

PathKey = Callable[[str], str]


def exact_key(path: str) -> str:
    """Return the matching key of a path when names must be spelled the same."""
    return sort_key(path)


def normalized_key(path: str) -> str:
    """Return the matching key of a path when NFC and NFD spellings count as one name."""
    return sort_key(nfc_path(path))


def match_entries(
    left: Sequence[Entry], right: Sequence[Entry], key: PathKey = exact_key
) -> Iterator[tuple[Entry | None, Entry | None]]:
    """Yield (left, right) pairs of entries with equal keys, None where a side has no such path.

    Both sequences must be ordered by key; with a key other than exact_key they are re-sorted here.
    """
    if key is not exact_key:
        left = sorted(left, key=lambda entry: key(entry.path))
        right = sorted(right, key=lambda entry: key(entry.path))
    i = j = 0
    n_left, n_right = len(left), len(right)
    left_key = key(left[0].path) if n_left else ""
    right_key = key(right[0].path) if n_right else ""
    while i < n_left and j < n_right:
        if left_key == right_key:
            yield left[i], right[j]
            i += 1
            j += 1
            if i < n_left:
                left_key = key(left[i].path)
            if j < n_right:
                right_key = key(right[j].path)
        elif left_key < right_key:
            yield left[i], None
            i += 1
            if i < n_left:
                left_key = key(left[i].path)
        else:
            yield None, right[j]
            j += 1
            if j < n_right:
                right_key = key(right[j].path)
    for index in range(i, n_left):
        yield left[index], None
    for index in range(j, n_right):
        yield None, right[index]
