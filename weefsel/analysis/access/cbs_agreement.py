"""How far our nearest-facility distances are from CBS's own road distances (KWB 85984NED).

CBS publishes, per buurt, wijk and gemeente, the distance **by road** from every address to
the nearest school (``AfstandTotSchool``) and GP practice (``AfstandTotHuisartsenpraktijk``),
averaged over residents, in km. We compute the straight line from one point per area (or per
grid cell) to the nearest facility of our own list, times a detour factor (1.3 by default).
This module puts the two side by side per area and summarises the agreement per gemeente and
overall: Pearson r, Spearman rho, median absolute difference (km), median ratio ours/CBS, and
the detour factor that would fit CBS best (median of CBS ÷ straight line, and the least-squares
slope through the origin).

Only gemeenten the facility list covers are compared (a list of Noord-Holland's GPs says nothing
about a buurt in Dronten): a gemeente is covered when the list has at least one facility of the
type in it. Residents near a covered gemeente's edge may still be nearest to a facility outside
the list; that is one reason for differences the report names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import WeefselError

#: typology key -> KWB variable (the typology's ``nabijheid`` stem).
DEFAULT_TYPES = ("school", "gp_practice")
LEVELS = ("buurt", "wijk", "gemeente")


def cbs_variable(type_key: str) -> str:
    from weefsel.sources.typology import load_typology
    stem = load_typology()[type_key].nabijheid_stem
    if not stem:
        raise WeefselError(f"CBS publishes no distance for facility type {type_key!r}")
    return stem


#: DUO kinds CBS's AfstandTotSchool (topic group Basisonderwijs) is compared with: regular
#: primary schools; special schools (sbo, so, vso) serve a region, not the buurt.
SCHOOL_KINDS = ("bo",)


def comparable(facilities: pd.DataFrame, school_kinds: Sequence[str] | None) -> np.ndarray:
    """Mask of facilities to compare: schools of ``school_kinds`` when the list says its kind
    (tag ``soort``), every other facility."""
    import json

    if school_kinds is None or "tags" not in facilities:
        return np.ones(len(facilities), dtype=bool)
    kinds = set(school_kinds)

    def ok(t: str, tags: object) -> bool:
        if t != "school" or not isinstance(tags, str):
            return True
        try:
            soort = json.loads(tags).get("soort")
        except (ValueError, AttributeError):
            return True
        return soort is None or soort in kinds
    return np.array([ok(t, g) for t, g in zip(facilities["type"], facilities["tags"])], dtype=bool)


#: CBS's count of schools "within 3 km over the road" (KWB ScholenBinnen3Km).
COUNT_VARIABLE = "ScholenBinnen3Km"
COUNT_RADIUS_M = 3000.0


def _count_agreement(table: pd.DataFrame, cbs: pd.DataFrame, covered: dict[str, list[str]],
                     radius: float, gemeenten: Sequence[str] | None) -> pd.DataFrame:
    """Our number of schools within the radius against CBS's ScholenBinnen3Km, per level."""
    measure = f"count_within_{radius:g}"
    ours = table[(table["measure"] == measure) & (table["facility_type"] == "school")
                 & table["value"].notna() & table["level"].isin(LEVELS)]
    c = cbs[cbs["variable"] == COUNT_VARIABLE][["area_code", "gemeente_code", "value"]]
    m = ours[["area_code", "level", "value"]].merge(c, on="area_code", suffixes=("_ours", "_cbs"))
    m = m[m["gemeente_code"].isin(covered.get("school", []))]
    if gemeenten:
        m = m[m["gemeente_code"].isin(set(gemeenten))]
    rows = []
    for lv, g in m.groupby("level", sort=False):
        o, cb = g["value_ours"].to_numpy(float), g["value_cbs"].to_numpy(float)
        pos = cb > 0
        corr = len(g) >= 3 and np.std(o) > 0 and np.std(cb) > 0
        rows.append({"level": lv, "n": len(g),
                     "pearson": float(np.corrcoef(o, cb)[0, 1]) if corr else None,
                     "spearman": float(pd.Series(o).rank().corr(pd.Series(cb).rank())) if corr else None,
                     "median_ours": float(np.median(o)), "median_cbs": float(np.median(cb)),
                     "median_ratio": float(np.median(o[pos] / cb[pos])) if pos.any() else None})
    return pd.DataFrame(rows)


#: A gemeente whose median (ours - CBS) exceeds this (km) probably lacks facilities in the list.
LIST_GAP_KM = 1.0
#: Sample points per area for the 'spread' demand (residents spread evenly over the polygon).
SPREAD_POINTS = 40


def spread_points(geoms: np.ndarray, n: int = SPREAD_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """About ``n`` grid points inside each polygon: (k, 2) coordinates and their polygon index.

    A polygon too small or thin for any grid point gets its representative point, so every
    area has at least one sample.
    """
    import shapely

    xs, ys, owner = [], [], []
    for i, g in enumerate(geoms):
        if g is None or shapely.is_empty(g):
            continue
        x0, y0, x1, y1 = g.bounds
        step = max(np.sqrt(g.area / n), 10.0)
        gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
        gx, gy = gx.ravel(), gy.ravel()
        inside = shapely.contains_xy(g, gx, gy)
        if not inside.any():
            p = g.representative_point()
            gx, gy, inside = np.array([p.x]), np.array([p.y]), np.array([True])
        xs.append(gx[inside])
        ys.append(gy[inside])
        owner.append(np.full(int(inside.sum()), i))
    if not xs:
        return np.empty((0, 2)), np.empty(0, dtype=int)
    return np.column_stack([np.concatenate(xs), np.concatenate(ys)]), np.concatenate(owner)


def spread_distances(areas: pd.DataFrame, facilities: pd.DataFrame, level: str = "buurt"
                     ) -> pd.DataFrame:
    """Mean straight-line distance (m) to the nearest facility over points spread evenly in each
    area polygon: the centroid-free counterpart of CBS's mean over addresses."""
    import shapely
    from scipy.spatial import cKDTree

    sub = areas[(areas["level"] == level) & areas["geom_rd"].notna()]
    geoms = shapely.from_wkb([bytes(g) for g in sub["geom_rd"]])
    pts, owner = spread_points(np.asarray(geoms, dtype=object))
    tree = cKDTree(facilities[["x_rd", "y_rd"]].to_numpy(float))
    d, _ = tree.query(pts, k=1)
    mean = np.bincount(owner, weights=d, minlength=len(sub)) / np.maximum(
        np.bincount(owner, minlength=len(sub)), 1)
    return pd.DataFrame({"area_code": sub["code"].to_numpy(), "value": mean})


def summarise(pairs: pd.DataFrame, detour: float) -> dict[str, float | int | None]:
    """Agreement figures for one group of (straight_km, cbs_km) pairs."""
    n = len(pairs)
    out: dict[str, float | int | None] = {"n": n, "pearson": None, "spearman": None,
                                          "median_abs_diff_km": None, "median_ratio": None,
                                          "fitted_detour_median": None, "fitted_detour_ls": None,
                                          "median_cbs_km": None, "median_ours_km": None}
    if n == 0:
        return out
    s = pairs["straight_km"].to_numpy(float)
    c = pairs["cbs_km"].to_numpy(float)
    ours = s * detour
    out["median_cbs_km"] = float(np.median(c))
    out["median_ours_km"] = float(np.median(ours))
    out["median_abs_diff_km"] = float(np.median(np.abs(ours - c)))
    pos = c > 0
    if pos.any():
        out["median_ratio"] = float(np.median(ours[pos] / c[pos]))
    sp = s > 0
    if sp.any():
        out["fitted_detour_median"] = float(np.median(c[sp] / s[sp]))
        out["fitted_detour_ls"] = float((s @ c) / (s @ s))
    if n >= 3 and np.std(s) > 0 and np.std(c) > 0:
        out["pearson"] = float(np.corrcoef(s, c)[0, 1])
        out["spearman"] = float(pd.Series(s).rank().corr(pd.Series(c).rank()))
    return out


@dataclass
class Agreement:
    """Per-area pairs and per-gemeente / overall summaries for each type and level."""

    detour: float
    pairs: pd.DataFrame                # type, demand, level, area_code, gemeente_code, straight_km, ours_km, cbs_km, list_gap
    by_gemeente: pd.DataFrame          # type, level, gemeente_code, name, n, pearson, ...
    overall: pd.DataFrame              # type, demand, level, scope, n, pearson, ...
    covered: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    counts: pd.DataFrame = field(default_factory=pd.DataFrame)   # schools within 3 km, per level

    def text(self, max_gemeenten: int = 40) -> str:
        """Plain-text report (the CLI prints this)."""
        f = lambda v, d=2: "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{d}f}"
        lines = [f"Agreement with CBS road distances (KWB), detour factor {self.detour:g}",
                 ("type        demand   level    scope              areas  pearson spearman  "
                 "med|diff|km  med ratio  fit detour (median / LS)  median km ours / CBS")]
        for r in self.overall.itertuples():
            lines.append(f"{r.type:<11} {r.demand:<8} {r.level:<8} {r.scope:<17} {r.n:>6}  "
                         f"{f(r.pearson):>7} {f(r.spearman):>8}  "
                         f"{f(r.median_abs_diff_km):>11}  {f(r.median_ratio):>9}  "
                         f"{f(r.fitted_detour_median):>10} / {f(r.fitted_detour_ls):<10}  "
                         f"{f(r.median_ours_km)} / {f(r.median_cbs_km)}")
        for t, gms in self.covered.items():
            lines.append(f"{t}: {len(gms)} gemeenten covered by the facility list")
            if len(self.by_gemeente) and "list_gap" in self.by_gemeente:
                gap = self.by_gemeente[(self.by_gemeente["type"] == t) & self.by_gemeente["list_gap"]]
                if len(gap):
                    lines.append(f"  list gaps (median ours - CBS > {LIST_GAP_KM:g} km: facilities "
                                 f"missing from the list?): " + ", ".join(
                                     f"{r.gemeente_code} {r.name or ''}".strip() for r in gap.itertuples()))
        finest = self.by_gemeente
        if len(finest) and finest["gemeente_code"].nunique() <= max_gemeenten:
            lines.append("")
            lines.append("per gemeente (finest level with pairs)")
            for r in finest.itertuples():
                lines.append(f"  {r.type:<11} {r.level:<6} {r.gemeente_code} {str(r.name or '')[:18]:<18} "
                             f"n={r.n:<5} r={f(r.pearson)} rho={f(r.spearman)} "
                             f"med|diff|={f(r.median_abs_diff_km)} km ratio={f(r.median_ratio)} "
                             f"fit={f(r.fitted_detour_median)}")
        elif len(finest):
            lines.append(f"({finest['gemeente_code'].nunique()} gemeenten: per-gemeente figures "
                         "with --compare-out FILE.csv)")
        if len(self.counts):
            lines.append("")
            lines.append(f"schools within 3 km (CBS: by road, mean over residents; ours: within "
                         f"3 km / {self.detour:g} in a straight line)")
            for r in self.counts.itertuples():
                lines.append(f"  {r.level:<8} n={r.n:<6} r={f(r.pearson)} rho={f(r.spearman)} "
                             f"median ours {f(r.median_ours, 1)} / CBS {f(r.median_cbs, 1)}, "
                             f"median ratio {f(r.median_ratio)}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def compare_warehouse(warehouse_path: str | Path, *, types: Sequence[str] = DEFAULT_TYPES,
                      detour: float = 1.3, gemeenten: Sequence[str] | None = None,
                      spread: bool = True,
                      school_kinds: Sequence[str] | None = SCHOOL_KINDS) -> Agreement:
    """Compute straight-line nearest distances for ``types`` and set them beside CBS's.

    ``gemeenten`` restricts the comparison further (e.g. Flevoland's six). With ``spread``,
    buurten are also measured from points spread evenly over their polygon (demand
    ``spread``), next to the one-point-per-area demand the access stage uses (``centroid``).
    ``school_kinds``: which DUO kinds (tag ``soort``) count as a school, because CBS's
    AfstandTotSchool is *basisonderwijs*; None keeps every school.
    """
    from weefsel.warehouse.store import Warehouse

    types = tuple(types)
    with Warehouse(warehouse_path) as wh:
        fac = wh.sql("SELECT f.type, coalesce(a.gemeente_code, f.area_code) gm FROM facilities f "
                     "LEFT JOIN areas a ON a.code = f.area_code")
        present = [t for t in types if (fac["type"] == t).any()]
        if not present:
            raise WeefselError(f"the warehouse holds no facilities of type {', '.join(types)}; "
                               "build with the school/GP lists (facilities/*.csv) first")
        cbs_vars = {t: cbs_variable(t) for t in present}
        cbs = wh.sql("SELECT o.area_code, o.variable, o.period, o.value, a.level, a.gemeente_code, "
                     "a.name FROM observations o JOIN areas a ON a.code = o.area_code "
                     "WHERE o.breakdown = '' AND o.variable IN (SELECT unnest(?)) "
                     "AND o.value IS NOT NULL", [[*cbs_vars.values(), COUNT_VARIABLE]])
        names = wh.sql("SELECT code, name FROM areas WHERE level = 'gemeente'")
        polys = wh.sql("SELECT code, level, geom_rd FROM areas WHERE level = 'buurt' "
                       "AND geom_rd IS NOT NULL") if spread else None
        fac_xy = wh.facilities(present) if spread else None
    if cbs.empty:
        raise WeefselError("the warehouse holds no CBS distances (KWB AfstandTotSchool / "
                           "AfstandTotHuisartsenpraktijk); build with the KWB national selection")
    cbs = cbs.sort_values("period").drop_duplicates(["area_code", "variable"], keep="last")
    from dataclasses import replace

    from weefsel.analysis.access.engine import compute_access
    from weefsel.analysis.access.measures import AccessConfig
    from weefsel.analysis.access.warehouse import load_inputs

    with Warehouse(warehouse_path) as wh:
        radius = COUNT_RADIUS_M / detour          # 3 km by road ~ 3 km / detour in a straight line
        inputs = load_inputs(wh, AccessConfig(detour=1.0, types=present,
                                              radii=(500.0, 1000.0, radius)))
    keep = comparable(inputs.facilities, school_kinds)
    inputs = replace(inputs, facilities=inputs.facilities[keep].reset_index(drop=True))
    if fac_xy is not None:
        fac_xy = fac_xy[comparable(fac_xy, school_kinds)]
    table = compute_access(inputs).table
    near = table[(table["measure"] == "nearest_distance") & table["value"].notna()
                 & table["level"].isin(LEVELS)]
    covered = {t: sorted(set(fac.loc[fac["type"] == t, "gm"].dropna())) for t in present}
    parts = []
    sources = [("centroid", t, near[near["facility_type"] == t][["area_code", "level", "value"]])
               for t in present]
    if spread and polys is not None and len(polys):
        for t in present:
            f = fac_xy[fac_xy["type"] == t]
            sp = spread_distances(polys, f).assign(level="buurt")
            sources.append(("spread", t, sp[["area_code", "level", "value"]]))
    for demand, t, ours in sources:
        c = cbs[cbs["variable"] == cbs_vars[t]][["area_code", "gemeente_code", "value"]]
        m = ours.merge(c, on="area_code", suffixes=("_ours", "_cbs"))
        m = m[m["gemeente_code"].isin(covered[t])]
        if gemeenten:
            m = m[m["gemeente_code"].isin(set(gemeenten))]
        parts.append(pd.DataFrame({"type": t, "demand": demand, "level": m["level"].to_numpy(),
                                   "area_code": m["area_code"].to_numpy(),
                                   "gemeente_code": m["gemeente_code"].to_numpy(),
                                   "straight_km": m["value_ours"].to_numpy(float) / 1000.0,
                                   "cbs_km": m["value_cbs"].to_numpy(float)}))
    pairs = pd.concat(parts, ignore_index=True)
    pairs["ours_km"] = pairs["straight_km"] * detour
    # per gemeente at the finest level that has pairs for the type (centroid demand)
    rows = []
    order = {lv: i for i, lv in enumerate(LEVELS)}
    cen = pairs[(pairs["demand"] == "centroid") & (pairs["level"] != "gemeente")]
    for t, g in cen.groupby("type", sort=False):
        lv = min(g["level"].unique(), key=order.get)
        for gm, gg in g[g["level"] == lv].groupby("gemeente_code"):
            gap = float(np.median(gg["ours_km"] - gg["cbs_km"]))
            rows.append(dict(type=t, level=lv, gemeente_code=gm, list_gap=bool(
                gap > LIST_GAP_KM and len(gg) >= 5), **summarise(gg, detour)))
    by_gm = pd.DataFrame(rows)
    gaps = {(r["type"], r["gemeente_code"]) for r in rows if r["list_gap"]}
    pairs["list_gap"] = [(t, g) in gaps for t, g in zip(pairs["type"], pairs["gemeente_code"])]
    overall = []
    for (t, dm, lv), g in pairs.groupby(["type", "demand", "level"], sort=False):
        overall.append(dict(type=t, demand=dm, level=lv, scope="covered", **summarise(g, detour)))
        if g["list_gap"].any():
            overall.append(dict(type=t, demand=dm, level=lv, scope="without list gaps",
                                **summarise(g[~g["list_gap"]], detour)))
    if len(by_gm):
        by_gm = by_gm.merge(names.rename(columns={"code": "gemeente_code"}), how="left",
                            on="gemeente_code")
    else:
        by_gm = pd.DataFrame(columns=["type", "level", "gemeente_code", "name", "n"])
    notes = [
        ("CBS: by road from every address, averaged over residents; ours: straight line from one "
        "point per area (centroid) x detour, so ours is too short where the facility is inside "
        "the area (the centroid sits near it) and residents are spread out"),
        ("fit detour = what factor on our straight lines would match CBS; it also absorbs the "
        "centroid effect and differences between the lists, not only road circuity"),
    ]
    if "school" in present:
        notes.append("school list: DUO addresses of Nov 2018 (compared: regular primary schools, soort bo); CBS "
                     "2024 counts schools of 2023/2024: schools opened since 2018 (new Almere "
                     "wijken such as Poort and Nobelhorst) are missing from ours")
    if "gp_practice" in present:
        notes.append("GP list (2026) covers Noord-Holland, Almere and Lelystad only: other "
                     "gemeenten are left out of the GP comparison")
    counts = _count_agreement(table, cbs, covered, radius, gemeenten) if "school" in present \
        else pd.DataFrame()
    return Agreement(detour=detour, pairs=pairs, by_gemeente=by_gm, counts=counts,
                     overall=pd.DataFrame(overall), covered=covered, notes=notes)
