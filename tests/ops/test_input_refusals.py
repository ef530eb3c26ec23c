"""Input that must not reach past what it may: modes from manifests and plans, links out of ROOT."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.checksums.manifest import parse_manifest
from dirkit.core.checksums.verify import VerifyStatus
from dirkit.errors import UnsafeArchiveError
from dirkit.ops.archive.members import list_archive
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.ops.checksums.verify import VerifyOptions, verify_tree
from dirkit.ops.files.join import JoinOptions, join_parts
from dirkit.ops.files.split import SplitOptions, split_file


def edited_parts(tmp_path: Path, mode: int) -> Path:
    """Split a small file and edit its parts manifest to carry mode; return the manifest."""
    source = tmp_path / "tool"
    source.write_bytes(b"#!/bin/sh\necho hi\n" * 50)
    parts = tmp_path / "parts"
    parts.mkdir()
    split_file(str(source), SplitOptions(part_count=2, output_dir=str(parts)))
    manifest = parts / "tool.parts.json"
    document = json.loads(manifest.read_text())
    document["mode"] = mode
    manifest.write_text(json.dumps(document))
    return manifest


def test_join_strips_setuid_setgid_and_other_write_from_the_manifest(tmp_path: Path) -> None:
    manifest = edited_parts(tmp_path, 0o6777)
    join_parts(str(manifest), JoinOptions(output=str(tmp_path / "joined")))
    assert os.stat(tmp_path / "joined").st_mode & 0o7777 == 0o775


def test_join_keep_modes_applies_the_manifest_mode_as_it_is(tmp_path: Path) -> None:
    manifest = edited_parts(tmp_path, 0o6755)
    join_parts(str(manifest), JoinOptions(output=str(tmp_path / "joined"), keep_modes=True))
    assert os.stat(tmp_path / "joined").st_mode & 0o7777 == 0o6755


def test_unpack_strips_other_write_from_member_modes(tmp_path: Path) -> None:
    archive = tmp_path / "open.tar"
    with tarfile.open(archive, "w") as tar:
        folder = tarfile.TarInfo("shared")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(folder)
        member = tarfile.TarInfo("shared/note.txt")
        member.mode, member.size = 0o666, 2
        tar.addfile(member, io.BytesIO(b"hi"))
    unpack_archive(str(archive), str(tmp_path / "dest"), UnpackOptions())
    assert os.stat(tmp_path / "dest" / "shared").st_mode & 0o7777 == 0o1775
    assert os.stat(tmp_path / "dest" / "shared" / "note.txt").st_mode & 0o7777 == 0o664


def verdicts(root: Path, lines: list[tuple[str, bytes]]) -> dict[str, tuple[VerifyStatus, str | None]]:
    """Verify root against sha256 lines for (name, expected bytes); return each path's status and detail."""
    text = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in lines)
    result = verify_tree(
        LocalBackend(str(root)), parse_manifest(text.encode()), VerifyOptions(report_new=False)
    )
    return {item.path: (item.status, item.detail) for item in result.items}


def test_verify_never_reads_outside_root_through_symlinks(tmp_path: Path) -> None:
    secret = b"outside the tree\n"
    (tmp_path / "outside.txt").write_bytes(secret)
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inside.txt").write_bytes(b"in")
    (root / "up").symlink_to("..")
    (root / "abs").symlink_to(tmp_path / "outside.txt")
    (root / "sub" / "climb").symlink_to("../../outside.txt")
    (root / "loop").symlink_to("loop")
    (root / "near").symlink_to("sub/inside.txt")
    (root / "self").symlink_to(root / "sub")
    found = verdicts(
        root,
        [
            ("up/outside.txt", secret),
            ("abs", secret),
            ("sub/climb", secret),
            ("loop", b""),
            ("near", b"in"),
            ("self/inside.txt", b"in"),
        ],
    )
    assert found["up/outside.txt"] == (VerifyStatus.ERROR, "leads outside ROOT through symlink up -> ..")
    assert found["abs"][0] is VerifyStatus.ERROR and "through symlink abs -> /" in str(found["abs"][1])
    assert found["sub/climb"] == (
        VerifyStatus.ERROR,
        "leads outside ROOT through symlink sub/climb -> ../../outside.txt",
    )
    assert found["loop"][0] is VerifyStatus.ERROR and "symlink loop at symlink loop" in str(found["loop"][1])
    assert found["near"][0] is VerifyStatus.OK
    assert found["self/inside.txt"][0] is VerifyStatus.OK


def tar_with(path: Path, *members: tuple[str, bytes | str]) -> Path:
    """Write a tar of (name, file bytes or symlink target) members."""
    with tarfile.open(path, "w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ((("sub/.dirkit/state", b"x"),), "sub/.dirkit/state: member name holds a .dirkit component"),
        ((("a/b/.dirkit", b"x"),), "a/b/.dirkit: member name holds a .dirkit component"),
        ((("self", "self"),), "self: symlink loop"),
        ((("a", "b"), ("b", "a")), "a: symlink loop"),
        ((("..\\..\\x", b"x"),), "..\\..\\x: holds a backslash"),
        ((("\\x", b"x"),), "\\x: holds a backslash"),
        ((("l", "..\\..\\etc"),), "l: symlink target ..\\..\\etc: holds a backslash"),
    ],
)
def test_unpack_refuses_hiding_looping_and_backslashed_members(
    tmp_path: Path, members: tuple[tuple[str, bytes | str], ...], reason: str
) -> None:
    archive = tar_with(tmp_path / "bad.tar", *members, ("ok.txt", b"fine"))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match=re.escape(reason)):
        unpack_archive(str(archive), str(dest), UnpackOptions())
    assert not dest.exists() or not any(dest.iterdir())
    refusals = [item.refusal for item in list_archive(str(archive))]
    assert any(refusal and reason.split(": ", 1)[1] in refusal for refusal in refusals)


class DirectoryAsStream(io.RawIOBase):
    """A stream over a directory's descriptor: every read fails for real with EISDIR."""

    def __init__(self, folder: Path) -> None:
        self.fd = os.open(folder, os.O_RDONLY)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = os.read(self.fd, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def test_split_removes_the_folders_it_made_when_writing_fails(tmp_path: Path) -> None:
    with (
        io.BufferedReader(DirectoryAsStream(tmp_path)) as unreadable,
        pytest.raises(IsADirectoryError, match="directory"),
    ):
        split_file("-", SplitOptions(part_size=10, output_dir=str(tmp_path / "a" / "b")), stdin=unreadable)
    assert not (tmp_path / "a").exists()
