"""LEXIMIN/MAXIMIN/LEGACY against the published reference and brute force; seeded draws."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from weefsel.errors import InputError
from weefsel.participation.sortition.fair import fair_distribution
from weefsel.participation.sortition.io import load_instance
from weefsel.participation.sortition.legacy import legacy_probabilities
from weefsel.participation.sortition.model import Instance, Quota
from weefsel.participation.sortition.select import (
    draw_panel,
    replace_dropouts,
    rng_for,
    run_draw,
)
from weefsel.participation.sortition.stats import gini

REF = "participation/sortition/citizensassemblies-replication"


def example(data_dir, name, k):
    d = data_dir / REF / "data" / name
    return load_instance(d / "categories.csv", d / "respondents.csv", k)


def published_curve(data_dir, name, algorithm):
    """The published sorted probability curve (reference_output/*_prob_allocs_data.csv):
    (percentile of pool members, selection probability)."""
    import pandas as pd
    df = pd.read_csv(data_dir / REF / "reference_output" / f"{name}_prob_allocs_data.csv")
    df = df[df["algorithm"].str.lower() == algorithm]
    return df["percentile of pool members"].to_numpy(), df["selection probability"].to_numpy()


def gap_to_published(data_dir, name, algorithm, p) -> float:
    """Largest gap between weefsel's sorted probabilities and the published curve at the
    same percentiles (person number round(q * n / 100))."""
    q, pub = published_curve(data_dir, name, algorithm)
    ranked = np.sort(p)
    idx = np.minimum(np.rint(q * len(ranked) / 100).astype(int), len(ranked) - 1)
    return float(np.abs(ranked[idx] - pub).max())


@pytest.mark.parametrize("name,k", [("example_small_20", 20), ("example_large_200", 200)])
def test_leximin_gives_everyone_k_over_n(data_dir, name, k):
    inst = example(data_dir, name, k)
    dist, stats = fair_distribution(inst)
    p = dist.marginals(inst.n)
    assert np.allclose(p, k / inst.n, atol=1e-6)            # published: LEXIMIN minimum 10.0%
    assert gap_to_published(data_dir, name, "leximin", p) < 1e-3   # weefsel's curve = the published one
    assert stats["panels_in_support"] >= 1


def test_grouping_identical_people_changes_nothing():
    """The exact speed-up (units of interchangeable people) gives the plain LEXIMIN vector."""
    inst = small_instance()
    grouped, _ = fair_distribution(inst)
    plain, _ = fair_distribution(inst, group_identical=False)
    assert np.allclose(grouped.marginals(inst.n), plain.marginals(inst.n), atol=1e-6)
    assert all(len(panel) == inst.k for panel in plain.panels())
    assert grouped.panels() is None             # units of several people: counts, not id lists


def test_audit_lists_explicit_panels_when_everyone_differs():
    from weefsel.participation.sortition.audit import distribution_json
    people = [{"g": g, "a": a} for g, a in [("f", "y"), ("f", "o"), ("m", "y"), ("m", "o")]]
    inst = Instance(list("abcd"), people, [Quota("g", "f", 1, 1), Quota("g", "m", 1, 1),
                                           Quota("a", "y", 0, 2), Quota("a", "o", 0, 2)], 2)
    dist = distribution_json(run_draw(inst, "leximin", 1))
    assert dist["groups"] is None and all(len(p["members"]) == 2 for p in dist["panels"])
    assert sum(p["probability"] for p in dist["panels"]) == pytest.approx(1.0)


def test_legacy_is_far_below_k_over_n(data_dir):
    inst = example(data_dir, "example_small_20", 20)
    p = legacy_probabilities(inst, 400, rng_for(1))
    assert p.sum() == pytest.approx(20)
    assert p.min() < 0.05                     # published LEGACY minimum ≤ 1.21 %; LEXIMIN 10 %
    # shape of the published curve: one outlier, the only conservative woman, who only gets
    # one of the 2 seats left after the minimums (182 eligible): 2/182 ≈ 1.1 % (published 1.11 %)
    lonely = next(i for i, q in enumerate(inst.people) if q == {"gender": "female", "leaning": "conservative"})
    assert int(np.argmin(p)) == lonely
    assert abs(p[lonely] - 2 / 182) < 3 * np.sqrt(0.011 * 0.989 / 400)
    assert np.sort(p)[1] > 0.05               # everyone else near k/n, as in the published curve
    # weefsel's whole sorted LEGACY curve against the published one (10,000 samples there,
    # 400 here): within 3 binomial standard errors at k/n
    assert gap_to_published(data_dir, "example_small_20", "legacy", p) < 3 * np.sqrt(0.1 * 0.9 / 400)
    assert gini(p) > 0.01


def brute_force_maximin(inst: Instance) -> float:
    """Max over all lotteries of the minimum probability, by enumerating every panel (tiny n)."""
    m = inst.membership()
    lo = np.array([q.min for q in inst.quotas])
    hi = np.array([q.max for q in inst.quotas])
    groups = inst.household_groups()
    panels = [c for c in itertools.combinations(range(inst.n), inst.k)
              if ((m[:, list(c)].sum(axis=1) >= lo) & (m[:, list(c)].sum(axis=1) <= hi)).all()
              and all(len(set(g) & set(c)) <= 1 for g in groups)]
    a = np.zeros((inst.n, len(panels)))
    for j, c in enumerate(panels):
        a[list(c), j] = 1
    res = linprog(np.r_[np.zeros(len(panels)), -1], A_ub=np.c_[-a, np.ones(inst.n)], b_ub=np.zeros(inst.n),
                  A_eq=np.r_[np.ones(len(panels)), 0].reshape(1, -1), b_eq=[1],
                  bounds=[(0, None)] * len(panels) + [(None, None)], method="highs")
    return float(res.x[-1])


@st.composite
def instances(draw):
    n = draw(st.integers(4, 8))
    k = draw(st.integers(1, n - 1))
    genders = draw(st.lists(st.sampled_from(["f", "m"]), min_size=n, max_size=n))
    ages = draw(st.lists(st.sampled_from(["y", "o", "z"]), min_size=n, max_size=n))
    households = draw(st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", None, None]), min_size=n, max_size=n)))
    people = [{"g": g, "a": a} for g, a in zip(genders, ages)]
    quotas = []
    for cat, values in (("g", ["f", "m"]), ("a", ["y", "o", "z"])):
        for v in values:
            have = sum(p[cat] == v for p in people)
            lo = draw(st.integers(0, min(have, k)))
            quotas.append(Quota(cat, v, lo, draw(st.integers(lo, k))))
    return Instance([f"p{i}" for i in range(n)], people, quotas, k, households)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_leximin_properties(inst):
    try:
        dist, _ = fair_distribution(inst)
    except InputError:
        assert brute_force_maximin.__name__  # infeasible quotas are reported, not crashed
        return
    p = dist.marginals(inst.n)
    assert ((p >= -1e-9) & (p <= 1 + 1e-9)).all()
    assert p.sum() == pytest.approx(inst.k, abs=1e-6)
    assert dist.probabilities.sum() == pytest.approx(1.0)
    m = inst.membership()
    lo = np.array([q.min for q in inst.quotas])
    hi = np.array([q.max for q in inst.quotas])
    sizes = np.array([len(u) for u in dist.units])
    unit_m = np.column_stack([m[:, u[0]] for u in dist.units])
    for row in dist.counts:                     # every panel in the lottery meets the quotas
        assert row.sum() == inst.k and (row <= sizes).all()
        seats = unit_m @ row
        assert ((seats >= lo) & (seats <= hi)).all()
    for g in inst.household_groups():           # household members are never grouped
        assert all(len(u) == 1 for u in dist.units if u[0] in g)
    assert p.min() == pytest.approx(brute_force_maximin(inst), abs=1e-6)
    plain, _ = fair_distribution(inst, group_identical=False)
    assert np.allclose(p, plain.marginals(inst.n), atol=1e-5)
    maximin, _ = fair_distribution(inst, leximin=False)
    assert maximin.marginals(inst.n).min() == pytest.approx(p.min(), abs=1e-6)


def small_instance(households=None) -> Instance:
    people = [{"g": "f" if i % 2 else "m", "a": "y" if i < 6 else "o"} for i in range(12)]
    quotas = [Quota("g", "f", 2, 2), Quota("g", "m", 2, 2), Quota("a", "y", 1, 3), Quota("a", "o", 1, 3)]
    return Instance([f"p{i}" for i in range(12)], people, quotas, 4, households)


def test_seeded_draw_is_reproducible_and_meets_quotas():
    inst = small_instance()
    r1, r2 = run_draw(inst, "leximin", 7), run_draw(inst, "leximin", 7)
    assert r1.panel == r2.panel == draw_panel(r1.distribution, 7)
    seats = inst.membership()[:, r1.panel].sum(axis=1)
    assert list(seats[:2]) == [2, 2] and 1 <= seats[2] <= 3
    panels = {tuple(run_draw(inst, "leximin", s).panel) for s in range(8)}
    assert len(panels) > 1                      # the seed matters


def test_household_rule():
    households = [f"h{i // 2}" for i in range(12)]   # p0&p1 share, p2&p3 share, ...
    inst = small_instance(households)
    dist, _ = fair_distribution(inst)
    for s in range(5):
        panel = draw_panel(dist, s)
        assert len({households[i] for i in panel}) == len(panel)


def test_replacements_preserve_quotas_and_are_seeded():
    inst = small_instance()
    panel = run_draw(inst, "leximin", 3).panel
    drop = panel[:2]
    rep = replace_dropouts(inst, panel, drop, 11)
    assert rep == replace_dropouts(inst, panel, drop, 11)
    assert not set(rep) & set(panel)
    new = sorted(set(panel) - set(drop) | set(rep))
    seats = inst.membership()[:, new].sum(axis=1)
    assert len(new) == 4 and list(seats[:2]) == [2, 2] and 1 <= seats[2] <= 3


def test_replacement_impossible_says_which_quota():
    people = [{"g": "f"}, {"g": "f"}, {"g": "f"}, {"g": "m"}]
    inst = Instance(["a", "b", "c", "d"], people, [Quota("g", "f", 1, 1), Quota("g", "m", 1, 1)], 2)
    with pytest.raises(InputError, match="g=m.*1 persoon te weinig"):
        replace_dropouts(inst, [0, 3], [3], 1)  # the only man dropped out: nobody can replace him


def test_unknown_algorithm():
    with pytest.raises(InputError, match="onbekend algoritme"):
        run_draw(small_instance(), "random", 1)
