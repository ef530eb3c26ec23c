"""Undoing a sync from the page reverts it on both trees and puts the base back, as `dirkit undo` does."""

from __future__ import annotations

from dirkit.cli.main import main
from dirkit.errors import EXIT_OK
from tests.support import MakeTree, read_files
from tests.web.served import serving


def test_undo_of_a_sync_from_the_page_reverts_both_sides_and_the_next_sync_deletes_nothing(
    make_tree: MakeTree,
) -> None:
    a = make_tree("a", {"one.txt": "1"})
    b = make_tree("b", {})
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    (a / "from-a.txt").write_text("made on A")
    (b / "from-b.txt").write_text("made on B")
    before_a, before_b = read_files(a), read_files(b)
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    with serving() as client:
        job = client.finish(client.request("POST", "/api/undo", {"tree": str(b)}).json())
    assert job["state"] == "done", job
    assert read_files(a) == before_a
    assert read_files(b) == before_b
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    assert (a / "from-a.txt").read_text() == "made on A"
    assert (b / "from-b.txt").read_text() == "made on B"
