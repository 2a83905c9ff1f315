"""Persistent HiGHS models (highspy) for column generation: warm-started, built once.

Rebuilding the LP and the ILP for every round (as a one-shot ``linprog``/``milp`` call
does) costs more than solving them; here the master LP only gains a column per round and
the pricing ILP only changes its objective.
"""

from __future__ import annotations

import highspy
import numpy as np

from weefsel.participation.sortition.ilp import PanelProblem

INF = highspy.kHighsInf


def _quiet(h: highspy.Highs) -> None:
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)


class MasterLP:
    """max z s.t. Σ_P share[t,P]·p_P ≥ z (free units), ≥ fixed_t (fixed), Σ p_P = 1."""

    def __init__(self, sizes: np.ndarray):
        self.sizes = np.asarray(sizes, dtype=float)
        self.t = len(sizes)
        h = self.h = highspy.Highs()
        _quiet(h)
        h.setOptionValue("presolve", "off")          # keeps warm starts effective
        for _ in range(self.t):                        # unit rows: z − Σ share·p ≤ 0
            h.addRow(-INF, 0.0, 0, np.array([], dtype=np.int32), np.array([], dtype=float))
        h.addRow(1.0, 1.0, 0, np.array([], dtype=np.int32), np.array([], dtype=float))
        rows = np.arange(self.t, dtype=np.int32)
        h.addCol(-1.0, -INF, INF, self.t, rows, np.ones(self.t))       # z, minimise −z
        self.panels = 0

    def add_panel(self, counts: np.ndarray) -> None:
        nz = np.flatnonzero(counts)
        idx = np.concatenate([nz, [self.t]]).astype(np.int32)
        val = np.concatenate([-counts[nz] / self.sizes[nz], [1.0]])
        self.h.addCol(0.0, 0.0, INF, len(idx), idx, val)
        self.panels += 1

    def fix(self, unit: int, value: float) -> None:
        """Unit ``unit`` must keep at least ``value``; it no longer counts for z."""
        self.h.changeCoeff(unit, 0, 0.0)
        self.h.changeRowBounds(unit, -INF, -value)

    def solve(self) -> tuple[np.ndarray, float, np.ndarray, float]:
        """Panel probabilities, z, unit duals y ≥ 0, and μ (dual of Σ p = 1)."""
        self.h.run()
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"master LP: {self.h.modelStatusToString(status)}")
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value)
        duals = np.asarray(sol.row_dual)
        return x[1:], float(x[0]), np.maximum(-duals[:self.t], 0.0), -float(duals[self.t])


class Pricer:
    """The quota ILP with a changing objective: the best panel for given unit weights."""

    def __init__(self, prob: PanelProblem):
        self.prob = prob
        h = self.h = highspy.Highs()
        _quiet(h)
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-12)
        h.setOptionValue("presolve", "off")          # tiny ILPs: presolve costs more than it saves (2x)
        t = prob.units
        h.addVars(t, np.zeros(t), prob.sizes.astype(float))
        h.changeColsIntegrality(t, np.arange(t, dtype=np.int32),
                                np.array([highspy.HighsVarType.kInteger] * t))
        all_idx = np.arange(t, dtype=np.int32)
        h.addRow(float(prob.k), float(prob.k), t, all_idx, np.ones(t))
        for j in range(len(prob.lo)):
            nz = np.flatnonzero(prob.membership[j]).astype(np.int32)
            h.addRow(float(prob.lo[j]), float(prob.hi[j]), len(nz), nz, prob.membership[j, nz].astype(float))
        for members in prob.households:
            idx = np.array(members, dtype=np.int32)
            h.addRow(-INF, 1.0, len(idx), idx, np.ones(len(idx)))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)

    def best(self, weights: np.ndarray) -> tuple[np.ndarray, float] | None:
        t = self.prob.units
        self.h.changeColsCost(t, np.arange(t, dtype=np.int32), np.asarray(weights, dtype=float))
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        counts = np.rint(np.asarray(self.h.getSolution().col_value)).astype(int)
        return counts, float(np.dot(weights, counts))
