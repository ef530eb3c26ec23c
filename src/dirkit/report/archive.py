"""What pack and unpack wrote, and an archive's listing, as JSON records or lines of text."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Protocol

from dirkit.core.archive.formats import ArchiveFormat
from dirkit.core.archive.safety import ArchiveMember
from dirkit.core.tree.paths import display_path
from dirkit.report.entries import path_fields


class PackedArchive(Protocol):
    """What pack wrote and what it left out."""

    @property
    def archive(self) -> str: ...
    @property
    def archive_format(self) -> ArchiveFormat: ...
    @property
    def files(self) -> int: ...
    @property
    def dirs(self) -> int: ...
    @property
    def symlinks(self) -> int: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def archive_bytes(self) -> int: ...
    @property
    def skipped(self) -> Sequence[tuple[str, str]]: ...


class UnpackedArchive(Protocol):
    """What unpack wrote, and where it put what it replaced."""

    @property
    def dest(self) -> str: ...
    @property
    def files(self) -> int: ...
    @property
    def dirs(self) -> int: ...
    @property
    def symlinks(self) -> int: ...
    @property
    def bytes_written(self) -> int: ...
    @property
    def replaced(self) -> Sequence[str]: ...
    @property
    def backup_folder(self) -> str | None: ...
    @property
    def run_id(self) -> str | None: ...


def pack_json(packed: PackedArchive) -> str:
    """Return what pack wrote as a JSON record."""
    summary = {
        "archive": packed.archive,
        "format": packed.archive_format.value,
        "files": packed.files,
        "dirs": packed.dirs,
        "symlinks": packed.symlinks,
        "bytes": packed.bytes_in,
        "archive_bytes": packed.archive_bytes,
        "skipped": [{"path": path, "reason": reason} for path, reason in packed.skipped],
    }
    return json.dumps(summary, ensure_ascii=False)


def pack_text(packed: PackedArchive) -> str:
    """Return what pack wrote as a line of text."""
    return (
        f"packed {packed.files} files, {packed.dirs} dirs, {packed.symlinks} symlinks "
        f"({packed.bytes_in} bytes) into {packed.archive} ({packed.archive_bytes} bytes)"
    )


def unpack_json(unpacked: UnpackedArchive) -> str:
    """Return what unpack wrote as a JSON record (replaced_b64 too when a replaced name is not UTF-8)."""
    replaced = [path_fields("path", path) for path in unpacked.replaced]
    summary: dict[str, object] = {
        **path_fields("dest", unpacked.dest),
        "files": unpacked.files,
        "dirs": unpacked.dirs,
        "symlinks": unpacked.symlinks,
        "bytes": unpacked.bytes_written,
        "replaced": [fields["path"] for fields in replaced],
        "backup_folder": None if unpacked.backup_folder is None else display_path(unpacked.backup_folder),
        "run_id": unpacked.run_id,
    }
    if any("path_b64" in fields for fields in replaced):
        summary["replaced_b64"] = [fields.get("path_b64") for fields in replaced]
    return json.dumps(summary, ensure_ascii=False)


def unpack_text(unpacked: UnpackedArchive) -> list[str]:
    """Return what unpack wrote as lines of text, with how to revert a journaled unpack."""
    lines = [
        f"unpacked {unpacked.files} files, {unpacked.dirs} new dirs, {unpacked.symlinks} symlinks "
        f"({unpacked.bytes_written} bytes) into {unpacked.dest}"
    ]
    if unpacked.replaced:
        lines.append(
            f"replaced {len(unpacked.replaced)} existing paths; originals kept in {unpacked.backup_folder}"
        )
    if unpacked.run_id is not None:
        lines.append(f"unpack run {unpacked.run_id}; 'dirkit undo {unpacked.dest}' reverts it")
    return lines


def member_json(member: ArchiveMember, refusal: str | None) -> str:
    """Return one listed archive member, and why unpack would refuse it (null: it would not)."""
    record: dict[str, object] = {**path_fields("name", member.name)}
    record.update(kind=member.kind.value, size=member.size, mode=member.mode, mtime_ns=member.mtime_ns)
    if member.link_target is None:
        record["link_target"] = None
    else:
        record.update(path_fields("link_target", member.link_target))
    record["refused"] = None if refusal is None else display_path(refusal)
    return json.dumps(record, ensure_ascii=False)


def member_text(member: ArchiveMember, refusal: str | None) -> str:
    """Return one listed archive member as a line: kind, mode, size, UTC time, name, refusal."""
    when = "-"
    if member.mtime_ns is not None:
        moment = datetime.datetime.fromtimestamp(member.mtime_ns / 1e9, datetime.UTC)
        when = moment.strftime("%Y-%m-%d %H:%M")
    mode = member.mode & 0o7777
    text = f"{member.kind.value:8} {mode:04o} {member.size:>12} {when}  {display_path(member.name)}"
    if member.link_target is not None:
        text += f" -> {display_path(member.link_target)}"
    if refusal is not None:
        text += f"  [refused: {refusal}]"
    return text
