"""Composite index maths: properties (hypothesis), bad input, Monte-Carlo behaviour."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from weefsel.analysis.aggregate import check_reference_population
from weefsel.analysis.composite import (CompositeSpec, aggregate_scores, composite_frame,
                                        dirichlet_weights, min_rank_desc, prepare, resolve_weights,
                                        run_composite)
from weefsel.analysis.normalise import NORMALISATIONS, normalise
from weefsel.errors import CatalogueError

SETTINGS = settings(max_examples=40, deadline=None)
K = 3
SIGN = np.array([1.0, -1.0, 1.0])


def matrices(min_rows=3, max_rows=12):
    return st.integers(min_rows, max_rows).flatmap(
        lambda n: arrays(np.float64, (n, K), elements=st.floats(0.5, 100, allow_nan=False)))


def central(x, imputation="mean", normalisation="minmax", aggregation="arithmetic", w=None):
    w = np.full(K, 1 / K) if w is None else w
    z, m = prepare(x, SIGN, imputation, normalisation, aggregation)
    return aggregate_scores(z, m, w[:, None], aggregation, 0.5)[:, 0]


@SETTINGS
@given(matrices(), st.integers(0, 11), st.integers(0, K - 1), st.floats(0.1, 50),
       st.sampled_from(NORMALISATIONS), st.sampled_from(["arithmetic", "geometric"]))
def test_monotone_in_each_indicators_direction(x, row, col, delta, norm, agg):
    """Improving one area's indicator (up if higher is better, down if worse) never lowers
    that area's composite."""
    row = row % x.shape[0]
    if agg == "geometric":
        assume(norm in ("minmax", "percentile", "distance"))
    before = central(x, normalisation=norm, aggregation=agg)[row]
    x2 = x.copy()
    x2[row, col] = x2[row, col] + SIGN[col] * delta
    assume(x2[row, col] > 0)
    after = central(x2, normalisation=norm, aggregation=agg)[row]
    assert after >= before - 1e-9


@SETTINGS
@given(matrices(), st.randoms(use_true_random=False), st.sampled_from(NORMALISATIONS),
       st.sampled_from(["arithmetic", "geometric"]))
def test_invariant_to_the_order_of_areas(x, rnd, norm, agg):
    x = x.copy()
    x[0, 1] = np.nan                                   # imputation must not depend on order either
    idx = [f"a{i}" for i in range(len(x))]
    df = pd.DataFrame(x, index=idx, columns=["p", "q", "r"])
    signs = {"p": 1, "q": -1, "r": 1}
    themes = {"p": "t1", "q": "t2", "r": "t2"}
    spec = CompositeSpec(normalisation=norm, aggregation=agg, draws=30, seed=1)
    res1, _ = composite_frame(df, signs, themes, spec)
    perm = list(idx)
    rnd.shuffle(perm)
    res2, _ = composite_frame(df.loc[perm], signs, themes, spec)
    a = res1.set_index("area_code").loc[idx]
    b = res2.set_index("area_code").loc[idx]
    assert np.allclose(a["composite"], b["composite"], equal_nan=True)
    assert np.array_equal(a["rank"].to_numpy(), b["rank"].to_numpy(), equal_nan=True)


@SETTINGS
@given(st.lists(st.floats(0.01, 10), min_size=1, max_size=8), st.floats(1, 200),
       st.integers(0, 2 ** 31))
def test_weights_sum_to_one(raw, conc, seed):
    w = np.array(raw) / np.sum(raw)
    assert resolve_weights(dict(zip([f"i{k}" for k in range(len(w))], w / w.sum())),
                           [f"i{k}" for k in range(len(w))], {}).sum() == pytest.approx(1.0)
    d = dirichlet_weights(w, 50, conc, np.random.default_rng(seed))
    assert np.allclose(d.sum(axis=0), 1.0)
    # effective weights after renormalising over an area's observed indicators sum to 1:
    # a constant normalised value c everywhere gives composite exactly c
    mask = np.ones((1, len(w)))
    mask[0, 0] = 0.0 if len(w) > 1 else 1.0
    z = np.full((1, len(w)), 0.7) * mask
    assert aggregate_scores(z, mask, w[:, None], "arithmetic", 0.0)[0, 0] == pytest.approx(0.7)


def test_theme_and_equal_weights():
    ids = ["a", "b", "c"]
    themes = {"a": "t1", "b": "t2", "c": "t2"}
    assert np.allclose(resolve_weights("equal", ids, themes), [1 / 3] * 3)
    assert np.allclose(resolve_weights("theme", ids, themes), [0.5, 0.25, 0.25])


@pytest.mark.parametrize("weights, message", [
    ({"a": 0.5, "b": 0.2, "c": 0.2}, "sum to 0.9"),
    ({"a": 0.5, "b": 0.6, "c": -0.1}, "non-negative"),
    ({"a": 0.5, "zz": 0.5}, "not in the index"),
    ("bogus", "not one of"),
])
def test_bad_weights_rejected_before_computing(weights, message):
    with pytest.raises(CatalogueError, match=message):
        resolve_weights(weights, ["a", "b", "c"], {"a": "t", "b": "t", "c": "t"})


def test_zero_reference_population_is_an_error():
    pop = pd.Series([0.0, 0.0, 10.0], index=["a", "b", "c"])
    with pytest.raises(CatalogueError, match="PV1"):
        check_reference_population(pop, pd.Series(["PV1", "PV1", "PV2"], index=pop.index))
    with pytest.raises(CatalogueError, match="zero"):
        check_reference_population(pd.Series([0.0, 0.0]), None)
    check_reference_population(pop, None)    # NL total > 0: fine


def test_distance_to_a_zero_reference_is_an_error():
    x = np.array([[1.0, 0.0], [2.0, 0.0]])
    with pytest.raises(CatalogueError, match="reference value is 0"):
        normalise(x, "distance", np.array([1.0, 1.0]))


def test_bad_spec_rejected():
    with pytest.raises(CatalogueError, match="normalisation"):
        CompositeSpec(normalisation="rank").check()
    with pytest.raises(CatalogueError, match="Monte-Carlo"):
        CompositeSpec(mc_imputations=()).check()


def test_min_rank_ties_and_missing():
    r = min_rank_desc(np.array([[3.0, 5.0, 5.0, np.nan, 1.0]]))[0]
    assert r[1] == r[2] == 1 and r[0] == 3 and r[4] == 4 and np.isnan(r[3])


def test_monte_carlo_reproducible_and_interval_contains_median():
    rng = np.random.default_rng(0)
    x = rng.gamma(4, 2, (200, 4))
    x[rng.random(x.shape) < 0.05] = np.nan
    df = pd.DataFrame(x, columns=list("abcd"), index=[f"BU{i}" for i in range(200)])
    signs, themes = {"a": 1, "b": -1, "c": 1, "d": -1}, {"a": "t1", "b": "t1", "c": "t2", "d": "t3"}
    spec = CompositeSpec(draws=300, seed=7)
    r1, s1 = composite_frame(df, signs, themes, spec)
    r2, _ = composite_frame(df, signs, themes, spec)
    pd.testing.assert_frame_equal(r1, r2)
    ranked = r1[r1.unranked_reason.isna()]
    assert len(ranked) > 150
    assert (ranked.rank_p05 <= ranked.rank_median).all() and \
        (ranked.rank_median <= ranked.rank_p95).all()
    # areas whose own data carry < 2/3 of the weight are listed, never ranked on imputations
    unranked = r1[r1.unranked_reason.notna()]
    assert (unranked.coverage < 2 / 3).all() and unranked["rank"].isna().all()
    assert (r1.n_draws == 300).all()
    fo = s1[s1.choice == "*"].set_index("factor")["first_order_share"]
    assert set(fo.index) >= {"imputation", "normalisation", "aggregation", "weights+interactions"}
    assert ((fo >= 0) & (fo <= 1 + 1e-9)).all()
    oat = s1[s1.choice != "*"]
    assert {"normalisation", "weights"} <= set(oat.factor)
    # each one-at-a-time shift is the mean |rank change| when only that choice changes: rerun
    # the composite with that choice as the central one and compare the published ranks
    central = r1.set_index("area_code")["rank"]
    checked = 0
    for _, row in oat[oat.factor.isin(["normalisation", "aggregation", "imputation"])].iterrows():
        alt, _ = composite_frame(df, signs, themes, dataclasses.replace(spec, **{row.factor: row.choice}))
        shift = (alt.set_index("area_code")["rank"] - central).abs().mean()
        assert row.mean_abs_rank_shift == pytest.approx(shift), (row.factor, row.choice)
        checked += 1
    assert checked >= 1 and (oat.mean_abs_rank_shift > 0).any()


def test_a_factor_that_cannot_change_anything_has_no_share():
    """With no missing values, imputation choices give identical ranks: share ~ 0."""
    rng = np.random.default_rng(3)
    x = rng.gamma(4, 2, (150, 3))
    run = run_composite(x, np.array([1.0, -1.0, 1.0]), np.full(3, 1 / 3),
                        CompositeSpec(draws=400, seed=3, mc_imputations=("mean", "median")))
    from weefsel.analysis.composite import first_order_shares
    s = first_order_shares(run.ranks, run.factors)
    assert s["imputation"] < 0.01
    assert s["normalisation"] > s["imputation"]


def test_reference_province_ranks_within_groups():
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 10.0, 20.0], "b": [1.0, 3.0, 4.0, 2.0, 3.0]},
                     index=list("vwxyz"))
    groups = pd.Series(["PV1", "PV1", "PV1", "PV2", "PV2"], index=x.index)
    res, _ = composite_frame(x, {"a": 1, "b": 1}, {"a": "t", "b": "t"}, CompositeSpec(draws=20),
                             groups=groups, reference="province")
    ranks = res.set_index("area_code")["rank"]
    assert sorted(ranks[["v", "w", "x"]]) == [1, 2, 3] and sorted(ranks[["y", "z"]]) == [1, 2]
