"""The streaming merge of three sorted listings (base, side A, side B), and which files need digests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from dirkit.core.compare.sameness import mtime_window_ns, mtimes_equal
from dirkit.core.sync.base import (
    KIND_OF_VALUE,
    BaseEntry,
    BaseRecord,
    Side,
    base_entry_of,
    detect_change,
    is_suspect,
)
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
    base_next, a_next, b_next = next(base_items, None), next(a_items, None), next(b_items, None)
    base_key = None if base_next is None else sort_key(base_next.path)
    a_key = None if a_next is None else sort_key(a_next.path)
    b_key = None if b_next is None else sort_key(b_next.path)
    last = ""
    first = True
    while base_key is not None or a_key is not None or b_key is not None:
        if base_key is not None and base_key == a_key == b_key:
            key = base_key  # the common case: a path all three hold
        else:
            key = min(found for found in (base_key, a_key, b_key) if found is not None)
        if not first and key <= last:
            raise ValueError(f"listing out of component order at {key.replace(chr(0), '/')!r}")
        first = False
        last = key
        row_base = row_a = row_b = None
        if base_key == key:
            row_base, base_next = base_next, next(base_items, None)
            base_key = None if base_next is None else sort_key(base_next.path)
        if a_key == key:
            row_a, a_next = a_next, next(a_items, None)
            a_key = None if a_next is None else sort_key(a_next.path)
        if b_key == key:
            row_b, b_next = b_next, next(b_items, None)
            b_key = None if b_next is None else sort_key(b_next.path)
        path = (
            row_a.path if row_a is not None else row_b.path if row_b is not None else key.replace("\0", "/")
        )
        yield SyncRow(RelPath(path), row_base, row_a, row_b)


def changed_rows(rows: Iterable[SyncRow], policy: SyncPolicy) -> Iterator[SyncRow]:
    """Yield the rows where a side may differ from the base (a quick test of kind, size, mtime, mode).

    The rows left out are those reconcile would do nothing with, so reconciling only these gives
    the same plan; a no-change sync thus holds no row at all.
    """
    sameness = policy.sameness
    window = mtime_window_ns(sameness)
    modes = sameness.compare_modes
    for row in rows:
        _, base, a, b = row
        if base is None or a is None or b is None or row_differs(base, a, b, window, modes):
            yield row


def row_differs(base: BaseEntry, a: Entry, b: Entry, window: int | None, modes: bool) -> bool:
    """Tell whether a side may differ from the base at a path all three hold (False: nothing to do)."""
    if a.error is not None or b.error is not None:
        return True
    kind = base.kind
    if a.kind is not kind or b.kind is not kind:
        return True
    if kind is EntryKind.FILE:
        a_time, b_time = a.mtime_ns, b.mtime_ns
        base_a, base_b = base.a_mtime_ns, base.b_mtime_ns
        return (
            a.size != base.size
            or b.size != base.size
            or window is None
            or a_time is None
            or b_time is None
            or base_a is None
            or base_b is None
            or abs(a_time - base_a) > window
            or abs(b_time - base_b) > window
            or bool(modes and a.mode != base.a_mode and a.mode and base.a_mode)
            or bool(modes and b.mode != base.b_mode and b.mode and base.b_mode)
        )
    if kind is EntryKind.SYMLINK:
        return a.target != base.target or b.target != base.target
    return kind is not EntryKind.DIR


ENTRY_FIELDS = ("path", "kind", "size", "mtime_ns", "mode", "target", "error")
"""The leading fields of Entry, in order: the merge below reads them by position (the fastest way)."""
assert Entry._fields[: len(ENTRY_FIELDS)] == ENTRY_FIELDS


def merge_changed(
    records: Iterable[BaseRecord], a: Iterable[Entry], b: Iterable[Entry], policy: SyncPolicy
) -> Iterator[SyncRow]:
    """Yield exactly the rows changed_rows(merge_listings(base, a, b)) yields, in one faster pass.

    The base comes as stored records (base_record's form), sorted by key. The common case, a path
    all three listings hold and nobody changed, costs a key, a few comparisons of tuple items and
    no object; a BaseEntry is made only for the rows yielded. Raise ValueError if a listing is out
    of component order.
    """
    sameness = policy.sameness
    window = mtime_window_ns(sameness)
    modes = sameness.compare_modes
    kinds = KIND_OF_VALUE
    file_kind, dir_kind = EntryKind.FILE, EntryKind.DIR
    base_items, a_items, b_items = iter(records), iter(a), iter(b)
    base_next, a_next, b_next = next(base_items, None), next(a_items, None), next(b_items, None)
    last: str | None = None
    while base_next is not None or a_next is not None or b_next is not None:
        if base_next is not None and a_next is not None and b_next is not None:
            path = a_next[0]
            key = path.replace("/", "\0")
            if b_next[0] == path and base_next[0] == key.encode("utf-8", "surrogatepass"):
                if last is not None and key <= last:
                    raise ValueError(f"listing out of component order at {path!r}")
                last = key
                kind = kinds[base_next[1]]
                a_kind, b_kind = a_next[1], b_next[1]
                same = a_kind is kind and b_kind is kind and a_next[6] is None and b_next[6] is None
                if same and kind is file_kind:
                    size, a_time, b_time = base_next[2], a_next[3], b_next[3]
                    base_a, base_b = base_next[3], base_next[5]
                    same = (
                        a_next[2] == size
                        and b_next[2] == size
                        and window is not None
                        and a_time is not None
                        and b_time is not None
                        and base_a is not None
                        and base_b is not None
                        and -window <= a_time - base_a <= window
                        and -window <= b_time - base_b <= window
                        and (
                            not modes
                            or (
                                (a_next[4] == base_next[4] or not a_next[4] or not base_next[4])
                                and (b_next[4] == base_next[6] or not b_next[4] or not base_next[6])
                            )
                        )
                    )
                elif same and kind is not dir_kind:
                    same = not row_differs(base_entry_of(base_next), a_next, b_next, window, modes)
                if not same:
                    yield SyncRow(path, base_entry_of(base_next), a_next, b_next)
                base_next, a_next, b_next = next(base_items, None), next(a_items, None), next(b_items, None)
                continue
        base_key = None if base_next is None else base_next[0].decode("utf-8", "surrogatepass")
        a_key = None if a_next is None else sort_key(a_next.path)
        b_key = None if b_next is None else sort_key(b_next.path)
        key = min(found for found in (base_key, a_key, b_key) if found is not None)
        if last is not None and key <= last:
            raise ValueError(f"listing out of component order at {key.replace(chr(0), '/')!r}")
        last = key
        row_record = row_a = row_b = None
        if base_key == key:
            row_record, base_next = base_next, next(base_items, None)
        if a_key == key:
            row_a, a_next = a_next, next(a_items, None)
        if b_key == key:
            row_b, b_next = b_next, next(b_items, None)
        row_base = None if row_record is None else base_entry_of(row_record)
        found = row_a if row_a is not None else row_b
        where = found.path if found is not None else key.replace("\0", "/")
        if (
            row_base is not None
            and row_a is not None
            and row_b is not None
            and not row_differs(row_base, row_a, row_b, window, modes)
        ):
            continue
        yield SyncRow(RelPath(where), row_base, row_a, row_b)


DigestKey = tuple[Side, RelPath]
"""Which side's file at which path a digest belongs to."""


def digest_requests(rows: Iterable[SyncRow], policy: SyncPolicy) -> Iterator[DigestKey]:
    """Yield the files whose digest decides how they changed (nothing when nothing is suspect).

    A file that kept its size but not its mtime needs its digest (and, without one in the base, the
    other side's); files of equal size on both sides that both changed need both, and so do files of
    equal size but different times on both sides of a path with no base.
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
                    # no base: files of equal size and time are the same (as mirror judges them)
                    want_a = want_b = not mtimes_equal(a.mtime_ns, b.mtime_ns, sameness)
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
