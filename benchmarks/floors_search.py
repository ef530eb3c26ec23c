"""Python floors of find and grep: the smallest programs doing their work on both cores, output in order.

Each lists the root, cuts the tree into subtrees (splitting the shallowest until there are 32),
forks one child for the odd-numbered ones and walks the even-numbered ones itself; the child
sends each subtree's output as one length-prefixed frame, which the parent writes in its turn.
Names are sorted in each folder (dirkit's order); dirkit's own folder and temp names are not
special here. Standard library only, so that start-up is Python's own:
    python benchmarks/floors_search.py find ROOT GLOB        scandir walk, fnmatch pattern on names
    python benchmarks/floors_search.py grep ROOT TEXT        + read, skip binary, bytes.find, path:line:text
    python benchmarks/floors_search.py grepE ROOT REGEX      the same with a bytes regular expression (re)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

BLOCK = 1 << 20
SNIFF = 1 << 16
WANTED = 32


def listing(path: str) -> list[tuple[str, bool]]:
    """Return a folder's (name, is folder) pairs in name order."""
    with os.scandir(path) as entries:
        return sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)


def units_of(root: str) -> list[tuple[str, bool, bool]]:
    """Return the tree as an ordered list of (path, is a folder, walk below it)."""
    units = [(f"{root}/{name}", is_dir, is_dir) for name, is_dir in listing(root)]
    for _ in range(64):
        subtrees = [index for index, (_, _, below) in enumerate(units) if below]
        if not subtrees or len(subtrees) >= WANTED:
            break
        index = subtrees[0]
        path = units[index][0]
        units[index : index + 1] = [(path, True, False)] + [
            (f"{path}/{name}", is_dir, is_dir) for name, is_dir in listing(path)
        ]
    return units


def walk(path: str, visit: Callable[[str, bool], None]) -> None:
    """Call visit for path's entries below it, depth first in name order (a folder before its contents)."""
    stack = [(path, iter(listing(path)))]
    while stack:
        folder, names = stack[-1]
        for name, is_dir in names:
            child = f"{folder}/{name}"
            visit(child, is_dir)
            if is_dir:
                stack.append((child, iter(listing(child))))
                break
        else:
            stack.pop()


def run(root: str, visit_for: Callable[[list[bytes]], Callable[[str, bool], None]]) -> None:
    """Walk the units on two processes and write their output in order."""
    units = units_of(root)

    def output(unit: tuple[str, bool, bool]) -> bytes:
        pieces: list[bytes] = []
        visit = visit_for(pieces)
        visit(unit[0], unit[1])
        if unit[2]:
            walk(unit[0], visit)
        return b"".join(pieces)

    out = sys.stdout.buffer
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        for unit in units[1::2]:
            data = output(unit)
            os.write(write_end, len(data).to_bytes(8, "little"))
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view) :]
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as frames:
        for index, unit in enumerate(units):
            if index % 2 == 0:
                out.write(output(unit))
            else:
                out.write(frames.read(int.from_bytes(frames.read(8), "little")))
    os.waitpid(pid, 0)
    out.flush()


def find(root: str, glob: str) -> None:
    """Print the paths below root whose base name matches glob."""
    import fnmatch
    import re

    matches = re.compile(fnmatch.translate(glob)).match

    def visit_for(pieces: list[bytes]) -> Callable[[str, bool], None]:
        def visit(path: str, is_dir: bool) -> None:
            if matches(path[path.rfind("/") + 1 :]):
                pieces.append(path.encode("utf-8", "surrogateescape") + b"\n")

        return visit

    run(root, visit_for)


def grep_with(root: str, search: Callable[[bytearray | bytes, int, int], int]) -> None:
    """Print path:line:text for each line where search finds a match, in the non-binary files below root."""
    buffer = bytearray(BLOCK)

    def visit_for(pieces: list[bytes]) -> Callable[[str, bool], None]:
        def visit(path: str, is_dir: bool) -> None:
            if is_dir:
                return
            try:
                descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                return
            try:
                size = os.readv(descriptor, (buffer,))
            finally:
                os.close(descriptor)
            if buffer.find(b"\0", 0, min(size, SNIFF)) >= 0:
                return
            start = search(buffer, 0, size)
            if start < 0:
                return
            data = bytes(buffer[:size])
            head = path.encode("utf-8", "surrogateescape")
            while start >= 0:
                line_start = data.rfind(b"\n", 0, start) + 1
                line_end = data.find(b"\n", start)
                line_end = size if line_end < 0 else line_end
                number = data.count(b"\n", 0, line_start) + 1
                pieces.append(b"%s:%d:%s\n" % (head, number, data[line_start:line_end]))
                start = search(data, line_end, size) if line_end < size else -1

        return visit

    run(root, visit_for)


def grep(root: str, text: str) -> None:
    """grep -rnF TEXT: bytes.find."""
    needle = text.encode()
    grep_with(root, lambda data, start, end: data.find(needle, start, end))


def grep_regex(root: str, pattern: str) -> None:
    """grep -rnE PATTERN: a bytes regular expression of the standard library."""
    import re

    search = re.compile(pattern.encode(), re.MULTILINE).search

    def first(data: bytearray | bytes, start: int, end: int) -> int:
        found = search(data, start, end)
        return -1 if found is None else found.start()

    grep_with(root, first)


COMMANDS: dict[str, Callable[[str, str], None]] = {"find": find, "grep": grep, "grepE": grep_regex}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2], sys.argv[3])
