"""Properties of part naming, part sizes, size parsing and the parts manifest format."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.files.parts import (
    PartRecord,
    PartsManifest,
    natural_key,
    parse_manifest,
    part_count_by_size,
    part_digits,
    part_name,
    part_sizes_by_count,
    render_manifest,
)
from dirkit.errors import UsageError

DIGEST = "0" * 64


@given(st.integers(0, 10**12), st.integers(1, 5000))
def test_parts_by_count_add_up_and_differ_by_at_most_one(total: int, count: int) -> None:
    sizes = part_sizes_by_count(total, count)
    assert len(sizes) == count
    assert sum(sizes) == total
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


@given(st.integers(0, 10**12), st.integers(1, 10**9))
def test_part_count_by_size_covers_the_whole(total: int, size: int) -> None:
    count = part_count_by_size(total, size)
    assert count * size >= total
    assert (count - 1) * size < total or count == 0


def test_part_names_grow_wider_and_sort_naturally() -> None:
    assert part_name("a.iso", 1) == "a.iso.part0001"
    assert part_digits(9999) == 4
    assert part_digits(10000) == 5
    assert part_name("a", 7, part_digits(12345)) == "a.part00007"
    names = [part_name("x", number) for number in (10000, 9999, 2, 10, 1)]
    assert sorted(names, key=natural_key) == [part_name("x", n) for n in (1, 2, 10, 9999, 10000)]


def test_natural_key_keeps_coreutils_suffix_order() -> None:
    names = ["xab", "xaa", "xzaaa", "xyz"]
    assert sorted(names, key=natural_key) == ["xaa", "xab", "xyz", "xzaaa"]
    assert sorted(["x9000", "x89", "x00"], key=natural_key) == ["x00", "x89", "x9000"]


names = st.text(st.characters(exclude_characters="/\0", exclude_categories=["Cs"]), min_size=1).filter(
    lambda name: name not in (".", "..")
)


@given(
    name=names,
    sizes=st.lists(st.integers(0, 2**40), max_size=20),
    mode=st.none() | st.integers(0, 0o7777),
    mtime=st.none() | st.integers(-(2**62), 2**62),
)
def test_manifest_round_trips(name: str, sizes: list[int], mode: int | None, mtime: int | None) -> None:
    parts = tuple(PartRecord(part_name(name, i + 1), size, f"{i:064x}") for i, size in enumerate(sizes))
    manifest = PartsManifest(name, sum(sizes), mode, mtime, DIGEST, parts)
    assert parse_manifest(render_manifest(manifest)) == manifest


def _manifest_text(**changes: object) -> str:
    manifest = PartsManifest("a", 3, 0o644, 1, DIGEST, (PartRecord("a.part0001", 3, DIGEST),))
    text = render_manifest(manifest)
    for key, value in changes.items():
        text = text.replace(f'"{key}": ', f'"{key}": {value}, "old_{key}": ', 1)
    return text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": '"zip"'}, "not a parts manifest"),
        ({"version": 9}, "unsupported"),
        ({"name": '"../etc/passwd"'}, "plain file name"),
        ({"size": 4}, "add up"),
        ({"digest": '"xyz"'}, "hex digits"),
        ({"algorithm": '"md5"'}, "algorithm"),
    ],
)
def test_parse_manifest_names_what_is_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_manifest(_manifest_text(**changes), "m.json")


def test_parse_manifest_refuses_part_names_with_slashes() -> None:
    text = _manifest_text().replace('"a.part0001"', '"../a.part0001"')
    with pytest.raises(UsageError, match="part 1"):
        parse_manifest(text)


def test_parse_manifest_refuses_garbage() -> None:
    with pytest.raises(UsageError, match="not a parts manifest"):
        parse_manifest("{not json")
