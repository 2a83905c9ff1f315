"""Voting rules for participatory budgeting: greedy, Method of Equal Shares, maximum welfare.

All money is exact (``fractions.Fraction``): a float rounding can flip which project a
Method of Equal Shares round picks or whether a project still fits, so no decision here is
taken on floats.

Tie-breaking (deterministic, documented in docs/burgerbegroting.md):

* greedy: higher score first, then more ballots naming the project, then lower cost, then
  the earlier position in the PROJECTS section;
* equal shares: lower price per unit of utility (rho) first, then more supporters, then lower
  cost, then the earlier position in PROJECTS (the ``maxVotes, minCost`` order of the
  equalshares.net tool, extended by position so that no tie is left open).

Rule names follow Pabulib's META ``rule`` field. Seen in the 72 files: ``greedy``,
``equalshares/add1``, ``equalshares/add1-comparison`` and ``unknown`` (Zurich experiments; we
then use ``greedy``). Also accepted: ``equalshares`` (no completion), ``equalshares/add1u``
(add1 then greedy fill), ``equalshares-approval...`` (approval instead of cost utilities)
and ``maxwelfare``.

add1 comes in two variants. ``equalshares/add1`` (the default, and what Pabulib's META
names) keeps raising the endowment while the outcome fits the budget, also past the first
outcome that exhausts it: this reproduces all three official results (Assen 2024, Swiecie
2023, Wieliczka 2023). ``equalshares/add1-first`` stops at the first exhausting outcome, as
pabutools' ``voter_budget_increment`` does (it gets Wieliczka 2023 wrong).
"""

from __future__ import annotations

from fractions import Fraction

from weefsel.errors import InputError
from weefsel.participation.budgeting.election import Election, election_from_pb
from weefsel.participation.budgeting.greedy import greedy, greedy_order
from weefsel.participation.budgeting.mes import COMPLETIONS, _Mes, _MesFast, mes
from weefsel.participation.budgeting.outcome import Outcome, Step
from weefsel.participation.budgeting.pabulib import PbFile
from weefsel.participation.budgeting.welfare import max_welfare

__all__ = [
    "RULES",
    "Outcome",
    "Step",
    "_Mes",
    "_MesFast",
    "COMPLETIONS",
    "greedy",
    "greedy_order",
    "max_welfare",
    "mes",
    "normalise_rule",
    "run_election",
    "run_rule",
]

RULES = ("greedy", "equalshares", "equalshares/add1", "equalshares/add1-first", "equalshares/add1u",
         "equalshares/add1-comparison", "equalshares-approval/add1", "maxwelfare")

# --- dispatch -------------------------------------------------------------------------------

def normalise_rule(rule: str) -> str:
    """The rule we run for a META ``rule`` value (``unknown``/empty → ``greedy``)."""
    r = (rule or "").strip().lower()
    if r in ("", "unknown", "greedy", "utilitarian", "greedy-utilitarian"):
        return "greedy"
    if r in ("maxwelfare", "max-welfare", "utilitarian-welfare"):
        return "maxwelfare"
    if r.startswith(("equalshares", "mes")):
        return r
    raise InputError(f"unknown rule {rule!r}", expected=", ".join(RULES))


def run_election(e: Election, rule: str) -> Outcome:
    """Run one named rule on a numeric election."""
    r = normalise_rule(rule)
    if r == "greedy":
        return greedy(e)
    if r == "maxwelfare":
        return max_welfare(e)
    base, _, completion = r.partition("/")
    comparison = completion.endswith("-comparison")
    completion = completion.removesuffix("-comparison") or "none"
    if completion not in COMPLETIONS:
        raise InputError(f"unknown rule {rule!r}", expected=", ".join(RULES))
    cost_utility = base in ("equalshares", "mes", "equalshares-cost")
    if base not in ("equalshares", "mes", "equalshares-cost", "equalshares-approval"):
        raise InputError(f"unknown rule {rule!r}", expected=", ".join(RULES))
    return mes(e, cost_utility=cost_utility, completion=completion, comparison=comparison)


def run_rule(pb: PbFile, rule: str | None = None) -> Outcome:
    """Run ``rule`` (default: the file's META ``rule``) on a parsed file.

    Per-group budgets in META (``budget_per_neighborhood``, ``budget_per_district``,
    ``budget_per_category``) bound the spending per group: greedy respects them directly;
    equal shares and maxwelfare run once per group with that group's budget (every voter
    gets an equal share of it; only supporters of the group's projects can spend it).
    """
    e = election_from_pb(pb)
    name = normalise_rule(rule or pb.rule)
    groups = pb.group_budgets()
    if groups is None:
        return run_election(e, name)
    column, caps = groups
    member = {j: (pb.projects[p].fields.get(column, "").strip(), caps.get(pb.projects[p].fields.get(column, "").strip()))
              for j, p in enumerate(e.project_ids)}
    if name == "greedy":
        return greedy(e, caps={j: (g, c) for j, (g, c) in member.items() if c is not None},
                      group_caps=caps, leftover="leftover_budget" in pb.meta)
    # other rules: one run per group with the group's budget
    selected: list[str] = []
    steps: dict[str, Step] = {}
    for g, cap in caps.items():
        js = [j for j, (gg, _) in member.items() if gg == g]
        sub = run_election(e.subset(js, cap), name)
        selected += sub.selected
        steps.update(sub.steps)
    return Outcome(name, selected, e.budget, sum((pb.projects[p].cost for p in selected), Fraction(0)), steps,
                   used_rule=name, note=f"een aparte ronde per {column} met het budget van die groep")
