"""Seeded sample trees for comparing dirkit find, grep and dupes with find, grep and jdupes."""

from __future__ import annotations

import datetime
import os
import random
from pathlib import Path

WORDS = [
    "alpha",
    "beta",
    "needle",
    "Needle",
    "needles",
    "haystack",
    "error42",
    "errno7",
    "x_needle",
    "caf\u00e9",
]
DAY = 86400
BASE_TIME = int(datetime.datetime(2020, 1, 1, 12, 0).timestamp())
"""Noon on 2020-01-01 in local time; file times are whole days after it, so date bounds are never equal."""


def text_lines(rng: random.Random, count: int) -> bytes:
    """Return count lines of words, some lines empty."""
    lines = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 6))]
        lines.append(" ".join(words))
    return ("\n".join(lines) + ("\n" if rng.random() < 0.8 else "")).encode()


def make_sample_tree(root: Path, seed: int, files: int = 120) -> Path:
    """Write a tree of text, binary, Latin-1, empty and duplicate files, hard links and symlinks."""
    rng = random.Random(seed)
    folders = [root]
    root.mkdir(parents=True)
    for index in range(files // 8):
        parent = rng.choice(folders)
        folder = parent / f"{rng.choice(['dir', 'Dir', 'sub dir', 'z'])}{index}"
        folder.mkdir()
        folders.append(folder)
    contents: list[bytes] = []
    written: list[Path] = []
    for index in range(files):
        folder = rng.choice(folders)
        stem = rng.choice(["file", "File", "note", ".hidden", "data"])
        name = f"{stem}{index}.{rng.choice(['txt', 'TXT', 'py', 'bin'])}"
        roll = rng.random()
        if roll < 0.05:
            data = b""
        elif roll < 0.2 and contents:
            data = rng.choice(contents)
        elif roll < 0.27:
            data = b"\x00\x01binary needle " + rng.randbytes(rng.randint(0, 300))
        elif roll < 0.32:
            data = "caf\u00e9 needle cr\u00e8me\nplain\n".encode("latin-1")
        else:
            data = text_lines(rng, rng.randint(1, 40))
        path = folder / name
        path.write_bytes(data)
        stamp = BASE_TIME + rng.randint(0, 30) * DAY
        os.utime(path, (stamp, stamp))
        contents.append(data)
        written.append(path)
    for index in range(4):
        target = rng.choice(written)
        link = target.parent / f"hardlink{index}.txt"
        if not link.exists():
            os.link(target, link)
    (root / "link-to-file").symlink_to(written[0])
    (root / "link-to-dir").symlink_to(folders[-1], target_is_directory=True)
    (root / "dangling").symlink_to(root / "missing")
    return root
