"""Travel cost between demand points and facilities: one interface, two models.

Every measure asks a :class:`DistanceModel` for three things (nearest cost, counts
within a cost, and all pairs within a cost), so the straight-line model and the network
model share one code path in :mod:`.measures`.

* :class:`EuclideanDetour`: straight line × detour factor (default 1.3). Network distance
  in cities is on average about 1.2× the straight line (Newell 1980; O'Sullivan 1996:
  1.21-1.23 around stations); walking and cycling routes are more circuitous (Dill 2003),
  so 1.3 is a middle value for walking. It is a parameter, documented in docs/accessibility.md.
* :class:`NetworkDistance`: shortest path along a user-supplied walking/cycling network
  (nodes with RD coordinates, edges with lengths), using scipy.sparse.csgraph; points are
  snapped to the nearest node and the snap distance is added at both ends. ``networkx``
  is only needed to convert an OSMnx/networkx graph (:meth:`NetworkDistance.from_networkx`).

Costs are metres. Pair lists are plain arrays (rows, cols, cost) so zero costs survive
(a scipy sparse matrix would drop them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from weefsel.analysis.access.crs import check_rd
from weefsel.errors import InputError


@dataclass
class Pairs:
    """Origin-destination pairs with cost ≤ a limit: ``rows`` index origins, ``cols`` destinations."""

    rows: np.ndarray
    cols: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@runtime_checkable
class DistanceModel(Protocol):
    """What the measures need from a travel-cost model (all arrays are (n, 2) RD metres)."""

    name: str

    def nearest(self, origins: np.ndarray, dests: np.ndarray) -> np.ndarray:
        """Cost from each origin to its nearest destination (inf when none reachable)."""

    def count_within(self, origins: np.ndarray, dests: np.ndarray, max_cost: float) -> np.ndarray:
        """Number of destinations with cost ≤ ``max_cost`` from each origin."""

    def pairs_within(self, origins: np.ndarray, dests: np.ndarray, max_cost: float) -> Pairs:
        """All (origin, destination) pairs with cost ≤ ``max_cost``."""


def _empty_pairs() -> Pairs:
    return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


class EuclideanDetour:
    """Straight-line distance × ``detour`` via k-d trees (no Python loop over pairs)."""

    def __init__(self, detour: float = 1.3):
        if not (1.0 <= detour <= 5.0):
            raise InputError(f"detour factor {detour} is implausible", where="--detour",
                             expected="a ratio network/straight line between 1 and 5 (walking ≈ 1.3)")
        self.detour = float(detour)
        self.name = f"euclidean×{self.detour:g}"
        self._trees: dict[int, tuple[np.ndarray, cKDTree]] = {}

    def _tree(self, pts: np.ndarray) -> cKDTree:
        # Measures ask several questions of the same facility array: build its tree once.
        key = id(pts)
        hit = self._trees.get(key)
        if hit is not None and hit[0] is pts:
            return hit[1]
        tree = cKDTree(pts, balanced_tree=False, compact_nodes=False)
        if len(self._trees) > 64:  # a long-lived model (what-if loops) must not hoard trees
            self._trees.clear()
        self._trees[key] = (pts, tree)
        return tree

    def nearest(self, origins: np.ndarray, dests: np.ndarray) -> np.ndarray:
        if len(dests) == 0:
            return np.full(len(origins), np.inf)
        dist, _ = self._tree(dests).query(origins, k=1)
        return dist * self.detour

    def count_within(self, origins: np.ndarray, dests: np.ndarray, max_cost: float) -> np.ndarray:
        if len(dests) == 0 or len(origins) == 0:
            return np.zeros(len(origins), np.int64)
        # scale the radius, not the points, so the comparison c ≤ max matches pairs_within
        return np.asarray(self._tree(dests).query_ball_point(
            origins, max_cost / self.detour, return_length=True), dtype=np.int64)

    def pairs_within(self, origins: np.ndarray, dests: np.ndarray, max_cost: float) -> Pairs:
        if len(dests) == 0 or len(origins) == 0:
            return _empty_pairs()
        radius = max_cost / self.detour
        found = cKDTree(origins, balanced_tree=False, compact_nodes=False).sparse_distance_matrix(
            self._tree(dests), radius, output_type="ndarray")
        cost = found["v"] * self.detour
        keep = cost <= max_cost  # exact test in cost units (guards rounding of radius)
        return Pairs(found["i"][keep].astype(np.int64), found["j"][keep].astype(np.int64), cost[keep])


class NetworkDistance:
    """Shortest-path cost along a network; points snap to their nearest node.

    ``nodes``: (n, 2) RD coordinates; ``edges``: (m, 3) rows ``u, v, length`` (metres,
    treated as undirected, as for walking). Cost(o, d) = snap(o) + path(node(o), node(d)) + snap(d).
    """

    def __init__(self, nodes: np.ndarray, edges: np.ndarray, *, directed: bool = False):
        nodes = np.asarray(nodes, dtype=float)
        edges = np.asarray(edges, dtype=float)
        if nodes.ndim != 2 or nodes.shape[1] != 2 or len(nodes) == 0:
            raise InputError("network nodes must be an (n, 2) array of RD coordinates", where="network")
        if edges.ndim != 2 or edges.shape[1] != 3:
            raise InputError("network edges must be rows (u, v, length)", where="network")
        if (edges[:, 2] < 0).any():
            raise InputError("network edge with negative length", where="network")
        check_rd(nodes[:, 0], nodes[:, 1], where="network nodes")
        n = len(nodes)
        u, v, w = edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64), edges[:, 2]
        if len(u) and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n):
            raise InputError("network edge refers to a node that does not exist", where="network")
        if not directed:
            u, v, w = np.r_[u, v], np.r_[v, u], np.r_[w, w]
        # parallel edges: keep the shortest (a sparse matrix would add them up)
        key = u * n + v
        order = np.lexsort((w, key))
        first = np.r_[True, key[order][1:] != key[order][:-1]] if len(key) else np.zeros(0, bool)
        u, v, w = u[order][first], v[order][first], w[order][first]
        # csgraph treats a stored 0 as "no edge" in places: give zero-length edges a tiny length
        w = np.where(w == 0, 1e-9, w)
        graph = sparse.csr_matrix((w, (u, v)), shape=(n, n))
        self.graph = graph
        # Dijkstra runs from facilities, so it walks the reversed graph (origin → facility).
        self.rev = graph if not directed else graph.T.tocsr()
        self.nodes = nodes
        self.tree = cKDTree(nodes)
        self.name = "network"

    @classmethod
    def from_networkx(cls, graph, weight: str = "length") -> "NetworkDistance":
        """From a networkx graph whose nodes carry ``x``/``y`` in EPSG:28992 (e.g. OSMnx projected)."""
        index = {node: i for i, node in enumerate(graph.nodes)}
        nodes = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in graph.nodes], dtype=float)
        edges = np.array([[index[a], index[b], data.get(weight, 1.0)]
                          for a, b, data in graph.edges(data=True)], dtype=float).reshape(-1, 3)
        return cls(nodes, edges, directed=graph.is_directed())

    def _snap(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d, i = self.tree.query(pts, k=1)
        return d, i

    def nearest(self, origins: np.ndarray, dests: np.ndarray) -> np.ndarray:
        if len(dests) == 0:
            return np.full(len(origins), np.inf)
        so, no = self._snap(origins)
        sd, nd = self._snap(dests)
        n = self.graph.shape[0]
        # one Dijkstra from a virtual source linked to every facility node by its snap cost
        start = np.full(n, np.inf)
        np.minimum.at(start, nd, sd)
        has = np.isfinite(start)
        idx = np.flatnonzero(has)
        extra = sparse.coo_matrix((np.maximum(start[idx], 1e-9), (np.full(len(idx), n), idx)),
                                  shape=(n + 1, n + 1))
        g = sparse.bmat([[self.rev, None], [None, sparse.csr_matrix((1, 1))]]).tocsr() + extra.tocsr()
        dist = csgraph.dijkstra(g, directed=True, indices=n)
        # the virtual edge cost includes a 1e-9 floor only where the snap was exactly 0
        out = dist[no] + so
        out[~np.isfinite(dist[no])] = np.inf
        return out

    def pairs_within(self, origins: np.ndarray, dests: np.ndarray, max_cost: float) -> Pairs:
        if len(dests) == 0 or len(origins) == 0:
            return _empty_pairs()
        so, no = self._snap(origins)
        sd, nd = self._snap(dests)
        uniq, inv = np.unique(nd, return_inverse=True)
        # Dijkstra from each facility node (graph undirected: node→origin = origin→node)
        dist = csgraph.dijkstra(self.rev, directed=True, indices=uniq, limit=max_cost)
        # cost[o, d] = so[o] + dist[inv[d], no[o]] + sd[d]; dense in (origins × facilities):
        # the network model is meant for a gemeente-sized network, not the national run.
        full = so[:, None] + dist[inv][:, no].T + sd[None, :]
        rows, cols = np.nonzero(full <= max_cost)
        return Pairs(rows.astype(np.int64), cols.astype(np.int64), full[rows, cols])

    def count_within(self, origins: np.ndarray, dests: np.ndarray, max_cost: float) -> np.ndarray:
        pairs = self.pairs_within(origins, dests, max_cost)
        return np.bincount(pairs.rows, minlength=len(origins)).astype(np.int64)

