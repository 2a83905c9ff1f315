"""One entry point for a draw: algorithm → probabilities, distribution, seeded panel.

The panel is drawn with ``numpy.random.Generator(PCG64(seed))``: the first uniform picks a
panel from the published distribution (cumulative probabilities in the listed order),
further draws pick members within groups of interchangeable people. Anyone with the same
input files, the same k, the same weefsel version and the seed gets the same panel.
"""

from __future__ import annotations

import time

import numpy as np

from weefsel.errors import InputError
from weefsel.participation.sortition.fair import fair_distribution
from weefsel.participation.sortition.ilp import best_panel, diagnose, person_problem
from weefsel.participation.sortition.legacy import legacy_panel, legacy_probabilities
from weefsel.participation.sortition.model import Distribution, Instance, Result

ALGORITHMS = ("leximin", "maximin", "legacy")


def rng_for(seed: int) -> np.random.Generator:
    """The published generator: PCG64 seeded with the integer seed."""
    return np.random.Generator(np.random.PCG64(seed))


def draw_panel(dist: Distribution, seed: int) -> list[int]:
    """The panel (person indices) that ``seed`` selects from ``dist``; re-run to verify."""
    return dist.draw(rng_for(seed))[1]


def run_draw(inst: Instance, algorithm: str = "leximin", seed: int = 42, *,
             samples: int = 2000, progress=None, group_identical: bool = True) -> Result:
    """Compute selection probabilities with ``algorithm`` and draw one panel with ``seed``."""
    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise InputError(f"onbekend algoritme {algorithm!r} (verwacht: {' | '.join(ALGORITHMS)})",
                         where="--algorithm")
    if seed < 0:
        raise InputError(f"seed moet een geheel getal van 0 of meer zijn, niet {seed}", where="--seed")
    t0 = time.perf_counter()
    if algorithm == "legacy":
        if samples < 1:
            raise InputError("samples moet minstens 1 zijn", where="--samples")
        panel = legacy_panel(inst, rng_for(seed))
        probs = legacy_probabilities(inst, samples, rng_for(seed + 1), progress=progress)
        return Result("legacy", inst, probs, None, panel, seed, exact=False,
                      runtime_s=time.perf_counter() - t0, samples=samples,
                      notes=[(f"probabilities estimated from {samples} LEGACY panels "
                              f"drawn with PCG64(seed + 1 = {seed + 1})")])
    dist, stats = fair_distribution(inst, leximin=algorithm == "leximin", progress=progress,
                                    group_identical=group_identical)
    probs = dist.marginals(inst.n)
    panel = draw_panel(dist, seed)
    return Result(algorithm, inst, probs, dist, panel, seed, exact=True,
                  runtime_s=time.perf_counter() - t0,
                  notes=[(f"column generation: {stats['iterations']} LP/ILP rounds, "
                          f"{stats['panels_in_support']} panels in the distribution, "
                          f"{stats['tiers']} probability tier(s)")])


def replace_dropouts(inst: Instance, panel: list[int], dropouts: list[int], seed: int) -> list[int]:
    """Replacements for ``dropouts`` from the rest of the pool so the panel meets the quotas again.

    A small ILP over the people not on the panel (and not sharing a household with anyone
    who stays): exactly as many replacements as drop-outs, quotas counted with the members
    who stay; among all feasible choices the one with the largest sum of seeded uniform
    weights, i.e. a reproducible random feasible choice. Raises InputError saying which
    quota cannot be met (and by how many) when no replacement set exists.
    """
    panel_set, drop = set(panel), set(dropouts)
    unknown = sorted(drop - panel_set)
    if unknown:
        raise InputError(f"afvaller(s) niet in het panel: {', '.join(inst.ids[i] for i in unknown)}",
                         where="dropouts")
    stay = sorted(panel_set - drop)
    base = inst.membership()[:, stay].sum(axis=1)
    allowed = np.ones(inst.n)
    allowed[list(panel_set)] = 0.0          # drop-outs are not re-invited
    for group in inst.household_groups():
        if any(i in stay for i in group):
            allowed[group] = 0.0
    prob = person_problem(inst, k=len(drop), base_counts=base)
    weights = rng_for(seed).random(inst.n)
    found = best_panel(prob, weights, upper=allowed)
    if found is None:
        lines = diagnose(prob, upper=allowed) or ["geen vervangers te vinden die aan de quota voldoen"]
        raise InputError("; ".join(lines), where="vervanging van afvallers")
    return [int(i) for i in np.flatnonzero(found[0])]


def draw_from_published(distribution: dict, seed: int) -> list[str]:
    """Re-draw the panel (ids) from a published distribution (``--json`` / audit JSON) and a seed.

    Needs no solver and no pool file: anyone holding the published lottery can check that
    the seed selects the announced panel. Mirrors ``Distribution.draw`` step by step.
    """
    try:
        panels = distribution["panels"]
        groups = distribution.get("groups")
        probs = np.array([float(p["probability"]) for p in panels])
        rng = rng_for(seed)
        cum = np.cumsum(probs)
        j = int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), len(cum) - 1))
        if groups is None:
            return sorted(panels[j]["members"], key=_id_order(distribution))
        chosen: list[str] = []
        for t, c in sorted(((int(t), int(c)) for t, c in panels[j]["seats"].items())):
            members = groups[t]
            if c == len(members):
                chosen.extend(members)
            else:
                chosen.extend(members[i] for i in rng.choice(len(members), size=c, replace=False))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"geen gepubliceerde weefsel-verdeling ({exc})", where="distribution") from None
    return sorted(chosen, key=_id_order(distribution))


def _id_order(distribution: dict):
    """Panels are listed in pool order; ``pool_order`` (ids) restores it when present."""
    order = {pid: i for i, pid in enumerate(distribution.get("pool_order") or [])}
    return lambda pid: order.get(pid, len(order))
