"""Errors that reach the user: each names what was wrong and where."""

from __future__ import annotations

import re

#: words that mark a message as Dutch, so the "expected" part is written in the same language
_DUTCH = re.compile(r"\b(een|geen|het|de|niet|onbekende?|bestaat|moet|van|voor|bedrag|"
                    r"gebiedscode|bestand|fase|locatie|status|kolom|regel|ontbreekt|ongeldige?|"
                    r"gevonden|geschreven|map|waarde|jaar|verwacht|leeg)\b", re.IGNORECASE)


def is_dutch(text: str) -> bool:
    """True when ``text`` reads as Dutch (a short word-list test, enough for our messages)."""
    return bool(_DUTCH.search(text))


class WeefselError(Exception):
    """Base class for errors shown to the user as a clear message (no traceback)."""


class InputError(WeefselError):
    """A source file or argument is not what it claims to be.

    ``where`` names the file (and row or column when known) so the user can fix it. The
    ``expected`` part follows the language of the message ("(verwacht: …)" in a Dutch line,
    "(expected …)" in an English one), so a line never mixes the two.
    """

    def __init__(self, message: str, *, where: str | None = None, expected: str | None = None,
                 lang: str | None = None):
        self.where = where
        self.expected = expected
        parts = [message]
        if where:
            parts.insert(0, f"{where}:")
        if expected:
            dutch = lang == "nl" if lang else is_dutch(message)
            parts.append(f"(verwacht: {expected})" if dutch else f"(expected {expected})")
        super().__init__(" ".join(parts))


class RegionError(WeefselError):
    """An unknown region name or code."""


class CatalogueError(WeefselError):
    """An indicator definition that cannot be computed (missing variable, bad weights)."""
