"""Validate facility (supply) tables before any maths touches them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weefsel.analysis.access.crs import check_rd
from weefsel.errors import InputError

REQUIRED = ("x_rd", "y_rd", "type")


def clean_facilities(facilities: pd.DataFrame, *, where: str = "facilities") -> pd.DataFrame:
    """Return a copy with ``facility_id``, float ``capacity`` (default 1) and checked coordinates.

    Negative or non-numeric capacities and coordinates outside RD New raise
    :class:`InputError` naming the row; a missing capacity means 1 (one facility).
    """
    missing = [c for c in REQUIRED if c not in facilities.columns]
    if missing:
        raise InputError(f"facility table lacks column(s) {missing}", where=where,
                         expected="columns x_rd, y_rd, type[, capacity, facility_id]")
    out = facilities.copy().reset_index(drop=True)
    if "facility_id" not in out.columns:
        out["facility_id"] = [f"f{i}" for i in range(len(out))]
    out["facility_id"] = out["facility_id"].astype(str)
    if out["facility_id"].duplicated().any():
        dup = out.loc[out["facility_id"].duplicated(), "facility_id"].iloc[0]
        raise InputError(f"facility_id {dup!r} occurs more than once", where=where)
    if out["type"].isna().any():
        row = int(np.flatnonzero(out["type"].isna())[0])
        raise InputError(f"facility at row {row} has no type", where=where)
    out["type"] = out["type"].astype(str)
    cap = pd.to_numeric(out["capacity"], errors="coerce") if "capacity" in out.columns \
        else pd.Series(1.0, index=out.index)
    if "capacity" in out.columns:
        bad_text = cap.isna() & out["capacity"].notna()
        if bad_text.any():
            row = int(np.flatnonzero(bad_text)[0])
            raise InputError(f"capacity {out['capacity'].iloc[row]!r} of facility "
                             f"{out['facility_id'].iloc[row]} (row {row}) is not a number",
                             where=f"{where}.capacity", expected="a number ≥ 0")
    cap = cap.fillna(1.0).astype(float)
    if (cap < 0).any():
        row = int(np.flatnonzero(cap < 0)[0])
        raise InputError(f"negative capacity {cap.iloc[row]:g} for facility "
                         f"{out['facility_id'].iloc[row]} (row {row})",
                         where=f"{where}.capacity", expected="capacity ≥ 0 (default 1)")
    out["capacity"] = cap
    out["x_rd"] = pd.to_numeric(out["x_rd"], errors="coerce").astype(float)
    out["y_rd"] = pd.to_numeric(out["y_rd"], errors="coerce").astype(float)
    check_rd(out["x_rd"].to_numpy(), out["y_rd"].to_numpy(), where=where)
    return out
