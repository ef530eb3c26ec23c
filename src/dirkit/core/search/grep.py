"""Pure matching logic of `dirkit grep`: patterns over bytes, matching lines, context, binary sniffing."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from dirkit.core.search.linear_regex import LinearRegex, compile_linear, quote_literal
from dirkit.core.tree.filters import PATHSPEC_BACKEND
from dirkit.core.tree.paths import RelPath
from dirkit.errors import UsageError

if TYPE_CHECKING:
    import pathspec

NEWLINE = b"\n"
WORD_BYTES = rb"0-9A-Za-z_\x80-\xff"
"""Bytes that make up words for -w: ASCII letters, digits, underscore, and any non-ASCII byte."""


@dataclass(frozen=True, slots=True)
class GrepPattern:
    """What the user asked to find: the pattern text and how to read it."""

    text: str
    fixed: bool = False
    ignore_case: bool = False
    whole_word: bool = False


@dataclass(frozen=True, slots=True)
class ByteMatcher:
    """A compiled pattern that finds matches in bytes: a plain needle, or a linear-time regular expression."""

    needle: bytes | None
    regex: LinearRegex | None

    def search(self, data: bytes, start: int, end: int) -> tuple[int, int] | None:
        """Return the span of the first match in data[start:end], or None."""
        if self.needle is not None:
            found = data.find(self.needle, start, end)
            return None if found < 0 else (found, found + len(self.needle))
        assert self.regex is not None
        return self.regex.search(data, start, end)

    def occurs_in(self, data: bytes | bytearray, end: int | None = None) -> bool:
        """Tell whether data (up to end) holds a match anywhere, lines not considered."""
        stop = len(data) if end is None else end
        if self.needle is not None:
            return data.find(self.needle, 0, stop) >= 0
        assert self.regex is not None
        if stop < len(data):
            # RE2's binding pays for the whole buffer it is given, not for the slice searched
            return self.regex.search(memoryview(data)[:stop], 0, stop) is not None
        return self.regex.search(data, 0, stop) is not None


def pattern_bytes(text: str) -> bytes:
    """Return the pattern as UTF-8 bytes (undecodable command-line bytes kept as they were)."""
    return text.encode("utf-8", "surrogateescape")


def _caseless_literal(text: str) -> bytes:
    """Return a bytes regex matching text with every letter in any case, non-ASCII letters too."""
    pieces: list[bytes] = []
    for char in text:
        variants = sorted({char, char.lower(), char.upper(), char.swapcase()})
        encoded = [quote_literal(pattern_bytes(variant)) for variant in variants]
        pieces.append(encoded[0] if len(encoded) == 1 else b"(?:" + b"|".join(encoded) + b")")
    return b"".join(pieces)


def compile_matcher(pattern: GrepPattern) -> ByteMatcher:
    """Return the matcher for a pattern, or raise UsageError naming a bad or unsupported regular expression.

    Regular expressions run on RE2 over bytes (Latin-1 mode: a byte is a character, as in grep
    under LC_ALL=C), so no pattern can take more than linear time.
    """
    raw = pattern_bytes(pattern.text)
    if pattern.fixed and not pattern.ignore_case and not pattern.whole_word:
        return ByteMatcher(raw, None)
    if pattern.fixed:
        body = _caseless_literal(pattern.text) if pattern.ignore_case else quote_literal(raw)
    else:
        body = raw
    group = 0
    if pattern.whole_word:
        # RE2 has no lookaround: take the bytes on either side into the match, report group 1.
        body = b"(?:^|[^" + WORD_BYTES + b"\\n])(" + body + b")(?:[^" + WORD_BYTES + b"\\n]|$)"
        group = 1
    caseless = pattern.ignore_case and not pattern.fixed
    return ByteMatcher(None, compile_linear(pattern.text, b"(?m)" + body, caseless, utf8=False, group=group))


def looks_binary(head: bytes) -> bool:
    """Tell whether bytes read from the start of a file mark it as binary (they hold a NUL)."""
    return b"\0" in head


def matching_lines(matcher: ByteMatcher, data: bytes) -> Iterator[tuple[int, int]]:
    """Yield (start, end) offsets of each line of data holding a match, newline excluded.

    Lines end at b'\\n'; a match never spans two lines, as in grep.
    """
    size = len(data)
    position = 0
    while position < size:
        found = matcher.search(data, position, size)
        if found is None:
            return
        match_start, match_end = found
        line_start = data.rfind(NEWLINE, position, match_start) + 1 or position
        line_end = data.find(NEWLINE, match_start)
        if line_end < 0:
            line_end = size
        if match_end > line_end and matcher.search(data, line_start, line_end) is None:
            position = line_end + 1
            continue
        yield line_start, line_end
        position = line_end + 1


def match_spans(matcher: ByteMatcher, line: bytes) -> list[tuple[int, int]]:
    """Return the spans of the non-overlapping matches in one line (for highlighting)."""
    spans: list[tuple[int, int]] = []
    position = 0
    size = len(line)
    while position <= size and len(spans) < 10_000:
        found = matcher.search(line, position, size)
        if found is None:
            break
        start, end = found
        if end == start:
            position = end + 1
            continue
        spans.append(found)
        position = end
    return spans


class LineRole(enum.Enum):
    """What an output line is: a matching line, a context line, or a break between groups."""

    MATCH = ":"
    CONTEXT = "-"
    BREAK = "--"


class OutputLine(NamedTuple):
    """One line to show for a file: its 1-based number, its bytes, and its role."""

    number: int
    text: bytes
    role: LineRole


BREAK_LINE = OutputLine(0, b"", LineRole.BREAK)


class ContextWindow:
    """Turns the matching lines of successive blocks of one file into output lines with context.

    Blocks must end at a line boundary (or at the end of the file); state carried between blocks
    is bounded by the number of context lines asked for.
    """

    __slots__ = ("_after", "_after_left", "_before", "_last_shown", "_next_number", "_recent")

    def __init__(self, before: int = 0, after: int = 0) -> None:
        self._before = before
        self._after = after
        self._after_left = 0
        self._last_shown = 0
        self._next_number = 1
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=before or 1)

    def feed(
        self, data: bytes, hits: Iterable[tuple[int, int]], ends_mid_line: bool = False
    ) -> list[OutputLine]:
        """Return the output lines of one block, given the spans of its matching lines.

        ends_mid_line says the block stops inside an over-long line that the next block continues.
        """
        shown: list[OutputLine] = []
        cursor = 0
        number = self._next_number
        for line_start, line_end in hits:
            hit_number = number + data.count(NEWLINE, cursor, line_start)
            while self._after_left > 0 and cursor < line_start:
                end = data.find(NEWLINE, cursor, line_start)
                self._show(shown, OutputLine(number, data[cursor:end], LineRole.CONTEXT))
                number += 1
                cursor = end + 1
                self._after_left -= 1
            if self._before:
                for before_line in self._lines_before(data, cursor, line_start, hit_number):
                    self._show(shown, before_line)
            self._show(shown, OutputLine(hit_number, data[line_start:line_end], LineRole.MATCH))
            self._recent.clear()
            cursor = line_end + 1
            number = hit_number + 1
            self._after_left = self._after
        size = len(data)
        while self._after_left > 0 and cursor < size:
            end = data.find(NEWLINE, cursor)
            end = size if end < 0 else end
            self._show(shown, OutputLine(number, data[cursor:end], LineRole.CONTEXT))
            number += 1
            cursor = end + 1
            self._after_left -= 1
        if cursor < size:
            remaining = data.count(NEWLINE, cursor)
            if not data.endswith(NEWLINE):
                remaining += 1
            if self._before:
                self._remember_tail(data, cursor, number, remaining)
            number += remaining
        if ends_mid_line and data and not data.endswith(NEWLINE):
            number -= 1
        self._next_number = number
        return shown

    def _show(self, shown: list[OutputLine], line: OutputLine) -> None:
        if (self._before or self._after) and self._last_shown and line.number > self._last_shown + 1:
            shown.append(BREAK_LINE)
        shown.append(line)
        self._last_shown = line.number

    def _lines_before(self, data: bytes, cursor: int, line_start: int, hit_number: int) -> list[OutputLine]:
        """Return up to `before` unshown lines just above the hit, from this block and earlier ones."""
        found: list[OutputLine] = []
        end = line_start - 1
        number = hit_number - 1
        while len(found) < self._before and end >= cursor and end >= 0:
            start = data.rfind(NEWLINE, cursor, end) + 1 or cursor
            found.append(OutputLine(number, data[start:end], LineRole.CONTEXT))
            number -= 1
            end = start - 1
        if cursor == 0:
            for old_number, old_text in reversed(self._recent):
                if len(found) >= self._before:
                    break
                found.append(OutputLine(old_number, old_text, LineRole.CONTEXT))
        found.reverse()
        return [line for line in found if line.number > self._last_shown]

    def _remember_tail(self, data: bytes, cursor: int, number: int, count: int) -> None:
        """Keep the last `before` lines of a block that were not shown, for the next block's hits."""
        size = len(data)
        end = size - 1 if data.endswith(NEWLINE) else size
        tail: list[tuple[int, bytes]] = []
        last_number = number + count - 1
        while len(tail) < self._before and end >= cursor:
            start = data.rfind(NEWLINE, cursor, end) + 1 or cursor
            tail.append((last_number, data[start:end]))
            last_number -= 1
            end = start - 1
        self._recent.extend(reversed(tail))


def decode_for_display(raw: bytes) -> str:
    """Return bytes of any encoding as text, undecodable bytes replaced (U+FFFD)."""
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class GlobFilter:
    """Which files --glob selects: gitignore-style patterns to search, '!' in front to leave out."""

    wanted: pathspec.GitIgnoreSpec | None = None
    unwanted: pathspec.GitIgnoreSpec | None = None

    @property
    def selects_all(self) -> bool:
        """Tell whether every file is selected."""
        return self.wanted is None and self.unwanted is None

    def selects(self, path: RelPath) -> bool:
        """Tell whether the file at path is to be searched."""
        if self.wanted is not None and not self.wanted.match_file(path):
            return False
        return self.unwanted is None or not self.unwanted.match_file(path)


def compile_globs(globs: Sequence[str]) -> GlobFilter:
    """Return the filter of --glob patterns: a file must match one plain glob and no '!' glob."""
    wanted = [glob for glob in globs if glob.strip() and not glob.startswith("!")]
    unwanted = [glob[1:] for glob in globs if glob.startswith("!") and glob[1:].strip()]
    if not wanted and not unwanted:
        return GlobFilter()
    import pathspec  # imported on first use: it costs ~30 ms at startup

    try:
        return GlobFilter(
            pathspec.GitIgnoreSpec.from_lines(wanted, backend=PATHSPEC_BACKEND) if wanted else None,
            pathspec.GitIgnoreSpec.from_lines(unwanted, backend=PATHSPEC_BACKEND) if unwanted else None,
        )
    except Exception as error:
        raise UsageError(f"bad --glob pattern in {list(globs)!r}: {error}") from error
