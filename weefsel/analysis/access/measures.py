"""Accessibility measures per demand point, vectorised over all points of a type.

Per facility type t and demand point i (population p_i), with travel cost c_ij from the
:class:`~.distance.DistanceModel`:

* ``nearest_distance``      min_j c_ij (metres; inf when type t has no facility)
* ``count_within_<r>``      #{j : c_ij ≤ r} for r in ``radii`` (default 500/1000/3000 m)
* ``e2sfca``                A_i = Σ_j R_j w(c_ij), R_j = S_j / Σ_k p_k w(c_kj)
                            (Luo & Qi 2009; identical to PySAL ``access``; R_j = 0 when no
                            resident lies in facility j's catchment, so A_i is always defined)
* ``diversity_shannon``     H_i = -Σ_t q_it ln q_it over meeting-place types,
                            q_it = n_it / Σ_t n_it with n_it = count within ``walk_distance``
                            (0 when there is none or one type: no variety)
* ``types_within``          number of distinct meeting-place types within ``walk_distance``
* ``has_meeting_place``     1 if any meeting place lies within ``share_distance``, else 0
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from weefsel.analysis.access.decay import Decay, parse_decay
from weefsel.analysis.access.distance import DistanceModel, EuclideanDetour, Pairs

ALL_MEETING = "meeting_places"


@dataclass
class AccessConfig:
    """Parameters of one accessibility run (all costs in metres)."""

    detour: float = 1.3
    decay: Decay = field(default_factory=lambda: parse_decay("gaussian:1500"))
    radii: tuple[float, ...] = (500.0, 1000.0, 3000.0)
    walk_distance: float = 1000.0
    share_distance: float = 1000.0
    meeting_types: tuple[str, ...] | None = None  # None: every facility type counts as a meeting place
    types: tuple[str, ...] | None = None           # None: every type present

    def model(self) -> DistanceModel:
        return EuclideanDetour(self.detour)


def e2sfca(demand_xy: np.ndarray, population: np.ndarray, supply_xy: np.ndarray,
           capacity: np.ndarray, model: DistanceModel, decay: Decay) -> tuple[np.ndarray, np.ndarray]:
    """E2SFCA ratio per demand point and supply-to-demand ratio R_j per facility."""
    pairs = model.pairs_within(demand_xy, supply_xy, decay.max_cost)
    return e2sfca_from_pairs(pairs, population, capacity, decay, len(demand_xy))


def e2sfca_from_pairs(pairs: Pairs, population: np.ndarray, capacity: np.ndarray, decay: Decay,
                      n_demand: int) -> tuple[np.ndarray, np.ndarray]:
    """Both E2SFCA steps as two sparse passes (np.bincount) over pairs, no loops.

    Pairs beyond ``decay.max_cost`` are ignored, so one wider pair list can serve all measures.
    """
    keep = pairs.cost <= decay.max_cost
    rows, cols = pairs.rows[keep], pairs.cols[keep]
    w = decay(pairs.cost[keep])
    n_s = len(capacity)
    weighted_demand = np.bincount(cols, weights=population[rows] * w, minlength=n_s)
    ratio = np.zeros(n_s)
    np.divide(capacity, weighted_demand, out=ratio, where=weighted_demand > 0)
    score = np.bincount(rows, weights=ratio[cols] * w, minlength=n_demand)
    return score, ratio


def shannon(counts: np.ndarray) -> np.ndarray:
    """Shannon diversity (natural log) of each row of a (points × types) count matrix."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=1, keepdims=True)
    q = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(q), 0.0)
    return -terms.sum(axis=1) + 0.0  # +0.0 turns -0.0 into 0.0


def point_measures(demand: pd.DataFrame, facilities: pd.DataFrame, config: AccessConfig,
                   model: DistanceModel | None = None,
                   only_types: Sequence[str] | None = None) -> dict[tuple[str, str], np.ndarray]:
    """All measures per demand point: {(measure, facility_type): values aligned with ``demand``}.

    ``demand`` needs x, y, population; ``facilities`` must have passed ``clean_facilities``.
    ``only_types`` limits the per-type measures (used by what-if to recompute what changed).
    """
    model = model or config.model()
    xy = demand[["x", "y"]].to_numpy(dtype=float)
    pop = demand["population"].to_numpy(dtype=float)
    n = len(xy)
    present = sorted(facilities["type"].unique())
    types = list(config.types) if config.types else present
    meeting = list(config.meeting_types) if config.meeting_types else types
    groups = {t: g for t, g in facilities.groupby("type", sort=True)}
    empty = facilities.iloc[:0]
    wanted = [t for t in types if only_types is None or t in only_types]
    todo = list(dict.fromkeys(wanted + meeting))

    def one_type(t: str) -> dict[tuple[str, str], np.ndarray]:
        # One pair search per type at the widest cost any measure needs; every count and
        # both E2SFCA steps are then masks and bincounts over that list.
        g = groups.get(t, empty)
        sxy = g[["x_rd", "y_rd"]].to_numpy(dtype=float)
        res = {("nearest_distance", t): model.nearest(xy, sxy)}
        per_type = t in wanted
        reach = max([config.walk_distance] + ([config.decay.max_cost, *config.radii] if per_type else []))
        pairs = model.pairs_within(xy, sxy, reach)
        if per_type:
            for r in config.radii:
                res[(f"count_within_{r:g}", t)] = np.bincount(
                    pairs.rows[pairs.cost <= r], minlength=n).astype(float)
            res[("e2sfca", t)], _ = e2sfca_from_pairs(pairs, pop, g["capacity"].to_numpy(dtype=float),
                                                      config.decay, n)
        res[("_walk", t)] = np.bincount(pairs.rows[pairs.cost <= config.walk_distance], minlength=n)
        return res

    found: dict[tuple[str, str], np.ndarray] = {}
    if len(todo) > 1 and n > 20_000:
        # k-d tree searches and bincounts release the GIL: use both cores on big inputs
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for res in pool.map(one_type, todo):
                found.update(res)
    else:
        for t in todo:
            found.update(one_type(t))
    out = {k: v for k, v in found.items() if k[0] != "_walk" and k[1] in wanted}
    # Meeting-place variety and reach (across types): counts per type within walking distance.
    counts = np.column_stack([found[("_walk", t)] for t in meeting]) if meeting else np.zeros((n, 0))
    out[("diversity_shannon", ALL_MEETING)] = shannon(counts)
    out[("types_within", ALL_MEETING)] = (counts > 0).sum(axis=1).astype(float)
    nearest_any = np.full(n, np.inf)
    for t in meeting:
        nearest_any = np.minimum(nearest_any, found[("nearest_distance", t)])
    out[("has_meeting_place", ALL_MEETING)] = (nearest_any <= config.share_distance).astype(float)
    return out
