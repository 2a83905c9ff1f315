"""E2SFCA equals PySAL access; nearest/counts equal brute force (property tests)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.analysis.access import EuclideanDetour, e2sfca, parse_decay, shannon

access = pytest.importorskip("access")

X0, Y0 = 150_000.0, 450_000.0


def _points(rng, n, span=8_000.0):
    return rng.uniform([X0, Y0], [X0 + span, Y0 + span], size=(n, 2))


def _access_e2sfca(dxy, pop, fxy, cap, model, decay):
    pairs = model.pairs_within(dxy, fxy, decay.max_cost)
    cost = pd.DataFrame({"origin": pairs.rows, "dest": pairs.cols, "cost": pairs.cost})
    dem = pd.DataFrame({"geoid": np.arange(len(dxy)), "pop": pop})
    sup = pd.DataFrame({"geoid": np.arange(len(fxy)), "cap": cap})
    acc = access.Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup,
                        supply_index="geoid", supply_value="cap", cost_df=cost, cost_origin="origin",
                        cost_dest="dest", cost_name="cost")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = acc.enhanced_two_stage_fca(weight_fn=decay.scalar(), max_cost=decay.max_cost)
    # access leaves demand points without any facility in reach as NaN; ours are 0
    return res.iloc[:, 0].reindex(np.arange(len(dxy))).fillna(0.0).to_numpy()


@pytest.mark.parametrize("spec", ["gaussian:1500", "gaussian:800:2000", "step:500=1,1000=0.68,1500=0.22",
                                  "uniform:1200"])
@pytest.mark.parametrize("detour", [1.0, 1.3])
def test_e2sfca_equals_access(spec, detour):
    rng = np.random.default_rng(7)
    dxy, fxy = _points(rng, 250), _points(rng, 40)
    pop = rng.integers(1, 4000, len(dxy)).astype(float)
    cap = rng.uniform(0.5, 6.0, len(fxy))
    model, decay = EuclideanDetour(detour), parse_decay(spec)
    ours, _ = e2sfca(dxy, pop, fxy, cap, model, decay)
    ref = _access_e2sfca(dxy, pop, fxy, cap, model, decay)
    assert np.abs(ours - ref).max() <= 1e-9
    assert (ours > 0).any()


def test_decay_matches_access_weights():
    c = np.linspace(0, 3000, 301)
    g = parse_decay("gaussian:700")
    assert np.allclose(g(c), [access.weights.gaussian(700)(x) for x in c], rtol=0, atol=1e-15)
    s = parse_decay("step:500=1,1000=0.68,1500=0.22")
    ref = access.weights.step_fn({500: 1, 1000: 0.68, 1500: 0.22})
    assert np.array_equal(s(c), np.array([ref(x) for x in c], dtype=float))


coords = st.lists(st.tuples(st.floats(0, 20_000), st.floats(0, 20_000)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(d=coords, f=coords, detour=st.floats(1.0, 2.0))
def test_nearest_and_counts_equal_brute_force(d, f, detour):
    dxy = np.array(d) + [X0, Y0]
    fxy = np.array(f) + [X0, Y0]
    model = EuclideanDetour(detour)
    brute = np.sqrt(((dxy[:, None, :] - fxy[None, :, :]) ** 2).sum(-1)) * detour
    assert np.allclose(model.nearest(dxy, fxy), brute.min(axis=1), rtol=1e-12, atol=1e-9)
    for r in (500.0, 3000.0):
        # points exactly on the radius may fall either way by one ulp: compare away from it
        clear = np.abs(brute - r) > 1e-6
        got = model.count_within(dxy, fxy, r)
        want = (brute <= r).sum(axis=1)
        ok = clear.all(axis=1)
        assert np.array_equal(got[ok], want[ok])
        pairs = model.pairs_within(dxy, fxy, r)
        assert np.allclose(pairs.cost, brute[pairs.rows, pairs.cols], rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(d=coords, f=coords, pops=st.lists(st.integers(0, 5000), min_size=40, max_size=40))
def test_e2sfca_conserves_supply(d, f, pops):
    """Σ_i p_i A_i equals the capacity of facilities that have residents in reach (uniform decay)."""
    dxy = np.array(d) + [X0, Y0]
    fxy = np.array(f) + [X0, Y0]
    pop = np.array(pops[: len(dxy)], dtype=float)
    cap = np.ones(len(fxy))
    score, ratio = e2sfca(dxy, pop, fxy, cap, EuclideanDetour(1.3), parse_decay("uniform:2000"))
    assert np.isfinite(score).all()
    assert np.isclose((pop * score).sum(), cap[ratio > 0].sum())


def test_shannon():
    h = shannon(np.array([[1, 1, 0], [4, 0, 0], [0, 0, 0], [2, 2, 2]]))
    assert np.allclose(h, [np.log(2), 0.0, 0.0, np.log(3)])
