"""Quotas from the CBS make-up of an area (warehouse ``wide`` tables).

The share of each feature value in the population (e.g. Vrouwen / (Mannen + Vrouwen))
times the panel size k gives a target; the quota is that target widened by ``slack``
(a fraction of the target) and rounded outward, so that a panel mirroring the population
always fits. Source: CBS Kerncijfers wijken en buurten (via the warehouse), period as given.
"""

from __future__ import annotations

import math

import pandas as pd

from weefsel.errors import InputError
from weefsel.participation.sortition.model import Quota

#: Age bands of CBS Kerncijfers usable for a panel (15+; under-15s are not invited).
AGE_COLUMNS = {"15-24": "k_15Tot25Jaar", "25-44": "k_25Tot45Jaar",
               "45-64": "k_45Tot65Jaar", "65+": "k_65JaarOfOuder"}
GENDER_COLUMNS = {"vrouw": "Vrouwen", "man": "Mannen"}


def quotas_from_population(shares: dict[str, dict[str, float]], k: int, slack: float = 0.15
                           ) -> list[Quota]:
    """Quotas per category/feature: min = ⌊s·k·(1−slack)⌋, max = max(1, ⌈s·k·(1+slack)⌉).

    ``shares[category][feature]`` are population shares (normalised per category here).
    Always min ≤ s·k ≤ max, and max ≥ 1 for every feature: a small wijk (or one CBS
    reports as 0 inhabitants, a figure rounded to fives) must not get a 0–0 quota, which
    would make its residents impossible to draw. :func:`quota_notes` names those features.
    """
    if k <= 0:
        raise InputError(f"panel size must be positive, got {k}", where="k")
    if not 0 <= slack < 1:
        raise InputError(f"slack must be in [0, 1), got {slack}", where="slack")
    quotas: list[Quota] = []
    for category, values in shares.items():
        total = sum(values.values())
        if total <= 0 or any(v < 0 or math.isnan(v) for v in values.values()):
            raise InputError("shares must be non-negative numbers with a positive total",
                             where=f"category {category!r}")
        for feature, share in values.items():
            target = k * share / total
            lo = max(0, math.floor(target * (1 - slack) + 1e-9))
            hi = min(k, max(1, math.ceil(target * (1 + slack) - 1e-9), math.ceil(target - 1e-9)))
            quotas.append(Quota(category, feature, min(lo, hi), hi))
    return quotas


def quota_notes(shares: dict[str, dict[str, float]], k: int, slack: float = 0.15) -> list[str]:
    """Features whose quota max was raised to 1 (a target below one person), in words."""
    notes = []
    for category, values in shares.items():
        total = sum(values.values()) or 1.0
        for feature, share in values.items():
            target = k * share / total
            if math.ceil(target * (1 + slack) - 1e-9) < 1:
                why = "CBS counts 0 inhabitants (its counts are rounded to fives)" if share == 0 else f"target {target:.2f} people"
                notes.append(f"{category} {feature}: {why}; max raised to 1 so its residents can be drawn")
    return notes


def shares_from_wide(row: pd.Series | dict, *, gender: bool = True, age: bool = True
                     ) -> dict[str, dict[str, float]]:
    """Gender and age shares of one area from a warehouse ``wide`` row (counts of people)."""
    row = dict(row)
    out: dict[str, dict[str, float]] = {}
    wanted = ([("geslacht", GENDER_COLUMNS)] if gender else []) + \
             ([("leeftijd", AGE_COLUMNS)] if age else [])
    for category, columns in wanted:
        missing = [c for c in columns.values() if c not in row or pd.isna(row[c])]
        if missing:
            raise InputError(f"missing CBS column(s) {', '.join(missing)}",
                             where=f"area {row.get('area_code', '?')}")
        out[category] = {f: float(row[c]) for f, c in columns.items()}
    return out


def wijk_shares(wijken: pd.DataFrame, gemeente: str, *, name_column: str | None = None
                ) -> dict[str, float]:
    """Population share of each wijk of ``gemeente`` (codes WKggggxx under GMgggg)."""
    if "area_code" not in wijken or "AantalInwoners" not in wijken:
        raise InputError("need columns area_code and AantalInwoners", where="wijk table")
    prefix = "WK" + gemeente.removeprefix("GM")
    sel = wijken[wijken["area_code"].astype(str).str.startswith(prefix)].dropna(subset=["AantalInwoners"])
    if sel.empty:
        raise InputError(f"no wijken with population for {gemeente}", where="wijk table")
    label = sel[name_column] if name_column else sel["area_code"]
    return dict(zip(label.astype(str), sel["AantalInwoners"].astype(float)))


def area_shares(wide_gemeente: pd.DataFrame, gemeente: str, wide_wijk: pd.DataFrame | None = None
                ) -> dict[str, dict[str, float]]:
    """Shares for a gemeente: gender and age, plus wijk when a wijk table is given.

    Typical use: ``w = Warehouse(path); area_shares(w.wide('gemeente', period='2024'),
    'GM0034', w.wide('wijk', period='2024'))``.
    """
    rows = wide_gemeente[wide_gemeente["area_code"].astype(str) == gemeente]
    if rows.empty:
        raise InputError(f"gemeente {gemeente} not in the table", where="gemeente")
    shares = shares_from_wide(rows.iloc[0])
    if wide_wijk is not None:
        shares["wijk"] = wijk_shares(wide_wijk, gemeente)
    return shares
