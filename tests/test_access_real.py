"""End to end on real files: OSM Amsterdam-Noord sample on the Amsterdam buurt polygons
(KWB 2024 populations), the CLI on a hand-made warehouse, and the CBS comparison."""

from __future__ import annotations

import warnings

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from weefsel.analysis.access import (AccessConfig, AccessInputs, EuclideanDetour, assign_areas,
                                     attach_codes, compare_with_cbs, compute_access, demand_from_areas,
                                     e2sfca, parse_decay, read_nabijheid_export, run_access)
from weefsel.errors import WeefselError
from weefsel.warehouse.writer import create_warehouse

# OSM amenity → weefsel-like type for this test (meeting places and a few services)
OSM_TYPES = {"community_centre": "buurthuis", "social_centre": "buurthuis", "place_of_worship": "gebedshuis",
             "school": "school", "college": "school", "cafe": "horeca", "pub": "horeca", "bar": "horeca",
             "restaurant": "horeca", "doctors": "huisarts", "theatre": "cultuur", "arts_centre": "cultuur",
             "cinema": "cultuur", "library": "bibliotheek"}
MEETING = ("buurthuis", "gebedshuis", "horeca", "cultuur")


@pytest.fixture(scope="module")
def amsterdam(data_dir):
    buurt = gpd.read_file(data_dir / "boundaries/buurt_amsterdam_gemeente_2022_2024.geojson").to_crs(28992)
    pop = pd.read_csv(data_dir / "kwb/kwb_2024_buurt_population_national.csv", dtype={"buurtcode": str})
    pop = pd.to_numeric(pop.set_index("buurtcode")["AantalInwoners_5"], errors="coerce")
    osm = gpd.read_file(data_dir / "facilities/osm_amenity_nodes_amsterdam_noord_2019_sample.geojson").to_crs(28992)
    osm = osm[osm["osm_keyword"].isin(OSM_TYPES)]
    fac = pd.DataFrame({"facility_id": "osm:" + osm["osm_id"].astype(str), "type": osm["osm_keyword"].map(OSM_TYPES),
                        "x_rd": osm.geometry.x.to_numpy(), "y_rd": osm.geometry.y.to_numpy()})
    fac = assign_areas(fac.rename(columns={"x_rd": "x", "y_rd": "y"}).assign(population=0.0),
                       buurt["cbsCode"].to_numpy(), buurt.geometry.values)
    fac = fac.rename(columns={"x": "x_rd", "y": "y_rd"}).drop(columns="population")
    codes = buurt["cbsCode"].astype(str)
    areas = pd.DataFrame({"code": codes, "name": buurt["naam"], "level": "buurt",
                          "wijk_code": "WK" + codes.str[2:8], "gemeente_code": "GM0363"})
    wijken = pd.DataFrame({"code": areas["wijk_code"].unique(), "level": "wijk", "gemeente_code": "GM0363"})
    areas = pd.concat([areas, wijken, pd.DataFrame({"code": ["GM0363"], "level": ["gemeente"]})], ignore_index=True)
    demand = demand_from_areas(buurt, pop, code_col="cbsCode")
    return buurt, demand, fac, areas


def test_amsterdam_noord_end_to_end(amsterdam):
    buurt, demand, fac, areas = amsterdam
    # every demand point lies in its own buurt polygon
    assert shapely.contains_xy(buurt.geometry.values, demand["x"], demand["y"]).all()
    assert demand["population"].sum() == pytest.approx(931_300, rel=0.001)
    assert demand["population_missing"].sum() == 1  # BU0363MK06 is not in the KWB 2024 list
    # README: all points fall in 25 buurten (we keep 109 of the 257 nodes, the typed ones)
    assert fac["area_code"].notna().all() and fac["area_code"].nunique() <= 25
    cfg = AccessConfig(meeting_types=MEETING, types=tuple(sorted(set(OSM_TYPES.values()))))
    res = compute_access(AccessInputs(demand, fac, areas, cfg, "2024"))
    t = res.table
    assert not (t["value"].isna() & t["missing_reason"].isna()).any()
    assert set(t["level"]) == {"buurt", "wijk", "gemeente"}
    v = t.set_index(["area_code", "measure", "facility_type"])["value"]
    # a buurt that holds horeca has some within 500 m; the far south-east (Weesp) has none nearby
    with_horeca = fac.loc[fac["type"] == "horeca", "area_code"].value_counts().index[0]
    assert v[(with_horeca, "count_within_500", "horeca")] >= 1
    assert v[(with_horeca, "nearest_distance", "horeca")] < 1000
    far = demand.loc[demand["x"].idxmax(), "area_code"]
    assert v[(far, "nearest_distance", "horeca")] > 8000
    assert v[(far, "share_with_meeting_place", "meeting_places")] == 0.0
    # no library in the sample: explicit 'no facility of this type', never NaN without reason
    lib = t[(t["facility_type"] == "bibliotheek") & (t["measure"] == "nearest_distance")]
    assert lib["value"].isna().all()
    assert set(lib["missing_reason"]) <= {"no facility of this type", "no residents"}
    # gemeente = population-weighted mean of its buurten
    b = t[(t["level"] == "buurt") & (t["measure"] == "nearest_distance") & (t["facility_type"] == "horeca")]
    b = b.dropna(subset=["value"])
    assert v[("GM0363", "nearest_distance", "horeca")] == pytest.approx(
        (b["value"] * b["population"]).sum() / b["population"].sum())
    # diversity is highest near the sample box, 0 far away
    div = t[(t["measure"] == "diversity_shannon") & (t["level"] == "buurt")].set_index("area_code")["value"]
    assert div.max() > 0.5 and div[far] == 0.0


def test_amsterdam_e2sfca_equals_access(amsterdam):
    access = pytest.importorskip("access")
    _, demand, fac, _ = amsterdam
    g = fac[fac["type"] == "horeca"]
    xy = demand[["x", "y"]].to_numpy()
    pop = demand["population"].to_numpy()
    model, decay = EuclideanDetour(1.3), parse_decay("gaussian:1500")
    ours, _ = e2sfca(xy, pop, g[["x_rd", "y_rd"]].to_numpy(), np.ones(len(g)), model, decay)
    pairs = model.pairs_within(xy, g[["x_rd", "y_rd"]].to_numpy(), decay.max_cost)
    acc = access.Access(demand_df=pd.DataFrame({"geoid": np.arange(len(xy)), "pop": pop}), demand_index="geoid",
                        demand_value="pop",
                        supply_df=pd.DataFrame({"geoid": np.arange(len(g)), "cap": np.ones(len(g))}),
                        supply_index="geoid", supply_value="cap",
                        cost_df=pd.DataFrame({"o": pairs.rows, "d": pairs.cols, "c": pairs.cost}),
                        cost_origin="o", cost_dest="d", cost_name="c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = acc.enhanced_two_stage_fca(weight_fn=decay.scalar(), max_cost=decay.max_cost)
    ref = ref.iloc[:, 0].reindex(np.arange(len(xy))).fillna(0.0).to_numpy()
    assert np.abs(ours - ref).max() <= 1e-9 and ours.max() > 0


@pytest.fixture()
def hand_warehouse(amsterdam, tmp_path):
    buurt, demand, fac, areas = amsterdam
    geo = dict(zip(buurt["cbsCode"], shapely.to_wkb(buurt.geometry.values)))
    wh_areas = areas.assign(geom_rd=areas["code"].map(geo), vintage=2024, source="test")
    obs = demand[~demand["population_missing"]][["area_code", "population"]].rename(
        columns={"population": "value"}).assign(period="2024", variable="AantalInwoners", breakdown="",
                                                 source="85984NED")
    wh_fac = fac.assign(source="osm", source_id=fac["facility_id"].str[4:], capacity=1.0)
    return create_warehouse(tmp_path / "w.duckdb", areas=wh_areas, observations=obs, facilities=wh_fac)


def test_cli_writes_access_results(hand_warehouse):
    from typer.testing import CliRunner

    from weefsel.cli import app
    runner = CliRunner()
    out = runner.invoke(app, ["access", "--warehouse", str(hand_warehouse), "--types", "horeca,buurthuis",
                              "--decay", "gaussian:800", "--detour", "1.3"])
    assert out.exit_code == 0, out.output
    assert "access_results" in out.output
    con = duckdb.connect(str(hand_warehouse), read_only=True)
    rows = con.execute("SELECT level, count(*) FROM access_results GROUP BY level ORDER BY level").fetchall()
    silent = con.execute("SELECT count(*) FROM access_results WHERE value IS NULL AND missing_reason IS NULL"
                         ).fetchone()[0]
    ftypes = {r[0] for r in con.execute("SELECT DISTINCT facility_type FROM access_results").fetchall()}
    con.close()
    assert {r[0] for r in rows} == {"buurt", "wijk", "gemeente"}
    assert silent == 0
    assert ftypes == {"horeca", "buurthuis", "meeting_places"}
    # a bad decay fails before anything is written: the table from the first run stays
    bad = runner.invoke(app, ["access", "--warehouse", str(hand_warehouse), "--decay", "gaussian:x"])
    assert bad.exit_code != 0
    con = duckdb.connect(str(hand_warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM access_results").fetchone()[0] == sum(r[1] for r in rows)
    con.close()


def test_run_access_api_and_demand_file(hand_warehouse, tmp_path):
    table = run_access(hand_warehouse, types=["horeca"], write=False)
    assert {"area_code", "level", "period", "measure", "facility_type", "value", "population",
            "missing_reason"} <= set(table.columns)
    assert (table["period"] == "2024").all()
    # user grid: two cells in Amsterdam-Noord; one outside every buurt (in the North Sea)
    csv = tmp_path / "grid.csv"
    csv.write_text("x,y,count\n122050,489050,120\n122150,489150,80\n60000,560000,5\n")
    grid = run_access(hand_warehouse, types=["horeca"], write=False, demand_file=csv)
    assert any("outside every area" in n for n in grid.attrs["notes"])
    assert grid.loc[grid["level"] == "gemeente", "population"].iloc[0] == 200.0


def test_run_access_without_facilities_is_clear(tmp_path):
    path = create_warehouse(tmp_path / "empty.duckdb")
    with pytest.raises(WeefselError, match="no facilities"):
        run_access(path)


def test_cbs_comparison_on_what_exists(data_dir, amsterdam):
    """The only CBS distances here: library distance for 11 Jordaan buurten (and a few wijken).
    The facility sample (Amsterdam-Noord, no library) cannot be compared with them: the report
    says so instead of inventing agreement."""
    buurt, demand, fac, areas = amsterdam
    jordaan = read_nabijheid_export(data_dir / "nabijheid/Nabijheid_voorzieningen__buurt_2021_10022023_144650.csv")
    coded = attach_codes(jordaan, areas[areas["level"] == "buurt"])
    assert coded["area_code"].notna().sum() == 11  # 'Jordaan' itself is the wijk
    res = compute_access(AccessInputs(demand, fac, areas, AccessConfig(types=("bibliotheek", "horeca")), "2024"))
    ours = res.table[(res.table["measure"] == "nearest_distance") & (res.table["facility_type"] == "bibliotheek")]
    report = compare_with_cbs(ours, coded)
    assert report.n_matched == 0 and "nothing to compare" in report.text()
    wide = read_nabijheid_export(data_dir / "nabijheid/Nabijheid_voorzieningen__afstand_locatie__wijk__en_buurtcijfers_2021_17012023_183355.csv")
    lib = wide[wide["variable"].str.endswith("Afstand tot bibliotheek")]
    assert lib.set_index("area_code")["value"].to_dict()["NL00"] == 2.0


def test_compare_with_cbs_statistics():
    ours = pd.DataFrame({"area_code": list("abcd"), "value": [500.0, 1000.0, 2000.0, 4000.0]})
    cbs = pd.DataFrame({"area_code": list("abce"), "value": [0.6, 1.2, 2.4, 9.0]})
    rep = compare_with_cbs(ours, cbs)
    assert rep.n_matched == 3
    assert rep.pearson == pytest.approx(1.0) and rep.spearman == pytest.approx(1.0)
    assert rep.median_ratio == pytest.approx(1 / 1.2)
    assert rep.table.iloc[0]["key"] == "c"  # largest absolute difference first


def test_indicator_yaml_covers_every_measure(hand_warehouse):
    import yaml
    from importlib import resources

    from weefsel.analysis.access import to_observations
    spec = yaml.safe_load(resources.files("weefsel.analysis").joinpath("access_indicators.yaml").read_text())
    measures = {e["measure"] for e in spec["indicators"]}
    table = run_access(hand_warehouse, types=["horeca"], write=False)
    assert set(table["measure"]) == measures
    for e in spec["indicators"]:
        assert e["direction"] in ("higher_is_better", "higher_is_worse") and e["title_nl"] and e["unit"]
    obs = to_observations(table)
    assert obs["value"].notna().all() and "access_nearest_horeca" in set(obs["variable"])


def test_flevoland_warehouse(flevoland_warehouse, tmp_path):
    """The real Flevoland build: the school and GP lists (facilities/*.csv) give real
    distances; a type without facilities is a clear error; with a few hand-made buurthuizen
    (not real locations) every wijk, gemeente and the province get values, and 'land' (only
    Flevoland covered) is explicitly missing for partial coverage."""
    import shutil

    real = run_access(flevoland_warehouse, types=["school", "gp_practice"], write=False)
    near = real[(real["measure"] == "nearest_distance") & (real["level"] == "gemeente")]
    assert set(near["facility_type"]) == {"school", "gp_practice"}
    v = near.set_index(["facility_type", "area_code"])["value"]
    assert v["school"].between(100, 10_000).all()               # metres, all six gemeenten
    assert v["gp_practice"][["GM0034", "GM0995"]].between(100, 5000).all()
    # the GP list covers only Almere and Lelystad: Dronten's nearest listed GP is far away
    assert v["gp_practice"]["GM0303"] > 10_000
    with pytest.raises(WeefselError, match="no facilities"):
        run_access(flevoland_warehouse, types=["library"], write=False)
    path = tmp_path / "flevo.duckdb"
    shutil.copy(flevoland_warehouse, path)
    fac = pd.DataFrame({"facility_id": ["t:1", "t:2", "t:3"], "type": "buurthuis", "source": "test",
                        "x_rd": [143_000.0, 160_500.0, 176_000.0], "y_rd": [487_000.0, 502_500.0, 507_000.0],
                        "capacity": [1.0, 2.0, 1.0]})
    con = duckdb.connect(str(path))
    con.register("f", fac)
    con.execute("INSERT INTO facilities (facility_id, type, source, x_rd, y_rd, capacity) "
                "SELECT facility_id, type, source, x_rd, y_rd, capacity FROM f")
    con.close()
    table = run_access(path, types=["buurthuis"])
    levels = table.groupby("level")["area_code"].nunique().to_dict()
    assert levels["wijk"] == 103 and levels["gemeente"] == 6 and levels["provincie"] == 1
    land = table[table["level"] == "land"]
    assert land["value"].isna().all() and land["missing_reason"].str.startswith("partial coverage").all()
    prov = table[(table["level"] == "provincie") & (table["measure"] == "nearest_distance")]
    assert prov["value"].notna().all() and prov["population"].iloc[0] > 400_000
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM access_results").fetchone()[0] == len(table)
    con.close()


def test_typology_link(data_dir):
    pytest.importorskip("weefsel.sources.typology")
    from weefsel.analysis.access import cbs_values_for_type, meeting_types
    chosen = meeting_types(["community_centre", "gp_practice", "library", "unknown_type"])
    assert chosen is not None and "community_centre" in chosen and "gp_practice" not in chosen
    wide = read_nabijheid_export(data_dir / "nabijheid/Nabijheid_voorzieningen__afstand_locatie__wijk__en_buurtcijfers_2021_17012023_183355.csv")
    lib = cbs_values_for_type(wide, "library").set_index("area_code")["value"]
    assert lib["NL00"] == 2.0 and lib["GM1680"] == 2.7 and len(lib) == 8
    jordaan = read_nabijheid_export(data_dir / "nabijheid/Nabijheid_voorzieningen__buurt_2021_10022023_144650.csv")
    assert len(cbs_values_for_type(jordaan, "library")) == 12
    assert cbs_values_for_type(wide, "community_centre").empty  # CBS has no buurthuis variable
