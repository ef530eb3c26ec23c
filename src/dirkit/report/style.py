"""Terminal colours, applied only when the caller says the output is a colour terminal."""

from __future__ import annotations

from dataclasses import dataclass

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "bold": "1",
    "dim": "2",
    "cyan": "36",
}


@dataclass(frozen=True, slots=True)
class Style:
    """Wraps text in ANSI colour codes when enabled."""

    enabled: bool = False

    def paint(self, text: str, colour: str) -> str:
        """Return text in colour, or unchanged when colour is off."""
        if not self.enabled:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"
