"""Forked units (ops/search/forked_units.py): output in unit order, bounded holding, workers always reaped."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dirkit.errors import DirkitError
from dirkit.ops.search import forked_units
from dirkit.ops.search.forked_units import Event, run_units


def children() -> set[int]:
    """Return the live children of this process (from /proc)."""
    found: set[int] = set()
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stream:
                    fields = stream.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != b"Z":
                found.add(int(name))
    return found


def uneven(unit: int) -> Iterator[Event]:
    """Yield a unit's events: sizes vary a lot, some units give nothing, one gives many pieces."""
    if unit % 7 == 3:
        return
    pieces = 40 if unit == 5 else 1 + unit % 3
    for piece in range(pieces):
        yield unit % 2, f"{unit}.{piece};".encode() * (1 + (unit * 37) % 500)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_events_come_in_unit_order_whatever_the_workers(workers: int) -> None:
    others = children()  # servers that other tests' fixtures keep running
    units = list(range(60))
    expected = [event for unit in units for event in uneven(unit)]
    assert list(run_units(units, uneven, workers)) == expected
    assert children() <= others


def test_a_worker_ahead_waits_once_much_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked_units, "HELD_LIMIT", 1000)
    monkeypatch.setattr(forked_units, "FLUSH_BYTES", 100)
    units = list(range(40))
    assert list(run_units(units, uneven, 2)) == [event for unit in units for event in uneven(unit)]


def test_leaving_early_kills_and_reaps_the_workers() -> None:
    others = children()
    events = run_units(list(range(200)), uneven, 2)
    assert next(events)[1].startswith(b"0.0;")
    assert len(children() - others) == 2
    events.close()
    assert children() <= others


def test_a_failing_unit_ends_the_search_with_its_reason() -> None:
    def failing(unit: int) -> Iterator[Event]:
        if unit == 3:
            raise ValueError("unit three is broken")
        yield 0, b"x"

    others = children()
    with pytest.raises(DirkitError, match="unit three is broken"):
        list(run_units(list(range(8)), failing, 2))
    assert children() <= others
