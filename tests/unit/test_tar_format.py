"""dirkit's own tar headers: what it builds, tarfile reads back, and what tarfile builds, dirkit parses."""

from __future__ import annotations

import io
import tarfile
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.archive.tar import (
    BLOCK,
    TarFormatError,
    TarType,
    build_header,
    end_of_archive,
    padding_for,
    parse_header,
    parse_pax,
    pax_mtime_ns,
    pax_record,
)

component = st.text(
    st.characters(exclude_characters="/\0", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=60
).filter(lambda part: part not in (".", ".."))
paths = st.lists(component, min_size=1, max_size=6).map("/".join)


def read_back(data: bytes) -> tarfile.TarInfo:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
    assert len(members) == 1
    return members[0]


@given(
    path=paths,
    mode=st.integers(0, 0o7777),
    size=st.integers(0, 3000),
    mtime_ns=st.integers(-(10**18), 10**19),
)
def test_file_headers_read_back_with_tarfile(path: str, mode: int, size: int, mtime_ns: int) -> None:
    header = build_header(path, TarType.FILE, mode, size, mtime_ns)
    data = header + bytes(size) + bytes(padding_for(size))
    data += end_of_archive(len(data))
    assert len(data) % (20 * BLOCK) == 0
    info = read_back(data)
    assert info.name == path
    assert info.mode == mode
    assert info.size == size
    assert abs(info.mtime - mtime_ns / 1e9) < 1e-3 * max(1, abs(mtime_ns) / 1e15)


@given(path=paths, target=paths)
def test_symlink_and_dir_headers_read_back(path: str, target: str) -> None:
    data = build_header(path, TarType.SYMLINK, 0o777, 0, 0, target)
    info = read_back(data + end_of_archive(len(data)))
    assert info.issym()
    assert (info.name, info.linkname) == (path, target)
    data = build_header(path, TarType.DIR, 0o755, 0, 0)
    assert read_back(data + end_of_archive(len(data))).isdir()


@pytest.mark.parametrize("tar_format", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_headers_made_by_tarfile_parse(tar_format: Literal[0, 1, 2]) -> None:
    info = tarfile.TarInfo(
        "dir/" + "n" * 90 + "/file.txt" if tar_format == tarfile.USTAR_FORMAT else "x" * 300
    )
    info.size, info.mode, info.mtime = 5, 0o640, 1_700_000_000
    block = info.tobuf(tar_format, "utf-8", "surrogateescape")
    header = parse_header(block[-BLOCK:] if tar_format != tarfile.PAX_FORMAT else block[:BLOCK])
    if tar_format == tarfile.USTAR_FORMAT:
        assert header.name.decode() == info.name
        assert (header.size, header.mode, header.mtime) == (5, 0o640, 1_700_000_000)
        assert header.tar_type is TarType.FILE
    elif tar_format == tarfile.PAX_FORMAT:
        assert header.tar_type is TarType.PAX
    else:
        assert parse_header(block[:BLOCK]).tar_type is TarType.GNU_LONG_NAME


def test_bad_checksum_is_refused() -> None:
    block = bytearray(build_header("a", TarType.FILE, 0o644, 1, 0))
    block[0] = ord("b")
    with pytest.raises(TarFormatError, match="checksum"):
        parse_header(bytes(block))


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=300), st.text(max_size=20))
def test_pax_records_round_trip(value: str, key_tail: str) -> None:
    key = "k" + key_tail.replace("=", "").replace("\0", "")
    assert parse_pax(pax_record(key, value)) == {key: value}


def test_pax_mtime_is_exact() -> None:
    assert pax_mtime_ns("1700000000.123456789") == 1_700_000_000_123_456_789
    assert pax_mtime_ns("5") == 5_000_000_000
    assert pax_mtime_ns("-1.5") == -1_500_000_000
    with pytest.raises(TarFormatError):
        pax_mtime_ns("soon")
