"""The policy that decides whether two entries at one path are the same."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dirkit.core.tree.entry import Entry, EntryKind

NS_PER_SECOND = 1_000_000_000


class Verdict(enum.Enum):
    """What the sameness policy says of a pair of entries."""

    SAME = "same"
    CHANGED = "changed"
    TYPE_CHANGED = "type_changed"
    ERROR = "error"
    NEEDS_CONTENT = "needs_content"
    """Metadata cannot decide: the bytes must be compared."""
    METADATA_CHANGED = "metadata_changed"
    """The content is the same (or a directory's), but the mode, or a directory's mtime, differs."""


@dataclass(frozen=True, slots=True)
class SamenessPolicy:
    """How two entries are judged: by metadata (quick) or by content, and how loose mtimes may be."""

    content: bool = False
    modify_window_ns: int = 0
    """Mtimes this far apart still count as equal (rsync's --modify-window)."""
    mtime_resolution_ns: int | None = 1
    """The coarser mtime resolution of the two trees; differences below it are not seen. None: a tree
    has no usable mtimes, so mtimes never prove two files the same."""
    compare_modes: bool = True
    """Report permission bits that differ (what mirror sets); an unknown mode (0) never differs.
    Set only when both trees keep modes."""


def mtime_window_ns(policy: SamenessPolicy) -> int | None:
    """Return how far apart two mtimes may be and still count as equal (None: they never do)."""
    if policy.mtime_resolution_ns is None:
        return None
    return max(policy.modify_window_ns, policy.mtime_resolution_ns - 1)


def mtimes_equal(left: int | None, right: int | None, policy: SamenessPolicy) -> bool:
    """Tell whether two mtimes are equal within the policy's window and resolution.

    A missing mtime, or a tree without usable mtimes, is never equal: it cannot prove sameness.
    """
    window = mtime_window_ns(policy)
    if left is None or right is None or window is None:
        return False
    return abs(left - right) <= window


def modes_differ(left: Entry, right: Entry, policy: SamenessPolicy) -> bool:
    """Tell whether the permission bits of two files or directories differ (unknown modes never do)."""
    return (
        policy.compare_modes
        and left.mode != right.mode
        and 0 not in (left.mode, right.mode)
        and left.kind in _MODED_KINDS
    )


_MODED_KINDS = frozenset({EntryKind.FILE, EntryKind.DIR})


def dir_mtimes_differ(left: Entry, right: Entry, policy: SamenessPolicy) -> bool:
    """Tell whether two directories' mtimes differ in a quick comparison (content mode ignores them).

    Unknown directory mtimes never differ: nothing could settle them.
    """
    return (
        not policy.content
        and left.kind is EntryKind.DIR
        and policy.mtime_resolution_ns is not None
        and left.mtime_ns is not None
        and right.mtime_ns is not None
        and not mtimes_equal(left.mtime_ns, right.mtime_ns, policy)
    )


def metadata_difference(left: Entry, right: Entry, policy: SamenessPolicy) -> str | None:
    """Return what differs between two entries of equal content besides it (None: nothing).

    The words are 'mode 0644 -> 4777' (left's mode, then right's) and 'modification time differs'
    (directories, in quick mode); files' mtimes are part of their content verdict instead.
    """
    parts: list[str] = []
    if modes_differ(left, right, policy):
        parts.append(f"mode {left.mode:04o} -> {right.mode:04o}")
    if dir_mtimes_differ(left, right, policy):
        parts.append("modification time differs")
    return ", ".join(parts) if parts else None


def judge_entries(left: Entry, right: Entry, policy: SamenessPolicy) -> Verdict:
    """Return the verdict on two entries found at the same path."""
    if left.error is not None or right.error is not None:
        return Verdict.ERROR
    if left.kind is not right.kind:
        return Verdict.TYPE_CHANGED
    kind = left.kind
    if kind is EntryKind.FILE:
        if left.size != right.size:
            return Verdict.CHANGED
        if policy.content:
            if left.digest is not None and right.digest is not None:
                if left.digest != right.digest:
                    return Verdict.CHANGED
                return Verdict.METADATA_CHANGED if modes_differ(left, right, policy) else Verdict.SAME
            return Verdict.NEEDS_CONTENT
        if not mtimes_equal(left.mtime_ns, right.mtime_ns, policy):
            return Verdict.CHANGED
        return Verdict.METADATA_CHANGED if modes_differ(left, right, policy) else Verdict.SAME
    if kind is EntryKind.SYMLINK:
        return Verdict.SAME if left.target == right.target else Verdict.CHANGED
    if kind is EntryKind.DIR and (
        modes_differ(left, right, policy) or dir_mtimes_differ(left, right, policy)
    ):
        return Verdict.METADATA_CHANGED
    return Verdict.SAME
