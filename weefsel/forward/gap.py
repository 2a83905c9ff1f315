"""The gap: demand from the norms against supply in reach, per draw, area and year.

Supply reaches demand through the accessibility engine's floating catchment (E2SFCA,
weefsel.analysis.access): facility j with capacity S_j serves the demand in its catchment,
R_j = S_j / Σ_k d_k w(c_kj), and area i receives A_i = Σ_j R_j w(c_ij) units per unit of
demand. Supply available to i is A_i · d_i (Σ_i A_i d_i = the capacity of every facility
with demand in reach), and the gap is A_i · d_i − d_i: negative is a shortfall. Done for
every draw at once with one sparse matrix product per year and norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from weefsel.analysis.access.decay import parse_decay
from weefsel.analysis.access.distance import EuclideanDetour
from weefsel.forward.montecarlo import quantiles
from weefsel.forward.norms import Norm


@dataclass
class Catchment:
    """Area × facility weights for one norm and the facilities' capacities in norm units."""

    W: sparse.csr_matrix     # (A, F)
    capacity: np.ndarray     # (F,)
    has_point: np.ndarray    # (A,) bool
    facilities: pd.DataFrame
    reference: np.ndarray | None = None  # (A,) service level that counts as "enough" (default 1)


def catchment(norm: Norm, area_xy: np.ndarray, supply: pd.DataFrame, *, decay: str = "gaussian:1500",
              detour: float = 1.3) -> Catchment:
    fac = supply[supply["type"].isin(norm.facility_types)].reset_index(drop=True)
    has = np.isfinite(area_xy).all(axis=1)
    A, F = len(area_xy), len(fac)
    cap = fac["capacity"].to_numpy(float) * norm.capacity_per_facility
    if F == 0 or not has.any():
        return Catchment(sparse.csr_matrix((A, F)), cap, has, fac)
    dec = parse_decay(decay)
    model = EuclideanDetour(detour)
    idx = np.flatnonzero(has)
    pairs = model.pairs_within(area_xy[idx], fac[["x_rd", "y_rd"]].to_numpy(float), dec.max_cost)
    w = dec(pairs.cost)
    W = sparse.csr_matrix((w, (idx[pairs.rows], pairs.cols)), shape=(A, F))
    return Catchment(W, cap, has, fac)


def calibrate(norm: Norm, c: Catchment, population: np.ndarray, dwellings: np.ndarray) -> float:
    """Scale the capacities so that supply in reach equals the base year's demand (in place).

    Used when the facilities carry no real capacity (a count × capacity_per_facility):
    then the base-year level of supply is unknown and only the change is meaningful.
    Returns the factor applied (1 when there is nothing to scale).
    """
    if c.W.shape[1] == 0:
        return 1.0
    d = (population @ norm.per_person + dwellings * norm.per_dwelling) * c.has_point
    in_reach = np.asarray((c.W != 0).sum(axis=0)).ravel() > 0
    s = c.capacity[in_reach].sum()
    if s <= 0 or d.sum() <= 0:
        return 1.0
    factor = float(d.sum() / s)
    c.capacity = c.capacity * factor
    # the base year's own level (capped at the norm) is the reference: a shortfall is a
    # fall below what the area has today, not an artefact of unknown capacities
    d1 = d[None, :].astype(np.float64)
    supplied = e2sfca_draws(d1, c)[0]
    level = np.divide(supplied, d, out=np.ones_like(d, dtype=float), where=d > 0)
    c.reference = np.minimum(level, 1.0)
    return factor


def e2sfca_draws(d: np.ndarray, c: Catchment) -> np.ndarray:
    """(D, A) supply available to each area's demand ``d`` (D, A), per draw."""
    if c.W.shape[1] == 0:
        return np.zeros_like(d)
    denom = (c.W.T @ d.T.astype(np.float64)).T          # (D, F)
    R = np.divide(c.capacity[None, :], denom, out=np.zeros_like(denom), where=denom > 0)
    acc = (c.W @ R.T).T                                  # (D, A)
    return (acc * d).astype(d.dtype)


GAP_Q = (0.10, 0.50, 0.90)


def gap_year(norm: Norm, c: Catchment, P: np.ndarray, H: np.ndarray,
             total: np.ndarray | None = None, tolerance: float = 0.05,
             min_share: float = 0.05) -> dict[str, np.ndarray]:
    """Summary for one year: P (18, D, A) residents, H (D, A) dwellings.

    gap = supply in reach − demand × reference level; a draw is short when the gap is
    below −tolerance × that need (default 5%) and larger than ``min_share`` of one standard
    facility (5%: 11.5 school places, 0.1 GP fte), so empty areas with a handful of
    future residents do not fill the list.
    """
    d = norm.demand(P, H, total)
    s = e2sfca_draws(d, c)
    need = d if c.reference is None else d * c.reference.astype(d.dtype)
    g = s - need
    A = d.shape[1]
    q = quantiles(np.concatenate([d, s, g], axis=1), GAP_Q)
    floor = min_share * norm.capacity_per_facility
    short = (g < -np.maximum(tolerance * need, floor)) & (d > 0)
    return {"demand_p50": q[1, :A], "supply_p50": q[1, A:2 * A], "gap_p10": q[0, 2 * A:],
            "gap_p50": q[1, 2 * A:], "gap_p90": q[2, 2 * A:], "p_shortfall": short.mean(axis=0)}


def demand_year(norm: Norm, P: np.ndarray, H: np.ndarray,
                total: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Demand only (a norm without supply data): supply and gap stay NaN."""
    d = norm.demand(P, H, total)
    nan = np.full(d.shape[1], np.nan)
    return {"demand_p50": quantiles(d, (0.5,))[0], "supply_p50": nan, "gap_p10": nan,
            "gap_p50": nan, "gap_p90": nan, "p_shortfall": nan}


def gap_list(gap: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per area and norm the first year with P(shortfall) ≥ threshold, sorted by that year."""
    hit = gap[gap["p_shortfall"] >= threshold].sort_values("year")
    keys = ["scenario", "variant", "area_code", "norm"]
    first = hit.groupby(keys, as_index=False).first()
    if first.empty:
        return first.assign(first_year=pd.Series(dtype=int), text_nl=pd.Series(dtype=str))
    first = first.rename(columns={"year": "first_year", "p_shortfall": "probability"})
    first["text_nl"] = [f"tekort aan {lab} vanaf {y}, kans ~{int(round(p * 100 / 5) * 5)}%"
                        for lab, y, p in zip(first["label_nl"], first["first_year"], first["probability"])]
    return first.sort_values(["first_year", "probability"], ascending=[True, False]).reset_index(drop=True)
