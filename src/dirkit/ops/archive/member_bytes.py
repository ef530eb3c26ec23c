"""The bytes of an archive's members as an unpack's copy steps read them, counted against the limits."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Mapping
from typing import BinaryIO, cast

from dirkit.core.archive.safety import check_totals
from dirkit.core.archive.unpack_plan import UnpackSettings
from dirkit.core.run.plan import Action
from dirkit.core.tree.paths import RelPath, display_path
from dirkit.errors import UsageError
from dirkit.ops.archive.members import DAMAGED_STREAM_ERRORS, TarMemberBytes
from dirkit.ops.archive.streams import CHUNK_BYTES


class WrittenBytes:
    """The bytes written so far, checked against the limits as they are read from the archive."""

    def __init__(self, settings: UnpackSettings, members: int) -> None:
        self.settings = settings
        self.members = members
        self.total = 0
        self.lock = threading.Lock()

    def add(self, count: int) -> None:
        """Count bytes read for DEST; raise ArchiveLimitError past a limit."""
        settings = self.settings
        with self.lock:
            self.total += count
            total = self.total
        check_totals(total, self.members, settings.archive_bytes, settings.limits, settings.archive)


class _CountedReader:
    """A member's bytes, counted against the limits; damaged data raises UsageError naming the member."""

    def __init__(self, stream: BinaryIO, counter: WrittenBytes, member: str) -> None:
        self.stream = stream
        self.counter = counter
        self.member = member

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self.stream.read(min(size, CHUNK_BYTES) if size >= 0 else CHUNK_BYTES)
        except DAMAGED_STREAM_ERRORS as error:
            archive = self.counter.settings.archive
            raise UsageError(f"{archive}: damaged member {display_path(self.member)}: {error}") from error
        if chunk:
            self.counter.add(len(chunk))
        return chunk

    def seekable(self) -> bool:
        """Say the bytes cannot be rewound (a retried upload of a member is not rewound either)."""
        return False

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> _CountedReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MemberBytes:
    """Opens the bytes of the member a copy action names (its source_path), counted against the limits."""

    def __init__(
        self,
        counter: WrittenBytes,
        zip_file: zipfile.ZipFile | None,
        zip_infos: Mapping[RelPath, zipfile.ZipInfo],
        tar: TarMemberBytes | None,
        tar_offsets: Mapping[RelPath, int],
    ) -> None:
        self.counter = counter
        self.zip_file = zip_file
        self.zip_infos = zip_infos
        self.tar = tar
        self.tar_offsets = tar_offsets

    @property
    def any_order(self) -> bool:
        """Tell whether members may be read in any order, from several threads (a plain tar)."""
        return self.tar is not None and self.tar.any_order

    def open(self, action: Action) -> BinaryIO:
        """Return the bytes of the member whose path is action's source_path."""
        wanted = action.source_path or action.path
        if self.zip_file is not None:
            stream = cast(BinaryIO, self.zip_file.open(self.zip_infos[wanted]))
        else:
            assert self.tar is not None
            stream = self.tar.open(self.tar_offsets[wanted], action.size)
        return cast(BinaryIO, _CountedReader(stream, self.counter, wanted))

    def close(self) -> None:
        """Release the archive."""
        if self.tar is not None:
            self.tar.close()
        if self.zip_file is not None:
            self.zip_file.close()
