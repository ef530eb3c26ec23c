"""A pure model of two trees for reconcile tests: trees as {path: content}, plans applied to them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dirkit.core.run.plan import ActionKind
from dirkit.core.sync.base import BaseEntry, Side
from dirkit.core.sync.merge import DigestKey, SyncRow, merge_listings
from dirkit.core.sync.plan import SyncPlan, SyncPolicy
from dirkit.core.sync.reconcile import reconcile
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, is_inside, parent_path, sort_key

DIR = None
"""The content of a directory in a model tree."""
Model = dict[str, str | None]
"""A tree: path to file content (a str) or DIR; every parent of a path is a DIR entry."""


def with_parents(tree: Mapping[str, str | None]) -> Model:
    """Return tree with every missing parent directory added."""
    full: Model = dict(tree)
    for path in list(tree):
        parent = parent_path(RelPath(path))
        while parent:
            full.setdefault(parent, DIR)
            parent = parent_path(parent)
    return full


def mtime_of(content: str) -> int:
    """Return a stable mtime for a content (a touch is modelled by a '~' suffix dropped from the data)."""
    return 1_000_000_000 * (1 + sum(ord(char) for char in content)) + len(content)


def data_of(content: str) -> str:
    """Return the bytes a content stands for (a trailing '~' only moves the mtime)."""
    return content.rstrip("~")


def entries_of(tree: Mapping[str, str | None]) -> list[Entry]:
    """Return the tree's entries in component order."""
    found = []
    for path, content in tree.items():
        if content is None:
            found.append(Entry(RelPath(path), EntryKind.DIR, mode=0o755))
        else:
            found.append(
                Entry(RelPath(path), EntryKind.FILE, len(data_of(content)), mtime_of(content), 0o644)
            )
    return sorted(found, key=lambda entry: sort_key(entry.path))


def base_of_model(tree: Mapping[str, str | None]) -> list[BaseEntry]:
    """Return the base both sides agreed on when each held tree."""
    rows = []
    for entry in entries_of(tree):
        content = tree[entry.path]
        digest = None if content is None else data_of(content)
        rows.append(
            BaseEntry(
                entry.path,
                entry.kind,
                entry.size,
                entry.mtime_ns,
                entry.mode,
                entry.mtime_ns,
                entry.mode,
                None,
                digest,
            )
        )
    return rows


def digests_of(a: Mapping[str, str | None], b: Mapping[str, str | None]) -> dict[DigestKey, str]:
    """Return every file's digest on both sides (its data)."""
    found: dict[DigestKey, str] = {}
    for side, tree in ((Side.A, a), (Side.B, b)):
        for path, content in tree.items():
            if content is not None:
                found[(side, RelPath(path))] = data_of(content)
    return found


def rows_of(
    base: Iterable[BaseEntry], a: Mapping[str, str | None], b: Mapping[str, str | None]
) -> list[SyncRow]:
    """Return the merged rows of a base and two model trees."""
    return list(merge_listings(base, entries_of(a), entries_of(b)))


def plan_models(
    base: Mapping[str, str | None] | None,
    a: Mapping[str, str | None],
    b: Mapping[str, str | None],
    policy: SyncPolicy | None = None,
) -> SyncPlan:
    """Return the plan for two model trees and the model base (None: first sync)."""
    base_rows = base_of_model(with_parents(base)) if base is not None else []
    full_a, full_b = with_parents(a), with_parents(b)
    return reconcile(rows_of(base_rows, full_a, full_b), policy, digests_of(full_a, full_b))


def apply_model(
    plan: SyncPlan, a: Mapping[str, str | None], b: Mapping[str, str | None]
) -> tuple[Model, Model, list[str]]:
    """Apply a plan to copies of both trees (side A's steps first); return them and the backups made."""
    trees = {Side.A: with_parents(a), Side.B: with_parents(b)}
    backups: list[str] = []
    for side in (Side.A, Side.B):
        mine, theirs = trees[side], trees[side.other]
        for step in plan.steps_on(side):
            action = step.action
            path = action.path
            kind = action.kind
            if kind is ActionKind.BACKUP:
                for inner in [key for key in mine if is_inside(RelPath(key), path)]:
                    content = mine.pop(inner)
                    if content is not None:
                        backups.append(data_of(content))
            elif kind is ActionKind.REMOVE:
                assert not any(key != path and is_inside(RelPath(key), path) for key in mine), path
                mine.pop(path)
            elif kind is ActionKind.MAKE_DIR:
                assert path not in mine and parent_path(path) in (*mine, ""), path
                mine[path] = DIR
            elif kind is ActionKind.COPY_FILE:
                assert path not in mine and parent_path(path) in (*mine, ""), path
                assert action.source_path is not None
                mine[path] = theirs[action.source_path]
            elif kind is ActionKind.RENAME:
                assert action.source_path is not None and path not in mine
                mine[path] = mine.pop(action.source_path)
            elif kind in (ActionKind.SET_MTIME, ActionKind.SET_MODE):
                source = theirs.get(path)
                if kind is ActionKind.SET_MTIME and source is not None:
                    mine[path] = source
            else:
                raise AssertionError(f"unexpected step {action}")
    return trees[Side.A], trees[Side.B], backups


def outside(tree: Mapping[str, str | None], paths: Iterable[str]) -> Model:
    """Return tree without the given paths and what lies below them."""
    cut = list(paths)
    return {
        key: value for key, value in tree.items() if not any(is_inside(RelPath(key), RelPath(p)) for p in cut)
    }


def next_base(plan: SyncPlan, base: Iterable[BaseEntry]) -> list[BaseEntry]:
    """Return the base after every step of plan is done (as the journal would write it)."""
    rows = {row.path: row for row in base}
    changes = [*plan.settled, *(s.base for s in (*plan.a_steps, *plan.b_steps) if s.base is not None)]
    for change in changes:
        if change.entry is None:
            rows.pop(change.path, None)
        else:
            rows[change.path] = change.entry
    return sorted(rows.values(), key=lambda row: sort_key(row.path))
