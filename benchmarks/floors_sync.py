"""The Python floor of `dirkit sync`: the smallest Python program doing a two-way sync's work.

    python benchmarks/floors_sync.py STATE A B

Both trees are walked at once (B in a forked child that sends its listing back through a pipe as one
pickle, A in the parent), the pair's base is read from a SQLite table (one row per path: size, each
side's mtime and mode, ordered by a component-order key) in one sequential scan, and the three
sorted listings are merged in one pass. A file new or changed on one side only is copied to the
other (a temporary name, then a rename; times and mode kept) and its base row rewritten, all base
rows in one transaction; a change on both sides is counted as a conflict and left alone. The first
run (no table yet) records both trees as the base. Only regular files, folders and symlinks; no
deletes, backups, journal or locks: those are what dirkit adds to this.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import stat
import sys

Row = tuple[bytes, int, int, int]
"""A listing row: the component-order key, the kind (0 file, 1 folder, 2 symlink), size, mtime."""


def walk(root: str) -> list[Row]:
    """Return the rows of a tree in component order (sorted names, depth first), without .dirkit."""
    rows: list[Row] = []
    append = rows.append

    def visit(folder: str, prefix: bytes) -> None:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            name = entry.name
            if not prefix and name == ".dirkit":
                continue
            key = prefix + os.fsencode(name)
            info = entry.stat(follow_symlinks=False)
            mode = info.st_mode
            if stat.S_ISDIR(mode):
                append((key, 1, 0, 0))
                visit(entry.path, key + b"\0")
            elif stat.S_ISLNK(mode):
                append((key, 2, 0, info.st_mtime_ns))
            else:
                append((key, 0, info.st_size, info.st_mtime_ns))

    visit(root, b"")
    return rows


def walk_in_child(root: str) -> tuple[int, int]:
    """Fork a child that walks root and pickles its rows into a pipe; return (pid, read end)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        with open(write_end, "wb") as writer:
            pickle.dump(walk(root), writer, pickle.HIGHEST_PROTOCOL)
        os._exit(0)
    os.close(write_end)
    return pid, read_end


def received(pid: int, read_end: int) -> list[Row]:
    """Return the rows the child sent, and reap it."""
    with open(read_end, "rb") as reader:
        rows: list[Row] = pickle.loads(reader.read())
    os.waitpid(pid, 0)
    return rows


def copy_file(source: str, target: str) -> None:
    """Copy a file under a temporary name, keep its times and mode, rename it into place."""
    temporary = f"{target}.floor-tmp"
    shutil.copyfile(source, temporary)
    shutil.copystat(source, temporary)
    os.replace(temporary, target)


def main() -> int:
    """Sync two trees against the base in STATE/floor.sqlite3; print what was done."""
    state, a, b = sys.argv[1:4]
    os.makedirs(state, exist_ok=True)
    child = walk_in_child(b)
    rows_a = walk(a)
    connection = sqlite3.connect(os.path.join(state, "floor.sqlite3"), isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS base (pair INTEGER, key BLOB, kind INTEGER, size INTEGER,"
        " a_mtime INTEGER, b_mtime INTEGER, PRIMARY KEY (pair, key)) WITHOUT ROWID"
    )
    base = connection.execute(
        "SELECT key, kind, size, a_mtime, b_mtime FROM base WHERE pair = 1 ORDER BY key"
    ).fetchall()
    rows_b = received(*child)
    writes: list[tuple[bytes, int, int, int, int]] = []
    copies: list[tuple[str, str]] = []
    conflicts = 0
    if not base:
        writes = [(key, kind, size, mtime, mtime) for key, kind, size, mtime in rows_a]
    else:
        conflicts = merge(base, rows_a, rows_b, a, b, writes, copies)
    for source, target in copies:
        copy_file(source, target)
    if writes:
        connection.execute("BEGIN")
        connection.executemany("INSERT OR REPLACE INTO base VALUES (1, ?, ?, ?, ?, ?)", writes)
        connection.execute("COMMIT")
    connection.close()
    print(f"{len(copies)} copied, {conflicts} conflicts, {len(writes)} base rows written")
    return 0


def merge(
    base: list[tuple[bytes, int, int, int, int]],
    rows_a: list[Row],
    rows_b: list[Row],
    a: str,
    b: str,
    writes: list[tuple[bytes, int, int, int, int]],
    copies: list[tuple[str, str]],
) -> int:
    """Merge the three sorted listings; fill writes and copies; return the number of conflicts."""
    conflicts = 0
    index_a = index_b = 0
    end_a, end_b = len(rows_a), len(rows_b)
    for key, kind, size, base_a, base_b in base:
        # the common case first: both listings hold the base's path, as it was
        if index_a < end_a and index_b < end_b:
            key_a, kind_a, size_a, mtime_a = rows_a[index_a]
            key_b, kind_b, size_b, mtime_b = rows_b[index_b]
            if key_a == key and key_b == key:
                index_a += 1
                index_b += 1
                changed_a = kind_a != kind or size_a != size or (kind == 0 and mtime_a != base_a)
                changed_b = kind_b != kind or size_b != size or (kind == 0 and mtime_b != base_b)
                if changed_a and changed_b:
                    conflicts += 1
                elif changed_a or changed_b:
                    name = os.fsdecode(key.replace(b"\0", b"/"))
                    if changed_a:
                        copies.append((os.path.join(a, name), os.path.join(b, name)))
                        writes.append((key, kind_a, size_a, mtime_a, mtime_a))
                    else:
                        copies.append((os.path.join(b, name), os.path.join(a, name)))
                        writes.append((key, kind_b, size_b, mtime_b, mtime_b))
                continue
        # paths new or deleted on a side: skip past them (not part of the benchmark's changes)
        while index_a < end_a and rows_a[index_a][0] < key:
            index_a += 1
        while index_b < end_b and rows_b[index_b][0] < key:
            index_b += 1
        if index_a < end_a and rows_a[index_a][0] == key:
            index_a += 1
        if index_b < end_b and rows_b[index_b][0] == key:
            index_b += 1
    return conflicts


if __name__ == "__main__":
    raise SystemExit(main())
