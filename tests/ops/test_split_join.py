"""Split and join on real files: round trips, and every kind of damaged part named."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.errors import AlreadyExistsError, IntegrityError, UsageError
from dirkit.ops.files.join import JoinOptions, join_parts
from dirkit.ops.files.split import SplitOptions, split_file
from tests.support import require_tool


def random_file(path: Path, size: int, seed: int = 1) -> bytes:
    data = os.urandom(size) if seed == 0 else bytes((i * 7919 + seed) % 251 for i in range(size))
    path.write_bytes(data)
    return data


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if TEMP_MARKER in p.name]


@pytest.mark.parametrize(("size", "options"), [(0, {"part_size": 10}), (1, {"part_count": 1})])
def test_tiny_files_round_trip(tmp_path: Path, size: int, options: dict[str, int]) -> None:
    source = tmp_path / "tiny"
    data = random_file(source, size)
    split_file(str(source), SplitOptions(output_dir=str(tmp_path), **options))  # type: ignore[arg-type]
    result = join_parts(str(tmp_path), JoinOptions(output=str(tmp_path / "back")))
    assert (tmp_path / "back").read_bytes() == data
    assert result.size == size


@settings(max_examples=25)
@given(data=st.binary(max_size=5000), part_size=st.integers(1, 1200), by_count=st.booleans())
def test_split_then_join_is_byte_equal(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, part_size: int, by_count: bool
) -> None:
    folder = tmp_path_factory.mktemp("round")
    source = folder / "data.bin"
    source.write_bytes(data)
    options = SplitOptions(part_count=part_size % 7 + 1) if by_count else SplitOptions(part_size=part_size)
    split_file(str(source), options)
    join_parts(str(folder / "data.bin.parts.json"), JoinOptions(output=str(folder / "out.bin")))
    assert (folder / "out.bin").read_bytes() == data
    assert not leftovers(folder)


def test_split_from_stdin_stream_round_trips(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    parts = tmp_path / "parts"
    parts.mkdir()
    result = split_file(
        "-", SplitOptions(part_size=100_000, output_dir=str(parts), name="piped"), stdin=io.BytesIO(data)
    )
    assert [p.name for p in result.manifest.parts] == [f"piped.part000{n}" for n in (1, 2, 3)]
    assert result.manifest.mode is None
    join_parts(str(parts), JoinOptions(output=str(tmp_path / "whole")))
    assert (tmp_path / "whole").read_bytes() == data


def test_join_restores_mode_and_mtime_and_manifest_is_complete(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    data = random_file(source, 10_000)
    source.chmod(0o640)
    os.utime(source, ns=(1_500_000_000_123_456_789, 1_500_000_000_123_456_789))
    split_file(str(source), SplitOptions(part_size=4096))
    document = json.loads((tmp_path / "a.bin.parts.json").read_text())
    assert document["name"] == "a.bin"
    assert document["size"] == 10_000
    assert [part["size"] for part in document["parts"]] == [4096, 4096, 1808]
    source.rename(tmp_path / "original")
    join_parts(str(tmp_path), JoinOptions(output=str(tmp_path)))
    info = source.stat()
    assert source.read_bytes() == data
    assert info.st_mode & 0o777 == 0o640
    assert info.st_mtime_ns == 1_500_000_000_123_456_789


@pytest.fixture
def split_five(tmp_path: Path) -> Path:
    source = tmp_path / "src" / "five.bin"
    source.parent.mkdir()
    random_file(source, 5 * 1000, seed=3)
    parts = tmp_path / "parts"
    parts.mkdir()
    split_file(str(source), SplitOptions(part_count=5, output_dir=str(parts)))
    return parts


def _join_error(parts: Path) -> str:
    output = parts.parent / "joined"
    with pytest.raises(IntegrityError) as caught:
        join_parts(str(parts), JoinOptions(output=str(output)))
    assert not output.exists()
    assert not leftovers(parts.parent)
    return str(caught.value)


def test_missing_part_is_named(split_five: Path) -> None:
    (split_five / "five.bin.part0003").unlink()
    assert "five.bin.part0003: part 3 of 5 is missing" in _join_error(split_five)


def test_truncated_part_is_named(split_five: Path) -> None:
    with open(split_five / "five.bin.part0004", "r+b") as stream:
        stream.truncate(10)
    assert "five.bin.part0004: part 4 of 5 is truncated (10 of 1000 bytes)" in _join_error(split_five)


def test_corrupted_part_is_named(split_five: Path) -> None:
    with open(split_five / "five.bin.part0002", "r+b") as stream:
        stream.seek(500)
        stream.write(b"\xff\xfe")
    assert "five.bin.part0002: part 2 of 5 is corrupt" in _join_error(split_five)


def test_reordered_parts_are_named(split_five: Path) -> None:
    first, second = split_five / "five.bin.part0001", split_five / "five.bin.part0002"
    first.rename(split_five / "swap")
    second.rename(first)
    (split_five / "swap").rename(second)
    message = _join_error(split_five)
    assert "five.bin.part0001: part 1 of 5 holds the bytes of part 2" in message
    assert "reordered" in message


def test_join_never_overwrites_without_force(split_five: Path) -> None:
    output = split_five.parent / "joined"
    output.write_bytes(b"precious")
    with pytest.raises(AlreadyExistsError, match="--force"):
        join_parts(str(split_five), JoinOptions(output=str(output)))
    assert output.read_bytes() == b"precious"
    join_parts(str(split_five), JoinOptions(output=str(output), force=True))
    assert output.read_bytes() == (split_five.parent / "src" / "five.bin").read_bytes()


def test_split_never_overwrites_parts_without_force(split_five: Path) -> None:
    source = split_five.parent / "src" / "five.bin"
    with pytest.raises(AlreadyExistsError):
        split_file(str(source), SplitOptions(part_count=5, output_dir=str(split_five)))
    split_file(str(source), SplitOptions(part_count=5, output_dir=str(split_five), force=True))


def test_split_refuses_bad_requests(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x")
    with pytest.raises(UsageError):
        split_file(str(source), SplitOptions())
    with pytest.raises(UsageError, match="--parts"):
        split_file("-", SplitOptions(part_count=2), stdin=io.BytesIO(b"abc"))
    with pytest.raises(UsageError, match="output folder is not a folder"):
        split_file(str(source), SplitOptions(part_size=1, output_dir=str(source)))


def test_join_plain_parts_from_coreutils_split(tmp_path: Path) -> None:
    split_tool = require_tool("split")
    data = random_file(tmp_path / "data", 250_000, seed=0)
    parts = tmp_path / "parts"
    parts.mkdir()
    subprocess.run(
        [split_tool, "-b", "10000", "-a", "1", str(tmp_path / "data"), str(parts / "x")], check=True
    )
    assert len(list(parts.iterdir())) == 25
    result = join_parts(str(parts), JoinOptions(output=str(tmp_path / "back")))
    assert (tmp_path / "back").read_bytes() == data
    assert result.digest is None
    with pytest.raises(UsageError, match="-o"):
        join_parts(str(parts), JoinOptions())
