"""Every command against hostile input: odd names, escaping links, long paths, refused archive members.

None may print a traceback; every refusal names the path and the reason and exits 2; nothing is
written outside the place the command was asked to write to (a snapshot of the rest is compared).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import tarfile
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK
from tests.support import dirkit_command, read_tree

BAD_UTF8 = os.fsdecode(b"bad\xff")
NEWLINE = "new\nline"
LONG = "n" * 255
DEEP = "/".join(["d" * 60] * 40)
"""A path of about 2.4 KB below ROOT."""
SNAPSHOT = dict[str, tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class Place:
    """The folders of one hostile setup: the tree, a sentinel folder outside it, and a scratch folder."""

    base: Path
    root: Path
    sentinel: Path


def build_hostile(base: Path) -> Place:
    """Make ROOT with hostile names and links out of it, a sentinel folder beside it, and a dashed ROOT."""
    root = base / "root"
    sentinel = base / "sentinel"
    sentinel.mkdir()
    (sentinel / "secret.txt").write_text("secret\n")
    root.mkdir()
    for name, content in [
        (BAD_UTF8, "needle bad\n"),
        (NEWLINE, "needle newline\n"),
        ("-dash", "needle dash\n"),
        ("--help", "needle help\n"),
        ("..x", "needle dots\n"),
        ("x..", "needle dots\n"),
        (f"{LONG}/{'m' * 255}", "needle long\n"),
        (f"{DEEP}/deep.txt", "needle deep\n"),
    ]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "up").symlink_to("..")
    (root / "out").symlink_to("../sentinel/secret.txt")
    (root / "abs").symlink_to(sentinel / "secret.txt")
    (base / "-dashroot").mkdir()
    (base / "-dashroot" / "-n").write_text("needle\n")
    return Place(base, root, sentinel)


def snapshot(folder: Path, leave_out: tuple[Path, ...] = ()) -> SNAPSHOT:
    """Return every path below folder with its kind, mode, size, time and content (links not followed)."""
    return {
        path: (node.st_mode, node.size, node.mtime_ns, node.data)
        for path, node in read_tree(folder, skip_names=(), leave_out=leave_out).items()
    }


def run_dirkit(arguments: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[int, str]:
    """Run dirkit in-process; return its exit code and output (standard error last).

    Any uncaught exception fails the test.
    """
    capsysbinary.readouterr()
    try:
        code = main(arguments)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else EXIT_ERROR
    except Exception:
        pytest.fail(f"dirkit {arguments} raised:\n{traceback.format_exc()}")
    captured = capsysbinary.readouterr()
    err = captured.err.decode("utf-8", "replace")
    assert "Traceback" not in err
    return code, captured.out.decode("utf-8", "replace") + err


@dataclass(frozen=True, slots=True)
class Case:
    """One command run: its words ({root}, {base}, {sentinel} filled in), the exit code it must give,
    what its message must say when it refuses, and the folder it may write to."""

    words: tuple[str, ...]
    code: int
    says: tuple[str, ...] = ()
    writes: str | None = None
    prepare: Callable[[Place, pytest.CaptureFixture[bytes]], None] | None = None


def mirrored(place: Place, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Mirror ROOT into base/dst, so that undo, backups and apply have a run to work on."""
    assert run_dirkit(["mirror", "-q", str(place.root), str(place.base / "dst")], capsysbinary)[0] == EXIT_OK
    (place.root / "-dash").write_text("changed\n")
    assert run_dirkit(["mirror", "-q", str(place.root), str(place.base / "dst")], capsysbinary)[0] == EXIT_OK


def plan_saved(place: Place, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Save a mirror plan of ROOT into base/dst as base/plan.jsonl."""
    plan = str(place.base / "plan.jsonl")
    (place.base / "dst").mkdir()
    words = ["mirror", "-q", "--save-plan", plan, str(place.root), str(place.base / "dst")]
    assert run_dirkit(words, capsysbinary)[0] == EXIT_OK


def manifest_made(place: Place, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Write base/root.b3, a manifest of ROOT, and base/evil.b3 listing paths out of ROOT."""
    words = ["manifest", "-o", str(place.base / "root.b3"), str(place.root)]
    assert run_dirkit(words, capsysbinary)[0] == EXIT_OK
    digest = "0" * 64
    (place.base / "evil.b3").write_text(f"{digest}  ../sentinel/secret.txt\n{digest}  {place.sentinel}/x\n")


def split_made(place: Place, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Split the file with a newline in its name, and write a parts manifest naming '../../pwn'."""
    assert run_dirkit(["split", "-q", "--size", "4", str(place.root / NEWLINE)], capsysbinary)[0] == EXIT_OK
    manifest = place.root / f"{NEWLINE}.parts.json"
    record = json.loads(manifest.read_text())
    record["name"] = "../../pwn"
    (place.root / "evil.parts.json").write_text(json.dumps(record))


def packed(place: Place, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Pack ROOT into base/root.tar."""
    assert run_dirkit(["pack", "-q", str(place.root), str(place.base / "root.tar")], capsysbinary)[0] == 0


FOUND = EXIT_DIFFERENCES
OK = EXIT_OK
REFUSED = EXIT_ERROR

COMMAND_CASES: dict[str, Case] = {
    "compare": Case(("compare", "{root}", "{sentinel}"), FOUND),
    "compare --json": Case(("compare", "--json", "{root}", "{sentinel}"), FOUND),
    "compare dashed root": Case(("compare", "--", "-dashroot", "{root}"), FOUND),
    "mirror": Case(("mirror", "{root}", "{base}/dst"), OK, writes="dst"),
    "mirror into a missing parent": Case(
        ("mirror", "{root}", "{base}/nosuch/dst"), REFUSED, ("nosuch/dst", "does not exist")
    ),
    "apply": Case(("apply", "{base}/plan.jsonl"), OK, writes="dst", prepare=plan_saved),
    "undo": Case(("undo", "{base}/dst"), OK, writes="dst", prepare=mirrored),
    "backups": Case(("backups", "{base}/dst"), OK, prepare=mirrored),
    "find": Case(("find", "{root}"), OK),
    "find -0 --follow-symlinks": Case(
        ("find", "-0", "--follow-symlinks", "{root}"),
        FOUND,
        ("up/root/up: symlink loop: points to a directory above",),
    ),
    "find --json": Case(("find", "--json", "--regex", "^-", "{root}"), OK),
    "find dashed root": Case(("find", "--", "-dashroot"), OK),
    "grep": Case(("grep", "-n", "needle", "{root}"), OK),
    "grep --json": Case(("grep", "--json", "-w", "needle", "{root}"), OK),
    "grep dashed": Case(("grep", "-F", "--", "-dash", "{root}"), FOUND),
    "dupes": Case(("dupes", "{root}"), FOUND),
    "dupes --json": Case(("dupes", "--json", "{root}"), FOUND),
    "manifest": Case(("manifest", "{root}"), OK),
    "verify": Case(("verify", "{base}/root.b3", "{root}"), OK, prepare=manifest_made),
    "verify paths out of ROOT": Case(
        ("verify", "-a", "blake3", "{base}/evil.b3", "{root}"),
        REFUSED,
        ("../sentinel/secret.txt", "escapes its root", "sentinel/x: path is absolute"),
        prepare=manifest_made,
    ),
    "split": Case(("split", "--size", "4", "{root}/" + NEWLINE), OK, writes="root"),
    "split a 255-byte name": Case(
        ("split", "--size", "4", "{root}/" + LONG + "/" + "m" * 255),
        REFUSED,
        ("m" * 255 + ".part0001", "File name too long"),
        writes="root",
    ),
    "split --name ..": Case(
        ("split", "--size", "4", "--name", "../pwn", "{root}/-dash"), REFUSED, ("../pwn", "plain file name")
    ),
    "join": Case(
        ("join", "{root}/" + NEWLINE + ".parts.json", "-o", "{base}/joined"),
        OK,
        writes="joined",
        prepare=split_made,
    ),
    "join a manifest naming ..": Case(
        ("join", "{root}/evil.parts.json"), REFUSED, ("../../pwn", "plain file name"), prepare=split_made
    ),
    "pack tar": Case(("pack", "{root}", "{base}/root.tar.zst"), OK, writes="root.tar.zst"),
    "pack zip": Case(("pack", "{root}", "{base}/root.zip"), REFUSED, ("bad\\xff", "not valid UTF-8")),
    "unpack": Case(
        ("unpack", "{base}/root.tar", "{base}/out"),
        REFUSED,
        ("abs: symlink points to an absolute path",),
        writes="out",
        prepare=packed,
    ),
    "unpack --list --json": Case(("unpack", "--list", "--json", "{base}/root.tar"), FOUND, prepare=packed),
}


def fill(words: tuple[str, ...], place: Place) -> list[str]:
    """Return the words with {root}, {base} and {sentinel} replaced by the folders of place."""
    return [word.format(root=place.root, base=place.base, sentinel=place.sentinel) for word in words]


@pytest.mark.parametrize("name", list(COMMAND_CASES))
def test_commands_on_hostile_names(
    name: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = COMMAND_CASES[name]
    place = build_hostile(tmp_path)
    monkeypatch.chdir(tmp_path)
    if case.prepare is not None:
        case.prepare(place, capsysbinary)
    allowed = (tmp_path / case.writes,) if case.writes else ()
    before = snapshot(tmp_path, allowed)
    code, err = run_dirkit(fill(case.words, place), capsysbinary)
    assert code == case.code, err
    for text in case.says:
        assert text in err, err
    assert snapshot(tmp_path, allowed) == before


def tar_with(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """Return the bytes of a tar archive holding the members given (with their data)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, target: str = "") -> tarfile.TarInfo:
    """Return a tar member header."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = target
    return info


def zip_with(name: str) -> bytes:
    """Return the bytes of a zip archive with one member of that name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, b"data")
    return buffer.getvalue()


REFUSED_MEMBERS: dict[str, tuple[str, bytes, str]] = {
    "dotdot": ("t.tar", tar_with((member("../escape.txt"), b"x")), "escapes DEST with '..'"),
    "absolute": ("t.tar", tar_with((member("/abs.txt"), b"x")), "absolute path"),
    "dirkit folder": ("t.tar", tar_with((member(".dirkit/state"), b"x")), "own .dirkit/ folder"),
    "temp marker": ("t.tar", tar_with((member("a.dirkit-tmp-1"), b"x")), "temporary marker"),
    "empty path": ("t.tar", tar_with((member("./"), b"x")), "empty path"),
    "NUL in name": ("t.tar", tar_with((member("a\0b" + "x" * 120), b"x")), "NUL byte"),
    "link out": ("t.tar", tar_with((member("l", tarfile.SYMTYPE, 0o777, "../../sentinel"), b"")), "outside"),
    "link absolute": ("t.tar", tar_with((member("l", tarfile.SYMTYPE, 0o777, "/etc"), b"")), "absolute"),
    "link empty": ("t.tar", tar_with((member("l", tarfile.SYMTYPE, 0o777, ""), b"")), "empty target"),
    "hard link out": (
        "t.tar",
        tar_with((member("h", tarfile.LNKTYPE, 0o644, "../sentinel/secret.txt"), b"")),
        "hard link target",
    ),
    "device": ("t.tar", tar_with((member("dev", tarfile.CHRTYPE), b"")), "device file"),
    "fifo": ("t.tar", tar_with((member("fifo", tarfile.FIFOTYPE), b"")), "special file"),
    "setuid": ("t.tar", tar_with((member("suid", mode=0o4755), b"x")), "setuid"),
    "zip dotdot": ("t.zip", zip_with("../zipslip.txt"), "escapes DEST with '..'"),
    "zip absolute": ("t.zip", zip_with("/abs.txt"), "absolute path"),
    "bomb": ("t.tar", tar_with((member("big"), b"\0" * 20_000)), "passed the size limit"),
}


@pytest.mark.parametrize("name", list(REFUSED_MEMBERS))
def test_archives_with_refused_members(
    name: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    file_name, data, reason = REFUSED_MEMBERS[name]
    place = build_hostile(tmp_path)
    archive = tmp_path / file_name
    archive.write_bytes(data)
    dest = tmp_path / "dest"
    before = snapshot(tmp_path, (dest,))
    code, err = run_dirkit(["unpack", "--max-size", "10K", str(archive), str(dest)], capsysbinary)
    assert code == EXIT_ERROR, err
    assert reason in err, err
    assert snapshot(tmp_path, (dest,)) == before
    assert (place.sentinel / "secret.txt").read_text() == "secret\n"
    code, err = run_dirkit(["unpack", "--list", str(archive)], capsysbinary)
    # --list flags every refused member with exit 1; it applies no size limit, so the bomb lists clean
    assert code == (EXIT_OK if name == "bomb" else EXIT_DIFFERENCES), err


def dirkit_process(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run dirkit as a subprocess and return what it did."""
    return subprocess.run(dirkit_command(*arguments), capture_output=True, cwd=cwd, timeout=60, check=False)


def test_hostile_names_in_subprocesses(tmp_path: Path) -> None:
    place = build_hostile(tmp_path)
    found = dirkit_process("find", "-0", "root", cwd=tmp_path)
    assert found.returncode == EXIT_OK, found.stderr
    assert b"root/bad\xff\0" in found.stdout
    assert b"root/new\nline\0" in found.stdout
    grep = dirkit_process("grep", "-l", "needle", "root", cwd=tmp_path)
    assert grep.returncode == EXIT_OK, grep.stderr
    assert b"root/bad\xff\n" in grep.stdout
    zipped = dirkit_process("pack", "root", "root.zip", cwd=tmp_path)
    assert zipped.returncode == EXIT_ERROR
    assert b"bad\\xff" in zipped.stderr
    assert b"not valid UTF-8" in zipped.stderr
    assert not any(path.name.startswith("root.zip") for path in tmp_path.iterdir())
    packed_tar = dirkit_process("pack", "-q", str(place.root), "root.tar", cwd=tmp_path)
    assert packed_tar.returncode == EXIT_OK, packed_tar.stderr
    listing = dirkit_process("unpack", "--list", "--json", "root.tar", cwd=tmp_path)
    assert listing.returncode == EXIT_DIFFERENCES, listing.stderr
    records = [json.loads(line) for line in listing.stdout.decode("utf-8").splitlines()]
    bad = next(record for record in records if record.get("name_b64"))
    assert bad["name"] == "bad\\xff"
    assert base64.b64decode(bad["name_b64"]) == b"bad\xff"
    refused = {record["name"]: record["refused"] for record in records if record["refused"]}
    assert "up" in refused
    for result in (found, grep, zipped, packed_tar, listing):
        assert b"Traceback" not in result.stderr
