"""The pairing of two snapshots into changes, with name hygiene for NFC/NFD and case twins."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from dirkit.core.compare.match import match_entries, normalized_key
from dirkit.core.compare.sameness import (
    SamenessPolicy,
    Verdict,
    judge_entries,
    metadata_difference,
    mtime_window_ns,
)
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, is_inside, nfc_path, sort_key
from dirkit.core.tree.snapshot import Snapshot


class Status(enum.Enum):
    """How one path differs between the left and the right tree (filecmp's words, plus moved)."""

    LEFT_ONLY = "left_only"
    RIGHT_ONLY = "right_only"
    CHANGED = "changed"
    TYPE_CHANGED = "type_changed"
    SAME = "same"
    ERROR = "error"
    MOVED = "moved"


class NameTwin(enum.Enum):
    """Why a one-sided path has a twin on the other side whose name differs only in spelling."""

    UNICODE_NORMALIZATION = "unicode_normalization"
    CASE = "case"


class Change(NamedTuple):
    """One path's status, with the entries of both sides (None where absent)."""

    path: RelPath
    status: Status
    left: Entry | None
    right: Entry | None
    detail: str | None = None
    """Why: an error's reason, or a note such as 'content differs'."""
    twin: RelPath | None = None
    """For a one-sided path: the other side's path that differs only by normalization or case."""
    twin_reason: NameTwin | None = None
    moved_from: RelPath | None = None
    """For a moved change: the left path the content came from."""
    metadata_only: bool = False
    """For a changed path: the content is the same, only the mode (or a directory's mtime) differs."""


def changed_file_pairs(changes: Iterable[Change]) -> Iterator[tuple[Change, Entry, Entry]]:
    """Yield the changes whose bytes differ between two files, with both entries: what a text diff is of."""
    for change in changes:
        left, right = change.left, change.right
        if (
            change.status is Status.CHANGED
            and not change.metadata_only
            and left is not None
            and right is not None
            and left.is_file
            and right.is_file
        ):
            yield change, left, right


class Pairing(NamedTuple):
    """Two entries matched by path and the sameness policy's verdict on them."""

    left: Entry | None
    right: Entry | None
    verdict: Verdict | None
    """None for a one-sided pair."""


@dataclass(frozen=True, slots=True)
class Diff:
    """Every change between two snapshots, in component order."""

    changes: tuple[Change, ...]
    omitted_same: int = 0
    """How many 'same' paths were counted but left out of changes (to save time and memory)."""
    moved_contents: tuple[tuple[Entry, Entry], ...] = ()
    """The (left, right) entry pairs below folders reported as moved, whose changes were folded in."""

    def counts(self) -> dict[str, int]:
        """Return the number of paths of each status, every status present (zero if none)."""
        tally = Counter(change.status for change in self.changes)
        tally[Status.SAME] += self.omitted_same
        return {status.value: tally.get(status, 0) for status in Status}

    @property
    def differences(self) -> tuple[Change, ...]:
        """Return the changes that are not 'same'."""
        return tuple(change for change in self.changes if change.status is not Status.SAME)

    @property
    def has_differences(self) -> bool:
        """Tell whether any path differs (errors included)."""
        return any(change.status is not Status.SAME for change in self.changes)

    @property
    def has_errors(self) -> bool:
        """Tell whether any path could not be read."""
        return any(change.status is Status.ERROR for change in self.changes)

    def swapped(self) -> Diff:
        """Return the diff seen from the other side (left and right exchanged)."""
        return Diff(
            tuple(_swap_change(change) for change in self.changes),
            self.omitted_same,
            tuple((right, left) for left, right in self.moved_contents),
        )


_SWAPPED_STATUS = {Status.LEFT_ONLY: Status.RIGHT_ONLY, Status.RIGHT_ONLY: Status.LEFT_ONLY}


def _swap_change(change: Change) -> Change:
    status = _SWAPPED_STATUS.get(change.status, change.status)
    if status is Status.MOVED and change.moved_from is not None:
        return change._replace(
            left=change.right, right=change.left, path=change.moved_from, moved_from=change.path
        )
    return change._replace(status=status, left=change.right, right=change.left)


def pair_snapshots(
    left: Snapshot, right: Snapshot, policy: SamenessPolicy, normalize_unicode: bool = False
) -> list[Pairing]:
    """Match two snapshots by path and judge each pair; children of unreadable dirs are dropped."""
    if normalize_unicode:
        pairs = match_entries(left.entries, right.entries, normalized_key)
        pairings = [
            Pairing(a, b, judge_entries(a, b, policy) if a is not None and b is not None else None)
            for a, b in pairs
        ]
    else:
        pairings = _pair_exact(left.entries, right.entries, policy)
    return _drop_below_unreadable_dirs(pairings)


def _pair_exact(left: tuple[Entry, ...], right: tuple[Entry, ...], policy: SamenessPolicy) -> list[Pairing]:
    """Pair entries with identical paths; a hot loop, so the common quick file case is inlined."""
    right_by_path = {entry[0]: entry for entry in right}
    take = right_by_path.pop
    pairings: list[Pairing] = []
    append = pairings.append
    make = tuple.__new__
    pairing = Pairing
    file_kind = EntryKind.FILE
    same, changed = Verdict.SAME, Verdict.CHANGED
    quick = not policy.content
    compare_modes = policy.compare_modes
    window = mtime_window_ns(policy)
    for a in left:
        b = take(a[0], None)
        if b is None:
            append(make(pairing, (a, None, None)))
            continue
        kind = a[1]
        if quick and kind is file_kind and b[1] is file_kind and a[6] is None and b[6] is None:
            if a[2] != b[2]:
                verdict = changed
            else:
                a_time, b_time = a[3], b[3]
                if a_time is None or b_time is None or window is None:
                    verdict = changed
                elif a_time == b_time:
                    verdict = same
                else:
                    verdict = same if abs(a_time - b_time) <= window else changed
                if verdict is same and compare_modes and a[4] != b[4] and a[4] and b[4]:
                    verdict = Verdict.METADATA_CHANGED
        else:
            verdict = judge_entries(a, b, policy)
        append(make(pairing, (a, b, verdict)))
    if right_by_path:
        pairings.extend(make(pairing, (None, entry, None)) for entry in right if entry[0] in right_by_path)
        pairings.sort(key=_pairing_key)
    return pairings


def _pairing_key(pairing: Pairing) -> str:
    entry = pairing.left if pairing.left is not None else pairing.right
    assert entry is not None
    return sort_key(entry.path)


def _drop_below_unreadable_dirs(pairings: list[Pairing]) -> list[Pairing]:
    """Remove pairs below a directory that one side could not list (they cannot be compared)."""
    dir_kind = EntryKind.DIR
    unreadable = {
        (a or b).path  # type: ignore[union-attr]
        for a, b, _ in pairings
        if (a is not None and a[6] is not None and a[1] is dir_kind)
        or (b is not None and b[6] is not None and b[1] is dir_kind)
    }
    if not unreadable:
        return pairings
    kept: list[Pairing] = []
    blocked: RelPath | None = None
    for pairing in pairings:
        entry = pairing.left if pairing.left is not None else pairing.right
        assert entry is not None
        if blocked is not None and entry.path != blocked and is_inside(entry.path, blocked):
            continue
        blocked = None
        kept.append(pairing)
        if entry.path in unreadable:
            blocked = entry.path
    return kept


_VERDICT_STATUS = {
    Verdict.SAME: Status.SAME,
    Verdict.CHANGED: Status.CHANGED,
    Verdict.TYPE_CHANGED: Status.TYPE_CHANGED,
    Verdict.ERROR: Status.ERROR,
    Verdict.METADATA_CHANGED: Status.CHANGED,
}


def build_diff(
    pairings: Iterable[Pairing],
    content_results: Mapping[RelPath, bool | str] | None = None,
    policy: SamenessPolicy | None = None,
) -> Diff:
    """Turn judged pairings into a Diff.

    content_results answers each NEEDS_CONTENT pair by its left path: True (equal bytes),
    False (different bytes) or a string (the reason the bytes could not be read). policy is the one
    the pairings were judged with (it words metadata differences, and checks modes of equal bytes).
    """
    results = content_results or {}
    chosen = policy or SamenessPolicy(content=True)
    changes: list[Change] = []
    append = changes.append
    make = tuple.__new__
    change_type = Change
    same_verdict, same_status = Verdict.SAME, Status.SAME
    for left, right, verdict in pairings:
        if verdict is same_verdict:
            assert left is not None
            append(make(change_type, (left[0], same_status, left, right, None, None, None, None, False)))
            continue
        if left is None:
            assert right is not None
            reason = right.error
            status = Status.ERROR if reason is not None else Status.RIGHT_ONLY
            append(Change(right.path, status, None, right, reason))
            continue
        if right is None:
            reason = left.error
            status = Status.ERROR if reason is not None else Status.LEFT_ONLY
            append(Change(left.path, status, left, None, reason))
            continue
        assert verdict is not None
        if verdict is Verdict.NEEDS_CONTENT:
            outcome = results.get(left.path)
            if outcome is None:
                raise KeyError(f"no content result for {left.path!r}")
            if isinstance(outcome, str):
                append(Change(left.path, Status.ERROR, left, right, outcome))
            elif outcome:
                detail = metadata_difference(left, right, chosen)
                if detail is None:
                    append(Change(left.path, Status.SAME, left, right))
                else:
                    append(Change(left.path, Status.CHANGED, left, right, detail, metadata_only=True))
            else:
                append(Change(left.path, Status.CHANGED, left, right, "content differs"))
            continue
        if verdict is Verdict.METADATA_CHANGED:
            detail = metadata_difference(left, right, chosen) or "metadata differs"
            append(Change(left.path, Status.CHANGED, left, right, detail, metadata_only=True))
            continue
        detail = left.error or right.error if verdict is Verdict.ERROR else None
        append(Change(left.path, _VERDICT_STATUS[verdict], left, right, detail))
    return Diff(tuple(mark_name_twins(changes)))


def mark_name_twins(changes: list[Change]) -> list[Change]:
    """Link each left_only path to a right_only path spelled differently only by NFC/NFD or case."""
    left_only, right_only = Status.LEFT_ONLY, Status.RIGHT_ONLY
    one_sided = [
        index for index, change in enumerate(changes) if change[1] is left_only or change[1] is right_only
    ]
    if not one_sided:
        return changes
    for reason, fold in (
        (NameTwin.UNICODE_NORMALIZATION, nfc_path),
        (NameTwin.CASE, lambda path: nfc_path(path).casefold()),
    ):
        by_key: dict[tuple[Status, str], int] = {}
        for index in one_sided:
            change = changes[index]
            if change.twin is None:
                by_key.setdefault((change.status, fold(change.path)), index)
        for (status, folded), index in by_key.items():
            if status is not Status.LEFT_ONLY:
                continue
            other = by_key.get((Status.RIGHT_ONLY, folded))
            if other is None:
                continue
            left_change, right_change = changes[index], changes[other]
            changes[index] = left_change._replace(twin=right_change.path, twin_reason=reason)
            changes[other] = right_change._replace(twin=left_change.path, twin_reason=reason)
    return changes


def content_candidates(pairings: Iterable[Pairing]) -> list[tuple[Entry, Entry]]:
    """Return the pairs whose sameness can only be decided by comparing bytes."""
    return [
        (pairing.left, pairing.right)
        for pairing in pairings
        if pairing.verdict is Verdict.NEEDS_CONTENT and pairing.left is not None and pairing.right is not None
    ]


def diff_snapshots(
    left: Snapshot, right: Snapshot, policy: SamenessPolicy, normalize_unicode: bool = False
) -> Diff:
    """Return the diff of two snapshots decided by metadata alone (pure; content pairs raise)."""
    return build_diff(pair_snapshots(left, right, policy, normalize_unicode), policy=policy)
