"""`dirkit verify MANIFEST [ROOT]`: check a tree against a checksum file."""

from __future__ import annotations

import argparse
import os
import sys

from dirkit.backends.trees import open_tree
from dirkit.cli.common import (
    add_filter_options,
    add_html_options,
    add_jobs_option,
    add_output_options,
    jobs_from_args,
    scan_options_from_args,
    style_for,
    write_lines,
)
from dirkit.cli.html_report import check_html_args, write_html_report
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.tree.paths import RelPath
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK
from dirkit.ops.checksums.verify import VerifyOptions, path_inside_tree, read_manifest_file, verify_tree
from dirkit.report.verify import render_json_lines, render_text

DESCRIPTION = """\
Check the files below ROOT (default: the current directory, as `sha256sum -c` does) against
a checksum file, and report each file as OK, FAILED (its bytes differ), MISSING (listed but
not found) or NEW (found but not listed). Every listed file is read in full: the digest cache
is never trusted here, because bit rot changes bytes without touching size, mtime or ctime.

The checksum file may come from `dirkit manifest`, b3sum, sha256sum, sha1sum or md5sum (plain
or --tag lines, text or binary mode, escaped names). The algorithm follows from the digest
length; 64 hex digits fit both blake3 and sha256, told apart by the file name (.b3, SHA256SUMS)
or by trying both on the first listed files; -a settles it.

New files are looked for with the same filters as `dirkit manifest` (--exclude, --gitignore);
--no-new leaves them out. The checksum file itself is never reported as new.
"""

EPILOG = """\
exit status:
  0   every listed file is OK and no file is new
  1   some file FAILED, is MISSING or is NEW
  2   error (a file or a manifest line could not be read, bad option)
  130 interrupted

examples:
  dirkit verify photos.b3 photos
  cd src && dirkit verify ../SHA256SUMS
  dirkit verify --json -a sha256 backup.sums /mnt/backup | jq -r 'select(.status=="failed") | .path'
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the verify command."""
    parser = commands.add_parser(
        "verify",
        help="check a tree against a checksum file (b3sum, sha256sum, md5sum, sha1sum)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="the checksum file")
    parser.add_argument("root", metavar="ROOT", nargs="?", default=".", help="the tree (default: .)")
    parser.add_argument(
        "-a",
        "--algorithm",
        choices=[algorithm.value for algorithm in DigestAlgorithm],
        help="the manifest's algorithm (default: from the digest length and the file name)",
    )
    parser.add_argument("--no-new", action="store_true", help="do not report files missing from the manifest")
    add_jobs_option(parser, "files hashed at once (default: %(default)s)")
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    add_html_options(parser, "every verdict")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Verify ROOT against MANIFEST and print the verdicts; return the exit code."""
    jobs = jobs_from_args(args)
    check_html_args(args)
    manifest = read_manifest_file(args.manifest)
    backend = open_tree(args.root, remote=remote_options_from_args(args))
    inside = path_inside_tree(backend, args.manifest)
    options = VerifyOptions(
        algorithm=DigestAlgorithm(args.algorithm) if args.algorithm else None,
        scan=scan_options_from_args(args),
        report_new=not args.no_new,
        jobs=jobs,
        manifest_name=os.path.basename(args.manifest),
        leave_out=frozenset({inside}) if inside is not None else frozenset[RelPath](),
    )
    try:
        result = verify_tree(backend, manifest, options)
    finally:
        backend.close()
    if args.html:
        from dirkit.report.html_rows import verify_report

        write_html_report(args, verify_report(result, args.manifest, args.root))
    if args.quiet:
        pass
    elif args.json:
        write_lines(render_json_lines(result))
    else:
        write_lines(render_text(result, style_for(sys.stdout, args.color), show_ok=args.verbose > 0))
    if result.has_errors:
        return EXIT_ERROR
    return EXIT_OK if result.all_ok else EXIT_DIFFERENCES
