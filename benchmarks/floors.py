"""Python floors: the smallest Python programs doing the syscalls of a dirkit command, timed as peers.

A floor shows what Python itself costs for the work (interpreter start-up included, as for dirkit):
when dirkit misses a target and its floor misses it too, the target is out of reach in Python.
Run as a script (it imports only the standard library and blake3):
    python benchmarks/floors.py copy SRC DST        scandir walk, open/read/write/fchmod + utime, 2 threads
    python benchmarks/floors.py copyproc SRC DST    the same as dirkit copies (temp name, rename), 2 processes
    python benchmarks/floors.py scan [--content] A B  scandir walk of both trees, compare size and mtime
    python benchmarks/floors.py scan2 [--content] A B the same in two processes (floors_rerun.py)
    python benchmarks/floors.py hash ROOT            read + blake3 per file, 2 threads
    python benchmarks/floors.py find ROOT GLOB       scandir walk with fnmatch
    python benchmarks/floors.py grep ROOT TEXT       read, skip binary, bytes.find, print lines
    python benchmarks/floors.py dupes ROOT           group by size, blake3 the groups
    python benchmarks/floors.py unpack ARCHIVE DST   tarfile extractall (data filter)
    python benchmarks/floors.py pack ROOT OUT        tarfile, gzip level 6 (as tar -czf)
    python benchmarks/floors.py split FILE DIR SIZE  copy_file_range into parts of SIZE (100M)
    python benchmarks/floors.py join DIR OUT         copy_file_range of DIR's sorted parts into OUT
`python -m benchmarks floors` times them per shape beside the peer tools.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import blake3

CHUNK = 1 << 20
BIG = 16 << 20


def walk(root: str, relative: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Yield (relative path, entry) for every entry below root, depth first, without following links."""
    with os.scandir(os.path.join(root, relative)) as entries:
        for entry in entries:
            path = os.path.join(relative, entry.name)
            yield path, entry
            if entry.is_dir(follow_symlinks=False):
                yield from walk(root, path)


def copy_file(source: str, target: str, stat: os.stat_result) -> None:
    """Copy one file's bytes (copy_file_range when big), its mode and its times."""
    with open(source, "rb", buffering=0) as reader:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if stat.st_size >= BIG:
                while os.copy_file_range(reader.fileno(), descriptor, CHUNK * 64):
                    pass
            else:
                while chunk := reader.read(CHUNK):
                    os.write(descriptor, chunk)
            os.fchmod(descriptor, stat.st_mode & 0o7777)
        finally:
            os.close(descriptor)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def copy(source: str, target: str) -> None:
    """Copy a tree: folders and symlinks while walking, files by 2 threads, then the folders' times."""
    os.mkdir(target)
    jobs: list[tuple[str, str, os.stat_result]] = []
    folders = [(target, os.stat(source))]
    for path, entry in walk(source):
        destination = os.path.join(target, path)
        if entry.is_dir(follow_symlinks=False):
            os.mkdir(destination)
            folders.append((destination, entry.stat(follow_symlinks=False)))
        elif entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
            link = entry.stat(follow_symlinks=False)
            os.utime(destination, ns=(link.st_atime_ns, link.st_mtime_ns), follow_symlinks=False)
        else:
            jobs.append((entry.path, destination, entry.stat(follow_symlinks=False)))
    with ThreadPoolExecutor(2) as pool:
        for _ in pool.map(lambda job: copy_file(*job), jobs, chunksize=64):
            pass
    for folder, stat in reversed(folders):
        os.chmod(folder, stat.st_mode & 0o7777)
        os.utime(folder, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def listing(root: str) -> dict[str, tuple[bool, int, int]]:
    """Return relative path -> (is folder, size, mtime ns) for every entry below root."""
    found: dict[str, tuple[bool, int, int]] = {}
    for path, entry in walk(root):
        stat = entry.stat(follow_symlinks=False)
        found[path] = (entry.is_dir(follow_symlinks=False), stat.st_size, stat.st_mtime_ns)
    return found


def same_bytes(left: str, right: str) -> bool:
    """Tell whether two files hold the same bytes."""
    with open(left, "rb", buffering=0) as one, open(right, "rb", buffering=0) as two:
        while True:
            chunk = one.read(CHUNK)
            if chunk != two.read(CHUNK):
                return False
            if not chunk:
                return True


def scan(left: str, right: str, content: bool = False) -> None:
    """Print the paths that differ in presence, size or mtime (or bytes, with content)."""
    one, two = listing(left), listing(right)
    out = sys.stdout.buffer
    differing = [path for path in one.keys() ^ two.keys()]
    both = [path for path in one.keys() & two.keys() if not one[path][0]]
    if content:
        sized = [path for path in both if one[path][1] == two[path][1]]
        differing += [path for path in both if one[path][1] != two[path][1]]
        with ThreadPoolExecutor(2) as pool:
            verdicts = pool.map(lambda p: same_bytes(os.path.join(left, p), os.path.join(right, p)), sized)
            differing += [path for path, same in zip(sized, verdicts, strict=True) if not same]
    else:
        differing += [path for path in both if one[path][1:] != two[path][1:]]
    for path in sorted(differing):
        out.write(os.fsencode(path) + b"\n")


def digest(path: str, size: int) -> str:
    """Return the BLAKE3 hex digest of a file (mmap and threads when big, as b3sum)."""
    if size >= BIG:
        return blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(path).hexdigest()
    hasher = blake3.blake3()
    with open(path, "rb", buffering=0) as stream:
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def files_of(root: str) -> list[tuple[str, int]]:
    """Return (path, size) of every regular file below root."""
    return [
        (entry.path, entry.stat(follow_symlinks=False).st_size)
        for _, entry in walk(root)
        if entry.is_file(follow_symlinks=False)
    ]


def hash_tree(root: str) -> None:
    """Print a b3sum line for every regular file below root, hashing with 2 threads."""
    files = files_of(root)
    out = sys.stdout.buffer
    with ThreadPoolExecutor(2) as pool:
        for (path, _), hexdigest in zip(files, pool.map(lambda job: digest(*job), files), strict=True):
            out.write(f"{hexdigest}  ".encode() + os.fsencode(path) + b"\n")


def find(root: str, glob: str) -> None:
    """Print the paths below root whose base name matches glob."""
    matches = re.compile(fnmatch.translate(glob)).match
    out = sys.stdout.buffer
    for _, entry in walk(root):
        if matches(entry.name):
            out.write(os.fsencode(entry.path) + b"\n")


def grep(root: str, text: str) -> None:
    """Print path:line:text for each line holding text, in the non-binary files below root."""
    needle = text.encode()
    out = sys.stdout.buffer
    for path, _ in files_of(root):
        with open(path, "rb", buffering=0) as stream:
            data = stream.read()
        if b"\0" in data[:CHUNK] or needle not in data:
            continue
        start = data.find(needle)
        while start >= 0:
            line_start = data.rfind(b"\n", 0, start) + 1
            line_end = data.find(b"\n", start)
            line_end = len(data) if line_end < 0 else line_end
            number = data.count(b"\n", 0, line_start) + 1
            out.write(os.fsencode(path) + f":{number}:".encode() + data[line_start:line_end] + b"\n")
            start = data.find(needle, line_end)


def dupes(root: str) -> None:
    """Print groups of non-empty files with the same size and BLAKE3 digest."""
    by_size: dict[int, list[str]] = {}
    for path, size in files_of(root):
        if size:
            by_size.setdefault(size, []).append(path)
    candidates = [(path, size) for size, paths in by_size.items() if len(paths) > 1 for path in paths]
    groups: dict[tuple[int, str], list[str]] = {}
    with ThreadPoolExecutor(2) as pool:
        for (path, size), hexdigest in zip(
            candidates, pool.map(lambda job: digest(*job), candidates), strict=True
        ):
            groups.setdefault((size, hexdigest), []).append(path)
    out = sys.stdout.buffer
    for paths in groups.values():
        if len(paths) > 1:
            out.write(b"\n".join(map(os.fsencode, paths)) + b"\n\n")


def unpack(archive: str, target: str) -> None:
    """Extract a tar archive into target with the standard library's data filter."""
    with tarfile.open(archive) as reader:
        reader.extractall(target, filter="data")


def pack(root: str, archive: str) -> None:
    """Write root into a .tar.gz at gzip level 6."""
    with tarfile.open(archive, "w:gz", compresslevel=6) as writer:
        writer.add(root, arcname=".")


def size_of(text: str) -> int:
    """Return the bytes of a size like 100M (powers of 1024, as split -b)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def split(file: str, folder: str, size: str) -> None:
    """Cut file into parts of size bytes in folder with copy_file_range."""
    part_bytes = size_of(size)
    with open(file, "rb", buffering=0) as reader:
        total = os.fstat(reader.fileno()).st_size
        for number, offset in enumerate(range(0, total, part_bytes)):
            descriptor = os.open(os.path.join(folder, f"x{number:04d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            try:
                done, length = 0, min(part_bytes, total - offset)
                while done < length:
                    copied = os.copy_file_range(reader.fileno(), descriptor, length - done, offset + done)
                    if not copied:
                        break
                    done += copied
            finally:
                os.close(descriptor)


def join(folder: str, output: str) -> None:
    """Write the sorted parts of folder one after the other into output with copy_file_range."""
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb", buffering=0) as reader:
                while os.copy_file_range(reader.fileno(), descriptor, CHUNK * 64):
                    pass
    finally:
        os.close(descriptor)


def scan_command(*arguments: str) -> None:
    """Run scan with an optional leading --content."""
    if arguments[0] == "--content":
        scan(arguments[1], arguments[2], content=True)
    else:
        scan(arguments[0], arguments[1])


def scan2_command(*arguments: str) -> None:
    """Run the two-process scan floor of benchmarks/floors_rerun.py (a sibling script)."""
    import importlib

    importlib.import_module("floors_rerun").scan2_command(*arguments)


COMMANDS: dict[str, Callable[..., None]] = {
    "copy": copy,
    "scan": scan_command,
    "scan2": scan2_command,
    "hash": hash_tree,
    "find": find,
    "grep": grep,
    "dupes": dupes,
    "unpack": unpack,
    "pack": pack,
    "split": split,
    "join": join,
}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.floors_mcopy import MCOPY_COMMANDS  # floors in modules of their own (floors_*.py)

    COMMANDS.update(MCOPY_COMMANDS)
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
