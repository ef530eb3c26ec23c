"""Content compare by bytes (--no-cache, local trees) gives the digest engine's verdicts and words."""

from __future__ import annotations

import os

from dirkit.backends.local import LocalBackend
from dirkit.core.compare.diff import Status
from dirkit.core.tree.paths import RelPath
from dirkit.ops.compare.digest_compare import compare_contents_by_digest, compare_digest_options
from dirkit.ops.compare.local_bytes import compare_local_bytes
from dirkit.ops.compare.trees import CompareOptions, compare_trees, scan_both
from dirkit.ops.tree.scan import ScanOptions
from tests.support import MakeTree

MIB = 1024 * 1024


def test_bytes_and_digests_agree_on_every_pair(make_tree: MakeTree) -> None:
    big = "x" * (2 * MIB + 5)
    left = make_tree("l", {"same": "abc", "flip": "abc", "empty": "", "big": big, "tail": big})
    right = make_tree("r", {"same": "abc", "flip": "abd", "empty": "", "big": big, "tail": big[:-1] + "y"})
    a, b = LocalBackend(str(left)), LocalBackend(str(right))
    one, two = scan_both(a, b, ScanOptions())
    by_path = two.by_path()
    pairs = [(entry, by_path[entry.path]) for entry in one if entry.is_file]
    verdicts = compare_local_bytes(str(left), str(right), pairs)
    assert verdicts == compare_contents_by_digest(a, b, pairs, compare_digest_options(False, 2))
    assert verdicts == {"big": True, "empty": True, "flip": False, "same": True, "tail": False}


def test_unreadable_and_grown_files(make_tree: MakeTree) -> None:
    left = make_tree("l", {"gone": "abc", "gone-right": "abc", "grown": "abc"})
    right = make_tree("r", {"gone": "abc", "gone-right": "abc", "grown": "abc"})
    a, b = LocalBackend(str(left)), LocalBackend(str(right))
    one, two = scan_both(a, b, ScanOptions())
    pairs = list(zip(one.entries, two.entries, strict=True))
    os.unlink(left / "gone")
    os.unlink(right / "gone-right")
    with open(right / "grown", "ab") as stream:
        stream.write(b"more")
    verdicts = compare_local_bytes(str(left), str(right), pairs)
    assert verdicts == {
        RelPath("gone"): "left side unreadable: No such file or directory",
        RelPath("gone-right"): "right side unreadable: No such file or directory",
        RelPath("grown"): False,
    }


def test_no_cache_compare_of_local_trees_decides_by_bytes(make_tree: MakeTree) -> None:
    left = make_tree("l", {f"d{i}/f{j}": f"{i}-{j}" for i in range(3) for j in range(4)})
    right = make_tree("r", {f"d{i}/f{j}": f"{i}-{j}" for i in range(3) for j in range(4)})
    (right / "d1" / "f2").write_text("1-9")
    os.utime(right / "d1" / "f2", (1_600_000_000, 1_600_000_000))
    for jobs in (1, 2):
        diff = compare_trees(
            LocalBackend(str(left)),
            LocalBackend(str(right)),
            CompareOptions(content=True, digest_cache=False, keep_same=False, jobs=jobs),
        )
        assert [(c.path, c.status, c.detail) for c in diff.changes] == [
            ("d1/f2", Status.CHANGED, "content differs")
        ]
