"""`dirkit serve` in headless Chromium: review a mirror or a sync plan, apply it to 100%, undo, restore."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.ops.run.recovery import claim_tree
from dirkit.ops.sync.run import sync_trees
from dirkit.state.journal import Journal
from tests.report.browser import chromium
from tests.support import read_files
from tests.web.served import serving

MakeTree = Callable[..., Path]
HOSTILE = "<img src=x onerror=alert(1)>.txt"
STEP_MS = 60_000


def files_of(root: Path) -> dict[str, bytes]:
    """Return the files of a tree, leaving out dirkit's own folder."""
    return {path: data for path, data in read_files(root).items() if not path.startswith(".dirkit/")}


@pytest.mark.needs_tool
def test_compare_plan_apply_undo_restore_in_chromium(make_tree: MakeTree, tmp_path: Path) -> None:
    left = make_tree(
        "left",
        {
            "docs/guide.txt": "intro\nsetup, now simpler\nusage\n",
            "docs/new.txt": "new",
            "same.txt": "same",
            HOSTILE: "x",
        },
    )
    right = make_tree(
        "right", {"docs/guide.txt": "intro\nsetup\nusage\n", "old.txt": "old", "same.txt": "same"}
    )
    for root in (left, right):
        for folder in [root, *(path for path in root.rglob("*") if path.is_dir())]:
            os.utime(folder, (1_600_000_000, 1_600_000_000))
    left_files, right_before = files_of(left), files_of(right)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with serving([str(left), str(right)]) as client, chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        page.on(
            "request",
            lambda request: (
                None if request.url.startswith(client.server.url(False)) else problems.append(request.url)
            ),
        )
        page.goto(client.server.url())
        page.wait_for_selector("body[data-ready='1']")
        assert page.url == client.server.url(False)  # the token left the address bar for a cookie
        assert page.input_value("#left") == str(left)

        page.click("#compare")
        page.wait_for_selector("body[data-compare]", timeout=STEP_MS)
        report = page.frame_locator("#report")
        report.locator("body[data-ready='1']").wait_for()
        assert report.locator(f".file-row[data-path='{HOSTILE}'] .name").inner_text() == HOSTILE
        report.locator(".folder-row[data-path='docs']").click()
        report.locator(".file-row[data-path='docs/guide.txt']").click()
        assert report.locator("#details pre.diff .del").all_inner_texts() == ["-setup, now simpler"]
        page.screenshot(path=shots / "1-compare.png")
        assert files_of(right) == right_before

        page.click("#plan")
        page.wait_for_selector("body[data-plan]", timeout=STEP_MS)
        steps = {
            row.get_attribute("data-path"): row.get_attribute("data-kind")
            for row in page.locator("tr.action").all()
        }
        assert steps[HOSTILE] == "copy_file"
        assert steps["docs/new.txt"] == "copy_file"
        assert steps["old.txt"] == "backup"
        assert page.locator(f"tr.action[data-path='{HOSTILE}'] td.what").inner_text().startswith(HOSTILE)
        page.screenshot(path=shots / "2-plan.png")
        assert files_of(right) == right_before

        page.click("#apply")
        page.wait_for_selector("body[data-run='done']", timeout=STEP_MS)
        assert page.eval_on_selector("#progress", "bar => bar.value") == 100
        assert page.inner_text("#progress-text").startswith("100% (")
        assert files_of(right) == left_files
        page.click("#show-runs")
        page.wait_for_selector("tr.run")
        page.screenshot(path=shots / "3-applied.png")

        runs = page.locator("tr.run")
        assert runs.count() == 1
        runs.first.locator("button.undo").click()
        page.wait_for_selector("body[data-run='done']", timeout=STEP_MS)
        assert files_of(right) == right_before
        page.wait_for_function("document.querySelectorAll('tr.run').length === 2")

        page.locator("tr.run").nth(1).locator("button.backups").click()
        page.wait_for_selector(f"tr.backup-file[data-path='{HOSTILE}']")
        assert page.locator(f"tr.backup-file[data-path='{HOSTILE}'] td.path").inner_text() == HOSTILE
        page.locator("tr.backup-file[data-path='docs/guide.txt'] button.restore").click()
        page.wait_for_selector("body[data-run='done']", timeout=STEP_MS)
        assert files_of(right) == {**right_before, "docs/guide.txt": left_files["docs/guide.txt"]}
        page.screenshot(path=shots / "4-restored.png", full_page=True)

        journal = Journal.open()
        try:
            with claim_tree(journal, LocalBackend(str(right)), "mirror"):
                page.locator("tr.run").first.locator("button.undo").click()
                page.wait_for_selector("body[data-run='refused']", timeout=STEP_MS)
        finally:
            journal.close()
        assert "another dirkit run is working on this tree: run " in page.inner_text("#message")
        assert page.get_attribute("#message", "class") == "error"
        assert files_of(right) == {**right_before, "docs/guide.txt": left_files["docs/guide.txt"]}
        assert page.locator("img").count() == 0
        assert report.locator("img").count() == 0
        assert problems == []


@pytest.mark.needs_tool
def test_plan_a_sync_see_its_conflict_apply_and_undo_it_on_both_sides_in_chromium(
    make_tree: MakeTree, tmp_path: Path
) -> None:
    a = make_tree("a", {"notes.txt": "notes", "shared.txt": "shared", "gone.txt": "to delete"})
    b = make_tree("b", {})
    journal = Journal.open()
    try:
        sync_trees(LocalBackend(str(a)), LocalBackend(str(b)), journal)
    finally:
        journal.close()
    (a / "notes.txt").write_text("notes, edited on A")
    (a / "gone.txt").unlink()
    (b / "from-b.txt").write_text("new on B")
    (a / "shared.txt").write_text("shared, edited on A")
    (b / "shared.txt").write_text("shared, edited on B differently")
    a_before, b_before = files_of(a), files_of(b)
    with serving([str(a), str(b)]) as client, chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(client.server.url())
        page.wait_for_selector("body[data-ready='1']")

        page.click("#sync-plan")
        page.wait_for_selector("body[data-plan]", timeout=STEP_MS)
        conflict = page.locator("tr.conflict[data-path='shared.txt']")
        assert conflict.get_attribute("data-resolution") == "left alone"
        steps = {
            (row.get_attribute("data-side"), row.get_attribute("data-path"), row.get_attribute("data-kind"))
            for row in page.locator("tr.action").all()
        }
        assert ("A", "from-b.txt", "copy_file") in steps
        assert ("B", "notes.txt", "copy_file") in steps
        assert ("B", "gone.txt", "backup") in steps
        assert not any(path == "shared.txt" for _, path, _ in steps)
        page.screenshot(path=tmp_path / "sync-plan.png")
        assert (files_of(a), files_of(b)) == (a_before, b_before)

        page.click("#apply")
        page.wait_for_selector("body[data-run='done']", timeout=STEP_MS)
        assert page.eval_on_selector("#progress", "bar => bar.value") == 100
        assert "1 conflicts left alone" in page.inner_text("#run-summary")
        in_step = {"notes.txt": b"notes, edited on A", "from-b.txt": b"new on B"}
        assert files_of(a) == {**in_step, "shared.txt": b"shared, edited on A"}
        assert files_of(b) == {**in_step, "shared.txt": b"shared, edited on B differently"}

        page.click("#show-runs")
        page.locator("tr.run").nth(1).wait_for()
        assert page.locator("tr.run").count() == 2
        page.locator("tr.run").last.locator("button.undo").click()
        page.wait_for_selector("body[data-run='done']", timeout=STEP_MS)
        assert (files_of(a), files_of(b)) == (a_before, b_before)
        assert problems == []
