"""Compressed archive streams: compress and decompress in a helper thread, in bounded memory."""

from __future__ import annotations

import bz2
import collections
import contextlib
import gzip
import lzma
import os
import queue
import struct
import threading
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Protocol, cast

import zstandard

from dirkit.core.archive.formats import ArchiveFormat

CHUNK_BYTES = 1024 * 1024
QUEUE_CHUNKS = 8
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
XZ_PRESET = 6
BZ2_LEVEL = 9


class Compressor(Protocol):
    """An incremental compressor: compress pieces, then flush the rest."""

    def compress(self, data: bytes, /) -> bytes:
        """Return compressed bytes for data (maybe none yet)."""
        ...

    def flush(self) -> bytes:
        """Return the last compressed bytes."""
        ...


def make_compressor(archive_format: ArchiveFormat) -> Compressor | None:
    """Return a compressor for a tar format, or None for plain tar (gzip headers carry no time)."""
    if archive_format is ArchiveFormat.TAR_GZ:
        return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    if archive_format is ArchiveFormat.TAR_BZ2:
        return bz2.BZ2Compressor(BZ2_LEVEL)
    if archive_format is ArchiveFormat.TAR_XZ:
        return lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=XZ_PRESET)
    if archive_format is ArchiveFormat.TAR_ZST:
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
    return None


_DONE = object()


class CompressingWriter:
    """A write-only stream that compresses and writes to sink in a helper thread."""

    def __init__(self, sink: BinaryIO, compressor: Compressor | None) -> None:
        self._sink = sink
        self._compressor = compressor
        self._queue: queue.Queue[object] = queue.Queue(QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._pending = bytearray()
        self._thread = threading.Thread(target=self._work, name="dirkit-compress", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        compressor = self._compressor
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    if compressor is not None:
                        self._sink.write(compressor.flush())
                    return
                assert isinstance(item, bytes)
                self._sink.write(compressor.compress(item) if compressor is not None else item)
        except BaseException as error:
            self._error = error
            while self._queue.get() is not _DONE:
                pass

    def write(self, data: bytes) -> int:
        """Queue data for compression; raise the helper's error if it failed."""
        if self._error is not None:
            raise self._error
        self._pending += data
        if len(self._pending) >= CHUNK_BYTES:
            self._queue.put(bytes(self._pending))
            self._pending.clear()
        return len(data)

    def close(self) -> None:
        """Flush everything and wait for the helper; raise its error if it failed."""
        if self._pending:
            self._queue.put(bytes(self._pending))
            self._pending.clear()
        self._queue.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stop the helper without caring for the output (after a failure)."""
        self._pending.clear()
        with contextlib.suppress(Exception):
            self._queue.put(_DONE, timeout=5)
        self._thread.join(timeout=5)


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
"""A gzip member header with no time and no name (as zlib writes it), for the Unix OS code."""
DEFLATE_WINDOW = 32 * 1024
FINAL_EMPTY_BLOCK = b"\x03\x00"
"""The last deflate block (empty, fixed codes), after blocks ended by a sync flush."""


def _deflate_block(block: bytes, dictionary: bytes) -> bytes:
    """Return block as raw deflate data ending on a byte boundary, primed with the bytes before it."""
    if dictionary:
        deflater = zlib.compressobj(
            GZIP_LEVEL, zlib.DEFLATED, -15, zlib.DEF_MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, dictionary
        )
    else:
        deflater = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
    return deflater.compress(block) + deflater.flush(zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """A write-only stream that gzips (level 6) on several threads into one gzip member, as pigz does.

    Each 1 MiB block is deflated by itself, primed with the 32 KiB before it, and ends on a sync flush,
    so the blocks join into one deflate stream; zlib releases the GIL, so the blocks use every core.
    The output depends only on the bytes written, never on the threads' timing.
    """

    def __init__(self, sink: BinaryIO, workers: int | None = None) -> None:
        self._sink = sink
        count = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="dirkit-gzip")
        self._limit = count * 2
        self._in_flight: collections.deque[Future[bytes]] = collections.deque()
        self._pending = bytearray()
        self._tail = b""
        self._crc = 0
        self._size = 0
        sink.write(GZIP_HEADER)

    def write(self, data: bytes) -> int:
        """Queue data for compression; raise a helper's error if one failed."""
        self._pending += data
        if len(self._pending) >= CHUNK_BYTES:
            self._submit()
        return len(data)

    def _submit(self) -> None:
        block = bytes(self._pending)
        self._pending.clear()
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        self._in_flight.append(self._pool.submit(_deflate_block, block, self._tail))
        self._tail = block[-DEFLATE_WINDOW:]
        while len(self._in_flight) > self._limit:
            self._sink.write(self._in_flight.popleft().result())

    def close(self) -> None:
        """Compress what is left, write the end of the member and wait for the helpers."""
        try:
            if self._pending:
                self._submit()
            while self._in_flight:
                self._sink.write(self._in_flight.popleft().result())
            self._sink.write(FINAL_EMPTY_BLOCK + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown(wait=True)

    def abandon(self) -> None:
        """Stop the helpers without caring for the output (after a failure)."""
        self._pending.clear()
        for future in self._in_flight:
            future.cancel()
        self._in_flight.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


ArchiveWriter = CompressingWriter | ParallelGzipWriter


def make_archive_writer(sink: BinaryIO, archive_format: ArchiveFormat) -> ArchiveWriter:
    """Return the compressing stream a tar format is written through (gzip on every core)."""
    if archive_format is ArchiveFormat.TAR_GZ:
        return ParallelGzipWriter(sink)
    return CompressingWriter(sink, make_compressor(archive_format))


def open_decompressed(raw: BinaryIO, archive_format: ArchiveFormat) -> BinaryIO:
    """Return a stream of the decompressed bytes of a tar archive whose raw bytes are raw."""
    if archive_format is ArchiveFormat.TAR_GZ:
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if archive_format is ArchiveFormat.TAR_BZ2:
        return cast(BinaryIO, bz2.BZ2File(raw, "rb"))
    if archive_format is ArchiveFormat.TAR_XZ:
        return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))
    if archive_format is ArchiveFormat.TAR_ZST:
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return raw


class DecompressingReader:
    """A read-only stream of decompressed bytes, produced by a helper thread in bounded memory."""

    def __init__(self, source: BinaryIO, raw: BinaryIO | None = None) -> None:
        self._source = source
        self._raw = raw
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._chunk = b""
        self._offset = 0
        self._ended = False
        self.position = 0
        """How many bytes read has returned so far."""
        self._thread = threading.Thread(target=self._work, name="dirkit-decompress", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._source.read(CHUNK_BYTES)
                if not data:
                    break
                self._put(data)
            self._put(None)
        except BaseException as error:
            self._put(error)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:
        """Return up to size bytes (all that is left when size < 0); b'' at the end."""
        offset = self._offset
        if 0 <= size <= len(self._chunk) - offset:
            self._offset = offset + size
            self.position += size
            return self._chunk[offset : offset + size]
        pieces: list[bytes] = []
        wanted = size if size >= 0 else None
        while wanted is None or wanted > 0:
            if self._offset >= len(self._chunk):
                if self._ended:
                    break
                item = self._queue.get()
                if item is None:
                    self._ended = True
                    break
                if isinstance(item, BaseException):
                    self._ended = True
                    raise item
                self._chunk, self._offset = item, 0
                continue
            end = len(self._chunk) if wanted is None else min(len(self._chunk), self._offset + wanted)
            piece = self._chunk[self._offset : end]
            self._offset = end
            pieces.append(piece)
            if wanted is not None:
                wanted -= len(piece)
        data = b"".join(pieces)
        self.position += len(data)
        return data

    def close(self) -> None:
        """Stop the helper thread and release the source."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._thread.join(timeout=10)
        self._source.close()
        if self._raw is not None:
            self._raw.close()
