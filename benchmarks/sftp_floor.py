"""The floor of SFTP in Python: the smallest asyncssh program doing the site transfers dirkit does.

Usage: python -m benchmarks.sftp_floor up|down LOCAL_DIR REMOTE_DIR --port P --key FILE
       [--known-hosts FILE] [--user U] [--connections 2] [--in-flight 16] [--processes 1]
       [--whole-file]

up: make every folder, then per file OPEN a temporary name, then WRITE(s) + FSETSTAT (mtime) +
CLOSE in one flight, then posix-rename it into place once all of those succeeded (what `dirkit
mirror` sends, without its plan, journal, locks or per-step checks). down: walk the server tree
(readdir per folder, folders of a level at once), then per file OPEN, then READ(s) + CLOSE in one
flight, written locally under a temporary name, mtime set, renamed into place.
Files are spread over --connections SSH connections of one SFTP channel each, --in-flight files
at once on each channel (their requests interleave on the channel), and over --processes
processes (each its own event loop and connections, for a second core). Requests of a file are
the server's block size (limits@openssh.com). With --whole-file one file is sent by asyncssh's
public SFTPClientFile.read/write instead (its parallel block requests), for the big-file rows.
benchmarks/sftp_bench.py --floor times it beside dirkit, rclone and rsync.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import asyncssh

OPEN_NEW = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL
WHOLE_FILE_CHUNK = 64 * 1024 * 1024
"""Bytes of a big file asked of asyncssh at once in --whole-file mode (its requests split them)."""


def local_tree(root: Path) -> tuple[list[str], list[str]]:
    """Return the folders and the files below root, as relative POSIX paths, parents first."""
    folders: list[str] = []
    files: list[str] = []
    for top, dirs, names in os.walk(root):
        dirs.sort()
        relative = os.path.relpath(top, root)
        prefix = "" if relative == "." else relative + "/"
        folders.extend(prefix + name for name in dirs)
        files.extend(prefix + name for name in sorted(names))
    return folders, files


async def _all(steps: list[Any]) -> list[Any]:
    """Await steps sent in order; raise the first failure once every answer is in."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def upload_file(handler: Any, block: int, local: Path, remote: bytes, name: str) -> None:
    """Upload one file: OPEN a temporary name; WRITE(s), FSETSTAT, CLOSE in one flight; then rename."""
    path = local / name
    with open(path, "rb") as source:
        data = source.read()
        mtime = int(os.fstat(source.fileno()).st_mtime)
    final = remote + b"/" + os.fsencode(name)
    temporary = final + b".tmp-floor"
    handle = await handler.open(temporary, OPEN_NEW, asyncssh.SFTPAttrs(permissions=0o644))
    view = memoryview(data)
    steps = [
        handler.write(handle, start, view[start : start + block]) for start in range(0, len(data), block)
    ]
    steps.append(handler.fsetstat(handle, asyncssh.SFTPAttrs(atime=mtime, mtime=mtime)))
    steps.append(handler.close(handle))
    await _all(steps)
    await handler.posix_rename(temporary, final)


async def download_file(
    handler: Any, block: int, remote: bytes, local: Path, item: tuple[str, int, int]
) -> None:
    """Download one file: OPEN; READ(s) + CLOSE in one flight; write a temporary name, set mtime, rename."""
    name, size, mtime = item
    handle = await handler.open(remote + b"/" + os.fsencode(name), asyncssh.FXF_READ, asyncssh.SFTPAttrs())
    steps = [handler.read(handle, start, min(block, size - start)) for start in range(0, size, block)]
    steps.append(handler.close(handle))
    results = await _all(steps)
    data = b"".join(part for part, _at_end in results[:-1])
    temporary = local / f"{name}.tmp-floor"
    with open(temporary, "wb") as target:
        target.write(data)
    os.utime(temporary, (mtime, mtime))
    os.replace(temporary, local / name)


async def spread(channels: list[asyncssh.SFTPClient], in_flight: int, items: list[Any], work: Any) -> None:
    """Run work(handler, block, item) for every item, in_flight at once on each channel."""
    queue = list(reversed(items))

    async def worker(channel: asyncssh.SFTPClient) -> None:
        handler: Any = channel._handler  # the request layer: requests sent at once, answers awaited
        block = int(handler.limits.max_write_len) or 16 * 1024
        while queue:
            await work(handler, block, queue.pop())

    await asyncio.gather(*(worker(channel) for channel in channels for _ in range(in_flight)))


def levels_of(folders: list[str]) -> list[list[str]]:
    """Return the folders grouped by depth, shallowest first."""
    depth_of: dict[int, list[str]] = {}
    for folder in folders:
        depth_of.setdefault(folder.count("/"), []).append(folder)
    return [depth_of[depth] for depth in sorted(depth_of)]


async def make_folders(channel: asyncssh.SFTPClient, remote: bytes, folders: list[str]) -> None:
    """Make the folders below remote, a level at a time, each level's MKDIRs in one flight."""
    for level in levels_of(folders):
        await asyncio.gather(*(channel.mkdir(remote + b"/" + os.fsencode(folder)) for folder in level))


async def wait_for_folders(channel: asyncssh.SFTPClient, remote: bytes, folders: list[str]) -> None:
    """Wait until the folder the first process makes last exists (bounded: about 60 s)."""
    if not folders:
        return
    last = remote + b"/" + os.fsencode(levels_of(folders)[-1][-1])
    for _ in range(6000):
        if await channel.exists(last):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the folders were not made")


async def list_remote(channels: list[asyncssh.SFTPClient], remote: bytes) -> tuple[list[str], list[Any]]:
    """Return the folders and the files (name, size, mtime) below remote, listed a level at a time."""
    files: list[tuple[str, int, int]] = []
    all_folders: list[str] = []
    folders = [""]
    while folders:
        level, folders = folders, []
        listings = await asyncio.gather(
            *(
                channels[index % len(channels)].readdir(remote + b"/" + os.fsencode(folder))
                for index, folder in enumerate(level)
            )
        )
        for folder, listing in zip(level, listings, strict=True):
            for entry in listing:
                name = os.fsdecode(entry.filename)
                if name in (".", ".."):
                    continue
                path = f"{folder}/{name}" if folder else name
                if entry.attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                    folders.append(path)
                    all_folders.append(path)
                else:
                    files.append((path, entry.attrs.size or 0, entry.attrs.mtime or 0))
    return all_folders, files


async def whole_file(channel: asyncssh.SFTPClient, direction: str, local: Path, remote: bytes) -> None:
    """Send each file below local (up) or remote (down) through asyncssh's public file API, in big pieces."""
    if direction == "up":
        for name in local_tree(local)[1]:
            async with channel.open(remote + b"/" + os.fsencode(name), "wb") as handle:
                with open(local / name, "rb") as source:
                    offset = 0
                    while data := source.read(WHOLE_FILE_CHUNK):
                        await handle.write(data, offset)
                        offset += len(data)
        return
    for entry in await channel.readdir(remote):
        name = os.fsdecode(entry.filename)
        if entry.attrs.type != asyncssh.FILEXFER_TYPE_REGULAR:
            continue
        async with channel.open(remote + b"/" + os.fsencode(name), "rb") as handle:
            with open(local / name, "wb") as target:
                offset = 0
                while data := await handle.read(WHOLE_FILE_CHUNK, offset):
                    assert isinstance(data, bytes)
                    target.write(data)
                    offset += len(data)


async def run(arguments: argparse.Namespace, share: int) -> None:
    """Open the connections and do this process's share of the transfer (files share, share+P, ...)."""
    known_hosts = arguments.known_hosts if arguments.known_hosts else None
    connections = await asyncio.gather(
        *(
            asyncssh.connect(
                "127.0.0.1",
                arguments.port,
                username=arguments.user,
                client_keys=[arguments.key],
                known_hosts=known_hosts,
                config=[],
                encryption_algs=["aes128-gcm@openssh.com"],
            )
            for _ in range(arguments.connections)
        )
    )
    channels = list(await asyncio.gather(*(connection.start_sftp_client() for connection in connections)))
    local, remote = Path(arguments.local), os.fsencode(arguments.remote)
    processes = arguments.processes
    if arguments.whole_file:
        await whole_file(channels[0], arguments.direction, local, remote)
    elif arguments.direction == "up":
        folders, files = local_tree(local)
        if share == 0:
            await make_folders(channels[0], remote, folders)
        else:  # the others wait for the folders rather than make them
            await wait_for_folders(channels[0], remote, folders)
        mine = files[share::processes]
        await spread(
            channels, arguments.in_flight, mine, lambda h, b, name: upload_file(h, b, local, remote, name)
        )
    else:
        folders, items = await list_remote(channels, remote)
        for folder in folders:
            (local / folder).mkdir(parents=True, exist_ok=True)
        mine = items[share::processes]
        await spread(
            channels, arguments.in_flight, mine, lambda h, b, item: download_file(h, b, remote, local, item)
        )
    for connection in connections:
        connection.close()


def main() -> None:
    """Parse the arguments and run one transfer (in --processes processes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("direction", choices=("up", "down"))
    parser.add_argument("local")
    parser.add_argument("remote")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", default="")
    parser.add_argument("--user", default=os.environ.get("USER", "root"))
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--in-flight", type=int, default=16, help="files in flight per channel")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--whole-file", action="store_true")
    arguments = parser.parse_args()
    children = []
    for share in range(1, max(1, arguments.processes)):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                asyncio.run(run(arguments, share))
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    asyncio.run(run(arguments, 0))
    failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
