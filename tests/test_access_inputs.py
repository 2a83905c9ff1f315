"""Bad input is refused with a clear message, or treated as documented; what-if deltas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weefsel.analysis.access import (AccessConfig, AccessInputs, EuclideanDetour, NetworkDistance,
                                     apply_changes, check_rd, clean_facilities, compute_access,
                                     parse_decay, what_if)
from weefsel.errors import InputError

AREAS = pd.DataFrame({
    "code": ["BU00010001", "BU00010002", "BU00010101", "WK000100", "WK000101", "GM0001", "NL00"],
    "level": ["buurt", "buurt", "buurt", "wijk", "wijk", "gemeente", "land"],
    "wijk_code": ["WK000100", "WK000100", "WK000101", None, None, None, None],
    "gemeente_code": ["GM0001"] * 5 + [None, None],
})


def _demand(pop=(1000.0, 3000.0, 0.0)):
    return pd.DataFrame({"area_code": ["BU00010001", "BU00010002", "BU00010101"],
                         "x": [150_000.0, 151_000.0, 156_000.0], "y": [450_000.0] * 3,
                         "population": list(pop)})


def _facilities():
    return pd.DataFrame({"facility_id": ["a", "b", "c"], "type": ["buurthuis", "buurthuis", "bibliotheek"],
                         "x_rd": [150_200.0, 152_000.0, 151_000.0], "y_rd": [450_000.0] * 3,
                         "capacity": [1.0, 2.0, None]})


def _inputs(**kw):
    cfg = AccessConfig(decay=parse_decay("uniform:2000"), detour=1.0)
    return AccessInputs(kw.get("demand", _demand()), kw.get("facilities", _facilities()), AREAS, cfg, "2024")


def test_lonlat_given_as_rd_is_refused():
    with pytest.raises(InputError, match="longitude/latitude"):
        check_rd(np.array([4.9]), np.array([52.37]), where="f")
    with pytest.raises(InputError, match="swapped"):
        check_rd(np.array([52.37]), np.array([4.9]), where="f")
    with pytest.raises(InputError, match="x and y look swapped"):
        check_rd(np.array([487_000.0]), np.array([121_000.0]), where="f")
    fac = _facilities().assign(x_rd=[4.9, 4.91, 4.92], y_rd=[52.3, 52.31, 52.32])
    with pytest.raises(InputError, match="facilities.*row 0"):
        compute_access(_inputs(facilities=fac))


def test_negative_capacity_names_the_facility():
    fac = _facilities()
    fac.loc[1, "capacity"] = -3
    with pytest.raises(InputError, match=r"negative capacity -3 for facility b \(row 1\)"):
        clean_facilities(fac)
    with pytest.raises(InputError, match="not a number"):
        clean_facilities(_facilities().assign(capacity=["1", "veel", None]))


def test_missing_capacity_means_one():
    assert clean_facilities(_facilities())["capacity"].tolist() == [1.0, 2.0, 1.0]


def test_bad_decay_and_detour():
    with pytest.raises(InputError, match="--decay"):
        parse_decay("gaussian:-5")
    with pytest.raises(InputError, match="--decay"):
        parse_decay("cubic:9")
    with pytest.raises(InputError, match="--detour"):
        EuclideanDetour(0.5)


def test_zero_population_area_is_explicit_missing_not_nan():
    res = compute_access(_inputs())
    t = res.table
    empty = t[t["area_code"] == "BU00010101"]
    assert empty["value"].isna().all()
    assert set(empty["missing_reason"]) == {"no residents"}
    # its wijk has only that buurt: also 'no residents'; the gemeente is defined
    assert set(t.loc[t["area_code"] == "WK000101", "missing_reason"]) == {"no residents"}
    assert t.loc[t["area_code"] == "GM0001", "value"].notna().all()
    # every NULL has a reason
    assert not (t["value"].isna() & t["missing_reason"].isna()).any()
    assert any("zero population" in n for n in res.notes)


def test_population_weighted_aggregation():
    res = compute_access(_inputs())
    t = res.table.set_index(["area_code", "measure", "facility_type"])["value"]
    # nearest buurthuis: 200 m (pop 1000) and 800 m (pop 3000) → wijk = (200*1000 + 800*3000)/4000
    assert t[("BU00010001", "nearest_distance", "buurthuis")] == pytest.approx(200.0)
    assert t[("WK000100", "nearest_distance", "buurthuis")] == pytest.approx(650.0)
    assert t[("NL00", "nearest_distance", "buurthuis")] == pytest.approx(650.0)
    # share with a meeting place within 1 km: both populated buurten → 100 %
    assert t[("GM0001", "share_with_meeting_place", "meeting_places")] == pytest.approx(100.0)
    # E2SFCA uniform 2 km: buurthuis a serves both (demand 4000), b serves both too → (1+2)/4000
    assert t[("BU00010001", "e2sfca_per_1000", "buurthuis")] == pytest.approx(3 / 4000 * 1000)


def test_type_without_facility_gives_reason():
    cfg = AccessConfig(types=("buurthuis", "zwembad"), detour=1.0)
    res = compute_access(AccessInputs(_demand(), _facilities(), AREAS, cfg, "2024"))
    t = res.table
    swim = t[(t["facility_type"] == "zwembad") & (t["measure"] == "nearest_distance")
             & (t["area_code"] == "GM0001")]
    assert swim["value"].isna().all() and set(swim["missing_reason"]) == {"no facility of this type"}
    counts = t[(t["facility_type"] == "zwembad") & (t["measure"] == "count_within_1000")
               & (t["area_code"] == "GM0001")]
    assert counts["value"].tolist() == [0.0]


def test_facility_outside_every_area_is_kept_as_supply_and_reported():
    fac = _facilities().assign(area_code=["BU00010001", None, "BU00010002"])
    res = compute_access(_inputs(facilities=fac))
    assert any("1 facilities lie outside every area" in n for n in res.notes)
    t = res.table.set_index(["area_code", "measure", "facility_type"])["value"]
    assert t[("BU00010002", "count_within_1000", "buurthuis")] == 2.0  # b (outside) still counts


def test_negative_population_refused():
    with pytest.raises(InputError, match="population"):
        compute_access(_inputs(demand=_demand(pop=(1.0, -1.0, 0.0))))


def test_what_if_add_remove_resize():
    base = _inputs()
    # remove b: buurt 2's nearest buurthuis becomes a (800 m, unchanged) — pick adding instead
    d = what_if(base, [{"action": "add", "type": "buurthuis", "x_rd": 151_000.0, "y_rd": 450_000.0}])
    row = d[(d["area_code"] == "BU00010002") & (d["measure"] == "nearest_distance")
            & (d["facility_type"] == "buurthuis")].iloc[0]
    assert row["before"] == pytest.approx(800.0) and row["after"] == pytest.approx(0.0)
    assert row["delta"] == pytest.approx(-800.0)
    assert set(d["facility_type"]) == {"buurthuis", "meeting_places"}

    d = what_if(base, [{"action": "resize", "facility_id": "b", "capacity": 6.0}])
    e = d[(d["measure"] == "e2sfca_per_1000") & (d["area_code"] == "BU00010001")].iloc[0]
    assert e["delta"] == pytest.approx(4 / 4000 * 1000)

    d = what_if(base, [{"action": "remove", "facility_id": "c"}])
    lib = d[(d["facility_type"] == "bibliotheek") & (d["measure"] == "nearest_distance")
            & (d["area_code"] == "GM0001")].iloc[0]
    assert np.isnan(lib["after"]) and lib["before"] > 0


def test_what_if_bad_change():
    with pytest.raises(InputError, match="no facility with id"):
        apply_changes(_facilities(), [{"action": "remove", "facility_id": "zz"}])
    with pytest.raises(InputError, match="negative capacity"):
        apply_changes(_facilities(), [{"action": "add", "type": "x", "x_rd": 150_000, "y_rd": 450_000,
                                       "capacity": -1}])
    with pytest.raises(InputError, match="unknown action"):
        apply_changes(_facilities(), [{"action": "move", "facility_id": "a"}])


def test_network_model_same_code_path():
    """A 1 km street grid: network costs are Manhattan distances; measures run unchanged."""
    n = 11
    xs, ys = np.meshgrid(np.arange(n) * 100.0 + 150_000, np.arange(n) * 100.0 + 450_000)
    nodes = np.column_stack([xs.ravel(), ys.ravel()])
    idx = np.arange(n * n).reshape(n, n)
    edges = np.vstack([np.column_stack([idx[:, :-1].ravel(), idx[:, 1:].ravel(), np.full(n * (n - 1), 100.0)]),
                       np.column_stack([idx[:-1, :].ravel(), idx[1:, :].ravel(), np.full(n * (n - 1), 100.0)])])
    net = NetworkDistance(nodes, edges)
    o = np.array([[150_000.0, 450_000.0], [150_500.0, 450_500.0]])
    f = np.array([[150_300.0, 450_400.0], [151_000.0, 451_000.0]])
    manhattan = np.abs(o[:, None, :] - f[None, :, :]).sum(-1)
    assert np.allclose(net.nearest(o, f), manhattan.min(axis=1))
    pairs = net.pairs_within(o, f, 1000.0)
    assert np.allclose(pairs.cost, manhattan[pairs.rows, pairs.cols])
    assert sorted(zip(pairs.rows, pairs.cols)) == sorted(zip(*np.nonzero(manhattan <= 1000.0)))
    demand = pd.DataFrame({"area_code": ["BU00010001", "BU00010002"], "x": o[:, 0], "y": o[:, 1],
                           "population": [10.0, 20.0]})
    fac = pd.DataFrame({"type": ["buurthuis", "buurthuis"], "x_rd": f[:, 0], "y_rd": f[:, 1]})
    res = compute_access(AccessInputs(demand, fac, AREAS, AccessConfig(), "2024", model=net))
    t = res.table.set_index(["area_code", "measure", "facility_type"])["value"]
    assert t[("BU00010001", "nearest_distance", "buurthuis")] == pytest.approx(700.0)


def test_network_from_networkx_and_unreachable():
    nx = pytest.importorskip("networkx")
    g = nx.Graph()
    for i, (x, y) in enumerate([(150_000, 450_000), (150_300, 450_000), (150_300, 450_400), (160_000, 460_000)]):
        g.add_node(f"n{i}", x=float(x), y=float(y))
    g.add_edge("n0", "n1", length=300.0)
    g.add_edge("n1", "n2", length=400.0)  # n3 is an island
    net = NetworkDistance.from_networkx(g)
    o = np.array([[150_000.0, 450_000.0], [160_000.0, 460_000.0]])
    f = np.array([[150_300.0, 450_400.0]])
    d = net.nearest(o, f)
    assert d[0] == pytest.approx(700.0) and np.isinf(d[1])
    demand = pd.DataFrame({"area_code": ["BU00010001", "BU00010002"], "x": o[:, 0], "y": o[:, 1],
                           "population": [5.0, 5.0]})
    fac = pd.DataFrame({"type": ["buurthuis"], "x_rd": f[:, 0], "y_rd": f[:, 1]})
    t = compute_access(AccessInputs(demand, fac, AREAS, AccessConfig(), "2024", model=net)).table
    near = t[(t["measure"] == "nearest_distance")].set_index("area_code")
    assert near.loc["BU00010002", "missing_reason"] == "not reachable"
    assert near.loc["WK000100", "missing_reason"] == "not reachable"
    assert near.loc["BU00010001", "value"] == pytest.approx(700.0)


def test_network_parallel_edges_keep_the_shortest():
    nodes = np.array([[150_000.0, 450_000.0], [150_500.0, 450_000.0]])
    net = NetworkDistance(nodes, np.array([[0, 1, 900.0], [1, 0, 600.0], [0, 1, 700.0]]))
    assert net.nearest(nodes[:1], nodes[1:])[0] == pytest.approx(600.0)
    with pytest.raises(InputError, match="does not exist"):
        NetworkDistance(nodes, np.array([[0, 5, 1.0]]))


def test_parent_without_area_row_gets_no_value():
    """A buurt's provincie_code without a provincie row (one-gemeente build) is not aggregated."""
    areas = AREAS.assign(provincie_code=["PV27"] * 5 + [None, None])
    t = compute_access(AccessInputs(_demand(), _facilities(), areas, AccessConfig(), "2024")).table
    assert "PV27" not in set(t["area_code"])
    assert {"buurt", "wijk", "gemeente", "land"} == set(t["level"])


def test_cbs_grid_geopackage_and_bad_demand_files(tmp_path):
    gpd = pytest.importorskip("geopandas")
    import shapely

    from weefsel.analysis.access import assign_areas, read_demand_file
    cells = [shapely.box(x, 450_000, x + 100, 450_100) for x in (150_000, 150_100, 150_200)]
    grid = gpd.GeoDataFrame({"crs28992res100m": ["a", "b", "c"], "aantal_inwoners": [35, -99997, 120]},
                            geometry=cells, crs=28992)
    path = tmp_path / "vierkant.gpkg"
    grid.to_file(path)
    pts = read_demand_file(path)
    assert pts["population"].tolist() == [35.0, 0.0, 120.0] and pts.attrs["suppressed"] == 1
    assert pts["x"].tolist() == [150_050.0, 150_150.0, 150_250.0]
    poly = np.array([shapely.box(150_000, 450_000, 150_150, 450_100)], dtype=object)
    assigned = assign_areas(pts, np.array(["BU00010001"]), poly)
    assert assigned["area_code"].tolist()[0] == "BU00010001" and assigned.attrs["outside"] == 1
    bad = tmp_path / "latlon.csv"
    bad.write_text("x,y,count\n4.9,52.37,10\n")
    with pytest.raises(InputError, match="longitude/latitude"):
        read_demand_file(bad)
    nocount = tmp_path / "nocount.csv"
    nocount.write_text("x,y,people\n150000,450000,10\n")
    with pytest.raises(InputError, match="no population count column"):
        read_demand_file(nocount)
