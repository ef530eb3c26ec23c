"""Parsing of the sizes, dates and durations users type: '+1M', '-10k', '2d', '2026-01-31'."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dirkit.errors import UsageError

if TYPE_CHECKING:
    import datetime

SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "c": 1,
    "k": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tib": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
"""Size suffixes (case-insensitive): bare letters are binary like find's; 'kB', 'MB' are decimal."""

DURATION_UNITS_NS: dict[str, int] = {
    "s": 10**9,
    "m": 60 * 10**9,
    "min": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}
"""Duration suffixes: seconds, minutes, hours, days, weeks."""

_SIZE = re.compile(r"([+-]?)(\d+(?:\.\d+)?)\s*([a-zA-Z]*)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(min|[smhdw])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:min|[smhdw]))+")


class Comparison(enum.Enum):
    """How a size bound compares: more than, less than, or exactly."""

    MORE = "more"
    LESS = "less"
    EXACT = "exact"


@dataclass(frozen=True, slots=True)
class SizeBound:
    """A size condition such as 'more than 1 MiB'."""

    comparison: Comparison
    size: int

    def admits(self, size: int) -> bool:
        """Tell whether a file of size bytes meets the condition."""
        if self.comparison is Comparison.MORE:
            return size > self.size
        if self.comparison is Comparison.LESS:
            return size < self.size
        return size == self.size


def parse_byte_count(text: str) -> int:
    """Return a byte count such as '1M', '10k', '4096' or '1.5GB', or raise UsageError."""
    bound = parse_size_bound(text)
    if bound.comparison is not Comparison.EXACT:
        raise UsageError(f"bad size {text!r}: expected a number with an optional unit (k, M, G)")
    return bound.size


def parse_size_bound(text: str) -> SizeBound:
    """Return the size condition of '+1M' (more than), '-10k' (less than) or '4096' (exactly)."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise UsageError(f"bad size {text!r}: expected [+|-]NUMBER[UNIT], e.g. +1M or -10k")
    sign, number, unit = found.groups()
    multiplier = SIZE_UNITS.get(unit.lower())
    if multiplier is None:
        raise UsageError(f"bad size {text!r}: unknown unit {unit!r} (use k, M, G, T, kB, MB, GB)")
    size = round(float(number) * multiplier) if "." in number else int(number) * multiplier
    comparison = {"+": Comparison.MORE, "-": Comparison.LESS}.get(sign, Comparison.EXACT)
    return SizeBound(comparison, size)


def parse_duration_ns(text: str) -> int:
    """Return the nanoseconds of a duration such as '2d', '90m', '1h30m' or '1.5w'."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.fullmatch(compact) is None:
        raise UsageError(f"bad duration {text!r}: expected NUMBER UNIT with units s, m, h, d, w, e.g. 2d")
    total = 0.0
    for number, unit in _DURATION_PART.findall(compact):
        total += float(number) * DURATION_UNITS_NS[unit]
    return round(total)


@dataclass(frozen=True, slots=True)
class MomentAgo:
    """A moment given as a duration before now."""

    duration_ns: int


@dataclass(frozen=True, slots=True)
class MomentAt:
    """A moment given as a calendar date and time; naive means local time."""

    when: datetime.datetime


Moment = MomentAgo | MomentAt

_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def parse_moment(text: str) -> Moment:
    """Return a moment from a duration ago ('2d', '3h') or a date ('2026-01-31', ISO 8601 time)."""
    import datetime  # imported on first use: find without --newer/--older never needs it

    stripped = text.strip()
    if stripped and stripped[0].isdigit() and _DURATION.fullmatch(stripped.replace(" ", "")):
        return MomentAgo(parse_duration_ns(stripped))
    for layout in _DATE_FORMATS:
        try:
            return MomentAt(datetime.datetime.strptime(stripped, layout))
        except ValueError:
            continue
    try:
        return MomentAt(datetime.datetime.fromisoformat(stripped.replace("Z", "+00:00")))
    except ValueError:
        pass
    raise UsageError(f"bad date or duration {text!r}: expected e.g. 2d, 12h, 2026-01-31 or 2026-01-31T08:00")


def moment_to_ns(moment: Moment, now_ns: int) -> int:
    """Return the moment as nanoseconds since the epoch (a naive date is read in local time)."""
    if isinstance(moment, MomentAgo):
        return now_ns - moment.duration_ns
    return round(moment.when.timestamp() * 1_000_000) * 1000
