"""The compact form of a plan's actions that the journal stores (one JSON array, fast to write and read)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from dirkit.core.run.plan import Action, ActionKind, Fingerprint
from dirkit.core.tree.entry import EntryKind

_KINDS_BY_VALUE = {kind.value: kind for kind in ActionKind}
_ENTRY_KINDS_BY_VALUE = {kind.value: kind for kind in EntryKind}


def _compact_fingerprint(fingerprint: Fingerprint | None) -> list[object] | None:
    if fingerprint is None:
        return None
    kind, size, mtime_ns, mode, target, digest = fingerprint
    return [kind.value, size, mtime_ns, mode, target, digest]


def _fingerprint_from_compact(data: list[object] | None) -> Fingerprint | None:
    if data is None:
        return None
    kind, size, mtime_ns, mode, target, digest = data
    return Fingerprint(
        _ENTRY_KINDS_BY_VALUE[str(kind)],
        int(str(size)),
        None if mtime_ns is None else int(str(mtime_ns)),
        None if mode is None else int(str(mode)),
        None if target is None else str(target),
        None if digest is None else str(digest),
    )


def actions_to_compact(actions: Iterable[Action]) -> str:
    """Return actions as one compact JSON array (fast to write; what a journal keeps of a plan)."""
    rows: list[list[object]] = []
    append = rows.append
    copy = ActionKind.COPY_FILE
    for action in actions:
        kind, path, source, size, mtime_ns, mode, link, expected, source_expected, optional = action
        append(
            [
                kind.value,
                path,
                None if source == path else source,
                size,
                mtime_ns,
                mode,
                link,
                None if expected is None else _compact_fingerprint(expected),
                None if source_expected is None or kind is copy else _compact_fingerprint(source_expected),
                optional,
            ]
        )
    return json.dumps(rows, separators=(",", ":"))


def actions_from_compact(text: str) -> list[Action]:
    """Return the actions of actions_to_compact's text (copies lose their source fingerprint)."""
    actions: list[Action] = []
    for kind, path, source, size, mtime_ns, mode, link, expected, source_expected, optional in json.loads(
        text
    ):
        actions.append(
            Action(
                _KINDS_BY_VALUE[kind],
                path,
                path if source is None and kind == "copy_file" else source,
                size,
                mtime_ns,
                mode,
                link,
                None if expected is None else _fingerprint_from_compact(expected),
                None if source_expected is None else _fingerprint_from_compact(source_expected),
                optional,
            )
        )
    return actions
