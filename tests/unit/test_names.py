"""The one home of dirkit's names: run ids, time stamps, backup folders and temporary names."""

from __future__ import annotations

import datetime

from dirkit.core.run.names import (
    BACKUP_ROOT,
    backup_dir_for,
    is_temp_name_for,
    run_id_at,
    temp_name_for,
    temp_name_start,
    utc_text,
)
from dirkit.core.tree.filters import TEMP_MARKER, is_reserved_name
from dirkit.core.tree.paths import RelPath, base_name, parent_path


def test_run_ids_sort_by_start_time_and_time_stamps_are_utc() -> None:
    early = datetime.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=datetime.UTC)
    later = early + datetime.timedelta(microseconds=1)
    assert run_id_at(early, "ffff") == "20260102T030405.000600Z-ffff"
    assert run_id_at(early, "ffff") < run_id_at(later, "0000")
    elsewhere = early.astimezone(datetime.timezone(datetime.timedelta(hours=5)))
    assert run_id_at(elsewhere, "ab") == run_id_at(early, "ab")
    assert utc_text(elsewhere) == "2026-01-02T03:04:05+00:00"


def test_backup_folders_are_named_by_run_id() -> None:
    assert backup_dir_for("r1") == RelPath(".dirkit/backups/r1")
    assert backup_dir_for("r1", BACKUP_ROOT) == backup_dir_for("r1")
    assert backup_dir_for("r1", RelPath("")) == RelPath("r1")


def test_recovery_finds_temporary_names_and_their_own_temporary_names() -> None:
    path = RelPath("dir/" + "n" * 300)
    temp = temp_name_for(path, "0001")
    temp_of_temp = temp_name_for(temp, "0002")
    start = temp_name_start(base_name(path))
    assert parent_path(temp) == parent_path(temp_of_temp) == RelPath("dir")
    assert len(base_name(temp)) < 255 and TEMP_MARKER in base_name(temp)
    assert is_temp_name_for(base_name(temp), {start})
    assert is_temp_name_for(base_name(temp_of_temp), {start})
    assert not is_temp_name_for(base_name(path), {start})
    assert not is_temp_name_for(base_name(temp_name_for(RelPath("dir/other"), "0003")), {start})
    assert is_reserved_name(base_name(temp), is_dir=False)
