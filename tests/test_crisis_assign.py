"""Assignment: min-cost flow against brute force on small cases; k distinct helpers,
capacity, walking range, the unassigned arc and stable re-assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.crisis.assign import assign, candidate_arcs, greedy

coord = st.integers(0, 1000).map(float)


def brute(R, H, cap, k, rng, existing=frozenset(), bonus=100, big=None):
    """Every resident picks a subset (≤ k) of helpers in range. Without ``big``: the least
    (unassigned visits, distance) lexicographically; with it: distance + big per gap."""
    R, H = np.asarray(R, float), np.asarray(H, float)
    nR, nH = len(R), len(H)
    inrange = [[h for h in range(nH) if np.hypot(*(R[r] - H[h])) <= rng] for r in range(nR)]
    choices = [[c for m in range(k + 1) for c in itertools.combinations(inrange[r], m)]
               for r in range(nR)]
    best = None
    for combo in itertools.product(*choices):
        load = np.zeros(nH, int)
        cost, gaps = 0, 0
        for r, hs in enumerate(combo):
            for h in hs:
                load[h] += 1
                c = int(np.rint(np.hypot(*(R[r] - H[h]))))
                cost += c - (bonus if (r, h) in existing else 0)
            gaps += k - len(hs)
        key = (gaps, cost) if big is None else cost + big * gaps
        if (load <= cap).all() and (best is None or key < best):
            best = key
    return best


@settings(max_examples=60, deadline=None)
@given(R=st.lists(st.tuples(coord, coord), min_size=1, max_size=4),
       H=st.lists(st.tuples(coord, coord), min_size=1, max_size=4),
       caps=st.lists(st.integers(0, 3), min_size=4, max_size=4),
       k=st.integers(1, 2), rng=st.integers(100, 900))
def test_matches_brute_force(R, H, caps, k, rng):
    cap = np.array(caps[: len(H)])
    a = assign(R, H, capacity=cap, k=k, walk_range_m=rng)
    assert (int(a.shortfall.sum()), a.cost) == brute(R, H, cap, k, rng)
    # feasibility of what was returned
    assert (np.bincount(a.helper, minlength=len(H)) <= cap).all()
    pairs = list(zip(a.resident.tolist(), a.helper.tolist()))
    assert len(pairs) == len(set(pairs)), "helpers of one resident must be distinct"
    assert (a.distance_m <= rng + 1e-9).all()
    assert (np.bincount(a.resident, minlength=len(R)) <= k).all()


@settings(max_examples=30, deadline=None)
@given(R=st.lists(st.tuples(coord, coord), min_size=1, max_size=3),
       H=st.lists(st.tuples(coord, coord), min_size=2, max_size=4),
       seed=st.integers(0, 10_000))
def test_stability_bonus_matches_brute_force(R, H, seed):
    rnd = np.random.default_rng(seed)
    existing = {(r, h) for r in range(len(R)) for h in range(len(H)) if rnd.random() < 0.4}
    a = assign(R, H, capacity=2, k=2, walk_range_m=700, existing=existing)
    assert (int(a.shortfall.sum()), a.cost) == brute(R, H, np.full(len(H), 2), 2, 700,
                                                     frozenset(existing))


@settings(max_examples=40, deadline=None)
@given(R=st.lists(st.tuples(coord, coord), min_size=1, max_size=4),
       H=st.lists(st.tuples(coord, coord), min_size=1, max_size=4),
       big=st.integers(50, 3000))
def test_priced_unassigned_arc_matches_brute_force(R, H, big):
    a = assign(R, H, capacity=1, k=2, walk_range_m=800, unassigned_cost=big)
    assert a.cost + big * int(a.shortfall.sum()) == brute(R, H, np.ones(len(H), int), 2, 800,
                                                          big=big)


def test_unassigned_arc_shows_who_lacks_a_helper():
    R = [(0, 0), (5000, 5000)]           # the second lives far from every helper
    H = [(100, 0), (0, 100), (200, 0)]
    a = assign(R, H, capacity=1, k=2, walk_range_m=500)
    assert a.helpers_of(0) == [0, 1]      # the two nearest
    assert a.shortfall.tolist() == [0, 2]
    assert a.coverage == 0.5


def test_coverage_beats_distance():
    # resident 0 could take both near helpers, but then resident 1 gets none:
    # coverage first, so each gets what keeps both served.
    R = [(0, 0), (400, 0)]
    H = [(100, 0), (300, 0)]
    a = assign(R, H, capacity=1, k=1, walk_range_m=450)
    assert sorted(zip(a.resident.tolist(), a.helper.tolist())) == [(0, 0), (1, 1)]
    assert (a.shortfall == 0).all()


def test_drop_out_keeps_stable_pairs():
    rnd = np.random.default_rng(3)
    R, H = rnd.uniform(0, 2000, (40, 2)), rnd.uniform(0, 2000, (30, 2))
    first = assign(R, H, capacity=3, k=2, walk_range_m=700)
    gone = 5
    keep_idx = [h for h in range(len(H)) if h != gone]
    remap = {old: new for new, old in enumerate(keep_idx)}
    old_pairs = {(r, remap[h]) for r, h in zip(first.resident.tolist(), first.helper.tolist())
                 if h != gone}
    second = assign(R, H[keep_idx], capacity=3, k=2, walk_range_m=700, existing=old_pairs)
    new_pairs = set(zip(second.resident.tolist(), second.helper.tolist()))
    lost = {r for r, h in zip(first.resident.tolist(), first.helper.tolist()) if h == gone}
    # everyone not touched by the drop-out keeps every helper
    for r, h in old_pairs:
        if r not in lost:
            assert (r, h) in new_pairs
    assert second.coverage >= first.coverage - len(lost) / len(R)


def test_greedy_peer_never_beats_flow_on_coverage_then_distance():
    rnd = np.random.default_rng(7)
    R, H = rnd.uniform(0, 3000, (300, 2)), rnd.uniform(0, 3000, (90, 2))
    f = assign(R, H, capacity=4, k=2, walk_range_m=500)
    g = greedy(R, H, capacity=4, k=2, walk_range_m=500)
    assert f.shortfall.sum() <= g.shortfall.sum()
    if f.shortfall.sum() == g.shortfall.sum():
        assert f.total_distance_m <= g.total_distance_m + 1e-6


def test_max_candidates_subset_of_range():
    rnd = np.random.default_rng(1)
    R, H = rnd.uniform(0, 1000, (50, 2)), rnd.uniform(0, 1000, (80, 2))
    ri, hi, d = candidate_arcs(R, H, 300, max_candidates=4)
    ra, ha, da = candidate_arcs(R, H, 300)
    assert set(zip(ri.tolist(), hi.tolist())) <= set(zip(ra.tolist(), ha.tolist()))
    assert (np.bincount(ri, minlength=50) <= 4).all()


def test_bad_coordinates_one_line():
    from weefsel.errors import InputError
    with pytest.raises(InputError, match="coördinaten"):
        assign([(0, float("nan"))], [(0, 0)])


def test_empty_sides_solve():
    assert assign([], [], k=2).coverage == 1.0
    a = assign([(0, 0)], [], k=2)
    assert a.shortfall.tolist() == [2] and len(a.resident) == 0
    assert assign([], [(0, 0)], k=2).summary()["pairs"] == 0
