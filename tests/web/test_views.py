"""JSON endpoints over http.client: a plan header, its steps a page at a time, and a run nobody watches."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support import MakeTree, read_files
from tests.web.served import Client, serving


def test_plan_steps_come_a_page_at_a_time_and_a_run_goes_on_with_nobody_polling(make_tree: MakeTree) -> None:
    left = make_tree("left", {f"f{number}.txt": f"file {number}" for number in range(7)})
    right = make_tree("right", {"old.txt": "old"})
    with serving() as client:
        job = client.request("POST", "/api/plan", {"left": str(left), "right": str(right)}).json()
        plan = client.finish(job)["result"]
        assert isinstance(plan, dict)
        assert plan["kinds"] == {"copy_file": 7, "backup": 1}
        assert plan["summary"].startswith("plan: 7 files to copy")
        assert "actions" not in plan
        plan_id = plan["plan_id"]
        first = client.request("GET", f"/api/plan-steps?plan={plan_id}&offset=0&limit=3").json()
        steps = first["steps"]
        assert isinstance(steps, list)
        assert [step["index"] for step in steps] == [0, 1, 2]
        assert steps[0]["kind"] == "copy_file"
        assert steps[0]["text"].startswith(steps[0]["path"])
        assert first["remaining"] == 5
        only_backups = client.request("GET", f"/api/plan-steps?plan={plan_id}&hide=copy_file").json()
        backups = only_backups["steps"]
        assert isinstance(backups, list)
        assert [step["path"] for step in backups] == ["old.txt"]
        assert only_backups["next"] is None
        answer = client.request("GET", f"/api/plan-steps?plan={plan_id}&offset=x")
        assert answer.status == 400
        assert client.request("GET", "/api/plan-steps?plan=plan-99").status == 400

        started = client.request("POST", "/api/apply", {"plan": plan_id, "force": True}).json()
        deadline = time.monotonic() + 60
        while client.server.workspace.jobs.get(str(started["id"])).state.value == "running":  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert {
            path: data for path, data in read_files(right).items() if not path.startswith(".dirkit/")
        } == read_files(left)
        ended = client.request("GET", f"/api/jobs/{started['id']}").json()
        assert ended["state"] == "done"
        assert ended["progress"]["percent"] == 100.0  # type: ignore[index]
        again = client.finish(client.request("POST", "/api/apply", {"plan": plan_id, "force": True}).json())
        assert again["state"] == "failed"
        assert "refusing to apply a stale plan" in str(again["error"])


def test_a_sync_plan_is_reviewed_refused_when_stale_or_guarded_applied_and_undone_on_both_sides(
    make_tree: MakeTree, tmp_path: Path
) -> None:
    a = make_tree("a", {"only-a.txt": "from a", "both.txt": "a version", "same.txt": "same"})
    b = make_tree("b", {"only-b.txt": "from b", "both.txt": "b version, longer", "same.txt": "same"})
    a_before, b_before = own_files(a), own_files(b)
    with serving() as client:
        assert (
            client.request("POST", "/api/sync-plan", {"left": str(a), "right": str(b), "prefer": "x"}).status
            == 400
        )
        plan = sync_plan(client, a, b)
        assert plan["steps_on"] == {"A": 1, "B": 1}
        assert plan["unresolved"] == 1
        assert [item["path"] for item in plan["conflicts"]] == ["both.txt"]  # type: ignore[attr-defined]
        steps = client.request("GET", f"/api/plan-steps?plan={plan['plan_id']}").json()["steps"]
        assert [(s["side"], s["direction"], s["path"]) for s in steps] == [  # type: ignore[attr-defined]
            ("A", "B -> A", "only-b.txt"),
            ("B", "A -> B", "only-a.txt"),
        ]
        as_mirror = client.request("POST", "/api/apply", {"plan": plan["plan_id"]})
        assert as_mirror.status == 400
        assert "no such mirror plan" in str(as_mirror.json()["error"])

        (a / "late.txt").write_text("written after the review")
        stale = client.finish(client.request("POST", "/api/sync-apply", {"plan": plan["plan_id"]}).json())
        assert stale["state"] == "failed"
        assert "refusing to apply a stale sync plan" in str(stale["error"])
        (a / "late.txt").unlink()
        assert (own_files(a), own_files(b)) == (a_before, b_before)

        plan = sync_plan(client, a, b)
        done = client.finish(client.request("POST", "/api/sync-apply", {"plan": plan["plan_id"]}).json())
        assert done["state"] == "done", done
        assert done["progress"]["percent"] == 100.0  # type: ignore[index]
        assert done["result"]["conflicts_left"] == 1  # type: ignore[index]
        expected_a = {**a_before, "only-b.txt": b"from b"}
        expected_b = {**b_before, "only-a.txt": b"from a"}
        assert (own_files(a), own_files(b)) == (expected_a, expected_b)

        aside = tmp_path / "aside"
        aside.mkdir()
        for name in expected_a:
            (a / name).rename(aside / name)
        guarded = sync_plan(client, a, b)
        assert guarded["violations"]
        refused = client.finish(
            client.request("POST", "/api/sync-apply", {"plan": guarded["plan_id"]}).json()
        )
        assert refused["state"] == "failed"
        assert "refusing to sync" in str(refused["error"])
        for name in expected_a:
            (aside / name).rename(a / name)
        assert (own_files(a), own_files(b)) == (expected_a, expected_b)

        undone = client.finish(client.request("POST", "/api/undo", {"tree": str(b)}).json())
        assert undone["state"] == "done", undone
        assert len(undone["result"]["runs"]) == 2  # type: ignore[index]
    assert (own_files(a), own_files(b)) == (a_before, b_before)


def own_files(root: Path) -> dict[str, bytes]:
    """Return the files of a tree, leaving out dirkit's own folder."""
    return {path: data for path, data in read_files(root).items() if not path.startswith(".dirkit/")}


def sync_plan(client: Client, a: Path, b: Path) -> dict[str, object]:
    """Plan a sync of a and b through the server and return the plan's header."""
    job = client.finish(client.request("POST", "/api/sync-plan", {"left": str(a), "right": str(b)}).json())
    assert job["state"] == "done", job
    result = job["result"]
    assert isinstance(result, dict)
    return result
