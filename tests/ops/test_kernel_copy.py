"""split and join copy in the kernel and hash what they wrote; where the kernel cannot, they read."""

from __future__ import annotations

import json
import mmap
import os
import tempfile
from pathlib import Path

import blake3
import pytest

from dirkit.ops.files import join as join_module
from dirkit.ops.files import range_copy
from dirkit.ops.files import split as split_module
from dirkit.ops.files.join import JoinOptions, join_parts
from dirkit.ops.files.range_copy import RangeHashing, hash_written
from dirkit.ops.files.split import SplitOptions, split_file


def _manifest_of(folder: Path, name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((folder / f"{name}.parts.json").read_text())
    return loaded


def test_written_ranges_are_hashed_window_by_window_at_any_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(range_copy, "HASH_WINDOW", mmap.ALLOCATIONGRANULARITY)
    data = os.urandom(mmap.ALLOCATIONGRANULARITY * 3 + 777)
    path = tmp_path / "f"
    path.write_bytes(data)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        for offset, length in [(0, len(data)), (5, 4096), (4095, 8000), (len(data) - 1, 1)]:
            hasher = blake3.blake3()
            hash_written(descriptor, offset, length, (hasher,))
            assert hasher.hexdigest() == blake3.blake3(data[offset : offset + length]).hexdigest()
        whole = blake3.blake3()
        with RangeHashing(whole) as hashing:
            ranges = [(0, 100), (100, 5000), (5100, len(data) - 5100)]
            parts = [hashing.submit(os.dup(descriptor), start, size).result() for start, size in ranges]
            assert hashing.whole_digest() == blake3.blake3(data).hexdigest()
        assert parts == [blake3.blake3(data[start : start + size]).hexdigest() for start, size in ranges]
    finally:
        os.close(descriptor)


def test_split_and_join_in_the_kernel_record_the_digests_of_the_bytes(tmp_path: Path) -> None:
    data = os.urandom(300_001)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    parts = tmp_path / "parts"
    split_file(str(source), SplitOptions(part_size=65_537, output_dir=str(parts)))
    manifest = _manifest_of(parts, "data.bin")
    assert manifest["digest"] == blake3.blake3(data).hexdigest()
    recorded = manifest["parts"]
    assert isinstance(recorded, list)
    for index, part in enumerate(recorded):
        chunk = data[index * 65_537 : (index + 1) * 65_537]
        assert part["digest"] == blake3.blake3(chunk).hexdigest()
        assert (parts / part["name"]).read_bytes() == chunk
    result = join_parts(str(parts), JoinOptions(output=str(tmp_path / "back")))
    assert (tmp_path / "back").read_bytes() == data
    assert result.digest == blake3.blake3(data).hexdigest()


def test_a_part_changed_after_split_is_named_by_the_kernel_join(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    split_file(str(source), SplitOptions(part_count=4, output_dir=str(tmp_path / "p")))
    third = tmp_path / "p" / "data.bin.part0003"
    third.write_bytes(bytes(len(third.read_bytes())))
    with pytest.raises(Exception, match="part 3 of 4 is corrupt"):
        join_parts(str(tmp_path / "p"), JoinOptions(output=str(tmp_path / "back")))
    assert not (tmp_path / "back").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("back")] == []


def test_across_file_systems_split_and_join_read_instead(tmp_path: Path) -> None:
    """A source on /dev/shm (tmpfs) and parts on the test folder's file system: the kernel says EXDEV."""
    data = os.urandom(150_000)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as elsewhere:
        source = Path(elsewhere) / "data.bin"
        source.write_bytes(data)
        split_file(str(source), SplitOptions(part_size=40_000, output_dir=str(tmp_path / "p")))
        join_parts(str(tmp_path / "p"), JoinOptions(output=str(Path(elsewhere) / "back")))
        assert (Path(elsewhere) / "back").read_bytes() == data
    assert _manifest_of(tmp_path / "p", "data.bin")["digest"] == blake3.blake3(data).hexdigest()


def test_without_copy_file_range_split_and_join_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(100_000)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    monkeypatch.setattr(split_module, "kernel_copy_available", lambda: False)
    monkeypatch.setattr(join_module, "kernel_copy_available", lambda: False)
    split_file(str(source), SplitOptions(part_size=30_000, output_dir=str(tmp_path / "p")))
    result = join_parts(str(tmp_path / "p"), JoinOptions(output=str(tmp_path / "back")))
    assert (tmp_path / "back").read_bytes() == data
    assert result.digest == _manifest_of(tmp_path / "p", "data.bin")["digest"]
