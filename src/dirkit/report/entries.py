"""Entries and changes as JSON-ready dicts, with non-UTF-8 names kept recoverable."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import display_path, is_valid_utf8

if TYPE_CHECKING:
    from dirkit.core.compare.diff import Change


def path_fields(key: str, path: str) -> dict[str, str]:
    """Return {key: printable path}, plus key_b64 with the raw bytes when the name is not UTF-8."""
    fields = {key: display_path(path) if not is_valid_utf8(path) else path}
    if not is_valid_utf8(path):
        raw = path.encode("utf-8", "surrogateescape")
        fields[f"{key}_b64"] = base64.b64encode(raw).decode("ascii")
    return fields


def entry_to_json(entry: Entry | None, change_path: str) -> dict[str, Any] | None:
    """Return an entry as a JSON-ready dict (None stays None)."""
    if entry is None:
        return None
    fields: dict[str, Any] = {
        "kind": entry.kind.value,
        "size": entry.size,
        "mtime_ns": entry.mtime_ns,
        "mode": f"{entry.mode:04o}",
    }
    if entry.kind is EntryKind.SYMLINK:
        fields["target"] = display_path(entry.target or "")
    if entry.digest is not None:
        fields["digest"] = entry.digest
    if entry.error is not None:
        fields["error"] = entry.error
    if entry.path != change_path:
        fields.update(path_fields("path", entry.path))
    return fields


def change_to_json(change: Change) -> dict[str, Any]:
    """Return a change as one JSON Lines object."""
    record: dict[str, Any] = path_fields("path", change.path)
    record["status"] = change.status.value
    if change.moved_from is not None:
        record.update(path_fields("from", change.moved_from))
    record["left"] = entry_to_json(change.left, change.path)
    record["right"] = entry_to_json(change.right, change.path)
    if change.detail is not None:
        record["detail"] = change.detail
    if change.twin is not None and change.twin_reason is not None:
        record["name_twin"] = {
            "reason": change.twin_reason.value,
            **path_fields("path", change.twin),
        }
    return record
