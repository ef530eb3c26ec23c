"""dirkit's own regression suite (tests/regress: --help texts, compares of the demo trees) passes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_OK

SUITE = Path(__file__).resolve().parents[1] / "regress"


def test_dirkit_own_regress_suite_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The cases run `dirkit`: the one installed next to this Python comes first on PATH.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    code = main(["regress", "--check", "-j", "2", str(SUITE)])
    out = capsys.readouterr().out
    assert code == EXIT_OK, f"{out}\naccept intended changes with: dirkit regress --update tests/regress"
    assert out.splitlines()[-1].startswith("5 passed in ")
