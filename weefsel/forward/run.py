"""One scenario run end to end: base, variants, Monte-Carlo projection, gap per norm."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from weefsel.forward import montecarlo as mc
from weefsel.forward import rates
from weefsel.forward.base import load_base
from weefsel.forward.gap import calibrate, catchment, demand_year, gap_list, gap_year
from weefsel.forward.norms import load_norms
from weefsel.forward.project import project
from weefsel.forward.scenario import Scenario, load_scenario, resolve
from weefsel.forward.supply import load_supply
from weefsel.warehouse.store import Warehouse

Progress = Callable[[str, int, int], None]
GROUPS = rates.BAND_NAMES + ["totaal"]
#: code of the sum over all projected areas (quantiles of the per-draw sum, not sums of quantiles)
TOTAL = "TOTAAL"


@dataclass
class ForwardResult:
    scenario: Scenario
    projection: pd.DataFrame
    gap: pd.DataFrame
    gaplist: pd.DataFrame
    programme: pd.DataFrame
    areas: pd.DataFrame
    runs: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: per norm (capacity factor, reference level per area) of the base supply; a what-if
    #: run reuses it so that only the change of supply moves the gap
    calibration: dict = field(default_factory=dict)


def area_points(wh: Warehouse, codes: np.ndarray) -> np.ndarray:
    """(A, 2) RD point per area: its own polygon, else its wijk's (buurten often have no
    polygon in a warehouse built from generalised wijk maps), else NaN."""
    from weefsel.analysis.access.demand import area_points as pts
    areas = wh.areas(with_geometry=True)
    geoms = shapely.from_wkb(np.array([None if b is None or b is pd.NA or (isinstance(b, float) and np.isnan(b))
                                       else bytes(b) for b in areas["geom_rd"]], dtype=object))
    ok = ~shapely.is_missing(geoms)
    xy = {}
    if ok.any():
        p = pts(geoms[ok])
        xy = dict(zip(areas["code"].astype(str).to_numpy()[ok], map(tuple, p)))
    out = np.full((len(codes), 2), np.nan)
    for i, c in enumerate(codes):
        hit = xy.get(c) or (xy.get("WK" + c[2:8]) if c.startswith("BU") else None)
        if hit:
            out[i] = hit
    return out


def _svi_flags(wh: Warehouse) -> pd.Series:
    if not wh.has_table("svi_results"):
        return pd.Series(dtype=float)
    df = wh.sql("SELECT area_code, max(themes_flagged) AS t FROM svi_results "
                "WHERE component_type = 'overall' GROUP BY 1")
    return df.set_index("area_code")["t"]


def run_scenario(warehouse: str | Path, scenario: str | Path | Scenario, *, draws: int = 1000,
                 seed: int = 42, variants: list[str] | None = None, norms: str | Path | None = None,
                 facilities: list[tuple[str, Path]] | None = None, decay: str = "gaussian:1500",
                 detour: float = 1.3, progress: Progress | None = None,
                 supply: pd.DataFrame | None = None, name: str | None = None,
                 calibrate_supply: bool = True, calibration: dict | None = None) -> ForwardResult:
    """Project every variant of ``scenario`` and its facility gaps (nothing written).

    ``calibrate_supply``: scale each norm's capacities so that supply in reach equals the
    base-year demand (the facility lists hold counts, not places); gaps then show what the
    programme changes. Off when the facilities carry real capacities in norm units.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    norm_list = load_norms(norms)
    with Warehouse(warehouse) as wh:
        base = load_base(wh)
        base.xy = area_points(wh, base.codes)
        supply_notes: list[str] = []
        sup = supply if supply is not None else load_supply(wh, facilities, supply_notes)
        flags = _svi_flags(wh)
    chosen = variants or sc.variant_names()
    for v in chosen:
        if v != "basis" and v not in sc.variants:
            from weefsel.forward.errors import ForwardInputError
            raise ForwardInputError(f"onbekende variant '{v}' (bekend: {', '.join(sc.variant_names())})",
                                    file=sc.file, field="variants")
    # check every variant resolves before any work: all-or-nothing
    resolved = {v: resolve(sc, base, sc.uncertainty_for(v)[1]) for v in chosen}
    label = name or sc.name
    proj, gaps, progs, runs = [], [], [], []
    calib: dict = {}
    notes = list(base.notes) + supply_notes
    n_missing_pt = int((~np.isfinite(base.xy).all(axis=1)).sum())
    if n_missing_pt:
        notes.append(f"{n_missing_pt} gebieden zonder ligging: geen tekort berekend (geen bereik bekend)")
    for n in norm_list:
        if not sup["type"].isin(n.facility_types).any():
            notes.append(f"geen voorzieningen van type {', '.join(n.facility_types)} voor norm {n.key}: "
                         "alleen de vraag, geen tekort berekend")
    for v in chosen:
        t0 = time.perf_counter()
        res = resolved[v]
        unc, _ = sc.uncertainty_for(v)
        dr = mc.draw(draws, len(res.programme.area), unc, seed)
        eb = res.base
        with_supply = [n for n in norm_list if sup["type"].isin(n.facility_types).any()
                       or (calibration is not None and n.key in calibration)]
        catch = [catchment(n, eb.xy, sup, decay=decay, detour=detour) for n in with_supply]
        if calibration is not None:
            for n, c in zip(with_supply, catch):
                if n.key in calibration:
                    factor, ref = calibration[n.key]
                    c.capacity = c.capacity * factor
                    if ref is not None:
                        c.reference = np.concatenate([ref, np.ones(max(0, eb.n - len(ref)))])[:eb.n]
        elif calibrate_supply:
            for n, c in zip(with_supply, catch):
                f = calibrate(n, c, eb.population, eb.dwellings)
                calib[n.key] = (f, c.reference)
                msg = (f"norm {n.key}: capaciteit geschaald met factor {f:.2f} zodat aanbod binnen bereik "
                       f"gelijk is aan de vraag in {eb.year} (alleen de verandering is betekenisvol)")
                if msg not in notes and v == chosen[0]:
                    notes.append(msg)
        G = len(res.gemeente_codes)
        onehot = np.zeros((eb.n, G + 1), np.float32)   # the gemeenten and all areas together
        onehot[np.arange(eb.n), res.gemeente_index] = 1
        onehot[:, G] = 1
        years, qs, gp = [], [], {n.key: [] for n in norm_list}
        Y = sc.horizon - eb.year

        def on_year(year: int, P: np.ndarray, H: np.ndarray) -> None:
            total = P.sum(0)
            b = np.stack([P[lo:hi].sum(0) for _, lo, hi in rates.KWB_BANDS.values()] + [total])
            b = np.concatenate([b, b @ onehot], axis=2)                    # + gemeenten
            qs.append(mc.summarise(np.moveaxis(b, 1, 0)))                  # (5q, 6, A+G)
            years.append(year)
            for n, c in zip(with_supply, catch):
                gp[n.key].append(gap_year(n, c, P, H, total))
            for n in norm_list:
                if n not in with_supply:  # no supply data: demand only, no shortfall claimed
                    gp[n.key].append(demand_year(n, P, H, total))
            if progress:
                progress(v, year - eb.year, Y)

        project(eb.population, eb.dwellings, res.programme, dr, eb.year, sc.horizon, on_year=on_year,
                gemeente_index=res.gemeente_index, gemeente_totals=res.gemeente_totals)
        codes = np.concatenate([eb.codes.astype(str), np.array(res.gemeente_codes + [TOTAL], dtype=str)])
        levels = np.array(["buurt" if c.startswith("BU") else "nieuw" if c.startswith("NIEUW:")
                           else "wijk" if c.startswith("WK") else "totaal" if c == TOTAL else "gemeente"
                           for c in codes])
        Q = np.stack(qs)                         # (Y+1, 5q, 6, AG)
        yy, gg, aa = np.meshgrid(np.array(years), np.arange(len(GROUPS)), np.arange(len(codes)),
                                 indexing="ij")
        frame = pd.DataFrame({"scenario": label, "variant": v, "area_code": codes[aa.ravel()],
                              "level": levels[aa.ravel()], "year": yy.ravel(),
                              "age_group": np.array(GROUPS)[gg.ravel()]})
        for qi, qn in enumerate(mc.Q_NAMES):
            frame[qn] = Q[:, qi].ravel().astype(float)
        proj.append(frame)
        for n in norm_list:
            rows = gp[n.key]
            A = eb.n
            g = pd.DataFrame({"scenario": label, "variant": v, "norm": n.key, "label_nl": n.label_nl,
                              "unit": n.unit, "area_code": np.tile(eb.codes.astype(str), len(years)),
                              "year": np.repeat(years, A)})
            for k in rows[0]:
                g[k] = np.concatenate([r[k] for r in rows]).astype(float)
            no_pt = ~np.isfinite(eb.xy).all(axis=1)
            g.loc[np.tile(no_pt, len(years)), ["supply_p50", "gap_p10", "gap_p50", "gap_p90",
                                                "p_shortfall"]] = np.nan
            gaps.append(g)
        progs.append(res.programme_rows.assign(scenario=label, variant=v))
        runs.append({"scenario": label, "variant": v, "file": sc.file, "title_nl": sc.title_nl,
                     "voorbeeld": sc.voorbeeld, "draws": draws, "seed": seed, "base_year": eb.year,
                     "horizon": sc.horizon, "seconds": round(time.perf_counter() - t0, 2),
                     "dwellings": float(res.programme.dwellings.sum()),
                     "uncertainty": json.dumps(unc.__dict__), "notes": " | ".join(notes),
                     "spec": json.dumps(sc.spec, default=str, ensure_ascii=False),
                     "facility_files": json.dumps([[t, str(Path(f).resolve())] for t, f in (facilities or [])]),
                     "norms_file": str(Path(norms).resolve()) if norms else "",
                     "decay": decay, "detour": detour,
                     "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")})
    eb = resolved[chosen[0]].base
    areas = pd.DataFrame({"scenario": label, "code": eb.codes.astype(str), "name": eb.names.astype(str),
                          "gemeente_code": eb.gemeente.astype(str), "x_rd": eb.xy[:, 0], "y_rd": eb.xy[:, 1],
                          "svi_themes_flagged": pd.Series(eb.codes.astype(str)).map(flags).to_numpy(float)})
    gap = pd.concat(gaps, ignore_index=True)
    return ForwardResult(sc, pd.concat(proj, ignore_index=True), gap, gap_list(gap),
                         pd.concat(progs, ignore_index=True), areas, pd.DataFrame(runs), notes,
                         calibration=calib if calibration is None else calibration)
