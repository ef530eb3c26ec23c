"""`dirkit demo`: make two sample trees and compare them, to see what dirkit shows."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from dirkit.backends.trees import open_tree
from dirkit.cli.common import style_for, write_lines
from dirkit.core.compare.diff import changed_file_pairs
from dirkit.errors import EXIT_OK
from dirkit.ops.compare.textdiff import unified_diff_of
from dirkit.ops.compare.trees import compare_trees
from dirkit.ops.demo import make_demo_trees
from dirkit.report.compare import render_text


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the demo command."""
    parser = commands.add_parser(
        "demo",
        help="make two sample trees and compare them",
        description="Create two small sample trees in a new folder and show `dirkit compare` "
        "on them; the folder is kept so you can try other commands on it.",
    )
    parser.add_argument("--dir", help="where to create the sample trees (default: a new temp dir)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Create the sample trees, compare them, and print the result."""
    base = args.dir or tempfile.mkdtemp(prefix="dirkit-demo-")
    os.makedirs(base, exist_ok=True)
    left_path, right_path = make_demo_trees(base)
    print(f"$ dirkit compare --diff {left_path} {right_path}")
    left, right = open_tree(left_path), open_tree(right_path)
    diff = compare_trees(left, right)
    text_diffs = [
        unified_diff_of(left, right, left_entry, right_entry)
        for _, left_entry, right_entry in changed_file_pairs(diff.changes)
    ]
    write_lines(render_text(diff, style_for(sys.stdout, "auto"), text_diffs=text_diffs))
    print(f"\nThe sample trees are in {base}; try: dirkit compare --json {left_path} {right_path}")
    return EXIT_OK
