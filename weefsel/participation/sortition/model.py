"""The sortition instance: a pool of volunteers, quotas per feature value and a panel size.

Kept free of I/O and solvers so that every algorithm, the audit and the web page share one
shape (and tests can build instances by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Quota:
    """At least ``min`` and at most ``max`` panel members with ``feature`` in ``category``."""

    category: str
    feature: str
    min: int
    max: int


@dataclass
class Instance:
    """A pool (``people[i]`` maps category → feature), quotas and the panel size ``k``.

    ``households[i]`` is a household/address key or None; at most one person per household
    may sit on a panel when ``households`` is given.
    """

    ids: list[str]
    people: list[dict[str, str]]
    quotas: list[Quota]
    k: int
    households: list[str | None] | None = None
    source: str = ""
    _matrix: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def categories(self) -> list[str]:
        seen: list[str] = []
        for q in self.quotas:
            if q.category not in seen:
                seen.append(q.category)
        return seen

    def membership(self) -> np.ndarray:
        """Matrix (quotas × people): 1 where the person has the quota's feature value."""
        if self._matrix is None:
            m = np.zeros((len(self.quotas), self.n))
            for j, q in enumerate(self.quotas):
                for i, p in enumerate(self.people):
                    if p.get(q.category) == q.feature:
                        m[j, i] = 1.0
            self._matrix = m
        return self._matrix

    def household_groups(self) -> list[list[int]]:
        """Indices of people sharing a household, only groups of two or more."""
        if not self.households:
            return []
        groups: dict[str, list[int]] = {}
        for i, h in enumerate(self.households):
            if h is not None and str(h).strip() != "":
                groups.setdefault(str(h).strip().lower(), []).append(i)
        return [g for g in groups.values() if len(g) > 1]


@dataclass
class Distribution:
    """A lottery over panels.

    ``units[t]`` lists interchangeable people (same features, no shared household; a unit
    of one person is the common case). Panel ``j`` seats ``counts[j, t]`` members of unit t,
    chosen uniformly at random within the unit; it is drawn with ``probabilities[j]``.
    When every unit has one person, ``counts`` rows are ordinary panels.
    """

    units: list[tuple[int, ...]]
    counts: np.ndarray
    probabilities: np.ndarray

    def marginals(self, n: int) -> np.ndarray:
        """Each person's exact selection probability: Σ_j p_j · counts[j, t] / |unit t|."""
        sizes = np.array([len(u) for u in self.units], dtype=float)
        per_unit = self.probabilities @ (self.counts / sizes)
        out = np.zeros(n)
        for t, members in enumerate(self.units):
            out[list(members)] = per_unit[t]
        return out

    def panels(self) -> list[tuple[int, ...]] | None:
        """Explicit panels (person indices) when all units are single people, else None."""
        if any(len(u) != 1 for u in self.units):
            return None
        return [tuple(sorted(self.units[t][0] for t in np.flatnonzero(row))) for row in self.counts]

    def draw(self, rng: np.random.Generator) -> tuple[int, list[int]]:
        """Pick panel j with its probability, then its members within each unit uniformly."""
        cum = np.cumsum(self.probabilities)
        j = int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), len(cum) - 1))
        chosen: list[int] = []
        for t in np.flatnonzero(self.counts[j]):
            members = list(self.units[t])
            c = int(self.counts[j, t])
            picks = members if c == len(members) else rng.choice(members, size=c, replace=False)
            chosen.extend(int(i) for i in picks)
        return j, sorted(chosen)


@dataclass
class Result:
    """What a draw publishes: probabilities, the distribution (if exact), the panel and the seed."""

    algorithm: str
    instance: Instance
    probabilities: np.ndarray
    distribution: Distribution | None
    panel: list[int]
    seed: int
    exact: bool
    runtime_s: float = 0.0
    samples: int = 0
    notes: list[str] = field(default_factory=list)
