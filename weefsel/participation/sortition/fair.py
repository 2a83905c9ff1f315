"""MAXIMIN and LEXIMIN panel distributions by column generation.

After Flanigan, Gölz, Gupta, Hennig & Procaccia, "Fair algorithms for selecting citizens'
assemblies", Nature 596 (2021) 548-552. Written from the linear programs in the paper
(not from its GPL code):

master LP over a growing set of panels P (variables p_P ≥ 0, Σ p_P = 1, and z):
    maximise z  s.t.  π_i(p) = Σ_{P∋i} p_P ≥ z   for every person i not yet fixed
                      π_i(p) ≥ fixed_i          for every fixed person
The LP duals y_i ≥ 0 and μ (for Σ p_P = 1) price a new panel: the ILP max Σ_{i∈P} y_i
over quota-feasible panels. A panel worth more than μ improves the LP; when none exists,
the LP optimum z* is optimal over *all* panels. MAXIMIN stops there. LEXIMIN then fixes
every person with positive dual at z* (complementary slackness: they are at z* in every
optimal distribution) and repeats for the others until everyone is fixed.

Speed-up (exact, our addition): people with identical features and no shared household
are interchangeable, and the leximin selection probabilities are unique, so they get equal
probabilities. We therefore work with *units* of interchangeable people and panels as
counts per unit; within a unit the seated members are drawn uniformly. With many
categories almost every unit is one person and this is the plain algorithm.
Solvers: HiGHS (highspy: persistent warm-started models, see ``highs_models``; the
one-shot scipy.optimize.milp for the starting panels), open source and on PyPI.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csc_matrix, hstack

from weefsel.participation.sortition.highs_models import MasterLP, Pricer
from weefsel.participation.sortition.ilp import (
    PanelProblem,
    best_panel,
    require_feasible,
)
from weefsel.participation.sortition.model import Distribution, Instance

EPS_PRICE = 1e-9     # a panel must beat the dual bound by this much to enter
EPS_FIX = 1e-10      # slack when fixing a tier (keeps the next LPs feasible numerically)
EPS_DUAL = 1e-9      # a dual above this marks a unit as tight


def units_of(inst: Instance) -> list[tuple[int, ...]]:
    """Groups of interchangeable people, in pool order (household members stay single)."""
    in_household = {i for g in inst.household_groups() for i in g}
    cats = inst.categories
    groups: dict[tuple, list[int]] = {}
    for i, person in enumerate(inst.people):
        key = ("person", i) if i in in_household else tuple(person[c] for c in cats)
        groups.setdefault(key, []).append(i)
    return [tuple(g) for g in groups.values()]


def unit_problem(inst: Instance, units: list[tuple[int, ...]]) -> PanelProblem:
    """The quota ILP over units (counts per unit)."""
    m = inst.membership()
    membership = np.column_stack([m[:, u[0]] for u in units])
    where = {u[0]: t for t, u in enumerate(units) if len(u) == 1}
    households = [[where[i] for i in g] for g in inst.household_groups()]
    return PanelProblem(membership, np.array([len(u) for u in units], dtype=float), inst.k,
                        np.array([q.min for q in inst.quotas], dtype=float),
                        np.array([q.max for q in inst.quotas], dtype=float),
                        households, [f"{q.category}={q.feature}" for q in inst.quotas])


def _initial_panels(prob: PanelProblem, rounds: int) -> list[tuple[int, ...]]:
    """Diverse starting panels: maximise per-person weights that halve once covered.

    Deterministic (no randomness), so the whole computation is reproducible.
    """
    weights = np.ones(prob.units)
    tiebreak = 1e-6 * np.linspace(1.0, 0.0, prob.units)
    panels: list[tuple[int, ...]] = []
    for _ in range(rounds):
        found = best_panel(prob, weights + tiebreak)
        if found is None:
            break
        key = tuple(int(c) for c in found[0])
        if key not in panels:
            panels.append(key)
        weights *= 0.5 ** (found[0] / prob.sizes)
    return panels


def _solve_master(prob: PanelProblem, panels: list[tuple[int, ...]], fixed: dict[int, float]
                  ) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Master LP over units; returns panel probabilities, z, unit duals y and μ."""
    t, m = prob.units, len(panels)
    shares = csc_matrix(np.array(panels, dtype=float).T / prob.sizes[:, None])   # t × m
    free = np.array([u not in fixed for u in range(t)], dtype=float).reshape(-1, 1)
    a_ub = hstack([-shares, csc_matrix(free)]).tocsc()
    b_ub = np.zeros(t)
    for u, v in fixed.items():
        b_ub[u] = -v
    c = np.zeros(m + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=np.concatenate([np.ones(m), [0.0]]).reshape(1, -1),
                  b_eq=[1.0], bounds=[(0, None)] * m + [(None, None)], method="highs")
    if res.status != 0:
        raise RuntimeError(f"master LP failed: {res.message}")
    y = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
    return np.asarray(res.x[:m]), float(res.x[-1]), y, -float(res.eqlin.marginals[0])


def fair_distribution(inst: Instance, *, leximin: bool = True,
                      progress: Callable[[int, int], None] | None = None,
                      group_identical: bool = True, extra_columns: int = 4,
                      max_iterations: int = 100_000) -> tuple[Distribution, dict]:
    """LEXIMIN (or MAXIMIN) distribution over quota-feasible panels, with solver statistics.

    ``group_identical=False`` keeps one unit per person (the paper's plain formulation).
    """
    require_feasible(inst)
    t0 = time.perf_counter()
    units = units_of(inst) if group_identical else [(i,) for i in range(inst.n)]
    prob = unit_problem(inst, units)
    rounds = max(3, min(40, 2 * int(np.ceil(prob.units / max(inst.k, 1)))))
    panels = _initial_panels(prob, rounds)
    known = set(panels)
    master, pricer = MasterLP(prob.sizes), Pricer(prob)
    for panel in panels:
        master.add_panel(np.array(panel, dtype=float))
    fixed: dict[int, float] = {}
    tiers: list[float] = []
    iterations = 0
    while True:
        while True:
            iterations += 1
            if iterations > max_iterations:
                raise RuntimeError("column generation did not converge")
            probs, z, y, mu = master.solve()
            found = pricer.best(y / prob.sizes)
            if found is None or found[1] <= mu + EPS_PRICE:
                break
            key = tuple(int(c) for c in found[0])
            if key in known:
                break
            panels.append(key)
            known.add(key)
            master.add_panel(found[0].astype(float))
            # more improving panels from the same duals, avoiding the seats just used:
            # fewer LP rounds for pools where everyone is different (cheap, exactness unaffected)
            w = y / prob.sizes
            used = found[0].astype(float)
            for _ in range(extra_columns):
                w = w * np.where(used > 0, 0.0, 1.0)
                more = pricer.best(w)
                if more is None:
                    break
                value = float(np.dot(y / prob.sizes, more[0]))
                k2 = tuple(int(c) for c in more[0])
                if value <= mu + EPS_PRICE or k2 in known:
                    break
                panels.append(k2)
                known.add(k2)
                master.add_panel(more[0].astype(float))
                used = more[0].astype(float)
        tiers.append(z)
        free = [u for u in range(prob.units) if u not in fixed]
        tight = [u for u in free if y[u] > EPS_DUAL] or free
        for u in tight:
            fixed[u] = max(z - EPS_FIX, 0.0)
            master.fix(u, fixed[u])
        if progress is not None:
            progress(sum(len(units[u]) for u in fixed), inst.n)
        if not leximin or len(fixed) == prob.units:
            break
    probs = np.clip(probs, 0.0, None)
    keep = probs > 1e-12
    counts = np.array(panels, dtype=int)[keep]
    dist = Distribution(units=units, counts=counts, probabilities=probs[keep] / probs[keep].sum())
    stats = {"iterations": iterations, "units": prob.units, "panels_generated": len(panels),
             "panels_in_support": int(keep.sum()), "tiers": len(tiers),
             "minimum_probability_lp": tiers[0], "runtime_s": time.perf_counter() - t0}
    return dist, stats
