"""The historic benchmark tree (now shapes.py's `treegen` shape): ~100k small files in ~5,000 dirs.

Usage: python -m benchmarks.treegen BASE [--files N] [--dirs N] writes BASE/a, BASE/b (an exact
copy) and BASE/m (a 1%-mutated copy). The generator itself lives in benchmarks/shapes.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess

from benchmarks.shapes import generate_treegen, mutate_tree

generate_tree = generate_treegen
__all__ = ["generate_tree", "make_benchmark_trees", "mutate_tree"]


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
