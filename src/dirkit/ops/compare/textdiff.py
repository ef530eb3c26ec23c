"""Read both versions of a changed file, with a size cap, and diff them as text."""

from __future__ import annotations

from dirkit.backends.protocol import Backend
from dirkit.core.compare.textdiff import TextDiff, make_text_diff
from dirkit.core.tree.entry import Entry
from dirkit.errors import BackendError

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_LINES = 400


def _read_capped(backend: Backend, entry: Entry, max_bytes: int) -> bytes | None:
    with backend.open_read(entry.path) as stream:
        data = stream.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def read_both_capped(
    left: Backend, right: Backend, left_entry: Entry, right_entry: Entry, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[bytes, bytes] | TextDiff:
    """Return both versions of a file, or the note-only TextDiff that says why they cannot be diffed."""
    path = left_entry.path
    try:
        old = _read_capped(left, left_entry, max_bytes)
        new = _read_capped(right, right_entry, max_bytes)
    except BackendError as error:
        return TextDiff(path, note=f"cannot read: {error.strerror or error}")
    if old is None or new is None:
        return TextDiff(path, note=f"too large to diff (over {max_bytes} bytes)")
    return old, new


def unified_diff_of(
    left: Backend,
    right: Backend,
    left_entry: Entry,
    right_entry: Entry,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_lines: int = DEFAULT_MAX_LINES,
) -> TextDiff:
    """Return the unified diff of two versions of a file, capped at max_bytes each and max_lines."""
    versions = read_both_capped(left, right, left_entry, right_entry, max_bytes)
    if isinstance(versions, TextDiff):
        return versions
    return make_text_diff(left_entry.path, *versions, max_lines)
