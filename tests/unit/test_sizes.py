"""Parsing of sizes, dates and durations for `dirkit find` and `dirkit dupes`."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.sizes import (
    Comparison,
    MomentAgo,
    MomentAt,
    SizeBound,
    moment_to_ns,
    parse_byte_count,
    parse_duration_ns,
    parse_moment,
    parse_size_bound,
)
from dirkit.errors import UsageError

DAY_NS = 86400 * 10**9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1M", SizeBound(Comparison.MORE, 1024**2)),
        ("-10k", SizeBound(Comparison.LESS, 10 * 1024)),
        ("4096", SizeBound(Comparison.EXACT, 4096)),
        ("+0", SizeBound(Comparison.MORE, 0)),
        ("1.5G", SizeBound(Comparison.EXACT, 3 * 1024**3 // 2)),
        ("+2kB", SizeBound(Comparison.MORE, 2000)),
        ("3MB", SizeBound(Comparison.EXACT, 3_000_000)),
        ("10c", SizeBound(Comparison.EXACT, 10)),
        ("7KiB", SizeBound(Comparison.EXACT, 7 * 1024)),
        ("-1t", SizeBound(Comparison.LESS, 1024**4)),
    ],
)
def test_size_bounds_parse(text: str, expected: SizeBound) -> None:
    assert parse_size_bound(text) == expected


@pytest.mark.parametrize("text", ["", "+", "1X", "k", "--1", "1 M B", "+-2", "0x10"])
def test_bad_sizes_raise_usage_error_naming_the_text(text: str) -> None:
    with pytest.raises(UsageError, match="bad size"):
        parse_size_bound(text)


def test_byte_count_refuses_a_sign() -> None:
    assert parse_byte_count("1M") == 1024**2
    with pytest.raises(UsageError):
        parse_byte_count("+1M")


def test_size_bound_admits_strictly() -> None:
    more, less, exact = parse_size_bound("+100"), parse_size_bound("-100"), parse_size_bound("100")
    assert [more.admits(size) for size in (99, 100, 101)] == [False, False, True]
    assert [less.admits(size) for size in (99, 100, 101)] == [True, False, False]
    assert [exact.admits(size) for size in (99, 100, 101)] == [False, True, False]


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["", "k", "M", "G", "kB", "MB"]))
def test_sizes_scale_by_their_unit(number: int, unit: str) -> None:
    factor = {"": 1, "k": 1024, "M": 1024**2, "G": 1024**3, "kB": 1000, "MB": 1000**2}[unit]
    assert parse_byte_count(f"{number}{unit}") == number * factor
    assert parse_size_bound(f"+{number}{unit}") == SizeBound(Comparison.MORE, number * factor)


@given(st.integers(min_value=1, max_value=10**12))
def test_every_size_admits_exactly_one_of_less_equal_more(size: int) -> None:
    for probe in (size - 1, size, size + 1):
        verdicts = [parse_size_bound(f"{sign}{size}").admits(probe) for sign in ("-", "", "+")]
        assert verdicts.count(True) == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("15min", 900),
        ("2h", 7200),
        ("2d", 172800),
        ("1w", 604800),
        ("1h30m", 5400),
    ],
)
def test_durations_parse(text: str, seconds: int) -> None:
    assert parse_duration_ns(text) == seconds * 10**9


def test_fractional_durations() -> None:
    assert parse_duration_ns("1.5d") == 36 * 3600 * 10**9


@pytest.mark.parametrize("text", ["", "2", "d", "2y", "-2d", "2d-", "two days"])
def test_bad_durations_raise(text: str) -> None:
    with pytest.raises(UsageError, match="bad duration"):
        parse_duration_ns(text)


@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.sampled_from(["s", "m", "h", "d", "w"])), min_size=1, max_size=4
    )
)
def test_compound_durations_add_up(parts: list[tuple[int, str]]) -> None:
    unit_seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{number}{unit}" for number, unit in parts)
    assert parse_duration_ns(text) == sum(number * unit_seconds[unit] for number, unit in parts) * 10**9


def test_moments_from_durations_count_back_from_now() -> None:
    moment = parse_moment("2d")
    assert moment == MomentAgo(2 * DAY_NS)
    assert moment_to_ns(moment, now_ns=10 * DAY_NS) == 8 * DAY_NS


def test_moments_from_dates_are_local_midnight() -> None:
    moment = parse_moment("2026-01-31")
    assert moment == MomentAt(datetime.datetime(2026, 1, 31))
    expected = datetime.datetime(2026, 1, 31).timestamp()
    assert moment_to_ns(moment, now_ns=0) == round(expected * 1e6) * 1000


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026-01-31T08:30", datetime.datetime(2026, 1, 31, 8, 30)),
        ("2026-01-31 08:30:15", datetime.datetime(2026, 1, 31, 8, 30, 15)),
    ],
)
def test_moments_with_times(text: str, when: datetime.datetime) -> None:
    assert parse_moment(text) == MomentAt(when)


def test_moments_with_a_zone_ignore_the_local_zone() -> None:
    moment = parse_moment("2026-01-31T00:00:00Z")
    assert moment_to_ns(moment, now_ns=0) == 1_769_817_600 * 10**9
    assert moment_to_ns(parse_moment("2026-01-31T02:00:00+02:00"), now_ns=0) == 1_769_817_600 * 10**9


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "2026-02-30", "31/01/2026", "2d ago"])
def test_bad_moments_raise(text: str) -> None:
    with pytest.raises(UsageError, match="bad date or duration"):
        parse_moment(text)
