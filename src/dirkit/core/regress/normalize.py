"""Normalizing what is not deterministic in a case's output: paths, dates, times, durations, hex ids."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dirkit.core.regress.cases import Filter, Replacement

WORKDIR_MARK = "[WORKDIR]"
SUITE_MARK = "[SUITE]"

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_CLOCK = "[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
_CTIME = rf"\b{_DAY} +{_MONTH} +[0-9]{{1,2}}(?: +{_CLOCK})?(?: +[A-Z]{{2,5}})? +[0-9]{{4}}\b"
_RFC_2822_DAY = rf"\b{_DAY}, +[0-9]{{1,2}} +{_MONTH} +[0-9]{{4}}\b"

_BUILT_IN: tuple[tuple[Filter, re.Pattern[str], str], ...] = (
    (Filter.DATE, re.compile(r"(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])"), "[DATE]"),
    (Filter.DATE, re.compile(f"{_CTIME}|{_RFC_2822_DAY}"), "[DATE]"),
    (
        Filter.TIME,
        re.compile(
            r"(?<![0-9])[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?(?![0-9])"
        ),
        "[TIME]",
    ),
    (
        Filter.DURATION,
        re.compile(r"(?<![0-9A-Za-z.])[0-9]+(?:\.[0-9]+)? ?(?:ns|us|µs|ms|s|secs?|seconds?|min|minutes?)\b"),
        "[DURATION]",
    ),
    (
        Filter.HEX,
        re.compile(
            r"\b(?=[0-9a-fA-F-]*[0-9])(?=[0-9a-fA-F-]*[a-fA-F])[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,})*\b"
        ),
        "[HEX]",
    ),
)
"""Each built-in filter's pattern and its placeholder; no placeholder holds a digit, so a second pass
changes nothing."""


@dataclass(frozen=True, slots=True)
class Normalizer:
    """The filters of one case, ready to apply to its output."""

    filters: frozenset[Filter]
    paths: tuple[tuple[str, str], ...]
    """(literal path, placeholder) pairs, longest path first."""
    replacements: tuple[tuple[re.Pattern[str], str], ...]

    def apply(self, text: str) -> str:
        """Return text with paths, then the user's replacements, then the built-in filters applied."""
        if Filter.PATH in self.filters:
            for literal, mark in self.paths:
                text = text.replace(literal, mark)
        for pattern, replacement in self.replacements:
            text = pattern.sub(replacement, text)
        for kind, pattern, mark in _BUILT_IN:
            if kind in self.filters:
                text = pattern.sub(mark, text)
        return text


def make_normalizer(
    filters: Iterable[Filter],
    work_dirs: Sequence[str] = (),
    suite_dirs: Sequence[str] = (),
    replacements: Iterable[Replacement] = (),
) -> Normalizer:
    """Return the normalizer for a case run in work_dirs (each spelling of one folder) of a suite."""
    pairs = {path: WORKDIR_MARK for path in work_dirs if path}
    pairs.update({path: SUITE_MARK for path in suite_dirs if path and path not in pairs})
    ordered = tuple(sorted(pairs.items(), key=lambda pair: -len(pair[0])))
    compiled = tuple((re.compile(item.pattern), item.replacement) for item in replacements)
    return Normalizer(frozenset(filters), ordered, compiled)
