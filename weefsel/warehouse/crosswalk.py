"""Crosswalk between boundary vintages (indelingen) and re-expression of values onto it.

CBS renumbers and redraws wijken and buurten, and sometimes *reuses* a code for another area
(Almere: WK003402 was a large district in 2020, in 2024 it is De Werven). A value published on
one indeling therefore never joins another on its code alone. Per gemeente and level:

* the codes of the source vintage equal those of the target vintage -> ``exact`` rows (code
  and area persist; CBS renumbers a gemeente's areas whenever it redraws them);
* otherwise the source polygons are overlaid with the target polygons (shapely 2 STRtree,
  vectorised). A piece's population is the target's population spread over the target's
  surface (``dasymetric``, population from the current KWB); without a population the surface
  itself is used (``areal``). A code found on both sides whose polygons overlap for at least
  80% both ways is ``exact``; one that overlaps little is a *reused* code and is treated as
  two areas (its rows carry the note ``code reused for another area``).

Each row carries ``weight`` (share of the source that goes to the target: counts are split by
it, so totals are preserved), ``target_share`` (share of the target that comes from the
source: rates are averaged by it, so a rate stays within the range of its sources) and
``split_share`` (share of the target that comes from sources that were split). Method:
docs/warehouse.md ("Crosswalk") and docs/method.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import shapely

#: The indeling of the warehouse: the KWB classification year and the PDOK boundaries.
CURRENT_INDELING = 2024
CROSSWALK_COLUMNS = ["from_code", "from_vintage", "to_code", "to_vintage", "level", "method",
                     "weight", "split_share", "target_share", "note"]
#: Both-ways overlap above which a code present on both sides is the same area.
SAME_AREA = 0.8
#: Below this both-ways overlap a code present on both sides is a different (reused) area.
REUSED = 0.5
#: Pieces smaller than this share of both their source and their target are boundary slivers
#: (generalised and approximate outlines differ by tens of metres) and are dropped.
SLIVER = 0.02
#: A source sending less than this share to one target counts as split.
SPLIT = 0.98
#: Share of a persisting area that must come from changed areas before it counts as grown.
MIXED = 0.05
#: A re-expressed rate is given only when sources with a value cover this share of the target.
MIN_COVERAGE = 0.8
REUSED_NOTE = "code reused for another area"


def gemeente_of(code: str) -> str | None:
    """GMxxxx of a GM/WK/BU code (characters 3-6 are the gemeente number)."""
    if isinstance(code, str) and code[:2] in ("GM", "WK", "BU") and len(code) >= 6:
        return "GM" + code[2:6]
    return None


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in CROSSWALK_COLUMNS})


def build_crosswalk(source: pd.DataFrame, target: pd.DataFrame, *, level: str,
                    from_vintage: int, to_vintage: int = CURRENT_INDELING,
                    population: Mapping[str, float] | None = None,
                    gemeenten: Iterable[str] | None = None) -> pd.DataFrame:
    """Crosswalk rows from ``source`` areas (vintage ``from_vintage``) to ``target`` areas.

    ``source``/``target``: frames with ``code`` and ``geom`` (shapely or None) at ``level``.
    ``population``: inhabitants per target code (dasymetric weights). ``gemeenten``: only
    source gemeenten to map (a regional build); default all.
    """
    population = population or {}
    src = source[["code", "geom"]].copy()
    tgt = target[["code", "geom"]].copy()
    src["gm"] = src["code"].map(lambda c: gemeente_of(c) or c)
    tgt["gm"] = tgt["code"].map(lambda c: gemeente_of(c) or c)
    if gemeenten is not None:
        src = src[src["gm"].isin(set(gemeenten))]
    prefix = {"land": "NL", "provincie": "PV", "gemeente": "GM", "wijk": "WK", "buurt": "BU"}
    same_level = bool(len(src)) and src["code"].astype(str).str[:2].eq(prefix.get(level, "")).all()
    s_sets = src.groupby("gm")["code"].agg(frozenset).to_dict()
    t_sets = tgt.groupby("gm")["code"].agg(frozenset).to_dict()
    if not same_level:
        same: set[str] = set()
    elif level in ("land", "provincie", "gemeente"):   # codes never reused: persist or gone
        same = {g for g in s_sets if g in t_sets}
    else:
        same = {g for g, codes in s_sets.items() if t_sets.get(g) == codes}
    exact_codes = src.loc[src["gm"].isin(same), "code"].tolist()
    parts = []
    if exact_codes:
        parts.append(pd.DataFrame({"from_code": exact_codes, "to_code": exact_codes,
                                   "method": "exact", "weight": 1.0, "target_share": 1.0,
                                   "split_share": 0.0, "note": None}))
    changed = src[~src["gm"].isin(same)]
    if len(changed):
        ov = _overlay(changed, tgt, population)
        parts = _absorb(parts, ov, set(exact_codes), population)
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out["from_vintage"] = int(from_vintage)
    out["to_vintage"] = int(to_vintage)
    out["level"] = level
    return out[CROSSWALK_COLUMNS].reset_index(drop=True)


def _absorb(parts: list[pd.DataFrame], ov: pd.DataFrame, exact: set[str],
            population: Mapping[str, float]) -> list[pd.DataFrame]:
    """Join overlay rows with the exact ones. A persisting area that took in part of a
    changed one (Oisterwijk, Vught, Tilburg, Boxtel took Haaren's land in 2021) is no longer
    exact: its namesake keeps weight 1 but supplies only the rest of the target."""
    into = ov["to_code"].isin(exact)
    frac = ov[into].groupby("to_code")["of_tgt"].sum()
    grown = set(frac[frac >= MIXED].index)
    ov = ov[~into | ov["to_code"].isin(grown)].copy()
    if ov.empty:
        return parts
    tot = ov.groupby("from_code")["weight"].transform("sum")
    # a source whose people all went to persisting areas as slivers keeps no row
    ov = ov[tot > 0].copy()
    ov["weight"] = ov["weight"] / tot[tot > 0]
    if ov.empty:
        return parts
    g = ov["to_code"].isin(grown)
    ov.loc[g, "target_share"] = ov.loc[g, "of_tgt"]
    if grown and parts:
        ex = parts[0]
        hit = ex["to_code"].isin(grown)
        ex = ex.copy()
        rest = (1 - ex.loc[hit, "to_code"].map(frac)).clip(lower=0.0)
        ex.loc[hit, "target_share"] = rest.to_numpy()
        pop = pd.to_numeric(ex.loc[hit, "to_code"].map(population), errors="coerce")
        ex.loc[hit, "method"] = np.where(pop.notna() & (pop > 0), "dasymetric", "areal")
        ex.loc[hit, "note"] = "took in part of another area"
        parts = [ex, *parts[1:]]
    allrows = pd.concat([*parts, ov.drop(columns=["of_tgt"])], ignore_index=True)
    split = allrows["weight"] < SPLIT
    allrows["split_share"] = (allrows["target_share"] * split).groupby(
        allrows["to_code"]).transform("sum")
    return [allrows]


def _overlay(src: pd.DataFrame, tgt: pd.DataFrame, population: Mapping[str, float]) -> pd.DataFrame:
    """Rows for sources of changed gemeenten, by areal overlap with every target polygon."""
    src = src[src["geom"].notna()].reset_index(drop=True)
    tgt = tgt[tgt["geom"].notna()].reset_index(drop=True)
    if src.empty or tgt.empty:
        return _empty().drop(columns=["from_vintage", "to_vintage", "level"]).assign(
            of_tgt=pd.Series(dtype=float))
    sg = np.asarray(src["geom"].to_numpy(), dtype=object)
    tg = np.asarray(tgt["geom"].to_numpy(), dtype=object)
    tree = shapely.STRtree(tg)
    si, ti = tree.query(sg, predicate="intersects")
    inter = shapely.intersection(sg[si], tg[ti], grid_size=None)
    a = shapely.area(inter)
    s_area = shapely.area(sg)
    t_area = shapely.area(tg)
    p = pd.DataFrame({"si": si, "ti": ti, "a": a})
    p = p[p["a"] > 0]
    p["of_src"] = p["a"] / s_area[p["si"]]
    p["of_tgt"] = p["a"] / t_area[p["ti"]]
    p["from_code"] = src["code"].to_numpy()[p["si"]]
    p["to_code"] = tgt["code"].to_numpy()[p["ti"]]

    # same code on both sides: the same area (exact) or a reused code (two areas)
    both = p[p["from_code"] == p["to_code"]]
    exact = set(both.loc[(both["of_src"] >= SAME_AREA) & (both["of_tgt"] >= SAME_AREA),
                         "from_code"])
    shared = set(src["code"]) & set(tgt["code"])
    mutual = both.set_index("from_code")[["of_src", "of_tgt"]].min(axis=1)
    reused = {c for c in shared if c not in exact and float(mutual.get(c, 0.0)) < REUSED}
    p = p[~((p["from_code"].isin(exact) | p["to_code"].isin(exact))
            & (p["from_code"] != p["to_code"]))]
    p = p[(p["of_src"] >= SLIVER) | (p["of_tgt"] >= SLIVER)].copy()

    pop = pd.to_numeric(p["to_code"].map(population), errors="coerce")
    p["pop"] = pop * p["of_tgt"]               # target population spread over its surface
    has_pop = p["pop"].notna()
    src_all_pop = has_pop.groupby(p["from_code"]).transform("all")
    p["w_raw"] = np.where(src_all_pop, p["pop"].fillna(0.0), p["a"])
    tot = p.groupby("from_code")["w_raw"].transform("sum")
    # a source whose targets are all unpopulated is split by surface
    p["w_raw"] = np.where(tot > 0, p["w_raw"], p["a"])
    p["weight"] = p["w_raw"] / p.groupby("from_code")["w_raw"].transform("sum")
    p["t_raw"] = np.where(has_pop & (pop > 0), p["pop"].fillna(0.0), p["a"])
    p["target_share"] = p["t_raw"] / p.groupby("to_code")["t_raw"].transform("sum")
    p["method"] = np.where(src_all_pop & has_pop & (pop > 0), "dasymetric", "areal")
    p.loc[p["from_code"].isin(exact) & (p["from_code"] == p["to_code"]), "method"] = "exact"
    p.loc[p["method"] == "exact", ["weight", "target_share"]] = 1.0
    split = p["weight"] < SPLIT
    p["split_share"] = (p["target_share"] * split).groupby(p["to_code"]).transform("sum")
    p["note"] = np.where(p["from_code"].isin(reused) | p["to_code"].isin(reused),
                         REUSED_NOTE, None)
    return p[["from_code", "to_code", "method", "weight", "target_share", "split_share",
              "note", "of_tgt"]].reset_index(drop=True)


def reused_codes(crosswalk: pd.DataFrame) -> set[str]:
    """Codes that name one area in the source vintage and another in the target vintage."""
    if crosswalk.empty:
        return set()
    hit = crosswalk[crosswalk["note"] == REUSED_NOTE]
    return set(hit["from_code"]) & set(crosswalk["to_code"])


# ------------------------------------------------------------------ re-expression

def variable_kinds(variables: pd.DataFrame | None) -> dict[str, str]:
    """'count' for variables whose unit is a number of people/things, else 'rate'.

    Rates (%, averages, per-1000) are averaged by population share; counts are split and
    summed. Unknown units are treated as rates: a weighted mean never leaves the range of its
    sources, while a wrongly summed rate would.
    """
    out: dict[str, str] = {}
    if variables is None or variables.empty:
        return out
    for var, unit in zip(variables["variable"], variables.get("unit", pd.Series(dtype=object))):
        u = str(unit or "").strip().lower()
        out[str(var)] = "count" if u in ("aantal", "count", "number", "personen", "inwoners") \
            else "rate"
    return out


_OBS_COLUMNS = ("area_code", "period", "variable", "breakdown", "value", "lower", "upper",
                "source")


def prepare_observations(obs: pd.DataFrame) -> object:
    """``obs`` as a typed Arrow table for :func:`reexpress`.

    Converting once per vintage (instead of letting DuckDB scan pandas object columns on
    every call) is what keeps the national crosswalk fast: ``reexpress`` runs once per level
    and source level on the same millions of values.
    """
    import pyarrow as pa

    o = obs[[c for c in _OBS_COLUMNS if c in obs.columns]]
    n = len(o)

    def text(c: str, fill: str | None) -> pa.Array:
        if c not in o:
            return pa.array([fill] * n, type=pa.string())
        return _as_string(o[c])

    def num(c: str) -> pa.Array:
        if c not in o:
            return pa.nulls(n, type=pa.float64())
        s = o[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            return pa.array(s.to_numpy(dtype=float, na_value=np.nan), type=pa.float64(),
                            from_pandas=True)
        return _as_string(s)            # text: DuckDB's TRY_CAST decides, as before

    return pa.table({"area_code": text("area_code", None), "period": text("period", None),
                     "variable": text("variable", None), "breakdown": text("breakdown", ""),
                     "value": num("value"), "lower": num("lower"), "upper": num("upper"),
                     "source": text("source", None)})


def _as_string(s: pd.Series) -> object:
    """An Arrow string column of ``s``; non-text values as Python's ``str`` would write them."""
    import pyarrow as pa

    if pd.api.types.is_string_dtype(s.dtype):
        try:
            return pa.array(s, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    s = s.astype(object)
    return pa.array(s.where(s.notna(), None).map(
        lambda x: x if x is None or isinstance(x, str) else str(x)).to_numpy(),
        type=pa.string(), from_pandas=True)


def reexpress(obs: pd.DataFrame | object, crosswalk: pd.DataFrame,
              kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Values of ``obs`` (source vintage) on the crosswalk's target areas.

    Counts: ``sum(weight * value)``, given only when every source of the target has a value;
    bounds summed likewise (errors taken as fully correlated: the widest interval).
    Rates: ``sum(target_share * value) / sum(target_share)`` over sources with a value,
    given only when those cover at least ``MIN_COVERAGE`` of the target; the bounds are the
    hull of the contributing sources' bounds (conservative). Ranks are never averaged: only
    values are re-expressed, ranks are computed afterwards on the target areas.
    Returns observation rows with ``method`` = ``crosswalk:<exact|areal|dasymetric>``.
    ``obs``: a frame, or the Arrow table of :func:`prepare_observations` (reuse it across
    calls). The join and aggregation run in an in-memory DuckDB (millions of values).
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = ["area_code", "period", "variable", "breakdown", "value", "lower", "upper",
            "source", "method"]
    if len(obs) == 0 or crosswalk.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    o = obs if isinstance(obs, pa.Table) else prepare_observations(obs)
    # only the values the crosswalk can map: a join input a fraction of the vintage's size
    o = o.filter(pc.is_in(o["area_code"], value_set=pa.array(
        pd.unique(crosswalk["from_code"].astype(str)), type=pa.string())))
    cw = crosswalk[["from_code", "to_code", "method", "weight", "target_share"]]
    counts = pd.DataFrame({"variable": [v for v, k in (kinds or {}).items() if k == "count"]},
                          dtype=object)
    con = duckdb.connect()
    try:
        con.register("o", o)
        con.register("cw", cw)
        con.register("counts", counts)
        cover = "sum(CASE WHEN value IS NOT NULL THEN target_share ELSE 0 END)"
        ok = f"{cover} >= {MIN_COVERAGE - 1e-9}"
        df = con.execute(f"""
            WITH m AS (
              SELECT c.to_code, CAST(o.period AS VARCHAR) AS period,
                     CAST(o.variable AS VARCHAR) AS variable,
                     coalesce(CAST(o.breakdown AS VARCHAR), '') AS breakdown,
                     TRY_CAST(o.value AS DOUBLE) AS value, TRY_CAST(o.lower AS DOUBLE) AS lower,
                     TRY_CAST(o.upper AS DOUBLE) AS upper, CAST(o.source AS VARCHAR) AS source,
                     c.method, c.weight, c.target_share,
                     o.variable IN (SELECT variable FROM counts) AS is_count
              FROM o JOIN cw c ON CAST(o.area_code AS VARCHAR) = c.from_code)
            SELECT to_code AS area_code, period, variable, breakdown,
              CASE WHEN is_count THEN CASE WHEN count(value) = count(*)
                                           THEN sum(weight * value) END
                   WHEN {ok} THEN sum(CASE WHEN value IS NOT NULL THEN target_share * value
                                           ELSE 0 END) / {cover} END AS value,
              CASE WHEN is_count THEN CASE WHEN count(lower) = count(*)
                                           THEN sum(weight * lower) END
                   WHEN {ok} THEN min(CASE WHEN value IS NOT NULL THEN lower END) END AS lower,
              CASE WHEN is_count THEN CASE WHEN count(upper) = count(*)
                                           THEN sum(weight * upper) END
                   WHEN {ok} THEN max(CASE WHEN value IS NOT NULL THEN upper END) END AS upper,
              first(source) AS source,
              'crosswalk:' || CASE max(CASE method WHEN 'exact' THEN 0 WHEN 'areal' THEN 1
                                                   ELSE 2 END)
                              WHEN 0 THEN 'exact' WHEN 1 THEN 'areal' ELSE 'dasymetric' END
                AS method
            FROM m GROUP BY to_code, period, variable, breakdown, is_count
            -- a target with no value at all is missing, not re-expressed
            HAVING (CASE WHEN is_count THEN count(value) = count(*) ELSE {ok} END)
                OR count(lower) > 0 OR count(upper) > 0
        """).df()
    finally:
        con.close()
    df = df[df["value"].notna() | df["lower"].notna() | df["upper"].notna()]
    return df[cols].reset_index(drop=True)


# ------------------------------------------------------------------ source geometry

def vintage_geometry(codes: pd.DataFrame, files: list[pd.DataFrame],
                     current: Mapping[str, frozenset]) -> tuple[dict[str, object], dict[str, str]]:
    """Polygons for the areas of one vintage, from buurt files of that or a nearby vintage.

    ``codes``: the vintage's areas (``code``, ``level``). ``files``: buurt frames with ``code``
    and ``geom`` (shapely), nearest vintage first. ``current``: current buurt codes per gemeente.
    Per gemeente, the first file whose buurt codes agree with the vintage's (at least 90% of
    them present) gives the buurt polygons; a wijk or gemeente is the union of its buurten
    there ("where codes agree"). Gemeenten whose codes equal the current ones need no
    polygons (their rows are exact). Returns (code -> polygon, gemeente -> where from).
    """
    bu = codes[codes["level"] == "buurt"]["code"]
    by_gm = bu.groupby(bu.map(gemeente_of)).agg(frozenset).to_dict()
    geoms: dict[str, object] = {}
    origin: dict[str, str] = {}
    file_sets = []
    for f in files:
        fb = f[f["code"].astype(str).str.startswith("BU") & f["geom"].notna()]
        file_sets.append((fb.groupby(fb["code"].map(gemeente_of))["code"].agg(frozenset)
                          .to_dict(), dict(zip(fb["code"], fb["geom"])),
                          str(f["source"].iloc[0]) if "source" in f and len(f) else "file"))
    for gm, s in by_gm.items():
        if current.get(gm) == s:
            origin[gm] = "current codes"
            continue
        for sets, lookup, label in file_sets:
            have = sets.get(gm, frozenset())
            if s and len(s & have) >= 0.9 * len(s):
                for c in s & have:
                    geoms[c] = lookup[c]
                origin[gm] = label
                break
    # wijken and gemeenten: union of their buurten where codes agree
    gb = pd.Series(list(geoms.keys()), dtype=object)
    if len(gb):
        g_arr = np.asarray([geoms[c] for c in gb], dtype=object)
        for level, key in (("wijk", gb.str[2:8].radd("WK")), ("gemeente", gb.str[2:6].radd("GM"))):
            wanted = set(codes.loc[codes["level"] == level, "code"])
            for code, idx in pd.Series(range(len(gb))).groupby(key.to_numpy()).groups.items():
                if code in wanted:
                    geoms[code] = shapely.union_all(g_arr[list(idx)])
    return geoms, origin
