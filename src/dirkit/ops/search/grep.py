"""Search the files of a tree for a pattern: bytes-level, in parallel, in bounded memory."""

from __future__ import annotations

import enum
import itertools
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

from dirkit.backends.chunks import iter_chunks, iter_local_starts, read_start, read_start_into
from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend, workers_for
from dirkit.core.search.grep import (
    NEWLINE,
    ByteMatcher,
    ContextWindow,
    GlobFilter,
    GrepPattern,
    OutputLine,
    compile_matcher,
    looks_binary,
    matching_lines,
)
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import BackendError, DirkitError
from dirkit.ops.tree.scan import ScanOptions, iter_tree

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

BLOCK_SIZE = 1024 * 1024
"""Bytes read at a time; a file no larger than this is read in one go."""
LINE_CAP = 4 * 1024 * 1024
"""A line longer than this is searched and shown in pieces of this size (memory stays bounded)."""
SNIFF_SIZE = 64 * 1024
"""A NUL byte within this many bytes from the start marks a file as binary."""
BATCH_FILES = 48
"""Files handed to a worker thread at once (amortises the cost of scheduling)."""
BATCH_FILES_PER_PROCESS = 256
"""Files handed to a worker process at once (amortises sending the work to it)."""


class GrepMode(enum.Enum):
    """What to report: matching lines, names of files that match, or counts of matching lines."""

    LINES = "lines"
    FILES = "files"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class GrepOptions:
    """How to search: pattern, what to report, context, which files, and how many at once."""

    pattern: GrepPattern
    mode: GrepMode = GrepMode.LINES
    before: int = 0
    after: int = 0
    search_binary: bool = False
    globs: GlobFilter = field(default_factory=GlobFilter)
    scan: ScanOptions = field(default_factory=ScanOptions)
    jobs: int = 4


class FileMatches(NamedTuple):
    """What one file (or one piece of a big file) gave: lines to show and matching-line count.

    A big file searched for lines comes as several values for the same path, in order.
    """

    path: RelPath
    lines: tuple[OutputLine, ...] = ()
    match_count: int = 0
    error: str | None = None
    binary: bool = False


class _Searcher:
    """Searches one file at a time with fixed options; safe to share between threads."""

    __slots__ = ("backend", "local", "matcher", "options", "streamed_lines")

    def __init__(self, backend: Backend, matcher: ByteMatcher, options: GrepOptions) -> None:
        self.local = threading.local()
        self.backend = backend
        self.matcher = matcher
        self.options = options
        self.streamed_lines = options.mode is GrepMode.LINES

    def __getstate__(self) -> tuple[Backend, ByteMatcher, GrepOptions]:
        local = local_files(self.backend)
        # A worker process reads a local tree directly: send the local tree, not a wrapper around it.
        sent = local if isinstance(local, Backend) else self.backend
        return sent, self.matcher, replace(self.options, scan=ScanOptions(), globs=GlobFilter())

    def __setstate__(self, state: tuple[Backend, ByteMatcher, GrepOptions]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def search_paths(self, paths: list[RelPath]) -> list[FileMatches | Entry | None]:
        """Return the result of each regular file of a batch given by path (cheap to send to a worker)."""
        file_kind = EntryKind.FILE
        return self.search_batch([Entry(path, file_kind) for path in paths])

    def search_batch(self, entries: list[Entry]) -> list[FileMatches | Entry | None]:
        """Return the result of each file of a batch (see search_small)."""
        local = local_files(self.backend)
        if local is None:
            return [self.search_small(entry) for entry in entries]
        root = local.os_path(ROOT)
        buffer = self._buffer()
        starts = iter_local_starts(root, [entry.path for entry in entries], buffer)
        judge = self.judge
        return [judge(entry, buffer, *start) for entry, start in zip(entries, starts, strict=True)]

    def search_small(self, entry: Entry) -> FileMatches | Entry | None:
        """Return the whole result of one file, reading it in one go when it fits in a block.

        Returns the entry itself for a file too big to hold whose lines are wanted: the caller
        streams it with search_big.
        """
        buffer = self._buffer()
        try:
            size, complete = read_start_into(self.backend, entry.path, buffer)
        except BackendError as error:
            return self.judge(entry, buffer, 0, False, error.strerror or str(error))
        return self.judge(entry, buffer, size, complete, None)

    def judge(
        self, entry: Entry, buffer: bytearray, size: int, complete: bool, error: str | None = None
    ) -> FileMatches | Entry | None:
        """Return the result of a file whose first size bytes are in buffer."""
        path = entry.path
        if entry.error is not None:
            return FileMatches(path, error=entry.error)
        if error is not None:
            return FileMatches(path, error=error)
        options = self.options
        if not options.search_binary and buffer.find(b"\0", 0, min(size, SNIFF_SIZE)) >= 0:
            return FileMatches(path, binary=True) if options.mode is GrepMode.COUNT else None
        if not complete:
            if self.streamed_lines:
                return entry
            return self._collect_big(entry, bytes(memoryview(buffer)[:size]))
        if not self.matcher.occurs_in(buffer, size):
            return FileMatches(path) if options.mode is GrepMode.COUNT else None
        return self._gather(path, iter(((bytes(memoryview(buffer)[:size]), False),)))

    def _buffer(self) -> bytearray:
        """Return this thread's reusable read buffer."""
        buffer: bytearray | None = getattr(self.local, "buffer", None)
        if buffer is None:
            buffer = bytearray(BLOCK_SIZE)
            self.local.buffer = buffer
        return buffer

    def _collect_big(self, entry: Entry, start: bytes) -> FileMatches | None:
        """Return the result of a big file whose lines are not wanted (a name or a count)."""
        pieces = list(self.search_big(entry, start))
        if not pieces:
            return None
        lines = tuple(itertools.chain.from_iterable(piece.lines for piece in pieces))
        errors = [piece.error for piece in pieces if piece.error is not None]
        return FileMatches(
            entry.path, lines, sum(piece.match_count for piece in pieces), errors[0] if errors else None
        )

    def search_big(self, entry: Entry, start: bytes | None = None) -> Iterator[FileMatches]:
        """Yield the results of a file block by block, never holding more than a few blocks."""
        path = entry.path
        try:
            if start is None:
                start, _ = read_start(self.backend, path, BLOCK_SIZE)
                if not self.options.search_binary and looks_binary(start[:SNIFF_SIZE]):
                    yield FileMatches(path, binary=True)
                    return
            chunks = itertools.chain((start,), iter_chunks(self.backend, path, BLOCK_SIZE, len(start)))
            yield from self._results_by_block(path, _line_blocks(chunks))
        except BackendError as error:
            yield FileMatches(path, error=error.strerror or str(error))

    def _gather(self, path: RelPath, blocks: Iterator[tuple[bytes, bool]]) -> FileMatches | None:
        pieces = list(self._results_by_block(path, blocks))
        if not pieces:
            return None
        if len(pieces) == 1:
            return pieces[0]
        lines = tuple(itertools.chain.from_iterable(piece.lines for piece in pieces))
        return FileMatches(path, lines, sum(piece.match_count for piece in pieces))

    def _results_by_block(self, path: RelPath, blocks: Iterator[tuple[bytes, bool]]) -> Iterator[FileMatches]:
        matcher = self.matcher
        mode = self.options.mode
        if mode is GrepMode.FILES:
            for block, _ in blocks:
                if matcher.occurs_in(block) and next(matching_lines(matcher, block), None) is not None:
                    yield FileMatches(path, match_count=1)
                    return
            return
        if mode is GrepMode.COUNT:
            total = 0
            for block, _ in blocks:
                if matcher.occurs_in(block):
                    total += sum(1 for _ in matching_lines(matcher, block))
            yield FileMatches(path, match_count=total)
            return
        window = ContextWindow(self.options.before, self.options.after)
        for block, mid_line in blocks:
            hits = list(matching_lines(matcher, block)) if matcher.occurs_in(block) else []
            shown = window.feed(block, hits, ends_mid_line=mid_line)
            if shown:
                yield FileMatches(path, tuple(shown), len(hits))


def _line_blocks(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield blocks that end at a newline, or at the end, or mid-line when a line passes LINE_CAP."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        cut = data.rfind(NEWLINE) + 1
        if cut == 0:
            if len(data) >= LINE_CAP:
                yield data, True
                carry = b""
            else:
                carry = data
            continue
        if cut == len(data):
            yield data, False
            carry = b""
        else:
            yield data[:cut], False
            carry = data[cut:]
    if carry:
        yield carry, False


def grep_tree(backend: Backend, options: GrepOptions) -> Iterator[FileMatches]:
    """Yield the results of the tree's files in scan order (files with nothing to report skipped).

    In count mode every searched file is reported, with count 0 when nothing matched.
    """
    matcher = compile_matcher(options.pattern)
    searcher = _Searcher(backend, matcher, options)
    files = _selected_files(backend, options)
    if options.jobs <= 1:
        for batch in _batches(files, BATCH_FILES):
            for result in searcher.search_batch(batch):
                yield from _report(searcher, result)
        return
    yield from _grep_in_parallel(searcher, files, options.jobs)


def grep_files(backend: Backend, paths: Sequence[RelPath], options: GrepOptions) -> Iterator[FileMatches]:
    """Yield the results of the named files of the tree, in the order given (no walk, no --glob)."""
    searcher = _Searcher(backend, compile_matcher(options.pattern), options)
    for path in paths:
        yield from _report(searcher, searcher.search_small(Entry(path, EntryKind.FILE)))


def _report(searcher: _Searcher, result: FileMatches | Entry | None) -> Iterator[FileMatches]:
    if isinstance(result, FileMatches):
        yield result
    elif result is not None:
        yield from searcher.search_big(result)


def _grep_in_parallel(searcher: _Searcher, files: Iterator[Entry], jobs: int) -> Iterator[FileMatches]:
    """Search batches of files in worker processes (local trees) or threads, keeping scan order.

    Searching a local tree is mostly CPU work, so processes use every core; remote trees wait
    on the network, so threads do. Big files whose lines are wanted stream here, in order.
    """
    # Imported here: the pools (and the logging and ctypes they load) cost start-up time that
    # the forked local search (grep_local.py) and small searches do without.
    from concurrent.futures import ThreadPoolExecutor

    from dirkit.ops.tree.workers import start_process_pool

    pending: deque[Future[list[FileMatches | Entry | None]]] = deque()
    local = local_files(searcher.backend) is not None
    workers = workers_for(searcher.backend, min(jobs, os.cpu_count() or 1) if local else jobs)
    if workers <= 1:
        for batch in _batches(files, BATCH_FILES):
            for result in searcher.search_batch(batch):
                yield from _report(searcher, result)
        return
    pool: Executor
    if local:
        pool = start_process_pool(workers)
        batch_size = BATCH_FILES_PER_PROCESS
    else:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="dirkit-grep")
        batch_size = BATCH_FILES
    window = workers * 4
    # Leaving the block early (an error, Ctrl-C, the reader gone) kills worker processes at once;
    # threads cannot be killed, so their batches not yet started are cancelled.
    with pool:
        try:
            for batch in _batches(files, batch_size):
                if any(entry.error is not None for entry in batch):
                    pending.append(pool.submit(searcher.search_batch, batch))
                else:
                    pending.append(pool.submit(searcher.search_paths, [entry.path for entry in batch]))
                while len(pending) > window:
                    for result in _results_of(pending.popleft()):
                        yield from _report(searcher, result)
            while pending:
                for result in _results_of(pending.popleft()):
                    yield from _report(searcher, result)
        finally:
            if not local:
                for future in pending:
                    future.cancel()


def _results_of(future: Future[list[FileMatches | Entry | None]]) -> list[FileMatches | Entry | None]:
    """Return the results of one batch, or raise DirkitError when its worker process died."""
    from concurrent.futures import BrokenExecutor

    try:
        return future.result()
    except BrokenExecutor as error:
        raise DirkitError(f"a grep worker process ended unexpectedly: {error}") from error


def _batches(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    """Yield lists of up to size entries."""
    while batch := list(itertools.islice(entries, size)):
        yield batch


def _selected_files(backend: Backend, options: GrepOptions) -> Iterator[Entry]:
    """Yield the regular files of the tree that --glob selects, and every entry that failed to read."""
    globs = options.globs
    select_all = globs.selects_all
    file_kind = EntryKind.FILE
    scan = replace(options.scan, kinds_only=True)
    for entry in iter_tree(backend, scan):
        if entry.error is not None or (entry.kind is file_kind and (select_all or globs.selects(entry.path))):
            yield entry
