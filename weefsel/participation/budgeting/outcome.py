"""What a rule returns: the funded projects and, per project, what the rule saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass
class Step:
    """What the rule saw when it decided about one project (feeds the explanations)."""

    project: str
    funded: bool
    remaining: Fraction              # greedy: budget left when considered; MES: supporters' money left
    supporters: int = 0
    rho: Fraction | None = None      # MES: price per unit of utility at selection
    note: str = ""


@dataclass
class Outcome:
    """The funded projects (in selection order) and how the rule got there."""

    rule: str
    selected: list[str]
    budget: Fraction
    cost: Fraction
    steps: dict[str, Step] = field(default_factory=dict)
    per_voter: Fraction | None = None    # MES: final per-voter endowment used
    comparison: str | None = None        # MES with comparison: who preferred what
    used_rule: str | None = None         # the rule whose outcome was returned (comparison step)
    note: str | None = None              # e.g. one run per group
