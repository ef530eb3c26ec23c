"""The pure matching logic of `dirkit grep`: patterns, matching lines, context windows, binary sniffing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.search.grep import (
    BREAK_LINE,
    ContextWindow,
    GrepPattern,
    LineRole,
    OutputLine,
    compile_globs,
    compile_matcher,
    decode_for_display,
    looks_binary,
    match_spans,
    matching_lines,
)
from dirkit.core.tree.paths import RelPath
from dirkit.errors import UsageError


def lines_matching(pattern: GrepPattern, data: bytes) -> list[bytes]:
    matcher = compile_matcher(pattern)
    return [data[start:end] for start, end in matching_lines(matcher, data)]


def test_fixed_strings_are_not_regular_expressions() -> None:
    data = b"a.c\nabc\n(x)\n"
    assert lines_matching(GrepPattern("a.c", fixed=True), data) == [b"a.c"]
    assert lines_matching(GrepPattern("a.c"), data) == [b"a.c", b"abc"]
    assert lines_matching(GrepPattern("(x)", fixed=True), data) == [b"(x)"]


def test_ignore_case_folds_ascii_and_other_letters() -> None:
    data = "Stra\u00dfe\n\u00c9COLE \u00e9cole\nnothing\nNEEDLE\n".encode()
    assert lines_matching(GrepPattern("needle", ignore_case=True), data) == [b"NEEDLE"]
    assert lines_matching(GrepPattern("needle", fixed=True, ignore_case=True), data) == [b"NEEDLE"]
    found = lines_matching(GrepPattern("\u00e9cole", fixed=True, ignore_case=True), data)
    assert found == ["\u00c9COLE \u00e9cole".encode()]


def test_whole_words_only() -> None:
    data = b"cat\nconcat\ncat_food\ncat-food\nthe cat sat\n"
    assert lines_matching(GrepPattern("cat", whole_word=True), data) == [b"cat", b"cat-food", b"the cat sat"]
    assert lines_matching(GrepPattern("cat", fixed=True, whole_word=True), data) == [
        b"cat",
        b"cat-food",
        b"the cat sat",
    ]


def test_whole_word_tries_later_matches_on_the_line() -> None:
    assert lines_matching(GrepPattern("ab", whole_word=True), b"xab ab\n") == [b"xab ab"]


def test_matches_never_span_lines() -> None:
    data = b"foo\nbar\nfoo bar\n"
    assert lines_matching(GrepPattern(r"foo\sbar"), data) == [b"foo bar"]
    assert lines_matching(GrepPattern(r"o[^x]*b"), data) == [b"foo bar"]


def test_anchors_work_per_line() -> None:
    data = b"start here\nnot start\nends at end\n"
    assert lines_matching(GrepPattern("^start"), data) == [b"start here"]
    assert lines_matching(GrepPattern("end$"), data) == [b"ends at end"]


def test_last_line_without_newline_and_empty_pattern() -> None:
    assert lines_matching(GrepPattern("z"), b"a\nz") == [b"z"]
    assert lines_matching(GrepPattern(""), b"a\n\nb") == [b"a", b"", b"b"]
    assert lines_matching(GrepPattern(""), b"") == []


def test_bad_regular_expressions_raise_usage_error() -> None:
    with pytest.raises(UsageError, match=r"bad regular expression '\(unclosed'"):
        compile_matcher(GrepPattern("(unclosed"))


def test_bytes_of_any_encoding_are_searched_and_shown_with_replacement() -> None:
    latin1 = "caf\u00e9 cr\u00e8me\n".encode("latin-1")
    assert lines_matching(GrepPattern("caf"), latin1) == [latin1.rstrip(b"\n")]
    assert decode_for_display(latin1.rstrip(b"\n")) == "caf\ufffd cr\ufffdme"
    utf8 = "na\u00efve\n".encode()
    assert lines_matching(GrepPattern("na\u00efve", fixed=True), utf8) == [b"na\xc3\xafve"]


def test_binary_sniffing_looks_for_nul() -> None:
    assert looks_binary(b"\x7fELF\x02\x01\x01\x00")
    assert not looks_binary("text \u00e9\n".encode())
    assert not looks_binary(b"")
    assert looks_binary("\u00e9".encode("utf-16"))


def test_match_spans_for_highlighting() -> None:
    matcher = compile_matcher(GrepPattern("o+"))
    assert match_spans(matcher, b"foo boo") == [(1, 3), (5, 7)]
    assert match_spans(compile_matcher(GrepPattern("x*")), b"axxb") == [(1, 3)]


@given(
    st.lists(st.text(alphabet="abc \u00e9", max_size=12), max_size=20),
    st.sampled_from(["a", "ab", "c c", "\u00e9", "b+", "^a", "c$", "a.b"]),
    st.booleans(),
)
def test_matching_lines_equal_a_line_by_line_search(lines: list[str], pattern: str, trailing: bool) -> None:
    data = "\n".join(lines).encode() + (b"\n" if trailing and lines else b"")
    expected = [line.encode() for line in (data.decode().split("\n") if data else [])]
    if data.endswith(b"\n"):
        expected.pop()
    regex = re.compile(pattern.encode())
    wanted = [line for line in expected if regex.search(line)]
    assert lines_matching(GrepPattern(pattern), data) == wanted


def shown_lines(
    data: bytes, pattern: str, before: int, after: int, cuts: list[int] | None = None
) -> list[OutputLine]:
    """Feed data to a ContextWindow in blocks cut at the given newline indexes."""
    matcher = compile_matcher(GrepPattern(pattern))
    window = ContextWindow(before, after)
    shown: list[OutputLine] = []
    start = 0
    for cut in [*(cuts or []), len(data)]:
        block = data[start:cut]
        shown += window.feed(block, list(matching_lines(matcher, block)))
        start = cut
    return shown


TEN = b"".join(b"line%d\n" % number for number in range(1, 11))


def numbers(lines: list[OutputLine]) -> list[str]:
    return [f"{line.number}{line.role.value}" if line.role is not LineRole.BREAK else "--" for line in lines]


def test_context_at_the_first_and_last_lines() -> None:
    assert numbers(shown_lines(TEN, "line1$", 2, 2)) == ["1:", "2-", "3-"]
    assert numbers(shown_lines(TEN, "line10", 2, 2)) == ["8-", "9-", "10:"]


def test_context_groups_merge_or_break() -> None:
    assert numbers(shown_lines(TEN, "line[35]$", 1, 1)) == ["2-", "3:", "4-", "5:", "6-"]
    assert numbers(shown_lines(TEN, "line[28]$", 1, 1)) == ["1-", "2:", "3-", "--", "7-", "8:", "9-"]


def test_context_without_a_final_newline() -> None:
    data = b"a\nb\nc"
    assert numbers(shown_lines(data, "b", 0, 5)) == ["2:", "3-"]
    assert shown_lines(data, "b", 0, 5)[-1].text == b"c"
    assert numbers(shown_lines(data, "c", 5, 0)) == ["1-", "2-", "3:"]


def test_line_numbers_without_context() -> None:
    lines = shown_lines(TEN, "line[47]$", 0, 0)
    assert [(line.number, line.text) for line in lines] == [(4, b"line4"), (7, b"line7")]
    assert BREAK_LINE not in lines


def test_context_carries_across_blocks() -> None:
    one_block = shown_lines(TEN, "line[5]$", 3, 3)
    cut_at = [TEN.index(b"line4"), TEN.index(b"line6")]
    assert shown_lines(TEN, "line[5]$", 3, 3, cut_at) == one_block


def test_ends_mid_line_keeps_numbers_right() -> None:
    matcher = compile_matcher(GrepPattern("x"))
    window = ContextWindow()
    first = window.feed(b"a\nbbb", list(matching_lines(matcher, b"a\nbbb")), ends_mid_line=True)
    second = window.feed(b"bbx\nx\n", list(matching_lines(matcher, b"bbx\nx\n")))
    assert first == []
    assert [(line.number, line.text) for line in second] == [(2, b"bbx"), (3, b"x")]


@given(
    st.lists(st.sampled_from(["hit", "miss", "", "hit miss"]), max_size=25),
    st.integers(0, 3),
    st.integers(0, 3),
    st.data(),
)
def test_any_cutting_into_blocks_gives_the_same_output(
    lines: list[str], before: int, after: int, data: st.DataObject
) -> None:
    text = "".join(f"{line}\n" for line in lines).encode()
    newline_ends = [index + 1 for index, byte in enumerate(text) if byte == 10]
    cuts = sorted(set(data.draw(st.lists(st.sampled_from(newline_ends), max_size=5)))) if newline_ends else []
    assert shown_lines(text, "hit", before, after, cuts) == shown_lines(text, "hit", before, after)


@given(st.lists(st.booleans(), max_size=30), st.integers(0, 3), st.integers(0, 3))
def test_context_window_equals_a_simple_model(hits: list[bool], before: int, after: int) -> None:
    text = "".join("hit\n" if hit else "no\n" for hit in hits).encode()
    wanted: set[int] = set()
    for index, hit in enumerate(hits):
        if hit:
            wanted.update(range(max(0, index - before), min(len(hits), index + after + 1)))
    shown = [line for line in shown_lines(text, "hit", before, after) if line.role is not LineRole.BREAK]
    assert [line.number - 1 for line in shown] == sorted(wanted)
    assert all((line.role is LineRole.MATCH) == hits[line.number - 1] for line in shown)


def test_globs_select_files_by_name_or_path() -> None:
    assert compile_globs([]).selects(RelPath("any/thing"))
    python = compile_globs(["*.py"])
    assert python.selects(RelPath("a/b.py"))
    assert not python.selects(RelPath("a/b.pyc"))
    not_tests = compile_globs(["!tests/"])
    assert not_tests.selects(RelPath("src/a.py"))
    assert not not_tests.selects(RelPath("tests/a.py"))
    mixed = compile_globs(["*.py", "!test_*"])
    assert mixed.selects(RelPath("a.py"))
    assert not mixed.selects(RelPath("test_a.py"))
