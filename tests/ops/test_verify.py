"""verify on real trees: silent corruption, missing and new files, algorithm detection."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.checksums.manifest import parse_manifest
from dirkit.core.checksums.verify import VerifyStatus
from dirkit.errors import UsageError
from dirkit.ops.checksums.digests import DigestOptions
from dirkit.ops.checksums.manifest import ManifestOptions, build_manifest
from dirkit.ops.checksums.verify import VerifyOptions, verify_tree

OLD = 1_500_000_000


def _statuses(root: Path, manifest: bytes, **options: object) -> dict[str, VerifyStatus]:
    result = verify_tree(LocalBackend(str(root)), parse_manifest(manifest), VerifyOptions(**options))  # type: ignore[arg-type]
    return {item.path: item.status for item in result.items}


def test_verify_finds_silent_corruption_a_missing_and_a_new_file(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"keep.txt": "fine", "rot.bin": b"\x00" * 64, "gone.txt": "bye"}, mtime=OLD)
    manifest = build_manifest(LocalBackend(str(root)), ManifestOptions()).text
    rot = root / "rot.bin"
    with open(rot, "r+b") as stream:
        stream.seek(10)
        stream.write(b"\x01")
    os.utime(rot, (OLD, OLD))
    (root / "gone.txt").unlink()
    (root / "new.txt").write_text("hello")
    assert _statuses(root, manifest) == {
        "gone.txt": VerifyStatus.MISSING,
        "keep.txt": VerifyStatus.OK,
        "new.txt": VerifyStatus.NEW,
        "rot.bin": VerifyStatus.FAILED,
    }
    assert "new.txt" not in _statuses(root, manifest, report_new=False)


def test_verify_never_trusts_the_cache(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "original"}, mtime=OLD)
    backend = LocalBackend(str(root))
    cached = ManifestOptions(digest=DigestOptions(racy_window_ns=0))
    manifest = build_manifest(backend, cached).text
    assert build_manifest(backend, cached).digests.cached_files == 1
    (root / "a").write_bytes(b"ORIGINAL")
    os.utime(root / "a", (OLD, OLD))
    assert _statuses(root, manifest, manifest_name="t.b3") == {"a": VerifyStatus.FAILED}


def test_sha256_and_blake3_lines_are_told_apart(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "x", "b": "y"})
    backend = LocalBackend(str(root))
    sha = build_manifest(backend, ManifestOptions(digest=DigestOptions(DigestAlgorithm.SHA256))).text
    result = verify_tree(backend, parse_manifest(sha))
    assert result.algorithm is DigestAlgorithm.SHA256 and result.all_ok
    b3 = build_manifest(backend, ManifestOptions()).text
    assert verify_tree(backend, parse_manifest(b3)).algorithm is DigestAlgorithm.BLAKE3
    named = verify_tree(backend, parse_manifest(sha), VerifyOptions(manifest_name="SHA256SUMS"))
    assert named.all_ok
    forced = verify_tree(backend, parse_manifest(sha), VerifyOptions(algorithm=DigestAlgorithm.BLAKE3))
    assert forced.counts()["failed"] == 2


def test_md5_and_sha1_lines_from_their_length(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "x", "sub/b": "y"})
    for factory, algorithm in ((hashlib.md5, DigestAlgorithm.MD5), (hashlib.sha1, DigestAlgorithm.SHA1)):
        lines = b"".join(
            f"{factory(data).hexdigest()}  ./{name}\n".encode()
            for name, data in (("a", b"x"), ("sub/b", b"y"))
        )
        result = verify_tree(LocalBackend(str(root)), parse_manifest(lines))
        assert result.algorithm is algorithm and result.all_ok


def test_undecidable_64_hex_manifest_asks_for_the_algorithm(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "x"})
    with pytest.raises(UsageError, match="pass -a"):
        verify_tree(LocalBackend(str(root)), parse_manifest(b"00" * 32 + b"  a\n"))


def test_paths_escaping_the_root_and_malformed_lines_are_errors(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "x"})
    digest = hashlib.sha256(b"x").hexdigest()
    data = f"{digest}  a\n{digest}  ../outside\n{digest}  /etc/passwd\ngarbage\n".encode()
    result = verify_tree(
        LocalBackend(str(root)), parse_manifest(data), VerifyOptions(algorithm=DigestAlgorithm.SHA256)
    )
    assert result.malformed_lines == (4,)
    assert result.has_errors
    assert [item.status for item in result.items if item.path != "a"] == [VerifyStatus.ERROR] * 2


def test_listed_symlink_is_followed_and_directory_is_an_error(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"real": "x", "dir": None})
    (root / "link").symlink_to("real")
    digest = hashlib.sha256(b"x").hexdigest()
    data = f"{digest}  link\n{digest}  real\n{digest}  dir\n".encode()
    statuses = _statuses(root, data, algorithm=DigestAlgorithm.SHA256)
    assert statuses == {"dir": VerifyStatus.ERROR, "link": VerifyStatus.OK, "real": VerifyStatus.OK}
