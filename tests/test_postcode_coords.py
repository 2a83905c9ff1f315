"""Property tests for placing facilities: coordinate transforms and postcode centroids."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.sources.coords import (
    LAT,
    LON,
    latlon_problem,
    rd_problem,
    rd_to_wgs84,
    wgs84_to_rd,
)
from weefsel.sources.postcode import PostcodeIndex, normalise_postcode

lats = st.floats(min_value=LAT[0] + 0.05, max_value=LAT[1] - 0.05)
lons = st.floats(min_value=LON[0] + 0.05, max_value=LON[1] - 0.05)
#: a box whose corners all lie inside the RD New extent
core_lats = st.floats(min_value=50.8, max_value=53.4)
core_lons = st.floats(min_value=3.4, max_value=7.1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(lats, lons), min_size=1, max_size=30))
def test_wgs84_rd_round_trip(points):
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    x, y = wgs84_to_rd(lon, lat)
    lon2, lat2 = rd_to_wgs84(x, y)
    assert np.allclose(lat2, lat, atol=1e-8) and np.allclose(lon2, lon, atol=1e-8)


def test_amersfoort_is_the_rd_origin():
    """RD New is defined with Amersfoort's tower at (155000, 463000)."""
    x, y = wgs84_to_rd(np.array([5.38720621]), np.array([52.15517440]))
    assert abs(x[0] - 155000) < 1.0 and abs(y[0] - 463000) < 1.0


@settings(max_examples=200, deadline=None)
@given(lats, lons)
def test_swapped_lat_lon_is_named(lat, lon):
    assert latlon_problem(lat, lon) is None
    problem = latlon_problem(lon, lat)
    assert problem is not None and "verwisseld" in problem


@settings(max_examples=100, deadline=None)
@given(core_lats, core_lons)
def test_swapped_rd_is_named(lat, lon):
    x, y = wgs84_to_rd(np.array([lon]), np.array([lat]))
    assert rd_problem(float(x[0]), float(y[0])) is None
    if not (289_000 <= x[0] <= 300_000):     # a swap is only recognisable outside the overlap
        assert "verwisseld" in rd_problem(float(y[0]), float(x[0]))


@given(st.integers(min_value=1000, max_value=9999),
       st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
       st.sampled_from(["", " ", "  "]), st.booleans())
def test_postcode_spellings_normalise_alike(num, letters, gap, lower):
    raw = f"{num}{gap}{letters.lower() if lower else letters}"
    assert normalise_postcode(raw) == f"{num}{letters}"
    assert normalise_postcode(f" {num} ") == str(num)
    assert normalise_postcode(f"{raw}/1234AB") == f"{num}{letters}"


@given(st.text(max_size=8))
def test_anything_else_is_no_postcode(text):
    out = normalise_postcode(text)
    assert out is None or (len(out) in (4, 6) and out[:4].isdigit() and out[0] != "0")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(min_value=1000, max_value=9999),
                       st.lists(st.tuples(st.sampled_from(["almere", "weesp", "urk", "ens"]),
                                          st.floats(0, 300000), st.floats(289000, 629000)),
                                min_size=1, max_size=3, unique_by=lambda r: r[0]),
                       min_size=1, max_size=10),
       st.sampled_from(["", "AB"]), st.data())
def test_pc4_placement_takes_the_own_place_else_the_first(table, suffix, data):
    idx = PostcodeIndex(pc4={str(k): list(v) for k, v in table.items()})
    pc4 = data.draw(st.sampled_from(sorted(idx.pc4)))
    rows = idx.pc4[pc4]
    place = data.draw(st.sampled_from([r[0] for r in rows] + ["elders", None]))
    x, y, precision = idx.place(pc4 + suffix, place)
    assert precision == "pc4"                          # no PC6 table: a PC6 falls back to PC4
    want = next((r for r in rows if r[0] == place), rows[0])
    assert (x, y) == (want[1], want[2])


def test_pc6_wins_over_pc4():
    idx = PostcodeIndex(pc6={"1315AB": (1.0, 2.0)}, pc4={"1315": [("almere", 3.0, 4.0)]})
    assert idx.place("1315AB") == (1.0, 2.0, "pc6")
    assert idx.place("1315AC") == (3.0, 4.0, "pc4")
    assert idx.place("9999AA") is None


def test_real_pc4_table_places_inside_the_netherlands(data_dir):
    from weefsel.sources.postcode import load_postcode_index
    idx = load_postcode_index([data_dir / "postcode/pc4_centroid_geonames_2024.csv"])
    assert len(idx.pc4) == 4086                       # distinct PC4 (4,334 rows incl. places)
    assert sum(len(v) for v in idx.pc4.values()) == 4334
    for rows in idx.pc4.values():
        for _, x, y in rows:
            assert rd_problem(x, y) is None
