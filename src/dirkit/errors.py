"""The error kinds of dirkit, each with its exit code; they also subclass the matching builtin OSError."""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_DIFFERENCES = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class DirkitError(Exception):
    """Base of every error dirkit raises on purpose; its message names the path and the reason."""

    exit_code: int = EXIT_ERROR


class UsageError(DirkitError, ValueError):
    """The caller asked for something that cannot be done as asked (bad option, bad pattern)."""


class InvalidPathError(UsageError):
    """A relative path is absolute, escapes its root with '..', or holds a NUL byte."""


class BackendError(DirkitError, OSError):
    """An I/O failure reported by a backend, translated from the OS or a protocol."""


class NotFoundError(BackendError, FileNotFoundError):
    """A path does not exist."""


class AlreadyExistsError(BackendError, FileExistsError):
    """A path exists where none was expected."""


class PermissionDeniedError(BackendError, PermissionError):
    """The OS or server refused access to a path."""


class NotADirError(BackendError, NotADirectoryError):
    """A path that should be a directory is something else."""


class IsADirError(BackendError, IsADirectoryError):
    """A path that should be a file is a directory."""


class NoSpaceError(BackendError):
    """The target has no space left (ENOSPC or a quota)."""


class TransientError(BackendError):
    """A failure that may pass if the call is tried again (a dropped connection, a timeout, FTP 421).

    Only the retrying wrapper retries; everywhere else it is an error like any other (exit code 2).
    Every other BackendError is permanent: trying again gives the same answer.
    """

    exit_code = EXIT_ERROR
    may_have_taken_effect: bool = True
    """Whether the failed call may have done its work (the reply was lost); False only when the
    request is known never to have left (the connection was found dead before sending)."""


class ConnectionLostError(TransientError, ConnectionError):
    """A remote backend lost its connection (reset, closed, or the server said 421 and hung up)."""


class TimedOutError(TransientError, TimeoutError):
    """A remote backend did not answer in time."""


class ReadOnlyTreeError(PermissionDeniedError):
    """A change was asked of a tree opened read-only; the message names the path and the call."""


class UnsupportedError(BackendError):
    """The tree cannot do this at all (symlinks or hard links where it has none); its capabilities say so."""


class TreeNotFoundError(NotFoundError):
    """The root of a tree does not exist."""


class InterruptedRunError(DirkitError):
    """The user interrupted the work (SIGINT or SIGTERM)."""

    exit_code = EXIT_INTERRUPTED


_ERRNO_KINDS: dict[int, type[BackendError]] = {
    errno.ENOENT: NotFoundError,
    errno.EEXIST: AlreadyExistsError,
    errno.EACCES: PermissionDeniedError,
    errno.EPERM: PermissionDeniedError,
    errno.ENOTDIR: NotADirError,
    errno.EISDIR: IsADirError,
    errno.ENOSPC: NoSpaceError,
    errno.EDQUOT: NoSpaceError,
    errno.ETIMEDOUT: TimedOutError,
    errno.ECONNRESET: ConnectionLostError,
    errno.ECONNABORTED: ConnectionLostError,
    errno.ENOTCONN: ConnectionLostError,
}


def _builtin_kind(error: OSError) -> type[BackendError]:
    """Return the kind for an OSError without a known errno (socket timeouts carry none)."""
    if isinstance(error, TimeoutError):
        return TimedOutError
    if isinstance(error, ConnectionError) and not isinstance(error, BrokenPipeError):
        return ConnectionLostError
    return BackendError


def translate_os_error(error: OSError, path: str) -> BackendError:
    """Return the dirkit error kind for an OSError raised while working on path."""
    if isinstance(error, BackendError):
        return error
    kind = _ERRNO_KINDS.get(error.errno or 0) or _builtin_kind(error)
    reason = error.strerror or str(error)
    translated = kind(error.errno or 0, reason, path)
    translated.__cause__ = error
    return translated


class IntegrityError(DirkitError):
    """Data does not match the size or digest recorded for it (a missing, truncated or corrupt part)."""


class UnsafeArchiveError(DirkitError):
    """An archive member would escape the destination, or is a device, setuid file or unsafe link."""


class ArchiveLimitError(UnsafeArchiveError):
    """Extracting an archive went past a limit on total size, file count or compression ratio."""


class RefusedError(DirkitError):
    """A guard refused to run a plan (empty source, too many deletions, a run already in progress)."""


class StalePlanError(RefusedError):
    """A saved plan no longer fits the trees: something it touches changed since it was made."""
