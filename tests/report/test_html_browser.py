"""The HTML report in headless Chromium: expand a folder (500 rows at a time), filter, search, open a diff."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.cli.main import main
from tests.report.browser import chromium

MakeTree = Callable[..., Path]
HOSTILE = "<img src=x onerror=alert(1)>.txt"


@pytest.mark.needs_tool
def test_report_in_chromium(make_tree: MakeTree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    left = make_tree(
        "left",
        {
            "docs/guide.txt": "intro\nsetup\nusage\n",
            "docs/old.txt": "gone",
            "src/main.py": "print('hi')\n",
            HOSTILE: "x",
            **{f"data/part{n:03}.csv": f"{n}\n" for n in range(30)},
        },
    )
    right = make_tree(
        "right",
        {
            "docs/guide.txt": "intro\nsetup, now simpler\nusage\nfaq\n",
            "docs/new.txt": "new",
            "src/main.py": "print('hi')\n",
            **{f"data/part{n:03}.csv": f"{n}\n" for n in range(30)},
            **{f"many/f{n:03}": "" for n in range(520)},
        },
    )
    for root in (left, right):
        for folder in [root, *(path for path in root.rglob("*") if path.is_dir())]:
            os.utime(folder, (1_600_000_000, 1_600_000_000))
    page_file = tmp_path / "report.html"
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "-q", "--html", str(page_file), "left", "right"]) == 1
    with chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        page.on("request", lambda request: problems.append(f"request {request.url}"))
        page.goto(page_file.as_uri())
        problems.remove(f"request {page_file.as_uri()}")
        page.wait_for_selector("body[data-ready='1']")
        tree = page.locator("#tree")
        folders = [row.get_attribute("data-path") for row in tree.locator(".folder-row").all()]
        assert folders == ["docs", "many"]  # data/ and src/ hold no differences
        hostile = tree.locator(f".file-row[data-path='{HOSTILE}'] .name")
        assert hostile.inner_text() == HOSTILE
        assert page.locator("img").count() == 0
        page.screenshot(path=tmp_path / "1-top.png")

        page.click(".folder-row[data-path='docs']")
        shown = [row.get_attribute("data-path") for row in tree.locator(".file-row").all()]
        assert shown == ["docs/guide.txt", "docs/new.txt", "docs/old.txt", HOSTILE]
        assert page.locator(".folder-row[data-path='docs'] .badge").all_inner_texts() == ["1", "1", "1"]

        page.click(".folder-row[data-path='many']")
        assert tree.locator(".file-row[data-path^='many/']").count() == 500
        page.click("text=show 20 more of 20")
        assert tree.locator(".file-row[data-path^='many/']").count() == 520
        page.click(".folder-row[data-path='many']")

        page.uncheck("#filters input[value='left_only']")
        shown = [row.get_attribute("data-path") for row in tree.locator(".file-row").all()]
        assert shown == ["docs/guide.txt", "docs/new.txt"]
        page.check("#filters input[value='left_only']")

        page.click(".file-row[data-path='docs/guide.txt']")
        diff = page.locator("#details pre.diff")
        assert diff.locator(".add").all_inner_texts() == ["+setup, now simpler", "+faq"]
        assert diff.locator(".del").all_inner_texts() == ["-setup"]
        assert "size (left)\t18 B" in page.inner_text("#details table")
        page.screenshot(path=tmp_path / "2-diff.png")

        page.fill("#search", "NEW")
        page.wait_for_selector(".search-count")
        assert page.inner_text(".search-count") == "1 path matches"
        assert [row.get_attribute("data-path") for row in tree.locator(".file-row").all()] == ["docs/new.txt"]
        page.screenshot(path=tmp_path / "3-search.png")
        assert problems == []
