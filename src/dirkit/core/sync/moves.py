"""Renames found by content in a sync, among the one-sided deletes and adds (as mirror finds moves).

A path one side deleted (the other side still holding it as the base says) whose content reappears
at a path new on that same side (absent on the other) is a move: the other side renames its copy, a
folder at once, with no bytes copied. Files pair by size, then digest; folders by their whole
subtree (names, kinds, sizes, digests, link targets). Empty files never pair. A file deleted on both
sides whose content reappears at a different new path on each side was renamed differently on both:
a conflict, left alone. Paths that are conflicts are never moves: only clean one-sided rows pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from dirkit.core.run.plan import Action, ActionKind, fingerprint_of
from dirkit.core.sync.base import BaseEntry, Side, SideChange, base_of, detect_change
from dirkit.core.sync.merge import DigestKey, SyncRow
from dirkit.core.sync.plan import BaseChange, Conflict, ConflictResolution, SyncPolicy, SyncStep
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, base_name, is_inside, parent_path

Signature = tuple[tuple[str, str, int, str], ...]


@dataclass(slots=True)
class SyncMoves:
    """What the moves of a sync bring: steps run first on each side, rows they settle, conflicts."""

    a_steps: list[SyncStep] = field(default_factory=list)
    b_steps: list[SyncStep] = field(default_factory=list)
    handled: set[RelPath] = field(default_factory=set)
    """Paths whose rows the moves decide (reconcile passes them by)."""
    kept: set[RelPath] = field(default_factory=set)
    """Handled paths that stay where they are (no folder deleted above them may remove them)."""
    conflicts: list[Conflict] = field(default_factory=list)

    def steps_on(self, side: Side) -> list[SyncStep]:
        """Return the steps to run first on side."""
        return self.a_steps if side is Side.A else self.b_steps


def _entry(row: SyncRow, side: Side) -> Entry | None:
    return row.a if side is Side.A else row.b


def _clean(row: SyncRow) -> bool:
    """Tell whether neither side's entry at the row is unreadable or a special file."""
    return all(
        entry is None or (entry.error is None and entry.kind is not EntryKind.OTHER)
        for entry in (row.a, row.b)
    )


def gone_on(row: SyncRow, side: Side, policy: SyncPolicy) -> bool:
    """Tell whether side deleted the path while the other side kept it as the base says."""
    theirs = _entry(row, side.other)
    if row.base is None or _entry(row, side) is not None or theirs is None or not _clean(row):
        return False
    return detect_change(row.base, side.other, theirs, policy.sameness) is SideChange.UNCHANGED


def fresh_on(row: SyncRow, side: Side) -> bool:
    """Tell whether the path is new on side and absent on the other."""
    if row.base is not None or _entry(row, side.other) is not None:
        return False
    return _entry(row, side) is not None and _clean(row)


def _pairable_size(row: SyncRow, side: Side, policy: SyncPolicy) -> int | None:
    """Return the size of a non-empty file that is a move's old (gone) or new (fresh) half on side."""
    if gone_on(row, side, policy):
        assert row.base is not None
        return row.base.size if row.base.kind is EntryKind.FILE and row.base.size else None
    if fresh_on(row, side):
        entry = _entry(row, side)
        assert entry is not None
        return entry.size if entry.kind is EntryKind.FILE and entry.size else None
    return None


def move_digest_requests(rows: Sequence[SyncRow], policy: SyncPolicy) -> Iterator[DigestKey]:
    """Yield the files whose digest tells whether a one-sided delete and add are a move."""
    for side in Side:
        gone: set[int] = set()
        fresh: set[int] = set()
        for row in rows:
            size = _pairable_size(row, side, policy)
            if size is not None:
                (fresh if row.base is None else gone).add(size)
        for row in rows:
            size = _pairable_size(row, side, policy)
            if size is None:
                continue
            if row.base is None and size in gone:
                yield (side, row.path)
            elif row.base is not None and size in fresh and row.base.digest is None:
                yield (side.other, row.path)
    both_gone = {row.base.size for row in rows if row.base is not None and _deleted_on_both(row)}
    for side in Side:
        for row in rows:
            entry = _entry(row, side)
            is_file = entry is not None and entry.kind is EntryKind.FILE
            if is_file and fresh_on(row, side) and entry is not None and entry.size in both_gone:
                yield (side, row.path)


def _deleted_on_both(row: SyncRow) -> bool:
    base = row.base
    return (
        base is not None and base.kind is EntryKind.FILE and base.size > 0 and row.a is None and row.b is None
    )


class _Half:
    """One half of a possible move: a gone path (old) or a fresh path (new), with its subtree's rows."""

    __slots__ = ("rows", "signature")

    def __init__(self, rows: list[SyncRow], signature: Signature) -> None:
        self.rows = rows
        self.signature = signature

    @property
    def path(self) -> RelPath:
        """Return the path of the half's top."""
        return self.rows[0].path


def _item(
    row: SyncRow, side: Side, top: RelPath, digests: Mapping[DigestKey, str]
) -> tuple[str, str, int, str]:
    """Return what a row of a half contributes to its signature (an unknown digest is '?')."""
    relative = row.path[len(top) + 1 :] if row.path != top else ""
    if row.base is not None:
        base = row.base
        if base.kind is EntryKind.FILE:
            digest = (base.digest or digests.get((side.other, row.path))) if base.size else ""
            return (relative, base.kind.value, base.size, digest if digest is not None else "?")
        return (relative, base.kind.value, 0, base.target or "")
    entry = _entry(row, side)
    assert entry is not None
    if entry.kind is EntryKind.FILE:
        digest = (digests.get((side, row.path)) or entry.digest) if entry.size else ""
        return (relative, entry.kind.value, entry.size, digest if digest is not None else "?")
    return (relative, entry.kind.value, 0, entry.target or "")


def _halves(
    rows: Sequence[SyncRow], side: Side, policy: SyncPolicy, digests: Mapping[DigestKey, str]
) -> tuple[list[_Half], list[_Half]]:
    """Return side's gone and fresh halves (folders whole, and every file), folders first."""
    gone: list[_Half] = []
    fresh: list[_Half] = []
    for index, row in enumerate(rows):
        is_gone, is_fresh = gone_on(row, side, policy), fresh_on(row, side)
        if not is_gone and not is_fresh:
            continue
        subtree = [row]
        complete = True
        if row.base is not None:
            kind = row.base.kind
        else:
            entry = _entry(row, side)
            assert entry is not None
            kind = entry.kind
        if kind is EntryKind.DIR:
            end = index + 1
            while end < len(rows) and is_inside(rows[end].path, row.path):
                inner = rows[end]
                complete = complete and (gone_on(inner, side, policy) if is_gone else fresh_on(inner, side))
                subtree.append(inner)
                end += 1
        elif kind is not EntryKind.FILE:
            continue
        items = tuple(_item(each, side, row.path, digests) for each in subtree)
        has_file = any(item[1] == EntryKind.FILE.value and item[2] for item in items)
        if not complete or not has_file or any(item[3] == "?" for item in items):
            continue
        (gone if is_gone else fresh).append(_Half(subtree, items))
    gone.sort(key=lambda half: len(half.rows) == 1)
    return gone, fresh


def _pair(olds: list[_Half], news: list[_Half]) -> Iterator[tuple[_Half, _Half]]:
    """Pair equal halves: the same base name first, then the rest in path order."""
    by_name: dict[str, list[_Half]] = defaultdict(list)
    for half in news:
        by_name[base_name(half.path)].append(half)
    taken: set[RelPath] = set()
    rest: list[_Half] = []
    for old in olds:
        same = [half for half in by_name[base_name(old.path)] if half.path not in taken]
        if same:
            taken.add(same[0].path)
            yield old, same[0]
        else:
            rest.append(old)
    yield from zip(rest, [half for half in news if half.path not in taken], strict=False)


def find_moves(rows: Sequence[SyncRow], policy: SyncPolicy, digests: Mapping[DigestKey, str]) -> SyncMoves:
    """Return the renames (and the renamed-on-both conflicts) among rows in component order."""
    moves = SyncMoves()
    by_path = {row.path: row for row in rows}
    for side in Side:
        gone, fresh = _halves(rows, side, policy, digests)
        groups: dict[Signature, tuple[list[_Half], list[_Half]]] = defaultdict(lambda: ([], []))
        for half in gone:
            groups[half.signature][0].append(half)
        for half in fresh:
            groups[half.signature][1].append(half)
        for olds, news in groups.values():
            for old, new in _pair(olds, news):
                if any(row.path in moves.handled for row in (*old.rows, *new.rows)):
                    continue
                made = _dirs_to_make(new.path, side, by_path, moves.handled)
                if made is not None:
                    _emit_move(moves, side, old, new, made, policy)
    _renamed_on_both(moves, rows, digests)
    return moves


def _dirs_to_make(
    path: RelPath, side: Side, by_path: Mapping[RelPath, SyncRow], handled: set[RelPath]
) -> list[SyncRow] | None:
    """Return the folders new on side that path's rename needs made first on the other (None: no rename).

    Every folder above path must already be a folder on the other side, or be new on side.
    """
    needed: list[SyncRow] = []
    parent = parent_path(path)
    while parent != ROOT:
        row = by_path.get(parent)
        if row is not None:
            mine, theirs = _entry(row, side), _entry(row, side.other)
            if not _clean(row) or mine is None or mine.kind is not EntryKind.DIR:
                return None
            if theirs is None:
                if row.base is not None:
                    return None
                if parent not in handled:
                    needed.append(row)
            elif theirs.kind is not EntryKind.DIR:
                return None
        parent = parent_path(parent)
    needed.reverse()
    return needed


def _emit_move(
    moves: SyncMoves, side: Side, old: _Half, new: _Half, made: list[SyncRow], policy: SyncPolicy
) -> None:
    """Emit on the other side the folders a move needs, the rename (which moves the base rows too),
    then the mtimes and modes side's renamed files show, each step with the base rows it brings."""
    other = side.other
    steps = moves.steps_on(other)
    for row in made:
        entry = _entry(row, side)
        assert entry is not None
        change = BaseChange(row.path, base_of(row.path, entry, entry), other)
        steps.append(SyncStep(Action(ActionKind.MAKE_DIR, row.path, mode=entry.mode or None), change))
        moves.handled.add(row.path)
        moves.kept.add(row.path)
    theirs = _entry(old.rows[0], other)
    assert theirs is not None
    changes: list[BaseChange] = []
    metadata: list[SyncStep] = []
    for old_row, new_row, item in zip(old.rows, new.rows, new.signature, strict=True):
        base = old_row.base
        assert base is not None
        digest = base.digest or ((item[3] or None) if base.kind is EntryKind.FILE else None)
        moved: BaseEntry = base._replace(path=new_row.path, digest=digest)
        changes.extend((BaseChange(old_row.path, None), BaseChange(new_row.path, moved)))
        moves.handled.update((old_row.path, new_row.path))
        moves.kept.add(new_row.path)
        mine, kept = _entry(new_row, side), _entry(old_row, other)
        if base.kind is EntryKind.FILE and mine is not None and kept is not None:
            metadata.extend(_metadata_steps(side, mine, kept._replace(path=new_row.path), moved, policy))
    rename = Action(ActionKind.RENAME, new.path, source_path=old.path, source_expected=fingerprint_of(theirs))
    steps.append(SyncStep(rename, None, tuple(changes)))
    steps.extend(metadata)


def _metadata_steps(
    side: Side, mine: Entry, theirs: Entry, moved: BaseEntry, policy: SyncPolicy
) -> list[SyncStep]:
    """Return the steps giving the other side's renamed file side's mode and mtime, the last with its row.

    Until they are done the base keeps side's old mode and mtime, so an interrupted sync sees them
    again as a metadata change.
    """
    other = side.other
    expected = fingerprint_of(theirs)
    predicted = theirs
    actions: list[Action] = []
    if policy.sets_modes(other) and mine.mode and theirs.mode and mine.mode != theirs.mode:
        actions.append(Action(ActionKind.SET_MODE, theirs.path, mode=mine.mode, expected=expected))
        predicted = predicted._replace(mode=mine.mode)
    if policy.sets_mtimes(other) and mine.mtime_ns is not None and mine.mtime_ns != theirs.mtime_ns:
        actions.append(Action(ActionKind.SET_MTIME, theirs.path, mtime_ns=mine.mtime_ns, expected=expected))
        predicted = predicted._replace(mtime_ns=mine.mtime_ns)
    if not actions:
        return []
    pair = (mine, predicted) if side is Side.A else (predicted, mine)
    final = BaseChange(theirs.path, base_of(theirs.path, *pair, digest=moved.digest))
    return [*(SyncStep(action) for action in actions[:-1]), SyncStep(actions[-1], final)]


def _renamed_on_both(moves: SyncMoves, rows: Sequence[SyncRow], digests: Mapping[DigestKey, str]) -> None:
    """List as conflicts the files deleted on both sides whose content is new at another path on each."""
    fresh: dict[Side, dict[tuple[int, str], RelPath]] = {Side.A: {}, Side.B: {}}
    by_size: dict[int, list[str]] = defaultdict(list)
    for side in Side:
        for row in rows:
            entry = _entry(row, side)
            if row.path in moves.handled or not fresh_on(row, side) or entry is None:
                continue
            digest = digests.get((side, row.path))
            key = (entry.size, digest or "")
            if entry.kind is EntryKind.FILE and digest is not None and key not in fresh[side]:
                fresh[side][key] = row.path
                if side is Side.A:
                    by_size[entry.size].append(digest)
    for row in rows:
        if not _deleted_on_both(row) or row.path in moves.handled:
            continue
        assert row.base is not None
        size = row.base.size
        for digest in by_size.get(size, []):
            a_path, b_path = fresh[Side.A][(size, digest)], fresh[Side.B].get((size, digest))
            if b_path is None or a_path == b_path or row.base.digest not in (None, digest):
                continue
            if a_path in moves.handled or b_path in moves.handled:
                continue
            reason = f"renamed to {a_path} on A and to {b_path} on B"
            change = SideChange.DELETED
            left = (a_path, b_path)
            conflict = Conflict(
                row.path, change, change, ConflictResolution.LEFT_ALONE, reason, left_alone=left
            )
            moves.conflicts.append(conflict)
            moves.handled.update((row.path, a_path, b_path))
            moves.kept.update((a_path, b_path))
            break
