"""The numeric form of an election that the rules work on (built once from a PbFile).

Each ballot becomes, per project it names, an integer weight: 1 for approval and choose-1,
the points for cumulative and scoring ballots, and ``L - r`` for the project at 0-based
rank ``r`` in an ordinal ballot of length ``L`` (this reproduces the ``score`` column that
Pabulib publishes for ordinal files). A project's *score* is the sum of its weights; its
*votes* the number of ballots naming it, as the file's own ``votes`` column counts them: a
cumulative ballot that names a project with 0 points still counts as a vote for it (the
project is then not among that voter's *supporters*, who are the ones with a weight > 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from weefsel.participation.budgeting.pabulib import PbFile


@dataclass
class Election:
    """Projects (file order), costs, budget, and per-project supporters with weights."""

    project_ids: list[str]
    costs: list[Fraction]
    budget: Fraction
    n_voters: int
    supporters: list[np.ndarray]          # voter indices per project
    weights: list[np.ndarray]             # integer weight per supporter (same order)
    votes: list[int]
    scores: list[Fraction]
    currency: str = "EUR"

    @property
    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.project_ids)}

    def subset(self, projects: list[int], budget: Fraction) -> Election:
        """The election restricted to some projects (voters kept), e.g. one district."""
        return Election(
            [self.project_ids[j] for j in projects], [self.costs[j] for j in projects], budget,
            self.n_voters, [self.supporters[j] for j in projects], [self.weights[j] for j in projects],
            [self.votes[j] for j in projects], [self.scores[j] for j in projects], self.currency,
        )


def election_from_pb(pb: PbFile) -> Election:
    """Build the numeric election; integral weights are required (points are whole numbers)."""
    ids = list(pb.projects)
    pos = {p: i for i, p in enumerate(ids)}
    sup: list[list[int]] = [[] for _ in ids]
    wts: list[list[int]] = [[] for _ in ids]
    named = [0] * len(ids)
    ordinal = pb.vote_type == "ordinal"
    for v, b in enumerate(pb.ballots):
        n = len(b.projects)
        for r, p in enumerate(b.projects):
            j = pos[p]
            if b.points is not None:
                w = b.points[r]
                if w.denominator != 1:
                    raise ValueError("fractional points are not supported")
                w = int(w)
            elif ordinal:
                w = n - r
            else:
                w = 1
            named[j] += 1
            if w > 0:
                sup[j].append(v)
                wts[j].append(w)
    supporters = [np.asarray(s, dtype=np.int64) for s in sup]
    weights = [np.asarray(w, dtype=np.int64) for w in wts]
    return Election(
        ids, [pb.projects[p].cost for p in ids], pb.budget, len(pb.ballots), supporters, weights,
        named, [Fraction(int(w.sum())) for w in weights], pb.currency,
    )
