"""The first-mirror floor on both cores: the copy syscalls of dirkit, split between two processes.

    python benchmarks/floors.py copyproc SRC DST

A scandir walk makes the folders and symlinks, then the files are copied by two processes (this
one and one forked child, the GIL binding neither), each taking alternate runs of 64 files: open
the source, create a temporary name exclusively, copy_file_range, fchmod, utime, close, rename
into place (dirkit's own guarantee: never a partial file under its final name). Then the folders
get their modes and times, deepest first. Only the standard library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

RUN = 64
"""Files in one run: the processes take alternate runs (nearby files share a folder)."""
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def _walk(root: str) -> Iterator[os.DirEntry[str]]:
    """Yield every entry below root, depth first, without following links."""
    with os.scandir(root) as entries:
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)


def _copy_files(jobs: list[tuple[str, str, os.stat_result]]) -> None:
    """Copy each (source, target, stat) through a temporary name beside the target."""
    for source, target, info in jobs:
        folder, name = os.path.split(target)
        temp = os.path.join(folder, f".{name}.tmp-floor")
        reader = os.open(source, _READ)
        try:
            writer = os.open(temp, _NEW, 0o600)
            try:
                size, done = info.st_size, 0
                while done < size and (moved := os.copy_file_range(reader, writer, size - done)):
                    done += moved
                os.fchmod(writer, info.st_mode & 0o7777)
                os.utime(writer, ns=(info.st_mtime_ns, info.st_mtime_ns))
            finally:
                os.close(writer)
        finally:
            os.close(reader)
        os.rename(temp, target)


def copy_processes(source: str, target: str) -> None:
    """Copy a tree: folders and symlinks while walking, then files in 2 processes, then folder times."""
    source = os.path.abspath(source)
    target = os.path.abspath(target)
    os.mkdir(target)
    folders = [(target, os.stat(source))]
    jobs: list[tuple[str, str, os.stat_result]] = []
    skip = len(source) + 1
    for entry in _walk(source):
        destination = os.path.join(target, entry.path[skip:])
        info = entry.stat(follow_symlinks=False)
        if entry.is_dir(follow_symlinks=False):
            os.mkdir(destination)
            folders.append((destination, info))
        elif entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
            os.utime(destination, ns=(info.st_mtime_ns, info.st_mtime_ns), follow_symlinks=False)
        else:
            jobs.append((entry.path, destination, info))
    mine = [job for start in range(0, len(jobs), 2 * RUN) for job in jobs[start : start + RUN]]
    theirs = [job for start in range(RUN, len(jobs), 2 * RUN) for job in jobs[start : start + RUN]]
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            _copy_files(theirs)
        except BaseException:  # the child must never return into the parent's code
            code = 1
        os._exit(code)
    _copy_files(mine)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("floor copyproc: the child process failed")
    for folder, info in reversed(folders):
        os.chmod(folder, info.st_mode & 0o7777)
        os.utime(folder, ns=(info.st_mtime_ns, info.st_mtime_ns))


MCOPY_COMMANDS: dict[str, Callable[..., None]] = {"copyproc": copy_processes}
"""The floors of this module, by the command name floors.py runs them under."""
