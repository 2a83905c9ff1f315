"""Utilitarian maximum welfare: a 0/1 knapsack solved with HiGHS (scipy.optimize.milp)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from weefsel.errors import InputError
from weefsel.participation.budgeting.election import Election
from weefsel.participation.budgeting.greedy import greedy_order
from weefsel.participation.budgeting.mes import _cost
from weefsel.participation.budgeting.outcome import Outcome, Step


def max_welfare(e: Election) -> Outcome:
    """The set of projects with the largest total score within the budget (0/1 knapsack, HiGHS).

    Among optimal sets HiGHS returns one; a second solve keeps the optimum and prefers the
    greedy-order earlier projects, so the answer is deterministic.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    m = len(e.project_ids)
    if m == 0:
        return Outcome("maxwelfare", [], e.budget, Fraction(0))
    scores = np.array([float(s) for s in e.scores])
    costs = np.array([float(c) for c in e.costs])
    cons = [LinearConstraint(costs[None, :], -np.inf, float(e.budget))]
    res = milp(-scores, constraints=cons, integrality=np.ones(m), bounds=Bounds(0, 1))
    if not res.success:
        raise InputError(f"maximum welfare: solver failed ({res.message})")
    best = float(-res.fun)
    order = greedy_order(e)
    tiebreak = np.zeros(m)
    for r, j in enumerate(order):
        tiebreak[j] = (m - r) / (m * m + 1.0)
    cons2 = cons + [LinearConstraint(scores[None, :], best - 0.5, np.inf)]
    res2 = milp(-tiebreak, constraints=cons2, integrality=np.ones(m), bounds=Bounds(0, 1))
    x = res2.x if res2.success else res.x
    chosen = [j for j in order if x[j] > 0.5]
    # exact check of the solver's answer
    if _cost(e, chosen) > e.budget:
        raise InputError("maximum welfare: solver answer exceeds the budget")
    steps = {pid: Step(pid, j in chosen, e.budget - _cost(e, chosen), e.votes[j]) for j, pid in enumerate(e.project_ids)}
    return Outcome("maxwelfare", [e.project_ids[j] for j in chosen], e.budget, _cost(e, chosen), steps)
