"""The SFTP backend: one tree on an SSH server, through asyncssh on an event loop of its own.

The sync Backend calls may come from many threads at once; each submits its coroutine to the one
loop and waits, so calls overlap on a pool of connections (see sftp_session.ChannelPool).
At about 540 lines it is over the usual 400: it is one class, each protocol method with its
coroutine beside it; the pieces that stand alone live in sftp_session (connections, errors),
sftp_transfers (pipelined requests), sftp_streams (entries, reading), sftp_listings (names
known absent) and ssh_hosts (host keys).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, BinaryIO, TypeVar, cast

import asyncssh

from dirkit.backends.protocol import Capabilities
from dirkit.backends.sftp_listings import ListedNames
from dirkit.backends.sftp_session import (
    DEFAULT_TIMEOUT_S,
    ChannelPool,
    EventLoopThread,
    ServerTraits,
    translate_sftp_error,
)
from dirkit.backends.sftp_streams import (
    CHUNK,
    SftpReader,
    decoded,
    encoded,
    entry_of,
    kind_of,
    read_up_to,
    sftp_capabilities,
    time_attrs,
    upload_attrs,
    written_entry,
)
from dirkit.backends.sftp_transfers import Requests
from dirkit.backends.ssh_hosts import HostKeyPolicy
from dirkit.backends.ssh_hosts import ssh_folder as default_ssh_folder
from dirkit.backends.temp_files import new_temp_name
from dirkit.backends.trees import DEFAULT_CONNECTIONS
from dirkit.backends.urls import RemoteLocation
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, base_name, join_path
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    IsADirError,
    NotADirError,
    NotFoundError,
    TreeNotFoundError,
    UnsupportedError,
)

Result = TypeVar("Result")
CHUNKS_IN_FLIGHT = 3
"""Chunks of an upload on their way at once, while the next is read from the source."""
REQUESTS_IN_FLIGHT = 128
"""Read requests of one chunk in flight at once (asyncssh's default is 16 of the server's block size)."""
_FILE, _DIR, _LINK = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK


class SftpBackend:
    """A tree below a folder of an SFTP server; thread-safe, up to `connections` calls at once."""

    def __init__(
        self,
        location: RemoteLocation,
        *,
        accept_new_host_keys: bool = False,
        connections: int = DEFAULT_CONNECTIONS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        create: bool = False,
        ssh_folder: str | None = None,
    ) -> None:
        """Connect; ssh_folder holds config and known_hosts (default ~/.ssh, with ~ read from $HOME)."""
        self._location = location
        self._timeout_s = timeout_s
        folder = ssh_folder or default_ssh_folder(os.environ)
        known_hosts = os.path.join(folder, "known_hosts")
        self._policy = HostKeyPolicy(known_hosts, accept_new_host_keys)
        self._loop = EventLoopThread("dirkit-sftp")
        config = os.path.join(folder, "config")
        self._pool = ChannelPool(location, self._policy, connections, timeout_s, config)
        self._closed = False
        self._listings = ListedNames(enabled=False)
        try:
            self._base = self._call(ROOT, self._open_root(create))
        except BaseException:
            self.close()
            raise
        traits = self._traits
        self._listings = ListedNames(enabled=traits.exclusive_rename)
        self._capabilities = sftp_capabilities(self._pool.size, traits.posix_rename, traits.hard_links)

    @property
    def _traits(self) -> ServerTraits:
        """Return what the server offers (read when the first channel opened)."""
        assert self._pool.traits is not None
        return self._pool.traits

    async def _open_root(self, create: bool) -> bytes:
        """Find the tree's root folder (made, with its parents, if create); return its server path."""
        channel = await self._pool.channel()
        path = self._location.path
        if path == "~" or path.startswith("~/"):
            path = self._traits.home.rstrip("/") + path[1:]
        base = encoded(path or "/")
        try:
            attrs = await channel.stat(base)
        except asyncssh.SFTPNoSuchFile:
            if not create:
                raise TreeNotFoundError(
                    errno.ENOENT, "no such folder on the server", self._location.url
                ) from None
            await channel.makedirs(base, exist_ok=True)
            return base
        if kind_of(attrs) is not _DIR:
            raise NotADirError(errno.ENOTDIR, "not a folder", self._location.url)
        return base

    @property
    def capabilities(self) -> Capabilities:
        """Return what this server can do, as read once at connect."""
        return self._capabilities

    @property
    def description(self) -> str:
        """Return the tree's normalized URL, without secrets."""
        return self._location.url

    def _shown(self, path: RelPath) -> str:
        """Return path as messages name it: the tree's URL and the path below it."""
        return f"{self._location.url.rstrip('/')}/{path}" if path else self._location.url

    def _wire(self, path: RelPath) -> bytes:
        """Return the server path of path."""
        return self._base if not path else self._base.rstrip(b"/") + b"/" + encoded(path)

    def _call(self, path: RelPath, coroutine: Coroutine[Any, Any, Result]) -> Result:
        """Run coroutine on the loop, bounded by the timeout; anything it raises leaves as a dirkit kind."""
        try:
            return self._loop.run(coroutine, self._timeout_s)
        except Exception as error:
            raise translate_sftp_error(error, self._shown(path)) from None

    def _submit(self, coroutine: Coroutine[Any, Any, Result]) -> Future[Result]:
        """Start coroutine on the loop."""
        return self._loop.submit(coroutine)

    def _waiter(self, path: RelPath) -> Any:
        """Return a function that waits for a future (bounded by the timeout), raising dirkit kinds."""

        def wait(future: Future[Result]) -> Result:
            try:
                return future.result(self._timeout_s)
            except Exception as error:
                future.cancel()
                raise translate_sftp_error(error, self._shown(path)) from None

        return wait

    async def _lstat_or_none(self, channel: asyncssh.SFTPClient, path: RelPath) -> Entry | None:
        """Return the entry at path (links not followed), or None if there is none."""
        try:
            return entry_of(path, await channel.lstat(self._wire(path)))
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None

    # Reading

    async def _stat(self, path: RelPath, follow_symlinks: bool) -> Entry:
        channel = await self._pool.channel()
        wire = self._wire(path)
        attrs = await (channel.stat(wire) if follow_symlinks else channel.lstat(wire))
        target = decoded(await channel.readlink(wire)) if kind_of(attrs) is _LINK else None
        return entry_of(path, attrs, target)

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path (a name absent from a fresh listing of its folder: see sftp_listings)."""
        if self._listings.known_absent(path):
            raise NotFoundError(errno.ENOENT, "no such file or folder", self._shown(path))
        return self._call(path, self._stat(path, follow_symlinks))

    async def _list(self, path: RelPath) -> list[Entry]:
        channel = await self._pool.channel()
        wire = self._wire(path)
        try:
            names = await channel.readdir(wire)
        except (asyncssh.SFTPFailure, asyncssh.SFTPNoSuchFile):  # OpenSSH says "no such file" for ENOTDIR
            found = await self._lstat_or_none(channel, path)
            if found is not None and found.kind is not _DIR:
                raise NotADirError(errno.ENOTDIR, "not a folder", self._shown(path)) from None
            raise
        children = [
            (join_path(path, decoded(cast(bytes, name.filename))), name.attrs)
            for name in names
            # a name with '/' (or NUL) from a hostile server would lead a download out of the tree
            if name.filename not in (b"", b".", b"..")
            and b"/" not in cast(bytes, name.filename)
            and b"\0" not in cast(bytes, name.filename)
        ]
        links = [child for child, attrs in children if kind_of(attrs) is _LINK]
        targets = await asyncio.gather(*(channel.readlink(self._wire(link)) for link in links))
        target_of = {link: decoded(target) for link, target in zip(links, targets, strict=True)}
        return [entry_of(child, attrs, target_of.get(child)) for child, attrs in children]

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return the entries of a folder's children."""
        entries = self._call(path, self._list(path))
        self._listings.listed(path, [base_name(entry.path) for entry in entries])
        return entries

    async def _open(self, path: RelPath) -> tuple[asyncssh.SFTPClientFile | None, int, bytes]:
        """Read a file's first block and size in two round trips; open it again only if there is more."""
        channel = await self._pool.channel()
        wire = self._wire(path)
        data, attrs = await Requests(channel).read_small(wire)
        if kind_of(attrs) is _DIR:
            raise IsADirError(errno.EISDIR, "is a folder", self._shown(path))
        size = attrs.size or 0
        if len(data) >= size:
            return None, len(data), data
        return await channel.open(wire, "rb", encoding=None, max_requests=REQUESTS_IN_FLIGHT), size, data

    @staticmethod
    async def _close_quietly(handle: asyncssh.SFTPClientFile) -> None:
        with contextlib.suppress(asyncssh.Error, OSError, asyncio.TimeoutError):
            await handle.close()

    def open_read(self, path: RelPath) -> BinaryIO:
        """Return a stream of a file's bytes: small files in one flight, big ones in chunks read ahead."""
        handle, size, first = self._call(path, self._open(path))
        wait = self._waiter(path)

        def close_remote() -> None:
            if handle is not None:
                with contextlib.suppress(BackendError):
                    wait(self._submit(self._close_quietly(handle)))

        reader = SftpReader(handle, size, first, self._submit, wait, close_remote)
        return cast(BinaryIO, reader)

    def free_bytes(self) -> int | None:
        """Return the bytes the server says may still be written below the root (statvfs), if it says."""
        if not self._traits.statvfs:
            return None
        vfs = self._call(ROOT, self._statvfs())
        return int(vfs.bavail * vfs.frsize)

    async def _statvfs(self) -> asyncssh.SFTPVFSAttrs:
        channel = await self._pool.channel()
        return await channel.statvfs(self._base)

    # Writing

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Upload source under a temporary name beside path, set its time and mode, rename it into place.

        A file of less than one chunk goes in one flight after its OPEN; a bigger one in chunks, the
        next read from source while the last is on its way.
        """
        exclusive = self._listings.known_absent(path)
        try:
            entry = self._write(path, source, mtime_ns, mode, exclusive)
        except BaseException:
            self._listings.unsure(path)
            raise
        self._listings.added(path)
        return entry

    def _write(
        self, path: RelPath, source: BinaryIO, mtime_ns: int | None, mode: int | None, exclusive: bool
    ) -> Entry:
        """Upload source to path (exclusive: never replacing an entry there, see sftp_listings)."""
        temporary = new_temp_name(path)
        first = read_up_to(source, CHUNK)
        if len(first) < CHUNK:
            return self._call(path, self._put(path, temporary, first, 0, mtime_ns, mode, exclusive))
        requests, handle = self._call(path, self._create(temporary))
        wait = self._waiter(path)
        try:
            offset, data = 0, first
            pending: collections.deque[Future[None]] = collections.deque()
            while more := read_up_to(source, CHUNK):
                pending.append(self._submit(requests.write(handle, data, offset)))
                offset += len(data)
                if len(pending) == CHUNKS_IN_FLIGHT:
                    wait(pending.popleft())
                data = more
            while pending:
                wait(pending.popleft())
        except BaseException:
            with contextlib.suppress(BackendError):
                self._call(path, self._discard(requests, handle, temporary))
            raise
        finish = self._put(path, temporary, data, offset, mtime_ns, mode, exclusive, (requests, handle))
        return self._call(path, finish)

    async def _create(self, temporary: RelPath) -> tuple[Requests, bytes]:
        """Create the temporary file; return the channel's requests and the file's handle."""
        requests = Requests(await self._pool.channel())
        return requests, await requests.create(self._wire(temporary))

    async def _put(
        self,
        path: RelPath,
        temporary: RelPath,
        data: bytes,
        offset: int,
        mtime_ns: int | None,
        mode: int | None,
        exclusive: bool,
        opened: tuple[Requests, bytes] | None = None,
    ) -> Entry:
        """Write the last data at offset, set time and mode, close, and rename the temporary file to path."""
        requests, handle = opened or await self._create(temporary)
        setting = upload_attrs(mtime_ns, mode)
        channel = await self._pool.channel()
        try:
            got = await requests.finish(handle, data, offset, setting, mtime_ns is None or mode is None)
        except BaseException:
            await requests.close_quietly(handle)
            await self._remove_quietly(channel, temporary)
            raise
        try:
            await self._move_into_place(channel, temporary, path, exclusive)
        except BaseException:
            await self._remove_quietly(channel, temporary)
            raise
        return written_entry(path, offset + len(data), got, mtime_ns, mode)

    async def _move_into_place(
        self, channel: asyncssh.SFTPClient, temporary: RelPath, path: RelPath, exclusive: bool
    ) -> None:
        """Rename the temporary file onto path, replacing a file there unless exclusive.

        A folder there is an IsADirError; anything there when exclusive an AlreadyExistsError.
        """
        try:
            if exclusive:
                await channel.rename(self._wire(temporary), self._wire(path))
            else:
                await self._replace(channel, temporary, path)
        except asyncssh.SFTPFailure:
            found = await self._lstat_or_none(channel, path)
            if found is not None and found.kind is _DIR:
                raise IsADirError(errno.EISDIR, "is a folder", self._shown(path)) from None
            if found is not None and exclusive:
                reason = "appeared after its folder was listed; left alone"
                raise AlreadyExistsError(errno.EEXIST, reason, self._shown(path)) from None
            raise

    async def _replace(self, channel: asyncssh.SFTPClient, old: RelPath, new: RelPath) -> None:
        """Rename old to new, replacing new: atomically with posix-rename, else by removing new first."""
        if self._traits.posix_rename:
            await channel.posix_rename(self._wire(old), self._wire(new))
            return
        found = await self._lstat_or_none(channel, new)
        if found is not None and found.kind is not _DIR:
            await channel.remove(self._wire(new))
        await channel.rename(self._wire(old), self._wire(new))

    async def _discard(self, requests: Requests, handle: bytes, temporary: RelPath) -> None:
        await requests.close_quietly(handle)
        await self._remove_quietly(await self._pool.channel(), temporary)

    async def _remove_quietly(self, channel: asyncssh.SFTPClient, path: RelPath) -> None:
        with contextlib.suppress(asyncssh.Error, OSError, asyncio.TimeoutError):
            await channel.remove(self._wire(path))

    async def _make_dir(self, path: RelPath, mode: int | None) -> None:
        channel = await self._pool.channel()
        wire = self._wire(path)
        try:
            attrs = asyncssh.SFTPAttrs() if mode is None else asyncssh.SFTPAttrs(permissions=mode & 0o7777)
            await channel.mkdir(wire, attrs)
        except asyncssh.SFTPFailure:
            if await self._lstat_or_none(channel, path) is not None:
                raise AlreadyExistsError(errno.EEXIST, "already exists", self._shown(path)) from None
            raise

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Create a folder (its parent must exist)."""
        with self._changing(path):
            self._call(path, self._make_dir(path, mode))
        self._listings.added(path, empty_folder=True)

    async def _make_symlink(self, path: RelPath, target: str) -> None:
        channel = await self._pool.channel()
        try:
            await channel.symlink(encoded(target), self._wire(path))
        except asyncssh.SFTPFailure:
            if await self._lstat_or_none(channel, path) is not None:
                raise AlreadyExistsError(errno.EEXIST, "already exists", self._shown(path)) from None
            raise

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Create a symlink at path pointing to target."""
        with self._changing(path):
            self._call(path, self._make_symlink(path, target))
        self._listings.added(path)

    async def _remove_file(self, path: RelPath) -> None:
        channel = await self._pool.channel()
        try:
            await channel.remove(self._wire(path))
        except asyncssh.SFTPFailure:
            found = await self._lstat_or_none(channel, path)
            if found is not None and found.kind is _DIR:
                raise IsADirError(errno.EISDIR, "is a folder", self._shown(path)) from None
            raise

    def remove_file(self, path: RelPath) -> None:
        """Remove a file or symlink."""
        with self._changing(path):
            self._call(path, self._remove_file(path))
        self._listings.removed(path)

    async def _hard_link(self, existing: RelPath, new: RelPath) -> None:
        channel = await self._pool.channel()
        try:
            await channel.link(self._wire(existing), self._wire(new))
        except asyncssh.SFTPFailure:
            if await self._lstat_or_none(channel, new) is not None:
                raise AlreadyExistsError(errno.EEXIST, "already exists", self._shown(new)) from None
            raise

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Make new a second name of existing (hardlink@openssh.com)."""
        if not self._traits.hard_links:
            raise UnsupportedError(errno.EOPNOTSUPP, "this server cannot make hard links", self._shown(new))
        with self._changing(new):
            self._call(new, self._hard_link(existing, new))
        self._listings.added(new)

    async def _remove_dir(self, path: RelPath) -> None:
        channel = await self._pool.channel()
        try:
            await channel.rmdir(self._wire(path))
        except (asyncssh.SFTPFailure, asyncssh.SFTPNoSuchFile):  # OpenSSH says "no such file" for ENOTDIR
            found = await self._lstat_or_none(channel, path)
            if found is not None and found.kind is not _DIR:
                raise NotADirError(errno.ENOTDIR, "not a folder", self._shown(path)) from None
            if found is None:
                raise NotFoundError(errno.ENOENT, "no such folder", self._shown(path)) from None
            names = await channel.listdir(self._wire(path)) if found is not None else []
            if [name for name in names if name not in (b".", b"..")]:
                raise BackendError(errno.ENOTEMPTY, "folder not empty", self._shown(path)) from None
            raise

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty folder."""
        if not path:
            raise BackendError(errno.EBUSY, "cannot remove the root of the tree", self._shown(path))
        with self._changing(path):
            self._call(path, self._remove_dir(path))
        self._listings.removed(path)

    async def _rename(self, old: RelPath, new: RelPath, replace: bool) -> None:
        channel = await self._pool.channel()
        if old == new:
            await channel.lstat(self._wire(old))
            return
        try:
            if replace:
                await self._replace(channel, old, new)
            else:
                await channel.rename(self._wire(old), self._wire(new))
        except asyncssh.SFTPFailure:
            if await self._lstat_or_none(channel, old) is None:
                raise NotFoundError(errno.ENOENT, "no such file or folder", self._shown(old)) from None
            found = await self._lstat_or_none(channel, new)
            if found is not None and not replace:
                raise AlreadyExistsError(errno.EEXIST, "already exists", self._shown(new)) from None
            if found is not None and found.kind is _DIR:
                raise IsADirError(errno.EISDIR, "is a folder", self._shown(new)) from None
            raise

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename old to new; unless replace, refuse when new exists."""
        with self._changing(old), self._changing(new):
            self._call(old, self._rename(old, new, replace))
        if old != new:
            self._listings.removed(old)
            self._listings.removed(new)
            self._listings.added(new)

    @contextlib.contextmanager
    def _changing(self, path: RelPath) -> Iterator[None]:
        """Forget what the listings say of path and its folder if the change in the block fails."""
        try:
            yield
        except BaseException:
            self._listings.unsure(path)
            raise

    async def _setstat(self, path: RelPath, attrs: asyncssh.SFTPAttrs, follow: bool) -> None:
        channel = await self._pool.channel()
        await channel.setstat(self._wire(path), attrs, follow_symlinks=follow)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the modification time of path in whole seconds (of a symlink itself, with lsetstat)."""
        self._call(path, self._setstat(path, time_attrs(mtime_ns), not self._traits.lsetstat))

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits of path."""
        self._call(path, self._setstat(path, asyncssh.SFTPAttrs(permissions=mode & 0o7777), True))

    def reconnect(self) -> None:
        """Close the connection (quietly); the next call opens a new one."""
        self._listings.clear()
        with contextlib.suppress(Exception):
            self._loop.run(self._pool.drop())

    def close(self) -> None:
        """Close every channel and the connection, and stop the event loop and its thread."""
        if self._closed:
            return
        self._closed = True
        self.reconnect()
        self._loop.stop()
