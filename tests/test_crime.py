"""Police-registered crime per buurt and gemeente (47022NED): real year totals, the OData
layout with months and kinds of crime, and the warehouse/catalogue path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from weefsel.sources.crime import INDELING, VARIABLE, is_crime_table, load_crime_csv
from weefsel.warehouse.discover import sniff_csv

CRIME = "safety/misdrijven_47022NED_jaartotalen_2021_2025.csv"
RECORDED = Path(__file__).resolve().parents[2] / "shared" / "recorded"


def test_real_year_totals(data_dir):
    frames = load_crime_csv(data_dir / CRIME)
    obs = frames.observations
    assert frames.rows_read == 74180 and not frames.rejections
    assert len(obs) == 74180
    assert set(obs["variable"]) == {VARIABLE} and set(obs["breakdown"]) == {""}
    assert sorted(obs["period"].unique()) == ["2021", "2022", "2023", "2024", "2025"]
    assert set(frames.areas["level"]) == {"gemeente", "buurt"}
    assert (frames.areas["level"] == "buurt").sum() == 14494
    assert (obs["indeling"] == INDELING).all() and (frames.areas["indeling"] == INDELING).all()
    assert frames.variables.iloc[0]["unit"] == "aantal"
    assert frames.provenance[0]["table_id"] == "47022NED"


def test_real_codes_are_of_the_2024_indeling(data_dir):
    """Why INDELING = 2024: every code in the file is in 85984NED's 2024 code list."""
    codes = set(pd.read_csv(data_dir / "kwb/kwb_2024_85984NED_regions.csv", dtype=str)["Key"]
                .str.strip())
    frames = load_crime_csv(data_dir / CRIME)
    assert set(frames.areas["code"]) <= codes


def test_real_buurten_add_up_to_at_most_their_gemeente(data_dir):
    """Crimes the police could not place in a buurt count only for the gemeente."""
    obs = load_crime_csv(data_dir / CRIME).observations
    bu = obs[obs["area_code"].str.startswith("BU")]
    summed = bu.assign(gm="GM" + bu["area_code"].str[2:6]).groupby(["gm", "period"])["value"].sum()
    gm = obs[obs["area_code"].str.startswith("GM")].set_index(["area_code", "period"])["value"]
    both = pd.concat([summed, gm], axis=1, keys=["buurten", "gemeente"], join="inner")
    assert len(both) > 1600
    assert (both["buurten"] <= both["gemeente"] + 1e-9).all()
    assert (both["buurten"] / both["gemeente"]).median() > 0.99   # almost everything is placed
    almere = gm.loc[("GM0034", "2024")]
    assert 5000 < almere < 15000                              # a city of 226,500 residents


def test_discovery(data_dir):
    assert sniff_csv(data_dir / CRIME) == "crime"


ODATA = """ID,WijkenEnBuurten,Perioden,SoortMisdrijf,GeregistreerdeMisdrijven_1
{rows}"""


def _odata(tmp_path, months_gm: int, extra: str = "") -> Path:
    rows = []
    i = 0
    for m in range(1, 13):
        rows.append(f"{i},BU00340101  ,2024MM{m:02d},0.0.0 ,2"); i += 1
        rows.append(f"{i},BU00340101  ,2024MM{m:02d},1.1.1 ,1"); i += 1
    for m in range(1, months_gm + 1):
        rows.append(f"{i},GM0034    ,2025MM{m:02d},0.0.0 ,10"); i += 1
    path = tmp_path / "47022NED_TypedDataSet.csv"
    path.write_text(ODATA.format(rows="\n".join(rows) + extra), encoding="utf-8")
    return path


def test_odata_months_are_summed_per_year(tmp_path):
    frames = load_crime_csv(_odata(tmp_path, 12))
    obs = frames.observations.set_index(["area_code", "period", "breakdown"])["value"]
    assert obs.loc[("BU00340101", "2024", "")] == 24
    assert obs.loc[("BU00340101", "2024", "soort=1.1.1")] == 12
    assert obs.loc[("GM0034", "2025", "")] == 120
    assert is_crime_table(["ID", "WijkenEnBuurten", "Perioden", "GeregistreerdeMisdrijven_7"])


def test_odata_part_year_is_left_out_and_said(tmp_path):
    frames = load_crime_csv(_odata(tmp_path, 7, extra="\n999,XX12,2024MM01,0.0.0 ,1"
                                                      "\n998,BU00340102,2024JJ00,0.0.0 ,-4"))
    obs = frames.observations
    assert not ((obs["area_code"] == "GM0034") & (obs["period"] == "2025")).any()
    reasons = " | ".join(r.reason for r in frames.rejections)
    assert "2025: only 7 of 12 months" in reasons
    assert "region code 'XX12'" in reasons
    assert "negative count '-4'" in reasons


def test_recorded_online_response():
    """The build reads 47022NED from files only: there is no recording of a 47022NED online
    response (dataderden.cbs.nl) in ../shared/recorded, so the online shape cannot be tested
    against the real server's answer (see ../shared/recorded/README.md)."""
    hits = list(RECORDED.rglob("*47022*")) if RECORDED.is_dir() else []
    if not hits:
        pytest.skip("no recording of a 47022NED online response in ../shared/recorded")
    raise AssertionError(f"a 47022NED recording appeared ({hits[0]}): add a test for it")


def test_in_the_warehouse_and_catalogue(flevoland_warehouse):
    import duckdb

    from weefsel.indicators.catalogue import load_catalogue

    con = duckdb.connect(str(flevoland_warehouse), read_only=True)
    n = con.execute("SELECT count(DISTINCT area_code) FROM observations WHERE variable = ? "
                    "AND area_code LIKE 'BU%'", [VARIABLE]).fetchone()[0]
    periods = [r[0] for r in con.execute("SELECT DISTINCT period FROM observations WHERE "
                                         "variable = ? ORDER BY 1", [VARIABLE]).fetchall()]
    con.close()
    assert n > 450 and periods == ["2021", "2022", "2023", "2024", "2025"]
    entry = next(i for i in load_catalogue().indicators if i.id == "misdrijven_per_1000")
    assert entry.numerator == (VARIABLE,) and entry.denominator == ("AantalInwoners",)
    assert entry.scale == 1000 and entry.direction == "higher_is_worse"
    assert "47022NED" in entry.sources and not entry.in_index
