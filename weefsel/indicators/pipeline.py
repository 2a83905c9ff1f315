"""Warehouse -> indicators -> SVI, composite, inequality -> warehouse (``weefsel index``).

The notebook API (re-exported by weefsel.indicators) takes a warehouse path or an open
:class:`~weefsel.warehouse.store.Warehouse` and returns DataFrames; ``run_index`` also writes
the derived tables, all in one transaction.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from weefsel.analysis.aggregate import check_reference_population
from weefsel.analysis.composite import CompositeSpec, composite_frame
from weefsel.analysis.inequality import inequality_table
from weefsel.analysis.svi import svi as svi_frame
from weefsel.errors import CatalogueError, InputError
from weefsel.indicators.access_source import access_long, access_variables
from weefsel.indicators.catalogue import (
    Catalogue,
    available_variables,
    compute_frame,
    load_catalogue,
    read_yaml,
    validate_against,
    wide_values,
)
from weefsel.warehouse.store import Warehouse
from weefsel.warehouse.writer import write_transaction

REFERENCES = ("nl", "province")
POPULATION = "AantalInwoners"
#: an indicator enters the SVI / composite only if observed in at least this share of areas
MIN_INDICATOR_COVERAGE = 0.5


@contextmanager
def _open(warehouse: str | Path | Warehouse) -> Iterator[Warehouse]:
    if isinstance(warehouse, Warehouse):
        yield warehouse
        return
    wh = Warehouse(warehouse)
    try:
        yield wh
    finally:
        wh.close()


def _catalogue(catalogue: Catalogue | str | Path | None) -> Catalogue:
    return catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)


def latest_period(wh: Warehouse) -> str:
    row = wh.con.execute("SELECT max(period) FROM observations").fetchone()
    if row is None or row[0] is None:
        raise InputError("the warehouse has no observations", where=str(wh.path))
    return str(row[0])


def compute_indicators(warehouse: str | Path | Warehouse, level: str = "buurt",
                       period: str | None = None,
                       catalogue: Catalogue | str | Path | None = None,
                       skip_missing: bool = False) -> pd.DataFrame:
    """Indicator values for every area of ``level`` (long form, see VALUE_COLUMNS + level).

    Validates the catalogue against the warehouse first: a required indicator naming a
    missing variable raises CatalogueError before anything is computed. Skipped optional
    indicators are listed in ``result.attrs['skipped']``."""
    cat = _catalogue(catalogue)
    with _open(warehouse) as wh:
        cat = validate_against(cat, available_variables(wh.con) | access_variables(wh.con),
                               skip_missing)
        period = str(period) if period else latest_period(wh)
        areas = wh.areas(level=level)
        if areas.empty:
            raise InputError(f"the warehouse has no areas at level '{level}'", where=str(wh.path))
        needed = sorted({v for ind in cat for v, _ in ind.needs()})
        long = wh.sql(
            "SELECT o.area_code, o.period, o.variable, o.breakdown, o.value FROM observations o "
            "JOIN areas a ON a.code = o.area_code WHERE a.level = ? AND o.period <= ? "
            "AND o.variable IN (SELECT unnest(?))", [level, period, needed])
        if any(ind.source == "access_results" for ind in cat):
            acc = access_long(wh.con, level, period)
            long = pd.concat([long, acc[acc["variable"].isin(needed)]], ignore_index=True)
    long["breakdown"] = long["breakdown"].fillna("")
    out = compute_frame(cat, long, areas["code"], period)
    out.insert(2, "level", level)
    out.attrs["skipped"] = dict(cat.skipped)
    out.attrs["catalogue"] = cat
    return out


def _index_matrix(values: pd.DataFrame, cat: Catalogue) -> tuple[pd.DataFrame, dict[str, str]]:
    """Wide matrix of the in-index indicators with enough coverage; the rest -> reasons."""
    ids = [i.id for i in cat if i.in_index]
    wide = wide_values(values, ids)
    # areas with no in-index value at all (e.g. a buurt code of another vintage) are not ranked
    wide = wide[wide.notna().any(axis=1)]
    dropped: dict[str, str] = {}
    keep = []
    for i in ids:
        share = float(wide[i].notna().mean()) if len(wide) else 0.0
        if share < MIN_INDICATOR_COVERAGE:
            dropped[i] = f"observed in {share:.0%} of areas (< {MIN_INDICATOR_COVERAGE:.0%})"
        else:
            keep.append(i)
    return wide[keep], dropped


def _reference_groups(wh: Warehouse, level: str, reference: str,
                      codes: pd.Index) -> pd.Series | None:
    if reference not in REFERENCES:
        raise InputError(f"unknown reference '{reference}'", expected="nl or province")
    if reference == "nl":
        return None
    areas = wh.areas(level=level).set_index("code")
    return areas["provincie_code"].reindex(codes)


def _population(values_long: pd.DataFrame | None, wh: Warehouse, level: str,
                period: str) -> pd.Series | None:
    pop = wh.sql("SELECT o.area_code, o.period, o.value FROM observations o JOIN areas a "
                 "ON a.code = o.area_code WHERE a.level = ? AND o.variable = ? AND o.breakdown = '' "
                 "AND o.period <= ?", [level, POPULATION, period])
    if pop.empty:
        return None
    pop = pop[pop["period"] == pop["period"].max()]
    return pop.drop_duplicates("area_code").set_index("area_code")["value"]


def check_reference(wh: Warehouse, level: str, reference: str, period: str | None) -> None:
    """Stop early when the reference (NL, or a province) has no population at this level."""
    period = str(period) if period else latest_period(wh)
    pop = _population(None, wh, level, period)
    if pop is None:
        return   # the warehouse has no population at this level: nothing to check against
    groups = _reference_groups(wh, level, reference, pop.index)
    check_reference_population(pop, groups, f"reference '{reference}' at level {level}")


def _context(warehouse, level, period, catalogue, values):
    """Shared front part of svi/composite/inequality: values and catalogue."""
    if values is None:
        values = compute_indicators(warehouse, level, period, catalogue)
    cat = values.attrs.get("catalogue") or _catalogue(catalogue)
    return values, cat


def svi(warehouse: str | Path | Warehouse, level: str = "buurt", period: str | None = None,
        reference: str = "nl", catalogue: Catalogue | str | Path | None = None,
        values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stacked-vulnerability table (long form; see weefsel.analysis.svi)."""
    values, cat = _context(warehouse, level, period, catalogue, values)
    wide, dropped = _index_matrix(values, cat)
    with _open(warehouse) as wh:
        period = str(values["period"].iloc[0]) if len(values) else (period or latest_period(wh))
        groups = _reference_groups(wh, level, reference, wide.index)
        pop = _population(values, wh, level, period)
    if pop is not None:
        check_reference_population(pop.reindex(wide.index).fillna(0), groups)
    out = svi_frame(wide, {i.id: i.theme for i in cat}, {i.id: i.direction for i in cat},
                    groups=groups, period=period, level=level, reference=reference)
    out.attrs["dropped"] = {**dropped, **{d: "no values" for d in out.attrs.get("dropped", [])}}
    return out


def composite(warehouse: str | Path | Warehouse, level: str = "buurt", period: str | None = None,
              reference: str = "nl", spec: CompositeSpec | None = None,
              catalogue: Catalogue | str | Path | None = None,
              values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Composite index with Monte-Carlo rank intervals; the sensitivity table is in
    ``result.attrs['sensitivity']``."""
    spec = spec or CompositeSpec()
    spec.check()
    values, cat = _context(warehouse, level, period, catalogue, values)
    wide, dropped = _index_matrix(values, cat)
    if wide.shape[1] == 0:
        raise CatalogueError(f"no indicator has enough data at level '{level}' for a composite "
                             f"({'; '.join(f'{k}: {v}' for k, v in dropped.items())})")
    if not isinstance(spec.weights, str):
        ignored = [k for k in spec.weights if k not in wide.columns and k in dropped]
        if ignored:
            raise CatalogueError(f"weights given for indicator(s) without data at this level: "
                                 f"{', '.join(ignored)} ({dropped[ignored[0]]})")
    with _open(warehouse) as wh:
        period = str(values["period"].iloc[0])
        groups = _reference_groups(wh, level, reference, wide.index)
        pop = _population(values, wh, level, period)
    if pop is not None:
        check_reference_population(pop.reindex(wide.index).fillna(0), groups)
    results, sens = composite_frame(wide, {i.id: i.sign for i in cat}, {i.id: i.theme for i in cat},
                                    spec, groups=groups, period=period, level=level,
                                    reference=reference)
    results.attrs["sensitivity"] = sens
    results.attrs["indicators"] = list(wide.columns)
    results.attrs["dropped"] = dropped
    return results


def inequality(warehouse: str | Path | Warehouse, level: str = "buurt", period: str | None = None,
               catalogue: Catalogue | str | Path | None = None,
               values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Gini, Theil (+ decomposition by gemeente and provincie), decile gap per indicator."""
    values, cat = _context(warehouse, level, period, catalogue, values)
    wide = wide_values(values, cat.ids)
    with _open(warehouse) as wh:
        areas = wh.areas(level=level).set_index("code")
    parts = {}
    if level in ("buurt", "wijk"):
        parts["gemeente"] = areas["gemeente_code"]
    if level in ("buurt", "wijk", "gemeente"):
        parts["provincie"] = areas["provincie_code"]
    period = str(values["period"].iloc[0]) if len(values) else str(period or "")
    return inequality_table(wide, {i.id: i.direction for i in cat}, parts, period=period, level=level)


def load_weights(path: str | Path) -> dict[str, float]:
    """A YAML file ``{indicator: weight, ...}`` (optionally under a 'weights:' key)."""
    p = Path(path)
    doc = read_yaml(p, "weights file")
    if isinstance(doc, dict) and isinstance(doc.get("weights"), dict):
        doc = doc["weights"]
    if not isinstance(doc, dict) or not doc:
        raise CatalogueError(f"{p}: expected a mapping indicator: weight")
    try:
        return {str(k): float(v) for k, v in doc.items()}
    except (TypeError, ValueError):
        raise CatalogueError(f"{p}: every weight must be a number")


@dataclass
class IndexRun:
    tables: dict[str, pd.DataFrame]
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    indicators: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def load_groups(path: str | Path) -> dict[str, list[str]]:
    """A YAML file ``{group name: [area codes]}``, e.g. gebiedsteams made of wijken."""
    p = Path(path)
    doc = read_yaml(p, "groups file", InputError)
    if not isinstance(doc, dict) or not doc or not all(isinstance(v, list) for v in doc.values()):
        raise InputError("expected a mapping 'group name: [codes]'", where=str(p),
                         expected="e.g. 'team noord: [WK003401, WK003402]'")
    return {str(k): [str(c) for c in v] for k, v in doc.items()}


def group_values(warehouse: str | Path | Warehouse, values: pd.DataFrame,
                 groups: Mapping[str, list[str]]) -> pd.DataFrame:
    """Indicator values of user-defined groups, recomputed from the counts of their areas."""
    from weefsel.analysis.aggregate import aggregate_groups
    with _open(warehouse) as wh:
        areas = wh.areas()
    out = aggregate_groups(values, areas, groups, values.attrs["catalogue"])
    out.insert(1, "level", str(values["level"].iloc[0]) if len(values) else "")
    return out


def compute_all(warehouse: str | Path | Warehouse, level: str = "buurt", period: str | None = None,
                reference: str = "nl", spec: CompositeSpec | None = None,
                catalogue: Catalogue | str | Path | None = None,
                skip_missing: bool = False,
                groups: Mapping[str, list[str]] | None = None) -> IndexRun:
    """Everything ``weefsel index`` writes, as DataFrames (nothing written)."""
    spec = spec or CompositeSpec()
    spec.check()
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    with _open(warehouse) as wh:
        check_reference(wh, level, reference, period)      # before anything is computed
        values = compute_indicators(wh, level, period, catalogue, skip_missing)
        t["indicators"] = time.perf_counter() - t0
        s = time.perf_counter()
        svi_t = svi(wh, level, reference=reference, values=values)
        t["svi"] = time.perf_counter() - s
        s = time.perf_counter()
        comp = composite(wh, level, reference=reference, spec=spec, values=values)
        t["composite"] = time.perf_counter() - s
        s = time.perf_counter()
        ineq = inequality(wh, level, values=values)
        t["inequality"] = time.perf_counter() - s
        names = wh.areas(level=level).set_index("code")["name"].dropna().to_dict()
    tables = {"indicator_values": values.reset_index(drop=True), "svi_results": svi_t,
              "index_results": comp, "index_sensitivity": comp.attrs["sensitivity"],
              "inequality": ineq}
    cat = values.attrs["catalogue"]
    tables["indicator_catalogue"] = cat.frame()
    if groups:
        tables["indicator_groups"] = group_values(warehouse, values, groups)
    return IndexRun(tables, t, dict(values.attrs.get("skipped", {})),
                    dict(comp.attrs.get("dropped", {})), list(comp.attrs.get("indicators", [])), names)


#: rows of a derived table are replaced per (level, period[, reference]) so runs for other
#: levels survive; the catalogue table is replaced whole.
_KEYS = {"indicator_values": ("level", "period"), "svi_results": ("level", "period", "reference"),
         "index_results": ("level", "period", "reference"),
         "index_sensitivity": ("level", "period", "reference"), "inequality": ("level", "period"),
         "indicator_catalogue": (), "indicator_groups": ("level", "period")}


def write_tables(path: str | Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """Write all derived tables in ONE transaction: either all are replaced or none."""
    with write_transaction(path) as con:
        for name, frame in tables.items():
            frame = frame.reset_index(drop=True)
            frame = frame[[c for c in frame.columns]]
            con.register("_weefsel_frame", frame)
            exists = con.execute("SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_name = ?", [name]).fetchone()[0]
            if exists:
                cols = [r[0] for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "ORDER BY ordinal_position", [name]).fetchall()]
                if cols != list(frame.columns) or not _KEYS.get(name):
                    con.execute(f'DROP TABLE "{name}"')
                    exists = 0
            if not exists:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _weefsel_frame LIMIT 0')
            keys = _KEYS.get(name, ())
            if keys and len(frame):
                for combo in frame[list(keys)].drop_duplicates().itertuples(index=False):
                    where = " AND ".join(f'"{k}" = ?' for k in keys)
                    con.execute(f'DELETE FROM "{name}" WHERE {where}', [str(x) for x in combo])
            con.execute(f'INSERT INTO "{name}" SELECT * FROM _weefsel_frame')
            con.unregister("_weefsel_frame")


def run_index(path: str | Path, level: str = "buurt", period: str | None = None,
              reference: str = "nl", spec: CompositeSpec | None = None,
              catalogue: Catalogue | str | Path | None = None,
              skip_missing: bool = False,
              groups: Mapping[str, list[str]] | None = None) -> IndexRun:
    """Compute everything (read-only), then write it in one transaction."""
    path = Path(path)
    wh = Warehouse(path)
    try:
        run = compute_all(wh, level, period, reference, spec, catalogue, skip_missing, groups)
    finally:
        wh.close()
    s = time.perf_counter()
    write_tables(path, run.tables)
    run.timings["write"] = time.perf_counter() - s
    return run


def summary_lines(run: IndexRun) -> list[str]:
    """A short human summary for the CLI."""
    t = run.tables
    vals, res, sens = t["indicator_values"], t["index_results"], t["index_sensitivity"]
    lines = [f"indicators: {vals['indicator'].nunique()} computed for {vals['area_code'].nunique()} areas "
             f"({int(vals['value'].notna().sum())} values, {int(vals['suppressed'].sum())} suppressed)"]
    if run.skipped:
        lines.append(f"skipped (not in warehouse): {', '.join(sorted(run.skipped))}")
    if run.dropped:
        lines.append(f"not in the index (too little data at this level): {', '.join(sorted(run.dropped))}")
    lines.append(f"composite over {len(run.indicators)} indicators: {', '.join(run.indicators)}")
    ranked = res.dropna(subset=["rank"])
    if len(ranked):
        w = (ranked["rank_p95"] - ranked["rank_p05"])
        lines.append(f"ranked {len(ranked)} areas, {int(ranked['n_draws'].iloc[0])} Monte-Carlo draws; "
                     f"median width of the 90% rank interval {np.nanmedian(w):.0f} ranks")
        if ranked["reference_group"].nunique() == 1:
            top = ranked.sort_values("rank")

            def fmt(r) -> str:
                name = run.names.get(r.area_code, "")
                return (f"{r.area_code}{' ' + name if name else ''} rank {r.rank:.0f} "
                        f"[{r.rank_p05:.0f}-{r.rank_p95:.0f}]")
            lines.append("highest: " + "; ".join(fmt(r) for r in top.head(3).itertuples()))
            lines.append("lowest: " + "; ".join(fmt(r) for r in top.tail(3).iloc[::-1].itertuples()))
    fo = sens[sens["choice"] == "*"].dropna(subset=["first_order_share"])
    if len(fo):
        agg = fo.groupby("factor")["first_order_share"].mean().sort_values(ascending=False)
        lines.append("first-order share of rank variance: " +
                     ", ".join(f"{k} {v:.2f}" for k, v in agg.items()))
    svi_o = t["svi_results"]
    ov = svi_o[svi_o["component_type"] == "overall"]
    if len(ov):
        lines.append(f"SVI: {int((ov['themes_flagged'] >= 1).sum())} areas with >= 1 flagged theme, "
                     f"{int((ov['flag_count'] >= 3).sum())} with >= 3 flagged indicators")
    lines.append(f"inequality rows: {len(t['inequality'])}")
    lines.append("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in run.timings.items()))
    return lines
