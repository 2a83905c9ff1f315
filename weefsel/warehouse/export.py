"""Export one level of the warehouse as a wide table: one row per area and period, one
column per variable, for Excel (CSV), analysts (Parquet) and QGIS (GeoPackage).

Column naming (documented in docs/warehouse.md):

* ``code, name, level, gemeente_code, wijk_code, provincie_code, period`` first;
* an observation without breakdown is named by its variable (``AantalInwoners``);
* with a breakdown the breakdown goes in brackets (``Eenzaam[leeftijd=65+]``);
* values of later stages' long tables (``indicator_values``, ``index_results``,
  ``access_results`` or any table with ``area_code`` + a name column + a numeric value)
  are named ``<table>.<name>`` plus bracketed extra keys (``access_results.library[mode=walk]``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from weefsel.errors import WeefselError
from weefsel.warehouse.store import Warehouse

FORMATS = ("csv", "parquet", "gpkg")
ID_COLUMNS = ["code", "name", "level", "gemeente_code", "wijk_code", "provincie_code", "period"]
#: Polygon quality columns (after the id columns): exact | generalised | approximate, and a
#: Dutch note, e.g. why an area has no polygon (warehouses built before them lack them).
GEOM_INFO = ["geom_quality", "geom_note"]
CORE_TABLES = {"areas", "area_members", "observations", "variables", "facilities",
               "provenance", "validation", "build_info", "observations_original",
               "area_vintages", "crosswalk"}
KNOWN_DERIVED = ["indicator_values", "index_results", "access_results"]
NAME_COLUMNS = ["indicator", "variable", "index", "measure", "metric", "name", "key"]
VALUE_COLUMNS = ["value", "score", "result"]
#: extra key columns of derived tables that become bracketed parts of the column name
KEY_COLUMNS = ["breakdown", "reference", "facility_type", "component", "type", "mode", "method",
               "variant", "scenario", "threshold"]


def _observations_long(w: Warehouse, level: str, period: str | None) -> pd.DataFrame:
    q = ("SELECT o.area_code, o.period, o.variable, o.breakdown, o.value FROM observations o "
         "JOIN areas a ON a.code = o.area_code WHERE a.level = ?")
    params: list = [level]
    if period:
        q += " AND o.period = ?"
        params.append(str(period))
    long = w.sql(q, params)
    long["column"] = long["variable"].where(
        long["breakdown"].fillna("") == "", long["variable"] + "[" + long["breakdown"] + "]")
    return long[["area_code", "period", "column", "value"]]


def _derived_tables(w: Warehouse) -> list[str]:
    names = [r[0] for r in w.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        " AND table_type = 'BASE TABLE'").fetchall()]
    extra = [n for n in names if n not in CORE_TABLES and not n.startswith("_")]
    return sorted(extra, key=lambda n: (KNOWN_DERIVED.index(n) if n in KNOWN_DERIVED else 99, n))


NUMERIC_TYPES = ("DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "TINYINT",
                 "HUGEINT", "BOOLEAN", "DECIMAL", "UBIGINT", "UINTEGER")


def _derived_long(w: Warehouse, table: str, level: str, period: str | None) -> pd.DataFrame | None:
    """A later stage's table as (area_code, period, column, value), or None if it has no
    ``area_code`` (then it is skipped, not guessed).

    Long tables (a name column such as ``indicator``/``measure`` + ``value``) give one column
    per name; wide tables (``index_results``: composite, rank ...) one column per numeric
    column. String key columns (reference, facility_type, ...) go in brackets.
    """
    cols = {r[0]: r[1] for r in w.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()}
    if "area_code" not in cols:
        return None
    name_col = next((c for c in NAME_COLUMNS if c in cols), None)
    value_col = next((c for c in VALUE_COLUMNS if c in cols), None)
    keys = [c for c in KEY_COLUMNS if c in cols and c != name_col
            and not cols[c].startswith(NUMERIC_TYPES)]
    has_period = "period" in cols
    if name_col and value_col:
        measures = [value_col]
    else:
        name_col = None
        measures = [c for c, t in cols.items() if t.startswith(NUMERIC_TYPES)
                    and c not in ("area_code", "period", "level", *keys)]
    if not measures:
        return None
    picked = [c for c in [name_col, *measures, *keys] if c]
    sel = ", ".join(f't."{c}"' for c in picked)
    q = (f"SELECT t.area_code, {'CAST(t.period AS VARCHAR)' if has_period else 'NULL'} AS period,"
         f" {sel} FROM \"{table}\" t JOIN areas a ON a.code = t.area_code WHERE a.level = ?")
    params: list = [level]
    if period and has_period:
        q += " AND CAST(t.period AS VARCHAR) = ?"
        params.append(str(period))
    df = w.sql(q, params)
    if period and not has_period:
        df["period"] = str(period)
    suffix = pd.Series("", index=df.index, dtype="object")
    for k in keys:
        suffix = suffix + df[k].astype("object").map(lambda v, k=k: "" if v is None or v == "" or (
            isinstance(v, float) and pd.isna(v)) else f"[{k}={v}]")
    parts = []
    for m in measures:
        name = (f"{table}." + df[name_col].astype(str)) if name_col else f"{table}.{m}"
        parts.append(pd.DataFrame({"area_code": df["area_code"], "period": df["period"],
                                   "column": name + suffix,
                                   "value": pd.to_numeric(df[m].astype("float64"),
                                                          errors="coerce")}))
    if not parts or df.empty:
        return pd.DataFrame(columns=["area_code", "period", "column", "value"])
    return pd.concat(parts, ignore_index=True)


def wide_table(w: Warehouse, level: str, period: str | None = None,
               variables: Iterable[str] | None = None, region: str | None = None) -> pd.DataFrame:
    """One row per area and period at ``level``; areas without any value keep one row."""
    levels = set(w.sql("SELECT DISTINCT level FROM areas")["level"])
    if level not in levels:
        raise WeefselError(f"No areas at level {level!r} in {w.path}; levels present: "
                           f"{', '.join(sorted(levels))}")
    parts = [_observations_long(w, level, period)]
    for table in _derived_tables(w):
        d = _derived_long(w, table, level, period)
        if d is not None and len(d):
            parts.append(d)
    long = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else pd.DataFrame(columns=["area_code", "period", "column", "value"])
    if variables:
        wanted = [v.strip() for v in variables if v.strip()]
        base = long["column"].str.replace(r"\[.*$", "", regex=True)
        short = base.str.replace(r"^[a-z_]+\.", "", regex=True)
        mask = long["column"].isin(wanted) | base.isin(wanted) | short.isin(wanted)
        unknown = [v for v in wanted if not (long["column"].eq(v) | base.eq(v) | short.eq(v)).any()]
        if unknown:
            raise WeefselError(f"Unknown variable(s) for level {level}"
                               f"{' period ' + str(period) if period else ''}: "
                               f"{', '.join(unknown)} (see 'weefsel info' for the catalogue)")
        long = long[mask]
    long["period"] = long["period"].astype("object").where(long["period"].notna(), "")
    if len(long):
        table = long.pivot_table(index=["area_code", "period"], columns="column",
                                 values="value", aggfunc="first").reset_index()
        table.columns.name = None
        order = sorted(c for c in table.columns if c not in ("area_code", "period"))
        obs_cols = [c for c in order if "." not in c.split("[")[0]]
        derived = [c for c in order if c not in obs_cols]
        table = table[["area_code", "period", *obs_cols, *derived]]
    else:
        table = pd.DataFrame(columns=["area_code", "period"])
    areas = w.areas(level=level, with_geometry=False)
    if region:
        areas = areas[(areas["gemeente_code"] == region) | (areas["provincie_code"] == region)
                      | (areas["code"] == region)]
    ids = [c for c in [*ID_COLUMNS, *GEOM_INFO] if c in areas.columns and c != "period"]
    merged = areas[ids].merge(
        table, left_on="code", right_on="area_code", how="left").drop(columns=["area_code"])
    if period:
        merged["period"] = str(period)
    merged["period"] = merged["period"].where(merged["period"].notna() & (merged["period"] != ""),
                                              None)
    front = [c for c in [*ID_COLUMNS, *GEOM_INFO] if c in merged.columns]
    merged = merged[front + [c for c in merged.columns if c not in front]]
    return merged.sort_values(["code", "period"], na_position="last").reset_index(drop=True)


def export(warehouse: Path, level: str, fmt: str, out: Path, period: str | None = None,
           variables: Iterable[str] | None = None, excel: bool = False) -> tuple[Path, int, int]:
    """Write the wide table; returns (path, rows, columns).

    CSV: UTF-8 with BOM so Excel detects the encoding; comma separator and decimal point
    by default, or with ``excel=True`` the Dutch Excel convention (``;`` and decimal comma).
    GeoPackage: polygons in EPSG:28992 (RD New), layer ``weefsel_<level>``.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise WeefselError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise WeefselError(f"Folder {out.parent} does not exist")
    with Warehouse(warehouse) as w:
        table = wide_table(w, level, period, variables)
        geoms = w.sql("SELECT code, geom_rd FROM areas WHERE level = ?", [level]) \
            if fmt == "gpkg" else None
    gpkg = (lambda path: _write_gpkg(table, geoms, path, level)) if fmt == "gpkg" else None
    return write_table_atomically(table, out, fmt, excel=excel, writer=gpkg)


def write_table_atomically(table: pd.DataFrame, out: Path, fmt: str, *, excel: bool = False,
                           writer=None) -> tuple[Path, int, int]:
    """Write CSV (Dutch Excel with ``excel``), parquet, or via ``writer(path)`` to a partial file
    beside ``out`` and move it into place, so a failed export never leaves half a file."""
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    try:
        if writer is not None:
            writer(tmp)
        elif fmt == "csv":
            if excel:
                table.to_csv(tmp, index=False, sep=";", decimal=",", encoding="utf-8-sig")
            else:
                table.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            table.to_parquet(tmp, index=False)
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out, len(table), len(table.columns)


def _write_gpkg(table: pd.DataFrame, geoms: pd.DataFrame, path: Path, level: str) -> None:
    import geopandas as gpd
    from shapely import wkb

    g = {c: b for c, b in zip(geoms["code"], geoms["geom_rd"])
         if b is not None and not (isinstance(b, float) or b is pd.NA)}
    # an area without a polygon keeps its row with an empty geometry; geom_note says why
    shapes = [wkb.loads(bytes(g[c])) if c in g else None for c in table["code"]]
    frame = table.copy()
    # GeoPackage field names: keep them readable but free of characters GDAL rewrites
    frame.columns = [re.sub(r"[^\w\[\]=+.\-]", "_", c) for c in frame.columns]
    gdf = gpd.GeoDataFrame(frame, geometry=shapes, crs="EPSG:28992")
    gdf.to_file(path, driver="GPKG", layer=f"weefsel_{level}")
