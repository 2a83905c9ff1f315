"""The contract between loaders and the warehouse build.

Every loader returns a :class:`SourceFrames`: plain DataFrames whose columns match
the warehouse tables (``weefsel/warehouse/schema.sql``). Loaders never touch the
database; the build validates and writes them in one transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

AREA_COLUMNS = ["code", "level", "name", "gemeente_code", "wijk_code", "provincie_code",
                "vintage", "geom_rd", "source"]
OBSERVATION_COLUMNS = ["area_code", "period", "variable", "breakdown", "value", "lower", "upper",
                       "source"]
VARIABLE_COLUMNS = ["variable", "stem", "title", "unit", "description", "source_table", "topic"]
FACILITY_COLUMNS = ["facility_id", "type", "name", "source", "source_id", "x_rd", "y_rd",
                    "capacity", "area_code", "tags", "placement"]
MEMBER_COLUMNS = ["region_code", "member_code"]
PROVENANCE_COLUMNS = ["file", "sha256", "publisher", "licence", "table_id", "rows_read",
                      "rows_rejected", "ingested_at"]


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


@dataclass
class Rejection:
    """One rejected row or value, with the reason a person can act on."""

    source: str
    where: str      # 'row 17', 'column AantalInwoners_5', 'feature 3'
    reason: str


@dataclass
class SourceFrames:
    """What one loader read from one file or online table."""

    source: str                               # table id or file name
    areas: pd.DataFrame = field(default_factory=lambda: empty(AREA_COLUMNS))
    observations: pd.DataFrame = field(default_factory=lambda: empty(OBSERVATION_COLUMNS))
    variables: pd.DataFrame = field(default_factory=lambda: empty(VARIABLE_COLUMNS))
    facilities: pd.DataFrame = field(default_factory=lambda: empty(FACILITY_COLUMNS))
    members: pd.DataFrame = field(default_factory=lambda: empty(MEMBER_COLUMNS))
    provenance: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rows_read: int = 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
