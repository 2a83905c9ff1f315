"""Who rings which door: k distinct helpers per resident by min-cost flow.

Network: every resident is a source of ``k`` units; an arc resident→helper (capacity 1,
so helpers are distinct) costs the walking distance in metres, minus ``stay_bonus`` when
the pair already exists (stable re-assignment); helper→sink has the helper's capacity;
resident→sink is the "unassigned" arc so every instance is
feasible and shows who lacks a helper (by default solved exactly in two phases: max flow
for the number of visits, then min cost at that flow, which equals an unassigned arc of
unbounded price and keeps the solver's costs small). Candidate arcs come from a KD-tree within the
walking range (optionally only the ``max_candidates`` nearest, for speed at city scale).
Solved with OR-Tools' SimpleMinCostFlow (Apache-2.0). Distances are straight-line metres
in RD New (EPSG:28992) times ``detour`` (a walking detour factor; 1.0 = crow-flies).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from weefsel.errors import InputError


@dataclass
class Assignment:
    """Result: pairs (resident index, helper index, metres) and residents short of k."""

    resident: np.ndarray          # int index into residents
    helper: np.ndarray            # int index into helpers
    distance_m: np.ndarray        # float metres (after detour)
    k: int
    n_residents: int
    cost: int = 0                 # the solver's objective (integer metres incl. penalties)
    shortfall: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def coverage(self) -> float:
        """Share of residents who got all k helpers."""
        return float((self.shortfall == 0).mean()) if self.n_residents else 1.0

    @property
    def total_distance_m(self) -> float:
        return float(self.distance_m.sum())

    def helpers_of(self, i: int) -> list[int]:
        return sorted(self.helper[self.resident == i].tolist())

    def summary(self) -> dict:
        return {
            "residents": self.n_residents,
            "pairs": int(len(self.resident)),
            "k": self.k,
            "fully_covered": int((self.shortfall == 0).sum()),
            "short": int((self.shortfall > 0).sum()),
            "coverage": round(self.coverage, 4),
            "total_distance_m": round(self.total_distance_m, 1),
        }


def _check(points, name: str) -> np.ndarray:
    a = np.asarray(points, dtype=float).reshape(-1, 2)
    if not np.isfinite(a).all():
        raise InputError(f"{name}: coördinaten ontbreken of zijn ongeldig", where="crisis assign")
    return a


def candidate_arcs(residents, helpers, walk_range_m: float, *, detour: float = 1.0,
                   max_candidates: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(resident idx, helper idx, metres) of every pair within walking range."""
    R, H = _check(residents, "bewoners"), _check(helpers, "helpers")
    if len(R) == 0 or len(H) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    tree = cKDTree(H)
    radius = walk_range_m / detour
    if max_candidates is None:
        lists = tree.query_ball_point(R, r=radius)
        counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(R))
        ri = np.repeat(np.arange(len(R)), counts)
        hi = np.fromiter((h for x in lists for h in x), dtype=np.int64, count=int(counts.sum()))
        d = np.hypot(*(R[ri] - H[hi]).T) if len(ri) else np.zeros(0)
    else:
        m = min(max_candidates, len(H))
        d, hi = tree.query(R, k=m, distance_upper_bound=radius)
        d, hi = d.reshape(len(R), m), hi.reshape(len(R), m)
        ok = np.isfinite(d)
        ri = np.broadcast_to(np.arange(len(R))[:, None], d.shape)[ok]
        hi, d = hi[ok].astype(np.int64), d[ok]
    return ri.astype(np.int64), hi, d * detour


def assign(residents, helpers, *, capacity=1, k: int = 2, walk_range_m: float = 800.0,
           detour: float = 1.0, max_candidates: int | None = None,
           existing: set[tuple[int, int]] | None = None, stay_bonus_m: int = 100,
           unassigned_cost: int | None = None) -> Assignment:
    """Give each resident up to k distinct helpers within range at minimum total distance.

    ``capacity`` is one int or one per helper (residents a helper can visit). ``existing``
    holds (resident, helper) pairs to keep where possible: they cost ``stay_bonus_m`` less.
    By default coverage comes strictly first (max flow, then min cost at that flow); with
    ``unassigned_cost`` the unassigned arc carries that price instead (a trade-off).
    """
    from ortools.graph.python import max_flow, min_cost_flow

    if k < 1:
        raise InputError("k moet minstens 1 zijn", where="crisis assign")
    R, H = _check(residents, "bewoners"), _check(helpers, "helpers")
    nR, nH = len(R), len(H)
    cap = np.broadcast_to(np.asarray(capacity, dtype=np.int64), (nH,)).copy()
    if (cap < 0).any():
        raise InputError("capaciteit van een helper is negatief", where="crisis assign")
    ri, hi, dist = candidate_arcs(R, H, walk_range_m, detour=detour, max_candidates=max_candidates)
    cost = np.rint(dist).astype(np.int64)
    if existing:
        keep = np.fromiter(((int(a), int(b)) in existing for a, b in zip(ri, hi)), dtype=bool,
                           count=len(ri))
        cost = np.where(keep, cost - stay_bonus_m, cost)
    src, sink = nR + nH, nR + nH + 1
    # source -> resident (k), resident -> helper (1: distinct), helper -> sink (capacity)
    tails = np.concatenate([np.full(nR, src), ri, nR + np.arange(nH)]).astype(np.int32)
    heads = np.concatenate([np.arange(nR), nR + hi, np.full(nH, sink)]).astype(np.int32)
    caps = np.concatenate([np.full(nR, k), np.ones(len(ri), dtype=np.int64), cap])
    costs = np.concatenate([np.zeros(nR, dtype=np.int64), cost, np.zeros(nH, dtype=np.int64)])
    if unassigned_cost is None:
        # phase 1: the largest number of visits that can be covered at all (max flow);
        # phase 2: the shortest total walk among those (min-cost flow with that supply).
        # Exactly "coverage first, then distance", with small costs, so the solver is fast.
        mf = max_flow.SimpleMaxFlow()
        mf.add_arcs_with_capacity(tails, heads, caps)
        if mf.solve(src, sink) != mf.OPTIMAL:
            raise InputError("de toewijzing is niet oplosbaar (max flow)", where="crisis assign")
        supply = int(mf.optimal_flow())
    else:
        # the classic form: an "unassigned" arc per resident at a fixed high cost
        tails = np.concatenate([tails, np.arange(nR, dtype=np.int32)])
        heads = np.concatenate([heads, np.full(nR, sink, dtype=np.int32)])
        caps = np.concatenate([caps, np.full(nR, k)])
        costs = np.concatenate([costs, np.full(nR, int(unassigned_cost))])
        supply = k * nR
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(nR + nH + 2, dtype=np.int64)
    supplies[src], supplies[sink] = supply, -supply
    smcf.set_nodes_supplies(np.arange(nR + nH + 2), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise InputError(f"de toewijzing is niet oplosbaar (status {status})", where="crisis assign")
    flows = smcf.flows(np.arange(nR, nR + len(ri)))
    used = flows > 0
    res = ri[used]
    shortfall = k - np.bincount(res, minlength=nR)
    return Assignment(resident=res, helper=hi[used], distance_m=dist[used], k=k, n_residents=nR,
                      cost=int(cost[used].sum()), shortfall=shortfall.astype(np.int64))


def greedy(residents, helpers, *, capacity=1, k: int = 2, walk_range_m: float = 800.0,
           detour: float = 1.0, max_candidates: int | None = None) -> Assignment:
    """The peer: residents in registration order each take their nearest free helpers
    (how open mutual-aid tools match, first come first served)."""
    R, H = _check(residents, "bewoners"), _check(helpers, "helpers")
    cap = np.broadcast_to(np.asarray(capacity, dtype=np.int64), (len(H),)).copy()
    ri, hi, dist = candidate_arcs(R, H, walk_range_m, detour=detour, max_candidates=max_candidates)
    order = np.lexsort((dist, ri))
    ri, hi, dist = ri[order], hi[order], dist[order]
    got = np.zeros(len(R), dtype=np.int64)
    take = np.zeros(len(ri), dtype=bool)
    left = cap.tolist()
    gl = got.tolist()
    for j, (r, h) in enumerate(zip(ri.tolist(), hi.tolist())):
        if gl[r] < k and left[h] > 0:
            left[h] -= 1
            gl[r] += 1
            take[j] = True
    got = np.asarray(gl, dtype=np.int64)
    return Assignment(resident=ri[take], helper=hi[take], distance_m=dist[take], k=k,
                      n_residents=len(R), shortfall=k - got)
