"""Rendering of search results (find, grep, dupes) as text lines and JSON objects."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from dirkit.core.search.grep import LineRole, OutputLine, decode_for_display
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import display_path, is_valid_utf8
from dirkit.report.entries import path_fields
from dirkit.report.style import Style

KIND_LETTERS = {EntryKind.FILE: "f", EntryKind.DIR: "d", EntryKind.SYMLINK: "l", EntryKind.OTHER: "o"}


def json_text(record: object) -> str:
    """Return record as one line of JSON, non-ASCII kept (json is imported on first use: --json only)."""
    import json

    return json.dumps(record, ensure_ascii=False)


def output_bytes(text: str) -> bytes:
    """Return text for standard output: names keep their raw bytes, everything else is UTF-8."""
    return text.encode("utf-8", "surrogateescape")


def grep_line_text(
    shown_path: str, line: OutputLine, with_number: bool, style: Style, spans: Sequence[tuple[int, int]] = ()
) -> str:
    """Return one output line like grep's: 'path:12:text' (':' for matches, '-' for context)."""
    if line.role is LineRole.BREAK:
        return style.paint("--", "cyan")
    mark = style.paint(line.role.value, "cyan")
    head = style.paint(shown_path, "magenta") + mark
    if with_number:
        head += style.paint(str(line.number), "green") + mark
    return head + highlighted(line.text, spans, style)


def grep_lines_plain(shown_path: str, lines: Sequence[OutputLine], with_number: bool) -> bytes:
    """Return uncoloured output lines as bytes, each ending in a newline (the fast common case)."""
    head = output_bytes(shown_path)
    match_head = head + b":"
    context_head = head + b"-"
    pieces: list[bytes] = []
    append = pieces.append
    for number, raw, role in lines:
        if role is LineRole.MATCH:
            start = match_head + str(number).encode() + b":" if with_number else match_head
        elif role is LineRole.CONTEXT:
            start = context_head + str(number).encode() + b"-" if with_number else context_head
        else:
            append(b"--\n")
            continue
        text = raw if raw.isascii() else decode_for_display(raw).encode()
        append(start + text + b"\n")
    return b"".join(pieces)


def highlighted(raw: bytes, spans: Sequence[tuple[int, int]], style: Style) -> str:
    """Return raw decoded for display with the given byte spans painted as matches."""
    if not style.enabled or not spans:
        return decode_for_display(raw)
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces.append(decode_for_display(raw[position:start]))
        pieces.append(style.paint(decode_for_display(raw[start:end]), "red"))
        position = end
    pieces.append(decode_for_display(raw[position:]))
    return "".join(pieces)


def grep_line_json(shown_path: str, line: OutputLine) -> str:
    """Return one matching or context line as a JSON object (text_b64 keeps bytes that are not UTF-8)."""
    record: dict[str, Any] = path_fields("path", shown_path)
    record["line"] = line.number
    record["kind"] = "match" if line.role is LineRole.MATCH else "context"
    record["text"] = decode_for_display(line.text)
    if not line.text.isascii() and "\ufffd" in record["text"]:
        record["text_b64"] = base64.b64encode(line.text).decode("ascii")
    return json_text(record)


def grep_count_json(shown_path: str, count: int) -> str:
    """Return one file's count of matching lines as a JSON object."""
    record: dict[str, Any] = path_fields("path", shown_path)
    record["count"] = count
    return json_text(record)


def path_json(shown_path: str) -> str:
    """Return a JSON object naming one path."""
    return json_text(path_fields("path", shown_path))


def mtime_text(mtime_ns: int | None) -> str:
    """Return a modification time as local 'YYYY-MM-DD HH:MM:SS', or '-' when unknown."""
    if mtime_ns is None:
        return "-"
    import datetime  # imported on first use (--long only)

    moment = datetime.datetime.fromtimestamp(mtime_ns / 1e9)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def find_long_text(shown_path: str, entry: Entry) -> str:
    """Return a --long line: kind letter, size, mtime and path (and a symlink's target)."""
    line = f"{KIND_LETTERS[entry.kind]} {entry.size:>12} {mtime_text(entry.mtime_ns)} {shown_path}"
    if entry.kind is EntryKind.SYMLINK and entry.target is not None:
        line += f" -> {entry.target}"
    return line


def find_json(shown_path: str, entry: Entry) -> str:
    """Return one found entry as a JSON object: path, kind, size, mtime_ns (and target)."""
    record: dict[str, Any] = path_fields("path", shown_path)
    record["kind"] = entry.kind.value
    record["size"] = entry.size
    record["mtime_ns"] = entry.mtime_ns
    if entry.kind is EntryKind.SYMLINK and entry.target is not None:
        record["target"] = display_path(entry.target)
    return json_text(record)


def dupe_step_json(action: str, shown_target: str, shown_keeper: str, skipped: str | None) -> str:
    """Return one step of a dedupe plan as {"action": ..., "path": ..., "keep": ...} (and why skipped)."""
    record: dict[str, Any] = {"action": action, **path_fields("path", shown_target)}
    record.update(path_fields("keep", shown_keeper))
    if skipped:
        record["skipped"] = skipped
    return json_text(record)


def dupes_group_json(size: int, shown_paths: Sequence[str]) -> str:
    """Return one group of identical files as {"size": ..., "files": [...]}."""
    record: dict[str, Any] = {"size": size, "files": [display_path(path) for path in shown_paths]}
    raw = [path for path in shown_paths if not is_valid_utf8(path)]
    if raw:
        record["files_b64"] = [path_fields("path", path).get("path_b64") for path in shown_paths]
    return json_text(record)
