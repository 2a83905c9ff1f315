"""Health (50090NED) and SES-WOA (85900NED) loaders on the real files and broken variants."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from weefsel.errors import InputError
from weefsel.sources.health import load_health_csv
from weefsel.sources.ses import EXPECTED_STEMS, load_ses_csv

NATIONAL = "health/gezondheid_wijk_buurt_50090NED_2012_2016_2020_national.csv"
FLEVO = "health/gezondheid_wijk_buurt_50090NED_flevoland.csv"
SES_ALMERE = "ses/ses_woa_85900NED_2014_2022_almere.csv"
SES_PARTIAL = "ses/ses_woa_85900NED_2014_2022_partial_first10000rows.csv"


@pytest.fixture(scope="module")
def national(data_dir):
    t = time.process_time()
    frames = load_health_csv(data_dir / NATIONAL)
    frames.cpu_seconds = time.process_time() - t
    return frames


def test_national_health_is_areas_x_3_years_x_2_age_groups(national):
    assert national.rows_read == 104046
    assert len(national.areas) == 17341
    assert 17341 * 3 * 2 == 104046
    assert set(national.observations.period.unique()) == {"2012", "2016", "2020"}
    assert set(national.observations.breakdown.unique()) == {"leeftijd=18+", "leeftijd=65+"}
    assert national.rejections == []
    assert national.cpu_seconds < 20  # vectorised: a few seconds on an idle core


def test_health_values_and_levels(data_dir, national):
    raw = pd.read_csv(data_dir / FLEVO, dtype=str, keep_default_na=False)
    row = raw[(raw.Codering_3 == "GM0034") & (raw.jaar == "2020") & (raw.leeftijdsgroep == "65+")].iloc[0]
    obs = national.observations
    got = obs[(obs.area_code == "GM0034") & (obs.period == "2020") & (obs.breakdown == "leeftijd=65+")
              & (obs.variable == "Eenzaam")]
    assert got.value.tolist() == [float(row["Eenzaam_28"])]
    a = national.areas.set_index("code")
    assert a.loc["NL00", "level"] == "land"  # 50090NED says NL01: normalised to NL00
    assert a.loc["GM0034", "name"] == "Almere" and a.loc["GM0034", "vintage"] == 2020
    # Vrijwilligerswerk was not asked in 2012: no observations, not zeros
    vw = obs[(obs.variable == "Vrijwilligerswerk")]
    assert "2012" not in set(vw.period.unique()) and len(vw) > 0
    p = national.provenance[0]
    assert p["publisher"] == "RIVM/GGD via CBS" and p["table_id"] == "50090NED"
    v = national.variables.set_index("variable")
    assert v.loc["Eenzaam", "unit"] == "%" and len(v) == 35


def test_health_flevoland_has_the_six_gemeenten(data_dir):
    frames = load_health_csv(data_dir / FLEVO)
    gm = set(frames.areas[frames.areas.level == "gemeente"].code)
    assert gm == {"GM0034", "GM0050", "GM0171", "GM0184", "GM0303", "GM0995"}


def test_health_marges_bounds_fold_into_one_observation(tmp_path, data_dir):
    raw = pd.read_csv(data_dir / FLEVO, dtype=str, keep_default_na=False).head(2)
    lo, hi = raw.copy(), raw.copy()
    lo["Marges"], hi["Marges"] = "MOG0095", "MBG0095"
    lo["Eenzaam_28"], hi["Eenzaam_28"] = "40.0", "45.0"
    p = tmp_path / "h.csv"
    pd.concat([raw, lo, hi]).to_csv(p, index=False)
    frames = load_health_csv(p)
    o = frames.observations.set_index(["area_code", "variable"]).loc[("GM0034", "Eenzaam")]
    assert (o.value, o.lower, o.upper) == (float(raw.Eenzaam_28.iloc[0]), 40.0, 45.0)


def test_health_bad_inputs(tmp_path, data_dir):
    raw = pd.read_csv(data_dir / FLEVO, dtype=str, keep_default_na=False).head(4)
    bad = raw.copy()
    bad["Marges"] = "XX"
    p = tmp_path / "marges.csv"
    bad.to_csv(p, index=False)
    with pytest.raises(InputError, match="line 2: unknown Marges value 'XX'"):
        load_health_csv(p)
    q = tmp_path / "noage.csv"
    raw.drop(columns=["leeftijdsgroep", "Leeftijd"]).to_csv(q, index=False)
    with pytest.raises(InputError, match="leeftijdsgroep"):
        load_health_csv(q)
    r = tmp_path / "dup.csv"
    d = raw.copy()
    d.loc[1, ["Codering_3", "SoortRegio_2"]] = [d.Codering_3[0], d.SoortRegio_2[0]]
    d.to_csv(r, index=False)
    with pytest.raises(InputError, match="duplicated area code \\+ year \\+ age group"):
        load_health_csv(r)
    with pytest.raises(InputError, match="missing required column"):
        load_health_csv(data_dir / "kwb/kwb_2024_buurt_population_national.csv")


# ----------------------------------------------------------------------------- SES-WOA

def test_ses_almere_scores_with_intervals(data_dir):
    frames = load_ses_csv(data_dir / SES_ALMERE)
    assert frames.rows_read == 2790 and frames.rejections == []
    assert len(frames.areas) == 310
    assert set(frames.observations.period) == {str(y) for y in range(2014, 2023)}
    o = frames.observations.set_index(["area_code", "period", "variable"])
    tot = o.loc[("GM0034", "2014", "SESWOA_Totaal")]
    assert (tot.value, tot.lower, tot.upper) == (0.006, 0.005, 0.007)
    parts = sum(o.loc[("GM0034", "2014", k), "value"] for k in
                ("SESWOA_FinancieleWelvaart", "SESWOA_Opleidingsniveau", "SESWOA_Arbeidsverleden"))
    assert parts == pytest.approx(tot.value, abs=0.002)  # total = sum of the deelscores


def test_ses_layout_checks_hold_on_the_whole_partial_file(data_dir):
    """The facts the hand-made metadata rests on (docs/variables.md), on 10,000 real rows."""
    frames = load_ses_csv(data_dir / SES_PARTIAL)
    w = frames.observations.pivot_table(index=["area_code", "period"], columns="variable", values="value")
    w = w.dropna()
    opl = w[["Opleidingsniveau_Laag", "Opleidingsniveau_Middelbaar", "Opleidingsniveau_Hoog"]].sum(axis=1)
    assert np.allclose(opl, 100, atol=0.6)
    arb = w[["Afgelopen4JaarVoortdurendWerkzaam", "Afgelopen4JrNietVoortdurendWerkzaam",
             "Afgelopen4JaarNietWerkzaam", "Gepensioneerd"]].sum(axis=1)
    assert np.allclose(arb, 100, atol=0.6)
    parts = w[["SESWOA_FinancieleWelvaart", "SESWOA_Opleidingsniveau", "SESWOA_Arbeidsverleden"]].sum(axis=1)
    assert np.allclose(parts, w["SESWOA_Totaal"], atol=0.005)


def test_ses_wrong_layout_is_an_error(tmp_path, data_dir):
    raw = pd.read_csv(data_dir / SES_ALMERE, dtype=str, keep_default_na=False).head(3)
    p = tmp_path / "swapped.csv"
    cols = list(raw.columns)
    i, j = cols.index("GemiddeldeScore_31"), cols.index("Waarde_39")
    cols[i], cols[j] = cols[j], cols[i]
    raw[cols].to_csv(p, index=False)
    with pytest.raises(InputError, match="expected stem 'GemiddeldeScore'"):
        load_ses_csv(p)
    assert len(EXPECTED_STEMS) == 42  # 46 columns minus ID, name, period, code
