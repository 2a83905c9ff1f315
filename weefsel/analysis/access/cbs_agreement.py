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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

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
    pairs: pd.DataFrame                # type, level, area_code, gemeente_code, straight_km, ours_km, cbs_km
    by_gemeente: pd.DataFrame          # type, level, gemeente_code, name, n, pearson, ...
    overall: pd.DataFrame              # type, level, n, pearson, ...
    covered: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def text(self, max_gemeenten: int = 40) -> str:
        """Plain-text report (the CLI prints this)."""
        f = lambda v, d=2: "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{d}f}"  # noqa: E731
        lines = [f"Agreement with CBS road distances (KWB), detour factor {self.detour:g}",
                 "type        level     areas  pearson spearman  med|diff|km  med ratio  "
                 "fit detour (median / LS)  median km ours / CBS"]
        for r in self.overall.itertuples():
            lines.append(f"{r.type:<11} {r.level:<8} {r.n:>6}  {f(r.pearson):>7} {f(r.spearman):>8}  "
                         f"{f(r.median_abs_diff_km):>11}  {f(r.median_ratio):>9}  "
                         f"{f(r.fitted_detour_median):>10} / {f(r.fitted_detour_ls):<10}  "
                         f"{f(r.median_ours_km)} / {f(r.median_cbs_km)}")
        for t, gms in self.covered.items():
            lines.append(f"{t}: {len(gms)} gemeenten covered by the facility list")
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
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def compare_warehouse(warehouse_path: str | Path, *, types: Sequence[str] = DEFAULT_TYPES,
                      detour: float = 1.3, gemeenten: Sequence[str] | None = None) -> Agreement:
    """Compute straight-line nearest distances for ``types`` and set them beside CBS's.

    ``gemeenten`` restricts the comparison further (e.g. Flevoland's six).
    """
    from weefsel.analysis.access.warehouse import run_access
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
                     "AND o.value IS NOT NULL", [list(cbs_vars.values())])
        names = wh.sql("SELECT code, name FROM areas WHERE level = 'gemeente'")
    if cbs.empty:
        raise WeefselError("the warehouse holds no CBS distances (KWB AfstandTotSchool / "
                           "AfstandTotHuisartsenpraktijk); build with the KWB national selection")
    cbs = cbs.sort_values("period").drop_duplicates(["area_code", "variable"], keep="last")
    table = run_access(warehouse_path, types=present, detour=1.0, write=False)
    near = table[(table["measure"] == "nearest_distance") & table["value"].notna()
                 & table["level"].isin(LEVELS)]
    covered = {t: sorted(set(fac.loc[fac["type"] == t, "gm"].dropna())) for t in present}
    parts = []
    for t in present:
        ours = near[near["facility_type"] == t][["area_code", "level", "value"]]
        c = cbs[cbs["variable"] == cbs_vars[t]][["area_code", "gemeente_code", "value"]]
        m = ours.merge(c, on="area_code", suffixes=("_ours", "_cbs"))
        m = m[m["gemeente_code"].isin(covered[t])]
        if gemeenten:
            m = m[m["gemeente_code"].isin(set(gemeenten))]
        parts.append(pd.DataFrame({"type": t, "level": m["level"].to_numpy(),
                                   "area_code": m["area_code"].to_numpy(),
                                   "gemeente_code": m["gemeente_code"].to_numpy(),
                                   "straight_km": m["value_ours"].to_numpy(float) / 1000.0,
                                   "cbs_km": m["value_cbs"].to_numpy(float)}))
    pairs = pd.concat(parts, ignore_index=True)
    pairs["ours_km"] = pairs["straight_km"] * detour
    overall = [dict(type=t, level=lv, **summarise(g, detour))
               for (t, lv), g in pairs.groupby(["type", "level"], sort=False)]
    # per gemeente at the finest level that has pairs for the type
    rows = []
    order = {lv: i for i, lv in enumerate(LEVELS)}
    for t, g in pairs[pairs["level"] != "gemeente"].groupby("type", sort=False):
        lv = min(g["level"].unique(), key=order.get)
        for gm, gg in g[g["level"] == lv].groupby("gemeente_code"):
            rows.append(dict(type=t, level=lv, gemeente_code=gm, **summarise(gg, detour)))
    by_gm = pd.DataFrame(rows)
    if len(by_gm):
        by_gm = by_gm.merge(names.rename(columns={"code": "gemeente_code"}), how="left",
                            on="gemeente_code")
    else:
        by_gm = pd.DataFrame(columns=["type", "level", "gemeente_code", "name", "n"])
    notes = [
        "CBS: by road from every address, averaged over residents; ours: straight line from one "
        "point per area (centroid) x detour, so ours is too short where the facility is inside "
        "the area (the centroid sits near it) and residents are spread out",
        "fit detour = what factor on our straight lines would match CBS; it also absorbs the "
        "centroid effect and differences between the lists, not only road circuity",
    ]
    if "school" in present:
        notes.append("school list: DUO addresses of Nov 2018 (primary and special schools); CBS "
                     "2024 counts schools of 2023/2024: schools opened since 2018 (new Almere "
                     "wijken such as Poort and Nobelhorst) are missing from ours")
    if "gp_practice" in present:
        notes.append("GP list (2026) covers Noord-Holland, Almere and Lelystad only: other "
                     "gemeenten are left out of the GP comparison")
    return Agreement(detour=detour, pairs=pairs, by_gemeente=by_gm,
                     overall=pd.DataFrame(overall), covered=covered, notes=notes)
