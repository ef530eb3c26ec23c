"""Render a verify result as sha256sum-like text lines, as JSON Lines, and as a summary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dirkit.core.checksums.verify import VerifyItem, VerifyResult, VerifyStatus
from dirkit.core.tree.paths import display_path
from dirkit.report.entries import path_fields
from dirkit.report.style import Style

STATUS_WORDS = {
    VerifyStatus.OK: ("OK", "dim"),
    VerifyStatus.FAILED: ("FAILED", "red"),
    VerifyStatus.MISSING: ("MISSING", "red"),
    VerifyStatus.NEW: ("NEW", "yellow"),
    VerifyStatus.ERROR: ("ERROR", "magenta"),
}


def _explain(item: VerifyItem) -> str:
    if item.status is VerifyStatus.FAILED:
        return f" (expected {item.expected}, found {item.actual})"
    if item.status is VerifyStatus.MISSING:
        return " (listed in the manifest, not found)"
    if item.status is VerifyStatus.NEW:
        return " (not in the manifest)"
    if item.status is VerifyStatus.ERROR:
        return f" ({item.detail or 'unreadable'})"
    return ""


def summary_line(result: VerifyResult) -> str:
    """Return one line of counts, e.g. 'verify failed: 98 OK, 1 FAILED, 1 MISSING'."""
    counts = result.counts()
    parts = [
        f"{counts[status.value]} {word}"
        for status, (word, _) in STATUS_WORDS.items()
        if counts[status.value] or status is VerifyStatus.OK
    ]
    if result.malformed_lines:
        parts.append(f"{len(result.malformed_lines)} unreadable manifest lines")
    verdict = "all OK" if result.all_ok else "verify failed"
    return f"{verdict} ({result.algorithm.value}): " + ", ".join(parts)


def render_text(result: VerifyResult, style: Style, show_ok: bool = False) -> Iterator[str]:
    """Yield 'path: STATUS (why)' for every path that is not OK (all with show_ok), then a summary."""
    for item in result.items:
        if item.status is VerifyStatus.OK and not show_ok:
            continue
        word, colour = STATUS_WORDS[item.status]
        yield f"{display_path(item.path)}: {style.paint(word, colour)}{_explain(item)}"
    for number in result.malformed_lines:
        yield f"line {number}: {style.paint('ERROR', 'magenta')} (not a checksum line)"
    yield summary_line(result)


def item_to_json(item: VerifyItem) -> dict[str, Any]:
    """Return one verdict as a JSON-ready dict."""
    record: dict[str, Any] = path_fields("path", item.path)
    record["status"] = item.status.value
    for key in ("expected", "actual", "detail"):
        value = getattr(item, key)
        if value is not None:
            record[key] = value
    return record


def render_json_lines(result: VerifyResult, show_ok: bool = True) -> Iterator[str]:
    """Yield one JSON object per path (OK ones unless show_ok is off), then a summary object."""
    for item in result.items:
        if item.status is VerifyStatus.OK and not show_ok:
            continue
        yield json.dumps(item_to_json(item), ensure_ascii=False)
    summary: dict[str, Any] = {
        "algorithm": result.algorithm.value,
        "counts": result.counts(),
        "malformed_lines": list(result.malformed_lines),
        "all_ok": result.all_ok,
    }
    yield json.dumps({"summary": summary})
