"""Forward results in the warehouse as derived tables, replaced per scenario atomically.

Tables (docs/forward.md): forward_runs, forward_projection, forward_gap, forward_gaplist,
forward_programme, forward_areas, forward_whatif. A scenario's rows are deleted and
inserted in one transaction: a failure leaves the previous rows of that scenario intact.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from weefsel.warehouse.writer import write_transaction

TABLES = {
    "forward_runs": "runs", "forward_projection": "projection", "forward_gap": "gap",
    "forward_gaplist": "gaplist", "forward_programme": "programme", "forward_areas": "areas",
}


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, scenario: str) -> None:
    con.register("_fw", frame)
    try:
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" AS SELECT * FROM _fw LIMIT 0')
        con.execute(f'DELETE FROM "{table}" WHERE scenario = ?', [scenario])
        have = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}
        for col, typ, *_ in con.execute("DESCRIBE _fw").fetchall():
            if col not in have:  # a newer weefsel adds a column: keep older rows, add it
                con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {typ}')
        cols = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
        use = [c for c in cols if c in frame.columns]
        names = ", ".join(f'"{c}"' for c in use)
        con.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM _fw')
    finally:
        con.unregister("_fw")


def write_result(path: str | Path, result) -> None:
    """Store every table of ``result`` under its scenario name (replacing that scenario)."""
    name = str(result.runs["scenario"].iloc[0])
    with write_transaction(path) as con:
        for table, attr in TABLES.items():
            _replace(con, table, getattr(result, attr), name)


def write_whatif(path: str | Path, frame: pd.DataFrame) -> None:
    with write_transaction(path) as con:
        _replace(con, "forward_whatif", frame, str(frame["scenario"].iloc[0]))


def scenarios(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Stored runs (empty frame when none)."""
    has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'forward_runs'"
                      ).fetchone()[0]
    if not has:
        return pd.DataFrame(columns=["scenario", "variant"])
    return con.execute("SELECT * FROM forward_runs ORDER BY scenario, variant").df()
