"""dirkit's own folders (.dirkit, its backups, a custom backup folder) are never followed through links."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.cli.main import main
from dirkit.core.run.guards import GuardOptions
from dirkit.core.tree.paths import RelPath
from dirkit.errors import DirkitError, RefusedError
from dirkit.ops.archive.pack import PackOptions, pack_tree
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.ops.run.backups import list_backup_folders
from dirkit.ops.run.execute import ExecuteOptions, execute_plan
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees, plan_mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree

FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=1)


def _trees(make_tree: MakeTree) -> tuple[Path, Path, Path]:
    source = make_tree("src", {"a.txt": "the new a"})
    target = make_tree("dst", {"a.txt": "old a", "gone.txt": "deleted by the mirror"})
    elsewhere = make_tree("attacker", {})
    return source, target, elsewhere


def _unchanged(target: Path, elsewhere: Path) -> None:
    assert (target / "a.txt").read_text() == "old a"
    assert (target / "gone.txt").read_text() == "deleted by the mirror"
    assert [str(path.relative_to(elsewhere)) for path in elsewhere.rglob("*")] in ([], ["backups"])


@pytest.mark.parametrize(
    ("link", "backup_dir"),
    [
        (".dirkit", ".dirkit/backups"),
        (".dirkit/backups", ".dirkit/backups"),
        (".dirkit/mine", ".dirkit/mine/deeper"),
    ],
)
def test_a_link_in_the_backup_path_is_refused_before_anything_moves(
    make_tree: MakeTree, journal: Journal, link: str, backup_dir: str
) -> None:
    source, target, elsewhere = _trees(make_tree)
    (target / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(elsewhere, target / link)
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=1, backup_dir=RelPath(backup_dir))
    with pytest.raises(DirkitError, match=re.escape(f"{target}/{link}: ")) as refused:
        mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    assert refused.value.exit_code == 2
    _unchanged(target, elsewhere)
    # The executor checks again for every plan, whoever made it (here the same plan, applied as is).
    backend = LocalBackend(str(target))
    (target / link).unlink()
    plan = plan_mirror_trees(LocalBackend(str(source)), backend, options).plan
    os.symlink(elsewhere, target / link)
    with pytest.raises(
        RefusedError, match=re.escape(f"{target}/{link}: is a symbolic link (to {elsewhere})")
    ):
        execute_plan(
            plan, backend, journal, LocalBackend(str(source)), ExecuteOptions(backup_root=RelPath(backup_dir))
        )
    _unchanged(target, elsewhere)


def test_undo_refuses_to_move_files_through_a_linked_backup_folder(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"new.txt": "created by the mirror"})
    target = make_tree("dst", {})
    elsewhere = make_tree("attacker", {})
    assert mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE).ok
    assert not (target / ".dirkit").exists()
    os.symlink(elsewhere, target / ".dirkit")
    with pytest.raises(RefusedError, match=re.escape(f"{target}/.dirkit: is a symbolic link")):
        undo_run(journal, LocalBackend(str(target)))
    assert (target / "new.txt").read_text() == "created by the mirror"
    assert not list(elsewhere.iterdir())


def test_a_file_where_the_backups_go_is_refused(make_tree: MakeTree, journal: Journal) -> None:
    source, target, elsewhere = _trees(make_tree)
    (target / ".dirkit").write_text("not a folder")
    with pytest.raises(DirkitError, match=r"dst/\.dirkit: "):
        mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    _unchanged(target, elsewhere)


def test_mirror_and_backups_exit_2_naming_the_link(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target, elsewhere = _trees(make_tree)
    os.symlink(elsewhere, target / ".dirkit")
    assert main(["mirror", "--force", str(source), str(target)]) == 2
    err = capsys.readouterr().err
    assert f"{target}/.dirkit: " in err and "symlink" in err and "Traceback" not in err
    _unchanged(target, elsewhere)
    assert main(["backups", str(target)]) == 2
    assert f"{target}/.dirkit: is a symbolic link" in capsys.readouterr().err


def test_listing_backups_never_goes_through_a_link(make_tree: MakeTree, journal: Journal) -> None:
    target = make_tree("dst", {"a.txt": "a"})
    elsewhere = make_tree("attacker", {"backups/20200101T000000.000000Z-abcd/secret": "s"})
    os.symlink(elsewhere, target / ".dirkit")
    with pytest.raises(RefusedError, match="is a symbolic link"):
        list_backup_folders(LocalBackend(str(target)), journal)


def test_unpack_with_overwrite_refuses_a_linked_backup_folder(make_tree: MakeTree) -> None:
    source = make_tree("src", {"precious.txt": "v2"})
    dest = make_tree("dest", {"precious.txt": "keep me"})
    elsewhere = make_tree("attacker", {})
    archive = source.parent / "a.tar"
    pack_tree(str(source), str(archive), PackOptions())
    os.symlink(elsewhere, dest / ".dirkit")
    with pytest.raises(RefusedError, match=re.escape(f"{dest}/.dirkit: is a symbolic link")):
        unpack_archive(str(archive), str(dest), UnpackOptions(overwrite=True))
    assert (dest / "precious.txt").read_text() == "keep me"
    assert not list(elsewhere.iterdir())
