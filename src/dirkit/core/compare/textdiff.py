"""Unified diffs of two versions of a text file, as a pure function of their bytes."""

from __future__ import annotations

from dataclasses import dataclass

from dirkit.core.tree.paths import RelPath, display_path

BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class TextDiff:
    """The unified diff of one changed file, or a note saying why none is shown."""

    path: RelPath
    lines: tuple[str, ...] = ()
    note: str | None = None


def looks_binary(data: bytes) -> bool:
    """Tell whether data looks binary (a NUL byte in its first 8 KiB)."""
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def make_text_diff(path: RelPath, old: bytes, new: bytes, max_lines: int) -> TextDiff:
    """Return the unified diff of old and new bytes of path, at most max_lines long."""
    if looks_binary(old) or looks_binary(new):
        return TextDiff(path, note="binary files differ")
    import difflib  # loaded only when a diff is shown (it costs compare's start-up otherwise)

    shown = display_path(path)
    lines = list(
        difflib.unified_diff(
            old.decode("utf-8", "replace").splitlines(),
            new.decode("utf-8", "replace").splitlines(),
            fromfile=f"left/{shown}",
            tofile=f"right/{shown}",
            lineterm="",
        )
    )
    if not lines:
        return TextDiff(path, note="same text, different bytes (line endings or encoding)")
    if len(lines) > max_lines:
        cut = len(lines) - max_lines
        return TextDiff(path, tuple(lines[:max_lines]), note=f"{cut} more diff lines not shown")
    return TextDiff(path, tuple(lines))
