"""What split and join wrote, as a JSON record or lines of text."""

from __future__ import annotations

import json
from typing import Protocol

from dirkit.core.files.parts import PartsManifest


class JoinedFile(Protocol):
    """What join wrote and how it was checked."""

    @property
    def output(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def parts(self) -> int: ...
    @property
    def digest(self) -> str | None: ...


def split_json(manifest_path: str, manifest: PartsManifest) -> str:
    """Return where split put the parts manifest, and what it holds, as a JSON record."""
    summary = {
        "manifest": manifest_path,
        "name": manifest.name,
        "size": manifest.size,
        "digest": manifest.digest,
        "parts": [part.name for part in manifest.parts],
    }
    return json.dumps(summary, ensure_ascii=False)


def split_text(manifest_path: str, manifest: PartsManifest) -> list[str]:
    """Return what split wrote as lines of text."""
    return [
        f"split {manifest.name}: {manifest.size} bytes into {len(manifest.parts)} parts",
        f"manifest: {manifest_path}",
    ]


def join_json(joined: JoinedFile) -> str:
    """Return what join wrote as a JSON record (checked: whether a manifest vouched for it)."""
    summary = {
        "output": joined.output,
        "size": joined.size,
        "parts": joined.parts,
        "digest": joined.digest,
        "checked": joined.digest is not None,
    }
    return json.dumps(summary, ensure_ascii=False)


def join_text(joined: JoinedFile) -> str:
    """Return what join wrote as a line of text."""
    checked = "checked against the manifest" if joined.digest is not None else "not checked (no manifest)"
    return f"joined {joined.parts} parts into {joined.output}: {joined.size} bytes, {checked}"
