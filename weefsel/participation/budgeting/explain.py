"""Dutch explanations: why each project was or was not funded.

Each sentence names the numbers the rule decided on, so a resident can check it: for greedy
the money left after the projects with more votes, for equal shares the money the project's
own supporters still had (each voter's equal share, minus what they already paid for).
"""

from __future__ import annotations

from fractions import Fraction

from weefsel.participation.amounts import SYMBOLS, format_money  # noqa: F401  (one notation app-wide)
from weefsel.participation.budgeting.pabulib import PbFile
from weefsel.participation.budgeting.rules import Outcome, Step


def money(amount: Fraction | float, currency: str = "EUR") -> str:
    """Dutch money notation: ``€ 7.000,50``, computed shares rounded to ``€ 4.210`` (see
    weefsel.participation.amounts.format_money)."""
    return format_money(amount, currency)


def _stemmers(k: int) -> str:
    return "1 stemmer" if k == 1 else f"{k} stemmers"


def explain_step(step: Step, cost: Fraction, rule: str, currency: str) -> str:
    """One sentence (Dutch) for one project."""
    m = lambda x: money(x, currency)
    if step.note == "geen stemmen":
        return "niet gefinancierd: het project kreeg geen stemmen"
    if step.note == "geen punten":
        if step.supporters == 1:
            return "niet gefinancierd: de enige stemmer die het noemde, gaf het 0 punten"
        return f"niet gefinancierd: de {step.supporters} stemmers die het noemden, gaven het allemaal 0 punten"
    if step.note == "restbudget":
        return (f"gefinancierd uit het restbudget: na de groepsbudgetten was er nog {m(step.remaining)} over, "
                f"het project kost {m(cost)}")
    if step.note == "aanvulling":
        return (f"gefinancierd bij de aanvulling op volgorde van stemmen: er was nog {m(step.remaining)} over, "
                f"het project kost {m(cost)}")
    if rule.startswith("equalshares"):
        if step.funded:
            return (f"gefinancierd ({step.note}): de {_stemmers(step.supporters)} die ervoor stemden, "
                    f"konden samen de {m(cost)} betalen")
        return (f"niet gefinancierd: de {_stemmers(step.supporters)} hadden samen nog {m(step.remaining)} over, "
                f"het project kost {m(cost)}")
    if rule == "maxwelfare":
        if step.funded:
            return "gefinancierd: hoort bij de combinatie van projecten met de meeste steun binnen het budget"
        return (f"niet gefinancierd: de combinatie met de meeste steun laat {m(step.remaining)} over, "
                f"het project kost {m(cost)}")
    where = f" in {step.note.removeprefix('groep ')}" if step.note.startswith("groep ") else ""
    if step.funded:
        return (f"gefinancierd: na de projecten met meer stemmen was er{where} nog {m(step.remaining)} over, "
                f"het project kost {m(cost)}")
    return (f"niet gefinancierd: na de projecten met meer stemmen was er{where} nog {m(step.remaining)} over, "
            f"het project kost {m(cost)}")


def explain(pb: PbFile, outcome: Outcome) -> dict[str, str]:
    """project id -> Dutch explanation, in PROJECTS order."""
    rule = outcome.used_rule or outcome.rule
    out: dict[str, str] = {}
    for pid, proj in pb.projects.items():
        step = outcome.steps.get(pid)
        if step is None:
            out[pid] = "niet beoordeeld: het project hoort bij geen enkel deelbudget"
            continue
        text = explain_step(step, proj.cost, rule.split(" ")[0], pb.currency)
        if outcome.comparison and outcome.used_rule == "greedy":
            text += f" (greedy gekozen na vergelijking: {outcome.comparison})"
        out[pid] = text
    return out


def completion_nl(rule: str) -> str:
    """The add1 variant of an equal-shares rule in plain Dutch ('' for other rules)."""
    completion = rule.partition("/")[2].removesuffix("-comparison")
    if completion == "add1-first":
        return ("variant add1-first: het bedrag per stemmer is steeds met 1 verhoogd en gestopt bij de "
                "eerste uitkomst waarin geen project meer in het budget past (zoals pabutools)")
    if completion in ("add1", "add1u"):
        return ("variant add1: het bedrag per stemmer is steeds met 1 verhoogd zolang de uitkomst binnen het "
                "budget bleef, ook voorbij de eerste uitkomst waarin geen project meer past (zoals de "
                "officiële uitslagen van Assen 2024, Świecie 2023 en Wieliczka 2023)"
                + ("; daarna aangevuld op volgorde van stemmen" if completion == "add1u" else ""))
    return ""


def summary(pb: PbFile, outcome: Outcome) -> str:
    """One Dutch line on the whole outcome."""
    cur = pb.currency
    line = (f"{len(outcome.selected)} van {len(pb.projects)} projecten gefinancierd volgens {outcome.rule}; "
            f"besteed {money(outcome.cost, cur)} van {money(outcome.budget, cur)}")
    if outcome.per_voter is not None:
        line += f"; elke stemmer had {money(outcome.per_voter, cur)} te verdelen"
    variant = completion_nl(outcome.rule)
    if variant:
        line += f"; {variant}"
    if outcome.comparison:
        line += f"; vergelijking met greedy: {outcome.comparison}"
    if outcome.note:
        line += f"; {outcome.note}"
    return line
