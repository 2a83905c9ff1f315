"""Plain-language audit of a draw, in Dutch and English (Markdown) and as JSON.

The audit lets anyone check three things: the panel meets the quotas; how fair the lottery
was (minimum, Gini and geometric mean of the selection probabilities); and that the
published seed really selects this panel (the exact command to re-run the draw).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from weefsel.participation.sortition.legacy import jeffreys_upper
from weefsel.participation.sortition.model import Result
from weefsel.participation.sortition.stats import summary


def distribution_digest(result: Result) -> str | None:
    """SHA-256 of the published distribution (units, counts, probabilities to 12 decimals)."""
    d = result.distribution
    if d is None:
        return None
    payload = json.dumps({"units": [[result.instance.ids[i] for i in u] for u in d.units],
                          "counts": d.counts.tolist(),
                          "probabilities": [round(float(p), 12) for p in d.probabilities]},
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def distribution_json(result: Result) -> dict | None:
    """The published lottery: groups of interchangeable people and panels with probabilities.

    ``panels[j]["seats"]`` maps a group index to the number of its members on panel j
    (drawn uniformly within the group); when every group is one person, ``members`` lists
    the panel's ids directly.
    """
    d = result.distribution
    if d is None:
        return None
    ids = result.instance.ids
    singletons = all(len(u) == 1 for u in d.units)
    panels = []
    for row, p in zip(d.counts, d.probabilities):
        entry: dict = {"probability": float(p)}
        if singletons:
            entry["members"] = [ids[d.units[t][0]] for t in np.flatnonzero(row)]
        else:
            entry["seats"] = {str(t): int(row[t]) for t in np.flatnonzero(row)}
        panels.append(entry)
    return {"groups": None if singletons else [[ids[i] for i in u] for u in d.units],
            "panels": panels, "pool_order": list(ids)}


def build_audit(result: Result, *, command: str, population: dict[str, dict[str, float]] | None = None
                ) -> dict:
    """The audit as plain data (the JSON form); ``population`` = CBS shares per category."""
    inst = result.instance
    m = inst.membership()
    panel_counts = m[:, result.panel].sum(axis=1)
    expected = m @ result.probabilities
    rows = []
    for j, q in enumerate(inst.quotas):
        row = {"category": q.category, "feature": q.feature, "min": q.min, "max": q.max,
               "pool": int(m[j].sum()), "pool_share": float(m[j].sum() / inst.n),
               "panel": int(panel_counts[j]), "expected_panel": float(expected[j]),
               "within_quota": bool(q.min <= panel_counts[j] <= q.max)}
        if population and q.category in population:
            total = sum(population[q.category].values())
            share = population[q.category].get(q.feature)
            row["population_share"] = None if share is None or not total else share / total
        rows.append(row)
    figures = summary(result.probabilities, inst.k)
    out = {
        "source": inst.source, "pool_size": inst.n, "panel_size": inst.k,
        "algorithm": result.algorithm, "exact_probabilities": result.exact,
        "seed": result.seed, "generator": "numpy.random.Generator(PCG64(seed))",
        "household_rule": bool(inst.households), "runtime_s": round(result.runtime_s, 3),
        **figures,
        "quotas": rows, "panel": [inst.ids[i] for i in result.panel],
        "all_quotas_met": all(r["within_quota"] for r in rows),
        "distribution_sha256": distribution_digest(result),
        "distribution": distribution_json(result),
        "panels_in_distribution": None if result.distribution is None else len(result.distribution.probabilities),
        "command": command, "notes": list(result.notes),
    }
    if not result.exact:
        out["samples"] = result.samples
        out["min_probability_upper_99"] = jeffreys_upper(figures["min_probability"], result.samples)
    return out


TEXT = {
    "nl": {
        "title": "Auditrapport loting burgerberaad",
        "intro": ("Uit een pool van {n} aanmelders is een panel van {k} mensen geloot met het algoritme "
                  "**{alg}**. Ieder lid van de pool had een vooraf berekende kans om gekozen te worden; "
                  "de loting zelf gebruikt een openbaar zaadgetal (seed), zodat iedereen haar kan herhalen."),
        "exact": "De kansen zijn exact berekend uit de kansverdeling over {m} mogelijke panels.",
        "estimated": ("De kansen zijn geschat uit {s} herhaalde lotingen (LEGACY heeft geen formule); "
                      "de kleinste kans is met 99% zekerheid hoogstens {ub:.2%}."),
        "fair": "Eerlijkheid van de kansen",
        "min": "kleinste kans", "max": "grootste kans", "mean": "gemiddelde kans k/n",
        "gini": "Gini-coëfficiënt (0 = iedereen gelijk)", "geo": "meetkundig gemiddelde",
        "quotas": "Samenstelling: pool, panel en quota",
        "cols": ["categorie", "waarde", "min", "max", "pool", "panel", "verwacht", "bevolking (CBS)", "binnen quota"],
        "yes": "ja", "no": "NEE",
        "allmet": "Alle quota zijn gehaald.", "notmet": "Let op: niet alle quota zijn gehaald.",
        "panel": "Geloot panel", "verify": "Controleer de loting",
        "verify_text": ("Herhaal de loting met precies dezelfde bestanden, dezelfde versie van weefsel en "
                        "hetzelfde zaadgetal ({seed}); het resultaat moet hetzelfde panel zijn:"),
        "digest": "Vingerafdruk (SHA-256) van de gepubliceerde kansverdeling: `{d}`.",
        "household": "Per huishouden/adres is hoogstens één persoon gekozen.",
    },
    "en": {
        "title": "Audit report of the citizens' assembly draw",
        "intro": ("From a pool of {n} volunteers a panel of {k} people was drawn with the **{alg}** "
                  "algorithm. Every pool member had a selection probability computed in advance; the draw "
                  "itself uses a published random seed so anyone can repeat it."),
        "exact": "The probabilities are exact, computed from the lottery over {m} possible panels.",
        "estimated": ("The probabilities are estimated from {s} repeated draws (LEGACY has no formula); "
                      "with 99% confidence the smallest probability is at most {ub:.2%}."),
        "fair": "Fairness of the probabilities",
        "min": "minimum probability", "max": "maximum probability", "mean": "mean probability k/n",
        "gini": "Gini coefficient (0 = everyone equal)", "geo": "geometric mean",
        "quotas": "Make-up: pool, panel and quotas",
        "cols": ["category", "value", "min", "max", "pool", "panel", "expected", "population (CBS)", "within quota"],
        "yes": "yes", "no": "NO",
        "allmet": "All quotas are met.", "notmet": "Warning: not all quotas are met.",
        "panel": "Drawn panel", "verify": "Verify the draw",
        "verify_text": ("Re-run the draw with exactly the same files, the same weefsel version and the same "
                        "seed ({seed}); it must give the same panel:"),
        "digest": "Fingerprint (SHA-256) of the published distribution: `{d}`.",
        "household": "At most one person per household/address was selected.",
    },
}


def render_markdown(audit: dict, lang: str = "nl") -> str:
    """The audit as Markdown in Dutch ('nl') or English ('en')."""
    t = TEXT[lang]
    pct = lambda x: "–" if x is None else f"{x:.2%}"
    lines = [f"# {t['title']}", "", t["intro"].format(n=audit["pool_size"], k=audit["panel_size"],
                                                       alg=audit["algorithm"].upper()), ""]
    if audit["exact_probabilities"]:
        lines.append(t["exact"].format(m=audit["panels_in_distribution"]))
    else:
        lines.append(t["estimated"].format(s=audit["samples"], ub=audit["min_probability_upper_99"]))
    if audit["household_rule"]:
        lines += ["", t["household"]]
    lines += ["", f"## {t['fair']}", "",
              f"- {t['min']}: {pct(audit['min_probability'])}",
              f"- {t['max']}: {pct(audit['max_probability'])}",
              f"- {t['mean']}: {pct(audit['mean_probability'])}",
              f"- {t['gini']}: {pct(audit['gini'])}",
              f"- {t['geo']}: {pct(audit['geometric_mean'])}", "",
              f"## {t['quotas']}", "", "| " + " | ".join(t["cols"]) + " |",
              "|" + "---|" * len(t["cols"])]
    for r in audit["quotas"]:
        pop = r.get("population_share")
        lines.append(f"| {r['category']} | {r['feature']} | {r['min']} | {r['max']} | "
                     f"{r['pool']} ({r['pool_share']:.0%}) | {r['panel']} | {r['expected_panel']:.2f} | "
                     f"{'–' if pop is None else f'{pop:.0%}'} | {t['yes'] if r['within_quota'] else t['no']} |")
    lines += ["", t["allmet"] if audit["all_quotas_met"] else t["notmet"], "",
              f"## {t['panel']}", "", ", ".join(audit["panel"]), "",
              f"## {t['verify']}", "", t["verify_text"].format(seed=audit["seed"]), "",
              "```", audit["command"], "```", ""]
    if audit["distribution_sha256"]:
        lines += [t["digest"].format(d=audit["distribution_sha256"]), ""]
    return "\n".join(lines)


def render_report(audit: dict) -> str:
    """Dutch then English, one Markdown file."""
    return render_markdown(audit, "nl") + "\n---\n\n" + render_markdown(audit, "en")


def to_json(audit: dict) -> str:
    return json.dumps(audit, ensure_ascii=False, indent=2, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
