"""Read access to the warehouse, returning DataFrames (the notebook-friendly API).

Writers (the build, ``weefsel index``, ``weefsel access``) open the file themselves;
everything else reads through :class:`Warehouse` so the schema has one reader.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Iterable

import duckdb
import pandas as pd

from weefsel.errors import WeefselError

LEVELS = ["land", "provincie", "gemeente", "wijk", "buurt"]


def schema_sql() -> str:
    return resources.files("weefsel.warehouse").joinpath("schema.sql").read_text(encoding="utf-8")


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_sql())


class Warehouse:
    """A read-only view of one warehouse file."""

    def __init__(self, path: str | Path, *, read_only: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            raise WeefselError(
                f"No warehouse at {self.path}. Run 'weefsel build --region <name>' first.")
        from weefsel.warehouse.safety import connect
        self.con = connect(self.path, read_only=read_only)  # sniffed first: one Dutch line

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()

    def has_table(self, name: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0])

    def areas(self, level: str | None = None, codes: Iterable[str] | None = None,
              with_geometry: bool = False) -> pd.DataFrame:
        cols = "*" if with_geometry else "* EXCLUDE (geom_rd)"
        query, params = f"SELECT {cols} FROM areas WHERE 1=1", []
        if level:
            query += " AND level = ?"
            params.append(level)
        if codes is not None:
            codes = list(codes)
            query += " AND code IN (SELECT unnest(?))"
            params.append(codes)
        return self.sql(query + " ORDER BY code", params)

    def observations(self, variables: Iterable[str] | None = None, level: str | None = None,
                     period: str | None = None, breakdown: str | None = None) -> pd.DataFrame:
        query = ("SELECT o.*, a.level FROM observations o JOIN areas a ON a.code = o.area_code "
                 "WHERE 1=1")
        params: list = []
        if variables is not None:
            query += " AND o.variable IN (SELECT unnest(?))"
            params.append(list(variables))
        if level:
            query += " AND a.level = ?"
            params.append(level)
        if period:
            query += " AND o.period = ?"
            params.append(str(period))
        if breakdown is not None:
            query += " AND o.breakdown = ?"
            params.append(breakdown)
        return self.sql(query, params)

    def wide(self, level: str, period: str | None = None, variables: Iterable[str] | None = None,
             breakdown: str = "") -> pd.DataFrame:
        """One row per area (and period), one column per variable: the shape analysts export."""
        long = self.observations(variables, level=level, period=period, breakdown=breakdown)
        if long.empty:
            return pd.DataFrame(columns=["area_code", "period"])
        table = long.pivot_table(index=["area_code", "period"], columns="variable",
                                 values="value", aggfunc="first").reset_index()
        table.columns.name = None
        return table

    def variables(self) -> pd.DataFrame:
        return self.sql("SELECT * FROM variables ORDER BY variable")

    def facilities(self, types: Iterable[str] | None = None) -> pd.DataFrame:
        if types is None:
            return self.sql("SELECT * FROM facilities")
        return self.sql("SELECT * FROM facilities WHERE type IN (SELECT unnest(?))", [list(types)])

    def build_info(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM build_info").fetchall())


def open_warehouse(path: str | Path | None = None) -> Warehouse:
    from weefsel.config import DEFAULT_WAREHOUSE
    return Warehouse(path or DEFAULT_WAREHOUSE)
