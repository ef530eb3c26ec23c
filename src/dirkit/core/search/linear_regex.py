"""User regular expressions run by RE2, whose matching time grows linearly with the text searched.

Python's `re` backtracks, so a pattern such as `(a+)+$` takes exponential time on a line of `a`s.
RE2 never backtracks; the price is that it has no backreferences and no lookaround, and such
patterns are refused with a message saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dirkit.errors import UsageError

if TYPE_CHECKING:
    from types import ModuleType

_NO_SPAN = (-1, -1)

_UNSUPPORTED_HINTS = (
    ("invalid escape sequence: \\Z", "RE2 writes \\z for the end of the text"),
    ("invalid escape sequence: \\", "backreferences like \\1 are not supported"),
    ("invalid perl operator: (?P", "named backreferences like (?P=name) are not supported"),
    ("invalid perl operator: (?<", "lookbehind is not supported"),
    ("invalid perl operator: (?=", "lookahead is not supported"),
    ("invalid perl operator: (?!", "lookahead is not supported"),
)
"""RE2's reasons for refusing a feature it leaves out on purpose, and what to tell the user."""
LINEAR_NOTE = "dirkit runs regular expressions in linear time (RE2 syntax), which rules out backtracking"


class LinearRegex:
    """A compiled RE2 pattern over bytes: finds the span of a match (or of one group) in a slice."""

    __slots__ = ("_anchor", "_group", "_match", "_options", "_pattern", "_utf8")

    def __init__(self, pattern: bytes, ignore_case: bool, utf8: bool, group: int = 0) -> None:
        self._pattern = pattern
        self._utf8 = utf8
        self._group = group
        re2 = re2_module()
        # The binding's low-level "search anywhere" anchor (None if a future binding hides it).
        self._anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        options = re2.Options()
        options.log_errors = False
        options.case_sensitive = not ignore_case
        options.encoding = re2.Options.Encoding.UTF8 if utf8 else re2.Options.Encoding.LATIN1
        self._options = options
        compiled = re2.compile(pattern, options)
        low_level = getattr(compiled, "_regexp", None)
        self._match: Callable[..., Any]
        if low_level is not None and self._anchor is not None:
            # The binding's own search builds a match object per call (4x the cost); this only returns spans.
            self._match = low_level.Match
        else:
            self._match = spans_through_search(compiled)

    def __reduce__(self) -> tuple[type[LinearRegex], tuple[bytes, bool, bool, int]]:
        return LinearRegex, (self._pattern, not self._options.case_sensitive, self._utf8, self._group)

    def search(self, data: bytes | bytearray | memoryview, start: int, end: int) -> tuple[int, int] | None:
        """Return the span of the first match (of the group chosen) in data[start:end], or None."""
        spans = self._match(self._anchor, data, start, end)
        if spans[0] == _NO_SPAN:
            return None
        span = spans[self._group]
        return int(span[0]), int(span[1])


def re2_module() -> ModuleType:
    """Return the RE2 binding, imported on first use (find without --regex never loads it)."""
    import re2

    module: ModuleType = re2
    return module


def spans_through_search(compiled: Any) -> Callable[..., Any]:
    """Return a span-finding call like the binding's low-level Match, made from its public search."""

    def spans(anchor: object, data: bytes, start: int, end: int) -> list[tuple[int, int]]:
        found = compiled.search(data, start, end)
        if found is None:
            return [_NO_SPAN]
        return [found.span(number) for number in range(found.re.groups + 1)]

    return spans


def compile_linear(
    text: str, pattern: bytes, ignore_case: bool = False, utf8: bool = False, group: int = 0
) -> LinearRegex:
    """Return the pattern compiled by RE2, or raise UsageError naming the pattern text and the reason."""
    re2 = re2_module()
    try:
        return LinearRegex(pattern, ignore_case, utf8, group)
    except re2.error as error:
        reason = _reason(error)
        hint = next((extra for start, extra in _UNSUPPORTED_HINTS if reason.startswith(start)), None)
        if hint is not None:
            reason = f"{reason} ({hint}" + ("" if hint.startswith("RE2") else f": {LINEAR_NOTE}") + ")"
        raise UsageError(f"bad regular expression {text!r}: {reason}") from error


def _reason(error: BaseException) -> str:
    """Return RE2's reason for refusing a pattern as text."""
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        return detail.decode("utf-8", "replace")
    return str(detail)


def quote_literal(literal: bytes) -> bytes:
    """Return a pattern matching exactly the given bytes."""
    quoted: bytes = re2_module().escape(literal)
    return quoted
