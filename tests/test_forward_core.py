"""Forward monitoring core: cohort arithmetic, housing-led targets, norms, Monte-Carlo, gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from weefsel.forward import montecarlo as mc
from weefsel.forward import rates
from weefsel.forward.backtest import backtest
from weefsel.forward.base import split_bands
from weefsel.forward.gap import Catchment, calibrate, e2sfca_draws, gap_list
from weefsel.forward.norms import (
    age_sum,
    inhabitants_per_unit_to_per_1000_dwellings,
    parse_norm,
    per_1000_dwellings_to_inhabitants_per_unit,
    per_1000_dwellings_to_per_inhabitant,
    per_inhabitant_to_per_1000_dwellings,
)
from weefsel.forward.project import (
    Draws,
    Flows,
    Programme,
    completions,
    draw_area_age,
    project,
)


def _run(pop, dw, prog, draws, years=6, totals=None, gidx=None):
    fl = Flows()
    P = project(pop, dw, prog, draws, 2024, 2024 + years, dtype=np.float64, flows=fl,
                gemeente_index=gidx, gemeente_totals=totals)
    return P, fl


def _balance(fl: Flows) -> float:
    worst = 0.0
    for k in range(len(fl.start)):
        lhs = fl.end[k]
        rhs = (fl.start[k] - fl.deaths[k] - fl.leavers[k] - fl.extra_leavers[k] + fl.births[k]
               + fl.in_new[k] + fl.in_existing[k] + fl.constraint[k])
        worst = max(worst, float(np.max(np.abs(lhs - rhs) / np.maximum(1.0, np.abs(lhs)))))
    return worst


pops = arrays(np.float64, (3, rates.N_AGE), elements=st.floats(0, 500, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(pop=pops, dw=arrays(np.float64, 3, elements=st.floats(0, 2000)),
       built=st.lists(st.tuples(st.integers(0, 2), st.integers(2025, 2030), st.floats(0, 800)), max_size=4),
       demolish=st.floats(0, 300), seed=st.integers(0, 10_000), constrain=st.booleans())
def test_cohort_arithmetic_balances(pop, dw, built, demolish, seed, constrain):
    """population out = population in − deaths − leavers + births + in-movers ± constraint,
    per area, draw and year, for random bases, programmes, demolitions and draws."""
    rows = built + [(1, 2026, -demolish)]
    prog = Programme(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                     np.array([r[2] for r in rows]))
    draws = mc.draw(4, len(rows), seed=seed)
    totals = gidx = None
    if constrain:
        gidx = np.array([0, 0, 1])
        totals = np.full((2, 6), np.nan)
        totals[0, 2] = pop[:2].sum() * 1.1 + 10
    P, fl = _run(pop, dw, prog, draws, totals=totals, gidx=gidx)
    assert _balance(fl) < 1e-9
    assert (P >= -1e-9).all()


def test_balance_check_can_fail():
    """The balance test sees a lost person."""
    pop = np.full((1, rates.N_AGE), 10.0)
    _, fl = _run(pop, np.array([80.0]), Programme.empty(), Draws.point())
    fl.end[2] = fl.end[2] - 1.0
    assert _balance(fl) > 1e-3


def test_ageing_moves_a_fifth_up_and_no_one_is_lost_without_rates():
    pop = np.zeros((1, rates.N_AGE))
    pop[0, 0] = 100.0
    d = Draws.point(mortality=np.zeros((1, rates.N_AGE)), fertility=np.zeros((1, rates.N_AGE)),
                    out_migration=np.zeros((1, rates.N_AGE)), occupancy_trend=np.zeros(1))
    P = project(pop, np.array([0.0]), Programme.empty(), d, 2024, 2025, dtype=np.float64)
    got = draw_area_age(P)[0, 0]
    assert got[0] == pytest.approx(80.0) and got[1] == pytest.approx(20.0)
    assert got.sum() == pytest.approx(100.0)


def test_housing_led_target_is_met_and_new_build_brings_young_families():
    pop = rates.within_band_shares()[None, :] * 0 + 20.0
    dw = np.array([pop.sum() / 2.0])
    prog = Programme(np.array([0]), np.array([2026]), np.array([100.0]))
    d = Draws.point(1, occupancy_trend=np.zeros(1), occupancy_new=np.array([2.5]))
    tot = {}
    project(pop, dw, prog, d, 2024, 2030, dtype=np.float64,
            on_year=lambda y, P, H: tot.setdefault(y, (P.sum(), H.sum(), P[:3].sum())))
    assert tot[2026][0] == pytest.approx(pop.sum() + 250.0)   # 100 dwellings × 2.5
    assert tot[2026][1] == pytest.approx(dw[0] + 100)
    assert tot[2026][2] > tot[2025][2] + 0.15 * 250           # many children among new-build movers


def test_delay_shifts_completions_and_drops_past_horizon():
    prog = Programme(np.array([0, 0]), np.array([2026, 2029]), np.array([10.0, 5.0]))
    d = Draws.point(2, delay=np.array([[0, 0], [2, 2]]))
    d = Draws(**{**d.__dict__, "occupancy_new": np.array([2.3, 2.3]), "occupancy_trend": np.zeros(2),
                 **{k: np.repeat(getattr(d, k), 2, axis=0) for k in
                    ("mortality", "fertility", "out_migration", "inmover_new", "inmover_existing")}})
    c = completions(prog, d, 1, 2024, 2030)
    assert c[0, 0, 1] == 10 and c[0, 0, 4] == 5
    assert c[1, 0, 3] == 10 and c[1].sum() == 10     # the 2029 row, delayed to 2031, is past 2030


def test_gemeente_totals_constraint():
    pop = np.full((3, rates.N_AGE), 10.0)
    totals = np.full((2, 3), np.nan)
    totals[0, 1] = 500.0
    got = {}
    project(pop, np.full(3, 90.0), Programme.empty(), Draws.point(), 2024, 2027, dtype=np.float64,
            gemeente_index=np.array([0, 0, 1]), gemeente_totals=totals,
            on_year=lambda y, P, H: got.setdefault(y, P.sum(0)[0].copy()))
    assert got[2026][:2].sum() == pytest.approx(500.0)


def test_split_bands_keeps_totals_and_fills_missing_middle():
    total = np.array([1000.0, 600.0])
    bands = np.array([[150, 100, 300, 250, 200], [100, np.nan, np.nan, np.nan, 120]], dtype=float)
    grid, derived = split_bands(total, bands)
    assert derived == 1
    assert grid.sum(1) == pytest.approx(total)
    assert grid[1, 13:].sum() == pytest.approx(120 * 600 / (100 + 380 + 120))


@settings(max_examples=200, deadline=None)
@given(x=st.floats(1e-3, 1e5), pph=st.floats(0.5, 6))
def test_norm_conversions_round_trip(x, pph):
    back = per_inhabitant_to_per_1000_dwellings(per_1000_dwellings_to_per_inhabitant(x, pph), pph)
    assert back == pytest.approx(x, rel=1e-12)
    n = per_1000_dwellings_to_inhabitants_per_unit(inhabitants_per_unit_to_per_1000_dwellings(x, pph), pph)
    assert n == pytest.approx(x, rel=1e-12)


def test_norm_forms_agree_on_demand():
    """1 unit per 2,000 residents = 1000·pph/2000 units per 1,000 dwellings at pph 2.5."""
    a = parse_norm("a", {"facility_types": ["x"], "inhabitants_per_unit": 2000})
    b = parse_norm("b", {"facility_types": ["x"],
                         "per_1000_dwellings": inhabitants_per_unit_to_per_1000_dwellings(2000, 2.5)})
    P = np.full((rates.N_AGE, 1, 1), 100.0)
    H = np.array([[P.sum() / 2.5]])
    assert a.demand(P, H) == pytest.approx(b.demand(P, H))


def test_school_norm_counts_ages_4_to_11():
    n = parse_norm("s", {"facility_types": ["school"], "per_age": {"4-11": 1.0}})
    assert n.per_person[:3] == pytest.approx([0.2, 1.0, 0.4])
    P = np.zeros((rates.N_AGE, 1, 1))
    P[:3] = 50.0
    assert age_sum(n.per_person, P)[0, 0] == pytest.approx(80.0)


def _catchment(W, cap):
    from scipy import sparse
    return Catchment(sparse.csr_matrix(np.asarray(W, float)), np.asarray(cap, float),
                     np.ones(len(W), bool), pd.DataFrame())


def test_e2sfca_gap_conserves_supply_and_flags_shortfall():
    c = _catchment([[1, 0], [1, 1], [0, 1]], [100, 30])
    d = np.array([[50.0, 50.0, 50.0], [10.0, 10.0, 10.0]])
    s = e2sfca_draws(d, c)
    assert s.sum(1) == pytest.approx([130.0, 130.0])
    assert s[0] == pytest.approx([50.0, 65.0, 15.0])   # R = 100/100 and 30/100


def test_calibrated_reference_gives_no_shortfall_in_base_year():
    from weefsel.forward.gap import gap_year
    n = parse_norm("s", {"facility_types": ["school"], "per_age": {"0-14": 1.0}, "capacity_per_facility": 1})
    c = _catchment([[1, 0], [1, 1], [0, 1]], [1, 1])
    pop = np.zeros((3, rates.N_AGE))
    pop[:, 1] = [100.0, 10.0, 300.0]
    f = calibrate(n, c, pop, np.zeros(3))
    assert f == pytest.approx(410.0 / 2)
    P = pop.T[:, None, :]
    g0 = gap_year(n, c, P, np.zeros((1, 3)))
    assert (g0["p_shortfall"] == 0).all()
    P2 = P.copy()
    P2[1, 0, 0] *= 3                          # triple the children of area 0
    g1 = gap_year(n, c, P2, np.zeros((1, 3)))
    assert g1["p_shortfall"][0] == 1.0 and g1["gap_p50"][0] < 0


def test_gap_list_sorted_by_first_year_with_dutch_text():
    gap = pd.DataFrame({"scenario": "s", "variant": "basis", "norm": "basisschool",
                        "label_nl": "basisschoolplaatsen", "area_code": ["A", "A", "B", "B"],
                        "year": [2030, 2031, 2028, 2029], "p_shortfall": [0.4, 0.72, 0.6, 0.9]})
    gl = gap_list(gap)
    assert list(gl["area_code"]) == ["B", "A"]
    assert gl["text_nl"].iloc[1] == "tekort aan basisschoolplaatsen vanaf 2031, kans ~70%"


def test_monte_carlo_intervals_widen_and_are_reproducible():
    pop = np.full((2, rates.N_AGE), 30.0)
    prog = Programme(np.array([0]), np.array([2027]), np.array([400.0]))
    a, b = mc.draw(300, 1, seed=7), mc.draw(300, 1, seed=7)
    assert np.array_equal(a.delay, b.delay) and np.array_equal(a.occupancy_new, b.occupancy_new)
    tot = {}
    project(pop, np.array([250.0, 250.0]), prog, a, 2024, 2035,
            on_year=lambda y, P, H: tot.setdefault(y, mc.summarise(P.sum(0))))
    w = {y: q[4, 0] - q[0, 0] for y, q in tot.items()}
    assert w[2024] == pytest.approx(0, abs=1e-3)
    assert w[2035] > w[2026] > 0
    q = tot[2035]
    assert (np.diff(q[:, 0]) >= 0).all()


def test_backtest_known_answer_is_zero_error_and_sees_a_wrong_model():
    """Synthetic truth made with the central model itself -> zero error; a truth with twice
    the in-migration -> the error is found and grows with the horizon."""
    codes = np.array(["A", "B"])
    pop = np.vstack([np.full(rates.N_AGE, 20.0), np.full(rates.N_AGE, 200.0)])
    dw = pop.sum(1) / 2.2
    built = Programme(np.array([0]), np.array([2026]), np.array([50.0]))
    truth = {}
    project(pop, dw, built, Draws.point(1), 2020, 2026, dtype=np.float64,
            on_year=lambda y, P, H: truth.setdefault(y, P.sum(0)[0].copy()))
    obs = pd.DataFrame([{"area_code": c, "year": y, "population": truth[y][i]}
                        for y in (2022, 2024, 2026) for i, c in enumerate(codes)])
    ok = backtest(codes, pop, dw, 2020, obs, built)
    assert ok["mape"].max() < 1e-9
    bad_obs = obs.assign(population=obs["population"] * np.where(obs["year"] == 2026, 1.2, 1.05))
    bad = backtest(codes, pop, dw, 2020, bad_obs, built)
    assert bad.groupby("horizon")["mape"].mean().is_monotonic_increasing
    assert bad["mape"].min() > 3


@settings(max_examples=50, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 4), st.integers(1, 3)),
                elements=st.floats(-1e6, 1e6)))
def test_quantiles_equal_numpy(x):
    assert mc.quantiles(x) == pytest.approx(np.quantile(x, mc.QUANTILES, axis=0), rel=1e-9, abs=1e-6)


def test_adding_a_programme_row_keeps_the_other_rows_delays():
    a, b = mc.draw(50, 3, seed=5), mc.draw(50, 4, seed=5)
    assert np.array_equal(a.delay, b.delay[:, :3])
    assert np.array_equal(a.occupancy_new, b.occupancy_new)
