"""What dirkit last wrote at a path of a tree that cannot set file times."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """What dirkit last wrote at a path: its size, the server's time for it, and the source's time."""

    size: int
    server_mtime_ns: int
    source_mtime_ns: int
