"""What the executor records of uploads: hashes that survive a retried upload, rows that follow renames."""

from __future__ import annotations

import io

from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.tree.paths import RelPath
from dirkit.ops.checksums.digests import digest_bytes
from dirkit.ops.run.written import HashingReader
from dirkit.state.database import connect_state
from dirkit.state.digest_cache import DigestCache, FileIdentity

P = RelPath


def test_a_rewound_upload_is_hashed_once_and_a_skip_is_not_trusted() -> None:
    reader = HashingReader(io.BytesIO(b"abcdef"))
    reader.read(4)
    reader.seek(0)
    assert reader.read() == b"abcdef" and reader.count == 6 and reader.valid
    assert reader.hexdigest() == digest_bytes(b"abcdef", DigestAlgorithm.BLAKE3)
    reader.seek(2)
    assert not reader.valid


def test_rows_follow_a_renamed_folder_and_a_removed_file_loses_its_row() -> None:
    connection = connect_state()
    try:
        cache = DigestCache(connection, "url:ftp://h/site", DigestAlgorithm.BLAKE3)
        identity = FileIdentity(0, 0, 3, 1_600_000_000_000_000_000, 0)
        cache.remember(P("album/a"), identity, "d1")
        cache.remember(P("album/b/c"), identity, "d2")
        cache.remember(P("albums"), identity, "d3")
        cache.flush()
        cache.move(P("album"), P("trip/album"))
        cache.forget(P("albums"))
        cache.flush()
        again = DigestCache(connection, "url:ftp://h/site", DigestAlgorithm.BLAKE3)
        assert again.lookup(P("trip/album/a"), identity) == "d1"
        assert again.lookup(P("trip/album/b/c"), identity) == "d2"
        assert again.lookup(P("album/a"), identity) is None
        assert again.lookup(P("albums"), identity) is None
    finally:
        connection.close()
