"""Vector tiles of area boundaries: our MVT encoder read back by an independent decoder
(mapbox-vector-tile), on hand-made shapes, on the real Flevoland wijk polygons and through
the API."""

from __future__ import annotations

import json
import math

import mapbox_vector_tile as mvt
import numpy as np
import pytest
import shapely
from hypothesis import given, settings, strategies as st
from pyproj import Transformer
from shapely.geometry import Polygon, box, shape

from weefsel.web.tiles import (EXTENT, LAYER_NAME, TileSet, _varint, encode_polygons,
                               lonlat_bounds, tile_bounds, varints)


def decode(tile: bytes) -> dict:
    return mvt.decode(tile, default_options={"y_coord_down": True})


@given(st.lists(st.integers(min_value=0, max_value=2**35 - 1), min_size=1, max_size=50))
def test_varints_match_the_protobuf_encoding(values):
    raw, nbytes = varints(np.array(values, dtype=np.int64))
    assert raw.tobytes() == b"".join(_varint(v) for v in values)
    assert nbytes.tolist() == [len(_varint(v)) for v in values]


boxes = st.tuples(st.integers(0, 3000), st.integers(0, 3000),
                  st.integers(20, 1000), st.integers(20, 1000))


@settings(max_examples=60, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=8), st.booleans(), st.booleans())
def test_polygons_round_trip(rects, with_hole, clockwise):
    """Any winding in, the spec's winding out: the decoder sees the same areas, and holes
    stay holes."""
    geoms = []
    for x, y, w, h in rects:
        outer = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        if clockwise:
            outer = outer[::-1]
        holes = []
        if with_hole and w > 60 and h > 60:
            holes = [[(x + 10, y + 10), (x + 20, y + 10), (x + 20, y + 20), (x + 10, y + 20)]]
        geoms.append(Polygon(outer, holes))
    codes = [f"BU{i:08d}" for i in range(len(geoms))]
    tile = encode_polygons(LAYER_NAME, geoms, list(range(len(geoms))), {"code": codes})
    layer = decode(tile)[LAYER_NAME]
    assert layer["extent"] == EXTENT
    got = {f["properties"]["code"]: (f["id"], shape(f["geometry"])) for f in layer["features"]}
    assert sorted(got) == codes
    for i, g in enumerate(geoms):
        fid, back = got[codes[i]]
        assert fid == i
        assert back.area == pytest.approx(g.area)
        assert len(back.interiors) == len(g.interiors)


def test_collapsed_rings_and_non_polygons_are_dropped():
    tiny = box(10.1, 10.1, 10.3, 10.3)             # rounds to a single point
    line = shapely.LineString([(0, 0), (100, 100)])
    keep = box(0, 0, 100, 100)
    tile = encode_polygons(LAYER_NAME, [tiny, line, keep], [0, 1, 2],
                           {"code": ["a", "b", "c"]})
    feats = decode(tile)[LAYER_NAME]["features"]
    assert [f["properties"]["code"] for f in feats] == ["c"]
    assert encode_polygons(LAYER_NAME, [tiny], [0], {"code": ["a"]}) == b""


@pytest.fixture(scope="module")
def flevoland_wijken(data_dir):
    fc = json.loads((data_dir / "boundaries" / "wijk_2024_gegeneraliseerd_flevoland.geojson")
                    .read_text(encoding="utf-8"))
    tf = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True)

    def to_rd(c):
        x, y = tf.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])
    codes = [f["properties"]["statcode"] for f in fc["features"]]
    geoms = np.array([shapely.transform(shape(f["geometry"]), to_rd) for f in fc["features"]],
                     dtype=object)
    return codes, geoms


def test_real_flevoland_wijken_all_in_the_province_tiles(flevoland_wijken):
    codes, geoms = flevoland_wijken
    ts = TileSet(codes, geoms)
    box_ll = lonlat_bounds(ts)
    assert 5.0 < box_ll[0] < box_ll[2] < 6.1 and 52.2 < box_ll[1] < box_ll[3] < 52.9
    for z in (6, 8, 10):
        seen = set()
        for key in ts.tiles_for_bounds(z, box_ll):
            body = ts.tile(*key)
            if body:
                seen |= {f["properties"]["code"] for f in decode(body)[LAYER_NAME]["features"]}
        assert seen == set(codes), z  # every wijk drawn at every zoom, nothing invented


def test_real_tile_geometry_matches_the_source(flevoland_wijken):
    """At zoom 12 the decoded areas equal the wijk polygons clipped to the tile (Web
    Mercator), within what 4096 units a tile and half-pixel simplification allow."""
    codes, geoms = flevoland_wijken
    ts = TileSet(codes, geoms)
    z, x, y = ts.tiles_for_bounds(12, (5.20, 52.36, 5.21, 52.37))[0]  # Almere Stad
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    feats = decode(ts.tile(z, x, y))[LAYER_NAME]["features"]
    assert len(feats) >= 3
    for f in feats:
        i = f["id"]
        assert ts.codes[i] == f["properties"]["code"]
        want = shapely.clip_by_rect(ts.geoms[i], minx, miny, maxx, maxy).area * scale ** 2
        got = shapely.clip_by_rect(shape(f["geometry"]), 0, 0, EXTENT, EXTENT).area
        assert got == pytest.approx(want, rel=0.01, abs=200)


def test_tiles_for_bounds_cover_the_box():
    ts_box = (5.0, 52.2, 6.0, 52.9)
    ts = TileSet([], np.array([], dtype=object))
    for z in (5, 8, 11):
        keys = ts.tiles_for_bounds(z, ts_box)
        minx = min(tile_bounds(*k)[0] for k in keys)
        maxx = max(tile_bounds(*k)[2] for k in keys)
        lon = lambda mx: mx / 20037508.342789244 * 180  # noqa: E731
        assert lon(minx) <= 5.0 and lon(maxx) >= 6.0
        assert len(keys) == len(set(keys))


# -- through the API ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from fastapi.testclient import TestClient
    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    wh = make_demo_warehouse(tmp_path_factory.mktemp("tiles") / "demo.duckdb")
    app = create_app(wh, catalogue=DEMO_CATALOGUE)
    with TestClient(app) as c:
        yield c
    app.state.data.close()


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    return z, int((lon + 180) / 360 * n), \
        int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_tile_endpoint_serves_the_level(client):
    z, x, y = _tile_of(5.22, 52.37, 10)       # Almere
    r = client.get(f"/api/tiles/buurt/{z}/{x}/{y}.pbf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert "max-age" in r.headers["cache-control"]
    codes = {f["properties"]["code"] for f in decode(r.content)[LAYER_NAME]["features"]}
    assert codes and all(c.startswith("BU0034") for c in codes)
    wijk = client.get(f"/api/tiles/wijk/{z}/{x}/{y}.pbf")
    assert {f["properties"]["code"][:2]
            for f in decode(wijk.content)[LAYER_NAME]["features"]} == {"WK"}


def test_tile_endpoint_empty_and_bad_requests(client):
    assert client.get("/api/tiles/buurt/3/0/0.pbf").status_code == 204   # mid-Pacific
    r = client.get("/api/tiles/stadsdeel/3/0/0.pbf")
    assert r.status_code == 404 and "Onbekend niveau" in r.json()["detail"]
    r = client.get("/api/tiles/buurt/3/8/0.pbf")
    assert r.status_code == 404 and "tussen 0 en 7" in r.json()["detail"]
    assert client.get("/api/tiles/buurt/17/0/0.pbf").status_code == 422
    assert client.get("/api/tiles/buurt/a/0/0.pbf").status_code == 422


def test_real_flevoland_tiles_gzipped_and_complete(flevoland_warehouse):
    """The real Flevoland build: the wijk tiles of the province view hold every wijk of
    the values endpoint, and large tiles travel gzipped."""
    from fastapi.testclient import TestClient
    from weefsel.web.api import create_app
    app = create_app(flevoland_warehouse)
    try:
        with TestClient(app) as c:
            values = c.get("/api/map/wijk/values").json()
            meta = values["meta"]
            n_drawn = sum(meta["counts"].values())
            assert n_drawn == 103
            ts = TileSet([], np.array([], dtype=object))
            seen, big = set(), None
            for z, x, y in ts.tiles_for_bounds(8, meta["bbox"]):
                r = c.get(f"/api/tiles/wijk/{z}/{x}/{y}.pbf",
                          headers={"Accept-Encoding": "identity"})
                if r.status_code == 200:
                    seen |= {f["properties"]["code"]
                             for f in decode(r.content)[LAYER_NAME]["features"]}
                    if len(r.content) > 1000:
                        big = (z, x, y, r.content)
            assert len(seen) == n_drawn
            assert set(values["values"]) <= seen
            assert big is not None
            z, x, y, plain = big
            r = c.get(f"/api/tiles/wijk/{z}/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
            assert r.headers["content-encoding"] == "gzip" and r.content == plain
    finally:
        app.state.data.close()


def test_values_agree_with_the_geojson_map(client):
    """The tile values and the GeoJSON map are two views of one answer."""
    v = client.get("/api/map/buurt/values", params={"indicator": "eenzaamheid"}).json()
    fc = client.get("/api/map/buurt", params={"indicator": "eenzaamheid"}).json()
    props = {f["properties"]["code"]: f["properties"] for f in fc["features"]}
    assert {c for c, p in props.items() if p["status"] == "ok"} == set(v["values"])
    assert all(props[c]["value"] == val for c, val in v["values"].items())
    assert {c for c, p in props.items() if p["status"] == "onderdrukt"} == set(v["suppressed"])
    for key in ("counts", "breaks", "min", "max", "period", "indicator"):
        assert v["meta"][key] == fc["meta"][key], key
    assert v["meta"]["bbox"] == pytest.approx(fc["meta"]["bbox"], abs=1e-3)


def test_values_bad_input(client):
    r = client.get("/api/map/buurt/values", params={"indicator": "bestaatniet"})
    assert r.status_code == 404 and "Onbekende indicator" in r.json()["detail"]
    assert client.get("/api/map/stadsdeel/values").status_code == 404


def test_dashboard_page_carries_info(client):
    html = client.get("/").text
    start = html.index('<script id="weefsel-info" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    info = json.loads(body)
    assert info == client.get("/api/info").json()
    assert info["default_level"] == "wijk" and info["tiles_version"]
