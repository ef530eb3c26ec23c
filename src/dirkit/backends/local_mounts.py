"""What the local filesystem under a tree can keep, read once from the kernel's mount table."""

from __future__ import annotations

import os
import sys

from dirkit.backends.protocol import Capabilities

MOUNT_TABLE = "/proc/self/mountinfo"
NO_MODE_FILESYSTEMS = frozenset({"vfat", "msdos", "exfat", "fuseblk"})
"""Filesystem types that cannot keep permission bits (chmod fails or does nothing)."""
TWO_SECOND_FILESYSTEMS = frozenset({"vfat", "msdos"})
"""Filesystem types that keep modification times in steps of two seconds."""


def _unescape_mount_field(text: str) -> str:
    """Return a mountinfo field with its octal escapes (\\040 for a space) decoded."""
    if "\\" not in text:
        return text
    out = bytearray()
    index = 0
    raw = text.encode("utf-8", "surrogateescape")
    while index < len(raw):
        if raw[index : index + 1] == b"\\" and raw[index + 1 : index + 4].isdigit():
            out.append(int(raw[index + 1 : index + 4], 8) & 0xFF)
            index += 4
        else:
            out.append(raw[index])
            index += 1
    return out.decode("utf-8", "surrogateescape")


def filesystem_type(path: str, mount_table: str) -> str | None:
    """Return the type of the filesystem that holds path, from the text of /proc/self/mountinfo."""
    best = -1
    found: str | None = None
    for line in mount_table.splitlines():
        left, separator, right = line.partition(" - ")
        fields, types = left.split(), right.split()
        if not separator or len(fields) < 5 or not types:
            continue
        mount_point = _unescape_mount_field(fields[4])
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= best:
            best, found = len(mount_point), types[0]
    return found


def local_capabilities(root: str) -> Capabilities:
    """Return what the filesystem holding root can do (modes and time steps by filesystem type)."""
    try:
        with open(MOUNT_TABLE, encoding="utf-8", errors="surrogateescape") as stream:
            kind = filesystem_type(os.path.realpath(root), stream.read())
    except OSError:
        kind = None
    return Capabilities(
        mtime_resolution_ns=2_000_000_000 if kind in TWO_SECOND_FILESYSTEMS else 1,
        can_set_mode=kind not in NO_MODE_FILESYSTEMS,
        case_sensitive=sys.platform not in ("darwin", "win32"),
        parallel_connections=max(4, min(16, (os.cpu_count() or 2) * 4)),
        hard_links=True,
        identities=True,
    )
