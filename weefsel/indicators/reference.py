"""Reference levels (provincie, Nederland) and the scope of every rank.

Why one module: the map, the table, the compare view, the profile and the export must show
the *same* rank with the *same* scope, so all of them call :func:`rank_values` and
:func:`scope_text` here.

Reference values follow one rule (docs/method.md, "Referentieniveaus"):

1. the area's own figure where the warehouse holds one (the publisher's figure for that
   area, e.g. RIVM's Nederland row, the Veiligheidsmonitor's Flevoland row, or CBS's counts
   of Nederland), ``basis = "published"``;
2. otherwise, when every gemeente of the area is in the warehouse, the sum of the gemeenten's
   numerators over the sum of their denominators (for a published rate: rate x population,
   i.e. estimated counts, which makes it the population-weighted mean), ``basis = "counts"``;
3. otherwise no value, with the reason (``not_in_build``: not all its gemeenten are here;
   ``too_little_input``: less than :data:`MIN_REFERENCE_COVERAGE` of the population has data).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

#: a count-based reference value needs data for at least this share of the denominator
MIN_REFERENCE_COVERAGE = 0.9

LEVEL_PLURAL = {"land": "landen", "provincie": "provincies", "gemeente": "gemeenten",
                "wijk": "wijken", "buurt": "buurten"}

#: missing_reason -> plain Dutch sentence (the API's missing_reason_nl)
MISSING_NL = {
    "not_published": "De bron publiceert voor dit gebied geen cijfer.",
    "suppressed": "Door de bron onderdrukt of te weinig inwoners voor een betrouwbaar cijfer.",
    "other_indeling": "Alleen gepubliceerd op een oudere gebiedsindeling; nog niet omgerekend "
                      "naar de huidige indeling.",
    "not_in_build": "Niet berekend: niet alle gemeenten van dit gebied zitten in dit warehouse.",
    "not_at_level": "De bron publiceert dit cijfer niet op dit niveau.",
    "too_little_input": "Te weinig eigen cijfers om een waarde of rang te geven.",
}


def rank_values(values: pd.Series, direction: str = "", groups: pd.Series | None = None
                ) -> pd.DataFrame:
    """Rank of every area's value within its group: columns ``rank``, ``of``, ``percentile``.

    1 = most favourable ('hoger is beter' / higher_is_better: the highest value; 'hoger is
    slechter': the lowest); without a direction 1 = the highest value. Ties share the best
    rank (as the composite's ranks). ``of`` counts the areas in the group with a value;
    ``percentile`` is the share of them that are less favourable (0..1). Missing values get
    no rank. ``groups`` (area -> group) ranks within each group; None = one group.
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    key = v if _is_worse(direction) else -v           # ascending key: smaller = better
    n = len(v)
    rank = np.full(n, np.nan)
    of = np.full(n, np.nan)
    pct = np.full(n, np.nan)
    if groups is None:
        labels = np.zeros(n, dtype=int)
        has_group = np.ones(n, dtype=bool)
    else:
        g = groups.reindex(values.index)
        has_group = g.notna().to_numpy()
        labels = pd.factorize(g)[0]
    ok = np.isfinite(key) & has_group
    for lab in np.unique(labels[ok]):
        sel = np.flatnonzero(ok & (labels == lab))
        k = key[sel]
        srt = np.sort(k)
        m = len(k)
        rank[sel] = np.searchsorted(srt, k, side="left") + 1       # ties share the best rank
        of[sel] = m
        worse = m - np.searchsorted(srt, k, side="right")           # strictly less favourable
        pct[sel] = worse / (m - 1) if m > 1 else np.nan
    return pd.DataFrame({"rank": rank, "of": of, "percentile": pct}, index=values.index)


def _is_worse(direction: str) -> bool:
    d = str(direction or "").lower()
    return d in ("higher_is_worse", "hoger is slechter")


def rank_order(direction: str) -> str:
    """'best_first' when the direction is known, else 'highest_first'."""
    d = str(direction or "").lower()
    return "best_first" if d in ("higher_is_worse", "hoger is slechter", "higher_is_better",
                                 "hoger is beter") else "highest_first"


def scope_name(areas: pd.DataFrame, level: str, codes: list[str] | None = None
               ) -> tuple[str, str | None, str]:
    """(scope, scope_code, Dutch place phrase) of the areas of ``level`` in this warehouse.

    All in one gemeente -> ('build', GMxxxx, 'in Almere'); all in one provincie -> ('build',
    PVxx, 'in Flevoland'); otherwise ('build', None, 'in dit bestand')."""
    sel = areas[areas["level"] == level]
    if codes is not None:
        sel = sel[sel["code"].isin(codes)]
    names = areas.set_index("code")["name"]
    for col in ("gemeente_code", "provincie_code"):
        if level in ("gemeente",) and col == "gemeente_code":
            continue
        if level in ("provincie", "land"):
            break
        if col in sel and len(sel) and sel[col].notna().all() and sel[col].nunique() == 1:
            code = str(sel[col].iloc[0])
            name = names.get(code)
            if name is None or (isinstance(name, float) and np.isnan(name)):
                from weefsel.sources.regions import PROVINCIE_NAMES
                name = PROVINCIE_NAMES.get(code, code)
            return "build", code, f"in {name}"
    return "build", None, "in dit bestand"


def scope_text(rank: float | None, of: float | None, level: str, place: str,
               order: str = "best_first", what: str = "") -> str | None:
    """'rang 5 van 6 gemeenten in Flevoland (1 = gunstigst)'."""
    if rank is None or of is None or not np.isfinite(rank) or not np.isfinite(of):
        return None
    one = {"best_first": "1 = gunstigst", "highest_first": "1 = hoogste waarde",
           "highest_score": "1 = hoogste score"}.get(order, "1 = gunstigst")
    what = f" {what}" if what else ""
    return (f"rang {int(rank)} van {int(of)} {LEVEL_PLURAL.get(level, level)}{what} {place} "
            f"({one})")


def band_text(percentile: float | None, level: str, place: str, flag_at: float = 0.9
              ) -> str | None:
    """The SVI flag's scope in words: 'bij de 10% minst gunstige wijken in Flevoland'."""
    if percentile is None or not np.isfinite(percentile):
        return None
    share = round((1 - flag_at) * 100)
    plural = LEVEL_PLURAL.get(level, level)
    if percentile <= 1 - flag_at + 1e-12:
        return f"bij de {share}% minst gunstige {plural} {place}"
    if percentile >= flag_at - 1e-12:
        return f"bij de {share}% gunstigste {plural} {place}"
    return None


def aggregate_reference(values: pd.DataFrame, areas: pd.DataFrame, to_level: str,
                        scales: Mapping[str, float], min_population: Mapping[str, float],
                        complete: Mapping[str, bool],
                        population: pd.Series | None = None) -> pd.DataFrame:
    """Count-based values of the ``to_level`` areas (provincie or land) from gemeente values.

    ``values``: gemeente indicator_values rows (area_code, period, indicator, value, numerator,
    denominator, suppressed). ``complete``: parent code -> True when all its gemeenten are in the
    warehouse (else the parent gets missing_reason 'not_in_build'). ``population``: gemeente
    -> inhabitants; ``coverage`` is the share of the parent's inhabitants living in gemeenten
    with a usable figure (without population: the share of its gemeenten). Returns
    area_code, period, indicator, value, numerator, denominator, suppressed, coverage, n_used,
    data_period, missing_reason."""
    cols = ["area_code", "period", "indicator", "value", "numerator", "denominator",
            "suppressed", "coverage", "n_used", "data_period", "missing_reason"]
    if values.empty:
        return pd.DataFrame(columns=cols)
    gm = areas[areas["level"] == "gemeente"].set_index("code")
    if to_level == "land":
        land = areas.loc[areas["level"] == "land", "code"]
        parent = pd.Series(land.iloc[0] if len(land) else "NL00", index=gm.index)
    else:
        parent = gm["provincie_code"].dropna()
    v = values.copy()
    v["area_code_parent"] = v["area_code"].map(parent)
    v = v.dropna(subset=["area_code_parent"])
    if v.empty:
        return pd.DataFrame(columns=cols)
    if "data_period" not in v:
        v["data_period"] = None
    den = v["denominator"].where(v["denominator"] > 0)
    usable = v["numerator"].notna() & den.notna() & ~v["suppressed"].astype(bool) \
        & v["value"].notna()
    # weight of each gemeente in the coverage: its inhabitants (else 1 per gemeente)
    pop = population.reindex(v["area_code"]).to_numpy(dtype=float) \
        if population is not None else np.full(len(v), np.nan)
    if not np.isfinite(pop).all():
        pop = np.ones(len(v))
    v = v.assign(num_u=v["numerator"].where(usable), den_u=den.where(usable),
                 pop_all=pop, pop_u=np.where(usable, pop, 0.0),
                 dp=v["data_period"].where(usable))
    g = v.groupby(["area_code_parent", "period", "indicator"], sort=True)
    out = g.agg(numerator=("num_u", "sum"), denominator=("den_u", "sum"),
                pop_all=("pop_all", "sum"), pop_u=("pop_u", "sum"),
                n_used=("num_u", "count"), data_period=("dp", "max")).reset_index()
    out = out.rename(columns={"area_code_parent": "area_code"})
    scale = out["indicator"].map(scales).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["value"] = out["numerator"] / out["denominator"] * scale
        out["coverage"] = out["pop_u"] / out["pop_all"]
    out.loc[out["n_used"] == 0, ["numerator", "denominator", "value", "coverage"]] = np.nan
    reason = pd.Series(None, index=out.index, dtype=object)
    reason[out["n_used"] == 0] = "not_published"
    low = (out["n_used"] > 0) & ~(out["coverage"] >= MIN_REFERENCE_COVERAGE)
    reason[low] = "too_little_input"
    incomplete = ~out["area_code"].map(lambda c: bool(complete.get(c, False)))
    reason[incomplete] = "not_in_build"
    out["suppressed"] = (out["denominator"] < out["indicator"].map(min_population)).fillna(False)
    out.loc[reason.notna() | out["suppressed"], "value"] = np.nan
    out["missing_reason"] = reason
    out.loc[out["suppressed"] & reason.isna(), "missing_reason"] = "suppressed"
    return out[cols]
