"""Building regression suites on disk for the tests of `dirkit regress`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def write_suite(root: Path, scripts: Mapping[str, str], config: str | None = None) -> Path:
    """Create root with one executable /bin/sh script per name (body without the #! line); return root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        write_script(root / name, body)
    if config is not None:
        (root / "regress.toml").write_text(config, encoding="utf-8")
    return root


def write_script(path: Path, body: str) -> None:
    """Write an executable /bin/sh script."""
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


def alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def descendants_of(pid: int) -> set[int]:
    """Return the live descendants of pid (children, their children, ...), read from /proc."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            parents[int(name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found
