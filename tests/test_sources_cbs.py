"""KWB loaders (85984NED dumps, extracts, region list, kwb-20xx.xlsx) and the shared helpers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from weefsel.errors import InputError
from weefsel.sources.cbs_common import normalise_codes, parse_numbers, slug, stem_of
from weefsel.sources.kwb import (
    XLSX_TO_KEY,
    load_buurt_population,
    load_kwb_basic,
    load_kwb_csv,
    load_kwb_xlsx,
    load_region_list,
)

KWB = "kwb/kwb_2024_85984NED_flevoland.csv"
PARTIAL = "kwb/kwb_2024_85984NED_partial_first10000rows.csv"
DP = "kwb/kwb_2024_85984NED_DataProperties.csv"


@pytest.fixture(scope="module")
def flevo(data_dir):
    return load_kwb_csv(data_dir / KWB, dataproperties=data_dir / DP)


# ----------------------------------------------------------------------------- helpers

@given(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,20}", fullmatch=True), st.integers(1, 999))
def test_stem_drops_only_the_position_suffix(stem, pos):
    assert stem_of(f"{stem}_{pos}") == stem
    assert stem_of(f"k_{stem}_{pos}") == f"k_{stem}"


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).filter(
    lambda x: not -99999999.5 < x < -99999994.5), min_size=1, max_size=20))  # sentinels are missing
def test_parse_numbers_round_trips_dot_and_comma(xs):
    dot, bad = parse_numbers(pd.Series([repr(x) for x in xs]))
    assert not bad.any() and list(dot) == xs
    comma, _ = parse_numbers(pd.Series([f"{x:.3f}".replace(".", ",") for x in xs]), decimal_comma=True)
    assert list(comma) == [float(f"{x:.3f}") for x in xs]


def test_slug_and_codes():
    assert slug("Geboren in Nederland") == "GeborenInNederland"
    assert slug("Fryslân") == "Fryslan"
    assert list(normalise_codes(pd.Series(["GM0034    ", " NL01", "BU0363AA01"]))) == \
        ["GM0034", "NL00", "BU0363AA01"]


def test_missing_tokens_and_bad_cells():
    num, bad = parse_numbers(pd.Series(["1.5", ".", "", "-99999999", "-99999997", "abc", " 7 "]))
    assert num.iloc[0] == 1.5 and num.iloc[6] == 7
    assert num.iloc[1:6].isna().all()
    assert list(bad) == [False, False, False, False, False, True, False]
    num, _ = parse_numbers(pd.Series(["1,0", "2.345,5"]), decimal_comma=True)
    assert list(num) == [1.0, 2345.5]


# ----------------------------------------------------------------------------- real files

def test_almere_population_matches_the_file_row(data_dir, flevo):
    raw = pd.read_csv(data_dir / KWB, dtype=str)
    published = float(raw.loc[raw["Codering_3"] == "GM0034", "AantalInwoners_5"].iloc[0])
    obs = flevo.observations
    got = obs[(obs.area_code == "GM0034") & (obs.variable == "AantalInwoners") & (obs.period == "2024")]
    assert got["value"].tolist() == [published] == [226500.0]


def test_almere_has_238_buurten_and_71_wijken(flevo):
    a = flevo.areas[flevo.areas.gemeente_code == "GM0034"]
    assert (a.level == "buurt").sum() == 238
    assert (a.level == "wijk").sum() == 71
    bu = flevo.areas.set_index("code").loc["BU00340101"]
    assert (bu.wijk_code, bu.gemeente_code, bu["name"]) == ("WK003401", "GM0034", "Centrum Haven Noord")


def test_dataproperties_map_all_130_columns(data_dir, flevo):
    header = pd.read_csv(data_dir / KWB, nrows=0).columns
    dp = pd.read_csv(data_dir / DP, dtype=str)
    keys = set(dp["Key"].dropna())
    assert len(header) == 130
    assert set(header) - keys == {"ID"}  # every other column is a DataProperties key
    # 128 topics: 4 identity + 1 String (postcode) + 123 numeric variables
    assert len(flevo.variables) == 123
    assert flevo.variables["variable"].is_unique


def test_repeated_stems_are_disambiguated_by_topic(flevo):
    v = flevo.variables.set_index("variable")
    for key in ("Nederland_Herkomstland", "Nederland_GeborenInNederland",
                "EuropaExclusiefNederland_GeborenBuitenNederland",
                "Appartement_GemiddeldeElektriciteitslevering", "Appartement_GemiddeldAardgasverbruik",
                "Huurwoning_GemiddeldAardgasverbruik"):
        assert key in v.index
    assert v.loc["Appartement_GemiddeldAardgasverbruik", "unit"] == "m³"
    assert v.loc["AantalInwoners", "unit"] == "aantal"
    assert v.loc["GemiddeldInkomenPerInwoner", "unit"] == "x 1 000 euro"


def test_dataproperties_are_found_next_to_the_dump(data_dir):
    frames = load_kwb_csv(data_dir / KWB)
    assert "Nederland_Herkomstland" in set(frames.variables.variable)


def test_partial_national_file(data_dir):
    frames = load_kwb_csv(data_dir / PARTIAL)
    assert frames.rows_read == 10000 and frames.rejections == []
    assert len(frames.areas) == 10000
    assert frames.areas.set_index("code").loc["NL00", "level"] == "land"
    prov = frames.provenance[0]
    assert prov["publisher"] == "CBS" and prov["licence"] == "CC BY 4.0" and len(prov["sha256"]) == 64
    assert prov["table_id"] == "85984NED" and prov["rows_rejected"] == 0
    assert set(frames.observations.period) == {"2024"}


def test_raw_semicolon_dump_with_bom_and_padding(tmp_path, data_dir):
    raw = pd.read_csv(data_dir / KWB, dtype=str, keep_default_na=False).head(20)
    for c in ("WijkenEnBuurten", "Codering_3", "SoortRegio_2"):
        raw[c] = raw[c].str.ljust(10)
    p = tmp_path / "85984NED_raw.csv"
    raw.to_csv(p, sep=";", index=False, encoding="utf-8-sig")
    frames = load_kwb_csv(p, dataproperties=data_dir / DP)
    assert frames.areas.code.iloc[0] == "GM0034"
    obs = frames.observations.set_index(["area_code", "variable"])["value"]
    assert obs[("GM0034", "AantalInwoners")] == 226500


def test_basic_and_buurt_extracts(data_dir):
    basic = load_kwb_basic(data_dir / "kwb/kwb_2024_gemeente_wijk_basic_national.csv")
    lv = basic.areas.level.value_counts()
    assert lv["gemeente"] == 342 and lv["wijk"] == 3393
    zeewolde = basic.observations.query("area_code == 'GM0050' and variable == 'AantalInwoners'")
    assert len(zeewolde) == 1 and zeewolde.value.iloc[0] > 20000
    pop = load_buurt_population(data_dir / "kwb/kwb_2024_buurt_population_national.csv")
    assert len(pop.areas) == 14574 and set(pop.areas.level) == {"buurt"}
    assert set(pop.variables.variable) == {"AantalInwoners"}


def test_region_list_is_areas_only(data_dir):
    regions = load_region_list(data_dir / "kwb/kwb_2024_85984NED_regions.csv")
    assert len(regions.areas) == 18310 and regions.observations.empty
    a = regions.areas.set_index("code")
    assert a.loc["GM0034", "name"] == "Almere"
    assert (regions.areas.gemeente_code == "GM0034").sum() == 1 + 71 + 238
    assert a.loc["BU0363AA01", "wijk_code"] == "WK0363AA"


# ----------------------------------------------------------------------------- broken variants

def _head(data_dir, n=12) -> list[str]:
    return (data_dir / KWB).read_text(encoding="utf-8").splitlines()[:n]


def test_truncated_csv_names_the_line(tmp_path, data_dir):
    lines = _head(data_dir)
    lines[-1] = ",".join(lines[-1].split(",")[:40])  # the download stopped mid-line
    p = tmp_path / "trunc.csv"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"trunc\.csv: line 12 has 40 fields instead of 130; the file looks truncated"):
        load_kwb_csv(p, dataproperties=data_dir / DP)


def test_wrong_delimiter_is_named(tmp_path, data_dir):
    p = tmp_path / "tabs.csv"
    p.write_text("\n".join(l.replace(",", "\t") for l in _head(data_dir)) + "\n")
    with pytest.raises(InputError, match="only one column found.*wrong delimiter"):
        load_kwb_csv(p, dataproperties=data_dir / DP)


def test_health_file_is_not_a_kwb_table(data_dir):
    with pytest.raises(InputError, match="not KWB table 85984NED"):
        load_kwb_csv(data_dir / "health/gezondheid_wijk_buurt_50090NED_flevoland.csv",
                     dataproperties=data_dir / DP)


def test_unknown_column_against_dataproperties(tmp_path, data_dir):
    lines = _head(data_dir)
    lines[0] = lines[0].replace("AantalInwoners_5", "AantalBewoners_5")
    p = tmp_path / "renamed.csv"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="AantalBewoners_5 are not in the DataProperties"):
        load_kwb_csv(p, dataproperties=data_dir / DP)


def test_missing_required_column(tmp_path, data_dir):
    df = pd.read_csv(data_dir / KWB, dtype=str, keep_default_na=False).head(5).drop(columns="WijkenEnBuurten")
    p = tmp_path / "nowb.csv"
    df.to_csv(p, index=False)
    with pytest.raises(InputError, match="missing column 'WijkenEnBuurten'"):
        load_kwb_csv(p, dataproperties=data_dir / DP)


def test_duplicated_area_code_conflict_is_an_error(tmp_path, data_dir):
    df = pd.read_csv(data_dir / KWB, dtype=str, keep_default_na=False).head(5)
    dup = df.iloc[[1]].copy()
    dup["AantalInwoners_5"] = "1"
    p = tmp_path / "dup.csv"
    pd.concat([df, dup]).to_csv(p, index=False)
    with pytest.raises(InputError, match="duplicated area code WK003401 with different values"):
        load_kwb_csv(p, dataproperties=data_dir / DP)


def test_identical_duplicate_and_bad_cells_become_rejections(tmp_path, data_dir):
    df = pd.read_csv(data_dir / KWB, dtype=str, keep_default_na=False).head(5)
    df.loc[2, "Mannen_6"] = "veel"
    df.loc[3, "Codering_3"] = "XX123"
    p = tmp_path / "bad.csv"
    pd.concat([df, df.iloc[[1]]]).to_csv(p, index=False)
    frames = load_kwb_csv(p, dataproperties=data_dir / DP)
    reasons = {r.where: r.reason for r in frames.rejections}
    assert reasons["line 4, column Mannen_6"] == "not a number: 'veel'"
    assert "unknown region code pattern 'XX123'" in reasons["line 5"]
    assert "duplicate of an earlier row" in reasons["line 7"]
    assert frames.provenance[0]["rows_rejected"] == 3
    assert "XX123" not in set(frames.areas.code)


# ----------------------------------------------------------------------------- xlsx

def _write_xlsx(path: Path, rows: list[dict]) -> None:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "KWB2024"
    cols = list(rows[0])
    ws.append(cols)
    for r in rows:
        ws.append([r[c] for c in cols])
    wb.save(path)


XLSX_ROWS = [
    {"gwb_code_10": "GM0034", "gwb_code_8": "34", "regio": "Almere", "gm_naam": "Almere", "recs": "Gemeente",
     "gwb_code": "GM0034", "a_inw": 226500, "a_man": 112303, "a_vrouw": 114197, "a_65_oo": 28180,
     "a_nl_all": 114731, "a_geb_nl": 114731, "g_afs_hp": -99999999, "g_ele_app": 1870, "x_nieuw": 3},
    {"gwb_code_10": "WK003401", "gwb_code_8": "3401", "regio": "Centrum Almere Haven", "gm_naam": "Almere",
     "recs": "Wijk", "gwb_code": "WK003401", "a_inw": 1765, "a_man": 860, "a_vrouw": 905, "a_65_oo": 390,
     "a_nl_all": 1020, "a_geb_nl": 1020, "g_afs_hp": 0.4, "g_ele_app": -99999997, "x_nieuw": 1},
    {"gwb_code_10": "BU00340101", "gwb_code_8": "340101", "regio": "Centrum Haven Noord", "gm_naam": "Almere",
     "recs": "Buurt", "gwb_code": "BU00340101", "a_inw": 795, "a_man": ".", "a_vrouw": 400, "a_65_oo": 185,
     "a_nl_all": 310, "a_geb_nl": 315, "g_afs_hp": 0.3, "g_ele_app": 1650, "x_nieuw": 0},
]


def test_xlsx_maps_short_names_onto_the_odata_keys(tmp_path):
    p = tmp_path / "kwb-2024.xlsx"
    _write_xlsx(p, XLSX_ROWS)
    frames = load_kwb_xlsx(p)
    obs = frames.observations.set_index(["area_code", "variable"])["value"]
    assert obs[("GM0034", "AantalInwoners")] == 226500
    assert obs[("BU00340101", "Nederland_Herkomstland")] == 310
    assert obs[("BU00340101", "Nederland_GeborenInNederland")] == 315
    assert obs[("WK003401", "AfstandTotHuisartsenpraktijk")] == pytest.approx(0.4)
    assert ("GM0034", "AfstandTotHuisartsenpraktijk") not in obs.index  # -99999999
    assert ("WK003401", "Appartement_GemiddeldeElektriciteitslevering") not in obs.index  # -99999997
    assert ("BU00340101", "Mannen") not in obs.index  # '.'
    assert set(frames.observations.period) == {"2024"} and frames.source == "85984NED"
    assert any(r.where == "column x_nieuw" for r in frames.rejections)  # unmapped, not guessed
    a = frames.areas.set_index("code")
    assert a.loc["BU00340101", "level"] == "buurt" and a.loc["BU00340101", "name"] == "Centrum Haven Noord"


def test_xlsx_keys_are_the_csv_keys(flevo):
    """Every Excel name maps to a key the OData table also produces (or an older-table stem)."""
    csv_keys = set(flevo.variables.variable)
    older = {"WestersTotaal", "NietWestersTotaal"}
    assert set(XLSX_TO_KEY.values()) - csv_keys <= older


def test_xlsx_bad_inputs(tmp_path):
    p = tmp_path / "kwb-2024.xlsx"
    _write_xlsx(p, [{k: v for k, v in r.items() if k != "recs"} for r in XLSX_ROWS])
    with pytest.raises(InputError, match="gwb_code_10 .* or recs"):
        load_kwb_xlsx(p)
    q = tmp_path / "kwb.xlsx"
    _write_xlsx(q, XLSX_ROWS)
    with pytest.raises(InputError, match="year"):
        load_kwb_xlsx(q)
    assert load_kwb_xlsx(q, year=2023).source == "85618NED"
    r = tmp_path / "kwb-2024.xlsx.csv"
    r.write_text("not excel")
    with pytest.raises(InputError, match="cannot read as Excel"):
        load_kwb_xlsx(r, year=2024)


@pytest.mark.parametrize("loader,wrong", [
    ("kwb", "ses/ses_woa_85900NED_2014_2022_almere.csv"),
    ("kwb", "cohesion/veiligheidsmonitor_85146NED_2021_2023.csv"),
    ("health", KWB),
    ("health", "ses/ses_woa_85900NED_2014_2022_almere.csv"),
    ("ses", KWB),
    ("ses", "health/gezondheid_wijk_buurt_50090NED_flevoland.csv"),
    ("vm", KWB),
    ("nabijheid", KWB),
    ("basic", "kwb/kwb_2024_buurt_population_national.csv"),
    ("regions", KWB),
])
def test_each_loader_refuses_another_table(data_dir, loader, wrong):
    """A table that is not the one it claims to be gives an InputError naming the file."""
    from weefsel.sources.health import load_health_csv
    from weefsel.sources.nabijheid import load_nabijheid_csv
    from weefsel.sources.ses import load_ses_csv
    from weefsel.sources.veiligheidsmonitor import load_vm_csv
    fn = {"kwb": lambda p: load_kwb_csv(p, dataproperties=data_dir / DP), "health": load_health_csv,
          "ses": load_ses_csv, "vm": lambda p: load_vm_csv(p, known_areas=pd.DataFrame(
              {"code": ["GM0034"], "name": ["Almere"]})),
          "nabijheid": load_nabijheid_csv, "basic": load_kwb_basic, "regions": load_region_list}[loader]
    with pytest.raises(InputError) as err:
        fn(data_dir / wrong)
    assert Path(wrong).name in str(err.value)
