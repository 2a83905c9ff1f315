"""Reference levels (provincie, Nederland), rank scope, trends with margins and the honest
composite (issue 11 items 5-7): maths as properties, behaviour on the real Flevoland build."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.analysis.composite import CompositeSpec
from weefsel.analysis.trends import summarise
from weefsel.indicators.reference import aggregate_reference, rank_values, scope_text

SETTINGS = settings(max_examples=60, deadline=None)


# -- aggregation to provincie / Nederland (properties) ----------------------------------------

@st.composite
def gemeenten(draw):
    """Gemeente rows of one published rate: value, population (weight) -> numerator."""
    n = draw(st.integers(1, 8))
    rates = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=n, max_size=n))
    pops = draw(st.lists(st.integers(1, 900_000), min_size=n, max_size=n))
    codes = [f"GM{i:04d}" for i in range(n)]
    values = pd.DataFrame({"area_code": codes, "period": "2024", "indicator": "x",
                           "value": rates, "denominator": [float(p) for p in pops],
                           "numerator": [r * p / 100 for r, p in zip(rates, pops)],
                           "suppressed": False, "data_period": "2020"})
    areas = pd.DataFrame({"code": codes + ["PV24"], "level": ["gemeente"] * n + ["provincie"],
                          "provincie_code": ["PV24"] * (n + 1)})
    return values, areas


@SETTINGS
@given(gemeenten())
def test_provincie_rate_lies_between_its_gemeenten(case):
    values, areas = case
    out = aggregate_reference(values, areas, "provincie", {"x": 100.0}, {"x": 0.0},
                              {"PV24": True})
    v = float(out["value"].iloc[0])
    assert values["value"].min() - 1e-9 <= v <= values["value"].max() + 1e-9


@SETTINGS
@given(gemeenten())
def test_counts_add_up(case):
    values, areas = case
    out = aggregate_reference(values, areas, "provincie", {"x": 100.0}, {"x": 0.0},
                              {"PV24": True}).iloc[0]
    assert out["numerator"] == pytest.approx(values["numerator"].sum())
    assert out["denominator"] == pytest.approx(values["denominator"].sum())
    assert out["value"] == pytest.approx(out["numerator"] / out["denominator"] * 100)
    assert out["coverage"] == pytest.approx(1.0) and pd.isna(out["missing_reason"])


def test_incomplete_parent_and_low_coverage_get_a_reason():
    values = pd.DataFrame({"area_code": ["GM0001", "GM0002"], "period": "2024",
                           "indicator": "x", "value": [10.0, np.nan],
                           "numerator": [10.0, np.nan], "denominator": [100.0, 900.0],
                           "suppressed": False})
    areas = pd.DataFrame({"code": ["GM0001", "GM0002", "PV24"],
                          "level": ["gemeente", "gemeente", "provincie"],
                          "provincie_code": ["PV24"] * 3})
    pop = pd.Series({"GM0001": 100.0, "GM0002": 900.0})
    low = aggregate_reference(values, areas, "provincie", {"x": 100.0}, {"x": 0.0},
                              {"PV24": True}, pop).iloc[0]
    assert low["missing_reason"] == "too_little_input" and math.isnan(low["value"])
    assert low["coverage"] == pytest.approx(0.1)
    part = aggregate_reference(values, areas, "provincie", {"x": 100.0}, {"x": 0.0},
                               {"PV24": False}, pop).iloc[0]
    assert part["missing_reason"] == "not_in_build"


# -- ranks ----------------------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.one_of(st.floats(-50, 50, allow_nan=False), st.just(float("nan"))),
                min_size=1, max_size=30),
       st.sampled_from(["higher_is_better", "hoger is slechter", ""]))
def test_rank_is_one_for_the_most_favourable_and_ties_share(vals, direction):
    s = pd.Series(vals, index=[f"a{i}" for i in range(len(vals))])
    r = rank_values(s, direction)
    ok = s.notna()
    assert r.loc[~ok, "rank"].isna().all()
    if not ok.any():
        return
    n = int(ok.sum())
    assert (r.loc[ok, "of"] == n).all()
    assert r.loc[ok, "rank"].between(1, n).all()
    best = s[ok].min() if direction == "hoger is slechter" else s[ok].max()
    assert (r.loc[s == best, "rank"] == 1).all()
    # equal values, equal rank; percentile = share strictly less favourable
    for v in s[ok].unique():
        assert r.loc[s == v, "rank"].nunique() == 1
    if n > 1:
        worse = [(s[ok] > v).sum() if direction == "hoger is slechter" else (s[ok] < v).sum()
                 for v in s[ok]]
        assert np.allclose(r.loc[ok, "percentile"], np.array(worse) / (n - 1))


def test_scope_text_says_where_and_which_way():
    assert scope_text(5, 6, "gemeente", "in Flevoland") == \
        "rang 5 van 6 gemeenten in Flevoland (1 = gunstigst)"
    assert scope_text(None, 6, "wijk", "in Almere") is None


# -- trends ---------------------------------------------------------------------------------

def test_trend_change_annual_change_and_margin():
    t = summarise([{"period": "2012", "value": 40.5}, {"period": "2020", "value": 48.1},
                   {"period": "2016", "value": 44.5}], "% (modelschatting)")
    assert [p["period"] for p in t["points"]] == ["2012", "2016", "2020"]
    assert t["change"] == pytest.approx(7.6) and t["annual_change"] == pytest.approx(0.95)
    assert t["exceeds_margin"] is None and "modelschatting" in t["margin_nl"]
    inside = summarise([{"period": "2021", "value": 6.1, "lower": 5.9, "upper": 6.3},
                        {"period": "2023", "value": 6.2, "lower": 6.0, "upper": 6.4}])
    assert inside["exceeds_margin"] is False
    outside = summarise([{"period": "2021", "value": 6.1, "lower": 6.0, "upper": 6.2},
                         {"period": "2023", "value": 6.6, "lower": 6.5, "upper": 6.7}])
    assert outside["exceeds_margin"] is True
    assert summarise([{"period": "2020", "value": 1.0}]) is None


@SETTINGS
@given(st.floats(-100, 100), st.floats(-100, 100), st.floats(0, 10), st.floats(0, 10))
def test_margin_rule_is_symmetric_and_scale_free(a, b, m1, m2):
    pts = [{"period": "2014", "value": a, "lower": a - m1, "upper": a + m1},
           {"period": "2022", "value": b, "lower": b - m2, "upper": b + m2}]
    t = summarise(pts)
    rev = summarise([{**pts[0], "value": -a, "lower": -a - m1, "upper": -a + m1},
                     {**pts[1], "value": -b, "lower": -b - m2, "upper": -b + m2}])
    assert t["exceeds_margin"] == rev["exceeds_margin"]
    if abs(b - a) > m1 + m2 + 1e-6:      # intervals apart: always beyond the combined margin
        assert t["exceeds_margin"] is True


# -- the real Flevoland build ---------------------------------------------------------------

@pytest.fixture(scope="module")
def indexed(flevoland_warehouse, tmp_path_factory):
    """The real build, indexed at wijk, gemeente, provincie and land (as scripts/run.sh)."""
    from weefsel.indicators import run_index
    p = tmp_path_factory.mktemp("reference") / "flevoland.duckdb"
    shutil.copy(flevoland_warehouse, p)
    for level in ("wijk", "gemeente", "provincie", "land"):
        run_index(p, level, spec=CompositeSpec(draws=60), skip_missing=True)
    return p


@pytest.fixture(scope="module")
def client(indexed):
    from fastapi.testclient import TestClient

    from weefsel.web.api import create_app
    with TestClient(create_app(indexed)) as c:
        yield c


def _ind(profile: dict, ind: str) -> dict:
    return next(i for i in profile["indicators"] if i["id"] == ind)


def test_lelystad_loneliness_beside_flevoland_and_nederland(client, indexed):
    e = _ind(client.get("/api/areas/GM0995/profile").json(), "eenzaam_18")
    assert e["value"] == pytest.approx(48.1) and e["data_period"] == "2020"
    ref = {r["code"]: r for r in e["reference"]}
    assert set(ref) == {"PV24", "NL00"}
    con = duckdb.connect(str(indexed), read_only=True)
    nl = con.execute("SELECT value FROM observations WHERE area_code = 'NL00' AND variable = "
                     "'Eenzaam' AND breakdown = 'leeftijd=18+' AND period = '2020'").fetchone()[0]
    gm = con.execute("SELECT sum(numerator), sum(denominator) FROM indicator_values WHERE "
                     "indicator = 'eenzaam_18' AND area_code IN (SELECT code FROM areas WHERE "
                     "level = 'gemeente' AND provincie_code = 'PV24')").fetchone()
    con.close()
    assert ref["NL00"]["value"] == pytest.approx(nl) == pytest.approx(47.0)
    assert ref["NL00"]["basis"] == "published"
    assert ref["PV24"]["value"] == pytest.approx(gm[0] / gm[1] * 100)
    assert ref["PV24"]["basis"] == "counts" and ref["PV24"]["coverage"] == pytest.approx(1.0)
    assert e["rank"]["scope_nl"] == "rang 5 van 6 gemeenten in Flevoland (1 = gunstigst)"
    html = client.get("/api/areas/GM0995/profile?format=html").text
    assert "Flevoland" in html and "Nederland" in html and "46,4*" in html


def test_provincie_equals_the_count_based_aggregate(indexed):
    con = duckdb.connect(str(indexed), read_only=True)
    df = con.execute(
        "SELECT p.indicator, p.value, p.basis, sum(g.numerator) / sum(g.denominator) AS r "
        "FROM indicator_values p JOIN indicator_values g ON g.indicator = p.indicator AND "
        "g.period = p.period JOIN areas a ON a.code = g.area_code AND a.level = 'gemeente' "
        "WHERE p.area_code = 'PV24' AND p.basis = 'counts' AND g.value IS NOT NULL "
        "GROUP BY 1, 2, 3").df()
    con.close()
    from weefsel.indicators import load_catalogue
    scales = {i.id: i.scale for i in load_catalogue()}
    assert len(df) >= 10
    for row in df.itertuples():
        assert row.value == pytest.approx(row.r * scales[row.indicator]), row.indicator


def test_health_trend_has_three_points_and_no_margin(client):
    t = client.get("/api/areas/GM0995/trends", params={"indicator": "eenzaam_18"}).json()
    tr = t["indicators"][0]["trend"]
    assert [p["period"] for p in tr["points"]] == ["2012", "2016", "2020"]
    assert tr["change"] == pytest.approx(48.1 - 40.5)
    assert tr["annual_change"] == pytest.approx((48.1 - 40.5) / 8)
    assert tr["exceeds_margin"] is None           # RIVM model estimates: no published margin
    vm = client.get("/api/areas/GM0995/trends", params={"indicator": "sociale_cohesie"}).json()
    vt = vm["indicators"][0]["trend"]
    assert vt["points"][0]["lower"] is not None and vt["exceeds_margin"] in (True, False)
    prov = _ind(client.get("/api/areas/PV24/profile").json(), "eenzaam_18")["trend"]
    assert len(prov["points"]) == 3               # summed from the gemeenten per year


def test_unranked_area_is_listed_with_its_reason(client, indexed):
    con = duckdb.connect(str(indexed), read_only=True)
    rows = con.execute("SELECT area_code, coverage, unranked_reason_nl FROM index_results "
                       "WHERE level = 'wijk' AND rank IS NULL").fetchall()
    ranked_min = con.execute("SELECT min(coverage) FROM index_results WHERE level = 'wijk' "
                             "AND rank IS NOT NULL").fetchone()[0]
    con.close()
    assert rows and ranked_min >= 2 / 3 - 1e-9
    code, cov, reason = rows[0]
    assert cov < 2 / 3 and reason.startswith("niet gerangschikt")
    c = client.get(f"/api/areas/{code}/profile").json()["composite"]
    assert c["ranked"] is False and c["rank"] is None
    assert c["unranked_reason_nl"] == reason and c["unranked_reason"] == "too_little_input"
    html = client.get(f"/api/areas/{code}/profile?format=html").text
    assert "niet gerangschikt" in html


def test_rank_scope_is_the_same_on_map_table_compare_and_profile(client):
    ind = "aandeel_65plus"
    vals = client.get("/api/map/wijk/values", params={"indicator": ind}).json()
    table = client.get("/api/table", params={"level": "wijk", "indicator": ind}).json()
    codes = sorted(vals["ranks"])[:3]
    cmp_ = client.get("/api/compare", params={"codes": ",".join(codes)}).json()
    row = next(r for r in cmp_["rows"] if r["indicator"] == ind)
    trows = {r["code"]: r for r in table["rows"]}
    for code in codes:
        prof = _ind(client.get(f"/api/areas/{code}/profile").json(), ind)["rank"]
        assert vals["ranks"][code] == trows[code][f"{ind}|rang"] == row["ranks"][code]["rank"] \
            == prof["rank"]
        assert row["ranks"][code]["scope_nl"] == prof["scope_nl"]
        assert prof["of"] == vals["meta"]["rank"]["of"] == table["ranks"][ind]["of"]
    # the composite: map, table and profile show the index's central rank
    cv = client.get("/api/map/wijk/values", params={"indicator": "index:composite"}).json()
    code = next(iter(cv["ranks"]))
    comp = client.get(f"/api/areas/{code}/profile").json()["composite"]
    assert cv["ranks"][code] == comp["rank"] == comp["rank_scope"]["rank"]


def test_missing_value_says_why(client):
    p = client.get("/api/areas/WK099501/profile").json()
    coh = _ind(p, "sociale_cohesie")
    assert coh["value"] is None and coh["missing_reason"] == "not_at_level"
    assert coh["missing_reason_nl"]


def test_export_trends_cli(indexed, tmp_path):
    out = tmp_path / "trends.csv"
    r = subprocess.run([sys.executable, "-m", "weefsel", "export", "-w", str(indexed), "--level",
                        "gemeente", "--trends", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out, encoding="utf-8-sig", dtype={"period": str})
    lel = df[(df.code == "GM0995") & (df.indicator == "eenzaam_18")]
    assert list(lel.period) == ["2012", "2016", "2020"]
    assert lel["change"].iloc[0] == pytest.approx(7.6)
    bad = subprocess.run([sys.executable, "-m", "weefsel", "export", "-w", str(indexed),
                          "--level", "gemeente", "--trends", "-f", "gpkg", "-o",
                          str(tmp_path / "x.gpkg")], capture_output=True, text=True)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
