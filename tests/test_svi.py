"""Stacked vulnerability: the SVI percent rank, ties, missing values, themes, flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.analysis.svi import percent_rank, svi, svi_wide

HEALTH_NL = "health/gezondheid_wijk_buurt_50090NED_2012_2016_2020_national.csv"


def excel_percentrank_inc(values: np.ndarray, x: float) -> float:
    """Excel PERCENTRANK.INC(array, x) for x in the array: count(values < x) / (N - 1)."""
    return float((values < x).sum()) / (len(values) - 1)


def test_documented_definition_with_ties_and_missing():
    x = np.array([10.0, 40.0, 40.0, np.nan, 50.0])
    pr = percent_rank(x)
    # N = 4 non-missing; ties share the lowest rank (rank 2 -> (2-1)/3)
    assert pr[0] == 0.0 and pr[1] == pr[2] == pytest.approx(1 / 3) and pr[4] == 1.0
    assert np.isnan(pr[3])


@given(st.lists(st.integers(0, 20), min_size=2, max_size=60))
@settings(max_examples=60, deadline=None)
def test_percent_rank_equals_excel_and_pandas_min_rank(values):
    x = np.array(values, dtype=float)
    pr = percent_rank(x)
    n = len(x)
    expected = (pd.Series(x).rank(method="min").to_numpy() - 1) / (n - 1)
    assert np.allclose(pr, expected)
    assert all(pr[i] == pytest.approx(excel_percentrank_inc(x, x[i])) for i in range(n))


def test_national_percentile_rank_equals_pandas_on_the_raw_file(data_dir):
    """'Eenzaam' 18+ 2020 over all buurten of NL, straight from the 50090NED file."""
    raw = pd.read_csv(data_dir / HEALTH_NL, dtype=str, keep_default_na=False,
                      usecols=["jaar", "leeftijdsgroep", "SoortRegio_2", "Codering_3", "Eenzaam_28"])
    b = raw[(raw.jaar == "2020") & (raw.leeftijdsgroep == "18+") & (raw.SoortRegio_2 == "Buurt")]
    val = pd.to_numeric(b["Eenzaam_28"].replace({".": None, "": None}), errors="coerce")
    wide = pd.DataFrame({"eenzaam_18": val.to_numpy()}, index=b["Codering_3"].to_numpy())
    assert len(wide) > 13000
    out = svi(wide, {"eenzaam_18": "eenzaamheid_welzijn"}, {"eenzaam_18": "higher_is_worse"})
    ours = out[out.component_type == "indicator"].set_index("area_code")["percentile_rank"]
    ok = val.notna().to_numpy()
    n = int(ok.sum())
    direct = (val[ok].rank(method="min") - 1) / (n - 1)
    direct.index = b["Codering_3"].to_numpy()[ok]
    assert np.allclose(ours.loc[direct.index].to_numpy(), direct.to_numpy(), atol=1e-12)
    assert ours.isna().sum() == (~ok).sum()          # missing ('.') get no rank
    # spot check against the Excel definition for a handful of buurten
    v = val[ok].to_numpy()
    for i in (0, 100, 5000):
        assert ours.loc[direct.index[i]] == pytest.approx(excel_percentrank_inc(v, v[i]))


def test_themes_overall_flags_and_direction():
    wide = pd.DataFrame({
        "lonely": [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110],       # higher = worse
        "volunteer": [110, 100, 90, 80, 70, 60, 50, 40, 30, 20, 10],    # higher = better
        "poor": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan],
    }, index=[f"BU{i:02d}" for i in range(11)], dtype=float)
    themes = {"lonely": "eenzaamheid_welzijn", "volunteer": "sociale_basis", "poor": "bestaanszekerheid"}
    dirs = {"lonely": "higher_is_worse", "volunteer": "higher_is_better", "poor": "higher_is_worse"}
    out = svi(wide, themes, dirs, period="2024", level="buurt")
    ind = out[out.component_type == "indicator"].pivot(index="area_code", columns="component",
                                                       values="percentile_rank")
    # ranked the worse way: the least volunteering is the most vulnerable
    assert ind.loc["BU10", "volunteer"] == 1.0 and ind.loc["BU00", "volunteer"] == 0.0
    assert ind.loc["BU10", "lonely"] == 1.0
    w = svi_wide(out)
    # BU10 lacks 'poor' -> its theme and overall are missing, as in the SVI
    assert np.isnan(w.loc["BU10", "svi_overall"])
    assert w.loc["BU09", "svi_overall"] == 1.0
    assert w.loc["BU09", "flags_total"] == 3 and w.loc["BU09", "themes_flagged"] == 3
    flags = out[(out.component_type == "indicator") & (out.area_code == "BU09")]
    assert (flags["flag"] == 1).all()


def test_reference_groups_rank_within_each_province():
    wide = pd.DataFrame({"x": [1.0, 2.0, 3.0, 100.0, 200.0]}, index=list("abcde"))
    groups = pd.Series(["PV1", "PV1", "PV1", "PV2", "PV2"], index=list("abcde"))
    out = svi(wide, {"x": "demografie"}, {"x": "higher_is_worse"}, groups=groups, reference="province")
    pr = out[out.component_type == "indicator"].set_index("area_code")["percentile_rank"]
    assert pr.to_dict() == {"a": 0.0, "b": 0.5, "c": 1.0, "d": 0.0, "e": 1.0}
    assert set(out.reference_group.dropna()) == {"PV1", "PV2"}


def test_indicator_without_any_value_is_dropped_and_reported():
    wide = pd.DataFrame({"x": [1.0, 2.0], "empty": [np.nan, np.nan]}, index=["a", "b"])
    out = svi(wide, {"x": "demografie", "empty": "voorzieningen"},
              {"x": "higher_is_worse", "empty": "higher_is_worse"})
    assert out.attrs["dropped"] == ["empty"]
    assert "empty" not in set(out.component)
