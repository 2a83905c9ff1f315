"""Veiligheidsmonitor (85146NED) and Nabijheid (85231NED) loaders."""

from __future__ import annotations

import pandas as pd
import pytest

from weefsel.errors import InputError
from weefsel.sources.kwb import load_region_list
from weefsel.sources.nabijheid import load_nabijheid_csv, variable_keys
from weefsel.sources.veiligheidsmonitor import load_vm_csv

VM = "cohesion/veiligheidsmonitor_85146NED_2021_2023.csv"
NAB = "nabijheid/Nabijheid_voorzieningen__afstand_locatie__wijk__en_buurtcijfers_2021_17012023_183355.csv"


@pytest.fixture(scope="module")
def known(data_dir):
    return load_region_list(data_dir / "kwb/kwb_2024_85984NED_regions.csv").areas


@pytest.fixture(scope="module")
def vm(data_dir, known):
    return load_vm_csv(data_dir / VM, known_areas=known)


def test_vm_region_names_resolve_to_codes(vm):
    a = vm.areas.set_index("code")
    assert a.loc["GM0034", "name"] == "Almere" and a.loc["GM0034", "level"] == "gemeente"
    assert a.loc["GM0995", "level"] == "gemeente"
    assert a.loc["PV24", "level"] == "provincie" and a.loc["PV21", "name"] == "Fryslân"
    assert a.loc["NL00", "level"] == "land"
    assert a.loc["LD02", "level"] == "landsdeel"
    assert a.loc["RG:politiedistrict:Flevoland", "level"] == "politiedistrict"
    assert a.loc["RG:regionale_eenheid:Midden-Nederland", "level"] == "regionale_eenheid"
    assert vm.rejections == [] and vm.rows_read == 1782
    assert (vm.areas.level == "gemeente").sum() == 55


def test_vm_basisteam_members(vm):
    m = vm.members.groupby("region_code")["member_code"].apply(set)
    assert m["RG:basisteam:Dronten / Noordoostpolder / Urk"] == {"GM0303", "GM0171", "GM0184"}
    assert m["RG:basisteam:Lelystad / Zeewolde"] == {"GM0995", "GM0050"}
    assert m["RG:basisteam:Hillegom-Lisse-Teylingen"] == {"GM0534", "GM0553", "GM1525"}
    a = vm.areas.set_index("code")
    for part in ("Almere-Buiten-Hout", "Almere-Stad-Haven", "Almere-West-Poort"):
        code = f"RG:basisteam:{part}"
        assert m[code] == {"GM0034"} and a.loc[code, "gemeente_code"] == "GM0034"  # sub-gemeente
    assert "RG:basisteam:Leidschenveen - Ypenburg" not in m.index  # not a list of gemeenten
    assert m["LD02"] == {"PV23", "PV24", "PV25"}


def test_vm_marges_become_lower_upper(data_dir, vm):
    raw = pd.read_csv(data_dir / VM, dtype=str, keep_default_na=False)
    rows = raw[(raw.RegioS == "Almere (GM)") & (raw.Perioden.str.startswith("2023"))].set_index("Marges")
    o = vm.observations.set_index(["area_code", "period", "variable"]).loc[
        ("GM0034", "2023", "SocialeCohesieSchaalscore")]
    assert o.value == float(rows.loc["Waarde", "SocialeCohesieSchaalscore_15"])
    assert o.lower == float(rows.loc["Betrouwbaarheidsmarge ondergrens", "SocialeCohesieSchaalscore_15"])
    assert o.upper == float(rows.loc["Betrouwbaarheidsmarge bovengrens", "SocialeCohesieSchaalscore_15"])
    assert o.lower <= o.value <= o.upper
    v = vm.variables.set_index("variable")
    assert v.loc["SocialeCohesieSchaalscore", "unit"] == "schaalscore (0-10)"
    assert "Slachtoffers_o2" in v.index  # repeated stems numbered in column order (no DataProperties)


def test_vm_unknown_and_ambiguous_gemeente(tmp_path, data_dir, known):
    raw = pd.read_csv(data_dir / VM, dtype=str, keep_default_na=False)
    sub = raw[raw.RegioS == "Almere (GM)"].copy()
    sub["RegioS"] = "Atlantis (GM)"
    p = tmp_path / "vm.csv"
    sub.to_csv(p, index=False)
    frames = load_vm_csv(p, known_areas=known)
    assert frames.observations.empty
    assert "'Atlantis' not among the known gemeenten" in frames.rejections[0].reason
    twice = pd.concat([known, pd.DataFrame({"code": ["GM9999"], "name": ["Almere"], "level": ["gemeente"]})])
    sub["RegioS"] = "Almere (GM)"
    sub.to_csv(p, index=False)
    with pytest.raises(InputError, match="'Almere'.*more than one code"):
        load_vm_csv(p, known_areas=twice)


def test_vm_bad_marges_and_missing_column(tmp_path, data_dir, known):
    raw = pd.read_csv(data_dir / VM, dtype=str, keep_default_na=False).head(3)
    bad = raw.copy()
    bad.loc[0, "Marges"] = "Schatting"
    p = tmp_path / "m.csv"
    bad.to_csv(p, index=False)
    with pytest.raises(InputError, match="line 2: unknown Marges value 'Schatting'"):
        load_vm_csv(p, known_areas=known)
    raw.drop(columns="RegioS").to_csv(p, index=False)
    with pytest.raises(InputError, match="missing required column.*RegioS"):
        load_vm_csv(p, known_areas=known)


# ----------------------------------------------------------------------------- nabijheid

def test_nabijheid_transposed_export(data_dir):
    frames = load_nabijheid_csv(data_dir / NAB)
    assert set(frames.areas.code) == {"NL00", "GM1680", "WK168000", "BU16800000", "BU16800009",
                                      "WK168001", "BU16800100", "BU16800109"}
    o = frames.observations.set_index(["area_code", "variable"])["value"]
    assert o[("NL00", "AfstandTotHuisartsenpraktijk")] == 1.0  # "1,0" decimal comma
    assert o[("GM1680", "AfstandTotHuisartsenpraktijk")] == 2.5
    assert ("NL00", "AfstandTotHuisartsenpost") not in o.index  # '.'
    assert ("GM1680", "AfstandTotBibliotheek") in o.index
    v = frames.variables.set_index("variable")
    assert v.loc["AfstandTotBibliotheek", "unit"] == "km"
    assert v.loc["AantalHuisartsenpraktijkenBinnen3Km", "unit"] == "aantal"
    assert set(frames.observations.period) == {"2021"} and frames.source == "85231NED"
    assert frames.variables.variable.is_unique and len(frames.variables) == 110


def test_nabijheid_key_rules():
    keys = variable_keys(["A|Ziekenhuis (incl. x)|Afstand tot ziekenhuis",
                          "A|Ziekenhuis (excl. x)|Afstand tot ziekenhuis",
                          "Vrije tijd en cultuur|Afstand tot bibliotheek",
                          "A|Huisarts|Aantal huisartsen|Binnen 1 km"])
    assert keys == ["AfstandTotZiekenhuis_ZiekenhuisInclX", "AfstandTotZiekenhuis_ZiekenhuisExclX",
                    "AfstandTotBibliotheek", "AantalHuisartsenBinnen1Km"]


def test_nabijheid_name_only_exports_are_rejected_not_guessed(data_dir):
    f = data_dir / "nabijheid/Nabijheid_voorzieningen__buurt_2021_10022023_144650.csv"
    frames = load_nabijheid_csv(f)
    assert frames.observations.empty and frames.rows_read == 12 and len(frames.rejections) == 12
    assert "name only" in frames.rejections[0].reason


def test_nabijheid_broken_variants(tmp_path, data_dir):
    text = (data_dir / NAB).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    p = tmp_path / "trunc.csv"
    p.write_text("\ufeff" + "\n".join(lines[:12] + [lines[12].rsplit(";", 3)[0]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 13 has 7 fields, the header has 10"):
        load_nabijheid_csv(p)
    q = tmp_path / "comma.csv"
    q.write_text("\n".join(lines).replace(";", ","), encoding="utf-8")
    with pytest.raises(InputError, match="wrong delimiter"):
        load_nabijheid_csv(q)
