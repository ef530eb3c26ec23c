"""JSON endpoints over http.client: a plan header, its steps a page at a time, and a run nobody watches."""

from __future__ import annotations

import time

from tests.support import MakeTree, read_files
from tests.web.served import serving


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
