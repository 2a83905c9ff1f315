"""Agreement of our school/GP distances with CBS's road distances (KWB 85984NED), and the
KWB national selection filling Noordoostpolder, Urk and Zeewolde at buurt level."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.analysis.access.cbs_agreement import (
    comparable,
    compare_warehouse,
    spread_points,
    summarise,
)

GEO = Path(__file__).resolve().parents[2] / "shared" / "geo" / "buurt_2024_benaderd_national.geojson"
NEEDED = ["kwb/kwb_2024_85984NED_national_selection.csv", "kwb/kwb_2024_85984NED_DataProperties.csv",
          "kwb/kwb_2024_85984NED_regions.csv",
          "boundaries/wijk_2024_gegeneraliseerd_flevoland.geojson",
          "boundaries/provincie_2020_gegeneraliseerd.geojson",
          "facilities/scholen_po_so_2018_national.csv",
          "facilities/huisartsenpraktijken_noord_holland_almere_lelystad_2026.csv",
          "postcode/pc4_centroid_geonames_2024.csv"]


# ------------------------------------------------------------------ the maths

@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.05, 20.0), min_size=3, max_size=60, unique=True),
       st.floats(1.0, 3.0))
def test_a_pure_detour_is_recovered(straight, k):
    """If CBS's distance were exactly k x our straight line, the fit finds k, the correlation
    is 1 and, at detour k, the median difference is 0 and the ratio 1."""
    s = np.array(straight)
    pairs = pd.DataFrame({"straight_km": s, "cbs_km": k * s})
    out = summarise(pairs, detour=k)
    assert out["fitted_detour_median"] == pytest.approx(k)
    assert out["fitted_detour_ls"] == pytest.approx(k)
    assert out["pearson"] == pytest.approx(1.0)
    assert out["median_abs_diff_km"] == pytest.approx(0.0, abs=1e-9)
    assert out["median_ratio"] == pytest.approx(1.0)
    off = summarise(pairs, detour=1.0)                # a wrong detour shows as a ratio 1/k
    assert off["median_ratio"] == pytest.approx(1 / k)


def test_empty_and_tiny_groups():
    assert summarise(pd.DataFrame({"straight_km": [], "cbs_km": []}), 1.3)["n"] == 0
    two = summarise(pd.DataFrame({"straight_km": [1.0, 2.0], "cbs_km": [1.5, 2.5]}), 1.3)
    assert two["pearson"] is None and two["median_abs_diff_km"] is not None


@settings(max_examples=50, deadline=None)
@given(st.floats(50, 3000), st.floats(50, 3000), st.floats(0, 100000), st.floats(300000, 600000))
def test_spread_points_lie_inside_their_polygon(w, h, x0, y0):
    import shapely
    box = shapely.box(x0, y0, x0 + w, y0 + h)
    tri = shapely.Polygon([(x0, y0), (x0 + w, y0), (x0, y0 + h)])
    pts, owner = spread_points(np.array([box, tri], dtype=object))
    assert set(owner) == {0, 1}                       # every polygon gets at least one point
    for i, g in enumerate((box, tri)):
        p = pts[owner == i]
        assert shapely.contains_xy(g.buffer(1e-6), p[:, 0], p[:, 1]).all()
        assert len(p) <= 80


def test_only_regular_primary_schools_are_compared():
    fac = pd.DataFrame({"type": ["school", "school", "school", "gp_practice"],
                        "tags": ['{"soort": "bo"}', '{"soort": "so|vso"}', None, "{}"]})
    assert list(comparable(fac, ("bo",))) == [True, False, True, True]
    assert comparable(fac, None).all()


# ------------------------------------------------------------------ real data

@pytest.fixture(scope="module")
def flevoland_buurten(data_dir, tmp_path_factory) -> Path:
    """Flevoland with the approximate 2024 buurt polygons of ../shared/geo, the KWB national
    selection and the school/GP lists (the files the comparison needs, nothing else)."""
    if not GEO.is_file():
        pytest.skip("../shared/geo/buurt_2024_benaderd_national.geojson not present")
    from weefsel.warehouse.build import build

    folder = tmp_path_factory.mktemp("agreement") / "data"
    for rel in NEEDED:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).symlink_to(data_dir / rel)
    (folder / "boundaries" / GEO.name).symlink_to(GEO)
    out = folder.parent / "flevoland.duckdb"
    build("flevoland", folder, out, progress=False)
    return out


def test_flevoland_agreement_with_cbs(flevoland_buurten):
    a = compare_warehouse(flevoland_buurten)
    o = a.overall.set_index(["type", "demand", "level", "scope"])
    school = o.loc[("school", "centroid", "buurt", "covered")]
    assert school["n"] >= 350                        # 384 measured
    assert school["pearson"] > 0.8                    # 0.90 measured
    assert 0.1 < school["median_abs_diff_km"] < 0.4   # 0.19 km measured
    assert 1.2 < school["fitted_detour_median"] < 2.2   # 1.63: CBS's road distances are longer
    gp = o.loc[("gp_practice", "centroid", "buurt", "covered")]
    assert gp["pearson"] > 0.75
    assert a.covered["gp_practice"] == ["GM0034", "GM0995"]   # the GP list: Almere, Lelystad
    assert set(a.pairs.loc[a.pairs["type"] == "gp_practice", "gemeente_code"]) == {"GM0034", "GM0995"}
    spread = o.loc[("school", "spread", "buurt", "covered")]
    assert spread["pearson"] >= school["pearson"] - 0.02   # spreading residents does not hurt
    gm = a.by_gemeente
    assert set(gm.loc[gm["type"] == "school", "gemeente_code"]) == {
        "GM0034", "GM0050", "GM0171", "GM0184", "GM0303", "GM0995"}
    assert "detour" in a.text() and "GM0171 Noordoostpolder" in a.text()
    counts = a.counts.set_index("level")                # schools within 3 km (ScholenBinnen3Km)
    assert counts.loc["buurt", "n"] >= 350 and counts.loc["buurt", "pearson"] > 0.85   # 0.93
    assert 0.9 < counts.loc["buurt", "median_ratio"] < 1.6   # 1.20: more within 3 km at 1.3


def test_compare_cbs_cli(flevoland_buurten, tmp_path):
    out = tmp_path / "per_gemeente.csv"
    proc = subprocess.run([sys.executable, "-m", "weefsel", "access", "--compare-cbs",
                           "--warehouse", str(flevoland_buurten), "--compare-out", str(out),
                           "--gemeenten", "GM0034,GM0995"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Agreement with CBS road distances" in proc.stdout
    assert "GM0034 Almere" in proc.stdout and "GM0171" not in proc.stdout
    table = pd.read_csv(out)
    assert set(table["gemeente_code"]) == {"GM0034", "GM0995"}
    assert {"pearson", "median_abs_diff_km", "median_ratio", "fitted_detour_median"} <= set(table)
    con = duckdb.connect(str(flevoland_buurten), read_only=True)   # compare leaves it alone
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    con.close()
    assert "access_results" not in tables


def test_compare_cbs_without_facilities_is_one_line(tmp_path):
    from weefsel.warehouse.writer import create_warehouse
    path = create_warehouse(tmp_path / "leeg.duckdb", areas=pd.DataFrame(
        {"code": ["GM0034"], "level": ["gemeente"], "name": ["Almere"]}))
    proc = subprocess.run([sys.executable, "-m", "weefsel", "access", "--compare-cbs",
                           "--warehouse", str(path)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "no facilities" in (proc.stderr + proc.stdout)


def test_kwb_national_selection_fills_the_three_gemeenten(flevoland_warehouse):
    """Noordoostpolder, Urk and Zeewolde are missing from the partial KWB file at buurt level;
    the national selection fills them (population and the CBS distances)."""
    con = duckdb.connect(str(flevoland_warehouse), read_only=True)
    rows = con.execute("""
        SELECT a.gemeente_code, o.variable, count(DISTINCT o.area_code)
        FROM observations o JOIN areas a ON a.code = o.area_code
        WHERE a.level = 'buurt' AND o.period = '2024' AND o.breakdown = ''
          AND o.variable IN ('AantalInwoners', 'AfstandTotSchool', 'AfstandTotHuisartsenpraktijk')
          AND a.gemeente_code IN ('GM0171', 'GM0184', 'GM0050')
        GROUP BY ALL""").fetchall()
    n_buurten = dict(con.execute(
        "SELECT gemeente_code, count(*) FROM areas WHERE level = 'buurt' AND source LIKE '%85984%' "
        "AND gemeente_code IN ('GM0171', 'GM0184', 'GM0050') GROUP BY 1").fetchall())
    prov = con.execute("SELECT count(*) FROM provenance WHERE file LIKE "
                       "'%kwb_2024_85984NED_national_selection.csv'").fetchone()[0]
    con.close()
    got = {(g, v): n for g, v, n in rows}
    assert prov == 1
    for gm, at_least in (("GM0171", 45), ("GM0184", 9), ("GM0050", 9)):
        assert got[(gm, "AantalInwoners")] >= at_least, gm
        assert got[(gm, "AfstandTotSchool")] >= at_least - 2, gm
        assert n_buurten.get(gm, 0) >= at_least
