"""Archive formats: which one a file name asks for, and which one leading bytes reveal (pure)."""

from __future__ import annotations

import enum

from dirkit.errors import UsageError


class ArchiveFormat(enum.Enum):
    """An archive container and its compression."""

    ZIP = "zip"
    TAR = "tar"
    TAR_GZ = "tar.gz"
    TAR_BZ2 = "tar.bz2"
    TAR_XZ = "tar.xz"
    TAR_ZST = "tar.zst"


_SUFFIXES: tuple[tuple[str, ArchiveFormat], ...] = (
    (".tar.gz", ArchiveFormat.TAR_GZ),
    (".tgz", ArchiveFormat.TAR_GZ),
    (".tar.bz2", ArchiveFormat.TAR_BZ2),
    (".tbz2", ArchiveFormat.TAR_BZ2),
    (".tar.xz", ArchiveFormat.TAR_XZ),
    (".txz", ArchiveFormat.TAR_XZ),
    (".tar.zst", ArchiveFormat.TAR_ZST),
    (".tzst", ArchiveFormat.TAR_ZST),
    (".tar", ArchiveFormat.TAR),
    (".zip", ArchiveFormat.ZIP),
)

SUPPORTED_SUFFIXES = ".zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .tar.zst"

MAGIC_BYTES_NEEDED = 512


def format_from_name(name: str) -> ArchiveFormat:
    """Return the format a file name asks for, or raise UsageError naming the supported suffixes."""
    lowered = name.lower()
    for suffix, archive_format in _SUFFIXES:
        if lowered.endswith(suffix):
            return archive_format
    raise UsageError(f"{name}: cannot tell the archive format from the name (use {SUPPORTED_SUFFIXES})")


def format_from_magic(head: bytes) -> ArchiveFormat | None:
    """Return the format revealed by an archive's first bytes, or None if they match none."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ArchiveFormat.ZIP
    if head.startswith(b"\x1f\x8b"):
        return ArchiveFormat.TAR_GZ
    if head.startswith(b"BZh"):
        return ArchiveFormat.TAR_BZ2
    if head.startswith(b"\xfd7zXZ\x00"):
        return ArchiveFormat.TAR_XZ
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return ArchiveFormat.TAR_ZST
    if head[257:262] == b"ustar":
        return ArchiveFormat.TAR
    return None
