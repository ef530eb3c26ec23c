"""Rename detection on a Diff (pure): one-sided files or whole folders with equal content become moves.

A left_only file and a right_only file of equal, non-zero size and equal digest become one
`Status.MOVED` change at the new path with `moved_from` set to the old one. A left_only folder and a
right_only folder whose whole subtrees match (same relative names and kinds, equal file digests, equal
link targets, at least one file) become one moved folder, and their children's changes are folded into
it. A file that was moved and also changed has another digest, so it stays a left_only plus a
right_only. Empty files are never paired (every empty file has the same digest). Paths already linked
as name twins (NFC/NFD or case spellings) keep that explanation instead.

Planners call `move_candidates(diff)` to learn which one-sided files need a digest, compute those
digests (through the digest engine, with its cache), then call `detect_moves(diff, digests)`. In a
moved change, `left` is the entry on the left tree and `right` the entry on the right tree, whatever
the direction: a mirror from left (source) to right (target) renames `right.path` to `left.path` on
the target, a folder at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import NamedTuple

from dirkit.core.compare.diff import Change, Diff, Status
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, base_name, is_inside, sort_key

SubtreeSignature = tuple[tuple[str, str, int, str], ...]


class MoveCandidates(NamedTuple):
    """The one-sided files whose digest move detection needs, per side."""

    left: tuple[Entry, ...]
    right: tuple[Entry, ...]


class SideDigests(NamedTuple):
    """Known digests of one-sided files: left paths and right paths to hex digests."""

    left: Mapping[RelPath, str]
    right: Mapping[RelPath, str]


def _pairable_file_entry(change: Change, status: Status) -> Entry | None:
    entry = change.left if status is Status.LEFT_ONLY else change.right
    if change.status is not status or change.twin is not None or entry is None:
        return None
    if entry.kind is not EntryKind.FILE or entry.error is not None or entry.size == 0:
        return None
    return entry


def move_candidates(diff: Diff) -> MoveCandidates:
    """Return the one-sided non-empty files that have a one-sided file of the same size opposite."""
    left_only, right_only = Status.LEFT_ONLY, Status.RIGHT_ONLY
    one_sided = [change for change in diff.changes if change[1] is left_only or change[1] is right_only]
    left = [e for c in one_sided if (e := _pairable_file_entry(c, left_only)) is not None]
    right = [e for c in one_sided if (e := _pairable_file_entry(c, right_only)) is not None]
    right_sizes = {entry.size for entry in right}
    left_sizes = {entry.size for entry in left}
    return MoveCandidates(
        tuple(entry for entry in left if entry.size in right_sizes),
        tuple(entry for entry in right if entry.size in left_sizes),
    )


def _digest_of(entry: Entry, digests: Mapping[RelPath, str]) -> str | None:
    return digests.get(entry.path, entry.digest)


def _subtree_signature(
    changes: tuple[Change, ...], index: int, status: Status, digests: Mapping[RelPath, str]
) -> tuple[SubtreeSignature | None, int]:
    """Return the signature of the one-sided folder at index and the index just past its subtree."""
    root = changes[index].path
    prefix_length = len(root) + 1
    items: list[tuple[str, str, int, str]] = []
    has_file = False
    complete = True
    end = index + 1
    while end < len(changes) and is_inside(changes[end].path, root):
        change = changes[end]
        end += 1
        entry = change.left if status is Status.LEFT_ONLY else change.right
        if change.status is not status or entry is None or entry.error is not None:
            complete = False
            continue
        relative = entry.path[prefix_length:]
        if entry.kind is EntryKind.FILE:
            digest = _digest_of(entry, digests) if entry.size else ""
            if digest is None:
                complete = False
                continue
            has_file = True
            items.append((relative, entry.kind.value, entry.size, digest))
        else:
            items.append((relative, entry.kind.value, 0, entry.target or ""))
    if not complete or not has_file:
        return None, end
    return tuple(items), end


def _pair_in_order(left: list[Entry], right: list[Entry]) -> list[tuple[Entry, Entry]]:
    """Pair equal-content entries: same base name first, then the rest in path order."""
    pairs: list[tuple[Entry, Entry]] = []
    by_name: dict[str, list[Entry]] = defaultdict(list)
    for entry in sorted(right, key=lambda item: sort_key(item.path)):
        by_name[base_name(entry.path)].append(entry)
    unpaired_left: list[Entry] = []
    taken: set[RelPath] = set()
    for entry in sorted(left, key=lambda item: sort_key(item.path)):
        same_name = by_name.get(base_name(entry.path))
        if same_name:
            partner = same_name.pop(0)
            taken.add(partner.path)
            pairs.append((entry, partner))
        else:
            unpaired_left.append(entry)
    rest = [entry for entry in sorted(right, key=lambda item: sort_key(item.path)) if entry.path not in taken]
    pairs.extend(zip(unpaired_left, rest, strict=False))
    return pairs


def _folder_moves(changes: tuple[Change, ...], digests: SideDigests) -> list[tuple[int, int, int, int]]:
    """Return (left index, left end, right index, right end) for every folder moved whole."""
    signatures: dict[Status, dict[SubtreeSignature, list[tuple[int, int]]]] = {
        Status.LEFT_ONLY: defaultdict(list),
        Status.RIGHT_ONLY: defaultdict(list),
    }
    for index in _one_sided_indices(changes):
        change = changes[index]
        if change.twin is not None:
            continue
        entry = change.left if change.status is Status.LEFT_ONLY else change.right
        if entry is None or entry.kind is not EntryKind.DIR or entry.error is not None:
            continue
        side = digests.left if change.status is Status.LEFT_ONLY else digests.right
        signature, end = _subtree_signature(changes, index, change.status, side)
        if signature is not None:
            signatures[change.status][signature].append((index, end))
    moves: list[tuple[int, int, int, int]] = []
    used_left: list[tuple[int, int]] = []
    used_right: list[tuple[int, int]] = []
    for signature, lefts in signatures[Status.LEFT_ONLY].items():
        rights = signatures[Status.RIGHT_ONLY].get(signature)
        if not rights:
            continue
        entries_left = [_entry_at(changes, index) for index, _ in lefts]
        entries_right = [_entry_at(changes, index) for index, _ in rights]
        span_left = dict(zip((entry.path for entry in entries_left), lefts, strict=True))
        span_right = dict(zip((entry.path for entry in entries_right), rights, strict=True))
        for old, new in _pair_in_order(entries_left, entries_right):
            moves.append((*span_left[old.path], *span_right[new.path]))
    moves.sort()
    outermost: list[tuple[int, int, int, int]] = []
    for move in moves:
        left_span, right_span = (move[0], move[1]), (move[2], move[3])
        if _within_any(left_span, used_left) or _within_any(right_span, used_right):
            continue
        used_left.append(left_span)
        used_right.append(right_span)
        outermost.append(move)
    return outermost


def _one_sided_indices(changes: tuple[Change, ...]) -> list[int]:
    """Return the indices of the left_only and right_only changes (one pass; most changes are neither)."""
    left_only, right_only = Status.LEFT_ONLY, Status.RIGHT_ONLY
    return [
        index for index, change in enumerate(changes) if change[1] is left_only or change[1] is right_only
    ]


def _within_any(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] < end for start, end in spans)


def _entry_at(changes: tuple[Change, ...], index: int) -> Entry:
    change = changes[index]
    entry = change.left if change.left is not None else change.right
    assert entry is not None
    return entry


def detect_moves(diff: Diff, digests: SideDigests) -> Diff:
    """Return diff with moved files and folders folded into `moved` changes (see the module doc).

    digests maps one-sided file paths to hex digests per side (an entry's own digest field is used
    where the mapping has none); files without a known digest are never paired.
    """
    changes = diff.changes
    replaced: dict[int, Change] = {}
    dropped: set[int] = set()
    inside: list[tuple[Entry, Entry]] = list(diff.moved_contents)
    for left_start, left_end, right_start, right_end in _folder_moves(changes, digests):
        old, new = changes[left_start].left, changes[right_start].right
        assert old is not None and new is not None
        replaced[right_start] = Change(new.path, Status.MOVED, old, new, moved_from=old.path)
        inside.extend(_paired_contents(changes, (left_start, left_end), (right_start, right_end)))
        dropped.update(range(left_start, left_end))
        dropped.update(range(right_start + 1, right_end))
    groups: dict[tuple[int, str], tuple[list[Entry], list[Entry]]] = defaultdict(lambda: ([], []))
    index_of: dict[tuple[Status, RelPath], int] = {}
    for index in _one_sided_indices(changes):
        if index in dropped or index in replaced:
            continue
        change = changes[index]
        status = change.status
        entry = _pairable_file_entry(change, status)
        if entry is None:
            continue
        left_side = status is Status.LEFT_ONLY
        digest = _digest_of(entry, digests.left if left_side else digests.right)
        if digest is not None:
            groups[(entry.size, digest)][0 if left_side else 1].append(entry)
            index_of[(status, entry.path)] = index
    for lefts, rights in groups.values():
        if not lefts or not rights:
            continue
        for old, new in _pair_in_order(lefts, rights):
            replaced[index_of[(Status.RIGHT_ONLY, new.path)]] = Change(
                new.path, Status.MOVED, old, new, moved_from=old.path
            )
            dropped.add(index_of[(Status.LEFT_ONLY, old.path)])
    if not replaced:
        return diff
    return Diff(
        tuple(replaced.get(index, change) for index, change in enumerate(changes) if index not in dropped),
        diff.omitted_same,
        tuple(inside),
    )


def _paired_contents(
    changes: tuple[Change, ...], left_span: tuple[int, int], right_span: tuple[int, int]
) -> list[tuple[Entry, Entry]]:
    """Return the (left, right) entries below two matching moved folders, paired by relative name."""
    left_top, right_top = changes[left_span[0]].path, changes[right_span[0]].path
    right_by_name: dict[str, Entry] = {}
    for change in changes[right_span[0] + 1 : right_span[1]]:
        if change.right is not None:
            right_by_name[change.right.path[len(right_top) + 1 :]] = change.right
    pairs: list[tuple[Entry, Entry]] = []
    for change in changes[left_span[0] + 1 : left_span[1]]:
        left = change.left
        if left is None:
            continue
        right = right_by_name.get(left.path[len(left_top) + 1 :])
        if right is not None:
            pairs.append((left, right))
    return pairs
