"""RelPath validation, normalization, ordering and display."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.tree.paths import (
    base_name,
    display_path,
    is_inside,
    join_path,
    parent_path,
    rel_path,
    sort_key,
)
from dirkit.errors import InvalidPathError

name_chars = st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"])
names = st.text(name_chars, min_size=1, max_size=8).filter(lambda name: name not in (".", ".."))
raw_paths = st.lists(st.sampled_from(["", ".", "a", "b c", "é", "x.y"]) | names, max_size=6).map(
    lambda parts: "/".join(parts).lstrip("/")
)


@given(raw_paths)
def test_normalization_is_idempotent(text: str) -> None:
    once = rel_path(text)
    assert rel_path(once) == once


@given(raw_paths)
def test_normalized_paths_have_no_empty_or_dot_components(text: str) -> None:
    path = rel_path(text)
    if path:
        assert all(part not in ("", ".", "..") for part in path.split("/"))


@pytest.mark.parametrize("bad", ["/etc/passwd", "a/../b", "..", "a/..", "x\0y"])
def test_rejects_absolute_escaping_and_nul(bad: str) -> None:
    with pytest.raises(InvalidPathError):
        rel_path(bad)


def test_invalid_path_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="escapes"):
        rel_path("../x")


def test_normalizes_slashes_and_dots() -> None:
    assert rel_path("./a//b/./c/") == "a/b/c"
    assert rel_path("") == ""
    assert rel_path(".") == ""


def test_join_parent_and_name() -> None:
    child = join_path(rel_path("a/b"), "c")
    assert child == "a/b/c"
    assert parent_path(child) == "a/b"
    assert base_name(child) == "c"
    assert join_path(rel_path(""), "top") == "top"
    assert parent_path(rel_path("top")) == ""


def test_is_inside() -> None:
    assert is_inside(rel_path("a/b"), rel_path("a"))
    assert is_inside(rel_path("a"), rel_path("a"))
    assert not is_inside(rel_path("ab"), rel_path("a"))
    assert is_inside(rel_path("x"), rel_path(""))


def test_sort_key_orders_by_component() -> None:
    paths = ["a-b", "a/b", "a", "a.b", "a/b/c", "a0"]
    assert sorted(paths, key=sort_key) == ["a", "a/b", "a/b/c", "a-b", "a.b", "a0"]


def test_display_escapes_undecodable_bytes_and_controls() -> None:
    raw = b"bad\xffname".decode("utf-8", "surrogateescape")
    assert display_path(raw) == "bad\\xffname"
    assert display_path("new\nline") == "new\\nline"
    assert display_path("café") == "café"
