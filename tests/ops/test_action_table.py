"""The executor's action table: every action kind has exactly one handler."""

from __future__ import annotations

from dirkit.core.run.plan import ActionKind
from dirkit.ops.run.actions import HANDLERS


def test_every_action_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(ActionKind)
    assert all(callable(handler) for handler in HANDLERS.values())
