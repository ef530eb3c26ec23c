"""Generate benchmark trees: ~100k mostly small files in ~5,000 dirs, and a 1%-mutated copy."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess

NON_ASCII = ["café", "naïve", "Ünïcödé", "日本語", "данные", "ελληνικά"]


def generate_tree(root: str, files: int, dirs: int, seed: int = 7) -> None:
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


def mutate_tree(root: str, fraction: float = 0.01, seed: int = 11) -> dict[str, int]:
    """Change about `fraction` of the files of root in every way; return counts per kind of change."""
    rng = random.Random(seed)
    files: list[str] = []
    for folder, _, names in os.walk(root):
        files.extend(os.path.join(folder, name) for name in names)
    files.sort()
    chosen = rng.sample(files, max(6, int(len(files) * fraction)))
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
    top_dirs = sorted(entry.path for entry in os.scandir(root) if entry.is_dir())
    victim = sorted(entry.path for entry in os.scandir(top_dirs[0]) if entry.is_dir())[0]
    os.rename(victim, victim + "-renamed")
    counts["renamed_dirs"] = 1
    return counts


def make_benchmark_trees(base: str, files: int, dirs: int) -> tuple[str, str, str]:
    """Create base/a, base/b (an exact copy of a) and base/m (a mutated copy); return the three."""
    a, b, m = (os.path.join(base, name) for name in ("a", "b", "m"))
    if os.path.isdir(m):
        return a, b, m
    if os.path.exists(base):
        shutil.rmtree(base)
    generate_tree(a, files, dirs)
    subprocess.run(["cp", "-a", a, b], check=True)
    subprocess.run(["cp", "-a", a, m], check=True)
    mutate_tree(m)
    return a, b, m


def main() -> None:
    """Generate the trees from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", help="folder to create (outside the repository)")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=5_000)
    args = parser.parse_args()
    for path in make_benchmark_trees(args.base, args.files, args.dirs):
        print(path)


if __name__ == "__main__":
    main()
