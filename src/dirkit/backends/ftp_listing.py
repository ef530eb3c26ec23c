"""Pure parts of FTP: names on the wire, MLSD facts, LIST lines (unix ls -l, MS-DOS), times, error kinds."""

from __future__ import annotations

import calendar
import errno
import re
import stat
import time
from dataclasses import dataclass

from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, parent_path
from dirkit.errors import AlreadyExistsError, IsADirError, NotADirError, NotFoundError

WIRE_ENCODING = "latin-1"
"""ftplib runs with latin-1 so every byte of a reply survives; names are then decoded as UTF-8."""

WHOLE_SECOND_NS = 1_000_000_000


def to_wire(name: str) -> str:
    """Return name as ftplib must send it: its UTF-8 bytes (raw bytes kept by surrogateescape) as latin-1."""
    return name.encode("utf-8", "surrogateescape").decode(WIRE_ENCODING)


def from_wire(text: str) -> str:
    """Return a name the server sent, decoded as UTF-8 with undecodable bytes kept by surrogateescape."""
    return text.encode(WIRE_ENCODING).decode("utf-8", "surrogateescape")


def has_line_break(name: str) -> bool:
    """Tell whether name holds CR or LF, which would end the FTP command early (command injection)."""
    return "\r" in name or "\n" in name


@dataclass(frozen=True, slots=True)
class Listed:
    """One child of a folder as a listing gave it; mtime_ns None when the listing's time is not exact."""

    name: str
    kind: EntryKind
    size: int
    mtime_ns: int | None
    mode: int


def parse_ftp_time(text: str) -> int | None:
    """Return the ns since the epoch of an MDTM/MLSD time (YYYYMMDDHHMMSS[.fff], UTC), or None."""
    match = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d+))?", text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 62):
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = match.group(7) or ""
    return seconds * WHOLE_SECOND_NS + int(fraction.ljust(9, "0")[:9] or "0")


def format_ftp_time(mtime_ns: int) -> str:
    """Return mtime_ns as YYYYMMDDHHMMSS in UTC (whole seconds, as MFMT and MDTM take it)."""
    parts = time.gmtime(mtime_ns // WHOLE_SECOND_NS)
    return time.strftime("%Y%m%d%H%M%S", parts)


def is_child_name(name: str) -> bool:
    """Tell whether a listed name names one child: not '.', '..', empty, or holding '/' or NUL.

    A hostile server could list 'x/../../y'; taken as a name, it would lead a download out of the tree.
    """
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


_MLSD_KINDS = {"file": EntryKind.FILE, "dir": EntryKind.DIR, "os.unix=symlink": EntryKind.SYMLINK}


def parse_mlsd_facts(name: str, facts: dict[str, str]) -> Listed | None:
    """Return the child an MLSD line describes, or None for '.', '..' and the folder itself."""
    kind_fact = facts.get("type", "").lower()
    if kind_fact in ("cdir", "pdir") or not is_child_name(name):
        return None
    kind = _MLSD_KINDS.get(kind_fact, EntryKind.OTHER)
    if kind_fact.startswith("os.unix=slink"):
        kind = EntryKind.SYMLINK
    size_text = facts.get("size", "0")
    size = int(size_text) if size_text.isdigit() and kind is EntryKind.FILE else 0
    mode_text = facts.get("unix.mode", "")
    try:
        mode = int(mode_text, 8) & 0o7777 if mode_text else 0
    except ValueError:
        mode = 0
    modify = facts.get("modify")
    return Listed(name, kind, size, parse_ftp_time(modify) if modify else None, mode)


_UNIX_LINE = re.compile(
    r"^(?P<perms>[-dlbcpsD][-rwxsStTl+.@]{9})[+.@]?\s+\d+\s+\S+\s+(?:\S+\s+)?(?P<size>\d+)\s+"
    r"(?P<month>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+(?P<time>\d{1,2}:\d\d|\d{4})\s(?P<name>.+)$",
    re.DOTALL,
)
_DOS_LINE = re.compile(
    r"^(?P<date>\d\d-\d\d-\d\d(?:\d\d)?)\s+(?P<time>\d\d:\d\d(?:AM|PM)?)\s+"
    r"(?P<size><DIR>|\d+)\s+(?P<name>.+)$",
    re.IGNORECASE,
)
_UNIX_KINDS = {"-": EntryKind.FILE, "d": EntryKind.DIR, "l": EntryKind.SYMLINK}


def _unix_mode(perms: str) -> int:
    """Return the permission bits of an ls -l mode string such as rwxr-xr-x."""
    bits = 0
    flags = (
        stat.S_IRUSR, stat.S_IWUSR, stat.S_IXUSR,
        stat.S_IRGRP, stat.S_IWGRP, stat.S_IXGRP,
        stat.S_IROTH, stat.S_IWOTH, stat.S_IXOTH,
    )  # fmt: skip
    for char, flag in zip(perms[1:10], flags, strict=True):
        if char not in "-ST":
            bits |= flag
    specials = ((3, stat.S_ISUID), (6, stat.S_ISGID), (9, stat.S_ISVTX))
    for index, flag in specials:
        if perms[index] in "sStT":
            bits |= flag
    return bits


def parse_list_line(line: str) -> Listed | None:
    """Return the child a LIST line describes (unix ls -l or MS-DOS), or None for totals and '.'/'..'.

    LIST times carry no zone and often no seconds, so they are never trusted: mtime_ns is None and
    the backend asks MDTM when it needs a time.
    """
    unix = _UNIX_LINE.match(line)
    if unix:
        perms = unix.group("perms")
        kind = _UNIX_KINDS.get(perms[0], EntryKind.OTHER)
        name = unix.group("name")
        if kind is EntryKind.SYMLINK and " -> " in name:
            name = name.split(" -> ", 1)[0]
        size = int(unix.group("size")) if kind is EntryKind.FILE else 0
        listed = Listed(name, kind, size, None, _unix_mode(perms))
    else:
        dos = _DOS_LINE.match(line.strip())
        if not dos:
            return None
        is_dir = dos.group("size").upper() == "<DIR>"
        size = 0 if is_dir else int(dos.group("size"))
        kind = EntryKind.DIR if is_dir else EntryKind.FILE
        listed = Listed(dos.group("name"), kind, size, None, 0)
    return listed if is_child_name(listed.name) else None


def parse_stat_listing(lines: list[str]) -> list[Listed] | None:
    """Return the children a STAT listing of a folder shows, or None if it lists no folder (no '.' line).

    Raise ValueError for a line that is not an ls -l line: the reply cannot be trusted then.
    """
    children: list[Listed] = []
    is_folder = False
    for line in lines:
        unix = _UNIX_LINE.match(line)
        if unix is None:
            raise ValueError(f"not a listing line: {line[:80]!r}")
        if unix.group("name") == "." and unix.group("perms").startswith("d"):
            is_folder = True
        listed = parse_list_line(line)
        if listed is not None:
            children.append(listed)
    return children if is_folder else None


@dataclass(frozen=True, slots=True)
class ServerTraits:
    """What one server offers, read once at connect from its banner, FEAT and SITE HELP replies."""

    mlsd: bool
    utf8: bool
    mfmt: bool
    mdtm_sets_time: bool
    site_utime: bool
    site_chmod: bool
    epsv: bool
    replaces_on_rename: bool
    mdtm: bool
    stat_lists: bool = False
    """`STAT FOLDER` sends the folder's ls -l lines on the control connection, and no command sent
    during a transfer is answered before the transfer's final reply (vsftpd)."""

    @property
    def can_set_mtime(self) -> bool:
        """Tell whether some command sets a file's time."""
        return self.mfmt or self.mdtm_sets_time or self.site_utime


def feature_words(feat_reply: str) -> set[str]:
    """Return the upper-cased first words of a FEAT reply's feature lines."""
    words: set[str] = set()
    for line in feat_reply.splitlines()[1:]:
        if line.startswith(" ") and line.strip():
            words.add(line.split()[0].upper())
    return words


def read_traits(banner: str, feat_reply: str, site_help: str) -> ServerTraits:
    """Return the traits of a server from its 220 banner, FEAT reply and SITE HELP reply ('' if refused).

    Setting times with a two-argument MDTM is vsftpd's own extension, which FEAT does not announce,
    so it is taken from vsftpd's banner. Rename over an existing name is trusted only on servers
    known to replace (vsftpd, pyftpdlib); elsewhere (ProFTPD's default refuses) the old file is
    removed first.
    """
    features = feature_words(feat_reply)
    site = site_help.upper()
    vsftpd = "VSFTPD" in banner.upper()
    replaces = vsftpd or "PYFTPDLIB" in banner.upper()
    return ServerTraits(
        mlsd="MLST" in features or "MLSD" in features,
        utf8="UTF8" in features,
        mfmt="MFMT" in features,
        mdtm_sets_time=vsftpd and "MDTM" in features,
        site_utime="UTIME" in site,
        site_chmod="CHMOD" in site,
        epsv="EPSV" in features,
        replaces_on_rename=replaces,
        mdtm="MDTM" in features,
        stat_lists=vsftpd,
    )


def entry_of(path: RelPath, item: Listed) -> Entry:
    """Return the entry of a listed child; folders carry no time (servers neither set nor keep them)."""
    mtime_ns = None if item.kind is EntryKind.DIR else item.mtime_ns
    return Entry(path, item.kind, item.size, mtime_ns, item.mode)


def require_some(found: Entry | None, shown: str) -> None:
    """Raise NotFoundError when nothing is at the path a command was refused for."""
    if found is None:
        raise NotFoundError(errno.ENOENT, "no such file or folder", shown)


def require_dir(found: Entry | None, path: RelPath, shown: str) -> None:
    """Raise the kind for a folder that is needed at path but missing or a file."""
    if found is None:
        raise NotFoundError(errno.ENOENT, "no such folder", shown)
    if found.kind is not EntryKind.DIR:
        raise NotADirError(errno.ENOTDIR, "not a folder", shown)


def require_file(found: Entry | None, path: RelPath, shown: str) -> None:
    """Raise the kind for a file that is needed at path but missing or a folder."""
    if found is None:
        raise NotFoundError(errno.ENOENT, "no such file", shown)
    if found.kind is EntryKind.DIR:
        raise IsADirError(errno.EISDIR, "is a folder", shown)


def refuse_dir(found: Entry | None, path: RelPath, shown: str) -> None:
    """Raise the kind for a file operation that met a folder or nothing."""
    require_file(found, path, shown)


def require_absent(found: Entry | None, path: RelPath, shown: str) -> None:
    """Raise the kind for a folder to be made where something exists or the parent is missing."""
    if found is not None:
        raise AlreadyExistsError(errno.EEXIST, "already exists", shown)
    parent = parent_path(path)
    if parent:
        raise NotFoundError(errno.ENOENT, "its parent folder does not exist", shown)
