"""Integer programs over panels (HiGHS through scipy.optimize.milp).

A panel is a vector of counts over *units*: a unit is one person, or a group of
interchangeable people (same value in every category, no shared household), with
``size`` members. Constraints: panel size k, every quota's min/max, at most one per
household. Used to price new panels in column generation, to check that quotas can be met
(saying which quota fails by how many people), and to pick replacements for drop-outs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from weefsel.errors import InputError
from weefsel.participation.sortition.model import Instance


@dataclass
class PanelProblem:
    """Quota ILP data: membership (quotas × units), unit sizes, bounds, household rows."""

    membership: np.ndarray
    sizes: np.ndarray
    k: int
    lo: np.ndarray
    hi: np.ndarray
    households: list[list[int]]
    labels: list[str]

    @property
    def units(self) -> int:
        return len(self.sizes)

    def constraints(self) -> list[LinearConstraint]:
        t = self.units
        rows = [LinearConstraint(np.ones((1, t)), self.k, self.k),
                LinearConstraint(csr_matrix(self.membership), self.lo, self.hi)]
        if self.households:
            h = np.zeros((len(self.households), t))
            for g, members in enumerate(self.households):
                h[g, members] = 1.0
            rows.append(LinearConstraint(csr_matrix(h), -np.inf, 1.0))
        return rows


def person_problem(inst: Instance, *, k: int | None = None,
                   base_counts: np.ndarray | None = None) -> PanelProblem:
    """One unit per person; ``base_counts`` (per quota) are members already seated."""
    lo = np.array([q.min for q in inst.quotas], dtype=float)
    hi = np.array([q.max for q in inst.quotas], dtype=float)
    if base_counts is not None:
        lo, hi = lo - base_counts, hi - base_counts
    return PanelProblem(inst.membership(), np.ones(inst.n), inst.k if k is None else k,
                        lo, hi, inst.household_groups(),
                        [f"{q.category}={q.feature}" for q in inst.quotas])


def best_panel(prob: PanelProblem, weights: np.ndarray, *, upper: np.ndarray | None = None
               ) -> tuple[np.ndarray, float] | None:
    """Counts per unit of the feasible panel with the largest total weight (None if none).

    ``weights`` are per seat of a unit; ``upper`` caps each unit (default its size).
    """
    ub = prob.sizes.astype(float) if upper is None else np.asarray(upper, dtype=float)
    res = milp(c=-np.asarray(weights, dtype=float), integrality=np.ones(prob.units),
               bounds=Bounds(np.zeros(prob.units), ub), constraints=prob.constraints(),
               options={"disp": False, "mip_rel_gap": 1e-9})
    if res.x is None or res.status != 0:
        return None
    counts = np.rint(res.x).astype(int)
    return counts, float(np.dot(weights, counts))


def diagnose(prob: PanelProblem, *, upper: np.ndarray | None = None) -> list[str]:
    """Which quotas cannot be met and by how many people (minimum total violation).

    The panel ILP with integer slack on every quota bound, minimising the slack.
    Returns readable lines; empty when a panel exists.
    """
    t, nq = prob.units, len(prob.lo)
    eye = np.eye(nq)
    cons = [LinearConstraint(np.hstack([np.ones((1, t)), np.zeros((1, 2 * nq))]), prob.k, prob.k),
            LinearConstraint(np.hstack([prob.membership, eye, -eye]), prob.lo, prob.hi)]
    if prob.households:
        h = np.zeros((len(prob.households), t + 2 * nq))
        for g, members in enumerate(prob.households):
            h[g, members] = 1.0
        cons.append(LinearConstraint(h, -np.inf, 1.0))
    ub_units = prob.sizes.astype(float) if upper is None else np.asarray(upper, dtype=float)
    ub = np.concatenate([ub_units, np.full(2 * nq, np.inf)])
    res = milp(c=np.concatenate([np.zeros(t), np.ones(2 * nq)]), integrality=np.ones(t + 2 * nq),
               bounds=Bounds(np.zeros(t + 2 * nq), ub), constraints=cons, options={"disp": False})
    if res.x is None:
        return [f"geen panel van {prob.k} mensen te vormen uit {int(ub_units.sum())} beschikbare mensen"
                + (" (hoogstens één per huishouden)" if prob.households else "")]
    out = []
    for j in range(nq):
        under, over = res.x[t + j], res.x[t + nq + j]
        if under > 0.5:
            out.append(f"quotum {prob.labels[j]} (min {prob.lo[j]:g}) is niet te halen: "
                       f"{_personen(int(round(under)))} te weinig")
        if over > 0.5:
            out.append(f"quotum {prob.labels[j]} (max {prob.hi[j]:g}) is niet te halen: "
                       f"{_personen(int(round(over)))} te veel")
    return out


def _personen(n: int) -> str:
    return f"{n} {'persoon' if n == 1 else 'personen'}"


def require_feasible(inst: Instance) -> None:
    """Raise InputError naming the failing quotas when no panel satisfies them (Dutch: the
    burgerberaad web pages show the message as it is)."""
    prob = person_problem(inst)
    if best_panel(prob, np.zeros(inst.n)) is None:
        lines = diagnose(prob) or ["geen enkel panel voldoet aan de quota"]
        raise InputError("; ".join(lines), where=inst.source or "quotas")
