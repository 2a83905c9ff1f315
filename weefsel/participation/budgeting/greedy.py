"""Utilitarian greedy (Pabulib rule ``greedy``): by score, skipping what does not fit."""

from __future__ import annotations

from fractions import Fraction

from weefsel.participation.budgeting.election import Election
from weefsel.participation.budgeting.outcome import Outcome, Step


def greedy_order(e: Election) -> list[int]:
    """Project indices by decreasing score, then votes, then lower cost, then file position."""
    return sorted(range(len(e.project_ids)), key=lambda j: (-e.scores[j], -e.votes[j], e.costs[j], j))


def greedy(e: Election, caps: dict[int, tuple[str, Fraction]] | None = None,
           group_caps: dict[str, Fraction] | None = None, leftover: bool = False) -> Outcome:
    """Utilitarian greedy: take projects by score, skipping those that no longer fit.

    ``caps`` maps a project index to its group; ``group_caps`` bounds the spending per group
    (Amsterdam's ``budget_per_category``/``budget_per_neighborhood``). With ``leftover`` a
    second pass spends what the groups left over, still by score (Amsterdam's META
    ``leftover_budget``: "Fund additional projects that fit within leftover budget ordered by score").
    """
    left = e.budget
    group_left = dict(group_caps or {})
    chosen: list[int] = []
    steps: dict[str, Step] = {}
    order = greedy_order(e)
    for j in order:
        if e.scores[j] <= 0:
            steps[e.project_ids[j]] = Step(e.project_ids[j], False, left, e.votes[j],
                                           note="geen stemmen" if e.votes[j] == 0 else "geen punten")
            continue
        g = caps.get(j)[0] if caps and j in caps else None
        fits = e.costs[j] <= left and (g is None or g not in group_left or e.costs[j] <= group_left[g])
        steps[e.project_ids[j]] = Step(e.project_ids[j], fits, left if g is None else min(left, group_left.get(g, left)),
                                       e.votes[j], note=f"groep {g}" if g else "")
        if fits:
            chosen.append(j)
            left -= e.costs[j]
            if g is not None and g in group_left:
                group_left[g] -= e.costs[j]
    if leftover and group_caps:
        for j in order:
            if j not in chosen and e.scores[j] > 0 and e.costs[j] <= left:
                chosen.append(j)
                left -= e.costs[j]
                steps[e.project_ids[j]] = Step(e.project_ids[j], True, left + e.costs[j], e.votes[j],
                                               note="restbudget")
    sel = [e.project_ids[j] for j in chosen]
    return Outcome("greedy", sel, e.budget, sum((e.costs[j] for j in chosen), Fraction(0)), steps)
