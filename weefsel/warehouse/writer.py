"""Write DataFrames into a warehouse file. Used by the build and by tests that need a
small hand-made warehouse; the schema in schema.sql is the only definition of the tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from weefsel.warehouse.store import create_schema

TABLES = ["areas", "area_members", "observations", "observations_original", "area_vintages",
          "crosswalk", "variables", "facilities", "provenance",
          "validation", "build_info"]


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Insert ``frame`` into ``table`` by column name; columns the frame lacks stay NULL."""
    if frame is None or len(frame) == 0:
        return
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]
    use = [c for c in cols if c in frame.columns]
    con.register("_frame", frame[use])
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(use)}) SELECT {', '.join(use)} FROM _frame")
    finally:
        con.unregister("_frame")


def create_warehouse(path: str | Path, **frames: pd.DataFrame) -> Path:
    """Create a fresh warehouse at ``path`` holding ``frames`` (keyword = table name)."""
    unknown = set(frames) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown warehouse tables: {sorted(unknown)}")
    path = Path(path)
    con = duckdb.connect(str(path))
    try:
        create_schema(con)
        for table, frame in frames.items():
            insert_frame(con, table, frame)
    finally:
        con.close()
    return path


@contextmanager
def write_transaction(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection, one transaction: a stage's derived tables change all or not at all
    (an error or Ctrl-C rolls back and the previous tables stay)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
