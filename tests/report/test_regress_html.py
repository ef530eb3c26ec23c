"""`dirkit regress --html FILE`: one row per case, a failed case's diffs as its diff, names as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK
from tests.ops.regress_suites import write_script, write_suite
from tests.report.browser import chromium
from tests.report.test_html_report import report_json

HOSTILE = "<img src=x onerror=alert(1)>"


def failing_suite(root: Path) -> Path:
    """Write a suite of a passing, a hostile-named and a failing case, recorded, then break 'flip'."""
    write_suite(root, {"ok": "echo ok", HOSTILE: "echo hi", "flip": "echo one > f.txt; echo one"})
    assert main(["regress", "-q", str(root)]) == EXIT_OK
    write_script(root / "flip", "echo ONE > f.txt; echo two; exit 2")
    write_script(root / "fresh", "echo fresh")
    return root


def rows_by_case(data: dict[str, Any]) -> dict[str, tuple[str, str | None, dict[str, Any] | None]]:
    """Return each row of a page's data as case name -> (status, detail, diff)."""
    statuses = [style[0] for style in data["statuses"]]
    return {
        row[0]: (statuses[row[1]], row[6], data["diffs"][row[7]] if row[7] >= 0 else None)
        for row in data["rows"]
    }


def test_rows_diffs_hostile_names_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = failing_suite(tmp_path / "suite")
    target = tmp_path / "regress.html"
    assert main(["regress", "--check", "-q", str(root)]) == EXIT_DIFFERENCES
    assert main(["regress", "--check", "-q", "--html", str(target), str(root)]) == EXIT_DIFFERENCES
    assert capsys.readouterr().out == ""
    assert not (root / ".expected" / "fresh").exists()
    page = target.read_text(encoding="utf-8")
    assert "<img" not in page
    data = report_json(page)
    assert [style[0] for style in data["statuses"]] == ["PASSED", "FAILED", "NEW", "ERROR", "TIMEOUT"]
    assert data["title"] == f"dirkit regress {root}"
    assert data["summary"].startswith("2 passed, 1 failed, 1 new in ")
    rows = rows_by_case(data)
    assert set(rows) == {"ok", HOSTILE, "flip", "fresh"}
    assert rows["ok"] == ("PASSED", None, None)
    assert rows[HOSTILE] == ("PASSED", None, None)
    assert rows["fresh"] == ("NEW", "no expectation saved", None)
    status, detail, diff = rows["flip"]
    assert (status, detail) == ("FAILED", "stdout, exit status 0 -> 2, tree (1 path)")
    assert diff is not None and diff["note"] is None
    lines = diff["lines"]
    assert "=== FAILED flip" not in lines
    assert {"+two", "+ONE", "exit status: expected 0, got 2"} <= set(lines)
    assert lines.count("-one") == 2  # stdout, then f.txt
    assert "  M f.txt  changed  (content differs)" in lines


def test_an_error_keeps_exit_status_2(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "suite", {"crash": "kill -ABRT $$"})
    target = tmp_path / "regress.html"
    assert main(["regress", "-q", "--html", str(target), str(root)]) == EXIT_ERROR
    rows = rows_by_case(report_json(target.read_text(encoding="utf-8")))
    assert rows["crash"][:2] == ("ERROR", "crashed: killed by signal 6")


def test_open_needs_html_before_any_case_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_suite(tmp_path / "suite", {"one": "echo one"})
    assert main(["regress", "--open", str(root)]) == EXIT_ERROR
    assert "--open needs --html FILE" in capsys.readouterr().err
    assert not (root / ".expected").exists()


@pytest.mark.needs_tool
def test_a_failed_case_shows_in_chromium(tmp_path: Path) -> None:
    root = failing_suite(tmp_path / "suite")
    target = tmp_path / "regress.html"
    assert main(["regress", "--check", "-q", "--html", str(target), str(root)]) == EXIT_DIFFERENCES
    with chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        page.goto(target.as_uri())
        page.wait_for_selector("body[data-ready='1']")
        tree = page.locator("#tree")
        assert tree.locator(f".file-row[data-path='{HOSTILE}'] .name").inner_text() == HOSTILE
        assert page.locator("img").count() == 0
        flip = tree.locator(".file-row[data-path='flip']")
        assert flip.locator(".status").inner_text() == "FAILED"
        flip.click()
        diff = page.locator("#details pre.diff")
        assert "+ONE" in diff.locator(".add").all_inner_texts()
        page.uncheck("#filters input[value='PASSED']")
        shown = [row.get_attribute("data-path") for row in tree.locator(".file-row").all()]
        assert set(shown) == {"flip", "fresh"}
        assert problems == []
