"""`dirkit serve` as a process: prints its URL, answers on 127.0.0.1, stops on Ctrl-C with status 130."""

from __future__ import annotations

import http.client
import signal
import subprocess
from urllib.parse import urlsplit

import pytest

from dirkit.cli.main import main
from tests.support import dirkit_command


def test_serve_prints_a_token_url_and_stops_cleanly_on_ctrl_c() -> None:
    child = subprocess.Popen(
        dirkit_command("serve", "--no-open", "left", "right"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("dirkit serve: http://127.0.0.1:"), line
        url = urlsplit(line.split(": ", 1)[1].strip())
        assert url.query.startswith("token=")
        assert len(url.query) > len("token=") + 40
        connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=30)
        connection.request("GET", f"/?{url.query}")
        assert connection.getresponse().status == 303
        connection.close()
        child.send_signal(signal.SIGINT)
        _, errors = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130
    assert errors.strip().endswith("dirkit: interrupted")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--port", "70000"], "dirkit: --port 70000: not a port number"),
        (["serve", "a", "b", "c"], "dirkit: serve takes at most two trees"),
        (["serve", "--bind", "192.0.2.1"], "dirkit: 192.0.2.1:0: cannot listen there"),
        (
            ["serve", "--bind", "0.0.0.0"],
            "dirkit: --bind 0.0.0.0: give the one address the page will be opened at",
        ),
    ],
)
def test_bad_serve_options_are_one_line_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    errors = capsys.readouterr().err
    assert errors.startswith(message)
    assert errors.count("\n") == 1
