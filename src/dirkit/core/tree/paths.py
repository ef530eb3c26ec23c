"""Relative paths inside a tree: validation, normalization, joining, ordering and display."""

from __future__ import annotations

import unicodedata
from typing import NewType

from dirkit.errors import InvalidPathError

RelPath = NewType("RelPath", str)
"""A validated '/'-separated path relative to a tree's root; the root itself is ''."""

ROOT = RelPath("")


def rel_path(text: str) -> RelPath:
    """Return text as a normalized RelPath, or raise InvalidPathError if it is absolute or escapes."""
    if "\0" in text:
        raise InvalidPathError(f"{display_path(text)}: path holds a NUL byte")
    if text.startswith("/"):
        raise InvalidPathError(f"{display_path(text)}: path is absolute, expected a relative path")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidPathError(f"{display_path(text)}: path escapes its root with '..'")
    return RelPath("/".join(parts))


def join_path(parent: RelPath, name: str) -> RelPath:
    """Return the path of a child called name inside parent (name must be one component)."""
    return RelPath(f"{parent}/{name}" if parent else name)


def parent_path(path: RelPath) -> RelPath:
    """Return the directory that holds path ('' for a top-level name)."""
    cut = path.rfind("/")
    return RelPath(path[:cut]) if cut >= 0 else ROOT


def base_name(path: RelPath) -> str:
    """Return the last component of path."""
    return path[path.rfind("/") + 1 :]


def path_parts(path: RelPath) -> tuple[str, ...]:
    """Return the components of path (empty for the root)."""
    return tuple(path.split("/")) if path else ()


def is_inside(path: RelPath, ancestor: RelPath) -> bool:
    """Tell whether path is ancestor itself or lies below it."""
    if not ancestor:
        return True
    return path == ancestor or path.startswith(ancestor + "/")


def sort_key(path: str) -> str:
    """Return a key that orders paths component by component ('a/b' before 'a-b')."""
    return path.replace("/", "\0")


def nfc_path(path: str) -> str:
    """Return path with every component in Unicode normalization form C."""
    return unicodedata.normalize("NFC", path)


def display_path(path: str) -> str:
    """Return path printable on one line: undecodable bytes as \\xNN, control characters escaped."""
    raw = path.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text
    )


def is_valid_utf8(path: str) -> bool:
    """Tell whether path decodes from valid UTF-8 (holds no escaped surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
