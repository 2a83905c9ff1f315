"""Inequality: PySAL Gini/Theil cross-checked with the direct formulas; decile gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.analysis.inequality import decile_gap, gini, inequality_table, theil_decomposition


def gini_direct(x: np.ndarray) -> float:
    """G = sum_i sum_j |x_i - x_j| / (2 n^2 mean)."""
    n = len(x)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()))


def theil_direct(x: np.ndarray) -> float:
    """T = (1/n) sum (x/mu) ln(x/mu)."""
    r = x / x.mean()
    return float(np.mean(r * np.log(r)))


def theil_between_direct(x: np.ndarray, groups: np.ndarray) -> float:
    """Between-group Theil: sum_g s_g ln(s_g / (n_g / n)), s_g = group share of the total."""
    n, tot = len(x), x.sum()
    out = 0.0
    for g in np.unique(groups):
        sel = groups == g
        s = x[sel].sum() / tot
        out += s * np.log(s / (sel.sum() / n))
    return float(out)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.1, 1000, allow_nan=False), min_size=2, max_size=80),
       st.integers(1, 5))
def test_pysal_matches_direct_formulas(values, k):
    x = np.array(values)
    groups = np.array([f"g{i % k}" for i in range(len(x))])
    assert gini(x) == pytest.approx(gini_direct(x), abs=1e-9)
    t, bg, wg = theil_decomposition(x, groups)
    assert t == pytest.approx(theil_direct(x), abs=1e-9)
    assert bg == pytest.approx(theil_between_direct(x, groups), abs=1e-9)
    assert bg + wg == pytest.approx(t)
    from inequality.theil import TheilD
    d = TheilD(x, groups)
    assert bg == pytest.approx(float(np.ravel(d.bg)[0]), abs=1e-9)
    assert wg == pytest.approx(float(np.ravel(d.wg)[0]), abs=1e-9)
    assert wg >= -1e-9                           # within part is a weighted sum of Theils


def test_known_values():
    assert gini(np.array([1.0, 1.0, 1.0])) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    # two equal groups with equal members: all inequality is between groups
    t, bg, wg = theil_decomposition(np.array([1.0, 1.0, 3.0, 3.0]), np.array(["a", "a", "b", "b"]))
    assert wg == pytest.approx(0.0, abs=1e-12) and bg == pytest.approx(t)


def test_decile_gap_direction():
    v = np.arange(1.0, 101.0)
    best, worst, gap, ratio = decile_gap(v, "higher_is_worse")
    assert best == pytest.approx(5.5) and worst == pytest.approx(95.5) and gap == pytest.approx(90.0)
    best, worst, gap, _ = decile_gap(v, "higher_is_better")
    assert best == pytest.approx(95.5) and gap == pytest.approx(90.0)
    assert np.isnan(decile_gap(np.arange(5.0), "higher_is_better")[0])


def test_table_partitions_and_nonpositive_values():
    idx = [f"BU{i:02d}" for i in range(20)]
    values = pd.DataFrame({"x": np.r_[0.0, np.arange(1.0, 20.0)]}, index=idx)
    parts = {"gemeente": pd.Series(["GM1"] * 10 + ["GM2"] * 10, index=idx),
             "provincie": pd.Series(["PV1"] * 20, index=idx)}
    out = inequality_table(values, {"x": "higher_is_worse"}, parts, period="2024", level="buurt")
    assert list(out.partition) == ["none", "gemeente", "provincie"]
    row = out.set_index("partition").loc["gemeente"]
    assert row.n_nonpositive == 1 and row.n_groups == 2
    assert 0 < row.between_share < 1
    assert out.set_index("partition").loc["provincie", "theil_between"] == pytest.approx(0.0, abs=1e-12)
