"""Errors that reach the user: each names what was wrong and where."""

from __future__ import annotations


class WeefselError(Exception):
    """Base class for errors shown to the user as a clear message (no traceback)."""


class InputError(WeefselError):
    """A source file or argument is not what it claims to be.

    ``where`` names the file (and row or column when known) so the user can fix it.
    """

    def __init__(self, message: str, *, where: str | None = None, expected: str | None = None):
        self.where = where
        self.expected = expected
        parts = [message]
        if where:
            parts.insert(0, f"{where}:")
        if expected:
            parts.append(f"(expected {expected})")
        super().__init__(" ".join(parts))


class RegionError(WeefselError):
    """An unknown region name or code."""


class CatalogueError(WeefselError):
    """An indicator definition that cannot be computed (missing variable, bad weights)."""
