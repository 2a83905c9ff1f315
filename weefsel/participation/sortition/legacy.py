"""LEGACY: the greedy draw the Sortition Foundation used before 2021, for comparison.

As described by Flanigan et al. (Nature 596, 2021, Methods): repeatedly take the feature
value whose unmet minimum (min − already selected) is largest relative to the pool members
still available with that value, and select a uniformly random available person with it;
once every minimum is met, fill the remaining seats uniformly from everyone still eligible. People whose feature value reached its
maximum (and household members of anyone selected) leave the pool. A draw that gets stuck
is restarted. Its selection probabilities have no closed form, so they are estimated by
repeated seeded sampling (Monte Carlo), with a Jeffreys upper bound for the minimum.
"""

from __future__ import annotations

import numpy as np

from weefsel.participation.sortition.ilp import require_feasible
from weefsel.participation.sortition.model import Instance


def _leave(people: np.ndarray, available: np.ndarray, pool: np.ndarray, mi: np.ndarray) -> np.ndarray:
    """Mark ``people`` unavailable (in place); return the pool counts per quota without them."""
    people = people[available[people]]
    if len(people):
        available[people] = False
        pool = pool - mi[:, people].sum(axis=1)
    return pool


def legacy_panel(inst: Instance, rng: np.random.Generator, *, max_restarts: int = 1000) -> list[int]:
    """One LEGACY panel (person indices, sorted)."""
    m = inst.membership().astype(bool)
    lo = np.array([q.min for q in inst.quotas])
    hi = np.array([q.max for q in inst.quotas])
    household = {}
    for g in inst.household_groups():
        for i in g:
            household[i] = g
    mi = m.astype(np.int64)
    for _ in range(max_restarts):
        available = np.ones(inst.n, dtype=bool)
        pool = mi.sum(axis=1)
        selected = np.zeros(len(inst.quotas), dtype=np.int64)
        panel: list[int] = []

        while len(panel) < inst.k:
            need = lo - selected
            if (need <= 0).all():
                # every minimum met: fill the remaining seats uniformly from everyone still eligible
                candidates = np.flatnonzero(available)
            else:
                ratio = np.where((pool > 0) & (need > 0), need / np.maximum(pool, 1), -1.0)
                if ratio.max() <= 0:
                    break
                candidates = np.flatnonzero(available & m[int(np.argmax(ratio))])
            if len(candidates) == 0:
                break
            person = int(candidates[rng.integers(len(candidates))])
            panel.append(person)
            selected += mi[:, person]
            pool = _leave(np.array([person, *household.get(person, ())], dtype=np.int64),
                          available, pool, mi)
            for q in np.flatnonzero(selected >= hi):
                if pool[q] > 0:
                    pool = _leave(np.flatnonzero(m[q]), available, pool, mi)
        if len(panel) == inst.k and (selected >= lo).all() and (selected <= hi).all():
            return sorted(panel)
    raise RuntimeError("LEGACY could not complete a panel after repeated restarts")


def legacy_probabilities(inst: Instance, samples: int, rng: np.random.Generator,
                         progress=None) -> np.ndarray:
    """Estimated selection probabilities: share of ``samples`` LEGACY panels containing each person."""
    require_feasible(inst)
    hits = np.zeros(inst.n)
    for s in range(samples):
        hits[legacy_panel(inst, rng)] += 1
        if progress is not None and (s + 1) % 100 == 0:
            progress(s + 1, samples)
    return hits / samples


def jeffreys_upper(p_hat: float, samples: int, confidence: float = 0.99) -> float:
    """Upper end of the one-sided Jeffreys interval for a binomial proportion (as the paper reports)."""
    x = p_hat * samples
    if x >= samples:
        return 1.0
    from scipy.stats import beta   # lazy: scipy.stats alone costs seconds at start-up

    return float(beta.ppf(confidence, x + 0.5, samples - x + 0.5))
