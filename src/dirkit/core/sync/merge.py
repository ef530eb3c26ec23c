"""The streaming merge of three sorted listings (base, side A, side B), and which files need digests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from dirkit.core.sync.base import BaseEntry, Side, detect_change, is_suspect
from dirkit.core.sync.plan import SyncPolicy
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, sort_key


class SyncRow(NamedTuple):
    """What the base, side A and side B hold at one path (None: nothing)."""

    path: RelPath
    base: BaseEntry | None
    a: Entry | None
    b: Entry | None


def merge_listings(base: Iterable[BaseEntry], a: Iterable[Entry], b: Iterable[Entry]) -> Iterator[SyncRow]:
    """Yield one row per path of any of three listings, each sorted in component order.

    Only the current item of each listing is held, so memory does not grow with the trees.
    Raise ValueError if a listing is out of order (the merge would pair the wrong paths).
    """
    base_items, a_items, b_items = iter(base), iter(a), iter(b)
    base_next = next(base_items, None)
    a_next = next(a_items, None)
    b_next = next(b_items, None)
    last: str | None = None
    while base_next is not None or a_next is not None or b_next is not None:
        keys = [sort_key(item.path) for item in (base_next, a_next, b_next) if item is not None]
        key = min(keys)
        if last is not None and key <= last:
            raise ValueError(f"listing out of component order at {key.replace(chr(0), '/')!r}")
        last = key
        row_base = row_a = row_b = None
        if base_next is not None and sort_key(base_next.path) == key:
            row_base, base_next = base_next, next(base_items, None)
        if a_next is not None and sort_key(a_next.path) == key:
            row_a, a_next = a_next, next(a_items, None)
        if b_next is not None and sort_key(b_next.path) == key:
            row_b, b_next = b_next, next(b_items, None)
        yield SyncRow(RelPath(key.replace("\0", "/")), row_base, row_a, row_b)


DigestKey = tuple[Side, RelPath]
"""Which side's file at which path a digest belongs to."""


def digest_requests(rows: Iterable[SyncRow], policy: SyncPolicy) -> Iterator[DigestKey]:
    """Yield the files whose digest decides how they changed (nothing when nothing is suspect).

    A file that kept its size but not its mtime needs its digest (and, without one in the base, the
    other side's); files of equal size on both sides that both changed, or have no base, need both.
    """
    sameness = policy.sameness
    for path, base, a, b in rows:
        a_file = a is not None and a.kind is EntryKind.FILE and a.error is None
        b_file = b is not None and b.kind is EntryKind.FILE and b.error is None
        want_a = a_file and is_suspect(base, Side.A, a, sameness) and base is not None
        want_b = b_file and is_suspect(base, Side.B, b, sameness) and base is not None
        if a_file and b_file:
            assert a is not None and b is not None
            if a.size == b.size:
                if base is None:
                    want_a = want_b = True
                else:
                    a_touched = detect_change(base, Side.A, a, sameness).touched
                    b_touched = detect_change(base, Side.B, b, sameness).touched
                    lone_suspect = base.digest is None and (want_a or want_b)
                    if (a_touched and b_touched) or lone_suspect:
                        want_a = want_b = True
        if base is not None and base.digest is None:
            # a lone suspect file can only be checked against a digest the base lacks
            want_a = want_a and b_file
            want_b = want_b and a_file
        if want_a:
            yield (Side.A, path)
        if want_b:
            yield (Side.B, path)
