"""The one tree generator of the benchmarks: seeded tree shapes, 1% mutation, and big-file sets.

Shapes (each written into a fresh folder, the same bytes for the same seed and size):
- treegen: ~N mostly small files of random bytes in N/20 folders two levels deep (the historic tree);
- wide: a few folders of thousands of files each;
- deep: narrow chains 30 to 40 folders deep;
- mixed: mostly small files, a few big ones, many empty folders, non-ASCII names and symlinks;
- stdlib: copies of the installed Python standard library and site-packages, repeated to N files.
The generated shapes other than treegen hold text (with rare needles for grep), some binary files,
some empty files and about 5% duplicates. Usage: python -m benchmarks.shapes SHAPE DIR [--files N].
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

NON_ASCII = ["café", "naïve", "Ünïcödé", "日本語", "данные", "ελληνικά"]
SMALL_SHAPES = ("treegen", "wide", "deep", "mixed", "stdlib")
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "theta",
    "kappa",
    "lambda",
    "sigma",
    "omega",
    "river",
    "stone",
    "cloud",
    "paper",
    "window",
    "garden",
    "yellow",
    "silver",
    "number",
    "return",
    "value",
    "table",
    "index",
    "record",
    "buffer",
    "socket",
]
EXTENSIONS = ("txt", "py", "md", "log", "csv", "dat")
NEEDLE = "needle_token"
REGEX = r"err(or|no)[0-9]+"
MIB = 1 << 20


def generate_treegen(root: str, files: int, dirs: int, seed: int = 7) -> None:
    """Create root with `files` files spread over `dirs` directories (two levels deep)."""
    rng = random.Random(seed)
    os.makedirs(root)
    top_count = max(1, int(dirs**0.5))
    dir_paths: list[str] = []
    for index in range(dirs):
        top = f"d{index % top_count:03d}"
        name = f"s{index:05d}" if index % 50 else f"{NON_ASCII[index % len(NON_ASCII)]}-{index}"
        dir_paths.append(os.path.join(root, top, name))
    for path in dir_paths:
        os.makedirs(path, exist_ok=True)
    payload = rng.randbytes(1 << 20)
    for index in range(files):
        folder = dir_paths[index % dirs]
        name = f"f{index:06d}.txt" if index % 97 else f"{NON_ASCII[index % len(NON_ASCII)]}-{index}.dat"
        size = rng.choice((0, 100, 500, 1500, 4000, 4000, 9000, 30000)) if index % 1000 else 200_000
        start = rng.randrange(0, len(payload) - size) if size else 0
        with open(os.path.join(folder, name), "wb") as stream:
            stream.write(payload[start : start + size])


def text_pool(rng: random.Random, size: int = 4 * MIB) -> bytes:
    """Return about size bytes of text lines, now and then holding the needle or an error code."""
    lines: list[str] = []
    total = 0
    while total < size:
        words = rng.choices(WORDS, k=rng.randint(3, 14))
        roll = rng.random()
        if roll < 0.0005:
            words.insert(rng.randint(0, len(words)), NEEDLE)
        elif roll < 0.001:
            words.append(f"{rng.choice(('error', 'errno'))}{rng.randint(0, 999)}")
        line = " ".join(words)
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


class Contents:
    """Seeded file contents: text slices, some binary, some empty, about 5% duplicates."""

    def __init__(self, rng: random.Random) -> None:
        """Prepare the text pool and the binary pool from rng."""
        self.rng = rng
        self.text = text_pool(rng)
        self.binary = rng.randbytes(MIB)
        self.earlier: list[bytes] = []

    def next(self) -> bytes:
        """Return the bytes of the next file."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.01:
            return b""
        if roll < 0.06 and self.earlier:
            return rng.choice(self.earlier)
        size = int(min(400_000, rng.lognormvariate(7.3, 1.1)))
        if roll < 0.08:
            start = rng.randrange(0, len(self.binary) - size)
            data = b"\x00BIN" + self.binary[start : start + size]
        else:
            start = self.text.find(b"\n", rng.randrange(0, len(self.text) - size - 1)) + 1
            data = self.text[start : start + size]
        if len(self.earlier) < 2000 and data:
            self.earlier.append(data)
        return data


def file_name(rng: random.Random, index: int, non_ascii_share: float = 0.0) -> str:
    """Return a file name with a word, the index and an extension (sometimes non-ASCII)."""
    word = rng.choice(NON_ASCII) if rng.random() < non_ascii_share else rng.choice(WORDS)
    return f"{word}_{index}.{rng.choice(EXTENSIONS)}"


def generate_wide(root: str, files: int, seed: int = 21) -> None:
    """Create root with a few folders (files/5000, at least 2) of thousands of files each."""
    rng = random.Random(seed)
    contents = Contents(rng)
    folders = [os.path.join(root, f"w{index:02d}") for index in range(max(2, files // 5000))]
    for folder in folders:
        os.makedirs(folder)
    for index in range(files):
        path = os.path.join(folders[index % len(folders)], file_name(rng, index))
        with open(path, "wb") as stream:
            stream.write(contents.next())


def generate_deep(root: str, files: int, seed: int = 31) -> None:
    """Create root with narrow chains of 30 to 40 folders, files at every level."""
    rng = random.Random(seed)
    contents = Contents(rng)
    levels: list[str] = []
    for chain in range(max(2, files // 3200)):
        path = os.path.join(root, f"chain{chain:03d}")
        for depth in range(rng.randint(30, 40)):
            path = os.path.join(path, f"level{depth:02d}-{rng.choice(WORDS)}")
            levels.append(path)
        os.makedirs(path)
    for index in range(files):
        path = os.path.join(levels[index % len(levels)], file_name(rng, index))
        with open(path, "wb") as stream:
            stream.write(contents.next())


def generate_mixed(root: str, files: int, seed: int = 41) -> None:
    """Create root with small files, a few big ones, empty folders, non-ASCII names and symlinks."""
    rng = random.Random(seed)
    contents = Contents(rng)
    folders = [root]
    for index in range(max(4, files // 40)):
        parent = rng.choice(folders[-50:]) if rng.random() < 0.7 else rng.choice(folders)
        name = f"{rng.choice(NON_ASCII)}-{index}" if rng.random() < 0.1 else f"dir{index:05d}"
        folders.append(os.path.join(parent, name))
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    for index in range(max(4, files // 20)):
        os.makedirs(os.path.join(rng.choice(folders), f"empty{index:05d}"))
    written: list[str] = []
    for index in range(files):
        folder = rng.choice(folders)
        path = os.path.join(folder, file_name(rng, index, non_ascii_share=0.1))
        if written and rng.random() < 0.01:
            os.symlink(os.path.relpath(rng.choice(written), folder), path)
            continue
        with open(path, "wb") as stream:
            stream.write(contents.next())
        written.append(path)
    for index in range(max(2, files // 10_000)):
        write_random_file(Path(rng.choice(folders)) / f"big{index:02d}.bin", 16, rng.randrange(1 << 30))


def stdlib_sources() -> list[Path]:
    """Return the folders the stdlib shape copies: the standard library and site-packages."""
    paths = sysconfig.get_paths()
    library = Path(paths["stdlib"]).resolve()
    site = Path(paths["purelib"]).resolve()
    return [library] if site.is_relative_to(library) else [library, site]


def generate_stdlib(root: str, files: int) -> None:
    """Copy the standard library and site-packages (sorted walk) again and again until `files` files."""
    copied = 0
    for copy in range(files + 1):
        for source in stdlib_sources():
            for folder, dirs, names in os.walk(source):
                dirs.sort()
                relative = os.path.relpath(folder, source)
                target = os.path.normpath(os.path.join(root, f"copy{copy}", source.name, relative))
                os.makedirs(target, exist_ok=True)
                for name in sorted(names):
                    if copied >= files:
                        return
                    copied += copy_entry(os.path.join(folder, name), os.path.join(target, name))


def copy_entry(source: str, target: str) -> int:
    """Copy a regular file (with its times) or a symlink; return 1 if copied, 0 if skipped."""
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return 1
    try:
        shutil.copy2(source, target)
    except OSError:
        return 0
    return 1


GENERATORS: dict[str, Callable[[str, int], None]] = {
    "treegen": lambda root, files: generate_treegen(root, files, max(1, files // 20)),
    "wide": generate_wide,
    "deep": generate_deep,
    "mixed": generate_mixed,
    "stdlib": generate_stdlib,
}


def make_shape(shape: str, root: Path, files: int) -> None:
    """Write a fresh tree of this shape and about `files` files at root (which must not exist)."""
    if root.exists():
        raise FileExistsError(f"{root} exists; shapes are written into fresh folders")
    root.parent.mkdir(parents=True, exist_ok=True)
    GENERATORS[shape](str(root), files)


def count_files(root: Path) -> int:
    """Return the number of non-directory entries below root."""
    return sum(len(names) for _, _, names in os.walk(root))


def mutate_tree(root: str, fraction: float = 0.01, seed: int = 11) -> dict[str, int]:
    """Change about `fraction` of the files of root in every way; return counts per kind of change."""
    rng = random.Random(seed)
    files: list[str] = []
    for folder, _, names in os.walk(root):
        files.extend(os.path.join(folder, name) for name in names)
    files = sorted(path for path in files if not os.path.islink(path))
    chosen = rng.sample(files, min(len(files), max(6, int(len(files) * fraction))))
    counts = {"same_size_content": 0, "size": 0, "touch": 0, "delete": 0, "add": 0}
    for index, path in enumerate(chosen):
        kind = ("same_size_content", "size", "touch", "delete", "add")[index % 5]
        if kind == "same_size_content":
            stat = os.stat(path)
            if stat.st_size == 0:
                continue
            with open(path, "r+b") as stream:
                first = stream.read(1)
                stream.seek(0)
                stream.write(bytes([first[0] ^ 0xFF]))
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        elif kind == "size":
            with open(path, "ab") as stream:
                stream.write(b"appended\n")
        elif kind == "touch":
            os.utime(path, (1_700_000_000, 1_700_000_000))
        elif kind == "delete":
            os.unlink(path)
        else:
            with open(path + ".new", "wb") as stream:
                stream.write(rng.randbytes(700))
        counts[kind] += 1
    counts["renamed_dirs"] = rename_first_subfolder(root)
    return counts


def rename_first_subfolder(root: str) -> int:
    """Rename the first folder (sorted walk) at least two levels down that holds no folder.

    A leaf, so that a 1% mutation never moves a whole copy (on treegen: the first folder of d000).
    Returns how many folders were renamed (0 or 1).
    """
    for folder, dirs, _ in os.walk(root):
        dirs.sort()
        if not dirs and os.path.relpath(folder, root).count(os.sep) >= 1:
            os.rename(folder, folder + "-renamed")
            return 1
    return 0


def write_random_file(path: Path, mib: int, seed: int) -> None:
    """Write mib MiB of seeded random bytes (incompressible) to path."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        for _ in range(mib):
            stream.write(rng.randbytes(MIB))


def write_text_file(path: Path, mib: int, seed: int) -> None:
    """Write mib MiB of seeded text lines (compressible) to path."""
    pool = text_pool(random.Random(seed), MIB)[:MIB]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        for step in range(mib):
            cut = (step * 4099) % len(pool)
            stream.write(pool[cut:] + pool[:cut])


def make_big_files(root: Path, count: int, mib: int, seed: int = 3) -> None:
    """Write count files of mib MiB of random bytes each (every file different) into fresh root."""
    root.mkdir(parents=True)
    for index in range(count):
        write_random_file(root / f"big{index:02d}.bin", mib, seed * 1000 + index)


def main() -> None:
    """Write one shape from the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("shape", choices=SMALL_SHAPES)
    parser.add_argument("root", type=Path, help="folder to create (outside the repository)")
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    make_shape(args.shape, args.root, args.files)
    print(f"{args.root}: {count_files(args.root)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
