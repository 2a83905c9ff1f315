"""Export: one row per area and period, one column per variable, readable by pandas,
Excel (BOM, separators) and geopandas/QGIS (EPSG:28992)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from shapely.geometry import box

from weefsel.errors import WeefselError
from weefsel.warehouse.export import export, wide_table
from weefsel.warehouse.store import Warehouse
from weefsel.warehouse.writer import create_warehouse


@pytest.fixture
def small_warehouse(tmp_path):
    areas = pd.DataFrame({
        "code": ["NL00", "GM0034", "GM0995", "WK003401"],
        "level": ["land", "gemeente", "gemeente", "wijk"],
        "name": ["Nederland", "Almere", "Lelystad", "Stad"],
        "gemeente_code": [None, "GM0034", "GM0995", "GM0034"],
        "provincie_code": [None, "PV24", "PV24", "PV24"],
        "geom_rd": [None, box(140000, 480000, 150000, 490000).wkb,
                    box(150000, 490000, 160000, 500000).wkb, None],
    })
    obs = pd.DataFrame({
        "area_code": ["GM0034", "GM0034", "GM0034", "GM0995", "GM0034", "WK003401"],
        "period": ["2024", "2020", "2020", "2024", "2016", "2024"],
        "variable": ["AantalInwoners", "Eenzaam", "Eenzaam", "AantalInwoners", "Eenzaam",
                     "AantalInwoners"],
        "breakdown": ["", "leeftijd=18+", "leeftijd=65+", "", "leeftijd=18+", ""],
        "value": [322000.0, 45.5, 50.25, 80000.0, 44.0, 1000.0],
        "source": ["85984NED", "50090NED", "50090NED", "85984NED", "50090NED", "85984NED"],
    })
    path = create_warehouse(tmp_path / "w.duckdb", areas=areas, observations=obs)
    return path


def test_wide_one_row_per_area_and_period(small_warehouse):
    with Warehouse(small_warehouse) as w:
        t = wide_table(w, "gemeente")
    assert not t.duplicated(["code", "period"]).any()
    assert list(t.columns[:7]) == ["code", "name", "level", "gemeente_code", "wijk_code",
                                   "provincie_code", "period"]
    row = t[(t.code == "GM0034") & (t.period == "2020")].iloc[0]
    assert row["Eenzaam[leeftijd=65+]"] == 50.25 and row["Eenzaam[leeftijd=18+]"] == 45.5
    assert set(t[t.code == "GM0034"].period) == {"2024", "2020", "2016"}


def test_period_filter_keeps_every_area(small_warehouse):
    with Warehouse(small_warehouse) as w:
        t = wide_table(w, "gemeente", period="2024")
    assert list(t.code) == ["GM0034", "GM0995"] and set(t.period) == {"2024"}
    assert list(t.columns[-1:]) == ["AantalInwoners"]


def test_variables_filter_and_unknown(small_warehouse):
    with Warehouse(small_warehouse) as w:
        t = wide_table(w, "gemeente", variables=["Eenzaam"])
        assert [c for c in t.columns if "[" in c] == ["Eenzaam[leeftijd=18+]",
                                                     "Eenzaam[leeftijd=65+]"]
        with pytest.raises(WeefselError, match="Unknown variable.*Nope"):
            wide_table(w, "gemeente", variables=["Nope"])
        with pytest.raises(WeefselError, match="level 'buurt'"):
            wide_table(w, "buurt")


def test_derived_tables_are_pivoted(small_warehouse):
    con = duckdb.connect(str(small_warehouse))
    con.execute("CREATE TABLE indicator_values (area_code VARCHAR, period VARCHAR, "
                "indicator VARCHAR, value DOUBLE, unit VARCHAR)")
    con.execute("INSERT INTO indicator_values VALUES ('GM0034','2024','eenzaamheid',0.4,'%'),"
                "('GM0995','2024','eenzaamheid',0.6,'%')")
    con.execute("CREATE TABLE access_results (area_code VARCHAR, level VARCHAR, period VARCHAR, "
                "measure VARCHAR, facility_type VARCHAR, value DOUBLE, population DOUBLE)")
    con.execute("INSERT INTO access_results VALUES ('GM0034','gemeente','2024','nearest_km',"
                "'library',1.5, 1000)")
    con.execute("CREATE TABLE index_results (area_code VARCHAR, period VARCHAR, reference VARCHAR,"
                " composite DOUBLE, rank INTEGER)")
    con.execute("INSERT INTO index_results VALUES ('GM0034','2024','nl',0.5,2)")
    con.close()
    with Warehouse(small_warehouse) as w:
        t = wide_table(w, "gemeente", period="2024")
    assert t.set_index("code").loc["GM0995", "indicator_values.eenzaamheid"] == 0.6
    g = t.set_index("code")
    assert g.loc["GM0034", "access_results.nearest_km[facility_type=library]"] == 1.5
    assert g.loc["GM0034", "index_results.composite[reference=nl]"] == 0.5
    assert g.loc["GM0034", "index_results.rank[reference=nl]"] == 2
    assert list(t.columns).index("AantalInwoners") < list(t.columns).index(
        "indicator_values.eenzaamheid")


def test_csv_for_excel_and_default(small_warehouse, tmp_path):
    out = tmp_path / "g.csv"
    _, rows, _ = export(small_warehouse, "gemeente", "csv", out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(out, encoding="utf-8-sig", dtype={"period": str})
    assert len(df) == rows and not df.duplicated(["code", "period"]).any()
    nl = tmp_path / "nl.csv"
    export(small_warehouse, "gemeente", "csv", nl, period="2020", excel=True)
    text = nl.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("code;name;level")
    assert "45,5" in text
    df = pd.read_csv(nl, sep=";", decimal=",", encoding="utf-8-sig")
    assert df.set_index("code").loc["GM0034", "Eenzaam[leeftijd=18+]"] == 45.5


def test_parquet_and_gpkg(small_warehouse, tmp_path):
    import geopandas as gpd
    pq = tmp_path / "g.parquet"
    export(small_warehouse, "gemeente", "parquet", pq, period="2024")
    assert len(pd.read_parquet(pq)) == 2
    gp = tmp_path / "g.gpkg"
    export(small_warehouse, "gemeente", "gpkg", gp, period="2024")
    gdf = gpd.read_file(gp)
    assert gdf.crs.to_epsg() == 28992 and len(gdf) == 2
    assert gdf.geometry.notna().all() and "AantalInwoners" in gdf.columns


def test_bad_format(small_warehouse, tmp_path):
    with pytest.raises(WeefselError, match="format"):
        export(small_warehouse, "gemeente", "xls", tmp_path / "x.xls")
    assert not (tmp_path / "x.xls").exists()


def test_export_real_flevoland(flevoland_warehouse, tmp_path):
    import geopandas as gpd
    out = tmp_path / "g.gpkg"
    _, rows, _ = export(flevoland_warehouse, "gemeente", "gpkg", out, period="2024")
    gdf = gpd.read_file(out)
    assert rows == len(gdf) == 6
    assert gdf.crs.to_epsg() == 28992 and gdf.geometry.notna().all()
    csv = tmp_path / "w.csv"
    export(flevoland_warehouse, "wijk", "csv", csv)
    df = pd.read_csv(csv, encoding="utf-8-sig", dtype={"period": str})
    assert not df.duplicated(["code", "period"]).any()
    assert (df[df.period == "2024"].gemeente_code == "GM0034").sum() == 71
