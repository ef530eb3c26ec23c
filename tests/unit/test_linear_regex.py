"""User regexes on RE2: linear time, group spans, pickling, and the refusal of backtracking features."""

from __future__ import annotations

import pickle

import pytest
import re2

from dirkit.core.search.linear_regex import LinearRegex, compile_linear, spans_through_search
from dirkit.errors import UsageError


def test_a_catastrophic_pattern_is_searched_at_once() -> None:
    regex = compile_linear("(a+)+$", b"(a+)+$")
    line = b"a" * 5000 + b"!"
    assert regex.search(line, 0, len(line)) is None
    assert regex.search(b"xaa", 0, 3) == (1, 3)


def test_spans_of_a_group_and_of_a_slice() -> None:
    regex = LinearRegex(b"(?m)(?:^|[^a-z\\n])(cat)(?:[^a-z\\n]|$)", False, False, group=1)
    assert regex.search(b"concat cat.", 0, 11) == (7, 10)
    assert regex.search(b"concat cat.", 0, 9) is None


def test_compiled_patterns_survive_pickling_for_worker_processes() -> None:
    regex = LinearRegex(b"NEEDLE", True, False)
    copy = pickle.loads(pickle.dumps(regex))
    assert copy.search(b"a needle", 0, 8) == (2, 8)


def test_the_public_search_gives_the_same_spans_as_the_low_level_call() -> None:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    spans = spans_through_search(re2.compile(b"b(c)", options))
    assert spans(None, b"abcd", 0, 4) == [(1, 3), (2, 3)]
    assert spans(None, b"abcd", 0, 2) == [(-1, -1)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (r"(a)\1", "backreferences like \\1 are not supported"),
        ("(?P<x>a)(?P=x)", "named backreferences"),
        ("(?<=a)b", "lookbehind is not supported"),
        ("a(?!b)", "lookahead is not supported"),
        (r"a\Z", "RE2 writes \\z"),
        ("[", "missing ]"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(UsageError, match="bad regular expression") as raised:
        compile_linear(text, text.encode())
    assert reason in str(raised.value)
