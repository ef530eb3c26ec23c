"""Make two small sample trees that differ in every way compare can report."""

from __future__ import annotations

import os


def _write(path: str, text: str, mtime: int | None = None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def make_demo_trees(base: str) -> tuple[str, str]:
    """Create base/left and base/right, sample trees with every kind of difference; return both."""
    left, right = os.path.join(base, "left"), os.path.join(base, "right")
    stamp = 1_700_000_000
    for root in (left, right):
        _write(os.path.join(root, "README.txt"), "A sample tree made by dirkit demo.\n", stamp)
        _write(os.path.join(root, "docs", "guide.txt"), "Chapter 1\nChapter 2\n", stamp)
        _write(os.path.join(root, "photos", "2024", "cat.jpg"), "not really a cat\n", stamp)
    _write(os.path.join(left, "notes.txt"), "buy milk\ncall Ann\n", stamp)
    _write(os.path.join(right, "notes.txt"), "buy milk\ncall Ann\nfix bike\n", stamp + 60)
    _write(os.path.join(left, "old-report.txt"), "only here on the left\n", stamp)
    _write(os.path.join(right, "new-report.txt"), "only here on the right\n", stamp)
    _write(os.path.join(left, "config"), "a file on the left\n", stamp)
    _write(os.path.join(right, "config", "settings.ini"), "[a dir on the right]\n", stamp)
    _write(os.path.join(left, "Café.txt"), "spelled with NFC\n", stamp)
    _write(os.path.join(right, "Cafe\u0301.txt"), "spelled with NFD\n", stamp)
    return left, right
