"""Input refused or tamed at the command line: edited plans, bad globs, sizes, misleading messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dirkit.cli.main import main

Capture = pytest.CaptureFixture[str]


def edited_plan(tmp_path: Path, mode: int) -> tuple[Path, Path]:
    """Save a mirror plan copying one file, edit it to set mode; return the plan and the target."""
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    target.mkdir()
    (source / "tool").write_text("#!/bin/sh\n")
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "--save-plan", str(plan), str(source), str(target)]) == 0
    lines = []
    for line in plan.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "action" and record.get("mode") is not None:
            record["mode"] = mode
        lines.append(json.dumps(record))
    plan.write_text("\n".join(lines) + "\n")
    return plan, target


def test_apply_strips_setuid_setgid_and_other_write_from_an_edited_plan(tmp_path: Path) -> None:
    plan, target = edited_plan(tmp_path, 0o6777)
    assert main(["apply", "-q", str(plan)]) == 0
    assert os.stat(target / "tool").st_mode & 0o7777 == 0o775


def test_apply_keep_modes_sets_the_plan_mode_as_it_is(tmp_path: Path) -> None:
    plan, target = edited_plan(tmp_path, 0o4755)
    assert main(["apply", "-q", "--keep-modes", str(plan)]) == 0
    assert os.stat(target / "tool").st_mode & 0o7777 == 0o4755
