"""The open directories reconcile tracks while their subtrees stream by (deleted, replaced, blocked)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dirkit.core.sync.base import BaseEntry, Side
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath


class FrameKind(enum.Enum):
    """Why the reconciler tracks an open directory while its subtree streams by."""

    DELETED_DIR = "deleted_dir"
    """Deleted on one side, unchanged on the other: removed there at its end unless something is kept."""
    DIR_TO_FILE = "dir_to_file"
    """Replaced by a file or link on one side: replaced on the other at its end unless something is kept."""
    BLOCKED = "blocked"
    """Conflicting or unreadable: nothing below it is touched."""


@dataclass(slots=True)
class Frame:
    """An open directory of the merge (its subtree follows it contiguously)."""

    kind: FrameKind
    path: RelPath
    side: Side | None = None
    """The side that deleted or replaced the directory."""
    kept: bool = False
    """Something below it is kept, so it stays (DELETED_DIR: it was made again on side)."""
    dir_entry: Entry | None = None
    """The directory on the other side."""
    replacement: Entry | None = None
    """DIR_TO_FILE: what replaced the directory."""
    base: BaseEntry | None = None
