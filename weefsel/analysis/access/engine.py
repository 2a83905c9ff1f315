"""One accessibility run and the what-if around it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from weefsel.analysis.access.aggregate import aggregate
from weefsel.analysis.access.crs import check_rd
from weefsel.analysis.access.distance import DistanceModel
from weefsel.analysis.access.measures import AccessConfig, point_measures
from weefsel.analysis.access.supply import clean_facilities
from weefsel.errors import InputError


@dataclass
class AccessInputs:
    """Everything a run needs; ``what_if`` copies it with changed facilities.

    demand: area_code, x, y, population (RD metres); facilities: x_rd, y_rd, type[, capacity,
    facility_id]; areas: code, level[, wijk_code, gemeente_code, provincie_code].
    """

    demand: pd.DataFrame
    facilities: pd.DataFrame
    areas: pd.DataFrame
    config: AccessConfig = field(default_factory=AccessConfig)
    period: str = ""
    model: DistanceModel | None = None
    published_population: pd.Series | None = None  # by area code; guards partly covered parents

    def checked(self) -> "AccessInputs":
        for col in ("x", "y", "population"):
            if col not in self.demand.columns:
                raise InputError(f"demand points lack column {col!r}", where="demand",
                                 expected="area_code, x, y, population")
        pop = pd.to_numeric(self.demand["population"], errors="coerce")
        if pop.isna().any() or (pop < 0).any():
            row = int(np.flatnonzero(pop.isna() | (pop < 0))[0])
            raise InputError(f"population at row {row} is missing or negative", where="demand",
                             expected="counts ≥ 0 (use 0 for empty areas)")
        check_rd(self.demand["x"].to_numpy(), self.demand["y"].to_numpy(), where="demand points")
        demand = self.demand.reset_index(drop=True)
        if "area_code" not in demand.columns:
            demand = demand.assign(area_code=None)
        return replace(self, demand=demand, facilities=clean_facilities(self.facilities))


@dataclass
class AccessResult:
    """Point measures (aligned with ``inputs.demand``) and the long area table."""

    inputs: AccessInputs
    points: dict[tuple[str, str], np.ndarray]
    table: pd.DataFrame
    notes: list[str]


def facilities_outside(facilities: pd.DataFrame) -> int:
    """Facilities without an area (outside every polygon): kept as supply, reported."""
    if "area_code" not in facilities.columns:
        return 0
    return int(facilities["area_code"].isna().sum())


def compute_access(inputs: AccessInputs, only_types: Iterable[str] | None = None) -> AccessResult:
    """Compute all measures per demand point and aggregate them to every area level."""
    inputs = inputs.checked()
    cfg = inputs.config
    model = inputs.model or cfg.model()
    points = point_measures(inputs.demand, inputs.facilities, cfg, model,
                            only_types=list(only_types) if only_types is not None else None)
    table = aggregate(points, inputs.demand, inputs.areas, inputs.period, inputs.published_population)
    notes = []
    n_out = facilities_outside(inputs.facilities)
    if n_out:
        notes.append(f"{n_out} facilities lie outside every area: kept as supply "
                     "(people cross borders), counted in no area")
    no_area = int(inputs.demand["area_code"].isna().sum())
    if no_area:
        notes.append(f"{no_area} demand points lie outside every area: they compete for supply "
                     "but are aggregated to no area")
    zero = int((inputs.demand["population"] == 0).sum())
    if zero:
        notes.append(f"{zero} demand points have zero population: they weigh 0 in E2SFCA demand "
                     "and in every aggregate; areas with no residents get value NULL, reason 'no residents'")
    return AccessResult(inputs, points, table, notes)


def apply_changes(facilities: pd.DataFrame, changes: Iterable[Mapping]) -> tuple[pd.DataFrame, set[str]]:
    """Apply add/remove/resize changes; returns the new table and the facility types touched.

    add:    {"action": "add", "type", "x_rd", "y_rd", "capacity"?, "facility_id"?}
    remove: {"action": "remove", "facility_id"}
    resize: {"action": "resize", "facility_id", "capacity"}
    """
    fac = clean_facilities(facilities)
    touched: set[str] = set()
    for n, ch in enumerate(changes):
        action = str(ch.get("action", "")).lower()
        where = f"change {n}"
        if action == "add":
            new = {"facility_id": str(ch.get("facility_id", f"whatif:{n}")), "type": ch.get("type"),
                   "x_rd": ch.get("x_rd", ch.get("x")), "y_rd": ch.get("y_rd", ch.get("y")),
                   "capacity": ch.get("capacity", 1.0)}
            row = clean_facilities(pd.DataFrame([new]), where=where)
            if row["facility_id"].iloc[0] in set(fac["facility_id"]):
                raise InputError(f"facility_id {new['facility_id']!r} already exists", where=where)
            fac = pd.concat([fac, row], ignore_index=True)
            touched.add(str(new["type"]))
            continue
        fid = str(ch.get("facility_id"))
        hit = fac["facility_id"] == fid
        if not hit.any():
            raise InputError(f"no facility with id {fid!r}", where=where)
        touched.add(str(fac.loc[hit, "type"].iloc[0]))
        if action == "remove":
            fac = fac.loc[~hit].reset_index(drop=True)
        elif action == "resize":
            cap = float(ch.get("capacity"))
            if not cap >= 0:
                raise InputError(f"negative capacity {cap:g}", where=where, expected="capacity ≥ 0")
            fac.loc[hit, "capacity"] = cap
        else:
            raise InputError(f"unknown action {action!r}", where=where, expected="add, remove or resize")
    return fac, touched


def what_if(base_inputs: AccessInputs, changes: Iterable[Mapping],
            base: AccessResult | None = None) -> pd.DataFrame:
    """Change per area of every measure after adding/removing/resizing facilities.

    Returns (area_code, level, measure, facility_type, before, after, delta), only rows
    of the types touched plus the cross-type meeting-place measures. Recomputes only the
    touched types, so a planner can try many variants quickly.
    """
    base = base or compute_access(base_inputs)
    new_fac, touched = apply_changes(base.inputs.facilities, changes)
    cfg = base.inputs.config
    if cfg.types is None:  # keep the type list fixed (a removed last facility → 'no facility')
        cfg = replace(cfg, types=tuple(sorted(set(base.inputs.facilities["type"]) | touched)))
    if cfg.meeting_types is None:
        cfg = replace(cfg, meeting_types=cfg.types)
    after = compute_access(replace(base.inputs, facilities=new_fac, config=cfg), only_types=touched)
    key = ["area_code", "level", "measure", "facility_type"]
    before = base.table[key + ["value"]]
    merged = after.table[key + ["value"]].merge(before, on=key, how="left", suffixes=("_after", "_before"))
    merged = merged.rename(columns={"value_before": "before", "value_after": "after"})
    merged["delta"] = merged["after"] - merged["before"]
    return merged[key + ["before", "after", "delta"]].sort_values(key).reset_index(drop=True)
