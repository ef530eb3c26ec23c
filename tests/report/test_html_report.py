"""The HTML report: a valid page, names shown as text only, and diffs that stop at their caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from dirkit.cli.main import main
from dirkit.core.tree.paths import RelPath, display_path
from dirkit.ops.compare.capped_diffs import DiffCaps, DiffJob, capped_diffs
from dirkit.report.html import HtmlReport, ReportRow, StatusStyle, json_for_script, render_html

MakeTree = Callable[..., Path]
HOSTILE = "<img src=x onerror=alert(1)>.txt"
BREAKOUT = "</script><img src=x onerror=alert(2)><!--"
VOID = {"meta", "input", "br", "img", "hr", "link"}
EXPECTED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "p", "div", "input", "span",
    "button", "main", "section", "aside", "noscript", "script",
}  # fmt: skip


class PageChecker(HTMLParser):
    """Collect the tags of a page, check that they nest, and keep the text of its script elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: set[str] = set()
        self.attributes: list[str] = []
        self.scripts: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [name for name, _ in attrs]
        if tag == "script":
            self.scripts.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts[-1] += data


def check_page(page: str) -> PageChecker:
    """Parse page and assert it is well nested, with only the template's tags and its two scripts."""
    checker = PageChecker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert checker.tags == EXPECTED_TAGS
    assert not [name for name in checker.attributes if name.startswith("on")]
    assert len(checker.scripts) == 2
    return checker


def report_json(page: str) -> dict[str, Any]:
    """Return the data blob of a page, as its script reads it."""
    data: dict[str, Any] = json.loads(check_page(page).scripts[0])
    return data


def test_hostile_names_and_contents_stay_text(make_tree: MakeTree, tmp_path: Path) -> None:
    left = make_tree("l<b>", {HOSTILE: "x", "notes.txt": "a\nb\n"})
    right = make_tree("r", {"notes.txt": f"a\n{BREAKOUT}\n"})
    odd = os.fsencode(right) + b"/caf\xe9.txt"
    with open(odd, "wb") as stream:
        stream.write(b"odd")
    target = tmp_path / "report.html"
    assert main(["compare", "-q", "--html", str(target), str(left), str(right)]) == 1
    page = target.read_text(encoding="utf-8")
    assert "<img" not in page and "<b>" not in page and "<!--" not in page
    data = report_json(page)
    rows = data["rows"]
    assert isinstance(rows, list)
    paths = {row[0] for row in rows}
    assert paths == {HOSTILE, "notes.txt", display_path(os.fsdecode(b"caf\xe9.txt"))}
    assert r"caf\xe9.txt" in paths
    diffs = data["diffs"]
    assert isinstance(diffs, list)
    assert f"+{BREAKOUT}" in diffs[0]["lines"]
    assert "<title>dirkit compare " + str(left).replace("<b>", "&lt;b&gt;") in page


def test_script_json_escapes_every_breakout() -> None:
    value = {"name": "</script>&<!-- \u2028\u2029 \udcff"}
    text = json_for_script(value)
    assert not {"<", ">", "&", "\u2028", "\u2029"} & set(text)
    assert json.loads(text) == value


def test_render_of_a_name_with_a_script_end_tag() -> None:
    report = HtmlReport(
        title="t</title><script>",
        left_label="a",
        right_label="b",
        statuses=(StatusStyle("changed", "changed", "yellow"),),
        rows=(ReportRow("dir/</script><script>alert(1)</script>", "changed", 1, 2),),
    )
    page = render_html(report)
    data = report_json(page)
    assert data["rows"] == [["dir/</script><script>alert(1)</script>", 0, 1, 2, None, None, None, -1]]
    assert data["title"] == "t</title><script>"


def test_a_pathological_diff_stops_at_its_time_cap() -> None:
    lines = 20_000  # uncapped, difflib takes minutes on these (10 s already for 5,000 lines)
    old = "".join(f"line {i % 100}\n" for i in range(lines)).encode()
    new = "".join(f"line {i * 7 % 100}\n" for i in range(lines)).encode()
    jobs = [DiffJob(RelPath("slow.txt"), old, new), DiffJob(RelPath("quick.txt"), b"a\nb\n", b"a\nc\n")]
    started = time.monotonic()
    slow, quick = capped_diffs(jobs, DiffCaps(time_cap=1.0))
    assert time.monotonic() - started < 30
    assert slow.lines == ()
    assert slow.note == "diff not shown: it took longer than 1 s"
    assert "+c" in quick.lines


def test_the_total_time_cap_leaves_later_files_undiffed() -> None:
    jobs = [DiffJob(RelPath("a.txt"), b"a\n", b"b\n")]
    (found,) = capped_diffs(jobs, DiffCaps(total_time_cap=0.0))
    assert found.note == "not diffed: the report's 0 s for diffs ran out"


def test_the_total_lines_cap_leaves_later_diffs_out() -> None:
    jobs = [DiffJob(RelPath(f"{n}.txt"), b"a\n", b"b\n") for n in range(3)]
    found = list(capped_diffs(jobs, DiffCaps(total_lines=12)))
    assert [len(diff.lines) for diff in found] == [5, 5, 0]
    assert found[2].note == "diff not shown: the report's 12 diff lines are used"


def test_a_file_over_the_size_cap_is_not_diffed(make_tree: MakeTree, tmp_path: Path) -> None:
    big = "x\n" * (512 * 1024 + 1)
    left = make_tree("l", {"big.txt": big, "small.txt": "1\n"})
    right = make_tree("r", {"big.txt": big + "y\n", "small.txt": "22\n"})
    target = tmp_path / "r.html"
    main(["compare", "-q", "--html", str(target), str(left), str(right)])
    data = report_json(target.read_text(encoding="utf-8"))
    assert data["diffs"] == [
        {"lines": [], "note": "too large to diff (over 1048576 bytes)"},
        {"lines": ["--- left/small.txt", "+++ right/small.txt", "@@ -1 +1 @@", "-1", "+22"], "note": None},
    ]


def test_mirror_dry_run_verify_and_dupes_write_reports(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"new.txt": "n", "same": "s", "d/twin": "same bytes"})
    target = make_tree("dst", {"old.txt": "o", "same": "s", "d/twin2": "same bytes"})
    plan_page = tmp_path / "plan.html"
    assert main(["mirror", "-q", "--dry-run", "--html", str(plan_page), str(source), str(target)]) == 0
    plan_rows = report_json(plan_page.read_text(encoding="utf-8"))["rows"]
    assert isinstance(plan_rows, list)
    assert {(row[0], row[6]) for row in plan_rows} >= {("new.txt", "new.txt  (1 B)"), ("old.txt", "old.txt")}
    assert not (target / "new.txt").exists()

    manifest = tmp_path / "src.b3"
    assert main(["manifest", "-o", str(manifest), str(source)]) == 0
    (source / "new.txt").write_text("changed")
    verify_page = tmp_path / "verify.html"
    assert main(["verify", "-q", "--html", str(verify_page), str(manifest), str(source)]) == 1
    verify_data = report_json(verify_page.read_text(encoding="utf-8"))
    statuses = [style[0] for style in verify_data["statuses"]]
    assert [(row[0], statuses[row[1]]) for row in verify_data["rows"]] == [
        ("d/twin", "ok"),
        ("new.txt", "failed"),
        ("same", "ok"),
    ]

    dupes_page = tmp_path / "dupes.html"
    assert main(["dupes", "-q", "--html", str(dupes_page), str(source), str(target)]) == 1
    dupes_rows = report_json(dupes_page.read_text(encoding="utf-8"))["rows"]
    assert [row[:2] for row in dupes_rows] == [
        [f"{source}/d/twin", 0],
        [f"{target}/d/twin2", 1],
        [f"{source}/same", 0],
        [f"{target}/same", 1],
    ]
    capsys.readouterr()


def test_html_refusals(make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left = make_tree("l", {"a": "1"})
    right = make_tree("r", {"a": "2"})
    page = str(tmp_path / "p.html")
    assert main(["compare", "--open", str(left), str(right)]) == 2
    assert main(["mirror", "--html", page, str(left), str(right)]) == 2
    assert main(["dupes", "--remove", "--html", page, str(left)]) == 2
    err = capsys.readouterr().err
    assert "--open needs --html FILE" in err
    assert "add --dry-run" in err
    assert not Path(page).exists()
    assert (right / "a").read_text() == "2"


def test_open_hands_the_page_to_the_browser(make_tree: MakeTree, tmp_path: Path) -> None:
    left = make_tree("l", {"a": "1"})
    right = make_tree("r", {"a": "22"})
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o755)
    page = tmp_path / "p.html"
    command = [
        sys.executable,
        "-m",
        "dirkit",
        "compare",
        "-q",
        "--html",
        str(page),
        "--open",
        str(left),
        str(right),
    ]
    done = subprocess.run(command, env={**os.environ, "BROWSER": f"{browser} %s"}, timeout=60, check=False)
    assert done.returncode == 1
    assert opened.read_text() == page.as_uri()
