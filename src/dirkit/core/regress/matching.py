"""Matching actual output against expected lines, each of which may be a `(re)` or `(glob)` pattern."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

RE_SUFFIX = " (re)"
GLOB_SUFFIX = " (glob)"


def glob_to_regex(glob: str) -> str:
    """Return the regex of a cram glob line: `*` any text, `?` one character, `\\` escapes the next."""
    parts: list[str] = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "\\" and index + 1 < len(glob):
            parts.append(re.escape(glob[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return "".join(parts)


def line_matches(expected: str, actual: str) -> bool:
    """Tell whether an actual line meets an expected line (equal, or matched by its pattern)."""
    if expected == actual:
        return True
    if expected.endswith(RE_SUFFIX):
        source = expected.removesuffix(RE_SUFFIX)
    elif expected.endswith(GLOB_SUFFIX):
        source = glob_to_regex(expected.removesuffix(GLOB_SUFFIX))
    else:
        return False
    try:
        return re.fullmatch(source, actual) is not None
    except re.error:
        return False


def escape_line(line: str) -> str:
    """Return a line to store as expected output so that it is read back as itself, not as a pattern."""
    if line.endswith((RE_SUFFIX, GLOB_SUFFIX)):
        return re.escape(line) + RE_SUFFIX
    return line


def reconcile(expected: Sequence[str], actual: Sequence[str]) -> list[str]:
    """Return actual's lines, each one met by an expected pattern line replaced by that line.

    The result equals expected exactly when actual meets every expected line; it is also what
    an update stores, so patterns that still match survive it.
    """
    result = [escape_line(line) for line in actual]
    matcher = difflib.SequenceMatcher(None, list(expected), list(actual), autojunk=False)
    for tag, low, high, actual_low, actual_high in matcher.get_opcodes():
        if tag == "equal":
            result[actual_low:actual_high] = expected[low:high]
        elif tag == "replace":
            cursor = low
            for position in range(actual_low, actual_high):
                for candidate in range(cursor, high):
                    if line_matches(expected[candidate], actual[position]):
                        result[position] = expected[candidate]
                        cursor = candidate + 1
                        break
    return result


def split_lines(text: str) -> list[str]:
    """Return text's lines (a final newline ends the last line; without one, the last line is marked)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    else:
        lines[-1] += NO_EOL
    return lines


NO_EOL = " (no-eol)"
"""Marks a last line that had no newline (cram's word)."""


def join_lines(lines: Sequence[str]) -> str:
    """Return the text of lines, the inverse of split_lines."""
    if not lines:
        return ""
    if lines[-1].endswith(NO_EOL):
        return "\n".join([*lines[:-1], lines[-1].removesuffix(NO_EOL)])
    return "\n".join(lines) + "\n"


def stream_diff(stream: str, expected_text: str, actual_text: str) -> tuple[tuple[str, ...], str]:
    """Return the unified diff of a stream (empty when it meets the expectation) and the text to store."""
    expected = split_lines(expected_text)
    reconciled = reconcile(expected, split_lines(actual_text))
    stored = join_lines(reconciled)
    if reconciled == expected:
        return (), stored
    lines = difflib.unified_diff(
        expected, reconciled, fromfile=f"expected/{stream}", tofile=f"actual/{stream}", lineterm=""
    )
    return tuple(lines), stored
