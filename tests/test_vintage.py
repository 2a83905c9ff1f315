"""Boundary vintages, the crosswalk and geometry quality (issue 11 items 1-3).

Real code changes from ../shared: Almere's reuse of its 2020 codes (WK003401/WK003402),
Lelystad's 2020 recoding (2019 codes differ, 2020 = 2024), and gemeente mergers (Boxmeer into
Land van Cuijk, Haaren split over four gemeenten) from the 2019 buurt file against 2024.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.config import default_data_dir, default_geo_dir
from weefsel.sources.boundaries import detect_vintage, load_boundaries, vintage_range_of_codes
from weefsel.warehouse.crosswalk import (
    REUSED_NOTE,
    build_crosswalk,
    reexpress,
    reused_codes,
    vintage_geometry,
)

GEO = default_geo_dir(default_data_dir())


def _box(x0, y0, x1, y1):
    return shapely.box(x0, y0, x1, y1)


# --------------------------------------------------------------------- unit: crosswalk maths

def _frame(codes, geoms):
    return pd.DataFrame({"code": codes, "geom": geoms})


def test_same_codes_are_exact_and_changed_codes_are_overlaid():
    src = _frame(["BU00010001", "BU00020001", "BU00020002"],
                 [None, _box(0, 0, 10, 10), _box(10, 0, 20, 10)])
    tgt = _frame(["BU00010001", "BU00020001", "BU00020003"],
                 [None, _box(0, 0, 3, 10), _box(3, 0, 20, 10)])
    cw = build_crosswalk(src, tgt, level="buurt", from_vintage=2020,
                         population={"BU00020001": 100, "BU00020003": 300})
    ex = cw[cw.from_code == "BU00010001"]
    assert ex[["to_code", "method", "weight"]].values.tolist() == [["BU00010001", "exact", 1.0]]
    # gemeente 0002 changed: BU00020001 (same code, 30% of the area) is a reused code
    row = cw[(cw.from_code == "BU00020001") & (cw.to_code == "BU00020001")].iloc[0]
    assert row.method == "dasymetric" and row.note == REUSED_NOTE
    assert "BU00020001" in reused_codes(cw)
    assert cw.groupby("from_code").weight.sum().round(9).eq(1).all()
    assert cw.groupby("to_code").target_share.sum().round(9).eq(1).all()
    # BU00020003 takes most of BU00020001 (split) and all of BU00020002: people are spread
    # over each target's surface (100 on 30 m2, 300 on 170 m2)
    t3 = cw[cw.to_code == "BU00020003"].set_index("from_code")
    in3 = 300 * 70 / 170
    assert t3.loc["BU00020001", "weight"] == pytest.approx(in3 / (in3 + 100))
    assert t3.loc["BU00020002", "weight"] == pytest.approx(1.0)
    assert t3["split_share"].iloc[0] == pytest.approx(t3.loc["BU00020001", "target_share"])


def test_rates_are_population_weighted_not_averaged_and_counts_preserved():
    src = _frame(["WK000101", "WK000102"], [_box(0, 0, 10, 10), _box(10, 0, 20, 10)])
    tgt = _frame(["WK000103"], [_box(0, 0, 20, 10)])
    tgt2 = _frame(["WK000103", "WK000104"], [_box(0, 0, 15, 10), _box(15, 0, 20, 10)])
    pop = {"WK000103": 300, "WK000104": 100}
    cw = build_crosswalk(src, tgt2, level="wijk", from_vintage=2020, population=pop)
    obs = pd.DataFrame({"area_code": ["WK000101", "WK000102"] * 2, "period": "2020",
                        "variable": ["Eenzaam", "Eenzaam", "Inwoners", "Inwoners"],
                        "breakdown": "", "value": [40.0, 60.0, 1000.0, 500.0],
                        "lower": [35.0, 50.0, None, None], "upper": [45.0, 70.0, None, None],
                        "source": "50090NED"})
    out = reexpress(obs, cw, {"Inwoners": "count"}).set_index(["area_code", "variable"])
    # WK000103 = all of WK000101 (200 people by surface) + half of WK000102 (100)
    assert out.loc[("WK000103", "Eenzaam"), "value"] == pytest.approx((40 * 2 + 60) / 3)
    assert out.loc[("WK000103", "Eenzaam"), "lower"] == 35.0     # hull of the sources' bounds
    assert out.loc[("WK000103", "Eenzaam"), "upper"] == 70.0
    assert out.loc[("WK000104", "Eenzaam"), "value"] == pytest.approx(60.0)
    assert out.xs("Inwoners", level="variable")["value"].sum() == pytest.approx(1500.0)
    assert set(out["method"]) == {"crosswalk:dasymetric"}
    assert build_crosswalk(src, tgt, level="wijk", from_vintage=2020).method.eq("areal").all()


@st.composite
def partitions(draw):
    """Sources: vertical strips of a 100x100 square; targets: horizontal and vertical cuts."""
    def cuts(n):
        xs = sorted(draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True)))
        return [0, *xs, 100]
    sx = cuts(draw(st.integers(1, 5)))
    tx, ty = cuts(draw(st.integers(0, 4))), cuts(draw(st.integers(0, 3)))
    src = _frame([f"BU0001{i:04d}" for i in range(len(sx) - 1)],
                 [_box(sx[i], 0, sx[i + 1], 100) for i in range(len(sx) - 1)])
    tcodes, tgeoms = [], []
    for i in range(len(tx) - 1):
        for j in range(len(ty) - 1):
            tcodes.append(f"BU0001{90 + i:02d}{j:02d}")
            tgeoms.append(_box(tx[i], ty[j], tx[i + 1], ty[j + 1]))
    tgt = _frame(tcodes, tgeoms)
    pop = {c: draw(st.integers(0, 5000)) for c in tcodes}
    values = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=len(src),
                           max_size=len(src)))
    return src, tgt, pop, values


@settings(max_examples=60, deadline=None)
@given(partitions())
def test_property_counts_preserved_and_rates_within_range(case):
    src, tgt, pop, values = case
    cw = build_crosswalk(src, tgt, level="buurt", from_vintage=2019, population=pop)
    obs = pd.DataFrame({"area_code": list(src.code) * 2, "period": "2019",
                        "variable": ["n"] * len(src) + ["pct"] * len(src), "breakdown": "",
                        "value": list(values) * 2, "lower": None, "upper": None,
                        "source": "t"})
    out = reexpress(obs, cw, {"n": "count", "pct": "rate"})
    counts = out[out.variable == "n"]["value"]
    assert counts.sum() == pytest.approx(sum(values), rel=1e-9, abs=1e-6)
    rates = out[out.variable == "pct"]["value"]
    assert ((rates >= min(values) - 1e-9) & (rates <= max(values) + 1e-9)).all()
    assert cw.groupby("from_code").weight.sum().round(9).eq(1).all()


def test_code_dating_of_boundary_files():
    assert vintage_range_of_codes(["BU07880101", "GM1959"]) == (2019, 2020)
    assert detect_vintage(None, [], ["BU07880101", "BU19590000"]) == (2020, "gemeente codes")
    year, how = detect_vintage(Path("buurt_2024.geojson"), [], ["BU07560101"])
    assert year == 2021 and how.startswith("gemeente codes (")     # Boxmeer is gone in 2022
    assert detect_vintage(None, [{"jrstatcode": "2024WK003401"}], ["WK003401"])[0] == 2024
    assert detect_vintage(None, [], ["BU19920000"]) == (None, "unknown")   # not datable: current


def test_geo_folder_is_found_beside_the_data_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.delenv("WEEFSEL_GEO", raising=False)
    assert default_geo_dir(tmp_path / "data") is None
    (tmp_path / "geo").mkdir()
    assert default_geo_dir(tmp_path / "data") == (tmp_path / "geo").resolve()
    monkeypatch.setenv("WEEFSEL_GEO", "none")
    assert default_geo_dir(tmp_path / "data") is None


# --------------------------------------------------------------------- real boundary files

needs_geo = pytest.mark.skipif(GEO is None, reason="../shared/geo not present")


@pytest.fixture(scope="module")
def real(data_dir):
    if GEO is None:
        pytest.skip("../shared/geo not present")
    from weefsel.sources.health import load_health_csv
    b19 = load_boundaries(GEO / "buurt_2019_gegeneraliseerd_national.geojson")
    b24 = load_boundaries(GEO / "buurt_2024_benaderd_national.geojson")
    gm23 = load_boundaries(data_dir / "boundaries" / "gemeente_2023_gegeneraliseerd.geojson")
    health = load_health_csv(data_dir / "health" /
                             "gezondheid_wijk_buurt_50090NED_2012_2016_2020_national.csv")
    for f in (b19, b24, gm23):
        f.areas["geom"] = shapely.from_wkb(f.areas["geom_rd"].to_numpy())
    pop = pd.read_csv(data_dir / "kwb" / "kwb_2024_85984NED_national_selection.csv", dtype=str)
    population = dict(zip(pop["Codering_3"].str.strip(),
                          pd.to_numeric(pop["AantalInwoners_5"],
                                        errors="coerce")))
    cur = b24.areas.groupby(b24.areas.code.str[2:6].radd("GM"))["code"].agg(frozenset).to_dict()
    geoms, origin = vintage_geometry(health.areas, [b19.areas], cur)
    src = health.areas[["code", "level"]].copy()
    src["geom"] = src.code.map(geoms)
    return {"b19": b19, "b24": b24, "gm23": gm23, "health": health, "src": src,
            "origin": origin, "pop": population}


@needs_geo
def test_2019_file_is_vintage_2019_and_2024_file_approximate(real):
    assert set(real["b19"].areas.vintage) == {2019}
    assert set(real["b19"].areas.indeling) == {2019}
    a = real["b24"].areas
    assert set(a.vintage) == {2024} and set(a.geom_quality) == {"approximate"}
    assert a.geom_note.str.startswith("Benaderde grens").all()
    assert set(real["health"].areas.indeling) == {2020}
    assert set(real["health"].observations.indeling) == {2020}


@needs_geo
def test_lelystad_recoded_in_2020_maps_exactly_not_via_2019_codes(real):
    # Lelystad's 2019 buurt codes are not its 2020 codes; its 2020 codes equal 2024
    b19 = set(real["b19"].areas.code[real["b19"].areas.code.str.startswith("BU0995")])
    h = real["src"]
    h20 = set(h.code[h.code.str.startswith("BU0995")])
    assert len(b19 & h20) < 10 < len(h20)
    assert real["origin"]["GM0995"] == "current codes"
    cw = build_crosswalk(h[h.level == "buurt"], real["b24"].areas, level="buurt",
                         from_vintage=2020, population=real["pop"])
    lel = cw[cw.from_code.str.startswith("BU0995")]
    assert len(lel) == len(h20) and lel.method.eq("exact").all()
    assert (lel.from_code == lel.to_code).all()


@needs_geo
def test_almere_reused_wijk_codes_are_two_areas(real):
    h = real["src"]
    wk24 = load_boundaries(default_data_dir() / "boundaries" /
                           "wijk_2024_gegeneraliseerd_flevoland.geojson").areas
    wk24["geom"] = shapely.from_wkb(wk24.geom_rd.to_numpy())
    cw = build_crosswalk(h[h.level == "wijk"], wk24, level="wijk", from_vintage=2020,
                         population=real["pop"])
    assert {"WK003401", "WK003402"} <= reused_codes(cw)
    # the 2020 district WK003402 spreads over many 2024 wijken; De Werven (WK003402 of
    # 2024) is not simply its old namesake
    old = cw[cw.from_code == "WK003402"]
    assert old.to_code.nunique() > 5
    same = old[old.to_code == "WK003402"]
    assert same.empty or (same.weight.iloc[0] < 0.5 and same.note.iloc[0] == REUSED_NOTE)
    assert not cw[(cw.from_code.str.startswith("WK0034"))].method.eq("exact").any()
    # every 2024 Almere wijk is reached
    almere = set(wk24.code[wk24.code.str.startswith("WK0034")])
    assert almere <= set(cw.to_code)


@needs_geo
def test_gemeente_mergers_boxmeer_and_haaren(real):
    h = real["src"]
    gm = real["gm23"].areas
    cw = build_crosswalk(h[h.level == "gemeente"], gm, level="gemeente", from_vintage=2020,
                         population=real["pop"])
    box = cw[cw.from_code == "GM0756"]           # Boxmeer -> Land van Cuijk (2022)
    assert box.loc[box.weight.idxmax(), "to_code"] == "GM1982"
    assert box.weight.max() > 0.95
    into = cw[cw.to_code == "GM1982"]            # Land van Cuijk from five 2020 gemeenten
    assert {"GM0756", "GM1684", "GM0786", "GM0815", "GM1702"} <= set(into.from_code)
    assert into.target_share.sum() == pytest.approx(1.0)
    haaren = cw[cw.from_code == "GM0788"]        # Haaren split over four gemeenten (2021)
    big = set(haaren[haaren.weight > 0.05].to_code)
    assert big <= {"GM0757", "GM0855", "GM0824", "GM0865"} and len(big) >= 3
    grown = cw[(cw.to_code == "GM0865") & (cw.from_code == "GM0865")]   # Vught took part
    assert grown.note.iloc[0] == "took in part of another area"
    assert cw[cw.to_code == "GM0865"].target_share.sum() == pytest.approx(1.0)
    assert haaren.weight.sum() == pytest.approx(1.0)
    assert cw[cw.from_code == "GM0034"].method.tolist() == ["exact"]


# --------------------------------------------------------------------- the Flevoland build

HEALTH_KEY = ("Eenzaam", "leeftijd=18+")


@pytest.fixture(scope="module")
def fw(flevoland_warehouse):
    con = duckdb.connect(str(flevoland_warehouse), read_only=True)
    yield con
    con.close()


def _df(con, q, p=None):
    return con.execute(q, p or []).df()


@needs_geo
def test_no_almere_value_comes_from_a_different_area(fw):
    cw = _df(fw, "SELECT * FROM crosswalk WHERE to_code LIKE 'WK0034%' OR to_code LIKE 'BU0034%'")
    # a reused code never maps onto its namesake as if it were the same area
    for code in ("WK003401", "WK003402"):
        rows = cw[(cw.from_code == code) & (cw.to_code == code)]
        assert not rows.method.eq("exact").any()
    obs = _df(fw, "SELECT * FROM observations WHERE source = '50090NED' AND "
                  "(area_code LIKE 'WK0034%' OR area_code LIKE 'BU0034%')")
    assert len(obs) and obs.method.str.startswith("crosswalk:").all()
    assert not obs.method.eq("crosswalk:exact").any()
    # WK003402 (De Werven) in 2020: recomputed from the crosswalk and the originals
    orig = _df(fw, "SELECT * FROM observations_original WHERE variable = ? AND breakdown = ? "
                   "AND period = '2020'", list(HEALTH_KEY)).set_index("area_code")["value"]
    got = obs[(obs.area_code == "WK003402") & (obs.period == "2020")
              & (obs.variable == HEALTH_KEY[0]) & (obs.breakdown == HEALTH_KEY[1])]
    assert len(got) == 1
    m = got.method.iloc[0]
    src_level = m.split(":")[2] if m.count(":") == 2 else "wijk"
    rows = cw[(cw.to_code == "WK003402") & cw.from_code.str.startswith(src_level[:2].upper()
                                                                          if src_level != "buurt"
                                                                          else "BU")]
    rows = rows[rows.from_code.map(orig.get).notna()]
    expect = (rows.target_share * rows.from_code.map(orig)).sum() / rows.target_share.sum()
    assert got.value.iloc[0] == pytest.approx(expect)
    assert orig.get("WK003402") is not None           # the 2020 figure is kept as published


@needs_geo
def test_every_almere_wijk_and_buurt_has_health_figures(fw):
    have = _df(fw, """
        SELECT a.code, a.level, count(DISTINCT o.period) AS periods, any_value(p.value) AS pop
        FROM areas a LEFT JOIN observations o ON o.area_code = a.code AND o.source = '50090NED'
        LEFT JOIN observations p ON p.area_code = a.code AND p.variable = 'AantalInwoners'
        WHERE a.gemeente_code = 'GM0034' AND a.level IN ('wijk', 'buurt') GROUP BY a.code, a.level""")
    full = have[have.periods == 3]
    assert (full.level == "wijk").sum() >= 70 and (full.level == "buurt").sum() >= 237
    # the only ones without: Overig Almere Pampus, all of whose 2020 sources are suppressed
    rest = have[have.periods < 3]
    assert set(rest.code) <= {"WK003496", "BU00349615"}
    assert (rest["pop"].fillna(0) < 50).all()


@needs_geo
def test_lelystad_values_equal_their_published_2020_figures(fw):
    m = _df(fw, """SELECT o.area_code, o.value, g.value AS orig, o.method FROM observations o
        JOIN observations_original g USING (area_code, period, variable, breakdown)
        WHERE o.area_code LIKE 'BU0995%' AND o.variable = ? AND o.breakdown = ?""",
            list(HEALTH_KEY))
    assert len(m) > 100 and m.method.eq("crosswalk:exact").all()
    assert np.allclose(m.value, m.orig)


@needs_geo
def test_vintage_tables_and_geometry_quality(fw):
    av = _df(fw, "SELECT vintage, level, count(*) n FROM area_vintages GROUP BY ALL")
    assert {2019, 2020} <= set(av.vintage)
    q = _df(fw, "SELECT level, geom_quality, count(*) n FROM areas "
                "WHERE level IN ('buurt', 'wijk', 'gemeente') GROUP BY ALL")
    assert set(q[q.level == "buurt"].geom_quality) == {"approximate"}
    assert set(q[q.level != "buurt"].geom_quality) == {"generalised"}
    # no 2019 or 2020 buurt became a current area
    assert _df(fw, "SELECT count(*) n FROM areas WHERE code = 'BU00340111'").n[0] == 0
    v = _df(fw, "SELECT check_name FROM validation WHERE check_name LIKE 'vintage%'")
    assert {"vintage_reused_codes", "vintage_crosswalk"} <= set(v.check_name)


@needs_geo
def test_area_api_says_geometry_quality_and_buurt_tiles_work(flevoland_warehouse):
    from fastapi.testclient import TestClient

    from weefsel.web.api import create_app
    with TestClient(create_app(flevoland_warehouse)) as c:
        a = c.get("/api/areas/BU00340101").json()["area"]
        assert a["geom_quality"] == "approximate" and "Benaderde grens" in a["geom_note"]
        assert c.get("/api/areas/WK003402").json()["area"]["geom_quality"] == "generalised"
        # Almere around z12: tile x 2107, y 1345
        r = c.get("/api/tiles/buurt/12/2107/1345.pbf")
        assert r.status_code == 200 and len(r.content) > 100


def test_gpkg_export_keeps_areas_without_polygon(tmp_path):
    import geopandas as gpd

    from weefsel.warehouse.writer import create_warehouse
    areas = pd.DataFrame({
        "code": ["BU00340101", "BU00340102"], "level": "buurt", "name": ["a", "b"],
        "gemeente_code": "GM0034", "geom_rd": [shapely.to_wkb(_box(150000, 480000, 150100,
                                                                    480100)), None],
        "geom_quality": ["approximate", None],
        "geom_note": ["Benaderde grens.", "Geen grens bekend."]})
    areas["geom_rd"] = areas["geom_rd"].astype(object).where(areas["geom_rd"].notna(), pd.NA)
    obs = pd.DataFrame({"area_code": ["BU00340101", "BU00340102"], "period": "2024",
                        "variable": "AantalInwoners", "value": [10.0, 20.0], "source": "t"})
    wh = create_warehouse(tmp_path / "w.duckdb", areas=areas, observations=obs)
    out = tmp_path / "b.gpkg"
    r = subprocess.run([sys.executable, "-m", "weefsel", "export", "--warehouse", str(wh),
                        "--level", "buurt", "--format", "gpkg", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    g = gpd.read_file(out).set_index("code")
    assert g.loc["BU00340102", "geometry"] is None or g.loc["BU00340102", "geometry"].is_empty
    assert g.loc["BU00340102", "geom_note"] == "Geen grens bekend."
    assert g.loc["BU00340101", "geom_quality"] == "approximate"


def test_a_2019_file_in_the_data_folder_is_not_taken_for_current(tmp_path, data_dir):
    """A person drops an old buurt file among the boundaries: the build keeps it apart."""
    from weefsel.warehouse.build import build
    d = tmp_path / "data"
    (d / "boundaries").mkdir(parents=True)
    (d / "kwb").mkdir()
    src = data_dir / "kwb" / "kwb_2024_85984NED_flevoland.csv"
    (d / "kwb" / src.name).write_bytes(src.read_bytes())
    dp = data_dir / "kwb" / "kwb_2024_85984NED_DataProperties.csv"
    (d / "kwb" / dp.name).write_bytes(dp.read_bytes())
    feats = [{"type": "Feature", "properties": {"statcode": c},
              "geometry": shapely.geometry.mapping(_box(5.2 + i * .01, 52.3, 5.21 + i * .01, 52.31))}
             for i, c in enumerate(["BU00340101", "BU00340111", "BU07880101"])]
    (d / "boundaries" / "buurten.geojson").write_text(json.dumps(
        {"type": "FeatureCollection", "features": feats}))
    out = tmp_path / "w.duckdb"
    build("almere", d, out, progress=False)
    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("SELECT count(*) FROM areas WHERE code IN ('BU00340111', 'BU07880101')"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT count(geom_rd) FROM areas WHERE code = 'BU00340101'"
                       ).fetchone()[0] == 0
    con.close()


def test_50150NED_online_path_uses_the_health_mapping():
    """The publisher's own re-expression (50150NED) is read by the 50090NED mapping code.

    No recorded response of 50150NED exists (../shared/recorded has none, and none was made
    up): this serves the recorded 50090NED TypedDataSet under the 50150NED name only to show
    that the path maps it, tags its source and indeling, and that the online build asks for it
    before 50090NED. How far our crosswalk is from 50150NED is therefore not measured.
    """
    import httpx

    from weefsel.sources.cbs_odata import ODataClient, load_table
    from weefsel.warehouse.discover import ONLINE_TABLES
    rec = Path(__file__).parent / "recorded" / "odata" / "50090NED_TypedDataSet.json"

    def handler(request):
        if request.url.path.endswith("/50150NED/TypedDataSet"):
            return httpx.Response(200, json=json.loads(rec.read_text()))
        return httpx.Response(404, text="Not found")
    client = ODataClient("https://opendata.cbs.nl/ODataApi/OData",
                         client=httpx.Client(transport=httpx.MockTransport(handler)), backoff=0)
    frames = load_table("50150NED", client=client)
    assert set(frames.observations.source) == {"50150NED"}
    assert set(frames.observations.indeling) == {2020}      # its newest year
    assert ONLINE_TABLES.index("50150NED") < ONLINE_TABLES.index("50090NED")
