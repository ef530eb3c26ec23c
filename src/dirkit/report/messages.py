"""One-line error messages that name the path and the reason."""

from __future__ import annotations

from dirkit.core.tree.paths import display_path


def describe_error(error: BaseException) -> str:
    """Return a one-line message for an error: the path, then the reason."""
    if isinstance(error, OSError) and error.filename is not None:
        reason = error.strerror or str(error)
        return f"{display_path(str(error.filename))}: {reason}"
    text = str(error) or type(error).__name__
    return text.replace("\n", " ")
