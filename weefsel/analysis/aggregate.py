"""Aggregation of indicator values to higher levels and to user-defined groups of areas.

Always recomputed from numerators and denominators: value(group) = sum(numerator) /
sum(denominator) * scale over the member areas that have both. For a published rate the
numerator is rate x population / 100 (an estimated count), so this is the population-weighted
mean of the published rates -- never a plain mean of rates or percentiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
import pandas as pd

from weefsel.errors import CatalogueError, InputError

if TYPE_CHECKING:   # the catalogue imports this module's users; avoid a cycle at import time
    from weefsel.indicators.catalogue import Catalogue

AGG_COLUMNS = ["group_code", "period", "indicator", "value", "numerator", "denominator",
               "n_members", "n_used", "coverage", "suppressed"]
PARENT_COLUMN = {"wijk": "wijk_code", "gemeente": "gemeente_code", "provincie": "provincie_code"}


def parent_map(areas: pd.DataFrame, to_level: str) -> pd.Series:
    """area code -> code of its ``to_level`` parent, from the warehouse areas table."""
    if to_level == "land":
        return pd.Series("NL00", index=areas["code"].to_numpy())
    col = PARENT_COLUMN.get(to_level)
    if col is None:
        raise InputError(f"cannot aggregate to level '{to_level}'",
                         expected="wijk, gemeente, provincie or land")
    return pd.Series(areas[col].to_numpy(), index=areas["code"].to_numpy()).dropna()


def group_map(areas: pd.DataFrame, groups: Mapping[str, Iterable[str]]) -> pd.Series:
    """Members of user groups (e.g. a 'gebiedsteam' = list of wijken) as area -> group.

    A group lists codes at any level; an area belongs to the group when its own code, its
    wijk or its gemeente is listed. An area in two groups is an error (groups must not overlap,
    or counts would be double-counted)."""
    a = areas.set_index("code")
    out: dict[str, str] = {}
    for name, members in groups.items():
        members = set(members)
        if not members:
            raise InputError(f"group '{name}' has no members")
        hit = a.index[a.index.isin(members) | a["wijk_code"].isin(members) |
                      a["gemeente_code"].isin(members)]
        if len(hit) == 0:
            raise InputError(f"group '{name}': none of its codes is a known area",
                             expected="codes like WK003401 or BU00340101")
        for code in hit:
            if code in out and out[code] != name:
                raise InputError(f"area {code} is in both groups '{out[code]}' and '{name}'")
            out[code] = name
    return pd.Series(out)


def aggregate(values: pd.DataFrame, mapping: pd.Series, catalogue: "Catalogue") -> pd.DataFrame:
    """Aggregate indicator_values rows (any one level) along ``mapping`` (area -> group)."""
    scale = {i.id: i.scale for i in catalogue}
    minpop = {i.id: i.min_population for i in catalogue}
    v = values[values["indicator"].isin(scale)].copy()
    v["group_code"] = v["area_code"].map(mapping)
    v = v.dropna(subset=["group_code"])
    if v.empty:
        return pd.DataFrame(columns=AGG_COLUMNS)
    usable = v["numerator"].notna() & v["denominator"].notna() & (v["denominator"] > 0)
    v["num_u"] = v["numerator"].where(usable)
    v["den_u"] = v["denominator"].where(usable)
    v["den_all"] = v["denominator"].where(v["denominator"] > 0)
    g = v.groupby(["group_code", "period", "indicator"], sort=True)
    out = g.agg(numerator=("num_u", "sum"), denominator=("den_u", "sum"),
                den_all=("den_all", "sum"), n_members=("area_code", "size"),
                n_used=("num_u", "count")).reset_index()
    out.loc[out["n_used"] == 0, ["numerator", "denominator"]] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        out["value"] = out["numerator"] / out["denominator"] * out["indicator"].map(scale)
        out["coverage"] = out["denominator"] / out["den_all"]
    out["suppressed"] = (out["denominator"] < out["indicator"].map(minpop)).fillna(False).astype(bool)
    out.loc[out["suppressed"], "value"] = np.nan
    return out[AGG_COLUMNS]


def aggregate_to_level(values: pd.DataFrame, areas: pd.DataFrame, to_level: str,
                       catalogue: "Catalogue") -> pd.DataFrame:
    return aggregate(values, parent_map(areas, to_level), catalogue)


def aggregate_groups(values: pd.DataFrame, areas: pd.DataFrame,
                     groups: Mapping[str, Iterable[str]], catalogue: "Catalogue") -> pd.DataFrame:
    return aggregate(values, group_map(areas, groups), catalogue)


def check_reference_population(population: pd.Series, groups: pd.Series | None,
                               what: str = "reference") -> None:
    """A reference (NL, or each province) whose total population is zero or unknown makes
    every normalisation and rank meaningless: stop before computing."""
    pop = population.astype(float)
    if groups is None:
        totals = pd.Series({"NL": pop.sum(min_count=1)})
    else:
        totals = pop.groupby(groups.reindex(pop.index)).sum(min_count=1)
        if totals.empty:
            raise CatalogueError(f"{what}: no area has a reference group (provincie code)")
    bad = totals[~(totals > 0)]
    if len(bad):
        raise CatalogueError(f"{what} population is zero or unknown for {', '.join(map(str, bad.index))}; "
                             "cannot normalise or rank against it")
