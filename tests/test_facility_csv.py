"""Facility lists from CSV: real school and GP files, placement precision, column mapping,
and one clear line per bad row (file, line, field) while the good rows go on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weefsel.errors import InputError
from weefsel.sources.facility_csv import load_facility_csv, type_from_name
from weefsel.sources.postcode import PostcodeIndex, load_postcode_index
from weefsel.sources.typology import load_typology
from weefsel.warehouse.discover import discover, sniff_csv

SCHOOLS = "facilities/scholen_po_so_2018_national.csv"
GPS = "facilities/huisartsenpraktijken_noord_holland_almere_lelystad_2026.csv"
PC4 = "postcode/pc4_centroid_geonames_2024.csv"


@pytest.fixture(scope="module")
def pc4(data_dir) -> PostcodeIndex:
    return load_postcode_index([data_dir / PC4])


# ------------------------------------------------------------------ real files

def test_real_school_list_every_row_placed_exactly(data_dir, pc4):
    frames = load_facility_csv(data_dir / SCHOOLS, postcodes=pc4)
    fac = frames.facilities
    assert frames.rows_read == 7259
    assert len(fac) == 7259                       # nothing lost
    assert set(fac["type"]) == {"school"}
    assert set(fac["placement"]) == {"exact"}
    assert fac["facility_id"].is_unique
    # DUO's brin6 repeats for vestiging 000 and 100: the id is BRIN + vestiging, so no clash
    assert not frames.rejections
    assert fac["facility_id"].str.startswith("csv:scholen_po_so_2018_national:").all()
    tags = json.loads(fac.iloc[0]["tags"])
    assert tags["placement"] == "exact" and "soort" in tags
    # all points in the RD extent of the Netherlands
    assert fac["x_rd"].between(-7000, 300000).all() and fac["y_rd"].between(289000, 629000).all()


def test_real_gp_list_typed_from_its_name(data_dir, pc4):
    frames = load_facility_csv(data_dir / GPS, postcodes=pc4)
    fac = frames.facilities
    assert len(fac) == 693 and set(fac["type"]) == {"gp_practice"}
    assert set(fac["placement"]) == {"exact"}
    assert frames.provenance[0]["rows_read"] == 693


def test_pc4_placement_is_within_a_kilometre_of_the_address(data_dir, pc4):
    """Placing each school on its PC4 centroid instead of its address: the README measured a
    median of 422 m from a school to its own PC4 centroid; we must reproduce that order."""
    schools = pd.read_csv(data_dir / SCHOOLS, dtype=str)
    stripped = schools.drop(columns=["lat", "lon"])
    exact = load_facility_csv(data_dir / SCHOOLS, postcodes=pc4).facilities.set_index("source_id")
    tmp = Path(pytest.importorskip("tempfile").mkdtemp()) / "scholen_zonder_coordinaten.csv"
    stripped.to_csv(tmp, index=False)
    frames = load_facility_csv(tmp, postcodes=pc4)
    placed = frames.facilities.set_index("source_id")
    assert set(placed["placement"]) == {"pc4"}
    assert len(placed) >= 0.99 * len(schools)      # a few PC4 of 2018 are gone from the 2024 table
    both = placed.merge(exact, left_index=True, right_index=True, suffixes=("", "_exact"))
    d = np.hypot(both["x_rd"] - both["x_rd_exact"], both["y_rd"] - both["y_rd_exact"])
    assert 250 < float(np.median(d)) < 700
    for r in frames.rejections:                     # every missing one is named
        assert r.reason.startswith("scholen_zonder_coordinaten.csv, regel ")
        assert "postcode" in r.reason.split(":", 1)[1]


def test_discovery_recognises_lists_and_postcodes(data_dir):
    assert sniff_csv(data_dir / SCHOOLS) == "facility_csv"
    assert sniff_csv(data_dir / GPS) == "facility_csv"
    assert sniff_csv(data_dir / PC4) == "postcode"
    specs = {s.path.name: s for s in discover(data_dir) if s.path is not None}
    assert specs[Path(SCHOOLS).name].kwargs["postcodes"] == [data_dir / PC4]
    kinds = [s.kind for s in discover(data_dir)]
    assert kinds.index("postcode") < kinds.index("facility_csv")   # centroids first


# ------------------------------------------------------------------ bad rows and mapping

def _index() -> PostcodeIndex:
    idx = PostcodeIndex()
    idx.pc4["1315"] = [("almere", 142000.0, 486000.0)]
    idx.pc4["8224"] = [("lelystad", 161000.0, 503000.0)]
    idx.pc4["1000"] = [("amsterdam", 121000.0, 487000.0), ("weesp", 130000.0, 481000.0)]
    return idx


BAD = """id,naam,type,lat,lon,postcode,plaats,capaciteit
a,Goed,buurthuis,52.37,5.22,,,2
b,Verwisseld,buurthuis,5.22,52.37,,,
c,RD in graden,bibliotheek,487000,142000,,,
d,Alleen postcode,buurthuis,,,1315 AB,Almere,
e,Niets,buurthuis,,,,,
f,Rare soort,zwembadje,52.37,5.22,,,
g,Onbekende postcode,buurthuis,,,9999ZZ,,
h,Verwisseld met postcode,huisartsenpraktijk,5.4,52.5,8224BS,Lelystad,
a,Goed,buurthuis,52.37,5.22,,,2
i,Negatief,school,52.37,5.22,,,-3
j,Geen postcode,buurthuis,,,12AB,,
k,Weesp,buurthuis,,,1000,Weesp,
"""


def test_bad_rows_one_line_each_good_rows_kept(tmp_path):
    path = tmp_path / "lijst.csv"
    path.write_text(BAD, encoding="utf-8")
    frames = load_facility_csv(path, postcodes=_index())
    fac = frames.facilities.set_index("source_id")
    assert sorted(fac.index) == ["a", "d", "h", "i", "k"]
    assert fac.loc["a", "placement"] == "exact" and fac.loc["a", "capacity"] == 2
    assert fac.loc["d", "placement"] == "pc4"      # a PC6 without PC6 table: its PC4
    assert (fac.loc["d", "x_rd"], fac.loc["d", "y_rd"]) == (142000.0, 486000.0)
    assert fac.loc["h", "placement"] == "pc4"      # bad coordinates, placed on its postcode
    assert fac.loc["h", "type"] == "gp_practice"   # Dutch label -> typology key
    assert fac.loc["k", "x_rd"] == 130000.0        # the PC4 row of its own place (Weesp)
    assert fac.loc["i", "capacity"] == 1.0
    lines = {r.where: r.reason for r in frames.rejections}
    assert all(r.startswith("lijst.csv, regel ") for r in lines.values())
    assert "verwisseld" in lines["regel 3, veld lat/lon"]
    assert "RD-meters" in lines["regel 4, veld lat/lon"]
    assert "geen coördinaten en geen postcode" in lines["regel 6"]
    assert "'zwembadje'" in lines["regel 7, veld type"]
    assert "9999ZZ staat niet in de postcodetabel" in lines["regel 8, veld postcode"]
    assert "geplaatst op het midden van postcode 8224 (pc4)" in lines["regel 9, veld lat/lon"]
    assert "herhaalt een eerdere rij" in lines["regel 10, veld id"]
    assert "capaciteit" in lines["regel 11, veld capaciteit"]
    assert "geen postcode" in lines["regel 12, veld postcode"]
    assert len(frames.rejections) == 9


def test_mapping_file_beside_the_csv(tmp_path):
    (tmp_path / "locaties.csv").write_text(
        "nr;omschrijving;soort;xc;yc\n1;Het Baken;BH;142100;486100\n2;Bieb;BIEB;142200;486200\n"
        "3;Zwembad;ZB;142300;486300\n4;Fout;BH;486000;142000\n", encoding="utf-8")
    (tmp_path / "locaties.yaml").write_text(
        "type_column: soort\ntype_values: {BH: community_centre, BIEB: bibliotheek}\n"
        "columns: {id: nr, name: omschrijving, x: xc, y: yc}\nsource: gemeente-almere\n"
        "publisher: Gemeente Almere\nlicence: CC0\n", encoding="utf-8")
    frames = load_facility_csv(tmp_path / "locaties.csv")
    fac = frames.facilities.set_index("source_id")
    assert list(fac.index) == ["1", "2"]
    assert list(fac["type"]) == ["community_centre", "library"]
    assert fac.loc["1", "facility_id"] == "gemeente_almere:1"
    assert set(fac["placement"]) == {"exact"}
    assert frames.provenance[0]["publisher"] == "Gemeente Almere"
    reasons = [r.reason for r in frames.rejections]
    assert any("regel 4" in r and "'ZB'" in r for r in reasons)
    assert any("regel 5, veld xc/yc" in r and "verwisseld" in r for r in reasons)


def test_wgs84_mapping_and_fixed_type(tmp_path):
    (tmp_path / "x.csv").write_text("code,titel,breedte,lengte\nA1,Speeltuin,52.37,5.22\n",
                                    encoding="utf-8")
    frames = load_facility_csv(tmp_path / "x.csv", mapping={
        "type": "playground", "columns": {"lat": "breedte", "lon": "lengte"}})
    row = frames.facilities.iloc[0]
    assert row["type"] == "playground" and row["name"] == "Speeltuin"
    assert 140000 < row["x_rd"] < 145000 and 484000 < row["y_rd"] < 490000


@pytest.mark.parametrize("content, mapping, message", [
    ("naam,lat,lon\nA,52.3,5.2\n", None, "onbekend soort voorziening"),
    ("naam,type\nA,school\n", None, "geen kolommen om te plaatsen"),
    ("naam,lat,lon\nA,52.3,5.2\n", {"type": "zwembad"}, "staat niet in de typologie"),
    ("naam,lat,lon\nA,52.3,5.2\n", {"type": "school", "columns": {"lat": "breed"}},
     "kolom 'breed'"),
])
def test_file_level_problems_are_one_clear_error(tmp_path, content, mapping, message):
    path = tmp_path / "onbekend.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_facility_csv(path, mapping=mapping)
    assert message in str(err.value)
    assert "onbekend.csv" in str(err.value)


def test_dutch_excel_csv(tmp_path):
    """Excel's 'CSV (gescheiden door lijstscheidingsteken)': ';', decimal comma, Windows-1252."""
    path = tmp_path / "buurthuizen.csv"
    path.write_bytes("naam;lat;lon\nCaf\u00e9 De Ontmoeting;52,3705;5,2155\n".encode("cp1252"))
    fac = load_facility_csv(path).facilities
    assert fac.iloc[0]["name"] == "Caf\u00e9 De Ontmoeting"
    assert fac.iloc[0]["type"] == "community_centre" and fac.iloc[0]["placement"] == "exact"
    assert 140000 < fac.iloc[0]["x_rd"] < 145000


def test_empty_list_is_one_line(tmp_path):
    path = tmp_path / "scholen.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="kan de CSV niet lezen"):
        load_facility_csv(path)
    path.write_text("naam,lat,lon\n", encoding="utf-8")
    assert load_facility_csv(path).facilities.empty


def test_unknown_mapping_key_is_named(tmp_path):
    (tmp_path / "a.csv").write_text("naam,lat,lon\nA,52.3,5.2\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("typ: school\n", encoding="utf-8")
    with pytest.raises(InputError, match="onbekende sleutel"):
        load_facility_csv(tmp_path / "a.csv")


def test_type_from_file_name():
    t = load_typology()
    assert type_from_name(Path("huisartsenpraktijken_noord_holland.csv"), t) == "gp_practice"
    assert type_from_name(Path("scholen_po_so_2018_national.csv"), t) == "school"
    assert type_from_name(Path("buurthuizen-almere.csv"), t) == "community_centre"
    assert type_from_name(Path("parkeerplaatsen.csv"), t) is None
    assert type_from_name(Path("scholen_en_bibliotheken.csv"), t) is None   # two types: ask


# ------------------------------------------------------------------ through the build

@pytest.mark.parametrize("how", ["in the data folder", "--facilities"])
def test_build_reports_bad_rows_and_keeps_good_ones(tmp_path, data_dir, how):
    """A gemeente's own list, in the data folder or given with --facilities: placed, typed,
    counted in the access stage; each bad row is a line of the validation report; the build
    does not stop."""
    folder = tmp_path / "data"
    (folder / "boundaries").mkdir(parents=True)
    (folder / "postcode").mkdir()
    (folder / "facilities").mkdir()
    for name in ("wijk_2024_gegeneraliseerd_flevoland.geojson",):
        (folder / "boundaries" / name).symlink_to(data_dir / "boundaries" / name)
    (folder / "kwb").mkdir()
    for name in ("kwb_2024_85984NED_flevoland.csv", "kwb_2024_85984NED_DataProperties.csv"):
        (folder / "kwb" / name).symlink_to(data_dir / "kwb" / name)
    (folder / "postcode" / "pc4.csv").symlink_to(data_dir / PC4)
    own = (folder / "facilities" if how == "in the data folder" else tmp_path) / \
        "buurthuizen_almere.csv"
    own.write_text(
        "id,naam,lat,lon,postcode,plaats\n1,De Schakel,52.3705,5.2155,,\n"
        "2,Het Anker,,,1324,Almere\n3,Kapot,5.2,52.37,,\n4,Leeg,,,,\n", encoding="utf-8")
    out = tmp_path / "w.duckdb"
    extra = ["--facilities", str(own)] if how == "--facilities" else []
    proc = subprocess.run([sys.executable, "-m", "weefsel", "build", "--region", "almere",
                           "--data", str(folder), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    import duckdb
    con = duckdb.connect(str(out), read_only=True)
    fac = con.execute("SELECT source_id, placement, area_code FROM facilities "
                      "ORDER BY source_id").fetchall()
    assert [(f[0], f[1]) for f in fac] == [("1", "exact"), ("2", "pc4")]
    assert all(f[2] and f[2].startswith("WK0034") for f in fac)
    msgs = [r[0] for r in con.execute(
        "SELECT message FROM validation WHERE check_name = 'rejection_reason' "
        "AND source = 'buurthuizen_almere.csv'").fetchall()]
    assert any(m.startswith("buurthuizen_almere.csv, regel 4, veld lat/lon") for m in msgs)
    assert any(m.startswith("buurthuizen_almere.csv, regel 5: geen coördinaten") for m in msgs)
    n = con.execute("SELECT count(*) FROM access_results WHERE facility_type = "
                    "'community_centre' AND measure = 'nearest_distance'").fetchone()[0]
    assert n > 0     # the build's automatic access step used them
    con.close()


def test_facilities_option_needs_a_csv(tmp_path, data_dir):
    proc = subprocess.run([sys.executable, "-m", "weefsel", "build", "--region", "almere",
                           "--data", str(data_dir), "--out", str(tmp_path / "w.duckdb"),
                           "--facilities", str(tmp_path / "bestaat_niet.csv")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "bestaat_niet.csv: file not found" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
