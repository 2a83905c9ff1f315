"""One clear Dutch line per bad input: file, row and field, then what is wrong."""

from __future__ import annotations

from weefsel.errors import InputError


class ForwardInputError(InputError):
    """Bad scenario, norm or option. The message is Dutch (analysts read it)."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None):
        where = ", ".join(p for p in (file, f"rij {row}" if row is not None else None,
                                      f"veld '{field}'" if field else None) if p)
        self.file, self.row, self.field = file, row, field
        super().__init__(message, where=where or None)
