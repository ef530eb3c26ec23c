"""The library entry points dirkit.plan_mirror, mirror, apply and undo: values back, nothing printed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import dirkit
from dirkit.core.run.plan import ActionKind
from dirkit.errors import RefusedError, StalePlanError


def test_library_round_trip(make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    source = make_tree("src", {"a": "new", "d/b": "b"})
    target = make_tree("dst", {"a": "old", "x": "extra"}, mtime=1_500_000_000)
    plan = dirkit.plan_mirror(source, target)
    assert {action.kind for action in plan.actions} >= {ActionKind.COPY_FILE, ActionKind.BACKUP}
    result = dirkit.apply(plan)
    assert result.ok and result.files_copied == 2
    with pytest.raises(StalePlanError):
        dirkit.apply(plan)
    undone = dirkit.undo(target)
    assert undone.ok and (target / "a").read_text() == "old" and (target / "x").exists()
    redone = dirkit.mirror(source, str(target), force=True)
    assert redone.ok and not (target / "x").exists()
    with pytest.raises(RefusedError):
        dirkit.mirror(make_tree("empty", {}), target)
    assert capsys.readouterr() == ("", "")
