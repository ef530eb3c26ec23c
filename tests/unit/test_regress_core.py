"""The pure part of `dirkit regress`: regress.toml, selection, normalization, line matching, JUnit XML."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.compare.diff import Change, Status
from dirkit.core.regress.cases import (
    ALL_FILTERS,
    SHELL,
    Case,
    Filter,
    Replacement,
    parse_suite_config,
    select_cases,
)
from dirkit.core.regress.junit import build_junit_xml
from dirkit.core.regress.matching import join_lines, line_matches, reconcile, split_lines, stream_diff
from dirkit.core.regress.normalize import make_normalizer
from dirkit.core.regress.verdict import CaseResult, StreamDiff, Verdict, summarize
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import UsageError

CONFIG = """\
timeout = 5
env = { LANG = "C" }
replace = [['pid \\d+', 'pid N']]

[cases.shell]
command = "echo hi | tr a-z A-Z"
input = "inputs/one"

[cases.words]
command = ["printf", "%s\\n", "a b"]
timeout = 1.5
env = { EXTRA = "1" }
normalize = ["path", "hex"]
replace = [['x', 'y']]
exclude = ["cache/"]
tree = false
"""


def test_config_gives_cases_with_inherited_defaults() -> None:
    config = parse_suite_config(CONFIG)
    shell, words = config.cases
    assert shell == Case("shell", (SHELL, "-c", "echo hi | tr a-z A-Z"), "inputs/one", config.defaults)
    assert config.defaults.timeout_s == 5.0
    assert words.argv == ("printf", "%s\n", "a b")
    assert words.settings.timeout_s == 1.5
    assert words.settings.env == (("EXTRA", "1"), ("LANG", "C"))
    assert words.settings.filters == frozenset({Filter.PATH, Filter.HEX})
    assert words.settings.replacements == (Replacement(r"pid \d+", "pid N"), Replacement("x", "y"))
    assert words.settings.exclude == ("cache/",)
    assert not words.settings.compare_tree
    assert shell.settings.filters == ALL_FILTERS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cases", "not valid TOML"),
        ("colour = 1", "unknown key 'colour'"),
        ("[cases.a]\n", "'command' must be"),
        ("[cases.a]\ncommand = []\n", "'command' must be"),
        ('[cases.a]\ncommand = "x"\ntimeout = 0\n', "'timeout' must be a positive number"),
        ('[cases.a]\ncommand = "x"\ntimeout = true\n', "'timeout' must be a positive number"),
        ('[cases.a]\ncommand = "x"\nnormalize = ["dates"]\n', "'normalize' must be a list of filters"),
        ('[cases.a]\ncommand = "x"\nreplace = [["(", "y"]]\n', "bad regex"),
        ('[cases.a]\ncommand = "x"\nreplace = ["x"]\n', "'replace' must be a list"),
        ('[cases.a]\ncommand = "x"\nenv = { A = 1 }\n', "'env' must be a table of strings"),
        ('[cases.a]\ncommand = "x"\nstdin = "y"\n', "unknown key 'stdin'"),
        ('[cases.".hidden"]\ncommand = "x"\n', "a case name must"),
        ('[cases."a/b"]\ncommand = "x"\n', "a case name must"),
    ],
)
def test_bad_config_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_suite_config(text, "suite/regress.toml")


def test_select_cases_by_substring_or_glob() -> None:
    cases = [Case(name, ("true",)) for name in ("backup-full", "backup-incr", "convert")]
    assert [case.name for case in select_cases(cases, [])] == ["backup-full", "backup-incr", "convert"]
    assert [case.name for case in select_cases(cases, ["incr"])] == ["backup-incr"]
    assert [case.name for case in select_cases(cases, ["*-full", "conv"])] == ["backup-full", "convert"]
    assert select_cases(cases, ["nothing"]) == ()


NORMALIZER = make_normalizer(ALL_FILTERS, ["/tmp/dirkit-regress-a1b2c3"], ["/home/me/suite"])


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("/tmp/dirkit-regress-a1b2c3/out.txt", "[WORKDIR]/out.txt"),
        ("/home/me/suite/inputs", "[SUITE]/inputs"),
        ("at 2026-12-01T21:20:35.123Z", "at [DATE]T[TIME]"),
        ("Tue Dec  1 21:20:35 UTC 2026", "[DATE]"),
        ("Date: Tue, 01 Dec 2026 10:00:00 +0000", "Date: [DATE] [TIME] +0000"),
        ("done in 1.25s, 30 ms per file, 2 seconds", "done in [DURATION], [DURATION] per file, [DURATION]"),
        ("commit 3f2a9c0de1b2 id 123e4567-e89b-12d3-a456-426614174000", "commit [HEX] id [HEX]"),
        ("10 files, 20241201 bytes, deadbeefcafe word", "10 files, 20241201 bytes, deadbeefcafe word"),
    ],
)
def test_built_in_filters(raw: str, normalized: str) -> None:
    assert NORMALIZER.apply(raw) == normalized


def test_only_chosen_filters_apply_and_user_replacements_run_after_paths() -> None:
    chosen = make_normalizer({Filter.PATH}, ["/w"], replacements=[Replacement(r"\[WORKDIR\]/(\w+)", r"<\1>")])
    assert chosen.apply("/w/x 2026-12-01 1.5s") == "<x> 2026-12-01 1.5s"


NOISY_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789abcdefABCDEF:-.,+ TZsmnu\n/tmp[]WORKDIRxyz")), max_size=80
)


@given(NOISY_TEXT)
def test_normalization_is_idempotent(text: str) -> None:
    once = NORMALIZER.apply(text)
    assert NORMALIZER.apply(once) == once


def test_pattern_lines() -> None:
    assert line_matches("value=[0-9]+ (re)", "value=42")
    assert not line_matches("value=[0-9]+ (re)", "value=42x")
    assert line_matches("file.*.log (glob)", "file.123.log")
    assert line_matches(r"a\*? (glob)", "a*b")
    assert not line_matches(r"a\* (glob)", "ab")
    assert not line_matches("broken( (re)", "broken(")
    assert not line_matches("plain", "plain ")


def test_reconcile_keeps_matched_patterns_and_escapes_lookalikes() -> None:
    expected = ["start", "id=[0-9]+ (re)", "end"]
    assert reconcile(expected, ["start", "id=7", "end"]) == expected
    with_extra = ["start", "id=7", "extra", "end"]
    assert reconcile(expected, with_extra) == ["start", "id=[0-9]+ (re)", "extra", "end"]
    assert reconcile([], ["looks like a pattern (re)"]) == [r"looks\ like\ a\ pattern\ \(re\) (re)"]


def test_missing_final_newline_is_a_difference() -> None:
    assert split_lines("a\nb") == ["a", "b (no-eol)"]
    assert join_lines(split_lines("a\nb")) == "a\nb"
    lines, _ = stream_diff("stdout", "a\nb\n", "a\nb")
    assert "+b (no-eol)" in lines


LINES = st.lists(st.sampled_from(["a", "b", "id=1", "id=22", "x (re)", "[0-9]+ (re)", "f*.log (glob)", ""]))


@given(LINES, LINES, st.booleans())
def test_what_an_update_stores_then_passes(expected: list[str], actual: list[str], eol: bool) -> None:
    expected_text = "\n".join(expected) + ("\n" if expected else "")
    actual_text = "\n".join(actual) + ("\n" if eol and actual else "")
    _, stored = stream_diff("stdout", expected_text, actual_text)
    assert stream_diff("stdout", stored, actual_text)[0] == ()


CONTROL = "-a\x1b[31m"
BAD = "+\udcff"


def test_junit_xml_parses_and_counts_every_verdict() -> None:
    entry = Entry(RelPath("out.txt"), EntryKind.FILE, 3, 0, 0o644)
    results = [
        CaseResult("ok", Verdict.PASSED, 0.01),
        CaseResult(
            "bad",
            Verdict.FAILED,
            0.02,
            stream_diffs=(StreamDiff("stdout", ("--- expected/stdout", "+++ actual/stdout", CONTROL, BAD)),),
            expected_status=0,
            actual_status=1,
            tree_changes=(Change(RelPath("out.txt"), Status.RIGHT_ONLY, None, entry),),
        ),
        CaseResult("hung", Verdict.TIMEOUT, 1.0, message="killed after its timeout of 1 s"),
        CaseResult("broken", Verdict.ERROR, message="crashed: killed by signal 11"),
        CaseResult("fresh", Verdict.NEW, recorded=True),
        CaseResult("unsaved", Verdict.NEW),
    ]
    summary = summarize(results, 1.5)
    document = ElementTree.fromstring(build_junit_xml("suite <&>", results, summary))
    suite = document.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        "suite <&>",
        "6",
        "3",
        "1",
    )
    assert suite.get("skipped") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases["ok"]) == []
    failure = cases["bad"].find("failure")
    assert failure is not None and failure.get("message") == "stdout, exit status 0 -> 1, tree (1 path)"
    assert failure.text is not None
    assert "-a\\x1b[31m" in failure.text and "+\\udcff" in failure.text
    assert "tree: added out.txt" in failure.text
    hung = cases["hung"].find("failure")
    assert hung is not None and hung.get("type") == "timeout"
    error = cases["broken"].find("error")
    assert error is not None and error.get("message") == "crashed: killed by signal 11"
    assert cases["fresh"].find("skipped") is not None
    unsaved = cases["unsaved"].find("failure")
    assert unsaved is not None and "no expectation" in (unsaved.get("message") or "")
