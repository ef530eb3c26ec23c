"""File transfers over one SFTP channel, with the requests of one file pipelined in one flight.

A server answers the requests of a channel in the order they were sent, so a small file is read
as OPEN, then READ + FSTAT + CLOSE at once (two round trips), and written as OPEN, then WRITE(s)
+ FSETSTAT + CLOSE at once, then the rename (three). asyncssh's file objects wait for each answer
and start a task per block, so these paths speak through its request layer (SFTPClient._handler,
whose coroutines send their request before they first wait), the one place dirkit does.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import asyncssh

OPEN_NEW = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL
ALL_ATTRIBUTES = asyncssh.FILEXFER_ATTR_DEFINED_V4


class Requests:
    """The request layer of one SFTP channel: each call sends one request and waits for its answer."""

    def __init__(self, channel: asyncssh.SFTPClient) -> None:
        self._handler: Any = channel._handler  # asyncssh's request layer (see the module's note)
        limits = self._handler.limits
        self.read_block: int = max(16 * 1024, int(limits.max_read_len))
        self.write_block: int = max(16 * 1024, int(limits.max_write_len))

    async def read_small(self, wire: bytes) -> tuple[bytes, asyncssh.SFTPAttrs]:
        """Return the first block of a file and its attributes, opening and closing it in two round trips.

        The data is all of the file when its length reaches the attributes' size.
        """
        handle = cast(bytes, await self._handler.open(wire, asyncssh.FXF_READ, asyncssh.SFTPAttrs()))
        results: list[Any] = [
            *await asyncio.gather(
                self._handler.read(handle, 0, self.read_block),
                self._handler.fstat(handle, ALL_ATTRIBUTES),
                self._handler.close(handle),
                return_exceptions=True,
            )
        ]
        read, stat, closed = results
        if isinstance(stat, BaseException):
            raise stat
        attrs = cast(asyncssh.SFTPAttrs, stat)
        if (attrs.permissions or 0) & 0o170000 == 0o040000:
            return b"", attrs
        if isinstance(read, asyncssh.SFTPEOFError):
            return b"", attrs
        if isinstance(read, BaseException):
            raise read
        if isinstance(closed, BaseException) and not isinstance(closed, asyncssh.SFTPError):
            raise closed
        return cast(tuple[bytes, bool], read)[0], attrs

    async def create(self, wire: bytes) -> bytes:
        """Create a new file (failing if the name exists); return its handle."""
        return cast(bytes, await self._handler.open(wire, OPEN_NEW, asyncssh.SFTPAttrs()))

    def _write_requests(self, handle: bytes, data: bytes, offset: int) -> list[Any]:
        """Return the coroutines that write data at offset in blocks the server takes."""
        block = self.write_block
        view = memoryview(data)
        return [
            self._handler.write(handle, offset + start, bytes(view[start : start + block]))
            for start in range(0, len(data), block)
        ]

    async def write(self, handle: bytes, data: bytes, offset: int) -> None:
        """Write data at offset, all its blocks in flight at once."""
        await _all_or_first_error(self._write_requests(handle, data, offset))

    async def finish(
        self, handle: bytes, data: bytes, offset: int, attrs: asyncssh.SFTPAttrs | None, want_stat: bool
    ) -> asyncssh.SFTPAttrs | None:
        """Write the last data, set attrs, read the attributes (if wanted) and close, in one flight."""
        steps = self._write_requests(handle, data, offset)
        if attrs is not None:
            steps.append(self._handler.fsetstat(handle, attrs))
        if want_stat:
            steps.append(self._handler.fstat(handle, ALL_ATTRIBUTES))
        steps.append(self._handler.close(handle))
        results = await _all_or_first_error(steps)
        return cast(asyncssh.SFTPAttrs, results[-2]) if want_stat else None

    async def close_quietly(self, handle: bytes) -> None:
        """Close a handle, ignoring any failure (cleanup after an error)."""
        try:
            await self._handler.close(handle)
        except (TimeoutError, asyncssh.Error, OSError):
            return


async def _all_or_first_error(steps: list[Any]) -> list[Any]:
    """Await every step (started in order, so sent in order); raise the first failure once all are done."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    failed = next((result for result in results if isinstance(result, BaseException)), None)
    if failed is not None:
        raise failed
    return results
