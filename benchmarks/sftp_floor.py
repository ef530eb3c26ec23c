"""The floor of SFTP in Python: the smallest asyncssh program doing the site transfers dirkit does.

Usage: python -m benchmarks.sftp_floor up|down LOCAL_DIR REMOTE_DIR --port P --key FILE
       [--known-hosts FILE] [--user U] [--connections 4]

up: make every folder, then per file OPEN a temporary name, WRITE, FSETSTAT (mtime), CLOSE and
posix-rename it into place, files spread over N connections (what `dirkit mirror` sends, without
its plan, journal, locks or per-step checks). down: walk the server tree (readdir per folder),
then per file OPEN, READ, CLOSE, write locally under a temporary name, set the mtime, rename.
benchmarks/sftp_bench.py --floor times it beside dirkit, rclone and rsync.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import asyncssh


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


async def upload(channels: list[asyncssh.SFTPClient], local: Path, remote: str) -> None:
    """Upload the tree at local into the existing server folder remote."""
    folders, files = local_tree(local)
    for folder in folders:
        await channels[0].mkdir(f"{remote}/{folder}")
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in files:
        queue.put_nowait(name)

    async def worker(channel: asyncssh.SFTPClient) -> None:
        while not queue.empty():
            name = queue.get_nowait()
            data = (local / name).read_bytes()
            mtime = int(os.stat(local / name).st_mtime)
            temporary = f"{remote}/{name}.tmp-floor"
            async with channel.open(temporary, "wb") as handle:
                await handle.write(data, 0)
                await handle.setstat(asyncssh.SFTPAttrs(atime=mtime, mtime=mtime))
            await channel.posix_rename(temporary, f"{remote}/{name}")

    await asyncio.gather(*(worker(channel) for channel in channels))


async def download(channels: list[asyncssh.SFTPClient], remote: str, local: Path) -> None:
    """Download the server folder remote into the local folder local (made if missing)."""
    files: list[tuple[str, int, int]] = []
    folders = [""]
    while folders:
        level, folders = folders, []
        listings = await asyncio.gather(
            *(
                channels[index % len(channels)].readdir(f"{remote}/{folder}")
                for index, folder in enumerate(level)
            )
        )
        for folder, listing in zip(level, listings, strict=True):
            (local / folder).mkdir(parents=True, exist_ok=True)
            for entry in listing:
                name = entry.filename if isinstance(entry.filename, str) else os.fsdecode(entry.filename)
                if name in (".", ".."):
                    continue
                path = f"{folder}/{name}" if folder else name
                if entry.attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                    folders.append(path)
                else:
                    files.append((path, entry.attrs.size or 0, entry.attrs.mtime or 0))
    queue: asyncio.Queue[tuple[str, int, int]] = asyncio.Queue()
    for item in files:
        queue.put_nowait(item)

    async def worker(channel: asyncssh.SFTPClient) -> None:
        while not queue.empty():
            name, size, mtime = queue.get_nowait()
            async with channel.open(f"{remote}/{name}", "rb") as handle:
                data = await handle.read(size, 0) if size else b""
            assert isinstance(data, bytes)
            temporary = local / f"{name}.tmp-floor"
            temporary.write_bytes(data)
            os.utime(temporary, (mtime, mtime))
            os.replace(temporary, local / name)

    await asyncio.gather(*(worker(channel) for channel in channels))


async def run(arguments: argparse.Namespace) -> None:
    """Open the connections and do the transfer."""
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
                encryption_algs=["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"],
            )
            for _ in range(arguments.connections)
        )
    )
    channels = list(await asyncio.gather(*(connection.start_sftp_client() for connection in connections)))
    if arguments.direction == "up":
        await upload(channels, Path(arguments.local), arguments.remote)
    else:
        await download(channels, arguments.remote, Path(arguments.local))
    for connection in connections:
        connection.close()


def main() -> None:
    """Parse the arguments and run one transfer."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("direction", choices=("up", "down"))
    parser.add_argument("local")
    parser.add_argument("remote")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", default="")
    parser.add_argument("--user", default=os.environ.get("USER", "root"))
    parser.add_argument("--connections", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(run(arguments))
    sys.exit(0)


if __name__ == "__main__":
    main()
