"""A small hand-made warehouse (two Flevoland gemeenten) for tests, demos and the bench.

The polygons are rectangles in RD New around the real Almere and Lelystad centres, nested
land ⊃ provincie ⊃ gemeente ⊃ wijk ⊃ buurt; the numbers are invented but plausible. The
indicator tables follow the shapes the indicator stage writes (indicator_values,
index_results, svi_results), so the web layer can be tested without a full build.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from weefsel.warehouse.writer import create_warehouse

DEMO_CATALOGUE = [
    {"id": "eenzaamheid", "title_nl": "Eenzaam (18+)", "title_en": "Lonely (18+)",
     "theme": "verbondenheid", "unit": "% van inwoners 18+", "direction": "higher_is_worse",
     "sources": ["50090NED"]},
    {"id": "vrijwilligerswerk", "title_nl": "Doet vrijwilligerswerk", "title_en": "Volunteers",
     "theme": "participatie", "unit": "% van inwoners 18+", "direction": "higher_is_better",
     "sources": ["50090NED"]},
    {"id": "laag_inkomen", "title_nl": "Huishoudens met een laag inkomen",
     "title_en": "Low-income households", "theme": "bestaanszekerheid", "unit": "%",
     "direction": "higher_is_worse", "sources": ["85984NED"]},
]

GEMEENTEN = {  # code: (name, x0, y0) lower-left corner in RD, 8 x 6 km
    "GM0034": ("Almere", 138000.0, 483000.0),
    "GM0995": ("Lelystad", 156000.0, 499000.0),
}
WIJKEN = {"GM0034": ["Almere Stad", "Almere Haven"], "GM0995": ["Lelystad Centrum", "Lelystad Noord"]}
BUURTEN = ["Centrum", "Noord", "Oost"]


def demo_frames() -> dict[str, pd.DataFrame]:
    rows = []
    rng = np.random.default_rng(7)
    nl = box(100000, 420000, 200000, 540000)
    pv = box(130000, 475000, 180000, 520000)
    rows.append(dict(code="NL00", level="land", name="Nederland", geom=nl))
    rows.append(dict(code="PV24", level="provincie", name="Flevoland", provincie_code="PV24",
                     geom=pv))
    for gm, (name, x0, y0) in GEMEENTEN.items():
        n = gm[2:]
        rows.append(dict(code=gm, level="gemeente", name=name, gemeente_code=gm,
                         provincie_code="PV24", geom=box(x0, y0, x0 + 8000, y0 + 6000)))
        for wi, wname in enumerate(WIJKEN[gm], start=1):
            wk = f"WK{n}{wi:02d}"
            wx = x0 + (wi - 1) * 4000
            rows.append(dict(code=wk, level="wijk", name=wname, gemeente_code=gm,
                             provincie_code="PV24", geom=box(wx, y0, wx + 4000, y0 + 6000)))
            for bi, bname in enumerate(BUURTEN, start=1):
                bu = f"BU{n}{wi:02d}{bi:02d}"
                by = y0 + (bi - 1) * 2000
                # a slightly irregular polygon, so simplification has something to do
                ring = [(wx, by), (wx + 2000, by + 40), (wx + 4000, by),
                        (wx + 4000, by + 2000), (wx + 2000, by + 1960), (wx, by + 2000)]
                rows.append(dict(code=bu, level="buurt", name=f"{wname} {bname}",
                                 gemeente_code=gm, wijk_code=wk, provincie_code="PV24",
                                 geom=shapely.Polygon(ring)))
    areas = pd.DataFrame(rows)
    areas["vintage"] = 2024
    areas["source"] = "weefsel.web.demo"
    areas["geom_rd"] = [shapely.to_wkb(g) for g in areas.pop("geom")]
    # one buurt without a polygon: it must still show up in tables and profiles
    areas.loc[areas["code"] == "BU09950203", "geom_rd"] = None

    obs, ind = [], []
    for a in areas.itertuples():
        base = {"land": 17_900_000, "provincie": 450_000, "gemeente": 120_000,
                "wijk": 30_000, "buurt": 5_000}[a.level]
        for period, f in (("2023", 0.99), ("2024", 1.0)):
            obs.append(dict(area_code=a.code, period=period, variable="AantalInwoners",
                            value=round(base * f * rng.uniform(0.8, 1.2)), source="85984NED"))
        for period in ("2016", "2020"):
            lonely = float(np.round(rng.uniform(38, 55), 1))
            volunteer = float(np.round(rng.uniform(20, 35), 1))
            suppressed = a.code == "BU00340103" and period == "2020"
            if a.code != "BU09950102":  # one buurt without health estimates at all
                obs.append(dict(area_code=a.code, period=period, variable="Eenzaam",
                                breakdown="leeftijd=18+", value=lonely, lower=lonely - 3,
                                upper=lonely + 3, source="50090NED"))
                ind.append(dict(area_code=a.code, period=period, indicator="eenzaamheid",
                                value=None if suppressed else lonely, numerator=None,
                                denominator=None, weight=1.0, suppressed=suppressed,
                                data_period=period))
                ind.append(dict(area_code=a.code, period=period, indicator="vrijwilligerswerk",
                                value=volunteer, numerator=None, denominator=None, weight=1.0,
                                suppressed=False, data_period=period))
        # the publisher's year lags the 2024 reference period (and differs per gemeente)
        ind.append(dict(area_code=a.code, period="2024", indicator="laag_inkomen",
                        value=float(np.round(rng.uniform(4, 14), 1)), numerator=None,
                        denominator=None, weight=1.0, suppressed=False,
                        data_period="2022" if "0995" in a.code else "2023"))
    observations = pd.DataFrame(obs)
    observations["breakdown"] = observations["breakdown"].fillna("")
    variables = pd.DataFrame([
        dict(variable="AantalInwoners", stem="AantalInwoners", title="Aantal inwoners",
             unit="aantal", source_table="85984NED", topic="Bevolking"),
        dict(variable="Eenzaam", stem="Eenzaam", title="Eenzaam", unit="%",
             source_table="50090NED", topic="Gezondheid/Eenzaamheid"),
    ])
    build_info = pd.DataFrame({"key": ["region", "built_at"], "value": ["demo", "2026-01-01"]})
    provenance = pd.DataFrame([dict(file="demo", publisher="CBS", licence="CC BY 4.0",
                                    table_id="85984NED")])
    return dict(areas=areas, observations=observations, variables=variables,
                build_info=build_info, provenance=provenance, indicator_values=pd.DataFrame(ind))


def make_demo_warehouse(path: str | Path) -> Path:
    """Write the demo warehouse, with indicator, index and SVI tables, to ``path``."""
    frames = demo_frames()
    ind = frames.pop("indicator_values")
    path = create_warehouse(path, **frames)
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE TABLE indicator_values (area_code VARCHAR, period VARCHAR, "
                    "indicator VARCHAR, value DOUBLE, numerator DOUBLE, denominator DOUBLE, "
                    "weight DOUBLE, suppressed BOOLEAN, data_period VARCHAR)")
        con.register("_ind", ind)
        con.execute("INSERT INTO indicator_values SELECT area_code, period, indicator, value, "
                    "numerator, denominator, weight, suppressed, data_period FROM _ind")
        # index_results and svi_results in the shapes weefsel.indicators.pipeline writes
        idx_rows, svi_rows = [], []
        themes = ["sociale_basis", "bestaanszekerheid"]
        for level in ("wijk", "buurt"):
            codes = [c for (c,) in con.execute(
                "SELECT code FROM areas WHERE level = ? ORDER BY code", [level]).fetchall()]
            rng = np.random.default_rng(len(codes))
            comp = rng.normal(0, 1, len(codes))
            order = (-comp).argsort().argsort() + 1
            n = len(codes)
            for c, s, r in zip(codes, comp, order):
                idx_rows.append(dict(area_code=c, period="2020", level=level, reference="nl",
                                     reference_group="all", composite=float(s), rank=float(r),
                                     rank_median=float(r), rank_p05=float(max(1, r - 2)),
                                     rank_p95=float(min(n, r + 2)), n_draws=1000, n_ranked=n))
                flags = [float(rng.random() < 0.4) for _ in themes]
                for t, f in zip(themes, flags):
                    svi_rows.append(dict(area_code=c, period="2020", level=level, reference="nl",
                                         reference_group="all", component_type="theme",
                                         component=t, theme=t, score=rng.random(),
                                         percentile_rank=rng.random(), flag=f, flag_count=f,
                                         themes_flagged=np.nan))
                svi_rows.append(dict(area_code=c, period="2020", level=level, reference="nl",
                                     reference_group="all", component_type="overall",
                                     component="overall", theme="", score=rng.random(),
                                     percentile_rank=rng.random(), flag=float(all(flags)),
                                     flag_count=sum(flags), themes_flagged=float(sum(flags))))
        for name, frame in (("index_results", pd.DataFrame(idx_rows)),
                            ("svi_results", pd.DataFrame(svi_rows))):
            con.register("_f", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _f")
            con.unregister("_f")
    finally:
        con.close()
    return path
