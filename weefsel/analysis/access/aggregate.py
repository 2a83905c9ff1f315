"""Population-weighted aggregation of point measures to every area level.

Each demand point belongs to its finest area (buurt or wijk); it also counts for every
ancestor (wijk, gemeente, provincie, land) known from the area table. For area a,

    value_a = Σ_{i∈a} p_i v_i / Σ_{i∈a} p_i

computed for all areas at once with ``np.bincount`` over a (point, area) membership list.

Missing values are explicit: ``value`` is NULL and ``missing_reason`` says why:
* ``no residents``                  the area's demand points hold no population (Σ p = 0)
* ``no facility of this type``      nothing of the type exists in the input
* ``not reachable``                 some residents cannot reach the type on the network
* ``partial coverage (x%)``         a parent area whose residents are only partly represented
                                    by demand points (e.g. 'land' in a one-province warehouse)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# measure in points → (exported measure id, scale factor)
EXPORT = {
    "e2sfca": ("e2sfca_per_1000", 1000.0),
    "has_meeting_place": ("share_with_meeting_place", 100.0),
}

PREFIX_LEVEL = {"BU": "buurt", "WK": "wijk", "GM": "gemeente", "PV": "provincie", "NL": "land"}
PARENTS = ["wijk_code", "gemeente_code", "provincie_code"]


def _level_of(code: str, levels: dict[str, str]) -> str:
    return levels.get(code) or PREFIX_LEVEL.get(code[:2], "onbekend")


def membership(area_codes: pd.Series, areas: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(point index, group index) pairs and the group table (area_code, level).

    ``areas`` needs ``code`` and ``level``; parent columns (wijk/gemeente/provincie_code) are
    used where present, and a 'land' row (if any) collects every point with an area.
    """
    levels = dict(zip(areas["code"].astype(str), areas["level"].astype(str)))
    table = areas.set_index(areas["code"].astype(str))
    codes = area_codes.astype("string")
    cols = [codes]
    for parent in PARENTS:
        if parent in table.columns:
            cols.append(codes.map(table[parent].dropna().astype(str)).astype("string"))
    land = areas.loc[areas["level"] == "land", "code"].astype(str).tolist()
    if land:
        cols.append(pd.Series(np.where(codes.notna(), land[0], None), index=codes.index, dtype="string"))
    stacked = pd.concat(cols, keys=range(len(cols)), names=["k", "point"]).dropna()
    point_idx = stacked.index.get_level_values("point").to_numpy()
    point_pos = pd.Index(area_codes.index).get_indexer(point_idx)
    # one area can appear twice for a point (e.g. a wijk-level point whose wijk_code is itself)
    pairs = pd.DataFrame({"point": point_pos, "code": stacked.to_numpy()}).drop_duplicates()
    # only areas the warehouse knows: a parent code of a buurt (e.g. its provincie in a
    # one-gemeente build) that has no area row would be an Amsterdam-only "Noord-Holland"
    pairs = pairs[pairs["code"].isin(set(levels))]
    group_codes, group_idx = np.unique(pairs["code"].to_numpy(dtype=str), return_inverse=True)
    groups = pd.DataFrame({"area_code": group_codes,
                           "level": [_level_of(c, levels) for c in group_codes]})
    return pairs["point"].to_numpy(), group_idx, groups


def aggregate(points: dict[tuple[str, str], np.ndarray], demand: pd.DataFrame, areas: pd.DataFrame,
              period: str, published_population: pd.Series | None = None,
              min_coverage: float = 0.95) -> pd.DataFrame:
    """Long table (area_code, level, period, measure, facility_type, value, population, missing_reason).

    ``published_population`` (by area code) guards parent areas that the demand points only
    partly cover (e.g. 'land' in a Flevoland-only warehouse): below ``min_coverage`` their
    value is NULL with reason 'partial coverage'.
    """
    pt, grp, groups = membership(demand["area_code"], areas)
    n_groups = len(groups)
    pop = demand["population"].to_numpy(dtype=float)[pt]
    pop_sum = np.bincount(grp, weights=pop, minlength=n_groups)
    partial = np.zeros(n_groups, dtype=bool)
    coverage = np.ones(n_groups)
    if published_population is not None:
        published = groups["area_code"].map(pd.to_numeric(published_population, errors="coerce")).to_numpy(float)
        own = groups["area_code"].isin(set(demand["area_code"].dropna().astype(str))).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(published > 0, pop_sum / published, 1.0)
        partial = ~own & (coverage < min_coverage)
    frames = []
    for (measure, ftype), values in points.items():
        v = np.asarray(values, dtype=float)[pt]
        finite = np.isfinite(v)
        wsum = np.bincount(grp, weights=np.where(finite, v, 0.0) * pop, minlength=n_groups)
        blocked = np.bincount(grp, weights=(~finite) * pop, minlength=n_groups)
        value = np.full(n_groups, np.nan)
        ok = (pop_sum > 0) & (blocked == 0)
        value[ok] = wsum[ok] / pop_sum[ok]
        reason = np.full(n_groups, None, dtype=object)
        reason[pop_sum <= 0] = "no residents"
        no_type = (pop_sum > 0) & (blocked > 0)
        all_inf = not finite.any()
        reason[no_type] = "no facility of this type" if all_inf else "not reachable"
        value[partial] = np.nan
        reason[partial] = [f"partial coverage ({c:.0%} of residents)" for c in coverage[partial]]
        name, scale = EXPORT.get(measure, (measure, 1.0))
        frames.append(pd.DataFrame({
            "area_code": groups["area_code"], "level": groups["level"], "period": period,
            "measure": name, "facility_type": ftype, "value": value * scale,
            "population": pop_sum, "missing_reason": reason}))
    if not frames:
        return pd.DataFrame(columns=["area_code", "level", "period", "measure", "facility_type",
                                     "value", "population", "missing_reason"])
    out = pd.concat(frames, ignore_index=True)
    out["value"] = out["value"].astype(float)
    return out
