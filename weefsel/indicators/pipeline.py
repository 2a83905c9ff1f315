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
#: below this many areas a level gets indicators (reference values) but no ranks or flags
MIN_AREAS_TO_RANK = 3
REFERENCE_LEVELS = ("provincie", "land")


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
    out["basis"] = np.where(out["value"].notna(), "published", None)
    out["coverage"] = np.nan
    ref_reasons = None
    if level in REFERENCE_LEVELS:
        out, ref_reasons = _fill_reference(warehouse, level, period, cat, out)
    with _open(warehouse) as wh:
        out["missing_reason"] = _missing_reasons(wh, level, cat, out, long, ref_reasons)
    out.insert(2, "level", level)
    out.attrs["skipped"] = dict(cat.skipped)
    out.attrs["catalogue"] = cat
    return out


def _complete_parents(wh: Warehouse, level: str) -> dict[str, bool]:
    """Which provincie / land areas have all their gemeenten in this warehouse.

    A provincie is in the areas table only when the build's region selected it whole (a
    gemeente-only build has none); Nederland is complete only in a national build (all
    twelve provincies present)."""
    areas = wh.areas()
    prov = areas.loc[areas["level"] == "provincie", "code"].tolist()
    if level == "provincie":
        return {c: True for c in prov}
    land = areas.loc[areas["level"] == "land", "code"].tolist()
    return {c: len(prov) >= 12 for c in land}


def _fill_reference(warehouse, level: str, period: str, cat: Catalogue,
                    own: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series | None]:
    """Provincie / Nederland: the area's own (published) figure where the warehouse holds one,
    else the sum of its gemeenten's numerators over their denominators
    (weefsel.indicators.reference)."""
    from weefsel.indicators.reference import aggregate_reference
    with _open(warehouse) as wh:
        areas = wh.areas()
        complete = _complete_parents(wh, level)
        has_gm = bool((areas["level"] == "gemeente").any())
        gem = compute_indicators(wh, "gemeente", period, cat) if has_gm else pd.DataFrame()
        pop = _population(None, wh, "gemeente", period) if has_gm else None
    agg = aggregate_reference(gem, areas, level, {i.id: i.scale for i in cat},
                              {i.id: i.min_population for i in cat}, complete, pop)
    out = own.copy()
    if agg.empty:
        return out, None
    out["_reason"] = None
    agg = agg.set_index(["area_code", "indicator"])
    key = pd.MultiIndex.from_arrays([out["area_code"], out["indicator"]])
    hit = agg.reindex(key)
    take = out["value"].isna().to_numpy() & ~out["suppressed"].astype(bool).to_numpy()
    ok = take & hit["value"].notna().to_numpy()
    for col in ("value", "numerator", "denominator", "coverage", "data_period"):
        out.loc[ok, col] = hit[col].to_numpy()[ok]
    out.loc[ok, "weight"] = hit["denominator"].to_numpy()[ok]
    out.loc[ok, "basis"] = "counts"
    sup = take & hit["suppressed"].fillna(False).astype(bool).to_numpy()
    out.loc[sup, "suppressed"] = True
    out.loc[take & ~ok, "_reason"] = hit["missing_reason"].to_numpy()[take & ~ok]
    reasons = out.set_index(["area_code", "indicator"])["_reason"].dropna()
    return out.drop(columns="_reason"), reasons


def _missing_reasons(wh: Warehouse, level: str, cat: Catalogue, values: pd.DataFrame,
                     long: pd.DataFrame, ref: pd.Series | None = None) -> pd.Series:
    """Why a value is null: suppressed, not published at this level, only on another indeling,
    not published for this area (codes in weefsel.indicators.reference.MISSING_NL)."""
    reason = pd.Series(None, index=values.index, dtype=object)
    missing = values["value"].isna()
    reason[missing & values["suppressed"].astype(bool)] = "suppressed"
    pairs = long.loc[long["value"].notna(), ["variable", "breakdown"]].drop_duplicates()
    have = set(zip(pairs["variable"], pairs["breakdown"]))
    at_level = {i.id for i in cat if all((v, i.breakdown) in have for v in i.numerator)}
    rest = missing & reason.isna()
    reason[rest & ~values["indicator"].isin(at_level)] = "not_at_level"
    reason[rest & values["indicator"].isin(at_level)] = "not_published"
    if ref is not None and len(ref):
        key = pd.MultiIndex.from_arrays([values["area_code"], values["indicator"]])
        r = pd.Series(ref.reindex(key).to_numpy(), index=values.index)
        use = missing & ~values["suppressed"].astype(bool) & r.notna()
        reason[use] = r[use]
    other = _other_indeling(wh, level, cat)
    if other:
        gm = values["area_code"].map(wh.areas(level=level).set_index("code")["gemeente_code"])
        pairs = pd.Series(list(zip(values["indicator"], gm)), index=values.index)
        reason[missing & ~values["suppressed"].astype(bool) & pairs.isin(other)] = "other_indeling"
    return reason


def _other_indeling(wh: Warehouse, level: str, cat: Catalogue) -> set[tuple[str, str]]:
    """(indicator, gemeente) pairs whose figures this warehouse holds only on another
    indeling (``observations_original`` with an ``indeling`` column, from the crosswalk)."""
    tables = set(wh.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    if "observations_original" not in tables:
        return set()
    cols = set(wh.sql("SELECT column_name FROM information_schema.columns "
                      "WHERE table_name = 'observations_original'")["column_name"])
    if not {"indeling", "area_code", "variable"} <= cols:
        return set()
    prefix = {"wijk": "WK", "buurt": "BU", "gemeente": "GM"}.get(level)
    if prefix is None:
        return set()
    cur = wh.sql("SELECT max(vintage) AS v FROM areas WHERE level = ?", [level])["v"].iloc[0]
    rows = wh.sql("SELECT DISTINCT variable, 'GM' || substr(area_code, 3, 4) AS gm "
                  "FROM observations_original WHERE area_code LIKE ? AND indeling IS NOT NULL "
                  "AND indeling <> ?", [prefix + "%", int(cur) if pd.notna(cur) else -1])
    by_var: dict[str, set[str]] = {}
    for v, g in rows.itertuples(index=False):
        by_var.setdefault(v, set()).add(g)
    out = set()
    for i in cat:
        for g in by_var.get(i.numerator[0], ()):
            out.add((i.id, g))
    return out


def _index_matrix(values: pd.DataFrame, cat: Catalogue) -> tuple[pd.DataFrame, dict[str, str]]:
    """Wide matrix of the in-index indicators with enough coverage; the rest -> reasons."""
    ids = [i.id for i in cat if i.in_index]
    every = wide_values(values, ids)
    # which indicators have enough data is judged on the areas with any in-index value;
    # every area stays in the matrix: one without enough own data is listed, not ranked
    wide = every[every.notna().any(axis=1)]
    dropped: dict[str, str] = {}
    keep = []
    for i in ids:
        share = float(wide[i].notna().mean()) if len(wide) else 0.0
        if share < MIN_INDICATOR_COVERAGE:
            dropped[i] = f"observed in {share:.0%} of areas (< {MIN_INDICATOR_COVERAGE:.0%})"
        else:
            keep.append(i)
    return every[keep], dropped


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
    min_coverage: float = 2 / 3


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


def compute_trends(warehouse: str | Path | Warehouse, level: str, catalogue: Catalogue,
                   values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every indicator at every period of its variables for the areas of ``level``
    (weefsel.analysis.trends; provincie/Nederland as in compute_indicators: own figure,
    else summed from the gemeenten of that period)."""
    from weefsel.analysis.trends import TREND_COLUMNS, series_frame
    from weefsel.indicators.reference import aggregate_reference
    cat = catalogue
    with _open(warehouse) as wh:
        areas = wh.areas(level=level)
        needed = sorted({v for ind in cat if ind.source == "observations" for v, _ in ind.needs()})
        obs_cols = set(wh.sql("SELECT column_name FROM information_schema.columns "
                              "WHERE table_name = 'observations'")["column_name"])
        ind_col = "o.indeling" if "indeling" in obs_cols else "NULL"
        long = wh.sql(
            "SELECT o.area_code, o.period, o.variable, o.breakdown, o.value, o.lower, o.upper, "
            f"{ind_col} AS indeling FROM observations o JOIN areas a ON a.code = o.area_code "
            "WHERE a.level = ? AND o.variable IN (SELECT unnest(?))", [level, needed])
        vint = pd.to_numeric(areas.get("vintage"), errors="coerce").dropna() \
            if "vintage" in areas else pd.Series(dtype=float)
        indeling = pd.to_numeric(long["indeling"], errors="coerce").dropna()
        current = int(indeling.max()) if len(indeling) else (int(vint.max()) if len(vint) else None)
        obs_cat = cat.subset([i.id for i in cat if i.source == "observations"])
        out = series_frame(obs_cat, long.drop(columns="indeling"), areas["code"], level, current)
        if level in REFERENCE_LEVELS and (wh.areas()["level"] == "gemeente").any():
            gem = compute_trends(wh, "gemeente", cat)
            pop = _population(None, wh, "gemeente", latest_period(wh))
            agg = aggregate_reference(gem.assign(data_period=gem["period"]), wh.areas(), level,
                                      {i.id: i.scale for i in cat},
                                      {i.id: i.min_population for i in cat},
                                      _complete_parents(wh, level), pop)
            agg = agg[agg["value"].notna()]
            own = set(zip(out["area_code"], out["indicator"], out["period"]))
            fresh = pd.Series([k not in own for k in zip(agg["area_code"], agg["indicator"],
                                                         agg["period"])], index=agg.index,
                              dtype=bool)
            agg = agg[fresh & agg["area_code"].isin(areas["code"])]
            if len(agg):
                add = agg.assign(level=level, lower=np.nan, upper=np.nan, basis="counts",
                                 indeling=current)[TREND_COLUMNS]
                out = pd.concat([out, add], ignore_index=True) if len(out) else add
    return out.reset_index(drop=True)


def rank_table(values: pd.DataFrame, cat: Catalogue, areas: pd.DataFrame, level: str
               ) -> pd.DataFrame:
    """indicator_ranks: every area's rank per indicator among the areas of the level in this
    warehouse (weefsel.indicators.reference.rank_values: the rank the web shows too)."""
    from weefsel.indicators.reference import rank_values, scope_name
    _, scope_code, place = scope_name(areas, level)
    parts = []
    for ind in cat:
        v = values[values["indicator"] == ind.id].drop_duplicates("area_code")
        v = v.set_index("area_code")
        r = rank_values(v["value"].where(~v["suppressed"].astype(bool)), ind.direction)
        parts.append(pd.DataFrame({"area_code": r.index, "indicator": ind.id,
                                   "value": r["rank"].to_numpy(), "of": r["of"].to_numpy(),
                                   "percentile": r["percentile"].to_numpy()}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["area_code", "indicator", "value", "of", "percentile"])
    out.insert(1, "level", level)
    out.insert(2, "period", str(values["period"].iloc[0]) if len(values) else "")
    out["scope"] = "build"
    out["scope_code"] = scope_code
    out["scope_nl"] = place
    return out


def compute_all(warehouse: str | Path | Warehouse, level: str = "buurt", period: str | None = None,
                reference: str = "nl", spec: CompositeSpec | None = None,
                catalogue: Catalogue | str | Path | None = None,
                skip_missing: bool = False,
                groups: Mapping[str, list[str]] | None = None) -> IndexRun:
    """Everything ``weefsel index`` writes, as DataFrames (nothing written).

    A level with fewer than MIN_AREAS_TO_RANK areas (provincie and land in a regional
    build) gets indicators, trends and inequality but no SVI flags or composite: a rank of
    1 of 1 says nothing."""
    spec = spec or CompositeSpec()
    spec.check()
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    svi_t = comp = None
    with _open(warehouse) as wh:
        check_reference(wh, level, reference, period)      # before anything is computed
        values = compute_indicators(wh, level, period, catalogue, skip_missing)
        t["indicators"] = time.perf_counter() - t0
        cat = values.attrs["catalogue"]
        areas = wh.areas(level=level)
        ranked_level = len(areas) >= MIN_AREAS_TO_RANK
        if ranked_level:
            s = time.perf_counter()
            svi_t = svi(wh, level, reference=reference, values=values)
            t["svi"] = time.perf_counter() - s
            s = time.perf_counter()
            comp = composite(wh, level, reference=reference, spec=spec, values=values)
            t["composite"] = time.perf_counter() - s
        s = time.perf_counter()
        trends = compute_trends(wh, level, cat, values)
        t["trends"] = time.perf_counter() - s
        s = time.perf_counter()
        ineq = inequality(wh, level, values=values)
        t["inequality"] = time.perf_counter() - s
        names = areas.set_index("code")["name"].dropna().to_dict()
        ranks = rank_table(values, cat, wh.areas(), level)
    tables = {"indicator_values": values.reset_index(drop=True)}
    if comp is not None:
        tables.update({"svi_results": svi_t, "index_results": comp,
                       "index_sensitivity": comp.attrs["sensitivity"]})
    tables.update({"inequality": ineq, "indicator_trends": trends, "indicator_ranks": ranks})
    tables["indicator_catalogue"] = cat.frame()
    if groups:
        tables["indicator_groups"] = group_values(warehouse, values, groups)
    return IndexRun(tables, t, dict(values.attrs.get("skipped", {})),
                    dict(comp.attrs.get("dropped", {})) if comp is not None else {},
                    list(comp.attrs.get("indicators", [])) if comp is not None else [], names,
                    spec.min_coverage)


#: rows of a derived table are replaced per (level, period[, reference]) so runs for other
#: levels survive; the catalogue table is replaced whole.
_KEYS = {"indicator_values": ("level", "period"), "svi_results": ("level", "period", "reference"),
         "index_results": ("level", "period", "reference"),
         "index_sensitivity": ("level", "period", "reference"), "inequality": ("level", "period"),
         "indicator_catalogue": (), "indicator_groups": ("level", "period"),
         "indicator_trends": ("level",), "indicator_ranks": ("level", "period")}


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
    vals = t["indicator_values"]
    lines = [f"indicators: {vals['indicator'].nunique()} computed for {vals['area_code'].nunique()} areas "
             f"({int(vals['value'].notna().sum())} values, {int(vals['suppressed'].sum())} suppressed)"]
    if "basis" in vals and (vals["basis"] == "counts").any() and \
            str(vals["level"].iloc[0]) in REFERENCE_LEVELS:
        n_pub = int((vals["basis"] == "published").sum())
        n_cnt = int((vals["basis"] == "counts").sum())
        lines.append(f"reference values: {n_pub} published for the area itself, {n_cnt} summed "
                     "from the counts of its gemeenten")
    if run.skipped:
        lines.append(f"skipped (not in warehouse): {', '.join(sorted(run.skipped))}")
    tr = t.get("indicator_trends")
    if tr is not None and len(tr):
        n_series = tr.groupby(["area_code", "indicator"]).size()
        lines.append(f"trends: {int((n_series >= 2).sum())} series with >= 2 periods "
                     f"({tr['period'].nunique()} periods, {int(tr['lower'].notna().sum())} points "
                     "with a published margin)")
    if "index_results" not in t:
        lines.append(f"no SVI flags or composite at this level: fewer than {MIN_AREAS_TO_RANK} areas")
        lines.append("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in run.timings.items()))
        return lines
    res, sens = t["index_results"], t["index_sensitivity"]
    if run.dropped:
        lines.append(f"not in the index (too little data at this level): {', '.join(sorted(run.dropped))}")
    lines.append(f"composite over {len(run.indicators)} indicators: {', '.join(run.indicators)}")
    unranked = res[res["unranked_reason"].notna()] if "unranked_reason" in res else res.iloc[0:0]
    if len(unranked):
        none = int((unranked["n_own"] == 0).sum())
        lines.append(f"not ranked: {len(unranked)} areas whose own data carry less than "
                     f"{run.min_coverage:.0%} of the weight ({none} without any): "
                     + ", ".join(f"{c}{' ' + run.names[c] if c in run.names else ''}"
                                 for c in unranked["area_code"].head(5))
                     + (" ..." if len(unranked) > 5 else ""))
    ranked = res.dropna(subset=["rank"])
    if len(ranked):
        w = (ranked["rank_p95"] - ranked["rank_p05"])
        lines.append(f"ranked {len(ranked)} areas, {int(ranked['n_draws'].iloc[0])} Monte-Carlo draws; "
                     f"median width of the 90% rank interval {np.nanmedian(w):.0f} ranks")
        if "coverage" in ranked:
            lines.append(f"own data behind the ranked composites: median {ranked['coverage'].median():.0%} "
                         f"of the weight, {int((ranked['coverage'] < 1).sum())} areas with part of it "
                         "missing (weights renormalised over their own indicators)")
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
