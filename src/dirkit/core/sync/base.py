"""The base of a two-way sync (what both sides last agreed on, per path) and update detection against it."""

from __future__ import annotations

import enum
from typing import NamedTuple

from dirkit.core.compare.sameness import SamenessPolicy, mtimes_equal
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath


class Side(enum.Enum):
    """One of the two trees of a sync."""

    A = "A"
    B = "B"

    @property
    def other(self) -> Side:
        """Return the other side."""
        return Side.B if self is Side.A else Side.A


class BaseEntry(NamedTuple):
    """What both sides held at path when they last agreed: one content, each side's own mtime and mode.

    size and target describe the agreed content; a_mtime_ns/a_mode are what side A showed then, and
    b_mtime_ns/b_mode what side B showed (they differ where a side cannot set mtimes or modes).
    """

    path: RelPath
    kind: EntryKind
    size: int = 0
    a_mtime_ns: int | None = None
    a_mode: int = 0
    b_mtime_ns: int | None = None
    b_mode: int = 0
    target: str | None = None
    digest: str | None = None

    def mtime_on(self, side: Side) -> int | None:
        """Return the mtime the side showed when both agreed."""
        return self.a_mtime_ns if side is Side.A else self.b_mtime_ns

    def mode_on(self, side: Side) -> int:
        """Return the mode the side showed when both agreed."""
        return self.a_mode if side is Side.A else self.b_mode


BaseRecord = tuple[bytes, str, int, int | None, int, int | None, int, bytes | None, str | None]
"""A base row as the state database keeps it: the path's component-order key (UTF-8, "/" as NUL),
the kind's value, the size, A's mtime and mode, B's mtime and mode, the link target (UTF-8), the digest.

The streaming merge reads these as they come, and makes a BaseEntry only for the paths it yields.
"""

KIND_OF_VALUE = {kind.value: kind for kind in EntryKind}
"""Each entry kind by its stored value."""


def record_key(path: str) -> bytes:
    """Return the key that orders paths component by component, as SQLite's byte order sorts blobs."""
    return path.replace("/", "\0").encode("utf-8", "surrogatepass")


def base_record(entry: BaseEntry) -> BaseRecord:
    """Return the stored form of a base entry."""
    target = None if entry.target is None else entry.target.encode("utf-8", "surrogatepass")
    return (
        record_key(entry.path),
        entry.kind.value,
        entry.size,
        entry.a_mtime_ns,
        entry.a_mode,
        entry.b_mtime_ns,
        entry.b_mode,
        target,
        entry.digest,
    )


def base_entry_of(record: BaseRecord) -> BaseEntry:
    """Return the base entry a stored row holds."""
    key, kind, size, a_mtime, a_mode, b_mtime, b_mode, target, digest = record
    path = RelPath(key.decode("utf-8", "surrogatepass").replace("\0", "/"))
    link = None if target is None else bytes(target).decode("utf-8", "surrogatepass")
    return BaseEntry(path, KIND_OF_VALUE[kind], size, a_mtime, a_mode, b_mtime, b_mode, link, digest)


def base_of(path: RelPath, a: Entry, b: Entry, digest: str | None = None) -> BaseEntry:
    """Return the base entry recording that a (on side A) and b (on side B) hold the same content."""
    return BaseEntry(
        path, a.kind, a.size, a.mtime_ns, a.mode, b.mtime_ns, b.mode, a.target, digest or a.digest or b.digest
    )


def base_with_side(base: BaseEntry, side: Side, entry: Entry) -> BaseEntry:
    """Return base with what side now shows at its path (same content, new mtime or mode)."""
    if side is Side.A:
        return base._replace(a_mtime_ns=entry.mtime_ns, a_mode=entry.mode)
    return base._replace(b_mtime_ns=entry.mtime_ns, b_mode=entry.mode)


class SideChange(enum.Enum):
    """How one side's entry at a path differs from the base."""

    ABSENT = "absent"
    """No base and nothing on this side."""
    UNCHANGED = "unchanged"
    NEW = "new"
    """No base, something on this side."""
    MODIFIED = "modified"
    """Content or kind changed."""
    METADATA = "metadata"
    """Same content (same size, and same digest or same mtime), but a new mtime or mode."""
    DELETED = "deleted"

    @property
    def touched(self) -> bool:
        """Tell whether the side did anything at the path since the base."""
        return self not in (SideChange.ABSENT, SideChange.UNCHANGED)

    @property
    def has_content_update(self) -> bool:
        """Tell whether the side holds new content (or a new entry) at the path."""
        return self in (SideChange.NEW, SideChange.MODIFIED)


def is_suspect(base: BaseEntry | None, side: Side, entry: Entry | None, policy: SamenessPolicy) -> bool:
    """Tell whether a file kept its size but not its mtime: only its digest tells whether it changed."""
    if base is None or entry is None or base.kind is not EntryKind.FILE or entry.kind is not EntryKind.FILE:
        return False
    return entry.size == base.size and not mtimes_equal(entry.mtime_ns, base.mtime_on(side), policy)


def detect_change(
    base: BaseEntry | None,
    side: Side,
    entry: Entry | None,
    policy: SamenessPolicy,
    digest: str | None = None,
    other_digest: str | None = None,
) -> SideChange:
    """Return how entry (what side holds now) differs from the base, like Unison's fastcheck.

    A file changed when its kind, size, mtime or mode differ; when only its mtime differs and its
    digest equals the base's (or, without one, the other side's unchanged digest), only metadata did.
    Directories change only by kind (their mtimes and modes are not synced).
    """
    if base is None:
        return SideChange.ABSENT if entry is None else SideChange.NEW
    if entry is None:
        return SideChange.DELETED
    if entry.kind is not base.kind:
        return SideChange.MODIFIED
    if entry.kind is EntryKind.SYMLINK:
        return SideChange.UNCHANGED if entry.target == base.target else SideChange.MODIFIED
    if entry.kind is not EntryKind.FILE:
        return SideChange.UNCHANGED
    if entry.size != base.size:
        return SideChange.MODIFIED
    if not mtimes_equal(entry.mtime_ns, base.mtime_on(side), policy):
        reference = base.digest or other_digest
        if digest is not None and reference is not None and digest == reference:
            return SideChange.METADATA
        return SideChange.MODIFIED
    base_mode = base.mode_on(side)
    if policy.compare_modes and entry.mode != base_mode and 0 not in (entry.mode, base_mode):
        return SideChange.METADATA
    return SideChange.UNCHANGED


def same_content(a: Entry, b: Entry, digests: tuple[str | None, str | None]) -> bool:
    """Tell whether two entries hold the same content (files: equal size and equal known digests)."""
    if a.kind is not b.kind:
        return False
    if a.kind is EntryKind.FILE:
        digest_a, digest_b = digests
        return a.size == b.size and digest_a is not None and digest_a == digest_b
    if a.kind is EntryKind.SYMLINK:
        return a.target == b.target
    return True
