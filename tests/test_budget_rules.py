"""Voting rules: official winners on every file that publishes them, and properties."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.participation.budgeting import rules
from weefsel.participation.budgeting.election import Election
from weefsel.participation.budgeting.explain import explain, money
from weefsel.participation.budgeting.pabulib import parse_pb, read_pb
from weefsel.participation.budgeting.rules import greedy, max_welfare, mes, run_rule

PB_DIR = Path("participation/pabulib/pb_files")

#: Files whose published selection our implementation of their META rule does NOT reproduce,
#: with the evidence. Empty: all files with a `selected` column agree.
KNOWN_DEVIATIONS: dict[str, str] = {}


def _files_with_selected(data_dir) -> list[Path]:
    out = []
    for f in sorted((data_dir / PB_DIR).glob("*.pb")):
        with f.open(encoding="utf-8-sig") as fh:
            for line in fh:
                if line.startswith("project_id;"):
                    if "selected" in line.strip().split(";"):
                        out.append(f)
                    break
    return out


def test_official_winners_every_file(data_dir):
    """Every file with a published `selected` column: our outcome under its META rule is equal."""
    files = _files_with_selected(data_dir)
    assert len(files) >= 3  # Assen 2024, Swiecie 2023, Wieliczka 2023
    results = {}
    for f in files:
        pb = read_pb(f)
        got = run_rule(pb).selected
        results[f.name] = sorted(got) == sorted(pb.selected())
    bad = {k for k, ok in results.items() if not ok} - set(KNOWN_DEVIATIONS)
    assert not bad, f"differs from the official result: {bad}"


def test_wieliczka_comparison_keeps_equal_shares(data_dir):
    pb = read_pb(data_dir / PB_DIR / "Poland_Wieliczka_2023_Green_Budget.pb")
    out = run_rule(pb)
    assert out.used_rule == "equalshares/add1" and out.comparison
    assert out.cost <= pb.budget
    g = run_rule(pb, "greedy")
    assert sorted(g.selected) != sorted(out.selected)  # the comparison step mattered to check


def test_all_files_evaluate_within_budget(data_dir):
    for f in sorted((data_dir / PB_DIR).glob("*.pb")):
        pb = read_pb(f)
        if pb.rule.startswith("equalshares"):
            continue  # covered above (slower add1 search)
        out = run_rule(pb)
        assert out.cost <= pb.budget, f.name
        assert len(set(out.selected)) == len(out.selected)
        reasons = explain(pb, out)
        assert set(reasons) == set(pb.projects)


def test_amsterdam_neighbourhood_caps(data_dir):
    pb = read_pb(data_dir / PB_DIR / "Netherlands_Amsterdam_252.pb")
    out = run_rule(pb)
    column, caps = pb.group_budgets()
    spent: dict[str, Fraction] = {}
    for p in out.selected:
        g = pb.projects[p].fields[column]
        spent[g] = spent.get(g, Fraction(0)) + pb.projects[p].cost
    assert all(spent[g] <= caps[g] for g in spent)


SMALL = """META
key;value
budget;{budget}
vote_type;approval
rule;equalshares/add1
currency;EUR
PROJECTS
project_id;cost;votes
a;{ca};3
b;{cb};2
c;{cc};1
VOTES
voter_id;vote
1;a,b
2;a,b
3;a
4;c
"""


def test_mes_small_example_by_hand():
    # 4 voters, budget 100: each has 25. a (cost 60) is bought by voters 1-3 at 20 each;
    # b (cost 40): voters 1,2 have 5 each left -> 10 < 40, not affordable;
    # c (cost 30): voter 4 has 25 < 30, not affordable.  Plain MES: {a}.
    pb = parse_pb(SMALL.format(budget=100, ca=60, cb=40, cc=30))
    plain = run_rule(pb, "equalshares")
    assert plain.selected == ["a"]
    reasons = explain(pb, plain)
    assert reasons["b"] == "niet gefinancierd: de 2 stemmers hadden samen nog € 10 over, het project kost € 40"
    # add1: per-voter 25 -> 26 ... at 30 voter 4 buys c (60+30 = 90 <= 100); at 35 voters 1,2 reach b?
    out = run_rule(pb, "equalshares/add1")
    assert out.cost <= 100 and "a" in out.selected and "c" in out.selected
    g = run_rule(pb, "greedy")
    assert g.selected == ["a", "b"]
    assert explain(pb, g)["c"] == ("niet gefinancierd: na de projecten met meer stemmen was er nog € 0 over, "
                                  "het project kost € 30")


def test_money_format():
    assert money(4210) == "€ 4.210"
    assert money(Fraction(9000)) == "€ 9.000"
    assert money(1234567, "PLN") == "zł 1.234.567"


@st.composite
def elections(draw):
    m = draw(st.integers(1, 6))
    n = draw(st.integers(1, 8))
    costs = [Fraction(draw(st.integers(1, 50))) for _ in range(m)]
    ballots = [draw(st.sets(st.integers(0, m - 1), max_size=m)) for _ in range(n)]
    sup = [np.array([v for v, b in enumerate(ballots) if j in b], dtype=np.int64) for j in range(m)]
    weighted = draw(st.booleans())
    w = [np.array([draw(st.integers(1, 3)) if weighted else 1 for _ in s], dtype=np.int64) for s in sup]
    budget = Fraction(draw(st.integers(1, 120)))
    votes = [len(s) for s in sup]
    return Election([str(j) for j in range(m)], costs, budget, n, sup, w, votes, [Fraction(int(x.sum())) for x in w])


@settings(max_examples=60, deadline=None)
@given(elections(), st.booleans())
def test_rules_respect_budget_and_float_search_is_exact(e, cost_utility):
    for out in (greedy(e), mes(e, completion="none"), mes(e, completion="add1"), max_welfare(e),
                mes(e, cost_utility=False, completion="add1u")):
        assert out.cost <= e.budget
    # max welfare is at least greedy's welfare
    score = lambda sel: sum(e.scores[int(p)] for p in sel)
    assert score(max_welfare(e).selected) >= score(greedy(e).selected)
    # the float-searched add1 equals a purely exact add1 loop
    supported = {j for j in range(len(e.costs)) if len(e.supporters[j])}
    plain, _ = rules._Mes(e, e.budget, cost_utility).run()
    total = e.budget
    cur = plain
    if sum(e.costs) > e.budget:
        while set(cur) != supported:
            w2, _ = rules._Mes(e, total + e.n_voters, cost_utility).run()
            if sum((e.costs[j] for j in w2), Fraction(0)) > e.budget:
                break
            total, cur = total + e.n_voters, w2
    got = mes(e, cost_utility=cost_utility, completion="add1").selected
    assert sorted(got) == sorted(e.project_ids[j] for j in cur)
