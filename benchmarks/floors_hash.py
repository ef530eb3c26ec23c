"""Python floors of the hashing rows that use both cores: the smallest programs doing dirkit's work.

benchmarks/floors.py hashes on 2 threads, which the GIL holds to about one core for small files;
these fork a second process instead, as the best Python program would, and do the hashing that
split and join do on purpose (the whole's and each part's BLAKE3). Run as a script:
    python benchmarks/floors_hash.py hash ROOT            walk, then 2 processes read + blake3 half each
    python benchmarks/floors_hash.py cached ROOT DB       walk + lstat, one SELECT of the sqlite rows,
                                                          hash only files whose identity changed
    python benchmarks/floors_hash.py dupes ROOT           group by size, 2 processes blake3 the first
                                                          64 KiB of the candidates, then the rest of
                                                          the larger look-alikes
    python benchmarks/floors_hash.py split FILE DIR SIZE  copy_file_range into parts, and blake3 of
                                                          the whole and of each part beside it
    python benchmarks/floors_hash.py join DIR OUT         copy_file_range of the sorted parts, and
                                                          blake3 of the whole and of each part beside it
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import blake3

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.floors import BIG, digest, files_of, size_of, walk

PARTIAL = 64 * 1024
COPY_CHUNK = 64 << 20


def small_digest(path: str, size: int) -> str:
    """Return the BLAKE3 hex digest of a file read with one os.read (mmap and threads when big)."""
    if size >= BIG:
        return digest(path, size)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        data = os.read(descriptor, size + 1)
        hasher = blake3.blake3(data)
        while len(data) > size and (data := os.read(descriptor, 1 << 20)):
            hasher.update(data)
    finally:
        os.close(descriptor)
    return hasher.hexdigest()


def in_two_processes(work: Sequence[tuple[str, int]], task: Callable[[str, int], str]) -> list[str]:
    """Return task(path, size) for each item: the child does the odd items, this process the even."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        done = [task(*item) for item in work[1::2]]
        with open(write_end, "wb") as stream:
            pickle.dump(done, stream, pickle.HIGHEST_PROTOCOL)
        os._exit(0)
    os.close(write_end)
    mine = [task(*item) for item in work[0::2]]
    with open(read_end, "rb") as stream:
        theirs = pickle.load(stream)
    os.waitpid(pid, 0)
    merged = [""] * len(work)
    merged[0::2], merged[1::2] = mine, theirs
    return merged


def hash_tree(root: str) -> None:
    """Print a b3sum line per regular file below root, sorted; small files in 2 processes."""
    files = files_of(root)
    small = [item for item in files if item[1] < BIG]
    large = [item for item in files if item[1] >= BIG]
    found = dict(zip((path for path, _ in small), in_two_processes(small, small_digest), strict=True))
    found.update((path, digest(path, size)) for path, size in large)
    out = sys.stdout.buffer
    for path in sorted(found):
        out.write(f"{found[path]}  ".encode() + os.fsencode(path) + b"\n")


def cached(root: str, database: str) -> None:
    """Print a b3sum line per file, digests from sqlite rows keyed by identity (filled on first run)."""
    connection = sqlite3.connect(database)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS cache (path BLOB PRIMARY KEY, dev, ino, size, mtime, ctime, digest)"
        " WITHOUT ROWID"
    )
    known = {row[0]: row[1:] for row in connection.execute("SELECT * FROM cache")}
    out = sys.stdout.buffer
    fresh = []
    lines = []
    for _, entry in walk(root):
        if not entry.is_file(follow_symlinks=False):
            continue
        path = entry.path
        st = entry.stat(follow_symlinks=False)
        identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        raw = os.fsencode(path)
        row = known.get(raw)
        if row is None or row[:5] != identity:
            row = (*identity, digest(path, st.st_size))
            fresh.append((raw, *row))
        lines.append((raw, row[5]))
    if fresh:
        with connection:
            connection.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?, ?)", fresh)
    for raw, hexdigest in sorted(lines):
        out.write(hexdigest.encode() + b"  " + raw + b"\n")


def partial_digest(path: str, size: int) -> str:
    """Return the BLAKE3 of a file's first PARTIAL bytes."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return blake3.blake3(os.read(descriptor, PARTIAL)).hexdigest()
    finally:
        os.close(descriptor)


def dupes(root: str) -> None:
    """Print groups of non-empty files with the same size and bytes: size, first 64 KiB, then all."""
    by_size: dict[int, list[str]] = {}
    for path, size in files_of(root):
        if size:
            by_size.setdefault(size, []).append(path)
    candidates = [(path, size) for size, paths in by_size.items() if len(paths) > 1 for path in paths]
    groups: dict[tuple[int, str], list[str]] = {}
    for (path, size), hexdigest in zip(candidates, in_two_processes(candidates, partial_digest), strict=True):
        groups.setdefault((size, hexdigest), []).append(path)
    finals: list[list[str]] = []
    for (size, _), paths in groups.items():
        if len(paths) < 2:
            continue
        if size <= PARTIAL:
            finals.append(paths)
            continue
        whole: dict[str, list[str]] = {}
        for path in paths:
            whole.setdefault(digest(path, size), []).append(path)
        finals += [same for same in whole.values() if len(same) > 1]
    out = sys.stdout.buffer
    for paths in finals:
        out.write(b"\n".join(map(os.fsencode, paths)) + b"\n\n")


def hash_range(descriptor: int, offset: int, length: int, whole: blake3.blake3) -> str:
    """Feed a file's bytes [offset, offset + length) to whole and return their own BLAKE3 (mmap, threads)."""
    part = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if length:
        import mmap

        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        mapped = mmap.mmap(descriptor, length + offset - start, access=mmap.ACCESS_READ, offset=start)
        with mapped, memoryview(mapped)[offset - start :] as view:
            whole.update(view)
            part.update(view)
    return part.hexdigest()


def copy_range(source: int, target: int, offset: int, length: int) -> None:
    """Copy length bytes of source from offset to target's current position with copy_file_range."""
    done = 0
    while done < length:
        copied = os.copy_file_range(source, target, min(COPY_CHUNK, length - done), offset + done)
        if not copied:
            raise OSError("short copy")
        done += copied


def split(file: str, folder: str, size: str) -> None:
    """Cut file into parts with copy_file_range; hash the whole and each part in a thread beside it."""
    part_bytes = size_of(size)
    whole = blake3.blake3(max_threads=blake3.blake3.AUTO)
    digests: list[Future[str]] = []
    with open(file, "rb", buffering=0) as reader, ThreadPoolExecutor(1) as hashing:
        source = reader.fileno()
        total = os.fstat(source).st_size
        for number, offset in enumerate(range(0, total, part_bytes)):
            length = min(part_bytes, total - offset)
            digests.append(hashing.submit(hash_range, source, offset, length, whole))
            target = os.open(os.path.join(folder, f"x{number:04d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            try:
                copy_range(source, target, offset, length)
            finally:
                os.close(target)
        lines = [future.result() for future in digests]
    with open(os.path.join(folder, "parts.b3"), "w", encoding="ascii") as stream:
        stream.write(f"{whole.hexdigest()}\n" + "\n".join(lines) + "\n")


def join(folder: str, output: str) -> None:
    """Write the sorted parts one after the other with copy_file_range, hashing them beside it."""
    whole = blake3.blake3(max_threads=blake3.blake3.AUTO)
    digests: list[Future[str]] = []
    target = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    readers = []
    try:
        with ThreadPoolExecutor(1) as hashing:
            for name in sorted(os.listdir(folder)):
                reader = os.open(os.path.join(folder, name), os.O_RDONLY)
                readers.append(reader)
                length = os.fstat(reader).st_size
                digests.append(hashing.submit(hash_range, reader, 0, length, whole))
                copy_range(reader, target, 0, length)
            [future.result() for future in digests]
    finally:
        for reader in readers:
            os.close(reader)
        os.close(target)
    whole.hexdigest()


COMMANDS: dict[str, Callable[..., None]] = {
    "hash": hash_tree,
    "cached": cached,
    "dupes": dupes,
    "split": split,
    "join": join,
}


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
