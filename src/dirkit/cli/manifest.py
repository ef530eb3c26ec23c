"""`dirkit manifest ROOT`: write a b3sum/sha256sum checksum file of a tree."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import BinaryIO

from dirkit.backends.temp_files import temp_path_beside
from dirkit.backends.trees import open_tree
from dirkit.cli.common import (
    add_filter_options,
    add_jobs_option,
    add_quiet_option,
    jobs_from_args,
    scan_options_from_args,
)
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.core.checksums.digest import WRITABLE_ALGORITHMS, DigestAlgorithm
from dirkit.core.tree.paths import RelPath, display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_OK, translate_os_error
from dirkit.ops.checksums.digests import DigestOptions
from dirkit.ops.checksums.manifest import ManifestOptions, build_manifest

DESCRIPTION = """\
Write a checksum file of every file below ROOT: one line per file, the digest, two spaces and
the path relative to ROOT, sorted by path. The lines are exactly what b3sum (blake3, the
default) or sha256sum (-a sha256) write, names holding a backslash or a newline included (they
are escaped as those tools do), so `b3sum -c` or `sha256sum -c` run inside ROOT accept the file
unchanged, and so does `dirkit verify`.

Digests are kept in a cache in dirkit's state folder: a file whose device, inode, size, mtime
and ctime are unchanged since it was last hashed is not read again, so a second run over an
unchanged tree costs about one directory scan. --no-cache reads every file.

Symlinks are left out unless --follow-symlinks is given; the manifest file itself is left out
when -o puts it inside ROOT.
"""

EPILOG = """\
exit status:
  0   every file was listed
  1   some files could not be read (they are named on stderr and left out)
  2   error (ROOT missing, output not writable, bad option)
  130 interrupted

examples:
  dirkit manifest photos -o photos.b3           # then: cd photos && b3sum -c ../photos.b3
  dirkit manifest -a sha256 src > SHA256SUMS
  dirkit manifest --exclude '*.tmp' --gitignore project -o project.b3
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the manifest command."""
    parser = commands.add_parser(
        "manifest",
        help="write a b3sum/sha256sum checksum file of a tree",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", metavar="ROOT", help="the tree to list (a directory)")
    parser.add_argument(
        "-a",
        "--algorithm",
        choices=[algorithm.value for algorithm in WRITABLE_ALGORITHMS],
        default=DigestAlgorithm.BLAKE3.value,
        help="digest algorithm (default: %(default)s, as b3sum; sha256 as sha256sum)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of standard output"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="read every file; neither use nor fill the cache"
    )
    add_jobs_option(parser, "files hashed at once (default: %(default)s)")
    add_quiet_option(parser, "do not name unreadable files on stderr")
    add_filter_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def write_output_atomically(path: str, data: bytes) -> None:
    """Write data to path through a temporary file in the same folder, then rename it into place."""
    from dirkit.ops.run.byte_copy import open_new_file  # loads thread pools: only when writing a file

    temp = temp_path_beside(os.path.abspath(path))
    try:
        descriptor = open_new_file(temp)
    except OSError as error:
        raise translate_os_error(error, path) from error
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as error:
        os.unlink(temp)
        raise translate_os_error(error, path) from error


def write_all(stream: BinaryIO, data: bytes) -> None:
    """Write all of data; a pipe whose reader went away raises BrokenPipeError, not a silent short write."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        if not written:
            raise BrokenPipeError(errno.EPIPE, "cannot write all output")
        view = view[written:]


def run(args: argparse.Namespace) -> int:
    """Hash every file of ROOT and write the checksum file; return the exit code."""
    jobs = jobs_from_args(args)
    backend = open_tree(args.root, remote=remote_options_from_args(args))
    leave_out: frozenset[RelPath] = frozenset()
    if args.output:
        from dirkit.ops.checksums.verify import path_inside_tree  # the verify machinery: only with -o

        inside = path_inside_tree(backend, args.output)
        if inside is not None:
            leave_out = frozenset({inside})
    options = ManifestOptions(
        scan=scan_options_from_args(args),
        digest=DigestOptions(DigestAlgorithm(args.algorithm), use_cache=not args.no_cache, jobs=jobs),
        leave_out=leave_out,
    )
    try:
        result = build_manifest(backend, options)
    finally:
        backend.close()
    if args.output:
        write_output_atomically(args.output, result.text)
    else:
        sys.stdout.flush()
        write_all(sys.stdout.buffer, result.text)
        sys.stdout.buffer.flush()
    if not args.quiet:
        for path, reason in sorted(result.failures.items()):
            print(f"dirkit: {display_path(path)}: {reason} (left out)", file=sys.stderr)
    return EXIT_DIFFERENCES if result.failures else EXIT_OK
