"""Pure checks of archive members: paths, links, special files, bits and limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.archive.formats import ArchiveFormat, format_from_magic, format_from_name
from dirkit.core.archive.safety import (
    ArchiveMember,
    ExtractionLimits,
    MemberKind,
    check_declared_ratio,
    check_hardlink,
    check_member,
    check_totals,
    first_escaping_link,
    link_above,
    member_path,
    resolve_link,
)
from dirkit.core.tree.paths import RelPath
from dirkit.errors import ArchiveLimitError, UnsafeArchiveError, UsageError


def file_member(
    name: str, mode: int = 0o644, size: int = 0, compressed_size: int | None = None
) -> ArchiveMember:
    return ArchiveMember(name, MemberKind.FILE, size=size, mode=mode, compressed_size=compressed_size)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("\\windows\\x", "backslash"),
        ("..\\..\\x", "backslash"),
        ("sub/.dirkit/state", ".dirkit component"),
        ("a/b/.dirkit", ".dirkit component"),
        ("C:/x", "absolute"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        (".dirkit/backups/x", ".dirkit"),
        ("a\0b", "NUL"),
        ("", "empty"),
        ("./", "empty"),
    ],
)
def test_unsafe_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(UnsafeArchiveError, match=reason):
        check_member(file_member(name))


def test_safe_names_are_normalized() -> None:
    assert check_member(file_member("./a//b/./c")) == "a/b/c"
    assert check_member(ArchiveMember("./", MemberKind.DIR)) == ""


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (ArchiveMember("dev/null", MemberKind.DEVICE), "device"),
        (ArchiveMember("fifo", MemberKind.FIFO), "special"),
        (file_member("su", mode=0o4755), "setuid"),
        (file_member("sg", mode=0o2755), "setgid"),
        (ArchiveMember("d", MemberKind.DIR, mode=0o2775), "setgid"),
        (ArchiveMember("l", MemberKind.SYMLINK, link_target="/etc"), "absolute"),
        (ArchiveMember("a/l", MemberKind.SYMLINK, link_target="../../x"), "outside"),
        (ArchiveMember("l", MemberKind.SYMLINK, link_target=""), "empty"),
    ],
)
def test_unsafe_members_are_refused(member: ArchiveMember, reason: str) -> None:
    with pytest.raises(UnsafeArchiveError, match=reason):
        check_member(member)


def test_links_inside_are_accepted() -> None:
    assert check_member(ArchiveMember("a/b/l", MemberKind.SYMLINK, link_target="../c")) == "a/b/l"
    assert resolve_link(RelPath("a/b/l"), "../c", {}) == "a/c"
    assert resolve_link(RelPath("l"), ".", {}) == ""


def test_link_chains_that_escape_are_found() -> None:
    links = {RelPath("l1"): "d/..", RelPath("l2"): "l1/.."}
    assert resolve_link(RelPath("l2"), "l1/..", {}) == ""
    assert first_escaping_link(links) == "l2"
    assert first_escaping_link({RelPath("a"): "b", RelPath("b"): "a"}) == "a"
    assert first_escaping_link({RelPath("a"): "x/y", RelPath("x"): "d"}) is None


def test_writes_through_links_are_found() -> None:
    links = {RelPath("a/l"): "../x"}
    assert link_above(RelPath("a/l/f"), links) == "a/l"
    assert link_above(RelPath("a/f"), links) is None


def test_hardlinks_must_point_at_files_already_written() -> None:
    member = ArchiveMember("h", MemberKind.HARDLINK, link_target="a/f")
    assert check_hardlink(member, {RelPath("a/f"): None}) == "a/f"
    with pytest.raises(UnsafeArchiveError, match="not a file extracted"):
        check_hardlink(member, {})
    with pytest.raises(UnsafeArchiveError, match="absolute"):
        check_hardlink(member._replace(link_target="/etc/passwd"), {})


def test_limits() -> None:
    limits = ExtractionLimits(max_total_bytes=1000, max_ratio=10, ratio_floor_bytes=100, max_members=5)
    check_totals(1000, 5, 100, limits, "a.tar")
    with pytest.raises(ArchiveLimitError, match="size limit"):
        check_totals(1001, 1, 1000, limits, "a.tar")
    with pytest.raises(ArchiveLimitError, match="members"):
        check_totals(0, 6, 1000, limits, "a.tar")
    with pytest.raises(ArchiveLimitError, match="expands"):
        check_totals(500, 1, 10, limits, "a.tar")
    check_totals(99, 1, 1, limits, "a.tar")
    check_declared_ratio(file_member("f", size=50, compressed_size=1), limits)
    with pytest.raises(ArchiveLimitError, match="ratio"):
        check_declared_ratio(file_member("f", size=500, compressed_size=1), limits)


components = st.sampled_from(["a", "b", "..", ".", "", "c.txt"])


@given(st.lists(components, max_size=8))
def test_accepted_member_paths_never_escape(parts: list[str]) -> None:
    name = "/".join(parts)
    try:
        path = member_path(file_member(name))
    except UnsafeArchiveError:
        return
    assert not path.startswith("/")
    assert ".." not in path.split("/")


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "a/c", "d"]).map(RelPath),
        st.lists(components, min_size=1, max_size=4).map("/".join),
        max_size=4,
    )
)
def test_resolved_links_stay_inside(links: dict[RelPath, str]) -> None:
    for link, target in links.items():
        resolved = resolve_link(link, target, links)
        if resolved is not None:
            assert ".." not in resolved.split("/")
            assert not resolved.startswith("/")


def test_formats_from_names_and_magic() -> None:
    assert format_from_name("x.TGZ") is ArchiveFormat.TAR_GZ
    assert format_from_name("x.tar.zst") is ArchiveFormat.TAR_ZST
    assert format_from_name("x.zip") is ArchiveFormat.ZIP
    with pytest.raises(UsageError, match="cannot tell"):
        format_from_name("x.rar")
    assert format_from_magic(b"\x28\xb5\x2f\xfd....") is ArchiveFormat.TAR_ZST
    assert format_from_magic(b"\0" * 257 + b"ustar") is ArchiveFormat.TAR
    assert format_from_magic(b"hello") is None
