"""Pure checks of archive members before extraction: paths, links, special files, bits, limits."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from dirkit.core.tree.filters import RESERVED_DIR_NAME, TEMP_MARKER
from dirkit.core.tree.paths import ROOT, RelPath, display_path
from dirkit.errors import ArchiveLimitError, UnsafeArchiveError

SETUID_SETGID = 0o6000
MAX_LINK_HOPS = 40
DEFAULT_MAX_RATIO = 200.0
DEFAULT_RATIO_FLOOR = 1024 * 1024
DEFAULT_MAX_MEMBERS = 1_000_000

BACKSLASH_REFUSAL = (
    "holds a backslash, which dirkit refuses in archive names "
    "(a Windows separator would hide '..' or an absolute path)"
)

_DRIVE = re.compile(r"[A-Za-z]:")


class _LinkLoopError(Exception):
    """Raised inside link resolution when more than MAX_LINK_HOPS links are followed."""


class MemberKind(enum.Enum):
    """What an archive member would create."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    DEVICE = "device"
    FIFO = "fifo"
    OTHER = "other"


class ArchiveMember(NamedTuple):
    """One member of an archive as its header describes it."""

    name: str
    kind: MemberKind
    size: int = 0
    mode: int = 0o644
    mtime_ns: int | None = None
    link_target: str | None = None
    compressed_size: int | None = None
    """The stored size, for formats that compress member by member (zip)."""


@dataclass(frozen=True, slots=True)
class ExtractionLimits:
    """How far an extraction may go before it stops: bytes written, members, expansion ratio."""

    max_total_bytes: int
    max_ratio: float = DEFAULT_MAX_RATIO
    ratio_floor_bytes: int = DEFAULT_RATIO_FLOOR
    """Below this many bytes written the ratio is not checked (tiny archives expand a lot)."""
    max_members: int = DEFAULT_MAX_MEMBERS


def member_path(member: ArchiveMember) -> RelPath:
    """Return the member's safe path below DEST ('' for the root itself), or raise UnsafeArchiveError."""
    name = member.name
    if "\0" in name:
        raise UnsafeArchiveError(f"{display_path(name)}: member name holds a NUL byte")
    if "\\" in name:
        raise UnsafeArchiveError(f"{display_path(name)}: {BACKSLASH_REFUSAL}")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeArchiveError(f"{display_path(name)}: member has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{display_path(name)}: member path escapes DEST with '..'")
    if parts and parts[0] == RESERVED_DIR_NAME:
        raise UnsafeArchiveError(
            f"{display_path(name)}: member writes into dirkit's own {RESERVED_DIR_NAME}/ folder"
        )
    if RESERVED_DIR_NAME in parts:
        raise UnsafeArchiveError(
            f"{display_path(name)}: member name holds a {RESERVED_DIR_NAME} component, "
            "which dirkit never scans (it would hide from find, compare, verify and mirror)"
        )
    if TEMP_MARKER in name:
        raise UnsafeArchiveError(
            f"{display_path(name)}: member name holds dirkit's temporary marker {TEMP_MARKER}"
        )
    return RelPath("/".join(parts))


def check_member(member: ArchiveMember) -> RelPath:
    """Return the safe path of a member, or raise UnsafeArchiveError for any reason to refuse it."""
    path = member_path(member)
    kind = member.kind
    if kind is MemberKind.FILE and not member.mode & SETUID_SETGID and path:
        return path
    shown = display_path(member.name)
    if kind is MemberKind.DEVICE:
        raise UnsafeArchiveError(f"{shown}: member is a device file")
    if kind in (MemberKind.FIFO, MemberKind.OTHER):
        raise UnsafeArchiveError(f"{shown}: member is a special file ({kind.value})")
    if member.mode & SETUID_SETGID and kind in (MemberKind.FILE, MemberKind.DIR):
        raise UnsafeArchiveError(f"{shown}: member has the setuid or setgid bit (mode {member.mode:o})")
    if path == ROOT and kind is not MemberKind.DIR:
        raise UnsafeArchiveError(f"{shown}: member has an empty path")
    if kind is MemberKind.SYMLINK:
        target = member.link_target or ""
        if not target:
            raise UnsafeArchiveError(f"{shown}: symlink has an empty target")
        if "\\" in target:
            raise UnsafeArchiveError(f"{shown}: symlink target {display_path(target)}: {BACKSLASH_REFUSAL}")
        if target.startswith("/") or _DRIVE.match(target):
            raise UnsafeArchiveError(f"{shown}: symlink points to an absolute path {display_path(target)}")
        if resolve_link(path, target, {}) is None:
            raise UnsafeArchiveError(f"{shown}: symlink points outside DEST ({display_path(target)})")
    return path


def check_hardlink(member: ArchiveMember, files_written: Mapping[RelPath, object]) -> RelPath:
    """Return the path a hard link member links to, which must be a file this archive already wrote."""
    target = member.link_target or ""
    try:
        target_path = member_path(ArchiveMember(target, MemberKind.FILE))
    except UnsafeArchiveError as error:
        raise UnsafeArchiveError(f"{display_path(member.name)}: hard link target: {error}") from error
    if target_path not in files_written:
        raise UnsafeArchiveError(
            f"{display_path(member.name)}: hard link to {display_path(target)}, "
            "which is not a file extracted before it"
        )
    return target_path


def resolve_link(link: RelPath, target: str, links: Mapping[RelPath, str]) -> RelPath | None:
    """Return where a symlink at link leads inside DEST through the given links; None if outside or a loop."""
    start = link.split("/")[:-1] if link else []
    try:
        resolved = _resolve(start, target, links, [0])
    except _LinkLoopError:
        return None
    return None if resolved is None else RelPath("/".join(resolved))


def _resolve(
    start: list[str], target: str, links: Mapping[RelPath, str], hops: list[int]
) -> list[str] | None:
    if target.startswith(("/", "\\")) or _DRIVE.match(target):
        return None
    parts = list(start)
    for component in target.split("/"):
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(component)
        inner = links.get(RelPath("/".join(parts)))
        if inner is not None:
            hops[0] += 1
            if hops[0] > MAX_LINK_HOPS:
                raise _LinkLoopError
            followed = _resolve(parts[:-1], inner, links, hops)
            if followed is None:
                return None
            parts = followed
    return parts


def first_escaping_link(links: Mapping[RelPath, str]) -> RelPath | None:
    """Return the first link (in path order) that leads outside DEST through the others or loops, or None."""
    found = first_unsafe_link(links)
    return None if found is None else found[0]


def first_unsafe_link(links: Mapping[RelPath, str]) -> tuple[RelPath, str] | None:
    """Return the first link (in path order) that loops or leads outside DEST through the others, and why."""
    for link in sorted(links):
        reason = link_refusal(link, links)
        if reason is not None:
            return link, reason
    return None


def link_refusal(link: RelPath, links: Mapping[RelPath, str]) -> str | None:
    """Return why the symlink at link (one of links) is refused (a loop, or leading outside DEST), or None."""
    start = link.split("/")[:-1] if link else []
    try:
        resolved = _resolve(start, links[link], links, [0])
    except _LinkLoopError:
        return f"symlink loop (still not resolved after {MAX_LINK_HOPS} links)"
    if resolved is None:
        return "symlink leads outside DEST through other links"
    return None


def link_above(path: RelPath, links: Mapping[RelPath, str]) -> RelPath | None:
    """Return the symlink among links that path lies below (a write through it), or None."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        candidate = RelPath("/".join(parts[:depth]))
        if candidate in links:
            return candidate
    return None


def check_declared_ratio(member: ArchiveMember, limits: ExtractionLimits) -> None:
    """Raise ArchiveLimitError if a member's declared sizes show a compression ratio past the limit."""
    stored = member.compressed_size
    if stored is None or member.size <= limits.ratio_floor_bytes:
        return
    if member.size > limits.max_ratio * max(stored, 1):
        raise ArchiveLimitError(
            f"{display_path(member.name)}: compression ratio {member.size / max(stored, 1):.0f}:1 "
            f"is past the limit of {limits.max_ratio:g}:1 (a zip bomb?)"
        )


def check_totals(
    written_bytes: int, members: int, archive_bytes: int, limits: ExtractionLimits, source: str
) -> None:
    """Raise ArchiveLimitError if the bytes written or members seen so far pass the limits."""
    if written_bytes > limits.max_total_bytes:
        raise ArchiveLimitError(
            f"{source}: extraction passed the size limit of {limits.max_total_bytes} bytes"
        )
    if members > limits.max_members:
        raise ArchiveLimitError(f"{source}: archive holds more than {limits.max_members} members")
    if written_bytes > limits.ratio_floor_bytes and written_bytes > limits.max_ratio * max(archive_bytes, 1):
        raise ArchiveLimitError(
            f"{source}: expands more than {limits.max_ratio:g} times its size "
            f"({written_bytes} bytes from {archive_bytes}; a compression bomb?)"
        )
