"""Python floors of the mirror-rerun and compare rows: both trees listed in two processes at once.

    python benchmarks/floors.py scan2 A B              list A here and B in a forked child (marshal back),
                                                       then print the paths that differ in kind, size or mtime
    python benchmarks/floors.py scan2 --content A B    the same, then the bytes of the size-equal file pairs
                                                       compared in two processes (half each)

The smallest Python program for the work: a scandir walk with one lstat per entry (what rsync does),
the child's listing sent back as one marshal of built-in tuples, one dict comparison. It imports
only the standard library, so its start-up is Python's own. With --content it compares bytes rather
than digests: with no cache to fill, reading both files and comparing them is the least work (rsync
-c hashes both sides with xxh128 in C).
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Callable
from typing import Any

CHUNK = 1 << 20
Listing = dict[str, tuple[int, int, int]]


def listing(root: str) -> Listing:
    """Return relative path -> (mode, size, mtime ns) for every entry below root (links not followed)."""
    found: Listing = {}
    pending = [""]
    while pending:
        relative = pending.pop()
        prefix = relative + "/" if relative else ""
        with os.scandir(os.path.join(root, relative) if relative else root) as entries:
            for entry in entries:
                path = prefix + entry.name
                stat = entry.stat(follow_symlinks=False)
                found[path] = (stat.st_mode, stat.st_size, stat.st_mtime_ns)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
    return found


def in_child(work: Callable[..., Any], *arguments: object) -> Callable[[], Any]:
    """Start work(*arguments) in a forked child; return a function that waits for and returns its result."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        data = marshal.dumps(work(*arguments))
        with open(writer, "wb") as stream:
            stream.write(data)
        os._exit(0)
    os.close(writer)

    def result() -> Any:
        with open(reader, "rb") as stream:
            data = stream.read()
        os.waitpid(pid, 0)
        return marshal.loads(data)

    return result


def same_bytes(left: str, right: str, size: int) -> bool:
    """Tell whether two files of one scanned size hold the same bytes (one read each when small)."""
    with open(left, "rb", buffering=0) as one, open(right, "rb", buffering=0) as two:
        want = min(size + 1, CHUNK)
        while True:
            chunk = one.read(want)
            if chunk != two.read(want):
                return False
            if len(chunk) < want:
                return True
            want = CHUNK


def pair_verdicts(left: str, right: str, pairs: list[tuple[str, int]]) -> list[bool]:
    """Tell for each (path, size) whether its files in left and right hold the same bytes."""
    join = os.path.join
    return [same_bytes(join(left, path), join(right, path), size) for path, size in pairs]


def scan2(left: str, right: str, content: bool = False) -> None:
    """Print the paths that differ between two trees (kind, size, mtime; or bytes with content)."""
    right_listing = in_child(listing, right)
    one = listing(left)
    two: Listing = right_listing()
    differing = list(one.keys() ^ two.keys())
    sized: list[tuple[str, int]] = []
    for path, (mode, size, mtime) in one.items():
        other = two.get(path)
        if other is None:
            continue
        if (mode ^ other[0]) & 0o170000 or size != other[1]:
            differing.append(path)
        elif not content:
            if mtime != other[2] and mode & 0o170000 != 0o040000:
                differing.append(path)
        elif mode & 0o170000 == 0o100000:
            sized.append((path, size))
    if content and sized:
        half = len(sized) // 2
        second = in_child(pair_verdicts, left, right, sized[half:])
        verdicts = pair_verdicts(left, right, sized[:half]) + second()
        differing += [path for (path, _), same in zip(sized, verdicts, strict=True) if not same]
    out = sys.stdout.buffer
    for path in sorted(differing):
        out.write(os.fsencode(path) + b"\n")


def scan2_command(*arguments: str) -> None:
    """Run scan2 with an optional leading --content."""
    if arguments[0] == "--content":
        scan2(arguments[1], arguments[2], content=True)
    else:
        scan2(arguments[0], arguments[1])
