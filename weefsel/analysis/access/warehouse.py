"""Read inputs from the warehouse and write ``access_results`` back (one transaction)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import shapely

from weefsel.analysis.access.demand import (
    assign_areas,
    demand_from_areas,
    read_demand_file,
)
from weefsel.analysis.access.engine import AccessInputs, AccessResult, compute_access
from weefsel.analysis.access.measures import AccessConfig
from weefsel.analysis.access.typology_link import meeting_types
from weefsel.errors import WeefselError
from weefsel.warehouse.store import Warehouse
from weefsel.warehouse.writer import write_transaction

RESULT_COLUMNS = ["area_code", "level", "period", "measure", "facility_type", "value",
                  "population", "missing_reason"]

CREATE_RESULTS = """
CREATE TABLE access_results (
    area_code       VARCHAR NOT NULL,
    level           VARCHAR NOT NULL,
    period          VARCHAR NOT NULL,
    measure         VARCHAR NOT NULL,     -- see weefsel/analysis/access_indicators.yaml
    facility_type   VARCHAR NOT NULL,     -- weefsel type, or 'meeting_places' for cross-type measures
    value           DOUBLE,               -- NULL only with a missing_reason
    population      DOUBLE,               -- residents the value is averaged over
    missing_reason  VARCHAR
)"""

POPULATION_VARIABLE = "AantalInwoners"


def load_inputs(wh: Warehouse, config: AccessConfig, demand_file: str | Path | None = None
                ) -> AccessInputs:
    """Demand, facilities and the area hierarchy from a warehouse.

    Demand level: buurten with polygon, plus wijken with polygon that have no such buurt
    (so Amsterdam buurten and national wijken can be mixed without double counting).
    """
    areas = wh.areas(with_geometry=True)
    facilities = wh.facilities(config.types)
    if facilities.empty:
        raise WeefselError("the warehouse holds no facilities (of the requested types); "
                           "build with OSM/registry sources first")
    pop = wh.observations([POPULATION_VARIABLE], breakdown="")
    period = str(pop["period"].max()) if not pop.empty else ""
    pop = pop[pop["period"] == period].groupby("area_code")["value"].first()
    # DuckDB hands BLOBs back as bytearray; shapely wants bytes
    geom = shapely.from_wkb(np.array([None if b is None or b is pd.NA or (isinstance(b, float) and np.isnan(b))
                                      else bytes(b) for b in areas["geom_rd"]], dtype=object))
    has_geom = ~shapely.is_missing(geom)
    buurt = has_geom & (areas["level"] == "buurt").to_numpy()
    covered = set(areas.loc[buurt, "wijk_code"].dropna().astype(str))
    wijk = has_geom & (areas["level"] == "wijk").to_numpy() & ~areas["code"].isin(covered).to_numpy()
    use = buurt | wijk
    if not use.any():
        raise WeefselError("no buurt or wijk polygons in the warehouse: accessibility needs geometry")
    if demand_file is not None:
        pts = read_demand_file(demand_file)
        demand = assign_areas(pts, areas.loc[use, "code"].to_numpy(), geom[use])
    else:
        demand = demand_from_areas(areas.loc[use], pop, geometry=geom[use])
    hierarchy = areas.drop(columns=["geom_rd"])
    if config.meeting_types is None:  # variety/reach over the typology's meeting places
        config = replace(config, meeting_types=meeting_types(sorted(facilities["type"].unique())))
    return AccessInputs(demand=demand, facilities=facilities, areas=hierarchy,
                        config=config, period=period, published_population=pop)


def write_results(path: str | Path, table: pd.DataFrame) -> None:
    """Replace ``access_results`` atomically: the old table stays if anything fails."""
    frame = table[RESULT_COLUMNS].copy()
    bad = frame["value"].isna() & frame["missing_reason"].isna()
    if bad.any():  # never a silent NaN in an exported value
        raise WeefselError(f"{int(bad.sum())} access values are missing without a reason")
    with write_transaction(path) as con:
        con.execute("DROP TABLE IF EXISTS access_results")
        con.execute(CREATE_RESULTS)
        con.register("_access", frame)
        con.execute(f"INSERT INTO access_results SELECT {', '.join(RESULT_COLUMNS)} FROM _access")
        con.unregister("_access")


def run_access(warehouse_path: str | Path, *, types: Sequence[str] | None = None,
               detour: float = 1.3, decay: str = "gaussian:1500",
               demand_file: str | Path | None = None, write: bool = True,
               config: AccessConfig | None = None) -> pd.DataFrame:
    """Compute every accessibility measure for the warehouse and (by default) store it.

    For the build (H3): call after facilities are loaded. Returns the long table
    (columns ``RESULT_COLUMNS``) with ``attrs['notes']`` listing treatments applied.
    """
    from weefsel.analysis.access.decay import parse_decay

    cfg = config or AccessConfig(detour=detour, decay=parse_decay(decay),
                                 types=tuple(types) if types else None)
    with Warehouse(warehouse_path) as wh:
        inputs = load_inputs(wh, cfg, demand_file)
    result: AccessResult = compute_access(inputs)
    table = result.table
    table.attrs["notes"] = result.notes
    if write:
        write_results(warehouse_path, table)
    return table


MEASURE_VARIABLE = {
    "nearest_distance": "access_nearest_{type}", "count_within_500": "access_count_500_{type}",
    "count_within_1000": "access_count_1000_{type}", "count_within_3000": "access_count_3000_{type}",
    "e2sfca_per_1000": "access_e2sfca_{type}", "diversity_shannon": "access_diversity_meeting_places",
    "types_within": "access_types_meeting_places", "share_with_meeting_place": "access_share_meeting_place",
}


def to_observations(table: pd.DataFrame) -> pd.DataFrame:
    """``access_results`` in the warehouse observations form (for the catalogue/index, H3/H4).

    variable ids follow weefsel/analysis/access_indicators.yaml; rows whose value is missing
    are left out (observations have no reason column; access_results keeps the reason).
    """
    known = table[table["measure"].isin(MEASURE_VARIABLE) & table["value"].notna()]
    variable = [MEASURE_VARIABLE[m].format(type=t) for m, t in zip(known["measure"], known["facility_type"])]
    return pd.DataFrame({"area_code": known["area_code"].to_numpy(), "period": known["period"].to_numpy(),
                         "variable": variable, "breakdown": "", "value": known["value"].to_numpy(),
                         "source": "weefsel-access"})
