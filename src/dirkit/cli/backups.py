"""`dirkit backups DST`: list the runs on DST with the size of their backups; --prune applies retention."""

from __future__ import annotations

import argparse
import sys

from dirkit.backends.trees import open_tree
from dirkit.cli.common import add_output_options, write_lines
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import journaled
from dirkit.core.tree.paths import display_path
from dirkit.errors import EXIT_ERROR, EXIT_OK, BackendError, UsageError
from dirkit.ops.run.backups import DEFAULT_KEEP, BackupFolder, list_backup_folders, prune_backups
from dirkit.ops.run.recovery import claim_tree
from dirkit.report.plan import human_bytes
from dirkit.report.run import backup_folder_json, backup_folder_text

DESCRIPTION = """\
List the runs on DST (mirror, apply, undo), oldest first: run id, what the run was, its
status, and how many files and bytes its backup folder holds (runs that replaced or deleted
nothing have none). The backups are what 'dirkit undo' restores from.

--prune deletes the backup folders of all but the newest --keep runs, for good (mirror does
this by itself after each successful run with its --keep-backups, default 20).
"""

EPILOG = """\
exit status:
  0   listed (or pruned)
  2   error: DST is missing, or a backup folder could not be removed
  130 interrupted

examples:
  dirkit backups /mnt/backup/photos
  dirkit backups --prune --keep 5 /mnt/backup/photos
  dirkit backups --json /mnt/backup/photos | jq -r .run_id
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the backups command."""
    parser = commands.add_parser(
        "backups",
        help="list the backups of the runs on a tree, or prune old ones",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="DST", help="the tree whose backups to list")
    parser.add_argument("--prune", action="store_true", help="delete all but the newest --keep backups")
    parser.add_argument(
        "--keep",
        metavar="N",
        type=int,
        default=DEFAULT_KEEP,
        help="how many runs' backups --prune keeps (default: %(default)s)",
    )
    add_output_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List or prune the backups of a tree; return the exit code."""
    if args.keep < 0:
        raise UsageError("--keep must not be negative")
    target = open_tree(args.target, remote=remote_options_from_args(args))
    failed: list[str] = []

    def note_failure(folder: BackupFolder, error: BackendError) -> None:
        failed.append(f"dirkit: cannot prune the backups of run {folder.run_id}: {error}")

    try:
        with journaled() as journal, claim_tree(journal, target, "backups"):
            if args.prune:
                folders = prune_backups(target, journal, args.keep, measure=True, on_failure=note_failure)
            else:
                folders = list_backup_folders(target, journal, every_run=True)
    finally:
        target.close()
    for line in failed:
        print(line, file=sys.stderr)
    if args.quiet:
        return EXIT_ERROR if failed else EXIT_OK
    if args.json:
        write_lines(backup_folder_json(folder, args.prune) for folder in folders)
    elif not folders:
        print(f"{display_path(target.description)}: no backups" if not args.prune else "nothing to prune")
    else:
        write_lines(backup_folder_text(folder, args.prune) for folder in folders)
        total = sum(folder.bytes for folder in folders)
        verb = "pruned" if args.prune else "held"
        count = sum(1 for folder in folders if folder.exists)
        print(f"{count} backup folders, {human_bytes(total)} {verb}")
    return EXIT_ERROR if failed else EXIT_OK
