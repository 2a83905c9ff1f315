"""Trends per area and indicator, with the publisher's margins where they exist.

Why here and not in the indicators: ``indicator_values`` holds one period (the reference
year); a trend needs every period of the formula's variables on one indeling. ``observations``
holds values on the warehouse's current indeling only (values of another indeling enter it
through the crosswalk), so every series built here is on that one indeling.

Per period the indicator is computed with the same formula as ``weefsel index``
(weefsel.indicators.catalogue.compute_frame): the numerator variables at exactly that period;
a denominator or weight variable at the same period when published, else its nearest period
(the latest before, else the earliest after: e.g. 2024 population as the weight of the 2012
health rates, which only matters for suppression and for aggregating to provincie/Nederland).

Margins: ``lower``/``upper`` are the publisher's 95% bounds (Veiligheidsmonitor, SES-WOA);
RIVM publishes none for its model estimates, so those stay null. A change between the first
and the last point *exceeds the margin* when |change| > sqrt(m1^2 + m2^2), m = half the
published interval of each end point (the usual test for the difference of two independent
estimates at the 5% level); without a margin at both ends it is null (unknown), never false.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

TREND_COLUMNS = ["area_code", "level", "indicator", "period", "value", "lower", "upper",
                 "suppressed", "numerator", "denominator", "basis", "indeling"]


def _year(period: Any) -> int | None:
    try:
        return int(str(period)[:4])
    except (TypeError, ValueError):
        return None


def _nearest(periods: list[str], p: str) -> str | None:
    """The latest period <= p, else the earliest after p."""
    before = [q for q in periods if q <= p]
    if before:
        return max(before)
    after = [q for q in periods if q > p]
    return min(after) if after else None


def series_frame(catalogue, long: pd.DataFrame, codes: Iterable[str], level: str,
                 indeling: int | None = None) -> pd.DataFrame:
    """Every indicator at every period its numerator variables have, for ``codes``.

    ``long``: observations with area_code, period, variable, breakdown, value, lower, upper.
    Returns TREND_COLUMNS (basis 'published': the area's own figures)."""
    from weefsel.indicators.catalogue import compute_frame

    codes = list(dict.fromkeys(codes))
    if long.empty or not codes:
        return pd.DataFrame(columns=TREND_COLUMNS)
    long = long.copy()
    long["breakdown"] = long["breakdown"].fillna("")
    long["period"] = long["period"].astype(str)
    have = long.dropna(subset=["value"])
    periods_of = have.groupby(["variable", "breakdown"])["period"].agg(
        lambda s: sorted(set(s))).to_dict()
    num_periods: set[str] = set()
    for ind in catalogue:
        for v in ind.numerator:
            num_periods.update(periods_of.get((v, ind.breakdown), []))
    by_key = {k: g for k, g in long.groupby(["variable", "breakdown", "period"])}
    frames = []
    for p in sorted(num_periods):
        ids = [i.id for i in catalogue
               if all(p in periods_of.get((v, i.breakdown), []) for v in i.numerator)]
        if not ids:
            continue
        sub = catalogue.subset(ids)
        parts = []
        for key in {k for i in sub for k in i.needs()}:   # only what these indicators read
            q = _nearest(periods_of.get(key, []), p)
            rows = by_key.get((*key, q)) if q is not None else None
            if rows is not None:
                parts.append(rows.assign(period=p))
        if not parts:
            continue
        long_p = pd.concat(parts, ignore_index=True)
        vals = compute_frame(sub, long_p, codes, p)
        frames.append(vals)
    if not frames:
        return pd.DataFrame(columns=TREND_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    # the publisher's margins of a published figure (one variable, same breakdown and period)
    pub = {i.id: (i.numerator[0], i.breakdown) for i in catalogue if i.kind == "published"}
    if pub and {"lower", "upper"} <= set(long.columns):
        m = long.dropna(subset=["lower", "upper"], how="all")
        if len(m):
            keys = pd.DataFrame([(k, v, b) for k, (v, b) in pub.items()],
                                columns=["indicator", "variable", "breakdown"])
            m = m.merge(keys, on=["variable", "breakdown"])[
                ["area_code", "period", "indicator", "lower", "upper"]]
            out = out.merge(m.drop_duplicates(["area_code", "period", "indicator"]),
                            on=["area_code", "period", "indicator"], how="left")
    for c in ("lower", "upper"):
        if c not in out:
            out[c] = np.nan
    out.loc[out["suppressed"].astype(bool), ["lower", "upper"]] = np.nan
    out["level"] = level
    # the area's own figures (the publisher's rate, or a ratio of its own counts); values
    # summed from member areas get basis 'counts' in weefsel.indicators.pipeline
    out["basis"] = "published"
    out["indeling"] = indeling
    out = out[out["value"].notna() | out["suppressed"].astype(bool)]
    return out[TREND_COLUMNS].reset_index(drop=True)


def summarise(points: list[dict], unit: str = "") -> dict[str, Any] | None:
    """Change, annual change and whether it exceeds the published margin, from the
    points (``period``, ``value``, ``lower``, ``upper``) of one series; None with < 2 values."""
    pts = sorted((p for p in points if _finite(p.get("value"))),
                 key=lambda p: str(p["period"]))
    if len(pts) < 2:
        return None
    first, last = pts[0], pts[-1]
    change = float(last["value"]) - float(first["value"])
    y0, y1 = _year(first["period"]), _year(last["period"])
    annual = change / (y1 - y0) if y0 is not None and y1 is not None and y1 > y0 else None
    m0, m1 = _half_width(first), _half_width(last)
    if m0 is None or m1 is None:
        exceeds = None
        model = "modelschatting" in str(unit).lower()
        margin_nl = ("geen marge gepubliceerd (modelschatting)" if model
                     else "geen marge gepubliceerd")
    else:
        exceeds = bool(abs(change) > math.sqrt(m0 ** 2 + m1 ** 2) + 1e-12)
        margin_nl = ("de verandering is groter dan de gepubliceerde marge" if exceeds
                     else "de verandering valt binnen de gepubliceerde marge")
    return {"points": [{"period": str(p["period"]), "value": _r(p["value"]),
                        "lower": _r(p.get("lower")), "upper": _r(p.get("upper"))} for p in pts],
            "first_period": str(first["period"]), "last_period": str(last["period"]),
            "change": _r(change), "annual_change": _r(annual),
            "exceeds_margin": exceeds, "margin_nl": margin_nl}


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _r(v: Any) -> float | None:
    return round(float(v), 6) if _finite(v) else None


def _half_width(p: dict) -> float | None:
    lo, hi = p.get("lower"), p.get("upper")
    if not (_finite(lo) and _finite(hi)):
        return None
    return abs(float(hi) - float(lo)) / 2.0


def change_text(trend: dict[str, Any] | None, unit: str = "") -> str:
    """'+9,9 (+1,24 per jaar) van 2012 tot 2020; geen marge gepubliceerd' for tables."""
    if not trend:
        return "–"
    from weefsel.web.profile import fmt
    pp = " procentpunt" if str(unit).lstrip().startswith("%") else ""
    c, a = trend.get("change"), trend.get("annual_change")
    sign = "+" if (c or 0) > 0 else ""
    asign = "+" if (a or 0) > 0 else ""
    per_year = f" ({asign}{fmt(a)}{pp} per jaar)" if a is not None else ""
    return (f"{sign}{fmt(c)}{pp}{per_year} van {trend['first_period']} tot "
            f"{trend['last_period']}; {trend['margin_nl']}")


def trends_long(con, level: str, period_from: str | None = None) -> pd.DataFrame:
    """The ``weefsel export --trends`` table: one row per area, indicator and period, with the
    series' change, annual change and margin verdict repeated on every row of that series
    (so a pivot in Excel needs no lookup). Empty when ``weefsel index`` has not run."""
    cols = ["code", "name", "level", "gemeente_code", "indicator", "period", "value", "lower",
            "upper", "suppressed", "basis", "indeling", "first_period", "last_period",
            "change", "annual_change", "exceeds_margin"]
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables"
                                        ).fetchall()}
    if "indicator_trends" not in tables:
        return pd.DataFrame(columns=cols)
    df = con.execute(
        "SELECT a.code, a.name, a.level, a.gemeente_code, t.indicator, CAST(t.period AS VARCHAR) "
        "AS period, t.value, t.lower, t.upper, t.suppressed, t.basis, t.indeling "
        "FROM indicator_trends t JOIN areas a ON a.code = t.area_code WHERE a.level = ? "
        "ORDER BY a.code, t.indicator, t.period", [level]).df()
    if period_from:
        df = df[df["period"] >= str(period_from)]
    summ = []
    for (code, ind), g in df.groupby(["code", "indicator"], sort=False):
        pts = g[~g["suppressed"].astype(bool)][["period", "value", "lower", "upper"]]
        s = summarise(pts.to_dict("records")) or {}
        summ.append({"code": code, "indicator": ind, "first_period": s.get("first_period"),
                     "last_period": s.get("last_period"), "change": s.get("change"),
                     "annual_change": s.get("annual_change"),
                     "exceeds_margin": s.get("exceeds_margin")})
    if summ:
        df = df.merge(pd.DataFrame(summ), on=["code", "indicator"], how="left")
    else:
        df = df.reindex(columns=cols)
    return df[cols].reset_index(drop=True)


def export_trends(warehouse, level: str, fmt: str, out, excel: bool = False
                  ) -> tuple[Any, int, int]:
    """Write :func:`trends_long` for ``level`` as CSV (UTF-8 with BOM, like the wide export)
    or Parquet, atomically; returns (path, rows, columns)."""
    from pathlib import Path

    from weefsel.errors import WeefselError
    from weefsel.warehouse.store import Warehouse

    fmt = fmt.lower()
    if fmt not in ("csv", "parquet"):
        raise WeefselError(f"--trends writes csv or parquet, not {fmt!r}")
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise WeefselError(f"Folder {out.parent} does not exist")
    with Warehouse(warehouse) as w:
        levels = set(w.sql("SELECT DISTINCT level FROM areas")["level"])
        if level not in levels:
            raise WeefselError(f"No areas at level {level!r} in {w.path}; levels present: "
                               f"{', '.join(sorted(levels))}")
        table = trends_long(w.con, level)
    if table.empty:
        raise WeefselError(f"No trends for level {level!r}: run 'weefsel index --level {level}' "
                           "first")
    from weefsel.warehouse.export import write_table_atomically
    return write_table_atomically(table, out, fmt, excel=excel)
