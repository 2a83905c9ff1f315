"""Build orchestration: merging, dedupe, region filter, validation and the atomic swap.

The first half runs on hand-made SourceFrames with stand-in loaders (fast, no real data);
the second half builds Flevoland from ../shared/data once per session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from shapely.geometry import box

from weefsel.errors import InputError, RegionError, WeefselError
from weefsel.sources.base import Rejection, SourceFrames
from weefsel.warehouse import build as B
from weefsel.warehouse.discover import SourceSpec, discover, gemeente_filter, sniff_csv
from weefsel.warehouse.store import Warehouse

# --------------------------------------------------------------------------- stand-ins

@dataclass
class Sel:
    name: str
    gemeente_codes: list[str]
    provincie_codes: list[str] = field(default_factory=list)
    is_national: bool = False

    def contains(self, code: str) -> bool:
        if self.is_national:
            return True
        if code in self.provincie_codes:
            return True
        return code[:2] in ("GM", "WK", "BU") and "GM" + code[2:6] in self.gemeente_codes


def fake_resolve(region, areas, provincie_of, members=None):
    r = region.lower()
    if r == "nl":
        return Sel("Nederland", sorted(areas.loc[areas.level == "gemeente", "code"]),
                   is_national=True)
    if r in ("flevoland", "pv24"):
        return Sel("Flevoland", sorted(g for g, p in provincie_of.items() if p == "PV24"),
                   ["PV24"])
    gm = areas[(areas.level == "gemeente") & (areas.name.str.lower() == r)]
    if len(gm):
        return Sel(gm.name.iloc[0], list(gm.code))
    raise RegionError(f"unknown region {region!r}")


def obs(rows, source):
    df = pd.DataFrame(rows, columns=["area_code", "period", "variable", "breakdown", "value"])
    df["source"] = source
    return df


def area(code, level, name, geom=None):
    return {"code": code, "level": level, "name": name,
            "geom_rd": geom.wkb if geom is not None else None}


def national_frames() -> SourceFrames:
    areas = pd.DataFrame([area("GM0034", "gemeente", "Almere"), area("WK003401", "wijk", "Stad"),
                          area("BU00340101", "buurt", "A"), area("BU00340102", "buurt", "B"),
                          area("GM0363", "gemeente", "Amsterdam"),
                          area("BU03630001", "buurt", "C")])
    o = obs([("GM0034", "2024", "AantalInwoners", "", 300),
             ("WK003401", "2024", "AantalInwoners", "", 300),
             ("BU00340101", "2024", "AantalInwoners", "", 100),
             ("BU00340102", "2024", "AantalInwoners", "", 150),   # sum 250 vs 300: deviation
             ("GM0363", "2024", "AantalInwoners", "", 900),
             ("BU03630001", "2024", "AantalInwoners", "", 900)], "85984NED")
    return SourceFrames(source="nat", areas=areas, observations=o, rows_read=6,
                        rejections=[Rejection("nat", "row 9", "value '..' not a number")] * 3)


def subset_frames() -> SourceFrames:
    o = obs([("GM0034", "2024", "AantalInwoners", "", 999),          # duplicate: dropped
             ("BU00340102", "2024", "Eenzaam", "leeftijd=18+", 40.0),
             ("BU00340101", "2024", "Eenzaam", "leeftijd=18+", 50.0),
             ("GM0034", "2024", "Eenzaam", "leeftijd=18+", 30.0)], "50090NED")
    return SourceFrames(source="sub", observations=o, rows_read=4)


def boundary_frames() -> SourceFrames:
    areas = pd.DataFrame([area("GM0034", "gemeente", None, box(0, 0, 10, 10)),
                          area("GM0363", "gemeente", None, box(20, 0, 30, 10)),
                          area("PV24", "provincie", "Flevoland", box(-1, -1, 11, 11)),
                          area("PV27", "provincie", "Noord-Holland", box(19, -1, 31, 11))])
    return SourceFrames(source="geo", areas=areas, rows_read=4)


FAKE = {"nat": national_frames, "sub": subset_frames, "geo": boundary_frames}


def fake_provincie_of(gem, prov):
    from shapely import wkb
    out = {}
    for g in gem.itertuples():
        c = wkb.loads(g.geom_rd).centroid
        for p in prov.itertuples():
            if wkb.loads(p.geom_rd).contains(c):
                out[g.code] = p.code
    return out


@pytest.fixture
def fake_sources(monkeypatch, tmp_path):
    monkeypatch.setattr(B, "_resolve", fake_resolve)
    monkeypatch.setattr(B, "_load", lambda spec, ctx: FAKE[spec.label]())
    import weefsel.sources.boundaries as bnd  # noqa: F401  (stand-in until H2 lands)
    monkeypatch.setattr("weefsel.sources.boundaries.provincie_of_gemeenten", fake_provincie_of,
                        raising=False)
    specs = [SourceSpec("kwb_csv", tmp_path / "nat", "national"),
             SourceSpec("health", tmp_path / "sub", "subset"),
             SourceSpec("boundaries", tmp_path / "geo", "national")]
    for s in specs:
        s.path.write_text("x")
    # labels are file names: nat/sub/geo
    return specs


def _build(specs, out, region="flevoland"):
    return B.build(region, specs[0].path.parent, out, progress=False, specs=specs)


# --------------------------------------------------------------------------- unit tests

def test_merge_dedupe_region_and_validation(fake_sources, tmp_path):
    out = tmp_path / "w.duckdb"
    rep = _build(fake_sources, out)
    with Warehouse(out) as w:
        areas = w.areas()
        assert set(areas.code) == {"NL00", "PV24", "GM0034", "WK003401", "BU00340101",
                                   "BU00340102"}
        assert areas.set_index("code").loc["BU00340101", "provincie_code"] == "PV24"
        assert areas.set_index("code").loc["BU00340101", "wijk_code"] == "WK003401"
        o = w.observations(["AantalInwoners"])
        assert o.set_index("area_code").loc["GM0034", "value"] == 300   # national kept
        v = w.sql("SELECT * FROM validation")
        info = w.build_info()
    assert info["region"] == "flevoland" and info["weefsel_version"]
    nat, sub, _ = rep.sources
    assert nat.rejected == 3 and sub.duplicates == 1
    reasons = v[v.check_name == "rejection_reason"]
    assert "3 x value '..' not a number" in reasons.message.iloc[0]
    dev = v[(v.check_name == "sum_consistency") & (v.severity == "warning")]
    assert list(dev.expected) == [300] and list(dev.observed) == [250]
    rate = v[(v.check_name == "rate_consistency") & (v.severity == "info")]
    assert len(rate) == 1
    # weighted mean (100*50 + 150*40)/250 = 44 vs 30: a 14 pp deviation is listed
    rdev = v[(v.check_name == "rate_consistency") & (v.severity == "warning")]
    assert rdev.observed.iloc[0] == pytest.approx(44.0)
    gp = v[v.check_name == "gemeente_present"]
    assert "Almere (GM0034) present" in gp.message.iloc[0]
    assert "85984NED: gemeente+wijk+buurt" in gp.message.iloc[0]


def test_failure_halfway_leaves_previous_warehouse(fake_sources, tmp_path, monkeypatch):
    out = tmp_path / "w.duckdb"
    _build(fake_sources, out)
    before = out.read_bytes()

    def boom(spec, ctx):
        if spec.label == "sub":
            raise ValueError("disk on fire")
        return FAKE[spec.label]()
    monkeypatch.setattr(B, "_load", boom)
    with pytest.raises(InputError, match="disk on fire"):
        _build(fake_sources, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("where", ["load", "validate"])
def test_interrupt_leaves_previous_warehouse(fake_sources, tmp_path, monkeypatch, where):
    out = tmp_path / "w.duckdb"
    _build(fake_sources, out)
    before = out.read_bytes()

    def kill(*a, **k):
        raise KeyboardInterrupt
    if where == "load":
        monkeypatch.setattr(B, "_load", kill)
    else:
        monkeypatch.setattr("weefsel.warehouse.validate.run_validation", kill)
    with pytest.raises(KeyboardInterrupt):
        _build(fake_sources, out)
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_unknown_region_is_a_clear_error(fake_sources, tmp_path):
    out = tmp_path / "w.duckdb"
    with pytest.raises(RegionError, match="atlantis"):
        _build(fake_sources, out, region="atlantis")
    assert not out.exists()


def test_missing_data_dir(tmp_path):
    with pytest.raises(WeefselError, match="does not exist"):
        B.build("flevoland", tmp_path / "nope", tmp_path / "w.duckdb", progress=False)


def test_gemeente_filter_selects_all_levels():
    f = gemeente_filter(["GM0034", "GM0995"])
    assert f == "substring(WijkenEnBuurten,2,4) eq '0034' or substring(WijkenEnBuurten,2,4) eq '0995'"
    assert gemeente_filter([]) is None


class FakeOData:
    def __init__(self):
        self.calls = []

    def load_table(self, table_id, filter=None):
        self.calls.append((table_id, filter))
        if table_id != "85984NED":
            return SourceFrames(source=table_id)
        f = national_frames()
        f.observations["source"] = table_id
        return f


class FakePdok:
    def __init__(self):
        self.calls = []

    def fetch(self, level, year):
        self.calls.append((level, year))
        geo = boundary_frames().areas
        return SourceFrames(source=f"pdok:{level}", areas=geo[geo.level == level], rows_read=2)


class FakeOverpass:
    def __init__(self, fail=False):
        self.bbox, self.fail = None, fail

    def fetch(self, bbox):
        from weefsel.errors import WeefselError
        if self.fail:
            raise WeefselError("overpass-api.de: Overpass still busy after 4 attempts")
        self.bbox = bbox
        fac = pd.DataFrame({"facility_id": ["osm:node/1"], "type": ["library"],
                            "source": ["osm"], "source_id": ["node/1"], "x_rd": [5.0],
                            "y_rd": [5.0], "area_code": [None]})
        return SourceFrames(source="overpass", facilities=fac, rows_read=1)


def _assign(fac, areas):
    fac = fac.copy()
    fac["area_code"] = "GM0034"
    return fac


@pytest.mark.parametrize("overpass_fails", [False, True])
def test_online_path_uses_mocked_clients(monkeypatch, tmp_path, overpass_fails):
    """--online without a data folder: region resolved on PDOK polygons, CBS tables fetched
    with a $filter on the region's gemeenten, facilities from Overpass for its bbox."""
    monkeypatch.setattr(B, "_resolve", fake_resolve)
    monkeypatch.setattr("weefsel.sources.boundaries.provincie_of_gemeenten", fake_provincie_of)
    monkeypatch.setattr("weefsel.sources.osm.assign_areas", _assign)
    odata, pdok, over = FakeOData(), FakePdok(), FakeOverpass(fail=overpass_fails)
    out = tmp_path / "w.duckdb"
    rep = B.build("flevoland", None, out, online=True, progress=False, odata_client=odata,
                  pdok_client=pdok, overpass_client=over)
    ids = dict(odata.calls)
    assert {"84799NED", "85039NED", "85318NED", "85618NED", "85984NED", "86165NED",
            "50090NED", "85900NED", "85146NED"} <= set(ids)
    assert ids["85984NED"] == "substring(WijkenEnBuurten,2,4) eq '0034'"
    assert ids["85146NED"] is None
    assert pdok.calls.count(("gemeente", 2024)) == 1          # cached between steps
    assert rep.gemeenten == ["GM0034"]
    with Warehouse(out) as w:
        assert w.build_info()["online"] == "true"
        assert w.areas("gemeente").code.tolist() == ["GM0034"]
        v = w.sql("SELECT * FROM validation WHERE check_name = 'rejection_reason'")
        if overpass_fails:
            assert len(w.facilities()) == 0
            assert v.message.str.contains("Overpass not reachable").any()
        else:
            assert w.facilities().facility_id.tolist() == ["osm:node/1"]
            s, west, n, e = over.bbox
            assert 40 < s < n < 60 and 0 < west < e < 10   # WGS84 lat/lon of the RD box


def test_discover_real_folder(data_dir):
    specs = discover(data_dir)
    kinds = {s.path.name: s.kind for s in specs}
    assert kinds["kwb_2024_85984NED_regions.csv"] == "region_list"
    assert kinds["gezondheid_wijk_buurt_50090NED_flevoland.csv"] == "health"
    assert kinds["veiligheidsmonitor_85146NED_2021_2023.csv"] == "vm"
    assert kinds["wijk_2024_gegeneraliseerd.geojson"] == "boundaries"
    assert kinds["osm_amenity_nodes_amsterdam_noord_2019_sample.geojson"] == "osm"
    names = [s.path.name for s in specs]
    # national before the regional subset of the same kind
    assert names.index("gezondheid_wijk_buurt_50090NED_2012_2016_2020_national.csv") < \
        names.index("gezondheid_wijk_buurt_50090NED_flevoland.csv")
    assert names.index("kwb_2024_85984NED_partial_first10000rows.csv") < \
        names.index("kwb_2024_85984NED_flevoland.csv")
    kwb = next(s for s in specs if s.path.name.endswith("partial_first10000rows.csv"))
    assert kwb.kwargs["dataproperties"].name == "kwb_2024_85984NED_DataProperties.csv"
    assert sniff_csv(data_dir / "ses" / "ses_woa_85900NED_2014_2022_almere.csv") == "ses"


# --------------------------------------------------------------------------- real data

FLEVOLAND = {"GM0034": "Almere", "GM0995": "Lelystad", "GM0303": "Dronten",
             "GM0050": "Zeewolde", "GM0171": "Noordoostpolder", "GM0184": "Urk"}


def test_flevoland_has_six_gemeenten_and_almere_levels(flevoland_warehouse):
    with Warehouse(flevoland_warehouse) as w:
        gm = w.areas("gemeente")
        assert dict(zip(gm.code, gm.name)) == FLEVOLAND
        assert set(gm.provincie_code) == {"PV24"}
        assert gm.set_index("code").loc["GM0034"].name == "GM0034"
        cur = w.sql("SELECT level, count(*) n FROM areas WHERE gemeente_code = 'GM0034' "
                    "AND vintage = 2024 GROUP BY level")
        n = dict(zip(cur.level, cur.n))
        assert n["wijk"] == 71 and n["buurt"] == 238
        assert w.sql("SELECT count(*) n FROM areas WHERE level='wijk' AND geom_rd IS NULL"
                     ).n[0] == 0
        assert set(w.areas("land").code) == {"NL00"}
        assert "PV24" in set(w.areas("provincie").code)
        # nothing from outside the region except land, province and named regions
        other = w.sql("SELECT count(*) n FROM areas WHERE gemeente_code IS NOT NULL AND "
                      "gemeente_code NOT IN (SELECT unnest(?))", [list(FLEVOLAND)])
        assert other.n[0] == 0
        info = w.build_info()
        assert info["region"] == "flevoland" and info["gemeenten"].count("GM") == 6


def test_flevoland_population_sums(flevoland_warehouse):
    """Population (KWB 2024): Almere's buurten add up to the gemeente within KWB rounding,
    and every gemeente has a population at gemeente level."""
    with Warehouse(flevoland_warehouse) as w:
        pop = w.sql("""SELECT a.level, a.gemeente_code gm, sum(o.value) v FROM observations o
                       JOIN areas a ON a.code = o.area_code
                       WHERE o.variable = 'AantalInwoners' AND o.period = '2024'
                       GROUP BY ALL""")
    p = pop.set_index(["level", "gm"]).v
    assert set(p["gemeente"].index) == set(FLEVOLAND)
    for gm in FLEVOLAND:
        assert p[("buurt", gm)] == pytest.approx(p[("gemeente", gm)], rel=0.02)
        assert p[("wijk", gm)] == pytest.approx(p[("gemeente", gm)], rel=0.02)
    assert 200_000 < p[("gemeente", "GM0034")] < 250_000  # Almere 1 Jan 2024: 226,500


def test_flevoland_validation_report(flevoland_warehouse):
    with Warehouse(flevoland_warehouse) as w:
        v = w.sql("SELECT * FROM validation")
    gp = v[v.check_name == "gemeente_present"]
    assert set(gp.area_code) == set(FLEVOLAND)
    assert (gp.severity != "error").all()
    for name in FLEVOLAND.values():
        assert gp.message.str.contains(name).any()
    # which levels each source holds, per gemeente
    almere = gp[gp.area_code == "GM0034"].message.iloc[0]
    assert "85984NED: gemeente+wijk+buurt" in almere and "50090NED" in almere
    src = v[v.check_name == "source_rows"]
    assert src.source.str.contains("gezondheid").any()
    # the subset files only repeat the national ones: their values are counted as duplicates
    dup = v[v.check_name == "duplicates"]
    assert dup.source.str.contains("flevoland").any()
    assert {"sum_consistency", "rate_consistency", "coverage", "source_levels"} <= set(
        v.check_name)


@pytest.mark.slow
def test_national_build(data_dir, tmp_path):
    """The whole country from ../shared/data (runs in every test run: about half a minute,
    see bench/build.py; deselect with ``-m 'not slow'``)."""
    rep = B.build("nl", data_dir, tmp_path / "nl.duckdb", progress=False)
    assert rep.level_counts["gemeente"] >= 342 and rep.level_counts["wijk"] >= 3393
    v = rep.validation
    assert not (v[v.check_name == "gemeente_present"].severity == "error").any()


def test_stale_wal_of_old_file_is_not_replayed(fake_sources, tmp_path):
    out = tmp_path / "w.duckdb"
    _build(fake_sources, out)
    Path(str(out) + ".wal").write_bytes(b"garbage from a crashed writer of the old file")
    _build(fake_sources, out)
    assert not Path(str(out) + ".wal").exists()
    with Warehouse(out) as w:
        assert w.build_info()["region"] == "flevoland"


def test_out_is_a_folder(fake_sources, tmp_path):
    with pytest.raises(WeefselError, match="is a folder"):
        _build(fake_sources, tmp_path)


def test_discover_by_name_and_content(tmp_path):
    (tmp_path / "kwb").mkdir()
    (tmp_path / "kwb" / "kwb-2023.xlsx").write_bytes(b"PK")
    (tmp_path / "kwb" / "kerncijfers.csv").write_text(
        "ID,WijkenEnBuurten,Codering_3,AantalInwoners_5\n1,GM0034,GM0034,10\n")
    (tmp_path / "kwb" / "85984NED_DataProperties.csv").write_text("Key,Title,Unit\n")
    (tmp_path / "renamed.csv").write_text("ID,Marges,RegioS,Perioden\n")
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    (tmp_path / "gemeenten.topojson").write_text("{}")
    (tmp_path / "facilities").mkdir()
    (tmp_path / "facilities" / "almere.osm.pbf").write_bytes(b"\x00")
    (tmp_path / "participation").mkdir()
    (tmp_path / "participation" / "x.csv").write_text("ID,Marges,RegioS\n")
    specs = {s.path.name: s for s in discover(tmp_path)}
    assert {k: v.kind for k, v in specs.items()} == {
        "kwb-2023.xlsx": "kwb_xlsx", "kerncijfers.csv": "kwb_csv", "renamed.csv": "vm",
        "gemeenten.topojson": "boundaries", "almere.osm.pbf": "osm"}
    assert specs["kwb-2023.xlsx"].kwargs["year"] == 2023
    assert specs["kerncijfers.csv"].kwargs["dataproperties"].name == "85984NED_DataProperties.csv"
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(WeefselError, match="no file weefsel recognises"):
        discover(empty_dir)


def test_orphaned_tmp_of_a_killed_build_is_removed(fake_sources, tmp_path):
    out = tmp_path / "w.duckdb"
    orphan = tmp_path / "w.duckdb.tmp-3999999"        # no such process
    orphan.write_bytes(b"half a warehouse from a SIGKILLed build")
    _build(fake_sources, out)
    assert not orphan.exists() and out.exists()
