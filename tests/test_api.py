"""The REST API as a client uses it, on a small hand-made warehouse (weefsel.web.demo)
and, when the build is available, on the real Flevoland warehouse."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from weefsel.web.api import create_app
from weefsel.web.data import WebData, zoom_tolerance
from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    return make_demo_warehouse(tmp_path_factory.mktemp("web") / "demo.duckdb")


@pytest.fixture(scope="module")
def client(demo_path):
    with TestClient(create_app(demo_path, catalogue=DEMO_CATALOGUE)) as c:
        yield c


def rows_of(resp) -> list[dict]:
    assert resp.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig")), delimiter=";"))


# -- areas -----------------------------------------------------------------------------------

def test_search_by_name_and_code(client):
    r = client.get("/api/areas", params={"q": "almere"})
    assert r.status_code == 200
    codes = [a["code"] for a in r.json()["areas"]]
    assert codes[0] == "GM0034"           # the gemeente before its wijken and buurten
    assert "BU00340101" in codes
    r = client.get("/api/areas", params={"q": "BU00340101"})
    assert r.json()["areas"][0]["name"] == "Almere Stad Centrum"


def test_search_filters_level_and_csv(client):
    r = client.get("/api/areas", params={"level": "wijk"})
    assert {a["level"] for a in r.json()["areas"]} == {"wijk"}
    assert r.json()["n"] == 4
    rows = rows_of(client.get("/api/areas", params={"level": "gemeente", "format": "csv"}))
    assert [row["code"] for row in rows] == ["GM0034", "GM0995"]


def test_area_with_parents_and_children(client):
    r = client.get("/api/areas/BU00340101").json()
    assert r["area"]["level"] == "buurt"
    assert [p["code"] for p in r["parents"]] == ["WK003401", "GM0034", "PV24", "NL00"]
    kids = client.get("/api/areas/GM0034").json()["children"]
    assert {k["level"] for k in kids} == {"wijk", "buurt"} and len(kids) == 8


@pytest.mark.parametrize("url, message", [
    ("/api/areas/XX", "Onbekende gebiedscode: XX"),
    ("/api/areas/XX/profile", "Onbekende gebiedscode: XX"),
    ("/api/map/stadsdeel", "Onbekend niveau: stadsdeel"),
    ("/api/map/buurt?indicator=bestaatniet", "Onbekende indicator: bestaatniet"),
    ("/api/map/buurt?indicator=eenzaamheid&period=1900", "Onbekende periode"),
    ("/api/table?level=buurt&indicator=bestaatniet", "Onbekende indicator"),
    ("/api/table?level=straat", "Onbekend niveau"),
    ("/api/compare?codes=BU00340101,XX", "Onbekende gebiedscode: XX"),
    ("/api/indicators/bestaatniet", "Onbekende indicator"),
    ("/api/areas?level=straat", "Onbekend niveau"),
])
def test_unknown_things_are_404_in_dutch(client, url, message):
    r = client.get(url)
    assert r.status_code == 404
    assert r.json()["detail"].startswith(message)


@pytest.mark.parametrize("url", [
    "/api/map/buurt?zoom=99", "/api/map/buurt?zoom=abc", "/api/areas?limit=0",
    "/api/areas?format=xml", "/api/table", "/api/compare", "/api/compare?codes=BU00340101",
    "/api/compare?codes=a,b,c,d,e,f", "/api/areas/BU00340101/profile?format=pdf",
])
def test_bad_parameters_are_422_in_dutch(client, url):
    r = client.get(url)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("Ongeldige invoer") or detail.startswith("Kies twee tot vijf")


def test_unknown_route_is_dutch_404(client):
    r = client.get("/api/bestaatniet")
    assert r.status_code == 404 and r.json()["detail"].startswith("Niet gevonden")


# -- indicators ------------------------------------------------------------------------------

def test_indicator_catalogue(client):
    inds = {i["id"]: i for i in client.get("/api/indicators").json()["indicators"]}
    e = inds["eenzaamheid"]
    assert e["title"] == "Eenzaam (18+)" and e["unit"] == "% van inwoners 18+"
    assert e["direction"] == "hoger is slechter" and e["source"] == "50090NED"
    assert inds["index:rank"]["kind"] == "index"
    assert inds["svi:overall"]["kind"] == "flag"
    assert inds["var:Eenzaam@leeftijd=18+"]["kind"] == "variabele"   # raw variables too
    one = client.get("/api/indicators/eenzaamheid").json()
    assert one["periods"] == ["2016", "2020"] and "buurt" in one["levels"]
    rows = rows_of(client.get("/api/indicators?format=csv"))
    assert {"id", "title", "unit", "direction", "source"} <= set(rows[0])


# -- map -------------------------------------------------------------------------------------

def test_map_geojson_in_wgs84_with_status(client):
    r = client.get("/api/map/buurt", params={"indicator": "eenzaamheid", "zoom": 12})
    assert r.status_code == 200
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["meta"]["period"] == "2020"                 # latest by default
    assert fc["meta"]["indicator"]["unit"] == "% van inwoners 18+"
    assert fc["meta"]["n_without_geometry"] == 1          # BU09950203 has no polygon
    by_code = {f["properties"]["code"]: f["properties"] for f in fc["features"]}
    assert len(by_code) == 11
    assert by_code["BU00340103"]["status"] == "onderdrukt" and by_code["BU00340103"]["value"] is None
    assert by_code["BU09950102"]["status"] == "ontbreekt"
    assert by_code["BU00340101"]["status"] == "ok"
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert 4.9 < lon < 5.7 and 52.2 < lat < 52.7          # Flevoland, in lon/lat
    assert fc["meta"]["bbox"][0] < fc["meta"]["bbox"][2]


def test_map_meta_only_gives_legend_classes(client):
    meta = client.get("/api/map/buurt", params={"indicator": "eenzaamheid",
                                                "meta": "true"}).json()
    assert "features" not in meta and meta["counts"]["ok"] == 9
    assert meta["min"] <= meta["breaks"][0] and meta["breaks"] == sorted(meta["breaks"])
    assert meta["breaks"][-1] <= meta["max"]


def test_map_meta_names_the_publishers_data_years(client):
    """The legend's 'Jaar' is the reference period; data_periods says which years the
    shown figures really come from (indicator_values.data_period)."""
    meta = client.get("/api/map/buurt", params={"indicator": "laag_inkomen",
                                                "meta": "true"}).json()
    assert meta["period"] == "2024" and meta["data_periods"] == ["2022", "2023"]
    meta = client.get("/api/map/provincie", params={"indicator": "laag_inkomen",
                                                    "meta": "true"}).json()
    assert meta["data_periods"] == ["2023"]
    meta = client.get("/api/map/buurt", params={"indicator": "eenzaamheid", "period": "2016",
                                                "meta": "true"}).json()
    assert meta["data_periods"] == ["2016"]


def test_map_is_gzipped_when_large_and_asked(client):
    r = client.get("/api/map/buurt", params={"zoom": 13}, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200            # small demo map: below the 50 kB threshold
    assert r.headers.get("content-encoding") is None


def test_map_period_and_default_indicator(client):
    fc = client.get("/api/map/buurt", params={"indicator": "eenzaamheid",
                                              "period": "2016"}).json()
    assert fc["meta"]["period"] == "2016"
    assert next(f for f in fc["features"] if f["properties"]["code"] == "BU00340103"
                )["properties"]["status"] == "ok"          # suppressed only in 2020
    fc = client.get("/api/map/gemeente").json()
    assert fc["meta"]["indicator"]["id"] == "eenzaamheid"


def test_map_simplifies_per_zoom_and_caches(client, demo_path):
    def n_coords(fc):
        return sum(len(ring) for f in fc["features"] for ring in f["geometry"]["coordinates"])
    coarse = client.get("/api/map/buurt", params={"zoom": 5}).json()
    fine = client.get("/api/map/buurt", params={"zoom": 13}).json()
    assert n_coords(coarse) < n_coords(fine)
    assert zoom_tolerance(5) > zoom_tolerance(13) > 0
    data = client.app.state.data
    assert ("buurt", 13) in data._geom_cache
    again = client.get("/api/map/buurt", params={"zoom": 13})
    assert again.json() == fine


# -- table and compare -----------------------------------------------------------------------

def test_table_json_and_csv(client):
    r = client.get("/api/table", params=[("level", "buurt"), ("indicator", "eenzaamheid"),
                                         ("indicator", "laag_inkomen")]).json()
    assert [c["id"] for c in r["columns"]] == ["eenzaamheid", "laag_inkomen"]
    row = next(x for x in r["rows"] if x["code"] == "BU00340103")
    assert row["eenzaamheid"] is None and row["eenzaamheid|onderdrukt"] is True
    assert row["gemeente"] == "Almere"
    assert len(r["rows"]) == 12                  # incl. the buurt without polygon
    rows = rows_of(client.get("/api/table", params={"level": "buurt", "q": "lelystad",
                                                     "format": "csv"}))
    assert len(rows) == 6 and all(r["gemeente"] == "Lelystad" for r in rows)
    assert "attachment" in client.get("/api/table?level=wijk&format=csv").headers[
        "content-disposition"]


def test_compare(client):
    r = client.get("/api/compare", params={"codes": "BU00340101,WK003401,GM0995"}).json()
    assert [a["code"] for a in r["areas"]] == ["BU00340101", "WK003401", "GM0995"]
    row = next(x for x in r["rows"] if x["indicator"] == "eenzaamheid")
    assert row["periode"] == "2020" and isinstance(row["BU00340101"], float)
    rows = rows_of(client.get("/api/compare?codes=BU00340101,BU00340102&format=csv"))
    assert {"indicator", "BU00340101", "BU00340102"} <= set(rows[0])


# -- profile ---------------------------------------------------------------------------------

def test_profile_beside_gemeente_provincie_nl(client):
    p = client.get("/api/areas/BU00340101/profile").json()
    assert [c["code"] for c in p["comparators"]] == ["GM0034", "PV24", "NL00"]
    ind = {i["id"]: i for i in p["indicators"]}
    e = ind["eenzaamheid"]
    assert e["period"] == "2020" and set(e["comparators"]) == {"GM0034", "PV24", "NL00"}
    assert [t["period"] for t in e["trend"]["points"]] == ["2016", "2020"]
    assert ind["laag_inkomen"]["trend"] is None         # one year: no trend
    assert [r["code"] for r in e["reference"]] == ["GM0034", "PV24", "NL00"]
    assert e["rank"]["scope_nl"].startswith(f"rang {e['rank']['rank']} van ")
    c = p["composite"]
    assert c["rank_p05"] <= c["rank_median"] <= c["rank_p95"] and c["n_areas"] == 12
    assert any(f["id"] == "svi:overall" for f in p["flags"])
    assert "50090NED" in p["sources"]


def test_profile_fast_path_serves_the_same_bytes(client):
    first = client.get("/api/areas/BU00340102/profile")          # built by the app
    assert ("profile", "BU00340102") in client.app.state.data.response_cache
    again = client.get("/api/areas/BU00340102/profile")          # from the ASGI shortcut
    assert again.content == first.content and again.headers["content-type"] == \
        "application/json"
    assert client.get("/api/areas/XX/profile").status_code == 404


def test_profile_suppressed_and_html_and_csv(client):
    p = client.get("/api/areas/BU00340103/profile").json()
    e = next(i for i in p["indicators"] if i["id"] == "eenzaamheid")
    assert e["suppressed"] is True and e["value"] is None
    html = client.get("/api/areas/BU00340103/profile?format=html").text
    assert "<svg" in html and "90%-interval" in html and "geheim" in html
    assert 'role="img"' in html                            # charts have text alternatives
    rows = rows_of(client.get("/api/areas/BU00340101/profile?format=csv"))
    assert rows[0]["indicator"] == "eenzaamheid" and "waarde_GM0034" in rows[0]


def test_profile_of_area_without_index_or_values(client):
    p = client.get("/api/areas/GM0034/profile").json()
    assert p["composite"] is None
    p = client.get("/api/areas/NL00/profile").json()
    assert p["comparators"] == []


# -- pages, openapi, info --------------------------------------------------------------------

def test_pages_and_static(client):
    page = client.get("/")
    assert page.status_code == 200 and '<html lang="nl">' in page.text
    assert 'class="skiplink"' in page.text
    assert client.get("/static/vendor/maplibre-gl.js").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    doc = client.get("/profiel/BU00340101")
    assert doc.status_code == 200 and "@page" in doc.text and 'lang="nl"' in doc.text
    assert client.get("/profiel/XX").status_code == 404


def test_openapi_and_info(client):
    spec = client.get("/openapi.json").json()
    for path in ["/api/areas", "/api/areas/{code}", "/api/areas/{code}/profile",
                 "/api/indicators", "/api/map/{level}", "/api/table", "/api/compare"]:
        assert path in spec["paths"]
    info = client.get("/api/info").json()
    assert [lv["id"] for lv in info["levels"]] == ["land", "provincie", "gemeente", "wijk", "buurt"]
    assert info["default_indicator"] == "eenzaamheid"


def test_read_only_and_missing_file(demo_path, tmp_path):
    data = WebData(demo_path)
    with pytest.raises(Exception):
        data.cursor().execute("CREATE TABLE x (a INTEGER)")
    from weefsel.errors import WeefselError
    with pytest.raises(WeefselError, match="Geen warehouse"):
        create_app(tmp_path / "nope.duckdb")


def test_observations_only_warehouse(tmp_path):
    """Without indicator tables the raw variables are the layers."""
    from weefsel.warehouse.writer import create_warehouse
    from weefsel.web.demo import demo_frames
    frames = demo_frames()
    frames.pop("indicator_values")
    path = create_warehouse(tmp_path / "raw.duckdb", **frames)
    with TestClient(create_app(path, catalogue=[])) as c:
        ids = [i["id"] for i in c.get("/api/indicators").json()["indicators"]]
        assert ids == ["var:AantalInwoners", "var:Eenzaam@leeftijd=18+"]
        fc = c.get("/api/map/wijk").json()
        assert fc["meta"]["indicator"]["id"] == "var:AantalInwoners"
        assert fc["meta"]["period"] == "2024"
        p = c.get("/api/areas/BU00340101/profile").json()
        ids = [i["id"] for i in p["indicators"]]
        assert "var:Eenzaam@leeftijd=18+" in ids and p["composite"] is None
        lonely = next(i for i in p["indicators"] if i["id"] == "var:Eenzaam@leeftijd=18+")
        assert lonely["lower"] is not None                # published margins shown


def test_cli_profile_html_and_pdf(demo_path, tmp_path):
    from typer.testing import CliRunner
    from weefsel.cli import app
    runner = CliRunner()
    out = tmp_path / "profiel.html"
    r = runner.invoke(app, ["profile", "BU00340101", "-o", str(out), "-w", str(demo_path)])
    assert r.exit_code == 0, r.output
    assert "Almere Stad Centrum" in out.read_text(encoding="utf-8")
    pdf = tmp_path / "profiel.pdf"
    r = runner.invoke(app, ["profile", "BU00340101", "-o", str(pdf), "-w", str(demo_path)])
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes()[:5] == b"%PDF-"
    r = runner.invoke(app, ["profile", "XX", "-o", str(tmp_path / "x.pdf"), "-w", str(demo_path)])
    assert r.exit_code != 0 and not (tmp_path / "x.pdf").exists()


def test_pdf_falls_back_to_chromium(demo_path, tmp_path, monkeypatch):
    """Where WeasyPrint cannot load, headless Chromium --print-to-pdf makes the PDF."""
    import shutil
    import sys
    if not (shutil.which("chromium") or __import__("os").path.exists("/usr/bin/chromium")):
        pytest.skip("no chromium")
    monkeypatch.setitem(sys.modules, "weasyprint", None)    # import fails
    from weefsel.web.profile import write_profile
    out = tmp_path / "p.pdf"
    assert write_profile(WebData(demo_path), "BU00340101", str(out)) == "chromium"
    assert out.read_bytes()[:5] == b"%PDF-"


def test_real_flevoland(flevoland_warehouse):
    """The real build: every endpoint answers, Almere's profile has numbers."""
    with TestClient(create_app(flevoland_warehouse)) as c:
        info = c.get("/api/info").json()
        levels = [lv["id"] for lv in info["levels"]]
        assert "gemeente" in levels and "wijk" in levels
        r = c.get("/api/areas", params={"q": "Almere"}).json()
        assert r["areas"][0]["code"] == "GM0034"
        p = c.get("/api/areas/GM0034/profile")
        assert p.status_code == 200 and p.json()["indicators"]
        wijk = next(lv for lv in info["levels"] if lv["id"] == "wijk")
        fc = c.get("/api/map/wijk").json()
        assert len(fc["features"]) == wijk["n_geometry"] > 0
        assert c.get("/api/table", params={"level": "wijk"}).json()["n"] == wijk["n"]
        assert c.get("/api/compare", params={"codes": "GM0034,GM0995"}).status_code == 200
        json.dumps(c.get("/api/indicators").json())
