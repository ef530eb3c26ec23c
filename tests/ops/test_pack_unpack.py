"""Pack and unpack on real trees: round trips in every format, and hostile archives refused."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.core.tree.filters import TEMP_MARKER, make_filter
from dirkit.errors import AlreadyExistsError, ArchiveLimitError, UnsafeArchiveError, UsageError
from dirkit.ops.archive.members import list_archive
from dirkit.ops.archive.pack import PackOptions, pack_tree
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.ops.tree.scan import ScanOptions
from tests.support import read_tree, require_tool

SUFFIXES = [".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst"]


def tree_state(root: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Return every path below root with its kind, content (or link target) and permission bits."""
    return {
        path: (node.kind, node.data, 0 if node.kind == "link" else node.mode)
        for path, node in read_tree(root, skip_names=()).items()
    }


@pytest.fixture
def sample_tree(make_tree: Callable[..., Path]) -> Path:
    root = make_tree(
        "tree",
        {
            "a.txt": "alpha\n",
            "bin/run.sh": "#!/bin/sh\necho hi\n",
            "data/random.bin": os.urandom(200_000),
            "data/zeros.bin": bytes(100_000),
            "empty": None,
            "deep/er/still/x": "x",
            "ünïcode name.txt": "u",
            "long/" + "n" * 120 + "/" + "m" * 150 + ".txt": "long",
        },
    )
    os.utime(root / "a.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    (root / "bin" / "run.sh").chmod(0o755)
    (root / "link-to-a").symlink_to("a.txt")
    (root / "deep" / "up").symlink_to("../data")
    return root


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_pack_then_unpack_is_equal(tmp_path: Path, sample_tree: Path, suffix: str) -> None:
    archive = tmp_path / f"out{suffix}"
    result = pack_tree(str(sample_tree), str(archive), PackOptions())
    assert result.files == 7
    assert result.symlinks == 2
    assert not result.skipped
    dest = tmp_path / "dest"
    unpacked = unpack_archive(str(archive), str(dest), UnpackOptions())
    assert tree_state(dest) == tree_state(sample_tree)
    assert unpacked.files == 7
    mtime = (sample_tree / "a.txt").stat().st_mtime_ns
    assert abs((dest / "a.txt").stat().st_mtime_ns - mtime) <= (2 * 10**9 if suffix == ".zip" else 0)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_reproducible_archives_are_identical(tmp_path: Path, sample_tree: Path, suffix: str) -> None:
    first, second = tmp_path / f"1{suffix}", tmp_path / f"2{suffix}"
    pack_tree(str(sample_tree), str(first), PackOptions(reproducible=True))
    for path in sample_tree.rglob("*"):
        if not path.is_symlink():
            os.utime(path, (1_700_000_000, 1_700_000_000))
    pack_tree(str(sample_tree), str(second), PackOptions(reproducible=True))
    assert first.read_bytes() == second.read_bytes()


def test_pack_honours_filters_and_refuses_to_overwrite(tmp_path: Path, sample_tree: Path) -> None:
    archive = tmp_path / "f.tar"
    options = PackOptions(scan=ScanOptions(tree_filter=make_filter(["data/", "*.sh"])))
    pack_tree(str(sample_tree), str(archive), options)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not [name for name in names if name.startswith("data") or name.endswith(".sh")]
    assert "a.txt" in names
    with pytest.raises(AlreadyExistsError):
        pack_tree(str(sample_tree), str(archive), PackOptions())
    pack_tree(str(sample_tree), str(archive), PackOptions(force=True))


def test_pack_skips_special_files(tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"f": "x"})
    os.mkfifo(root / "pipe")
    result = pack_tree(str(root), str(tmp_path / "t.tar.gz"), PackOptions())
    assert [path for path, _ in result.skipped] == ["pipe"]


def test_gnu_tar_reads_our_archives(tmp_path: Path, sample_tree: Path) -> None:
    tar_tool = require_tool("tar")
    archive = tmp_path / "ours.tar.gz"
    pack_tree(str(sample_tree), str(archive), PackOptions())
    dest = tmp_path / "dest"
    dest.mkdir()
    subprocess.run([tar_tool, "xzf", str(archive), "-C", str(dest)], check=True)
    assert tree_state(dest) == tree_state(sample_tree)
    assert (dest / "a.txt").stat().st_mtime_ns == (sample_tree / "a.txt").stat().st_mtime_ns


def test_archives_from_gnu_tar_unpack(tmp_path: Path, sample_tree: Path) -> None:
    tar_tool = require_tool("tar")
    archive = tmp_path / "gnu.tar.gz"
    subprocess.run([tar_tool, "czf", str(archive), "-C", str(sample_tree), "."], check=True)
    unpack_archive(str(archive), str(tmp_path / "dest"), UnpackOptions())
    assert tree_state(tmp_path / "dest") == tree_state(sample_tree)


# --- hostile archives -------------------------------------------------------------------------


def tar_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_info(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def link_info(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.fixture
def arena(tmp_path: Path) -> Path:
    """A folder holding DEST (with one precious file) and an 'outside' folder next to it."""
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "precious.txt").write_text("keep me")
    (tmp_path / "outside").mkdir()
    return tmp_path


def assert_refused_cleanly(arena: Path, archive: Path, error: type[Exception], match: str) -> None:
    before = tree_state(arena / "dest")
    with pytest.raises(error, match=match):
        unpack_archive(str(archive), str(arena / "dest"), UnpackOptions(max_ratio=50, ratio_floor_bytes=4096))
    assert list((arena / "outside").iterdir()) == []
    assert tree_state(arena / "dest") == before
    assert not [p for p in arena.rglob("*") if TEMP_MARKER in p.name]
    assert not (arena / "evil").exists()


def test_zip_slip_is_refused(arena: Path) -> None:
    archive = arena / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("good.txt", "fine")
        zip_file.writestr("../outside/evil", "gotcha")
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "escapes DEST")


def test_tar_dot_dot_and_absolute_paths_are_refused(arena: Path) -> None:
    slip = tar_with(arena / "slip.tar", [(file_info("ok"), b"ok"), (file_info("a/../../evil"), b"x")])
    assert_refused_cleanly(arena, slip, UnsafeArchiveError, "escapes DEST")
    absolute = tar_with(arena / "abs.tar", [(file_info(str(arena / "evil")), b"x")])
    assert_refused_cleanly(arena, absolute, UnsafeArchiveError, "absolute")


def test_symlink_out_then_file_through_it_is_refused(arena: Path) -> None:
    archive = tar_with(
        arena / "link.tar.gz",
        [(link_info("escape", "../outside"), None), (file_info("escape/evil"), b"through the link")],
        "w:gz",
    )
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "outside DEST")
    inside_first = tar_with(
        arena / "link2.tar",
        [(link_info("inner", "."), None), (file_info("inner/x"), b"via link")],
    )
    assert_refused_cleanly(arena, inside_first, UnsafeArchiveError, "through symlink")


def test_symlink_chain_escaping_is_refused(arena: Path) -> None:
    archive = tar_with(
        arena / "chain.tar",
        [
            (file_info("d/f"), b"f"),
            (link_info("l2", "l1/.."), None),
            (link_info("l1", "d/.."), None),
            (file_info("z"), b"z"),
        ],
    )
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "outside DEST")


def test_existing_symlink_in_dest_is_never_written_through(arena: Path) -> None:
    (arena / "dest" / "trap").symlink_to(arena / "outside")
    archive = tar_with(arena / "trap.tar", [(file_info("trap/evil"), b"x")])
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "symlink in DEST")


def test_hardlink_outside_is_refused(arena: Path) -> None:
    archive = tar_with(arena / "hard.tar", [(link_info("h", "/etc/passwd", tarfile.LNKTYPE), None)])
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "absolute")


def test_device_node_and_setuid_are_refused(arena: Path) -> None:
    device = file_info("null")
    device.type = tarfile.CHRTYPE
    device.devmajor, device.devminor = 1, 3
    archive = tar_with(arena / "dev.tar", [(file_info("ok"), b"ok"), (device, None)])
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "device")
    setuid = tar_with(arena / "suid.tar", [(file_info("su", 0o4755), b"#!/bin/sh\n")])
    assert_refused_cleanly(arena, setuid, UnsafeArchiveError, "setuid")


def test_tar_gz_bomb_stops_and_removes_what_it_wrote(arena: Path) -> None:
    archive = tar_with(
        arena / "bomb.tar.gz",
        [(file_info("small"), b"hello"), (file_info("big"), bytes(8 * 1024 * 1024))],
        "w:gz",
    )
    assert archive.stat().st_size < 50_000
    assert_refused_cleanly(arena, archive, ArchiveLimitError, "expands more than 50 times")


def test_zip_bomb_is_refused_before_writing(arena: Path) -> None:
    archive = arena / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zip_file:
        zip_file.writestr("zeros", bytes(4 * 1024 * 1024))
    assert_refused_cleanly(arena, archive, ArchiveLimitError, "ratio")


def test_size_limit_stops_and_cleans(arena: Path) -> None:
    archive = tar_with(arena / "big.tar", [(file_info(f"f{i}"), os.urandom(3000)) for i in range(5)])
    before = tree_state(arena / "dest")
    with pytest.raises(ArchiveLimitError, match="size limit"):
        unpack_archive(str(archive), str(arena / "dest"), UnpackOptions(max_total_bytes=10_000))
    assert tree_state(arena / "dest") == before


def test_list_marks_refused_members(arena: Path) -> None:
    archive = tar_with(arena / "mixed.tar", [(file_info("ok"), b"ok"), (file_info("../bad"), b"x")])
    listed = list(list_archive(str(archive)))
    assert [item.refusal is None for item in listed] == [True, False]
    assert list((arena / "dest").iterdir()) == [arena / "dest" / "precious.txt"]


# --- existing files ---------------------------------------------------------------------------


def test_existing_files_are_kept_without_overwrite(arena: Path) -> None:
    archive = tar_with(arena / "a.tar", [(file_info("new.txt"), b"new"), (file_info("precious.txt"), b"x")])
    assert_refused_cleanly(arena, archive, AlreadyExistsError, "--overwrite")


def test_overwrite_moves_originals_to_backups_with_a_record(arena: Path) -> None:
    dest = arena / "dest"
    archive = tar_with(arena / "a.tar", [(file_info("new.txt"), b"new"), (file_info("precious.txt"), b"v2")])
    result = unpack_archive(str(archive), str(dest), UnpackOptions(overwrite=True))
    assert (dest / "precious.txt").read_text() == "v2"
    assert result.replaced == ("precious.txt",)
    assert result.backup_folder is not None
    backup = Path(result.backup_folder)
    assert backup.parent == dest / ".dirkit" / "backups"
    assert (backup / "precious.txt").read_text() == "keep me"
    record = json.loads((backup / "unpack-record.json").read_text())
    assert record["backed_up"] == ["precious.txt"]
    assert {item["path"] for item in record["created"]} == {"new.txt", "precious.txt"}


def test_failed_overwrite_puts_originals_back(arena: Path) -> None:
    archive = tar_with(arena / "a.tar", [(file_info("precious.txt"), b"v2"), (file_info("../evil"), b"x")])
    before = tree_state(arena / "dest")
    with pytest.raises(UnsafeArchiveError):
        unpack_archive(str(archive), str(arena / "dest"), UnpackOptions(overwrite=True))
    assert tree_state(arena / "dest") == before
    assert not (arena / "dest" / ".dirkit").exists()


def test_duplicate_members_are_refused(arena: Path) -> None:
    archive = tar_with(arena / "dup.tar", [(file_info("twice"), b"1"), (file_info("twice"), b"2")])
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "twice")


def test_directory_modes_and_hard_links_are_restored(arena: Path) -> None:
    locked = tarfile.TarInfo("locked")
    locked.type = tarfile.DIRTYPE
    locked.mode = 0o555
    archive = tar_with(
        arena / "modes.tar",
        [
            (locked, None),
            (file_info("locked/f", 0o600), b"data"),
            (link_info("hard", "locked/f", tarfile.LNKTYPE), None),
        ],
    )
    dest = arena / "dest"
    unpack_archive(str(archive), str(dest), UnpackOptions())
    try:
        assert stat.S_IMODE((dest / "locked").stat().st_mode) == 0o555
        assert stat.S_IMODE((dest / "locked" / "f").stat().st_mode) == 0o600
        assert (dest / "hard").read_bytes() == b"data"
        assert (dest / "hard").stat().st_ino == (dest / "locked" / "f").stat().st_ino
    finally:
        (dest / "locked").chmod(0o755)


def test_zip_symlink_escape_is_refused(arena: Path) -> None:
    archive = arena / "link.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        link = zipfile.ZipInfo("out")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zip_file.writestr(link, "../outside")
        zip_file.writestr("out/evil", "through the link")
    assert_refused_cleanly(arena, archive, UnsafeArchiveError, "outside DEST")


def test_truncated_archive_is_an_error_and_leaves_nothing(arena: Path, sample_tree: Path) -> None:
    archive = arena / "cut.tar.gz"
    pack_tree(str(sample_tree), str(archive), PackOptions())
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    before = tree_state(arena / "dest")
    with pytest.raises(UsageError, match="damaged"):
        unpack_archive(str(archive), str(arena / "dest"), UnpackOptions())
    assert tree_state(arena / "dest") == before


@pytest.mark.parametrize("make_dest", [True, False])
def test_refusal_after_many_queued_writes_leaves_nothing(tmp_path: Path, make_dest: bool) -> None:
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (file_info(f"d{i % 7}/f{i}"), os.urandom(i % 5000)) for i in range(300)
    ]
    archive = tar_with(tmp_path / "late.tar.gz", [*members, (file_info("../late-evil"), b"x")], "w:gz")
    dest = tmp_path / "dest"
    if make_dest:
        dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="escapes DEST"):
        unpack_archive(str(archive), str(dest), UnpackOptions())
    assert not (tmp_path / "late-evil").exists()
    if make_dest:
        assert list(dest.iterdir()) == []
    else:
        assert not dest.exists()


def test_many_small_files_into_a_fresh_dest(tmp_path: Path) -> None:
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (file_info(f"d{i % 13}/f{i}", 0o600 + i % 2 * 0o40), os.urandom(i % 3000)) for i in range(500)
    ]
    archive = tar_with(tmp_path / "many.tar", members)
    result = unpack_archive(str(archive), str(tmp_path / "dest"), UnpackOptions())
    assert result.files == 500
    for info, data in members:
        path = tmp_path / "dest" / info.name
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == info.mode
    assert not [p for p in (tmp_path / "dest").rglob("*") if TEMP_MARKER in p.name]


def test_bomb_into_a_new_dest_leaves_no_dest(tmp_path: Path) -> None:
    archive = tar_with(tmp_path / "bomb.tar.gz", [(file_info("big"), bytes(8 * 1024 * 1024))], "w:gz")
    dest = tmp_path / "new"
    with pytest.raises(ArchiveLimitError, match="expands"):
        unpack_archive(str(archive), str(dest), UnpackOptions(max_ratio=50, ratio_floor_bytes=4096))
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.tar.gz"]
