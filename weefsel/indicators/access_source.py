"""Read the accessibility results (table ``access_results``, written by `weefsel access`)
as observations, so catalogue entries with ``source: access_results`` compute like any
published value. Absent table = no access variables (those optional entries are skipped)."""

from __future__ import annotations

import pandas as pd

LONG_COLUMNS = ["area_code", "period", "variable", "breakdown", "value"]


def has_access_results(con) -> bool:
    """True when the warehouse holds an ``access_results`` table."""
    return bool(con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = 'access_results'").fetchone()[0])


def access_long(con, level: str | None = None, period: str | None = None) -> pd.DataFrame:
    """``access_results`` (rows with a value) in long observation form, at ``level`` and
    periods <= ``period``. Variable ids follow weefsel/analysis/access_indicators.yaml."""
    if not has_access_results(con):
        return pd.DataFrame(columns=LONG_COLUMNS)
    from weefsel.analysis.access.warehouse import RESULT_COLUMNS, to_observations

    where, params = ["value IS NOT NULL"], []
    if level is not None:
        where.append("level = ?")
        params.append(level)
    if period is not None:
        where.append("period <= ?")
        params.append(str(period))
    table = con.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM access_results "
                        f"WHERE {' AND '.join(where)}", params).df()
    return to_observations(table)[LONG_COLUMNS]


def access_variables(con) -> set[tuple[str, str]]:
    """(variable, breakdown) pairs the access results provide (breakdown always '')."""
    return {(v, "") for v in access_long(con)["variable"].unique()}
