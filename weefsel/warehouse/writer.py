"""Write DataFrames into a warehouse file. Used by the build and by tests that need a
small hand-made warehouse; the schema in schema.sql is the only definition of the tables."""

from __future__ import annotations

import contextlib
import os
import shutil
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
    """One connection, one transaction, on a copy: a stage's derived tables change all or not
    at all, and atomically for readers.

    Like the build: the warehouse is copied next to itself, the stage writes into the copy,
    and only a committed, checkpointed copy is moved onto ``path`` (``os.replace``). So
    ``weefsel index`` works while ``weefsel serve`` holds the file open read-only (the server
    keeps reading the old file and switches to the new one), and an error, Ctrl-C or a full
    disk leaves the previous warehouse untouched.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    _remove(tmp)
    shutil.copyfile(path, tmp)
    wal = Path(str(path) + ".wal")
    if wal.exists():  # uncheckpointed changes of an earlier writer belong to the copy too
        shutil.copyfile(wal, str(tmp) + ".wal")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("CHECKPOINT")
        finally:
            con.close()
        from weefsel.warehouse.build import _swap
        _swap(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
