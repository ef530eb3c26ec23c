"""Reading a remote file over SFTP as a stream: big chunks of many requests in flight, one chunk ahead."""

from __future__ import annotations

import io
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, BinaryIO

import asyncssh

from dirkit.backends.protocol import Capabilities
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath

CHUNK = 8 * 1024 * 1024
"""Bytes asked of the server at once: asyncssh splits them into requests of the server's block size."""
WHOLE_SECOND_NS = 1_000_000_000
_FORMAT_MASK = 0o170000
_KINDS = {0o100000: EntryKind.FILE, 0o040000: EntryKind.DIR, 0o120000: EntryKind.SYMLINK}

Submit = Callable[[Coroutine[Any, Any, bytes]], "Future[bytes]"]
Wait = Callable[["Future[bytes]"], bytes]


def kind_of(attrs: asyncssh.SFTPAttrs) -> EntryKind:
    """Return the kind of entry the attributes describe (from the file-type bits of permissions)."""
    return _KINDS.get((attrs.permissions or 0) & _FORMAT_MASK, EntryKind.OTHER)


def entry_of(path: RelPath, attrs: asyncssh.SFTPAttrs, target: str | None = None) -> Entry:
    """Return the entry for path from its SFTP attributes (v3: whole-second times)."""
    kind = kind_of(attrs)
    mtime = None if attrs.mtime is None else int(attrs.mtime) * WHOLE_SECOND_NS
    size = attrs.size or 0 if kind is EntryKind.FILE else 0
    return Entry(path, kind, size, mtime, (attrs.permissions or 0) & 0o7777, target)


def sftp_capabilities(connections: int, posix_rename: bool, hard_links: bool) -> Capabilities:
    """Return what an SFTP tree can do, given the server's extensions."""
    return Capabilities(
        mtime_resolution_ns=WHOLE_SECOND_NS,
        can_set_mtime=True,
        can_set_mode=True,
        case_sensitive=True,
        symlinks=True,
        atomic_rename=posix_rename,
        rename_replaces=posix_rename,
        parallel_connections=connections,
        hard_links=hard_links,
        identities=False,
    )


def encoded(text: str) -> bytes:
    """Return a name as the server gets it (names that are not UTF-8 kept as their raw bytes)."""
    return text.encode("utf-8", "surrogateescape")


def decoded(raw: bytes) -> str:
    """Return a name from the server as text (bytes that are not UTF-8 kept by surrogateescape)."""
    return raw.decode("utf-8", "surrogateescape")


def time_attrs(mtime_ns: int) -> asyncssh.SFTPAttrs:
    """Return the attributes that set a time (SFTP v3 keeps whole seconds: the time is floored)."""
    seconds = mtime_ns // WHOLE_SECOND_NS
    return asyncssh.SFTPAttrs(atime=seconds, mtime=seconds)


def upload_attrs(mtime_ns: int | None, mode: int | None) -> asyncssh.SFTPAttrs | None:
    """Return the attributes to give a new file (None: none asked)."""
    if mtime_ns is None and mode is None:
        return None
    attrs = time_attrs(mtime_ns) if mtime_ns is not None else asyncssh.SFTPAttrs()
    if mode is not None:
        attrs.permissions = mode & 0o7777
    return attrs


def written_entry(
    path: RelPath, size: int, got: asyncssh.SFTPAttrs | None, mtime_ns: int | None, mode: int | None
) -> Entry:
    """Return the entry of a file just written: the asked time and mode, else what the server said."""
    stat = entry_of(path, got) if got is not None else None
    if mtime_ns is not None:
        mtime: int | None = mtime_ns // WHOLE_SECOND_NS * WHOLE_SECOND_NS
    else:
        mtime = stat.mtime_ns if stat is not None else None
    kept_mode = mode & 0o7777 if mode is not None else (stat.mode if stat is not None else 0)
    return Entry(path, EntryKind.FILE, size, mtime, kept_mode)


def read_up_to(source: BinaryIO, size: int) -> bytes:
    """Return the next size bytes of source, fewer only at its end."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing > 0:
        more = source.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


class SftpReader(io.RawIOBase):
    """A remote file's bytes; the next chunk is already on its way while the caller uses this one."""

    def __init__(
        self,
        handle: asyncssh.SFTPClientFile | None,
        size: int,
        first: bytes,
        submit: Submit,
        wait: Wait,
        close_remote: Callable[[], None],
    ) -> None:
        super().__init__()
        self._handle = handle
        self._size = size
        self._submit = submit
        self._wait = wait
        self._close_remote = close_remote
        self._buffer = memoryview(first)
        self._buffer_start = 0
        self._position = 0
        self._ahead: Future[bytes] | None = None
        self._ask_ahead(len(first))

    def _fetch(self, offset: int) -> Future[bytes]:
        """Start reading the chunk at offset (no further than the size the file had when opened)."""
        assert self._handle is not None
        return self._submit(self._handle.read(min(CHUNK, self._size - offset), offset))

    def _ask_ahead(self, offset: int) -> None:
        """Start reading the chunk at offset, unless the file ends before it."""
        self._ahead = self._fetch(offset) if offset < self._size else None
        self._ahead_offset = offset

    def readable(self) -> bool:
        """Tell that the stream can be read."""
        return True

    def seekable(self) -> bool:
        """Tell that the stream can seek."""
        return True

    def tell(self) -> int:
        """Return the position in the file."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to offset (from the start, the position or the end)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def _fill(self) -> bool:
        """Make the buffer hold the byte at the position; return False at the end of the file."""
        end = self._buffer_start + len(self._buffer)
        if self._buffer_start <= self._position < end:
            return True
        if self._ahead is not None and self._ahead_offset == self._position:
            data = self._wait(self._ahead)
        else:
            if self._ahead is not None:
                self._ahead.cancel()
            if self._position >= self._size:
                self._ahead = None
                return False
            data = self._wait(self._fetch(self._position))
        self._buffer, self._buffer_start = memoryview(data), self._position
        if not data:
            self._ahead = None
            return False
        self._ask_ahead(self._position + len(data))
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Return up to size bytes from the position (all the rest if size is negative)."""
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._fill():
            return b""
        start = self._position - self._buffer_start
        piece = bytes(self._buffer[start : start + size])
        self._position += len(piece)
        return piece

    def readall(self) -> bytes:
        """Return every byte from the position to the end."""
        parts = []
        while piece := self.read(CHUNK):
            parts.append(piece)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        """Read into buffer; return the byte count."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the remote file (and forget any chunk read ahead)."""
        if not self.closed:
            if self._ahead is not None:
                self._ahead.cancel()
                self._ahead = None
            self._close_remote()
        super().close()
