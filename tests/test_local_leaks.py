"""No local disk in ops/: no native_path, LocalBackend or os file-system call outside the listed files."""

from __future__ import annotations

import re
from pathlib import Path

OPS = Path(__file__).resolve().parents[1] / "src" / "dirkit" / "ops"

ALLOWED: dict[str, str] = {
    "checksums/local_digests.py": "local fast path of hashing: small files by syscalls, mmap, stat checks",
    "checksums/hashing_child.py": "the forked hashing child's two pipes (reads and writes of pipes)",
    "compare/local_bytes.py": "compare --content --no-cache reads both local files of a pair by syscalls",
    "files/split.py": "split, a documented single-file command: reads one local file, writes local parts",
    "files/join.py": "join, a documented single-file command: reads local parts, writes one local file",
    "files/range_copy.py": "split's and join's copy_file_range between local files, hashed back by mmap",
    "run/byte_copy.py": "the temp-name-then-rename writes of the single-file commands (split, join, pack)",
    "archive/pack.py": "pack writes one local archive file as split does (reads the tree via a backend)",
    "demo.py": "`dirkit demo` writes its two sample trees into a local folder the user names",
    "archive/members.py": "reads the archive file itself, a local file the user named, by position",
    "archive/unpack.py": "opens DEST as a local tree (archives unpack onto local disk only, as documented)",
    "regress/expected.py": "regress keeps its expectations as plain files in a local suite folder",
    "regress/runner.py": "regress runs local processes in fresh local working folders",
    "regress/suite.py": "regress reads its cases from a local suite folder",
    "regress/workdirs.py": "regress makes, reuses and removes the cases' local working folders",
    "search/find_local.py": "find's lean walk of a local root (os.scandir), taken only for local folders",
    "search/grep_local.py": "grep's forked search of a local root opens its files relative to their folder",
    "search/forked_units.py": "the pipes between forked search workers and the main process (no disk)",
}
"""Files of ops/ that may touch the local file system directly, each with its reason."""


_FS_CALL = re.compile(
    r"\bnative_path\b|\bLocalBackend\b"
    r"|\bos\.(?:stat|lstat|fstat|scandir|listdir|walk|open|read|readv|write|pread|pwrite|close|lseek"
    r"|mkdir|makedirs|rmdir|removedirs|remove|unlink|rename|renames|replace|link|symlink|readlink|utime"
    r"|chmod|chown|lchown|truncate|ftruncate|fsync|sendfile|copy_file_range|statvfs)\b"
    r"|\bos\.path\.(?:exists|lexists|isdir|isfile|islink|ismount|realpath|getsize|getmtime|samefile)\b"
    r"|\bshutil\.\w+"
)
"""The calls that touch the disk (builtin open of a file the user named, a plan or manifest, is not one)."""


def test_ops_reach_local_disk_only_through_local_files() -> None:
    allowed = ALLOWED
    found = []
    for module in sorted(OPS.rglob("*.py")):
        name = module.relative_to(OPS).as_posix()
        if name in allowed:
            continue
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            hit = _FS_CALL.search(line)
            if hit:
                found.append(f"ops/{name}:{number}: {hit.group(0)}")
    assert not found, "\n".join(found)


def test_every_allowed_file_exists_and_still_needs_it() -> None:
    for name in ALLOWED:
        text = (OPS / name).read_text(encoding="utf-8")
        assert _FS_CALL.search(text), f"ops/{name} no longer touches the disk: drop it from the list"


def test_the_pattern_catches_what_it_forbids() -> None:
    caught = [
        "os.stat(x)",
        "backend.native_path(p)",
        "LocalBackend(r)",
        "os.path.realpath(r)",
        "shutil.move(a, b)",
    ]
    for line in caught:
        assert _FS_CALL.search(line), line
    for line in ["os.path.join(a, b)", "backend.open_read(p)", "os.path.relpath(a, b)", "os.cpu_count()"]:
        assert not _FS_CALL.search(line), line
