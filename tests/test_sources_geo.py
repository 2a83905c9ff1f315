"""Boundaries, OSM facilities and the typology: real files in ../shared/data plus broken variants."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.errors import InputError, WeefselError
from weefsel.sources.boundaries import (PdokClient, decode_topojson, load_boundaries,
                                        provincie_of_gemeenten)
from weefsel.sources.osm import (OverpassClient, assign_areas, build_overpass_query, load_osm)
from weefsel.sources.typology import load_typology, render_markdown

RECORDED = Path(__file__).parent / "recorded"
FLEVOLAND = {"GM0034", "GM0995", "GM0303", "GM0050", "GM0171", "GM0184"}


# --------------------------------------------------------------------------- real files

@pytest.fixture(scope="module")
def real(data_dir):
    b = data_dir / "boundaries"
    return {
        "gm23": load_boundaries(b / "gemeente_2023_gegeneraliseerd.geojson"),
        "gm25": load_boundaries(b / "gemeente_2025_gegeneraliseerd.geojson"),
        "wk": load_boundaries(b / "wijk_2024_gegeneraliseerd.geojson"),
        "wk_flevo": load_boundaries(b / "wijk_2024_gegeneraliseerd_flevoland.geojson"),
        "pv": load_boundaries(b / "provincie_2020_gegeneraliseerd.geojson"),
        "bu_ams": load_boundaries(b / "buurt_amsterdam_gemeente_2022_2024.geojson"),
    }


def test_real_counts_levels_and_vintages(real):
    for key, n, level, vintage in [("gm23", 342, "gemeente", 2023), ("gm25", 342, "gemeente", 2025),
                                   ("wk", 3393, "wijk", 2024), ("wk_flevo", 103, "wijk", 2024),
                                   ("pv", 12, "provincie", 2020), ("bu_ams", 518, "buurt", 2024)]:
        areas = real[key].areas
        assert len(areas) == n, key
        assert set(areas["level"]) == {level}
        assert set(areas["vintage"]) == {vintage}
        assert areas["code"].is_unique
        geoms = shapely.from_wkb(areas["geom_rd"].to_numpy())
        assert shapely.is_valid(geoms).all(), key
        assert set(shapely.get_type_id(geoms)) <= {3, 6}  # Polygon, MultiPolygon


def test_real_codes_names_and_parents(real):
    wk = real["wk"].areas.set_index("code")
    assert wk.loc["WK003401", "name"] == "Centrum Almere Haven"
    assert wk.loc["WK003401", "gemeente_code"] == "GM0034"
    gm = real["gm23"].areas.set_index("code")
    assert gm.loc["GM0034", "name"] == "Almere"
    pv = real["pv"].areas.set_index("code")
    assert pv.loc["PV24", "name"] == "Flevoland" and pv.loc["PV24", "provincie_code"] == "PV24"
    bu = real["bu_ams"].areas
    assert bu["code"].str.startswith("BU0363").all()
    assert (~bu["code"].str[2:].str.isdigit()).sum() > 400       # alphanumeric: BU0363AA01
    row = bu.set_index("code").loc["BU0363AA01"]
    assert row["name"] == "Planciusbuurt-Noord"
    assert row["gemeente_code"] == "GM0363" and row["wijk_code"] == "WK0363AA"


def test_generalised_self_intersections_are_repaired_and_noted(real):
    notes = real["gm23"].rejections
    assert notes and all("repaired with make_valid" in r.reason for r in notes)
    assert all(r.where.startswith("feature ") and "(GM" in r.where for r in notes)
    prov = real["gm23"].provenance[0]
    assert prov["licence"] == "CC BY 4.0" and len(prov["sha256"]) == 64


def test_flevoland_gemeenten_map_to_pv24_by_geometry(real):
    mapping = provincie_of_gemeenten(real["gm23"], real["pv"])
    assert len(mapping) == 342
    assert {gm for gm, pv in mapping.items() if pv == "PV24"} == FLEVOLAND
    assert mapping["GM0363"] == "PV27" and mapping["GM0344"] == "PV26"   # Amsterdam, Utrecht


def test_provincie_of_accepts_geodataframes_with_names_only(real):
    import geopandas as gpd

    pv = real["pv"].areas
    gdf = gpd.GeoDataFrame({"name": pv["name"]}, geometry=shapely.from_wkb(pv["geom_rd"].to_numpy()),
                           crs="EPSG:28992").to_crs("EPSG:4326")
    mapping = provincie_of_gemeenten(real["gm25"], gdf)
    assert mapping["GM0034"] == "PV24" and mapping["GM0080"] == "PV21"  # Leeuwarden in 'Friesland'


def test_almere_centroid_in_rd(real):
    almere = real["gm23"].areas.set_index("code").loc["GM0034"]
    c = shapely.from_wkb(almere["geom_rd"]).centroid
    assert 140_000 < c.x < 150_000 and 480_000 < c.y < 490_000


def test_osm_sample_types_and_buurten(data_dir, real):
    frames = load_osm(data_dir / "facilities" / "osm_amenity_nodes_amsterdam_noord_2019_sample.geojson")
    fac = frames.facilities
    assert frames.rows_read == 257
    counts = fac["type"].value_counts()
    assert counts["school"] == 19 and counts["place_of_worship"] == 12
    assert counts["community_centre"] == 3        # 2 community_centre + 1 social_centre
    assert fac["facility_id"].str.match(r"^osm:node/\d+$").all() and fac["facility_id"].is_unique
    assert (fac["capacity"] == 1).all()
    assert frames.unmapped["amenity=parking"] == 104
    assert any(r.where == "unmapped tags" for r in frames.rejections)
    areas = pd.concat([real["bu_ams"].areas, real["wk"].areas, real["gm23"].areas])
    placed = assign_areas(fac, areas)
    assert placed.attrs["unassigned"] == []
    assert placed["area_code"].str.match(r"^BU0363[0-9A-Z]{4}$").all()
    assert placed["area_code"].nunique() <= 25
    assert frames.provenance[0]["licence"].startswith("ODbL")


# --------------------------------------------------------------------------- broken variants

def _fc(features, crs=None):
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


def _square(code, x0, y0, size, name=None, key="statcode"):
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {key: code, "statnaam": name or code}}


def _write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return p


def test_truncated_geojson_names_file_and_truncation(tmp_path, data_dir):
    text = (data_dir / "boundaries" / "wijk_2024_gegeneraliseerd_flevoland.geojson").read_text()
    p = _write(tmp_path, "wijk_2024_cut.geojson", text[: len(text) // 2])
    with pytest.raises(InputError, match=r"wijk_2024_cut\.geojson.*truncated"):
        load_boundaries(p)


def test_self_intersecting_polygon_repaired_with_note(tmp_path):
    bowtie = {"type": "Feature", "properties": {"statcode": "GM9001", "statnaam": "Strik"},
              "geometry": {"type": "Polygon", "coordinates": [[[5.0, 52.0], [5.1, 52.1], [5.1, 52.0],
                                                               [5.0, 52.1], [5.0, 52.0]]]}}
    p = _write(tmp_path, "gemeente_2024.geojson", _fc([_square("GM9000", 5.2, 52.2, 0.1), bowtie]))
    frames = load_boundaries(p)
    assert list(frames.areas["code"]) == ["GM9000", "GM9001"]
    g = shapely.from_wkb(frames.areas["geom_rd"].iloc[1])
    assert g.is_valid and g.area > 0
    [note] = frames.rejections
    assert note.where.startswith("feature 1 (GM9001) at RD ")
    assert note.reason == "invalid geometry (Self-intersection) repaired with make_valid; row kept"


def test_duplicated_code_names_both_features(tmp_path):
    p = _write(tmp_path, "wijk_2024.geojson", _fc([_square("WK003401", 5.2, 52.3, 0.01),
                                                    _square("WK003402", 5.3, 52.3, 0.01),
                                                    _square("WK003401", 5.4, 52.3, 0.01)]))
    with pytest.raises(InputError, match=r"WK003401 appears twice: features 0 and 2"):
        load_boundaries(p)


def test_rd_coordinates_claiming_crs84_are_refused(tmp_path):
    p = _write(tmp_path, "gemeente_2024.geojson", _fc([_square("GM0034", 140_000, 480_000, 5_000)]))
    with pytest.raises(InputError, match="looks like RD New"):
        load_boundaries(p)
    p2 = _write(tmp_path, "gemeente_2024b.geojson",
                _fc([_square("GM0034", 140_000, 480_000, 5_000)], crs="urn:ogc:def:crs:EPSG::28992"))
    g = shapely.from_wkb(load_boundaries(p2).areas["geom_rd"].iloc[0])
    assert g.bounds == pytest.approx((140_000, 480_000, 145_000, 485_000))
    g3 = shapely.from_wkb(load_boundaries(p, crs="EPSG:28992").areas["geom_rd"].iloc[0])
    assert g3.equals(g)


def test_lonlat_claiming_rd_is_refused(tmp_path):
    p = _write(tmp_path, "g.geojson", _fc([_square("GM0034", 5.2, 52.3, 0.1)], crs="EPSG:28992"))
    with pytest.raises(InputError, match="looks like lon/lat"):
        load_boundaries(p)


def test_missing_code_property_and_unprefixed_codes(tmp_path):
    f = _square("x", 5.2, 52.3, 0.1)
    f["properties"] = {"omschrijving": "iets"}
    with pytest.raises(InputError, match="no area-code property"):
        load_boundaries(_write(tmp_path, "a.geojson", _fc([f])))
    p = _write(tmp_path, "b.geojson", _fc([_square("0034", 5.2, 52.3, 0.1, key="gemeentecode")]))
    frames = load_boundaries(p, level="gemeente", vintage=2022)
    assert frames.areas.loc[0, "code"] == "GM0034" and frames.areas.loc[0, "vintage"] == 2022


def _two_squares_topology(quantized: bool) -> dict:
    """Two unit squares side by side sharing the arc x=1 (arc 0), in RD-like metres."""
    # arcs in absolute coordinates (origin 140000, 480000), scale 1000 m
    shared = [[1, 0], [1, 1]]                     # arc 0: shared edge, bottom→top
    left = [[1, 1], [0, 1], [0, 0], [1, 0]]      # arc 1: left square's other three edges
    right = [[1, 0], [2, 0], [2, 1], [1, 1]]     # arc 2: right square's other three edges
    arcs = [shared, left, right]
    topo = {"type": "Topology",
            "crs": {"type": "name", "properties": {"name": "EPSG:28992"}},
            "objects": {"wijken": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]], "properties": {"statcode": "WK003401", "name": "Links"}},
                {"type": "Polygon", "arcs": [[~0, 2]], "properties": {"statcode": "WK003402", "name": "Rechts"}},
            ]}}}
    if quantized:
        def delta(arc):
            return [arc[0]] + [[b[0] - a[0], b[1] - a[1]] for a, b in zip(arc, arc[1:])]
        topo["transform"] = {"scale": [1000, 1000], "translate": [140_000, 480_000]}
        topo["arcs"] = [delta(a) for a in arcs]
    else:
        topo["arcs"] = [[[140_000 + 1000 * x, 480_000 + 1000 * y] for x, y in a] for a in arcs]
    return topo


@pytest.mark.parametrize("quantized", [True, False])
def test_topojson_two_squares_sharing_an_arc(tmp_path, quantized):
    p = _write(tmp_path, "wijk_2024.topojson", _two_squares_topology(quantized))
    areas = load_boundaries(p).areas.set_index("code")
    left = shapely.from_wkb(areas.loc["WK003401", "geom_rd"])
    right = shapely.from_wkb(areas.loc["WK003402", "geom_rd"])
    assert left.is_valid and right.is_valid
    assert left.area == pytest.approx(1e6) and right.area == pytest.approx(1e6)
    assert left.bounds == pytest.approx((140_000, 480_000, 141_000, 481_000))
    assert right.bounds == pytest.approx((141_000, 480_000, 142_000, 481_000))
    shared = left.intersection(right)
    assert shared.length == pytest.approx(1000)          # they touch along the shared arc
    assert areas.loc["WK003402", "name"] == "Rechts" and areas.loc["WK003402", "gemeente_code"] == "GM0034"


def test_decode_topojson_reversed_arc_orientation():
    decoded = decode_topojson(_two_squares_topology(True))
    assert [p["statcode"] for p, _ in decoded] == ["WK003401", "WK003402"]
    assert all(g.exterior.is_closed for _, g in decoded)


def test_geopackage_in_rd(tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"gwb_code": ["BU00340101", "BU00340102"], "gwb_naam": ["A", "B"]},
                           geometry=[shapely.box(140_000, 480_000, 141_000, 481_000),
                                     shapely.box(141_000, 480_000, 142_000, 481_000)], crs="EPSG:28992")
    p = tmp_path / "buurt_2024.gpkg"
    gdf.to_file(p, layer="buurten", driver="GPKG")
    areas = load_boundaries(p).areas
    assert list(areas["code"]) == ["BU00340101", "BU00340102"]
    assert list(areas["wijk_code"]) == ["WK003401"] * 2 and set(areas["level"]) == {"buurt"}
    assert shapely.from_wkb(areas["geom_rd"].iloc[0]).area == pytest.approx(1e6)


def test_cbs_wijkenbuurtkaart_style_geopackage_reads_all_layers(tmp_path):
    """The CBS wijk- en buurtkaart GeoPackage: layers gemeenten/wijken/buurten (+ a point layer)."""
    import geopandas as gpd

    p = tmp_path / "wijkenbuurten_2024_v1.gpkg"
    box = shapely.box(140_000, 480_000, 141_000, 481_000)
    gpd.GeoDataFrame({"gemeentecode": ["GM0034"], "gemeentenaam": ["Almere"]}, geometry=[box],
                     crs="EPSG:28992").to_file(p, layer="gemeenten")
    gpd.GeoDataFrame({"wijkcode": ["WK003401"], "wijknaam": ["Haven"], "gemeentecode": ["GM0034"],
                      "gemeentenaam": ["Almere"]}, geometry=[box], crs="EPSG:28992").to_file(p, layer="wijken")
    gpd.GeoDataFrame({"buurtcode": ["BU00340101"], "buurtnaam": ["Haven-Centrum"], "wijkcode": ["WK003401"],
                      "gemeentecode": ["GM0034"], "gemeentenaam": ["Almere"]}, geometry=[box],
                     crs="EPSG:28992").to_file(p, layer="buurten")
    gpd.GeoDataFrame({"buurtcode": ["BU00340101"]}, geometry=[box.centroid],
                     crs="EPSG:28992").to_file(p, layer="buurt_labelpoints")
    frames = load_boundaries(p)
    assert dict(zip(frames.areas["code"], frames.areas["name"])) == {
        "GM0034": "Almere", "WK003401": "Haven", "BU00340101": "Haven-Centrum"}
    assert set(frames.areas["vintage"]) == {2024} and frames.rows_read == 3
    only = load_boundaries(p, level="wijk").areas
    assert list(only["code"]) == ["WK003401"]


def test_feature_that_is_not_a_feature(tmp_path):
    p = _write(tmp_path, "g.geojson", _fc([_square("GM0034", 5.2, 52.3, 0.1), [1, 2]]))
    with pytest.raises(InputError, match="feature 1 is not a GeoJSON Feature"):
        load_boundaries(p)


def test_overpass_turbo_geojson_export_with_polygons(tmp_path):
    ring = [[5.21, 52.365], [5.211, 52.365], [5.211, 52.3656], [5.21, 52.3656], [5.21, 52.365]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "way/202", "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"@id": "way/202", "amenity": "school", "name": "De Zevensprong"}},
        {"type": "Feature", "id": "node/7", "geometry": {"type": "Point", "coordinates": [5.22, 52.37]},
         "properties": {"type": "node", "id": 7, "tags": {"leisure": "playground"}}},
    ]}
    fac = load_osm(_write(tmp_path, "export.geojson", doc)).facilities.set_index("facility_id")
    assert dict(fac["type"]) == {"osm:way/202": "school", "osm:node/7": "playground"}
    assert fac.loc["osm:way/202", "name"] == "De Zevensprong"


# --------------------------------------------------------------------------- online clients

def test_pdok_client_pages_through_wfs():
    """Hand-written pages: no real PDOK gebiedsindelingen answer is recorded (tests/recorded/REAL.md)."""
    pages = [json.loads((RECORDED / "pdok" / f"gemeente_page{i}.json").read_text()) for i in (1, 2)]
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        start = int(request.url.params["startIndex"])
        return httpx.Response(200, json=pages[0] if start == 0 else pages[1])

    client = PdokClient(client=httpx.Client(transport=httpx.MockTransport(handler)), page_size=2)
    frames = client.fetch("gemeente", 2024)
    assert list(frames.areas["code"]) == ["GM0034", "GM0995", "GM0303"]
    assert [s["startIndex"] for s in seen] == ["0", "2"]
    assert seen[0]["typeNames"] == "gebiedsindelingen:gemeente_gegeneraliseerd"
    assert seen[0]["srsName"] == "EPSG:28992"
    assert set(frames.areas["vintage"]) == {2024}


def test_overpass_recorded_file():
    """Hand-written answer: no real Overpass output for a Dutch area is recorded (tests/recorded/REAL.md)."""
    frames = load_osm(RECORDED / "overpass" / "almere_centrum.json")
    fac = frames.facilities.set_index("facility_id")
    assert set(fac.index) == {"osm:node/101", "osm:node/102", "osm:way/201", "osm:way/202",
                              "osm:relation/301", "osm:node/105"}
    assert fac.loc["osm:node/101", "type"] == "library"
    assert json.loads(fac.loc["osm:node/101", "tags"]) == {
        "amenity": "library", "name": "De Nieuwe Bibliotheek", "opening_hours": "Mo-Sa 10:00-18:00",
        "wheelchair": "yes"}
    assert fac.loc["osm:way/202", "type"] == "school"
    assert fac.loc["osm:node/105", "type"] == "gp_practice"
    assert 140_000 < fac["x_rd"].min() and fac["x_rd"].max() < 150_000
    assert 480_000 < fac["y_rd"].min() and fac["y_rd"].max() < 490_000
    assert any("way/203" in r.where and "out center" in r.reason for r in frames.rejections)
    assert frames.unmapped == {"amenity=parking": 1}


def test_overpass_client_retries_busy_server():
    body = (RECORDED / "overpass" / "almere_centrum.json").read_bytes()
    calls, sleeps = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"})
        if len(calls) == 2:
            return httpx.Response(504, text="Gateway Timeout")
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    client = OverpassClient(client=httpx.Client(transport=httpx.MockTransport(handler)),
                            sleep=sleeps.append, backoff=1.0)
    frames = client.fetch((52.36, 5.20, 52.38, 5.23))
    assert len(calls) == 3 and sleeps == [3.0, 2.0]
    query = httpx.QueryParams(calls[-1].content.decode())["data"]
    assert '["amenity"~"^(community_centre|social_centre)$"](52.36,5.2,52.38,5.23)' in query
    assert query.rstrip().endswith("out center tags;")
    assert len(frames.facilities) == 6 and frames.provenance[0]["licence"].startswith("ODbL")


def test_overpass_client_gives_up_with_clear_error():
    client = OverpassClient(client=httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(504))), sleep=lambda s: None, max_attempts=3)
    with pytest.raises(WeefselError, match="still busy after 3 attempts"):
        client.fetch((52.36, 5.20, 52.38, 5.23))


def test_overpass_query_by_area_name():
    q = build_overpass_query("Almere")
    assert 'area["name"="Almere"]["boundary"="administrative"]->.a;' in q and "(area.a);" in q
    with pytest.raises(InputError):
        build_overpass_query((52.4, 5.2, 52.3, 5.3))


def test_osm_pbf_when_osmium_is_installed(tmp_path):
    osmium = pytest.importorskip("osmium")
    from osmium.osm.mutable import Node, Way

    p = tmp_path / "mini.osm.pbf"
    w = osmium.SimpleWriter(str(p))
    w.add_node(Node(id=1, location=(5.22, 52.37), tags={"amenity": "library", "name": "Bieb"}))
    for i, (x, y) in enumerate([(5.20, 52.36), (5.21, 52.36), (5.21, 52.37), (5.20, 52.37)], start=10):
        w.add_node(Node(id=i, location=(x, y)))
    w.add_way(Way(id=100, nodes=[10, 11, 12, 13, 10], tags={"leisure": "park"}))
    w.add_node(Node(id=2, location=(5.23, 52.37), tags={"amenity": "bench"}))
    w.close()
    fac = load_osm(p).facilities.set_index("facility_id")
    assert dict(fac["type"]) == {"osm:node/1": "library", "osm:way/100": "park"}


def test_truncated_osm_json(tmp_path):
    text = (RECORDED / "overpass" / "almere_centrum.json").read_text()
    with pytest.raises(InputError, match="truncated"):
        load_osm(_write(tmp_path, "cut.json", text[:300]))


# --------------------------------------------------------------------------- assign_areas

def test_assign_areas_prefers_finest_level_and_reports_outside():
    def area(code, level, box):
        return {"code": code, "level": level, "geom_rd": shapely.to_wkb(shapely.box(*box))}

    areas = pd.DataFrame([area("GM0034", "gemeente", (0, 0, 100, 100)),
                          area("WK003401", "wijk", (0, 0, 50, 100)),
                          area("BU00340101", "buurt", (0, 0, 50, 50)),
                          {"code": "PV24", "level": "provincie", "geom_rd": shapely.to_wkb(shapely.box(-1e3, -1e3, 1e3, 1e3))}])
    fac = pd.DataFrame({"facility_id": ["a", "b", "c", "d"], "x_rd": [10, 10, 80, 500],
                        "y_rd": [10, 80, 80, 500], "area_code": None})
    out = assign_areas(fac, areas)
    assert list(out["area_code"]) == ["BU00340101", "WK003401", "GM0034", None]
    assert out.attrs["unassigned"] == ["d"]


# --------------------------------------------------------------------------- typology

def test_typology_is_complete_and_prioritised():
    typ = load_typology()
    for key in ("community_centre", "library", "school", "childcare", "sports", "place_of_worship",
                "playground", "park", "gp_practice", "pharmacy", "supermarket", "cafe",
                "social_facility", "elderly_care", "arts_culture"):
        assert typ[key].label_nl and typ[key].rules
    assert typ.classify({"amenity": "social_facility", "social_facility": "nursing_home"}) == "elderly_care"
    assert typ.classify({"amenity": "social_facility", "social_facility": "food_bank"}) == "social_facility"
    assert typ.classify({"amenity": "kindergarten"}) == "childcare"
    assert typ.classify({"healthcare": "doctor"}) == "gp_practice"
    assert typ.classify({"amenity": "bench"}) is None
    assert typ["community_centre"].meeting_place and not typ["pharmacy"].meeting_place
    assert typ["gp_practice"].nabijheid_stem == "AfstandTotHuisartsenpraktijk"
    assert typ["community_centre"].nabijheid_stem is None     # 85231NED has no buurthuis


def test_docs_typology_table_matches_yaml():
    doc = Path(__file__).parents[1] / "docs" / "typology.md"
    assert render_markdown() in doc.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- properties

@settings(max_examples=40, deadline=None)
@given(rects=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(1, 50), st.integers(1, 50)),
                      min_size=1, max_size=6),
       scale=st.sampled_from([0.5, 1.0, 10.0]), tx=st.integers(0, 300_000), ty=st.integers(300_000, 600_000),
       reverse=st.booleans())
def test_topojson_delta_decoding_roundtrip(rects, scale, tx, ty, reverse):
    """Quantized, delta-encoded rings decode back to x * scale + translate, in either arc direction."""
    arcs, geoms = [], []
    for i, (x, y, w, h) in enumerate(rects):
        ring = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
        stored = ring[::-1] if reverse else ring
        arcs.append([list(stored[0])] + [[b[0] - a[0], b[1] - a[1]] for a, b in zip(stored, stored[1:])])
        geoms.append({"type": "Polygon", "arcs": [[~i if reverse else i]], "properties": {"k": i}})
    topo = {"type": "Topology", "transform": {"scale": [scale, scale], "translate": [tx, ty]},
            "arcs": arcs, "objects": {"o": {"type": "GeometryCollection", "geometries": geoms}}}
    for (x, y, w, h), (props, g) in zip(rects, decode_topojson(topo)):
        expect = shapely.box(tx + x * scale, ty + y * scale, tx + (x + w) * scale, ty + (y + h) * scale)
        assert g.equals(expect)
        assert g.exterior.coords[0] == pytest.approx((tx + x * scale, ty + y * scale))


@settings(max_examples=30, deadline=None)
@given(pts=st.lists(st.tuples(st.floats(0.5, 299.5), st.floats(0.5, 199.5)), min_size=1, max_size=50))
def test_assign_areas_matches_grid_arithmetic(pts):
    """On a 3x2 grid of 100 m buurten the assigned code is the cell that floor division names."""
    rows = []
    for i in range(3):
        for j in range(2):
            rows.append({"code": f"BU0034{i}{j}00", "level": "buurt",
                         "geom_rd": shapely.to_wkb(shapely.box(i * 100, j * 100, (i + 1) * 100, (j + 1) * 100))})
    fac = pd.DataFrame({"facility_id": [str(k) for k in range(len(pts))],
                        "x_rd": [p[0] for p in pts], "y_rd": [p[1] for p in pts]})
    out = assign_areas(fac, pd.DataFrame(rows))
    on_edge = [(x % 100 == 0) or (y % 100 == 0) for x, y in pts]
    for (x, y), code, edge in zip(pts, out["area_code"], on_edge):
        if not edge:
            assert code == f"BU0034{int(x // 100)}{int(y // 100)}00"
