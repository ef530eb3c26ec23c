"""The policy that decides whether two entries at one path are the same."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dirkit.core.entry import Entry, EntryKind

NS_PER_SECOND = 1_000_000_000


class Verdict(enum.Enum):
    """What the sameness policy says of a pair of entries."""

    SAME = "same"
    CHANGED = "changed"
    TYPE_CHANGED = "type_changed"
    ERROR = "error"
    NEEDS_CONTENT = "needs_content"
    """Metadata cannot decide: the bytes must be compared."""


@dataclass(frozen=True, slots=True)
class SamenessPolicy:
    """How two entries are judged: by metadata (quick) or by content, and how loose mtimes may be."""

    content: bool = False
    modify_window_ns: int = 0
    """Mtimes this far apart still count as equal (rsync's --modify-window)."""
    mtime_resolution_ns: int = 1
    """The coarser mtime resolution of the two trees; differences below it are not seen."""


def mtimes_equal(left: int | None, right: int | None, policy: SamenessPolicy) -> bool:
    """Tell whether two mtimes are equal within the policy's window and resolution."""
    if left is None or right is None:
        return True
    window = max(policy.modify_window_ns, policy.mtime_resolution_ns - 1)
    return abs(left - right) <= window


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
                return Verdict.SAME if left.digest == right.digest else Verdict.CHANGED
            return Verdict.NEEDS_CONTENT
        return Verdict.SAME if mtimes_equal(left.mtime_ns, right.mtime_ns, policy) else Verdict.CHANGED
    if kind is EntryKind.SYMLINK:
        return Verdict.SAME if left.target == right.target else Verdict.CHANGED
    return Verdict.SAME
