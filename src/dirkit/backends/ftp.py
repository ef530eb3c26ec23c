"""The FTP and FTPS backend: one tree on a server, used through a bounded pool of ftplib connections."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ftplib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

from dirkit.backends.ftp_commands import (
    Probed,
    file_times,
    first_refusal,
    mlsd_facts,
    pipelined,
    probe_path,
    read_listing,
    time_command,
    upload_finish,
)
from dirkit.backends.ftp_known import KnownNames
from dirkit.backends.ftp_listing import (
    WHOLE_SECOND_NS,
    Listed,
    ServerTraits,
    entry_of,
    format_ftp_time,
    from_wire,
    has_line_break,
    parse_ftp_time,
    parse_list_line,
    parse_mlsd_facts,
    parse_stat_listing,
    refuse_dir,
    require_absent,
    require_dir,
    require_file,
    require_some,
    to_wire,
)
from dirkit.backends.ftp_replies import NotAListingError, stat_lines
from dirkit.backends.ftp_session import (
    DEFAULT_TIMEOUT_S,
    FTP_ERRORS,
    ConnectionPool,
    FtpConnector,
    LeanSession,
    TlsFtp,
    TlsOptions,
    reply_code,
    translate_ftp_error,
)
from dirkit.backends.ftp_transfer import (
    BLOCK,
    KEEPALIVE_S,
    Leftovers,
    PartialDownloads,
    retrieve_into,
    store,
    store_small,
)
from dirkit.backends.protocol import Capabilities
from dirkit.backends.trees import DEFAULT_CONNECTIONS
from dirkit.backends.urls import Login, RemoteLocation
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, base_name, join_path, parent_path
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    ConnectionLostError,
    NotADirError,
    NotFoundError,
    TransientError,
    TreeNotFoundError,
    UnsupportedError,
)

SPARE_PORT_S = 5.0
"""How long a passive port opened ahead is trusted to still take the next upload."""
SPOOL_IN_MEMORY = 8 * 1024 * 1024
"""Bytes of a download kept in memory before its spool file moves to disk."""
MLSD_FACTS = ["type", "size", "modify", "unix.mode"]
TEMPORARY_PREFIX = ".dirkit-part-"
NO_TIMES = "\0"
"""A times_for that no name matches: list without asking any MDTM."""


class CountingReader:
    """A binary reader that counts the bytes read through it (bytes given back are read again first)."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.count = 0
        self._given_back = b""

    def read(self, size: int = -1) -> bytes:
        """Return the next bytes of the source."""
        if self._given_back:
            data = self._given_back if size < 0 else self._given_back[:size]
            self._given_back = self._given_back[len(data) :]
            return data
        data = self._source.read(size)
        self.count += len(data)
        return data

    def unread(self, data: bytes) -> None:
        """Give back bytes just read, to be read again (they stay counted)."""
        self._given_back = data + self._given_back


class FtpBackend:
    """A tree below a folder of an FTP or FTPS server; thread-safe through its connection pool."""

    def __init__(
        self,
        location: RemoteLocation,
        login: Login,
        *,
        tls: TlsOptions | None = None,
        connections: int = DEFAULT_CONNECTIONS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        create: bool = False,
        check_idle_after_s: float = 10.0,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self._location = location
        self.warnings = login.warnings
        """What the CLI should tell the user about how this tree was opened (never a secret)."""
        self._connector = FtpConnector(location, login, tls or TlsOptions(), timeout_s)
        self._pool = ConnectionPool(self._connector, connections, check_idle_after_s)
        self._keepalive_s = keepalive_s
        self._partials = PartialDownloads()
        self._leftovers = Leftovers()
        self._cut_uploads: dict[RelPath, RelPath] = {}
        """Paths whose last upload a transient error cut short, with that upload's temporary name."""
        self._known = KnownNames()
        try:
            traits = self._connect_root(create)
        except BaseException:
            self._pool.close()
            raise
        self._capabilities = Capabilities(
            mtime_resolution_ns=WHOLE_SECOND_NS,
            can_set_mtime=traits.can_set_mtime,
            can_set_mode=traits.site_chmod,
            case_sensitive=True,
            symlinks=False,
            rename_replaces=traits.replaces_on_rename,
            parallel_connections=self._pool.size,
            hard_links=False,
        )

    def _connect_root(self, create: bool) -> ServerTraits:
        """Log in, read the traits and find the root folder (made, with its parents, if create)."""
        with self._pool.connection() as ftp:
            traits = self._connector.traits
            assert traits is not None
            self._traits = traits
            self._stat_lists = traits.stat_lists and not traits.mlsd
            folder, path = self._connector.login_folder, self._location.path
            base = path if path.startswith("/") else f"{folder.rstrip('/')}/{path}".rstrip("/")
            self._base = base or "/"
            try:
                ftp.cwd(to_wire(self._base))
                return traits
            except ftplib.error_perm:
                if not create:
                    raise TreeNotFoundError(
                        errno.ENOENT, "no such folder on the server", self._location.url
                    ) from None
            self._make_root(ftp, folder)
            return traits

    def _make_root(self, ftp: ftplib.FTP, login_folder: str) -> None:
        """Create the tree's root folder and its missing parents below the login folder (or '/')."""
        path = self._location.path
        built = "" if path.startswith("/") else login_folder.rstrip("/")
        for part in [part for part in path.split("/") if part]:
            built = f"{built}/{part}"
            try:
                ftp.cwd(to_wire(built))
            except ftplib.error_perm:
                try:
                    ftp.mkd(to_wire(built))
                except FTP_ERRORS as error:
                    raise translate_ftp_error(error, self._location.url) from None

    @property
    def capabilities(self) -> Capabilities:
        """Return what this server can do, as read once at connect."""
        return self._capabilities

    @property
    def description(self) -> str:
        """Return the tree's normalized URL, without secrets."""
        return self._location.url

    def _wire(self, path: RelPath) -> str:
        """Return the server path of path as ftplib sends it; refuse names holding CR or LF."""
        if has_line_break(path):
            raise BackendError(errno.EINVAL, "a name with CR or LF cannot be sent over FTP", path)
        full = self._base if not path else f"{self._base.rstrip('/')}/{path}"
        return to_wire(full)

    @contextlib.contextmanager
    def _session(self, path: RelPath) -> Iterator[ftplib.FTP]:
        """Yield a pooled connection; anything ftplib raises inside leaves as a dirkit error kind."""
        with self._pool.connection() as ftp:
            try:
                yield ftp
            except FTP_ERRORS as error:
                raise translate_ftp_error(error, self._shown(path)) from None

    def _shown(self, path: RelPath) -> str:
        """Return path as messages name it: the tree's URL and the path below it."""
        return f"{self._location.url}/{path}" if path else self._location.url

    def _refine(
        self, ftp: ftplib.FTP, path: RelPath, error: ftplib.Error, check: Callable[[Entry | None], None]
    ) -> None:
        """Raise a kind more precise than a refused reply gives, from what is at path; else the reply's."""
        check(self._stat_or_none(ftp, path))
        raise translate_ftp_error(error, self._shown(path)) from None

    def _stat_or_none(self, ftp: ftplib.FTP, path: RelPath) -> Entry | None:
        """Return the entry at path, or None if there is none."""
        try:
            return self._stat_on(ftp, path)
        except NotFoundError:
            return None

    # Reading

    def _listed(self, ftp: ftplib.FTP, path: RelPath, times_for: str = "") -> list[Listed]:
        """Return the children of a folder; on LIST servers MDTM gives times (of times_for only, if set)."""
        wire = self._wire(path)
        listed = self._stat_listed(ftp, path, wire) if self._stat_lists else None
        if listed is None:
            try:
                ftp.cwd(wire)
            except ftplib.error_perm as error:
                self._refine(ftp, path, error, lambda found: require_dir(found, path, self._shown(path)))
            if self._traits.mlsd:
                ftp.sendcmd("OPTS MLST " + "".join(f"{fact};" for fact in MLSD_FACTS))
                found = [
                    parse_mlsd_facts(from_wire(name), facts)
                    for name, facts in map(mlsd_facts, read_listing(ftp, "MLSD"))
                ]
                return [item for item in found if item is not None]
            lines = read_listing(ftp, "LIST -a")
            listed = [item for item in map(parse_list_line, map(from_wire, lines)) if item is not None]
        if not self._traits.mdtm:
            return listed
        timed = [
            index
            for index, item in enumerate(listed)
            if item.kind is EntryKind.FILE
            and (not times_for or item.name == times_for)
            and not has_line_break(item.name)
        ]
        times = file_times(ftp, [self._wire(join_path(path, listed[index].name)) for index in timed])
        for index, mtime_ns in zip(timed, times, strict=True):
            listed[index] = dataclasses.replace(listed[index], mtime_ns=mtime_ns)
        return listed

    def _stat_listed(self, ftp: ftplib.FTP, path: RelPath, wire: str) -> list[Listed] | None:
        """Return a folder's children from a STAT listing (one reply, no data connection), or None.

        None when the server refused or listed no folder there: CWD and LIST then say what is
        there. A listing that does not parse may have put the session out of step: the connection
        is dropped (a transient error, so the call is retried) and the tree lists with LIST from then on.
        """
        try:
            lines = stat_lines(ftp, wire)
            listed = parse_stat_listing([from_wire(line) for line in lines])
        except ftplib.error_perm as error:
            if reply_code(error) in ("500", "502"):
                self._stat_lists = False
            return None
        except (NotAListingError, ValueError) as error:
            self._stat_lists = False
            raise ConnectionLostError(
                errno.EPROTO, f"a STAT listing was not understood ({error})", self._shown(path)
            ) from None
        return listed

    def _mdtm(self, ftp: ftplib.FTP, path: RelPath) -> int | None:
        """Return a file's time by MDTM, or None if the server gives none."""
        try:
            reply = ftp.sendcmd("MDTM " + self._wire(path))
        except ftplib.error_perm:
            return None
        return parse_ftp_time(reply[4:]) if reply.startswith("213") else None

    def _stat_on(self, ftp: ftplib.FTP, path: RelPath) -> Entry:
        """Return the entry at path, found in its parent's listing."""
        if not path:
            try:
                ftp.cwd(self._wire(ROOT))
            except ftplib.error_perm:
                raise TreeNotFoundError(
                    errno.ENOENT, "no such folder on the server", self._shown(ROOT)
                ) from None
            return Entry(ROOT, EntryKind.DIR)
        probe = probe_path(ftp, self._wire(path), self._traits.mdtm)
        if probe.found is Probed.ABSENT:
            raise NotFoundError(errno.ENOENT, "no such file or folder", self._shown(path))
        if not self._traits.site_chmod:  # all a listing would add is a mode this server does not keep
            if probe.found is Probed.FOLDER:
                return Entry(path, EntryKind.DIR)
            if probe.found is Probed.FILE:
                return Entry(path, EntryKind.FILE, probe.size, probe.mtime_ns)
        name = base_name(path)
        try:
            children = self._listed(ftp, parent_path(path), times_for=name)
        except NotADirError:
            children = []
        for item in children:
            if item.name == name:
                return entry_of(path, item)
        raise NotFoundError(errno.ENOENT, "no such file or folder", self._shown(path))

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path; a name this backend's own listing just showed free is not asked again.

        That answer is a forecast (ftp_known.py): a write to the name checks it on the server, in the
        upload's own batch of commands, and never replaces what appeared there since.
        """
        if self._known.free(path):
            raise NotFoundError(errno.ENOENT, "no such file or folder", self._shown(path))
        with self._session(path) as ftp:
            return self._stat_on(ftp, path)

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return the entries of a folder's children."""
        changes = self._known.changes()
        with self._session(path) as ftp:
            listed = self._listed(ftp, path)
        self._known.listed(path, [item.name for item in listed], changes)
        return [entry_of(join_path(path, item.name), item) for item in listed]

    def open_read(self, path: RelPath) -> BinaryIO:
        """Return a file's bytes, downloaded into a spool (memory, then disk) so no connection stays held."""
        spool = self._partials.take(path) or cast(
            BinaryIO,
            tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY),  # noqa: SIM115 (returned open)
        )
        try:
            with self._session(path) as ftp:
                try:
                    retrieve_into(ftp, "RETR " + self._wire(path), spool, self._keepalive_s)
                except ftplib.error_perm as error:
                    self._refine(ftp, path, error, lambda found: require_file(found, path, self._shown(path)))
        except TransientError:
            self._partials.keep(path, spool)
            raise
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    # Writing

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Upload source under a temporary name beside path, set its time and mode, rename it into place."""
        self._wire(path)
        temporary = join_path(parent_path(path), f"{TEMPORARY_PREFIX}{uuid.uuid4().hex[:12]}")
        reader = CountingReader(source)
        unverified = self._known.unverified(path)
        self._known.changed(path)
        cut_before = self._cut_uploads.pop(path, None)
        try:
            written = self._upload(path, temporary, reader, mtime_ns, mode, unverified, cut_before)
        except TransientError:
            self._leftovers.add(temporary)
            self._cut_uploads[path] = temporary
            raise
        except AlreadyExistsError:
            self._known.verified(path)
            raise
        self._known.verified(path)
        return written

    def _upload(
        self,
        path: RelPath,
        temporary: RelPath,
        reader: CountingReader,
        mtime_ns: int | None,
        mode: int | None,
        unverified: bool = False,
        cut_before: RelPath | None = None,
    ) -> Entry:
        """Store reader under temporary, set its time and mode, and rename it to path.

        When path was only forecast free (unverified), SIZE path goes out as soon as the upload's data
        is sent, and the upload is not renamed into place if the server says a file is there now,
        unless it is this write's own earlier attempt (cut_before, its temporary name), whose rename
        went through before the connection dropped: its temporary is gone and path holds its size
        and time.
        """
        with self._session(path) as ftp:
            cut_left_temporary = cut_before is not None and self._stat_or_none(ftp, cut_before) is not None
            self._leftovers.remove_all(lambda name: ftp.delete(self._wire(name)))
            checks = ("SIZE " + self._wire(path),) if unverified else ()
            try:
                command, stream = "STOR " + self._wire(temporary), cast(BinaryIO, reader)
                answers = self._store_fast(ftp, command, stream, checks)
                if answers is None:
                    answers = store(ftp, command, stream, self._keepalive_s, checks, self._traits.stat_lists)
            except ftplib.error_perm as error:
                self._refine(
                    ftp, parent_path(path), error, lambda found: require_dir(found, path, self._shown(path))
                )
            try:
                if unverified:
                    assert answers is not None  # a refused STOR raised above
                    try:
                        self._require_still_free(ftp, path, answers[0])
                    except AlreadyExistsError:
                        placed = (
                            None
                            if cut_before is None or cut_left_temporary
                            else self._stat_or_none(ftp, path)
                        )
                        if placed is None or not self._is_upload_of(placed, reader.count, mtime_ns):
                            raise
                        ftp.delete(self._wire(temporary))
                        return placed
                self._finish_upload(ftp, temporary, path, mtime_ns, mode)
            except BaseException:
                with contextlib.suppress(*FTP_ERRORS, BackendError):
                    ftp.delete(self._wire(temporary))
                raise
            if mtime_ns is not None and self._traits.can_set_mtime:
                kept: int | None = mtime_ns - mtime_ns % WHOLE_SECOND_NS
            else:
                kept = self._mdtm(ftp, path) if self._traits.mdtm else None
        kept_mode = mode & 0o7777 if mode is not None and self._traits.site_chmod else 0
        return Entry(path, EntryKind.FILE, reader.count, kept, kept_mode)

    def _is_upload_of(self, found: Entry, size: int, mtime_ns: int | None) -> bool:
        """Tell whether found is a file of the size, and (where times are set) the time, an upload gave."""
        if found.kind is not EntryKind.FILE or found.size != size:
            return False
        if mtime_ns is None or not self._traits.can_set_mtime:
            return True
        return found.mtime_ns == mtime_ns - mtime_ns % WHOLE_SECOND_NS

    def _require_still_free(self, ftp: ftplib.FTP, path: RelPath, answer: str | ftplib.Error) -> None:
        """Raise AlreadyExistsError if a file is at path now (SIZE's answer, else asked here)."""
        if isinstance(answer, ftplib.error_perm) and reply_code(answer) == "550":
            return  # no file there (a folder that appeared makes the rename fail)
        if not (isinstance(answer, str) and answer.startswith("213")):
            found = self._stat_or_none(ftp, path)
            if found is None or found.kind is EntryKind.DIR:
                return
        raise AlreadyExistsError(
            errno.EEXIST, "appeared after the tree was listed; left alone", self._shown(path)
        )

    def _store_fast(
        self, ftp: ftplib.FTP, command: str, stream: BinaryIO, checks: tuple[str, ...]
    ) -> list[str | ftplib.Error] | None:
        """Upload a small file to the passive port the last upload's rename opened ahead, if there is one.

        None (nothing sent, the first block kept in the stream) when there is no fresh spare port,
        the file is larger than one block, or the port no longer answers.
        """
        spare = ftp.spare_port if isinstance(ftp, LeanSession) else None
        if spare is None or ftp.sock is None or not isinstance(stream, CountingReader):
            return None
        assert isinstance(ftp, LeanSession)
        ftp.spare_port = None
        port, since = spare
        if time.monotonic() - since > SPARE_PORT_S:
            return None
        data = stream.read(BLOCK)
        rest = stream.read(BLOCK) if len(data) == BLOCK else b""
        answers = None
        if not rest:
            answers = store_small(ftp, (ftp.sock.getpeername()[0], port), command, data, checks)
        if answers is None:
            stream.unread(data + rest)
        return answers

    def _finish_upload(
        self, ftp: ftplib.FTP, temporary: RelPath, path: RelPath, mtime_ns: int | None, mode: int | None
    ) -> None:
        """Give an uploaded temporary file its mode and time and rename it into place, pipelined.

        The commands go out together and every reply is read (one round trip instead of three). If
        the rename went through but a metadata command was refused, the complete file is in place
        and the refusal is raised; a rerun sets what is missing.
        """
        renames = self._traits.replaces_on_rename
        stamp = None if mtime_ns is None else format_ftp_time(mtime_ns)
        commands = upload_finish(self._traits, self._wire(temporary), self._wire(path), stamp, mode)
        spare = self._opens_spare_ports(ftp)
        replies = pipelined(ftp, [*commands, "EPSV"] if spare else commands)
        if spare:
            self._keep_spare_port(ftp, replies.pop())
        refusal = first_refusal(replies)
        if refusal is None:
            if not renames:
                self._move(ftp, temporary, path, replace=True)
            return
        if renames and isinstance(replies[-1], str):
            raise translate_ftp_error(refusal, self._shown(path)) from None
        if renames and refusal in replies[-2:] and isinstance(refusal, ftplib.error_perm):
            self._refine(ftp, path, refusal, lambda found: refuse_dir(found, path, self._shown(path)))
        raise refusal

    def _opens_spare_ports(self, ftp: ftplib.FTP) -> bool:
        """Tell whether an upload's rename should ask a passive port for the next upload (plain vsftpd)."""
        return (
            self._traits.stat_lists
            and isinstance(ftp, LeanSession)
            and not isinstance(ftp, TlsFtp)
            and ftp.use_epsv
            and ftp.epsv_proven
        )

    def _keep_spare_port(self, ftp: ftplib.FTP, reply: str | ftplib.Error) -> None:
        """Keep the port an EPSV reply names for the session's next upload."""
        if isinstance(ftp, LeanSession) and isinstance(reply, str) and reply.startswith("229"):
            with contextlib.suppress(ftplib.Error, ValueError):
                ftp.spare_port = (ftplib.parse229(reply, ("", 0))[1], time.monotonic())

    def reconnect(self) -> None:
        """Have every idle connection checked before its next use (a fault may have cut them all)."""
        self._pool.check_idle()

    def _move(self, ftp: ftplib.FTP, old: RelPath, new: RelPath, replace: bool) -> None:
        """Rename old to new on the server; a replace frees the name first where renames do not replace."""
        if replace and not self._traits.replaces_on_rename:
            with contextlib.suppress(NotFoundError):
                existing = self._stat_on(ftp, new)
                require_file(existing, new, self._shown(new))
                self._remove_on(ftp, existing)
        try:
            ftp.rename(self._wire(old), self._wire(new))
        except ftplib.error_perm as error:
            self._refine(ftp, new, error, lambda found: refuse_dir(found, new, self._shown(new)))

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Create a folder (its parent must exist)."""
        self._known.changed(path)
        with self._session(path) as ftp:
            try:
                ftp.mkd(self._wire(path))
            except ftplib.error_perm as error:
                self._refine(ftp, path, error, lambda found: require_absent(found, path, self._shown(path)))
            self._known.made(path)
            if mode is not None and self._traits.site_chmod:
                self._chmod(ftp, path, mode)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """FTP cannot make symlinks."""
        raise UnsupportedError(errno.EOPNOTSUPP, "an FTP server cannot hold symlinks", self._shown(path))

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """FTP cannot make hard links."""
        raise UnsupportedError(errno.EOPNOTSUPP, "an FTP server cannot hold hard links", self._shown(new))

    def remove_file(self, path: RelPath) -> None:
        """Remove a file."""
        self._known.changed(path)
        with self._session(path) as ftp:
            try:
                ftp.delete(self._wire(path))
            except ftplib.error_perm as error:
                self._refine(ftp, path, error, lambda found: refuse_dir(found, path, self._shown(path)))

    def _remove_on(self, ftp: ftplib.FTP, entry: Entry) -> None:
        """Remove a file or an empty folder found at entry's path."""
        if entry.kind is EntryKind.DIR:
            self._rmd(ftp, entry.path)
        else:
            ftp.delete(self._wire(entry.path))

    def _rmd(self, ftp: ftplib.FTP, path: RelPath) -> None:
        """Remove an empty folder, saying why not when it is missing, a file, or not empty."""
        if not path:
            raise BackendError(errno.EBUSY, "cannot remove the root of the tree", self._shown(path))
        try:
            ftp.rmd(self._wire(path))
        except ftplib.error_perm as error:
            found = self._stat_on(ftp, path)
            if found.kind is not EntryKind.DIR:
                raise NotADirError(errno.ENOTDIR, "not a folder", self._shown(path)) from None
            if self._listed(ftp, path, times_for=NO_TIMES):
                raise BackendError(errno.ENOTEMPTY, "folder not empty", self._shown(path)) from None
            raise translate_ftp_error(error, self._shown(path)) from None

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty folder."""
        self._known.moved(path)
        with self._session(path) as ftp:
            self._rmd(ftp, path)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename old to new; unless replace, refuse when new exists."""
        self._known.moved(old)
        self._known.moved(new)
        with self._session(old) as ftp:
            if old != new and self._renamed_at_once(ftp, old, new, replace):
                return
            self._stat_on(ftp, old)
            try:
                existing: Entry | None = self._stat_on(ftp, new)
            except NotFoundError:
                existing = None
            if existing is not None and old != new:
                if not replace:
                    raise AlreadyExistsError(errno.EEXIST, "already exists", self._shown(new))
                if existing.kind is EntryKind.DIR or not self._traits.replaces_on_rename:
                    self._remove_on(ftp, existing)
            self._move(ftp, old, new, replace=False)

    def _renamed_at_once(self, ftp: ftplib.FTP, old: RelPath, new: RelPath, replace: bool) -> bool:
        """Rename after one probe of new, with RNFR and RNTO sent together: two round trips, not four.

        A refused RNFR (old is missing) leaves no rename pending, so the RNTO behind it is refused
        too and nothing moves. Return False, having changed nothing, when the probe cannot tell what
        is at new or something at new would have to be removed first (the careful way does that).
        """
        probe = probe_path(ftp, self._wire(new), with_time=False)
        if probe.found is Probed.UNKNOWN:
            return False
        if probe.found is not Probed.ABSENT:
            if not replace:
                raise AlreadyExistsError(errno.EEXIST, "already exists", self._shown(new))
            if probe.found is Probed.FOLDER or not self._traits.replaces_on_rename:
                return False
        started, finished = pipelined(ftp, [f"RNFR {self._wire(old)}", f"RNTO {self._wire(new)}"])
        if isinstance(started, ftplib.error_perm):
            self._refine(ftp, old, started, lambda found: require_some(found, self._shown(old)))
        if isinstance(finished, ftplib.error_perm):
            self._refine(ftp, new, finished, lambda found: refuse_dir(found, new, self._shown(new)))
        for refusal, path in ((started, old), (finished, new)):
            if isinstance(refusal, ftplib.Error):
                raise translate_ftp_error(refusal, self._shown(path))
        return True

    def _set_time(self, ftp: ftplib.FTP, path: RelPath, mtime_ns: int) -> None:
        """Set a file's time with MFMT, else vsftpd's two-argument MDTM, else SITE UTIME."""
        command = time_command(self._traits, format_ftp_time(mtime_ns), self._wire(path))
        if command is None:
            raise UnsupportedError(errno.EOPNOTSUPP, "this server cannot set file times", self._shown(path))
        ftp.sendcmd(command)

    def _chmod(self, ftp: ftplib.FTP, path: RelPath, mode: int) -> None:
        """Set permission bits with SITE CHMOD."""
        ftp.sendcmd(f"SITE CHMOD {mode & 0o7777:o} {self._wire(path)}")

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the modification time of a file (whole seconds); folders keep the time the server gives them.

        MFMT and vsftpd's MDTM set times of files only on most servers, and folder times are not
        listed (LIST) or not kept (every change below a folder moves its time), so a refusal for a
        folder is not an error. Where only MFMT might set a folder's time, a folder this backend
        listed or made is not asked at all.
        """
        if not self._traits.mfmt and self._known.is_folder(path):
            return
        with self._session(path) as ftp:
            try:
                self._set_time(ftp, path, mtime_ns)
            except ftplib.error_perm as error:
                found = self._stat_or_none(ftp, path)
                if found is not None and found.kind is EntryKind.DIR:
                    return
                self._refine(ftp, path, error, lambda found: require_some(found, self._shown(path)))

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits of path (SITE CHMOD)."""
        if not self._traits.site_chmod:
            raise UnsupportedError(
                errno.EOPNOTSUPP, "this server cannot set permission bits", self._shown(path)
            )
        with self._session(path) as ftp:
            try:
                self._chmod(ftp, path, mode)
            except ftplib.error_perm as error:
                self._refine(ftp, path, error, lambda found: require_some(found, self._shown(path)))

    def close(self) -> None:
        """Remove what interrupted uploads left (where the server answers), then close every connection."""
        self._partials.close()
        if self._leftovers:
            with contextlib.suppress(BackendError), self._session(ROOT) as ftp:
                self._leftovers.remove_all(lambda name: ftp.delete(self._wire(name)))
        self._pool.close()
