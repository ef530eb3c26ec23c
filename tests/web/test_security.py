"""The server's gate over plain http.client: token, Host, Origin and CSRF, methods, paths, passwords."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.ops.run.recovery import claim_tree
from dirkit.state.journal import Journal
from dirkit.web.security import CSRF_HEADER, cookie_name, hide_password, without_passwords
from tests.support import MakeTree, tree_state
from tests.web.served import serving

SECRET = "the secret outside every tree"


def mirrored_target(make_tree: MakeTree) -> tuple[Path, str]:
    """Return a target tree after one mirror run that backed up a file, and the run's id."""
    source = make_tree("src", {"a.txt": "new content"})
    target = make_tree("dst", {"a.txt": "old", "b.txt": "deleted"})
    journal = Journal.open()
    try:
        options = MirrorOptions(guards=GuardOptions(force=True))
        result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    finally:
        journal.close()
    return target, result.run_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/assets/app.js"),
        ("GET", "/api/runs?tree=/"),
        ("GET", "/api/jobs/x"),
        ("POST", "/api/compare"),
        ("POST", "/api/sync-plan"),
        ("POST", "/api/sync-apply"),
    ],
)
def test_without_the_token_everything_is_refused(method: str, path: str) -> None:
    with serving() as client:
        body = {"left": "/", "right": "/", "plan": "plan-1"} if method == "POST" else None
        answer = client.request(method, path, body, drop=["Cookie"])
        assert answer.status == 403
        assert "token" in str(answer.json()["error"])
        for job_id in ("compare-1", "sync-plan-1", "sync-apply-1"):
            assert client.server.workspace.jobs.get(job_id) is None


def test_a_wrong_token_is_refused_in_the_cookie_the_header_and_the_url() -> None:
    with serving() as client:
        wrong = client.token[:-1] + ("A" if client.token[-1] != "A" else "B")
        assert (
            client.request(
                "GET", "/", headers={"Cookie": f"{cookie_name(client.server.port)}={wrong}"}
            ).status
            == 403
        )
        assert client.request("GET", "/", headers={"X-Dirkit-Token": wrong}, drop=["Cookie"]).status == 403
        assert client.request("GET", f"/?token={wrong}", drop=["Cookie"]).status == 403
        other_port = f"{cookie_name(client.server.port + 1)}={client.token}"
        assert client.request("GET", "/", headers={"Cookie": other_port}).status == 403


def test_the_token_in_the_url_becomes_a_strict_http_only_cookie() -> None:
    with serving(["left", "right"]) as client:
        first = client.request("GET", f"/?token={client.token}", drop=["Cookie"])
        assert first.status == 303
        assert first.headers["Location"] == "/"
        cookie = first.headers["Set-Cookie"]
        assert cookie.startswith(f"{cookie_name(client.server.port)}={client.token};")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        page = client.request("GET", "/")
        assert page.status == 200
        assert client.csrf.encode() in page.body
        assert client.token.encode() not in page.body
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "127.0.0.1", None])
def test_a_wrong_host_header_is_refused(host: str | None) -> None:
    with serving() as client:
        if host is None:
            answer = client.request("GET", "/", drop=["Host"])
        else:
            answer = client.request("GET", "/", headers={"Host": host.format(port=client.server.port)})
        assert answer.status == 403
        assert "Host" in str(answer.json()["error"])
        assert client.request("GET", "/", headers={"Host": f"localhost:{client.server.port}"}).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
        {CSRF_HEADER: "wrong"},
        {"Content-Type": "text/plain"},
    ],
)
def test_a_cross_origin_or_forged_post_changes_nothing(make_tree: MakeTree, headers: dict[str, str]) -> None:
    target, run_id = mirrored_target(make_tree)
    before = tree_state(target)
    with serving() as client:
        answer = client.request("POST", "/api/undo", {"tree": str(target), "run": run_id}, headers=headers)
        assert answer.status in (403, 415)
        assert client.server.workspace.jobs.get("undo-1") is None
    assert tree_state(target) == before


FORGERIES: list[tuple[dict[str, str], list[str]]] = [
    ({"Origin": "http://evil.example"}, []),
    ({"Origin": "null"}, []),
    ({CSRF_HEADER: "wrong"}, []),
    ({"Content-Type": "text/plain"}, []),
    ({"Host": "evil.example"}, []),
    ({}, ["Origin"]),
    ({}, [CSRF_HEADER]),
    ({}, ["Cookie"]),
]


@pytest.mark.parametrize(("headers", "drop"), FORGERIES)
def test_a_forged_sync_plan_or_apply_changes_nothing(
    make_tree: MakeTree, headers: dict[str, str], drop: list[str]
) -> None:
    a = make_tree("a", {"only-a.txt": "a"})
    b = make_tree("b", {"only-b.txt": "b"})
    before = (tree_state(a), tree_state(b))
    with serving() as client:
        sides = {"left": str(a), "right": str(b)}
        forged = client.request("POST", "/api/sync-plan", sides, headers=headers, drop=drop)
        assert forged.status in (403, 415)
        assert client.server.workspace.jobs.get("sync-plan-1") is None
        plan = client.finish(client.request("POST", "/api/sync-plan", sides).json())
        plan_id = plan["result"]["plan_id"]  # type: ignore[index]
        forged = client.request("POST", "/api/sync-apply", {"plan": plan_id}, headers=headers, drop=drop)
        assert forged.status in (403, 415)
        assert client.server.workspace.jobs.get("sync-apply-1") is None
    assert (tree_state(a), tree_state(b)) == before


@pytest.mark.parametrize("drop", [["Origin"], [CSRF_HEADER]])
def test_a_post_without_origin_or_csrf_token_is_refused(make_tree: MakeTree, drop: list[str]) -> None:
    target, run_id = mirrored_target(make_tree)
    before = tree_state(target)
    with serving() as client:
        answer = client.request("POST", "/api/undo", {"tree": str(target), "run": run_id}, drop=drop)
        assert answer.status == 403
    assert tree_state(target) == before


def test_state_changing_endpoints_refuse_get_and_other_methods(make_tree: MakeTree) -> None:
    target, run_id = mirrored_target(make_tree)
    before = tree_state(target)
    with serving() as client:
        routes = ("/api/undo", "/api/apply", "/api/restore", "/api/compare", "/api/plan")
        for route in (*routes, "/api/sync-plan", "/api/sync-apply"):
            answer = client.request("GET", f"{route}?tree={target}&run={run_id}")
            assert answer.status == 405, route
        assert client.request("PUT", "/api/undo", {"tree": str(target)}).status == 405
        assert client.request("DELETE", "/api/undo").status == 405
        assert client.request("POST", "/api/runs", {"tree": str(target)}).status == 404
    assert tree_state(target) == before


@pytest.mark.parametrize(
    "path",
    [
        "/assets/..%2f..%2f..%2fpyproject.toml",
        "/assets/../server.py",
        "/assets/%2e%2e/server.py",
        "/assets/index.html/../../security.py",
        "/report/..%2f..%2fetc%2fpasswd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
    ],
)
def test_traversal_urls_read_nothing(path: str) -> None:
    with serving() as client:
        answer = client.request("GET", path)
        assert answer.status == 404
        assert b"root:" not in answer.body
        assert b"import" not in answer.body


def test_restore_refuses_paths_out_of_the_backups_and_planted_links(
    make_tree: MakeTree, tmp_path: Path
) -> None:
    target, run_id = mirrored_target(make_tree)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    backups = target / ".dirkit" / "backups" / run_id
    os.symlink(outside / "secret.txt", backups / "link.txt")
    os.symlink(outside, backups / "linked")
    before = tree_state(target)
    with serving() as client:
        for path in (
            "../outside/secret.txt",
            "../../../" + str(outside / "secret.txt"),
            str(outside / "secret.txt"),
        ):
            answer = client.request(
                "POST", "/api/restore", {"tree": str(target), "run": run_id, "path": path}
            )
            assert answer.status == 400, path
            error = str(answer.json()["error"])
            assert "absolute" in error or "escapes its root" in error
        for path in ("link.txt", "linked/secret.txt"):
            job = client.request(
                "POST", "/api/restore", {"tree": str(target), "run": run_id, "path": path}
            ).json()
            ended = client.finish(job)
            assert ended["state"] == "failed", ended
            assert path.split("/")[0] in str(ended["error"])
        listing = client.request("GET", f"/api/backup-files?tree={target}&run={run_id}").json()
        files = listing["files"]
        assert isinstance(files, list)
        listed = {item["path"]: item["kind"] for item in files}
        assert listed == {"a.txt": "file", "b.txt": "file", "link.txt": "symlink", "linked": "symlink"}
        answer = client.request("GET", f"/api/backup-files?tree={target}&run=../../etc")
        assert answer.status == 400
        assert "not a run id" in str(answer.json()["error"])
    assert tree_state(target) == before
    assert all(
        SECRET not in path.read_text()
        for path in target.rglob("*")
        if path.is_file() and not path.is_symlink()
    )


def test_a_second_run_on_a_held_tree_is_refused_with_the_cli_message(make_tree: MakeTree) -> None:
    target, run_id = mirrored_target(make_tree)
    before = tree_state(target)
    journal = Journal.open()
    try:
        with serving() as client, claim_tree(journal, LocalBackend(str(target)), "mirror"):
            job = client.request("POST", "/api/undo", {"tree": str(target), "run": run_id}).json()
            ended = client.finish(job)
            assert ended["state"] == "failed"
            assert "another dirkit run is working on this tree" in str(ended["error"])
            assert "(mirror, pid" in str(ended["error"])
    finally:
        journal.close()
    assert tree_state(target) == before


def test_a_bad_location_is_a_json_error_naming_it() -> None:
    with serving() as client:
        job = client.request("POST", "/api/compare", {"left": "/no/such/tree", "right": "/"}).json()
        ended = client.finish(job)
        assert ended["state"] == "failed"
        assert str(ended["error"]).startswith("/no/such/tree")
        answer = client.request("POST", "/api/compare", {"left": 3, "right": ""})
        assert answer.status == 400
        assert str(answer.json()["error"]).startswith("left tree:")
        answer = client.request(
            "POST", "/api/compare", body=None, headers={"Content-Type": "application/json"}
        )
        assert answer.status == 400


def test_no_password_in_a_url_reaches_the_page() -> None:
    typed = "ftp://someone:hunter%32@127.0.0.1:1/tree"
    with serving([typed, "ftp://other:s3cret@127.0.0.1:1/"]) as client:
        page = client.request("GET", "/").body.decode()
        assert "hunter" not in page
        assert "s3cret" not in page
        assert "ftp://someone:***@127.0.0.1:1/tree" in page
        job = client.request(
            "POST", "/api/compare", {"left": hide_password(typed), "right": "ftp://x:pa55word@127.0.0.1:1/"}
        )
        ended = client.finish(job.json())
        assert ended["state"] == "failed"
        shown = str(ended)
        assert "hunter" not in shown
        assert "pa55word" not in shown
        assert "127.0.0.1" in shown


def test_passwords_are_hidden_typed_and_decoded() -> None:
    location = "ftp://me:p%40ss@host/dir"
    assert hide_password(location) == "ftp://me:***@host/dir"
    assert without_passwords(f"{location}: login as me with p@ss failed (p%40ss)", [location]) == (
        "ftp://me:***@host/dir: login as me with *** failed (***)"
    )
    assert hide_password("/plain/path:with@signs") == "/plain/path:with@signs"


def test_broken_and_abandoned_requests_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with serving() as client:
        for raw in (b"NOT HTTP\r\n\r\n", b"GET / HTTP/1.0\r\nHost: 127.0.0.1", b"\x16\x03\x01\x00"):
            with socket.create_connection(("127.0.0.1", client.server.port), timeout=10) as connection:
                connection.sendall(raw)
                connection.shutdown(socket.SHUT_WR)
                connection.recv(4096)
        assert client.request("GET", "/").status == 200
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""
