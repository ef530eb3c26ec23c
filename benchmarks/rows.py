"""The rows of issue 13's table: each dirkit command beside its peer tool, its target and its floor."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Better, Contender, Invocation, Row, Target

FLOORS = str(Path(__file__).with_name("floors.py"))
FLOORS_SEARCH = str(Path(__file__).with_name("floors_search.py"))
FLOORS_ARCHIVE = str(Path(__file__).with_name("floors_archive.py"))
AT_MOST_1 = Target(1.0)
PART_SIZE = "100M"
FLOORS_HASH = str(Path(__file__).with_name("floors_hash.py"))
"""The hashing rows' floors on two processes (manifest, cache, dupes, split, join)."""


@dataclass(frozen=True, slots=True)
class Setting:
    """What every row of one shape needs: dirkit's interpreter, the environment and a work folder."""

    python: str
    env: dict[str, str]
    work: Path

    def dirkit(self, *arguments: str | Path, state: Path | None = None) -> Invocation:
        """Return the invocation of dirkit (with its state in `state` if given)."""
        env = self.env if state is None else {**self.env, "DIRKIT_STATE_DIR": str(state)}
        return Invocation((self.python, "-m", "dirkit", *map(str, arguments)), env)

    def peer(self, *arguments: str | Path) -> Invocation:
        """Return the invocation of a peer tool."""
        return Invocation(tuple(map(str, arguments)), self.env)

    def shell(self, line: str) -> Invocation:
        """Return the invocation of a shell line (for pipelines and globs)."""
        return Invocation(("/bin/sh", "-c", line), self.env)

    def hash_floor(self, *arguments: str | Path) -> Invocation:
        """Return the invocation of a two-process hashing floor (benchmarks/floors_hash.py)."""
        return Invocation((self.python, FLOORS_HASH, *map(str, arguments)), self.env)

    def floor(self, *arguments: str | Path) -> Invocation:
        """Return the invocation of a Python floor program (benchmarks/floors.py)."""
        return Invocation((self.python, FLOORS, *map(str, arguments)), self.env)

    def search_floor(self, *arguments: str | Path) -> Invocation:
        """Return the invocation of a two-process floor of find or grep (benchmarks/floors_search.py)."""
        return Invocation((self.python, FLOORS_SEARCH, *map(str, arguments)), self.env)


@dataclass(frozen=True, slots=True)
class SmallTrees:
    """A small-file shape: its tree, an exact copy, a 1%-mutated copy, a tar.gz, search terms."""

    a: Path
    b: Path
    m: Path
    archive: Path
    name_glob: str
    fixed: str
    regex: str


def untimed(invocation: Invocation) -> None:
    """Run an invocation for its effect (setup, not timed)."""
    env = None if invocation.env is None else dict(invocation.env)
    subprocess.run(list(invocation.argv), env=env, check=True, stdout=subprocess.DEVNULL)


def copy_of(source: Path, target: Path) -> Path:
    """Make target an exact copy of source with cp -a (untimed); return it."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)
    return target


def prepared(setup: Invocation, marker: Path, timed: Invocation) -> Invocation:
    """Run setup once (untimed, until the marker file exists), then return the timed invocation."""
    if not marker.exists():
        untimed(setup)
        marker.touch()
    return timed


def mirror_rows(s: Setting, t: SmallTrees) -> list[Row]:
    """Return the mirror rows of a small-file shape."""
    a, m = t.a, t.m
    ours, theirs = s.work / "noop-dirkit", s.work / "noop-rsync"
    return [
        Row(
            "mirror",
            "first mirror, small files",
            Contender("dirkit mirror", lambda f: s.dirkit("mirror", "-q", "--force", a, f / "t")),
            (
                Contender("rsync -a", lambda f: s.peer("rsync", "-a", f"{a}/", f"{f}/t/")),
                Contender("cp -a", lambda f: s.peer("cp", "-a", a, f / "t")),
            ),
            AT_MOST_1,
            (a,),
            Contender("floor copyproc", lambda f: s.floor("copyproc", a, f / "t")),
        ),
        Row(
            "rerun",
            "mirror rerun, nothing to do",
            Contender(
                "dirkit mirror",
                lambda _: prepared(
                    s.dirkit("mirror", "-q", "--force", a, ours),
                    s.work / "noop-dirkit.ready",
                    s.dirkit("mirror", "-q", "--force", a, ours),
                ),
            ),
            (
                Contender(
                    "rsync -a --delete",
                    lambda _: prepared(
                        s.peer("rsync", "-a", f"{a}/", f"{theirs}/"),
                        s.work / "noop-rsync.ready",
                        s.peer("rsync", "-a", "--delete", f"{a}/", f"{theirs}/"),
                    ),
                ),
            ),
            AT_MOST_1,
            (a,),
            Contender("floor scan2", lambda _: s.floor("scan2", a, theirs)),
        ),
        Row(
            "rerun1",
            "mirror rerun, 1% changed",
            Contender("dirkit mirror", lambda f: s.dirkit("mirror", "-q", "--force", m, copy_of(a, f / "t"))),
            (
                Contender(
                    "rsync -a --delete",
                    lambda f: s.peer("rsync", "-a", "--delete", f"{m}/", f"{copy_of(a, f / 't')}/"),
                ),
            ),
            AT_MOST_1,
            (a, m),
            Contender("floor scan2", lambda _: s.floor("scan2", m, a)),
        ),
    ]


def compare_rows(s: Setting, t: SmallTrees) -> list[Row]:
    """Return the compare and manifest rows of a small-file shape."""
    a, b, m = t.a, t.b, t.m
    return [
        Row(
            "compare",
            "compare, identical trees",
            Contender("dirkit compare", lambda _: s.dirkit("compare", "--stat", a, b)),
            (
                Contender(
                    "rsync -a -n --delete",
                    lambda _: s.peer("rsync", "-a", "-n", "-i", "--delete", f"{a}/", f"{b}/"),
                ),
            ),
            AT_MOST_1,
            (a, b),
            Contender("floor scan2", lambda _: s.floor("scan2", a, b)),
        ),
        Row(
            "content",
            "compare --content, 1% mutated",
            Contender(
                "dirkit compare --content",
                lambda _: s.dirkit("compare", "--content", "--no-cache", "--stat", a, m),
            ),
            (
                Contender(
                    "rsync -a -n -c",
                    lambda _: s.peer("rsync", "-a", "-n", "-c", "-i", "--delete", f"{a}/", f"{m}/"),
                ),
            ),
            AT_MOST_1,
            (a, m),
            Contender("floor scan2 --content", lambda _: s.floor("scan2", "--content", a, m)),
        ),
        *manifest_rows(
            s, a, "small", Target(1.0), ("xargs b3sum", "find . -type f -print0 | xargs -0 b3sum")
        ),
    ]


def manifest_rows(s: Setting, root: Path, sizes: str, target: Target, peer: tuple[str, str]) -> list[Row]:
    """Return the manifest row (vs the peer's name and shell line, run in root) and the cache row."""
    cached = s.work / f"state-cached-{root.name}"
    peer_name, peer_line = peer
    return [
        Row(
            "manifest",
            f"manifest blake3, {sizes} files",
            Contender("dirkit manifest", lambda _: s.dirkit("manifest", "--no-cache", root)),
            (Contender(peer_name, lambda _: s.shell(f"cd '{root}' && {peer_line}")),),
            target,
            (root,),
            Contender("floor hash", lambda _: s.hash_floor("hash", root)),
        ),
        Row(
            "cache",
            "manifest, 2nd run with the cache: speed-up",
            Contender(
                "dirkit manifest, 2nd run",
                lambda _: prepared(
                    s.dirkit("manifest", root, state=cached),
                    cached.with_name(cached.name + ".ready"),
                    s.dirkit("manifest", root, state=cached),
                ),
            ),
            (Contender("1st run", lambda f: s.dirkit("manifest", root, state=f / "state")),),
            Target(10.0, Better.HIGHER),
            (root,),
            Contender(
                "floor cached",
                lambda _: prepared(
                    s.hash_floor("cached", root, cached.with_name(cached.name + ".floor.db")),
                    cached.with_name(cached.name + ".floor.ready"),
                    s.hash_floor("cached", root, cached.with_name(cached.name + ".floor.db")),
                ),
            ),
        ),
    ]


def search_rows(s: Setting, t: SmallTrees) -> list[Row]:
    """Return the find, grep and dupes rows of a small-file shape."""
    a = t.a
    return [
        Row(
            "find",
            "find --name GLOB",
            Contender("dirkit find", lambda _: s.dirkit("find", a, "--name", t.name_glob)),
            (Contender("GNU find", lambda _: s.peer("find", a, "-name", t.name_glob)),),
            Target(1.5),
            (),
            Contender("floor find", lambda _: s.search_floor("find", a, t.name_glob)),
        ),
        Row(
            "grepF",
            "grep -F",
            Contender("dirkit grep -F", lambda _: s.dirkit("grep", "-n", "-F", t.fixed, a)),
            (Contender("grep -r", lambda _: s.peer("grep", "-rnI", "-F", t.fixed, a)),),
            AT_MOST_1,
            (a,),
            Contender("floor grep", lambda _: s.search_floor("grep", a, t.fixed)),
        ),
        Row(
            "grepE",
            "grep -E",
            Contender("dirkit grep -E", lambda _: s.dirkit("grep", "-n", "-E", t.regex, a)),
            (Contender("grep -r", lambda _: s.peer("grep", "-rnI", "-E", t.regex, a)),),
            AT_MOST_1,
            (a,),
            Contender("floor grep -E", lambda _: s.search_floor("grepE", a, t.regex)),
        ),
        Row(
            "dupes",
            "dupes",
            Contender("dirkit dupes", lambda _: s.dirkit("dupes", "--no-cache", a)),
            (Contender("jdupes -r", lambda _: s.peer("jdupes", "-r", "-q", a)),),
            AT_MOST_1,
            (a,),
            Contender("floor dupes", lambda _: s.hash_floor("dupes", a)),
        ),
    ]


def archive_floor(s: Setting, *arguments: str | Path) -> Invocation:
    """Return the invocation of the unpack or pack floor (benchmarks/floors_archive.py)."""
    return Invocation((s.python, FLOORS_ARCHIVE, *map(str, arguments)), s.env)


def archive_rows(s: Setting, t: SmallTrees) -> list[Row]:
    """Return the unpack and pack rows of a small-file shape."""
    a, archive = t.a, t.archive

    def into(folder: Path) -> Path:
        target = folder / "t"
        target.mkdir()
        return target

    return [
        Row(
            "unpack",
            "unpack .tar.gz",
            Contender("dirkit unpack", lambda f: s.dirkit("unpack", "-q", archive, f / "t")),
            (Contender("tar -xzf", lambda f: s.peer("tar", "-xzf", archive, "-C", into(f))),),
            Target(1.2),
            (archive,),
            Contender("floor unpack", lambda f: archive_floor(s, "unpack", archive, f / "t")),
        ),
        Row(
            "pack",
            "pack .tar.gz",
            Contender("dirkit pack", lambda f: s.dirkit("pack", "-q", "--force", a, f / "out.tar.gz")),
            (Contender("tar -czf", lambda f: s.peer("tar", "-czf", f / "out.tar.gz", "-C", a, ".")),),
            AT_MOST_1,
            (a,),
            Contender("floor pack", lambda f: archive_floor(s, "pack", a, f / "out.tar.gz")),
        ),
    ]


def small_rows(s: Setting, t: SmallTrees) -> list[Row]:
    """Return every row of a small-file shape, in the order of issue 13's table."""
    return [*mirror_rows(s, t), *compare_rows(s, t), *search_rows(s, t), *archive_rows(s, t)]


def big_rows(s: Setting, big: Path) -> list[Row]:
    """Return the rows of a set of big files: mirror throughput, manifest vs b3sum, the cache."""
    return [
        Row(
            "mirrorbig",
            "mirror big files, throughput",
            Contender("dirkit mirror", lambda f: s.dirkit("mirror", "-q", "--force", big, f / "t")),
            (Contender("cp -a", lambda f: s.peer("cp", "-a", big, f / "t")),),
            Target(0.9, Better.HIGHER),
            (big,),
            Contender("floor copyproc", lambda f: s.floor("copyproc", big, f / "t")),
        ),
        *manifest_rows(s, big, "large", Target(1.1), ("b3sum", "b3sum *")),
    ]


def file_rows(s: Setting, file: Path) -> list[Row]:
    """Return the split and join rows of one big file."""
    ours, theirs = s.work / "parts-dirkit", s.work / "parts-peer"
    split_ours = s.dirkit("split", "-q", "--size", PART_SIZE, file, "-o", ours)
    split_theirs = s.shell(f"mkdir -p '{theirs}' && split -b {PART_SIZE} '{file}' '{theirs}/x'")
    return [
        Row(
            "split",
            f"split -b {PART_SIZE}",
            Contender(
                "dirkit split", lambda f: s.dirkit("split", "-q", "--size", PART_SIZE, file, "-o", f / "p")
            ),
            (Contender("split -b", lambda f: s.peer("split", "-b", PART_SIZE, file, f / "x")),),
            Target(1.1),
            (file,),
            Contender("floor split", lambda f: s.hash_floor("split", file, f, PART_SIZE)),
        ),
        Row(
            "join",
            "join parts",
            Contender(
                "dirkit join",
                lambda f: prepared(
                    split_ours, s.work / "parts-dirkit.ready", s.dirkit("join", "-q", ours, "-o", f / "j")
                ),
            ),
            (
                Contender(
                    "cat",
                    lambda f: prepared(
                        split_theirs, s.work / "parts-peer.ready", s.shell(f"cat '{theirs}'/x* > '{f}/j'")
                    ),
                ),
            ),
            Target(1.1),
            (ours, theirs),
            Contender("floor join", lambda f: s.hash_floor("join", theirs, f / "j")),
        ),
    ]
