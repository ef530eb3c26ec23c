"""`dirkit apply FILE` for a plan saved by `dirkit sync --save-plan`: both trees, exactly as planned."""

from __future__ import annotations

import argparse
from dataclasses import replace

from dirkit.backends.trees import open_mirror_target, open_tree
from dirkit.cli.common import guards_from_args, jobs_from_args
from dirkit.cli.remote_options import remote_options_from_args
from dirkit.cli.runs import executing, journaled
from dirkit.cli.sync import print_planning, report_sync
from dirkit.core.sync.saved_plan import is_sync_plan_header
from dirkit.errors import EXIT_DIFFERENCES, EXIT_OK
from dirkit.ops.run.mirror import check_separate_trees
from dirkit.ops.sync.planning import SyncOptions, check_sync_options
from dirkit.ops.sync.saved import apply_saved_sync, plan_saved_sync, read_saved_sync


def is_sync_plan_file(path: str) -> bool:
    """Tell whether the file at path starts like a saved sync plan (unreadable: no, the reader says why)."""
    try:
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    return is_sync_plan_header(line)
    except (OSError, UnicodeDecodeError):
        return False
    return False


def run_sync_plan(args: argparse.Namespace) -> int:
    """Check a saved sync plan against both trees and their base, then run it; return the exit code."""
    saved = read_saved_sync(args.plan)
    options = replace(
        SyncOptions.from_json(saved.options),
        guards=guards_from_args(args),
        jobs=jobs_from_args(args),
        keep_backups=args.keep_backups,
    )
    check_sync_options(options)
    remote = remote_options_from_args(args)
    a = open_tree(saved.a, remote=remote)
    try:
        b = open_mirror_target(saved.b, create=not args.dry_run, remote=remote)
    except BaseException:
        a.close()
        raise
    try:
        check_separate_trees(a, b)
        with journaled() as journal:
            if args.dry_run:
                planning = plan_saved_sync(saved, a, b, journal, options)
                print_planning(planning, args)
                return EXIT_DIFFERENCES if planning.plan.unresolved else EXIT_OK
            with executing(args, fsync=args.fsync) as execute:
                result = apply_saved_sync(
                    saved, a, b, journal, options, execute, lambda planning: print_planning(planning, args)
                )
            return report_sync(result, args)
    finally:
        a.close()
        b.close()
